"""Budget sweeps (planner.analysis.sweep): the frontier is monotone, each point equals a single solve at that budget or
target (and the brute-force optimum on small instances), the one-hull frontier equals the per-point greedy,
the marginal cost per person is worked out by hand, and ``planner sweep`` runs end to end with clear errors.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_optimality import brute_force, make_data
from typer.testing import CliRunner

from planner.analysis.sweep import (
    FRONTIER_COLUMNS,
    HullFrontier,
    SweepTask,
    add_marginal_cost,
    hull_frontier,
    parse_values,
    point_scenario,
    solve_points,
    sweep,
)
from planner.heuristics.greedy import Hull, greedy_max_coverage, greedy_min_cost
from planner.optimize.solve import solve
from planner.pipeline import prepare, solve_prepared
from planner.problem import ModelData, ModelSpec
from planner.scenario import Scenario, load_catalogue, load_scenario
from planner.ui.cli import app

REPO = Path(__file__).resolve().parents[1]
CATALOGUE = load_catalogue()
runner = CliRunner()


def scenario(objective: str = "max_coverage", method: str = "auto", **policy: Any) -> Scenario:
    """A scenario object for in-memory instances (its data paths are never read)."""
    raw: dict[str, Any] = {
        "name": "t",
        "data": {"offices": "unused.csv"},
        "objective": objective,
        "budget_usd": 0 if objective == "max_coverage" else None,
        "coverage_target": 0.5 if objective == "min_cost" else None,
        "solver": {"method": method, "mip_gap": 1e-9, "time_limit_s": 30},
        "policy": policy,
    }
    return Scenario.model_validate(raw)


def run_points(data: ModelData, sc: Scenario, kind: str, values: list[float]) -> list[Any]:
    population = data.offices.set_index("office_id")["weight"]
    order = sorted(values) if kind == "budget" else sorted(values, reverse=True)
    task = SweepTask(data, population, sc, CATALOGUE, kind, order)  # type: ignore[arg-type]
    return dict(zip(order, solve_points(task), strict=True))  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- hand-worked
# Offices (weight): A 10, B 6, C 8. Options (USD): A fibre 300 / 4G 100; B 4G 50; C LEO 200.
HAND = make_data(
    [("A", 10, "north"), ("B", 6, "south"), ("C", 8, "south")],
    [("A", "fibre", 300), ("A", "cellular_4g", 100), ("B", "cellular_4g", 50), ("C", "leo_satellite", 200)],
)
# Budget -> (coverage, cost) of the lexicographic optimum, by hand.
HAND_BUDGETS = {0: (0, 0), 50: (6, 50), 100: (10, 100), 149: (10, 100), 150: (16, 150), 300: (18, 300),
                350: (24, 350), 1000: (24, 350)}  # fmt: skip


@pytest.mark.parametrize("method", ["auto", "milp"])
def test_budget_sweep_by_hand(method: str) -> None:
    results = run_points(HAND, scenario(method=method), "budget", list(HAND_BUDGETS))
    for budget, (coverage, cost) in HAND_BUDGETS.items():
        r = results[budget]
        assert r.status == "optimal"
        assert r.coverage == pytest.approx(coverage) and r.cost_usd == pytest.approx(cost), budget


def test_budget_sweep_with_a_region_minimum_by_hand() -> None:
    """A region minimum of 50 % in the north forces A (10 of 10) first: below 100 USD no plan exists."""
    sc = scenario(region_min_coverage={"north": 0.5})
    results = run_points(HAND, sc, "budget", [50, 100, 150, 250, 350])
    assert results[50].status == "infeasible" and len(results[50].chosen) == 0
    assert (results[100].coverage, results[100].cost_usd) == (10, 100)
    assert (results[150].coverage, results[150].cost_usd) == (16, 150)
    assert (results[250].coverage, results[250].cost_usd) == (16, 150)  # C (200) no longer fits with A
    assert (results[350].coverage, results[350].cost_usd) == (24, 350)


@pytest.mark.parametrize("method", ["auto", "milp"])
def test_target_sweep_by_hand(method: str) -> None:
    """Total weight 24: a target share τ needs 24τ covered at least cost."""
    results = run_points(HAND, scenario("min_cost", method=method), "target", [0.25, 0.5, 0.625, 0.75, 1.0])
    expected = {0.25: (6, 50), 0.5: (16, 150), 0.625: (16, 150), 0.75: (18, 300), 1.0: (24, 350)}
    for target, (coverage, cost) in expected.items():
        assert (results[target].coverage, results[target].cost_usd) == pytest.approx((coverage, cost)), target


def test_marginal_cost_by_hand() -> None:
    table = pd.DataFrame(
        {
            "total_cost_usd": [100.0, np.nan, 250.0, 250.0, 400.0],
            "population_covered": [10.0, np.nan, 40.0, 40.0, 50.0],
        }
    )
    out = add_marginal_cost(table)["marginal_cost_per_person_usd"].tolist()
    assert math.isnan(out[0]) and math.isnan(out[1]) and math.isnan(out[3])
    assert out[2] == pytest.approx(150 / 30) and out[4] == pytest.approx(150 / 10)


def test_parse_values() -> None:
    assert parse_values("1e6, 2e6,3000000") == [1e6, 2e6, 3e6]
    assert parse_values("0:1:5") == [0.0, 0.25, 0.5, 0.75, 1.0]


# --------------------------------------------------------------------------------------------- random
@st.composite
def instances(draw: st.DrawFn) -> ModelData:
    n = draw(st.integers(1, 5))
    offices = [(f"o{i}", draw(st.integers(1, 20)), draw(st.sampled_from(["r1", "r2"]))) for i in range(n)]
    options = []
    for i in range(n):
        for t in draw(st.lists(st.sampled_from(["fibre", "cellular_4g", "leo_satellite"]), max_size=3, unique=True)):
            options.append((f"o{i}", t, draw(st.integers(0, 60))))
    return make_data(offices, options)


@given(
    data=instances(),
    budgets=st.lists(st.integers(0, 200), min_size=1, max_size=5),
    side=st.sampled_from([{}, {"region_min_coverage": {"r1": 0.5}}, {"technology_max_share": {"fibre": 0.5}}]),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_budget_sweep_equals_brute_force_and_single_solves(
    data: ModelData, budgets: list[int], side: dict[str, Any]
) -> None:  # fmt: skip
    # Without any eligible option solve() takes its trivial path, whose region check is not the subject here.
    assume(len(data.options) > 0)
    sc = scenario(**side)
    results = run_points(data, sc, "budget", [float(b) for b in budgets])
    prev = -1.0
    for budget in sorted(results):
        r = results[budget]
        spec = ModelSpec.from_scenario(point_scenario(sc, "budget", budget), CATALOGUE)
        best = brute_force(data, spec)
        if best is None:
            assert r.status == "infeasible"
            continue
        assert r.coverage == pytest.approx(best.coverage, abs=1e-6)
        assert r.cost_usd == pytest.approx(best.cost, abs=1e-6)
        single = solve(data, spec, sc.solver)
        assert (r.coverage, r.cost_usd) == pytest.approx((single.coverage, single.cost_usd), abs=1e-6)
        assert r.coverage >= prev - 1e-9  # monotone: more budget never covers less
        prev = r.coverage


@given(
    data=instances(),
    eighths=st.lists(st.integers(1, 8), min_size=1, max_size=4),
    side=st.sampled_from([{}, {"region_min_coverage": {"r2": 0.5}}, {"technology_max_share": {"fibre": 0.5}}]),
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_target_sweep_equals_brute_force(data: ModelData, eighths: list[int], side: dict[str, Any]) -> None:
    """Targets are multiples of 1/8 (exact in floating point); the least cost rises with the target."""
    assume(len(data.options) > 0)
    sc = scenario("min_cost", **side)
    results = run_points(data, sc, "target", [k / 8 for k in eighths])
    prev = -1.0
    for target in sorted(results):
        r = results[target]
        best = brute_force(data, ModelSpec.from_scenario(point_scenario(sc, "target", target), CATALOGUE))
        if best is None:
            assert r.status == "infeasible"
            continue
        assert (r.cost_usd, r.coverage) == pytest.approx((best.cost, best.coverage), abs=1e-6)
        assert r.cost_usd >= prev - 1e-9
        prev = r.cost_usd


@st.composite
def hulls(draw: st.DrawFn) -> Hull:
    n = draw(st.integers(0, 12))
    cost = np.array([draw(st.integers(0, 50)) for _ in range(n)], dtype=float)
    weight = np.array([draw(st.integers(0, 30)) for _ in range(n)], dtype=float)
    return Hull(np.arange(n, dtype=np.int64), cost, weight)


@given(hull=hulls(), budgets=st.lists(st.integers(0, 300), min_size=1, max_size=6),
       targets=st.lists(st.integers(0, 300), min_size=1, max_size=6))  # fmt: skip
@settings(max_examples=150, deadline=None)
def test_one_hull_frontier_equals_the_greedy_per_point(hull: Hull, budgets: list[int], targets: list[int]) -> None:
    frontier = HullFrontier(hull)
    for b in budgets:
        got, want = frontier.max_coverage(float(b)), greedy_max_coverage(hull, float(b))
        assert sorted(got[0].tolist()) == sorted(want[0].tolist()) and got[1:] == want[1:]
    for t in targets:
        got, want = frontier.min_cost(float(t)), greedy_min_cost(hull, float(t))
        if want is None:
            assert got is None
        else:
            assert got is not None
            assert sorted(got[0].tolist()) == sorted(want[0].tolist()) and got[1:] == want[1:]


def test_the_frontier_is_built_once_per_instance_and_answers_each_point_once(monkeypatch) -> None:
    """A sweep asks each point twice (does it need HiGHS? then the point): the core search runs once per point,
    and every answer has its own array (changing one changes no later answer)."""
    import pickle

    import planner.analysis.sweep as sweep_module

    calls = []
    real = sweep_module.improve_fill
    monkeypatch.setattr(sweep_module, "improve_fill", lambda *a: calls.append(a[1]) or real(*a))
    # weights 6, 5, 5 at costs 4, 3, 3: at 6 USD the ratio greedy takes 5 + 0 (gap), the optimum 5 + 5 = 10
    data = make_data([("a", 6), ("b", 5), ("c", 5)], [("a", "x", 4), ("b", "x", 3), ("c", "x", 3), ("c", "y", 9)])
    frontier = hull_frontier(data)
    assert hull_frontier(data) is frontier
    first = frontier.max_coverage(6.0, 1e-4)
    assert first[1] == 10.0 == first[2]  # the core search proves the optimum: b and c
    first[0][:] = -1
    again = frontier.max_coverage(6.0, 1e-4)
    assert sorted(data.options["office_id"].iloc[again[0]]) == ["b", "c"] and again[1:] == (10.0, 10.0)
    frontier.max_coverage(7.0, 1e-4)
    assert calls == [6.0, 7.0]
    shipped = pickle.loads(pickle.dumps(data))  # to a Dask worker: the frontier is rebuilt there, not shipped
    assert hull_frontier(shipped) is not frontier
    assert shipped.office_position().tolist() == data.office_position().tolist() == [0, 1, 2, 2]


# --------------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def policy() -> Any:
    return prepare(load_scenario(REPO / "scenarios" / "uttarakhand-policy.yaml"))


def test_policy_frontier_is_monotone_and_each_point_is_a_single_solve(policy: Any) -> None:
    budgets = [2.4e6, 2.7e6, 3.0e6]  # the district minimums need about 2.3 M USD; all offices cost more than 3 M
    frontier = sweep(policy, "budget", budgets, scheduler="serial")
    t = frontier.table
    assert list(t.columns) == ["point", "budget_usd", *FRONTIER_COLUMNS]
    assert t["budget_usd"].tolist() == budgets
    ok = t[t["status"] != "infeasible"]
    assert len(ok) == 3
    assert ok["population_covered"].is_monotonic_increasing
    assert (ok["total_cost_usd"] <= ok["budget_usd"] + 1e-6).all()
    assert ok["marginal_cost_per_person_usd"].iloc[1:].gt(0).all()
    gap = policy.scenario.solver.mip_gap
    for row in t.itertuples():
        try:
            single = solve_prepared(policy, scenario=point_scenario(policy.scenario, "budget", row.budget_usd)).summary
        except Exception as exc:
            assert row.status == "infeasible", exc
            continue
        assert row.status == single["status"]
        assert row.objective_value == pytest.approx(single["objective_value"], rel=2 * gap)
        assert row.coverage_share == pytest.approx(single["coverage_share"], rel=2 * gap)


def test_target_frontier_on_real_data(policy: Any) -> None:
    frontier = sweep(policy, "target", [0.8, 0.9], scheduler="serial")
    t = frontier.table
    assert t["coverage_target"].tolist() == [0.8, 0.9]
    assert t["total_cost_usd"].is_monotonic_increasing
    assert (t["coverage_share"] >= t["coverage_target"] - 1e-9).all()
    gap = policy.scenario.solver.mip_gap
    for row in t.itertuples():
        single = solve_prepared(policy, scenario=point_scenario(policy.scenario, "target", row.coverage_target))
        assert row.total_cost_usd == pytest.approx(single.summary["total_cost_usd"], rel=2 * gap)


# --------------------------------------------------------------------------------------------- CLI
def tiny_data(tmp_path: Path) -> dict[str, str]:
    """Six offices north of one fibre node (0.05° ≈ 5.6 km apart), two 4G towers."""
    offices = ["office_id,lat,lon,population,region"]
    for i in range(6):
        offices.append(f"P{i},{29.0 + 0.05 * (i + 1):.2f},79.0,{1000 * (i + 1)},{'east' if i % 2 else 'west'}")
    (tmp_path / "offices.csv").write_text("\n".join(offices) + "\n")
    (tmp_path / "fibre.csv").write_text("node_id,lat,lon\nF1,29.0,79.0\n")
    (tmp_path / "towers.csv").write_text("tower_id,lat,lon,generation,range_km\nT1,29.2,79.0,4,8\nT2,29.3,79.0,4,3\n")
    return {"offices": "offices.csv", "fibre_nodes": "fibre.csv", "towers": "towers.csv"}


def write_tiny(tmp_path: Path, **over: Any) -> Path:
    raw: dict[str, Any] = {
        "name": "tiny",
        "data": tiny_data(tmp_path),
        "objective": "max_coverage",
        "budget_usd": 10000,
        "budget_basis": "tco",
        "solver": {"time_limit_s": 20},
    }
    raw.update(over)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def invoke(*args: Any) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_cli_sweep_end_to_end(tmp_path: Path) -> None:
    path = write_tiny(tmp_path, policy={"region_min_coverage": {"*": 0.3}})
    out = tmp_path / "out"
    code, output = invoke("sweep", path, "--budgets", "0:40000:5", "--out", out, "--scheduler", "serial", "-q")
    assert code == 0, output
    table = pd.read_csv(out / "frontier.csv")
    assert list(table.columns) == ["point", "budget_usd", *FRONTIER_COLUMNS]
    assert table["budget_usd"].tolist() == [0, 10000, 20000, 30000, 40000]
    assert (out / "frontier.png").stat().st_size > 10_000
    assert table.loc[0, "status"] == "infeasible"  # nothing is free: the 30 % minimums cannot be met with 0 USD
    ok = table[table["status"] == "optimal"]
    assert ok["population_covered"].is_monotonic_increasing
    prepared = prepare(load_scenario(path))
    for row in ok.itertuples():
        single = solve_prepared(prepared, scenario=point_scenario(prepared.scenario, "budget", row.budget_usd))
        assert row.objective_value == pytest.approx(single.summary["objective_value"], rel=1e-3)


def test_cli_sweep_targets(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke("sweep", write_tiny(tmp_path), "--targets", "0.5,1", "--out", out, "--scheduler", "serial")
    assert code == 0, output
    table = pd.read_csv(out / "frontier.csv")
    assert table["coverage_target"].tolist() == [0.5, 1.0]
    assert table["total_cost_usd"].is_monotonic_increasing


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "exactly one of --budgets or --targets"),
        (["--budgets", "1e6", "--targets", "0.5"], "exactly one of --budgets or --targets"),
        (["--budgets", "1e6,lots"], "expected numbers"),
        (["--budgets", "-5"], "a budget >= 0 USD"),
        (["--targets", "0.5,1.5"], "coverage share in (0, 1]"),
        (["--targets", "1:0:0"], "START:STOP:N"),
    ],
)
def test_cli_sweep_bad_input_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    code, output = invoke("sweep", write_tiny(tmp_path), *args, "--out", tmp_path / "out", "-q")
    assert code == 2, output
    assert words in output and "Traceback" not in output
    assert not (tmp_path / "out" / "frontier.csv").exists()


def test_cli_sweep_rejects_a_roadmap(tmp_path: Path) -> None:
    path = write_tiny(tmp_path, budget_usd=None, roadmap={"annual_budget_usd": 5000})
    code, output = invoke("sweep", path, "--budgets", "1000", "--scheduler", "serial", "-q")
    assert code == 2 and "roadmap" in output


def test_shared_infrastructure_sweep_is_single_solves(tmp_path: Path) -> None:
    """Scenarios with shared infrastructure are solved point by point by the pipeline's own solver."""
    prepared = prepare(load_scenario(write_tiny(tmp_path, infrastructure={"shared_fibre": True})))
    budgets = [5000.0, 20000.0]
    table = sweep(prepared, "budget", budgets).table  # no Dask needed: runs in this process
    for row in table.itertuples():
        single = solve_prepared(prepared, scenario=point_scenario(prepared.scenario, "budget", row.budget_usd))
        assert row.objective_value == pytest.approx(single.summary["objective_value"], rel=1e-4)
        assert row.total_cost_usd == pytest.approx(single.summary["total_cost_usd"], rel=1e-4)
    assert table["population_covered"].is_monotonic_increasing
