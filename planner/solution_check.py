"""Check a plan HiGHS returns against HiGHS's own copy of the model, before anyone trusts it.

HiGHS 1.16.0 (not 1.15.1) has a warm-start defect: when a MIP start, mapped into the presolved model, is
already optimal there ("MIP start solution is feasible in the reduced space" with a better objective; node 0),
HiGHS reports that objective but returns the original start rather than its postsolved completion.
pyproject.toml excludes that version; both the planner's passes (:func:`planner.solve._milp_pass`) and the
Steiner MIP (:mod:`planner.steiner`) still check every plan with :func:`plan_defect` and solve again without
the start when it is defective, whatever the version.
"""

from __future__ import annotations

import highspy
import numpy as np
import scipy.sparse


def plan_defect(highs: highspy.Highs, x: np.ndarray, reported: float) -> str | None:
    """What is wrong with the plan ``x`` (one value per column) for the model ``highs`` holds, or None.

    Checked against HiGHS's own copy of the model, with numpy: the objective must equal ``reported`` and every
    column bound, integrality and row must hold, each to 1e-6 relative to the size of its terms (sum of
    |coefficient × value|) plus 1e-6. A plan failing this would be certified with a value it does not have."""
    lp = highs.getLp()
    n, r = int(lp.num_col_), int(lp.num_row_)
    x = np.asarray(x, dtype=float)
    if x.shape != (n,):
        return f"the plan has {x.size} values for {n} columns"
    cost = np.asarray(lp.col_cost_, dtype=float)
    value = float(cost @ x + lp.offset_)
    if abs(value - reported) > 1e-6 * (1.0 + float(np.abs(cost) @ np.abs(x))):
        return f"HiGHS reported objective {reported:.10g} but its plan evaluates to {value:.10g}"
    lo, up = np.asarray(lp.col_lower_, dtype=float), np.asarray(lp.col_upper_, dtype=float)
    tol = 1e-6 * (1.0 + np.abs(x))
    if np.any(x < lo - tol) or np.any(x > up + tol):
        return f"the plan leaves the bounds of {int(np.sum((x < lo - tol) | (x > up + tol)))} column(s)"
    integer = np.array([int(t) in (1, 3) for t in lp.integrality_], dtype=bool)
    if integer.size and np.any(np.abs(x[integer] - np.round(x[integer])) > 1e-5):
        return "the plan has fractional integer columns"
    if r:
        a = lp.a_matrix_
        shape, parts = (r, n), (np.asarray(a.value_, dtype=float), np.asarray(a.index_), np.asarray(a.start_))
        colwise = a.format_ == highspy.MatrixFormat.kColwise
        mat = scipy.sparse.csc_matrix(parts, shape=shape) if colwise else scipy.sparse.csr_matrix(parts, shape=shape)
        act, size = mat @ x, abs(mat) @ np.abs(x)
        rlo, rup = np.asarray(lp.row_lower_, dtype=float), np.asarray(lp.row_upper_, dtype=float)
        rtol = 1e-6 * (1.0 + size)
        bad = (act < rlo - rtol) | (act > rup + rtol)
        if np.any(bad):
            return f"the plan violates {int(bad.sum())} row(s) of the model"
    return None
