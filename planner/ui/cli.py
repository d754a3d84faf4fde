"""The ``planner`` command (typer): solve, validate, compare, schema.

Exit codes (DESIGN §6): 0 a plan was found; 1 no plan within solver.time_limit_s (or another solver failure);
2 bad input (the message names file, row and column); 3 infeasible (the message names the constraint and the
relaxations that make it feasible). No input error ever shows a traceback.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from planner.errors import InfeasibleError, InputError, Issue, PlannerError, SolverTimeoutError
from planner.scenario import Scenario, load_scenario, write_json_schema
from planner.store import RunStore, StoreError, data_drift

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Connect.Post Planner: plan post office connectivity."
)


class _Clock:
    """Progress lines on stderr with elapsed seconds, so long steps are visible."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            typer.echo(f"[{time.perf_counter() - self.t0:6.2f} s] {message}", err=True)


def _fail(exc: PlannerError) -> None:
    if isinstance(exc, InfeasibleError):
        kind = "infeasible scenario"
    elif isinstance(exc, SolverTimeoutError):
        kind = "no plan within the time limit"
    elif isinstance(exc, StoreError):
        kind = "run store"
    elif exc.exit_code == InputError.exit_code:
        kind = "bad input"
    else:
        kind = "no plan"
    typer.echo(f"error: {kind}:\n{exc}", err=True)
    raise typer.Exit(exc.exit_code)


StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Run store file (SQLite). Default: $PLANNER_STORE, else runs.sqlite in the user's data directory.",
        show_default=False,
    ),
]
NoStoreOption = Annotated[bool, typer.Option("--no-store", help="Do not record this run in the run store.")]


def _check_out(out: Path) -> None:
    """Check the output folder before a long solve, not after.

    A file in its place, or a folder that cannot be made, exits 2 naming it (the plan would otherwise be lost).
    """
    if out.exists() and not out.is_dir():
        _fail(InputError(Issue(f"--out {out}", None, None, "is a file; expected a folder for the output files")))
    parent = out.absolute()
    while not parent.exists():  # nothing is created yet: the first existing ancestor must take a new folder
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        _fail(InputError(Issue(f"--out {out}", None, None, f"cannot create the folder: {parent} is not writable")))


def _open_store(path: Path | None, no_store: bool) -> RunStore | None:
    """The run store to record in (checked before a long solve), or None with --no-store."""
    if no_store:
        return None
    store = RunStore(path)
    try:
        store.open()
    except (PlannerError, sqlite3.Error) as exc:
        hint = "\nchoose another file with --store PATH (or PLANNER_STORE), or plan without recording: --no-store"
        _fail(StoreError(f"{exc}{hint}" if isinstance(exc, PlannerError) else f"run store {store.path}: {exc}{hint}"))
    return store


def _record(store: RunStore | None, write: Callable[[RunStore], int]) -> None:
    """Record a run; a store failure after the outputs are written is a warning, not a failed run."""
    if store is None:
        return
    try:
        run_id = write(store)
    except (PlannerError, sqlite3.Error, OSError) as exc:
        typer.echo(f"warning: the run was not recorded in the run store {store.path}: {exc}", err=True)
        return
    typer.echo(f"recorded as run {run_id} in {store.path} (planner runs show {run_id})", err=True)


def _record_failure(store: RunStore, command: str, sc: Scenario, path: Path, exc: PlannerError, clock: _Clock) -> int:
    """Record a run that found no plan (infeasible, or no plan within the time limit): no output files."""
    from planner.store import data_fingerprints, resolved_catalogue

    summary: dict[str, object] = {
        "scenario": sc.name,
        "status": "infeasible" if isinstance(exc, InfeasibleError) else "time_limit",
        "objective": sc.objective,
        "budget_usd": sc.budget_usd,
        "coverage_target": sc.coverage_target,
        "message": str(exc),
    }
    if isinstance(exc, InfeasibleError):
        summary["constraint"] = exc.diagnosis.constraint
        summary["suggestions"] = dict(exc.diagnosis.suggestions)
    return store.record(
        command=command,
        scenario_json=sc.model_dump(mode="json"),
        summary=summary,
        scenario_yaml=path.read_text(encoding="utf-8"),
        scenario_path=path,
        fingerprints=data_fingerprints(sc),
        catalogue=resolved_catalogue(sc),
        timings={"total_s": time.perf_counter() - clock.t0},
    )


@app.command()
def solve(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    store: StoreOption = None,
    no_store: NoStoreOption = False,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Multi-country scenarios: Dask scheduler address (tcp://host:8786), 'local' (a local cluster) or "
            "'serial' (this process); default $PLANNER_DASK_SCHEDULER, else chosen by instance size.",
        ),
    ] = None,
    out_format: Annotated[
        Literal["csv", "parquet", "both"],
        typer.Option(
            "--format",
            help="Tables as csv, parquet or both (plan.csv and summary.json are always written; README: Outputs).",
        ),
    ] = "csv",
    options_file: Annotated[
        Literal["auto", "csv", "parquet", "both", "none"],
        typer.Option(
            "--options-file",
            help="The (office x technology) options table: auto (in --format; Parquet only above 100,000 rows), "
            "csv, parquet, both or none.",
        ),
    ] = "auto",
) -> None:
    """Solve a scenario, write plan.csv, summary.json and the breakdowns to OUT, and record the run."""
    from planner.pipeline import run
    from planner.results import write_outputs
    from planner.results.outputs import EarlyOptions

    _check_out(out)
    clock = _Clock(quiet)
    run_store = _open_store(store, no_store)
    try:
        sc = load_scenario(scenario)
    except PlannerError as exc:
        _fail(exc)
    with _fan_out_errors(scheduler):  # multi-country scenarios fan out on Dask
        try:
            # the options files are written while the plan table is built (seconds at world scale)
            early = EarlyOptions(out, out_format, options_file)
            plan = run(sc, progress=clock, scheduler=scheduler, options_ready=early)
        except (InfeasibleError, SolverTimeoutError) as exc:

            def record(st: RunStore, e: PlannerError = exc) -> int:
                return _record_failure(st, "solve", sc, scenario, e, clock)

            _record(run_store, record)
            raise
    t_write = time.perf_counter()
    files = write_outputs(plan, out, out_format, options_file, early)
    clock(f"wrote {', '.join(f.name for f in files)} to {out}")
    timings = {"write_outputs_s": time.perf_counter() - t_write, "total_s": time.perf_counter() - clock.t0}
    plan = plan.headline()  # the run is recorded from its files: the tables' memory goes back first
    t_store = time.perf_counter()
    _record(
        run_store,
        lambda st: st.record_plan(
            plan, command="solve", files=files, scenario_path=scenario, out_dir=out, timings=timings
        ),
    )
    stages = {k: (plan.summary.get("timings_seconds") or {}).get(k) for k in ("read", "costing", "results")}
    stages.update(solve=plan.summary["solve_seconds"], write=timings["write_outputs_s"])
    stages.update(store=time.perf_counter() - t_store if run_store is not None else None)
    clock("stage seconds: " + json.dumps({**stages, "total": time.perf_counter() - clock.t0}))
    s = plan.summary
    typer.echo(
        f"{s['scenario']}: {s['status']} (gap {s['mip_gap']:.2e}, {s['method']}); "
        f"{s['offices_connected']:,}/{s['offices_planned']:,} offices, "
        f"{s['population_covered']:,.0f} people ({100 * s['coverage_share_population']:.1f} %), "
        f"cost {s['total_cost_usd']:,.0f} USD ({s['budget_basis']}), capex {s['total_capex_usd']:,.0f} USD"
    )


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")]) -> None:
    """Check the scenario and its data files; print what they hold."""
    from planner.costing import reach_summary
    from planner.data import summarise_inputs
    from planner.pipeline import prepare

    try:
        sc = load_scenario(scenario)
        prepared = prepare(sc)
    except PlannerError as exc:
        _fail(exc)
    facts = summarise_inputs(prepared.inputs)
    opts = prepared.options
    facts["reach"] = reach_summary(opts, prepared.inputs, prepared.catalogue, prepared.scenario)
    facts["eligible_options"] = int(opts["eligible"].sum())
    facts["eligible_by_technology"] = {
        k: int(v) for k, v in opts[opts["eligible"]]["technology"].value_counts().items()
    }
    facts["offices_without_eligible_option"] = int(
        len(prepared.inputs.planned) - opts[opts["eligible"]]["office_id"].nunique()
    )
    infra = prepared.data.infra
    if sc.infrastructure.enabled:  # the candidate shared infrastructure the model may build
        facts["shared_infrastructure"] = {
            "fibre_graph_nodes": 0 if infra is None else len(infra.nodes),
            "fibre_arcs": 0 if infra is None else len(infra.arcs),
            "candidate_sites": 0 if infra is None else len(infra.sites),
            "relay_candidates": 0 if infra is None else int(infra.relays["office_id"].nunique()),
        }
    typer.echo(f"scenario '{sc.name}' is valid ({sc.objective}, metric {sc.coverage_metric})")
    typer.echo(json.dumps(facts, indent=2))


@app.command()
def compare(
    scenarios: Annotated[list[Path], typer.Argument(help="Two or more scenario YAML files.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    store: StoreOption = None,
    no_store: NoStoreOption = False,
) -> None:
    """Solve several scenarios, print their KPIs side by side, and record each run."""
    import tempfile

    from planner.pipeline import run
    from planner.results import Plan, write_outputs
    from planner.results.compare import kpi_table

    clock = _Clock(quiet)
    run_store = _open_store(store, no_store)
    plans = []
    try:
        for path in scenarios:
            plans.append(run(path, progress=clock))
    except PlannerError as exc:
        _fail(exc)
    table = kpi_table([p.summary for p in plans])
    typer.echo(table.to_string())
    for path, plan in zip(scenarios, plans, strict=True):  # the files `planner solve` would write, recorded
        with tempfile.TemporaryDirectory() as tmp:
            files = write_outputs(plan, Path(tmp))

            def record(st: RunStore, p: Plan = plan, f: list[Path] = files, s: Path = path) -> int:
                return st.record_plan(p, command="compare", files=f, scenario_path=s)

            _record(run_store, record)


@app.command()
def schema(
    out: Annotated[Path, typer.Argument(help="Where to write the JSON Schema.")] = Path("scenario.schema.json"),
) -> None:
    """Write the scenario JSON Schema (for editors checking scenarios/*.yaml)."""
    write_json_schema(out)
    typer.echo(f"wrote {out}")


@app.command()
def catalogue(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario whose catalogue to show (default catalogue if none).")
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="List every planner estimate and every figure older than 5 years (or undated); exit 1 when a "
            "figure has no source record.",
        ),
    ] = False,
) -> None:
    """List every cost figure of the technology catalogue with its range and public source."""
    import datetime

    import pandas as pd

    from planner.scenario import catalogue_check, catalogue_for, catalogue_table, load_catalogue

    try:
        cat = catalogue_for(load_scenario(scenario)) if scenario else load_catalogue()
    except PlannerError as exc:
        _fail(exc)
    if check:
        rows = catalogue_check(cat, datetime.date.today().year)
        if scenario is None:  # the bundled catalogue: check every regional overlay too
            for region in sorted(cat.regions):
                try:
                    overlay = load_catalogue(region=region)
                except PlannerError as exc:
                    _fail(exc)
                base = {(r["entry"], r["field"], r["value"]) for r in rows}
                rows += [
                    {**r, "entry": f"{region}:{r['entry']}"}
                    for r in catalogue_check(overlay, datetime.date.today().year)
                    if (r["entry"], r["field"], r["value"]) not in base
                ]
        findings = pd.DataFrame(rows)
        counts = findings["finding"].value_counts().to_dict() if len(findings) else {}
        for kind in ("no source", "estimate", "override", "old", "undated"):
            part = findings[findings["finding"] == kind] if len(findings) else findings
            if len(part):
                typer.echo(f"{kind} ({len(part)}):")
                for r in part.itertuples(index=False):
                    typer.echo(f"  {r.entry}.{r.field} = {r.value:,.6g}: {r.detail}")
        figures = len(catalogue_table(cat))
        typer.echo(
            f"{figures} figures, {len(cat.sources)} source records: "
            + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("estimate", "override", "old", "undated", "no source"))
        )
        if counts.get("no source"):
            raise typer.Exit(1)
        return
    table = pd.DataFrame(catalogue_table(cat))
    if not markdown:
        typer.echo(table.to_string(index=False))
        return
    typer.echo("| " + " | ".join(table.columns) + " |")
    typer.echo("|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        typer.echo("| " + " | ".join(f"{v:,.6g}" if isinstance(v, float) else str(v) for v in row) + " |")


# --------------------------------------------------------------------------------------------- sweep, Monte Carlo
def _record_outputs(
    store: RunStore | None,
    command: str,
    path: Path,
    prepared: Any,
    summary: dict[str, Any],
    files: list[Path],
    out: Path,
    clock: _Clock,
) -> None:
    """Record a sweep or Monte Carlo run: its scenario, data fingerprints, catalogue, summary and output files."""
    sc = prepared.scenario
    _record(
        store,
        lambda st: st.record(
            command=command,
            scenario_json=sc.model_dump(mode="json"),
            summary=summary,
            files=files,
            scenario_yaml=path.read_text(encoding="utf-8"),
            scenario_path=path,
            out_dir=out,
            fingerprints=dict(prepared.inputs.fingerprints),
            catalogue=prepared.catalogue.model_dump(mode="json"),
            timings={**prepared.timings, "total_s": time.perf_counter() - clock.t0},
        ),
    )


SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786), 'local' (a local cluster) or 'serial' (this process). "
        "Default: $PLANNER_DASK_SCHEDULER, else a local cluster.",
        show_default=False,
    ),
]


@contextlib.contextmanager
def _fan_out_errors(scheduler: str | None) -> Iterator[None]:
    """Errors of a command that fans out on Dask, turned into messages and exit codes.

    Planner errors exit with their message and code; an OSError naming a file exits 2 naming it; any other OSError or
    TimeoutError is a scheduler that cannot be reached: exit 2 naming the address tried.
    """
    try:
        yield
    except PlannerError as exc:
        _fail(exc)
    except (OSError, TimeoutError) as exc:
        if isinstance(exc, OSError) and exc.filename is not None:  # a file, not the scheduler
            typer.echo(f"error: bad input:\n{exc.filename}: cannot use the file ({exc.strerror or exc})", err=True)
            raise typer.Exit(2) from None
        from planner.distributed import scheduler_address

        where = scheduler_address(scheduler) or "a local cluster"
        typer.echo(f"error: bad input:\ncannot use the Dask scheduler {where}: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    budgets: Annotated[
        str | None, typer.Option("--budgets", help="Budgets in USD: '1e6,2e6,3e6' or START:STOP:N.")
    ] = None,
    targets: Annotated[
        str | None, typer.Option("--targets", help="Coverage shares in (0, 1]: '0.5,0.8,0.95' or START:STOP:N.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    scheduler: SchedulerOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    store: StoreOption = None,
    no_store: NoStoreOption = False,
) -> None:
    """Coverage-cost frontier over budgets (max coverage) or targets (least cost): frontier.csv and .png."""
    from planner.analysis.sweep import parse_values, write_frontier
    from planner.analysis.sweep import sweep as run_sweep
    from planner.errors import InputError, Issue
    from planner.pipeline import prepare

    _check_out(out)
    clock = _Clock(quiet)
    run_store = _open_store(store, no_store)
    with _fan_out_errors(scheduler):
        if (budgets is None) == (targets is None):
            raise InputError(Issue("command line", None, None, "expected exactly one of --budgets or --targets"))
        kind: Literal["budget", "target"] = "budget" if budgets is not None else "target"
        values = parse_values(budgets if budgets is not None else targets or "")
        prepared = prepare(load_scenario(scenario), progress=clock)
        frontier = run_sweep(prepared, kind, values, scheduler=scheduler, progress=clock)
    files = write_frontier(frontier, out)
    clock(f"wrote {', '.join(f.name for f in files)} to {out}")
    statuses = frontier.table["status"].value_counts()
    summary = {
        "scenario": frontier.scenario,
        "status": str(statuses.index[0]) if len(statuses) == 1 else ", ".join(f"{n} {k}" for k, n in statuses.items()),
        "kind": kind,
        "values": values,
        "points": len(frontier.table),
        "seconds": frontier.seconds,
        "build_seconds": frontier.build_seconds,
        "tasks": frontier.tasks,
        **frontier.info,
    }
    _record_outputs(run_store, "sweep", scenario, prepared, summary, files, out, clock)
    cols = ["point", frontier.table.columns[1], "status", "total_cost_usd", "population_covered", "coverage_share",
            "marginal_cost_per_person_usd"]  # fmt: skip
    typer.echo(frontier.table[cols].to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    typer.echo(
        f"{frontier.scenario}: {len(frontier.table)} points in {frontier.seconds:.2f} s "
        f"({frontier.seconds / len(frontier.table):.3f} s per point, {frontier.tasks} run(s))"
    )


@app.command()
def montecarlo(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    samples: Annotated[int, typer.Option("--samples", "-n", help="Number of catalogue samples.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same samples).")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    scheduler: SchedulerOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    store: StoreOption = None,
    no_store: NoStoreOption = False,
) -> None:
    """Sample the catalogue's cost and reach ranges, solve each sample and report P10/P50/P90.

    Also reports how robust each office's technology choice is: montecarlo_summary.json, montecarlo_samples.csv,
    office_robustness.csv.
    """
    from planner.analysis.montecarlo import monte_carlo, write_monte_carlo
    from planner.pipeline import prepare

    _check_out(out)
    clock = _Clock(quiet)
    run_store = _open_store(store, no_store)
    with _fan_out_errors(scheduler):
        prepared = prepare(load_scenario(scenario), progress=clock)
        mc = monte_carlo(prepared, samples, seed, scheduler=scheduler, progress=clock)
    files = write_monte_carlo(mc, out)
    clock(f"wrote {', '.join(f.name for f in files)} to {out}")
    mc_summary = {**mc.summary, "status": f"{mc.summary['feasible_samples']}/{mc.summary['samples']} feasible"}
    _record_outputs(run_store, "montecarlo", scenario, prepared, mc_summary, files, out, clock)
    s = mc.summary
    typer.echo(f"{s['scenario']}: {s['feasible_samples']}/{s['samples']} samples with a plan (seed {s['seed']})")
    for key, unit in (("total_cost_usd", "USD"), ("population_covered", "people"), ("coverage_share", "")):
        q = s[key]
        if q["p50"] is not None:
            typer.echo(f"  {key:<20} P10 {q['p10']:>14,.4g}  P50 {q['p50']:>14,.4g}  P90 {q['p90']:>14,.4g} {unit}")
    if "offices_choice_stable_90pct" in s:
        typer.echo(
            f"  offices whose technology is the same in >= 90 % of samples: {s['offices_choice_stable_90pct']:,}"
        )


# --------------------------------------------------------------------------------------------- run store
runs_app = typer.Typer(
    no_args_is_help=True,
    help="Recorded runs (the run store): list, show, export, compare, delete.",
)
app.add_typer(runs_app, name="runs")
RunIds = Annotated[list[int], typer.Argument(help="Run ids (see `planner runs list`).", show_default=False)]


def _guard(action: Callable[[], None], store: RunStore) -> None:
    """Run a store command; store problems become messages and exit codes, never tracebacks."""
    try:
        action()
    except PlannerError as exc:
        _fail(exc)
    except sqlite3.Error as exc:
        typer.echo(f"error: run store {store.path}: {exc}", err=True)
        raise typer.Exit(1) from None


def _pct(x: object) -> str:
    return "" if x is None or x != x else f"{100 * float(x):.1f} %"  # type: ignore[arg-type]


def _usd(x: object) -> str:
    return "" if x is None or x != x else f"{float(x):,.0f}"  # type: ignore[arg-type]


@runs_app.command("list")
def runs_list(
    scenario: Annotated[str | None, typer.Option("--scenario", help="Only runs of this scenario name.")] = None,
    command: Annotated[str | None, typer.Option("--command", help="Only runs of this command (solve, ...).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Newest N runs.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON records instead of a table.")] = False,
    store: StoreOption = None,
) -> None:
    """List recorded runs, newest first: id, time (UTC), command, scenario, status, cost, coverage."""
    import pandas as pd

    st = RunStore(store)

    def action() -> None:
        table = st.list_runs(scenario=scenario, command=command, limit=limit)
        if as_json:
            typer.echo(table.to_json(orient="records", indent=2))
            return
        if table.empty:
            typer.echo(f"no runs recorded in {st.path}")
            return
        shown = pd.DataFrame(
            {
                "id": table["id"],
                "time (UTC)": table["created_at"].str.slice(0, 19).str.replace("T", " "),
                "command": table["command"],
                "scenario": table["scenario"],
                "status": table["status"].fillna(""),
                "cost USD": table["total_cost_usd"].map(_usd),
                "coverage": table["coverage_share"].map(_pct),
                "offices": [
                    "" if pd.isna(c) else f"{int(c):,}/{int(p):,}"
                    for c, p in zip(table["offices_connected"], table["offices_planned"], strict=True)
                ],
            }
        )
        typer.echo(shown.to_string(index=False))
        total = len(st.ids())
        more = f" (the newest {len(table)} of {total}; --limit to see more)" if total > len(table) else ""
        typer.echo(f"{len(table)} run(s) in {st.path}{more}", err=True)

    _guard(action, st)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[int, typer.Argument(help="Run id.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole record as JSON.")] = False,
    scenario_yaml: Annotated[bool, typer.Option("--yaml", help="Print the scenario file as it was run.")] = False,
    store: StoreOption = None,
) -> None:
    """Show one run: scenario, data fingerprints, versions, timings, output files and KPIs."""
    from dataclasses import asdict

    from planner.results.compare import kpi_table

    st = RunStore(store)

    def action() -> None:
        r = st.get(run_id)
        if as_json:
            typer.echo(json.dumps(asdict(r), indent=2, default=str))
            return
        if scenario_yaml:
            typer.echo(r.scenario_yaml if r.scenario_yaml is not None else json.dumps(r.scenario_json, indent=2))
            return
        s = r.summary
        gap = s.get("mip_gap")
        lines = [
            f"run {r.id}: {r.command} at {r.created_at} (UTC)",
            f"scenario: {r.scenario}" + (f" ({r.scenario_path})" if r.scenario_path else ""),
            f"status: {r.status}"
            + (f", gap {gap:.2e}" if isinstance(gap, int | float) else "")
            + (f", method {s['method']}" if s.get("method") else ""),
        ]
        if s.get("message"):
            lines.append(f"message: {s['message']}")
        if r.out_dir:
            lines.append(f"outputs written to: {r.out_dir}")
        lines.append("stored files: " + (", ".join(f"{n} ({size:,} bytes)" for n, size in r.files.items()) or "none"))
        lines.append("data fingerprints (SHA-256; and whether the file is the same today):")
        lines += [f"  {k}: {v} ({state})" for k, (v, state) in data_drift(r).items()]
        lines.append("solver: " + ", ".join(f"{k} {v}" for k, v in r.solver.items()))
        lines.append("timings (s): " + ", ".join(f"{k} {v:.3g}" for k, v in r.timings.items() if v is not None))
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in r.versions.items()))
        typer.echo("\n".join(lines))
        if "total_cost_usd" in s:
            table = kpi_table([{**s, "scenario": f"#{r.id} {r.scenario}"}])
            typer.echo(table.to_string())
        else:  # a sweep, a Monte Carlo run or a run without a plan: its summary as recorded
            typer.echo("summary: " + json.dumps(s, indent=2, default=str))

    _guard(action, st)


@runs_app.command("export")
def runs_export(
    run_id: Annotated[int, typer.Argument(help="Run id.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the run's output files to.")],
    store: StoreOption = None,
) -> None:
    """Reopen a run: write its output files (plan.csv, summary.json, ...) to OUT exactly as `solve` wrote them."""
    st = RunStore(store)

    def action() -> None:
        files = st.export(run_id, out)
        if not files:
            raise StoreError(f"run {run_id} has no output files (status {st.get(run_id).status}); nothing to export")
        typer.echo(f"wrote {', '.join(f.name for f in files)} to {out}")

    _guard(action, st)


@runs_app.command("compare")
def runs_compare(run_ids: RunIds, store: StoreOption = None) -> None:
    """KPIs of two or more recorded runs side by side, with differences to the first."""
    from planner.store import compare_summaries

    st = RunStore(store)
    if len(run_ids) < 2:
        _fail(StoreError(f"compare needs two or more run ids; got {len(run_ids)}"))
    _guard(lambda: typer.echo(compare_summaries(st, run_ids).to_string()), st)


@runs_app.command("delete")
def runs_delete(run_ids: RunIds, store: StoreOption = None) -> None:
    """Delete recorded runs and their stored files."""
    st = RunStore(store)

    def action() -> None:
        for run_id in run_ids:
            st.get(run_id)  # every id must exist before any is deleted
        for run_id in run_ids:
            st.delete(run_id)
        typer.echo(f"deleted run(s) {', '.join(map(str, run_ids))} from {st.path}")

    _guard(action, st)


@app.command()
def survey(
    register: Annotated[Path, typer.Argument(help="Office register: an offices file (CSV, GeoJSON or GeoPackage).")],
    survey_file: Annotated[
        Path, typer.Argument(metavar="SURVEY", help="Connectivity survey: CSV or Excel .xlsx, one row per office.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the merged offices and the reports.")],
) -> None:
    """Merge a connectivity survey into the office register; report matches, data quality and status by region."""
    from planner.survey import ingest_survey, write_survey

    _check_out(out)
    try:
        result = ingest_survey(register, survey_file)
    except PlannerError as exc:
        _fail(exc)
    written = write_survey(result, out)
    total = result.status.iloc[-1]
    matched = int((result.matches["office_id"] != "").sum())
    typer.echo(
        f"survey: {matched} of {len(result.matches)} rows matched to {len(result.offices)} offices "
        f"({int((result.matches['rule'] == 'postcode+name').sum())} by postcode + name); "
        f"{int(total['connected'])} connected, {int(total['underserved'])} underserved, "
        f"{int(total['unconnected'])} unconnected, {int(total['unknown'])} unknown; "
        f"{len(result.quality)} data-quality findings"
    )
    for kind, n in result.quality["kind"].value_counts().sort_index().items():
        typer.echo(f"  {kind}: {n}")
    typer.echo("wrote " + ", ".join(str(p) for p in written))


@app.command()
def progress(
    run_id: Annotated[int, typer.Argument(help="The stored run of the plan (planner runs list).")],
    actual: Annotated[Path, typer.Option("--actual", help="What was connected: office_id[,technology,date,cost_usd].")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the progress tables and the re-plan.")],
    replan: Annotated[bool, typer.Option("--replan/--no-replan", help="Re-plan what is left.")] = True,
    store: StoreOption = None,
) -> None:
    """Compare a stored plan with what was actually connected, and re-plan the rest as a new linked run."""
    from planner.analysis.progress import compare_progress, replan_scenario
    from planner.pipeline import run
    from planner.results import write_outputs
    from planner.survey import read_actual

    _check_out(out)
    st = RunStore(store)
    try:
        plan = st.load_plan(run_id, options=False)
        prog = compare_progress(plan, read_actual(actual), str(actual))
    except PlannerError as exc:
        _fail(exc)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"progress_offices.csv": prog.offices, "progress_by_year.csv": prog.by_year,
              "progress_by_region.csv": prog.by_region, "progress_by_technology.csv": prog.by_technology}  # fmt: skip
    for name, table in tables.items():
        table.to_csv(out / name, index=False, lineterminator="\n")
    (out / "progress.json").write_text(json.dumps(prog.summary, indent=2) + "\n", encoding="utf-8")
    s = prog.summary
    typer.echo(
        f"run {run_id}: {s['offices_connected']:,} of {s['offices_planned']:,} planned offices connected "
        f"({s['offices_connected_as_planned']:,} as planned, {s['offices_connected_with_another_technology']:,} "
        f"with another technology, {s['offices_connected_outside_the_plan']:,} outside the plan); "
        f"{s['people_connected']:,.0f} of {s['people_planned']:,.0f} people; spent {s['spend_usd']:,.0f} USD"
        + (f" of {s['budget_usd']:,.0f}" if s["budget_usd"] is not None else "")
    )
    if not replan:
        return
    try:
        scenario, changes = replan_scenario(plan.scenario, prog, out / "replan")
        new = run(scenario)
    except PlannerError as exc:
        _fail(exc)
    files = write_outputs(new, out / "replan")
    n = new.summary
    typer.echo(
        f"re-plan of the rest ({', '.join(f'{k} {v:,.6g}' for k, v in changes.items())}): {n['status']}, "
        f"{n['offices_connected']:,} more offices, {n['population_covered']:,.0f} more people, "
        f"cost {n['total_cost_usd']:,.0f} USD; written to {out / 'replan'}"
    )
    extra = {"replan_of": run_id, "actual_file": str(actual), "changes": changes}
    _record(st, lambda rs: rs.record_plan(new, command="progress", files=files, out_dir=out / "replan", extra=extra))


@app.command()
def report(
    run_id: Annotated[int, typer.Argument(help="A recorded run (see `planner runs list`).", show_default=False)],
    out: Annotated[
        Path, typer.Option("--out", help="The file to write: .html (self-contained page) or .pdf (A4, via WeasyPrint).")
    ] = Path("report.html"),
    store: StoreOption = None,
) -> None:
    """Write the plan report of a recorded run: one self-contained HTML page (printable), or the same as a PDF."""
    from planner.results.report import office_coordinates
    from planner.ui.report_html import report_html, report_pdf

    st = RunStore(store)

    def action() -> None:
        plan = st.load_plan(run_id, options=False)
        try:
            coords = office_coordinates(plan)
        except (PlannerError, OSError) as exc:  # the offices file moved or changed: a report without a map
            typer.echo(f"warning: no map, the offices file cannot be read: {exc}", err=True)
            coords = None
        if out.suffix.lower() not in (".html", ".htm", ".pdf"):
            raise InputError(Issue(str(out), None, None, "expected a .html or .pdf file name for --out"))
        page = report_html(plan, coords)
        try:
            if out.suffix.lower() == ".pdf":
                out.write_bytes(report_pdf(page))
            else:
                out.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise InputError(Issue(str(out), None, None, f"cannot be written: {exc.strerror or exc}")) from None
        typer.echo(f"wrote {out} (run {run_id}: {plan.summary['scenario']})")

    _guard(action, st)


def main() -> None:
    """Entry point that never lets an input error escape as a traceback.

    On the way out, whatever the exit code, every object left is frozen (``gc.freeze``): the interpreter's final
    collections then skip pandas' and pyarrow's modules and the run's tables instead of walking them, which took
    0.15-0.2 s of every run's exit (as long as the solve stage at 100,000 offices). Frozen objects are still freed
    by reference counting, and the exit handlers (temporary folders, the local Dask cluster, logging) still run;
    only cyclic garbage is left to the operating system, and every output file is closed before this point.
    """
    try:
        app()
    except PlannerError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    finally:
        gc.freeze()
