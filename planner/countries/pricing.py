"""Countries' priced subproblems at a price λ of pooled money, solved in parallel chunks (Lagrangian pricing)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from planner.countries.instance import Country, Priced
from planner.distributed import fan_out
from planner.problem import objective_values
from planner.scenario import SolverSettings

BISECTION_REL_TOL = 1e-4  # stop when λ_hi / λ_lo - 1 is below this


BISECTION_MAX_ITER = 60


def price_country(country: Country, price: float, settings: SolverSettings, with_plan: bool = True) -> Priced:
    """Solve the priced subproblem of one country at ``price`` (metric units per USD drawn from the pool).

    The subproblem is ``max coverage - price·g`` s.t. ``cost <= reserved + g``, g >= 0, and the country's own rows
    (regional minimums, technology caps, communities). Plain countries: numpy; others: HiGHS on the country's
    :class:`planner.optimize.series.PricedModel`, built at its first price and re-solved after.
    """
    if country.plain is not None:
        return country.plain.priced(price, country.reserved_usd, with_plan)
    priced = country.priced_model(settings)
    info, chosen = priced.solve(price, name=f"priced {country.iso3}")
    if chosen is None:
        return Priced(None, math.nan, math.nan, math.nan, math.nan, math.nan, info.status)
    coverage, cost = objective_values(country.data, country.spec.metric, chosen)
    arcs, sites, infra_cost = priced.infrastructure(chosen)
    cost += infra_cost  # trenches and sites the plan uses (paid once), as in the model's cost row
    draw = max(0.0, cost - country.reserved_usd)
    value = coverage - price * draw
    bound = float(info.bound) if info.bound is not None and math.isfinite(info.bound) else math.inf
    return Priced(chosen, coverage, cost, draw, value, max(bound, value), info.status, arcs, sites)


def price_chunk(task: tuple[list[Country], float, SolverSettings]) -> list[Priced]:
    """Worker task: price every country of a chunk.

    Numpy-priced countries come back without their plans: the repair asks for the few it needs.
    """
    chunk, price, settings = task
    return [price_country(c, price, settings, with_plan=False) for c in chunk]


def chunks(countries: list[Country], n: int) -> list[list[Country]]:
    """Countries in ``n`` chunks of similar size (largest first, each to the lightest chunk)."""
    n = max(1, min(n, len(countries)))
    chunks: list[list[Country]] = [[] for _ in range(n)]
    load = [0] * n
    for c in sorted(countries, key=lambda c: -len(c.pairs)):
        k = int(np.argmin(load))
        chunks[k].append(c)
        load[k] += len(c.pairs) + 1
    return [ch for ch in chunks if ch]


class Pricer:
    """Evaluates every country at a price, in this process or on Dask (chunks scattered once)."""

    def __init__(self, countries: list[Country], settings: SolverSettings, client: Any | None) -> None:
        self.settings = settings
        self.client = client
        n = 1 if client is None else 4 * max(1, len(client.scheduler_info().get("workers", {})) or 1)
        self.chunks = chunks(countries, n)
        self.order = [c.iso3 for ch in self.chunks for c in ch]
        self.handles: list[Any] = client.scatter(self.chunks, broadcast=False) if client is not None else self.chunks
        self.calls = 0

    def __call__(self, price: float) -> dict[str, Priced]:
        """Every country's answer at ``price`` (metric units per USD drawn from the pool), keyed by ISO3 code.

        The chunks are priced in this process, or fanned out on Dask to the scattered chunks; ``calls`` counts the
        prices evaluated.
        """
        self.calls += 1
        tasks = [(h, price, self.settings) for h in self.handles]
        if self.client is None:
            answers = [price_chunk(t) for t in tasks]
        else:
            answers = fan_out(price_chunk, tasks, client=self.client)
        return dict(zip(self.order, [p for ch in answers for p in ch], strict=True))
