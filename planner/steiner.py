"""Steiner trees in graphs: a SteinLib reader, an exact branch-and-cut on HiGHS and a local-search heuristic.

Re-exported by :mod:`planner.network` (``planner.network.steiner_tree`` is the public name).

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

import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, dijkstra, maximum_flow, minimum_spanning_tree

__all__ = ["SteinInstance", "read_stp", "steiner_tree"]

_log = logging.getLogger(__name__)

_EPS = 1e-9
# HiGHS is asked to stop at the time limit; the watchdog cancels it if it overruns by this much.
_WATCHDOG_GRACE_S = 2.0
# Max-flow in scipy needs integer capacities: LP values are scaled by this factor.
_FLOW_SCALE = 1_000_000
# Extra capacity per arc in separation (relative to 1), so that min cuts with few arcs win ties.
_CREEP = 1e-4


# ----------------------------------------------------------------------------------------------------------
# SteinLib STP reader
# ----------------------------------------------------------------------------------------------------------


@dataclass
class SteinInstance:
    """One Steiner tree instance: undirected weighted graph, terminal nodes, known optimum if the file has one."""

    name: str
    graph: nx.Graph
    terminals: list[int]
    optimum: float | None = None


def _number(token: str) -> float | int:
    """Parse an STP number, keeping integers as ``int`` so integral costs stay exact."""
    try:
        return int(token)
    except ValueError:
        return float(token)


def read_stp(path: str | Path) -> SteinInstance:
    """Read a SteinLib STP file (undirected ``E`` edges; ``A`` arcs are rejected).

    Unknown sections and keys are skipped, as the format asks. The optimum is taken from an ``Optimal`` (or
    ``Opt``) key in any section. Malformed input raises :class:`ValueError` naming the file and line.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")

    def fail(lineno: int, message: str) -> ValueError:
        return ValueError(f"{path}:{lineno}: {message}")

    name = path.stem
    optimum: float | None = None
    n_nodes: int | None = None
    n_edges_declared: int | None = None
    n_terms_declared: int | None = None
    edges: dict[tuple[int, int], float | int] = {}
    n_edge_lines = 0
    terminals: list[int] = []
    section: str | None = None
    seen_header = False
    seen_graph = seen_terminals = False
    lineno = 0

    def node_id(token: str, lineno: int) -> int:
        try:
            v = int(token)
        except ValueError:
            raise fail(lineno, f"node id {token!r} is not an integer") from None
        if n_nodes is None:
            raise fail(lineno, "'Nodes' must be given before edges and terminals")
        if not 1 <= v <= n_nodes:
            raise fail(lineno, f"node {v} outside 1..{n_nodes}")
        return v

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        tokens = line.split()
        key = tokens[0].lower()
        if not seen_header:
            if key != "33d32945":
                raise fail(lineno, "not an STP file (missing '33D32945' header)")
            seen_header = True
            continue
        if key == "eof":
            break
        if key == "section":
            if section is not None:
                raise fail(lineno, f"SECTION inside unfinished section {section!r} (missing END)")
            if len(tokens) < 2:
                raise fail(lineno, "SECTION without a name")
            section = tokens[1].lower()
            seen_graph |= section == "graph"
            seen_terminals |= section == "terminals"
            continue
        if key == "end":
            if section is None:
                raise fail(lineno, "END outside a section")
            section = None
            continue
        if section is None:
            raise fail(lineno, f"unexpected line outside a section: {line!r}")
        try:
            if key in ("optimal", "opt") and len(tokens) >= 2:
                optimum = float(tokens[1])
            elif section == "comment":
                if key == "name" and len(tokens) >= 2:
                    name = line.split(None, 1)[1].strip().strip('"')
            elif section == "graph":
                if key == "nodes":
                    n_nodes = int(tokens[1])
                elif key == "edges":
                    n_edges_declared = int(tokens[1])
                elif key == "e":
                    if len(tokens) != 4:
                        raise fail(lineno, f"edge line needs 'E u v weight', got {line!r}")
                    u, v = node_id(tokens[1], lineno), node_id(tokens[2], lineno)
                    w = _number(tokens[3])
                    if not math.isfinite(w) or w < 0:
                        raise fail(lineno, f"edge weight must be finite and >= 0, got {tokens[3]}")
                    n_edge_lines += 1
                    if u != v:
                        k = (min(u, v), max(u, v))
                        edges[k] = min(w, edges.get(k, w))
                elif key in ("a", "arcs"):
                    raise fail(lineno, "directed arcs are not supported (undirected Steiner tree only)")
            elif section == "terminals":
                if key == "terminals":
                    n_terms_declared = int(tokens[1])
                elif key == "t":
                    if len(tokens) < 2:
                        raise fail(lineno, "terminal line needs 'T node'")
                    terminals.append(node_id(tokens[1], lineno))
        except (ValueError, IndexError) as exc:
            if isinstance(exc, ValueError) and str(exc).startswith(f"{path}:"):
                raise
            raise fail(lineno, f"cannot parse {line!r}") from None
    if not seen_header:
        raise ValueError(f"{path}: empty file, not an STP file")
    if section is not None:
        raise fail(lineno, f"file ends inside section {section!r} (missing END)")
    if not seen_graph or n_nodes is None:
        raise ValueError(f"{path}: no 'SECTION Graph' with a 'Nodes' count")
    if not seen_terminals:
        raise ValueError(f"{path}: no 'SECTION Terminals'")
    if n_edges_declared is not None and n_edges_declared != n_edge_lines:
        raise ValueError(f"{path}: 'Edges {n_edges_declared}' declared but {n_edge_lines} edge lines found")
    if n_terms_declared is not None and n_terms_declared != len(terminals):
        raise ValueError(f"{path}: 'Terminals {n_terms_declared}' declared but {len(terminals)} found")

    graph = nx.Graph(name=name)
    graph.add_nodes_from(range(1, n_nodes + 1))
    graph.add_weighted_edges_from((u, v, w) for (u, v), w in edges.items())
    return SteinInstance(name=name, graph=graph, terminals=list(dict.fromkeys(terminals)), optimum=optimum)


# ----------------------------------------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------------------------------------


class _Reducer:
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
            for u, (w, _) in self.adj[v].items():
                if u > v:
                    ea.append(index[v])
                    eb.append(index[u])
                    ew.append(w)
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
            bott = _bottleneck_matrix(tmst + tmst.T)
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
        """Contract terminal t's cheapest edge t-v when even t's second edge costs more than reaching v and
        then another terminal (Beasley's NV test): some optimal tree then uses t-v.

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
        while len(self.terms) > 1 and (deadline is None or time.monotonic() < deadline):
            changed = self.distance_test()
            changed |= self.simple_reductions()
            changed |= self.nearest_vertex_test()
            changed |= self.simple_reductions()
            if not changed:
                break


def _bottleneck_matrix(tree: sp.csr_matrix) -> np.ndarray:
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


# ----------------------------------------------------------------------------------------------------------
# Core graph on compact indices and the heuristic
# ----------------------------------------------------------------------------------------------------------


class _Core:
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
        """Local search to a local optimum: MST over the node set, Steiner-node insertion and elimination,
        key-path exchange. Each move keeps a valid tree and strictly lowers the cost."""
        best = self.mst_on(list(self.tree_nodes(edges))) or edges
        if self.cost(best) > self.cost(edges) + _EPS:
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


# ----------------------------------------------------------------------------------------------------------
# Exact: directed-cut branch-and-cut with HiGHS
# ----------------------------------------------------------------------------------------------------------


def _run_highs(h: object, deadline: float | None) -> None:
    """Run HiGHS within the deadline; a watchdog thread cancels the solve if it overruns the time limit."""
    timer = None
    if deadline is not None:
        remaining = max(deadline - time.monotonic(), 0.05)
        # HiGHS measures time_limit on the object's cumulative run clock
        h.setOptionValue("time_limit", h.getRunTime() + remaining)
        if not getattr(h, "HandleUserInterrupt", True):
            h.HandleUserInterrupt = True  # cancelSolve() is only honoured with interrupt callbacks on
        timer = threading.Timer(remaining + _WATCHDOG_GRACE_S, h.cancelSolve)
        timer.daemon = True
        timer.start()
    try:
        h.run()
    finally:
        if timer is not None:
            timer.cancel()


class _DCut:
    """Directed-cut model: x_a for both orientations of every edge, every terminal reachable from the root."""

    def __init__(self, core: _Core) -> None:
        import highspy

        self.core = core
        self.highspy = highspy
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
        arcs_in = [[] for _ in range(n)]
        arcs_out = [[] for _ in range(n)]
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
        h = highspy.Highs()
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
        inf = self.highspy.kHighsInf
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
        ok = self.highspy.HighsModelStatus.kOptimal
        last: tuple[np.ndarray, float, bool] | None = None
        for rnd in itertools.count():
            _run_highs(self.h, deadline)
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
        from planner.solution_check import plan_defect

        h = self.h
        highspy = self.highspy
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
                    h.setSolution(_solution(x0))
            _run_highs(h, deadline)
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
                # HiGHS returned its MIP start as the plan (planner.solution_check): this round again, no start
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


def _solution(x: np.ndarray) -> object:
    import highspy

    sol = highspy.HighsSolution()
    sol.col_value = x.tolist()
    sol.value_valid = True
    return sol


def _reachable(graph: sp.csr_array | sp.csr_matrix, source: int) -> np.ndarray:
    """Boolean mask of nodes reachable from ``source`` along stored (positive) entries."""
    seen = np.zeros(graph.shape[0], dtype=bool)
    seen[breadth_first_order(graph, source, directed=True, return_predecessors=False)] = True
    return seen


# ----------------------------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------------------------


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

    red = _Reducer(len(nodes), triples, {index[t] for t in terms})
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
    core = _Core(
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
