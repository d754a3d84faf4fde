"""The certified hull greedy: the fast path of the plain model and the one ratio order of greedy, sweep and pool.

In the plain model (one budget row or one target row, coverage additive over offices) coverage depends on the
office, not on the technology, so each office's (cost, coverage) convex hull has a single vertex besides the
origin: its cheapest eligible option. The model then reduces to a 0/1 knapsack whose LP relaxation the ratio
greedy solves exactly (Dantzig): that LP value is a *proven* bound, and the greedy's integer rounding is a plan
whose gap to the bound is certified (DESIGN §5 "How it is solved"). :func:`fill_by_ratio` and
:func:`cover_by_ratio` take items already sorted, so the sweep's frontier and the pooled countries reuse the
same order and sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.data import cheapest_rows, gather, key_positions
from planner.heuristics.knapsack import best_subset
from planner.problem import ModelData, relative_gap

Certificate = tuple[np.ndarray, float, float]  # (chosen pairs, value, proven bound): what every greedy returns


@dataclass
class Hull:
    """Per office with an eligible option: its cheapest option (pair index), cost (USD) and weight."""

    pair: np.ndarray
    cost: np.ndarray
    weight: np.ndarray


def office_hull(data: ModelData, economic: bool = False) -> Hull:
    """The cheapest eligible option of each office: the only hull vertex, since coverage is per office.

    Cheapest by the budget cost (``cost_usd``: the knapsack of max_coverage), or with ``economic`` by the
    economic cost (``ModelData.econ``: what min_cost minimises).
    """
    opts = data.options
    if opts.empty:
        return Hull(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    cost = data.econ if economic else opts["cost_usd"].to_numpy(float)
    at = data.office_position()
    weight = data.offices["weight"].to_numpy(float)
    if (at < 0).any() or np.isnan(cost).any():  # an office the offices table lacks (its weight: NaN), NaN costs
        best = pd.Series(cost).groupby(opts["office_id"].to_numpy(), sort=False).idxmin()
        pairs = best.to_numpy(np.int64)
        return Hull(pairs, cost[pairs], gather(weight, key_positions(data.offices["office_id"], best.index), np.nan))
    pairs = cheapest_rows(at, cost)  # offices in the order they first appear, as groupby gives them
    return Hull(pairs, cost[pairs], weight[at[pairs]])


def economic_swap(data: ModelData, chosen: np.ndarray) -> np.ndarray:
    """The plan with each office moved to its least economic-cost option that costs no more budget.

    The max-coverage greedy picks each office's cheapest option by budget cost; when the economic cost
    (cost_basis) ranks the options differently, an office may switch to an option with a strictly lower
    economic cost and a budget cost no higher than its pick's: coverage and feasibility stay, the least-cost
    tie-break improves. When the economic cost is the budget cost no pick changes.
    """
    if not len(chosen):
        return chosen
    opts = data.options
    cost, econ = opts["cost_usd"].to_numpy(float), data.econ
    chosen = np.asarray(chosen, dtype=np.int64)
    office_at = data.office_position()
    if (office_at < 0).any():  # an office the offices table lacks: by office_id
        office = opts["office_id"]
        at = key_positions(office.iloc[chosen].reset_index(drop=True), office)  # each pair's office's pick (-1: none)
    else:
        pick_of = np.full(len(data.offices), -1, dtype=np.int64)  # per office: its pick's position in chosen
        pick_of[office_at[chosen][::-1]] = np.arange(len(chosen))[::-1]  # the first pick where one office has two
        at = pick_of[office_at]
    rows = np.flatnonzero(at >= 0)
    pick = at[rows]
    own = chosen[pick]
    ok = (cost[rows] <= cost[own]) & (econ[rows] < econ[own])
    if not ok.any():
        return chosen
    rows, pick = rows[ok], pick[ok]
    # per office the least economic cost, the first pair among ties (rows in pair order)
    best = cheapest_rows(pick, econ[rows])
    out = chosen.copy()
    out[pick[best]] = rows[best]
    return np.sort(out)


@dataclass
class RatioOrder:
    """A hull's offices of positive weight: the free ones (cost 0) apart, the others in one ratio order.

    ``free_pairs``/``free_weight``: pairs costing nothing and their total weight; ``pairs``, ``cost`` (USD) and
    ``weight``: the priced ones, sorted. The greedy, the sweep's frontier and the pooled countries all take
    their order from here, so they agree to the last tie.
    """

    free_pairs: np.ndarray
    free_weight: float
    pairs: np.ndarray
    cost: np.ndarray
    weight: np.ndarray
    total_weight: float  # free and priced together, summed in hull order


def _split(hull: Hull) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    keep = hull.weight > 0
    pair, cost, weight = hull.pair[keep], hull.cost[keep], hull.weight[keep]
    return pair, cost, weight, cost <= 0


def by_coverage_per_usd(hull: Hull) -> RatioOrder:
    """Priced offices by weight per USD descending, the cheaper first on ties (the max-coverage order)."""
    pair, cost, weight, free = _split(hull)
    p, c, w = pair[~free], cost[~free], weight[~free]
    order = np.lexsort((c, -(w / c)))
    return RatioOrder(pair[free], float(weight[free].sum()), p[order], c[order], w[order], float(weight.sum()))


def by_usd_per_coverage(hull: Hull) -> RatioOrder:
    """Priced offices by USD per weight ascending, the heavier first on ties (the min-cost order)."""
    pair, cost, weight, free = _split(hull)
    p, c, w = pair[~free], cost[~free], weight[~free]
    order = np.lexsort((-w, c / w))
    return RatioOrder(pair[free], float(weight[free].sum()), p[order], c[order], w[order], float(weight.sum()))


def greedy_max_coverage(hull: Hull, budget: float | None, improve_above: float | None = None) -> Certificate:
    """Max Σw s.t. Σc <= budget over offices' cheapest options. Returns (chosen pairs, value, LP bound).

    Free options (cost 0) are taken first; then by weight/cost descending. The LP optimum takes that prefix
    plus a fraction of the first item that does not fit: the bound. The plan takes the prefix, then any later
    item that still fits, in ratio order. With ``improve_above``, a plan whose gap exceeds it goes on to the core
    search (:func:`improve_fill`).
    """
    if budget is None or not np.isfinite(budget):
        keep = hull.weight > 0
        total = float(hull.weight[keep].sum())
        return hull.pair[keep], total, total
    o = by_coverage_per_usd(hull)
    g = fill_by_ratio(o.pairs, o.cost, o.weight, np.cumsum(o.cost), float(budget), o.free_pairs, o.free_weight)
    return improve_fill(o, float(budget), g, improve_above)


def improve_fill(o: RatioOrder, room: float, greedy: Certificate, improve_above: float | None) -> Certificate:
    """The max-coverage greedy's plan after the core search when its gap is above ``improve_above``.

    ``improve_above`` None: the greedy as it is. The core search (:mod:`planner.heuristics.knapsack`) keeps the
    free pairs and never returns a worse plan; when it proves its plan optimal the bound becomes the plan's value,
    else the LP bound stands.
    """
    chosen, value, bound = greedy
    if improve_above is None or relative_gap(value, bound) <= improve_above or not len(o.pairs):
        return greedy
    r = best_subset(o.weight, o.cost, room, np.isin(o.pairs, chosen))
    plan = np.concatenate([o.free_pairs, o.pairs[r.take]]).astype(np.int64) if r.improved else chosen
    found = o.free_weight + r.value if r.improved else value
    return plan, found, (found if r.proven else min(bound, o.free_weight + r.bound))


def fill_by_ratio(
    p: np.ndarray, c: np.ndarray, w: np.ndarray, cum: np.ndarray, room: float, free: np.ndarray, value: float
) -> tuple[np.ndarray, float, float]:
    """The max-coverage greedy over items already sorted by weight per USD, within ``room`` USD.

    Items are pairs p, costs c, weights w and cumulative costs cum, taken after the free pairs worth ``value``. Returns
    (chosen pairs, value, LP bound).
    """
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


def greedy_min_cost(hull: Hull, target: float, improve_above: float | None = None) -> Certificate | None:
    """Min Σc s.t. Σw >= target. Returns (chosen pairs, cost, LP bound), or None when unreachable.

    Free options are taken (ties toward more coverage), then by cost/weight ascending until the target is
    met: the LP bound pays a fraction of the last item. The plan pays it whole, then drops the most expensive
    items whose weight the surplus coverage can spare. With ``improve_above``, a plan whose gap exceeds it goes
    on to the core search (:func:`improve_cover`).
    """
    o = by_usd_per_coverage(hull)
    if o.total_weight < target - 1e-9 * max(1.0, target):
        return None
    if o.free_weight >= target:
        return o.free_pairs.astype(np.int64), 0.0, 0.0
    g = cover_by_ratio(o.pairs, o.cost, o.weight, np.cumsum(o.weight), target, o.free_pairs, o.free_weight)
    return improve_cover(o, target, g, improve_above)


def improve_cover(o: RatioOrder, target: float, greedy: Certificate, improve_above: float | None) -> Certificate:
    """The min-cost greedy's plan after the core search when its gap is above ``improve_above`` (None: as it is).

    Covering at least ``target`` at least cost is leaving out the priced items of most cost whose weight the
    coverage can spare: a knapsack over the left-out items (value: cost, weight: coverage, capacity: the coverage
    beyond the target), searched by :func:`planner.heuristics.knapsack.best_subset`. The same tolerance on the
    target as :func:`cover_by_ratio`.
    """
    chosen, cost, bound = greedy
    if improve_above is None or relative_gap(cost, bound) <= improve_above or not len(o.pairs):
        return greedy
    spare = o.free_weight + float(o.weight.sum()) - (target - 1e-9 * max(1.0, target))
    r = best_subset(o.cost, o.weight, max(spare, 0.0), ~np.isin(o.pairs, chosen))
    if not r.improved:
        return chosen, cost, (cost if r.proven else bound)
    take = ~r.take
    found = float(o.cost[take].sum())
    plan = np.concatenate([o.free_pairs, o.pairs[take]]).astype(np.int64)
    return plan, found, (found if r.proven else bound)


def cover_by_ratio(
    p: np.ndarray, c: np.ndarray, w: np.ndarray, cumw: np.ndarray, target: float, free: np.ndarray, covered: float
) -> tuple[np.ndarray, float, float]:
    """The min-cost greedy over items already sorted by USD per weight, until ``target`` weight is covered.

    Items are pairs p, costs c, weights w and cumulative weights cumw, taken after the free pairs covering ``covered``:
    the prefix that reaches the target, minus the costliest items the surplus can spare. Returns (chosen pairs, cost, LP
    bound).
    """
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
