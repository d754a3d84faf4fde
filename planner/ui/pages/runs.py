"""The Runs page: the run store's recorded runs, to show, reopen and compare, and recording a session plan."""

from __future__ import annotations

import copy
import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pandas as pd
import streamlit as st

from planner.data import fingerprint, read_offices
from planner.errors import PlannerError
from planner.results import report
from planner.store import RunStore, data_drift
from planner.ui.format import gap_words, kpi_display, money
from planner.ui.safe import md
from planner.ui.state import scenario_yaml
from planner.ui.widgets import kpi_cards, show_table, tech_bar


def _run_label(row: Any) -> str:
    cost = "" if pd.isna(row.total_cost_usd) else f", {money(row.total_cost_usd)}"
    return f"#{row.id} {row.scenario} — {row.status}{cost}, {str(row.created_at)[:16].replace('T', ' ')} UTC"


def _stored_coords(record: Any) -> pd.DataFrame:
    """Office coordinates of a stored run, from its offices file if that file is unchanged since the run."""
    empty = pd.DataFrame(
        {"office_id": pd.Series(dtype=str), "lat": pd.Series(dtype=float), "lon": pd.Series(dtype=float)}
    )
    path = record.scenario_json.get("data", {}).get("offices")
    try:
        if not path or fingerprint(Path(path)) != record.fingerprints.get("offices"):
            return empty
        offices = read_offices(Path(path))
    except (OSError, PlannerError):
        return empty
    return offices[["office_id", "lat", "lon"]].assign(office_id=lambda t: t["office_id"].astype(str))


def reopen_run(run_id: int) -> None:
    """Load a stored run into the session, so the Results, Compare, Donor view and Export pages show it."""
    ss = st.session_state
    store = RunStore()
    try:
        record = store.get(run_id)
        plan = store.load_plan(run_id)
    except PlannerError as exc:
        ss["runs_error"] = str(exc)
        return
    name = f"run {run_id}: {record.scenario}"
    times = {"total_s": float(record.timings.get("total_s") or 0.0), "costing_cached": False}
    ss.setdefault("runs", {})[name] = {
        "plan": plan,
        "coords": _stored_coords(record),
        "raw": copy.deepcopy(record.scenario_json),
        "times": times,
        "stored_id": run_id,
    }
    ss["current"] = name


def _record_session_plan(name: str) -> None:
    """Record a plan of this session in the run store (outputs written as ``planner solve`` writes them)."""
    from planner.results import write_outputs

    entry = st.session_state["runs"][name]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = write_outputs(entry["plan"], Path(tmp))
            run_id = RunStore().record_plan(
                entry["plan"],
                command="app",
                files=files,
                scenario_yaml=scenario_yaml(entry["raw"]),
                timings={"total_s": float(entry["times"].get("total_s") or 0.0)},
            )
    except (PlannerError, OSError, sqlite3.Error) as exc:
        st.session_state["runs_error"] = f"The plan was not recorded: {exc}"
        return
    entry["stored_id"] = run_id
    st.session_state["runs_recorded"] = f"Recorded '{name}' as run {run_id}."


def page_runs() -> None:
    """The Runs page: the recorded runs of the run store, and recording the session's plans in it."""
    st.header("Recorded runs")
    ss = st.session_state
    store = RunStore()
    st.caption(
        f"Run store {md(store.path)} (the `PLANNER_STORE` environment variable chooses another). Every "
        "`planner solve` is recorded here with its scenario, data fingerprints, catalogue, versions and outputs; "
        "`planner runs list | show | export | compare | delete` reads the same store."
    )
    for key, show in (("runs_error", st.error), ("runs_recorded", st.success)):
        if key in ss:
            show(md(ss.pop(key)))
    try:
        table = store.list_runs()
    except (PlannerError, sqlite3.Error) as exc:
        st.error(f"Cannot read the run store: {md(exc)}")
        return
    if table.empty:
        st.info(
            "No runs recorded yet: `planner solve SCENARIO` records its run, or record a plan of this session below."
        )
    else:
        shown = table.assign(
            created_at=table["created_at"].str.slice(0, 19).str.replace("T", " "),
            mip_gap=[gap_words({"status": st_, "mip_gap": g}) for st_, g in zip(table["status"], table["mip_gap"],
                                                                               strict=True)],
        ).rename(columns={"created_at": "time_(UTC)", "coverage_share": "population_coverage_share",
                          "mip_gap": "solver_proof"})  # fmt: skip
        show_table(shown, key="runs_table")
        labels = {int(r.id): _run_label(r) for r in cast(Iterator[Any], table.itertuples(index=False))}
        label_of = cast(Callable[[Any], str], labels.get)  # every option has its label
        run_id = st.selectbox("Run", list(labels), format_func=label_of, key="runs_pick")
        try:
            record = store.get(run_id)
        except PlannerError as exc:  # deleted by another process since the list was read
            st.error(md(exc))
            return
        st.markdown(
            f"**{md(record.scenario)}** — {md(record.command)} at {md(record.created_at)} UTC, status "
            f"**{md(record.status)}**, package {md(record.package_version)}"
            + (f"; scenario file {md(record.scenario_path)}" if record.scenario_path else "")
        )
        if "plan.csv" in record.files:
            plan = store.load_plan(run_id, options=False)
            kpi_cards(plan)
            st.button(
                "Open this run in Results, Compare, Donor view and Export",
                key="runs_open",
                on_click=reopen_run,
                args=(run_id,),
            )
            show_table(plan.plan, key="runs_plan")
        elif record.summary.get("message"):
            st.warning(md(record.summary["message"]))
        else:
            st.info(f"A {md(record.command)} run has no per-office plan; its summary and files are below.")
            st.json(record.summary, expanded=False)
            st.caption("Files: " + ", ".join(f"{md(n)} ({size:,} bytes)" for n, size in record.files.items()))
        with st.expander("Scenario, data fingerprints and versions of this run"):
            st.code(record.scenario_yaml or json.dumps(record.scenario_json, indent=2), language="yaml")
            drift = data_drift(record)
            st.dataframe(
                pd.DataFrame(
                    [{"file": k, "sha256": v, "today": state} for k, (v, state) in drift.items()],
                    columns=["file", "sha256", "today"],
                ),
                hide_index=True,
                key="runs_data",
            )
            st.json({"versions": record.versions, "timings_s": record.timings}, expanded=False)
        st.subheader("Compare recorded runs")
        pick = st.multiselect(
            "Runs to compare (2 to 6)",
            list(labels),
            default=list(labels)[:2] if len(labels) >= 2 else [],
            format_func=label_of,
            max_selections=6,
            key="runs_cmp",
        )
        if len(pick) >= 2:
            records = [store.get(i) for i in pick]
            names = [f"#{r.id} {r.scenario}" for r in records]
            st.dataframe(kpi_display([r.summary for r in records], names=names), key="runs_kpis")
            mix = {
                f"#{i} {store.get(i).scenario}": store.read_table(i, "by_technology.csv")
                for i in pick
                if "by_technology.csv" in store.get(i).files
            }
            rows = report.technology_mix_of(mix).rename(columns={"scenario": "run"})
            if len(rows):
                tech_bar(rows, "run", "offices", "Technology mix (offices connected)", "runs_mix")
        else:
            st.info("Choose at least two runs.")
    fresh = [n for n, e in ss.get("runs", {}).items() if "stored_id" not in e]
    if fresh:
        st.subheader("Record a plan of this session")
        name = st.selectbox("Plan", fresh, key="runs_save_pick")
        st.button("Record in the run store", key="runs_save", on_click=_record_session_plan, args=(name,))
