"""One pool by decomposition: bisect the price of pooled money, then repair the plans exactly within budgets."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from planner.countries.instance import FEAS_TOL, Country, CountryPlan, GlobalInstance, GlobalResult, Priced, Progress
from planner.countries.percountry import combine, infeasible_countries, raise_country_errors, solve_country
from planner.countries.pricing import BISECTION_MAX_ITER, BISECTION_REL_TOL, Pricer, price_country
from planner.distributed import SERIAL, fan_out
from planner.errors import Diagnosis, InfeasibleError, InputError, Issue
from planner.heuristics.greedy import greedy_max_coverage, office_hull
from planner.problem import PassInfo, relative_gap
from planner.scenario import SolverSettings

ADD_ROUNDS = 5  # repair: rounds that hand the unspent shared money to the country where it buys most


def solve_pool_decomposition(
    instance: GlobalInstance,
    pool: float,
    settings: SolverSettings,
    client: Any | None = None,
    progress: Progress | None = None,
) -> GlobalResult:
    """The pool by Lagrangian pricing, bisection and repair (module docstring).

    ``client``: a Dask client (None: this process).
    """
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    countries = instance.countries
    by_iso = {c.iso3: c for c in countries}
    reserved = sum(c.reserved_usd for c in countries)
    shared = pool - reserved
    if shared < -FEAS_TOL * max(1.0, pool):
        raise InputError(Issue("scenario", None, "countries.min_share", "the reserved shares exceed the pool"))
    shared = max(shared, 0.0)
    pricer = Pricer(countries, settings, client)
    tried: list[tuple[float, dict[str, Priced]]] = []

    def evaluate(price: float) -> tuple[float, float]:
        answers = pricer(price)
        bad = [k for k, a in answers.items() if a.chosen is None and a.status != "optimal"]
        bad += [k for k, a in answers.items() if not math.isfinite(a.draw)]
        if bad:
            infeasible_countries(instance, sorted(set(bad)), settings)
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
    resolve(by_iso, final, budget, isos, settings, client)
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
        hopeful = [k for k in isos if could_use(by_iso[k], final[k], trial[k] - final[k].cost_usd, cheapest)]
        if not hopeful:
            break
        gains = best_first_gains(by_iso, final, trial, hopeful, settings, client)
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
    result = combine(instance, plans, "max_coverage", t0, [])
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


def resolve(
    by_iso: dict[str, Country],
    final: dict[str, CountryPlan],
    budget: dict[str, float],
    isos: list[str],
    settings: SolverSettings,
    client: Any | None,
    dry_run: bool = False,
) -> dict[str, tuple[float, CountryPlan]]:
    """Solve countries ``isos`` exactly within ``budget`` (fanned out) and keep the plans that cover more.

    Each new plan is kept where it covers at least as much as ``final`` (updated in place unless ``dry_run``). Returns
    each country's (gain, plan).
    """
    tasks = [(by_iso[k].data, replace(by_iso[k].spec, budget_usd=budget[k]), settings) for k in isos]
    outcomes = fan_out(solve_country, tasks, scheduler=SERIAL if client is None else None, client=client)
    # infeasible or bad input is the user's to fix; a solver failure keeps the country's current (feasible) plan
    raise_country_errors([by_iso[k] for k, o in zip(isos, outcomes, strict=True) if o.exit_code != 1],
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


def gain_bound(country: Country, plan: CountryPlan, budget: float) -> float:
    """An upper bound on the coverage the country gains over ``plan`` when solved within ``budget`` USD.

    The LP bound of its office hull (side constraints only remove plans). inf where the hull does not bound the model:
    shared infrastructure (sharing makes plans cheaper than the hull), the communities metric (coverage not additive
    over offices) and roadmaps.
    """
    spec = country.spec
    if country.data.infra is not None or spec.metric == "communities" or spec.roadmap is not None:
        return math.inf
    _, _, bound = greedy_max_coverage(office_hull(country.data), budget)
    return bound - plan.coverage


def best_first_gains(
    by_iso: dict[str, Country],
    final: dict[str, CountryPlan],
    trial: dict[str, float],
    hopeful: list[str],
    settings: SolverSettings,
    client: Any | None,
) -> dict[str, tuple[float, CountryPlan]]:
    """The exact gains of an add round, solving only what can change the winner.

    Countries are solved in decreasing order of :func:`gain_bound`, a batch at a time (one per Dask worker), until the
    best exact gain found is at least the bound of every country not yet solved. The winner is the one a solve of every
    hopeful country would pick (up to ties), for a fraction of the solves.
    """
    bounds = {k: gain_bound(by_iso[k], final[k], trial[k]) for k in hopeful}
    order = sorted(hopeful, key=lambda k: -bounds[k])
    batch = max(1, len(client.nthreads())) if client is not None else 1
    gains: dict[str, tuple[float, CountryPlan]] = {}
    for i in range(0, len(order), batch):
        if gains and max(g for g, _ in gains.values()) >= bounds[order[i]]:
            break
        gains.update(resolve(by_iso, dict(final), trial, order[i : i + batch], settings, client, dry_run=True))
    return gains


def could_use(country: Country, plan: CountryPlan, room: float, cache: dict[str, pd.Series]) -> bool:
    """Whether ``room`` more USD could connect one more office of the country (its cheapest option fits)."""
    if country.iso3 not in cache:
        cache[country.iso3] = country.data.options.groupby("office_id")["cost_usd"].min()
    cheapest = cache[country.iso3]
    taken = set(country.data.options["office_id"].iloc[plan.chosen])
    free = cheapest[~cheapest.index.isin(taken)]
    return bool((free <= room * (1 + FEAS_TOL)).any())
