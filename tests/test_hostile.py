"""Scenarios that used to give a silent wrong plan (exit 0, "optimal") now stop with exit 2 naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.errors import InputError
from planner.scenario import load_scenario
from planner.ui.cli import app

ROOT = Path(__file__).resolve().parents[1]
OFFICES = ROOT / "data" / "uttarakhand" / "offices.csv"


def write(tmp: Path, body: str) -> Path:
    path = tmp / "s.yaml"
    path.write_text(f"name: s\ndata: {{offices: {OFFICES}}}\n{body}", encoding="utf-8")
    return path


def test_a_key_given_twice_names_both_lines(tmp_path: Path) -> None:
    """budget_usd twice: the second (900,000,000) used to win silently."""
    path = write(tmp_path, "budget_usd: 1000000\nbudget_usd: 900000000\n")
    with pytest.raises(InputError, match=r"duplicate key 'budget_usd' \(lines 3 and 4\)"):
        load_scenario(path)
    nested = write(tmp_path, "budget_usd: 1\nsolver: {time_limit_s: 5, time_limit_s: 50}\n")
    with pytest.raises(InputError, match="duplicate key 'time_limit_s'"):
        load_scenario(nested)


@pytest.mark.parametrize(
    "body, key",
    [
        ("budget_usd: true\n", "budget_usd"),  # used to be 1 USD
        ("budget_usd: 5\ndiscount_rate: false\n", "discount_rate"),
        ("budget_usd: 5\nsolver: {time_limit_s: true}\n", "time_limit_s"),
        ("objective: min_cost\ncoverage_target: true\n", "coverage_target"),
    ],
)
def test_a_boolean_is_not_a_number(tmp_path: Path, body: str, key: str) -> None:
    with pytest.raises(InputError, match=f"{key}: expected a number, got the boolean"):
        load_scenario(write(tmp_path, body))


def test_a_region_no_office_is_in_is_an_error(tmp_path: Path) -> None:
    """region_min_coverage for a misspelt district used to be ignored; now exit 2 naming it and the regions."""
    path = write(tmp_path, "budget_usd: 100000\npolicy: {region_min_coverage: {Dehradoon: 0.5, Almora: 0.2}}\n")
    out = CliRunner().invoke(app, ["solve", str(path), "--out", str(tmp_path / "o"), "--no-store", "-q"])
    assert out.exit_code == 2, out.output
    assert "policy.region_min_coverage.Dehradoon" in out.output and "Dehradun" in out.output
    assert "Almora'" not in out.output  # a real district is not reported
    assert not (tmp_path / "o" / "plan.csv").exists()


@pytest.mark.parametrize(
    "header, column, text",
    [
        ("office_id,lat,lon,population,grid_powr", "grid_powr", "did you mean 'grid_power'?"),
        ("office_id,lat,lat,lon,population", "lat", "appears more than once"),
    ],
)
def test_a_header_that_would_lose_data_is_refused(tmp_path: Path, header: str, column: str, text: str) -> None:
    from planner.data import read_offices

    cells = {"office_id": "a", "lat": "29.1", "lon": "79.1", "population": "10", "grid_powr": "false"}
    row = ",".join(cells[c] for c in header.split(","))
    path = tmp_path / "offices.csv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_offices(path)
    issue = err.value.issues[0]
    assert issue.column == column and text in issue.message and issue.row == 1


def geojson(tmp: Path, features: object) -> Path:
    import json

    path = tmp / "offices.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def test_geojson_properties_that_contradict_the_geometry_are_refused(tmp_path: Path) -> None:
    """lat/lon properties used to override the Point; now a conflict names the feature; agreeing ones are fine."""
    from planner.data import read_offices

    point = {"type": "Point", "coordinates": [79.1, 29.1]}
    bad = [{"type": "Feature", "geometry": point, "properties": {"office_id": "a", "population": 5, "lat": 79.1}}]
    with pytest.raises(InputError, match=r"feature 1: property lat = 79\.1 disagrees with the Point geometry's 29\.1"):
        read_offices(geojson(tmp_path, bad))
    good = [{"type": "Feature", "geometry": point, "properties": {"office_id": "a", "population": 5, "lat": 29.1}}]
    table = read_offices(geojson(tmp_path, good))
    assert table.loc[0, "lat"] == pytest.approx(29.1) and table.loc[0, "lon"] == pytest.approx(79.1)


@pytest.mark.parametrize(
    "features, text", [({"a": 1}, "'features' to be a list"), (["x"], "expected a Feature object")]
)
def test_geojson_of_the_wrong_shape_is_a_located_error(tmp_path: Path, features: object, text: str) -> None:
    from planner.data import read_offices

    with pytest.raises(InputError, match=text):
        read_offices(geojson(tmp_path, features))


# --------------------------------------------------------------------------------------------- resource guards
def test_a_fifo_or_a_device_is_refused_by_name(tmp_path: Path) -> None:
    """A FIFO as the offices file used to block forever; /dev/zero grew past 1.5 GB. Both are refused at once."""
    import os

    from planner.data import read_offices

    fifo = tmp_path / "offices.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"is a named pipe \(FIFO\)"):
        read_offices(fifo)
    with pytest.raises(InputError, match="is a device or special file"):
        read_offices(Path("/dev/zero"))


def test_a_data_file_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.data import read_offices

    path = tmp_path / "offices.csv"
    path.write_text("office_id,lat,lon,population\n" + "a,29.1,79.1,10\n" * 20_000, encoding="utf-8")
    monkeypatch.setenv("PLANNER_MAX_INPUT_MB", "0.1")
    with pytest.raises(InputError, match=r"over the 0 MB limit \(PLANNER_MAX_INPUT_MB\)"):
        read_offices(path)


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    """A 1 kB document (the classic 9 x 9 aliases) expanding to 387 million nodes: refused after 20 aliases."""
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size < 1000
    with pytest.raises(InputError, match="more than 20 aliases"):
        load_scenario(path)


def test_sweeps_and_samples_are_bounded() -> None:
    from planner.analysis.sweep import parse_values

    with pytest.raises(InputError, match="100,000,000 points asked; a sweep has at most 1,000"):
        parse_values("0:1e6:100000000")
    out = CliRunner().invoke(app, ["montecarlo", str(ROOT / "scenarios" / "uttarakhand-budget.yaml"),
                                   "--samples", "1000000", "--out", "/tmp/never", "--no-store"])  # fmt: skip
    assert out.exit_code == 2 and "expected at most 100,000 samples" in out.output


def test_a_huge_cell_does_not_make_a_huge_message(tmp_path: Path) -> None:
    """A 2 MB one-line value in a numeric column: the message names it in a few hundred characters."""
    from planner.data import read_offices

    path = tmp_path / "offices.csv"
    path.write_text("office_id,lat,lon,population\na,29.1,79.1," + "9" * 2_000_000 + "x\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_offices(path)
    assert len(str(err.value)) < 1000 and "population" in str(err.value)


@pytest.mark.parametrize("command", ["solve", "sweep", "montecarlo"])
def test_an_output_path_that_is_a_file_stops_before_solving(tmp_path: Path, command: str) -> None:
    """--out naming a file used to fail after the solve, losing the plan; now exit 2 at once, nothing solved."""
    import time

    out = tmp_path / "taken"
    out.write_text("not a folder", encoding="utf-8")
    extra = {"solve": [], "sweep": ["--budgets", "1e6,2e6"], "montecarlo": ["--samples", "2"]}[command]
    t0 = time.perf_counter()
    res = CliRunner().invoke(app, [command, str(ROOT / "scenarios" / "uttarakhand-budget.yaml"), *extra,
                                   "--out", str(out), "--no-store", "-q"])  # fmt: skip
    assert res.exit_code == 2 and "is a file; expected a folder" in res.output
    assert time.perf_counter() - t0 < 5  # refused before reading the data or solving
    assert out.read_text(encoding="utf-8") == "not a folder"


def test_a_key_the_objective_ignores_is_an_error(tmp_path: Path) -> None:
    """coverage_target with max_coverage used to be dropped without a word."""
    with pytest.raises(InputError, match="coverage_target is ignored by objective max_coverage"):
        load_scenario(write(tmp_path, "budget_usd: 100000\ncoverage_target: 0.5\n"))


@pytest.mark.parametrize("section", ["min_share: {XXX: 0.2}", "budgets: {IND: 5, XXX: 3}"])
def test_a_country_no_office_is_in_is_an_error_at_validate(tmp_path: Path, section: str) -> None:
    """countries.min_share / budgets naming a country of no office: exit 2 from validate, not only from solve."""
    (tmp_path / "ind.csv").write_text("office_id,lat,lon,population\na,29,80.5,10\n", encoding="utf-8")
    (tmp_path / "npl.csv").write_text("office_id,lat,lon,population\nb,28,84,10\n", encoding="utf-8")
    money = "" if "budgets" in section else "budget_usd: 100\n"
    (tmp_path / "c.yaml").write_text(
        f"name: c\ndata: {{}}\ncountries: {{files: {{IND: ind.csv, NPL: npl.csv}}, {section}}}\n{money}",
        encoding="utf-8",
    )
    out = CliRunner().invoke(app, ["validate", str(tmp_path / "c.yaml")])
    assert out.exit_code == 2, out.output
    assert "unknown country 'XXX'" in out.output and "IND, NPL" in out.output
