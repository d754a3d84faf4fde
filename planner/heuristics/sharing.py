"""The shared-infrastructure heuristic: plan alone, then share (docs/shared-infrastructure.md).

For instances whose exact model (``planner.optimize.model.add_fibre_network`` and friends) is too large for HiGHS
within the time limit, and as the warm start of the exact model. No Pyomo here: it calls the certified stand-alone
solver it is given (:class:`ExactSolvers`, from :mod:`planner.optimize.solve`) and works on the candidate tables
of :class:`planner.network.SharedInfra`.

0. **LP start** (when ``ExactSolvers.relax`` is given and its LP solved): the cut LP's solution rounded at 0.5 and
   repaired (fibre offices off the rounded trenches, relays without a fibre hub, site pairs without a site
   dropped; with a budget, the least coverage per dollar dropped until it fits), then steps 4-5.
1. Plan with stand-alone costs (every fibre office digs its own trench; no site, no relay): certified.
2. **Path moves**: from the current fibre tree (the backbone at first), search the cheapest trench path to
   every node on arc costs discounted by the saving at their head office (``max(w − prize, 0)``), then price
   each path exactly along the search tree: what the connected offices on it save by switching to fibre, minus
   the trench. Build the best positive one; repeat. This finds chains of villages that fibre pays for only
   together.
3. Join every fibre office by one least-cost Steiner tree (:func:`planner.optimize.steiner.steiner_tree`, fibre nodes
   merged into a super-root) when that is cheaper than the trenches built.
4. Offices in hop range of a fibre office switch to a microwave relay when cheaper; new tower sites open
   greedily while one saves more than it costs.
5. With a budget, spend what is left: each step takes the best coverage per dollar among the unconnected
   offices' usable options (stand-alone, relay off a fibre office, 4G on an opened site) and the trench paths
   from the tree (coverage of the unconnected offices along the path per dollar of trench and terminals).

Steps 1-5 are the second start; the better of the two plans is returned. One deadline (the time limit) covers
every step, each stopped by it leaving a feasible plan.

The bound: the pairs at their own costs (trenches and sites free) relax the shared model, so their hull-greedy
LP bound is proven but loose; the cut LP's bound (:mod:`planner.optimize.shared`) is tighter, and the tighter of
the two is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from planner.heuristics.greedy import greedy_max_coverage, greedy_min_cost, office_hull
from planner.problem import (
    ModelData,
    ModelSpec,
    PassInfo,
    RelaxationResult,
    SolveResult,
    built_infrastructure,
    economic_cost,
    objective_values,
    relative_gap,
)
from planner.scenario import SolverSettings

if TYPE_CHECKING:  # networkx is imported where a Steiner tree is built: most runs never need it
    import networkx as nx

RELAX_SHARE = 0.5  # share of the time limit the cut LP may take (it stops with the bound of its last round)
# Seconds of the step-3 Steiner tree per candidate arc: 49 s for the 54,116 arcs of benchmarks/sharing.py's 4x
# synthetic instance, its reductions overrunning a 15 s limit (planner estimate from that one measurement).
STEINER_S_PER_ARC = 1e-3
# a completed plan: chosen pairs, arcs, sites, coverage, cost (USD, budget basis), objective value
Completed = tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float]
_EPS = 1e-9  # csgraph treats a stored 0 as "no edge": discounted weights never go below this


@dataclass(frozen=True)
class ExactSolvers:
    """The exact solvers the heuristic calls, handed in by the solver layer (:mod:`planner.optimize.solve`).

    Handing them in means this module imports neither Pyomo nor HiGHS.

    ``plain``: the certified solver of a spec without shared infrastructure (raises
    :class:`planner.problem.NoFeasiblePlan` when it has no plan); ``steiner``: the Steiner tree solver
    (graph, terminals, ``time_limit_s``) returning the tree with ``graph.graph["cost"]``; ``relax``: the
    cut-strengthened LP relaxation of the shared model (data, spec, deadline as :func:`time.monotonic`), whose
    bound the heuristic reports and whose solution seeds its second start.
    """

    plain: Callable[[ModelData, ModelSpec, SolverSettings], SolveResult]
    steiner: Callable[..., nx.Graph]
    relax: Callable[[ModelData, ModelSpec, float | None], RelaxationResult | None] | None = None


class _Forest:
    """The fibre tree being grown, with arrays for fast path searches on the candidate graph."""

    def __init__(self, data: ModelData, current: dict[str, int]) -> None:
        infra = data.infra
        assert infra is not None
        self.data, self.current = data, current
        self.shared = data.shared
        self.cost = data.options["cost_usd"].to_numpy(float)
        offices = data.options["office_id"].to_numpy(object)
        self.fibre_row = {offices[p]: int(p) for p in range(len(offices)) if self.shared[p] == "fibre"}
        nodes, arcs = infra.nodes, infra.arcs
        self.n = len(nodes)
        self.tail = arcs["tail"].to_numpy(np.int64)
        self.head = arcs["head"].to_numpy(np.int64)
        self.w = arcs["cost_usd"].to_numpy(float)
        self.arc_at = {(int(t), int(h)): k for k, (t, h) in enumerate(zip(self.tail, self.head, strict=True))}
        self.office_at = np.full(self.n, None, dtype=object)
        is_office = (nodes["kind"] == "office").to_numpy()
        self.office_at[nodes["node"].to_numpy(np.int64)[is_office]] = nodes["ref"].to_numpy(object)[is_office]
        self.node_of = {o: int(v) for v, o in enumerate(self.office_at) if o is not None}
        self.is_root = (nodes["kind"] == "fibre_node").to_numpy()
        self.in_tree = self.is_root.copy()
        self.arcs: set[int] = set()
        self.weight = dict(zip(data.offices["office_id"], data.offices["weight"], strict=True))

    def prize(self) -> np.ndarray:
        """Per node: what its connected office saves by switching to fibre (USD, >= 0)."""
        out = np.zeros(self.n)
        for o, p in self.current.items():
            if o in self.fibre_row and self.shared[p] != "fibre" and o in self.node_of:
                out[self.node_of[o]] = max(self.cost[p] - self.cost[self.fibre_row[o]], 0.0)
        return out

    def search(self, discount: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances and predecessors from the tree on arc weights ``max(w − discount[head], ε)``."""
        import scipy.sparse as sp  # imported here, as networkx: a run without shared fibre never loads them
        from scipy.sparse.csgraph import dijkstra

        weights = np.maximum(self.w - discount[self.head], _EPS)
        graph = sp.csr_matrix((weights, (self.tail, self.head)), shape=(self.n, self.n))
        sources = np.flatnonzero(self.in_tree)
        dist, pred, _ = dijkstra(graph, indices=sources, min_only=True, return_predecessors=True)
        return dist, pred

    def order(self, dist: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Reached non-tree nodes in the order of the search (each after its predecessor)."""
        reach = np.flatnonzero(np.isfinite(dist) & ~self.in_tree & (pred >= 0))
        return reach[np.argsort(dist[reach], kind="stable")]

    def build(self, v: int, pred: np.ndarray) -> None:
        """Build the path from the tree to node v; offices on it that can take fibre switch or connect."""
        while not self.in_tree[v]:
            u = int(pred[v])
            self.arcs.add(self.arc_at[(u, v)])
            self.in_tree[v] = True
            office = self.office_at[v]
            if office is not None and office in self.fibre_row:
                now = self.current.get(office)
                if now is None or self.cost[self.fibre_row[office]] < self.cost[now]:
                    self.current[office] = self.fibre_row[office]
            v = u

    def switch_moves(self, deadline: float) -> None:
        """Step 2: build the best path with a positive saving while there is one (connected offices only).

        Stops at ``deadline`` (:func:`time.monotonic`): every path built so far leaves a feasible plan.
        """
        for _ in range(self.n):
            if time.monotonic() > deadline:
                return
            prize = self.prize()
            if not prize.any():
                return
            dist, pred = self.search(prize)
            gain = np.full(self.n, -np.inf)
            gain[self.in_tree] = 0.0
            best, best_gain = -1, 1e-6
            for v in self.order(dist, pred):
                u = int(pred[v])
                gain[v] = gain[u] - self.w[self.arc_at[(u, v)]] + prize[v]
                if prize[v] > 0 and gain[v] > best_gain:
                    best, best_gain = int(v), float(gain[v])
            if best < 0:
                return
            self.build(best, pred)

    def best_extension(self, left: float) -> tuple[float, int, np.ndarray, float]:
        """Step 5: the trench path with the most coverage per dollar that fits in ``left`` USD.

        Returns (ratio, end node, predecessors, cost); ratio 0 when none.
        """
        unconnected = np.zeros(self.n)
        own = np.zeros(self.n)
        for o, p in self.fibre_row.items():
            if o not in self.current and o in self.node_of:
                unconnected[self.node_of[o]] = self.weight[o]
                own[self.node_of[o]] = self.cost[p]
        if not unconnected.any():
            return 0.0, -1, np.zeros(0), 0.0
        prize = self.prize()
        dist, pred = self.search(prize)
        gained = np.zeros(self.n)
        spent = np.zeros(self.n)
        best = (0.0, -1, pred, 0.0)
        for v in self.order(dist, pred):
            u = int(pred[v])
            gained[v] = gained[u] + unconnected[v]
            spent[v] = spent[u] + self.w[self.arc_at[(u, v)]] + own[v] - prize[v]
            if unconnected[v] > 0 and spent[v] <= left + 1e-9:
                ratio = gained[v] / max(spent[v], 1e-9)
                if ratio > best[0]:
                    best = (ratio, int(v), pred, float(spent[v]))
        return best

    def steiner(self, limit_s: float, steiner_tree: Callable[..., nx.Graph]) -> None:
        """Step 3: replace the tree by a least-cost Steiner tree of its fibre offices when cheaper (in ``limit_s``)."""
        terminals = [self.node_of[o] for o, p in self.current.items() if self.shared[p] == "fibre"]
        if not terminals or not self.arcs or limit_s < 0.5:
            return
        import networkx as nx

        g = nx.Graph()
        arc_of: dict[tuple[int, int], int] = {}
        for k in range(len(self.w)):
            a = -1 if self.is_root[self.tail[k]] else int(self.tail[k])
            key = (min(a, int(self.head[k])), max(a, int(self.head[k])))
            if not g.has_edge(*key) or g.edges[key]["weight"] > self.w[k]:
                g.add_edge(*key, weight=float(self.w[k]))
                arc_of[key] = k
        tree = steiner_tree(g, [-1, *terminals], time_limit_s=limit_s)
        if tree.graph["cost"] >= float(self.w[list(self.arcs)].sum()) - 1e-6:
            return
        self.arcs = set()
        for u, v in nx.bfs_edges(tree, -1):
            self.arcs.add(arc_of[(min(u, v), max(u, v))] if u == -1 else self.arc_at[(u, v)])
        # The tree's node set changed: later paths must start from (and never re-enter) this tree.
        self.in_tree = self.is_root.copy()
        self.in_tree[self.head[list(self.arcs)]] = True


def shared_heuristic(data: ModelData, spec: ModelSpec, settings: SolverSettings, exact: ExactSolvers) -> SolveResult:
    """Solve a plain spec with shared infrastructure by the heuristic of the module docstring.

    Calls the ``exact`` solvers for the stand-alone plan (step 1) and the Steiner tree (step 3).
    """
    t0 = time.perf_counter()
    deadline = time.monotonic() + settings.time_limit_s
    infra = data.infra
    assert infra is not None
    shared = data.shared
    starts: list[Completed] = []
    relaxation = None
    if exact.relax is not None:  # the cut-strengthened LP: the bound, and a start from its rounded solution
        relaxation = exact.relax(data, spec, time.monotonic() + RELAX_SHARE * settings.time_limit_s)
        seeded = _lp_start(data, spec, relaxation) if relaxation is not None else None
        if seeded is not None:
            starts.append(_complete(data, spec, *seeded, deadline))
    offices = data.options["office_id"].to_numpy(object)
    arcs = infra.arcs
    direct = {o: int(k) for o, k in zip(arcs["direct_for"], arcs["arc"], strict=True) if o} if len(arcs) else {}
    alone = (shared == "") | ((shared == "fibre") & np.isin(offices, list(direct)))
    rows = np.flatnonzero(alone)
    sub = ModelData(data.options.iloc[rows].reset_index(drop=True), data.offices)
    sub.options["cost_usd"] = sub.options["standalone_cost_usd"].fillna(sub.options["cost_usd"])
    if "standalone_econ_usd" in sub.options:  # alone, a fibre office also pays its trench's economic cost
        sub.options["econ_cost_usd"] = sub.options["standalone_econ_usd"].fillna(sub.options["econ_cost_usd"])
    first = exact.plain(sub, spec, settings)
    current = {offices[p]: int(p) for p in rows[first.chosen]}
    forest = _Forest(data, current)
    for o, p in current.items():  # stand-alone fibre offices start on their direct trench
        if shared[p] == "fibre":
            k = direct[o]
            forest.arcs.add(k)
            forest.in_tree[int(cast(int, arcs["head"].iat[k]))] = True
    if len(arcs):
        forest.switch_moves(deadline)
        limit = min(0.25 * settings.time_limit_s, 30.0, 0.5 * (deadline - time.monotonic()))
        # with an LP-seeded start, skip a Steiner step that would likely overrun its limit (its reductions can)
        if not starts or len(arcs) * STEINER_S_PER_ARC <= limit:
            forest.steiner(limit, exact.steiner)
    starts.append(_complete(data, spec, forest, [], deadline))
    best = (max if spec.objective == "max_coverage" else min)(starts, key=lambda s: s[5])
    chosen, arcs_kept, sites_kept, cov, total, value = best
    W = data.total_weight(spec.metric)
    if spec.objective == "max_coverage":
        bound = float(greedy_max_coverage(office_hull(data), spec.budget_usd)[2])
        if relaxation is not None:
            bound = min(bound, relaxation.bound)
    else:
        low = greedy_min_cost(office_hull(data, economic=True), (spec.coverage_target or 0.0) * W)
        bound = float(low[2]) if low is not None else value
        if relaxation is not None:
            bound = max(bound, relaxation.bound)
    seconds = time.perf_counter() - t0
    passes = list(first.passes)
    if relaxation is not None:
        status = "converged" if relaxation.converged else "stopped"
        note = f"cut LP ({relaxation.rounds} rounds, {len(relaxation.cuts)} cuts, {status})"
        passes.append(PassInfo(note, "lp", status, None, relaxation.bound, relaxation.seconds))
    passes.append(PassInfo("shared heuristic", "heuristic", "feasible", value, bound, seconds))
    gap = relative_gap(value, bound)
    status = "optimal" if gap <= settings.mip_gap else "time_limit"
    return SolveResult(status, "shared-heuristic", chosen, value, bound, gap, cov, total, 0.0, seconds, passes,
                       None, arcs_kept, sites_kept)  # fmt: skip


def _complete(data: ModelData, spec: ModelSpec, forest: _Forest, sites: list[int], deadline: float) -> Completed:
    """Steps 4-5 on a grown fibre tree; returns (chosen pairs, arcs, sites, coverage, cost USD, objective value).

    Step 5 stops at ``deadline`` (:func:`time.monotonic`), leaving a feasible plan.
    """
    current = forest.current
    _relay_switch(data, current)
    sites = _open_sites(data, current, sites)
    if spec.objective == "max_coverage":
        _spend(data, forest, sites, spec.budget_usd or 0.0, deadline)
    chosen = np.array(sorted(current.values()), dtype=np.int64)
    arcs_kept, sites_kept, infra_cost = built_infrastructure(
        data, chosen, np.array(sorted(forest.arcs), dtype=np.int64), np.array(sites, dtype=np.int64)
    )
    cov, total = objective_values(data, spec.metric, chosen)
    total += infra_cost
    if spec.objective == "max_coverage":
        value = cov
    else:
        value = economic_cost(data, chosen, arcs_kept, sites_kept)
        if cov < (spec.coverage_target or 0.0) * data.total_weight(spec.metric) * (1 - 1e-12):
            value = np.inf  # never preferred: the stand-alone start meets the target
    return chosen, arcs_kept, sites_kept, cov, total, value


def _lp_start(data: ModelData, spec: ModelSpec, relaxation: RelaxationResult) -> tuple[_Forest, list[int]] | None:
    """A plan rounded from the relaxation's LP solution: pairs, arcs and sites at >= 0.5, repaired to be feasible.

    Fibre offices whose rounded trenches do not reach the backbone, relays without a fibre hub and new-site pairs
    without an opened site are dropped; with a budget, the offices with the least coverage per dollar of their own
    cost are dropped until the plan fits. None when nothing is left or a coverage target is missed.
    """
    infra = data.infra
    assert infra is not None
    if relaxation.x is None or relaxation.arcs is None:
        return None
    x = relaxation.x
    shared = data.shared
    offices = data.options["office_id"].to_numpy(object)
    cost = data.options["cost_usd"].to_numpy(float)
    current: dict[str, int] = {}
    for q in np.flatnonzero(x >= 0.5):
        o = offices[q]
        if o not in current or x[q] > x[current[o]]:
            current[o] = int(q)
    arcs = np.flatnonzero(relaxation.arcs >= 0.5)
    roots = set(infra.nodes.loc[infra.nodes["kind"] == "fibre_node", "node"].astype(int))
    tail = infra.arcs["tail"].to_numpy(np.int64)
    fibre = [o for o, p in current.items() if shared[p] == "fibre"]
    for o, path in infra.paths(arcs, fibre).items():
        if not path or int(tail[path[-1]]) not in roots:
            del current[o]
    fibre_now = {o for o, p in current.items() if shared[p] == "fibre"}
    hub_ok = set(infra.relays.loc[infra.relays["hub_office_id"].isin(fibre_now), "office_id"])
    z = relaxation.sites
    sites = [int(s) for s in np.flatnonzero(z >= 0.5)] if z is not None and len(z) else []
    site_ok = set(infra.site_cover.loc[infra.site_cover["site"].isin(sites), "office_id"])
    for o, p in list(current.items()):
        if (shared[p] == "relay" and o not in hub_ok) or (shared[p] == "site" and o not in site_ok):
            del current[o]
    weight = dict(zip(data.offices["office_id"], data.offices["weight"], strict=True))
    if spec.budget_usd is not None:
        while current:
            chosen = np.array(sorted(current.values()), dtype=np.int64)
            _, _, infra_cost = built_infrastructure(data, chosen, arcs, np.array(sites, dtype=np.int64))
            if float(cost[chosen].sum()) + infra_cost <= spec.budget_usd + 1e-6:
                break
            # an office that relays feed is kept as long as another office can go first
            hubs = set(infra.relays.loc[infra.relays["office_id"].isin(list(current)), "hub_office_id"])
            drop = min(current, key=lambda o: (o in hubs, weight[o] / max(cost[current[o]], 1e-9), o))
            del current[drop]
        # relays whose hub was dropped
        fibre_now = {o for o, p in current.items() if shared[p] == "fibre"}
        hub_ok = set(infra.relays.loc[infra.relays["hub_office_id"].isin(fibre_now), "office_id"])
        for o, p in list(current.items()):
            if shared[p] == "relay" and o not in hub_ok:
                del current[o]
    if not current:
        return None
    forest = _Forest(data, current)
    chosen = np.array(sorted(current.values()), dtype=np.int64)
    kept, site_kept, _ = built_infrastructure(data, chosen, arcs, np.array(sites, dtype=np.int64))
    forest.arcs = set(int(k) for k in kept)
    forest.in_tree[forest.head[kept]] = True
    return forest, [int(s) for s in site_kept]


def _relay_switch(data: ModelData, current: dict[str, int]) -> None:
    """Offices in hop range of a fibre office switch to a microwave relay when it is cheaper (in place).

    A fibre office that feeds a relay stays on fibre, and one that switches no longer feeds any: no relay is left
    without its hub.
    """
    infra = data.infra
    assert infra is not None
    shared = data.shared
    offices = data.options["office_id"].to_numpy(object)
    cost = data.options["cost_usd"].to_numpy(float)
    relay_row = {offices[p]: p for p in range(len(offices)) if shared[p] == "relay"}
    fibre_offices = {o for o, p in current.items() if shared[p] == "fibre"}
    hubs_of = infra.relays.groupby("office_id")["hub_office_id"].apply(list).to_dict() if len(infra.relays) else {}
    feeding: set[str] = set()  # fibre offices that feed a relay: they stay on fibre
    for o, p in current.items():  # relays already in the plan keep a hub
        hub = next((h for h in sorted(hubs_of.get(o, [])) if h in fibre_offices), None)
        if shared[p] == "relay" and hub is not None:
            feeding.add(hub)
    for o, p in list(current.items()):
        if o in relay_row and o not in feeding and cost[relay_row[o]] < cost[p]:
            hub = next((h for h in sorted(hubs_of.get(o, [])) if h in fibre_offices and h != o), None)
            if hub is not None:
                current[o] = relay_row[o]
                fibre_offices.discard(o)
                feeding.add(hub)


def _open_sites(data: ModelData, current: dict[str, int], opened: list[int]) -> list[int]:
    """Open the site with the largest net saving while one saves money; returns the sites open (``opened`` first).

    A site's offices switch to 4G on it when cheaper than their current option (``current`` updated in place).
    """
    infra = data.infra
    assert infra is not None
    shared = data.shared
    offices = data.options["office_id"].to_numpy(object)
    site_rows = {offices[p]: p for p in range(len(offices)) if shared[p] == "site"}
    if not site_rows or infra.sites.empty:
        return list(opened)
    cost = data.options["cost_usd"].to_numpy(float)
    cover = cast(dict[int, list[str]], infra.site_cover.groupby("site")["office_id"].apply(list).to_dict())
    site_cost = infra.sites["cost_usd"].to_numpy(float)
    opened = list(opened)
    while True:
        best, best_save = None, 1e-6
        for s, members in cover.items():
            if s in opened:
                continue
            save = -site_cost[s]
            for o in members:  # fibre offices stay (they may carry trenches or relays)
                if o in current and o in site_rows and shared[current[o]] not in ("site", "fibre"):
                    save += max(cost[current[o]] - cost[site_rows[o]], 0.0)
            if save > best_save:
                best, best_save = s, save
        if best is None:
            return opened
        opened.append(int(best))
        for o in cover[best]:
            if (
                o in current
                and o in site_rows
                and shared[current[o]] != "fibre"
                and cost[site_rows[o]] < cost[current[o]]
            ):
                current[o] = site_rows[o]


def _spend(data: ModelData, forest: _Forest, sites: list[int], budget: float, deadline: float) -> None:
    """Step 5: connect more offices with the money left, best coverage per dollar first (in place), to ``deadline``."""
    infra = data.infra
    assert infra is not None
    shared = data.shared
    current = forest.current
    cost = data.options["cost_usd"].to_numpy(float)
    offices = data.options["office_id"].to_numpy(object)
    site_ok = set(infra.site_cover.loc[infra.site_cover["site"].isin(sites), "office_id"])
    weight = forest.weight

    def left() -> float:
        spent = sum(cost[p] for p in current.values()) + float(forest.w[list(forest.arcs)].sum())
        return budget - spent - float(infra.sites["cost_usd"].to_numpy(float)[sites].sum())

    candidates = [p for p in range(len(offices)) if shared[p] in ("", "relay", "site")]
    candidates.sort(key=lambda p: -weight[offices[p]] / max(cost[p], 1e-9))
    for _ in range(len(offices) + 1):
        money = left()
        if money <= 1e-9 or time.monotonic() > deadline:
            return
        fibre_offices = {o for o, p in current.items() if shared[p] == "fibre"}
        relay_ok = set(infra.relays.loc[infra.relays["hub_office_id"].isin(fibre_offices), "office_id"])
        candidates = [p for p in candidates if offices[p] not in current]
        best_p, best_ratio = -1, 0.0
        for p in candidates:  # best ratio first: the first usable, affordable one
            o = offices[p]
            usable = (
                shared[p] == "" or (shared[p] == "relay" and o in relay_ok) or (shared[p] == "site" and o in site_ok)
            )
            if usable and cost[p] <= money + 1e-9:
                best_p, best_ratio = p, weight[o] / max(cost[p], 1e-9)
                break
        ext = forest.best_extension(money) if len(forest.w) else (0.0, -1, np.zeros(0), 0.0)
        if ext[1] >= 0 and ext[0] > best_ratio:
            forest.build(ext[1], ext[2])
        elif best_p >= 0:
            current[offices[best_p]] = best_p
        else:
            return
