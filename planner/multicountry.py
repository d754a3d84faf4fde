"""The global plan (DESIGN §7): several countries in one scenario, per-country budgets or one global pool.

Countries plan independently except for money. ``Scenario.countries`` says how money is shared:

* **per-country budgets** (``countries.budgets``, USD on the budget basis): each country is its own scenario
  (its offices, the global policy rules applied within it, its budget). The countries are solved by
  :func:`planner.solve.solve` fanned out with :func:`planner.distributed.fan_out`; the global plan is their union
  and its bound the sum of their bounds. ``min_cost`` scenarios reach the coverage target in every country.
* **one global pool** (``budget_usd``), optionally with a reserved share per country (``countries.min_share``,
  fraction ``s_c`` of the pool ``B``: money only country c may spend). With ``r_c = s_c·B`` and the shared part
  ``S = B - Σ_c r_c`` the pool rows are (c(x)_c the cost of country c's plan, USD)::

      c(x)_c <= r_c + g_c,   g_c >= 0,   Σ_c g_c <= S

  When every country is a plain model (DESIGN §5: one budget row, office-additive coverage) and nothing is
  reserved, the pooled problem is one multiple-choice knapsack: it is solved as a whole by
  :func:`planner.solve.solve` (hull greedy with its proven gap, HiGHS when that gap is too wide).

  Otherwise (regional minimums, technology caps, the communities metric, reserved shares) the pool is priced
  (Lagrangian decomposition of the row ``Σ g_c <= S`` with multiplier λ >= 0, USD⁻¹ in units of the metric):

      L(λ) = λ·S + Σ_c max { coverage_c(x) - λ·max(0, c(x)_c - r_c) : x feasible for country c }

  is an upper bound on the pooled optimum for every λ >= 0 (weak duality; any upper bound of each country's
  subproblem may be used, so the HiGHS dual bound or, for a plain country, the LP value of the priced
  knapsack keeps it proven). Countries solve their priced subproblems in parallel for a given λ; λ is
  bisected (geometrically) until the total draw ``Σ g_c`` just fits S (relative width
  :data:`BISECTION_REL_TOL`), or until the plan priced at the upper price is within ``mip_gap`` of the bound.
  Repair: each country gets the budget ``r_c + g_c(λ_hi)`` (feasible by construction), the shared money left
  over is handed to the countries that drew more at the lower price λ_lo (in proportion to that extra draw),
  and each country is re-solved exactly (:func:`planner.solve.solve`, lexicographic) within its budget; then
  what is still unspent goes, whole, to the country where it buys the most (:data:`ADD_ROUNDS` rounds; only
  countries in which one more office fits are tried, best first by the LP bound of their gain, stopping once
  no untried country's bound beats the best gain found). Every plan is feasible by construction (each country
  within its budget, the draws within S).
  The reported bound is ``min_λ L(λ)`` over the prices tried and the gap ``(bound - coverage) / bound``; the
  status is ``optimal`` when that gap meets ``solver.mip_gap``, else ``time_limit`` (DESIGN §6: not proven).

  :func:`solve_monolithic` builds the reference model (every country in one Pyomo model with the pool rows
  above and per-country technology caps) to measure that gap where HiGHS still solves it.

Regions and communities are named ``ISO3/name`` in the pooled model so that equal names in two countries stay
apart; policy keys name regions within each country. Parallel work (per-country solves, priced subproblems in
chunks of countries scattered once to the workers) runs on Dask: ``scheduler`` ``None``/``"auto"`` uses a local
cluster when the instance is large (:data:`LOCAL_CLUSTER_MIN_PAIRS` eligible options, or two or more countries
needing HiGHS) and this process otherwise, ``"local"`` always starts a local cluster, ``"serial"`` never does,
and an address (or ``$PLANNER_DASK_SCHEDULER``) names an existing scheduler.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from planner.distributed import SCHEDULER_ENV, SERIAL, dask_client, fan_out
from planner.errors import Diagnosis, InfeasibleError, InputError, Issue, PlannerError
from planner.model import ModelData, ModelSpec, add_country_pool, build_model
from planner.scenario import Scenario, SolverSettings
from planner.solve import (
    PassInfo,
    PricedModel,
    SolveResult,
    diagnose,
    greedy_max_coverage,
    office_hull,
    relative_gap,
    solve,
    solve_built_model,
)

Progress = Callable[[str], None]
LOCAL_CLUSTER_MIN_PAIRS = 200_000  # auto: below this many eligible options Dask start-up costs more than it saves
BISECTION_REL_TOL = 1e-4  # stop when λ_hi / λ_lo - 1 is below this
BISECTION_MAX_ITER = 60
FEAS_TOL = 1e-9  # relative tolerance on money rows
ADD_ROUNDS = 5  # repair: rounds that hand the unspent shared money to the country where it buys most


# --------------------------------------------------------------------------------------------- countries
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
    plain: _PlainKnapsack | None = None  # sorted hull of a plain country (priced in numpy)

    def priced_model(self, settings: SolverSettings) -> PricedModel:
        """The country's priced subproblem, built on first use and kept for the next prices (in this process;
        not pickled: a Dask worker keeps its own); :meth:`release` frees it."""
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
class _PlainKnapsack:
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
    def of(cls, data: ModelData) -> _PlainKnapsack:
        hull = office_hull(data)
        keep = hull.weight > 0
        pair, cost, weight = hull.pair[keep], hull.cost[keep], hull.weight[keep]
        free = cost <= 0
        p, c, w = pair[~free], cost[~free], weight[~free]
        order = np.lexsort((c, -(w / c)))
        p, c, w = p[order], c[order], w[order]
        return cls(
            pair[free].astype(np.int64),
            float(weight[free].sum()),
            p.astype(np.int64),
            c,
            w,
            w / c,
            np.cumsum(c),
            np.cumsum(w),
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
class Priced:
    """A country's answer to a price λ: plan (local pair indices), coverage, cost and draw (USD), the value
    ``coverage - λ·draw`` and a proven upper bound on it."""

    chosen: np.ndarray | None
    coverage: float
    cost: float
    draw: float
    value: float
    bound: float
    status: str
    arcs: np.ndarray | None = None  # shared infrastructure built (local indices into the country's infra)
    sites: np.ndarray | None = None


def _coverage_cost(data: ModelData, metric: str, chosen: np.ndarray) -> tuple[float, float]:
    opts = data.options.iloc[chosen]
    cost = float(opts["cost_usd"].sum())
    if metric == "communities":
        comm = data.offices.set_index("office_id")["community"]
        return float(comm.reindex(opts["office_id"]).nunique()), cost
    weight = data.offices.set_index("office_id")["weight"]
    return float(weight.reindex(opts["office_id"]).sum()), cost


def price_country(country: Country, price: float, settings: SolverSettings, with_plan: bool = True) -> Priced:
    """The priced subproblem of one country: ``max coverage - price·g`` s.t. ``cost <= reserved + g``, g >= 0, and
    the country's own rows (regional minimums, technology caps, communities). Plain countries: numpy; others:
    HiGHS on the country's :class:`planner.solve.PricedModel`, built at its first price and re-solved after."""
    if country.plain is not None:
        return country.plain.priced(price, country.reserved_usd, with_plan)
    priced = country.priced_model(settings)
    info, chosen = priced.solve(price, name=f"priced {country.iso3}")
    if chosen is None:
        return Priced(None, math.nan, math.nan, math.nan, math.nan, math.nan, info.status)
    coverage, cost = _coverage_cost(country.data, country.spec.metric, chosen)
    arcs, sites, infra_cost = priced.infrastructure(chosen)
    cost += infra_cost  # trenches and sites the plan uses (paid once), as in the model's cost row
    draw = max(0.0, cost - country.reserved_usd)
    value = coverage - price * draw
    bound = float(info.bound) if info.bound is not None and math.isfinite(info.bound) else math.inf
    return Priced(chosen, coverage, cost, draw, value, max(bound, value), info.status, arcs, sites)


def _price_chunk(task: tuple[list[Country], float, SolverSettings]) -> list[Priced]:
    """Worker task: price every country of a chunk (numpy-priced ones without their plans: the repair asks
    for the few it needs)."""
    chunk, price, settings = task
    return [price_country(c, price, settings, with_plan=False) for c in chunk]


@dataclass
class _Outcome:
    """A worker's answer for one country in a plain solve: the result, or the error it raised."""

    result: SolveResult | None = None
    error: str | None = None
    exit_code: int = 0
    diagnosis: Diagnosis | None = None


def _solve_country(task: tuple[ModelData, ModelSpec, SolverSettings]) -> _Outcome:
    """Worker task: :func:`planner.solve.solve` on one country (errors come back as values, named later)."""
    data, spec, settings = task
    try:
        return _Outcome(result=solve(data, spec, settings))
    except InfeasibleError as exc:
        return _Outcome(error=str(exc), exit_code=exc.exit_code, diagnosis=exc.diagnosis)
    except PlannerError as exc:
        return _Outcome(error=str(exc), exit_code=exc.exit_code)
    except Exception as exc:  # a solver failure: reported with the country's name (or the repair keeps its plan)
        return _Outcome(error=f"{type(exc).__name__}: {exc}", exit_code=1)


# --------------------------------------------------------------------------------------------- instance
@dataclass
class GlobalInstance:
    """The pooled instance: ``data`` with ``ISO3/`` region and community names, and its countries."""

    data: ModelData
    countries: list[Country]
    office_country: pd.Series  # country of each planned office, indexed by office_id

    @property
    def n_pairs(self) -> int:
        return len(self.data.options)


def _resolve_keys(values: dict[str, float], known: list[str], key: str) -> tuple[dict[str, float], list[Issue]]:
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
    budgets, issues = _resolve_keys(section.budgets, known, "budgets")
    shares, more = _resolve_keys(section.min_share, known, "min_share")
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
            c.plain = _PlainKnapsack.of(cdata)
        countries.append(c)
    offices = data.offices.copy()
    offices["region"] = country + "/" + offices["region"].astype(str)
    offices["community"] = country + "/" + offices["community"].astype(str)
    return GlobalInstance(ModelData(data.options, offices, data.infra), countries, office_country)


# --------------------------------------------------------------------------------------------- scheduling
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


def _chunks(countries: list[Country], n: int) -> list[list[Country]]:
    """Countries in ``n`` chunks of similar size (largest first, each to the lightest chunk)."""
    n = max(1, min(n, len(countries)))
    chunks: list[list[Country]] = [[] for _ in range(n)]
    load = [0] * n
    for c in sorted(countries, key=lambda c: -len(c.pairs)):
        k = int(np.argmin(load))
        chunks[k].append(c)
        load[k] += len(c.pairs) + 1
    return [ch for ch in chunks if ch]


class _Pricer:
    """Evaluates every country at a price, in this process or on Dask (chunks scattered once)."""

    def __init__(self, countries: list[Country], settings: SolverSettings, client: Any | None) -> None:
        self.settings = settings
        self.client = client
        n = 1 if client is None else 4 * max(1, len(client.scheduler_info().get("workers", {})) or 1)
        self.chunks = _chunks(countries, n)
        self.order = [c.iso3 for ch in self.chunks for c in ch]
        self.handles: list[Any] = client.scatter(self.chunks, broadcast=False) if client is not None else self.chunks
        self.calls = 0

    def __call__(self, price: float) -> dict[str, Priced]:
        self.calls += 1
        tasks = [(h, price, self.settings) for h in self.handles]
        if self.client is None:
            answers = [_price_chunk(t) for t in tasks]
        else:
            answers = fan_out(_price_chunk, tasks, client=self.client)
        return dict(zip(self.order, [p for ch in answers for p in ch], strict=True))


# --------------------------------------------------------------------------------------------- solvers
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


def _raise_country_errors(countries: list[Country], outcomes: list[_Outcome]) -> None:
    issues = [(c, o) for c, o in zip(countries, outcomes, strict=True) if o.error is not None]
    if not issues:
        return
    c, o = issues[0]
    if o.diagnosis is not None:
        d = o.diagnosis
        raise InfeasibleError(
            Diagnosis(
                f"{c.iso3}: {d.constraint}",
                f"country {c.iso3}: {d.message}",
                {f"{c.iso3}.{k}": v for k, v in d.suggestions.items()},
            )
        )
    if all(o.exit_code == InputError.exit_code for _, o in issues):
        raise InputError([Issue("scenario", None, f"countries.{c.iso3}", o.error or "") for c, o in issues])
    raise PlannerError("; ".join(f"country {c.iso3}: {o.error}" for c, o in issues))


def _combine(
    instance: GlobalInstance, plans: list[CountryPlan], objective: str, t0: float, passes: list[PassInfo]
) -> SolveResult:
    by_iso = {c.iso3: c for c in instance.countries}
    chosen = [by_iso[p.iso3].pairs[p.chosen] for p in plans]
    chosen_all = np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, np.int64)
    coverage = sum(p.coverage for p in plans)
    cost = sum(p.cost_usd for p in plans)
    value = coverage if objective == "max_coverage" else cost
    bound = sum(p.bound for p in plans)
    gap = relative_gap(value, bound)
    status = "optimal" if all(p.status == "optimal" for p in plans) else "time_limit"
    arcs, sites = _global_infrastructure(by_iso, plans)
    return SolveResult(status, "", chosen_all, value, bound, gap, coverage, cost, 0.0, time.perf_counter() - t0, passes,
                       arcs=arcs, sites=sites)  # fmt: skip


def _global_infrastructure(by_iso: dict[str, Country], plans: list[CountryPlan]) -> tuple[np.ndarray, np.ndarray]:
    """The countries' built arcs and sites as indices into the whole instance's infrastructure."""
    arcs, sites = [], []
    for p in plans:
        infra = by_iso[p.iso3].data.infra
        if infra is None:
            continue
        if p.arcs is not None and len(p.arcs):
            arcs.append(infra.global_arc[p.arcs])
        if p.sites is not None and len(p.sites):
            sites.append(infra.global_site[p.sites])
    a = np.unique(np.concatenate(arcs)).astype(np.int64) if arcs else np.zeros(0, np.int64)
    z = np.unique(np.concatenate(sites)).astype(np.int64) if sites else np.zeros(0, np.int64)
    return a, z


def solve_per_country(
    instance: GlobalInstance, settings: SolverSettings, scheduler: str | None = SERIAL, client: Any | None = None
) -> GlobalResult:
    """Each country alone within its own budget (or reaching the target, for min_cost)."""
    t0 = time.perf_counter()
    tasks = [(c.data, replace(c.spec, budget_usd=c.budget_usd), settings) for c in instance.countries]
    outcomes = fan_out(_solve_country, tasks, scheduler=scheduler, client=client)
    _raise_country_errors(instance.countries, outcomes)
    plans = []
    for c, o in zip(instance.countries, outcomes, strict=True):
        r = o.result
        assert r is not None
        plans.append(CountryPlan(c.iso3, r.chosen, r.coverage, r.cost_usd, c.budget_usd, r.status, r.bound, r.method,
                                 arcs=r.arcs, sites=r.sites))  # fmt: skip
    result = _combine(instance, plans, instance.countries[0].spec.objective, t0, [])
    result.method = "per-country"
    return GlobalResult(result, plans, "per_country", "per-country", scheduler=scheduler or "local")


def _pool_spec(instance: GlobalInstance, pool: float | None) -> ModelSpec:
    """The pooled spec: regional minimums keyed ``ISO3/region``; technology caps are added per country."""
    base = instance.countries[0].spec
    regions = sorted(instance.data.offices["region"].unique())
    mins = dict(base.region_min_coverage)
    region_min = {}
    if mins:
        for r in regions:
            local = r.split("/", 1)[1]
            share = mins.get(local, mins.get("*", 0.0))
            if share > 0:
                region_min[r] = share
    return replace(base, budget_usd=pool, region_min_coverage=region_min, technology_max_share={})


def solve_monolithic(instance: GlobalInstance, pool: float, settings: SolverSettings) -> SolveResult:
    """Every country in one model with the pool rows (module docstring): HiGHS on the Pyomo model, or
    :func:`planner.solve.solve` when the pooled problem is one plain knapsack. The reference for the gap."""
    reserved = {c.iso3: c.reserved_usd for c in instance.countries}
    caps = instance.countries[0].spec.technology_max_share
    spec = _pool_spec(instance, pool)
    if spec.is_plain and not any(v > 0 for v in reserved.values()) and not caps:
        return solve(instance.data, spec, settings)
    t0 = time.perf_counter()
    spec = replace(spec, budget_usd=None)
    m = build_model(instance.data, spec)
    members = {c.iso3: [int(p) for p in c.pairs] for c in instance.countries}
    add_country_pool(m, members, reserved, pool, caps)
    info, chosen = solve_built_model(m, settings, name="monolithic")
    if chosen is None:
        if info.status == "infeasible":
            raise InfeasibleError(
                Diagnosis(
                    "budget_usd",
                    "the pooled model has no feasible plan: the pool (with "
                    "its reserved shares) cannot pay for the regional minimums",
                )
            )
        raise PlannerError(f"no plan found by the monolithic model ({info.status})")
    coverage, cost_usd = _coverage_cost(instance.data, spec.metric, chosen)
    bound = float(info.bound) if info.bound is not None else coverage
    gap = relative_gap(coverage, bound)
    status = "optimal" if info.status == "optimal" or gap <= settings.mip_gap else "time_limit"
    return SolveResult(
        status,
        "milp (monolithic)",
        chosen,
        coverage,
        bound,
        gap,
        coverage,
        cost_usd,
        0.0,
        time.perf_counter() - t0,
        [info],
    )


def solve_pool_decomposition(
    instance: GlobalInstance,
    pool: float,
    settings: SolverSettings,
    client: Any | None = None,
    progress: Progress | None = None,
) -> GlobalResult:
    """The pool by Lagrangian pricing, bisection and repair (module docstring). ``client``: a Dask client
    (None: this process)."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    countries = instance.countries
    by_iso = {c.iso3: c for c in countries}
    reserved = sum(c.reserved_usd for c in countries)
    shared = pool - reserved
    if shared < -FEAS_TOL * max(1.0, pool):
        raise InputError(Issue("scenario", None, "countries.min_share", "the reserved shares exceed the pool"))
    shared = max(shared, 0.0)
    pricer = _Pricer(countries, settings, client)
    tried: list[tuple[float, dict[str, Priced]]] = []

    def evaluate(price: float) -> tuple[float, float]:
        answers = pricer(price)
        bad = [k for k, a in answers.items() if a.chosen is None and a.status != "optimal"]
        bad += [k for k, a in answers.items() if not math.isfinite(a.draw)]
        if bad:
            _infeasible_countries(instance, sorted(set(bad)), settings)
        tried.append((price, answers))
        total = sum(a.draw for a in answers.values())
        ub = price * shared + sum(a.bound for a in answers.values())
        return total, ub

    limit = shared * (1 + FEAS_TOL) + FEAS_TOL
    top = max((float(c.plain.ratio[0]) if c.plain is not None and len(c.plain.ratio) else 0.0) for c in countries)
    if any(c.plain is None for c in countries):
        hulls = [office_hull(c.data) for c in countries]
        rates = [float(np.max(h.weight / np.maximum(h.cost, 1e-9))) for h in hulls if len(h.cost)]
        top = max([top, *rates]) if rates else top
        if instance.countries[0].spec.metric == "communities":
            top = max(top, max((1.0 / max(float(h.cost.min()), 1e-9)) for h in hulls if len(h.cost)))
    draw0, _ = evaluate(0.0)
    lo, hi = 0.0, 0.0
    if draw0 > limit:
        hi = max(top, 1e-12) * 2.0
        for _ in range(6):
            draw_hi, _ = evaluate(hi)
            if draw_hi <= limit:
                break
            hi *= 10.0
        else:
            need = tried[-1][1]
            raise InfeasibleError(
                Diagnosis(
                    "budget_usd",
                    f"the pool is too small: even at a prohibitive price the "
                    f"countries' own rules need {sum(a.draw for a in need.values()):,.0f} USD "
                    f"of shared money beyond their reserved shares, and the pool shares "
                    f"{shared:,.0f} USD",
                    {"budget_usd": pool - shared + sum(a.draw for a in need.values())},
                )
            )
        iterations = 0
        while iterations < BISECTION_MAX_ITER:
            iterations += 1
            mid = math.sqrt(lo * hi) if lo > 0 else hi * 1e-3
            if lo > 0 and hi / lo - 1 < BISECTION_REL_TOL:
                break
            draw, _ = evaluate(mid)
            if draw <= limit:
                hi = mid
                # stop once the plan priced at hi (feasible) is within mip_gap of the best bound so far
                best_ub = min(p * shared + sum(a.bound for a in ans.values()) for p, ans in tried)
                covered = sum(a.coverage for a in tried[-1][1].values())
                if relative_gap(covered, best_ub) <= settings.mip_gap:
                    break
            else:
                lo = mid
            if lo == 0 and hi < top * 1e-9:  # draws at every positive price fit: λ -> 0
                break
    say(f"pool priced: λ in [{lo:.4g}, {hi:.4g}] after {pricer.calls} evaluations")
    at = {p: a for p, a in tried}
    at_hi, at_lo = at[hi], at.get(lo)
    bound = min(p * shared + sum(a.bound for a in ans.values()) for p, ans in tried)
    # The plans at λ_hi whose draws fit S: a HiGHS-priced country's plan came with its answer (solving it again
    # may return another plan within mip_gap, with another draw); numpy-priced ones are priced again with their
    # plans (deterministic: same draws).
    at_hi = {
        k: a if a.chosen is not None else price_country(by_iso[k], hi, settings, with_plan=True)  # numpy: cheap
        for k, a in at_hi.items()
    }
    # repair: budgets r_c + g_c(hi) plus the shared money left, then exact per-country solves (two rounds)
    budget = {c.iso3: c.reserved_usd + at_hi[c.iso3].draw for c in countries}
    want = {c.iso3: max(0.0, at_lo[c.iso3].draw - at_hi[c.iso3].draw) if at_lo is not None else 0.0 for c in countries}
    final: dict[str, CountryPlan] = {}
    for c in countries:
        p = at_hi[c.iso3]
        final[c.iso3] = CountryPlan(
            c.iso3,
            p.chosen if p.chosen is not None else np.zeros(0, np.int64),
            p.coverage,
            p.cost,
            budget[c.iso3],
            "optimal",
            p.bound,
            "priced",
            c.reserved_usd,
            p.arcs,
            p.sites,
        )
    # round 1: the shared money left at λ_hi goes to the countries that drew more at λ_lo, then every country
    # is solved exactly within its budget (the priced plan is kept where it covers more)
    left = shared - sum(at_hi[k].draw for k in budget)
    total_want = sum(want.values())
    if left > 0 and total_want > 0:
        for k in budget:
            budget[k] += left * want[k] / total_want * (1 - 1e-12)
    isos = [c.iso3 for c in countries]
    _resolve(by_iso, final, budget, isos, settings, client)
    cheapest: dict[str, pd.Series] = {}
    # add rounds: the shared money still unspent goes, whole, to the country where it buys the most coverage
    rounds = 0
    while rounds < ADD_ROUNDS:
        rounds += 1
        budget = {k: max(by_iso[k].reserved_usd, final[k].cost_usd) for k in budget}
        left = shared - sum(budget[k] - by_iso[k].reserved_usd for k in budget)
        if left <= FEAS_TOL * max(1.0, pool):
            break
        trial = {k: budget[k] + left * (1 - 1e-12) for k in budget}
        hopeful = [k for k in isos if _could_use(by_iso[k], final[k], trial[k] - final[k].cost_usd, cheapest)]
        if not hopeful:
            break
        gains = _best_first_gains(by_iso, final, trial, hopeful, settings, client)
        if not gains:
            break
        best = max(gains, key=lambda k: gains[k][0])
        if gains[best][0] <= 1e-9 * max(1.0, abs(final[best].coverage)):
            break
        final[best] = gains[best][1]
        budget[best] = max(by_iso[best].reserved_usd, final[best].cost_usd)
    for k in final:
        final[k].budget_usd = max(by_iso[k].reserved_usd, final[k].cost_usd)
    plans = [final[c.iso3] for c in countries]
    shared_used = sum(max(0.0, p.cost_usd - p.reserved_usd) for p in plans)
    assert shared_used <= shared * (1 + 1e-7) + 1e-6, (shared_used, shared)
    result = _combine(instance, plans, "max_coverage", t0, [])
    result.bound = max(bound, result.coverage)
    result.mip_gap = relative_gap(result.coverage, result.bound)
    result.status = "optimal" if result.mip_gap <= settings.mip_gap else "time_limit"
    result.method = "pool: lagrangian decomposition"
    result.passes = [
        PassInfo(
            "pricing", "lagrangian", f"{pricer.calls} prices", result.objective, result.bound, time.perf_counter() - t0
        )
    ]
    details = {
        "price_low": lo,
        "price_high": hi,
        "shared_pool_usd": shared,
        "reserved_usd": reserved,
        "shared_used_usd": shared_used,
    }
    return GlobalResult(result, plans, "pool", "decomposition", hi, pricer.calls, details=details)


def _resolve(
    by_iso: dict[str, Country],
    final: dict[str, CountryPlan],
    budget: dict[str, float],
    isos: list[str],
    settings: SolverSettings,
    client: Any | None,
    dry_run: bool = False,
) -> dict[str, tuple[float, CountryPlan]]:
    """Solve countries ``isos`` exactly within ``budget`` (fanned out); keep each new plan where it covers at
    least as much as ``final`` (updated in place unless ``dry_run``). Returns each country's (gain, plan)."""
    tasks = [(by_iso[k].data, replace(by_iso[k].spec, budget_usd=budget[k]), settings) for k in isos]
    outcomes = fan_out(_solve_country, tasks, scheduler=SERIAL if client is None else None, client=client)
    # infeasible or bad input is the user's to fix; a solver failure keeps the country's current (feasible) plan
    _raise_country_errors([by_iso[k] for k, o in zip(isos, outcomes, strict=True) if o.exit_code != 1],
                          [o for o in outcomes if o.exit_code != 1])  # fmt: skip
    gains = {}
    for k, o in zip(isos, outcomes, strict=True):
        r = o.result
        if r is None:
            continue
        plan = CountryPlan(k, r.chosen, r.coverage, r.cost_usd, budget[k], r.status, r.bound, r.method,
                           by_iso[k].reserved_usd, r.arcs, r.sites)  # fmt: skip
        gain = r.coverage - final[k].coverage
        gains[k] = (gain, plan)
        if not dry_run and gain >= -1e-9 * max(1.0, abs(r.coverage)):
            final[k] = plan
    return gains


def _gain_bound(country: Country, plan: CountryPlan, budget: float) -> float:
    """An upper bound on the coverage the country gains over ``plan`` when solved within ``budget`` USD: the
    LP bound of its office hull (side constraints only remove plans). inf where the hull does not bound the
    model: shared infrastructure (sharing makes plans cheaper than the hull), the communities metric (coverage
    not additive over offices) and roadmaps."""
    spec = country.spec
    if country.data.infra is not None or spec.metric == "communities" or spec.roadmap is not None:
        return math.inf
    _, _, bound = greedy_max_coverage(office_hull(country.data), budget)
    return bound - plan.coverage


def _best_first_gains(
    by_iso: dict[str, Country],
    final: dict[str, CountryPlan],
    trial: dict[str, float],
    hopeful: list[str],
    settings: SolverSettings,
    client: Any | None,
) -> dict[str, tuple[float, CountryPlan]]:
    """The exact gains of an add round, solving only what can change the winner: countries in decreasing
    order of :func:`_gain_bound`, a batch at a time (one per Dask worker), until the best exact gain found
    is at least the bound of every country not yet solved. The winner is the one a solve of every hopeful
    country would pick (up to ties), for a fraction of the solves."""
    bounds = {k: _gain_bound(by_iso[k], final[k], trial[k]) for k in hopeful}
    order = sorted(hopeful, key=lambda k: -bounds[k])
    batch = max(1, len(client.nthreads())) if client is not None else 1
    gains: dict[str, tuple[float, CountryPlan]] = {}
    for i in range(0, len(order), batch):
        if gains and max(g for g, _ in gains.values()) >= bounds[order[i]]:
            break
        gains.update(_resolve(by_iso, dict(final), trial, order[i : i + batch], settings, client, dry_run=True))
    return gains


def _could_use(country: Country, plan: CountryPlan, room: float, cache: dict[str, pd.Series]) -> bool:
    """Whether ``room`` more USD could connect one more office of the country (its cheapest option fits)."""
    if country.iso3 not in cache:
        cache[country.iso3] = country.data.options.groupby("office_id")["cost_usd"].min()
    cheapest = cache[country.iso3]
    taken = set(country.data.options["office_id"].iloc[plan.chosen])
    free = cheapest[~cheapest.index.isin(taken)]
    return bool((free <= room * (1 + FEAS_TOL)).any())


def _infeasible_countries(instance: GlobalInstance, isos: list[str], settings: SolverSettings) -> None:
    by_iso = {c.iso3: c for c in instance.countries}
    c = by_iso[isos[0]]
    d = diagnose(c.data, replace(c.spec, budget_usd=None), settings)
    raise InfeasibleError(
        Diagnosis(
            f"{c.iso3}: {d.constraint}",
            f"country {c.iso3}: {d.message}",
            {f"{c.iso3}.{k}": v for k, v in d.suggestions.items()},
        )
    )


def solve_pool(
    instance: GlobalInstance,
    pool: float,
    settings: SolverSettings,
    method: str = "auto",
    scheduler: str | None = SERIAL,
    progress: Progress | None = None,
) -> GlobalResult:
    """One global pool: monolithic when every country is plain and nothing is reserved (or when asked), else
    the Lagrangian decomposition (on Dask unless ``scheduler`` is ``"serial"``)."""
    plain = all(c.plain is not None for c in instance.countries)
    reserved = any(c.reserved_usd > 0 for c in instance.countries)
    if method == "monolithic" or (method == "auto" and plain and not reserved):
        t0 = time.perf_counter()
        r = solve_monolithic(instance, pool, settings)
        r.method = f"pool: monolithic {r.method}"
        chosen = set(int(p) for p in r.chosen)
        plans = []
        for c in instance.countries:
            local = np.array([k for k, p in enumerate(c.pairs) if int(p) in chosen], dtype=np.int64)
            cov, cost = _coverage_cost(c.data, c.spec.metric, local)
            plans.append(CountryPlan(c.iso3, local, cov, cost, None, r.status, math.nan, r.method, c.reserved_usd))
        r.solve_seconds = time.perf_counter() - t0
        return GlobalResult(r, plans, "pool", "monolithic", scheduler=SERIAL)
    if scheduler == SERIAL:
        try:
            out = solve_pool_decomposition(instance, pool, settings, None, progress)
        finally:  # the priced models kept on the countries in this process
            for c in instance.countries:
                c.release()
        out.scheduler = SERIAL
        return out
    with dask_client(scheduler) as client:
        out = solve_pool_decomposition(instance, pool, settings, client, progress)
    out.scheduler = scheduler or "local"
    return out


def solve_instance(
    scenario: Scenario,
    instance: GlobalInstance,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> GlobalResult:
    """Solve a multi-country instance as its scenario asks (per-country budgets, min_cost, or the pool)."""
    say = progress or (lambda _m: None)
    section = scenario.countries
    assert section is not None
    where = choose_scheduler(scheduler, instance)
    label = "this process" if where == SERIAL else (where or "a local Dask cluster")
    if section.budgets or scenario.objective == "min_cost":
        say(f"{len(instance.countries)} countries planned separately on {label}")
        return solve_per_country(instance, scenario.solver, scheduler=where)
    assert scenario.budget_usd is not None
    say(f"{len(instance.countries)} countries sharing a pool of {scenario.budget_usd:,.0f} USD ({section.method})")
    return solve_pool(instance, float(scenario.budget_usd), scenario.solver, section.method, where, say)


# --------------------------------------------------------------------------------------------- results
def by_country(plan: pd.DataFrame, outcome: GlobalResult, instance: GlobalInstance, metric: str) -> dict[str, Any]:
    """``summary.json`` ``by_country``: offices, population, cost, coverage, budget per country."""
    out: dict[str, Any] = {}
    cplans = {p.iso3: p for p in outcome.countries}
    for c in instance.countries:
        rows = plan[plan["country"] == c.iso3]
        con = rows[rows["technology"] != "none"]
        p = cplans[c.iso3]
        total = c.data.total_weight(metric)
        out[c.iso3] = {
            "offices_planned": len(rows),
            "offices_connected": len(con),
            "population_planned": float(rows["population"].sum()),
            "population_covered": float(con["population"].sum()),
            "coverage_share": p.coverage / total if total else 0.0,
            "cost_usd": float(con["cost_usd"].sum()),
            "capex_usd": float(con["capex_usd"].sum()),
            "budget_usd": None if p.budget_usd is None else float(p.budget_usd),
            "reserved_usd": float(c.reserved_usd),
            "method": p.method,
            "mip_gap": None
            if not math.isfinite(p.bound)
            else relative_gap(p.coverage if c.spec.objective == "max_coverage" else p.cost_usd, p.bound),
        }
    return out


def solve_countries(
    prepared: Any, scenario: Scenario | None = None, progress: Progress | None = None, scheduler: str | None = None
) -> Any:
    """A multi-country scenario, prepared by :func:`planner.pipeline.prepare`, solved into a
    :class:`planner.results.Plan` with ``country`` in the plan table and ``by_country`` in the summary."""
    from planner.results import make_results

    say = progress or (lambda _m: None)
    scenario = scenario or prepared.scenario
    planned = prepared.inputs.planned.reset_index(drop=True)
    spec = ModelSpec.from_scenario(scenario, prepared.catalogue)
    instance = build_instance(scenario, planned, prepared.data, spec)
    outcome = solve_instance(scenario, instance, scheduler, say)
    r = outcome.result
    say(f"solved: {r.status} by {r.method}, gap {r.mip_gap:.2e}, {r.solve_seconds:.2f} s")
    total_budget = scenario.budget_usd
    if scenario.countries and scenario.countries.budgets:
        total_budget = sum(c.budget_usd or 0.0 for c in instance.countries)
    global_spec = replace(spec, budget_usd=total_budget)
    plan = make_results(scenario, planned, prepared.options, instance.data, r, prepared.timings, global_spec)
    country_of = instance.office_country
    plan.plan.insert(
        plan.plan.columns.get_loc("community") + 1, "country", plan.plan["office_id"].map(country_of).astype(str)
    )
    s = plan.summary
    s["budget_usd"] = total_budget
    s["countries"] = {
        "mode": outcome.mode,
        "method": outcome.method,
        "scheduler": outcome.scheduler,
        "count": len(instance.countries),
        "price": outcome.price,
        "price_evaluations": outcome.price_evaluations,
        **outcome.details,
    }
    s["by_country"] = by_country(plan.plan, outcome, instance, scenario.coverage_metric)
    return plan
