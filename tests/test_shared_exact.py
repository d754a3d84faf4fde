"""The exact path of the shared model and its bounds, against enumeration on random small instances.

Instances are built directly as :class:`planner.problem.ModelData` with a hand-made
:class:`planner.network.SharedInfra`: 1-2 backbone nodes, 3-5 offices, up to one road junction, random trench
costs, stand-alone (LEO-like), new-site (4G) and relay (microwave) options, 0-2 candidate sites. The optimum is
found by enumeration: every assignment of one option (or none) per office, each fibre set priced at its least-cost
forest to the backbone (enumerating every subset of candidate edges), each site set at its cheapest cover.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.heuristics.sharing import shared_heuristic
from planner.network import SharedInfra
from planner.network.graphs import ARC_COLUMNS
from planner.optimize.shared import SharedRelaxation, shared_relaxation
from planner.optimize.solve import EXACT, solve_spec
from planner.problem import ModelData, ModelSpec, NoFeasiblePlan, SolveResult
from planner.scenario import SolverSettings

EXACT_SETTINGS = SolverSettings(mip_gap=0.0, time_limit_s=30)


@dataclass
class Instance:
    """A random instance and what enumeration needs to price it."""

    data: ModelData
    edges: list[tuple[int, int, float]]  # undirected candidate edges (u, v, USD)
    roots: set[int]
    office_node: dict[str, int]
    site_cost: list[float]
    site_cover: list[set[str]]
    hubs: dict[str, set[str]]  # relay office -> offices that can feed it


def make_instance(seed: int) -> Instance:
    """A random instance (see the module docstring); the same seed gives the same instance."""
    rng = np.random.default_rng(seed)
    n_roots, n_off = int(rng.integers(1, 3)), int(rng.integers(3, 6))
    n_junction = int(rng.integers(0, 2))
    offices = [f"O{k}" for k in range(n_off)]
    office_node = {o: n_roots + k for k, o in enumerate(offices)}
    n_nodes = n_roots + n_off + n_junction
    roots = set(range(n_roots))
    edges: dict[tuple[int, int], float] = {}
    direct: dict[str, tuple[int, int]] = {}
    for o in offices:  # the stand-alone trench of every office, to a random backbone node
        r = int(rng.integers(0, n_roots))
        edges[(r, office_node[o])] = float(rng.integers(8, 31))
        direct[o] = (r, office_node[o])
    others = list(range(n_roots, n_nodes))
    pairs = [(u, v) for u in range(n_nodes) for v in others if u < v and (u, v) not in edges]
    rng.shuffle(pairs)
    for u, v in pairs[: int(rng.integers(2, 7))]:
        edges[(u, v)] = float(rng.integers(1, 16))
    rows = []
    for e, ((u, v), c) in enumerate(sorted(edges.items())):
        for t, h in ((u, v), (v, u)):
            if h in roots:
                continue
            is_direct = t in roots and any(d == (u, v) for d in direct.values())
            owner = next((o for o, d in direct.items() if d == (u, v)), "") if is_direct else ""
            rows.append((t, h, e, c, c, 0.0, owner, c))
    arcs = pd.DataFrame(rows, columns=[*ARC_COLUMNS[1:], "cost_usd"])
    arcs.insert(0, "arc", np.arange(len(arcs)))
    nodes = pd.DataFrame(
        {
            "node": np.arange(n_nodes),
            "node_id": [f"fibre:F{k}" for k in range(n_roots)]
            + [f"office:{o}" for o in offices]
            + [f"junction:{k}" for k in range(n_junction)],
            "kind": ["fibre_node"] * n_roots + ["office"] * n_off + ["junction"] * n_junction,
            "ref": [f"F{k}" for k in range(n_roots)] + offices + [""] * n_junction,
            "lat": 0.0,
            "lon": 0.0,
        }
    )
    site_offices = [o for o in offices if rng.random() < 0.5]
    n_sites = int(rng.integers(0, 3)) if site_offices else 0
    site_cover = [{o for o in site_offices if rng.random() < 0.7} or {site_offices[0]} for _ in range(n_sites)]
    site_cost = [float(rng.integers(10, 26)) for _ in range(n_sites)]
    sites = pd.DataFrame(
        {
            "site": np.arange(n_sites),
            "site_id": [f"site:{k}" for k in range(n_sites)],
            "lat": 0.0,
            "lon": 0.0,
            "capex_usd": site_cost,
            "opex_usd_per_year": 0.0,
            "cost_usd": site_cost,
        }
    )
    cover = pd.DataFrame([(s, o) for s in range(n_sites) for o in sorted(site_cover[s])], columns=["site", "office_id"])
    hubs: dict[str, set[str]] = {}
    relay_rows = []
    for o in offices:
        if rng.random() < 0.4:
            hubs[o] = {h for h in offices if h != o and rng.random() < 0.5}
            relay_rows += [(o, h, 1.0) for h in sorted(hubs[o])]
    relays = pd.DataFrame(relay_rows, columns=["office_id", "hub_office_id", "distance_km"])
    opts = []
    for o in offices:
        own = float(rng.integers(1, 6))
        opts.append((o, "fibre", own, "fibre", own + edges[direct[o]]))
        if rng.random() < 0.6:
            opts.append((o, "leo_satellite", float(rng.integers(8, 30)), "", np.nan))
        if any(o in c for c in site_cover):
            opts.append((o, "cellular_4g", float(rng.integers(1, 4)), "site", np.nan))
        if hubs.get(o):
            opts.append((o, "microwave", float(rng.integers(2, 8)), "relay", np.nan))
    options = pd.DataFrame(opts, columns=["office_id", "technology", "cost_usd", "shared", "standalone_cost_usd"])
    options["capex_usd"] = options["cost_usd"]
    options["opex_usd_per_year"] = 0.0
    options["econ_cost_usd"] = options["cost_usd"]
    options["standalone_econ_usd"] = options["standalone_cost_usd"]
    weight = rng.integers(1, 100, size=n_off).astype(float)
    table = pd.DataFrame({"office_id": offices, "weight": weight, "region": "R", "community": offices})
    infra = SharedInfra(
        nodes=nodes,
        arcs=arcs,
        sites=sites,
        site_cover=cover,
        relays=relays,
        method="exact",
        fibre_technology="fibre",
    )
    undirected = [(u, v, c) for (u, v), c in sorted(edges.items())]
    return Instance(ModelData(options, table, infra), undirected, roots, office_node, site_cost, site_cover, hubs)


def forest_costs(inst: Instance) -> dict[frozenset[int], float]:
    """Least cost of trenches that join each set of office nodes to the backbone (every edge subset enumerated)."""
    best: dict[frozenset[int], float] = {}
    n_edges = len(inst.edges)
    for mask in range(1 << n_edges):
        adj: dict[int, list[int]] = {}
        cost = 0.0
        for e in range(n_edges):
            if mask >> e & 1:
                u, v, c = inst.edges[e]
                adj.setdefault(u, []).append(v)
                adj.setdefault(v, []).append(u)
                cost += c
        seen, stack = set(inst.roots), list(inst.roots)
        while stack:
            for v in adj.get(stack.pop(), []):
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
        reached = frozenset(v for v in inst.office_node.values() if v in seen)
        if cost < best.get(reached, np.inf):
            best[reached] = cost
    return best


def enumerate_optimum(inst: Instance, spec: ModelSpec) -> tuple[float, float] | None:
    """(optimal objective, cost USD of an optimal plan) by enumeration, None when no plan is feasible.

    max_coverage: the most coverage within the budget, least cost among those; min_cost: the least cost meeting the
    coverage target.
    """
    data = inst.data
    forests = forest_costs(inst)

    def trench(fibre: set[int]) -> float:
        return min((c for s, c in forests.items() if fibre <= s), default=np.inf)

    def cover(need: set[str]) -> float:
        best = 0.0 if not need else np.inf
        for r in range(1, len(inst.site_cost) + 1):
            for pick in itertools.combinations(range(len(inst.site_cost)), r):
                if need <= set().union(*(inst.site_cover[s] for s in pick)):
                    best = min(best, sum(inst.site_cost[s] for s in pick))
        return best

    weight = dict(zip(data.offices["office_id"], data.offices["weight"], strict=True))
    total_w = float(data.offices["weight"].sum())
    choices = {o: [None, *g.itertuples(index=False)] for o, g in data.options.groupby("office_id")}
    offices = sorted(choices)
    best: tuple[float, float] | None = None
    for combo in itertools.product(*(choices[o] for o in offices)):
        picked = {o: c for o, c in zip(offices, combo, strict=True) if c is not None}
        fibre = {o for o, c in picked.items() if c.shared == "fibre"}
        if any(c.shared == "relay" and not (inst.hubs.get(o, set()) & fibre) for o, c in picked.items()):
            continue
        cost = sum(c.cost_usd for c in picked.values())
        cost += trench({inst.office_node[o] for o in fibre})
        cost += cover({o for o, c in picked.items() if c.shared == "site"})
        cov = sum(weight[o] for o in picked)
        if spec.objective == "max_coverage":
            if cost > (spec.budget_usd or 0.0) + 1e-9:
                continue
            key = (cov, cost)
            if best is None or cov > best[0] + 1e-9 or (abs(cov - best[0]) <= 1e-9 and cost < best[1]):
                best = key
        else:
            if cov < (spec.coverage_target or 0.0) * total_w - 1e-9 or not np.isfinite(cost):
                continue
            if best is None or cost < best[0] - 1e-9:
                best = (cost, cost)
    return best


def check_plan(inst: Instance, spec: ModelSpec, result: SolveResult) -> float:
    """The plan check: every fibre office reaches the backbone on the plan's arcs, every new-site office is covered
    by a built site, every relay has a fibre hub, the budget or target holds; returns the plan's cost (USD)."""
    data = inst.data
    infra = data.infra
    assert infra is not None
    opts = data.options.iloc[result.chosen]
    assert opts["office_id"].is_unique, "one technology per office"
    arcs = result.arcs if result.arcs is not None else np.zeros(0, dtype=np.int64)
    sites = result.sites if result.sites is not None else np.zeros(0, dtype=np.int64)
    tail, head = infra.arcs["tail"].to_numpy(), infra.arcs["head"].to_numpy()
    built = {(int(tail[k]), int(head[k])) for k in arcs}
    adj: dict[int, list[int]] = {}
    for t, h in built:
        adj.setdefault(t, []).append(h)
    seen, stack = set(inst.roots), list(inst.roots)
    while stack:
        for v in adj.get(stack.pop(), []):
            if v not in seen:
                seen.add(v)
                stack.append(v)
    fibre = set(opts.loc[opts["shared"] == "fibre", "office_id"])
    for o in fibre:
        assert inst.office_node[o] in seen, f"fibre office {o} has no built path to the backbone"
    covered = set().union(*(inst.site_cover[int(s)] for s in sites)) if len(sites) else set()
    for o in opts.loc[opts["shared"] == "site", "office_id"]:
        assert o in covered, f"office {o} on a new site that is not built"
    for o in opts.loc[opts["shared"] == "relay", "office_id"]:
        assert inst.hubs[o] & fibre, f"relay {o} without a fibre hub"
    cost = float(opts["cost_usd"].sum() + infra.arcs["cost_usd"].to_numpy()[arcs].sum())
    cost += float(infra.sites["cost_usd"].to_numpy()[sites].sum())
    assert cost == pytest.approx(result.cost_usd, rel=1e-9, abs=1e-9)
    weight = data.offices.set_index("office_id")["weight"]
    cov = float(weight.reindex(opts["office_id"]).sum())
    assert cov == pytest.approx(result.coverage)
    if spec.budget_usd is not None:
        assert cost <= spec.budget_usd + 1e-6
    if spec.coverage_target is not None:
        assert cov >= spec.coverage_target * float(data.offices["weight"].sum()) - 1e-6
    return cost


def random_spec(seed: int) -> ModelSpec:
    rng = np.random.default_rng(seed + 7919)
    if rng.random() < 0.6:
        return ModelSpec("max_coverage", budget_usd=float(rng.integers(10, 70)))
    return ModelSpec("min_cost", coverage_target=float(rng.choice([0.4, 0.7, 1.0])))


def bound_side(spec: ModelSpec, bound: float, optimum: float) -> None:
    """A proven bound is on the right side of the optimum (above it for max_coverage, below it for min_cost)."""
    if spec.objective == "max_coverage":
        assert bound >= optimum - 1e-6
    else:
        assert bound <= optimum + 1e-6


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10**6))
def test_exact_path_matches_enumeration(seed: int) -> None:
    """The exact model with the cut LP returns the enumerated optimum; its plan passes the plan check; the cut
    LP's bound is never on the wrong side of the optimum."""
    inst, spec = make_instance(seed), random_spec(seed)
    best = enumerate_optimum(inst, spec)
    relax = shared_relaxation(inst.data, spec, None)
    if best is None:
        with pytest.raises(NoFeasiblePlan):
            solve_spec(inst.data, spec, EXACT_SETTINGS)
        return
    assert relax is not None and relax.converged
    bound_side(spec, relax.bound, best[0])
    result = solve_spec(inst.data, spec, EXACT_SETTINGS)
    assert result.objective == pytest.approx(best[0], abs=1e-6)
    bound_side(spec, result.bound, best[0])
    cost = check_plan(inst, spec, result)
    if spec.objective == "max_coverage":
        assert cost == pytest.approx(best[1], abs=1e-6)  # the tie-break: least cost at the optimal coverage


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10**6))
def test_heuristic_plan_is_feasible_and_its_bound_proven(seed: int) -> None:
    """The heuristic (with its LP-seeded second start) returns a plan that passes the plan check, is never better
    than the optimum, and reports a bound on the right side of the optimum."""
    inst, spec = make_instance(seed), random_spec(seed)
    best = enumerate_optimum(inst, spec)
    if best is None:
        return
    data = replace(inst.data, infra=replace(inst.data.infra, method="heuristic"))  # type: ignore[arg-type]
    try:
        result = shared_heuristic(data, spec, EXACT_SETTINGS, EXACT)
    except NoFeasiblePlan:  # the stand-alone start may have no plan where sharing has one (min_cost)
        assert spec.objective == "min_cost"
        return
    check_plan(inst, spec, result)
    bound_side(spec, result.bound, best[0])
    if spec.objective == "max_coverage":
        assert result.objective <= best[0] + 1e-6
    else:
        assert result.objective >= best[0] - 1e-6


def one_office(budget: float) -> tuple[ModelData, ModelSpec]:
    """One backbone node, one office of weight 10: fibre 1 USD at the office plus a 100 USD trench."""
    nodes = pd.DataFrame(
        {"node": [0, 1], "node_id": ["fibre:F", "office:A"], "kind": ["fibre_node", "office"], "ref": ["F", "A"],
         "lat": 0.0, "lon": 0.0}
    )  # fmt: skip
    arcs = pd.DataFrame(
        [(0, 0, 1, 0, 1.0, 100.0, 0.0, "A", 100.0)],
        columns=[*ARC_COLUMNS, "cost_usd"],
    )
    options = pd.DataFrame(
        {"office_id": ["A"], "technology": ["fibre"], "cost_usd": [1.0], "capex_usd": [1.0], "opex_usd_per_year": 0.0,
         "econ_cost_usd": [1.0], "shared": ["fibre"], "standalone_cost_usd": [101.0], "standalone_econ_usd": [101.0]}
    )  # fmt: skip
    offices = pd.DataFrame({"office_id": ["A"], "weight": [10.0], "region": "R", "community": ["A"]})
    infra = SharedInfra(nodes=nodes, arcs=arcs, method="heuristic", fibre_technology="fibre")
    return ModelData(options, offices, infra), ModelSpec("max_coverage", budget_usd=budget)


def test_cut_lp_bound_by_hand() -> None:
    """One office whose trench costs 100 USD and a 50 USD budget: the trivial bound (trenches free) is 10 people;
    the cut x <= a with 1·x + 100·a <= 50 gives the LP optimum x = a = 50/101, a bound of 500/101."""
    data, spec = one_office(50.0)
    relax = SharedRelaxation(data, spec).solve(None)
    assert relax is not None and relax.converged
    assert relax.bound == pytest.approx(500 / 101)
    result = shared_heuristic(data, spec, EXACT_SETTINGS, EXACT)
    assert result.objective == 0.0
    assert result.bound == pytest.approx(500 / 101)  # not the trivial 10


def test_cut_lp_separates_a_two_cycle() -> None:
    """An office A next to a junction J (A-J costs 1 USD, backbone-A 100 USD): without directed cuts the LP can pay
    for the 2-cycle A->J->A and a sliver of the trench; the cut on {A, J} forces the trench. Budget 51 USD:
    x <= a(F->A) gives the LP optimum 10·51/101."""
    data, spec = one_office(51.0)
    infra = data.infra
    assert infra is not None
    nodes = pd.concat(
        [infra.nodes, pd.DataFrame({"node": [2], "node_id": ["junction:0"], "kind": ["junction"], "ref": [""],
                                    "lat": [0.0], "lon": [0.0]})], ignore_index=True
    )  # fmt: skip
    extra = pd.DataFrame(
        [(1, 1, 2, 1, 1.0, 1.0, 0.0, "", 1.0), (2, 2, 1, 1, 1.0, 1.0, 0.0, "", 1.0)], columns=list(infra.arcs.columns)
    )
    arcs = pd.concat([infra.arcs, extra], ignore_index=True)
    data = replace(data, infra=replace(infra, nodes=nodes, arcs=arcs))
    relax = SharedRelaxation(data, spec).solve(None)
    assert relax is not None and relax.converged and len(relax.cuts) >= 1
    assert relax.bound == pytest.approx(510 / 101)


def test_relaxation_stops_at_its_deadline_with_a_proven_bound() -> None:
    """A deadline already passed: one LP is still solved and its value (a relaxation, whatever the cuts) reported."""
    inst = make_instance(3)
    spec = ModelSpec("max_coverage", budget_usd=40.0)
    relax = SharedRelaxation(inst.data, spec).solve(deadline=0.0)
    best = enumerate_optimum(inst, spec)
    assert best is not None
    assert relax is None or relax.bound >= best[0] - 1e-6


def test_instances_are_varied() -> None:
    """The generator exercises budgets, sites and relays (else the enumeration tests would prove little)."""
    kinds: dict[str, int] = {}
    for seed in range(60):
        for k in make_instance(seed).data.options["shared"]:
            kinds[str(k)] = kinds.get(str(k), 0) + 1
    assert all(kinds.get(k, 0) >= 10 for k in ("fibre", "site", "relay", "")), kinds
