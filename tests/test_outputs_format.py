"""Output formats (``planner solve --format``, ``--options-file``), the fast CSV writer, and Parquet inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from planner.results import outputs
from planner.results.outputs import fast_csv, output_names, write_csv_in_parts
from planner.store import RunStore
from planner.ui.cli import app

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "uttarakhand"
runner = CliRunner()


def cli(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


# --------------------------------------------------------------------------------------------- fast CSV
def test_fast_csv_writes_the_bytes_pandas_writes(tmp_path):
    rng = np.random.default_rng(3)
    n = 20_000
    x = rng.lognormal(0, 12, n) * rng.choice([-1, 1], n)  # every magnitude: fixed and scientific notation
    x[rng.random(n) < 0.05] = np.nan
    x[rng.random(n) < 0.05] = 0.0
    x[:8] = [np.inf, -np.inf, -0.0, 1e300, 1e16, 1e-4, 9.999e-5, 2.0**53]
    text = np.where(rng.random(n) < 0.1, 'a, "quoted" one', np.where(rng.random(n) < 0.1, None, "plain"))
    table = pd.DataFrame(
        {
            "float": x,
            "money": np.round(rng.lognormal(7, 2, n), 2),
            "whole": np.round(rng.lognormal(7, 2, n)),
            "year": pd.array(np.where(rng.random(n) < 0.3, None, rng.integers(2026, 2031, n)), dtype="Int64"),
            "flag": rng.random(n) < 0.5,
            "count": rng.integers(-(10**12), 10**12, n),
            "text": text.astype(object),
            "line": np.where(rng.random(n) < 0.01, "two\nlines", "one").astype(object),
            "str": pd.array(np.where(rng.random(n) < 0.5, "x", "y,z"), dtype="str"),
            "zero": np.zeros(n),  # columns of one value are formatted once (bit for bit: -0.0 is its own)
            "signed_zero": np.where(rng.random(n) < 0.5, 0.0, -0.0),
            "no_value": np.full(n, np.nan),
            "negative_zero": np.full(n, -0.0),  # not the text of "zero": the same value, other bits
            "float_again": x.copy(),  # the same bits as "float": its text is made once and shared
            "float_nearly": np.where(np.arange(n) == n // 2, 1.25, x),  # the same first and last bits, one other
            "one_text": pd.array(np.full(n, 'a "quoted", text'), dtype="str"),
            "one_word": pd.array(np.full(n, "quote"), dtype="str"),
            "why": pd.Categorical.from_codes(  # codes -1 (missing) and categories no row uses included
                rng.integers(-1, 4, n), categories=pd.Index(['a "b", c', "plain", "two\nlines", "unused"], dtype="str")
            ),
        }
    )
    fast = fast_csv(table)
    assert fast is not None
    assert fast == table.to_csv(index=False).encode("utf-8")
    head = table.head(300)  # tiny blocks on a short table: a block costs the same whatever its length
    for part, rows in ((head, 1), (head, 7), (table, 4096), (table, n)):  # a block at a time: the same bytes
        path = tmp_path / f"blocks-{rows}.csv"
        assert write_csv_in_parts(part, path, rows)
        assert path.read_bytes() == fast_csv(part) and fast_csv(part) == part.to_csv(index=False).encode("utf-8")


def test_repeated_columns_and_categories_are_formatted_once(tmp_path, monkeypatch):
    """Columns of the same bits share one text, and a categorical's categories are made once per file."""
    from planner.results import outputs

    rng = np.random.default_rng(8)
    n = 1000
    money = np.round(rng.lognormal(7, 2, n), 2)
    why = pd.Categorical.from_codes(rng.integers(0, 3, n), categories=pd.Index(["a", "b, c", "d"], dtype="str"))
    table = pd.DataFrame({"capex": money, "cost": money.copy(), "other": money + 1.0, "why": why})
    calls: list[str] = []
    format_field = outputs._csv_field

    def counted(column, pa, pc, words=None):
        calls.append("categories" if column.dtype == object and len(column) == 3 else str(column.name))
        return format_field(column, pa, pc, words)

    monkeypatch.setattr(outputs, "_csv_field", counted)
    path = tmp_path / "t.csv"
    assert write_csv_in_parts(table, path, 100)  # ten blocks
    assert path.read_bytes() == table.to_csv(index=False).encode("utf-8")
    assert calls.count("categories") == 1 and calls.count("why") == 10
    assert calls.count("capex") == 10 and calls.count("other") == 10 and "cost" not in calls


def test_categorical_text_writes_the_parquet_bytes_of_its_text(tmp_path):
    """The plan's why is a Categorical in memory; its Parquet file is the one its text would write (type, bytes)."""
    from planner.results.outputs import write_parquet

    rng = np.random.default_rng(5)
    words = pd.Index([f"sentence {k}, with a comma" for k in range(40)], dtype="str")
    table = pd.DataFrame({"office_id": [f"O{i}" for i in range(3000)], "cost": rng.random(3000)})
    table["why"] = pd.Categorical.from_codes(rng.integers(0, 40, 3000), categories=words)
    as_text = table.astype({"why": "str"})
    write_parquet(table, tmp_path / "cat.parquet")
    write_parquet(as_text, tmp_path / "text.parquet")
    assert (tmp_path / "cat.parquet").read_bytes() == (tmp_path / "text.parquet").read_bytes()
    back = pd.read_parquet(tmp_path / "cat.parquet")
    assert back["why"].dtype == "str" and back["why"].tolist() == as_text["why"].tolist()


def test_a_block_pandas_must_write_sends_the_whole_file_to_pandas(tmp_path):
    """A carriage return in the last block only: no partial file, False; write_outputs then writes pandas' text."""
    table = pd.DataFrame({"a": ["x"] * 9 + ["x\ry"], "b": range(10)})
    path = tmp_path / "t.csv"
    assert not write_csv_in_parts(table, path, 3)
    assert not path.exists()
    assert not write_csv_in_parts(table.iloc[:0], path, 3) and not path.exists()  # no rows: pandas writes the header


def test_fast_csv_leaves_what_it_cannot_vouch_for_to_pandas():
    assert fast_csv(pd.DataFrame({"a": [1.5, 2.0]})) is None  # one column: pandas quotes a lone empty field
    assert fast_csv(pd.DataFrame({"a": ["x\ry"], "b": [1]})) is None  # carriage return
    assert fast_csv(pd.DataFrame({"a": [1, 2], "b": [object(), 1]})) is None  # not text
    assert fast_csv(pd.DataFrame({"a": pd.to_datetime(["2026-01-01"]), "b": [1]})) is None  # another dtype
    table = pd.DataFrame({"a": [1.0], "b": pd.Series([0.5], dtype="float32")})
    assert outputs._csv(table) == table.to_csv(index=False).encode("utf-8")  # the pandas path gives the same


# --------------------------------------------------------------------------------------------- an instance
@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """60 Uttarakhand offices with quotes, as CSV and as Parquet, and a scenario for each."""
    folder = tmp_path_factory.mktemp("formats")
    offices = pd.read_csv(DATA / "offices.csv", dtype=str, keep_default_na=False).head(60)
    planned = offices.loc[offices["status"] != "connected", "office_id"].head(40)
    rng = np.random.default_rng(0)
    quotes = pd.DataFrame(
        {
            "office_id": np.repeat(planned.to_numpy(), 2),
            "technology": np.tile(["geo_satellite", "leo_satellite"], len(planned)),
            "capex_usd": np.round(rng.uniform(800, 9000, 2 * len(planned)), 2),
            "opex_usd_per_year": np.round(rng.uniform(100, 1500, 2 * len(planned)), 2),
        }
    )
    towers = pd.read_csv(DATA / "towers.csv", dtype=str, keep_default_na=False)
    nodes = pd.read_csv(DATA / "fibre_nodes.csv", dtype=str, keep_default_na=False)
    typed = offices.assign(
        lat=offices["lat"].astype(float),
        lon=offices["lon"].astype(float),
        population=offices["population"].astype(float),
    )
    paths: dict[str, Path] = {}
    for fmt in ("csv", "parquet"):
        files = {}
        for name, table in (("offices", typed), ("options", quotes), ("towers", towers), ("fibre_nodes", nodes)):
            files[name] = folder / f"{name}.{fmt}"
            if fmt == "csv":
                table.to_csv(files[name], index=False)
            else:
                table.to_parquet(files[name], index=False)
        scenario = {
            "name": "formats",
            "data": {k: str(v) for k, v in files.items()},
            "objective": "max_coverage",
            "budget_usd": 60_000,
            "budget_basis": "capex",
            "horizon": {"start_year": 2026, "end_year": 2030},
        }
        paths[fmt] = folder / f"scenario-{fmt}.yaml"
        paths[fmt].write_text(yaml.safe_dump(scenario), encoding="utf-8")
    return paths


def test_parquet_inputs_give_the_plan_csv_inputs_give(instance, tmp_path):
    for fmt in ("csv", "parquet"):
        code, output = cli("solve", instance[fmt], "--out", tmp_path / fmt, "-q", "--no-store")
        assert code == 0, output
    for name in ("plan.csv", "by_technology.csv", "by_region.csv", "options.csv"):
        assert (tmp_path / "csv" / name).read_bytes() == (tmp_path / "parquet" / name).read_bytes(), name


def test_format_both_writes_parquet_copies_of_every_table(instance, tmp_path):
    out = tmp_path / "both"
    code, output = cli("solve", instance["parquet"], "--out", out, "-q", "--no-store", "--format", "both")
    assert code == 0, output
    names = {p.name for p in out.iterdir()}
    for stem in ("plan", "by_technology", "by_region", "options"):
        assert {f"{stem}.csv", f"{stem}.parquet"} <= names
        csv = pd.read_csv(out / f"{stem}.csv", keep_default_na=False, na_values=[""])
        parquet = pd.read_parquet(out / f"{stem}.parquet")
        assert list(parquet.columns) == list(csv.columns), stem  # same columns, same order
        assert len(parquet) == len(csv), stem
    plan = pd.read_parquet(out / "plan.parquet")
    csv = pd.read_csv(out / "plan.csv", dtype={"office_id": str})
    assert plan["office_id"].tolist() == csv["office_id"].tolist()
    np.testing.assert_array_equal(plan["cost_usd"].to_numpy(float), csv["cost_usd"].to_numpy(float))
    assert plan["year"].dtype == "Int64" and plan["year"].isna().sum() == csv["year"].isna().sum()


def test_format_parquet_keeps_plan_csv_and_summary_and_the_store_reopens_it(instance, tmp_path):
    out, db = tmp_path / "pq", tmp_path / "runs.sqlite"
    code, output = cli("solve", instance["parquet"], "--out", out, "-q", "--store", db, "--format", "parquet")
    assert code == 0, output
    names = {p.name for p in out.iterdir()}
    assert {"plan.csv", "summary.json", "plan.parquet", "by_region.parquet", "options.parquet"} <= names
    assert not {"by_region.csv", "by_technology.csv", "options.csv"} & names
    store = RunStore(db)
    (run_id,) = store.ids()
    back = store.load_plan(run_id)
    assert isinstance(back.plan["why"].dtype, pd.CategoricalDtype)  # as the solve made it
    pd.testing.assert_frame_equal(back.plan.astype({"why": "str"}), pd.read_parquet(out / "plan.parquet"))
    assert len(back.options) == len(pd.read_parquet(out / "options.parquet"))
    code, output = cli("solve", instance["parquet"], "--out", out, "-q", "--store", db, "--format", "parquet")
    assert code == 0, output
    again = store.get(max(store.ids()))
    assert again.timings["store_contents_s"] < 0.05  # the same tables: nothing new stored


def test_options_file_choices(instance, tmp_path, monkeypatch):
    from planner.pipeline import run

    plan = run(instance["csv"])
    assert "options.csv" in output_names(plan) and "options.parquet" not in output_names(plan)
    assert output_names(plan) == [n for n in output_names(plan, "csv", "csv")]
    assert "options.csv" not in output_names(plan, "csv", "none")
    assert {"options.csv", "options.parquet"} <= set(output_names(plan, "parquet", "both"))
    monkeypatch.setattr(outputs, "OPTIONS_CSV_MAX_ROWS", len(plan.options) - 1)  # a large table: Parquet only
    names = output_names(plan, "both")
    assert "options.parquet" in names and "options.csv" not in names and "plan.csv" in names
    with pytest.raises(ValueError, match="format 'xlsx'"):
        output_names(plan, "xlsx")
    # Parquet tables are written straight to their files: the same bytes as the app's downloads and the store's
    written = outputs.write_outputs(plan, tmp_path / "both", "both", "both")
    for path in written:
        assert path.read_bytes() == outputs.output_bytes(plan, path.name), path.name
    assert {"plan.parquet", "options.parquet", "by_region.parquet"} <= {p.name for p in written}


def test_a_bad_parquet_file_is_named(instance, tmp_path):
    broken = tmp_path / "offices.parquet"
    broken.write_bytes(b"PAR1 this is not a parquet file")
    raw = yaml.safe_load(instance["parquet"].read_text(encoding="utf-8"))
    raw["data"]["offices"] = str(broken)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(raw), encoding="utf-8")
    code, output = cli("solve", scenario, "--out", tmp_path / "o", "-q", "--no-store")
    assert code == 2 and "offices.parquet" in output and "not a readable Parquet file" in output
    pd.DataFrame({"office_id": ["A"], "lat": ["north"], "lon": [1.0], "population": [5]}).to_parquet(broken)
    code, output = cli("solve", scenario, "--out", tmp_path / "o", "-q", "--no-store")
    assert code == 2 and "'north' is not a number" in output  # validated as CSV cells are, row 1


def test_options_written_ahead_are_the_files_write_outputs_writes(instance, tmp_path):
    """``planner solve`` writes the options files while the plan table is built: the same files, in the same
    order, as writing everything after; a choice the plan would not make is refused."""
    from planner.pipeline import run
    from planner.results.outputs import EarlyOptions

    after = outputs.write_outputs(run(instance["csv"]), tmp_path / "after", "both", "both")
    early = EarlyOptions(tmp_path / "ahead", "both", "both")
    plan = run(instance["csv"], options_ready=early)
    assert early.started and early.names == ["options.csv", "options.parquet"]
    ahead = outputs.write_outputs(plan, tmp_path / "ahead", "both", "both", early)
    assert [p.name for p in ahead] == [p.name for p in after]
    for a, b in zip(ahead, after, strict=True):
        if a.name != "summary.json":  # (its timings differ)
            assert a.read_bytes() == b.read_bytes(), a.name
    other = EarlyOptions(tmp_path / "other", "csv", "parquet")
    plan = run(instance["csv"], options_ready=other)
    with pytest.raises(ValueError, match="written ahead"):
        outputs.write_outputs(plan, tmp_path / "other", "csv", "csv", other)
    other.result()
