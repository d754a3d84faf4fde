"""Budget sweeps: the coverage–cost Pareto frontier (Monte Carlo: :mod:`planner.analysis.montecarlo`).

Sweep. Each point is the plan a single solve gives at that budget (``max_coverage``) or coverage target
(``min_cost``), computed without rebuilding per point:

* plain model (one budget or target row, office-additive coverage): the certified hull greedy of
  :mod:`planner.heuristics.greedy` from ONE hull sorted once (:class:`HullFrontier`); its LP value is the exact LP
  frontier and each point's integer plan is the greedy rounding. Points whose certified gap exceeds ``solver.mip_gap``
  go to the MILP below, as a single solve would.
* side constraints (regional minimums, technology caps, the communities metric): one Pyomo model and one
  persistent HiGHS instance (:class:`planner.optimize.series.ModelSeries`), whose budget or target row bound changes per
  point, warm-started from the previous point's plan. Budgets are solved ascending and targets descending, so
  the previous plan is always feasible for the next point.

On Dask, MILP points are split into contiguous runs, one per worker, each reusing its own model; the cheap
greedy points never leave this process. Each point equals a single solve within ``mip_gap``. Scenarios with
shared infrastructure (``infrastructure:``) are solved point by point by the pipeline, in this process.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from planner.distributed import SERIAL, dask_client, fan_out
from planner.errors import InfeasibleError, InputError, Issue
from planner.heuristics.greedy import (
    Hull,
    by_coverage_per_usd,
    by_usd_per_coverage,
    cover_by_ratio,
    economic_swap,
    fill_by_ratio,
    improve_cover,
    improve_fill,
    office_hull,
)
from planner.optimize.series import ModelSeries
from planner.optimize.solve import MILP_MAX_PAIRS, solve
from planner.pipeline import Prepared, Steps, solve_prepared
from planner.problem import ModelData, ModelSpec, SolveResult, relative_gap
from planner.scenario import Catalogue, Scenario, SolverSettings

Kind = Literal["budget", "target"]


Progress = Callable[[str], None]


VALUE_COLUMN = {"budget": "budget_usd", "target": "coverage_target"}


FRONTIER_COLUMNS = [
    "status", "method", "total_cost_usd", "population_covered", "coverage_share", "offices_connected",
    "objective_value", "objective_bound", "mip_gap", "marginal_cost_per_person_usd", "solve_seconds",
]  # fmt: skip


LOCAL = "local"  # --scheduler local: a new local cluster, as when no scheduler is given


class HullFrontier:
    """The certified hull greedy for every budget or target from one hull sorted once.

    ``max_coverage(B)`` returns exactly what ``planner.heuristics.greedy.greedy_max_coverage(hull, B)`` returns and
    ``min_cost(T)`` what ``greedy_min_cost(hull, T)`` returns (same order, same sums), without re-sorting per
    point: a sweep over many budgets costs one O(N log N) sort plus O(N) per point.
    """

    def __init__(self, hull: Hull, economic: Hull | None = None) -> None:
        """Sort ``hull`` (by budget cost: max coverage) and ``economic`` (by economic cost: min cost) once."""
        self.mx = by_coverage_per_usd(hull)
        self.mx_cum = np.cumsum(self.mx.cost)
        self.mn = by_usd_per_coverage(economic if economic is not None else hull)
        self.mn_cum = np.cumsum(self.mn.weight)
        self.free_pairs, self.free_weight = self.mx.free_pairs, self.mx.free_weight
        # Points already answered: with the core search a point costs up to seconds, and a sweep asks each point
        # twice (does any need HiGHS? then the points themselves).
        self._answers: dict[tuple[str, float, float | None], tuple[np.ndarray, float, float] | None] = {}

    def max_coverage(self, budget: float, improve_above: float | None = None) -> tuple[np.ndarray, float, float]:
        """(chosen pairs, covered weight, proven bound) at ``budget`` USD (``improve_above``: see ``improve_fill``)."""
        key = ("max", float(budget), improve_above)
        if key not in self._answers:
            o = self.mx
            g = fill_by_ratio(o.pairs, o.cost, o.weight, self.mx_cum, float(budget), self.free_pairs, self.free_weight)
            self._answers[key] = improve_fill(o, float(budget), g, improve_above)
        return cast(tuple[np.ndarray, float, float], _copied(self._answers[key]))

    def min_cost(self, target: float, improve_above: float | None = None) -> tuple[np.ndarray, float, float] | None:
        """(chosen pairs, cost USD, proven bound) reaching covered weight ``target``, or None when unreachable."""
        key = ("min", float(target), improve_above)
        if key not in self._answers:
            self._answers[key] = self._min_cost(float(target), improve_above)
        return _copied(self._answers[key])

    def _min_cost(self, target: float, improve_above: float | None) -> tuple[np.ndarray, float, float] | None:
        o = self.mn
        if o.total_weight < target - 1e-9 * max(1.0, target):
            return None
        if o.free_weight >= target:
            return o.free_pairs.astype(np.int64), 0.0, 0.0
        g = cover_by_ratio(o.pairs, o.cost, o.weight, self.mn_cum, target, o.free_pairs, o.free_weight)
        return improve_cover(o, target, g, improve_above)


def _copied(answer: tuple[np.ndarray, float, float] | None) -> tuple[np.ndarray, float, float] | None:
    """A remembered answer with its own array of pairs (the caller may keep or change it)."""
    return None if answer is None else (answer[0].copy(), answer[1], answer[2])


def hull_frontier(data: ModelData) -> HullFrontier:
    """The instance's frontier, built once per :class:`ModelData` (both hulls sorted once for every point)."""
    return data.derived("hull_frontier", lambda: HullFrontier(office_hull(data), office_hull(data, economic=True)))


def point_scenario(scenario: Scenario, kind: Kind, value: float) -> Scenario:
    """The scenario of one sweep point.

    A budget sweep maximises coverage within ``value`` USD (any coverage_target is ignored); a target sweep reaches the
    share ``value`` at least cost (without budget).
    """
    if kind == "budget":
        return scenario.model_copy(update={"objective": "max_coverage", "budget_usd": float(value)})
    return scenario.model_copy(update={"objective": "min_cost", "coverage_target": float(value), "budget_usd": None})


def check_points(scenario: Scenario, kind: Kind, values: Sequence[float]) -> list[float]:
    """Validate sweep values (budgets >= 0 USD, targets in (0, 1]); raise ``InputError`` naming the bad one."""
    issues = []
    if not values:
        issues.append(Issue("command line", None, f"--{kind}s", "expected at least one value"))
    for v in values:
        ok = math.isfinite(v) and (v >= 0 if kind == "budget" else 0 < v <= 1)
        if not ok:
            expected = "a budget >= 0 USD" if kind == "budget" else "a coverage share in (0, 1]"
            issues.append(Issue("command line", None, f"--{kind}s", f"expected {expected}, got {v!r}"))
    if scenario.roadmap is not None:
        issues.append(Issue("scenario", None, "roadmap", "a sweep varies one budget or target: remove the roadmap"))
    if issues:
        raise InputError(issues)
    return sorted({float(v) for v in values})


MAX_POINTS = 1000  # sweep points: each is a solve


def parse_values(text: str) -> list[float]:
    """``"1e6,2e6,3e6"`` or ``"START:STOP:N"`` (N evenly spaced values, both ends included)."""
    text = text.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 1:
                raise ValueError
            if n > MAX_POINTS:
                raise InputError(Issue("command line", None, None, f"{n:,} points asked; a sweep has at most "
                                       f"{MAX_POINTS:,} (each point is a solve)"))  # fmt: skip
            return [float(v) for v in np.linspace(start, stop, n)]
        values = [float(v) for v in text.split(",") if v.strip()]
        if len(values) > MAX_POINTS:
            raise InputError(Issue("command line", None, None, f"{len(values):,} points; at most {MAX_POINTS:,}"))
        return values
    except ValueError:
        raise InputError(
            Issue("command line", None, None, f"expected numbers separated by commas or START:STOP:N, got {text!r}")
        ) from None


@dataclass
class SweepTask:
    """One run of consecutive sweep points solved with one reused model (plain data: shipped to Dask)."""

    data: ModelData
    population: pd.Series  # people served per office_id
    scenario: Scenario
    catalogue: Catalogue
    kind: Kind
    values: list[float]  # in solve order: budgets ascending, targets descending


def _better(data: ModelData, spec: ModelSpec, a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """The better of two feasible plans (more weight, or less cost for min_cost) as a warm start."""
    if a is None or b is None:
        return a if b is None else b
    cost = data.options["cost_usd"].to_numpy(float)
    weight = data.offices.set_index("office_id")["weight"].reindex(data.options["office_id"]).to_numpy(float)
    if spec.objective == "max_coverage":
        return a if weight[a].sum() >= weight[b].sum() else b
    return a if cost[a].sum() <= cost[b].sum() else b


def _infeasible(seconds: float = 0.0) -> SolveResult:
    nan = float("nan")
    return SolveResult("infeasible", "", np.zeros(0, np.int64), nan, nan, nan, nan, nan, 0.0, seconds)


def solve_points(task: SweepTask, steps: Steps | None = None) -> list[SolveResult]:
    """Solve the task's points in order, reusing the hull and one Pyomo model (see the module doc).

    ``steps`` hears (points done, points, what) before each point.
    """
    step = steps or (lambda _done, _total, _what: None)
    what = "budget" if task.kind == "budget" else "target"
    data, settings = task.data, task.scenario.solver
    specs = [ModelSpec.from_scenario(point_scenario(task.scenario, task.kind, v), task.catalogue) for v in task.values]
    if data.options.empty:
        return [_solve_single(data, s, settings) for s in specs]
    frontier = hull_frontier(data) if settings.method != "milp" else None
    series: ModelSeries | None = None
    prev: np.ndarray | None = None
    out = []
    tie_break_needed = not data.economic_is_budget_cost()  # as a single solve: the MILP settles max_coverage
    improve_above = settings.mip_gap if settings.method == "auto" else None  # the core search, as a single solve
    for k, spec in enumerate(specs):
        shown = f"{task.values[k] / 1e6:,.2f} M USD" if task.kind == "budget" else f"{100 * task.values[k]:.1f} %"
        step(k, len(specs), f"{what} {k + 1} of {len(specs)}: {shown}")
        t0 = time.perf_counter()
        greedy = None
        if spec.is_plain and frontier is not None:
            if spec.objective == "max_coverage":
                budget = spec.budget_usd if spec.budget_usd is not None else math.inf
                g = frontier.max_coverage(budget, improve_above)
                greedy = (economic_swap(data, g[0]), g[1], g[2])  # as a single solve: least economic cost
            else:
                target = (spec.coverage_target or 0.0) * data.total_weight(spec.metric)
                greedy = frontier.min_cost(target, improve_above)
                if greedy is None:
                    out.append(_infeasible(time.perf_counter() - t0))
                    continue
            chosen, value, bound = greedy
            gap = relative_gap(value, bound)
            settled = gap <= settings.mip_gap and not (tie_break_needed and spec.objective == "max_coverage")
            if settled or settings.method == "fast" or len(data.options) > MILP_MAX_PAIRS:
                cost = float(data.options["cost_usd"].to_numpy(float)[chosen].sum())
                status = "optimal" if gap <= settings.mip_gap else "time_limit"
                out.append(SolveResult(status, "greedy", chosen, value, bound, gap, value if spec.objective ==
                                       "max_coverage" else _weight(data, chosen), cost, 0.0,
                                       time.perf_counter() - t0))  # fmt: skip
                prev = chosen
                continue
        if series is None:
            series = ModelSeries(data, spec, settings)
            built = series.build_seconds
        else:
            built = 0.0
        result = series.solve(spec, start=_better(data, spec, prev, greedy[0] if greedy else None), greedy=greedy)
        result.build_seconds = built
        if result.status != "infeasible" and np.isfinite(result.objective):
            prev = result.chosen
        out.append(result)
    return out


def _weight(data: ModelData, chosen: np.ndarray) -> float:
    weight = data.offices.set_index("office_id")["weight"]
    return float(weight.reindex(data.options["office_id"].iloc[chosen]).sum())


def _solve_single(data: ModelData, spec: ModelSpec, settings: SolverSettings) -> SolveResult:
    try:
        return solve(data, spec, settings)
    except InfeasibleError:
        return _infeasible()


def _rows(task: SweepTask, results: list[SolveResult]) -> list[dict[str, Any]]:
    W = task.data.total_weight(task.scenario.coverage_metric)
    offices = task.data.options["office_id"].to_numpy()
    rows = []
    for v, r in zip(task.values, results, strict=True):
        ok = r.status != "infeasible" and not (r.status == "time_limit" and not np.isfinite(r.objective))
        ids = offices[r.chosen]
        rows.append({
            VALUE_COLUMN[task.kind]: v,
            "status": r.status,
            "method": r.method,
            "total_cost_usd": r.cost_usd if ok else np.nan,
            "population_covered": float(task.population.reindex(ids).sum()) if ok else np.nan,
            "coverage_share": (r.coverage / W if W else 0.0) if ok else np.nan,
            "offices_connected": len(ids) if ok else np.nan,
            "objective_value": r.objective if ok else np.nan,
            "objective_bound": r.bound if ok else np.nan,
            "mip_gap": r.mip_gap if ok else np.nan,
            "solve_seconds": r.solve_seconds,
            "build_seconds": r.build_seconds,
        })  # fmt: skip
    return rows


def sweep_task_rows(task: SweepTask, steps: Steps | None = None) -> list[dict[str, Any]]:
    """Solve a task and return one row per point (module-level: a Dask task; ``steps``: see :func:`solve_points`)."""
    return _rows(task, solve_points(task, steps))


@dataclass
class Frontier:
    """A solved sweep: ``table`` has one row per point (ascending budget or target) in the frontier.csv layout."""

    scenario: str
    kind: Kind
    table: pd.DataFrame
    seconds: float
    build_seconds: float
    tasks: int
    info: dict[str, Any] = field(default_factory=dict)


def add_marginal_cost(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``marginal_cost_per_person_usd`` to a sweep table: the extra USD per extra person covered.

    Extra cost / extra people covered against the previous solved point (USD per person); empty for the first solved
    point and where coverage did not grow.
    """
    table = table.copy()
    marginal = np.full(len(table), np.nan)
    prev: tuple[float, float] | None = None
    for i, (cost, pop) in enumerate(zip(table["total_cost_usd"], table["population_covered"], strict=True)):
        if not (np.isfinite(cost) and np.isfinite(pop)):
            continue
        if prev is not None and pop > prev[1] + 1e-9:
            marginal[i] = (cost - prev[0]) / (pop - prev[1])
        prev = (cost, pop)
    table["marginal_cost_per_person_usd"] = marginal
    return table


def sweep(
    prepared: Prepared,
    kind: Kind,
    values: Sequence[float],
    scheduler: str | None = None,
    client: Any | None = None,
    progress: Progress | None = None,
    steps: Steps | None = None,
) -> Frontier:
    """The coverage–cost frontier of a prepared scenario over budgets (USD) or coverage targets (shares).

    ``scheduler``: ``"serial"`` (this process), a Dask scheduler address, or None / ``"local"``
    (``$PLANNER_DASK_SCHEDULER`` or a local cluster). Dask is used only when points need the MILP; greedy
    points are solved here. ``steps`` hears (points done, points, what) before each point solved in this process,
    and (points, points, "done") at the end.
    """
    say = progress or (lambda _msg: None)
    step = steps or (lambda _done, _total, _what: None)
    scheduler = None if scheduler == LOCAL else scheduler
    scenario = prepared.scenario
    points = check_points(scenario, kind, values)
    t0 = time.perf_counter()
    population = prepared.inputs.planned.set_index("office_id")["population"].astype(float)
    order = points if kind == "budget" else points[::-1]
    base = SweepTask(prepared.data, population, scenario, prepared.catalogue, kind, order)
    if getattr(getattr(scenario, "infrastructure", None), "enabled", False):
        rows = _rows_by_single_solves(prepared, base, step)
        tasks = 1
    elif scheduler == SERIAL or (client is None and len(order) == 1) or not _needs_milp(base):
        say(f"sweeping {len(order)} points in this process")
        rows, tasks = sweep_task_rows(base, step), 1
    else:
        step(0, len(order), f"{len(order)} points on Dask")
        rows, tasks = _sweep_on_dask(base, scheduler, client, say)
    step(len(order), len(order), "done")
    table = pd.DataFrame(rows).sort_values(VALUE_COLUMN[kind], kind="stable").reset_index(drop=True)
    build = float(table.pop("build_seconds").sum())
    table = add_marginal_cost(table)
    table.insert(0, "point", range(1, len(table) + 1))
    table = table[["point", VALUE_COLUMN[kind], *FRONTIER_COLUMNS]]
    table["offices_connected"] = table["offices_connected"].astype("Int64")
    return Frontier(scenario.name, kind, table, time.perf_counter() - t0, build, tasks)


def _needs_milp(task: SweepTask) -> bool:
    """Whether any point goes to HiGHS (side constraints, or a greedy gap above mip_gap)."""
    settings = task.scenario.solver
    specs = [ModelSpec.from_scenario(point_scenario(task.scenario, task.kind, v), task.catalogue) for v in task.values]
    if settings.method == "milp" or not all(s.is_plain for s in specs):
        return True
    if settings.method == "fast" or len(task.data.options) > MILP_MAX_PAIRS or task.data.options.empty:
        return False
    frontier = hull_frontier(task.data)
    W = task.data.total_weight(task.scenario.coverage_metric)
    for s in specs:
        # point_scenario sets the budget of a budget sweep, the target of a target sweep
        g = (
            frontier.max_coverage(cast(float, s.budget_usd), settings.mip_gap)
            if task.kind == "budget"
            else frontier.min_cost(cast(float, s.coverage_target) * W, settings.mip_gap)
        )
        if g is not None and relative_gap(g[1], g[2]) > settings.mip_gap:
            return True
        if task.kind == "budget" and not task.data.economic_is_budget_cost():
            return True  # the least economic cost at each budget's coverage needs the MILP's tie-break
    return False


def _sweep_on_dask(task: SweepTask, scheduler: str | None, client: Any | None, say: Progress) -> tuple[list, int]:
    def run(c: Any) -> tuple[list, int]:
        workers = max(1, sum(c.nthreads().values()))
        n = min(workers, len(task.values))
        bounds = np.linspace(0, len(task.values), n + 1).round().astype(int)
        chunks = [
            SweepTask(task.data, task.population, task.scenario, task.catalogue, task.kind, task.values[a:b])
            for a, b in itertools.pairwise(bounds)
            if b > a
        ]
        say(f"sweeping {len(task.values)} points in {len(chunks)} runs on Dask ({workers} workers)")
        parts = fan_out(sweep_task_rows, chunks, client=c)
        return [row for part in parts for row in part], len(chunks)

    if client is not None:
        return run(client)
    with dask_client(scheduler) as own:
        return run(own)


def _rows_by_single_solves(prepared: Prepared, task: SweepTask, step: Steps) -> list[dict[str, Any]]:
    """Shared infrastructure is planned by the pipeline's own solver: one single solve per point."""
    rows = []
    for k, v in enumerate(task.values):
        step(k, len(task.values), f"point {k + 1} of {len(task.values)}")
        t0 = time.perf_counter()
        try:
            plan = solve_prepared(prepared, scenario=point_scenario(task.scenario, task.kind, v))
        except InfeasibleError:
            rows.append({VALUE_COLUMN[task.kind]: v, "status": "infeasible", "method": "", "solve_seconds": 0.0,
                         "build_seconds": 0.0})  # fmt: skip
            continue
        s = plan.summary
        rows.append({
            VALUE_COLUMN[task.kind]: v, "status": s["status"], "method": s["method"],
            "total_cost_usd": s["total_cost_usd"], "population_covered": s["population_covered"],
            "coverage_share": s["coverage_share"], "offices_connected": s["offices_connected"],
            "objective_value": s["objective_value"], "objective_bound": s["objective_bound"], "mip_gap": s["mip_gap"],
            "solve_seconds": time.perf_counter() - t0, "build_seconds": 0.0,
        })  # fmt: skip
    return rows


def write_frontier(frontier: Frontier, out_dir: Path) -> list[Path]:
    """Write ``frontier.csv`` and ``frontier.png`` (coverage against cost, marginal cost per person)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "frontier.csv"
    frontier.table.to_csv(csv, index=False)
    png = out_dir / "frontier.png"
    fig = frontier_figure(frontier.table, frontier.scenario)
    fig.savefig(png, dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return [csv, png]


def frontier_figure(table: pd.DataFrame, title: str) -> Any:
    """A matplotlib figure: population covered against total cost (left), marginal cost per person (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = table[table["total_cost_usd"].notna()]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.plot(ok["total_cost_usd"] / 1e6, ok["population_covered"] / 1e3, "o-", color="#1f77b4")
    ax1.set_xlabel("total cost (million USD)")
    ax1.set_ylabel("population covered (thousands)")
    ax1.set_title(f"{title}: coverage–cost frontier")
    ax1.grid(alpha=0.3)
    start = ok["population_covered"].shift(1)  # each marginal cost holds between the previous point and this one
    m = ok["marginal_cost_per_person_usd"].notna()
    ax2.hlines(ok.loc[m, "marginal_cost_per_person_usd"], start[m] / 1e3, ok.loc[m, "population_covered"] / 1e3,
               color="#d62728", linewidth=2)  # fmt: skip
    ax2.set_xlabel("population covered (thousands)")
    ax2.set_ylabel("marginal cost (USD per extra person)")
    ax2.set_title("cost of the next person covered")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig
