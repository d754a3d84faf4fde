"""Budgeted prize-collecting Steiner trees: the planner's shared model against enumeration and networkx.

The shared-fibre problem is a rooted, budgeted prize-collecting Steiner tree: connect to the backbone (the root)
the prize nodes (offices, prize = people) that earn the most within a budget, paying each edge once. This runs
instances of that problem in STP format with terminal prizes (``TP node prize`` lines, as in SteinLib's and the
DIMACS 2014 PCSPG / RPCST sets, read by :func:`planner.network.read_stp`) through the planner's shared model:

* **exact**: ``planner.optimize.solve.solve_spec`` with ``method: exact`` (cut LP, heuristic, MIP with the cuts);
* **heuristic**: ``planner.heuristics.sharing.shared_heuristic`` (cut-LP bound, two starts);
* **networkx**: networkx's Steiner tree heuristic (Mehlhorn) on the root and every prize node, then pruned
  (Steiner leaves first, then the prize leaf of least prize per USD of its pendant edge) until within the budget.

No PCSPG set ships with the repository and their published optima are for the unbudgeted Goemans-Williamson
objective, which this problem is not; so the instances are generated here, each from its documented seed
(``SERIES``): points uniform in a 1,000 × 1,000 square, edges of the Delaunay triangulation (integer weight =
rounded Euclidean length), root node 1, prizes uniform integers 1..100 on a random share of the nodes, budget =
a share of the cost of networkx's tree through all prize nodes. Small ones (up to 16 nodes) carry their optimum
by enumeration of every node set (the cheapest tree on a node set is its minimum spanning tree); larger ones
only the proven bounds. ``--write DIR`` writes the instances as STP files; STP files given on the command line
are run too (budget: ``--budget-share`` of networkx's full tree; root: ``RootP``, else node 1).

Usage: ``python benchmarks/pcstp.py [--time-limit 30] [--write DIR] [--markdown] [FILES ...]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from networkx.algorithms.approximation import steiner_tree as nx_steiner_tree
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import Delaunay

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.heuristics.sharing import shared_heuristic  # noqa: E402
from planner.network import SharedInfra, SteinInstance, read_stp, write_stp  # noqa: E402
from planner.network.graphs import ARC_COLUMNS  # noqa: E402
from planner.optimize.solve import EXACT, solve_spec  # noqa: E402
from planner.problem import ModelData, ModelSpec  # noqa: E402
from planner.scenario import SolverSettings  # noqa: E402

# name, seed, nodes, share of nodes with a prize, budget as a share of networkx's tree through every prize node
SERIES: list[tuple[str, int, int, float, float]] = [
    ("bpc12a", 1, 12, 0.5, 0.4),
    ("bpc14a", 2, 14, 0.5, 0.3),
    ("bpc16a", 3, 16, 0.6, 0.5),
    ("bpc16b", 4, 16, 0.4, 0.25),
    ("bpc200a", 11, 200, 0.3, 0.3),
    ("bpc500a", 12, 500, 0.3, 0.3),
    ("bpc1000a", 13, 1000, 0.25, 0.2),
    ("bpc2000a", 14, 2000, 0.25, 0.2),
]
ENUMERATE_MAX_NODES = 16


def generate(name: str, seed: int, n: int, prize_share: float) -> SteinInstance:
    """A random geometric instance (see the module docstring) from ``seed``."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, size=(n, 2))
    g = nx.Graph(name=name)
    g.add_nodes_from(range(1, n + 1))
    for simplex in Delaunay(xy).simplices:
        for a, b in ((0, 1), (1, 2), (0, 2)):
            u, v = int(simplex[a]), int(simplex[b])
            g.add_edge(u + 1, v + 1, weight=max(1, round(float(np.hypot(*(xy[u] - xy[v]))))))
    others = np.arange(2, n + 1)
    k = max(1, round(prize_share * n))
    picked = sorted(int(v) for v in rng.choice(others, size=min(k, len(others)), replace=False))
    prizes = {v: float(rng.integers(1, 101)) for v in picked}
    return SteinInstance(name, g, picked, None, prizes, root=1)


def full_tree_cost(inst: SteinInstance) -> float:
    """Cost of networkx's Steiner tree through the root and every prize node."""
    root = inst.root or 1
    tree = nx_steiner_tree(inst.graph, [root, *inst.prizes], weight="weight", method="mehlhorn")
    return float(tree.size(weight="weight"))


def to_model(inst: SteinInstance, budget: float) -> tuple[ModelData, ModelSpec]:
    """The instance as the planner's shared model: root = fibre node, prize nodes = offices whose fibre pair costs
    nothing and weighs its prize, other nodes = junctions; every edge a candidate trench (both directions, never
    into the root); ``max_coverage`` within ``budget``."""
    root = inst.root or 1
    nodes = sorted(inst.graph.nodes)
    kind = ["fibre_node" if v == root else "office" if v in inst.prizes else "junction" for v in nodes]
    ref = [f"R{v}" if v == root else f"N{v}" if v in inst.prizes else "" for v in nodes]
    node_table = pd.DataFrame(
        {"node": np.arange(len(nodes)), "node_id": [f"n:{v}" for v in nodes], "kind": kind, "ref": ref,
         "lat": 0.0, "lon": 0.0}
    )  # fmt: skip
    index = {v: i for i, v in enumerate(nodes)}
    rows = []
    for e, (u, v, d) in enumerate(sorted(inst.graph.edges(data=True))):
        w = float(d.get("weight", 1))
        for t, h in ((u, v), (v, u)):
            if h != root:
                direct = f"N{h}" if t == root and h in inst.prizes else ""
                rows.append((index[t], index[h], e, w, w, 0.0, direct, w))
    arcs = pd.DataFrame(rows, columns=[*ARC_COLUMNS[1:], "cost_usd"])
    arcs.insert(0, "arc", np.arange(len(arcs)))
    offices = [f"N{v}" for v in sorted(inst.prizes)]
    direct_cost = dict(zip(arcs["direct_for"], arcs["cost_usd"], strict=True))
    options = pd.DataFrame(
        {"office_id": offices, "technology": "fibre", "cost_usd": 0.0, "capex_usd": 0.0, "opex_usd_per_year": 0.0,
         "econ_cost_usd": 0.0, "shared": "fibre",
         "standalone_cost_usd": [direct_cost.get(o, np.nan) for o in offices]}
    )  # fmt: skip
    options["standalone_econ_usd"] = options["standalone_cost_usd"]
    table = pd.DataFrame(
        {"office_id": offices, "weight": [inst.prizes[v] for v in sorted(inst.prizes)], "region": "R",
         "community": offices}
    )  # fmt: skip
    infra = SharedInfra(nodes=node_table, arcs=arcs, method="exact", fibre_technology="fibre")
    return ModelData(options, table, infra), ModelSpec("max_coverage", budget_usd=budget)


def enumerate_optimum(inst: SteinInstance, budget: float) -> float:
    """The most prize within ``budget``: every node set with the root, priced at its minimum spanning tree."""
    root = inst.root or 1
    nodes = sorted(inst.graph.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    n = len(nodes)
    w = np.zeros((n, n))
    for u, v, d in inst.graph.edges(data=True):
        w[index[u], index[v]] = w[index[v], index[u]] = float(d.get("weight", 1))
    prize = np.array([inst.prizes.get(v, 0.0) for v in nodes])
    others = [i for i in range(n) if nodes[i] != root]
    best = 0.0
    for mask in range(1 << len(others)):
        keep = [index[root]] + [others[j] for j in range(len(others)) if mask >> j & 1]
        gain = float(prize[keep].sum())
        if gain <= best:
            continue
        sub = sp.csr_matrix(w[np.ix_(keep, keep)])
        if connected_components(sub, directed=False)[0] != 1:
            continue
        if float(minimum_spanning_tree(sub).sum()) <= budget + 1e-9:
            best = gain
    return best


def networkx_heuristic(inst: SteinInstance, budget: float) -> float:
    """Prize of networkx's tree through every prize node, pruned until it fits ``budget`` (module docstring)."""
    root = inst.root or 1
    tree = nx.Graph(nx_steiner_tree(inst.graph, [root, *inst.prizes], weight="weight", method="mehlhorn"))
    while True:
        leaves = [v for v in tree.nodes if v != root and tree.degree(v) == 1]
        plain = [v for v in leaves if v not in inst.prizes]
        if plain:
            tree.remove_nodes_from(plain)
            continue
        if tree.size(weight="weight") <= budget + 1e-9 or not leaves:
            break

        def ratio(v: int) -> float:
            (u,) = tree.neighbors(v)
            return inst.prizes[v] / max(float(tree[v][u]["weight"]), 1e-9)

        tree.remove_node(min(leaves, key=ratio))
    if tree.size(weight="weight") > budget + 1e-9:
        return 0.0
    return float(sum(inst.prizes.get(v, 0.0) for v in tree.nodes))


def run(inst: SteinInstance, budget: float, limit: float, optimum: float | None) -> dict[str, object]:
    data, spec = to_model(inst, budget)
    settings = SolverSettings(time_limit_s=limit, mip_gap=1e-6)
    t0 = time.perf_counter()
    exact = solve_spec(data, spec, settings)
    t1 = time.perf_counter()
    heur = shared_heuristic(data, spec, settings, EXACT)
    t2 = time.perf_counter()
    nxv = networkx_heuristic(inst, budget)
    t3 = time.perf_counter()
    ref = optimum if optimum is not None else exact.bound

    def gap(v: float) -> str:
        return f"{(ref - v) / ref:.2e}" if ref > 0 else "0"

    return {
        "instance": inst.name,
        "nodes": inst.graph.number_of_nodes(),
        "edges": inst.graph.number_of_edges(),
        "prize_nodes": len(inst.prizes),
        "budget": round(budget),
        "optimum": "-" if optimum is None else f"{optimum:g}",
        "exact": f"{exact.objective:g}",
        "exact_bound": f"{exact.bound:.6g}",
        "exact_status": exact.status,
        "exact_s": round(t1 - t0, 1),
        "heuristic": f"{heur.objective:g}",
        "heuristic_bound": f"{heur.bound:.6g}",
        "heuristic_gap": gap(heur.objective),
        "heuristic_s": round(t2 - t1, 1),
        "networkx": f"{nxv:g}",
        "networkx_gap": gap(nxv),
        "networkx_s": round(t3 - t2, 2),
        "gap_to": "optimum" if optimum is not None else "exact bound",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--budget-share", type=float, default=0.3)
    parser.add_argument("--write", type=Path, default=None)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--only", default=None, help="run the generated instances whose name contains this")
    args = parser.parse_args()
    rows = []
    for name, seed, n, share, budget_share in SERIES:
        if args.only is not None and args.only not in name:
            continue
        inst = generate(name, seed, n, share)
        budget = float(round(budget_share * full_tree_cost(inst)))
        optimum = enumerate_optimum(inst, budget) if n <= ENUMERATE_MAX_NODES else None
        if args.write is not None:
            args.write.mkdir(parents=True, exist_ok=True)
            note = f"seed {seed}; budget {budget:g}" + (f"; budgeted optimum {optimum:g}" if optimum else "")
            write_stp(args.write / f"{name}.stp", inst, note)
        rows.append(run(inst, budget, args.time_limit, optimum))
        print(rows[-1], file=sys.stderr, flush=True)
    for path in args.files:
        inst = read_stp(path)
        if not inst.prizes:
            inst.prizes = dict.fromkeys(inst.terminals, 1.0)
        budget = float(round(args.budget_share * full_tree_cost(inst)))
        rows.append(run(inst, budget, args.time_limit, None))
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    if args.markdown:  # by hand: pandas' to_markdown needs tabulate, not a dependency
        print("| " + " | ".join(table.columns) + " |")
        print("|" + "---|" * len(table.columns))
        for row in table.itertuples(index=False):
            print("| " + " | ".join(str(v) for v in row) + " |")
    else:
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
