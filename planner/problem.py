"""The solver-facing problem and its answer, as plain dataclasses (no Pyomo): what every solver takes and returns.

``ModelData`` (the tidy tables a model is built from), ``ModelSpec`` (what to optimise, under which rows) and
``RoadmapSpec`` (year-by-year phasing) define an instance of DESIGN §5; ``SolveResult`` is a plan as chosen pair
indices with its certificate (objective, proven bound, gap) and ``PassInfo`` one solver call. The heuristics,
the Pyomo model (:mod:`planner.optimize`), the results and the analyses all speak these types, so importing
them loads neither Pyomo nor HiGHS.

Pairs are numbered ``p = 0..P-1`` in the order of ``ModelData.options``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar, cast

import numpy as np
import pandas as pd

from planner.data import gather, key_positions
from planner.network import SharedInfra
from planner.scenario import Catalogue, Scenario

T = TypeVar("T")


@dataclass
class RoadmapSpec:
    """Year-by-year phasing (issue: roadmap to 2030).

    Costs of pair p connected in year y:

    ``capex[p,y] = capex[p]·(1+g_t)^(y-y0)`` (g_t the technology's ``capex_trend_per_year``), opex paid every
    year from y to the end year. Discount factor of year k: ``d_k = (1+r)^-(k-y0)`` for capex (paid at the
    start of the year) and ``(1+r)^-(k-y0+1)`` for opex (paid at its end), so a one-year roadmap costs exactly
    capex + opex/(1+r), like the single-year TCO.
    """

    years: list[int]
    annual_budget_usd: dict[int, float]
    carry_over: bool = False
    capacity_total: int | None = None
    capacity_per_technology: dict[str, int] = field(default_factory=dict)
    capex_trend: dict[str, float] = field(default_factory=dict)
    discount_rate: float = 0.08
    count_opex: bool = False  # budget basis tco: annual budgets also pay the opex of connected offices

    @classmethod
    def from_scenario(cls, scenario: Scenario, catalogue: Catalogue) -> RoadmapSpec | None:
        """The roadmap a scenario asks for, or None."""
        rm = scenario.roadmap
        if rm is None:
            return None
        years = list(range(scenario.horizon.start_year, scenario.horizon.end_year + 1))
        return cls(
            years=years,
            annual_budget_usd=rm.budget_by_year(range(years[0], years[-1] + 1)),
            carry_over=rm.carry_over,
            capacity_total=rm.build_capacity.total,
            capacity_per_technology=dict(rm.build_capacity.per_technology),
            capex_trend={k: t.capex_trend_per_year for k, t in catalogue.technologies.items()},
            discount_rate=scenario.discount_rate,
            count_opex=scenario.budget_basis == "tco",
        )

    def capex_factor(self, technology: str, year: int) -> float:
        """Capex multiplier of a technology in a year (price trend)."""
        return (1.0 + self.capex_trend.get(technology, 0.0)) ** (year - self.years[0])

    def pair_year_costs(self, capex: float, opex: float, technology: str, year: int) -> tuple[float, float, float]:
        """(capex in that year, budget spend over the horizon, discounted cost) of one pair connected in year."""
        y0, end, r = self.years[0], self.years[-1], self.discount_rate
        cap = capex * self.capex_factor(technology, year)
        opex_years = end - year + 1
        spend = cap + (opex * opex_years if self.count_opex else 0.0)
        disc = cap * (1 + r) ** -(year - y0) + opex * sum((1 + r) ** -(k - y0 + 1) for k in range(year, end + 1))
        return cap, spend, disc


@dataclass
class ModelSpec:
    """What to optimise and under which constraints (the solver-facing part of a scenario)."""

    objective: Literal["max_coverage", "min_cost"]
    metric: Literal["population", "offices", "communities"] = "population"
    budget_usd: float | None = None
    coverage_target: float | None = None
    region_min_coverage: dict[str, float] = field(default_factory=dict)
    technology_max_share: dict[str, float] = field(default_factory=dict)
    roadmap: RoadmapSpec | None = None

    @classmethod
    def from_scenario(cls, scenario: Scenario, catalogue: Catalogue | None = None) -> ModelSpec:
        """The spec a scenario asks for."""
        return cls(
            objective=scenario.objective,
            metric=scenario.coverage_metric,
            budget_usd=scenario.budget_usd,
            coverage_target=scenario.coverage_target if scenario.objective == "min_cost" else None,
            region_min_coverage=dict(scenario.policy.region_min_coverage),
            technology_max_share=dict(scenario.policy.technology_max_share),
            roadmap=RoadmapSpec.from_scenario(scenario, catalogue) if catalogue is not None else None,
        )

    @property
    def is_plain(self) -> bool:
        """A multiple-choice knapsack: one budget row or one target row, office-additive coverage."""
        single_row = (self.objective == "max_coverage") or self.budget_usd is None
        return (
            single_row
            and self.roadmap is None
            and not self.region_min_coverage
            and not self.technology_max_share
            and self.metric != "communities"
        )  # shared infrastructure (ModelData.infra) also makes a model non-plain: see solve._plain


@dataclass
class ModelData:
    """Tidy tables the model is built from.

    ``options``: eligible pairs with ``office_id, technology, cost_usd``; ``offices``: every planned office with
    ``office_id, weight, region, community`` (offices with no eligible option count in the totals).
    """

    options: pd.DataFrame
    offices: pd.DataFrame
    infra: SharedInfra | None = None  # candidate shared infrastructure (fibre arcs, tower sites, relays)
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (shipped to a Dask worker) without the objects :meth:`derived` computed: the worker rebuilds them."""
        return {**self.__dict__, "_derived": {}}

    def derived(self, key: str, make: Callable[[], T]) -> T:
        """``make()``, computed once per instance under ``key``: an object derived from these tables.

        Several steps need it (the sweep's hull frontier: the check for points that need HiGHS, then the points
        themselves). Callers must not change what it returns.
        """
        if key not in self._derived:
            self._derived[key] = make()
        return cast(T, self._derived[key])

    @classmethod
    def from_options(
        cls, options: pd.DataFrame, planned: pd.DataFrame, weights: pd.Series, infra: SharedInfra | None = None
    ) -> ModelData:
        """Build from the costing table (eligible rows are kept) and the planned offices."""
        cols: tuple[str, ...] = ("office_id", "technology", "cost_usd", "capex_usd", "opex_usd_per_year")
        cols += ("econ_cost_usd", "shared", "standalone_cost_usd", "standalone_econ_usd")
        keep = [c for c in cols if c in options]  # only these columns are copied, not the whole options table
        mask = options["eligible"].to_numpy(bool)
        # Every row eligible (an options file of quotes): the columns are shared with the options table, not copied
        # (pandas copies on write); 137 MB at 650,000 offices. Text stays Arrow text: no Python string per office.
        eligible = options[keep] if mask.all() else options.loc[mask, keep]
        eligible = eligible.reset_index(drop=True)
        offices = pd.DataFrame(
            {
                "office_id": planned["office_id"].astype(str).array,
                "weight": weights.to_numpy(float),
                "region": planned["region"].astype(str).array,
                "community": planned["community"].astype(str).array,
            },
            copy=False,
        )
        return cls(eligible, offices, infra if infra is not None and not infra.empty else None)

    def office_position(self) -> np.ndarray:
        """Each pair's office: its row in ``offices``, -1 where ``offices`` has no such office_id.

        Looked up once per instance (the greedy, the economic swap and the objective all need it: a hash lookup of
        0.2-0.3 s at 650,000 offices). Read-only: callers index with it, never write into it.
        """

        def lookup() -> np.ndarray:
            at = key_positions(self.offices["office_id"], self.options["office_id"])
            at.setflags(write=False)
            return at

        return self.derived("office_position", lookup)

    @property
    def shared(self) -> np.ndarray:
        """Per pair: "" (stand-alone), "fibre", "site" or "relay"."""
        if "shared" not in self.options:
            return np.full(len(self.options), "", dtype=object)
        return self.options["shared"].fillna("").to_numpy(object)

    def region_of_community(self) -> pd.Series:
        """Each community's region: the most common region of its offices."""
        return self.offices.groupby("community")["region"].agg(lambda s: s.mode().iat[0])

    @property
    def econ(self) -> np.ndarray:
        """Economic cost of each pair (USD, the scenario's cost_basis): what min_cost and tie-breaks minimise.

        The budget-basis ``cost_usd`` when the table has no ``econ_cost_usd`` column (hand-made instances).
        """
        column = "econ_cost_usd" if "econ_cost_usd" in self.options else "cost_usd"
        return self.options[column].to_numpy(float)

    def economic_is_budget_cost(self) -> bool:
        """Whether every pair, arc and site costs the same on the economic and on the budget basis."""
        if not np.array_equal(self.econ, self.options["cost_usd"].to_numpy(float)):
            return False
        infra = self.infra
        for frame in () if infra is None else (infra.arcs, infra.sites):
            if "econ_cost_usd" in frame and not np.array_equal(frame["econ_cost_usd"], frame["cost_usd"]):
                return False
        return True

    def with_budget_cost_as_economic(self) -> ModelData:
        """The same instance whose economic cost is the budget cost: least-budget questions (the diagnosis)."""
        options = self.options.assign(econ_cost_usd=self.options["cost_usd"])
        infra = self.infra
        if infra is not None:
            infra = replace(
                infra,
                arcs=infra.arcs.assign(econ_cost_usd=infra.arcs["cost_usd"]),
                sites=infra.sites.assign(econ_cost_usd=infra.sites["cost_usd"]),
            )
        return ModelData(options, self.offices, infra)

    def total_weight(self, metric: str) -> float:
        """W: total weight of the metric over everything planned."""
        if metric == "communities":
            return float(self.offices["community"].nunique())
        return float(self.offices["weight"].sum())


@dataclass
class PassInfo:
    """One solver call: what it optimised and how it ended."""

    name: str
    method: str
    status: str
    objective: float | None
    bound: float | None
    seconds: float


@dataclass
class SolveResult:
    """A plan as chosen pair indices into ``ModelData.options`` plus its quality certificate."""

    status: str  # optimal | time_limit
    method: str  # greedy | milp | milp+greedy-start
    chosen: np.ndarray
    objective: float  # primary objective of the returned plan (coverage weight, or cost in USD)
    bound: float  # proven bound on the primary objective
    mip_gap: float  # relative gap |bound - objective| / max(|bound|, 1e-9)
    coverage: float
    cost_usd: float
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    passes: list[PassInfo] = field(default_factory=list)
    years: np.ndarray | None = None  # roadmap: connection year of each chosen pair
    arcs: np.ndarray | None = None  # shared fibre: built arcs (indices into ModelData.infra.arcs)
    sites: np.ndarray | None = None  # new tower sites built (indices into ModelData.infra.sites)


@dataclass
class Cut:
    """One directed cut: ``Σ_{k in arcs} a[k] >= sel[pair]``."""

    pair: int
    arcs: np.ndarray


@dataclass
class RelaxationResult:
    """The best bound proven by the cutting-plane loop and the cuts that prove it.

    ``bound``: the tightest LP value of the rounds (units of the objective: coverage weight, or USD for min_cost),
    proven whether or not the loop converged; ``rounds``: LPs solved; ``converged``: no violated cut remained;
    ``x``, ``arcs``, ``sites``: the last LP's pair, arc and site values (each in [0, 1]).
    """

    bound: float
    rounds: int
    converged: bool
    seconds: float
    cuts: list[Cut] = field(default_factory=list)
    x: np.ndarray | None = None
    arcs: np.ndarray | None = None
    sites: np.ndarray | None = None


def relative_gap(objective: float, bound: float) -> float:
    """``|bound - objective| / max(|bound|, 1e-9)``; 0 when both are 0."""
    if math.isclose(objective, bound, rel_tol=1e-12, abs_tol=1e-9):
        return 0.0
    return abs(bound - objective) / max(abs(bound), 1e-9)


class NoFeasiblePlan(Exception):
    """Raised by a solver when a spec has no plan.

    :func:`planner.optimize.solve.solve` turns it into :class:`planner.errors.InfeasibleError` with a diagnosis.
    """


def objective_values(data: ModelData, metric: str, chosen: np.ndarray) -> tuple[float, float]:
    """(coverage in units of ``metric``, cost in USD) of a set of chosen pairs, computed from the tables."""
    opts = data.options.iloc[chosen]
    cost = float(opts["cost_usd"].sum())
    at = data.office_position()[np.asarray(chosen, dtype=np.int64)]  # each chosen pair's office
    if metric == "communities":
        coverage = float(pd.Series(gather(data.offices["community"].to_numpy(object), at, np.nan)).nunique())
    else:
        coverage = float(pd.Series(gather(data.offices["weight"].to_numpy(float), at, np.nan)).sum())
    return coverage, cost


def built_infrastructure(
    data: ModelData, chosen: np.ndarray, arcs: np.ndarray, sites: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Keep only the infrastructure the chosen pairs use; returns (arcs, sites, their cost in USD).

    That is the built arcs on the path from the backbone to each chosen shared-fibre office, and the built sites that
    cover a chosen new-site pair. Anything else a time-limited solution built serves no office: dropping it keeps the
    plan feasible and lowers its cost.
    """
    infra = data.infra
    if infra is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0.0
    shared = data.shared
    picked = data.options.iloc[chosen]
    kinds = shared[chosen] if len(chosen) else np.zeros(0, dtype=object)
    keep_arcs: set[int] = set()
    if len(arcs):
        for path in infra.paths(arcs, picked["office_id"][kinds == "fibre"]).values():
            keep_arcs.update(path)
    keep_sites: set[int] = set()
    if len(sites):
        built = set(int(s) for s in sites)
        cover = infra.site_cover[infra.site_cover["site"].isin(built)]
        served = set(picked["office_id"][kinds == "site"])
        keep_sites = set(cover.loc[cover["office_id"].isin(served), "site"].astype(int))
        # An office covered by several built sites needs one: drop sites whose offices all have another.
        by_site = cover[cover["office_id"].isin(served)].groupby("site")["office_id"].apply(set).to_dict()
        for site in sorted(keep_sites, key=lambda t: len(by_site.get(t, ())), reverse=False):
            others = set().union(*(by_site[t] for t in keep_sites if t != site)) if len(keep_sites) > 1 else set()
            if by_site.get(site, set()) <= others:
                keep_sites.discard(site)
    a = np.array(sorted(keep_arcs), dtype=np.int64)
    z = np.array(sorted(keep_sites), dtype=np.int64)
    cost = float(infra.arcs["cost_usd"].to_numpy(float)[a].sum() + infra.sites["cost_usd"].to_numpy(float)[z].sum())
    return a, z, cost


def economic_cost(data: ModelData, chosen: np.ndarray, arcs: np.ndarray | None, sites: np.ndarray | None) -> float:
    """Economic cost (USD, the scenario's cost_basis) of chosen pairs plus the trenches and sites they build.

    Summed as :func:`objective_values` and :func:`built_infrastructure` sum the budget cost, so the two agree to
    the last bit when the bases agree.
    """
    column = "econ_cost_usd" if "econ_cost_usd" in data.options else "cost_usd"
    total = float(data.options.iloc[chosen][column].sum())
    infra = data.infra
    if infra is None:
        return total
    a = np.asarray(arcs if arcs is not None else [], dtype=np.int64)
    z = np.asarray(sites if sites is not None else [], dtype=np.int64)
    arc_col = "econ_cost_usd" if "econ_cost_usd" in infra.arcs else "cost_usd"
    site_col = "econ_cost_usd" if "econ_cost_usd" in infra.sites else "cost_usd"
    return total + float(infra.arcs[arc_col].to_numpy(float)[a].sum() + infra.sites[site_col].to_numpy(float)[z].sum())
