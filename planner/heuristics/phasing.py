"""Rolling-horizon heuristic for large roadmaps (max_coverage, population-years), with a proven bound.

The full roadmap model (``planner.optimize.model``, variables ``x[p,y]``) grows as pairs × years and HiGHS needs minutes
beyond a few thousand offices. This module plans year by year instead, with numpy only (no Pyomo model):

Notation (as in :mod:`planner.optimize.model`): years ``y0..E``, ``L_y = E - y + 1`` the years a connection made in y
counts, ``cap[p,y] = capex[p]·(1+g_t)^(y-y0)``, ``o[p]`` opex per year, ``[tco]`` 1 when annual budgets pay opex
(``RoadmapSpec.count_opex``), ``spend[p,y] = cap[p,y] + [tco]·o[p]·L_y`` (the model's ``cost`` coefficient).

Money rows. The annual budget with carry-over (``spend_k + s_k <= B_k + s_{k-1}``, ``s >= 0``) is equivalent to
the prefix rows ``Σ_{j<=k} spend_j <= Σ_{j<=k} B_j`` for every k (sum the rows; conversely take
``s_k = Σ_{j<=k} (B_j - spend_j)``). So every money constraint of the model is a row ``Σ_{p,y} a_k(p,y)·x[p,y]
<= b_k`` with nonnegative coefficients:

* no carry-over: ``a_k(p,y) = cap[p,y]·[y = k] + [tco]·o[p]·[y <= k]``, ``b_k = B_k``;
* carry-over: ``a_k(p,y) = cap[p,y]·[y <= k] + [tco]·o[p]·max(0, k - y + 1)``, ``b_k = Σ_{j<=k} B_j``;
* a total budget (``ModelSpec.budget_usd``): ``a(p,y) = spend[p,y]``, ``b = budget_usd``.

Build capacity rows: ``Σ_p x[p,y] <= K`` and ``Σ_{p: t(p)=t} x[p,y] <= K_t`` for each year y.

Heuristic (:func:`rolling_horizon`). For y = y0..E: the rows' slacks left by the earlier years (which already
include the opex those connections commit to every later year) are that year's money; candidate pairs of the
offices not yet connected are ranked by ``w·L_y / (c[p,y] + λ)`` (c the year's cash ``cap + [tco]·o`` or the
horizon spend ``spend[p,y]``; λ >= 0 a price per build slot, which makes the rule capacity-aware: λ = 0 is the
Dantzig money ratio, λ = ∞ ranks by weight) and taken greedily in that order when the pair fits every row,
every capacity of that year and its office is still free (an office's other options come later in the list,
so a full technology crew falls back to the next option). Without capacity rows and with one money row for
the year this is exactly :func:`planner.heuristics.greedy.greedy_max_coverage` on the year's hull (used then). A pair is
taken only if *all* rows, including the later years' rows its opex loads, keep their slack, so the plan is
feasible for the full model by construction. A few (cost, λ) variants are run; then, once the bound below has
priced every row, one more pass ranks each year's pairs by their Lagrangian reduced profit
``w·L_y - Σ_r μ_r·a_r(p,y)`` (the best pass on the benchmark). Each pass ends with an "advance" pass that moves
connected offices to earlier years while every row and capacity still allows it; the best plan is kept (ties:
the lower total spend). Discounted cost is not minimised as a tie-break.

Bound (:func:`lagrangian_bound`). For any multipliers ``μ_r >= 0`` on the money and capacity rows,

    ``UB(μ) = Σ_r μ_r·b_r + Σ_i max(0, max_{p ∈ i, y} (w_i·L_y - Σ_r μ_r·a_r(p,y)))``

is an upper bound on population-years: for any feasible plan x, ``Σ w·L·x = Σ_r μ_r·(Σ a_r·x) +
Σ (w·L - Σ_r μ_r·a_r)·x <= Σ_r μ_r·b_r + Σ_i max(0, ...)`` because ``Σ a_r·x <= b_r``, μ >= 0 and each office
takes at most one (p, y) (weak Lagrangian duality). It is valid for *any* μ >= 0, so an inexact minimisation
(projected subgradient, Polyak steps towards the heuristic value) still gives a proven bound; its minimum over μ
equals the LP relaxation bound of the full model (the per-office subproblem has the integrality property).
Two other proven bounds are kept if tighter: every reachable office connected in y0 (``Σ_i w_i·L_y0``), and
with a total capacity K the rearrangement bound (the heaviest K reachable offices in y0, the next K in y0+1, …).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.heuristics.greedy import Hull, greedy_max_coverage
from planner.problem import ModelData, ModelSpec, PassInfo, SolveResult, relative_gap

TOL = 1e-9  # relative feasibility tolerance on the rows (exact arithmetic up to rounding)


@dataclass
class RoadmapArrays:
    """The roadmap as dense arrays over pairs p (rows of ``ModelData.options``) and years (column j = y - y0)."""

    years: np.ndarray  # (Y,)
    office: np.ndarray  # (P,) office code 0..I-1
    n_offices: int
    tech: np.ndarray  # (P,) technology code
    tech_names: list[str]
    weight: np.ndarray  # (P,) weight of the pair's office
    cap: np.ndarray  # (P, Y) capex at the year's price
    opex: np.ndarray  # (P,) opex per year counted against budgets ([tco]·o, else 0)
    spend: np.ndarray  # (P, Y) cap + [tco]·o·L_y: the model's ``cost`` coefficient
    life: np.ndarray  # (Y,) L_y = E - y + 1
    A: np.ndarray  # (R, Y) capex coefficient of money row r for a connection in year y
    B: np.ndarray  # (R, Y) opex coefficient (times o[p])
    S: np.ndarray  # (R,) 1 for the total-budget row (coefficient spend[p,y]), else 0
    rhs: np.ndarray  # (R,) row right-hand sides (USD)
    cap_total: float  # build capacity per year (inf: none)
    cap_tech: np.ndarray  # (T,) per-technology capacity per year (inf: none)

    def loads(self, pairs: np.ndarray, j: int) -> np.ndarray:
        """(R, n) loads on the money rows of connecting ``pairs`` in year index j."""
        cap, opex = self.cap[pairs, j], self.opex[pairs]
        return self.A[:, j, None] * cap + self.B[:, j, None] * opex + self.S[:, None] * self.spend[pairs, j]


def roadmap_arrays(data: ModelData, spec: ModelSpec) -> RoadmapArrays:
    """Arrays of a max_coverage roadmap with office-additive coverage; ValueError for anything else."""
    rm = spec.roadmap
    if rm is None or spec.objective != "max_coverage":
        raise ValueError("rolling_horizon plans max_coverage roadmaps only")
    if spec.metric == "communities" or spec.region_min_coverage or spec.technology_max_share:
        raise ValueError("rolling_horizon does not handle the communities metric or policy rows")
    if spec.coverage_target is not None:
        raise ValueError("rolling_horizon does not handle a coverage target")
    opts = data.options
    years = np.asarray(rm.years, dtype=np.int64)
    n_years, end = len(years), int(years[-1])
    office_codes, office_names = pd.factorize(opts["office_id"].astype(str), sort=False)
    tech_codes, tech_names = pd.factorize(opts["technology"].astype(str), sort=True)
    weight_of = data.offices.assign(office_id=data.offices["office_id"].astype(str)).set_index("office_id")["weight"]
    weight = weight_of.reindex(office_names).to_numpy(float)[office_codes]
    capex = opts["capex_usd"].to_numpy(float)
    opex_raw = opts["opex_usd_per_year"].to_numpy(float)
    factor = np.array([[rm.capex_factor(t, int(y)) for y in years] for t in tech_names]).reshape(-1, n_years)
    cap = capex[:, None] * factor[tech_codes] if len(opts) else np.zeros((0, n_years))
    life = (end - years + 1).astype(float)
    opex = opex_raw if rm.count_opex else np.zeros_like(opex_raw)
    spend = cap + opex[:, None] * life[None, :]
    k, y = np.meshgrid(np.arange(n_years), np.arange(n_years), indexing="ij")  # row k, connection year index y
    budgets = np.array([float(rm.annual_budget_usd.get(int(v), 0.0)) for v in years])
    if rm.carry_over:
        A = (y <= k).astype(float)
        B = np.maximum(0, k - y + 1).astype(float)
        rhs = np.cumsum(budgets)
    else:
        A = (y == k).astype(float)
        B = (y <= k).astype(float)
        rhs = budgets.copy()
    S = np.zeros(n_years)
    if spec.budget_usd is not None:
        A, B = np.vstack([A, np.zeros(n_years)]), np.vstack([B, np.zeros(n_years)])
        S, rhs = np.append(S, 1.0), np.append(rhs, float(spec.budget_usd))
    cap_total = float(rm.capacity_total) if rm.capacity_total is not None else math.inf
    cap_tech = np.array([float(rm.capacity_per_technology.get(t, math.inf)) for t in tech_names])
    return RoadmapArrays(years, office_codes.astype(np.int64), len(office_names), tech_codes.astype(np.int64),
                         list(tech_names), weight, cap, opex, spend, life, A, B, S, rhs, cap_total,
                         cap_tech)  # fmt: skip


@dataclass
class Prices:
    """Lagrange multipliers per unit of each row (USD of capex, USD of opex, USD of total spend, build slot)."""

    alpha: np.ndarray  # (Y,) per USD of capex of a connection made in year y
    beta: np.ndarray  # (Y,) per USD of yearly opex of a connection made in year y
    total: float  # per USD of total spend (budget_usd row)
    slot: np.ndarray  # (Y,) per office built in year y
    slot_tech: np.ndarray  # (T, Y) per office of technology t built in year y

    def reduced(self, ra: RoadmapArrays, pairs: np.ndarray, j: int) -> np.ndarray:
        """Reduced profit ``w·L_y - Σ_r μ_r·a_r(p,y)`` of connecting ``pairs`` in year index j."""
        return (ra.weight[pairs] * ra.life[j] - ra.cap[pairs, j] * self.alpha[j] - ra.opex[pairs] * self.beta[j]
                - self.total * ra.spend[pairs, j] - self.slot[j] - self.slot_tech[ra.tech[pairs], j])  # fmt: skip


# --------------------------------------------------------------------------------------------- one year
def _fits(load: np.ndarray, slack: np.ndarray) -> np.ndarray:
    return load <= slack[:, None] + TOL * np.maximum(1.0, np.abs(slack))[:, None]


def _year_greedy(
    ra: RoadmapArrays, j: int, order: np.ndarray, slack: np.ndarray, cap_left: float, tech_left: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Sequential greedy over ``order`` (pairs, best first) in year index j.

    Takes a pair when its office is free and it fits every money row and capacity. Vectorised: each round takes the
    longest feasible prefix at once, then drops the first pair that does not fit (and whatever can no longer fit).
    Returns (taken pairs, slack, capacity left, technology capacity left).
    """
    taken: list[np.ndarray] = []
    slack, tech_left = slack.copy(), tech_left.copy()
    idx = order
    rounds = 0
    while len(idx) and cap_left > 0:
        rounds += 1
        if rounds > 40 or len(idx) < 64:
            got, slack, cap_left, tech_left = _year_greedy_loop(ra, j, idx, slack, cap_left, tech_left)
            taken.append(got)
            break
        _, first = np.unique(ra.office[idx], return_index=True)
        first.sort()  # positions of each office's first option; its later options wait their turn
        head = idx[first]
        load = ra.loads(head, j)
        cum = np.cumsum(load, axis=1)
        ok = _fits(cum, slack).all(axis=0)
        ok &= np.arange(1, len(head) + 1) <= cap_left
        tech = ra.tech[head]
        for t in np.flatnonzero(np.isfinite(tech_left)):
            ok &= np.cumsum(tech == t) <= tech_left[t]
        k = int(np.argmin(ok)) if not ok.all() else len(head)
        if k:
            taken.append(head[:k])
            slack = slack - cum[:, k - 1]
            cap_left -= k
            tech_left = tech_left - np.bincount(tech[:k], minlength=len(tech_left))
        if k == len(head):
            break
        # head[k] is rejected (a row, the total or its technology's capacity is full); before it in idx come
        # only the offices taken now and their other options: go on after it with what can still fit
        rest = idx[first[k] + 1 :]
        done = np.zeros(ra.n_offices, dtype=bool)
        done[ra.office[head[:k]]] = True
        rest = rest[~done[ra.office[rest]]]
        rest = rest[tech_left[ra.tech[rest]] >= 1]
        rest = rest[_fits(ra.loads(rest, j), slack).all(axis=0)]
        idx = rest
    pairs = np.concatenate(taken) if taken else np.zeros(0, dtype=np.int64)
    return pairs.astype(np.int64), slack, cap_left, tech_left


def _year_greedy_loop(
    ra: RoadmapArrays, j: int, idx: np.ndarray, slack: np.ndarray, cap_left: float, tech_left: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """The same greedy, one pair at a time (for short tails)."""
    load = ra.loads(idx, j).T.copy()
    tol = TOL * np.maximum(1.0, np.abs(slack))
    done: set[int] = set()
    got = []
    for n, p in enumerate(idx.tolist()):
        if cap_left < 1:
            break
        o, t = ra.office[p], ra.tech[p]
        if o in done or tech_left[t] < 1 or not np.all(load[n] <= slack + tol):
            continue
        got.append(p)
        done.add(o)
        slack = slack - load[n]
        cap_left -= 1
        tech_left[t] -= 1
    return np.asarray(got, dtype=np.int64), slack, cap_left, tech_left


def _rank(
    ra: RoadmapArrays, j: int, pairs: np.ndarray, basis: str, lam: float, prices: Prices | None = None
) -> np.ndarray:
    """Pairs sorted by ``w·L_y / (c + λ)`` descending (λ = inf: by weight), ties toward the cheaper."""
    cash = ra.cap[pairs, j] + ra.opex[pairs]
    c = cash if basis == "cash" else ra.spend[pairs, j]
    w = ra.weight[pairs] * ra.life[j]
    if basis == "lagrange" and prices is not None:
        score = prices.reduced(ra, pairs, j)
    elif math.isinf(lam):
        score = w
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(c + lam > 0, w / (c + lam), np.inf)
    return pairs[np.lexsort((c, -score))]


def _plain_year(ra: RoadmapArrays, j: int, pairs: np.ndarray, slack: np.ndarray) -> np.ndarray | None:
    """Year greedy via :func:`planner.heuristics.greedy.greedy_max_coverage` when it is exactly that knapsack.

    That is: one money row loaded in this year and no capacity, λ = 0 on the year's cash. None when it does not apply.
    """
    has_opex = bool(ra.opex.any())
    loaded = np.flatnonzero((ra.A[:, j] != 0) | ((ra.B[:, j] != 0) & has_opex) | (ra.S != 0))
    if np.isfinite(ra.cap_total) or np.isfinite(ra.cap_tech).any() or not len(loaded):
        return None
    same = (ra.A[loaded, j] == 1) & (ra.S[loaded] == 0) & ((ra.B[loaded, j] == 1) | (not has_opex))
    if not same.all():
        return None  # every loaded row must carry exactly this year's cash cap + [tco]·o: one knapsack row
    r = int(loaded[np.argmin(slack[loaded])])
    cost = ra.cap[pairs, j] + ra.opex[pairs]
    frame = pd.DataFrame({"p": pairs, "o": ra.office[pairs], "c": cost})
    best = frame.loc[frame.groupby("o", sort=False)["c"].idxmin()]
    hull = Hull(best["p"].to_numpy(np.int64), best["c"].to_numpy(float), ra.weight[best["p"].to_numpy()] * ra.life[j])
    room = float(slack[r]) * (1 + TOL) + TOL
    chosen, _, _ = greedy_max_coverage(hull, max(room, 0.0))
    total = ra.loads(chosen, j).sum(axis=1)
    if not np.all(total <= slack + TOL * np.maximum(1.0, np.abs(slack))):
        return None  # rounding at the edge of the row: the general greedy decides instead
    return chosen


def _roll(
    ra: RoadmapArrays, basis: str, lam: float, prices: Prices | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One rolling-horizon pass: (chosen pairs, year index of each, final row slacks)."""
    slack = ra.rhs.astype(float).copy()
    free = ra.weight > 0  # a zero-weight office adds no coverage: it is never connected
    office_done = np.zeros(ra.n_offices, dtype=bool)
    chosen, when = [], []
    for j in range(len(ra.years)):
        pairs = np.flatnonzero(free & ~office_done[ra.office])
        if not len(pairs):
            break
        got = _plain_year(ra, j, pairs, slack) if basis == "cash" and lam == 0 else None
        if got is None:
            pairs = pairs[_fits(ra.loads(pairs, j), slack).all(axis=0)]
            got, _, _, _ = _year_greedy(
                ra, j, _rank(ra, j, pairs, basis, lam, prices), slack, ra.cap_total, ra.cap_tech
            )
        if len(got):
            slack = slack - ra.loads(got, j).sum(axis=1)
        office_done[ra.office[got]] = True
        chosen.append(got)
        when.append(np.full(len(got), j, dtype=np.int64))
    if not chosen:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), slack
    return np.concatenate(chosen), np.concatenate(when), slack


def _advance(ra: RoadmapArrays, chosen: np.ndarray, when: np.ndarray, slack: np.ndarray) -> np.ndarray:
    """Move connected offices to earlier years (heaviest first) while every row and capacity allows it."""
    when = when.copy()
    n_years = len(ra.years)
    count = np.bincount(when, minlength=n_years).astype(float)
    count_t = np.zeros((len(ra.tech_names), n_years))
    np.add.at(count_t, (ra.tech[chosen], when), 1.0)
    order = np.argsort(-ra.weight[chosen], kind="stable")
    tol = TOL * np.maximum(1.0, np.abs(slack))
    for n in order.tolist():
        p, y = int(chosen[n]), int(when[n])
        if y == 0:
            continue
        t = ra.tech[p]
        old = ra.loads(np.array([p]), y)[:, 0]
        for j in range(y):  # the earliest year that takes it
            if count[j] + 1 > ra.cap_total or count_t[t, j] + 1 > ra.cap_tech[t]:
                continue
            new = ra.loads(np.array([p]), j)[:, 0]
            if np.all(new - old <= slack + tol):
                slack = slack - (new - old)
                count[y] -= 1
                count[j] += 1
                count_t[t, y] -= 1
                count_t[t, j] += 1
                when[n] = j
                break
    return when


def plan_value(ra: RoadmapArrays, chosen: np.ndarray, when: np.ndarray) -> tuple[float, float, float]:
    """(population-years, coverage, total spend) of a plan."""
    w = ra.weight[chosen]
    return float((w * ra.life[when]).sum()), float(w.sum()), float(ra.spend[chosen, when].sum())


# --------------------------------------------------------------------------------------------- bound
def lagrangian_bound(ra: RoadmapArrays, target: float, iterations: int = 150) -> float:
    """See :func:`lagrangian`; the bound only."""
    return lagrangian(ra, target, iterations)[0]


def lagrangian(ra: RoadmapArrays, target: float, iterations: int = 150) -> tuple[float, Prices | None]:
    """A proven upper bound on population-years (module docstring).

    The min of the Lagrangian bound over projected subgradient iterates (Polyak steps towards ``target``, the best plan
    known), the all-in-y0 bound and the capacity rearrangement bound.
    """
    P, n_years = ra.cap.shape
    pos = ra.weight > 0
    if not pos.any():
        return 0.0, None
    reach = np.zeros(ra.n_offices)
    np.maximum.at(reach, ra.office, ra.weight)
    best = float(reach.sum() * ra.life[0])
    if np.isfinite(ra.cap_total):
        w = np.sort(reach[reach > 0])[::-1]
        k = int(ra.cap_total)
        best = min(best, float(sum(w[j * k : (j + 1) * k].sum() * ra.life[j] for j in range(n_years))))
    # Rows, each divided by its right-hand side (so that every multiplier is in population-years per whole
    # row and the subgradient's components are comparable): money rows, total capacity per year, technology
    # capacity per year. Rows with a zero right-hand side are divided by a typical load instead.
    scale = np.where(ra.rhs > 0, ra.rhs, np.maximum(1.0, ra.spend.mean() if P else 1.0))
    capped_t = np.flatnonzero(np.isfinite(ra.cap_tech))
    has_total = bool(np.isfinite(ra.cap_total))
    k_total = max(ra.cap_total, 1.0) if has_total else 1.0
    k_tech = np.maximum(ra.cap_tech[capped_t], 1.0)
    sel = np.flatnonzero(pos)
    order = sel[np.argsort(ra.office[sel], kind="stable")]
    starts = np.flatnonzero(np.r_[True, np.diff(ra.office[order]) != 0])
    owner = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
    wl = ra.weight[order, None] * ra.life[None, :]
    cap, opex, spend, tech = ra.cap[order], ra.opex[order], ra.spend[order], ra.tech[order]
    tech_row = np.full(len(ra.tech_names), -1)
    tech_row[capped_t] = np.arange(len(capped_t))
    trow = tech_row[tech]
    has_t = trow >= 0
    mu = np.zeros(len(ra.rhs))  # money rows
    nu = np.zeros(n_years)  # total capacity
    nut = np.zeros((len(capped_t), n_years))  # technology capacity
    rhs_n = ra.rhs / scale
    theta, stall, best_lag = 1.0, 0, math.inf
    prices: Prices | None = None
    for _it in range(iterations):
        m = mu / scale
        alpha, beta = m @ ra.A, m @ ra.B
        red = wl - cap * alpha - opex[:, None] * beta - (m @ ra.S) * spend - nu / k_total
        if len(capped_t):
            red[has_t] -= nut[trow[has_t]] / k_tech[trow[has_t], None]
        yj = np.argmax(red, axis=1)
        rmax = red[np.arange(len(order)), yj]
        omax = np.maximum.reduceat(rmax, starts)
        lag = float(np.maximum(omax, 0).sum() + (mu * rhs_n).sum() + nu.sum() + nut.sum())
        if lag < best_lag - 1e-9 * max(1.0, abs(lag)):
            best_lag, stall = lag, 0
            full_tech = np.zeros((len(ra.tech_names), n_years))
            full_tech[capped_t] = nut / k_tech[:, None]
            prices = Prices(alpha, beta, float(m @ ra.S), nu / k_total, full_tech)
        else:
            stall += 1
            if stall >= 15:
                theta, stall = theta / 2, 0
        # a maximiser of the relaxation: each office's best (p, y) when its reduced profit is positive
        pick = (rmax == omax[owner]) & (rmax > 0)
        ps = np.flatnonzero(pick)
        _, u = np.unique(owner[ps], return_index=True)
        q = ps[u]
        yq = yj[q]
        load = ra.A[:, yq] @ cap[q, yq] + ra.B[:, yq] @ opex[q] + ra.S * spend[q, yq].sum()
        g_mu = rhs_n - load / scale
        count = np.bincount(yq, minlength=n_years)
        g_nu = 1.0 - count / k_total if has_total else np.zeros(n_years)
        g_nut = np.zeros_like(nut)
        for r, t in enumerate(capped_t):
            g_nut[r] = 1.0 - np.bincount(yq[tech[q] == t], minlength=n_years) / k_tech[r]
        # projected components: a multiplier at 0 with a positive component cannot move
        g_mu[(mu <= 0) & (g_mu > 0)] = 0.0
        g_nu[(nu <= 0) & (g_nu > 0)] = 0.0
        g_nut[(nut <= 0) & (g_nut > 0)] = 0.0
        norm = float((g_mu**2).sum() + (g_nu**2).sum() + (g_nut**2).sum())
        if norm <= 1e-18 or theta < 1e-4:
            break
        step = theta * max(lag - target, 1e-6 * max(1.0, abs(target))) / norm
        mu = np.maximum(0.0, mu - step * g_mu)
        nu = np.maximum(0.0, nu - step * g_nu)
        nut = np.maximum(0.0, nut - step * g_nut)
    return min(best, best_lag), prices


# --------------------------------------------------------------------------------------------- entry point
def rolling_horizon(
    data: ModelData, spec: ModelSpec, *, mip_gap: float = 1e-4, bound_iterations: int = 150
) -> SolveResult:
    """Plan a max_coverage roadmap year by year (module docstring); every model constraint holds exactly.

    Returns a :class:`planner.problem.SolveResult` with ``objective`` in population-years, ``coverage`` (Σ w of the
    connected offices), ``cost_usd`` (the model's ``cost``: capex at the year's price plus, under the TCO basis,
    opex over the years paid), ``years``, ``method`` "rolling-horizon", a proven ``bound`` (Lagrangian) and its
    ``mip_gap``; ``status`` is "optimal" when that gap is within ``mip_gap``, else "heuristic".
    """
    t0 = time.perf_counter()
    ra = roadmap_arrays(data, spec)
    build_s = time.perf_counter() - t0
    if len(data.options) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return SolveResult("optimal", "rolling-horizon", empty, 0.0, 0.0, 0.0, 0.0, 0.0, build_s, 0.0, [], empty)
    capacity = np.isfinite(ra.cap_total) or np.isfinite(ra.cap_tech).any()
    bases = ["cash", "spend"] if ra.opex.any() else ["cash"]
    typical = float(np.median(ra.cap[:, 0] + ra.opex)) if len(ra.cap) else 0.0
    lams = [0.0, 0.3 * typical, typical, 3.0 * typical, math.inf] if capacity else [0.0]
    passes: list[PassInfo] = []
    best: tuple[tuple[float, float], np.ndarray, np.ndarray] | None = None

    def attempt(basis: str, lam: float, prices: Prices | None = None) -> None:
        nonlocal best
        g0 = time.perf_counter()
        chosen, when, slack = _roll(ra, basis, lam, prices)
        when = _advance(ra, chosen, when, slack)
        value, _, spend = plan_value(ra, chosen, when)
        name = f"roll {basis}" + ("" if prices is not None else f" λ={lam:.3g}")
        passes.append(PassInfo(name, "rolling-horizon", "feasible", value, None, time.perf_counter() - g0))
        if best is None or (value, -spend) > best[0]:
            best = ((value, -spend), chosen, when)

    for basis in bases:
        for lam in lams:
            if basis == "cash" or not math.isinf(lam):  # λ = ∞ ranks by weight whatever the cost basis
                attempt(basis, lam)
    assert best is not None
    b0 = time.perf_counter()
    bound, prices = lagrangian(ra, best[0][0], bound_iterations)
    passes.append(PassInfo("lagrangian bound", "subgradient", "proven", None, bound, time.perf_counter() - b0))
    if prices is not None:  # rank each year's pairs by their reduced profit at the best multipliers
        attempt("lagrange", 0.0, prices)
    _, chosen, when = best
    value, coverage, spend = plan_value(ra, chosen, when)
    bound = max(bound, value)
    gap = relative_gap(value, bound)
    order = np.argsort(chosen, kind="stable")
    chosen, years = chosen[order], ra.years[when[order]]
    status = "optimal" if gap <= mip_gap else "heuristic"
    return SolveResult(status, "rolling-horizon", chosen, value, bound, gap, coverage, spend, build_s,
                       time.perf_counter() - t0 - build_s, passes, years.astype(np.int64))  # fmt: skip
