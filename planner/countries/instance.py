"""The pooled instance of a multi-country scenario: one part per country, and the plans they return.

The global plan (DESIGN §7): several countries in one scenario, per-country budgets or one global pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from planner.distributed import SCHEDULER_ENV, SERIAL
from planner.errors import InputError, Issue
from planner.heuristics.greedy import by_coverage_per_usd, office_hull
from planner.optimize.series import PricedModel
from planner.problem import ModelData, ModelSpec, SolveResult
from planner.scenario import Scenario, SolverSettings

Progress = Callable[[str], None]


LOCAL_CLUSTER_MIN_PAIRS = 200_000  # auto: below this many eligible options Dask start-up costs more than it saves


FEAS_TOL = 1e-9  # relative tolerance on money rows


@dataclass
class Priced:
    """A country's answer to a price λ: its plan, coverage, cost, draw, value and bound.

    The plan (local pair indices), coverage, cost and draw (USD), the value ``coverage - λ·draw`` and a proven upper
    bound on it.
    """

    chosen: np.ndarray | None
    coverage: float
    cost: float
    draw: float
    value: float
    bound: float
    status: str
    arcs: np.ndarray | None = None  # shared infrastructure built (local indices into the country's infra)
    sites: np.ndarray | None = None


@dataclass
class PlainKnapsack:
    """A plain country's cheapest option per office, sorted by coverage per USD (descending; free ones apart)."""

    free_pairs: np.ndarray
    free_weight: float
    pairs: np.ndarray
    cost: np.ndarray
    weight: np.ndarray
    ratio: np.ndarray
    cum_cost: np.ndarray
    cum_weight: np.ndarray

    @classmethod
    def of(cls, data: ModelData) -> PlainKnapsack:
        """The knapsack of ``data``: its office hull ordered by coverage per USD, free options apart."""
        o = by_coverage_per_usd(office_hull(data))
        p, c, w = o.pairs, o.cost, o.weight
        return cls(
            o.free_pairs.astype(np.int64), o.free_weight, p.astype(np.int64), c, w, w / c, np.cumsum(c), np.cumsum(w)
        )

    def priced(self, price: float, reserved: float, with_plan: bool) -> Priced:
        """Max ``coverage - price·max(0, cost - reserved)``: integer plan, its draw and the LP bound."""
        n = len(self.cost)
        n_price = int(np.count_nonzero(self.ratio > price))  # a prefix: the items worth their price
        n_fit = int(np.searchsorted(self.cum_cost, reserved * (1 + FEAS_TOL), side="right"))
        base = self.free_weight
        if n_price > n_fit:  # pays beyond its reserve: the LP optimum is this integer prefix
            cost = float(self.cum_cost[n_price - 1])
            draw = max(0.0, cost - reserved)
            coverage = base + float(self.cum_weight[n_price - 1])
            value = coverage - price * draw
            chosen = np.concatenate([self.free_pairs, self.pairs[:n_price]]) if with_plan else None
            return Priced(chosen, coverage, cost, draw, value, value, "optimal")
        used = float(self.cum_cost[n_fit - 1]) if n_fit else 0.0
        coverage = base + (float(self.cum_weight[n_fit - 1]) if n_fit else 0.0)
        bound = coverage + ((reserved - used) / self.cost[n_fit] * self.weight[n_fit] if n_fit < n else 0.0)
        chosen = None
        cost = used
        if with_plan:  # fill the reserve with later items that still fit (draw stays 0)
            extra, left = [], reserved - used
            for j in np.flatnonzero(self.cost[n_fit:] <= left) + n_fit:
                if self.cost[j] <= left:
                    extra.append(j)
                    left -= self.cost[j]
            coverage += float(self.weight[extra].sum()) if extra else 0.0
            cost = reserved - left if extra else used
            chosen = np.concatenate([self.free_pairs, self.pairs[:n_fit], self.pairs[np.asarray(extra, np.int64)]])
        return Priced(chosen, coverage, cost, 0.0, coverage, bound, "optimal")


@dataclass
class Country:
    """One country's part of the pooled instance.

    ``pairs``: indices of its options in the pooled ``ModelData.options`` (local pair k is global pair
    ``pairs[k]``); ``data``: its own tables with region and community names as in the input; ``spec``: the
    scenario's spec without a budget (set per use); ``reserved_usd``: ``r_c``; ``budget_usd``: its own budget
    in per-country mode.
    """

    iso3: str
    pairs: np.ndarray
    data: ModelData
    spec: ModelSpec
    reserved_usd: float = 0.0
    budget_usd: float | None = None
    plain: PlainKnapsack | None = None  # sorted hull of a plain country (priced in numpy)

    def priced_model(self, settings: SolverSettings) -> PricedModel:
        """The country's priced subproblem, built on first use and kept for the next prices.

        Kept in this process only (not pickled: a Dask worker keeps its own); :meth:`release` frees it.
        """
        cached = self.__dict__.get("_priced")
        if cached is None or cached.settings != settings:
            cached = PricedModel(self.data, self.spec, self.reserved_usd, settings)
            self.__dict__["_priced"] = cached
        return cached

    def release(self) -> None:
        """Drop the kept priced model (its Pyomo model and HiGHS instance)."""
        self.__dict__.pop("_priced", None)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_priced", None)
        return state

    @property
    def is_plain(self) -> bool:
        """Plain model: priced by the knapsack LP in numpy; otherwise by HiGHS."""
        return (
            replace(self.spec, budget_usd=0.0).is_plain
            and self.spec.objective == "max_coverage"
            and self.data.infra is None  # shared infrastructure: priced by HiGHS on its own model
        )


@dataclass
class GlobalInstance:
    """The pooled instance: ``data`` with ``ISO3/`` region and community names, and its countries."""

    data: ModelData
    countries: list[Country]
    office_country: pd.Series  # country of each planned office, indexed by office_id

    @property
    def n_pairs(self) -> int:
        """Number of eligible (office, technology) pairs in the pooled model data."""
        return len(self.data.options)


def resolve_keys(values: dict[str, float], known: list[str], key: str) -> tuple[dict[str, float], list[Issue]]:
    """Resolve a per-country setting ``countries.<key>`` (budgets in USD, shares) for the ``known`` countries.

    ``"*"`` gives the value of every country not named. Returns the value of each known country that is named or
    covered by ``"*"``, and an issue for each key that names no country of the offices.
    """
    issues = [
        Issue("scenario", None, f"countries.{key}.{k}", f"unknown country '{k}': the offices hold {', '.join(known)}")
        for k in values
        if k != "*" and k not in known
    ]
    out = {c: float(values[c]) if c in values else float(values["*"]) for c in known if c in values or "*" in values}
    return out, issues


def build_instance(
    scenario: Scenario, planned: pd.DataFrame, data: ModelData, spec: ModelSpec | None = None
) -> GlobalInstance:
    """Split a prepared instance by country and check the countries section against the data.

    ``planned``: the planned offices in the order of ``data.offices`` (with ``country``); ``data``: the
    pooled model data as :meth:`ModelData.from_options` builds it; ``spec``: the scenario's spec (default
    :meth:`ModelSpec.from_scenario`).
    """
    section = scenario.countries
    if section is None:
        raise ValueError("the scenario has no countries section")
    country = planned["country"].astype(str).to_numpy()
    if (
        len(country) != len(data.offices)
        or not (planned["office_id"].astype(str).to_numpy() == data.offices["office_id"].to_numpy()).all()
    ):
        raise ValueError("planned offices and model data are not aligned")
    known = sorted(set(country))
    budgets, issues = resolve_keys(section.budgets, known, "budgets")
    shares, more = resolve_keys(section.min_share, known, "min_share")
    issues += more
    if section.budgets and len(budgets) < len(known):
        missing = [c for c in known if c not in budgets]
        issues.append(
            Issue(
                "scenario",
                None,
                "countries.budgets",
                f"no budget for {', '.join(missing)} (give each country a budget, or '*' for every country not named)",
            )
        )
    if shares and sum(shares.values()) > 1 + 1e-12:
        issues.append(
            Issue(
                "scenario",
                None,
                "countries.min_share",
                f"the shares add up to {sum(shares.values()):.4g} of the pool over {len(shares)} countries (at most 1)",
            )
        )
    if issues:
        raise InputError(issues)
    if data.infra is not None and section.method == "monolithic":
        raise InputError(
            Issue(
                "scenario",
                None,
                "countries.method",
                "with shared infrastructure the pool is priced country by country: use method auto or decomposition",
            )
        )
    spec = spec or ModelSpec.from_scenario(scenario)
    base = replace(spec, budget_usd=None)
    office_country = pd.Series(country, index=data.offices["office_id"].to_numpy())
    pair_country = office_country.reindex(data.options["office_id"].to_numpy()).to_numpy()
    pool = float(scenario.budget_usd or 0.0)
    countries = []
    for iso3 in known:
        pairs = np.flatnonzero(pair_country == iso3).astype(np.int64)
        c_offices = data.offices[country == iso3].reset_index(drop=True)
        c_infra = data.infra.subset(set(c_offices["office_id"])) if data.infra is not None else None
        cdata = ModelData(
            data.options.iloc[pairs].reset_index(drop=True),
            c_offices,
            c_infra if c_infra is not None and not c_infra.empty else None,
        )
        c = Country(iso3, pairs, cdata, base, reserved_usd=shares.get(iso3, 0.0) * pool, budget_usd=budgets.get(iso3))
        if c.is_plain:
            c.plain = PlainKnapsack.of(cdata)
        countries.append(c)
    offices = data.offices.copy()
    offices["region"] = country + "/" + offices["region"].astype(str)
    offices["community"] = country + "/" + offices["community"].astype(str)
    return GlobalInstance(ModelData(data.options, offices, data.infra), countries, office_country)


def choose_scheduler(scheduler: str | None, instance: GlobalInstance) -> str | None:
    """``"serial"``, an address, or None (a new local cluster) for this instance (module docstring)."""
    import os

    if scheduler == "local":
        return None
    if scheduler not in (None, "auto"):
        return scheduler
    if os.environ.get(SCHEDULER_ENV):
        return os.environ[SCHEDULER_ENV]
    heavy = sum(1 for c in instance.countries if c.plain is None or c.spec.objective != "max_coverage")
    big = instance.n_pairs >= LOCAL_CLUSTER_MIN_PAIRS or (heavy >= 2 and instance.n_pairs >= 2_000)
    return None if big and len(instance.countries) > 1 else SERIAL


@dataclass
class CountryPlan:
    """One country's share of the global plan (local pair indices into its data)."""

    iso3: str
    chosen: np.ndarray
    coverage: float
    cost_usd: float
    budget_usd: float | None
    status: str
    bound: float
    method: str
    reserved_usd: float = 0.0
    arcs: np.ndarray | None = None  # shared infrastructure built (local indices into the country's infra)
    sites: np.ndarray | None = None


@dataclass
class GlobalResult:
    """The global plan: a :class:`SolveResult` over the pooled data, per-country plans and how it was solved."""

    result: SolveResult
    countries: list[CountryPlan]
    mode: str  # per_country | pool
    method: str  # per-country | monolithic | decomposition
    price: float | None = None  # λ at the end of the bisection (metric units per USD)
    price_evaluations: int = 0
    scheduler: str = SERIAL
    details: dict[str, Any] = field(default_factory=dict)
