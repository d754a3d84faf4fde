"""The core search: the hull greedy's knapsack plan raised to the proven optimum when its core is small enough.

The plain model is a 0/1 knapsack (:mod:`planner.heuristics.greedy`): items of value ``v`` (coverage) and weight
``w`` (USD), one capacity. Its LP optimum takes the items in ratio order up to a break item ``k`` and a fraction of
``k``. With ``λ = v_k / w_k`` (the LP dual of the capacity row) an item's reduced cost is ``rc_j = v_j - λ w_j`` and,
for any plan ``x`` within the capacity,

    value(x) <= UB - Σ_{j before k} rc_j (1 - x_j) + Σ_{j after k} rc_j x_j        (UB: the LP bound)

where every term of the sums is a loss (``rc_j >= 0`` before the break, ``<= 0`` after). So a plan worth more than
a known plan of value LB leaves every item with ``|rc_j| > UB - LB`` as the LP has it (reduced-cost fixing). The
items left, the *core*, are searched exhaustively: dynamic programming over non-dominated (weight, value) states in
ratio order (Nemhauser-Ullmann), each state dropped when its LP bound (value + room left × the next item's ratio)
cannot beat the best plan found so far. When the core and the search stay within :data:`MAX_CORE` items and
:data:`MAX_STATES` / :data:`MAX_CELLS` states, the plan found is the knapsack's optimum (to a relative 1e-9): its
bound is its own value. Otherwise the core is cut to the items of least ``|rc|`` (or the search stops early) and the
plan is only improved; the LP bound stands as its certificate.

Why here and not in HiGHS: on these knapsacks the LP bound is already tight and HiGHS spends its seconds looking
for a better plan (measured on the Uttarakhand sweep: 1-6 s a point, its bound barely moving), which the core search
finds in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_CORE = 4000  # items searched at most; beyond, the core keeps the items of least |reduced cost| (not proven)
MAX_STATES = 50_000  # non-dominated states kept after one item; beyond, those of highest bound (not proven)
MAX_CELLS = 4_000_000  # states kept over the whole search (memory and time: about 1 s); beyond, it stops (not proven)
REL_TOL = 1e-9  # relative tolerance of the bound comparisons and of the capacity


@dataclass
class CoreSearch:
    """A knapsack plan from :func:`best_subset`.

    ``take``: the items chosen (in the input order); ``value``: their total value; ``bound``: a proven upper bound
    on any plan's value (``value`` itself when ``proven``); ``improved``: whether ``take`` is not the start (worth
    more, or as much for less weight); ``core``: the items searched; ``states``: the states kept.
    """

    take: np.ndarray
    value: float
    bound: float
    proven: bool
    improved: bool
    core: int
    states: int


def best_subset(value: np.ndarray, weight: np.ndarray, capacity: float, start: np.ndarray) -> CoreSearch:
    """The best 0/1 knapsack plan the core search finds, never worse than ``start``.

    ``value`` and ``weight`` are positive per item; ``start`` (bool per item) is a plan within ``capacity``. Among
    plans of the most value the search returns one of least weight: the least cost among the plans of most coverage,
    or, searching the offices a cover leaves out, the most coverage among the least-cost covers (DESIGN's tie-breaks).
    """
    v, w = np.asarray(value, dtype=float), np.asarray(weight, dtype=float)
    n = len(v)
    start = np.asarray(start, dtype=bool)
    lb = float(v[start].sum())
    order = np.lexsort((w, -(v / w)))  # ratio descending, the lighter first on ties (the greedy's order)
    vs, ws = v[order], w[order]
    cum = np.cumsum(ws)
    cap_tol = REL_TOL * max(1.0, abs(capacity))
    k = int(np.searchsorted(cum, capacity, side="right"))
    if k >= n:  # every item fits: taking all is optimal
        every = np.ones(n, dtype=bool)
        return CoreSearch(every, float(v.sum()), float(v.sum()), True, not start.all(), 0, 0)
    lam = vs[k] / ws[k]
    used = float(cum[k - 1]) if k else 0.0
    ub = float(vs[:k].sum()) + (capacity - used) * lam
    tol = REL_TOL * max(1.0, abs(ub))
    gap = ub - lb
    if gap < -tol:
        raise ValueError("the start plan is worth more than the LP bound: it does not fit the capacity")
    rc = vs - lam * ws
    core = np.abs(rc) <= gap + tol
    core[k] = True
    cut = int(core.sum()) > MAX_CORE
    if cut:
        core = np.zeros(n, dtype=bool)
        core[np.argsort(np.abs(rc), kind="stable")[:MAX_CORE]] = True
        core[k] = True
    fixed_one = (np.arange(n) < k) & ~core
    room = capacity - float(ws[fixed_one].sum())
    base = float(vs[fixed_one].sum())
    ci = np.flatnonzero(core)  # ascending position = ratio order
    start_w = float(w[start].sum())
    picks, complete, states = _search(vs[ci], ws[ci], room + cap_tol, (lb - base, start_w - (capacity - room)), tol)
    take_sorted = fixed_one.copy()
    if picks is not None:
        take_sorted[ci[picks]] = True
        left = capacity - float(ws[take_sorted].sum())
        for j in np.flatnonzero(~take_sorted & (ws <= left + cap_tol)):  # fill: cannot lower the value
            if ws[j] <= left + cap_tol:
                take_sorted[j] = True
                left -= ws[j]
    take = np.zeros(n, dtype=bool)
    take[order] = take_sorted
    found = float(v[take].sum())
    proven = complete and not cut
    heavy = float(w[take].sum())
    better = found > lb + tol or (found >= lb - tol and heavy < start_w - cap_tol)
    if picks is None or not better or heavy > capacity + cap_tol:
        return CoreSearch(start.copy(), lb, lb if proven else ub, proven, False, len(ci), states)
    return CoreSearch(take, found, found if proven else ub, proven, True, len(ci), states)


def _search(
    cv: np.ndarray, cw: np.ndarray, room: float, target: tuple[float, float], tol: float
) -> tuple[np.ndarray | None, bool, int]:
    """Best subset of the core items (in ratio order) within ``room`` that beats ``target``.

    ``target`` is (value, weight): a plan beats it worth more, or as much (within ``tol``) for less weight.
    Returns (picks as a bool mask or None when nothing beats ``target``, whether the search was exhaustive,
    states kept in all).
    """
    m = len(cv)
    nxt = np.append(cv[1:] / cw[1:], 0.0)  # the best ratio the items after j can add: bounds a state's future
    cost, val = np.zeros(1), np.zeros(1)
    parents: list[np.ndarray] = []
    took: list[np.ndarray] = []
    (best, best_w), best_at = target, None  # best value and its weight, and (item, state) where it was found
    w_tol = 1e-12 * max(1.0, abs(room))
    cells, complete = 0, True
    for j in range(m):
        fits = np.flatnonzero(cost + cw[j] <= room)
        c2 = np.concatenate([cost, cost[fits] + cw[j]])
        v2 = np.concatenate([val, val[fits] + cv[j]])
        par = np.concatenate([np.arange(len(cost)), fits])
        tk = np.concatenate([np.zeros(len(cost), dtype=bool), np.ones(len(fits), dtype=bool)])
        o = np.argsort(c2, kind="stable")  # two sorted runs: merged in linear time
        c2, v2, par, tk = c2[o], v2[o], par[o], tk[o]
        keep = v2 > np.maximum.accumulate(np.concatenate([[-np.inf], v2[:-1]]))  # drop the dominated states
        cand = int(np.argmax(np.where(keep, v2, -np.inf)))  # the lightest of the most valuable states
        improved = bool(v2[cand] > best + tol or (v2[cand] >= best - tol and c2[cand] < best_w - w_tol))
        if improved:
            best, best_w = float(v2[cand]), float(c2[cand])
        bound = v2 + (room - c2) * nxt[j]
        keep &= bound >= best - tol  # a state that cannot reach the best plan's value is dropped
        if j == m - 1:
            keep[:] = False  # nothing is left to add
        if improved:
            keep[cand] = True  # the best plan's state stays reachable
        idx = np.flatnonzero(keep)
        if len(idx) > MAX_STATES:
            top = idx[np.argsort(-bound[idx], kind="stable")[:MAX_STATES]]
            if improved and cand not in top:
                top = np.append(top, cand)
            idx = np.sort(top)
            complete = False
        if improved:
            best_at = (j, int(np.searchsorted(idx, cand)))
        cost, val = c2[idx], v2[idx]
        parents.append(par[idx])
        took.append(tk[idx])
        cells += len(idx)
        if cells > MAX_CELLS:
            complete = False
            break
        if not len(idx):
            break  # no state can still beat the best plan
    if best_at is None:
        return None, complete, cells
    picks = np.zeros(m, dtype=bool)
    j, i = best_at
    while j >= 0:
        if took[j][i]:
            picks[j] = True
        i = int(parents[j][i])
        j -= 1
    return picks, complete, cells
