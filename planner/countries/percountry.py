"""Countries solved alone (each within its own budget) and the union of their plans."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from planner.countries.instance import Country, CountryPlan, GlobalInstance, GlobalResult
from planner.distributed import SERIAL, dask_client, fan_out
from planner.errors import Diagnosis, InfeasibleError, InputError, Issue, PlannerError
from planner.heuristics.greedy import greedy_max_coverage, greedy_min_cost, office_hull
from planner.optimize.solve import MILP_MAX_PAIRS, diagnose, solve
from planner.problem import ModelData, ModelSpec, PassInfo, SolveResult, economic_cost, relative_gap
from planner.scenario import SolverSettings


@dataclass
class Outcome:
    """A worker's answer for one country in a plain solve: the result, or the error it raised."""

    result: SolveResult | None = None
    error: str | None = None
    exit_code: int = 0
    diagnosis: Diagnosis | None = None


def solve_country(task: tuple[ModelData, ModelSpec, SolverSettings]) -> Outcome:
    """Worker task: :func:`planner.optimize.solve.solve` on one country (errors come back as values, named later)."""
    data, spec, settings = task
    try:
        return Outcome(result=solve(data, spec, settings))
    except InfeasibleError as exc:
        return Outcome(error=str(exc), exit_code=exc.exit_code, diagnosis=exc.diagnosis)
    except PlannerError as exc:
        return Outcome(error=str(exc), exit_code=exc.exit_code)
    except Exception as exc:  # a solver failure: reported with the country's name (or the repair keeps its plan)
        return Outcome(error=f"{type(exc).__name__}: {exc}", exit_code=1)


def raise_country_errors(countries: list[Country], outcomes: list[Outcome]) -> None:
    """Raise the countries' solve errors, each named by its country; return when every country solved.

    When the first failed country has a diagnosis, :class:`planner.errors.InfeasibleError` is raised with it
    (constraint, message and suggestions prefixed by its ISO3 code); when every failure is an input error, one
    :class:`planner.errors.InputError` lists them all; otherwise a :class:`planner.errors.PlannerError` joins every
    message.
    """
    issues = [(c, o) for c, o in zip(countries, outcomes, strict=True) if o.error is not None]
    if not issues:
        return
    c, o = issues[0]
    if o.diagnosis is not None:
        raise InfeasibleError(o.diagnosis.for_country(c.iso3))
    if all(o.exit_code == InputError.exit_code for _, o in issues):
        raise InputError([Issue("scenario", None, f"countries.{c.iso3}", o.error or "") for c, o in issues])
    raise PlannerError("; ".join(f"country {c.iso3}: {o.error}" for c, o in issues))


def global_infrastructure(by_iso: dict[str, Country], plans: list[CountryPlan]) -> tuple[np.ndarray, np.ndarray]:
    """The countries' built arcs and sites as indices into the whole instance's infrastructure."""
    arcs, sites = [], []
    for p in plans:
        infra = by_iso[p.iso3].data.infra
        if infra is None:
            continue
        assert infra.global_arc is not None and infra.global_site is not None  # a country's is a SharedInfra.subset
        if p.arcs is not None and len(p.arcs):
            arcs.append(infra.global_arc[p.arcs])
        if p.sites is not None and len(p.sites):
            sites.append(infra.global_site[p.sites])
    a = np.unique(np.concatenate(arcs)).astype(np.int64) if arcs else np.zeros(0, np.int64)
    z = np.unique(np.concatenate(sites)).astype(np.int64) if sites else np.zeros(0, np.int64)
    return a, z


def economic_total(by_iso: dict[str, Country], plans: list[CountryPlan]) -> float:
    """Economic cost (USD, cost_basis) of the countries' plans with their infrastructure: the min_cost value."""
    return sum(economic_cost(by_iso[p.iso3].data, p.chosen, p.arcs, p.sites) for p in plans)


def combine(
    instance: GlobalInstance, plans: list[CountryPlan], objective: str, t0: float, passes: list[PassInfo]
) -> SolveResult:
    """The union of the countries' plans as one :class:`planner.problem.SolveResult` over the whole instance.

    Chosen pairs, arcs and sites are mapped to global indices; coverage, cost (USD) and bound are the countries'
    sums, the value is coverage for max_coverage and cost otherwise, the gap is against the summed bound, and the
    status is optimal only when every country's is. ``t0`` (a :func:`time.perf_counter` reading) starts the solve
    time (seconds); ``passes`` are recorded as given.
    """
    by_iso = {c.iso3: c for c in instance.countries}
    chosen = [by_iso[p.iso3].pairs[p.chosen] for p in plans]
    chosen_all = np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, np.int64)
    coverage = sum(p.coverage for p in plans)
    cost = sum(p.cost_usd for p in plans)
    value = coverage if objective == "max_coverage" else economic_total(by_iso, plans)
    bound = sum(p.bound for p in plans)
    gap = relative_gap(value, bound)
    status = "optimal" if all(p.status == "optimal" for p in plans) else "time_limit"
    arcs, sites = global_infrastructure(by_iso, plans)
    return SolveResult(status, "", chosen_all, value, bound, gap, coverage, cost, 0.0, time.perf_counter() - t0, passes,
                       arcs=arcs, sites=sites)  # fmt: skip


Task = tuple[ModelData, ModelSpec, SolverSettings]


def solve_countries_chunk(tasks: list[Task]) -> list[Outcome]:
    """Worker task: :func:`solve_country` on each of a chunk of countries, in order."""
    return [solve_country(t) for t in tasks]


def needs_solver(task: Task) -> bool:
    """Whether a country's solve may go beyond the certified hull greedy (HiGHS or a heuristic): worth a worker.

    False only for a plain max_coverage or min_cost spec whose greedy gap already meets ``mip_gap`` (and whose
    economic cost is the budget cost, so no tie-break pass runs): :func:`planner.optimize.solve.solve` then returns
    the greedy plan in milliseconds, cheaper here than shipped to a worker. Either way the country is solved by
    the same :func:`solve_country`: this only decides where.
    """
    data, spec, settings = task
    if not spec.is_plain or data.infra is not None or settings.method == "milp" or data.options.empty:
        return not data.options.empty
    if settings.method == "fast" or len(data.options) > MILP_MAX_PAIRS:
        return False
    if spec.objective == "max_coverage":
        if not data.economic_is_budget_cost():
            return True
        _, value, bound = greedy_max_coverage(office_hull(data), spec.budget_usd)
    else:
        g = greedy_min_cost(
            office_hull(data, economic=True), (spec.coverage_target or 0.0) * data.total_weight(spec.metric)
        )
        if g is None:
            return True  # infeasible: the diagnosis runs
        _, value, bound = g
    return relative_gap(value, bound) > settings.mip_gap


def balanced_chunks(sizes: list[int], n_chunks: int) -> list[list[int]]:
    """Indices split into at most ``n_chunks`` groups of about equal total size (largest first into the lightest)."""
    groups: list[list[int]] = [[] for _ in range(max(1, min(n_chunks, len(sizes))))]
    load = [0] * len(groups)
    for i in sorted(range(len(sizes)), key=lambda k: -sizes[k]):
        g = load.index(min(load))
        groups[g].append(i)
        load[g] += max(sizes[i], 1)
    return [sorted(g) for g in groups if g]


CHUNKS_PER_WORKER = 3  # tasks per worker for the countries that need a solver: balance without many small tasks


def solve_all(tasks: list[Task], scheduler: str | None, client: Any | None) -> list[Outcome]:
    """Every country's outcome, in order: in this process when ``scheduler`` is serial, else on Dask.

    On Dask only the countries that need a solver (:func:`needs_solver`) leave this process, in a few chunks of
    about equal size per worker (each country's tables shipped once, in its chunk); certified greedy countries are
    solved here.
    """
    if scheduler == SERIAL:
        return [solve_country(t) for t in tasks]
    heavy = [i for i, t in enumerate(tasks) if needs_solver(t)]
    outcomes: list[Outcome | None] = [None] * len(tasks)

    def run(c: Any) -> None:
        workers = max(1, sum(c.nthreads().values()))
        chunks = balanced_chunks([len(tasks[i][0].options) for i in heavy], CHUNKS_PER_WORKER * workers)
        parts = fan_out(solve_countries_chunk, [[tasks[heavy[k]] for k in ch] for ch in chunks], client=c)
        for ch, part in zip(chunks, parts, strict=True):
            for k, o in zip(ch, part, strict=True):
                outcomes[heavy[k]] = o

    if heavy:
        if client is not None:
            run(client)
        else:
            with dask_client(scheduler) as own:
                run(own)
    for i, t in enumerate(tasks):
        if outcomes[i] is None:
            outcomes[i] = solve_country(t)
    return [o for o in outcomes if o is not None]


def solve_per_country(
    instance: GlobalInstance, settings: SolverSettings, scheduler: str | None = SERIAL, client: Any | None = None
) -> GlobalResult:
    """Each country alone within its own budget (or reaching the target, for min_cost).

    Serial, or on Dask: see :func:`solve_all` (the same plans either way).
    """
    t0 = time.perf_counter()
    tasks = [(c.data, replace(c.spec, budget_usd=c.budget_usd), settings) for c in instance.countries]
    outcomes = solve_all(tasks, scheduler, client)
    raise_country_errors(instance.countries, outcomes)
    plans = []
    for c, o in zip(instance.countries, outcomes, strict=True):
        r = o.result
        assert r is not None
        plans.append(CountryPlan(c.iso3, r.chosen, r.coverage, r.cost_usd, c.budget_usd, r.status, r.bound, r.method,
                                 arcs=r.arcs, sites=r.sites))  # fmt: skip
    result = combine(instance, plans, instance.countries[0].spec.objective, t0, [])
    result.method = "per-country"
    return GlobalResult(result, plans, "per_country", "per-country", scheduler=scheduler or "local")


def infeasible_countries(instance: GlobalInstance, isos: list[str], settings: SolverSettings) -> None:
    """Raise :class:`planner.errors.InfeasibleError` for the first of ``isos``, the countries that found no plan.

    The country's spec is diagnosed without its budget row, and the diagnosis (constraint, message, suggestions) is
    prefixed by its ISO3 code so the user knows which country to fix. Never returns.
    """
    by_iso = {c.iso3: c for c in instance.countries}
    c = by_iso[isos[0]]
    d = diagnose(c.data, replace(c.spec, budget_usd=None), settings)
    raise InfeasibleError(d.for_country(c.iso3))
