"""A fast feasible plan under side constraints: regional minimums and technology share caps (single year).

HiGHS may not even finish presolve on a side-constrained model of 20,000 offices within a few seconds (measured:
7 s of probing for a 5 s limit), so the solver needs a plan that does not depend on it: the warm start of its
first pass, and the plan that stands when the time limit leaves HiGHS none. :func:`side_greedy` builds one in
milliseconds, in four steps over each office's cheapest option (by budget cost for max_coverage, by economic
cost for min_cost), techologies capped at 0 excluded:

1. every regional minimum, region by region: offices by USD per weight ascending until the region's share is met;
2. min_cost: the coverage target the same way over all offices; max_coverage: the budget filled by weight per USD;
3. technology caps repaired: offices on an over-cap technology switch to their cheapest option on a technology
   with room (the least extra cost first), or more offices on other technologies are connected, or (when the
   rows allow) the least valuable offices on that technology are dropped;
4. max_coverage: what is left of the budget filled again, within the caps.

The plan is checked against every row (:func:`side_defect`) before it is returned. Its certificate is the bound of
the relaxation without the side rows (the hull greedy's LP bound, :mod:`planner.heuristics.greedy`), for min_cost
tightened by the sum of the regions' own least-cost LP bounds: proven, though looser than HiGHS's.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import pandas as pd

from planner.heuristics.greedy import Hull, greedy_max_coverage, greedy_min_cost, office_hull
from planner.problem import ModelData, ModelSpec

EPS = 1e-9  # relative slack of a row, as the hull greedy's target test


def handles(data: ModelData, spec: ModelSpec) -> bool:
    """Whether :func:`side_greedy` applies: a single-year model with side rows, additive coverage, no shared infra."""
    return (
        spec.roadmap is None
        and data.infra is None
        and spec.metric != "communities"
        and bool(spec.region_min_coverage or spec.technology_max_share or (spec.budget_usd and spec.coverage_target))
    )


def region_needs(data: ModelData, spec: ModelSpec) -> dict[str, float]:
    """Each region's minimum covered weight ``s_r·W_r`` (key ``*`` sets every region), positive ones only."""
    total = data.offices.groupby("region")["weight"].sum()
    mins = spec.region_min_coverage
    out = {}
    for region, weight in total.items():
        share = mins.get(str(region), mins.get("*", 0.0))
        if share > 0:
            out[str(region)] = float(share) * float(weight)
    return out


class _State:
    """The plan being built: one pair (or -1) per office, with its spend and the count per technology."""

    def __init__(self, data: ModelData, spec: ModelSpec) -> None:
        opts = data.options
        self.spec = spec
        self.office = pd.Index(data.offices["office_id"]).get_indexer(opts["office_id"])
        self.w = data.offices["weight"].to_numpy(float)
        self.region = data.offices["region"].astype(str).to_numpy(object)
        self.tech = opts["technology"].astype(str).to_numpy(object)
        self.cost = opts["cost_usd"].to_numpy(float)
        self.econ = data.econ
        self.rank = self.econ if spec.objective == "min_cost" else self.cost
        self.caps = {t: float(s) for t, s in spec.technology_max_share.items()}
        allowed = np.array([self.caps.get(t, 1.0) > 0 for t in self.tech], dtype=bool)
        frame = pd.DataFrame(
            {"office": self.office, "rank": self.rank, "cost": self.cost, "pair": np.arange(len(opts))}
        )
        frame = frame[allowed].sort_values(["office", "rank", "cost", "pair"])
        self.options: dict[int, np.ndarray] = {
            int(cast(int, o)): g.to_numpy(np.int64) for o, g in frame.groupby("office", sort=False)["pair"]
        }
        self.best = np.full(len(self.w), -1, dtype=np.int64)
        for o, pairs in self.options.items():
            self.best[o] = pairs[0]
        self.pick = np.full(len(self.w), -1, dtype=np.int64)
        self.spent = 0.0
        self.n = 0  # offices connected
        self.count: dict[str, int] = {}
        self.budget = math.inf if spec.budget_usd is None else float(spec.budget_usd)

    # -- moves
    def take(self, o: int, p: int) -> None:
        old = self.pick[o]
        if old >= 0:
            self.spent -= self.cost[old]
            self.count[self.tech[old]] -= 1
            self.n -= 1
        self.pick[o] = p
        if p >= 0:
            self.n += 1
            self.spent += self.cost[p]
            self.count[self.tech[p]] = self.count.get(self.tech[p], 0) + 1

    def fits(self, extra: float) -> bool:
        return self.spent + extra <= self.budget * (1 + 1e-12)

    def room(self, t: str, n_after: int, add: int = 1) -> bool:
        """Whether technology t may take ``add`` more offices when ``n_after`` offices are connected."""
        cap = self.caps.get(t)
        return cap is None or self.count.get(t, 0) + add <= cap * n_after + EPS

    def over(self) -> list[str]:
        n = self.n
        return [t for t, cap in sorted(self.caps.items()) if self.count.get(t, 0) > cap * n + EPS]

    def covered(self, mask: np.ndarray | None = None) -> float:
        on = self.pick >= 0 if mask is None else (self.pick >= 0) & mask
        return float(self.w[on].sum())

    # -- steps
    def cover(self, candidates: np.ndarray, need: float) -> bool:
        """Connect ``candidates`` (offices) by USD per weight ascending until ``need`` more weight is covered."""
        if need <= EPS * max(1.0, need):
            return True
        c = candidates[(self.pick[candidates] < 0) & (self.best[candidates] >= 0) & (self.w[candidates] > 0)]
        ratio = self.rank[self.best[c]] / self.w[c]
        order = c[np.lexsort((-self.w[c], ratio))]
        cum = np.cumsum(self.w[order])
        if not len(cum) or cum[-1] < need - EPS * max(1.0, need):
            return False
        k = int(np.searchsorted(cum, need - EPS * max(1.0, need), side="left"))
        for o in order[: k + 1]:
            self.take(int(o), int(self.best[o]))
        return True

    def fill(self) -> None:
        """Connect more offices by weight per USD (free ones first) while the budget and the caps allow."""
        c = np.flatnonzero((self.pick < 0) & (self.best >= 0) & (self.w > 0))
        if not len(c):
            return
        cost = self.cost[self.best[c]]
        order = c[np.lexsort((cost, -self.w[c] / np.maximum(cost, 1e-300)))]
        for o in order:
            for p in self.options[int(o)]:
                if self.fits(self.cost[p]) and self.room(self.tech[p], self.n + 1):
                    self.take(int(o), int(p))
                    break

    def repair_caps(self, region_need: dict[str, float], target: float | None) -> bool:
        """Bring every technology within its cap (switch, connect more, or drop); False when stuck."""
        for _ in range(4 * len(self.w) + 10):
            over = self.over()
            if not over:
                return True
            t = over[0]
            if self._switch(t) or self._extend(t) or self._drop(t, region_need, target):
                continue
            return False
        return False

    def _switch(self, t: str) -> bool:
        """Move offices on t to their cheapest option on a technology with room, the least extra cost first."""
        moves: list[tuple[float, int, int]] = []
        for o in np.flatnonzero(self.pick >= 0):
            cur = self.pick[o]
            if self.tech[cur] != t:
                continue
            for p in self.options[int(o)]:
                if self.tech[p] != t:
                    moves.append((self.rank[p] - self.rank[cur], int(o), int(p)))
                    break  # the office's cheapest other option (a later one would cost more)
        moved = False
        n = self.n
        for _, oi, pi in sorted(moves):
            if self.count.get(t, 0) <= self.caps[t] * n + EPS:
                break
            if self.fits(self.cost[pi] - self.cost[self.pick[oi]]) and self.room(self.tech[pi], n):
                self.take(oi, pi)
                moved = True
        return moved

    def _extend(self, t: str) -> bool:
        """Connect offices on other technologies (raising the number connected) while t is over its cap."""
        c = np.flatnonzero((self.pick < 0) & (self.best >= 0))
        cand: list[tuple[float, int, int]] = []
        for o in c:
            for p in self.options[int(o)]:
                if self.tech[p] != t:
                    cand.append((self.rank[p] / max(self.w[o], 1e-300), int(o), int(p)))
                    break
        added = False
        for _, oi, pi in sorted(cand):
            if self.count.get(t, 0) <= self.caps[t] * self.n + EPS:
                break
            if self.fits(self.cost[pi]) and self.room(self.tech[pi], self.n + 1):
                self.take(oi, pi)
                added = True
        return added

    def _drop(self, t: str, region_need: dict[str, float], target: float | None) -> bool:
        """Drop offices on t, the least weight per USD first, while every region and the target still hold."""
        on = np.flatnonzero(self.pick >= 0)
        on = on[self.tech[self.pick[on]] == t]
        if not len(on):
            return False
        order = on[np.argsort(self.w[on] / np.maximum(self.cost[self.pick[on]], 1e-300), kind="stable")]
        covered = self.covered()
        by_region = {r: self.covered(self.region == r) for r in region_need}
        dropped = False
        for o in order:
            if self.count.get(t, 0) <= self.caps[t] * self.n + EPS:
                break
            r, w = self.region[o], self.w[o]
            if r in by_region and by_region[r] - w < region_need[r] - EPS * max(1.0, region_need[r]):
                continue
            if target is not None and covered - w < target - EPS * max(1.0, target):
                continue
            self.take(int(o), -1)
            covered -= w
            if r in by_region:
                by_region[r] -= w
            dropped = True
        return dropped


def side_defect(data: ModelData, spec: ModelSpec, chosen: np.ndarray) -> str | None:
    """Which row of a single-year spec the plan ``chosen`` (pair indices) violates, or None."""
    opts = data.options.iloc[chosen]
    if opts["office_id"].duplicated().any():
        return "an office has two technologies"
    weight = data.offices.set_index("office_id")["weight"]
    w = weight.reindex(opts["office_id"]).to_numpy(float)
    cost = float(opts["cost_usd"].sum())
    if spec.budget_usd is not None and cost > spec.budget_usd * (1 + 1e-12):
        return f"cost {cost:.2f} over the budget {spec.budget_usd:.2f}"
    if spec.coverage_target is not None:
        need = spec.coverage_target * data.total_weight(spec.metric)
        if w.sum() < need - EPS * max(1.0, need):
            return "under the coverage target"
    region = data.offices.set_index("office_id")["region"].astype(str).reindex(opts["office_id"]).to_numpy(object)
    for r, need in region_needs(data, spec).items():
        if w[region == r].sum() < need - EPS * max(1.0, need):
            return f"under the minimum of region {r}"
    n = len(opts)
    counts = opts["technology"].astype(str).value_counts()
    for t, cap in spec.technology_max_share.items():
        if int(counts.get(t, 0)) > cap * n + EPS:
            return f"technology {t} over its cap"
    return None


def side_bound(data: ModelData, spec: ModelSpec) -> float:
    """A proven bound on the primary objective of a single-year spec: its relaxation without the side rows.

    max_coverage: the hull greedy's LP bound within the budget (or every reachable weight without one); min_cost: the
    larger of the target's least-cost LP bound and the sum of every region's own least-cost LP bound (the regions'
    offices are disjoint), in USD of economic cost.
    """
    if spec.objective == "max_coverage":
        return greedy_max_coverage(office_hull(data), spec.budget_usd)[2]
    hull = office_hull(data, economic=True)
    bound = 0.0
    if spec.coverage_target is not None:
        g = greedy_min_cost(hull, spec.coverage_target * data.total_weight(spec.metric))
        bound = g[2] if g is not None else math.inf
    region_of = data.offices.set_index("office_id")["region"].astype(str)
    hull_region = region_of.reindex(data.options["office_id"].to_numpy()[hull.pair]).to_numpy(object)
    total = 0.0
    for r, need in region_needs(data, spec).items():
        keep = hull_region == r
        g = greedy_min_cost(Hull(hull.pair[keep], hull.cost[keep], hull.weight[keep]), need)
        total += g[2] if g is not None else math.inf
    return max(bound, total)


def side_greedy(data: ModelData, spec: ModelSpec) -> tuple[np.ndarray, float, float] | None:
    """A feasible plan of a single-year side-constrained spec (module docstring), or None when none was found.

    Returns (chosen pairs, primary value, proven bound): coverage weight for max_coverage, economic cost (USD) for
    min_cost. None is no proof of infeasibility: the exact model decides.
    """
    if data.options.empty or not handles(data, spec):
        return None
    s = _State(data, spec)
    need = region_needs(data, spec)
    for r, amount in need.items():
        if not s.cover(np.flatnonzero(s.region == r), amount):
            return None
    target = None
    if spec.objective == "min_cost" and spec.coverage_target is not None:
        target = spec.coverage_target * data.total_weight(spec.metric)
        if not s.cover(np.arange(len(s.w)), target - s.covered()):
            return None
    if not s.fits(0.0):
        return None
    if spec.objective == "max_coverage":
        s.fill()
    if not s.repair_caps(need, target):
        return None
    if spec.objective == "max_coverage":
        s.fill()
    chosen = np.sort(s.pick[s.pick >= 0]).astype(np.int64)
    if side_defect(data, spec, chosen) is not None:
        return None
    value = s.covered() if spec.objective == "max_coverage" else float(s.econ[chosen].sum())
    return chosen, value, side_bound(data, spec)
