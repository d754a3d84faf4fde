"""Built models re-solved many times: the budget sweep's model series and a pooled country's priced model.

Both keep one Pyomo model and one persistent HiGHS instance: a new point changes one row bound (the sweep) or
one objective coefficient (the price of pooled money), and the previous plan warm-starts the next solve.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, cast

import numpy as np
import pyomo.environ as pyo

from planner.optimize.highs import milp_pass, new_solver
from planner.optimize.model import add_pool_pricing, build_model, chosen_pairs, set_start
from planner.optimize.solve import model_infrastructure, tie_break
from planner.problem import (
    ModelData,
    ModelSpec,
    PassInfo,
    SolveResult,
    built_infrastructure,
    economic_cost,
    objective_values,
    relative_gap,
)
from planner.scenario import SolverSettings


class ModelSeries:
    """One built Pyomo model and one persistent HiGHS instance, re-solved for a series of specs.

    The specs differ only in the budget (USD) or the coverage target (share): the budget sweep
    (:mod:`planner.analysis.sweep`).

    The budget and target rows get a mutable right-hand side, so a new point changes one row bound in HiGHS
    instead of rebuilding the model; each point is warm-started (from the previous point's plan or a better
    greedy plan) and solved with the same lexicographic passes as :func:`planner.optimize.solve.solve`, so it equals
    a single solve at that budget within ``mip_gap``.
    """

    def __init__(self, data: ModelData, spec: ModelSpec, settings: SolverSettings) -> None:
        if spec.roadmap is not None:
            raise ValueError("a model series re-solves single-year models only (no roadmap)")
        self.data, self.settings = data, settings
        b0 = time.perf_counter()
        m = build_model(data, spec)
        if spec.budget_usd is not None:
            m.series_budget = pyo.Param(mutable=True, initialize=float(spec.budget_usd))
            m.budget.set_value(m.cost <= m.series_budget)
        if spec.coverage_target is not None:
            m.series_target = pyo.Param(mutable=True, initialize=float(spec.coverage_target) * m.W)
            m.coverage_target.set_value(m.coverage >= m.series_target)
        self.model = m
        self.opt = new_solver(m, settings.mip_gap, settings.time_limit_s)
        self.build_seconds = time.perf_counter() - b0

    def solve(
        self, spec: ModelSpec, start: np.ndarray | None = None, greedy: tuple[np.ndarray, float, float] | None = None
    ) -> SolveResult:
        """Solve the model at ``spec``'s budget or target.

        ``start``: chosen pairs of a feasible plan to warm start from; ``greedy``: the certified hull greedy (plan,
        value, LP bound) of a plain spec, whose bound tightens the certificate and whose plan stands if HiGHS finds
        none. Status ``infeasible`` (empty plan, NaN values) when no plan exists.
        """
        m, opt, settings, data = self.model, self.opt, self.settings, self.data
        t0 = time.perf_counter()
        if hasattr(m, "lex_hold"):  # undo the previous point's tie-break pass
            m.del_component(m.lex_hold)
            m.secondary.deactivate()
            m.primary.activate()
        if hasattr(m, "series_budget"):
            m.series_budget.set_value(float(cast(float, spec.budget_usd)))
        if hasattr(m, "series_target"):
            m.series_target.set_value(float(cast(float, spec.coverage_target)) * m.W)
        passes: list[PassInfo] = []
        if start is not None:
            set_start(m, start)
        opt.config.warmstart = start is not None
        info, ok, self.opt = milp_pass(opt, m, "primary", settings.time_limit_s)
        opt = self.opt
        passes.append(info)
        if not ok:
            if greedy is not None and info.status != "infeasible":
                chosen, value, bound = greedy
                cov, cost = objective_values(data, spec.metric, chosen)
                return SolveResult("time_limit", "greedy", chosen, value, bound, relative_gap(value, bound), cov,
                                   cost, 0.0, time.perf_counter() - t0, passes)  # fmt: skip
            status = "infeasible" if info.status in ("infeasible", "optimal") else "time_limit"
            nan = float("nan")
            return SolveResult(status, "milp", np.zeros(0, np.int64), nan, nan, nan, nan, nan, 0.0,
                               time.perf_counter() - t0, passes)  # fmt: skip
        bound, chosen, self.opt = tie_break(opt, m, spec, settings, info, greedy, passes)
        cov, cost = objective_values(data, spec.metric, chosen)
        value = cov if spec.objective == "max_coverage" else economic_cost(data, chosen, None, None)
        gap = relative_gap(value, bound)
        status = "optimal" if info.status == "optimal" or gap <= settings.mip_gap else "time_limit"
        method = "milp+greedy-start" if greedy is not None else "milp"
        return SolveResult(status, method, chosen, value, bound, gap, cov, cost, 0.0,
                           time.perf_counter() - t0, passes)  # fmt: skip


class PricedModel:
    """One country's priced subproblem of a pooled budget, built once and re-solved at each price on one HiGHS instance.

    The subproblem is :func:`planner.optimize.model.add_pool_pricing`. A new price changes one objective coefficient,
    and the plan at the previous price (still feasible, only the objective changed) warm-starts the next solve.
    """

    def __init__(self, data: ModelData, spec: ModelSpec, reserved_usd: float, settings: SolverSettings) -> None:
        self.data, self.settings = data, settings
        self.model = build_model(data, replace(spec, objective="max_coverage", budget_usd=None, coverage_target=None))
        add_pool_pricing(self.model, reserved_usd, 0.0)
        self.opt = new_solver(self.model, settings.mip_gap, settings.time_limit_s)
        self.solves = 0

    def solve(self, price: float, name: str) -> tuple[PassInfo, np.ndarray | None]:
        """Solve at ``price`` (metric units per USD): the pass and the chosen pairs (None: no plan found)."""
        self.model.pool_price.set_value(float(price))
        self.opt.config.warmstart = self.solves > 0
        info, ok, self.opt = milp_pass(self.opt, self.model, name, self.settings.time_limit_s)
        if not ok:
            return info, None
        self.solves += 1
        return info, chosen_pairs(self.model)

    def infrastructure(self, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Trenches and sites the last plan uses, and their cost (USD): see :func:`built_infrastructure`."""
        return built_infrastructure(self.data, chosen, *model_infrastructure(self.model))


def solve_built_model(m: pyo.ConcreteModel, settings: SolverSettings, name: str = "primary") -> tuple[PassInfo, Any]:
    """One guarded HiGHS pass on a model built from :func:`planner.optimize.model.build_model` plus the caller's rows.

    The caller adds rows of its own (planner.countries adds the pool rows and the priced objective). Returns the pass
    (objective and proven bound of the active objective) and the chosen pair indices, or None when no plan was found.
    """
    opt = new_solver(m, settings.mip_gap, settings.time_limit_s)
    info, ok, _ = milp_pass(opt, m, name, settings.time_limit_s)
    return info, (chosen_pairs(m) if ok else None)
