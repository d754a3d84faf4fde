"""The Pyomo model of DESIGN §5: the definition of an optimal plan (its data types: :mod:`planner.problem`).

One function per constraint family, ``add_<family>(model, data, spec)``, each with its maths, called in a
fixed order by :func:`build_model`. Variables exist only for eligible (office, technology) pairs (the model is
sparse). Pairs are numbered ``p = 0..P-1`` in the order of ``ModelData.options``.

Notation: ``x[p] ∈ {0,1}`` pair p chosen; ``o(p)`` its office, ``t(p)`` its technology; ``c[p]`` its cost
(USD, budget basis); ``w[i]`` office weight (population × priority, or priority); ``u[k] ∈ [0,1]`` community k
covered (communities metric only); ``W`` the total weight of all planned offices (or communities), including
those with no eligible option, so coverage shares are shares of everything that should be connected.

Backup links (``policy.backup_link_for_services``): an office i that must have two independent links takes a
primary p and a backup q with kind(q) ≠ kind(p) and another anchor. With backup variables y[q] the family reads
``Σ_{q∈i} y[q] = Σ_{p∈i} x[p]`` and ``Σ_{p∈i, kind(p)=k} (x[p] + y[p]) ≤ 1`` for every kind k, with
``c[q]·y[q]`` in the budget. Because coverage counts only x and an office's pair costs c[p] + c[q], the optimum
takes for each primary its cheapest admissible backup: costing expands the family exactly into the options
(each row p carries min_q c[q], see ``planner.costing._add_backups``), so every solve path (greedy bounds,
HiGHS, the side heuristic, the diagnosis) sees the same problem.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import pyomo.environ as pyo

from planner.problem import ModelData, ModelSpec


def add_variables(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """Decision variables: ``x[p] ∈ {0,1}`` for each eligible pair p and ``u[k] ∈ [0,1]`` for communities.

    ``x[p,y]`` per year in a roadmap, with ``sel[p] = Σ_y x[p,y]``; ``u[k]`` per community for the communities metric.
    """
    m.P = pyo.RangeSet(0, len(data.options) - 1) if len(data.options) else pyo.Set(initialize=[])
    if spec.roadmap is None:
        m.x = pyo.Var(m.P, domain=pyo.Binary)
        object.__setattr__(m, "sel", m.x)  # sel[p]: pair p chosen (an alias, not a second component)
    else:
        m.Y = pyo.Set(initialize=spec.roadmap.years, ordered=True)
        m.x = pyo.Var(m.P, m.Y, domain=pyo.Binary)
        m.sel = pyo.Expression(m.P, rule=lambda m, p: pyo.quicksum(m.x[p, y] for y in m.Y))
    off = data.options["office_id"].to_numpy()
    m.pair_office = off
    m.pair_tech = data.options["technology"].to_numpy()
    m.pair_cost = data.options["cost_usd"].to_numpy(float)
    m.pair_econ = data.econ
    weight = dict(zip(data.offices["office_id"], data.offices["weight"], strict=True))
    m.pair_weight = np.array([weight[o] for o in off], dtype=float)
    m.W = data.total_weight(spec.metric)
    by_office: dict[str, list[int]] = defaultdict(list)
    for p, o in enumerate(off):
        by_office[o].append(p)
    m.by_office = by_office
    if spec.metric == "communities":
        community = dict(zip(data.offices["office_id"], data.offices["community"], strict=True))
        m.K = pyo.Set(initialize=sorted(data.offices["community"].unique()))
        m.u = pyo.Var(m.K, bounds=(0, 1))
        m.community_pairs = defaultdict(list)
        for p, o in enumerate(off):
            m.community_pairs[community[o]].append(p)


def add_fibre_network(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """Shared fibre: trench arcs ``a[k] ∈ {0,1}`` of the candidate graph, each paid once, and a flow ``f[k] >= 0``.

    The flow runs from the backbone (roots R) to every office whose shared fibre pair p(v) is chosen.

    For every node v ∉ R with in-arcs δ⁻(v) and out-arcs δ⁺(v):

    * in-degree: ``Σ_{k∈δ⁻(v)} a[k] <= 1`` (a tree: one trench reaches v);
    * office: ``sel[p(v)] <= Σ_{k∈δ⁻(v)} a[k]`` (a fibre office is reached by a built trench);
    * extend: ``a[k] <= Σ_{k'∈δ⁻(tail k)} a[k']`` for arcs leaving a non-root (a trench continues a trench);
    * flow: ``Σ_{δ⁻(v)} f − Σ_{δ⁺(v)} f = sel[p(v)]`` (0 at junctions): every fibre office is linked to R;
    * capacity: ``f[k] <= M·a[k]`` with M the number of shared fibre pairs.

    ``fibre_cost = Σ_k c[k]·a[k]`` (USD, budget basis). The extend and office rows make the LP charge every
    trench on a fibre office's path, which keeps the relaxation tight. Arcs never enter a root; the undirected
    edge e is built when ``y[e] = Σ_{k on e} a[k]`` is 1 (at most one direction is useful).
    """
    infra, shared = data.infra, data.shared
    pair_of = {m.pair_office[p]: p for p in range(len(shared)) if shared[p] == "fibre"}
    if infra is None or infra.arcs.empty or not pair_of:
        m.fibre_cost = pyo.Expression(expr=0.0)
        m.fibre_econ = pyo.Expression(expr=0.0)
        return
    arcs, nodes = infra.arcs, infra.nodes
    tail, head = arcs["tail"].to_numpy(np.int64), arcs["head"].to_numpy(np.int64)
    cost = arcs["cost_usd"].to_numpy(float)
    is_office = nodes["kind"] == "office"
    office_node = dict(zip(nodes.loc[is_office, "node"].astype(int), nodes.loc[is_office, "ref"], strict=True))
    into: dict[int, list[int]] = defaultdict(list)
    out: dict[int, list[int]] = defaultdict(list)
    for k in range(len(arcs)):
        into[int(head[k])].append(k)
        out[int(tail[k])].append(k)
    inner = sorted(into)  # non-root nodes (arcs never enter a root)
    big_m = float(len(pair_of))
    m.A = pyo.RangeSet(0, len(arcs) - 1)
    m.arc = pyo.Var(m.A, domain=pyo.Binary)
    m.flow = pyo.Var(m.A, bounds=(0, big_m))

    def demand(v: int) -> pyo.Expression | float:
        p = pair_of.get(office_node.get(v, ""))
        return m.sel[p] if p is not None else 0.0

    m.fibre_in_degree = pyo.Constraint(inner, rule=lambda m, v: pyo.quicksum(m.arc[k] for k in into[v]) <= 1)
    offices = [v for v in inner if office_node.get(v) in pair_of]
    m.fibre_office = pyo.Constraint(
        offices, rule=lambda m, v: m.sel[pair_of[office_node[v]]] <= pyo.quicksum(m.arc[k] for k in into[v])
    )
    extend = [k for k in range(len(arcs)) if int(tail[k]) in into]
    m.fibre_extend = pyo.Constraint(
        extend, rule=lambda m, k: m.arc[k] <= pyo.quicksum(m.arc[j] for j in into[int(tail[k])])
    )
    m.fibre_flow = pyo.Constraint(
        inner,
        rule=lambda m, v: (
            pyo.quicksum(m.flow[k] for k in into[v]) - pyo.quicksum(m.flow[k] for k in out.get(v, [])) == demand(v)
        ),
    )
    m.fibre_capacity = pyo.Constraint(m.A, rule=lambda m, k: m.flow[k] <= big_m * m.arc[k])
    m.fibre_cost = pyo.Expression(expr=pyo.quicksum(float(cost[k]) * m.arc[k] for k in m.A))
    econ = arcs["econ_cost_usd"].to_numpy(float) if "econ_cost_usd" in arcs else cost
    m.fibre_econ = pyo.Expression(expr=pyo.quicksum(float(econ[k]) * m.arc[k] for k in m.A))


def add_tower_sites(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """New tower sites ``z[s] ∈ {0,1}``, which the pairs on a new site need, and their cost (USD).

    ``sel[p] <= Σ_{s covers o(p)} z[s]`` for every pair p on a new site (4G at the CPE price where a built site covers
    the office); ``site_cost = Σ_s c[s]·z[s]`` (USD).
    """
    infra, shared = data.infra, data.shared
    pairs = [p for p in range(len(shared)) if shared[p] == "site"]
    if infra is None or infra.sites.empty or not pairs:
        m.site_cost = pyo.Expression(expr=0.0)
        m.site_econ = pyo.Expression(expr=0.0)
        return
    sites_of: dict[str, list[int]] = defaultdict(list)
    for s, o in zip(infra.site_cover["site"], infra.site_cover["office_id"], strict=True):
        sites_of[str(o)].append(int(s))
    cost = infra.sites["cost_usd"].to_numpy(float)
    m.S = pyo.RangeSet(0, len(infra.sites) - 1)
    m.site = pyo.Var(m.S, domain=pyo.Binary)
    m.site_link = pyo.Constraint(
        pairs, rule=lambda m, p: m.sel[p] <= pyo.quicksum(m.site[s] for s in sites_of[m.pair_office[p]])
    )
    m.site_cost = pyo.Expression(expr=pyo.quicksum(float(cost[s]) * m.site[s] for s in m.S))
    sites = infra.sites
    econ = sites["econ_cost_usd"].to_numpy(float) if "econ_cost_usd" in sites else cost
    m.site_econ = pyo.Expression(expr=pyo.quicksum(float(econ[s]) * m.site[s] for s in m.S))


def add_radio_relays(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """Radio relays: a relay pair needs its far end connected by fibre in the plan.

    ``sel[p] <= Σ_{j ∈ H(o(p))} sel[f(j)]`` for every relay pair p, where H(i) are the offices within hop range of i and
    f(j) the fibre pair of office j.
    """
    infra, shared = data.infra, data.shared
    pairs = [p for p in range(len(shared)) if shared[p] == "relay"]
    if infra is None or infra.relays.empty or not pairs:
        return
    fibre_tech = infra.fibre_technology
    fibre_pair = {m.pair_office[p]: p for p in range(len(shared)) if m.pair_tech[p] == fibre_tech}
    hubs: dict[str, list[int]] = defaultdict(list)
    for o, h in zip(infra.relays["office_id"], infra.relays["hub_office_id"], strict=True):
        if h in fibre_pair:
            hubs[str(o)].append(fibre_pair[h])
    m.relay_link = pyo.Constraint(
        pairs, rule=lambda m, p: m.sel[p] <= pyo.quicksum(m.sel[q] for q in hubs.get(m.pair_office[p], []))
    )


def add_expressions(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """The cost (USD) and coverage expressions.

    ``cost = Σ_p c[p]·sel[p] + fibre_cost + site_cost`` (USD, budget basis: the budget rows);
    ``econ = Σ_p e[p]·sel[p] + fibre_econ + site_econ`` (USD, the scenario's cost_basis: what min_cost and the
    least-cost tie-break minimise; the same expression as ``cost`` when the two bases agree);
    ``coverage = Σ_p w[o(p)]·sel[p]``, or ``Σ_k u[k]`` for communities.

    Roadmap: ``cost = Σ_{p,y} spend[p,y]·x[p,y]`` (capex in year y, plus opex from y to the end year under the
    TCO basis), ``coverage_years = Σ_{p,y} w[o(p)]·(Y_end - y + 1)·x[p,y]`` and
    ``discounted_cost = Σ_{p,y} dc[p,y]·x[p,y]`` (see :class:`RoadmapSpec`).
    """
    if spec.roadmap is None:
        pairs = pyo.quicksum(float(m.pair_cost[p]) * m.x[p] for p in m.P)  # floats: numpy scalars build slowly
        m.cost = pyo.Expression(expr=pairs + m.fibre_cost + m.site_cost)
        if not data.economic_is_budget_cost():  # else the objectives use ``cost`` itself: the same model
            econ = pyo.quicksum(float(m.pair_econ[p]) * m.x[p] for p in m.P)
            m.econ = pyo.Expression(expr=econ + m.fibre_econ + m.site_econ)
    else:
        rm = spec.roadmap
        capex = data.options["capex_usd"].to_numpy(float)
        opex = data.options["opex_usd_per_year"].to_numpy(float)
        m.capex_py, m.spend_py, m.disc_py = {}, {}, {}
        for p in m.P:
            for y in rm.years:
                cap, spend, disc = rm.pair_year_costs(capex[p], opex[p], m.pair_tech[p], y)
                m.capex_py[p, y], m.spend_py[p, y], m.disc_py[p, y] = cap, spend, disc
        m.pair_opex = opex
        m.cost = pyo.Expression(expr=pyo.quicksum(m.spend_py[p, y] * m.x[p, y] for p in m.P for y in m.Y))
        m.discounted_cost = pyo.Expression(expr=pyo.quicksum(m.disc_py[p, y] * m.x[p, y] for p in m.P for y in m.Y))
        end = rm.years[-1]
        m.coverage_years = pyo.Expression(
            expr=pyo.quicksum(m.pair_weight[p] * (end - y + 1) * m.x[p, y] for p in m.P for y in m.Y)
        )
    if spec.metric == "communities":
        m.coverage = pyo.Expression(expr=pyo.quicksum(m.u[k] for k in m.K))
    else:
        m.coverage = pyo.Expression(expr=pyo.quicksum(float(m.pair_weight[p]) * m.sel[p] for p in m.P))


def add_one_technology(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """One technology: ``Σ_{p: o(p)=i} x[p] <= 1`` for each office i with two or more eligible options."""
    multi = [o for o, ps in m.by_office.items() if len(ps) > 1]
    if spec.roadmap is not None:  # one technology and one year: Σ_{p: o(p)=i} Σ_y x[p,y] <= 1
        multi = [o for o, ps in m.by_office.items() if len(ps) * len(spec.roadmap.years) > 1]
    m.one_technology = pyo.Constraint(multi, rule=lambda m, o: pyo.quicksum(m.sel[p] for p in m.by_office[o]) <= 1)


def add_community_coverage(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """Communities metric: ``u[k] <= Σ_{p: o(p) ∈ k} x[p]``: a community counts once one office is connected."""
    if spec.metric != "communities":
        return
    m.community_link = pyo.Constraint(
        m.K, rule=lambda m, k: m.u[k] <= pyo.quicksum(m.sel[p] for p in m.community_pairs.get(k, []))
    )


def add_budget(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """budget: ``Σ_p c[p]·x[p] <= B`` (USD, capex or TCO by the scenario's budget basis)."""
    if spec.budget_usd is not None:
        m.budget = pyo.Constraint(expr=m.cost <= spec.budget_usd)


def add_coverage_target(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """Coverage target: ``coverage >= τ·W``."""
    if spec.coverage_target is not None:
        m.coverage_target = pyo.Constraint(expr=m.coverage >= spec.coverage_target * m.W)


def add_region_minimum(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """per-region minimum: ``coverage_r >= s_r·W_r`` for each region r with a minimum share s_r.

    ``coverage_r`` sums the weights (or community indicators) of region r; key ``*`` sets every region.
    """
    if not spec.region_min_coverage:
        return
    regions = sorted(data.offices["region"].unique())
    share = {r: spec.region_min_coverage.get(r, spec.region_min_coverage.get("*", 0.0)) for r in regions}
    share = {r: s for r, s in share.items() if s > 0}
    if spec.metric == "communities":
        comm_region = data.region_of_community()
        members = {r: [k for k in m.K if comm_region[k] == r] for r in share}
        total = {r: float(len(members[r])) for r in share}

        def rule(m: pyo.ConcreteModel, r: str) -> pyo.Expression:
            return pyo.quicksum(m.u[k] for k in members[r]) >= share[r] * total[r]
    else:
        region_of = dict(zip(data.offices["office_id"], data.offices["region"], strict=True))
        total = data.offices.groupby("region")["weight"].sum().to_dict()
        pairs: dict[str, list[int]] = defaultdict(list)
        for p, o in enumerate(m.pair_office):
            pairs[region_of[o]].append(p)

        def rule(m: pyo.ConcreteModel, r: str) -> pyo.Expression:
            expr = pyo.quicksum(m.pair_weight[p] * m.sel[p] for p in pairs[r])
            if not pairs[r]:
                return pyo.Constraint.Infeasible if share[r] * total[r] > 0 else pyo.Constraint.Skip
            return expr >= share[r] * total[r]

    m.region_minimum = pyo.Constraint(sorted(share), rule=rule)


def add_technology_share(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """Technology share cap: ``Σ_{p: t(p)=t} x[p] <= s_t·Σ_p x[p]`` (share of the connected offices)."""
    if not spec.technology_max_share:
        return
    caps = dict(spec.technology_max_share)
    by_tech: dict[str, list[int]] = defaultdict(list)
    for p, t in enumerate(m.pair_tech):
        by_tech[t].append(p)
    total = pyo.quicksum(m.sel[p] for p in m.P)
    # A technology with no eligible pair meets its cap trivially (0 <= s_t·total): no row.
    capped = sorted(t for t in caps if by_tech.get(t))
    m.technology_share = pyo.Constraint(
        capped, rule=lambda m, t: pyo.quicksum(m.sel[p] for p in by_tech[t]) <= caps[t] * total
    )


def add_annual_budget(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """Annual budget (roadmap): ``spend_k <= B_k`` (USD) for each year k.

    Here ``spend_k = Σ_p capex[p,k]·x[p,k] + [tco]·Σ_p opex[p]·Σ_{y<=k} x[p,y]`` (opex counts from the connection year).
    With carry-over, unspent money moves on: ``spend_k + s_k <= B_k + s_{k-1}``, ``s_k >= 0``, s_{y0-1}=0.
    """
    rm = spec.roadmap
    if rm is None:
        return
    years = rm.years

    def spend(m: pyo.ConcreteModel, k: int) -> pyo.Expression:
        cap = pyo.quicksum(m.capex_py[p, k] * m.x[p, k] for p in m.P)
        if not rm.count_opex:
            return cap
        return cap + pyo.quicksum(m.pair_opex[p] * m.x[p, y] for p in m.P for y in years if y <= k)

    m.spend = pyo.Expression(m.Y, rule=spend)
    if rm.carry_over:
        m.carry = pyo.Var(m.Y, domain=pyo.NonNegativeReals)

        def rule(m: pyo.ConcreteModel, k: int) -> pyo.Expression:
            prev = m.carry[years[years.index(k) - 1]] if k != years[0] else 0.0
            return m.spend[k] + m.carry[k] <= rm.annual_budget_usd[k] + prev
    else:

        def rule(m: pyo.ConcreteModel, k: int) -> pyo.Expression:
            return m.spend[k] <= rm.annual_budget_usd[k]

    m.annual_budget = pyo.Constraint(m.Y, rule=rule)


def add_build_capacity(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """Build capacity (roadmap): ``Σ_p x[p,y] <= K`` and ``Σ_{p: t(p)=t} x[p,y] <= K_t`` for each year y."""
    rm = spec.roadmap
    if rm is None:
        return
    if rm.capacity_total is not None:
        m.build_capacity = pyo.Constraint(
            m.Y, rule=lambda m, y: pyo.quicksum(m.x[p, y] for p in m.P) <= rm.capacity_total
        )
    if rm.capacity_per_technology:
        by_tech: dict[str, list[int]] = defaultdict(list)
        for p, t in enumerate(m.pair_tech):
            by_tech[t].append(p)
        index = [(t, y) for t in sorted(rm.capacity_per_technology) for y in rm.years if by_tech.get(t)]
        m.build_capacity_technology = pyo.Constraint(
            index,
            rule=lambda m, t, y: pyo.quicksum(m.x[p, y] for p in by_tech[t]) <= rm.capacity_per_technology[t],
        )


def add_objectives(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """Primary and tie-break objectives (one active at a time; solve.py runs the lexicographic passes).

    max_coverage: maximise ``coverage``, then minimise ``econ`` (the economic cost) with coverage held at its
    optimum. min_cost: minimise ``econ``, then maximise ``coverage`` with the economic cost held at its optimum.

    Roadmap: coverage is counted in population-years (``coverage_years``: earlier is better) and cost is the
    discounted cost (``discounted_cost``).
    """
    coverage = m.coverage if spec.roadmap is None else m.coverage_years
    cost = (m.econ if hasattr(m, "econ") else m.cost) if spec.roadmap is None else m.discounted_cost
    if spec.objective == "max_coverage":
        m.primary = pyo.Objective(expr=coverage, sense=pyo.maximize)
        m.secondary = pyo.Objective(expr=cost, sense=pyo.minimize)
    else:
        m.primary = pyo.Objective(expr=cost, sense=pyo.minimize)
        m.secondary = pyo.Objective(expr=coverage, sense=pyo.maximize)
    m.secondary.deactivate()


FAMILIES = (
    add_variables,
    add_fibre_network,
    add_tower_sites,
    add_radio_relays,
    add_expressions,
    add_one_technology,
    add_community_coverage,
    add_budget,
    add_coverage_target,
    add_region_minimum,
    add_technology_share,
    add_annual_budget,
    add_build_capacity,
    add_objectives,
)


class BuildTimeout(Exception):
    """The model was not built by its deadline (raised between constraint families)."""


def build_model(data: ModelData, spec: ModelSpec, deadline: float | None = None) -> pyo.ConcreteModel:
    """Build the model: every constraint family in a fixed order.

    ``deadline`` (:func:`time.monotonic`): raise :class:`BuildTimeout` when it has passed after a family.
    """
    m = pyo.ConcreteModel(name="connect_post_plan")
    for family in FAMILIES:
        family(m, data, spec)
        if deadline is not None and time.monotonic() > deadline:
            raise BuildTimeout(family.__name__)
    return m


def add_pool_pricing(m: pyo.ConcreteModel, reserved_usd: float, price: float) -> None:
    """One country's priced subproblem of a pooled budget (planner.countries, Lagrangian pricing).

    The subproblem is

        max  coverage - λ·g   s.t.  cost <= r + g,  g >= 0 (USD drawn from the shared pool)

    with ``r`` the country's reserved USD and λ (metric units per USD) the mutable ``m.pool_price``, so that
    the next price changes one objective coefficient of the built model instead of rebuilding it. Replaces
    the primary objective; the model's budget row must be absent (``budget_usd=None``).
    """
    m.pool_price = pyo.Param(mutable=True, initialize=float(price))
    m.pool_draw = pyo.Var(domain=pyo.NonNegativeReals)
    m.pool_link = pyo.Constraint(expr=m.cost <= float(reserved_usd) + m.pool_draw)
    m.primary.deactivate()
    m.priced = pyo.Objective(expr=m.coverage - m.pool_price * m.pool_draw, sense=pyo.maximize)


def add_country_pool(
    m: pyo.ConcreteModel,
    members: dict[str, list[int]],
    reserved: dict[str, float],
    pool_usd: float,
    caps: dict[str, float],
) -> None:
    """Every country in one model (the monolithic reference of planner.countries).

    With ``C(c)`` the pairs of country c, ``r_c`` its reserved USD, ``B`` the pool and ``s_t`` the per-country
    technology caps,

        Σ_{p∈C(c)} c[p]·x[p] <= r_c + g_c   ∀c        (country_budget)
        Σ_c g_c <= B - Σ_c r_c,  g_c >= 0               (pool)
        Σ_{p∈C(c), t(p)=t} x[p] <= s_t·Σ_{p∈C(c)} x[p]   ∀c, t  (country_technology_share)
    """
    cost, tech = m.pair_cost, m.pair_tech
    isos = list(members)
    m.C = pyo.Set(initialize=isos)
    m.draw = pyo.Var(m.C, domain=pyo.NonNegativeReals)
    m.country_budget = pyo.Constraint(
        m.C, rule=lambda m, c: pyo.quicksum(cost[p] * m.x[p] for p in members[c]) <= reserved[c] + m.draw[c]
    )
    m.pool = pyo.Constraint(expr=pyo.quicksum(m.draw[c] for c in m.C) <= pool_usd - sum(reserved.values()))
    if caps:
        index = [(c, t) for c in isos for t in sorted(caps) if any(tech[p] == t for p in members[c])]
        m.country_technology_share = pyo.Constraint(
            index,
            rule=lambda m, c, t: (
                pyo.quicksum(m.x[p] for p in members[c] if tech[p] == t)
                <= caps[t] * pyo.quicksum(m.x[p] for p in members[c])
            ),
        )


def hold_primary(m: pyo.ConcreteModel, spec: ModelSpec, value: float, tolerance: float) -> None:
    """Lexicographic second pass: keep the primary objective at ``value`` (within ``tolerance``), switch objectives.

    ``primary >= value - tol`` for max_coverage; ``primary <= value + tol`` for min_cost (the primary is coverage, or
    population-years in a roadmap; cost, or discounted cost in a roadmap).
    """
    if spec.objective == "max_coverage":
        m.lex_hold = pyo.Constraint(expr=m.primary.expr >= value - tolerance)
    else:
        m.lex_hold = pyo.Constraint(expr=m.primary.expr <= value + tolerance)
    m.primary.deactivate()
    m.secondary.activate()


def chosen_pairs(m: pyo.ConcreteModel) -> np.ndarray:
    """Indices p of the chosen pairs in the current solution."""
    if hasattr(m, "Y"):
        return np.array([p for p in m.P if any((m.x[p, y].value or 0.0) > 0.5 for y in m.Y)], dtype=np.int64)
    return np.array([p for p in m.P if (m.x[p].value or 0.0) > 0.5], dtype=np.int64)


def chosen_years(m: pyo.ConcreteModel, chosen: np.ndarray) -> np.ndarray | None:
    """Connection year of each chosen pair (roadmap), else None."""
    if not hasattr(m, "Y"):
        return None
    return np.array([next(y for y in m.Y if (m.x[int(p), y].value or 0.0) > 0.5) for p in chosen], dtype=np.int64)


def set_start(m: pyo.ConcreteModel, chosen: np.ndarray) -> None:
    """Warm start: x = 1 on ``chosen`` pairs, 0 elsewhere (and community indicators accordingly)."""
    pick = set(int(p) for p in chosen)
    if hasattr(m, "Y"):
        first = m.Y.first()
        for p in m.P:
            for y in m.Y:
                m.x[p, y].set_value(1.0 if p in pick and y == first else 0.0)
    else:
        for p in m.P:
            m.x[p].set_value(1.0 if p in pick else 0.0)
    for name in ("arc", "flow", "site"):  # shared infrastructure: none built (see solve.shared_start)
        if hasattr(m, name):
            for var in getattr(m, name).values():
                var.set_value(0.0)
    if hasattr(m, "u"):
        for k in m.K:
            m.u[k].set_value(1.0 if any(p in pick for p in m.community_pairs.get(k, [])) else 0.0)
