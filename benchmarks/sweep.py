"""Budget sweep and Monte Carlo on a real scenario (default: scenarios/uttarakhand-budget.yaml, 2,196 offices).

Prints one table:

* sweep, reuse: ``planner.analysis.sweep.sweep`` serial (one hull sorted once; one Pyomo model whose budget row bound
  changes per point, warm-started from the previous point's plan), seconds per point;
* sweep, rebuild: ``planner.optimize.solve.solve`` once per budget (a new greedy and, where the greedy gap is above
  mip_gap, a new Pyomo model and HiGHS instance per point), seconds per point; both after the same ``prepare``
  (read + costing once), and the largest objective difference between the two (relative);
* the same two on the hull alone (``solver.method: fast``): the certified greedy frontier;
* Monte Carlo: samples per second serial and on a local Dask cluster (``--workers`` processes, cluster start
  included), and whether the two runs are equal sample for sample.

* ``--after-roadmap``: the app's case instead (Results page, default scenario): one solve at the scenario's budget,
  the app's 10-budget sweep (budget/4 to 2 × budget) in a fresh process, then the roadmap scenario solved in the
  same process (as the app does when it has run) and the same sweep again; seconds and the ratio to the one solve.

    python benchmarks/sweep.py --points 8 --samples 8 --workers 2
    python benchmarks/sweep.py --scenario scenarios/uttarakhand-policy.yaml --low 2.5e6 --high 5e6 --samples 0
    python benchmarks/sweep.py --after-roadmap [--roadmap-gap 1e-3 --roadmap-limit 60]
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from planner.analysis.montecarlo import monte_carlo
from planner.analysis.sweep import point_scenario, sweep
from planner.distributed import dask_client
from planner.optimize.solve import solve
from planner.pipeline import Prepared, prepare, solve_prepared
from planner.problem import ModelSpec
from planner.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]


def rebuild(prepared: Prepared, budgets: list[float]) -> tuple[float, list[float]]:
    """Each budget solved on its own (``planner.optimize.solve.solve``): a new greedy, and a new model where needed."""
    t0 = time.perf_counter()
    values = []
    for b in budgets:
        sc = point_scenario(prepared.scenario, "budget", b)
        result = solve(prepared.data, ModelSpec.from_scenario(sc, prepared.catalogue), sc.solver)
        values.append(float(result.objective))
    return time.perf_counter() - t0, values


def after_roadmap(
    scenario_path: Path, roadmap_path: Path, points: int, roadmap_gap: float | None, roadmap_limit: float | None
) -> None:
    """The app's sweep (``points`` budgets from budget/4 to 2 × budget) before and after a roadmap in this process."""
    scenario = load_scenario(scenario_path)
    prepared = prepare(scenario)
    budget = float(scenario.budget_usd or 1e6)
    budgets = [budget / 4 + (2 * budget - budget / 4) * i / (points - 1) for i in range(points)]
    t0 = time.perf_counter()
    plan = solve_prepared(prepared)
    one_s = time.perf_counter() - t0
    print(f"load average {os.getloadavg()[0]:.1f}; one solve at {budget / 1e6:g} M USD: {one_s:.2f} s "
          f"({plan.summary['method']}, gap {plan.summary['mip_gap']:.1e})", flush=True)  # fmt: skip

    def run_sweep(label: str) -> None:
        t1 = time.perf_counter()
        frontier = sweep(prepared, "budget", budgets, "serial")
        s = time.perf_counter() - t1
        methods = frontier.table["method"].value_counts().to_dict()
        print(f"{label}: {points} budgets in {s:.2f} s = {s / one_s:.1f}x one solve ({methods}); load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip

    run_sweep("sweep, fresh process")
    roadmap = load_scenario(roadmap_path)
    change = {"mip_gap": roadmap_gap, "time_limit_s": roadmap_limit}
    change = {k: v for k, v in change.items() if v is not None}
    roadmap = roadmap.model_copy(update={"solver": roadmap.solver.model_copy(update=change)})
    t2 = time.perf_counter()
    rplan = solve_prepared(prepare(roadmap))
    passes = [(p["name"], p["status"], round(p["seconds"], 1)) for p in rplan.summary.get("passes", [])]
    alive = [t.name for t in threading.enumerate() if t.name == "planner-highs"]
    print(f"roadmap: {time.perf_counter() - t2:.2f} s, {rplan.summary['status']} by {rplan.summary['method']}, gap "
          f"{rplan.summary['mip_gap']:.1e}; passes {passes}; HiGHS calls still running after it: {len(alive)}",
          flush=True)  # fmt: skip
    run_sweep("sweep, after the roadmap")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", type=Path, default=REPO / "scenarios" / "uttarakhand-budget.yaml")
    ap.add_argument("--points", type=int, default=8, help="budgets from --low to --high USD")
    ap.add_argument("--low", type=float, default=250_000, help="lowest budget, USD")
    ap.add_argument("--high", type=float, default=4_000_000, help="highest budget, USD")
    ap.add_argument("--samples", type=int, default=8, help="Monte Carlo samples (0: skip)")
    ap.add_argument("--workers", type=int, default=2, help="local Dask cluster workers")
    ap.add_argument("--after-roadmap", action="store_true", help="the app's sweep before and after a roadmap")
    ap.add_argument("--roadmap", type=Path, default=REPO / "scenarios" / "uttarakhand-roadmap.yaml")
    ap.add_argument("--roadmap-gap", type=float, default=None, help="the roadmap's mip_gap (default: its own)")
    ap.add_argument("--roadmap-limit", type=float, default=None, help="the roadmap's time limit, s (default: its own)")
    args = ap.parse_args()
    if args.after_roadmap:
        points = 10 if args.points == 8 else args.points
        after_roadmap(args.scenario, args.roadmap, points, args.roadmap_gap, args.roadmap_limit)
        return

    scenario = load_scenario(args.scenario)
    t0 = time.perf_counter()
    prepared = prepare(scenario)
    prep_s = time.perf_counter() - t0
    budgets = [float(b) for b in np.linspace(args.low, args.high, args.points)]
    rows = []
    for label, method in (("MILP where needed (auto)", None), ("hull greedy only (fast)", "fast")):
        p = prepared
        if method:
            sc = scenario.model_copy(update={"solver": scenario.solver.model_copy(update={"method": method})})
            p = prepare(sc)
        t1 = time.perf_counter()
        frontier = sweep(p, "budget", budgets, scheduler="serial")
        reuse_s = time.perf_counter() - t1
        rebuild_s, values = rebuild(p, budgets)
        diff = max(
            abs(a - b) / max(abs(b), 1e-9) for a, b in zip(frontier.table["objective_value"], values, strict=True)
        )
        methods = frontier.table["method"].value_counts().to_dict()
        rows.append({
            "sweep": label, "points": len(budgets), "reuse s/point": reuse_s / len(budgets),
            "rebuild s/point": rebuild_s / len(budgets), "speed-up": rebuild_s / reuse_s,
            "max rel. objective diff": diff, "methods": ", ".join(f"{k} {v}" for k, v in methods.items()),
        })  # fmt: skip
    pd.set_option("display.width", 200)
    machine = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    print(f"{args.scenario.name}: {len(prepared.inputs.planned):,} offices, {len(prepared.data.options):,} eligible "
          f"options; prepare {prep_s:.2f} s; {machine}; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.samples <= 0:
        return
    t1 = time.perf_counter()
    serial = monte_carlo(prepared, args.samples, seed=1, scheduler="serial")
    serial_s = time.perf_counter() - t1
    t1 = time.perf_counter()
    with dask_client(None, n_workers=args.workers) as client:
        start_s = time.perf_counter() - t1
        dist = monte_carlo(prepared, args.samples, seed=1, client=client)
    dist_s = time.perf_counter() - t1
    drop = ["solve_seconds"]
    same = serial.samples.drop(columns=drop).equals(dist.samples.drop(columns=drop))
    mc = pd.DataFrame([
        {"Monte Carlo": "serial", "samples": args.samples, "seconds": serial_s, "samples/s": args.samples / serial_s},
        {"Monte Carlo": f"local cluster ({args.workers} workers, start {start_s:.1f} s incl.)",
         "samples": args.samples, "seconds": dist_s, "samples/s": args.samples / dist_s},
    ])  # fmt: skip
    print(mc.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"distributed == serial sample for sample: {same}")
    s = serial.summary
    print("P10/P50/P90 total cost USD:", [round(s["total_cost_usd"][k]) for k in ("p10", "p50", "p90")],
          "population covered:", [round(s["population_covered"][k]) for k in ("p10", "p50", "p90")])  # fmt: skip


if __name__ == "__main__":
    main()
