"""The roadmap MILP as matrices, handed to HiGHS directly, warm-started from the rolling horizon.

The model is the roadmap of :mod:`planner.optimize.model` (``x[p,y]``, one technology and one year per office,
annual budgets with or without carry-over, build capacity in total and per technology, an optional total
budget), objective population-years then least discounted cost, for the specs the rolling horizon handles
(:func:`handles`: max_coverage, office-additive coverage, no policy rows, no coverage target, no shared
infrastructure). Its rows are written from :class:`planner.heuristics.phasing.RoadmapArrays` as numpy arrays, so
building it takes a fraction of a second where the Pyomo model of the same roadmap takes seconds (2,196 offices,
32,625 pair-years: 4.3 s to build, 2.0 s to load into HiGHS, measured). The annual budgets with carry-over are the
prefix rows ``Σ_{j<=k} spend_j <= Σ_{j<=k} B_j`` (equivalent to the carry variables of the Pyomo model, see
:mod:`planner.heuristics.phasing`).

Solve. The rolling horizon runs first: when its Lagrangian gap meets ``mip_gap`` its plan is the answer. Otherwise
its plan is HiGHS's MIP start, and the proven bound is the tighter of HiGHS's and the Lagrangian one. The
tie-break pass (least discounted cost with population-years held at the primary value) gets at most half as long as
the primary pass took (:data:`TIE_BREAK_SHARE`, at least :data:`TIE_BREAK_MIN_S`) within the time limit, without
presolve (which on the held row ignores its time limit): the primary plan is proven either way, and the tie-break's
plan replaces it only when it costs less at the same population-years.
"""

from __future__ import annotations

import time

import highspy
import numpy as np
import scipy.sparse

from planner.errors import SolverTimeoutError
from planner.heuristics.phasing import RoadmapArrays, roadmap_arrays, rolling_horizon
from planner.optimize.highs import MIN_RUN_S, InterruptibleHighs, grace_s, highs_solution, plan_defect, run_guarded
from planner.problem import ModelData, ModelSpec, NoFeasiblePlan, PassInfo, SolveResult, relative_gap
from planner.scenario import SolverSettings

TIE_BREAK_MIN_S = 2.0  # seconds the tie-break pass gets at least (within the time limit)
# The tie-break pass gets at most this share of the primary pass's seconds (planner estimate: on the Uttarakhand
# roadmap it improves the discounted cost by 0.16 % in its first seconds and proves nothing in 8 s more).
TIE_BREAK_SHARE = 0.5


def handles(data: ModelData, spec: ModelSpec) -> bool:
    """Whether this module solves the roadmap (else the Pyomo model does): see the module doc."""
    return (
        spec.roadmap is not None
        and spec.objective == "max_coverage"
        and spec.metric != "communities"
        and not spec.region_min_coverage
        and not spec.technology_max_share
        and spec.coverage_target is None
        and data.infra is None
        and len(data.options) > 0
    )


def discounted(data: ModelData, spec: ModelSpec, ra: RoadmapArrays) -> np.ndarray:
    """(P, Y) discounted cost (USD) of each pair connected in each year: the tie-break objective."""
    rm = spec.roadmap
    assert rm is not None
    y0, r = int(ra.years[0]), rm.discount_rate
    opex = data.options["opex_usd_per_year"].to_numpy(float)
    rel = (ra.years - y0).astype(float)
    capex_disc = (1.0 + r) ** -rel  # capex paid at the start of its year
    opex_disc = (1.0 + r) ** -(rel + 1.0)  # opex paid at the end of each year
    tail = np.cumsum(opex_disc[::-1])[::-1]  # Σ_{k >= y} (1+r)^-(k-y0+1)
    return ra.cap * capex_disc[None, :] + opex[:, None] * tail[None, :]


def dominated(data: ModelData, spec: ModelSpec, ra: RoadmapArrays, disc: np.ndarray) -> np.ndarray:
    """(P, Y) the column that dominates each column ``x[p,y]`` (flat index ``q·Y + y``), or -1.

    Column ``x[q,y]`` dominates ``x[p,y]`` (same office, same year) when it costs no more in every money row (capex at
    the year's price, opex) and in discounted cost, and takes no build slot that p does not (q's technology has no
    capacity of its own, or it is p's); exact ties keep the lower index. Swapping p for q in any plan keeps every
    row and does not worsen either objective, so dropping dominated columns keeps both optimal values. Each entry
    names an undominated column (chains are followed).
    """
    n_pairs, n_years = ra.cap.shape
    best = np.full((n_pairs, n_years), -1, dtype=np.int64)
    free_tech = ~np.isfinite(ra.cap_tech)
    for d in range(1, 8):  # options of one office are consecutive rows (costing sorts by office)
        lo, hi = np.arange(n_pairs - d), np.arange(d, n_pairs)
        for p_idx, q_idx in ((lo, hi), (hi, lo)):
            same = ra.office[p_idx] == ra.office[q_idx]
            if not same.any():
                continue
            p, q = p_idx[same], q_idx[same]
            slots = free_tech[ra.tech[q]] | (ra.tech[q] == ra.tech[p])
            le = (ra.cap[q] <= ra.cap[p]) & (disc[q] <= disc[p]) & (ra.opex[q] <= ra.opex[p])[:, None] & slots[:, None]
            lt = (ra.cap[q] < ra.cap[p]) | (disc[q] < disc[p]) | (ra.opex[q] < ra.opex[p])[:, None] | (q < p)[:, None]
            hit = le & lt
            rows, years = np.nonzero(hit)
            best[p[rows], years] = q[rows] * n_years + years
    flat = best.ravel()
    for _ in range(16):  # follow chains to an undominated column
        nxt = np.where(flat >= 0, flat, np.arange(flat.size))
        step = np.where(flat >= 0, flat[nxt], -1)
        step = np.where(step >= 0, step, flat)
        if np.array_equal(step, flat):
            break
        flat = step
    return flat.reshape(n_pairs, n_years)


def build(
    data: ModelData, spec: ModelSpec, ra: RoadmapArrays
) -> tuple[InterruptibleHighs, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The roadmap model in a HiGHS instance (output off): one column per undominated ``x[p,y]`` (:func:`dominated`).

    Rows: one technology and one year per office (offices with two or more columns), the money rows of ``ra``, build
    capacity per year in total and per technology. Objective: maximise population-years ``Σ w·L_y·x``. Returns the
    instance, each column's flat index ``p·Y + y``, its population-years and discounted cost (USD), and for every
    flat index the column that stands for it (itself, or the column dominating it).
    """
    n_years = ra.cap.shape[1]
    disc_all = discounted(data, spec, ra)
    dom = dominated(data, spec, ra, disc_all).ravel()
    flat = np.flatnonzero(dom < 0)
    n = len(flat)
    col_pair, col_year = flat // n_years, flat % n_years
    value = ra.weight[col_pair] * ra.life[col_year]
    disc = disc_all[col_pair, col_year]
    rows: list[scipy.sparse.csr_matrix] = []
    upper: list[np.ndarray] = []
    # one technology and one year per office
    office_col = ra.office[col_pair]
    counts = np.bincount(office_col, minlength=ra.n_offices)
    multi = counts > 1
    row_of = np.cumsum(multi) - 1
    keep = multi[office_col]
    n_multi = int(multi.sum())
    cols = np.flatnonzero(keep)
    rows.append(scipy.sparse.csr_matrix((np.ones(len(cols)), (row_of[office_col[keep]], cols)), shape=(n_multi, n)))
    upper.append(np.ones(n_multi))
    # money rows: a_r(p,y) = A[r,y]·cap[p,y] + B[r,y]·opex[p] + S[r]·spend[p,y]
    money = (ra.A[:, col_year] * ra.cap[col_pair, col_year][None, :] + ra.B[:, col_year] * ra.opex[col_pair][None, :]
             + ra.S[:, None] * ra.spend[col_pair, col_year][None, :])  # fmt: skip
    rows.append(scipy.sparse.csr_matrix(money))
    upper.append(ra.rhs.astype(float))
    # build capacity: Σ_p x[p,y] <= K, Σ_{p: t(p)=t} x[p,y] <= K_t
    if np.isfinite(ra.cap_total):
        rows.append(scipy.sparse.csr_matrix((np.ones(n), (col_year, np.arange(n))), shape=(n_years, n)))
        upper.append(np.full(n_years, ra.cap_total))
    col_tech = ra.tech[col_pair]
    for t in np.flatnonzero(np.isfinite(ra.cap_tech)):
        mine = np.flatnonzero(col_tech == t)
        rows.append(scipy.sparse.csr_matrix((np.ones(len(mine)), (col_year[mine], mine)), shape=(n_years, n)))
        upper.append(np.full(n_years, float(ra.cap_tech[t])))
    a = scipy.sparse.vstack(rows).tocsc()
    a.eliminate_zeros()
    a.sort_indices()
    hi = np.concatenate(upper)
    h = InterruptibleHighs()
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, a.shape[0]
    lp.col_cost_ = value
    lp.col_lower_, lp.col_upper_ = np.zeros(n), np.ones(n)
    lp.row_lower_, lp.row_upper_ = np.full(len(hi), -highspy.kHighsInf), hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h.passModel(lp)
    stand = np.where(dom < 0, np.arange(dom.size), dom)
    return h, flat, value, disc, stand


def _run(h: InterruptibleHighs, limit_s: float) -> str:
    """One HiGHS run within ``limit_s`` seconds, in this thread under the guard's watchdog; "" or an error note.

    In this thread, not a worker the guard may abandon: HiGHS's presolve (its own and its sub-MIP heuristics')
    polls neither its time limit nor the interrupt, and an abandoned run went on holding the run lock and a core,
    and aborted the process at exit ("terminate called without an active exception"). Here a run that overruns
    is interrupted by the watchdog and waited for (it overruns by at most that presolve's seconds).
    """
    h.setOptionValue("time_limit", h.getRunTime() + max(limit_s, MIN_RUN_S))
    try:
        _, note = run_guarded(h.run, h.interrupt, limit_s, grace_s(limit_s), in_thread=False)
    except Exception as exc:  # reported as the pass's status; the best plan known stands
        return f"error: {exc}"
    return note


def _pass(
    h: InterruptibleHighs, name: str, limit_s: float, start: np.ndarray | None
) -> tuple[PassInfo, np.ndarray | None]:
    """One pass on the active objective: the pass and its checked plan (column values), or None without a plan."""
    t0 = time.perf_counter()
    if start is not None:
        h.setSolution(highs_solution(start))
    note = _run(h, limit_s)
    secs = time.perf_counter() - t0
    if note:
        return PassInfo(name, "milp", note, None, None, secs), None
    info = h.getInfo()
    status = {
        highspy.HighsModelStatus.kOptimal: "optimal",
        highspy.HighsModelStatus.kTimeLimit: "time_limit",
        highspy.HighsModelStatus.kInterrupt: "time_limit",
        highspy.HighsModelStatus.kInfeasible: "infeasible",
    }.get(h.getModelStatus(), str(h.getModelStatus()))
    if info.primal_solution_status != 2:  # no feasible plan
        return PassInfo(name, "milp", status, None, None, secs), None
    x = np.asarray(h.getSolution().col_value, dtype=float)
    objective = float(info.objective_function_value)
    defect = plan_defect(h, x, objective)
    if defect is not None:
        return PassInfo(name, "milp", f"error: {defect}", None, None, secs), None
    return PassInfo(name, "milp", status, objective, float(info.mip_dual_bound), secs), x


def solve_roadmap(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> SolveResult:
    """Solve a roadmap :func:`handles` within ``settings.time_limit_s`` (module doc).

    Raises ``ValueError`` for a spec it does not handle. ``method: milp`` skips the rolling horizon (HiGHS alone).
    """
    if not handles(data, spec):
        raise ValueError("solve_roadmap: a max_coverage roadmap without policy rows or shared infrastructure")
    t0 = time.perf_counter()
    deadline = time.monotonic() + settings.time_limit_s
    passes: list[PassInfo] = []
    heuristic: SolveResult | None = None
    if settings.method != "milp":
        heuristic = rolling_horizon(data, spec, mip_gap=settings.mip_gap)
        passes.append(PassInfo("rolling horizon", "rolling-horizon", heuristic.status, heuristic.objective,
                               heuristic.bound, heuristic.build_seconds + heuristic.solve_seconds))  # fmt: skip
        if heuristic.status == "optimal" or settings.method == "fast":
            heuristic.passes = passes + heuristic.passes
            return heuristic
    b0 = time.perf_counter()
    ra = roadmap_arrays(data, spec)
    h, flat, value, disc, stand = build(data, spec, ra)
    build_s = time.perf_counter() - b0
    n_years = len(ra.years)
    start = None
    if heuristic is not None and heuristic.years is not None:  # its columns, or the columns dominating them
        where = np.full(stand.size, -1, dtype=np.int64)
        where[flat] = np.arange(len(flat))
        start = np.zeros(len(value))
        start[where[stand[heuristic.chosen * n_years + np.searchsorted(ra.years, heuristic.years)]]] = 1.0
    h.setOptionValue("mip_rel_gap", float(settings.mip_gap))
    left = max(deadline - time.monotonic(), MIN_RUN_S)
    info, x = _pass(h, "primary", left, start)
    if x is None and start is not None and info.status.startswith("error"):  # a defective plan: once more, no start
        h.clearSolver()
        info, x = _pass(h, "primary (re-solved without warm start)", max(deadline - time.monotonic(), MIN_RUN_S), None)
    passes.append(info)
    if x is None:
        if heuristic is not None and heuristic.years is not None:  # the rolling horizon's plan stands, with its gap
            j = np.searchsorted(ra.years, heuristic.years)
            return _result(data, ra, "time_limit", "rolling-horizon", heuristic.chosen, j, heuristic.bound, passes,
                           build_s, t0)  # fmt: skip
        if info.status == "infeasible":
            raise NoFeasiblePlan("milp")
        raise SolverTimeoutError(
            f"no plan within {settings.time_limit_s:g} s (solver.time_limit_s; HiGHS: {info.status}). Raise "
            "solver.time_limit_s; this is not a proof that the scenario is infeasible."
        )
    bound = float(info.bound) if info.bound is not None else float(info.objective or 0.0)
    if heuristic is not None:
        bound = min(bound, heuristic.bound)
    primary_value = float(value @ x)
    if heuristic is not None and heuristic.years is not None and heuristic.objective > primary_value:
        # HiGHS stopped below its start (a start it did not accept): the rolling horizon's plan stands
        j = np.searchsorted(ra.years, heuristic.years)
        return _result(data, ra, "time_limit", "rolling-horizon", heuristic.chosen, j, bound, passes, build_s, t0)
    proven = info.status == "optimal" or relative_gap(primary_value, bound) <= settings.mip_gap
    chosen_x = x
    left = deadline - time.monotonic()
    tie_limit = min(left, max(TIE_BREAK_SHARE * info.seconds, TIE_BREAK_MIN_S))
    if proven and tie_limit >= MIN_RUN_S:
        # least discounted cost with population-years held at the primary value
        tol = 1e-7 * abs(primary_value) + 1e-6
        cols = np.flatnonzero(value)
        h.addRow(primary_value - tol, highspy.kHighsInf, len(cols), cols.astype(np.int32), value[cols])
        h.changeObjectiveSense(highspy.ObjSense.kMinimize)
        # presolve on the dense held row ignores time limit and interrupt, and so does the presolve of HiGHS's
        # sub-MIP heuristics (measured: a 5.6 s tie-break abandoned after 7.1 s, its thread then aborted the
        # process at exit); without either, the pass stops at its limit
        h.setOptionValue("presolve", "off")
        h.setOptionValue("mip_heuristic_effort", 0.0)
        h.changeColsCost(len(disc), np.arange(len(disc), dtype=np.int32), disc)
        info2, x2 = _pass(h, "tie-break", tie_limit, x)
        passes.append(info2)
        if x2 is not None and value @ x2 >= primary_value - tol and disc @ x2 <= disc @ x + 1e-9 * abs(disc @ x):
            chosen_x = x2
    elif proven:
        passes.append(PassInfo("tie-break", "milp", "skipped: the time limit was spent", None, None, 0.0))
    on = flat[chosen_x > 0.5]
    status = "optimal" if proven else "time_limit"
    method = "milp+rolling-horizon-start" if heuristic is not None else "milp"
    return _result(data, ra, status, method, on // n_years, on % n_years, bound, passes, build_s, t0)


def _result(
    data: ModelData,
    ra: RoadmapArrays,
    status: str,
    method: str,
    pairs: np.ndarray,
    year_index: np.ndarray,
    bound: float,
    passes: list[PassInfo],
    build_s: float,
    t0: float,
) -> SolveResult:
    """A roadmap plan (pairs, year indices) as a result: population-years, Σ w, the model's cost (USD), the gap."""
    pairs = np.asarray(pairs, dtype=np.int64)
    j = np.asarray(year_index, dtype=np.int64)
    order = np.argsort(pairs, kind="stable")
    pairs, j = pairs[order], j[order]
    value = float((ra.weight[pairs] * ra.life[j]).sum())
    coverage = float(ra.weight[pairs].sum())
    cost = float(ra.spend[pairs, j].sum())
    bound = max(bound, value)
    return SolveResult(status, method, pairs, value, bound, relative_gap(value, bound), coverage, cost, build_s,
                       time.perf_counter() - t0 - build_s, passes, ra.years[j].astype(np.int64))  # fmt: skip
