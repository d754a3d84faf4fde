"""Rolling-horizon roadmap heuristic: every plan is feasible (checked here from the raw tables, not with the
module's own arrays), its bound is proven (never below the exact optimum) and its value is within its own gap of
the exact model (HiGHS on the full roadmap model)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.heuristics.phasing import rolling_horizon
from planner.optimize.solve import solve
from planner.problem import ModelData, ModelSpec, RoadmapSpec, SolveResult
from planner.scenario import SolverSettings

EXACT = SolverSettings(method="milp", mip_gap=0.0, time_limit_s=30)
YEARS = [2026, 2027, 2028, 2029, 2030]


def _instance(seed: int, n: int, years: list[int], carry: bool, opex: bool, cap: bool, tech_cap: bool):
    rng = np.random.default_rng(seed)
    techs = ["fibre", "4g", "leo"]
    rows, weights = [], {}
    for i in range(n):
        weights[f"o{i}"] = float(np.round(rng.lognormal(3, 1))) if rng.random() > 0.1 else 0.0
        for t in rng.choice(techs, int(rng.integers(1, 4)), replace=False):
            rows.append(
                (f"o{i}", str(t), float(rng.integers(300, 20_000)), float(rng.integers(0, 1000)) if opex else 0.0)
            )
    opts = pd.DataFrame(rows, columns=["office_id", "technology", "capex_usd", "opex_usd_per_year"])
    opts["cost_usd"] = opts["capex_usd"] + 5 * opts["opex_usd_per_year"]
    offices = pd.DataFrame(
        {"office_id": list(weights), "weight": list(weights.values()), "region": "r", "community": list(weights)}
    )
    cheapest = opts.groupby("office_id")["capex_usd"].min().sum()
    budget = {y: float(rng.uniform(0.05, 0.3) * cheapest) for y in years}
    rm = RoadmapSpec(
        years=years,
        annual_budget_usd=budget,
        carry_over=carry,
        capacity_total=max(1, n // len(years)) if cap else None,
        capacity_per_technology={"leo": max(1, n // 10)} if tech_cap else {},
        capex_trend={"fibre": 0.0, "4g": -0.05, "leo": -0.1},
        discount_rate=0.08,
        count_opex=opex,
    )
    return ModelData(opts, offices), ModelSpec("max_coverage", roadmap=rm)


def check_plan(data: ModelData, spec: ModelSpec, result: SolveResult) -> None:
    """Every model constraint, recomputed from the option table: one year and one option per office, annual
    budgets (carry-over simulated), build capacity; and the reported objective, coverage and cost."""
    rm = spec.roadmap
    opts = data.options.iloc[result.chosen]
    assert len(result.years) == len(result.chosen)
    assert len(set(result.chosen.tolist())) == len(result.chosen)
    assert opts["office_id"].is_unique, "an office connected twice"
    assert set(result.years.tolist()) <= set(rm.years)
    y0, end = rm.years[0], rm.years[-1]
    spend = dict.fromkeys(rm.years, 0.0)
    count = dict.fromkeys(rm.years, 0)
    count_t: dict[tuple[str, int], int] = {}
    weight = dict(zip(data.offices["office_id"], data.offices["weight"], strict=True))
    pop_years = coverage = total = 0.0
    for row, y in zip(opts.itertuples(), result.years.tolist(), strict=True):
        capex = row.capex_usd * (1 + rm.capex_trend.get(row.technology, 0.0)) ** (y - y0)
        spend[y] += capex
        if rm.count_opex:
            for k in rm.years:
                if k >= y:
                    spend[k] += row.opex_usd_per_year
        count[y] += 1
        count_t[row.technology, y] = count_t.get((row.technology, y), 0) + 1
        pop_years += weight[row.office_id] * (end - y + 1)
        coverage += weight[row.office_id]
        total += capex + (row.opex_usd_per_year * (end - y + 1) if rm.count_opex else 0.0)
    carry = 0.0
    for y in rm.years:
        room = rm.annual_budget_usd[y] + (carry if rm.carry_over else 0.0)
        assert spend[y] <= room * (1 + 1e-9) + 1e-6, f"year {y}: spend {spend[y]} > {room}"
        carry = room - spend[y]
    if rm.capacity_total is not None:
        assert max(count.values()) <= rm.capacity_total
    for (t, _), v in count_t.items():
        assert v <= rm.capacity_per_technology.get(t, math.inf)
    if spec.budget_usd is not None:
        assert total <= spec.budget_usd * (1 + 1e-9) + 1e-6
    assert result.objective == pytest.approx(pop_years, rel=1e-9, abs=1e-6)
    assert result.coverage == pytest.approx(coverage, rel=1e-9, abs=1e-6)
    assert result.cost_usd == pytest.approx(total, rel=1e-9, abs=1e-6)
    assert result.bound >= result.objective - 1e-6
    assert result.mip_gap == pytest.approx((result.bound - result.objective) / max(result.bound, 1e-9), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    n=st.integers(1, 60),
    n_years=st.integers(1, 5),
    carry=st.booleans(),
    opex=st.booleans(),
    cap=st.booleans(),
    tech_cap=st.booleans(),
    total_budget=st.booleans(),
)
def test_plans_respect_every_constraint(seed, n, n_years, carry, opex, cap, tech_cap, total_budget) -> None:
    data, spec = _instance(seed, n, YEARS[:n_years], carry, opex, cap, tech_cap)
    if total_budget:
        spec.budget_usd = 0.5 * sum(spec.roadmap.annual_budget_usd.values())
    result = rolling_horizon(data, spec)
    assert result.method == "rolling-horizon"
    assert result.status in ("optimal", "heuristic")
    check_plan(data, spec, result)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    carry=st.booleans(),
    opex=st.booleans(),
    cap=st.booleans(),
    tech_cap=st.booleans(),
)
def test_within_its_gap_of_the_exact_model(seed, carry, opex, cap, tech_cap) -> None:
    """The bound is proven (>= the exact optimum) and the plan is within its reported gap of the optimum."""
    data, spec = _instance(seed, 25, YEARS, carry, opex, cap, tech_cap)
    result = rolling_horizon(data, spec)
    check_plan(data, spec, result)
    exact = solve(data, spec, EXACT)
    assert exact.status == "optimal"
    check_plan(data, spec, exact)
    assert result.objective <= exact.objective + 1e-6
    assert result.bound >= exact.objective - 1e-6 * max(1.0, exact.objective)
    assert exact.objective - result.objective <= result.mip_gap * result.bound + 1e-6


def test_capacity_orders_offices_by_weight() -> None:
    """Plenty of money, one office a year: heaviest first (5·3 + 3·2 + 1·1 = 22, the optimum), gap 0."""
    opts = pd.DataFrame({"office_id": ["a", "b", "c"], "technology": "g", "capex_usd": [1.0, 1.0, 1.0],
                         "opex_usd_per_year": 0.0, "cost_usd": 1.0})  # fmt: skip
    offices = pd.DataFrame({"office_id": ["a", "b", "c"], "weight": [5.0, 3.0, 1.0], "region": "r", "community": "k"})
    rm = RoadmapSpec(years=[2026, 2027, 2028], annual_budget_usd=dict.fromkeys([2026, 2027, 2028], 100.0),
                     capacity_total=1)  # fmt: skip
    data, spec = ModelData(opts, offices), ModelSpec("max_coverage", roadmap=rm)
    result = rolling_horizon(data, spec)
    check_plan(data, spec, result)
    assert result.objective == pytest.approx(22.0)
    assert result.status == "optimal"
    assert dict(zip(opts.iloc[result.chosen]["office_id"], result.years.tolist(), strict=True)) == {
        "a": 2026, "b": 2027, "c": 2028}  # fmt: skip


def test_committed_opex_limits_later_years() -> None:
    """TCO basis, no carry-over: a (capex 10, opex 50) in 2026 leaves 60 - 50 = 10 in 2027, enough for b."""
    opts = pd.DataFrame({"office_id": ["a", "b"], "technology": "g", "capex_usd": [10.0, 10.0],
                         "opex_usd_per_year": [50.0, 0.0], "cost_usd": 0.0})  # fmt: skip
    offices = pd.DataFrame({"office_id": ["a", "b"], "weight": [10.0, 1.0], "region": "r", "community": "k"})
    rm = RoadmapSpec(years=[2026, 2027], annual_budget_usd={2026: 60.0, 2027: 60.0}, count_opex=True)
    data, spec = ModelData(opts, offices), ModelSpec("max_coverage", roadmap=rm)
    result = rolling_horizon(data, spec)
    check_plan(data, spec, result)
    assert result.objective == pytest.approx(21.0)


def test_rejects_other_specs() -> None:
    data, spec = _instance(0, 5, YEARS, False, False, False, False)
    with pytest.raises(ValueError):
        rolling_horizon(data, ModelSpec("min_cost", coverage_target=0.5, roadmap=spec.roadmap))
    with pytest.raises(ValueError):
        rolling_horizon(data, ModelSpec("max_coverage", budget_usd=1e6))
