"""The Pyomo model of DESIGN §5: the definition of an optimal plan.

One function per constraint family, ``add_<family>(model, data, spec)``, each with its maths, called in a
fixed order by :func:`build_model`. Variables exist only for eligible (office, technology) pairs (the model is
sparse). Pairs are numbered ``p = 0..P-1`` in the order of ``ModelData.options``.

Notation: ``x[p] ∈ {0,1}`` pair p chosen; ``o(p)`` its office, ``t(p)`` its technology; ``c[p]`` its cost
(USD, budget basis); ``w[i]`` office weight (population × priority, or priority); ``u[k] ∈ [0,1]`` community k
covered (communities metric only); ``W`` the total weight of all planned offices (or communities), including
those with no eligible option, so coverage shares are shares of everything that should be connected.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from planner.scenario import Scenario


@dataclass
class ModelSpec:
    """What to optimise and under which constraints (the solver-facing part of a scenario)."""

    objective: Literal["max_coverage", "min_cost"]
    metric: Literal["population", "offices", "communities"] = "population"
    budget_usd: float | None = None
    coverage_target: float | None = None
    region_min_coverage: dict[str, float] = field(default_factory=dict)
    technology_max_share: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> ModelSpec:
        """The spec a scenario asks for."""
        return cls(
            objective=scenario.objective,
            metric=scenario.coverage_metric,
            budget_usd=scenario.budget_usd,
            coverage_target=scenario.coverage_target if scenario.objective == "min_cost" else None,
            region_min_coverage=dict(scenario.policy.region_min_coverage),
            technology_max_share=dict(scenario.policy.technology_max_share),
        )

    @property
    def is_plain(self) -> bool:
        """A multiple-choice knapsack: one budget row or one target row, office-additive coverage."""
        single_row = (self.objective == "max_coverage") or self.budget_usd is None
        return (
            single_row
            and not self.region_min_coverage
            and not self.technology_max_share
            and self.metric != "communities"
        )


@dataclass
class ModelData:
    """Tidy tables the model is built from.

    ``options``: eligible pairs with ``office_id, technology, cost_usd``; ``offices``: every planned office with
    ``office_id, weight, region, community`` (offices with no eligible option count in the totals).
    """

    options: pd.DataFrame
    offices: pd.DataFrame

    @classmethod
    def from_options(cls, options: pd.DataFrame, planned: pd.DataFrame, weights: pd.Series) -> ModelData:
        """Build from the costing table (eligible rows are kept) and the planned offices."""
        eligible = options[options["eligible"]].reset_index(drop=True)
        offices = pd.DataFrame(
            {
                "office_id": planned["office_id"].astype(str).to_numpy(),
                "weight": weights.to_numpy(float),
                "region": planned["region"].astype(str).to_numpy(),
                "community": planned["community"].astype(str).to_numpy(),
            }
        )
        return cls(eligible[["office_id", "technology", "cost_usd"]].copy(), offices)

    def region_of_community(self) -> pd.Series:
        """Each community's region: the most common region of its offices."""
        return self.offices.groupby("community")["region"].agg(lambda s: s.mode().iat[0])

    def total_weight(self, metric: str) -> float:
        """W: total weight of the metric over everything planned."""
        if metric == "communities":
            return float(self.offices["community"].nunique())
        return float(self.offices["weight"].sum())


def add_variables(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """``x[p] ∈ {0,1}`` for each eligible pair p; ``u[k] ∈ [0,1]`` per community for the communities metric."""
    m.P = pyo.RangeSet(0, len(data.options) - 1) if len(data.options) else pyo.Set(initialize=[])
    m.x = pyo.Var(m.P, domain=pyo.Binary)
    off = data.options["office_id"].to_numpy()
    m.pair_office = off
    m.pair_tech = data.options["technology"].to_numpy()
    m.pair_cost = data.options["cost_usd"].to_numpy(float)
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


def add_expressions(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """``cost = Σ_p c[p]·x[p]`` (USD); ``coverage = Σ_p w[o(p)]·x[p]``, or ``Σ_k u[k]`` for communities."""
    m.cost = pyo.Expression(expr=pyo.quicksum(m.pair_cost[p] * m.x[p] for p in m.P))
    if spec.metric == "communities":
        m.coverage = pyo.Expression(expr=pyo.quicksum(m.u[k] for k in m.K))
    else:
        m.coverage = pyo.Expression(expr=pyo.quicksum(m.pair_weight[p] * m.x[p] for p in m.P))


def add_one_technology(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """one technology: ``Σ_{p: o(p)=i} x[p] <= 1`` for each office i with two or more eligible options."""
    multi = [o for o, ps in m.by_office.items() if len(ps) > 1]
    m.one_technology = pyo.Constraint(multi, rule=lambda m, o: pyo.quicksum(m.x[p] for p in m.by_office[o]) <= 1)


def add_community_coverage(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """communities metric: ``u[k] <= Σ_{p: o(p) ∈ k} x[p]``: a community counts once one office is connected."""
    if spec.metric != "communities":
        return
    m.community_link = pyo.Constraint(
        m.K, rule=lambda m, k: m.u[k] <= pyo.quicksum(m.x[p] for p in m.community_pairs.get(k, []))
    )


def add_budget(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """budget: ``Σ_p c[p]·x[p] <= B`` (USD, capex or TCO by the scenario's budget basis)."""
    if spec.budget_usd is not None:
        m.budget = pyo.Constraint(expr=m.cost <= spec.budget_usd)


def add_coverage_target(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """coverage target: ``coverage >= τ·W``."""
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
            expr = pyo.quicksum(m.pair_weight[p] * m.x[p] for p in pairs[r])
            if not pairs[r]:
                return pyo.Constraint.Infeasible if share[r] * total[r] > 0 else pyo.Constraint.Skip
            return expr >= share[r] * total[r]

    m.region_minimum = pyo.Constraint(sorted(share), rule=rule)


def add_technology_share(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """technology share cap: ``Σ_{p: t(p)=t} x[p] <= s_t·Σ_p x[p]`` (share of the connected offices)."""
    if not spec.technology_max_share:
        return
    caps = dict(spec.technology_max_share)
    by_tech: dict[str, list[int]] = defaultdict(list)
    for p, t in enumerate(m.pair_tech):
        by_tech[t].append(p)
    total = pyo.quicksum(m.x[p] for p in m.P)
    m.technology_share = pyo.Constraint(
        sorted(caps), rule=lambda m, t: pyo.quicksum(m.x[p] for p in by_tech.get(t, [])) <= caps[t] * total
    )


def add_objectives(m: pyo.ConcreteModel, data: ModelData, spec: ModelSpec) -> None:
    """Primary and tie-break objectives (one active at a time; solve.py runs the lexicographic passes).

    max_coverage: maximise ``coverage``, then minimise ``cost`` with coverage held at its optimum.
    min_cost: minimise ``cost``, then maximise ``coverage`` with cost held at its optimum.
    """
    if spec.objective == "max_coverage":
        m.primary = pyo.Objective(expr=m.coverage, sense=pyo.maximize)
        m.secondary = pyo.Objective(expr=m.cost, sense=pyo.minimize)
    else:
        m.primary = pyo.Objective(expr=m.cost, sense=pyo.minimize)
        m.secondary = pyo.Objective(expr=m.coverage, sense=pyo.maximize)
    m.secondary.deactivate()


FAMILIES = (
    add_variables,
    add_expressions,
    add_one_technology,
    add_community_coverage,
    add_budget,
    add_coverage_target,
    add_region_minimum,
    add_technology_share,
    add_objectives,
)


def build_model(data: ModelData, spec: ModelSpec) -> pyo.ConcreteModel:
    """Build the model: every constraint family in a fixed order."""
    m = pyo.ConcreteModel(name="connect_post_plan")
    for family in FAMILIES:
        family(m, data, spec)
    return m


def hold_primary(m: pyo.ConcreteModel, spec: ModelSpec, value: float, tolerance: float) -> None:
    """Lexicographic second pass: keep the primary objective at ``value`` (within ``tolerance``), switch
    objectives. ``coverage >= value - tol`` for max_coverage; ``cost <= value + tol`` for min_cost."""
    if spec.objective == "max_coverage":
        m.lex_hold = pyo.Constraint(expr=m.coverage >= value - tolerance)
    else:
        m.lex_hold = pyo.Constraint(expr=m.cost <= value + tolerance)
    m.primary.deactivate()
    m.secondary.activate()


def chosen_pairs(m: pyo.ConcreteModel) -> np.ndarray:
    """Indices p of the chosen pairs in the current solution."""
    return np.array([p for p in m.P if (m.x[p].value or 0.0) > 0.5], dtype=np.int64)


def set_start(m: pyo.ConcreteModel, chosen: np.ndarray) -> None:
    """Warm start: x = 1 on ``chosen`` pairs, 0 elsewhere (and community indicators accordingly)."""
    pick = set(int(p) for p in chosen)
    for p in m.P:
        m.x[p].set_value(1.0 if p in pick else 0.0)
    if hasattr(m, "u"):
        for k in m.K:
            m.u[k].set_value(1.0 if any(p in pick for p in m.community_pairs.get(k, [])) else 0.0)
