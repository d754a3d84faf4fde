"""The Progress page: a stored plan beside what was actually connected, and the rest re-planned.

The same job as ``planner progress`` (planner.analysis.progress): pick a run of the run store, upload what was
connected (an implementation log or a later survey), see planned vs actual by year, region and technology, and
re-plan what is left as a new run recorded with a link to the first.
"""

from __future__ import annotations

import sqlite3

import pandas as pd
import plotly.express as px
import streamlit as st

from planner.analysis.progress import Progress, compare_progress, replan_scenario
from planner.errors import PlannerError
from planner.pipeline import run
from planner.results import write_outputs
from planner.store import RunStore
from planner.survey import read_actual
from planner.ui.format import money
from planner.ui.safe import md, plot_frame
from planner.ui.state import save_upload, upload_folder, upload_limit_mb
from planner.ui.widgets import PLOT_CONFIG, show_issues, show_table


def planned_vs_actual(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """Long table for a grouped bar chart: ``key``, ``what`` (planned / connected), ``offices``."""
    long = table.melt(id_vars=[key], value_vars=["offices_planned", "offices_connected"], var_name="what",
                      value_name="offices")  # fmt: skip
    long["what"] = long["what"].map({"offices_planned": "planned", "offices_connected": "connected"})
    long[key] = long[key].astype(str)
    return long


def _chart(table: pd.DataFrame, key: str, title: str, chart_key: str) -> None:
    if table.empty:
        return
    fig = px.bar(plot_frame(planned_vs_actual(table, key), [key]), x=key, y="offices", color="what", barmode="group",
                 title=title)  # fmt: skip
    st.plotly_chart(fig, config=PLOT_CONFIG, key=chart_key, width="stretch")


def page_progress() -> None:
    """Progress against a stored plan."""
    st.header("Progress against a plan")
    st.caption(
        "Pick a recorded run and upload what was actually connected (CSV or Excel: office_id, and optionally "
        "technology, date, cost_usd, connected). Offices must be offices of the plan."
    )
    store = RunStore()
    try:
        runs = store.list_runs()
    except (PlannerError, sqlite3.Error) as exc:
        st.error(f"Cannot read the run store: {md(exc)}")
        return
    runs = runs[runs["status"].isin(["optimal", "time_limit"])] if "status" in runs else runs
    if runs.empty:
        st.info("No recorded plan yet: run `planner solve SCENARIO`, or record a plan on the Runs page.")
        return
    labels = {int(r["id"]): f"run {int(r['id'])}: {r['scenario']} ({r['created_at'][:10]})" for _, r in runs.iterrows()}
    run_id = st.selectbox("Run", list(labels), format_func=lambda i: md(labels[i]), key="prog_run")
    upload = st.file_uploader("What was connected", type=["csv", "xlsx"], key="prog_actual")
    if upload is None:
        return
    if upload.size > upload_limit_mb() * 2**20:
        st.error(md(f"{upload.name} is over the upload limit of {upload_limit_mb():,.0f} MB"))
        return
    path = save_upload("actual", upload)
    try:
        plan = store.load_plan(run_id, options=False)
        prog: Progress = compare_progress(plan, read_actual(path), upload.name)
    except PlannerError as exc:
        issues = getattr(exc, "issues", None)
        if issues:
            show_issues([type(i)(upload.name if i.file == str(path) else i.file, i.row, i.column, i.message)
                         for i in issues], "The file cannot be compared with the plan")  # fmt: skip
        else:
            st.error(md(exc))
        return
    s = prog.summary
    c = st.columns(4)
    c[0].metric("Offices connected", f"{s['offices_connected']:,} of {s['offices_planned']:,}")
    c[1].metric("As planned", f"{s['offices_connected_as_planned']:,}")
    c[2].metric("People connected", f"{s['people_connected']:,.0f}")
    c[3].metric("Spent", money(s["spend_usd"]))
    if s["budget_usd"] is not None:
        st.caption(md(f"Budget {money(s['budget_usd'])}, left {money(s['budget_left_usd'])}; "
                      f"{s['spend_estimated_offices']:,} offices without a recorded cost count at their planned "
                      "capex."))  # fmt: skip
    _chart(prog.by_year, "year", "Offices planned and connected by year", "prog_year")
    _chart(prog.by_technology, "technology", "By technology", "prog_tech")
    st.subheader("By region")
    show_table(prog.by_region, "prog_region")
    st.subheader("By office")
    show_table(prog.offices, "prog_offices")
    if st.button("Re-plan the rest", key="prog_replan"):
        folder = upload_folder() / f"replan-{run_id}"
        try:
            scenario, changes = replan_scenario(plan.scenario, prog, folder)
            new = run(scenario)
        except PlannerError as exc:
            st.error(md(exc))
            return
        files = write_outputs(new, folder / "out")
        extra = {"replan_of": run_id, "actual_file": upload.name, "changes": changes}
        new_id = store.record_plan(new, command="progress", files=files, extra=extra)
        n = new.summary
        st.success(md(f"Re-plan recorded as run {new_id}: {n['status']}, {n['offices_connected']:,} more offices, "
                      f"{n['population_covered']:,.0f} more people, cost {money(n['total_cost_usd'])}."))  # fmt: skip
