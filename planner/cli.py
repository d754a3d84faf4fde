"""The ``planner`` command (typer): solve, validate, compare, schema.

Exit codes (DESIGN §6): 0 a plan was found; 2 bad input (the message names file, row and column); 3
infeasible (the message names the constraint and a relaxation). No input error ever shows a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from planner.errors import InfeasibleError, PlannerError
from planner.scenario import load_scenario, write_json_schema

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
    kind = "infeasible scenario" if isinstance(exc, InfeasibleError) else "bad input"
    typer.echo(f"error: {kind}:\n{exc}", err=True)
    raise typer.Exit(exc.exit_code)


@app.command()
def solve(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Solve a scenario and write plan.csv, summary.json and the breakdowns to OUT."""
    from planner.pipeline import run
    from planner.results import write_outputs

    clock = _Clock(quiet)
    try:
        plan = run(scenario, progress=clock)
    except PlannerError as exc:
        _fail(exc)
    files = write_outputs(plan, out)
    clock(f"wrote {', '.join(f.name for f in files)} to {out}")
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
    from planner.data import summarise_inputs
    from planner.pipeline import prepare

    try:
        sc = load_scenario(scenario)
        prepared = prepare(sc)
    except PlannerError as exc:
        _fail(exc)
    facts = summarise_inputs(prepared.inputs)
    opts = prepared.options
    facts["eligible_options"] = int(opts["eligible"].sum())
    facts["eligible_by_technology"] = {
        k: int(v) for k, v in opts[opts["eligible"]]["technology"].value_counts().items()
    }
    facts["offices_without_eligible_option"] = int(
        len(prepared.inputs.planned) - opts[opts["eligible"]]["office_id"].nunique()
    )
    typer.echo(f"scenario '{sc.name}' is valid ({sc.objective}, metric {sc.coverage_metric})")
    typer.echo(json.dumps(facts, indent=2))


@app.command()
def compare(
    scenarios: Annotated[list[Path], typer.Argument(help="Two or more scenario YAML files.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Solve several scenarios and print their KPIs side by side."""
    from planner.compare import kpi_table
    from planner.pipeline import run

    clock = _Clock(quiet)
    plans = []
    try:
        for path in scenarios:
            plans.append(run(path, progress=clock))
    except PlannerError as exc:
        _fail(exc)
    table = kpi_table([p.summary for p in plans])
    typer.echo(table.to_string())


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
) -> None:
    """List every cost figure of the technology catalogue with its range and public source."""
    import pandas as pd

    from planner.scenario import catalogue_for, catalogue_table, load_catalogue

    try:
        cat = catalogue_for(load_scenario(scenario)) if scenario else load_catalogue()
    except PlannerError as exc:
        _fail(exc)
    table = pd.DataFrame(catalogue_table(cat))
    if not markdown:
        typer.echo(table.to_string(index=False))
        return
    typer.echo("| " + " | ".join(table.columns) + " |")
    typer.echo("|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        typer.echo("| " + " | ".join(f"{v:,.6g}" if isinstance(v, float) else str(v) for v in row) + " |")


def main() -> None:  # pragma: no cover - console entry
    """Entry point that never lets an input error escape as a traceback."""
    try:
        app()
    except PlannerError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
