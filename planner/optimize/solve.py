"""Solve a plan: dispatch, lexicographic passes and the diagnosis of infeasible scenarios.

The dispatch picks the certified hull greedy, heuristics or HiGHS (DESIGN §5 "How it is solved").

The plain model goes to the certified hull greedy (:mod:`planner.heuristics.greedy`); when its gap meets
``mip_gap`` it is returned as is, otherwise it warm-starts HiGHS on the Pyomo model (:mod:`planner.optimize.model`).
Large roadmaps go to the rolling horizon (:mod:`planner.heuristics.phasing`) and large shared-infrastructure
instances to the sharing heuristic (:mod:`planner.heuristics.sharing`), which receives this module's exact solver
and the Steiner solver as arguments. Every HiGHS call runs under the guard of :mod:`planner.optimize.highs`.
Every answer carries its gap against a proven bound.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import cast

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from planner.errors import Diagnosis, InfeasibleError, SolverTimeoutError
from planner.heuristics.greedy import economic_swap, greedy_max_coverage, greedy_min_cost, office_hull
from planner.heuristics.phasing import rolling_horizon
from planner.heuristics.sharing import ExactSolvers, shared_heuristic
from planner.optimize.highs import GuardedHighs, milp_pass, new_solver
from planner.optimize.model import build_model, chosen_pairs, chosen_years, hold_primary, set_start
from planner.optimize.steiner import steiner_tree
from planner.problem import (
    ModelData,
    ModelSpec,
    NoFeasiblePlan,
    PassInfo,
    SolveResult,
    built_infrastructure,
    economic_cost,
    objective_values,
    relative_gap,
)
from planner.scenario import SolverSettings

MILP_MAX_PAIRS = 400_000  # above this the Pyomo/HiGHS path is not attempted for plain models (measured)


ROLLING_HORIZON_MIN_PAIR_YEARS = 50_000  # above this the full roadmap MILP takes > 45 s here (measured)


def use_rolling_horizon(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> bool:
    """Whether the roadmap goes to the rolling horizon (:mod:`planner.heuristics.phasing`) rather than the full model.

    Large plain max_coverage roadmaps go to the rolling horizon, which reports its Lagrangian bound and gap;
    ``method: milp`` forces the full model.
    """
    rm = spec.roadmap
    return (
        rm is not None
        and settings.method != "milp"
        and spec.objective == "max_coverage"
        and spec.metric != "communities"
        and not spec.region_min_coverage
        and not spec.technology_max_share
        and spec.coverage_target is None
        and len(data.options) * len(rm.years) > ROLLING_HORIZON_MIN_PAIR_YEARS
    )


def model_infrastructure(m: pyo.ConcreteModel) -> tuple[np.ndarray, np.ndarray]:
    """Arcs and sites built in the model's current solution."""
    arcs = [k for k in m.A if (m.arc[k].value or 0.0) > 0.5] if hasattr(m, "arc") else []
    sites = [s for s in m.S if (m.site[s].value or 0.0) > 0.5] if hasattr(m, "site") else []
    return np.array(arcs, dtype=np.int64), np.array(sites, dtype=np.int64)


def shared_start(
    data: ModelData, spec: ModelSpec, settings: SolverSettings, m: pyo.ConcreteModel
) -> SolveResult | None:
    """Warm start a shared-infrastructure model from the heuristic plan (:mod:`planner.heuristics.sharing`).

    Sets the pairs, the trench arcs with their flows (the number of chosen fibre offices behind each arc), and the
    sites. Returns that plan (it stands if HiGHS finds nothing better), or None for specs the heuristic does not handle.
    """
    if data.infra is None or not spec.is_plain:
        return None
    try:
        plan = shared_heuristic(data, spec, settings, EXACT)
    except NoFeasiblePlan:
        return None
    set_start(m, plan.chosen)
    if plan.arcs is not None and len(plan.arcs) and hasattr(m, "arc"):
        fibre = [cast(str, data.options["office_id"].iat[int(p)]) for p in plan.chosen if data.shared[p] == "fibre"]
        flow: dict[int, float] = {}  # the number of chosen fibre offices behind each arc
        for path in data.infra.paths(plan.arcs, fibre).values():
            for k in path:
                flow[k] = flow.get(k, 0.0) + 1.0
        for k in plan.arcs:
            m.arc[int(k)].set_value(1.0)
            m.flow[int(k)].set_value(flow.get(int(k), 0.0))
    if plan.sites is not None and hasattr(m, "site"):
        for s in plan.sites:
            m.site[int(s)].set_value(1.0)
    return plan


def solve_spec(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> SolveResult:
    """Solve one spec; raise ``NoFeasiblePlan`` when it has no plan (diagnosis happens in :func:`solve`)."""
    t0 = time.perf_counter()
    passes: list[PassInfo] = []
    if use_shared_heuristic(data, spec):
        return shared_heuristic(data, spec, settings, EXACT)
    if use_rolling_horizon(data, spec, settings):
        return rolling_horizon(data, spec, mip_gap=settings.mip_gap)
    if data.options.empty:  # nothing can be connected: the empty plan, unless a row demands coverage
        needs = (spec.coverage_target or 0) > 0 or any(v > 0 for v in spec.region_min_coverage.values())
        if needs and data.total_weight(spec.metric) > 0:
            raise NoFeasiblePlan("no eligible option")
        empty = np.zeros(0, dtype=np.int64)
        years = empty if spec.roadmap is not None else None
        return SolveResult("optimal", "trivial", empty, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, passes, years)
    plain = spec.is_plain and data.infra is None
    # min_cost: each office's cheapest option by economic cost; max_coverage: by budget cost (the knapsack)
    hull = office_hull(data, economic=spec.objective == "min_cost") if plain or settings.method != "milp" else None
    greedy: tuple[np.ndarray, float, float] | None = None
    if plain and settings.method != "milp":
        assert hull is not None  # plain: hull was built above
        g0 = time.perf_counter()
        if spec.objective == "max_coverage":
            g = greedy_max_coverage(hull, spec.budget_usd)
            greedy = (economic_swap(data, g[0]), g[1], g[2])  # least economic cost at no more budget
        else:
            greedy = greedy_min_cost(hull, (spec.coverage_target or 0.0) * data.total_weight(spec.metric))
            if greedy is None:
                raise NoFeasiblePlan("coverage_target")
        chosen, value, bound = greedy
        passes.append(PassInfo("hull greedy", "greedy", "certified", value, bound, time.perf_counter() - g0))
        gap = relative_gap(value, bound)
        too_big = len(data.options) > MILP_MAX_PAIRS
        # max_coverage whose economic cost ranks options unlike the budget cost: the greedy plan (with its swap)
        # need not be the least economic cost at its coverage, so the MILP's tie-break pass settles it.
        tie_break_needed = spec.objective == "max_coverage" and not data.economic_is_budget_cost()
        if (gap <= settings.mip_gap and not tie_break_needed) or settings.method == "fast" or too_big:
            cov, cost = objective_values(data, spec.metric, chosen)
            status = "optimal" if gap <= settings.mip_gap else "time_limit"
            return SolveResult(status, "greedy", chosen, value, bound, gap, cov, cost, 0.0,
                               time.perf_counter() - t0, passes)  # fmt: skip
    if spec.objective == "min_cost" and spec.coverage_target is not None and hull is not None:
        reach = float(hull.weight.sum()) if spec.metric != "communities" else None
        if reach is not None and reach < spec.coverage_target * data.total_weight(spec.metric) * (1 - 1e-12):
            raise NoFeasiblePlan("coverage_target")
    b0 = time.perf_counter()
    m = build_model(data, spec)
    build_s = time.perf_counter() - b0
    opt = new_solver(m, settings.mip_gap, settings.time_limit_s)
    heuristic = None
    if greedy is not None:
        set_start(m, greedy[0])
        opt.config.warmstart = True
    else:
        heuristic = shared_start(data, spec, settings, m)
        if heuristic is not None:
            opt.config.warmstart = True
            greedy = (heuristic.chosen, heuristic.objective, heuristic.bound)
    info, ok, opt = milp_pass(opt, m, "primary", settings.time_limit_s)
    passes.append(info)
    if not ok:
        if info.status == "infeasible":
            raise NoFeasiblePlan("milp")
        if heuristic is not None:  # guard fired or no incumbent: the heuristic shared plan stands
            return replace(heuristic, status="time_limit", passes=[*heuristic.passes, *passes], build_seconds=build_s,
                           solve_seconds=time.perf_counter() - t0 - build_s)  # fmt: skip
        if greedy is not None:  # guard fired or no incumbent: the certified greedy plan stands
            chosen, value, bound = greedy
            cov, cost = objective_values(data, spec.metric, chosen)
            return SolveResult("time_limit", "greedy", chosen, value, bound, relative_gap(value, bound), cov, cost,
                               build_s, time.perf_counter() - t0 - build_s, passes)  # fmt: skip
        if info.status in ("infeasible", "optimal"):
            raise NoFeasiblePlan(info.status)
        raise SolverTimeoutError(
            f"no plan found within solver.time_limit_s = {settings.time_limit_s:g} s ({info.status}); "
            "raise the limit or simplify the policy rules. This is not a proof that the scenario is infeasible."
        )
    bound, chosen, opt = tie_break(opt, m, spec, settings, info, greedy, passes)
    arcs: np.ndarray | None
    sites: np.ndarray | None
    arcs, sites, infra_cost = built_infrastructure(data, chosen, *model_infrastructure(m))
    cov, cost = objective_values(data, spec.metric, chosen)
    cost += infra_cost
    value = cov if spec.objective == "max_coverage" else economic_cost(data, chosen, arcs, sites)
    years = None
    if spec.roadmap is not None:  # objectives in population-years and discounted USD, read from the model
        years = chosen_years(m, chosen)
        value = pyo.value(m.coverage_years if spec.objective == "max_coverage" else m.discounted_cost)
        cost = float(pyo.value(m.cost))
    if heuristic is not None:
        worse = value < heuristic.objective if spec.objective == "max_coverage" else value > heuristic.objective
        if worse:  # a time-limited incumbent below its own warm start: keep the heuristic plan
            chosen, value, cov, cost = heuristic.chosen, heuristic.objective, heuristic.coverage, heuristic.cost_usd
            arcs, sites = heuristic.arcs, heuristic.sites
    elif greedy is not None and spec.roadmap is None:
        worse = value < greedy[1] if spec.objective == "max_coverage" else value > greedy[1]
        if worse:  # a time-limited incumbent (e.g. of a pass re-solved without its start) below the greedy plan
            chosen, value = greedy[0], greedy[1]
            cov, cost = objective_values(data, spec.metric, chosen)
    gap = relative_gap(value, bound)
    status = "optimal" if info.status == "optimal" or gap <= settings.mip_gap else "time_limit"
    method = "milp+heuristic-start" if heuristic is not None else "milp+greedy-start" if greedy is not None else "milp"
    return SolveResult(status, method, chosen, value, bound, gap, cov, cost, build_s,
                       time.perf_counter() - t0 - build_s, passes, years, arcs, sites)  # fmt: skip


def tie_break(
    opt: GuardedHighs,
    m: pyo.ConcreteModel,
    spec: ModelSpec,
    settings: SolverSettings,
    info: PassInfo,
    greedy: tuple[np.ndarray, float, float] | None,
    passes: list[PassInfo],
) -> tuple[float, np.ndarray, GuardedHighs]:
    """After a primary pass that found a plan: the proven primary bound and the lexicographic second pass's plan.

    The proven bound on the primary objective is HiGHS's, tightened by the greedy LP bound when there is one; the plan
    of the lexicographic second pass holds the primary at its value. The tie-break gets what is left of the limit (at
    least a quarter of it), so the whole solve stays near the user's limit; a cancelled tie-break keeps the primary
    pass's plan (still loaded in ``m``). Also returns the solver to use from now on (see :func:`milp_pass`).
    """
    assert info.objective is not None  # a pass that found a plan has its objective
    primary_value = float(info.objective)
    bound = float(info.bound) if info.bound is not None else primary_value
    if greedy is not None:  # the greedy LP bound is proven too: keep the tighter one
        bound = min(bound, greedy[2]) if spec.objective == "max_coverage" else max(bound, greedy[2])
    chosen = chosen_pairs(m)
    hold_primary(m, spec, primary_value, 1e-7 * abs(primary_value) + 1e-6)
    opt.config.warmstart = True
    left = max(settings.time_limit_s - info.seconds, 0.25 * settings.time_limit_s)
    info2, ok2, opt = milp_pass(opt, m, "tie-break", left)
    passes.append(info2)
    return bound, chosen_pairs(m) if ok2 else chosen, opt


def use_shared_heuristic(data: ModelData, spec: ModelSpec) -> bool:
    """Whether shared infrastructure is solved by the heuristic: asked for, or ``auto`` above ``exact_max_arcs`` arcs.

    Plain specs only (one budget or one target row): with side constraints the exact model runs.
    """
    infra = data.infra
    if infra is None or not spec.is_plain:
        return False
    if infra.method == "heuristic":
        return True
    return infra.method == "auto" and len(infra.arcs) > infra.exact_max_arcs


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def diagnose(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> Diagnosis:
    """Explain an infeasible spec: which constraint, and the relaxation that would make it feasible."""
    W = data.total_weight(spec.metric)
    quick = settings.model_copy(update={"time_limit_s": min(settings.time_limit_s, 30.0)})
    side = replace(spec, objective="max_coverage", budget_usd=None, coverage_target=None)
    # 1. Policy rows alone: can the regional minimums be met at all (with every eligible option)?
    try:
        best = solve_spec(data, side, quick)
    except NoFeasiblePlan:
        short = []
        for region, group in data.offices.groupby("region"):
            need = spec.region_min_coverage.get(str(region), spec.region_min_coverage.get("*", 0.0))
            reach_ids = set(data.options["office_id"])
            if spec.metric == "communities":
                total: float = group["community"].nunique()
                reached: float = group[group["office_id"].isin(reach_ids)]["community"].nunique()
            else:
                total = group["weight"].sum()
                reached = group[group["office_id"].isin(reach_ids)]["weight"].sum()
            share = reached / total if total else 1.0
            if share < need - 1e-12:
                short.append((str(region), share, need))
        if short:
            text = "; ".join(f"region '{r}' can reach at most {_pct(s)} (minimum {_pct(n)})" for r, s, n in short)
            return Diagnosis("region_min_coverage", text + ". Lower these minimums or make more options eligible.",
                             {f"region_min_coverage.{r}": s for r, s, _ in short})  # fmt: skip
        text = "the regional minimums cannot be met under the technology share caps; relax either."
        return Diagnosis("region_min_coverage + technology_max_share", text)
    reach_share = best.coverage / W if W else 0.0
    if spec.coverage_target is not None and best.coverage < spec.coverage_target * W * (1 - 1e-12):
        return Diagnosis(
            "coverage_target",
            f"the highest reachable coverage is {_pct(reach_share)} (target {_pct(spec.coverage_target)}): "
            "offices without an eligible technology (see options.csv reasons) or policy rules cap it"
            + (", with the roadmap's annual budgets and build capacity. " if spec.roadmap else ". ")
            + f"Lower coverage_target to at most {reach_share:.4f}.",
            {"coverage_target": reach_share},
        )
    if spec.budget_usd is not None:
        # Least cost that meets the target (or, without one, the regional minimums): feasible by step 1.
        # the least *budget* (not economic cost): solve min_cost with the budget cost as the economic one
        least = solve_spec(data.with_budget_cost_as_economic(), replace(spec, objective="min_cost", budget_usd=None),
                           quick)  # fmt: skip
        what = "the coverage target" if spec.coverage_target else "the regional minimums"
        suggestions = {"budget_usd": least.cost_usd}
        text = f"budget_usd {spec.budget_usd:,.0f} USD is too small: the least budget that meets {what} is "
        text += f"{least.cost_usd:,.0f} USD"
        if spec.coverage_target is not None:
            within = replace(spec, objective="max_coverage", coverage_target=None)
            try:
                got = solve_spec(data, within, quick)
                suggestions["coverage_target"] = got.coverage / W
                text += f"; or, within this budget, lower coverage_target to {got.coverage / W:.4f}"
            except NoFeasiblePlan:
                pass
        return Diagnosis("budget_usd", text + ".", suggestions)
    return Diagnosis("unknown", "the solver reports no feasible plan; check the policy rules.")


def solve(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> SolveResult:
    """Solve the plan; raise :class:`InfeasibleError` with a diagnosis when there is none."""
    try:
        return solve_spec(data, spec, settings)
    except NoFeasiblePlan:
        raise InfeasibleError(diagnose(data, spec, settings)) from None


def chosen_table(data: ModelData, result: SolveResult) -> pd.DataFrame:
    """The chosen (office_id, technology) pairs as a table."""
    return data.options.iloc[result.chosen][["office_id", "technology"]].reset_index(drop=True)


EXACT = ExactSolvers(plain=solve_spec, steiner=steiner_tree)  # what the sharing heuristic may call
