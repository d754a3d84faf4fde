"""Solve a plan: the certified hull greedy (fast path), HiGHS on the Pyomo model, lexicographic passes,
time-limit guard and infeasibility diagnosis (DESIGN §5 "How it is solved").

Fast path. In the plain model (one budget row or one target row, coverage additive over offices) coverage
depends on the office, not on the technology, so each office's (cost, coverage) convex hull has a single
vertex besides the origin: its cheapest eligible option. The model then reduces to a 0/1 knapsack whose LP
relaxation the ratio greedy solves exactly (Dantzig): that LP value is a *proven* bound, and the greedy's
integer rounding is a plan whose gap to the bound is certified. When that gap meets ``mip_gap`` it is
returned as is; otherwise it warm-starts HiGHS. Every answer carries its gap against a proven bound.

Time-limit guard. HiGHS checks its time limit inside presolve only at some points; each call therefore runs
in a worker thread and is cancelled (``Highs.cancelSolve``) when it overruns the limit by a grace period.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import highspy
import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.contrib.appsi.base import TerminationCondition
from pyomo.contrib.appsi.solvers.highs import Highs

from planner.errors import Diagnosis, InfeasibleError, SolverTimeoutError
from planner.model import (
    ModelData,
    ModelSpec,
    add_pool_pricing,
    build_model,
    chosen_pairs,
    chosen_years,
    hold_primary,
    set_start,
)
from planner.scenario import SolverSettings
from planner.solution_check import plan_defect

GRACE_S = 5.0  # seconds a HiGHS call may overrun its limit before it is cancelled
MILP_MAX_PAIRS = 400_000  # above this the Pyomo/HiGHS path is not attempted for plain models (measured)


@dataclass
class PassInfo:
    """One solver call: what it optimised and how it ended."""

    name: str
    method: str
    status: str
    objective: float | None
    bound: float | None
    seconds: float


@dataclass
class SolveResult:
    """A plan as chosen pair indices into ``ModelData.options`` plus its quality certificate."""

    status: str  # optimal | time_limit
    method: str  # greedy | milp | milp+greedy-start
    chosen: np.ndarray
    objective: float  # primary objective of the returned plan (coverage weight, or cost in USD)
    bound: float  # proven bound on the primary objective
    mip_gap: float  # relative gap |bound - objective| / max(|bound|, 1e-9)
    coverage: float
    cost_usd: float
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    passes: list[PassInfo] = field(default_factory=list)
    years: np.ndarray | None = None  # roadmap: connection year of each chosen pair
    arcs: np.ndarray | None = None  # shared fibre: built arcs (indices into ModelData.infra.arcs)
    sites: np.ndarray | None = None  # new tower sites built (indices into ModelData.infra.sites)


def relative_gap(objective: float, bound: float) -> float:
    """``|bound - objective| / max(|bound|, 1e-9)``; 0 when both are 0."""
    if math.isclose(objective, bound, rel_tol=1e-12, abs_tol=1e-9):
        return 0.0
    return abs(bound - objective) / max(abs(bound), 1e-9)


# --------------------------------------------------------------------------------------------- fast path
@dataclass
class Hull:
    """Per office with an eligible option: its cheapest option (pair index), cost (USD) and weight."""

    pair: np.ndarray
    cost: np.ndarray
    weight: np.ndarray


def office_hull(data: ModelData) -> Hull:
    """The cheapest eligible option of each office: the only hull vertex, since coverage is per office."""
    opts = data.options
    if opts.empty:
        return Hull(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    best = opts["cost_usd"].groupby(opts["office_id"], sort=False).idxmin()
    weight = data.offices.set_index("office_id")["weight"]
    pairs = best.to_numpy(np.int64)
    return Hull(pairs, opts["cost_usd"].to_numpy(float)[pairs], weight.reindex(best.index).to_numpy(float))


def greedy_max_coverage(hull: Hull, budget: float | None) -> tuple[np.ndarray, float, float]:
    """Max Σw s.t. Σc <= budget over offices' cheapest options. Returns (chosen pairs, value, LP bound).

    Free options (cost 0) are taken first; then by weight/cost descending. The LP optimum takes that prefix
    plus a fraction of the first item that does not fit: the bound. The plan takes the prefix, then any later
    item that still fits, in ratio order.
    """
    keep = hull.weight > 0
    pair, cost, weight = hull.pair[keep], hull.cost[keep], hull.weight[keep]
    if budget is None or not np.isfinite(budget):
        total = float(weight.sum())
        return pair, total, total
    free = cost <= 0
    value = float(weight[free].sum())
    room = float(budget)
    p, c, w = pair[~free], cost[~free], weight[~free]
    order = np.lexsort((c, -(w / c)))
    p, c, w = p[order], c[order], w[order]
    return fill_by_ratio(p, c, w, np.cumsum(c), room, pair[free], value)


def fill_by_ratio(
    p: np.ndarray, c: np.ndarray, w: np.ndarray, cum: np.ndarray, room: float, free: np.ndarray, value: float
) -> tuple[np.ndarray, float, float]:
    """The greedy over items already sorted by weight per USD (pairs p, costs c, weights w, cumulative costs
    cum) within ``room`` USD, after the free pairs worth ``value``: (chosen pairs, value, LP bound)."""
    k = int(np.searchsorted(cum, room, side="right"))
    taken = [free, p[:k]]
    value += float(w[:k].sum())
    used = float(cum[k - 1]) if k else 0.0
    bound = value + (((room - used) / c[k]) * w[k] if k < len(c) else 0.0)
    left = room - used
    extra = []
    if k < len(c):
        for j in np.flatnonzero(c[k + 1 :] <= left) + k + 1:
            if c[j] <= left:
                extra.append(p[j])
                left -= c[j]
                value += float(w[j])
    chosen = np.concatenate([*taken, np.asarray(extra, dtype=np.int64)])
    return chosen.astype(np.int64), value, bound


def greedy_min_cost(hull: Hull, target: float) -> tuple[np.ndarray, float, float] | None:
    """Min Σc s.t. Σw >= target. Returns (chosen pairs, cost, LP bound), or None when unreachable.

    Free options are taken (ties toward more coverage), then by cost/weight ascending until the target is
    met: the LP bound pays a fraction of the last item. The plan pays it whole, then drops the most expensive
    items whose weight the surplus coverage can spare.
    """
    keep = hull.weight > 0
    pair, cost, weight = hull.pair[keep], hull.cost[keep], hull.weight[keep]
    if weight.sum() < target - 1e-9 * max(1.0, target):
        return None
    free = cost <= 0
    covered = float(weight[free].sum())
    p, c, w = pair[~free], cost[~free], weight[~free]
    if covered >= target:
        return pair[free].astype(np.int64), 0.0, 0.0
    order = np.lexsort((-w, c / w))
    p, c, w = p[order], c[order], w[order]
    return cover_by_ratio(p, c, w, np.cumsum(w), target, pair[free], covered)


def cover_by_ratio(
    p: np.ndarray, c: np.ndarray, w: np.ndarray, cumw: np.ndarray, target: float, free: np.ndarray, covered: float
) -> tuple[np.ndarray, float, float]:
    """The greedy over items already sorted by USD per weight (pairs p, costs c, weights w, cumulative weights
    cumw) until ``target`` weight is covered after the free pairs covering ``covered``: the prefix that reaches
    it, minus the costliest items the surplus can spare. Returns (chosen pairs, cost, LP bound)."""
    k = int(np.searchsorted(cumw, target - covered - 1e-9 * max(1.0, target), side="left"))
    need_before = covered + (float(cumw[k - 1]) if k else 0.0)
    bound = float(c[:k].sum()) + c[k] * (target - need_before) / w[k]
    take = np.zeros(len(c), dtype=bool)
    take[: k + 1] = True
    surplus = covered + float(cumw[k]) - target
    taken = np.flatnonzero(take)
    by_cost = taken[np.argsort(-c[taken], kind="stable")]
    # The surplus only shrinks, so items heavier than it now can never be dropped: loop over the others only.
    for j in by_cost[w[by_cost] <= surplus + 1e-12]:
        if w[j] <= surplus + 1e-12:
            take[j] = False
            surplus -= w[j]
    chosen = np.concatenate([free, p[take]]).astype(np.int64)
    return chosen, float(c[take].sum()), bound


# --------------------------------------------------------------------------------------------- HiGHS
_ABANDONED: list[threading.Thread] = []  # solver threads the guard gave up on (cancel came too late)


def _call_highs(opt: Highs, m: pyo.ConcreteModel, limit_s: float) -> tuple[Any, str]:
    """Run one HiGHS solve in a worker thread; cancel it if it overruns ``limit_s`` by ``GRACE_S``."""
    box: dict[str, Any] = {}
    for old in [t for t in _ABANDONED if t.is_alive()]:  # a call cancelled too late may still hold stdout
        old.join(max(limit_s, GRACE_S))
    _ABANDONED[:] = [t for t in _ABANDONED if t.is_alive()]

    def run() -> None:
        try:
            for attempt in range(3):
                try:
                    _rearm(opt)
                    box["results"] = opt.solve(m)
                    return
                except Exception as exc:  # reported to the caller, who falls back to the best plan known
                    box["error"] = exc
                    # pyomo's output capture fails when another thread swapped stdout meanwhile (an abandoned
                    # call finishing): the solve itself was fine, so solve again.
                    if attempt == 2 or "does not match sys.stdout" not in str(exc):
                        return
                    box.pop("error")
                    time.sleep(0.1 * (attempt + 1))
        finally:
            # HiGHS keeps one process-wide task scheduler bound to the thread that first ran it; each call
            # runs in a new thread, so release it here (as highspy does after its own threaded solves).
            with contextlib.suppress(Exception):
                highspy.Highs.resetGlobalScheduler(False)

    # The solver call redirects the process's stdout/stderr while it runs; keep the originals so that an
    # abandoned call cannot swallow the rest of the program's output.
    saved_fds = (os.dup(1), os.dup(2))
    saved_streams = (sys.stdout, sys.stderr)
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit_s + GRACE_S)
    try:
        if worker.is_alive():
            with contextlib.suppress(Exception):  # needs HandleUserInterrupt, set in _new_solver
                opt._solver_model.cancelSolve()
            worker.join(GRACE_S)
            if worker.is_alive():
                _ABANDONED.append(worker)
                os.dup2(saved_fds[0], 1)
                os.dup2(saved_fds[1], 2)
                sys.stdout, sys.stderr = saved_streams
            return None, "guard: cancelled after overrunning the time limit"
    finally:
        os.close(saved_fds[0])
        os.close(saved_fds[1])
    if "error" in box:
        return None, f"error: {box['error']}"
    return box["results"], ""


def _rearm(opt: Highs) -> None:
    """Clear a cancel request left by the guard: highspy's ``cancelSolve`` sets a flag that only its own
    threaded ``solve`` resets, so a reused instance (the sweep's model series) would stop every later call."""
    with contextlib.suppress(Exception):
        opt._solver_model._Highs__solver_should_stop = False


def _milp_pass(opt: Highs, m: pyo.ConcreteModel, name: str, limit_s: float) -> tuple[PassInfo, bool, Highs]:
    """One guarded HiGHS pass on the active objective of ``m``; its plan is loaded into ``m`` when one is found.

    Returns the pass, whether a plan was loaded, and the solver to use from now on. HiGHS's plan is checked
    before it is loaded (:func:`plan_defect`): HiGHS 1.16.0 may return its MIP start as the plan while
    reporting the optimum's objective (:mod:`planner.solution_check`; seen as a tie-break returning the primary
    plan, and as a priced country returning its plan at the previous price; ``tests/test_optimality.py`` holds
    a 6-office instance that shows it). A defective plan is solved once more on a fresh HiGHS instance without
    warm start, which then replaces ``opt``; if that fails too the pass reports the defect as an error and the
    previous plan stays loaded, so no plan is certified with a value it does not have."""
    t0 = time.perf_counter()
    for attempt in range(2):
        opt.config.time_limit = limit_s
        results, note = _call_highs(opt, m, limit_s)
        secs = time.perf_counter() - t0
        if results is None:
            if note.startswith("guard"):  # the cancelled call may still run on this instance: never reuse it
                opt = _highs_for(m, opt.config.mip_gap, limit_s)
            return PassInfo(name, "milp", note, None, None, secs), False, opt
        tc = results.termination_condition
        has_sol = results.best_feasible_objective is not None
        if has_sol:
            defect = plan_defect(opt._solver_model, opt._sol.col_value, results.best_feasible_objective)
            if defect is not None:
                if attempt == 0:  # the defect comes from the warm start (see above): solve again without it
                    limit_s = max(limit_s - secs, 0.25 * limit_s)  # what is left of the pass's limit
                    opt = _highs_for(m, opt.config.mip_gap, limit_s, warmstart=False)
                    name = f"{name} (re-solved without warm start)"
                    continue
                return PassInfo(name, "milp", f"error: {defect}", None, None, secs), False, opt
            results.solution_loader.load_vars()
        status = {
            TerminationCondition.optimal: "optimal",
            TerminationCondition.maxTimeLimit: "time_limit",
            TerminationCondition.infeasible: "infeasible",
            TerminationCondition.infeasibleOrUnbounded: "infeasible",
        }.get(tc, str(tc))
        info = PassInfo(name, "milp", status, results.best_feasible_objective, results.best_objective_bound, secs)
        return info, has_sol, opt
    raise AssertionError("unreachable")  # pragma: no cover


ROLLING_HORIZON_MIN_PAIR_YEARS = 50_000  # above this the full roadmap MILP takes > 45 s here (measured)


def _use_rolling_horizon(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> bool:
    """Large plain max_coverage roadmaps go to the rolling horizon (planner.phasing), which reports its
    Lagrangian bound and gap; ``method: milp`` forces the full model."""
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


def _new_solver(m: pyo.ConcreteModel, settings: SolverSettings) -> Highs:
    """A persistent HiGHS interface loaded with the model, cancellable by the guard."""
    return _highs_for(m, settings.mip_gap, settings.time_limit_s)


def _highs_for(m: pyo.ConcreteModel, mip_gap: float, time_limit_s: float, warmstart: bool = False) -> Highs:
    opt = Highs()
    opt.config.load_solution = False
    opt.config.stream_solver = False
    opt.config.time_limit = time_limit_s
    opt.config.mip_gap = mip_gap
    opt.config.warmstart = warmstart
    opt.set_instance(m)
    with contextlib.suppress(Exception):  # highspy < 1.8 has no user interrupt: the guard then only waits
        opt._solver_model.HandleUserInterrupt = True
    return opt


def _objective_values(data: ModelData, spec: ModelSpec, chosen: np.ndarray) -> tuple[float, float]:
    """(coverage, cost) of a set of chosen pairs, computed from the tables (not from the solver)."""
    opts = data.options.iloc[chosen]
    cost = float(opts["cost_usd"].sum())
    if spec.metric == "communities":
        comm = data.offices.set_index("office_id")["community"]
        coverage = float(comm.reindex(opts["office_id"]).nunique())
    else:
        weight = data.offices.set_index("office_id")["weight"]
        coverage = float(weight.reindex(opts["office_id"]).sum())
    return coverage, cost


def built_infrastructure(
    data: ModelData, chosen: np.ndarray, arcs: np.ndarray, sites: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Keep only the infrastructure the chosen pairs use: the built arcs on the path from the backbone to each
    chosen shared-fibre office, and the built sites that cover a chosen new-site pair. Returns (arcs, sites,
    their cost in USD). Anything else a time-limited solution built serves no office: dropping it keeps the
    plan feasible and lowers its cost."""
    infra = data.infra
    if infra is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0.0
    shared = data.shared
    picked = data.options.iloc[chosen]
    kinds = shared[chosen] if len(chosen) else np.zeros(0, dtype=object)
    keep_arcs: set[int] = set()
    if len(arcs):
        for path in infra.paths(arcs, picked["office_id"][kinds == "fibre"]).values():
            keep_arcs.update(path)
    keep_sites: set[int] = set()
    if len(sites):
        built = set(int(s) for s in sites)
        cover = infra.site_cover[infra.site_cover["site"].isin(built)]
        served = set(picked["office_id"][kinds == "site"])
        keep_sites = set(cover.loc[cover["office_id"].isin(served), "site"].astype(int))
        # An office covered by several built sites needs one: drop sites whose offices all have another.
        by_site = cover[cover["office_id"].isin(served)].groupby("site")["office_id"].apply(set).to_dict()
        for site in sorted(keep_sites, key=lambda t: len(by_site.get(t, ())), reverse=False):
            others = set().union(*(by_site[t] for t in keep_sites if t != site)) if len(keep_sites) > 1 else set()
            if by_site.get(site, set()) <= others:
                keep_sites.discard(site)
    a = np.array(sorted(keep_arcs), dtype=np.int64)
    z = np.array(sorted(keep_sites), dtype=np.int64)
    cost = float(infra.arcs["cost_usd"].to_numpy(float)[a].sum() + infra.sites["cost_usd"].to_numpy(float)[z].sum())
    return a, z, cost


def _model_infrastructure(m: pyo.ConcreteModel) -> tuple[np.ndarray, np.ndarray]:
    """Arcs and sites built in the model's current solution."""
    arcs = [k for k in m.A if (m.arc[k].value or 0.0) > 0.5] if hasattr(m, "arc") else []
    sites = [s for s in m.S if (m.site[s].value or 0.0) > 0.5] if hasattr(m, "site") else []
    return np.array(arcs, dtype=np.int64), np.array(sites, dtype=np.int64)


def shared_start(
    data: ModelData, spec: ModelSpec, settings: SolverSettings, m: pyo.ConcreteModel
) -> SolveResult | None:
    """Warm start a shared-infrastructure model from the heuristic plan (planner.sharing): pairs, the trench
    arcs with their flows (the number of chosen fibre offices behind each arc), and the sites. Returns that
    plan (it stands if HiGHS finds nothing better), or None for specs the heuristic does not handle."""
    if data.infra is None or not spec.is_plain:
        return None
    from planner.sharing import shared_heuristic

    try:
        plan = shared_heuristic(data, spec, settings)
    except _Infeasible:
        return None
    set_start(m, plan.chosen)
    if plan.arcs is not None and len(plan.arcs) and hasattr(m, "arc"):
        fibre = [data.options["office_id"].iat[int(p)] for p in plan.chosen if data.shared[p] == "fibre"]
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


class _Infeasible(Exception):
    def __init__(self, info: str) -> None:
        super().__init__(info)


def _solve_spec(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> SolveResult:
    """Solve one spec; raise ``_Infeasible`` when it has no plan (diagnosis happens in :func:`solve`)."""
    t0 = time.perf_counter()
    passes: list[PassInfo] = []
    if _use_shared_heuristic(data, spec):
        from planner.sharing import shared_heuristic

        return shared_heuristic(data, spec, settings)
    if _use_rolling_horizon(data, spec, settings):
        from planner.phasing import rolling_horizon

        return rolling_horizon(data, spec, mip_gap=settings.mip_gap)
    if data.options.empty:  # nothing can be connected: the empty plan, unless a row demands coverage
        needs = (spec.coverage_target or 0) > 0 or any(v > 0 for v in spec.region_min_coverage.values())
        if needs and data.total_weight(spec.metric) > 0:
            raise _Infeasible("no eligible option")
        empty = np.zeros(0, dtype=np.int64)
        years = empty if spec.roadmap is not None else None
        return SolveResult("optimal", "trivial", empty, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, passes, years)
    plain = spec.is_plain and data.infra is None
    hull = office_hull(data) if plain or settings.method != "milp" else None
    greedy: tuple[np.ndarray, float, float] | None = None
    if plain and settings.method != "milp":
        g0 = time.perf_counter()
        if spec.objective == "max_coverage":
            greedy = greedy_max_coverage(hull, spec.budget_usd)
        else:
            greedy = greedy_min_cost(hull, (spec.coverage_target or 0.0) * data.total_weight(spec.metric))
            if greedy is None:
                raise _Infeasible("coverage_target")
        chosen, value, bound = greedy
        passes.append(PassInfo("hull greedy", "greedy", "certified", value, bound, time.perf_counter() - g0))
        gap = relative_gap(value, bound)
        too_big = len(data.options) > MILP_MAX_PAIRS
        if gap <= settings.mip_gap or settings.method == "fast" or too_big:
            cov, cost = _objective_values(data, spec, chosen)
            status = "optimal" if gap <= settings.mip_gap else "time_limit"
            return SolveResult(status, "greedy", chosen, value, bound, gap, cov, cost, 0.0,
                               time.perf_counter() - t0, passes)  # fmt: skip
    if spec.objective == "min_cost" and spec.coverage_target is not None and hull is not None:
        reach = float(hull.weight.sum()) if spec.metric != "communities" else None
        if reach is not None and reach < spec.coverage_target * data.total_weight(spec.metric) * (1 - 1e-12):
            raise _Infeasible("coverage_target")
    b0 = time.perf_counter()
    m = build_model(data, spec)
    build_s = time.perf_counter() - b0
    opt = _new_solver(m, settings)
    heuristic = None
    if greedy is not None:
        set_start(m, greedy[0])
        opt.config.warmstart = True
    else:
        heuristic = shared_start(data, spec, settings, m)
        if heuristic is not None:
            opt.config.warmstart = True
            greedy = (heuristic.chosen, heuristic.objective, heuristic.bound)
    info, ok, opt = _milp_pass(opt, m, "primary", settings.time_limit_s)
    passes.append(info)
    if not ok:
        if info.status == "infeasible":
            raise _Infeasible("milp")
        if heuristic is not None:  # guard fired or no incumbent: the heuristic shared plan stands
            return replace(heuristic, status="time_limit", passes=[*heuristic.passes, *passes], build_seconds=build_s,
                           solve_seconds=time.perf_counter() - t0 - build_s)  # fmt: skip
        if greedy is not None:  # guard fired or no incumbent: the certified greedy plan stands
            chosen, value, bound = greedy
            cov, cost = _objective_values(data, spec, chosen)
            return SolveResult("time_limit", "greedy", chosen, value, bound, relative_gap(value, bound), cov, cost,
                               build_s, time.perf_counter() - t0 - build_s, passes)  # fmt: skip
        if info.status in ("infeasible", "optimal"):
            raise _Infeasible(info.status)
        raise SolverTimeoutError(
            f"no plan found within solver.time_limit_s = {settings.time_limit_s:g} s ({info.status}); "
            "raise the limit or simplify the policy rules. This is not a proof that the scenario is infeasible."
        )
    bound, chosen, opt = _tie_break(opt, m, spec, settings, info, greedy, passes)
    arcs, sites, infra_cost = built_infrastructure(data, chosen, *_model_infrastructure(m))
    cov, cost = _objective_values(data, spec, chosen)
    cost += infra_cost
    value = cov if spec.objective == "max_coverage" else cost
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
            cov, cost = _objective_values(data, spec, chosen)
    gap = relative_gap(value, bound)
    status = "optimal" if info.status == "optimal" or gap <= settings.mip_gap else "time_limit"
    method = "milp+heuristic-start" if heuristic is not None else "milp+greedy-start" if greedy is not None else "milp"
    return SolveResult(status, method, chosen, value, bound, gap, cov, cost, build_s,
                       time.perf_counter() - t0 - build_s, passes, years, arcs, sites)  # fmt: skip


def _tie_break(
    opt: Highs,
    m: pyo.ConcreteModel,
    spec: ModelSpec,
    settings: SolverSettings,
    info: PassInfo,
    greedy: tuple[np.ndarray, float, float] | None,
    passes: list[PassInfo],
) -> tuple[float, np.ndarray, Highs]:
    """After a primary pass that found a plan: the proven bound on the primary objective (HiGHS's, tightened by
    the greedy LP bound when there is one) and the plan of the lexicographic second pass, which holds the primary
    at its value. The tie-break gets what is left of the limit (at least a quarter of it), so the whole solve
    stays near the user's limit; a cancelled tie-break keeps the primary pass's plan (still loaded in ``m``).
    Also returns the solver to use from now on (see :func:`_milp_pass`)."""
    primary_value = float(info.objective)
    bound = float(info.bound) if info.bound is not None else primary_value
    if greedy is not None:  # the greedy LP bound is proven too: keep the tighter one
        bound = min(bound, greedy[2]) if spec.objective == "max_coverage" else max(bound, greedy[2])
    chosen = chosen_pairs(m)
    hold_primary(m, spec, primary_value, 1e-7 * abs(primary_value) + 1e-6)
    opt.config.warmstart = True
    left = max(settings.time_limit_s - info.seconds, 0.25 * settings.time_limit_s)
    info2, ok2, opt = _milp_pass(opt, m, "tie-break", left)
    passes.append(info2)
    return bound, chosen_pairs(m) if ok2 else chosen, opt


# --------------------------------------------------------------------------------------------- shared: heuristic
def _use_shared_heuristic(data: ModelData, spec: ModelSpec) -> bool:
    """Shared infrastructure solved by the heuristic: asked for, or ``auto`` above ``exact_max_arcs`` arcs.
    Plain specs only (one budget or one target row): with side constraints the exact model runs."""
    infra = data.infra
    if infra is None or not spec.is_plain:
        return False
    if infra.method == "heuristic":
        return True
    return infra.method == "auto" and len(infra.arcs) > infra.exact_max_arcs


# --------------------------------------------------------------------------------------------- diagnosis
def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def diagnose(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> Diagnosis:
    """Explain an infeasible spec: which constraint, and the relaxation that would make it feasible."""
    W = data.total_weight(spec.metric)
    quick = settings.model_copy(update={"time_limit_s": min(settings.time_limit_s, 30.0)})
    side = replace(spec, objective="max_coverage", budget_usd=None, coverage_target=None)
    # 1. Policy rows alone: can the regional minimums be met at all (with every eligible option)?
    try:
        best = _solve_spec(data, side, quick)
    except _Infeasible:
        short = []
        for region, group in data.offices.groupby("region"):
            need = spec.region_min_coverage.get(str(region), spec.region_min_coverage.get("*", 0.0))
            reach_ids = set(data.options["office_id"])
            if spec.metric == "communities":
                total = group["community"].nunique()
                got = group[group["office_id"].isin(reach_ids)]["community"].nunique()
            else:
                total = group["weight"].sum()
                got = group[group["office_id"].isin(reach_ids)]["weight"].sum()
            share = got / total if total else 1.0
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
        least = _solve_spec(data, replace(spec, objective="min_cost", budget_usd=None), quick)
        what = "the coverage target" if spec.coverage_target else "the regional minimums"
        suggestions = {"budget_usd": least.cost_usd}
        text = f"budget_usd {spec.budget_usd:,.0f} USD is too small: the least budget that meets {what} is "
        text += f"{least.cost_usd:,.0f} USD"
        if spec.coverage_target is not None:
            within = replace(spec, objective="max_coverage", coverage_target=None)
            try:
                got = _solve_spec(data, within, quick)
                suggestions["coverage_target"] = got.coverage / W
                text += f"; or, within this budget, lower coverage_target to {got.coverage / W:.4f}"
            except _Infeasible:
                pass
        return Diagnosis("budget_usd", text + ".", suggestions)
    return Diagnosis("unknown", "the solver reports no feasible plan; check the policy rules.")


def solve(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> SolveResult:
    """Solve the plan; raise :class:`InfeasibleError` with a diagnosis when there is none."""
    try:
        return _solve_spec(data, spec, settings)
    except _Infeasible:
        raise InfeasibleError(diagnose(data, spec, settings)) from None


def chosen_table(data: ModelData, result: SolveResult) -> pd.DataFrame:
    """The chosen (office_id, technology) pairs as a table."""
    return data.options.iloc[result.chosen][["office_id", "technology"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------- series (sweeps)
class ModelSeries:
    """One built Pyomo model and one persistent HiGHS instance, re-solved for a series of specs that differ
    only in the budget (USD) or the coverage target (share): the budget sweep (planner.sweep).

    The budget and target rows get a mutable right-hand side, so a new point changes one row bound in HiGHS
    instead of rebuilding the model; each point is warm-started (from the previous point's plan or a better
    greedy plan) and solved with the same lexicographic passes as :func:`solve`, so it equals a single solve
    at that budget within ``mip_gap``.
    """

    def __init__(self, data: ModelData, spec: ModelSpec, settings: SolverSettings) -> None:
        if spec.roadmap is not None:
            raise ValueError("a model series re-solves single-year models only (no roadmap)")
        self.data, self.settings = data, settings
        b0 = time.perf_counter()
        m = build_model(data, spec)
        if spec.budget_usd is not None:
            m.series_budget = pyo.Param(mutable=True, initialize=float(spec.budget_usd))
            m.budget.set_value(m.cost <= m.series_budget)
        if spec.coverage_target is not None:
            m.series_target = pyo.Param(mutable=True, initialize=float(spec.coverage_target) * m.W)
            m.coverage_target.set_value(m.coverage >= m.series_target)
        self.model = m
        self.opt = _new_solver(m, settings)
        self.build_seconds = time.perf_counter() - b0

    def solve(
        self, spec: ModelSpec, start: np.ndarray | None = None, greedy: tuple[np.ndarray, float, float] | None = None
    ) -> SolveResult:
        """Solve the model at ``spec``'s budget or target. ``start``: chosen pairs of a feasible plan to warm
        start from; ``greedy``: the certified hull greedy (plan, value, LP bound) of a plain spec, whose bound
        tightens the certificate and whose plan stands if HiGHS finds none. Status ``infeasible`` (empty plan,
        NaN values) when no plan exists."""
        m, opt, settings, data = self.model, self.opt, self.settings, self.data
        t0 = time.perf_counter()
        if hasattr(m, "lex_hold"):  # undo the previous point's tie-break pass
            m.del_component(m.lex_hold)
            m.secondary.deactivate()
            m.primary.activate()
        if hasattr(m, "series_budget"):
            m.series_budget.set_value(float(spec.budget_usd))
        if hasattr(m, "series_target"):
            m.series_target.set_value(float(spec.coverage_target) * m.W)
        passes: list[PassInfo] = []
        if start is not None:
            set_start(m, start)
        opt.config.warmstart = start is not None
        info, ok, self.opt = _milp_pass(opt, m, "primary", settings.time_limit_s)
        opt = self.opt
        passes.append(info)
        if not ok:
            if greedy is not None and info.status != "infeasible":
                chosen, value, bound = greedy
                cov, cost = _objective_values(data, spec, chosen)
                return SolveResult("time_limit", "greedy", chosen, value, bound, relative_gap(value, bound), cov,
                                   cost, 0.0, time.perf_counter() - t0, passes)  # fmt: skip
            status = "infeasible" if info.status in ("infeasible", "optimal") else "time_limit"
            nan = float("nan")
            return SolveResult(status, "milp", np.zeros(0, np.int64), nan, nan, nan, nan, nan, 0.0,
                               time.perf_counter() - t0, passes)  # fmt: skip
        bound, chosen, self.opt = _tie_break(opt, m, spec, settings, info, greedy, passes)
        cov, cost = _objective_values(data, spec, chosen)
        value = cov if spec.objective == "max_coverage" else cost
        gap = relative_gap(value, bound)
        status = "optimal" if info.status == "optimal" or gap <= settings.mip_gap else "time_limit"
        method = "milp+greedy-start" if greedy is not None else "milp"
        return SolveResult(status, method, chosen, value, bound, gap, cov, cost, 0.0,
                           time.perf_counter() - t0, passes)  # fmt: skip


# --------------------------------------------------------------------------------------------- other models
class PricedModel:
    """One country's priced subproblem of a pooled budget (:func:`planner.model.add_pool_pricing`), built once
    and re-solved at each price on one HiGHS instance: a new price changes one objective coefficient, and the
    plan at the previous price (still feasible, only the objective changed) warm-starts the next solve."""

    def __init__(self, data: ModelData, spec: ModelSpec, reserved_usd: float, settings: SolverSettings) -> None:
        self.data, self.settings = data, settings
        self.model = build_model(data, replace(spec, objective="max_coverage", budget_usd=None, coverage_target=None))
        add_pool_pricing(self.model, reserved_usd, 0.0)
        self.opt = _new_solver(self.model, settings)
        self.solves = 0

    def solve(self, price: float, name: str) -> tuple[PassInfo, np.ndarray | None]:
        """Solve at ``price`` (metric units per USD): the pass and the chosen pairs (None: no plan found)."""
        self.model.pool_price.set_value(float(price))
        self.opt.config.warmstart = self.solves > 0
        info, ok, self.opt = _milp_pass(self.opt, self.model, name, self.settings.time_limit_s)
        if not ok:
            return info, None
        self.solves += 1
        return info, chosen_pairs(self.model)

    def infrastructure(self, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Trenches and sites the last plan uses, and their cost (USD): see :func:`built_infrastructure`."""
        return built_infrastructure(self.data, chosen, *_model_infrastructure(self.model))


def solve_built_model(m: pyo.ConcreteModel, settings: SolverSettings, name: str = "primary") -> tuple[PassInfo, Any]:
    """One guarded HiGHS pass on a model built from :func:`planner.model.build_model` plus rows of the caller's
    own (planner.multicountry adds the pool rows and the priced objective). Returns the pass (objective and
    proven bound of the active objective) and the chosen pair indices, or None when no plan was found."""
    opt = _new_solver(m, settings)
    info, ok, _ = _milp_pass(opt, m, name, settings.time_limit_s)
    return info, (chosen_pairs(m) if ok else None)
