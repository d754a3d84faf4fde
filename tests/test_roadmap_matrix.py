"""The roadmap as matrices (planner.optimize.roadmap): same optima as enumeration and as the Pyomo model."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.heuristics.phasing import roadmap_arrays
from planner.optimize.highs import milp_pass, new_solver
from planner.optimize.model import build_model
from planner.optimize.roadmap import discounted, dominated, handles
from planner.optimize.solve import solve
from planner.problem import ModelData, ModelSpec, RoadmapSpec
from planner.scenario import SolverSettings

EXACT = SolverSettings(method="milp", mip_gap=0.0, time_limit_s=30)
AUTO = SolverSettings(method="auto", mip_gap=0.0, time_limit_s=30)
ROOT = Path(__file__).resolve().parents[1]


def make_data(rows: list[tuple[str, str, float, float]], weights: dict[str, float]) -> ModelData:
    opts = pd.DataFrame(rows, columns=["office_id", "technology", "capex_usd", "opex_usd_per_year"])
    opts["cost_usd"] = opts["capex_usd"]
    offices = pd.DataFrame(
        {"office_id": list(weights), "weight": list(weights.values()), "region": "r", "community": list(weights)}
    )
    return ModelData(opts, offices)


def brute_force(data: ModelData, rm: RoadmapSpec, objective: str, target: float | None = None):
    """Enumerate every (option, year) or none per office; lexicographic optimum (primary, secondary) or None."""
    opts = data.options
    weight = dict(zip(data.offices["office_id"], data.offices["weight"], strict=True))
    offices = list(data.offices["office_id"])
    choices = {
        o: [None] + [(p, y) for p in np.flatnonzero(opts["office_id"].to_numpy() == o) for y in rm.years]
        for o in offices
    }
    end, W = rm.years[-1], sum(weight.values())
    best = None
    for combo in itertools.product(*(choices[o] for o in offices)):
        picked = [c for c in combo if c is not None]
        spend = {y: 0.0 for y in rm.years}
        count = {y: 0 for y in rm.years}
        count_t = {(t, y): 0 for t in rm.capacity_per_technology for y in rm.years}
        years_cov, disc, cov = 0.0, 0.0, 0.0
        for p, y in picked:
            row = opts.iloc[p]
            cap, _, d = rm.pair_year_costs(row.capex_usd, row.opex_usd_per_year, row.technology, y)
            spend[y] += cap
            for k in rm.years:
                if rm.count_opex and k >= y:
                    spend[k] += row.opex_usd_per_year
            count[y] += 1
            if (row.technology, y) in count_t:
                count_t[row.technology, y] += 1
            w = weight[row.office_id]
            years_cov += w * (end - y + 1)
            cov += w
            disc += d
        carry, ok = 0.0, True
        for y in rm.years:
            room = rm.annual_budget_usd[y] + (carry if rm.carry_over else 0.0)
            if spend[y] > room + 1e-9:
                ok = False
                break
            carry = room - spend[y]
        if rm.capacity_total is not None and any(count[y] > rm.capacity_total for y in rm.years):
            ok = False
        if any(v > rm.capacity_per_technology[t] for (t, _), v in count_t.items()):
            ok = False
        if target is not None and cov < target * W - 1e-9:
            ok = False
        if not ok:
            continue
        key = (-years_cov, disc) if objective == "max_coverage" else (disc, -years_cov)
        if best is None or key < best:
            best = key
    return best


def _discounted_cost(data: ModelData, rm: RoadmapSpec, chosen: np.ndarray, years: np.ndarray) -> float:
    opts = data.options
    return sum(
        rm.pair_year_costs(opts["capex_usd"].iat[p], opts["opex_usd_per_year"].iat[p], opts["technology"].iat[p], y)[2]
        for p, y in zip(chosen, years, strict=True)
    )


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    carry=st.booleans(),
    cap=st.one_of(st.none(), st.integers(0, 2)),
    opex=st.booleans(),
    auto=st.booleans(),
)
def test_matrix_roadmap_matches_enumeration_in_both_passes(n, seed, carry, cap, opex, auto) -> None:
    """Population-years, then the least discounted cost among the best plans (mip_gap 0), as brute force finds them.

    Up to three options per office with costs drawn from a few values, so that options dominate one another.
    """
    rng = np.random.default_rng(seed)
    rows, weights = [], {}
    for i in range(n):
        weights[f"o{i}"] = float(rng.integers(1, 20))
        for t in ("f", "s", "w")[: int(rng.integers(1, 4))]:
            rows.append((f"o{i}", t, float(rng.choice([5, 10, 20])), float(rng.choice([0, 2])) if opex else 0.0))
    years = [2026, 2027, 2028]
    rm = RoadmapSpec(years=years, annual_budget_usd={y: float(rng.integers(0, 40)) for y in years}, carry_over=carry,
                     capacity_total=cap, capacity_per_technology={"s": 1} if rng.random() < 0.5 else {},
                     capex_trend={"f": 0.0, "s": -0.1, "w": -0.2}, discount_rate=0.05, count_opex=opex)  # fmt: skip
    data = make_data(rows, weights)
    spec = ModelSpec("max_coverage", roadmap=rm)
    assert handles(data, spec)
    expected = brute_force(data, rm, "max_coverage")
    assert expected is not None  # connecting nothing is always a plan
    result = solve(data, spec, AUTO if auto else EXACT)
    assert result.objective == pytest.approx(-expected[0], rel=1e-9, abs=1e-9)
    assert result.years is not None
    if len(result.passes) and result.passes[-1].name == "tie-break" and result.passes[-1].status == "optimal":
        assert _discounted_cost(data, rm, result.chosen, result.years) == pytest.approx(expected[1], rel=1e-7, abs=1e-7)
    assert result.status == "optimal"


def _instance(n: int, seed: int) -> tuple[ModelData, ModelSpec]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        for t in ("fibre", "microwave", "leo")[: int(rng.integers(1, 4))]:
            rows.append((f"o{i:03d}", t, float(rng.integers(300, 5000)), float(rng.integers(0, 300))))
    opts = pd.DataFrame(rows, columns=["office_id", "technology", "capex_usd", "opex_usd_per_year"])
    opts["cost_usd"] = opts["capex_usd"] + 3 * opts["opex_usd_per_year"]
    ids = [f"o{i:03d}" for i in range(n)]
    offices = pd.DataFrame({"office_id": ids, "weight": rng.integers(10, 5000, n).astype(float), "region": "r",
                            "community": ids})  # fmt: skip
    years = [2026, 2027, 2028]
    rm = RoadmapSpec(years=years, annual_budget_usd=dict.fromkeys(years, 0.12 * float(opts["capex_usd"].sum()) / 2),
                     carry_over=True, capacity_total=n // 4, capacity_per_technology={"leo": n // 10},
                     capex_trend={"fibre": 0.0, "microwave": -0.05, "leo": -0.1}, discount_rate=0.08,
                     count_opex=True)  # fmt: skip
    return ModelData(opts, offices), ModelSpec("max_coverage", roadmap=rm)


def test_matrix_and_pyomo_models_have_the_same_optimum() -> None:
    """60 offices: the optimum of the matrices (dominated columns dropped, prefix money rows) is the Pyomo model's."""
    data, spec = _instance(60, 3)
    m = build_model(data, spec)
    opt = new_solver(m, 0.0, 60)
    info, ok, _ = milp_pass(opt, m, "primary", 60)
    assert ok and info.status == "optimal"
    result = solve(data, spec, EXACT)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(float(info.objective), rel=1e-9)
    warm = solve(data, spec, AUTO)  # rolling horizon first, then HiGHS from its plan
    assert warm.objective == pytest.approx(float(info.objective), rel=1e-9)
    assert warm.method in ("milp+rolling-horizon-start", "rolling-horizon")


def test_dominated_columns_stand_in_for_their_dominator() -> None:
    """b costs more than a in capex and opex: every b column is replaced by a's (same year); c has a crew cap of
    its own, so a cheaper c does not dominate the uncapped a."""
    rows = [("o1", "a", 10.0, 1.0), ("o1", "b", 12.0, 2.0), ("o1", "c", 5.0, 0.0)]
    data = make_data(rows, {"o1": 5.0})
    rm = RoadmapSpec(years=[2026, 2027], annual_budget_usd={2026: 50.0, 2027: 50.0}, capacity_per_technology={"c": 1},
                     count_opex=True)  # fmt: skip
    spec = ModelSpec("max_coverage", roadmap=rm)
    ra = roadmap_arrays(data, spec)
    dom = dominated(data, spec, ra, discounted(data, spec, ra))
    # columns are p * 2 + year index: a = pair 0, b = pair 1, c = pair 2
    assert dom[0].tolist() == [-1, -1]  # a stays (c takes a crew slot a does not)
    assert dom[1].tolist() == [0, 1]  # b in each year stands for a in that year
    assert dom[2].tolist() == [-1, -1]


def test_certified_rolling_horizon_plan_is_the_answer() -> None:
    """Money and crews for everyone in the first year: the rolling horizon's plan is optimal and no MILP runs."""
    rows = [("o1", "a", 10.0, 0.0), ("o2", "a", 20.0, 0.0)]
    data = make_data(rows, {"o1": 5.0, "o2": 7.0})
    rm = RoadmapSpec(years=[2026, 2027], annual_budget_usd={2026: 100.0, 2027: 100.0})
    result = solve(data, ModelSpec("max_coverage", roadmap=rm), AUTO)
    assert result.method == "rolling-horizon" and result.status == "optimal"
    assert result.objective == pytest.approx(2 * 12.0)
    assert result.years is not None and result.years.tolist() == [2026, 2026]


@pytest.mark.slow
def test_uttarakhand_roadmap_is_proven_and_leaves_no_solver_running() -> None:
    """The shipped roadmap within its 20 s limit: a plan within mip_gap, and no HiGHS call left running after it
    (an abandoned tie-break used to hold the run lock and a core, slowing every later solve in the app)."""
    from planner.pipeline import prepare
    from planner.scenario import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "uttarakhand-roadmap.yaml")
    prepared = prepare(scenario)
    spec = ModelSpec.from_scenario(prepared.scenario, prepared.catalogue)
    result = solve(prepared.data, spec, prepared.scenario.solver)
    assert result.mip_gap <= prepared.scenario.solver.mip_gap
    assert result.status == "optimal"
    assert not [t for t in threading.enumerate() if t.name == "planner-highs" and t.is_alive()]
