"""The global plan (DESIGN §7): several countries in one scenario, per-country budgets or one global pool.

Countries plan independently except for money. ``Scenario.countries`` says how money is shared:

* **per-country budgets** (``countries.budgets``, USD on the budget basis): each country is its own scenario
  (its offices, the global policy rules applied within it, its budget). The countries are solved by
  :func:`planner.optimize.solve.solve` fanned out with :func:`planner.distributed.fan_out`; the global plan is their
  union
  and its bound the sum of their bounds. ``min_cost`` scenarios reach the coverage target in every country.
* **one global pool** (``budget_usd``), optionally with a reserved share per country (``countries.min_share``,
  fraction ``s_c`` of the pool ``B``: money only country c may spend). With ``r_c = s_c·B`` and the shared part
  ``S = B - Σ_c r_c`` the pool rows are (c(x)_c the cost of country c's plan, USD)::

      c(x)_c <= r_c + g_c,   g_c >= 0,   Σ_c g_c <= S

  When every country is a plain model (DESIGN §5: one budget row, office-additive coverage) and nothing is
  reserved, the pooled problem is one multiple-choice knapsack: it is solved as a whole by
  :func:`planner.optimize.solve.solve` (hull greedy with its proven gap, HiGHS when that gap is too wide).

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
  and each country is re-solved exactly (:func:`planner.optimize.solve.solve`, lexicographic) within its budget; then
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

from planner.countries.instance import (
    LOCAL_CLUSTER_MIN_PAIRS,
    Country,
    CountryPlan,
    GlobalInstance,
    GlobalResult,
    Priced,
    build_instance,
    choose_scheduler,
)
from planner.countries.monolithic import solve_monolithic
from planner.countries.percountry import solve_per_country
from planner.countries.pool import by_country, solve_countries, solve_instance, solve_pool
from planner.countries.pricing import BISECTION_MAX_ITER, BISECTION_REL_TOL, price_country
from planner.countries.repair import ADD_ROUNDS, best_first_gains, resolve, solve_pool_decomposition

__all__ = [
    "ADD_ROUNDS",
    "BISECTION_MAX_ITER",
    "BISECTION_REL_TOL",
    "LOCAL_CLUSTER_MIN_PAIRS",
    "Country",
    "CountryPlan",
    "GlobalInstance",
    "GlobalResult",
    "Priced",
    "best_first_gains",
    "build_instance",
    "by_country",
    "choose_scheduler",
    "price_country",
    "resolve",
    "solve_countries",
    "solve_instance",
    "solve_monolithic",
    "solve_per_country",
    "solve_pool",
    "solve_pool_decomposition",
]
