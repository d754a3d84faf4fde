"""Monte Carlo over the catalogue's uncertain figures.

Every catalogue figure with a low–high range is drawn from its ``distribution`` (triangular with
mode ``value`` by default, uniform, or fixed); a technology's reach distance is drawn from
``reach.max_distance_km_range`` when given. Sample ``s`` uses ``numpy.random.default_rng([seed, s])`` for the
whole catalogue, so a sample does not depend on which worker draws it or in which order: serial and
distributed runs are identical. Each sample is re-costed and solved like ``planner solve``.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from planner.analysis.sweep import LOCAL, Progress
from planner.distributed import SERIAL, dask_client, fan_out
from planner.errors import InfeasibleError, InputError, Issue
from planner.pipeline import Prepared, Steps, prepare_catalogue, solve_prepared
from planner.scenario import Catalogue, Figure, Reach

PERCENTILES = (10, 50, 90)


MAX_SAMPLES = 100_000  # Monte Carlo samples: each is a solve


def uncertain_figures(catalogue: Catalogue) -> list[dict[str, Any]]:
    """Every figure that Monte Carlo draws, in drawing order: name, distribution, low, value (mode), high."""
    out: list[dict[str, Any]] = []
    _walk(catalogue, "", None, out)
    return out


def sample_catalogue(catalogue: Catalogue, rng: np.random.Generator) -> tuple[Catalogue, dict[str, float]]:
    """A catalogue with every uncertain figure drawn once from ``rng``; also the drawn values by figure name."""
    drawn: list[dict[str, Any]] = []
    sampled = _walk(catalogue, "", rng, drawn)
    return sampled, {d["figure"]: d["drawn"] for d in drawn}


def _draw(rng: np.random.Generator, distribution: str, low: float, mode: float, high: float) -> float:
    if distribution == "uniform":
        return float(rng.uniform(low, high))
    return float(rng.triangular(low, mode, high))


def _walk(obj: BaseModel, prefix: str, rng: np.random.Generator | None, out: list[dict[str, Any]]) -> Any:
    """Depth-first over the catalogue in field order; draws (when ``rng``) and returns the updated copy."""
    updates: dict[str, Any] = {}
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        key = f"{prefix}{name}"
        if isinstance(value, Figure):
            if value.distribution != "fixed" and value.high > value.low:
                entry = {"figure": key, "distribution": value.distribution, "low": value.low, "value": value.value,
                         "high": value.high}  # fmt: skip
                if rng is not None:
                    entry["drawn"] = _draw(rng, value.distribution, value.low, value.value, value.high)
                    updates[name] = value.model_copy(update={"value": entry["drawn"]})
                out.append(entry)
        elif isinstance(value, BaseModel):
            new = _walk(value, f"{key}.", rng, out)
            if new is not value:
                updates[name] = new
        elif isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
            inner = {
                k: _walk(v, f"{k}." if name == "technologies" else f"{key}.{k}.", rng, out) for k, v in value.items()
            }
            if any(inner[k] is not value[k] for k in value):
                updates[name] = inner
    if isinstance(obj, Reach) and obj.max_distance_km_range is not None:
        low, high = obj.max_distance_km_range
        mode = float(obj.max_distance_km or high)
        if high > low:
            entry = {"figure": f"{prefix}max_distance_km", "distribution": "triangular", "low": low, "value": mode,
                     "high": high}  # fmt: skip
            if rng is not None:
                entry["drawn"] = _draw(rng, "triangular", low, mode, high)
                updates["max_distance_km"] = entry["drawn"]
            out.append(entry)
    return obj.model_copy(update=updates) if updates else obj


@dataclass
class MonteCarloTask:
    """Samples to solve with one shipped copy of the scenario, its base catalogue and its inputs."""

    prepared: Prepared
    seed: int
    samples: list[int]


def sample_rng(seed: int, sample: int) -> np.random.Generator:
    """The generator of one sample: depends on (seed, sample index) only, not on scheduling."""
    return np.random.default_rng([int(seed), int(sample)])


def solve_catalogue(prepared: Prepared, catalogue: Catalogue) -> dict[str, Any]:
    """Re-cost the prepared inputs with ``catalogue`` and solve them like ``planner solve``.

    Returns the summary figures and each planned office's technology (``none`` when not connected), in the order of the
    planned offices.
    """
    t0 = time.perf_counter()
    scenario = prepared.scenario
    try:
        plan = solve_prepared(prepare_catalogue(scenario, catalogue, prepared.inputs))
    except InfeasibleError:
        n = len(prepared.inputs.planned)
        return {"status": "infeasible", "technology": np.full(n, "none", dtype=object),
                "seconds": time.perf_counter() - t0}  # fmt: skip
    s = plan.summary
    tech = plan.plan.set_index("office_id")["technology"].reindex(prepared.inputs.planned["office_id"])
    return {
        "status": s["status"],
        "total_cost_usd": s["total_cost_usd"],
        "total_capex_usd": s["total_capex_usd"],
        "population_covered": s["population_covered"],
        "coverage_share": s["coverage_share"],
        "offices_connected": s["offices_connected"],
        "mip_gap": s["mip_gap"],
        "technology": tech.fillna("none").to_numpy(dtype=object),
        "seconds": time.perf_counter() - t0,
    }


def monte_carlo_task(task: MonteCarloTask) -> list[dict[str, Any]]:
    """Draw and solve the task's samples (module-level: a Dask task)."""
    out = []
    for s in task.samples:
        catalogue, drawn = sample_catalogue(task.prepared.catalogue, sample_rng(task.seed, s))
        result = solve_catalogue(task.prepared, catalogue)
        out.append({"sample": s, **result, "drawn": drawn})
    return out


@dataclass
class MonteCarlo:
    """A Monte Carlo run: per-sample table, per-office robustness table and the summary (P10/P50/P90)."""

    samples: pd.DataFrame
    offices: pd.DataFrame
    summary: dict[str, Any]


def monte_carlo(
    prepared: Prepared,
    samples: int,
    seed: int = 0,
    scheduler: str | None = None,
    client: Any | None = None,
    progress: Progress | None = None,
    steps: Steps | None = None,
) -> MonteCarlo:
    """Sample the catalogue ``samples`` times (seeded), solve each sample and summarise the results.

    Summarises cost, coverage and the robustness of each office's technology choice. ``scheduler`` as in
    :func:`planner.analysis.sweep.sweep`; ``steps`` hears (done, samples + 1, what) before the central solve and
    each sample (in this process; on Dask once the samples are back).
    """
    say = progress or (lambda _msg: None)
    step = steps or (lambda _done, _total, _what: None)
    scheduler = None if scheduler == LOCAL else scheduler
    if samples < 1:
        raise InputError(Issue("command line", None, "--samples", f"expected at least 1 sample, got {samples}"))
    if samples > MAX_SAMPLES:
        text = f"expected at most {MAX_SAMPLES:,} samples (each is a solve), got {samples:,}"
        raise InputError(Issue("command line", None, "--samples", text))
    if seed < 0:
        raise InputError(Issue("command line", None, "--seed", f"expected a seed >= 0, got {seed}"))
    if prepared.regional:  # one sampled catalogue cannot stand for several countries' figures
        names = ", ".join(prepared.regional)
        text = (
            f"the offices of {names} are priced with their own overlays of the catalogue and Monte Carlo draws "
            "one catalogue: name catalogue_region in the scenario to price every office with one overlay"
        )
        raise InputError(Issue("scenario", None, "catalogue_region", text))
    t0 = time.perf_counter()
    figures = uncertain_figures(prepared.catalogue)
    say(f"solving the central catalogue ({len(figures)} uncertain figures)")
    step(0, samples + 1, "solving the central catalogue")
    base = solve_catalogue(prepared, prepared.catalogue)
    indices = list(range(samples))

    def run(c: Any | None) -> list[list[dict[str, Any]]]:
        if c is None:  # one sample at a time, so that a progress bar moves (samples are seeded by their index)
            out = []
            for i in indices:
                step(i + 1, samples + 1, f"solving sample {i + 1} of {samples}")
                out.append(monte_carlo_task(MonteCarloTask(prepared, seed, [i])))
            return out
        workers = max(1, sum(c.nthreads().values()))
        n = min(samples, 4 * workers)  # a few tasks per worker: balance without shipping the inputs per sample
        bounds = np.linspace(0, samples, n + 1).round().astype(int)
        tasks = [MonteCarloTask(prepared, seed, indices[a:b]) for a, b in itertools.pairwise(bounds)]
        say(f"solving {samples} samples in {len(tasks)} tasks on Dask ({workers} workers)")
        return fan_out(monte_carlo_task, [t for t in tasks if t.samples], client=c)

    if scheduler == SERIAL:
        say(f"solving {samples} samples in this process")
        parts = run(None)
    elif client is not None:
        parts = run(client)
    else:
        with dask_client(scheduler) as own:
            parts = run(own)
    step(samples + 1, samples + 1, "summarising the samples")
    results = sorted((r for part in parts for r in part), key=lambda r: r["sample"])
    return summarise_monte_carlo(prepared, results, base, figures, seed, time.perf_counter() - t0)


SAMPLE_COLUMNS = ["total_cost_usd", "total_capex_usd", "population_covered", "coverage_share", "offices_connected",
                  "mip_gap"]  # fmt: skip


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    if len(values) == 0:
        missing: dict[str, float | None] = {f"p{p}": None for p in PERCENTILES}
        return missing | {"mean": None}
    q = np.percentile(values, PERCENTILES)
    found: dict[str, float | None] = {f"p{p}": float(v) for p, v in zip(PERCENTILES, q, strict=True)}
    return found | {"mean": float(values.mean())}


def summarise_monte_carlo(
    prepared: Prepared,
    results: list[dict[str, Any]],
    base: dict[str, Any],
    figures: list[dict[str, Any]],
    seed: int,
    seconds: float,
) -> MonteCarlo:
    """Per-sample table, per-office technology frequencies and the P10/P50/P90 summary."""
    rows = []
    for r in results:
        row = {"sample": r["sample"], "status": r["status"]}
        row |= {c: r.get(c, np.nan) for c in SAMPLE_COLUMNS}
        row |= r["drawn"]
        row["solve_seconds"] = r["seconds"]
        rows.append(row)
    table = pd.DataFrame(rows)
    feasible = [r for r in results if r["status"] != "infeasible"]
    planned = prepared.inputs.planned.reset_index(drop=True)
    techs = [*prepared.catalogue.technologies, "none"]
    choices = np.stack([r["technology"] for r in feasible]) if feasible else np.empty((0, len(planned)), object)
    offices = pd.DataFrame({"office_id": planned["office_id"].to_numpy()})
    for col in ("name", "region", "population"):
        if col in planned:
            offices[col] = planned[col].to_numpy()
    offices["base_technology"] = base["technology"]
    n = max(len(feasible), 1)
    extra = sorted(set(np.unique(choices)) - set(techs)) if choices.size else []
    shares = {t: (choices == t).sum(axis=0) / n for t in [*techs, *extra]}
    share_table = pd.DataFrame({f"share_{t}": v for t, v in shares.items()})
    best = share_table.to_numpy().argmax(axis=1) if len(share_table.columns) else np.zeros(len(offices), int)
    names = [c.removeprefix("share_") for c in share_table.columns]
    offices["most_frequent_technology"] = [names[i] for i in best] if feasible else "none"
    offices["most_frequent_share"] = share_table.to_numpy().max(axis=1) if feasible else np.nan
    offices["base_choice_share"] = (
        (choices == offices["base_technology"].to_numpy()).sum(axis=0) / n if feasible else np.nan
    )
    offices = pd.concat([offices, share_table], axis=1)
    summary: dict[str, Any] = {
        "scenario": prepared.scenario.name,
        "objective": prepared.scenario.objective,
        "samples": len(results),
        "seed": seed,
        "feasible_samples": len(feasible),
        "status_counts": {k: int(v) for k, v in table["status"].value_counts().sort_index().items()},
        "percentiles": list(PERCENTILES),
        "uncertain_figures": figures,
        "base": {c: base.get(c) for c in ("status", *SAMPLE_COLUMNS)},
    }
    for c in SAMPLE_COLUMNS[:-1]:
        values = table.loc[table["status"] != "infeasible", c].to_numpy(float) if len(table) else np.zeros(0)
        summary[c] = _quantiles(values)
    if feasible:
        summary["offices_choice_stable_90pct"] = int((offices["most_frequent_share"] >= 0.9).sum())
        summary["offices_base_choice_share_mean"] = float(offices["base_choice_share"].mean())
    summary["seconds"] = round(seconds, 3)
    return MonteCarlo(table, offices, summary)


def write_monte_carlo(mc: MonteCarlo, out_dir: Path) -> list[Path]:
    """Write ``montecarlo_summary.json``, ``montecarlo_samples.csv`` and ``office_robustness.csv``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "montecarlo_summary.json", out_dir / "montecarlo_samples.csv", out_dir / "office_robustness.csv"]
    paths[0].write_text(json.dumps(mc.summary, indent=2, default=_json_default) + "\n", encoding="utf-8")
    mc.samples.to_csv(paths[1], index=False)
    mc.offices.to_csv(paths[2], index=False, float_format="%.6g")
    return paths


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return None if not np.isfinite(x) else float(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
