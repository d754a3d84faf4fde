"""Solve a plan: dispatch, lexicographic passes and the diagnosis of infeasible scenarios.

The dispatch picks the certified hull greedy, heuristics or HiGHS (DESIGN §5 "How it is solved").

The plain model goes to the certified hull greedy (:mod:`planner.heuristics.greedy`); when its gap meets
``mip_gap`` it is returned as is, otherwise it warm-starts HiGHS on the Pyomo model (:mod:`planner.optimize.model`).
Large roadmaps go to the rolling horizon (:mod:`planner.heuristics.phasing`), other max_coverage roadmaps without
policy rows to the roadmap matrices of :mod:`planner.optimize.roadmap`, and large shared-infrastructure
instances to the sharing heuristic (:mod:`planner.heuristics.sharing`), which receives this module's exact solver
and the Steiner solver as arguments. Every HiGHS call runs under the guard of :mod:`planner.optimize.highs`.
Every answer carries its gap against a proven bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from planner.errors import Diagnosis, InfeasibleError, Relaxation, SolverTimeoutError
from planner.heuristics.greedy import Hull, economic_swap, greedy_max_coverage, greedy_min_cost, office_hull
from planner.heuristics.phasing import rolling_horizon
from planner.heuristics.sharing import RELAX_SHARE, ExactSolvers, shared_heuristic
from planner.heuristics.side import handles as side_handles
from planner.heuristics.side import region_needs, side_greedy
from planner.problem import (
    ModelData,
    ModelSpec,
    NoFeasiblePlan,
    PassInfo,
    RelaxationResult,
    SolveResult,
    built_infrastructure,
    economic_cost,
    objective_values,
    relative_gap,
)
from planner.scenario import SolverSettings

if TYPE_CHECKING:  # Pyomo is imported when a model is built (about 1-2 s): a plan the greedy settles needs none
    import networkx as nx
    import pyomo.environ as pyo

    from planner.optimize.highs import GuardedHighs

MILP_MAX_PAIRS = 400_000  # above this the Pyomo/HiGHS path is not attempted for plain models (measured)


# Seconds to build the Pyomo model and load it into HiGHS, per pair (per pair-year in a roadmap): 20,000 offices,
# 74,665 pairs with regional minimums and caps took 4.4-8.8 s here (Pyomo 2.1-2.7 s, appsi load 2.3-2.9 s, more
# under load, up to 12 s), 6-16e-5 s per pair (planner estimate from those measurements: a build is skipped when
# it would likely not finish in time; one that runs late stops between constraint families).
BUILD_S_PER_PAIR = 1e-4

# Seconds to build the shared model and load it into HiGHS, per candidate fibre arc (arc, flow, capacity and extend
# rows, and the cut LP's cuts): 13.8 s for the 14,424 arcs and 1,974 cuts of uttarakhand-fibre-shared under a load
# average of 10 (planner estimate from that measurement: above it, the heuristic's plan and the cut LP's bound stand).
BUILD_S_PER_ARC = 1e-3

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


def shared_first(
    data: ModelData, spec: ModelSpec, settings: SolverSettings
) -> tuple[RelaxationResult | None, SolveResult | None]:
    """The cut-strengthened LP of a shared-infrastructure spec and, for plain specs, the heuristic plan it seeds.

    The LP (:mod:`planner.optimize.shared`, at most ``RELAX_SHARE`` of the time limit) is a relaxation of every spec
    (side rows only cut more): its bound is proven and its cuts tighten the MIP. The heuristic
    (:mod:`planner.heuristics.sharing`) reports that bound; None when the spec has side rows or no plan was found.
    """
    deadline = time.monotonic() + settings.time_limit_s
    relaxation = relax(data, spec, time.monotonic() + RELAX_SHARE * settings.time_limit_s)
    if not spec.is_plain:
        return relaxation, None
    try:  # the heuristic gets what the LP left of the limit
        plan = shared_heuristic(data, spec, within(settings, deadline), replace(EXACT, relax=lambda *_: relaxation))
    except NoFeasiblePlan:
        return relaxation, None
    return relaxation, plan


def shared_start(data: ModelData, m: pyo.ConcreteModel, plan: SolveResult) -> None:
    """Warm start a shared-infrastructure model from a plan of the heuristic (:func:`shared_first`).

    Sets the pairs, the trench arcs with their flows (the number of chosen fibre offices behind each arc), and the
    sites.
    """
    assert data.infra is not None
    from planner.optimize.model import set_start

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


def load_solvers() -> float:
    """Import Pyomo, the HiGHS runner, the model and the Steiner solver; the seconds it took (0 once loaded).

    About 1-2 s the first time, which a time limit does not count: callers move their deadline by it.
    """
    t = time.monotonic()
    import planner.optimize.highs
    import planner.optimize.model
    import planner.optimize.shared
    import planner.optimize.steiner  # noqa: F401

    return time.monotonic() - t


def time_left(deadline: float) -> float:
    """Seconds until ``deadline`` (a :func:`time.monotonic` reading), never negative."""
    return max(deadline - time.monotonic(), 0.0)


def within(settings: SolverSettings, deadline: float) -> SolverSettings:
    """``settings`` whose ``time_limit_s`` is what is left until ``deadline``: a nested solve shares the deadline."""
    from planner.optimize.highs import MIN_RUN_S

    return settings.model_copy(update={"time_limit_s": max(time_left(deadline), MIN_RUN_S)})


def no_plan_within(settings: SolverSettings, status: str) -> SolverTimeoutError:
    """The error of a solve that found no plan by its deadline (exit code 1: not a proof of infeasibility)."""
    return SolverTimeoutError(
        f"no plan within {settings.time_limit_s:g} s (solver.time_limit_s; HiGHS: {status}). Raise "
        "solver.time_limit_s or simplify the policy rules; this is not a proof that the scenario is infeasible."
    )


def solve_spec(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> SolveResult:
    """Solve one spec within ``settings.time_limit_s``; raise ``NoFeasiblePlan`` when it has no plan.

    One deadline covers every step (greedy and heuristics, the Pyomo build, each HiGHS pass, the tie-break):
    each gets what is left of it. When it passes, the best plan found stands (status ``time_limit``, with its
    gap); with no plan by then :class:`SolverTimeoutError` is raised. Diagnosis happens in :func:`solve`.
    """
    t0 = time.perf_counter()
    deadline = time.monotonic() + settings.time_limit_s
    passes: list[PassInfo] = []
    if use_shared_heuristic(data, spec):
        load_solvers()  # before the heuristic's clock starts: it may call the exact solvers
        return shared_heuristic(data, spec, settings, EXACT)
    if use_rolling_horizon(data, spec, settings):
        return rolling_horizon(data, spec, mip_gap=settings.mip_gap)
    if spec.roadmap is not None:
        from planner.optimize.roadmap import handles as roadmap_handles
        from planner.optimize.roadmap import solve_roadmap

        if roadmap_handles(data, spec):  # the roadmap as matrices, warm-started from the rolling horizon
            return solve_roadmap(data, spec, settings)
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
    greedy_name = "greedy"
    if plain and settings.method != "milp":
        assert hull is not None  # plain: hull was built above
        g0 = time.perf_counter()
        # "auto": a plan whose gap misses mip_gap goes on to the core search (planner.heuristics.knapsack), which
        # mostly proves the knapsack's optimum in milliseconds; "fast" is the certified greedy alone
        improve_above = settings.mip_gap if settings.method == "auto" else None
        if spec.objective == "max_coverage":
            g = greedy_max_coverage(hull, spec.budget_usd, improve_above)
            greedy = (economic_swap(data, g[0]), g[1], g[2])  # least economic cost at no more budget
        else:
            target = (spec.coverage_target or 0.0) * data.total_weight(spec.metric)
            greedy = greedy_min_cost(hull, target, improve_above)
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
    elif side_handles(data, spec):  # side rows: a feasible plan now, the warm start and the fallback of HiGHS
        g0 = time.perf_counter()
        greedy = side_greedy(data, spec)
        greedy_name = "side greedy"
        status = "feasible" if greedy is not None else "no plan"
        value_s, bound_s = (greedy[1], greedy[2]) if greedy is not None else (None, None)
        passes.append(PassInfo("side greedy", "greedy", status, value_s, bound_s, time.perf_counter() - g0))
    if spec.objective == "min_cost" and spec.coverage_target is not None and hull is not None:
        reach = float(hull.weight.sum()) if spec.metric != "communities" else None
        if reach is not None and reach < spec.coverage_target * data.total_weight(spec.metric) * (1 - 1e-12):
            raise NoFeasiblePlan("coverage_target")
    proven_infeasible(data, spec)
    deadline += load_solvers()  # the imports do not count against the time limit
    import pyomo.environ as pyo

    from planner.optimize.highs import MIN_RUN_S, milp_pass, new_solver
    from planner.optimize.model import BuildTimeout, build_model, chosen_years, set_start

    relaxation: RelaxationResult | None = None
    heuristic: SolveResult | None = None
    if greedy is None and data.infra is not None:  # shared infrastructure: cut LP and heuristic before the MIP
        relaxation, heuristic = shared_first(data, spec, within(settings, deadline))
        if heuristic is not None:  # the MIP still runs: it proves the plan and its tie-break settles the cost
            passes += heuristic.passes
    pair_years = len(data.options) * (len(spec.roadmap.years) if spec.roadmap is not None else 1)
    n_arcs = len(data.infra.arcs) if data.infra is not None else 0
    if heuristic is not None and pair_years * BUILD_S_PER_PAIR + n_arcs * BUILD_S_PER_ARC > time_left(deadline):
        passes.append(PassInfo("primary", "milp", "skipped: no time to build the model", None, None, 0.0))
        return replace(heuristic, status="time_limit", passes=passes, solve_seconds=time.perf_counter() - t0)
    if greedy is not None and pair_years * BUILD_S_PER_PAIR > time_left(deadline):
        # the Pyomo model would not even be built in time: the greedy plan stands, with its proven gap
        passes.append(PassInfo("primary", "milp", "skipped: no time to build the model", None, None, 0.0))
        return greedy_result(data, spec, settings, greedy, greedy_name, t0, 0.0, passes)
    b0 = time.perf_counter()
    try:
        m = build_model(data, spec, deadline)
    except BuildTimeout:
        m = None
    build_s = time.perf_counter() - b0
    # loading the model into HiGHS takes about as long as building it (measured): with less left, HiGHS gets no turn
    late = time_left(deadline) < (build_s if greedy is not None else MIN_RUN_S)
    if m is None or late:
        passes.append(PassInfo("primary", "milp", "skipped: the time limit was spent building the model", None,
                               None, 0.0))  # fmt: skip
        if heuristic is not None:
            return replace(heuristic, status="time_limit", passes=passes, build_seconds=build_s,
                           solve_seconds=time.perf_counter() - t0 - build_s)  # fmt: skip
        if greedy is not None:
            return greedy_result(data, spec, settings, greedy, greedy_name, t0, build_s, passes)
        raise no_plan_within(settings, "not run: the model took the whole limit to build")
    if relaxation is not None:  # the MIP's root LP starts from the cut LP's bound, not the flow model's weak one
        from planner.optimize.shared import add_cuts

        add_cuts(m, relaxation.cuts)
    opt = new_solver(m, settings.mip_gap, time_left(deadline))
    build_s = time.perf_counter() - b0
    if greedy is not None:
        set_start(m, greedy[0])
        opt.config.warmstart = True
    elif heuristic is not None:
        shared_start(data, m, heuristic)
        opt.config.warmstart = True
        greedy = (heuristic.chosen, heuristic.objective, heuristic.bound)
    if time_left(deadline) < MIN_RUN_S:  # the build took the whole limit: HiGHS gets no turn
        info, ok = PassInfo("primary", "milp", "skipped: the time limit was spent", None, None, 0.0), False
    else:
        info, ok, opt = milp_pass(opt, m, "primary", time_left(deadline))
    passes.append(info)
    if not ok:
        if info.status == "infeasible":
            raise NoFeasiblePlan("milp")
        if heuristic is not None:  # guard fired or no incumbent: the heuristic shared plan stands
            return replace(heuristic, status="time_limit", passes=passes, build_seconds=build_s,
                           solve_seconds=time.perf_counter() - t0 - build_s)  # fmt: skip
        if greedy is not None:  # guard fired or no incumbent: the greedy plan stands
            return greedy_result(data, spec, settings, greedy, greedy_name, t0, build_s, passes, proven=False)
        if info.status in ("infeasible", "optimal"):
            raise NoFeasiblePlan(info.status)
        raise no_plan_within(settings, info.status)
    bound, chosen, opt = tie_break(opt, m, spec, settings, info, greedy, passes, deadline)
    if relaxation is not None:  # the cut LP's bound is proven too: keep the tighter one
        tighter = min if spec.objective == "max_coverage" else max
        bound = tighter(bound, relaxation.bound)
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
    start = "heuristic" if heuristic is not None else greedy_name.replace(" ", "-") if greedy is not None else ""
    method = f"milp+{start}-start" if start else "milp"
    return SolveResult(status, method, chosen, value, bound, gap, cov, cost, build_s,
                       time.perf_counter() - t0 - build_s, passes, years, arcs, sites)  # fmt: skip


def proven_infeasible(data: ModelData, spec: ModelSpec) -> None:
    """Raise ``NoFeasiblePlan`` when a relaxation already proves a single-year spec infeasible (no solver needed).

    A region whose offices with an eligible option weigh less than its minimum; or, with a budget, a least budget
    (the LP bound of the hull greedy on the budget cost) above it: for the coverage target, or summed over the
    regions' minimums.
    """
    if spec.roadmap is not None or data.infra is not None or spec.metric == "communities":
        return
    needs = region_needs(data, spec)
    if needs:
        reach_ids = set(data.options["office_id"])
        reached = data.offices[data.offices["office_id"].isin(reach_ids)].groupby("region")["weight"].sum()
        if any(float(reached.get(r, 0.0)) < need * (1 - 1e-12) for r, need in needs.items()):
            raise NoFeasiblePlan("region_min_coverage")
    if spec.budget_usd is None or not (needs or spec.coverage_target):
        return
    hull = office_hull(data)
    if spec.coverage_target:
        g = greedy_min_cost(hull, spec.coverage_target * data.total_weight(spec.metric))
        if g is None or g[2] > spec.budget_usd * (1 + 1e-9) + 1e-6:
            raise NoFeasiblePlan("budget_usd")
    region_of = data.offices.set_index("office_id")["region"].astype(str)
    hull_region = region_of.reindex(data.options["office_id"].to_numpy()[hull.pair]).to_numpy(object)
    least = 0.0
    for r, need in needs.items():
        keep = hull_region == r
        g = greedy_min_cost(Hull(hull.pair[keep], hull.cost[keep], hull.weight[keep]), need)
        least += g[2] if g is not None else math.inf
    if least > spec.budget_usd * (1 + 1e-9) + 1e-6:
        raise NoFeasiblePlan("budget_usd")


def greedy_result(
    data: ModelData,
    spec: ModelSpec,
    settings: SolverSettings,
    greedy: tuple[np.ndarray, float, float],
    method: str,
    t0: float,
    build_s: float,
    passes: list[PassInfo],
    proven: bool = True,
) -> SolveResult:
    """A greedy plan (chosen pairs, value, proven bound) as the answer; ``optimal`` only when ``proven`` within gap."""
    chosen, value, bound = greedy
    cov, cost = objective_values(data, spec.metric, chosen)
    gap = relative_gap(value, bound)
    status = "optimal" if proven and gap <= settings.mip_gap else "time_limit"
    return SolveResult(status, method.replace(" ", "-"), chosen, value, bound, gap, cov, cost, build_s,
                       time.perf_counter() - t0 - build_s, passes)  # fmt: skip


def tie_break(
    opt: GuardedHighs,
    m: pyo.ConcreteModel,
    spec: ModelSpec,
    settings: SolverSettings,
    info: PassInfo,
    greedy: tuple[np.ndarray, float, float] | None,
    passes: list[PassInfo],
    deadline: float | None = None,
) -> tuple[float, np.ndarray, GuardedHighs]:
    """After a primary pass that found a plan: the proven primary bound and the lexicographic second pass's plan.

    The proven bound on the primary objective is HiGHS's, tightened by the greedy LP bound when there is one; the plan
    of the lexicographic second pass holds the primary at its value. The tie-break gets what is left until
    ``deadline`` (:func:`time.monotonic`; default: the primary pass's start plus the limit), and is skipped when
    nothing is left; a cancelled or skipped tie-break keeps the primary pass's plan (still loaded in ``m``). Also
    returns the solver to use from now on (see :func:`milp_pass`).
    """
    from planner.optimize.highs import MIN_RUN_S, milp_pass
    from planner.optimize.model import chosen_pairs, hold_primary

    assert info.objective is not None  # a pass that found a plan has its objective
    primary_value = float(info.objective)
    bound = float(info.bound) if info.bound is not None else primary_value
    if greedy is not None:  # the greedy LP bound is proven too: keep the tighter one
        bound = min(bound, greedy[2]) if spec.objective == "max_coverage" else max(bound, greedy[2])
    chosen = chosen_pairs(m)
    if deadline is None:
        deadline = time.monotonic() + max(settings.time_limit_s - info.seconds, 0.0)
    left = time_left(deadline)
    if left < MIN_RUN_S:
        passes.append(PassInfo("tie-break", "milp", "skipped: the time limit was spent", None, None, 0.0))
        return bound, chosen, opt
    hold_primary(m, spec, primary_value, 1e-7 * abs(primary_value) + 1e-6)
    opt.config.warmstart = True
    # No presolve in the tie-break. HiGHS's presolve on the held row (a coefficient on every column) is slow and
    # checks neither its time limit nor the interrupt: on the Uttarakhand roadmap it ran 55 s past an 8 s limit, so
    # the guard abandoned the call, which then held the run lock and a core (the app's sweep after a roadmap waited
    # for it); on a 14,683-option country it took 34 s of a 34 s pass against 0.9 s without, same optimum.
    opt.highs_options["presolve"] = "off"
    try:
        info2, ok2, opt = milp_pass(opt, m, "tie-break", left)
    finally:
        opt.highs_options["presolve"] = "choose"  # a reused model's next primary pass presolves again
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


def share_down(x: float) -> float:
    """A share rounded down to 4 decimals (a minimum or a target that a plan reaching ``x`` still meets)."""
    k = math.floor(x * 1e4 + 1e-9)
    while k > 0 and k / 1e4 > x:  # x * 1e4 rounded up to the next integer
        k -= 1
    return max(k, 0) / 1e4


def share_up(x: float) -> float:
    """A share rounded up to 4 decimals, at most 1 (a cap that a plan with share ``x`` still meets)."""
    k = math.ceil(x * 1e4 - 1e-9)
    while k / 1e4 < x:
        k += 1
    return min(k / 1e4, 1.0)


def usd_up(x: float) -> float:
    """USD rounded up to the whole dollar (a budget that a plan costing ``x`` still fits)."""
    return float(math.ceil(x))


def relaxed_spec(spec: ModelSpec, changes: dict[str, float]) -> ModelSpec:
    """``spec`` with a relaxation's changes applied (field paths as in :class:`planner.errors.Relaxation`)."""
    out = replace(spec, region_min_coverage=dict(spec.region_min_coverage),
                  technology_max_share=dict(spec.technology_max_share))  # fmt: skip
    for key, value in changes.items():
        if key == "budget_usd":
            out.budget_usd = float(value)
        elif key == "coverage_target":
            out.coverage_target = float(value)
        elif key.startswith("policy.region_min_coverage."):
            out.region_min_coverage[key.removeprefix("policy.region_min_coverage.")] = float(value)
        elif key.startswith("policy.technology_max_share."):
            out.technology_max_share[key.removeprefix("policy.technology_max_share.")] = float(value)
        elif key.startswith("roadmap.annual_budget_usd.") and out.roadmap is not None:
            budgets = dict(out.roadmap.annual_budget_usd)
            budgets[int(key.removeprefix("roadmap.annual_budget_usd."))] = float(value)
            out.roadmap = replace(out.roadmap, annual_budget_usd=budgets)
        else:
            raise ValueError(f"unknown relaxation field {key}")
    return out


def year_spend(data: ModelData, spec: ModelSpec, result: SolveResult) -> dict[int, float]:
    """USD a roadmap plan spends in each year on the annual budget rows (capex, and opex under the TCO basis)."""
    rm = spec.roadmap
    assert rm is not None and result.years is not None  # a roadmap plan has years
    capex = data.options["capex_usd"].to_numpy(float)
    opex = data.options["opex_usd_per_year"].to_numpy(float)
    tech = data.options["technology"].to_numpy(object)
    spend = dict.fromkeys(rm.years, 0.0)
    for p, y in zip(result.chosen, result.years, strict=True):
        spend[int(y)] += capex[p] * rm.capex_factor(str(tech[p]), int(y))
        if rm.count_opex:
            for k in rm.years:
                if k >= y:
                    spend[k] += opex[p]
    return spend


DIAGNOSIS_DEPTH = 2  # a relaxation that leaves another row infeasible is diagnosed again, this many times


def diagnose(
    data: ModelData, spec: ModelSpec, settings: SolverSettings, deadline: float | None = None, depth: int = 0
) -> Diagnosis:
    """Explain an infeasible spec: which constraint, and relaxations that make it feasible.

    Every relaxation offered is checked: it comes with a plan that meets it (its values rounded the safe way), or a
    solve of the relaxed spec found a plan; a relaxation that leaves another row infeasible is combined with the
    relaxations of that row. The diagnosis shares ``deadline`` (:func:`time.monotonic`; default: now plus the time
    limit) with the solve that found no plan, with at least 0.5 s + 4 % of the limit of its own.
    """
    if deadline is not None:
        deadline += load_solvers()  # the imports do not count against the time limit
    from planner.optimize.highs import MIN_RUN_S

    floor = time.monotonic() + 0.5 + 0.04 * settings.time_limit_s
    deadline = max(deadline if deadline is not None else time.monotonic() + settings.time_limit_s, floor)
    d = first_diagnosis(data, spec, settings, deadline)
    checked: list[Relaxation] = []
    for r in d.relaxations:
        if r.proven:
            checked.append(r)
            continue
        relaxed = relaxed_spec(spec, r.changes)
        quick = within(settings, deadline).model_copy(update={"method": "fast"})
        try:
            if not (side_handles(data, relaxed) and side_greedy(data, relaxed) is not None):
                solve_spec(data, relaxed, quick)  # a plan of the side greedy is checked against every row
        except NoFeasiblePlan:
            if depth < DIAGNOSIS_DEPTH and time_left(deadline) > MIN_RUN_S:
                more = diagnose(data, relaxed, settings, deadline, depth + 1)
                checked += [Relaxation({**r.changes, **r2.changes}, r2.note or r.note, True) for r2 in more.relaxations]
            continue
        except SolverTimeoutError:
            continue  # not confirmed within the time limit: not offered
        checked.append(replace(r, proven=True))
    unique: list[Relaxation] = []
    for r in checked:
        if all(r.changes != u.changes for u in unique):
            unique.append(r)
    message = d.message
    if d.relaxations and not unique:
        message += " No relaxation could be confirmed within solver.time_limit_s; raise it for advice."
    return Diagnosis(d.constraint, message, relaxations=unique)


def first_diagnosis(data: ModelData, spec: ModelSpec, settings: SolverSettings, deadline: float) -> Diagnosis:
    """The row that makes ``spec`` infeasible and candidate relaxations (checked by :func:`diagnose`)."""
    W = data.total_weight(spec.metric)
    side = replace(spec, objective="max_coverage", budget_usd=None, coverage_target=None)

    def attempt(s: ModelSpec, d: ModelData = data) -> SolveResult | None:
        try:
            return solve_spec(d, s, within(settings, deadline))
        except (NoFeasiblePlan, SolverTimeoutError):
            return None

    # 1. Policy rows alone: can the regional minimums be met at all (with every eligible option)?
    try:
        best = solve_spec(data, side, within(settings, deadline))
    except SolverTimeoutError:
        return Diagnosis("unknown", f"no plan meets the policy rules alone within {settings.time_limit_s:g} s "
                         "(solver.time_limit_s); raise it for a diagnosis.")  # fmt: skip
    except NoFeasiblePlan:
        return policy_diagnosis(data, spec, side, attempt)
    reach_share = best.coverage / W if W else 0.0
    if spec.coverage_target is not None and best.coverage < spec.coverage_target * W * (1 - 1e-12):
        proven = spec.budget_usd is None  # the plan reaching it meets every other row
        relaxations = [
            Relaxation({"coverage_target": share_down(reach_share)}, "the highest reachable coverage", proven)
        ]
        relaxations += annual_budget_relaxations(data, spec, attempt)
        return Diagnosis(
            "coverage_target",
            f"the highest reachable coverage is {_pct(reach_share)} (target {_pct(spec.coverage_target)}): "
            "offices without an eligible technology (see options.csv reasons) or policy rules cap it"
            + (", with the roadmap's annual budgets and build capacity." if spec.roadmap else "."),
            relaxations=relaxations,
        )
    if spec.budget_usd is not None:
        # Least cost that meets the target (or, without one, the regional minimums): feasible by step 1.
        # the least *budget* (not economic cost): solve min_cost with the budget cost as the economic one
        least = attempt(replace(spec, objective="min_cost", budget_usd=None), data.with_budget_cost_as_economic())
        what = "the coverage target" if spec.coverage_target else "the regional minimums"
        relaxations = []
        text = f"budget_usd {spec.budget_usd:,.0f} USD is too small for {what}"
        if least is not None:
            proven = least.status == "optimal"
            note = "the least budget" if proven else "a budget that suffices; the least may be lower"
            relaxations.append(Relaxation({"budget_usd": usd_up(least.cost_usd)}, note, True))
            text += f": {'the least budget that meets it is' if proven else 'a plan meeting it costs'} "
            text += f"{usd_up(least.cost_usd):,.0f} USD"
        if spec.coverage_target is not None:
            got = attempt(replace(spec, objective="max_coverage", coverage_target=None))
            if got is not None:
                cut = share_down(got.coverage / W)
                relaxations.append(Relaxation({"coverage_target": cut}, "within this budget", True))
        return Diagnosis("budget_usd", text + ".", relaxations=relaxations)
    if spec.roadmap is not None:
        relaxations = annual_budget_relaxations(data, spec, attempt)
        if relaxations:
            return Diagnosis("roadmap.annual_budget_usd", "the annual budgets are too small for the coverage target "
                             "and the regional minimums in the roadmap's years.", relaxations=relaxations)  # fmt: skip
    return Diagnosis("unknown", "the solver reports no feasible plan; check the policy rules.")


def policy_diagnosis(
    data: ModelData, spec: ModelSpec, side: ModelSpec, attempt: Callable[..., SolveResult | None]
) -> Diagnosis:
    """The policy rows alone have no plan: regions that cannot reach their minimum, or caps that block them."""
    short = []
    reach_ids = set(data.options["office_id"])
    for region, group in data.offices.groupby("region"):
        need = spec.region_min_coverage.get(str(region), spec.region_min_coverage.get("*", 0.0))
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
        changes = {f"policy.region_min_coverage.{r}": share_down(s) for r, s, _ in short}
        return Diagnosis("region_min_coverage", text + ": lower these minimums or make more options eligible.",
                         relaxations=[Relaxation(changes, "the most these regions can reach")])  # fmt: skip
    relaxations = []
    counts = data.options["technology"].astype(str)
    for t in sorted(spec.technology_max_share):
        free = replace(side, technology_max_share={k: v for k, v in spec.technology_max_share.items() if k != t})
        plan = attempt(free)
        if plan is not None and len(plan.chosen):
            share = float((counts.iloc[plan.chosen] == t).mean())
            relaxations.append(Relaxation({f"policy.technology_max_share.{t}": share_up(share)},
                                          "the share of a plan that meets the other rows"))  # fmt: skip
    if not relaxations and spec.technology_max_share:
        relaxations.append(Relaxation({f"policy.technology_max_share.{t}": 1.0 for t in spec.technology_max_share},
                                      "no caps"))  # fmt: skip
    if not relaxations and spec.roadmap is not None:
        relaxations = annual_budget_relaxations(data, spec, attempt)
    what = "technology share caps" if spec.technology_max_share else "roadmap's annual budgets and build capacity"
    return Diagnosis("region_min_coverage + technology_max_share" if spec.technology_max_share else
                     "region_min_coverage", f"the regional minimums cannot be met under the {what}; relax either.",
                     relaxations=relaxations)  # fmt: skip


def annual_budget_relaxations(
    data: ModelData, spec: ModelSpec, attempt: Callable[..., SolveResult | None]
) -> list[Relaxation]:
    """Roadmap: annual budgets that a plan meeting every other row fits (each year raised to that plan's spend)."""
    rm = spec.roadmap
    if rm is None:
        return []
    opts = data.options
    ample = 2.0 * float((opts["capex_usd"].clip(lower=0) + len(rm.years) * opts["opex_usd_per_year"].clip(lower=0))
                        .sum() * max(max(rm.capex_factor(str(t), y) for y in rm.years)
                                     for t in opts["technology"].unique())) + 1.0  # fmt: skip
    loose = replace(rm, annual_budget_usd=dict.fromkeys(rm.years, ample))
    target = spec.coverage_target
    # the least discounted cost that meets the rows without annual budgets (max_coverage: the regional minimums)
    probe = replace(spec, objective="min_cost", roadmap=loose, coverage_target=target)
    plan = attempt(probe)
    if plan is None or plan.years is None:
        return []
    spend = year_spend(data, probe, plan)
    changes = {f"roadmap.annual_budget_usd.{y}": usd_up(spend[y]) for y in rm.years
               if spend[y] > rm.annual_budget_usd[y]}  # fmt: skip
    return [Relaxation(changes, "the yearly spend of a plan that meets the other rows", True)] if changes else []


def solve(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> SolveResult:
    """Solve the plan within ``settings.time_limit_s``; raise :class:`InfeasibleError` with a diagnosis if none exists.

    The diagnosis shares the solve's deadline (see :func:`diagnose`); no plan by the deadline raises
    :class:`planner.errors.SolverTimeoutError` (exit code 1).
    """
    deadline = time.monotonic() + settings.time_limit_s
    try:
        return solve_spec(data, spec, settings)
    except NoFeasiblePlan:
        raise InfeasibleError(diagnose(data, spec, settings, deadline)) from None


def chosen_table(data: ModelData, result: SolveResult) -> pd.DataFrame:
    """The chosen (office_id, technology) pairs as a table."""
    return data.options.iloc[result.chosen][["office_id", "technology"]].reset_index(drop=True)


def steiner(*args: Any, **kwargs: Any) -> nx.Graph:
    """:func:`planner.optimize.steiner.steiner_tree`, imported (with HiGHS and Pyomo) when first called."""
    from planner.optimize.steiner import steiner_tree

    return steiner_tree(*args, **kwargs)


def relax(data: ModelData, spec: ModelSpec, deadline: float | None = None) -> RelaxationResult | None:
    """:func:`planner.optimize.shared.shared_relaxation`, imported (with HiGHS and Pyomo) when first called."""
    from planner.optimize.shared import shared_relaxation

    return shared_relaxation(data, spec, deadline)


# what the sharing heuristic may call
EXACT = ExactSolvers(plain=solve_spec, steiner=steiner, relax=relax)
