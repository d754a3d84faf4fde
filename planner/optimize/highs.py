"""The one guarded HiGHS runner: every HiGHS call of the planner (MILP passes, Steiner branch-and-cut) runs here.

Why a guard. HiGHS checks its time limit inside presolve only at some points, so a call can overrun
``time_limit`` by far. Each call is therefore watched: when it overruns its limit by a grace period (:func:`grace_s`
for the planner's passes, :data:`STEINER_GRACE_S` for the Steiner rounds) it is interrupted through highspy's
public interrupt callbacks (:class:`Interrupt`). The planner's passes run in a worker thread, so a call that
ignores the interrupt is abandoned and the best plan known stands; the Steiner rounds run in the calling thread
under a watchdog timer (their caller reads the same HiGHS object right after).

Why no output capture and one run at a time. appsi's output capture swaps process-wide streams, and HiGHS's
task scheduler is process-wide too: :class:`GuardedHighs` loads and solves with HiGHS's output off and no
capture, and every run holds one lock (see ``_RUN_LOCK``), so solves in several threads (the app, Dask's
threaded workers) queue instead of crashing the process.

Why a plan check. HiGHS 1.16.0 (not 1.15.1) has a warm-start defect: when a MIP start, mapped into the presolved
model, is already optimal there, HiGHS reports that objective but returns the original start rather than its
postsolved completion. pyproject.toml excludes that version; :func:`milp_pass` and the Steiner MIP still check
every plan with :func:`plan_defect` and solve again without the start when it is defective, whatever the version.

Only this module and the rest of :mod:`planner.optimize` import highspy and Pyomo (``docs/architecture.md``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse
from pyomo.contrib.appsi.base import TerminationCondition
from pyomo.contrib.appsi.cmodel import cmodel, cmodel_available
from pyomo.contrib.appsi.solvers.highs import Highs

from planner.problem import PassInfo

STEINER_GRACE_S = 2.0  # seconds a Steiner LP/MIP round may overrun its deadline before it is interrupted

T = TypeVar("T")


# --------------------------------------------------------------------------------------------- interrupts
class Interrupt:
    """A cancel request for one ``highspy.Highs`` instance, through highspy's public interrupt callbacks.

    HiGHS polls its interrupt callbacks in simplex, IPM and MIP; the callback stops the solve while the request
    stands. The request is the planner's own flag: :meth:`clear` re-arms the instance before its next call
    (highspy's ``cancelSolve`` sets a flag that only highspy's own threaded ``solve`` resets).
    """

    def __init__(self, h: highspy.Highs) -> None:
        """Subscribe to ``h``'s interrupt callbacks (highspy < 1.8 has none: the guard then only waits)."""
        self.requested = threading.Event()
        self.active = False
        with contextlib.suppress(Exception):
            h.cbSimplexInterrupt += self._poll
            h.cbIpmInterrupt += self._poll
            h.cbMipInterrupt += self._poll
            self.active = True

    def _poll(self, event: Any) -> None:
        if self.requested.is_set():
            event.interrupt()

    def request(self) -> None:
        """Ask the running solve to stop at its next callback."""
        self.requested.set()

    def clear(self) -> None:
        """Withdraw a request, so that the next call on the same instance runs."""
        self.requested.clear()


class InterruptibleHighs(highspy.Highs):
    """A ``highspy.Highs`` model (the Steiner branch-and-cut builds its own) that the guard can interrupt."""

    def __init__(self) -> None:
        """A new empty model with its :class:`Interrupt`."""
        super().__init__()
        self.interrupt = Interrupt(self)


class GuardedHighs(Highs):
    """Pyomo's persistent HiGHS interface (appsi), with the HiGHS model it drives and its :class:`Interrupt`.

    appsi keeps the ``highspy.Highs`` object it loads the Pyomo model into, and the last plan it read back, as
    protected members and offers no public accessor; this subclass is the one place that reads them, and
    exposes them as :attr:`highs` and :meth:`plan_values`.

    It also loads and solves without appsi's output capture. appsi wraps ``set_instance`` and every solve in
    ``pyomo.common.tee.capture_output(capture_fd=True)``, which swaps the process's file descriptors 1 and 2 and
    ``sys.stdout``/``sys.stderr`` and installs a ``LoggingIntercept`` for the duration: process-wide state, so two
    solves at once in two threads (the app's sessions, Dask's threaded workers, a pass the guard abandoned) restore
    each other's streams ("Captured output ... does not match sys.stdout", an ``AssertionError`` in
    ``LoggingIntercept``, a lost stderr). HiGHS's own output is switched off instead (``output_flag``), so there
    is nothing to capture. The overrides keep appsi's steps (pyomo 6.7-6.10) minus the capture.
    """

    interrupt: Interrupt | None = None
    stale: bool = False  # a cancelled call may still run on this instance: the next pass loads a fresh one
    deadline: float | None = None  # time.monotonic() by which the next solve must end (its time_limit)

    def set_instance(self, model: pyo.ConcreteModel) -> None:
        """Load ``model`` into a new HiGHS instance (output off) and subscribe the guard to its interrupts."""
        if self._last_results_object is not None:
            self._last_results_object.solution_loader.invalidate()
        self._reinit()
        self._model = model
        if self.use_extensions and cmodel_available:
            self._expr_types = cmodel.PyomoExprTypes()
        self._solver_model = highspy.Highs()
        self._solver_model.setOptionValue("output_flag", False)
        self.add_block(model)
        if self._objective is None:
            self.set_objective(None)
        self.interrupt = Interrupt(self.highs)

    def _solve(self, timer: Any) -> Any:
        """One HiGHS run with appsi's options and warm start, its time limit read from :attr:`deadline`."""
        h, config = self._solver_model, self.config
        h.setOptionValue("output_flag", False)
        limit = config.time_limit
        if self.deadline is not None:  # the time spent waiting for the run lock counts
            limit = max(self.deadline - time.monotonic(), MIN_RUN_S)
        if limit is not None:
            h.setOptionValue("time_limit", float(limit))
        if config.mip_gap is not None:
            h.setOptionValue("mip_rel_gap", config.mip_gap)
        for key, option in self.highs_options.items():
            h.setOptionValue(key, option)
        if config.warmstart:
            self._warm_start()
        h.run()
        return self._postsolve(timer)

    @property
    def highs(self) -> highspy.Highs:
        """The ``highspy.Highs`` instance holding the loaded model."""
        return self._solver_model

    def plan_values(self) -> np.ndarray:
        """Column values of the last solve's plan, in HiGHS's column order: the plan appsi loads into the model."""
        return np.asarray(self._sol.col_value, dtype=float)


# --------------------------------------------------------------------------------------------- the guard
MIN_RUN_S = 0.05  # the shortest time limit a HiGHS run is given (s): it still returns its MIP start's status

# One HiGHS run at a time in this process. HiGHS keeps one process-wide task scheduler; a run in a new thread
# must release it afterwards (``resetGlobalScheduler``, else the next threaded run may deadlock: HiGHS PR #1886),
# and releasing it while another thread's run uses it kills that run's workers (SIGABRT "terminate called without
# an active exception"; HiGHS PR #3141). Runs hold this lock, and the scheduler is released before the lock is.
_RUN_LOCK = threading.Lock()


def grace_s(limit_s: float) -> float:
    """Seconds a call may overrun ``limit_s`` before it is interrupted (and again before it is abandoned).

    4 % of the limit within [0.75, 5] s: a pass ends at most ``2 × grace`` after its limit, max(1.5 s, 8 %).
    """
    return min(max(0.04 * limit_s, 0.75), 5.0)


def run_guarded(
    work: Callable[[], T], interrupt: Interrupt | None, limit_s: float, grace: float, *, in_thread: bool
) -> tuple[T | None, str]:
    """Run one HiGHS call ``work`` under the guard: interrupt it when it overruns ``limit_s`` by ``grace``.

    ``in_thread``: run in a worker thread and abandon it if it ignores the interrupt for another ``grace``
    (the planner's passes: the best plan known then stands); otherwise run here under a watchdog timer and wait
    for the call to return (the Steiner rounds). Either way the call holds the process's run lock (one HiGHS run at
    a time); the time spent waiting for it counts against ``limit_s``. Returns ``(work's result, "")``, or
    ``(None, note)`` where the note starts with ``guard`` (interrupted, or no turn to run within the limit) or
    ``error`` (the call raised).
    """
    if interrupt is not None:
        interrupt.clear()
    if not in_thread:
        timer = threading.Timer(limit_s + grace, interrupt.request) if interrupt is not None else None
        with _RUN_LOCK:
            if timer is not None:
                timer.daemon = True
                timer.start()
            try:
                return work(), ""
            finally:
                if timer is not None:
                    timer.cancel()
    return _run_in_worker(work, interrupt, limit_s, grace)


def _run_in_worker(
    work: Callable[[], T], interrupt: Interrupt | None, limit_s: float, grace: float
) -> tuple[T | None, str]:
    box: dict[str, Any] = {}
    start = time.monotonic()

    def run() -> None:
        if not _RUN_LOCK.acquire(timeout=max(limit_s, MIN_RUN_S)):
            box["busy"] = True
            return
        try:
            box["results"] = work()
        except Exception as exc:  # reported to the caller, who falls back to the best plan known
            box["error"] = exc
        finally:
            # HiGHS keeps one process-wide task scheduler bound to the thread that first ran it; each call runs in
            # a new thread, so release it here (as highspy does after its own threaded solves), under the lock.
            with contextlib.suppress(Exception):
                highspy.Highs.resetGlobalScheduler(False)
            _RUN_LOCK.release()

    worker = threading.Thread(target=run, daemon=True, name="planner-highs")
    worker.start()
    worker.join(max(start + limit_s + grace - time.monotonic(), 0.0))
    if worker.is_alive():
        if interrupt is not None:
            interrupt.request()
        worker.join(grace)
        if worker.is_alive():
            return None, "guard: cancelled after overrunning the time limit"
    if box.get("busy"):
        return None, "guard: no turn to run within the time limit (another HiGHS run held the solver)"
    if "error" in box:
        return None, f"error: {box['error']}"
    if "results" not in box:
        return None, "guard: cancelled after overrunning the time limit"
    return box["results"], ""


def run_highs(h: InterruptibleHighs, deadline: float | None) -> None:
    """Run a HiGHS model the caller built (the Steiner branch-and-cut) within ``deadline`` (``time.monotonic``).

    HiGHS measures ``time_limit`` on the object's cumulative run clock, so the limit is set from there; the
    guard interrupts the call if it overruns the deadline by :data:`STEINER_GRACE_S`.
    """
    if deadline is None:
        h.run()
        return
    remaining = max(deadline - time.monotonic(), 0.05)
    h.setOptionValue("time_limit", h.getRunTime() + remaining)
    run_guarded(h.run, h.interrupt, remaining, STEINER_GRACE_S, in_thread=False)


# --------------------------------------------------------------------------------------------- Pyomo passes
def solve_guarded(opt: GuardedHighs, m: pyo.ConcreteModel, limit_s: float) -> tuple[Any, str]:
    """One HiGHS solve of ``m`` on ``opt`` under the guard (worker thread, limit ``limit_s`` + :func:`grace_s`)."""
    opt.deadline = time.monotonic() + limit_s
    return run_guarded(lambda: opt.solve(m), opt.interrupt, limit_s, grace_s(limit_s), in_thread=True)


def new_solver(m: pyo.ConcreteModel, mip_gap: float, time_limit_s: float, warmstart: bool = False) -> GuardedHighs:
    """A persistent HiGHS interface loaded with the model ``m`` (gap: relative; limit: seconds)."""
    opt = GuardedHighs()
    opt.config.load_solution = False
    opt.config.stream_solver = False
    opt.config.time_limit = time_limit_s
    opt.config.mip_gap = mip_gap
    opt.config.warmstart = warmstart
    opt.set_instance(m)
    return opt


def milp_pass(
    opt: GuardedHighs, m: pyo.ConcreteModel, name: str, limit_s: float
) -> tuple[PassInfo, bool, GuardedHighs]:
    """One guarded HiGHS pass on the active objective of ``m``; its plan is loaded into ``m`` when one is found.

    Returns the pass, whether a plan was loaded, and the solver to use from now on (after a call the guard cancelled,
    ``opt`` is marked stale and the next pass on it loads a fresh HiGHS instance first). HiGHS's plan is checked
    before it is loaded (:func:`plan_defect`): HiGHS 1.16.0 may return its MIP start as the plan while
    reporting the optimum's objective (seen as a tie-break returning the primary plan, and as a priced country
    returning its plan at the previous price; ``tests/test_optimality.py`` holds a 6-office instance that shows
    it). A defective plan is solved once more on a fresh HiGHS instance without warm start, which then replaces
    ``opt``; if that fails too the pass reports the defect as an error and the previous plan stays loaded, so no
    plan is certified with a value it does not have.
    """
    t0 = time.perf_counter()
    if opt.stale:
        opt = new_solver(m, opt.config.mip_gap, limit_s, warmstart=opt.config.warmstart)
    for attempt in range(2):
        opt.config.time_limit = limit_s
        results, note = solve_guarded(opt, m, limit_s)
        secs = time.perf_counter() - t0
        if results is None:
            if note.startswith("guard"):  # the cancelled call may still run on this instance: never reuse it
                opt.stale = True  # replaced by a fresh instance if it is used again (a load costs seconds)
            return PassInfo(name, "milp", note, None, None, secs), False, opt
        tc = results.termination_condition
        has_sol = results.best_feasible_objective is not None
        if has_sol:
            defect = plan_defect(opt.highs, opt.plan_values(), results.best_feasible_objective)
            if defect is not None:
                if attempt == 0:  # the defect comes from the warm start (see above): solve again without it
                    limit_s = max(limit_s - secs, MIN_RUN_S)  # what is left of the pass's limit
                    opt = new_solver(m, opt.config.mip_gap, limit_s, warmstart=False)
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


# --------------------------------------------------------------------------------------------- plan check
@dataclass(frozen=True)
class _Lp:
    """The parts of a HiGHS model a plan is checked against (numpy arrays)."""

    cost: np.ndarray
    offset: float
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    rows: scipy.sparse.spmatrix | None
    row_lower: np.ndarray
    row_upper: np.ndarray


def _lp_of(highs: highspy.Highs) -> _Lp:
    lp = highs.getLp()
    n, r = int(lp.num_col_), int(lp.num_row_)
    rows = None
    if r:
        a = lp.a_matrix_
        parts = (np.asarray(a.value_, dtype=float), np.asarray(a.index_), np.asarray(a.start_))
        colwise = a.format_ == highspy.MatrixFormat.kColwise
        rows = scipy.sparse.csc_matrix(parts, shape=(r, n)) if colwise else scipy.sparse.csr_matrix(parts, (r, n))
    return _Lp(
        cost=np.asarray(lp.col_cost_, dtype=float),
        offset=float(lp.offset_),
        lower=np.asarray(lp.col_lower_, dtype=float),
        upper=np.asarray(lp.col_upper_, dtype=float),
        integer=np.array([int(t) in (1, 3) for t in lp.integrality_], dtype=bool),
        rows=rows,
        row_lower=np.asarray(lp.row_lower_, dtype=float),
        row_upper=np.asarray(lp.row_upper_, dtype=float),
    )


def plan_defect(highs: highspy.Highs, x: np.ndarray, reported: float) -> str | None:
    """What is wrong with the plan ``x`` (one value per column) for the model ``highs`` holds, or None.

    Checked against HiGHS's own copy of the model, with numpy: the objective must equal ``reported`` and every
    column bound, integrality and row must hold, each to 1e-6 relative to the size of its terms (sum of
    |coefficient × value|) plus 1e-6. A plan failing this would be certified with a value it does not have.
    """
    lp = _lp_of(highs)
    n = lp.cost.size
    x = np.asarray(x, dtype=float)
    if x.shape != (n,):
        return f"the plan has {x.size} values for {n} columns"
    value = float(lp.cost @ x + lp.offset)
    if abs(value - reported) > 1e-6 * (1.0 + float(np.abs(lp.cost) @ np.abs(x))):
        return f"HiGHS reported objective {reported:.10g} but its plan evaluates to {value:.10g}"
    tol = 1e-6 * (1.0 + np.abs(x))
    if np.any(x < lp.lower - tol) or np.any(x > lp.upper + tol):
        return f"the plan leaves the bounds of {int(np.sum((x < lp.lower - tol) | (x > lp.upper + tol)))} column(s)"
    if lp.integer.size and np.any(np.abs(x[lp.integer] - np.round(x[lp.integer])) > 1e-5):
        return "the plan has fractional integer columns"
    if lp.rows is not None:
        act, size = lp.rows @ x, abs(lp.rows) @ np.abs(x)
        rtol = 1e-6 * (1.0 + size)
        bad = (act < lp.row_lower - rtol) | (act > lp.row_upper + rtol)
        if np.any(bad):
            return f"the plan violates {int(bad.sum())} row(s) of the model"
    return None


def highs_solution(x: np.ndarray) -> highspy.HighsSolution:
    """A HiGHS primal solution (a MIP start) from column values."""
    sol = highspy.HighsSolution()
    sol.col_value = x.tolist()
    sol.value_valid = True
    return sol
