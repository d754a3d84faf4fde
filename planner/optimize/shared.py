"""The shared-infrastructure relaxation: the LP of the shared model strengthened by directed cuts.

The model of :func:`planner.optimize.model.add_fibre_network` links fibre offices to the backbone by a single-commodity
flow with ``f[k] <= M·a[k]``. Its LP relaxation is weak: a fractional trench of value 1/M carries a whole office's
flow, and a 2-cycle of arcs next to an office satisfies the in-degree and extend rows. The directed cuts of the
Steiner arborescence formulation (Wong 1984; for prize-collecting and budgeted trees Ljubić et al. 2006, SCIP-Jack:
Rehfeldt & Koch 2019) close that hole: for every fibre office v with fibre pair p(v) and every node set S with
v ∈ S and no backbone node in S,

    Σ_{k ∈ δ⁻(S)} a[k] >= sel[p(v)]                                                  (dcut)

holds in every plan (the trench path from the backbone to v enters S). There are exponentially many; they are
separated on the LP solution: a max-flow from the backbone (all fibre nodes merged) to v on capacities a[k] below
sel[p(v)] gives a violated cut (the sink side of the minimum cut: a "back cut").

:class:`SharedRelaxation` builds the LP relaxation of the shared model without side rows (regional minimums,
technology caps dropped: a relaxation of those specs too), with every pair, arc and site in [0, 1], and runs the
cutting-plane loop within a deadline. Every round's LP value is a proven bound on the shared model's optimum
(upper for max_coverage, lower for min_cost), whether or not the loop converged. The cuts found are handed to the
MIP (:func:`add_cuts`), whose LP then starts from that bound.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import defaultdict

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from planner.optimize.highs import InterruptibleHighs, run_highs
from planner.problem import Cut, ModelData, ModelSpec, RelaxationResult

_FLOW_SCALE = 1_000_000  # scipy's max-flow needs integer capacities: LP values are scaled by this
_TOL = 1e-4  # a cut is violated when the flow falls short of sel[p] by more than this


class SharedRelaxation:
    """The LP relaxation of the shared model (pairs x, arcs a, sites z), tightened by separated directed cuts.

    Objective: max Σ w[o(p)]·x[p] (max_coverage) or min Σ e[p]·x[p] + Σ e[k]·a[k] + Σ e[s]·z[s] (min_cost, USD).
    Rows: one technology per office, the budget or the coverage target, in-degree <= 1 at every non-root node, the
    office rows x[p(v)] <= Σ_{δ⁻(v)} a, the extend rows a[k] <= Σ_{δ⁻(tail k)} a, site and relay links, and the
    directed cuts found so far.
    """

    def __init__(self, data: ModelData, spec: ModelSpec) -> None:
        """Build the LP of ``data`` and ``spec`` (a spec with shared infrastructure; communities not supported)."""
        infra = data.infra
        if infra is None or spec.metric == "communities" or spec.roadmap is not None:
            raise ValueError("the shared relaxation needs shared infrastructure, no roadmap, no communities metric")
        self.data, self.spec = data, spec
        opts = data.options
        shared = data.shared
        offices = opts["office_id"].to_numpy(object)
        n_pairs, n_arcs, n_sites = len(opts), len(infra.arcs), len(infra.sites)
        self.n_pairs, self.n_arcs = n_pairs, n_arcs
        self.arc0, self.site0 = n_pairs, n_pairs + n_arcs
        n_cols = n_pairs + n_arcs + n_sites
        weight = dict(zip(data.offices["office_id"], data.offices["weight"], strict=True))
        w = np.array([weight[o] for o in offices], dtype=float)
        cost = np.concatenate(
            [
                opts["cost_usd"].to_numpy(float),
                infra.arcs["cost_usd"].to_numpy(float),
                infra.sites["cost_usd"].to_numpy(float),
            ]
        )
        arc_econ = infra.arcs["econ_cost_usd"] if "econ_cost_usd" in infra.arcs else infra.arcs["cost_usd"]
        site_econ = infra.sites["econ_cost_usd"] if "econ_cost_usd" in infra.sites else infra.sites["cost_usd"]
        econ = np.concatenate([data.econ, arc_econ.to_numpy(float), site_econ.to_numpy(float)])
        self.maximise = spec.objective == "max_coverage"
        obj = np.concatenate([w, np.zeros(n_arcs + n_sites)]) if self.maximise else econ

        nodes = infra.nodes
        self.n_nodes = len(nodes)
        self.tail = infra.arcs["tail"].to_numpy(np.int64)
        self.head = infra.arcs["head"].to_numpy(np.int64)
        self.is_root = (nodes["kind"] == "fibre_node").to_numpy()
        node_of = dict(zip(nodes["ref"], nodes["node"].astype(int), strict=False))
        into: dict[int, list[int]] = defaultdict(list)
        for k in range(n_arcs):
            into[int(self.head[k])].append(k)
        # fibre pairs and their nodes: the terminals of the cuts
        self.fibre_pairs = np.array(
            [p for p in range(n_pairs) if shared[p] == "fibre" and offices[p] in node_of], dtype=np.int64
        )
        self.pair_node = np.array([node_of[offices[p]] for p in self.fibre_pairs], dtype=np.int64)

        rows: list[tuple[list[int], list[float], float, float]] = []
        inf = highspy.kHighsInf
        by_office: dict[str, list[int]] = defaultdict(list)
        for p, o in enumerate(offices):
            by_office[o].append(p)
        for ps in by_office.values():
            if len(ps) > 1:
                rows.append((ps, [1.0] * len(ps), -inf, 1.0))
        if spec.budget_usd is not None:
            nz = [j for j in range(n_cols) if cost[j] != 0.0]
            rows.append((nz, [float(cost[j]) for j in nz], -inf, float(spec.budget_usd)))
        if spec.coverage_target is not None:
            rows.append((list(range(n_pairs)), list(w), spec.coverage_target * data.total_weight(spec.metric), inf))
        for ins in into.values():
            cols = [self.arc0 + k for k in ins]
            rows.append((cols, [1.0] * len(cols), -inf, 1.0))
        for p, v in zip(self.fibre_pairs, self.pair_node, strict=True):
            cols = [self.arc0 + k for k in into.get(int(v), [])]
            rows.append(([int(p), *cols], [1.0] + [-1.0] * len(cols), -inf, 0.0))
        for k in range(n_arcs):
            parents = into.get(int(self.tail[k]))
            if parents:
                cols = [self.arc0 + k, *(self.arc0 + j for j in parents)]
                rows.append((cols, [1.0] + [-1.0] * len(parents), -inf, 0.0))
        sites_of: dict[str, list[int]] = defaultdict(list)
        for s, o in zip(infra.site_cover["site"], infra.site_cover["office_id"], strict=True):
            sites_of[str(o)].append(int(s))
        fibre_pair = {offices[p]: int(p) for p in range(n_pairs) if shared[p] == "fibre"}
        hubs: dict[str, list[int]] = defaultdict(list)
        for o, h in zip(infra.relays["office_id"], infra.relays["hub_office_id"], strict=True):
            if h in fibre_pair:
                hubs[str(o)].append(fibre_pair[h])
        for p in range(n_pairs):
            if shared[p] == "site":
                cols = [self.site0 + s for s in sites_of.get(offices[p], [])]
                rows.append(([p, *cols], [1.0] + [-1.0] * len(cols), -inf, 0.0))
            elif shared[p] == "relay":
                cols = hubs.get(offices[p], [])
                rows.append(([p, *cols], [1.0] + [-1.0] * len(cols), -inf, 0.0))

        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_cols, len(rows)
        lp.col_cost_ = -obj if self.maximise else obj  # HiGHS minimises
        lp.col_lower_ = np.zeros(n_cols)
        lp.col_upper_ = np.ones(n_cols)
        lp.row_lower_ = np.array([r[2] for r in rows], dtype=float)
        lp.row_upper_ = np.array([r[3] for r in rows], dtype=float)
        r_idx = np.concatenate([np.full(len(r[0]), i) for i, r in enumerate(rows)]) if rows else np.zeros(0)
        c_idx = np.concatenate([np.asarray(r[0], dtype=np.int64) for r in rows]) if rows else np.zeros(0)
        vals = np.concatenate([np.asarray(r[1], dtype=float) for r in rows]) if rows else np.zeros(0)
        mat = sp.csc_matrix((vals, (r_idx, c_idx)), shape=(len(rows), n_cols))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
        lp.a_matrix_.index_ = mat.indices.astype(np.int32)
        lp.a_matrix_.value_ = mat.data
        h = InterruptibleHighs()
        h.setOptionValue("output_flag", False)
        h.passModel(lp)
        self.h = h
        # the separation graph: every root merged into node 0, other nodes shifted by one
        self.flow_node = np.where(self.is_root, 0, np.arange(self.n_nodes) + 1)
        self.cuts: list[Cut] = []

    def separate(self, x: np.ndarray, a: np.ndarray) -> list[Cut]:
        """Violated directed cuts for the pair values ``x`` and arc values ``a`` (back cuts of min root-office cuts)."""
        need = x[self.fibre_pairs]
        todo = np.flatnonzero(need > _TOL)
        if not len(todo):
            return []
        n = self.n_nodes + 1
        t, hd = self.flow_node[self.tail], self.flow_node[self.head]
        cap = np.rint(np.clip(a, 0.0, 1.0) * _FLOW_SCALE).astype(np.int32)
        keep = cap > 0
        graph = sp.csr_array((cap[keep], (t[keep], hd[keep])), shape=(n, n))
        graph.sum_duplicates()
        reach = np.zeros(n, dtype=bool)
        reach[breadth_first_order(graph, 0, directed=True, return_predecessors=False)] = True
        graph_t = graph.T.tocsr()
        width = _widest(graph, 0)
        cuts: list[Cut] = []
        seen: set[bytes] = set()
        for i in todo[np.argsort(-need[todo], kind="stable")]:
            p, v = int(self.fibre_pairs[i]), int(self.flow_node[self.pair_node[i]])
            if reach[v] and width[v] >= (need[i] - _TOL) * _FLOW_SCALE:
                continue  # one path already carries sel[p]: no cut for v is violated
            if not reach[v]:
                side = np.zeros(n, dtype=bool)
                side[breadth_first_order(graph_t, v, directed=True, return_predecessors=False)] = True
            else:
                res = maximum_flow(graph, 0, v)
                if res.flow_value >= (need[i] - _TOL) * _FLOW_SCALE:
                    continue
                residual = (graph - res.flow).tocsr()
                residual.data[residual.data < 0] = 0
                residual.eliminate_zeros()
                side = np.zeros(n, dtype=bool)  # nodes that reach v in the residual graph: the back cut
                side[breadth_first_order(residual.T.tocsr(), v, directed=True, return_predecessors=False)] = True
            arcs = np.flatnonzero(~side[t] & side[hd])
            if float(a[arcs].sum()) >= need[i] - _TOL:
                continue
            key = arcs.tobytes() + p.to_bytes(8, "little")
            if key in seen:
                continue
            seen.add(key)
            cuts.append(Cut(p, arcs))
        return cuts

    def _add(self, cuts: list[Cut]) -> None:
        starts, idx, vals = [], [], []
        pos = 0
        for c in cuts:
            starts.append(pos)
            idx.extend([c.pair, *(self.arc0 + int(k) for k in c.arcs)])
            vals.extend([-1.0] + [1.0] * len(c.arcs))
            pos += len(c.arcs) + 1
        self.h.addRows(
            len(cuts),
            np.zeros(len(cuts)),
            np.full(len(cuts), highspy.kHighsInf),
            len(idx),
            np.asarray(starts, dtype=np.int32),
            np.asarray(idx, dtype=np.int32),
            np.asarray(vals, dtype=float),
        )
        self.cuts.extend(cuts)

    def solve(self, deadline: float | None, max_rounds: int = 1000) -> RelaxationResult | None:
        """Cutting-plane loop until no cut is violated, ``max_rounds`` or ``deadline``; None if no LP was solved."""
        t0 = time.perf_counter()
        ok = highspy.HighsModelStatus.kOptimal
        best: RelaxationResult | None = None
        for rnd in range(max_rounds):
            run_highs(self.h, deadline)
            if self.h.getModelStatus() != ok:
                if self.h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
                    value = -math.inf if self.maximise else math.inf  # the relaxation proves the spec infeasible
                    return RelaxationResult(value, rnd + 1, True, time.perf_counter() - t0, list(self.cuts))
                return best
            col = np.asarray(self.h.getSolution().col_value)
            obj = float(self.h.getInfo().objective_function_value)
            value = -obj if self.maximise else obj
            x, a, z = col[: self.n_pairs], col[self.arc0 : self.site0], col[self.site0 :]
            if best is None or (value < best.bound if self.maximise else value > best.bound):
                best = RelaxationResult(value, rnd + 1, False, time.perf_counter() - t0, list(self.cuts), x, a, z)
            else:
                best.rounds, best.x, best.arcs, best.sites = rnd + 1, x, a, z
            if deadline is not None and time.monotonic() > deadline:
                break
            cuts = self.separate(x, a)
            if not cuts:
                best.converged = True
                break
            self._add(cuts)
        if best is not None:
            best.seconds = time.perf_counter() - t0
            best.cuts = list(self.cuts)
        return best


def _widest(graph: sp.csr_array, source: int) -> np.ndarray:
    """Per node, the largest bottleneck capacity of a path from ``source`` (a lower bound on the max-flow to it)."""
    n = graph.shape[0]
    width = np.zeros(n)
    width[source] = math.inf
    indptr, indices, data = graph.indptr, graph.indices, graph.data
    heap = [(-math.inf, source)]
    done = np.zeros(n, dtype=bool)
    while heap:
        neg, u = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        wu = -neg
        for j in range(indptr[u], indptr[u + 1]):
            v = int(indices[j])
            w = min(wu, float(data[j]))
            if w > width[v]:
                width[v] = w
                heapq.heappush(heap, (-w, v))
    return width


def shared_relaxation(data: ModelData, spec: ModelSpec, deadline: float | None) -> RelaxationResult | None:
    """The cut-strengthened LP bound of a shared-infrastructure spec (None when not applicable or no LP in time)."""
    if data.infra is None or spec.metric == "communities" or spec.roadmap is not None or data.options.empty:
        return None
    return SharedRelaxation(data, spec).solve(deadline)


def add_cuts(m: pyo.ConcreteModel, cuts: list[Cut]) -> int:
    """Add directed cuts ``Σ_{k∈cut} a[k] >= sel[p]`` to the Pyomo model ``m`` (``m.fibre_cuts``); returns how many."""
    if not cuts or not hasattr(m, "arc"):
        return 0
    m.fibre_cuts = pyo.ConstraintList()
    for c in cuts:
        m.fibre_cuts.add(pyo.quicksum(m.arc[int(k)] for k in c.arcs) >= m.sel[c.pair])
    return len(cuts)
