"""The whole job as one call: scenario → data → options → model → plan. Used by the CLI and the app."""

from __future__ import annotations

import ctypes
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from planner.costing import build_options_and_infra, office_weights
from planner.data import Inputs, data_fingerprints, load_inputs
from planner.errors import InputError, Issue
from planner.optimize.solve import solve
from planner.problem import ModelData, ModelSpec
from planner.results import Plan, make_results
from planner.scenario import Catalogue, Scenario, catalogue_for, costing_fields, load_scenario

Progress = Callable[[str], None]

Steps = Callable[[int, int, str], None]
"""Progress of long work for a progress bar: (steps done, steps in all, what runs now)."""


@dataclass
class Prepared:
    """Everything before the solver: validated inputs, catalogue and the costed options table."""

    scenario: Scenario
    catalogue: Catalogue
    inputs: Inputs
    options: pd.DataFrame
    data: ModelData
    timings: dict[str, float]
    regional: dict[str, Catalogue] = field(default_factory=dict)
    """Countries priced with their own overlay of the catalogue (offices of several countries), by ISO3."""


def costing_key(scenario: Scenario) -> str:
    """Everything :func:`prepare` depends on, as one string.

    The scenario without its solve-only fields (:data:`planner.scenario.SOLVE_ONLY_FIELDS`) and the contents (SHA-256)
    of its data files.
    """
    return json.dumps({"scenario": costing_fields(scenario), "files": data_fingerprints(scenario)}, sort_keys=True)


def check_named_regions(scenario: Scenario, inputs: Inputs) -> None:
    """Every region a policy rule names must be a region of a planned office.

    A misspelt region is an error, never a rule silently applied to nobody.
    """
    asked = set(scenario.policy.region_min_coverage) - {"*"}
    if not asked:
        return
    known = set(inputs.planned["region"].astype(str).unique().tolist())
    unknown = sorted(asked - known)
    if not unknown:
        return
    shown = ", ".join(sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
    issues = []
    for name in unknown:
        text = f"no planned office is in region '{name}'; the regions are: {shown}"
        issues.append(Issue("scenario", None, f"policy.region_min_coverage.{name}", text))
    raise InputError(issues)


def check_named_countries(scenario: Scenario, inputs: Inputs) -> None:
    """Every country ``countries.budgets`` or ``countries.min_share`` names must hold planned offices.

    Checked when the data is read (``planner validate`` too), not only when the pool is solved.
    """
    c = scenario.countries
    if c is None:
        return
    known = office_countries(inputs)
    issues = [
        Issue("scenario", None, f"countries.{field}.{name}", f"unknown country '{name}': the offices hold "
              f"{', '.join(sorted(known)) or 'no country'}")
        for field, names in (("budgets", c.budgets), ("min_share", c.min_share))
        for name in names
        if name != "*" and name not in known
    ]  # fmt: skip
    if issues:
        raise InputError(issues)


def regional_overlay(scenario: Scenario, catalogue: Catalogue, inputs: Inputs) -> str | None:
    """The overlay to price every office with when the scenario names none.

    The offices' country, when they all share one that has an overlay in the catalogue (the plan's scenario
    then names it as ``catalogue_region``). Offices of several countries are priced per country instead
    (:func:`regional_catalogues`).
    """
    if scenario.catalogue_region is not None:
        return None
    countries = office_countries(inputs)
    if len(countries) != 1:
        return None
    (country,) = countries
    return country if country in catalogue.regions else None


def office_countries(inputs: Inputs) -> set[str]:
    """The planned offices' countries (ISO3), blanks left out."""
    return {str(c).strip() for c in inputs.planned["country"].astype(str).unique().tolist()} - {""}


def regional_catalogues(scenario: Scenario, catalogue: Catalogue, inputs: Inputs) -> dict[str, Catalogue]:
    """Offices of several countries: each country that has an overlay gets its own catalogue.

    Each is the base with that country's overlay and the scenario's overrides (as ``catalogue_region`` would
    give); an office of a country without an overlay keeps the base figures. Empty when the scenario names
    ``catalogue_region`` (every office takes it) or the offices share one country.
    """
    countries = office_countries(inputs)
    if scenario.catalogue_region is not None or len(countries) < 2:
        return {}
    return {
        c: catalogue_for(scenario.model_copy(update={"catalogue_region": c}))
        for c in sorted(countries)
        if c in catalogue.regions
    }


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only: musl and macOS have none
    except (OSError, AttributeError):
        return None
    return libc


def release_freed_memory() -> None:
    """Return the memory a stage freed to the system (glibc's ``malloc_trim``; elsewhere nothing).

    A stage frees tables of millions of rows, and glibc keeps most of those pages for itself, so the next stage's
    peak adds to them: at 650,000 offices the whole job's peak falls from 2.3 to 2.0 GB (``docs/performance.md``).
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def prepare(scenario: Scenario, progress: Progress | None = None) -> Prepared:
    """Load the catalogue and the data, and cost every (office × technology) option."""
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say("reading the technology catalogue and the data files")
    catalogue = catalogue_for(scenario)
    inputs = load_inputs(scenario, catalogue.technologies)
    if scenario.data.coverage is not None or scenario.data.elevation is not None:
        from planner.layers import load_layers  # shapely (about 1 s to import): only with a geographic layer

        inputs = load_layers(scenario, catalogue.technologies, inputs)
    check_named_regions(scenario, inputs)
    check_named_countries(scenario, inputs)
    region = regional_overlay(scenario, catalogue, inputs)
    if region is not None:  # price with the offices' country's figures; the plan's scenario says which
        say(f"pricing with the {region} overlay of the catalogue")
        scenario = scenario.model_copy(update={"catalogue_region": region})
        catalogue = catalogue_for(scenario)
    regional = regional_catalogues(scenario, catalogue, inputs)
    if regional:
        say(f"pricing the offices of {', '.join(regional)} with their overlays of the catalogue")
    release_freed_memory()
    timings["read"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    say(f"costing {len(inputs.planned):,} offices × {len(catalogue.technologies)} technologies")
    options, infra = build_options_and_infra(inputs, catalogue, scenario, regional)
    planned = inputs.planned.reset_index(drop=True)
    data = ModelData.from_options(options, planned, office_weights(planned, scenario.coverage_metric), infra)
    release_freed_memory()
    timings["costing"] = time.perf_counter() - t1
    return Prepared(scenario, catalogue, inputs, options, data, timings, regional)


def solve_prepared(
    prepared: Prepared,
    scenario: Scenario | None = None,
    progress: Progress | None = None,
    scheduler: str | None = None,
    options_ready: Callable[[pd.DataFrame], None] | None = None,
) -> Plan:
    """Solve a prepared instance (optionally with another scenario that shares its data and costing).

    A scenario with a ``countries`` section goes to :mod:`planner.countries` (``scheduler``: Dask scheduler
    address, ``"local"``, ``"serial"``, or None to choose by size). ``options_ready``: see
    :func:`planner.results.plan.make_results` (a multi-country plan does not call it).
    """
    say = progress or (lambda _msg: None)
    scenario = scenario or prepared.scenario
    if scenario.catalogue_region is None and prepared.scenario.catalogue_region is not None:
        # the options were priced with the offices' country's overlay: the plan says so
        scenario = scenario.model_copy(update={"catalogue_region": prepared.scenario.catalogue_region})
    if scenario.countries is not None:
        from planner.countries.pool import solve_countries  # Pyomo and Dask: only for several countries

        return solve_countries(prepared, scenario, progress=say, scheduler=scheduler)
    spec = ModelSpec.from_scenario(scenario, prepared.catalogue)
    say(f"solving: {len(prepared.data.options):,} eligible options, objective {spec.objective}")
    result = solve(prepared.data, spec, scenario.solver)
    say(f"solved: {result.status} by {result.method}, gap {result.mip_gap:.2e}, {result.solve_seconds:.2f} s")
    planned = prepared.inputs.planned.reset_index(drop=True)
    release_freed_memory()  # the solver's arrays
    plan = make_results(
        scenario,
        planned,
        prepared.options,
        prepared.data,
        result,
        prepared.timings,
        spec,
        prepared.catalogue.security,
        options_ready,
    )
    release_freed_memory()
    return plan


def run(
    scenario: Scenario | str | Path,
    progress: Progress | None = None,
    scheduler: str | None = None,
    options_ready: Callable[[pd.DataFrame], None] | None = None,
) -> Plan:
    """Load (if a path), prepare and solve a scenario.

    ``scheduler``, ``options_ready``: see :func:`solve_prepared`.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    prepared = prepare(scenario, progress)
    # The quotes are costed into the options table: a one-shot run lets them go (0.1 GB at 650,000 offices).
    # (``prepare`` keeps them for callers that re-cost the same inputs: sweeps, Monte Carlo, the app.)
    prepared.inputs.quotes = None
    return solve_prepared(prepared, progress=progress, scheduler=scheduler, options_ready=options_ready)


def prepare_catalogue(scenario: Scenario, catalogue: Catalogue, inputs: Inputs) -> Prepared:
    """Re-cost already read inputs with another catalogue (a Monte Carlo sample): no file is read again."""
    t0 = time.perf_counter()
    options, infra = build_options_and_infra(inputs, catalogue, scenario)
    planned = inputs.planned.reset_index(drop=True)
    data = ModelData.from_options(options, planned, office_weights(planned, scenario.coverage_metric), infra)
    return Prepared(scenario, catalogue, inputs, options, data, {"read": 0.0, "costing": time.perf_counter() - t0})
