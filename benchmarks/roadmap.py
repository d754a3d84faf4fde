"""Five-year roadmap (2026-2030) at scale: the full Pyomo/HiGHS model against the rolling horizon.

Synthetic seeded instances, built directly as ``ModelData`` (no costing): N offices with 2-4 eligible options
each (technologies fibre, microwave, 4g, leo), lognormal weights, capex 300-20,000 USD, opex 0-1,000 USD a year,
capex trends -10 %..0 a year per technology, annual budget 15 % of the cost of connecting every office at its
cheapest capex (carry-over on, TCO basis: budgets also pay opex), build capacity N/6 offices a year in total
and N/12 a year for leo.

Per size: the full model (``planner.optimize.solve.solve`` with ``method: milp``): build seconds, solve seconds (both
lexicographic passes), the primary pass's status, objective (population-years), best bound and gap; and
``planner.heuristics.phasing.rolling_horizon``: seconds, objective, its own proven (Lagrangian) bound and gap, and
its gap to the full model's primary-pass bound where both run. Each run is in a fresh interpreter so that its peak
memory (``ru_maxrss``) is its own.

    python benchmarks/roadmap.py --sizes 1000 2000 5000 10000 100000 --full-sizes 1000 2000 5000 10000 \\
        --repeat 3 --full-repeat 1
    python benchmarks/roadmap.py --sizes 100000 --full-sizes
    python benchmarks/roadmap.py --scenario scenarios/uttarakhand-roadmap.yaml --repeat 3

``--scenario`` runs ``planner solve SCENARIO --no-store`` as a process (as a user does), ``--repeat`` times, and
prints the wall time, the solve seconds, status, method, objective, bound and gap of each run from its
``summary.json``. ``--auto-sizes``: the synthetic instances solved as ``method: auto`` does (the rolling horizon,
then, when its gap misses ``mip_gap``, HiGHS on the roadmap matrices from its plan).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from planner.problem import ModelData, ModelSpec, RoadmapSpec

YEARS = [2026, 2027, 2028, 2029, 2030]
TECHS = np.array(["fibre", "microwave", "4g", "leo"])
BUDGET_SHARE = 0.15


def instance(n: int, seed: int = 0) -> tuple[ModelData, ModelSpec]:
    """A seeded five-year roadmap with ``n`` offices."""
    rng = np.random.default_rng(seed)
    k = rng.integers(2, 5, n)  # options per office
    office = np.repeat(np.arange(n), k)
    # distinct technologies per office: the first k of a random permutation
    perm = np.argsort(rng.random((n, len(TECHS))), axis=1)
    rank = np.arange(len(office)) - np.repeat(np.cumsum(k) - k, k)
    tech = TECHS[perm[office, rank]]
    capex = np.round(rng.uniform(300, 20_000, len(office)), 2)
    opex = np.round(rng.uniform(0, 1_000, len(office)), 2)
    ids = np.char.add("PO-", np.arange(n).astype(str))
    opts = pd.DataFrame({"office_id": ids[office], "technology": tech, "capex_usd": capex, "opex_usd_per_year": opex})
    opts["cost_usd"] = opts["capex_usd"] + len(YEARS) * opts["opex_usd_per_year"]
    weight = np.round(rng.lognormal(7.0, 1.0, n))
    offices = pd.DataFrame({"office_id": ids, "weight": weight, "region": "R", "community": ids})
    cheapest = float(opts.groupby("office_id")["capex_usd"].min().sum())
    trend = {str(t): float(rng.uniform(-0.1, 0.0)) for t in TECHS}
    rm = RoadmapSpec(
        years=YEARS,
        annual_budget_usd=dict.fromkeys(YEARS, round(BUDGET_SHARE * cheapest, 2)),
        carry_over=True,
        capacity_total=max(1, n // 6),
        capacity_per_technology={"leo": max(1, n // 12)},
        capex_trend=trend,
        discount_rate=0.08,
        count_opex=True,
    )
    return ModelData(opts, offices), ModelSpec("max_coverage", roadmap=rm)


def run_one(n: int, method: str, time_limit_s: float, seed: int) -> dict[str, Any]:
    """One measurement (in this interpreter): 'full' or 'rolling'."""
    data, spec = instance(n, seed)
    row: dict[str, Any] = {"n": n, "pairs": len(data.options), "method": method}
    t0 = time.perf_counter()
    if method in ("full", "auto"):
        from planner.optimize.solve import solve
        from planner.scenario import SolverSettings

        kind = "milp" if method == "full" else "auto"
        res = solve(data, spec, SolverSettings(method=kind, time_limit_s=time_limit_s, mip_gap=1e-4))
        if method == "auto":
            row.update(build_s=res.build_seconds, solve_s=res.solve_seconds, primary_s=0.0, status=res.status,
                       objective=res.objective, bound=res.bound, gap=res.mip_gap, tiebreak=res.method)  # fmt: skip
            row["total_s"] = time.perf_counter() - t0
            row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            return row
        primary = res.passes[0]
        row.update(build_s=res.build_seconds, solve_s=res.solve_seconds, primary_s=primary.seconds,
                   status=primary.status, objective=res.objective, bound=primary.bound,
                   gap=(primary.bound - res.objective) / primary.bound if primary.bound else float("nan"),
                   tiebreak=res.passes[1].status if len(res.passes) > 1 else "")  # fmt: skip
    else:
        from planner.heuristics.phasing import rolling_horizon

        res = rolling_horizon(data, spec)
        heur_s = sum(p.seconds for p in res.passes if p.method == "rolling-horizon")
        bound_s = sum(p.seconds for p in res.passes if p.method == "subgradient")
        row.update(build_s=res.build_seconds, solve_s=res.solve_seconds, heuristic_s=heur_s, bound_s=bound_s,
                   status=res.status, objective=res.objective, bound=res.bound, gap=res.mip_gap)  # fmt: skip
    row["total_s"] = time.perf_counter() - t0
    row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def measure(n: int, method: str, time_limit_s: float, seed: int) -> dict[str, Any]:
    """``run_one`` in a fresh interpreter."""
    cmd = [sys.executable, __file__, "--one", str(n), method, str(time_limit_s), str(seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of the timings and memory over repeats (the plan itself is deterministic)."""
    out = dict(rows[0])
    for key in ("build_s", "solve_s", "primary_s", "heuristic_s", "bound_s", "total_s", "peak_mb"):
        if key in out:
            out[key] = statistics.median(r[key] for r in rows)
    return out


def cli_runs(scenario: str, repeat: int) -> None:
    """``planner solve SCENARIO`` as a process, ``repeat`` times: wall seconds and the summary's certificate."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    exe = shutil.which("planner") or str(Path(sys.executable).with_name("planner"))
    print(f"# {platform.platform()}, {time.strftime('%Y-%m-%d %H:%M')}, `planner solve {scenario}`", flush=True)
    print(
        "| run | load avg | wall s | solve s | status | method | objective | bound | gap | passes |\n"
        + "|---" * 10
        + "|"
    )
    for k in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            subprocess.run([exe, "solve", scenario, "--out", out, "--no-store"], check=True, capture_output=True)
            wall = time.perf_counter() - t0
            s = json.loads((Path(out) / "summary.json").read_text())
        passes = "; ".join(f"{p['name']} {p['status']} {p['seconds']:.1f} s" for p in s.get("passes", []))
        print(f"| {k + 1} | {load:.1f} | {wall:.1f} | {s['solve_seconds']:.1f} | {s['status']} | {s['method']} | "
              f"{s['objective_value']:,.1f} | {s['objective_bound']:,.1f} | {s['mip_gap']:.1e} | {passes} |",
              flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 2000, 5000, 10000, 100000])
    ap.add_argument("--full-sizes", type=int, nargs="*", default=[1000, 2000, 5000, 10000])
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the rolling horizon per size (median)")
    ap.add_argument("--full-repeat", type=int, default=1, help="runs of the full model per size (median)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--auto-sizes", type=int, nargs="*", default=[], help="sizes solved as method: auto")
    ap.add_argument("--scenario", help="run `planner solve SCENARIO` as a process instead (see the module doc)")
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scenario:
        cli_runs(args.scenario, args.repeat)
        return
    if args.one:
        n, method, limit, seed = args.one
        print(json.dumps(run_one(int(n), method, float(limit), int(seed)), default=float))
        return
    print(f"# {platform.platform()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}", flush=True)
    cols = ["N", "pairs", "method", "build s", "solve s", "status", "objective (pop-years)", "bound", "gap",
            "RH gap to full bound", "peak MB"]  # fmt: skip
    print("| " + " | ".join(cols) + " |\n" + "|---" * len(cols) + "|")
    for n in args.sizes:
        full = None
        if n in args.full_sizes:
            full = median_row([measure(n, "full", args.time_limit, args.seed) for _ in range(args.full_repeat)])
            print(f"| {n:,} | {full['pairs']:,} | full model | {full['build_s']:.1f} | {full['solve_s']:.1f} "
                  f"(primary {full['primary_s']:.1f}, tie-break {full['tiebreak']}) | {full['status']} | "
                  f"{full['objective']:,.0f} | {full['bound']:,.0f} | {100 * full['gap']:.3f} % | | "
                  f"{full['peak_mb']:,.0f} |", flush=True)  # fmt: skip
        if n in args.auto_sizes:
            auto = median_row([measure(n, "auto", args.time_limit, args.seed) for _ in range(args.full_repeat)])
            print(f"| {n:,} | {auto['pairs']:,} | auto ({auto['tiebreak']}) | {auto['build_s']:.1f} | "
                  f"{auto['solve_s']:.1f} | {auto['status']} | {auto['objective']:,.0f} | {auto['bound']:,.0f} | "
                  f"{100 * auto['gap']:.3f} % | | {auto['peak_mb']:,.0f} |", flush=True)  # fmt: skip
        rh = median_row([measure(n, "rolling", args.time_limit, args.seed) for _ in range(args.repeat)])
        to_full = f"{100 * (full['bound'] - rh['objective']) / full['bound']:.3f} %" if full else ""
        print(f"| {n:,} | {rh['pairs']:,} | rolling horizon | {rh['build_s']:.1f} | {rh['solve_s']:.1f} "
              f"(heuristic {rh['heuristic_s']:.1f}, bound {rh['bound_s']:.1f}) | {rh['status']} | "
              f"{rh['objective']:,.0f} | {rh['bound']:,.0f} | {100 * rh['gap']:.3f} % | {to_full} | "
              f"{rh['peak_mb']:,.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
