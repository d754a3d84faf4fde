"""Exact, cost-preserving reductions of Steiner tree instances (step 1 of the Steiner pipeline).

Drop non-terminal leaves, contract non-terminal degree-2 paths, contract terminal leaf edges, drop edges longer
than a shortest path between their ends (least-cost test), the distance and nearest-vertex tests.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree

EPS = 1e-9


class Reducer:
    """Mutable graph on integer nodes whose edges remember the original edges they stand for.

    Contractions keep a map from every reduced edge to its tuple of original edges, and edges proven to be
    in an optimal tree are moved to ``fixed``; expanding a reduced solution is then a simple union.
    """

    def __init__(self, n: int, edges: list[tuple[int, int, float]], terminals: set[int]) -> None:
        self.adj: list[dict[int, tuple[float, tuple[int, ...]]]] = [{} for _ in range(n)]
        for i, (u, v, w) in enumerate(edges):
            self._add(u, v, w, (i,))
        self.alive = set(range(n))
        self.terms = set(terminals)
        self.fixed: list[int] = []

    def _add(self, u: int, v: int, w: float, orig: tuple[int, ...]) -> None:
        """Add an edge, keeping the cheaper one if u-v already exists (parallel edges never help)."""
        old = self.adj[u].get(v)
        if old is None or w < old[0]:
            self.adj[u][v] = (w, orig)
            self.adj[v][u] = (w, orig)

    def _remove_node(self, v: int) -> None:
        for u in self.adj[v]:
            del self.adj[u][v]
        self.adj[v] = {}
        self.alive.discard(v)

    def _contract_into(self, t: int, u: int) -> None:
        """Fix edge t-u into the solution and merge terminal t into u (which becomes a terminal)."""
        _, orig = self.adj[t][u]
        self.fixed.extend(orig)
        for x, (w, o) in list(self.adj[t].items()):
            if x != u:
                self._add(u, x, w, o)
        self._remove_node(t)
        self.terms.discard(t)
        self.terms.add(u)

    def simple_reductions(self) -> bool:
        """Degree-based tests, to a fixed point. Returns whether anything changed."""
        changed_any = False
        stack = list(self.alive)
        while stack:
            v = stack.pop()
            if v not in self.alive or len(self.terms) <= 1:
                continue
            nbrs = self.adj[v]
            deg = len(nbrs)
            if v not in self.terms:
                if deg <= 1:
                    stack.extend(nbrs)
                    self._remove_node(v)
                    changed_any = True
                elif deg == 2:
                    (a, (wa, oa)), (b, (wb, ob)) = nbrs.items()
                    self._remove_node(v)
                    self._add(a, b, wa + wb, oa + ob)
                    stack.extend((a, b))
                    changed_any = True
            elif deg == 1:
                (u,) = nbrs
                self._contract_into(v, u)
                stack.append(u)
                stack.extend(self.adj[u])
                changed_any = True
        return changed_any

    def _arrays(self) -> tuple[list[int], sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
        """Alive nodes, their weight matrix and edge arrays (positions into the node list, u < v)."""
        nodes = sorted(self.alive)
        index = {v: i for i, v in enumerate(nodes)}
        ea, eb, ew = [], [], []
        for v in nodes:
            for u, (wt, _) in self.adj[v].items():
                if u > v:
                    ea.append(index[v])
                    eb.append(index[u])
                    ew.append(wt)
        a, b, w = np.asarray(ea, dtype=np.int64), np.asarray(eb, dtype=np.int64), np.asarray(ew, dtype=float)
        # scipy drops explicit zeros from csr graphs; a tiny floor keeps zero-weight edges as edges.
        wf = np.maximum(w, 1e-12)
        mat = sp.csr_matrix(
            (np.concatenate([wf, wf]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(len(nodes),) * 2
        )
        return nodes, mat, a, b, w

    def distance_test(self, chunk: int = 1024, k_near: int = 8) -> bool:
        """Remove edges longer than a bottleneck (special) distance between their ends: never in a minimal tree.

        Two upper bounds on the special distance are used: the shortest path u-v (least-cost test) and
        max(d(u, z1), B(z1, z2), d(z2, v)) over the nearest terminals z1 of u and z2 of v, where B is the
        bottleneck distance between terminals in the MST of the terminal distance network. Strict inequality
        makes removing all such edges at once safe (each replaced path only uses shorter edges).
        """
        nodes, mat, ea, eb, ew = self._arrays()
        n, m = len(nodes), len(ew)
        if n < 3 or m == 0:
            return False
        tol = 1e-7 * np.maximum(1.0, ew)
        bound = np.full(m, np.inf)
        wmax = float(ew.max())
        order = np.argsort(ea, kind="stable")
        for startc in range(0, n, chunk):
            stop = min(startc + chunk, n)
            dist = dijkstra(mat, directed=False, indices=np.arange(startc, stop), limit=wmax + 1.0)
            sel = order[(ea[order] >= startc) & (ea[order] < stop)]
            bound[sel] = dist[ea[sel] - startc, eb[sel]]
        index = {v: i for i, v in enumerate(nodes)}
        terms = np.asarray(sorted(index[t] for t in self.terms), dtype=np.int64)
        if 1 <= len(terms) <= 5000:
            dt = dijkstra(mat, directed=False, indices=terms)  # |T| x n
            k = min(k_near, len(terms))
            near = np.argsort(dt, axis=0)[:k]  # k x n: positions into terms
            near_d = np.take_along_axis(dt, near, axis=0)
            tdist = dt[:, terms]
            tdist[~np.isfinite(tdist)] = 0.0  # components are connected here; guard anyway
            tmst = minimum_spanning_tree(sp.csr_matrix(np.maximum(tdist, 1e-12) * (tdist > 0))).tocsr()
            bott = bottleneck_matrix(tmst + tmst.T)
            for i in range(k):
                zi, di = near[i, ea], near_d[i, ea]
                for j in range(k):
                    zj, dj = near[j, eb], near_d[j, eb]
                    bound = np.minimum(bound, np.maximum(np.maximum(di, dj), bott[zi, zj]))
        drop = np.nonzero(ew > bound + tol)[0]
        for e in drop:
            u, v = nodes[ea[e]], nodes[eb[e]]
            del self.adj[u][v]
            del self.adj[v][u]
        return len(drop) > 0

    def nearest_vertex_test(self) -> bool:
        """Beasley's nearest-vertex (NV) test: contract terminal edges some optimal tree uses.

        Contracts terminal t's cheapest edge t-v when even t's second edge costs more than reaching v and then another
        terminal: some optimal tree then uses t-v.

        One contraction per touched neighbourhood per call, so the shortest-path distances stay valid.
        """
        if len(self.terms) <= 2:
            return False
        nodes = sorted(self.alive)
        index = {v: i for i, v in enumerate(nodes)}
        rows, cols, vals = [], [], []
        for v in nodes:
            for u, (w, _) in self.adj[v].items():
                rows.append(index[v])
                cols.append(index[u])
                vals.append(max(w, 1e-12))
        mat = sp.csr_matrix((vals, (rows, cols)), shape=(len(nodes), len(nodes)))
        term_idx = np.array([index[t] for t in sorted(self.terms)])
        # distance from every node to its nearest and second-nearest terminal is what NV needs; compute
        # distances from the terminals (symmetric graph).
        dist_t = dijkstra(mat, directed=False, indices=term_idx)
        order = np.argsort(dist_t, axis=0)
        touched: set[int] = set()
        changed = False
        for row, t in enumerate(sorted(self.terms)):
            if t in touched or t not in self.alive or t not in self.terms:
                continue
            nb = sorted(self.adj[t].items(), key=lambda kv: kv[1][0])
            if len(nb) < 2:
                continue
            (v, (w1, _)), (_, (w2, _)) = nb[0], nb[1]
            if v in touched:
                continue
            col = index[v]
            # nearest terminal to v other than t
            best = math.inf
            for k in order[:3, col]:
                if k != row:
                    best = dist_t[k, col]
                    break
            if w1 + best <= w2 + 1e-9:
                touched.update(self.adj[t])
                touched.update(self.adj[v])
                touched.update((t, v))
                self._contract_into(t, v)
                changed = True
        return changed

    def reduce(self, deadline: float | None) -> None:
        """Apply all tests until nothing changes (or time runs out)."""
        self.simple_reductions()

        def late() -> bool:
            return deadline is not None and time.monotonic() >= deadline

        while len(self.terms) > 1 and not late():
            changed = self.distance_test()
            changed |= self.simple_reductions()
            if late():  # each test is one vectorised pass: the deadline is checked between tests
                break
            changed |= self.nearest_vertex_test()
            changed |= self.simple_reductions()
            if not changed:
                break


def bottleneck_matrix(tree: sp.csr_matrix) -> np.ndarray:
    """Largest edge on the tree path between every pair of nodes of a (symmetric) spanning tree."""
    n = tree.shape[0]
    out = np.zeros((n, n))
    indptr, indices, data = tree.indptr, tree.indices, tree.data
    for s in range(n):
        row = out[s]
        seen = np.zeros(n, dtype=bool)
        seen[s] = True
        stack = [s]
        while stack:
            u = stack.pop()
            for p in range(indptr[u], indptr[u + 1]):
                v = indices[p]
                if not seen[v]:
                    seen[v] = True
                    row[v] = max(row[u], data[p])
                    stack.append(v)
    return out
