"""The array operations that replaced per-row Python work on the `planner solve` path give the old answers.

Each fast path is checked against the plain Python (or pandas) rule it stands for, including the cases where the
fast path must step aside: non-ASCII whitespace, numbers Arrow and Python could read differently, quoted line
breaks, missing keys, an empty selection.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.data import (
    OPTION_COLUMNS,
    Column,
    InputError,
    gather,
    key_positions,
    read_offices,
    read_quotes,
    remember_positions,
    validate_table,
)
from planner.problem import ModelSpec
from planner.results.plan import usd_text, why

ROOT = Path(__file__).resolve().parents[1]


def test_key_positions_is_get_indexer_for_text_and_other_keys():
    values = pd.Series(["PO-1", "PO-2", "PO-3"], dtype="str")
    keys = pd.Series(["PO-3", "nope", "PO-1", None], dtype=object)
    assert key_positions(values, keys).tolist() == pd.Index(values).get_indexer(keys).tolist() == [2, -1, 0, -1]
    assert key_positions(pd.Index(["a", "b"]), np.array(["b", "z"], dtype=object)).tolist() == [1, -1]
    assert key_positions(pd.Series([10, 20]), pd.Series([20, 30])).tolist() == [1, -1]  # not text: pandas
    assert gather(np.array([1.5, 2.5]), np.array([1, -1, 0]), np.nan).tolist()[::2] == [2.5, 1.5]
    assert np.isnan(gather(np.array([1.5, 2.5]), np.array([1, -1, 0]), np.nan)[1])
    assert gather(np.zeros(0), np.array([-1]), np.nan).shape == (1,)


@settings(max_examples=300, deadline=None)
@given(
    n_values=st.integers(0, 12),
    picks=st.lists(st.one_of(st.integers(-2, 14), st.none()), max_size=40),
    runs=st.booleans(),
    storage=st.sampled_from(["str", "object"]),
)
def test_key_positions_in_runs_or_not_is_get_indexer(n_values, picks, runs, storage):
    """Keys in runs (in the values' order or not, with absent keys and nulls) or scattered: ``get_indexer``."""
    values = pd.Series([f"PO-{i}" for i in range(n_values)], dtype=storage)
    cells = [None if p is None else f"PO-{p}" for p in picks]
    if runs:
        cells = [c for c in cells for _ in range(2)]  # each key twice in a row
    keys = pd.Series(cells, dtype=storage)
    want = pd.Index(values).get_indexer(keys)
    assert key_positions(values, keys).tolist() == want.tolist()
    in_order = pd.Series([v for v in values for _ in range(3)], dtype=storage)  # the runs are the values in order
    assert key_positions(values, in_order).tolist() == np.repeat(np.arange(n_values), 3).tolist()


def test_key_positions_with_repeated_values_gives_the_first_as_index_in_does():
    """Values that repeat (a caller's picks, two for one office) in the order of the keys' runs: the first wins."""
    values = pd.Series(["A", "B", "A"], dtype="str")
    keys = pd.Series(["A", "A", "B", "B", "A", "A"], dtype="str")
    assert key_positions(values, keys).tolist() == [0, 0, 1, 1, 0, 0]


def test_remembered_positions_serve_only_the_same_keys_and_equal_values():
    """A remembered answer is taken for the very same key column (same memory) and equal values; a copy of the
    keys, or other values, is looked up afresh. (A deliberately wrong answer shows which one was used.)"""
    values = pd.Series(["a", "b", "c"], dtype="str")
    keys = pd.Series(["c", "c", "a", "b"], dtype="str")
    wrong = np.array([7, 7, 7, 7])
    remember_positions(values, keys, wrong)
    assert key_positions(values, keys).tolist() == [7, 7, 7, 7]  # the same keys: remembered
    assert key_positions(pd.Series(["a", "b", "c"], dtype="str"), keys).tolist() == [7, 7, 7, 7]  # equal values
    copy = pd.Series(["c", "c", "a", "b"], dtype="str")  # equal keys in other memory: looked up
    assert key_positions(values, copy).tolist() == [2, 2, 0, 1]
    assert key_positions(pd.Series(["c", "b", "a"], dtype="str"), keys).tolist() == [0, 0, 2, 1]  # other values
    got = key_positions(values, keys)
    got[0] = 99  # a caller may write into its answer: the remembered one is not changed
    assert key_positions(values, keys).tolist() == [7, 7, 7, 7]
    remember_positions(values, copy, np.array([2, 2, 0, 1]))  # later entries push it out (two are kept)
    remember_positions(values, pd.Series(["a"], dtype="str"), np.array([0]))
    assert key_positions(values, keys).tolist() == [2, 2, 0, 1]


def _typed(cells: list[str], col: Column) -> tuple[list[object], list[tuple[int | None, str]]]:
    table, issues = validate_table(pd.DataFrame({col.name: pd.Series(cells, dtype=object)}), [col], "f.csv",
                                   lambda i: i + 2, None)  # fmt: skip
    return table[col.name].tolist(), [(i.row, i.message.split(";")[0]) for i in issues]


def test_text_cells_are_stripped_as_python_strips_them():
    cells = [" a ", "\tb\x1f", "\u00a0c\u2003", "\u3000", "", "d"]
    assert _typed(cells, Column("x", "str", default="dflt")) == (["a", "b", "c", "dflt", "dflt", "d"], [])
    _, issues = _typed(cells, Column("x", "str", required=True, expected="an id"))
    assert issues == [(5, "empty"), (6, "empty")]  # U+3000 is whitespace to str.strip(), as U+00A0 and U+2003


def test_numbers_parse_to_pythons_floats_and_odd_ones_get_the_per_cell_rule():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.lognormal(5, 4, 20_000), rng.uniform(-180, 180, 20_000)])
    texts = [repr(float(v)) for v in x] + [f"{v:.17g}" for v in x[:5000]] + ["1e5", ".5", "5.", "+3", "-0", "007"]
    values, issues = _typed(texts, Column("n", "float"))
    assert not issues and values == [float(t) for t in texts]
    values, issues = _typed(["1_000", " 2.5 ", "", "\u0661\u0662"], Column("n", "float", default=0.0, min=0))
    assert values == [1000.0, 2.5, 0.0, 12.0] and not issues  # what float() reads, underscores and Arabic digits
    _, issues = _typed(["1", "nan", "inf", "0x10", "1e"], Column("n", "float", min=0, expected="a number"))
    assert [row for row, _ in issues] == [3, 4, 5, 6]


def _python_number(text: str) -> float | None:
    """What the per-cell rule makes of a number cell: ``float()`` of it, when that is finite; else None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


DECIMAL = st.from_regex(r"[+-]?([0-9]{1,20}\.?[0-9]{0,20}|\.[0-9]{1,20})([eE][+-]?[0-9]{1,3})?", fullmatch=True)
ODD_NUMBER = st.text(alphabet="0123456789.eE+-_ infatyINFATYxX\t\u0661", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(DECIMAL, min_size=1, max_size=30))
def test_decimal_cells_read_to_the_bits_float_reads(texts):
    """The column read at once (Arrow's cast) is, bit for bit, ``float()`` of each cell, or says which do not fit."""
    values, issues = _typed(texts, Column("n", "float"))
    expected = [_python_number(t) for t in texts]
    assert [row for row, _ in issues] == [i + 2 for i, v in enumerate(expected) if v is None]  # 1e999: infinite
    for value, want in zip(values, expected, strict=True):
        if want is not None:
            assert np.float64(value).view(np.int64) == np.float64(want).view(np.int64)  # -0.0 stays -0.0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(DECIMAL, ODD_NUMBER), min_size=1, max_size=12))
def test_any_number_cell_reads_as_float_reads_it_or_is_named(texts):
    """Odd cells (underscores, other digits, inf, nan, stray letters) read as ``float()`` reads them, or are named."""
    values, issues = _typed(texts, Column("n", "float", default=0.0))
    expected = [0.0 if not t.strip() else _python_number(t) for t in texts]  # an empty cell takes the default
    assert [row for row, _ in issues] == [i + 2 for i, v in enumerate(expected) if v is None]
    for value, want in zip(values, expected, strict=True):
        if want is not None:
            assert np.float64(value).view(np.int64) == np.float64(want).view(np.int64)


def test_csv_records_keep_their_line_numbers_around_quoted_breaks_and_blank_lines(tmp_path):
    path = tmp_path / "offices.csv"
    path.write_text(
        'office_id,lat,lon,population,name\nA,1,2,10,"two\nlines"\n\nA,3,4,5,x\n', encoding="utf-8"
    )  # the duplicate starts on line 5: line 2 holds a record of two lines, line 4 is blank
    with pytest.raises(InputError) as err:
        read_offices(path)
    (issue,) = err.value.issues
    assert (issue.row, issue.column) == (5, "office_id") and "first seen in row 2" in issue.message


def test_quotes_are_checked_row_by_row_only_when_something_is_wrong(tmp_path):
    path = tmp_path / "options.csv"
    path.write_text(
        "office_id,technology,capex_usd,opex_usd_per_year\nA,fibre,1,1\nA,fibre,2,2\nB,warp,1,1\n", encoding="utf-8"
    )
    with pytest.raises(InputError) as err:
        read_quotes(path, ["fibre"])
    found = [(i.row, i.column, i.message.split(" ")[0]) for i in err.value.issues]
    assert found == [(3, "technology", "duplicate"), (4, "technology", "unknown")]
    path.write_text("office_id,technology,capex_usd,opex_usd_per_year\nA,fibre,1,1\nB,fibre,2,2\n", encoding="utf-8")
    table = read_quotes(path, ["fibre"])
    assert table["row"].tolist() == [2, 3] and [c.name for c in OPTION_COLUMNS][:2] == ["office_id", "technology"]


def test_why_when_every_office_is_funded_at_its_cheapest_option():
    options = pd.DataFrame(
        {"office_id": ["A", "A", "B"], "technology": ["fibre", "leo", "leo"], "cost_usd": [5.0, 9.0, 3.0],
         "eligible": [True, True, True], "reason": ["", "", ""]}
    )  # fmt: skip
    plan = pd.DataFrame(
        {"office_id": ["A", "B"], "technology": ["fibre", "leo"], "cost_usd": [5.0, 3.0], "population": [1.0, 1.0]}
    )
    spec = ModelSpec(objective="max_coverage", metric="population", budget_usd=8.0)
    assert why(plan, options, spec).tolist() == [
        "cheapest eligible option for the same coverage (1 costlier alternatives)",
        "cheapest eligible option for the same coverage (0 costlier alternatives)",
    ]
    assert usd_text(np.zeros(0)).tolist() == []
    assert usd_text(np.array([1234.5, -1e6])).tolist() == [
        "1,234",
        "-1,000,000",
    ]
    unfunded = plan.assign(technology=["none", "leo"], cost_usd=[0.0, 3.0])
    assert why(unfunded, options, spec).iat[0].startswith("budget exhausted: its cheapest option (fibre, 5 USD)")


def test_a_plan_the_hull_greedy_settles_imports_no_pyomo():
    code = (
        "import sys; from planner.pipeline import run; from planner.scenario import load_scenario; "
        "sc = load_scenario(sys.argv[1]); sc = sc.model_copy(update={'solver': sc.solver.model_copy("
        "update={'method': 'fast'})}); p = run(sc); assert p.summary['method'] == 'greedy', p.summary['method']; "
        "print('pyomo' in sys.modules, 'shapely' in sys.modules)"
    )
    scenario = ROOT / "scenarios" / "uttarakhand-budget.yaml"
    out = subprocess.run([sys.executable, "-c", code, str(scenario)], capture_output=True, text=True, cwd=ROOT,
                         check=True)  # fmt: skip
    assert out.stdout.split() == ["False", "False"]  # neither Pyomo nor shapely (no coverage layer) was loaded


def test_an_options_file_run_loads_neither_networkx_nor_scipy(tmp_path):
    """Loading them costs about 0.4 s of every run's start; a plan without shared infrastructure or coordinates
    to index needs neither (they are imported where a graph, a KD-tree or a sparse matrix is built)."""
    pd.DataFrame(
        {"office_id": ["A", "B", "C"], "name": ["a", "b", "c"], "region": "R", "community": ["k1", "k2", "k3"],
         "status": "unconnected", "lat": [30.1, 30.2, 30.3], "lon": [78.1, 78.2, 78.3],
         "population": [100.0, 300.0, 200.0]}
    ).to_csv(tmp_path / "offices.csv", index=False)  # fmt: skip
    pd.DataFrame(
        {"office_id": ["A", "B", "B", "C"], "technology": ["leo_satellite", "cellular_4g", "fibre", "microwave"],
         "capex_usd": [1000.0, 2000.0, 5000.0, 1500.0], "opex_usd_per_year": [100.0, 50.0, 20.0, 30.0],
         "mbps": [50.0, 50.0, 1000.0, 100.0]}
    ).to_csv(tmp_path / "options.csv", index=False)  # fmt: skip
    (tmp_path / "s.yaml").write_text(
        "name: t\ndata: {offices: offices.csv, options: options.csv}\nobjective: max_coverage\n"
        "budget_usd: 3000\nbudget_basis: capex\nsolver: {method: fast}\n"
    )
    code = (
        "import sys; from planner.ui.cli import app\n"
        "try:\n    app([*sys.argv[1:]])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "print('loaded:' + ','.join(sorted(roots & {'networkx', 'scipy'})))"
    )
    args = ["solve", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"), "--no-store"]
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "loaded:", out.stdout
    plan = pd.read_csv(tmp_path / "out" / "plan.csv")
    assert plan["population"][plan["technology"] != "none"].sum() == 400.0  # B + A (3,000 USD); B + C costs 3,500
