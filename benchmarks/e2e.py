"""End to end at world scale: files in, plan out, ``planner solve`` as a user runs it.

For each size the benchmark writes a seeded options-file instance to disk, as CSV and as Parquet: an offices
file (``office_id, name, region, community, status, lat, lon, population``; about 3 % of offices already
connected) and an options file (``office_id, technology, capex_usd, opex_usd_per_year, mbps``: one to four
quoted technologies per planned office, lognormal capex per technology), plus a scenario (``max_coverage``,
``budget_basis: capex``, a budget of 30 % of what connecting every office at its cheapest quote would cost,
``solver.method: fast``: the certified hull greedy, whose gap the summary reports; with ``auto`` the economic
tie-break pass would hand a capex-basis plan to HiGHS, which at this size is not the subject here).
It then runs ``planner solve`` in a fresh process (this checkout's ``planner.ui.cli.main``, what the ``planner``
command runs), with ``--no-store`` and with a run store, and reads back the per-stage seconds the command prints
(``stage seconds: {...}`` on stderr: read, costing, solve, results, write, store, total), its wall time, its CPU
time (user + system: on a shared machine the steadier figure), its peak memory (the child's ``ru_maxrss`` from
``os.wait4``) and the first 12 hex digits of the SHA-256 of its ``plan.csv`` (two versions of the code make the
same plan when they agree).

Beside it, in the same run, the *reference*: the two files read with pandas and the knapsack LP greedy in
numpy (cheapest quote per office, offices by population per USD, take while the budget lasts), to say how far
the planner is from "read the data and solve the plain model" (the planner's plan is also checked to cover
at least the reference's rounded greedy population, since its own greedy is the same order plus a fill).

The shipped Uttarakhand scenario (``scenarios/uttarakhand-budget.yaml`` by default) is run the same way.

The instance is written, and the reference run, in child processes of their own, so this process stays small
while ``planner solve`` runs. ``--repeat N`` runs each row N times and shows the run of median wall time with the
range (this machine's wall times vary by 10-20 % from one minute to the next, at times by 2x); every recorded
run goes into a fresh store file, so its store seconds are those of a first recording. Peak memory is in MiB
(2**20 bytes). The reference is run again just before each ``planner solve`` run, and ``wall / ref`` is the median
of the runs' own ratios (with their range): the machine's speed drifts, and a ratio of a run to a reference
timed minutes apart measured the drift as much as the planner. The reference's own seconds are timed inside its
process (files read to greedy done); ``reference as a process`` is that process's wall time as well (Python
starting, numpy and pandas imported, the exit), the costs ``planner solve``'s wall time carries too, and
``wall / process ref`` the median of the runs' ratios to it.

Before the runs the planner's modules are compiled to bytecode (``python -m compileall planner``), as Python itself
does on a user's first run and reuses on every later one. An environment that sets ``PYTHONDONTWRITEBYTECODE``
(this machine's does) would otherwise compile the planner's modules again in every run: 0.1-0.2 s of each run,
which the benchmark measured before 2026-12-06.

    python benchmarks/e2e.py                                   # 100,000 and 650,000 offices + Uttarakhand
    python benchmarks/e2e.py --sizes 100000 --inputs parquet   # one size, Parquet inputs only
    python benchmarks/e2e.py --sizes 650000 --inputs parquet --scenarios --repeat 3
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TECHNOLOGIES = ["fibre", "cellular_4g", "microwave", "geo_satellite", "leo_satellite"]
# Median capex (USD) and opex (USD/year) of a quote per technology, lognormal around them (sigma 0.5).
CAPEX_USD = {"fibre": 18_000.0, "cellular_4g": 4_000.0, "microwave": 9_000.0, "geo_satellite": 2_500.0,
             "leo_satellite": 1_200.0}  # fmt: skip
OPEX_USD = {"fibre": 600.0, "cellular_4g": 900.0, "microwave": 700.0, "geo_satellite": 1_800.0,
            "leo_satellite": 1_000.0}  # fmt: skip
BUDGET_SHARE = 0.30
STAGES = ["read", "costing", "solve", "results", "write", "store"]


# --------------------------------------------------------------------------------------------- instance
def instance(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded options-file instance: ``n`` offices and their quotes (1-4 technologies per planned office)."""
    rng = np.random.default_rng(seed)
    n_regions = max(2, n // 500)
    region = rng.integers(0, n_regions, n)
    status = np.where(rng.random(n) < 0.03, "connected", np.where(rng.random(n) < 0.1, "underserved", "unconnected"))
    offices = pd.DataFrame(
        {
            "office_id": np.char.add("PO-", np.arange(n).astype(str)),
            "name": np.char.add("Office ", np.arange(n).astype(str)),
            "region": np.char.add("R", region.astype(str)),
            "community": np.char.add("K", rng.integers(0, max(1, n // 4), n).astype(str)),
            "status": status,
            "lat": np.round(rng.uniform(-35.0, 55.0, n), 5),
            "lon": np.round(rng.uniform(-180.0, 180.0, n), 5),
            "population": np.round(rng.lognormal(8.3, 1.0, n)),
        }
    )
    planned = np.flatnonzero(status != "connected")
    k = rng.integers(1, 5, len(planned))  # quoted technologies per office
    office = np.repeat(planned, k)
    # distinct technologies per office: the first k of a random permutation of the five
    perm = np.argsort(rng.random((len(planned), len(TECHNOLOGIES))), axis=1)
    tech_idx = perm[np.repeat(np.arange(len(planned)), k), _ranks(k)]
    tech = np.array(TECHNOLOGIES)[tech_idx]
    capex = np.array([CAPEX_USD[t] for t in TECHNOLOGIES])[tech_idx] * rng.lognormal(0.0, 0.5, len(office))
    opex = np.array([OPEX_USD[t] for t in TECHNOLOGIES])[tech_idx] * rng.lognormal(0.0, 0.3, len(office))
    options = pd.DataFrame(
        {
            "office_id": offices["office_id"].to_numpy()[office],
            "technology": tech,
            "capex_usd": np.round(capex, 2),
            "opex_usd_per_year": np.round(opex, 2),
            "mbps": 1000.0,  # every quote meets any office's required Mbps: all quotes are eligible
        }
    )
    return offices, options


def _ranks(k: np.ndarray) -> np.ndarray:
    """0..k_i-1 for each i, concatenated."""
    starts = np.repeat(np.cumsum(k) - k, k)
    return np.arange(int(k.sum())) - starts


def reference_budget(offices: pd.DataFrame, options: pd.DataFrame) -> float:
    """30 % of the capex of connecting every planned office at its cheapest quote (USD)."""
    return BUDGET_SHARE * float(options.groupby("office_id")["capex_usd"].min().sum())


def write_instance(folder: Path, n: int, seed: int, fmt: str) -> Path:
    """Write the instance as ``fmt`` (csv | parquet) files and a scenario; return the scenario path."""
    folder.mkdir(parents=True, exist_ok=True)
    offices, options = instance(n, seed)
    for name, table in (("offices", offices), ("options", options)):
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            table.to_csv(path, index=False)
        else:
            table.to_parquet(path, index=False)
    scenario = folder / "scenario.yaml"
    scenario.write_text(
        f"name: e2e-{n}\n"
        f"data: {{offices: offices.{fmt}, options: options.{fmt}}}\n"
        "objective: max_coverage\ncoverage_metric: population\n"
        f"budget_usd: {reference_budget(offices, options):.2f}\nbudget_basis: capex\n"
        "horizon: {start_year: 2026, end_year: 2030}\n"
        "solver: {method: fast}\n",  # the certified hull greedy (no HiGHS tie-break pass): the plain model at scale
        encoding="utf-8",
    )
    return scenario


# --------------------------------------------------------------------------------------------- reference
def reference(folder: Path, fmt: str, budget: float) -> dict[str, float]:
    """Read both files with pandas and run the knapsack LP greedy; seconds and the rounded greedy's population."""
    t0 = time.perf_counter()
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    offices = read(folder / f"offices.{fmt}")
    options = read(folder / f"options.{fmt}")
    t1 = time.perf_counter()
    planned = offices[offices["status"] != "connected"]
    cheapest = options.groupby("office_id")["capex_usd"].min()
    pop = planned.set_index("office_id")["population"].reindex(cheapest.index).to_numpy(float)
    cost = cheapest.to_numpy(float)
    order = np.argsort(-pop / np.maximum(cost, 1e-9), kind="stable")
    spent = np.cumsum(cost[order])
    taken = int(np.searchsorted(spent, budget, side="right"))
    population = float(pop[order[:taken]].sum())
    t2 = time.perf_counter()
    return {"read_s": t1 - t0, "greedy_s": t2 - t1, "total_s": t2 - t0, "population": population}


# --------------------------------------------------------------------------------------------- one run
def run_solve(scenario: Path, out: Path, store: Path | None, out_format: str | None) -> dict[str, Any]:
    """``planner solve`` in a child process: its stage seconds, wall seconds, peak MiB and summary."""
    cmd = [sys.executable, "-c", "from planner.ui.cli import main; main()", "solve", str(scenario)]  # `planner`'s entry
    cmd += ["--out", str(out)]
    cmd += ["--store", str(store)] if store is not None else ["--no-store"]
    if out_format:
        cmd += ["--format", out_format]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RuntimeError(f"planner solve {scenario} exited {proc.returncode}:\n{text[-3000:]}")
    found = re.search(r"stage seconds: (\{.*\})", text)
    stages = json.loads(found.group(1)) if found else {}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    plan_sha = hashlib.sha256((out / "plan.csv").read_bytes()).hexdigest()[:12]  # the same plan, byte for byte
    peak_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20  # MiB
    cpu = usage.ru_utime + usage.ru_stime
    return {"stages": stages, "wall_s": wall, "cpu_s": cpu, "peak_mb": peak_mb, "summary": summary,
            "plan_sha": plan_sha}  # fmt: skip


def row(label: str, inputs: str, store: bool, res: dict[str, Any], ref: dict[str, float] | None) -> dict[str, Any]:
    """One table row from a run (and the reference of its instance)."""
    s = res["summary"]
    out: dict[str, Any] = {"instance": label, "inputs": inputs, "recorded": "yes" if store else "no"}
    out.update({k: res["stages"].get(k) for k in STAGES})
    out.update(wall_s=res["wall_s"], cpu_s=res["cpu_s"], peak_mb=res["peak_mb"], status=s["status"], gap=s["mip_gap"])
    out.update(connected=s["offices_connected"], population=s["population_covered"], plan_sha=res["plan_sha"])
    walls = res.get("walls") or [res["wall_s"]]
    out["wall_range"] = f"{min(walls):.2f}-{max(walls):.2f}" if len(walls) > 1 else None
    if ref is not None:
        out.update(ref_s=res.get("ref_s", ref["total_s"]), ratio=res.get("ratio", res["wall_s"] / ref["total_s"]))
        ratios = res.get("ratios") or []
        out["ratio_range"] = f"{min(ratios):.1f}-{max(ratios):.1f}x" if len(ratios) > 1 else None
        out.update(process_ref_s=res.get("process_ref_s"), process_ratio=res.get("process_ratio"))
        out["ref_ok"] = s["population_covered"] >= ref["population"] - 1e-6 * max(1.0, ref["population"])
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table (seconds to 2 decimals, MiB and counts rounded)."""
    cols = ["instance", "inputs", "recorded", *STAGES, "wall_s", "wall_range", "cpu_s", "peak_mb", "ref_s", "ratio",
            "ratio_range", "process_ref_s", "process_ratio",
            "status", "gap", "connected", "population", "ref_ok", "plan_sha"]  # fmt: skip
    head = ["instance", "inputs", "run store", *(f"{s} s" for s in STAGES), "wall s", "wall range s", "CPU s",
            "peak MiB", "reference s", "wall / ref", "wall / ref range", "reference as a process s",
            "wall / process ref", "status", "gap", "connected", "population",
            "covers ref", "plan.csv sha256"]  # fmt: skip

    def cell(col: str, v: Any) -> str:
        if v is None:
            return ""
        if col in ("peak_mb", "connected", "population"):
            return f"{v:,.0f}"
        if col == "gap":
            return f"{v:.1e}"
        if col in ("ratio", "process_ratio"):
            return f"{v:.1f}x"
        if isinstance(v, float):
            return f"{v:.2f}"
        return str(v)

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c, r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def in_child(*args: str) -> Any:
    """This script's ``--child`` mode in a fresh process: its JSON answer.

    The instance is generated and the reference is read in child processes, so that this process stays small
    while ``planner solve`` runs (as on a user's machine, where no benchmark holds a gigabyte beside it).
    """
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def reference_process(folder: Path, fmt: str, budget: float) -> dict[str, float]:
    """The reference in a fresh process: its own seconds, and the process's wall seconds (``process_s``).

    ``process_s`` is what a user's script doing the reference's job takes: Python starting, numpy and pandas
    imported, the two files read, the greedy, the exit: the same costs ``planner solve``'s wall time carries.
    """
    t0 = time.perf_counter()
    ref: dict[str, float] = in_child("reference", str(folder), fmt, repr(budget))
    ref["process_s"] = time.perf_counter() - t0
    return ref


def compile_planner() -> None:
    """Write the planner's bytecode (``__pycache__``, ignored by git), as a user's first run of ``planner`` does."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "planner")], check=True)


def child(args: list[str]) -> int:
    """``--child write FOLDER N SEED FMT`` (prints the scenario path) or ``--child reference FOLDER FMT BUDGET``."""
    if args[0] == "write":
        print(json.dumps(str(write_instance(Path(args[1]), int(args[2]), int(args[3]), args[4]))))
    else:
        print(json.dumps(reference(Path(args[1]), args[2], float(args[3]))))
    return 0


_RUNS = itertools.count()


def solve_repeated(
    scenario: Path,
    out: Path,
    store: Path | None,
    out_format: str | None,
    repeat: int,
    reference_run: Any = None,
) -> dict[str, Any]:
    """``run_solve`` ``repeat`` times: the run of median wall time, with every run's wall time.

    ``reference_run``: a function giving the reference's seconds, run just before each run: then also each run's
    ratio to its own reference, their median (``ratio``) and the references' median seconds (``ref_s``).

    Each recorded run goes into a store file of its own, so that each is a first recording of its outputs (a
    second recording of the same bytes stores nothing and would flatter the store's seconds).
    """
    stores = [store and store.with_name(f"{store.stem}-{next(_RUNS)}{store.suffix}") for _ in range(repeat)]
    runs = []
    for st in stores:
        ref = reference_run() if reference_run is not None else None  # just before: the same state of the machine
        run = run_solve(scenario, out, st, out_format)
        if ref is not None:
            run.update(ref_s=ref["total_s"], ratio=run["wall_s"] / ref["total_s"], ref=ref)
            if "process_s" in ref:
                run.update(process_ref_s=ref["process_s"], process_ratio=run["wall_s"] / ref["process_s"])
        runs.append(run)
    ratios = sorted(r["ratio"] for r in runs if "ratio" in r)
    refs = sorted(r["ref_s"] for r in runs if "ref_s" in r)
    process = {k: float(np.median([r[k] for r in runs])) for k in ("process_ref_s", "process_ratio") if k in runs[0]}
    runs.sort(key=lambda r: r["wall_s"])
    chosen = runs[(len(runs) - 1) // 2]
    out_run = {**chosen, "walls": [r["wall_s"] for r in runs]}
    if ratios:
        out_run.update(ratios=ratios, ratio=float(np.median(ratios)), ref_s=float(np.median(refs)), **process)
    return out_run


def main(argv: list[str] | None = None) -> int:
    """Generate, solve and tabulate; print a Markdown table (and JSON rows with ``--json``)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 650_000], help="offices per instance")
    ap.add_argument("--inputs", nargs="+", choices=["csv", "parquet"], default=["csv", "parquet"])
    ap.add_argument("--scenarios", type=Path, nargs="*", default=[ROOT / "scenarios" / "uttarakhand-budget.yaml"])
    ap.add_argument("--format", dest="out_format", default=None, help="planner solve --format (default: its own)")
    ap.add_argument("--no-store-runs", action="store_true", help="skip the runs that record in a run store")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    ap.add_argument("--repeat", type=int, default=1, help="runs per row: the median is shown, with the range")
    args = ap.parse_args(argv)
    compile_planner()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="e2e-") as tmp:
        work = Path(tmp)
        store = work / "runs.sqlite"
        for n in args.sizes:
            for fmt in args.inputs:
                folder = work / f"{n}-{fmt}"
                scenario = Path(in_child("write", str(folder), str(n), str(args.seed), fmt))
                budget = float(re.search(r"budget_usd: ([0-9.]+)", scenario.read_text()).group(1))  # type: ignore[union-attr]
                ref = in_child("reference", str(folder), fmt, repr(budget))
                modes = [False] if args.no_store_runs else [False, True]
                for with_store in modes:
                    store_path = store if with_store else None
                    again = functools.partial(reference_process, folder, fmt, budget)
                    res = solve_repeated(scenario, folder / "out", store_path, args.out_format, args.repeat, again)
                    rows.append(row(f"{n:,} offices", fmt, with_store, res, ref))
                    print(markdown(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        for path in args.scenarios:
            for with_store in [False] if args.no_store_runs else [False, True]:
                res = solve_repeated(
                    path, work / f"out-{path.stem}", store if with_store else None, args.out_format, args.repeat
                )
                rows.append(row(path.stem, "csv", with_store, res, None))
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(markdown(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
