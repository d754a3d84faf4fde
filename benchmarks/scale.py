"""Speed at world scale: synthetic instances of 1k to 650k post offices, planned end to end.

Each instance is seeded and built in memory (``planner.data.Inputs``, no files): offices scattered over
countries and their regions, fibre nodes and cell towers in proportion to the offices and placed near them,
populations lognormal, about 20 % of offices without grid power and 5 % already connected (microwave
anchors). Every size is costed once (``build_options`` → ``ModelData.from_options``: the "build" time) and
then solved with both objectives through ``planner.optimize.solve.solve``:

* ``max_coverage`` with a binding budget (30 % of what connecting every reachable office at its cheapest
  option would cost, TCO over 2026-2030);
* ``min_cost`` with a 95 % population coverage target.

Extra rows: HiGHS on the full MILP of the plain model (``method: milp``) at ``--milp-sizes`` (its
agreement with the hull greedy is checked within the reported gaps), the side-constrained model (a minimum
covered share in every region plus a technology share cap, solved by HiGHS) at ``--side-sizes``, and
``make_results`` (plan tables and the per-office explanation) at ``--results-sizes``.

Each size runs in a fresh interpreter so that its peak memory (``ru_maxrss``) is its own.

    python benchmarks/scale.py --sizes 1000 10000 100000 650000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.costing import build_options, office_weights
from planner.data import Inputs
from planner.optimize.solve import MILP_MAX_PAIRS, solve
from planner.problem import ModelData, ModelSpec, SolveResult
from planner.scenario import DataPaths, Policy, Scenario, SolverSettings, load_catalogue

SERVICE_MIX = np.array(["mail", "mail;financial", "mail;e_commerce;financial", "mail;e_government",
                        "mail;e_commerce;financial;e_government"])  # fmt: skip
SERVICE_P = np.array([0.35, 0.30, 0.20, 0.10, 0.05])
BUDGET_SHARE = 0.30  # of the cost of connecting every reachable office at its cheapest option
TARGET = 0.95


# --------------------------------------------------------------------------------------------- instances
def synthetic_inputs(n: int, seed: int = 0) -> Inputs:
    """A seeded world-like instance with ``n`` offices (all columns typed as ``planner.data`` reads them)."""
    rng = np.random.default_rng(seed)
    n_countries = int(np.clip(n // 5_000, 1, 200))
    share = rng.lognormal(0.0, 1.0, n_countries)
    per_country = rng.multinomial(n, share / share.sum())
    lat, lon, region, country = [], [], [], []
    for c, count in enumerate(per_country):
        if count == 0:
            continue
        c_lat, c_lon = rng.uniform(-35, 55), rng.uniform(-180, 180)
        radius = rng.uniform(2.0, 6.0)  # degrees
        n_regions = int(np.clip(count // 500, 2, 40))
        r_lat = c_lat + rng.normal(0, radius / 2, n_regions)
        r_lon = c_lon + rng.normal(0, radius / 2, n_regions)
        r_sd = rng.uniform(0.3, 0.8, n_regions)
        r = rng.integers(0, n_regions, count)
        lat.append(np.clip(r_lat[r] + rng.normal(0, 1, count) * r_sd[r], -89.0, 89.0))
        lon.append((r_lon[r] + rng.normal(0, 1, count) * r_sd[r] + 180.0) % 360.0 - 180.0)
        region.append(np.char.add(f"C{c:03d}-R", r.astype(str)))
        country.append(np.full(count, f"C{c:03d}"))
    lat_a, lon_a = np.concatenate(lat), np.concatenate(lon)
    region_a, country_a = np.concatenate(region), np.concatenate(country)
    ids = np.char.add("PO-", np.arange(n).astype(str))
    # communities: groups of about four offices within a region
    community = np.char.add(np.char.add(region_a, "-K"), rng.integers(0, max(1, n // 4), n).astype(str))
    status = rng.choice(np.array(["unconnected", "underserved", "connected"]), n, p=[0.90, 0.05, 0.05])
    offices = pd.DataFrame(
        {
            "office_id": ids,
            "name": np.char.add("Office ", np.arange(n).astype(str)),
            "country": country_a,
            "region": region_a,
            "community": community,
            "status": status,
            "lat": lat_a.round(5),
            "lon": lon_a.round(5),
            "population": np.round(rng.lognormal(8.3, 1.0, n)),
            "current_mbps": np.where(status == "underserved", 2.0, 0.0),
            "grid_power": rng.random(n) >= 0.20,
            "services": rng.choice(SERVICE_MIX, n, p=SERVICE_P),
            "priority": np.where(rng.random(n) < 0.1, 2.0, 1.0),
        }
    )
    for col in ("office_id", "name", "country", "region", "community", "status", "services"):
        offices[col] = offices[col].astype(str)

    def near(count: int, sd_deg: float) -> tuple[np.ndarray, np.ndarray]:
        at = rng.integers(0, n, count)
        return (np.clip(lat_a[at] + rng.normal(0, sd_deg, count), -89.0, 89.0),
                (lon_a[at] + rng.normal(0, sd_deg, count) + 180.0) % 360.0 - 180.0)  # fmt: skip

    n_nodes, n_towers = max(1, n // 30), max(1, n // 3)
    f_lat, f_lon = near(n_nodes, 0.15)
    nodes = pd.DataFrame({"node_id": np.char.add("FN-", np.arange(n_nodes).astype(str)).astype(object),
                          "lat": f_lat, "lon": f_lon, "name": ""})  # fmt: skip
    t_lat, t_lon = near(n_towers, 0.10)
    towers = pd.DataFrame(
        {
            "tower_id": np.char.add("T-", np.arange(n_towers).astype(str)).astype(object),
            "lat": t_lat,
            "lon": t_lon,
            "generation": rng.choice(np.array([2, 3, 4, 5]), n_towers, p=[0.15, 0.25, 0.50, 0.10]),
            "range_km": np.clip(rng.lognormal(np.log(6.0), 0.5, n_towers), 1.0, 35.0).round(1),
        }
    )
    return Inputs(offices=offices, fibre_nodes=nodes, towers=towers)


def scenario(objective: str, **extra: Any) -> Scenario:
    """The benchmark scenario (TCO basis over 2026-2030); ``budget_usd`` is set once costs are known."""
    base: dict[str, Any] = {"name": f"scale-{objective}", "data": DataPaths(offices=Path("synthetic.csv")),
                            "objective": objective, "budget_basis": "tco"}  # fmt: skip
    if objective == "max_coverage":
        base["budget_usd"] = 1.0
    else:
        base["coverage_target"] = TARGET
    base.update(extra)
    return Scenario(**base)


# --------------------------------------------------------------------------------------------- one size
@dataclass
class Built:
    inputs: Inputs
    options: pd.DataFrame
    data: ModelData
    budget: float
    seconds: dict[str, float]


def build(n: int, seed: int) -> Built:
    """Generate, cost and tabulate one instance; time costing and ModelData separately."""
    inputs = synthetic_inputs(n, seed)
    catalogue = load_catalogue("default")
    sc = scenario("max_coverage")
    t0 = time.perf_counter()
    options = build_options(inputs, catalogue, sc)
    t1 = time.perf_counter()
    planned = inputs.planned.reset_index(drop=True)
    data = ModelData.from_options(options, planned, office_weights(planned, sc.coverage_metric))
    t2 = time.perf_counter()
    eligible = data.options
    cheapest = eligible.groupby("office_id")["cost_usd"].min()
    return Built(inputs, options, data, BUDGET_SHARE * float(cheapest.sum()),
                 {"costing": t1 - t0, "model_data": t2 - t1})  # fmt: skip


def run_case(b: Built, sc: Scenario, method: str, time_limit: float) -> tuple[SolveResult | None, float, str]:
    spec = ModelSpec.from_scenario(sc)
    settings = SolverSettings(time_limit_s=time_limit, mip_gap=1e-4, method=method)
    t0 = time.perf_counter()
    try:
        res = solve(b.data, spec, settings)
    except Exception as exc:  # reported in the table
        return None, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"[:80]
    return res, time.perf_counter() - t0, ""


def measure_size(
    n: int, seed: int, milp: bool, side: bool, results: bool, milp_limit: float, large_limit: float
) -> list[dict]:
    """Every row of the table for one size (run in its own process)."""
    b = build(n, seed)
    build_s = b.seconds["costing"] + b.seconds["model_data"]
    rows = []
    cases: list[tuple[str, Scenario, str]] = [
        ("plain", scenario("max_coverage", budget_usd=b.budget), "auto"),
        ("plain", scenario("min_cost"), "auto"),
    ]
    if milp:
        cases += [(case, sc, "milp") for case, sc, _ in cases[:2]]
    if side:
        policy = Policy(region_min_coverage={"*": 0.25}, technology_max_share={"leo_satellite": 0.4})
        cases.append(("side", scenario("max_coverage", budget_usd=b.budget, policy=policy), "auto"))
    fast: dict[str, SolveResult] = {}
    for case, sc, method in cases:
        if method == "milp" and len(b.data.options) > MILP_MAX_PAIRS:
            note = f"not attempted (> {MILP_MAX_PAIRS:,} pairs)"
            rows.append({"offices": n, "case": case, "objective": sc.objective, "method": "milp",
                         "options": len(b.data.options), "note": note})  # fmt: skip
            continue
        limit = (milp_limit if n <= 10_000 else large_limit) if method == "milp" or case == "side" else 60.0
        res, secs, note = run_case(b, sc, method, limit)
        row: dict[str, Any] = {"offices": n, "case": case, "objective": sc.objective, "options": len(b.data.options),
                               "build_s": build_s, "costing_s": b.seconds["costing"],
                               "model_data_s": b.seconds["model_data"], "solve_s": secs, "note": note}  # fmt: skip
        if res is not None:
            greedy_s = sum(p.seconds for p in res.passes if p.method == "greedy")
            highs_s = sum(p.seconds for p in res.passes if p.method == "milp")
            row.update(method=res.method, status=res.status, value=res.objective, gap=res.mip_gap,
                       greedy_s=greedy_s, pyomo_build_s=res.build_seconds, highs_s=highs_s,
                       rest_s=secs - greedy_s - highs_s - res.build_seconds)  # fmt: skip
            if case == "plain" and method == "auto":
                fast[sc.objective] = res
            if case == "plain" and method == "milp" and sc.objective in fast:
                g = fast[sc.objective]
                diff = abs(g.objective - res.objective) / max(abs(res.objective), 1e-9)
                allowed = g.mip_gap + res.mip_gap + 1e-9
                row["agree"] = f"{diff:.1e} {'<=' if diff <= allowed else '>'} {allowed:.1e}"
            if results and case == "plain" and method == "auto":
                row["results_s"], row["why_s"] = time_results(b, sc, res)
        else:
            row["method"] = method
        rows.append(row)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    for row in rows:
        row["peak_mib"] = rss / 1024
    return rows


def time_results(b: Built, sc: Scenario, res: SolveResult) -> tuple[float, float]:
    """Seconds of ``make_results`` and of its per-office explanation ``why`` alone."""
    from planner.results.plan import make_results, why

    spec = ModelSpec.from_scenario(sc)
    planned = b.inputs.planned.reset_index(drop=True)
    t0 = time.perf_counter()
    plan = make_results(sc, planned, b.options, b.data, res, {}, spec)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    why(plan.plan, b.options, spec)
    return total, time.perf_counter() - t1


# --------------------------------------------------------------------------------------------- table
COLUMNS = [("offices", "{:,}"), ("case", "{}"), ("objective", "{}"), ("method", "{}"), ("options", "{:,}"),
           ("build_s", "{:.2f}"), ("solve_s", "{:.2f}"), ("peak_mib", "{:,.0f}"), ("value", "{:.6g}"),
           ("gap", "{:.1e}"), ("status", "{}")]  # fmt: skip
DETAIL = [("offices", "{:,}"), ("case", "{}"), ("objective", "{}"), ("method", "{}"), ("costing_s", "{:.2f}"),
          ("model_data_s", "{:.2f}"), ("greedy_s", "{:.3f}"), ("pyomo_build_s", "{:.2f}"), ("highs_s", "{:.2f}"),
          ("rest_s", "{:.2f}"), ("results_s", "{:.2f}"), ("why_s", "{:.2f}"), ("agree", "{}"),
          ("note", "{}")]  # fmt: skip


def markdown(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    head = "| " + " | ".join(c for c, _ in columns) + " |"
    rule = "|" + "|".join("---:" if f.startswith("{:") else "---" for _, f in columns) + "|"
    body = []
    for r in rows:
        cells = [f.format(r[c]) if r.get(c) not in (None, "") else "" for c, f in columns]
        body.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *body])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 650_000])
    ap.add_argument("--milp-sizes", type=int, nargs="*", default=[1_000, 10_000, 100_000],
                    help="sizes at which HiGHS solves the plain model too (skipped above MILP_MAX_PAIRS)")  # fmt: skip
    ap.add_argument("--side-sizes", type=int, nargs="*", default=[1_000, 10_000],
                    help="sizes with a regional minimum and a technology share cap (HiGHS)")  # fmt: skip
    ap.add_argument("--results-sizes", type=int, nargs="*", default=[1_000, 10_000],
                    help="sizes at which make_results is timed")  # fmt: skip
    ap.add_argument("--milp-time-limit", type=float, default=60.0, help="HiGHS limit per call up to 10k offices")
    ap.add_argument("--large-time-limit", type=float, default=20.0, help="HiGHS limit per call above 10k offices")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)  # child process: where its rows go (JSON)
    args = ap.parse_args(argv)
    if args.one is not None:
        n = args.one
        rows = measure_size(n, args.seed, n in args.milp_sizes, n in args.side_sizes, n in args.results_sizes,
                            args.milp_time_limit, args.large_time_limit)  # fmt: skip
        args.out.write_text(json.dumps(rows), encoding="utf-8")  # not stdout: HiGHS may write its log there
        return 0
    rows: list[dict] = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "rows.json"
            cmd = [sys.executable, __file__, "--one", str(n), "--seed", str(args.seed), "--out", str(out),
                   "--milp-time-limit", str(args.milp_time_limit), "--large-time-limit", str(args.large_time_limit),
                   "--milp-sizes", *map(str, args.milp_sizes), "--side-sizes", *map(str, args.side_sizes),
                   "--results-sizes", *map(str, args.results_sizes)]  # fmt: skip
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            got = json.loads(out.read_text(encoding="utf-8"))
        print(f"# {n:,} offices: {time.perf_counter() - t0:.1f} s wall (generation included)", file=sys.stderr)
        rows += got
    print(f"{time.strftime('%Y-%m-%d')}; {os.cpu_count()} cores, {platform.machine()} {platform.system()}; "
          f"python {platform.python_version()}; seed {args.seed}\n")  # fmt: skip
    print(markdown(rows, COLUMNS))
    print()
    print(markdown(rows, DETAIL))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
