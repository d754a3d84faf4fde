"""The Steiner core graph on compact indices and its heuristic (step 2 of the Steiner pipeline).

Shortest-path heuristic (Takahashi-Matsuyama) from several roots, improved by local search (MST over the node
set, Steiner-node insertion and elimination, key-path exchange); numpy and scipy only.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import minimum_spanning_tree

from planner.network.steiner.reduce import EPS


class SteinerCore:
    """Reduced instance on nodes 0..n-1 with edge arrays, adjacency lists and an MST-ready matrix."""

    def __init__(self, n: int, eu: np.ndarray, ev: np.ndarray, ew: np.ndarray, terminals: list[int]) -> None:
        self.n = n
        self.eu, self.ev, self.ew = eu, ev, ew
        self.m = len(ew)
        self.terminals = terminals
        self.is_term = np.zeros(n, dtype=bool)
        self.is_term[terminals] = True
        self.adj: list[list[tuple[int, float, int]]] = [[] for _ in range(n)]
        for e in range(self.m):
            u, v, w = int(eu[e]), int(ev[e]), float(ew[e])
            self.adj[u].append((v, w, e))
            self.adj[v].append((u, w, e))
        self.edge_of: dict[tuple[int, int], int] = {}
        for e in range(self.m):
            self.edge_of[(int(eu[e]), int(ev[e]))] = e
            self.edge_of[(int(ev[e]), int(eu[e]))] = e
        # MST is unchanged by adding a constant to every edge; the offset keeps zero weights as edges.
        self.offset = 1.0 + float(ew.max(initial=0.0))
        w_off = ew + self.offset
        self.wmat = sp.csr_matrix(
            (np.concatenate([w_off, w_off]), (np.concatenate([eu, ev]), np.concatenate([ev, eu]))), shape=(n, n)
        )

    def cost(self, edges: Iterable[int]) -> float:
        """Total weight of ``edges`` (edge indices): the cost of a tree, in the unit of the edge costs."""
        return float(sum(self.ew[e] for e in edges))

    # -- tree helpers ------------------------------------------------------------------------------------

    def prune(self, edges: set[int]) -> set[int]:
        """Repeatedly drop non-terminal leaves (they only add cost)."""
        deg: dict[int, int] = {}
        inc: dict[int, list[int]] = {}
        for e in edges:
            for x in (int(self.eu[e]), int(self.ev[e])):
                deg[x] = deg.get(x, 0) + 1
                inc.setdefault(x, []).append(e)
        edges = set(edges)
        stack = [x for x, d in deg.items() if d == 1 and not self.is_term[x]]
        while stack:
            x = stack.pop()
            if deg[x] != 1:
                continue
            for e in inc[x]:
                if e in edges:
                    edges.discard(e)
                    deg[x] -= 1
                    y = int(self.ev[e]) if int(self.eu[e]) == x else int(self.eu[e])
                    deg[y] -= 1
                    if deg[y] == 1 and not self.is_term[y]:
                        stack.append(y)
                    break
        return edges

    def clean(self, edges: Iterable[int]) -> set[int] | None:
        """Turn an edge set into a pruned tree spanning all terminals (MST of the terminals' component).

        Guards solutions read back from the LP/MIP, which may carry zero-cost cycles; None if the edge set
        does not connect the terminals.
        """
        edges = set(edges)
        tadj: dict[int, list[int]] = {}
        for e in edges:
            u, v = int(self.eu[e]), int(self.ev[e])
            tadj.setdefault(u, []).append(v)
            tadj.setdefault(v, []).append(u)
        root = self.terminals[0]
        comp = {root}
        stack = [root]
        while stack:
            u = stack.pop()
            for v in tadj.get(u, ()):
                if v not in comp:
                    comp.add(v)
                    stack.append(v)
        if any(t not in comp for t in self.terminals):
            return None
        nodes = sorted(comp)
        inside = [e for e in edges if int(self.eu[e]) in comp]
        return self.mst_of_edges(nodes, inside)

    def mst_on(self, nodes: list[int] | np.ndarray) -> set[int] | None:
        """Pruned MST of the subgraph induced by ``nodes``; None if that subgraph is disconnected."""
        idx = np.asarray(sorted(nodes))
        if len(idx) <= 1:
            return set()
        sub = self.wmat[idx][:, idx]
        mst = minimum_spanning_tree(sub).tocoo()
        if mst.nnz != len(idx) - 1:
            return None
        return self.prune({self.edge_of[(int(idx[i]), int(idx[j]))] for i, j in zip(mst.row, mst.col, strict=True)})

    def mst_of_edges(self, nodes: list[int], edge_list: Iterable[int]) -> set[int] | None:
        """Pruned MST of the given edge set spanning ``nodes``; None if disconnected."""
        idx = {v: i for i, v in enumerate(nodes)}
        es = list(edge_list)
        r = [idx[int(self.eu[e])] for e in es]
        c = [idx[int(self.ev[e])] for e in es]
        w = self.ew[es] + self.offset
        mat = sp.csr_matrix((w, (r, c)), shape=(len(nodes), len(nodes)))
        mst = minimum_spanning_tree(mat).tocoo()
        if mst.nnz != len(nodes) - 1:
            return None
        return self.prune({self.edge_of[(nodes[i], nodes[j])] for i, j in zip(mst.row, mst.col, strict=True)})

    def tree_nodes(self, edges: Iterable[int]) -> set[int]:
        """Nodes of a tree given by edge ids (a lone terminal if the tree has no edge)."""
        s: set[int] = set()
        for e in edges:
            s.add(int(self.eu[e]))
            s.add(int(self.ev[e]))
        if not s and self.terminals:
            s = {self.terminals[0]}
        return s

    # -- shortest path heuristic --------------------------------------------------------------------------

    def sph(self, root: int, weights: np.ndarray | None = None) -> set[int]:
        """Takahashi-Matsuyama: grow a tree from ``root`` by repeatedly adding the nearest terminal's path.

        A single Dijkstra is continued across iterations: nodes added to the tree get distance 0 and are
        pushed again, so the whole heuristic costs about one Dijkstra per added path.
        """
        w_arr = (self.ew if weights is None else weights).tolist()
        n = self.n
        dist = [math.inf] * n
        pred = [-1] * n
        in_tree = [False] * n
        in_tree[root] = True
        dist[root] = 0.0
        heap: list[tuple[float, int]] = [(0.0, root)]
        remaining = {t for t in self.terminals if t != root}
        edges: set[int] = set()
        adj = self.adj
        while remaining:
            found = -1
            while heap:
                d, u = heapq.heappop(heap)
                if d > dist[u]:
                    continue
                if not in_tree[u] and u in remaining:
                    found = u
                    break
                for v, _, e in adj[u]:
                    nd = d + w_arr[e]
                    if nd < dist[v]:
                        dist[v] = nd
                        pred[v] = e
                        heapq.heappush(heap, (nd, v))
            if found < 0:
                raise RuntimeError("terminals disconnected in the reduced graph")  # checked earlier
            x = found
            new_nodes = []
            while not in_tree[x]:
                e = pred[x]
                edges.add(e)
                in_tree[x] = True
                new_nodes.append(x)
                remaining.discard(x)
                x = int(self.ev[e]) if int(self.eu[e]) == x else int(self.eu[e])
            for x in new_nodes:
                dist[x] = 0.0
                heapq.heappush(heap, (0.0, x))
        return self.prune(edges)

    # -- local search --------------------------------------------------------------------------------------

    def improve(self, edges: set[int], deadline: float | None) -> set[int]:
        """Local search to a local optimum; each move keeps a valid tree and strictly lowers the cost.

        Moves: MST over the node set, Steiner-node insertion and elimination, key-path exchange.
        """
        best = self.mst_on(list(self.tree_nodes(edges))) or edges
        if self.cost(best) > self.cost(edges) + EPS:
            best = edges
        best_cost = self.cost(best)
        while True:
            if deadline is not None and time.monotonic() > deadline:
                return best
            improved = False
            for move in (self._insertion_pass, self._elimination_pass, self._key_path_pass):
                cand = move(best, deadline)
                c = self.cost(cand)
                if c < best_cost - 1e-9:
                    best, best_cost, improved = cand, c, True
            if not improved:
                return best

    def _insertion_pass(self, edges: set[int], deadline: float | None) -> set[int]:
        """Try adding each outside node that touches the tree twice or more; keep it if the MST gets cheaper."""
        nodes = self.tree_nodes(edges)
        cost = self.cost(edges)
        candidates: dict[int, list[int]] = {}
        for u in nodes:
            for v, _, e in self.adj[u]:
                if v not in nodes:
                    candidates.setdefault(v, []).append(e)
        for v, ves_all in candidates.items():
            if v in nodes:
                continue
            # the tree may have changed since the candidates were listed
            ves = [e for e in ves_all if int(self.eu[e]) in nodes or int(self.ev[e]) in nodes]
            if len(ves) < 2:
                continue
            if deadline is not None and time.monotonic() > deadline:
                break
            node_list = sorted(nodes | {v})
            cand = self.mst_of_edges(node_list, list(edges) + ves)
            if cand is None:
                continue
            c = self.cost(cand)
            if c < cost - 1e-9:
                edges, cost = cand, c
                nodes = self.tree_nodes(edges)
                # new neighbours of v are not scanned in this pass; the outer loop repeats passes
        return edges

    def _elimination_pass(self, edges: set[int], deadline: float | None) -> set[int]:
        """Try removing each Steiner node and re-spanning the rest by an MST of the induced subgraph."""
        cost = self.cost(edges)
        nodes = self.tree_nodes(edges)
        for s in sorted(x for x in nodes if not self.is_term[x]):
            if deadline is not None and time.monotonic() > deadline:
                break
            if s not in nodes:
                continue
            cand = self.mst_on(list(nodes - {s}))
            if cand is None:
                continue
            c = self.cost(cand)
            if c < cost - 1e-9:
                edges, cost = cand, c
                nodes = self.tree_nodes(edges)
        return edges

    def _key_paths(self, edges: set[int]) -> list[tuple[float, list[int], list[int]]]:
        """Maximal tree paths whose inner nodes are Steiner nodes of tree degree 2: (cost, edges, inner)."""
        tadj: dict[int, list[tuple[int, int]]] = {}
        for e in edges:
            u, v = int(self.eu[e]), int(self.ev[e])
            tadj.setdefault(u, []).append((v, e))
            tadj.setdefault(v, []).append((u, e))
        key = {x for x, nb in tadj.items() if self.is_term[x] or len(nb) >= 3}
        paths = []
        seen: set[int] = set()
        for k in key:
            for y, e in tadj[k]:
                if e in seen:
                    continue
                pe, inner = [e], []
                prev, cur = k, y
                while cur not in key:
                    inner.append(cur)
                    (a, ea), (b, eb) = tadj[cur]
                    nxt, ne = (b, eb) if a == prev else (a, ea)
                    pe.append(ne)
                    prev, cur = cur, nxt
                seen.update(pe)
                paths.append((self.cost(pe), pe, inner))
        paths.sort(key=lambda p: -p[0])
        return paths

    def _key_path_pass(self, edges: set[int], deadline: float | None) -> set[int]:
        """Replace a key path by a cheaper shortest path between the two subtrees it separates."""
        restart = True
        while restart:
            restart = False
            for pcost, pe, inner in self._key_paths(edges):
                if deadline is not None and time.monotonic() > deadline:
                    return edges
                rest = edges - set(pe)
                # component of the first end of the path in the remaining forest
                a_end = int(self.eu[pe[0]]) if int(self.eu[pe[0]]) not in inner else int(self.ev[pe[0]])
                radj: dict[int, list[int]] = {}
                for e in rest:
                    u, v = int(self.eu[e]), int(self.ev[e])
                    radj.setdefault(u, []).append(v)
                    radj.setdefault(v, []).append(u)
                comp_a = {a_end}
                stack = [a_end]
                while stack:
                    x = stack.pop()
                    for y in radj.get(x, ()):
                        if y not in comp_a:
                            comp_a.add(y)
                            stack.append(y)
                others = (self.tree_nodes(edges) - comp_a) - set(inner)
                path = self._bounded_path(comp_a, others, pcost)
                if path is not None:
                    cand = self.prune(rest | set(path))
                    if self.cost(cand) < self.cost(edges) - 1e-9:
                        edges = cand
                        restart = True
                        break
        return edges

    def _bounded_path(self, sources: set[int], targets: set[int], bound: float) -> list[int] | None:
        """Shortest path from any source to any target if strictly cheaper than ``bound`` (else None)."""
        dist: dict[int, float] = dict.fromkeys(sources, 0.0)
        pred: dict[int, int] = {}
        heap = [(0.0, s) for s in sources]
        heapq.heapify(heap)
        while heap:
            d, u = heapq.heappop(heap)
            if d >= bound - 1e-9:
                return None
            if d > dist.get(u, math.inf):
                continue
            if u in targets:
                path = []
                while u not in sources:
                    e = pred[u]
                    path.append(e)
                    u = int(self.ev[e]) if int(self.eu[e]) == u else int(self.eu[e])
                return path
            for v, w, e in self.adj[u]:
                nd = d + w
                if nd < dist.get(v, math.inf):
                    dist[v] = nd
                    pred[v] = e
                    heapq.heappush(heap, (nd, v))
        return None

    def heuristic(self, deadline: float | None, n_roots: int = 8, seed_trees: Iterable[set[int]] = ()) -> set[int]:
        """Best locally improved SPH tree over several roots (terminals of highest degree first)."""
        best: set[int] | None = None
        best_cost = math.inf
        roots = sorted(self.terminals, key=lambda t: -len(self.adj[t]))[:n_roots]
        starts = [(lambda r=r: self.sph(r)) for r in roots] + [(lambda s=s: s) for s in seed_trees]
        for i, make in enumerate(starts):
            if i > 0 and deadline is not None and time.monotonic() > deadline:
                break
            tree = self.improve(make(), deadline)
            c = self.cost(tree)
            if c < best_cost - 1e-9:
                best, best_cost = tree, c
        assert best is not None
        return best

    def trivial_lower_bound(self) -> float:
        """Every terminal but the root needs its own entering arc: sum of cheapest incident edges minus the max.

        Cheap and always valid; only used when no LP bound is available.
        """
        mins = [min((w for _, w, _ in self.adj[t]), default=0.0) for t in self.terminals]
        if len(mins) < 2:
            return 0.0
        return float(sum(mins) - max(mins))
