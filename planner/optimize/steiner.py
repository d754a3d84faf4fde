"""Steiner trees in graphs: the exact directed-cut branch-and-cut on HiGHS and the driver.

The reader, reductions and heuristic live in :mod:`planner.network.steiner`; the exact part (it needs HiGHS)
and the driver live here, in the solver layer.

Why this module exists: a fibre route must connect a set of post offices (terminals) through road or duct
junctions (Steiner nodes) at least trenching cost. That is the Steiner tree problem in graphs, NP-hard but
solved exactly in well under a second on planning-sized graphs by the directed-cut (DCut) formulation, whose
LP relaxation is so tight that the root LP is usually integral. When the exact method runs out of time a
heuristic tree is returned together with the best proven lower bound, so callers always know how good it is.

Pipeline of :func:`steiner_tree`:

1. *Reductions* (exact, cost preserving): drop non-terminal leaves, contract non-terminal degree-2 paths,
   contract terminal leaf edges, drop edges longer than a shortest path between their ends (least-cost test).
2. *Heuristic*: shortest-path heuristic (Takahashi-Matsuyama) from several roots, improved by local search
   (MST over the node set, Steiner-node insertion and elimination, key-path exchange).
3. *Exact*: DCut LP over bidirected arcs rooted at a terminal, separating violated cuts with max-flow; the LP
   solution guides the heuristic, reduced costs fix arcs, and a MIP (with iterative cut addition) closes any gap.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Hashable, Iterable

import highspy
import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from planner.network.steiner.heuristic import SteinerCore
from planner.network.steiner.reduce import Reducer
from planner.optimize.highs import InterruptibleHighs, highs_solution, plan_defect, run_highs

__all__ = ["steiner_tree"]

_log = logging.getLogger(__name__)

# Max-flow in scipy needs integer capacities: LP values are scaled by this factor.
_FLOW_SCALE = 1_000_000
# Extra capacity per arc in separation (relative to 1), so that min cuts with few arcs win ties.
_CREEP = 1e-4


class _DCut:
    """Directed-cut model: x_a for both orientations of every edge, every terminal reachable from the root."""

    def __init__(self, core: SteinerCore) -> None:
        self.core = core
        n, m = core.n, core.m
        self.tail = np.concatenate([core.eu, core.ev]).astype(np.int64)
        self.head = np.concatenate([core.ev, core.eu]).astype(np.int64)
        self.cost = np.concatenate([core.ew, core.ew]).astype(float)
        self.n_arcs = 2 * m
        # root: the terminal with most neighbours (more arcs fixed to zero; arbitrary but deterministic)
        self.root = max(core.terminals, key=lambda t: (len(core.adj[t]), -t))
        col_upper = np.ones(self.n_arcs)
        col_upper[self.head == self.root] = 0.0

        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        lo: list[float] = []
        up: list[float] = []
        nrow = 0
        arcs_in: list[list[int]] = [[] for _ in range(n)]
        arcs_out: list[list[int]] = [[] for _ in range(n)]
        for a in range(self.n_arcs):
            arcs_in[self.head[a]].append(a)
            arcs_out[self.tail[a]].append(a)
        self.arcs_in, self.arcs_out = arcs_in, arcs_out

        def add_row(idx: list[int], coef: list[float], lower: float, upper: float) -> None:
            nonlocal nrow
            rows.append(np.full(len(idx), nrow))
            cols.append(np.asarray(idx, dtype=np.int64))
            vals.append(np.asarray(coef, dtype=float))
            lo.append(lower)
            up.append(upper)
            nrow += 1

        inf = highspy.kHighsInf
        for v in range(n):
            if v == self.root:
                add_row(arcs_out[v], [1.0] * len(arcs_out[v]), 1.0, inf)
                continue
            ins = arcs_in[v]
            if core.is_term[v]:
                add_row(ins, [1.0] * len(ins), 1.0, 1.0)
            else:
                add_row(ins, [1.0] * len(ins), 0.0, 1.0)
                # a Steiner node that is entered must be left (optimal trees have no Steiner leaves) ...
                add_row(ins + arcs_out[v], [1.0] * len(ins) + [-1.0] * len(arcs_out[v]), -inf, 0.0)
                # ... and can only be left if it is entered
                for a in arcs_out[v]:
                    add_row([a, *ins], [1.0] + [-1.0] * len(ins), -inf, 0.0)
        for e in range(m):
            add_row([e, e + m], [1.0, 1.0], 0.0, 1.0)

        mat = sp.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nrow, self.n_arcs)
        )
        lp = highspy.HighsLp()
        lp.num_col_ = self.n_arcs
        lp.num_row_ = nrow
        lp.col_cost_ = self.cost
        lp.col_lower_ = np.zeros(self.n_arcs)
        lp.col_upper_ = col_upper
        lp.row_lower_ = np.asarray(lo)
        lp.row_upper_ = np.asarray(up)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
        lp.a_matrix_.index_ = mat.indices.astype(np.int32)
        lp.a_matrix_.value_ = mat.data
        h = InterruptibleHighs()
        h.setOptionValue("output_flag", False)
        h.passModel(lp)
        self.h = h
        self.n_model_rows = nrow
        self.col_upper = col_upper

    # -- separation ----------------------------------------------------------------------------------------

    def _cut_row(self, side: np.ndarray) -> np.ndarray:
        """Arcs entering the node set marked True in ``side`` (its in-cut must carry >= 1)."""
        return np.nonzero(~side[self.tail] & side[self.head] & (self.col_upper > 0))[0]

    def separate(self, x: np.ndarray, nested: int = 4, creep: float = _CREEP) -> list[np.ndarray]:
        """Violated directed cuts: per terminal, min root-terminal cuts of capacity < 1.

        Uses back cuts (the sink side, closest to the terminal) and *nested* cuts: the arcs of a found cut
        are saturated and the max-flow rerun, giving up to ``nested`` disjoint cuts per terminal and round.
        Many cuts per round cut the number of LP re-solves several-fold.
        """
        n = self.core.n
        # max-flow runs on the support graph only (cheap); cut rows still list every active crossing arc
        active = np.nonzero((self.col_upper > 0) & (x > 1e-9))[0]
        xa = np.clip(x[active], 0.0, 1.0)
        cap = np.rint(xa * _FLOW_SCALE).astype(np.int32)
        # a small capacity on every arc makes min cuts prefer few arcs: sparser, stronger rows
        flow_cap = cap + int(_FLOW_SCALE * creep)
        tail, head = self.tail[active], self.head[active]
        graph = sp.csr_array((flow_cap, (tail, head)), shape=(n, n))
        # same coordinates, so the same order: position -> arc
        pos_arc = active[sp.csr_array((np.arange(1, len(active) + 1), (tail, head)), shape=(n, n)).data - 1]
        arc_pos = np.full(self.n_arcs, -1, dtype=np.int64)
        arc_pos[pos_arc] = np.arange(len(pos_arc))
        base = graph.data.copy()
        pos = cap > 0
        support = sp.csr_array((cap[pos], (tail[pos], head[pos])), shape=(n, n))
        reach = _reachable(support, self.root)
        support_t = None
        cuts: list[np.ndarray] = []
        seen: set[bytes] = set()
        threshold = _FLOW_SCALE * (1.0 - 1e-4)

        def violated(arcs: np.ndarray) -> bool:
            return float(x[arcs].sum()) < 1.0 - 1e-4

        def add(arcs: np.ndarray) -> None:
            key = arcs.tobytes()
            if key not in seen:
                seen.add(key)
                cuts.append(arcs)

        for t in self.core.terminals:
            if t == self.root:
                continue
            if not reach[t]:
                # not even reachable: the in-cut of the set of nodes that reach t in the support graph
                if support_t is None:
                    support_t = support.T.tocsr()
                side = _reachable(support_t, t) & ~reach
                add(self._cut_row(side))
                continue
            touched: list[np.ndarray] = []
            for k in range(nested):
                res = maximum_flow(graph, self.root, t)
                if res.flow_value >= threshold:
                    break
                residual = (graph - res.flow).tocsr()
                residual.data[residual.data < 0] = 0
                residual.eliminate_zeros()
                if k == 0:
                    arcs = self._cut_row(~_reachable(residual, self.root))
                    if violated(arcs):
                        add(arcs)
                arcs = self._cut_row(_reachable(residual.T.tocsr(), t))
                if not violated(arcs):
                    break
                add(arcs)
                p = arc_pos[arcs]
                graph.data[p] = _FLOW_SCALE
                touched.append(p)
            for p in touched:
                graph.data[p] = base[p]
        return cuts

    def add_cuts(self, cuts: list[np.ndarray]) -> None:
        starts = np.cumsum([0] + [len(c) for c in cuts[:-1]]).astype(np.int32)
        idx = np.concatenate(cuts).astype(np.int32)
        inf = highspy.kHighsInf
        self.h.addRows(
            len(cuts),
            np.ones(len(cuts)),
            np.full(len(cuts), inf),
            len(idx),
            starts,
            idx,
            np.ones(len(idx)),
        )

    def solve_lp(
        self, deadline: float | None, on_round: Callable[[int, np.ndarray, float], bool] | None = None
    ) -> tuple[np.ndarray, float, bool] | None:
        """Cutting-plane loop on the LP: (x, bound, converged), None if not even one LP solved in time.

        Every round's LP is a relaxation, so its value is a valid lower bound even when the loop is cut short.
        ``on_round(round, x, bound)`` may stop the loop early by returning True (the incumbent is proven optimal).
        """
        ok = highspy.HighsModelStatus.kOptimal
        last: tuple[np.ndarray, float, bool] | None = None
        for rnd in itertools.count():
            run_highs(self.h, deadline)
            if self.h.getModelStatus() != ok:
                _log.debug("LP stopped: %s", self.h.modelStatusToString(self.h.getModelStatus()))
                return last
            x = np.asarray(self.h.getSolution().col_value)
            obj = float(self.h.getInfo().objective_function_value)
            last = (x, obj, False)
            if deadline is not None and time.monotonic() > deadline:
                return last
            if on_round is not None and on_round(rnd, x, obj):
                return last
            cuts = self.separate(x, nested=min(30, max(4, 400 // len(self.core.terminals))))
            _log.debug("LP round: obj %.4f, %d rows, %d new cuts", obj, self.h.getNumRow(), len(cuts))
            if not cuts:
                return x, obj, True
            self.add_cuts(cuts)
        raise AssertionError("unreachable: itertools.count() never ends")

    def fix_by_reduced_cost(self, lb: float, ub: float, integral: bool) -> int:
        """Fix arcs to 0 whose reduced cost proves they cannot be in a tree cheaper than ``ub``."""
        rc = np.asarray(self.h.getSolution().col_dual)
        slack = (ub - 1.0 + 1e-6) if integral else (ub + 1e-9)
        fix = np.nonzero((self.col_upper > 0) & (lb + rc > slack))[0]
        if len(fix):
            self.col_upper[fix] = 0.0
            self.h.changeColsBounds(len(fix), fix.astype(np.int32), np.zeros(len(fix)), np.zeros(len(fix)))
        return len(fix)

    def arcs_to_edges(self, arcs: Iterable[int]) -> set[int]:
        m = self.core.m
        return {int(a) % m for a in arcs}

    def solve_mip(self, deadline: float | None, start_edges: set[int] | None) -> tuple[set[int] | None, float, bool]:
        """MIP over the current cut pool, adding cuts for disconnected incumbents until none are violated.

        Returns (edges of the best connected solution or None, proven lower bound, optimal?).
        """
        h = self.h
        # drop cut rows that are slack at the LP optimum: they only slow the MIP's LPs down
        sol = h.getSolution()
        duals = np.asarray(sol.row_dual)[self.n_model_rows :]
        slack = np.nonzero(np.abs(duals) < 1e-9)[0] + self.n_model_rows
        if len(slack):
            h.deleteRows(len(slack), slack.astype(np.int32))
            _log.debug("dropped %d slack cut rows, %d rows left", len(slack), h.getNumRow())
        h.changeColsIntegrality(
            self.n_arcs, np.arange(self.n_arcs, dtype=np.int32), np.ones(self.n_arcs, dtype=np.uint8)
        )
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("output_flag", _log.isEnabledFor(5))
        lb = -math.inf
        while True:
            if start_edges is not None:
                x0 = self.orient(start_edges)
                if x0 is not None:
                    h.setSolution(highs_solution(x0))
            run_highs(h, deadline)
            status = h.getModelStatus()
            info = h.getInfo()
            _log.debug(
                "MIP: %s, objective %s, bound %s",
                h.modelStatusToString(status),
                info.objective_function_value,
                info.mip_dual_bound,
            )
            lb = max(lb, float(info.mip_dual_bound))
            if status == highspy.HighsModelStatus.kInfeasible:
                # arcs were fixed for "strictly cheaper than the incumbent": none exists, incumbent is optimal
                return None, math.inf, True
            if info.primal_solution_status == 0:
                return None, lb, False
            x = np.asarray(h.getSolution().col_value)
            if start_edges is not None and plan_defect(h, x, float(info.objective_function_value)) is not None:
                # HiGHS returned its MIP start as the plan (planner.optimize.highs): this round again, no start
                _log.debug("MIP start returned as the plan; solving again without it")
                start_edges = None
                h.clearSolver()
                continue
            chosen = np.nonzero(x > 0.5)[0]
            cuts = self.separate(np.where(x > 0.5, 1.0, 0.0), nested=1, creep=0.0)
            optimal = status == highspy.HighsModelStatus.kOptimal
            if not cuts:
                return self.arcs_to_edges(chosen), lb, optimal
            if not optimal:
                return None, lb, False
            self.add_cuts(cuts)

    def orient(self, edges: set[int]) -> np.ndarray | None:
        """0/1 arc vector of a tree given by edge ids, directed away from the root."""
        core = self.core
        tadj: dict[int, list[tuple[int, int]]] = {}
        for e in edges:
            u, v = int(core.eu[e]), int(core.ev[e])
            tadj.setdefault(u, []).append((v, e))
            tadj.setdefault(v, []).append((u, e))
        x = np.zeros(self.n_arcs)
        seen = {self.root}
        stack = [self.root]
        while stack:
            u = stack.pop()
            for v, e in tadj.get(u, ()):
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
                    x[e if int(core.eu[e]) == u else e + core.m] = 1.0
        if len(seen) != len(tadj) and tadj:
            return None
        if np.any(x > self.col_upper):
            return None
        return x


def _reachable(graph: sp.csr_array | sp.csr_matrix, source: int) -> np.ndarray:
    """Boolean mask of nodes reachable from ``source`` along stored (positive) entries."""
    seen = np.zeros(graph.shape[0], dtype=bool)
    seen[breadth_first_order(graph, source, directed=True, return_predecessors=False)] = True
    return seen


def _result_graph(
    graph: nx.Graph, edges: list[tuple[Hashable, Hashable]], nodes: list[Hashable], weight: str
) -> nx.Graph:
    out = nx.Graph()
    out.add_nodes_from((v, graph.nodes[v]) for v in nodes)
    out.add_edges_from((u, v, graph.edges[u, v]) for u, v in edges)
    return out


def steiner_tree(
    graph: nx.Graph,
    terminals: Iterable[Hashable],
    weight: str = "weight",
    time_limit_s: float | None = None,
) -> nx.Graph:
    """Least-cost tree in ``graph`` connecting all ``terminals`` (edge cost = attribute ``weight``, default 1).

    Solved exactly by directed-cut branch-and-cut on HiGHS after exact reductions. If ``time_limit_s`` runs out
    first, the best heuristic tree is returned instead. The result is a new graph holding the tree's nodes and
    edges (with their attributes) and ``graph.graph`` keys: ``method`` ("exact" or "heuristic"), ``cost``,
    ``lower_bound`` (proven) and ``gap`` ((cost - lower_bound) / cost, 0 when proven optimal).

    Raises ValueError for directed or multi graphs, negative weights, terminals missing from the graph, or
    terminals that cannot be connected (naming those not reachable from the first terminal).
    """
    start = time.monotonic()
    deadline = None if time_limit_s is None else start + max(float(time_limit_s), 0.0)
    if graph.is_directed() or graph.is_multigraph():
        raise ValueError("steiner_tree needs an undirected simple graph (networkx.Graph)")
    terms = list(dict.fromkeys(terminals))
    missing = [t for t in terms if t not in graph]
    if missing:
        raise ValueError(f"terminals not in the graph: {missing}")

    def finish(edges: list, nodes: list, method: str, lb: float) -> nx.Graph:
        out = _result_graph(graph, edges, nodes, weight)
        cost = float(sum(graph.edges[u, v].get(weight, 1) for u, v in edges))
        lb = float(min(lb, cost))
        out.graph.update(
            method=method,
            cost=cost,
            lower_bound=lb,
            gap=0.0 if cost - lb <= 1e-9 * max(1.0, abs(cost)) else (cost - lb) / abs(cost),
            seconds=time.monotonic() - start,
        )
        return out

    if len(terms) <= 1:
        return finish([], terms, "exact", 0.0)
    comp = nx.node_connected_component(graph, terms[0])
    unreachable = [t for t in terms if t not in comp]
    if unreachable:
        raise ValueError(f"terminals not connected to terminal {terms[0]!r}: {unreachable}")

    nodes = list(comp)
    index = {v: i for i, v in enumerate(nodes)}
    orig_edges: list[tuple[Hashable, Hashable]] = []
    triples: list[tuple[int, int, float]] = []
    for u, v, d in graph.subgraph(nodes).edges(data=True):
        w = d.get(weight, 1)
        if w is None or not math.isfinite(float(w)) or float(w) < 0:
            raise ValueError(f"edge ({u!r}, {v!r}) has invalid {weight!r} {w!r}: weights must be finite and >= 0")
        if u == v:
            continue
        orig_edges.append((u, v))
        triples.append((index[u], index[v], float(w)))
    integral = all(float(w).is_integer() for _, _, w in triples)

    red = Reducer(len(nodes), triples, {index[t] for t in terms})
    red.reduce(deadline)

    # compact the reduced graph
    alive = sorted(v for v in red.alive if red.adj[v] or v in red.terms)
    cidx = {v: i for i, v in enumerate(alive)}
    eu, ev, ew, eorig = [], [], [], []
    for v in alive:
        for u, (w, orig) in red.adj[v].items():
            if u > v:
                eu.append(cidx[v])
                ev.append(cidx[u])
                ew.append(w)
                eorig.append(orig)
    fixed_cost = sum(triples[i][2] for i in red.fixed)

    def expand(core_edges: Iterable[int]) -> tuple[list, list]:
        ids = set(red.fixed)
        for e in core_edges:
            ids.update(eorig[e])
        es = [orig_edges[i] for i in ids]
        ns = {x for e in es for x in e} | set(terms)
        return es, list(ns)

    core_terms = sorted(cidx[t] for t in red.terms)
    if len(core_terms) <= 1:
        es, ns = expand([])
        return finish(es, ns, "exact", fixed_cost)

    _log.debug(
        "reduced %d nodes / %d edges / %d terminals to %d / %d / %d in %.2fs",
        len(nodes),
        len(triples),
        len(terms),
        len(alive),
        len(ew),
        len(red.terms),
        time.monotonic() - start,
    )
    core = SteinerCore(
        len(alive),
        np.asarray(eu, dtype=np.int64),
        np.asarray(ev, dtype=np.int64),
        np.asarray(ew, dtype=float),
        core_terms,
    )

    # heuristic first: it is the fallback and the incumbent for the exact method
    heur_deadline = lp_deadline = None
    if deadline is not None:
        remaining = max(deadline - time.monotonic(), 0.0)
        heur_deadline = time.monotonic() + 0.15 * remaining
        # keep some time for the LP-guided heuristic after an unfinished LP
        lp_deadline = deadline - min(0.15 * remaining, 3.0)
    best = core.heuristic(heur_deadline, n_roots=4 if core.m > 5000 else 8)
    best_cost = core.cost(best)
    _log.debug("heuristic cost %g after %.2fs", best_cost + fixed_cost, time.monotonic() - start)
    lb = core.trivial_lower_bound()
    method = "heuristic"

    def lb_round(x: float) -> float:
        return math.ceil(x - 1e-6) if integral else x

    def offer(cand: set[int] | None) -> None:
        nonlocal best, best_cost
        cand = core.clean(cand) if cand is not None else None
        if cand is not None and core.cost(cand) < best_cost - 1e-9:
            best, best_cost = cand, core.cost(cand)

    def lp_guided(x: np.ndarray, roots: list[int], until: float | None) -> None:
        """LP-guided heuristic: edges the LP likes become cheap for SPH; local search uses true costs."""
        xe = np.clip(x[: core.m] + x[core.m :], 0.0, 1.0)
        lp_weights = core.ew * (1.0 - xe) + 1e-6 * (1.0 + core.ew)
        for r in dict.fromkeys(roots):
            offer(core.improve(core.sph(r, lp_weights), until))
            if best_cost <= lb + 1e-9 or (until is not None and time.monotonic() > until):
                break

    def on_round(rnd: int, x: np.ndarray, bound: float) -> bool:
        """During long cut loops, try the LP-guided heuristic now and then: it often closes the gap early."""
        nonlocal lb
        lb = max(lb, lb_round(bound))
        if rnd >= 4 and rnd % 4 == 0 and best_cost > lb + 1e-9:
            lp_guided(x, [model.root], time.monotonic() + 1.0)
        return best_cost <= lb + 1e-9

    lp = None
    if lp_deadline is None or time.monotonic() < lp_deadline:
        model = _DCut(core)
        lp = model.solve_lp(lp_deadline, on_round)
    if lp is not None:
        x, lp_bound, converged = lp
        lb = max(lb, lb_round(lp_bound))
        if converged and np.all(np.abs(x - np.rint(x)) < 1e-6):
            offer(model.arcs_to_edges(np.nonzero(x > 0.5)[0]))
        if best_cost > lb + 1e-9:
            lp_guided(x, [model.root, *sorted(core.terminals, key=lambda t: -len(core.adj[t]))[:3]], deadline)
        _log.debug("LP bound %g, LP-guided heuristic %g", lb + fixed_cost, best_cost + fixed_cost)
        if best_cost <= lb + 1e-9:
            method = "exact"
        elif converged and (deadline is None or time.monotonic() < deadline):
            n_fixed = model.fix_by_reduced_cost(lp_bound, best_cost, integral)
            _log.debug("reduced-cost fixing: %d of %d arcs fixed to 0", n_fixed, model.n_arcs)
            sol, mip_lb, optimal = model.solve_mip(deadline, best)
            lb = max(lb, lb_round(mip_lb))
            offer(sol)
            if optimal or best_cost <= lb + 1e-9:
                method = "exact"
                lb = max(lb, best_cost)

    es, ns = expand(best)
    return finish(es, ns, method, lb + fixed_cost)
