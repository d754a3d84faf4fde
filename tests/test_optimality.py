"""Optimality of the planner's solver (DESIGN §5): hand-built instances with the optimum worked out by hand,
random instances against a brute-force enumeration, the certified hull greedy against an independent LP
(scipy ``linprog``), and the fast path against the Pyomo/HiGHS MILP on larger instances.

Shares and targets are multiples of 1/8 and data are integers, so ``share × total`` is exact in floating point
and every comparison below can use a tight tolerance.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

import highspy
import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from planner.errors import InfeasibleError
from planner.heuristics.greedy import greedy_max_coverage, greedy_min_cost, office_hull
from planner.optimize import highs as highs_module
from planner.optimize import solve as solve_module
from planner.optimize.highs import plan_defect
from planner.optimize.model import build_model, chosen_pairs, hold_primary, set_start
from planner.optimize.solve import solve
from planner.problem import ModelData, ModelSpec, SolveResult, relative_gap
from planner.scenario import SolverSettings

TOL = 1e-6
TECHS = ("fibre", "cellular_4g", "leo_satellite")


# --------------------------------------------------------------------------------------------- helpers
def make_data(offices: list[tuple], options: list[tuple[str, str, float]]) -> ModelData:
    """``offices``: (office_id, weight[, region[, community]]); ``options``: (office_id, technology, cost)."""
    rows = []
    for o in offices:
        oid, weight = o[0], o[1]
        region = o[2] if len(o) > 2 else "all"
        community = o[3] if len(o) > 3 else oid
        rows.append({"office_id": oid, "weight": float(weight), "region": region, "community": community})
    offices_df = pd.DataFrame(rows, columns=["office_id", "weight", "region", "community"])
    options_df = pd.DataFrame(
        [{"office_id": o, "technology": t, "cost_usd": float(c)} for o, t, c in options],
        columns=["office_id", "technology", "cost_usd"],
    )
    return ModelData(options_df, offices_df)


def run(data: ModelData, spec: ModelSpec, method: str = "auto", mip_gap: float = 1e-4) -> SolveResult:
    return solve(data, spec, SolverSettings(method=method, mip_gap=mip_gap, time_limit_s=30))


class Checker:
    """The constraints of DESIGN §5 for one instance, as plain Python lists (fast enough for brute force)."""

    def __init__(self, data: ModelData, spec: ModelSpec) -> None:
        self.spec = spec
        weight = dict(zip(data.offices["office_id"], data.offices["weight"], strict=True))
        community = dict(zip(data.offices["office_id"], data.offices["community"], strict=True))
        self.office = list(data.options["office_id"])
        self.tech = list(data.options["technology"])
        self.cost = [float(c) for c in data.options["cost_usd"]]
        self.weight = [float(weight[o]) for o in self.office]
        self.community = [community[o] for o in self.office]
        self.W = data.total_weight(spec.metric)
        # regions: total of the metric per region and the region of each pair's coverage unit
        if spec.metric == "communities":
            comm_region = data.offices.groupby("community")["region"].agg(lambda s: s.mode().iat[0]).to_dict()
            self.region_total: dict[str, float] = {}
            for r in comm_region.values():
                self.region_total[r] = self.region_total.get(r, 0.0) + 1.0
            self.region = [comm_region[k] for k in self.community]
        else:
            self.region_total = data.offices.groupby("region")["weight"].sum().astype(float).to_dict()
            region = dict(zip(data.offices["office_id"], data.offices["region"], strict=True))
            self.region = [region[o] for o in self.office]
        mins = spec.region_min_coverage
        self.region_need = {r: mins.get(r, mins.get("*", 0.0)) * t for r, t in self.region_total.items()}

    def values(self, chosen: list[int]) -> tuple[float, float]:
        """(coverage, cost) of chosen pair indices, computed independently of the solver."""
        cost = float(sum(self.cost[p] for p in chosen))
        if self.spec.metric == "communities":
            return float(len({self.community[p] for p in chosen})), cost
        return float(sum(self.weight[p] for p in chosen)), cost

    def violations(self, chosen: list[int], tol: float = TOL) -> list[str]:
        """Every constraint the plan breaks (empty list: the plan is feasible)."""
        spec, problems = self.spec, []
        if any(p < 0 or p >= len(self.office) for p in chosen):
            return [f"pair index out of range in {chosen}"]  # only eligible pairs exist in the options table
        if len(set(chosen)) != len(chosen):
            problems.append("a pair is chosen twice")
        offices = [self.office[p] for p in chosen]
        if len(set(offices)) != len(offices):
            problems.append(f"an office has more than one technology: {sorted(offices)}")
        coverage, cost = self.values(chosen)
        if spec.budget_usd is not None and cost > spec.budget_usd + tol:
            problems.append(f"cost {cost} > budget {spec.budget_usd}")
        if spec.coverage_target is not None and coverage < spec.coverage_target * self.W - tol:
            problems.append(f"coverage {coverage} < target {spec.coverage_target} × {self.W}")
        if spec.region_min_coverage:
            got = dict.fromkeys(self.region_total, 0.0)
            if spec.metric == "communities":
                for p in {self.community[p]: p for p in chosen}.values():
                    got[self.region[p]] += 1.0
            else:
                for p in chosen:
                    got[self.region[p]] += self.weight[p]
            for r, need in self.region_need.items():
                if got[r] < need - tol:
                    problems.append(f"region {r}: {got[r]} < {need}")
        techs = [self.tech[p] for p in chosen]
        for t, cap in spec.technology_max_share.items():
            if techs.count(t) > cap * len(techs) + tol:
                problems.append(f"technology {t}: {techs.count(t)} of {len(techs)} > share {cap}")
        return problems


def plan_values(data: ModelData, spec: ModelSpec, chosen: list[int] | np.ndarray) -> tuple[float, float]:
    """(coverage, cost) of chosen pair indices."""
    return Checker(data, spec).values([int(p) for p in chosen])


def violations(data: ModelData, spec: ModelSpec, chosen: list[int] | np.ndarray, tol: float = TOL) -> list[str]:
    """Post-solve check: at most one technology per office, only eligible pairs, budget, target, region
    minimums and technology share caps."""
    return Checker(data, spec).violations([int(p) for p in chosen], tol)


def assert_feasible(data: ModelData, spec: ModelSpec, result: SolveResult) -> None:
    assert violations(data, spec, result.chosen) == []
    coverage, cost = plan_values(data, spec, result.chosen)
    assert result.coverage == pytest.approx(coverage, abs=TOL)
    assert result.cost_usd == pytest.approx(cost, abs=TOL)
    primary = coverage if spec.objective == "max_coverage" else cost
    assert result.objective == pytest.approx(primary, abs=TOL)
    assert result.mip_gap == pytest.approx(relative_gap(result.objective, result.bound), abs=1e-9)
    # the bound is on the right side of the plan's value
    if spec.objective == "max_coverage":
        assert result.bound >= result.objective - TOL
    else:
        assert result.bound <= result.objective + TOL


@dataclass
class Optimum:
    coverage: float
    cost: float

    def primary(self, spec: ModelSpec) -> float:
        return self.coverage if spec.objective == "max_coverage" else self.cost


def brute_force(data: ModelData, spec: ModelSpec) -> Optimum | None:
    """Enumerate every assignment office -> one of its options or none; the lexicographic optimum.

    max_coverage: most coverage, then least cost; min_cost: least cost, then most coverage. None: no feasible plan.
    """
    per_office: dict[str, list[int | None]] = {o: [None] for o in data.offices["office_id"]}
    for p, o in enumerate(data.options["office_id"]):
        per_office[o].append(p)
    check = Checker(data, spec)
    best: tuple[float, float] | None = None
    best_key = None
    for combo in itertools.product(*per_office.values()):
        chosen = [p for p in combo if p is not None]
        if check.violations(chosen, tol=1e-9):
            continue
        coverage, cost = check.values(chosen)
        key = (-coverage, cost) if spec.objective == "max_coverage" else (cost, -coverage)
        if best_key is None or key < best_key:
            best_key, best = key, (coverage, cost)
    return None if best is None else Optimum(*best)


def assert_lex_optimal(data: ModelData, spec: ModelSpec, result: SolveResult, best: Optimum) -> None:
    assert_feasible(data, spec, result)
    assert result.status == "optimal"
    assert result.coverage == pytest.approx(best.coverage, abs=TOL)
    assert result.cost_usd == pytest.approx(best.cost, abs=TOL)
    assert result.objective == pytest.approx(best.primary(spec), abs=TOL)


# --------------------------------------------------------------------------------------------- hand-built
def test_brute_force_and_checker_on_a_known_case() -> None:
    """The test's own oracle: two offices, budget 5 allows only one; the heavier one wins."""
    data = make_data([("a", 3), ("b", 4)], [("a", "fibre", 5), ("b", "fibre", 5)])
    spec = ModelSpec("max_coverage", budget_usd=5)
    assert brute_force(data, spec) == Optimum(4.0, 5.0)
    assert violations(data, spec, [0, 1]) == ["cost 10.0 > budget 5"]
    assert violations(data, spec, [1]) == []


def greedy_trap() -> tuple[ModelData, ModelSpec]:
    """Budget 60. a: weight 30, cost 20 (ratio 1.5); b, c: weight 40, cost 30 (ratio 1.33); d: weight 10 with
    fibre 100 / satellite 90 (never affordable).

    The ratio greedy takes a (20) then b (50); c does not fit in the 10 left: coverage 30 + 40 = 70.
    The LP bound adds 10/30 of c: 70 + 40/3 = 83.33. The optimum is b + c = 80 for exactly 60.
    """
    data = make_data(
        [("a", 30), ("b", 40), ("c", 40), ("d", 10)],
        [("a", "fibre", 20), ("b", "fibre", 30), ("c", "leo_satellite", 30), ("d", "fibre", 100),
         ("d", "leo_satellite", 90)],
    )  # fmt: skip
    return data, ModelSpec("max_coverage", budget_usd=60)


@pytest.mark.parametrize("method", ["auto", "milp"])
def test_max_coverage_milp_fixes_the_greedy(method: str) -> None:
    data, spec = greedy_trap()
    result = run(data, spec, method)
    assert_feasible(data, spec, result)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(80.0)  # b + c
    assert result.cost_usd == pytest.approx(60.0)
    assert result.mip_gap <= 1e-4
    assert sorted(data.options["office_id"].iloc[result.chosen]) == ["b", "c"]


def test_milp_plan_below_the_greedy_start_keeps_the_greedy_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The greedy trap (greedy a + b = 70, optimum b + c = 80). If the MILP passes end on a worse plan (a time
    limit after a pass was re-solved without its warm start), here forced to a alone (30), the greedy plan it
    started from (70) is returned, not the worse one."""
    data, spec = greedy_trap()
    real = solve_module.tie_break
    plain = solve_module.greedy_max_coverage
    # without the core search (which finds b + c at once), so that the MILP passes run from the greedy plan
    monkeypatch.setattr(solve_module, "greedy_max_coverage", lambda hull, budget, _above=None: plain(hull, budget))

    def worse(*args: Any, **kwargs: Any) -> tuple[float, np.ndarray, Any]:
        bound, _, opt = real(*args, **kwargs)
        return bound, np.array([0]), opt  # pair 0: a by fibre, coverage 30

    monkeypatch.setattr(solve_module, "tie_break", worse)
    result = run(data, spec, "auto")
    assert_feasible(data, spec, result)
    assert result.objective == pytest.approx(70.0) and result.cost_usd == pytest.approx(50.0)
    assert sorted(data.options["office_id"].iloc[result.chosen]) == ["a", "b"]


def test_max_coverage_fast_reports_its_gap() -> None:
    data, spec = greedy_trap()
    result = run(data, spec, "fast")
    assert_feasible(data, spec, result)
    assert result.method == "greedy"
    assert result.objective == pytest.approx(70.0)  # a + b
    assert result.bound == pytest.approx(70.0 + 40.0 / 3.0)  # + 10/30 of c's 40
    assert result.mip_gap == pytest.approx((40.0 / 3.0) / (70.0 + 40.0 / 3.0))
    assert result.status != "optimal"  # the gap 0.16 exceeds mip_gap 1e-4


def test_max_coverage_tie_break_takes_the_cheaper_plan() -> None:
    """Budget 14. a: weight 5, fibre 9 / satellite 7; b: weight 5, satellite 7; c: weight 10, fibre 12.

    Coverage 10 is the most: a+b (7 + 7 = 14) or c (12); a+c costs 19 > 14. The cheaper plan, c for 12, must
    be returned.
    """
    data = make_data(
        [("a", 5), ("b", 5), ("c", 10)],
        [("a", "fibre", 9), ("a", "leo_satellite", 7), ("b", "leo_satellite", 7), ("c", "fibre", 12)],
    )
    spec = ModelSpec("max_coverage", budget_usd=14)
    for method in ("auto", "milp"):
        result = run(data, spec, method)
        assert_feasible(data, spec, result)
        assert result.objective == pytest.approx(10.0)
        assert result.cost_usd == pytest.approx(12.0)


# --------------------------------------------------------------------------------------------- plan checks
TIE_DATA = (
    [("a", 5), ("b", 5), ("c", 10)],
    [("a", "fibre", 9), ("a", "leo_satellite", 7), ("b", "leo_satellite", 7), ("c", "fibre", 12)],
)


def corrupt_calls(monkeypatch: pytest.MonkeyPatch, calls: set[int], plan: dict[int, float]) -> list[int]:
    """Make HiGHS calls number ``calls`` (0-based) return ``plan`` (x[p] values) instead of their own plan,
    keeping the reported objective: the defect once seen in CI, where a tie-break's plan was its warm start."""
    real = highs_module.solve_guarded
    seen: list[int] = []

    def call(opt: Any, m: pyo.ConcreteModel, limit_s: float) -> tuple[Any, str]:
        results, note = real(opt, m, limit_s)
        if results is not None and len(seen) in calls:
            col = np.array(opt._sol.col_value)
            for p, v in plan.items():
                col[opt._pyomo_var_to_solver_var_map[id(m.x[p])]] = v
            sol = highspy.HighsSolution()
            sol.col_value, sol.value_valid = col, True
            opt._sol = sol
        seen.append(1)
        return results, note

    monkeypatch.setattr(highs_module, "solve_guarded", call)
    return seen


def test_tie_break_plan_that_misstates_its_objective_is_re_solved(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tie-break of TIE_DATA at budget 14 (see the test above) reports cost 12 (c); its plan is replaced by
    a + b, which is feasible but costs 14. The check must catch it and re-solve on a fresh instance: cost 12."""
    data = make_data(*TIE_DATA)
    spec = ModelSpec("max_coverage", budget_usd=14)
    calls = corrupt_calls(monkeypatch, {1}, {0: 0.0, 1: 1.0, 2: 1.0, 3: 0.0})
    result = run(data, spec, "milp")
    assert len(calls) == 3  # primary, tie-break, tie-break again
    assert_feasible(data, spec, result)
    assert (result.objective, result.cost_usd) == (pytest.approx(10.0), pytest.approx(12.0))
    assert [p.name for p in result.passes] == ["primary", "tie-break (re-solved without warm start)"]
    assert result.passes[-1].status == "optimal"


def test_tie_break_that_stays_defective_keeps_the_primary_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both tie-break attempts return a + b while reporting 12: the pass fails with the defect named, and the
    primary plan (coverage 10, within budget) stands; nothing claims a cost that was not achieved."""
    data = make_data(*TIE_DATA)
    spec = ModelSpec("max_coverage", budget_usd=14)
    corrupt_calls(monkeypatch, {1, 2}, {0: 0.0, 1: 1.0, 2: 1.0, 3: 0.0})
    result = run(data, spec, "milp")
    assert_feasible(data, spec, result)
    assert result.objective == pytest.approx(10.0)
    assert result.cost_usd == pytest.approx(plan_values(data, spec, result.chosen)[1])
    assert result.passes[-1].status.startswith("error: HiGHS reported objective 12")
    assert "evaluates to 14" in result.passes[-1].status


def test_primary_plan_that_breaks_the_budget_is_re_solved(monkeypatch: pytest.MonkeyPatch) -> None:
    """The primary pass's plan replaced by 'everything' (cost 35 > budget 14, coverage 20): rejected, re-solved,
    and the answer is still coverage 10 for 12."""
    data = make_data(*TIE_DATA)
    spec = ModelSpec("max_coverage", budget_usd=14)
    corrupt_calls(monkeypatch, {0}, {0: 0.0, 1: 1.0, 2: 1.0, 3: 1.0})
    result = run(data, spec, "milp")
    assert_feasible(data, spec, result)
    assert (result.objective, result.cost_usd) == (pytest.approx(10.0), pytest.approx(12.0))
    assert result.passes[0].name == "primary (re-solved without warm start)"


def test_warm_start_returned_as_the_optimum_is_caught_and_re_solved() -> None:
    """A HiGHS warm-start defect, without any simulation: the instance of a CI failure (communities metric,
    budget 2, fibre capped at 0 %, 4G at 50 %). Coverage 2 (k0 and k2) is the most; the cheapest plan covering
    both costs 0 (o5 satellite for k0, o2 or o3 by 4G for k2). The tie-break pass holds coverage 2 and is
    warm-started from a tied primary plan costing 1 (pairs 0, 3, 6, 9: o0 and o5 by satellite, o2 and o3 by
    4G, within the 50 % cap). HiGHS 1.16.0 presolves that start into an optimal one in the reduced space,
    reports cost 0 and returns the start; the pass must notice and come back with a plan that really costs 0.
    (Other HiGHS versions solve it directly; the assertions hold either way.)"""
    offices = [(f"o{i}", 0.0, "north", k) for i, k in enumerate(["k0", "k0", "k2", "k2", "k0", "k0"])]
    options = [("o0", "leo_satellite", 1), ("o1", "fibre", 0), ("o2", "fibre", 0), ("o2", "cellular_4g", 0),
               ("o2", "leo_satellite", 1), ("o3", "fibre", 0), ("o3", "cellular_4g", 0), ("o3", "leo_satellite", 2),
               ("o4", "fibre", 0), ("o5", "leo_satellite", 0)]  # fmt: skip
    data = make_data(offices, options)
    spec = ModelSpec("max_coverage", metric="communities", budget_usd=2,
                     technology_max_share={"fibre": 0.0, "cellular_4g": 0.5})  # fmt: skip
    m = build_model(data, spec)
    start = np.array([0, 3, 6, 9])
    assert plan_values(data, spec, start) == (2.0, 1.0) and violations(data, spec, start) == []
    set_start(m, start)
    hold_primary(m, spec, 2.0, 1e-6)
    opt = highs_module.new_solver(m, 1e-4, 30.0, warmstart=True)
    info, ok, _ = highs_module.milp_pass(opt, m, "tie-break", 30.0)
    assert ok and info.status == "optimal"
    assert info.objective == pytest.approx(0.0)
    chosen = chosen_pairs(m)
    assert violations(data, spec, chosen) == []
    assert plan_values(data, spec, chosen) == (pytest.approx(2.0), pytest.approx(0.0))


def test_pass_cancelled_by_the_guard_hands_back_a_fresh_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call the guard cancelled may still be running on its HiGHS instance: the pass marks it stale, so the
    next pass (the sweep's model series reuses what it gets) loads a fresh instance, and that one solves the model
    (max x0 + 2 x1, x0 + x1 <= 1: objective 2). Loading lazily keeps a cancelled last pass from costing a load."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1], domain=pyo.Binary)
    m.row = pyo.Constraint(expr=m.x[0] + m.x[1] <= 1)
    m.obj = pyo.Objective(expr=m.x[0] + 2 * m.x[1], sense=pyo.maximize)
    opt = highs_module.new_solver(m, 1e-6, 10.0)
    real = highs_module.solve_guarded
    monkeypatch.setattr(highs_module, "solve_guarded", lambda *a: (None, "guard: cancelled after overrunning"))
    info, ok, fresh = highs_module.milp_pass(opt, m, "primary", 10.0)
    assert not ok and info.status.startswith("guard") and fresh.stale
    monkeypatch.setattr(highs_module, "solve_guarded", real)
    info, ok, after = highs_module.milp_pass(fresh, m, "primary", 10.0)
    assert after is not opt and not after.stale
    assert ok and info.objective == pytest.approx(2.0)


def test_plan_defect_names_each_kind_of_defect() -> None:
    """max x0 + 2 x1 s.t. x0 + x1 <= 1, x binary: optimum x1 = 1, objective 2."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1], domain=pyo.Binary)
    m.row = pyo.Constraint(expr=m.x[0] + m.x[1] <= 1)
    m.obj = pyo.Objective(expr=m.x[0] + 2 * m.x[1], sense=pyo.maximize)
    opt = highs_module.new_solver(m, 1e-6, 10.0)
    results = opt.solve(m)
    assert results.best_feasible_objective == pytest.approx(2.0)
    col = opt.plan_values()
    assert plan_defect(opt.highs, col, 2.0) is None
    assert plan_defect(opt.highs, col, 1.0) == "HiGHS reported objective 1 but its plan evaluates to 2"
    assert plan_defect(opt.highs, np.array([1.0, 1.0]), 3.0) == "the plan violates 1 row(s) of the model"
    assert plan_defect(opt.highs, np.array([0.5, 0.5]), 1.5) == "the plan has fractional integer columns"
    assert plan_defect(opt.highs, np.array([-1.0, 1.0]), 1.0) == "the plan leaves the bounds of 1 column(s)"
    assert plan_defect(opt.highs, np.array([1.0]), 1.0) == "the plan has 1 values for 2 columns"


@pytest.mark.parametrize("method", ["auto", "milp", "fast"])
def test_max_coverage_cheapest_technology_when_budget_is_slack(method: str) -> None:
    """Budget 100 covers both offices with any technology; least cost is 4 (a's satellite) + 6 (b) = 10."""
    data = make_data([("a", 3), ("b", 2)], [("a", "fibre", 10), ("a", "leo_satellite", 4), ("b", "cellular_4g", 6)])
    spec = ModelSpec("max_coverage", budget_usd=100)
    result = run(data, spec, method)
    assert_feasible(data, spec, result)
    assert result.status == "optimal"
    assert (result.objective, result.cost_usd) == (pytest.approx(5.0), pytest.approx(10.0))


def test_min_cost_with_target() -> None:
    """W = 100 (d has weight 10 and no option), target 0.5 -> coverage >= 50.

    a: 40 for 30, b: 30 for 20, c: 20 for 16. Feasible plans: a+b 70 for 50; a+c 60 for 46; b+c 50 for 36;
    a+b+c 90 for 66. Least cost is b + c = 36. The greedy by cost/weight (c .8, a .75 -> a .75, b .667, c .8):
    b (30), a (70 >= 50): LP bound 20 + 30 × 20/40 = 35; the plan a+b costs 50.
    """
    data = make_data(
        [("a", 40), ("b", 30), ("c", 20), ("d", 10)],
        [("a", "fibre", 30), ("b", "fibre", 20), ("c", "cellular_4g", 16)],
    )
    spec = ModelSpec("min_cost", coverage_target=0.5)
    for method in ("auto", "milp"):
        result = run(data, spec, method)
        assert_feasible(data, spec, result)
        assert result.status == "optimal"
        assert result.objective == pytest.approx(36.0)
        assert result.coverage == pytest.approx(50.0)
    fast = run(data, spec, "fast")
    assert_feasible(data, spec, fast)
    assert fast.bound == pytest.approx(35.0)
    assert fast.objective == pytest.approx(50.0)
    assert fast.mip_gap == pytest.approx(15.0 / 35.0)


@pytest.mark.parametrize("method", ["auto", "milp", "fast"])
def test_min_cost_tie_break_prefers_more_coverage(method: str) -> None:
    """W = 24, target 0.25 -> coverage >= 6. a: 10 for 10, b: 12 for 10, z: 2 for 0 (a free option).

    Least cost is 10 (a or b); among the 10-USD plans b + z covers the most: 14.
    """
    data = make_data([("a", 10), ("b", 12), ("z", 2)], [("a", "fibre", 10), ("b", "fibre", 10), ("z", "fibre", 0)])
    spec = ModelSpec("min_cost", coverage_target=0.25)
    result = run(data, spec, method)
    assert_feasible(data, spec, result)
    assert result.objective == pytest.approx(10.0)
    if method != "fast":
        assert result.coverage == pytest.approx(14.0)


@pytest.mark.parametrize("method", ["auto", "milp", "fast"])
def test_min_cost_free_options_are_taken(method: str) -> None:
    """Target 0.25 of W = 8 -> 2. z1 and z2 (weight 2 each) are free: cost 0, coverage 4 (both free ones)."""
    data = make_data([("a", 4), ("z1", 2), ("z2", 2)], [("a", "fibre", 5), ("z1", "fibre", 0), ("z2", "fibre", 0)])
    spec = ModelSpec("min_cost", coverage_target=0.25)
    result = run(data, spec, method)
    assert_feasible(data, spec, result)
    assert (result.objective, result.coverage) == (pytest.approx(0.0), pytest.approx(4.0))


@pytest.mark.parametrize("method", ["auto", "milp"])
def test_communities_count_once(method: str) -> None:
    """Communities K1 = {a1 (5), a2 (3)}, K2 = {b (4)}, K3 = {c (10)}; budget 8.

    a1 + a2 (8) covers only K1; a2 + b (7) covers K1 and K2: 2 communities for 7 (c alone is 1 for 10).
    """
    data = make_data(
        [("a1", 1, "r", "K1"), ("a2", 1, "r", "K1"), ("b", 1, "r", "K2"), ("c", 1, "r", "K3")],
        [("a1", "fibre", 5), ("a2", "fibre", 3), ("b", "fibre", 4), ("c", "fibre", 10)],
    )
    spec = ModelSpec("max_coverage", metric="communities", budget_usd=8)
    result = run(data, spec, method)
    assert_feasible(data, spec, result)
    assert result.objective == pytest.approx(2.0)
    assert result.cost_usd == pytest.approx(7.0)
    assert sorted(data.options["office_id"].iloc[result.chosen]) == ["a2", "b"]
    # min_cost, target 0.5 of 3 communities -> 2: a2 + b for 7 again
    spec2 = ModelSpec("min_cost", metric="communities", coverage_target=0.5)
    result2 = run(data, spec2, method)
    assert_feasible(data, spec2, result2)
    assert (result2.objective, result2.coverage) == (pytest.approx(7.0), pytest.approx(2.0))


@pytest.mark.parametrize("method", ["auto", "milp", "fast"])
def test_region_minimum_forces_a_worse_ratio_office(method: str) -> None:
    """Budget 10. North n1, n2: weight 10 for 5 (ratio 2); south s1: 4 for 5 (ratio 0.8), s2: 4 for 20.

    Without a minimum: n1 + n2 = 20 for 10. South minimum 0.5 of 8 = 4: s1 must be in (5 USD), leaving 5 for one
    north office: coverage 14 for 10.
    """
    data = make_data(
        [("n1", 10, "north"), ("n2", 10, "north"), ("s1", 4, "south"), ("s2", 4, "south")],
        [("n1", "fibre", 5), ("n2", "fibre", 5), ("s1", "leo_satellite", 5), ("s2", "fibre", 20)],
    )
    free = run(data, ModelSpec("max_coverage", budget_usd=10), method)
    assert free.objective == pytest.approx(20.0)
    spec = ModelSpec("max_coverage", budget_usd=10, region_min_coverage={"south": 0.5})
    result = run(data, spec, method)
    assert_feasible(data, spec, result)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(14.0)
    assert "s1" in set(data.options["office_id"].iloc[result.chosen])


@pytest.mark.parametrize("method", ["auto", "milp"])
def test_technology_share_cap(method: str) -> None:
    """Four offices of weight 1, each fibre 1 or satellite 3. Fibre at most half of the connected offices.

    min_cost, target 1.0: all four, 2 fibre + 2 satellite = 8 (4 without the cap).
    max_coverage, budget 7: four offices need 8; three offices: at most 1.5 -> 1 fibre, 2 satellite = 7.
    """
    offices = [(f"o{i}", 1) for i in range(4)]
    options = [(o, t, c) for o, _ in offices for t, c in (("fibre", 1), ("leo_satellite", 3))]
    data = make_data(offices, options)
    uncapped = run(data, ModelSpec("min_cost", coverage_target=1.0), method)
    assert uncapped.objective == pytest.approx(4.0)
    spec = ModelSpec("min_cost", coverage_target=1.0, technology_max_share={"fibre": 0.5})
    result = run(data, spec, method)
    assert_feasible(data, spec, result)
    assert result.objective == pytest.approx(8.0)
    assert list(data.options["technology"].iloc[result.chosen]).count("fibre") == 2
    spec2 = ModelSpec("max_coverage", budget_usd=7, technology_max_share={"fibre": 0.5})
    result2 = run(data, spec2, method)
    assert_feasible(data, spec2, result2)
    assert (result2.objective, result2.cost_usd) == (pytest.approx(3.0), pytest.approx(7.0))


# --------------------------------------------------------------------------------------------- diagnosis
@pytest.mark.parametrize("method", ["auto", "milp", "fast"])
def test_diagnosis_target_too_high(method: str) -> None:
    """a (30) and b (50) have options, c (20) has none: W = 100, at most 80 % reachable; target 90 %."""
    data = make_data([("a", 30), ("b", 50), ("c", 20)], [("a", "fibre", 10), ("b", "leo_satellite", 20)])
    with pytest.raises(InfeasibleError) as info:
        run(data, ModelSpec("min_cost", coverage_target=0.9), method)
    diagnosis = info.value.diagnosis
    assert diagnosis.constraint == "coverage_target"
    assert diagnosis.suggestions["coverage_target"] == pytest.approx(0.8)
    assert info.value.exit_code == 3


@pytest.mark.parametrize("method", ["auto", "milp"])
def test_diagnosis_budget_too_small(method: str) -> None:
    """W = 100, target 0.6 -> 60. a: 30 for 20, b: 30 for 25, c: 40 for 50.

    Plans reaching 60: a+b 45, a+c 70, b+c 75, all 95: least cost 45 > budget 40. Within 40 the most coverage
    is a single 30 (a or b): share 0.3.
    """
    data = make_data(
        [("a", 30), ("b", 30), ("c", 40)], [("a", "fibre", 20), ("b", "fibre", 25), ("c", "leo_satellite", 50)]
    )
    with pytest.raises(InfeasibleError) as info:
        run(data, ModelSpec("min_cost", budget_usd=40, coverage_target=0.6), method)
    diagnosis = info.value.diagnosis
    assert diagnosis.constraint == "budget_usd"
    assert diagnosis.suggestions["budget_usd"] == pytest.approx(45.0)
    assert diagnosis.suggestions["coverage_target"] == pytest.approx(0.3)
    # the suggested relaxation is feasible and exactly tight
    ok = run(data, ModelSpec("min_cost", budget_usd=45, coverage_target=0.6), method)
    assert ok.objective == pytest.approx(45.0)


@pytest.mark.parametrize("method", ["auto", "milp"])
def test_diagnosis_region_minimum_unreachable(method: str) -> None:
    """Region hills: h1 (weight 6) has an option, h2 (weight 4) has none -> at most 60 %; minimum 75 %."""
    data = make_data(
        [("p1", 10, "plains"), ("h1", 6, "hills"), ("h2", 4, "hills")],
        [("p1", "fibre", 5), ("h1", "leo_satellite", 8)],
    )
    spec = ModelSpec("max_coverage", budget_usd=100, region_min_coverage={"hills": 0.75})
    with pytest.raises(InfeasibleError) as info:
        run(data, spec, method)
    diagnosis = info.value.diagnosis
    assert diagnosis.constraint == "region_min_coverage"
    assert "hills" in diagnosis.message
    assert "plains" not in diagnosis.message
    assert diagnosis.suggestions == {"policy.region_min_coverage.hills": pytest.approx(0.6)}


@pytest.mark.parametrize("method", ["auto", "milp"])
def test_diagnosis_region_with_no_option_at_all(method: str) -> None:
    """Every office of region hills lacks an option: the minimum 0.25 cannot be met (reachable share 0)."""
    data = make_data([("p1", 10, "plains"), ("h1", 6, "hills")], [("p1", "fibre", 5)])
    spec = ModelSpec("max_coverage", budget_usd=100, region_min_coverage={"hills": 0.25})
    with pytest.raises(InfeasibleError) as info:
        run(data, spec, method)
    assert info.value.diagnosis.constraint == "region_min_coverage"
    assert info.value.diagnosis.suggestions == {"policy.region_min_coverage.hills": pytest.approx(0.0)}


@pytest.mark.parametrize("method", ["auto", "milp", "fast"])
@pytest.mark.parametrize("caps", [{}, {"fibre": 0.5}])
def test_no_eligible_option_at_all(method: str, caps: dict[str, float]) -> None:
    """No office has an eligible option (a strict policy can do that): the only plan is the empty one.

    max_coverage: coverage 0 for 0 USD, optimal. min_cost with target 0.5: the highest reachable share is 0.
    """
    data = make_data([("a", 3), ("b", 2)], [])
    spec = ModelSpec("max_coverage", budget_usd=10, technology_max_share=caps)
    result = run(data, spec, method)
    assert (result.objective, result.coverage, result.cost_usd) == (0.0, 0.0, 0.0)
    assert result.status == "optimal"
    assert len(result.chosen) == 0
    with pytest.raises(InfeasibleError) as info:
        run(data, ModelSpec("min_cost", coverage_target=0.5, technology_max_share=caps), method)
    assert info.value.diagnosis.constraint == "coverage_target"
    assert info.value.diagnosis.suggestions == {"coverage_target": 0.0}


# --------------------------------------------------------------------------------------------- random vs brute force
SHARES = st.sampled_from([k / 8 for k in range(1, 9)])


@st.composite
def instances(draw: st.DrawFn, max_offices: int = 7, communities: bool = False) -> ModelData:
    """1..max_offices offices, 1-3 options each (sometimes none), integer costs and weights, zeros included."""
    n = draw(st.integers(1, max_offices))
    offices, options = [], []
    for i in range(n):
        oid = f"o{i}"
        weight = draw(st.integers(0, 9))
        community = f"k{draw(st.integers(0, 2))}" if communities else oid
        region = (
            ("north", "south", "north")[int(community[1:])]
            if communities
            else draw(st.sampled_from(["north", "south"]))
        )
        offices.append((oid, weight, region, community))
        k = draw(st.integers(0, 3)) if draw(st.booleans()) and i > 0 else draw(st.integers(1, 3))
        for tech in draw(st.permutations(TECHS))[:k]:
            options.append((oid, tech, draw(st.integers(0, 20))))
    return make_data(offices, options)


def expected_diagnosis(data: ModelData, spec: ModelSpec) -> tuple[str, dict[str, float]]:
    """The diagnosis DESIGN §5 / solve.diagnose promise, by brute force: which constraint and its relaxation.

    1. The policy rows alone (every option, no budget, no target) have no plan: the regions whose minimum
       exceeds the share their offices with an eligible option reach, with that share.
    2. The target exceeds the highest coverage the policy rows allow: that share.
    3. Otherwise the budget: the least cost meeting target and policy rows (and, with a target, the highest
       share within the budget).
    """
    W = data.total_weight(spec.metric)
    reach = brute_force(data, replace(spec, objective="max_coverage", budget_usd=None, coverage_target=None))
    if reach is None:
        short = {}
        reachable = set(data.options["office_id"])
        for region, group in data.offices.groupby("region"):
            need = spec.region_min_coverage.get(region, spec.region_min_coverage.get("*", 0.0))
            ok = group[group["office_id"].isin(reachable)]
            if spec.metric == "communities":
                share = ok["community"].nunique() / group["community"].nunique()
            else:
                total = group["weight"].sum()
                share = ok["weight"].sum() / total if total else 1.0
            if share < need - 1e-12:
                short[f"policy.region_min_coverage.{region}"] = share
        return ("region_min_coverage", short) if short else ("region_min_coverage + technology_max_share", {})
    if spec.coverage_target is not None and reach.coverage < spec.coverage_target * W - 1e-9:
        return "coverage_target", {"coverage_target": reach.coverage / W}
    least = brute_force(data, replace(spec, objective="min_cost", budget_usd=None))
    assert least is not None
    out = {"budget_usd": least.cost}
    if spec.coverage_target is not None:
        within = brute_force(data, replace(spec, objective="max_coverage", coverage_target=None))
        if within is not None:
            out["coverage_target"] = within.coverage / W
    return "budget_usd", out


def check_against_brute_force(data: ModelData, spec: ModelSpec, methods: tuple[str, ...]) -> None:
    best = brute_force(data, spec)
    for method in methods:
        if best is None:
            with pytest.raises(InfeasibleError) as info:
                run(data, spec, method)
            constraint, suggestions = expected_diagnosis(data, spec)
            diagnosis = info.value.diagnosis
            assert diagnosis.constraint == constraint
            for key, value in suggestions.items():  # the brute-force values, rounded the safe way
                got = diagnosis.suggestions[key]
                if key == "budget_usd":
                    assert got == math.ceil(value - 1e-9)
                else:
                    assert value - 1e-4 - 1e-12 <= got <= value + 1e-12
            for relaxation in diagnosis.relaxations:  # each one alone makes the instance feasible
                assert brute_force(data, solve_module.relaxed_spec(spec, relaxation.changes)) is not None
            continue
        result = run(data, spec, method)
        if method == "fast" and spec.is_plain:
            assert_feasible(data, spec, result)
            opt = best.primary(spec)
            if spec.objective == "max_coverage":
                assert result.bound >= opt - TOL  # a valid upper bound
                assert opt - result.objective <= result.mip_gap * abs(result.bound) + TOL
            else:
                assert result.bound <= opt + TOL  # a valid lower bound
                assert result.objective - opt <= result.mip_gap * abs(result.bound) + TOL
            assert (result.status == "optimal") == (result.mip_gap <= 1e-4)
        else:
            assert_lex_optimal(data, spec, result, best)
            if spec.objective == "max_coverage":
                assert result.bound >= best.coverage - TOL
            else:
                assert result.bound <= best.cost + TOL


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(data=instances(), budget=st.integers(0, 40))
def test_random_max_coverage_vs_brute_force(data: ModelData, budget: int) -> None:
    check_against_brute_force(data, ModelSpec("max_coverage", budget_usd=budget), ("auto", "milp", "fast"))


@FAST
@given(data=instances(), target=SHARES)
def test_random_min_cost_vs_brute_force(data: ModelData, target: float) -> None:
    check_against_brute_force(data, ModelSpec("min_cost", coverage_target=target), ("auto", "milp", "fast"))


@FAST
@given(data=instances(max_offices=6), target=SHARES, budget=st.integers(0, 40))
def test_random_min_cost_with_budget_vs_brute_force(data: ModelData, target: float, budget: int) -> None:
    spec = ModelSpec("min_cost", coverage_target=target, budget_usd=budget)
    check_against_brute_force(data, spec, ("milp", "auto"))


@st.composite
def side_specs(draw: st.DrawFn, communities: bool) -> ModelSpec:
    objective = draw(st.sampled_from(["max_coverage", "min_cost"]))
    region_min = draw(
        st.dictionaries(st.sampled_from(["north", "south", "*"]), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]),
                        max_size=2)
    )  # fmt: skip
    caps = draw(st.dictionaries(st.sampled_from(TECHS), st.sampled_from([0.0, 0.25, 0.5, 0.75]), max_size=2))
    if objective == "max_coverage":
        budget, target = draw(st.integers(0, 40)), None
    else:
        budget = draw(st.none() | st.integers(0, 40))
        target = draw(SHARES)
    return ModelSpec(
        objective,
        metric="communities" if communities else draw(st.sampled_from(["population", "offices"])),
        budget_usd=budget,
        coverage_target=target,
        region_min_coverage=region_min,
        technology_max_share=caps,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=instances(max_offices=6), spec=side_specs(communities=False))
def test_random_side_constraints_vs_brute_force(data: ModelData, spec: ModelSpec) -> None:
    if spec.metric == "offices":  # the offices metric weighs every office by its priority: use weight 1
        data = ModelData(data.options, data.offices.assign(weight=1.0))
    check_against_brute_force(data, spec, ("milp",))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=instances(max_offices=6, communities=True), spec=side_specs(communities=True))
def test_random_communities_vs_brute_force(data: ModelData, spec: ModelSpec) -> None:
    check_against_brute_force(data, spec, ("milp", "auto"))


# --------------------------------------------------------------------------------------------- greedy vs LP
def lp_relaxation(data: ModelData, objective: str, rhs: float | None) -> float | None:
    """LP relaxation over every pair (not only each office's cheapest): linprog, independent of the greedy.

    max_coverage: max Σ w x s.t. Σ c x <= rhs, Σ_t x[i,t] <= 1, 0 <= x <= 1.
    min_cost:     min Σ c x s.t. Σ w x >= rhs, Σ_t x[i,t] <= 1, 0 <= x <= 1. None when infeasible.
    """
    opts = data.options
    weight = dict(zip(data.offices["office_id"], data.offices["weight"], strict=True))
    w = np.array([weight[o] for o in opts["office_id"]], dtype=float)
    c = opts["cost_usd"].to_numpy(float)
    offices = sorted(set(opts["office_id"]))
    one = np.array([[1.0 if o == oo else 0.0 for o in opts["office_id"]] for oo in offices])
    if objective == "max_coverage":
        if rhs is None:
            a_ub, b_ub = one, np.ones(len(offices))
        else:
            a_ub, b_ub = np.vstack([c[None, :], one]), np.concatenate([[rhs], np.ones(len(offices))])
        res = linprog(-w, A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs")
        assert res.status == 0
        return -res.fun
    a_ub, b_ub = np.vstack([-w[None, :], one]), np.concatenate([[-rhs], np.ones(len(offices))])
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs")
    return None if res.status == 2 else res.fun


@st.composite
def greedy_instances(draw: st.DrawFn) -> ModelData:
    n = draw(st.integers(1, 25))
    offices, options = [], []
    for i in range(n):
        offices.append((f"o{i}", draw(st.integers(0, 50))))
        for tech in draw(st.permutations(TECHS))[: draw(st.integers(1, 3))]:
            options.append((f"o{i}", tech, draw(st.integers(0, 100))))
    return make_data(offices, options)


def test_office_hull_is_each_office_cheapest_option() -> None:
    data = make_data(
        [("a", 3), ("b", 0), ("c", 7)],
        [("a", "fibre", 9), ("a", "leo_satellite", 4), ("b", "fibre", 2), ("c", "cellular_4g", 5)],
    )
    hull = office_hull(data)
    got = {data.options["office_id"].iat[p]: (data.options["technology"].iat[p], c, w)
           for p, c, w in zip(hull.pair, hull.cost, hull.weight, strict=True)}  # fmt: skip
    assert got == {"a": ("leo_satellite", 4.0, 3.0), "b": ("fibre", 2.0, 0.0), "c": ("cellular_4g", 5.0, 7.0)}


@settings(max_examples=150, deadline=None)
@given(data=greedy_instances(), budget=st.integers(0, 600) | st.none())
def test_greedy_max_coverage_bound_is_the_lp_optimum(data: ModelData, budget: int | None) -> None:
    spec = ModelSpec("max_coverage", budget_usd=budget)
    chosen, value, bound = greedy_max_coverage(office_hull(data), budget)
    assert bound == pytest.approx(lp_relaxation(data, "max_coverage", budget), abs=1e-6)
    assert violations(data, spec, chosen) == []
    coverage, _ = plan_values(data, spec, chosen)
    assert value == pytest.approx(coverage)
    assert value <= bound + 1e-9


@settings(max_examples=150, deadline=None)
@given(data=greedy_instances(), share=SHARES)
def test_greedy_min_cost_bound_is_the_lp_optimum(data: ModelData, share: float) -> None:
    target = share * data.total_weight("population")
    out = greedy_min_cost(office_hull(data), target)
    lp = lp_relaxation(data, "min_cost", target)
    if lp is None:
        assert out is None
        return
    assert out is not None
    chosen, cost, bound = out
    assert bound == pytest.approx(lp, abs=1e-6)
    spec = ModelSpec("min_cost", coverage_target=share)
    assert violations(data, spec, chosen) == []
    assert cost == pytest.approx(plan_values(data, spec, chosen)[1])
    assert cost >= bound - 1e-9


# ---------------------------------------------------------------------------------- fast vs MILP at 200 offices
def random_big(seed: int, n: int = 200) -> ModelData:
    rng = np.random.default_rng(seed)
    offices = [(f"o{i}", int(rng.integers(0, 2000))) for i in range(n)]
    options = []
    for oid, _ in offices:
        for tech in rng.permutation(TECHS)[: int(rng.integers(1, 4))]:
            options.append((oid, str(tech), float(rng.integers(500, 50_000))))
    return make_data(offices, options)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), share=st.sampled_from([0.1, 0.3, 0.5, 0.8]))
def test_fast_and_milp_agree_on_200_offices(seed: int, share: float) -> None:
    data = random_big(seed)
    cheapest_total = float(data.options.groupby("office_id")["cost_usd"].min().sum())
    for spec in (
        ModelSpec("max_coverage", budget_usd=round(share * cheapest_total)),
        ModelSpec("min_cost", coverage_target=share),
    ):
        exact = run(data, spec, "milp", mip_gap=1e-9)
        assert exact.status == "optimal"
        assert_feasible(data, spec, exact)
        for method in ("fast", "auto"):
            other = run(data, spec, method)
            assert_feasible(data, spec, other)
            opt, val, bound = exact.objective, other.objective, other.bound
            slack = other.mip_gap * abs(bound) + 1e-6 * max(1.0, abs(opt))
            if spec.objective == "max_coverage":
                assert bound >= opt - 1e-6 * opt  # the greedy's LP bound is valid
                assert val <= opt + 1e-6 * opt and opt - val <= slack
            else:
                assert bound <= opt + 1e-6 * opt
                assert val >= opt - 1e-6 * opt and val - opt <= slack
            if method == "auto":
                assert other.mip_gap <= 1e-4
                assert math.isclose(val, opt, rel_tol=2e-4)
