"""Roadmap model (x[i,t,y]): small instances against exhaustive enumeration written here, not the model."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InfeasibleError
from planner.optimize.solve import solve
from planner.problem import ModelData, ModelSpec, RoadmapSpec
from planner.scenario import SolverSettings

EXACT = SolverSettings(method="milp", mip_gap=0.0, time_limit_s=30)


def _data(rows: list[tuple[str, str, float, float]], weights: dict[str, float]) -> ModelData:
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


def test_falling_price_makes_waiting_optimal() -> None:
    """One office, capex 100 falling 50 %/year, 60 USD per year, no carry-over: 2026 costs 100 > 60, 2027
    costs 50 <= 60, so the office is connected in 2027: 1 office × (2028 - 2027 + 1) = 2 years × weight 10."""
    data = _data([("a", "leo", 100.0, 0.0)], {"a": 10.0})
    rm = RoadmapSpec(years=[2026, 2027, 2028], annual_budget_usd=dict.fromkeys([2026, 2027, 2028], 60.0),
                     capex_trend={"leo": -0.5}, discount_rate=0.0)  # fmt: skip
    result = solve(data, ModelSpec("max_coverage", roadmap=rm), EXACT)
    assert result.years.tolist() == [2027]
    assert result.objective == pytest.approx(20.0)
    assert result.cost_usd == pytest.approx(50.0)


def test_waiting_is_cheaper_when_coverage_is_the_same() -> None:
    """min_cost with the target met by the end: capex 100 in 2026, 90 in 2027 (-10 %), rate 0: the least
    discounted cost connects in 2027 (90 USD)."""
    data = _data([("a", "leo", 100.0, 0.0)], {"a": 1.0})
    rm = RoadmapSpec(years=[2026, 2027], annual_budget_usd={2026: 1000.0, 2027: 1000.0},
                     capex_trend={"leo": -0.1}, discount_rate=0.0)  # fmt: skip
    result = solve(data, ModelSpec("min_cost", coverage_target=1.0, roadmap=rm), EXACT)
    assert result.years.tolist() == [2027]
    assert result.objective == pytest.approx(90.0)


def test_capacity_pushes_offices_to_later_years() -> None:
    """Three offices (weights 5, 3, 1), plenty of money, 1 office a year over 3 years: the heaviest goes first.
    Population-years = 5·3 + 3·2 + 1·1 = 22."""
    data = _data([("a", "g", 1.0, 0.0), ("b", "g", 1.0, 0.0), ("c", "g", 1.0, 0.0)], {"a": 5.0, "b": 3.0, "c": 1.0})
    rm = RoadmapSpec(years=[2026, 2027, 2028], annual_budget_usd=dict.fromkeys([2026, 2027, 2028], 100.0),
                     capacity_total=1)  # fmt: skip
    result = solve(data, ModelSpec("max_coverage", roadmap=rm), EXACT)
    assert result.objective == pytest.approx(22.0)
    year = dict(zip(data.options.iloc[result.chosen]["office_id"], result.years, strict=True))
    assert year == {"a": 2026, "b": 2027, "c": 2028}


def test_carry_over_lets_savings_fund_a_later_office() -> None:
    """Capex 150, 100 USD per year for 2 years: without carry-over nothing fits (objective 0); with it the
    office is connected in 2027 (100 + 100 >= 150): weight 4 × 1 year = 4."""
    data = _data([("a", "g", 150.0, 0.0)], {"a": 4.0})
    rm = RoadmapSpec(years=[2026, 2027], annual_budget_usd={2026: 100.0, 2027: 100.0})
    assert solve(data, ModelSpec("max_coverage", roadmap=rm), EXACT).objective == pytest.approx(0.0)
    rm.carry_over = True
    result = solve(data, ModelSpec("max_coverage", roadmap=rm), EXACT)
    assert result.objective == pytest.approx(4.0)
    assert result.years.tolist() == [2027]


def test_opex_counts_from_the_connection_year() -> None:
    """TCO basis: office a (capex 10, opex 50/yr) connected in 2026 pays 60 in 2026 and 50 in 2027; with 60 USD
    a year a second office b (capex 10, opex 0) still fits in 2027 (50 + 10 = 60) but not in 2026."""
    data = _data([("a", "g", 10.0, 50.0), ("b", "g", 10.0, 0.0)], {"a": 10.0, "b": 1.0})
    rm = RoadmapSpec(years=[2026, 2027], annual_budget_usd={2026: 60.0, 2027: 60.0}, count_opex=True)
    result = solve(data, ModelSpec("max_coverage", roadmap=rm), EXACT)
    # a in 2026 (10·2 = 20) + b in 2027 (1·1 = 1) = 21
    assert result.objective == pytest.approx(21.0)


def test_single_year_roadmap_equals_single_year_model() -> None:
    """A one-year roadmap with budget B plans exactly like the single-year model with budget B."""
    rng = np.random.default_rng(7)
    rows, weights = [], {}
    for i in range(12):
        weights[f"o{i}"] = float(rng.integers(1, 50))
        for t in ("f", "s"):
            if rng.random() < 0.8:
                rows.append((f"o{i}", t, float(rng.integers(5, 40)), 0.0))
    data = _data(rows, weights)
    rm = RoadmapSpec(years=[2026], annual_budget_usd={2026: 100.0})
    one = solve(data, ModelSpec("max_coverage", roadmap=rm), EXACT)
    plain = solve(data, ModelSpec("max_coverage", budget_usd=100.0), EXACT)
    assert one.coverage == pytest.approx(plain.coverage)
    assert one.cost_usd == pytest.approx(plain.cost_usd)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    carry=st.booleans(),
    cap=st.one_of(st.none(), st.integers(0, 2)),
    trend=st.sampled_from([0.0, -0.2, 0.1]),
    opex=st.booleans(),
    objective=st.sampled_from(["max_coverage", "min_cost"]),
)
def test_random_roadmaps_match_enumeration(n, seed, carry, cap, trend, opex, objective) -> None:
    rng = np.random.default_rng(seed)
    rows, weights = [], {}
    for i in range(n):
        weights[f"o{i}"] = float(rng.integers(0, 20))
        for t in ("f", "s")[: int(rng.integers(1, 3))]:
            rows.append((f"o{i}", t, float(rng.integers(0, 30)), float(rng.integers(0, 10)) if opex else 0.0))
    years = [2026, 2027, 2028]
    rm = RoadmapSpec(years=years, annual_budget_usd={y: float(rng.integers(0, 40)) for y in years}, carry_over=carry,
                     capacity_total=cap, capacity_per_technology={"s": 1} if rng.random() < 0.3 else {},
                     capex_trend={"f": trend, "s": -0.1}, discount_rate=0.05, count_opex=opex)  # fmt: skip
    data = _data(rows, weights)
    target = 0.5 if objective == "min_cost" else None
    expected = brute_force(data, rm, objective, target)
    spec = ModelSpec(objective, coverage_target=target, roadmap=rm)
    if expected is None:
        with pytest.raises(InfeasibleError):
            solve(data, spec, EXACT)
        return
    result = solve(data, spec, EXACT)
    primary = -expected[0] if objective == "max_coverage" else expected[0]
    assert result.objective == pytest.approx(primary, rel=1e-6, abs=1e-6)
