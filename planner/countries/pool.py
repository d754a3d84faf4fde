"""The entry point of a multi-country scenario: choose the method (per country, one pool) and report by country."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any, cast

import numpy as np
import pandas as pd

from planner.countries.instance import (
    CountryPlan,
    GlobalInstance,
    GlobalResult,
    Progress,
    build_instance,
    choose_scheduler,
)
from planner.countries.monolithic import solve_monolithic
from planner.countries.percountry import solve_per_country
from planner.countries.repair import solve_pool_decomposition
from planner.distributed import SERIAL, dask_client
from planner.problem import ModelSpec, objective_values, relative_gap
from planner.results.plan import make_results
from planner.scenario import Scenario, SolverSettings


def solve_pool(
    instance: GlobalInstance,
    pool: float,
    settings: SolverSettings,
    method: str = "auto",
    scheduler: str | None = SERIAL,
    progress: Progress | None = None,
) -> GlobalResult:
    """Solve one global pool, monolithically or by Lagrangian decomposition.

    Monolithic when every country is plain and nothing is reserved (or when asked), else the Lagrangian decomposition
    (on Dask unless ``scheduler`` is ``"serial"``).
    """
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
            cov, cost = objective_values(c.data, c.spec.metric, local)
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
    """Solve a multi-country scenario, prepared by :func:`planner.pipeline.prepare`, into one plan.

    The result is a :class:`planner.results.Plan` with ``country`` in the plan table and ``by_country`` in the summary.
    """
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
    plan = make_results(
        scenario, planned, prepared.options, instance.data, r, prepared.timings, global_spec,
        prepared.catalogue.security,
    )  # fmt: skip
    country_of = instance.office_country
    plan.plan.insert(
        cast(int, plan.plan.columns.get_loc("community")) + 1,
        "country",
        plan.plan["office_id"].map(country_of).astype(str),
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
