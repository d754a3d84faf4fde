"""The monolithic reference: every country in one Pyomo model with the pool rows (the reference for the gap)."""

from __future__ import annotations

import time
from dataclasses import replace

from planner.countries.instance import GlobalInstance
from planner.errors import Diagnosis, InfeasibleError, PlannerError
from planner.optimize.model import add_country_pool, build_model
from planner.optimize.series import solve_built_model
from planner.optimize.solve import solve
from planner.problem import ModelSpec, SolveResult, objective_values, relative_gap
from planner.scenario import SolverSettings


def pool_spec(instance: GlobalInstance, pool: float | None) -> ModelSpec:
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
    """Every country in one model with the pool rows (module docstring); the reference for the gap.

    HiGHS on the Pyomo model, or :func:`planner.optimize.solve.solve` when the pooled problem is one plain knapsack.
    """
    reserved = {c.iso3: c.reserved_usd for c in instance.countries}
    caps = instance.countries[0].spec.technology_max_share
    spec = pool_spec(instance, pool)
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
    coverage, cost_usd = objective_values(instance.data, spec.metric, chosen)
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
