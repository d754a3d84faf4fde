"""Shared infrastructure against independent costing, and exact model against heuristic, on the default data.

Prints two tables:

1. For each shipped single-period scenario of Uttarakhand: total cost and coverage with independent costing
   and with sharing (fibre trenches, new towers, relays), exact and heuristic, with the heuristic's gap to the
   exact plan and each one's build and solve seconds.
2. Growth (fibre-150mbps, 10 M USD per 2,196 offices): random subsets of the offices (25 %, 50 %, 100 %) and a
   synthetic 4x instance (each office copied three times at 2-6 km): candidate arcs and sites, preparation and
   solve seconds, peak memory, exact against heuristic.

The shipped scenarios barely gain from sharing (cheap 4G, microwave and LEO reach almost every office), so
both tables also use ``fibre-150mbps``: the budget scenario with a 150 Mbps floor, where only fibre qualifies.

Usage: ``python benchmarks/sharing.py [--time-limit 120] [--skip-growth]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.pipeline import prepare, solve_prepared  # noqa: E402
from planner.scenario import Scenario, load_scenario  # noqa: E402

SHARE_ALL = {"shared_fibre": True, "new_towers": True, "radio_relays": True}


def variant(scenario: Scenario, infra: dict[str, Any], limit: float) -> Scenario:
    return scenario.model_copy(
        update={
            "infrastructure": scenario.infrastructure.model_copy(update=infra),
            "solver": scenario.solver.model_copy(update={"time_limit_s": limit}),
        }
    )


def run(scenario: Scenario) -> dict[str, Any]:
    t0 = time.perf_counter()
    prepared = prepare(scenario)
    t1 = time.perf_counter()
    plan = solve_prepared(prepared)
    t2 = time.perf_counter()
    s = plan.summary
    infra = prepared.data.infra
    return {
        "cost_usd": s["total_cost_usd"],
        "population": s["population_covered"],
        "offices": s["offices_connected"],
        "status": s["status"],
        "method": s["method"],
        "gap": s["mip_gap"],
        "prepare_s": t1 - t0,
        "solve_s": t2 - t1,
        "arcs": 0 if infra is None else len(infra.arcs),
        "sites": 0 if infra is None else len(infra.sites),
        "shared": s.get("shared_infrastructure", {}),
    }


def fibre_variant(base: Scenario, budget: float = 10e6) -> Scenario:
    """The budget scenario with a 150 Mbps floor (only fibre qualifies) and ``budget`` USD: where trenches
    shared between villages matter most."""
    return base.model_copy(
        update={
            "name": "fibre-150mbps",
            "budget_usd": budget,
            "demand": base.demand.model_copy(update={"floor_mbps": 150.0}),
        }
    )


def scenarios() -> dict[str, Scenario]:
    out = {
        n: load_scenario(ROOT / "scenarios" / f"{n}.yaml")
        for n in ("uttarakhand-budget", "uttarakhand-95pct", "uttarakhand-policy")
    }
    out["fibre-150mbps (budget, 10 M USD)"] = fibre_variant(out["uttarakhand-budget"])
    return out


def compare(limit: float) -> pd.DataFrame:
    rows = []
    for name, base in scenarios().items():
        alone = run(variant(base, {}, limit))
        for label, infra in (
            ("exact", {**SHARE_ALL, "method": "exact"}),
            ("heuristic", {**SHARE_ALL, "method": "heuristic"}),
        ):
            got = run(variant(base, infra, limit))
            sh = got["shared"]
            rows.append(
                {
                    "scenario": name,
                    "method": label,
                    "alone_cost_usd": round(alone["cost_usd"]),
                    "shared_cost_usd": round(got["cost_usd"]),
                    "alone_population": int(alone["population"]),
                    "shared_population": int(got["population"]),
                    "fibre_km": round(sh.get("fibre_km_built", 0.0), 1),
                    "sites": sh.get("sites_built", 0),
                    "relays": sh.get("relay_offices", 0),
                    "status": got["status"],
                    "gap_to_bound": f"{got['gap']:.2e}",
                    "solve_s": round(got["solve_s"], 1),
                    "alone_solve_s": round(alone["solve_s"], 1),
                }
            )
    table = pd.DataFrame(rows)
    # The heuristic's gap to the exact plan of the same scenario (primary objective).
    objectives = {n: sc.objective for n, sc in scenarios().items()}
    for name, grp in table.groupby("scenario"):
        ex = grp[grp["method"] == "exact"].iloc[0]
        objective = objectives[name]
        for i in grp.index:
            if objective == "min_cost":
                table.loc[i, "gap_to_exact"] = (table.loc[i, "shared_cost_usd"] - ex["shared_cost_usd"]) / ex[
                    "shared_cost_usd"
                ]
            else:
                table.loc[i, "gap_to_exact"] = (ex["shared_population"] - table.loc[i, "shared_population"]) / ex[
                    "shared_population"
                ]
    return table


def grow(
    limit: float, tmp: Path, methods: tuple[str, ...] = ("auto", "heuristic"), only: str | None = None
) -> pd.DataFrame:
    base = fibre_variant(load_scenario(ROOT / "scenarios" / "uttarakhand-budget.yaml"))
    offices = pd.read_csv(base.data.offices, dtype=str)
    rng = np.random.default_rng(7)
    rows = []
    copies = offices.copy()
    extra = []
    for k in range(3):
        c = copies.copy()
        ang = rng.uniform(0, 2 * np.pi, len(c))
        dist = rng.uniform(2, 6, len(c)) / 111.19
        c["lat"] = (c["lat"].astype(float) + dist * np.sin(ang)).round(5).astype(str)
        c["lon"] = (c["lon"].astype(float) + dist * np.cos(ang)).round(5).astype(str)
        c["office_id"] = c["office_id"] + f"-c{k}"
        extra.append(c)
    synthetic = pd.concat([offices, *extra], ignore_index=True)
    for label, table in (
        ("25 %", offices.sample(frac=0.25, random_state=1)),
        ("50 %", offices.sample(frac=0.5, random_state=1)),
        ("100 %", offices),
        ("4x synthetic", synthetic),
    ):
        if only is not None and label != only:
            continue
        path = tmp / f"offices-{len(table)}.csv"
        table.to_csv(path, index=False)
        budget = 10e6 * len(table) / len(offices)  # the same money per office
        sc = base.model_copy(update={"data": base.data.model_copy(update={"offices": path}), "budget_usd": budget})
        for method in methods:
            got = run(variant(sc, {**SHARE_ALL, "method": method}, limit))
            rows.append(
                {
                    "instance": label,
                    "offices": len(table),
                    "method": method,
                    "arcs": got["arcs"],
                    "sites": got["sites"],
                    "cost_usd": round(got["cost_usd"]),
                    "population": int(got["population"]),
                    "fibre_km": round(got["shared"].get("fibre_km_built", 0.0), 1),
                    "status": got["status"],
                    "solved_by": got["method"],
                    "gap_to_bound": f"{got['gap']:.2e}",
                    "prepare_s": round(got["prepare_s"], 1),
                    "solve_s": round(got["solve_s"], 1),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--skip-growth", action="store_true")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    print(compare(args.time_limit).to_string(index=False))
    if not args.skip_growth:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            print()
            print(grow(args.time_limit, Path(tmp)).to_string(index=False))


if __name__ == "__main__":
    main()
