"""The Runs page: the run store's recorded runs, to show, reopen and compare, and recording a session plan."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, cast

import pandas as pd
import streamlit as st

from planner.errors import PlannerError
from planner.results import report
from planner.store import RunStore, data_drift
from planner.ui.format import gap_words, kpi_display, money
from planner.ui.safe import md
from planner.ui.state import MAX_LABEL_CHARS, open_stored_run, record_plan, rename_run, store_path, stored_id
from planner.ui.widgets import kpi_cards, show_table, tech_bar


def _run_label(row: Any, label: str | None = None) -> str:
    cost = "" if pd.isna(row.total_cost_usd) else f", {money(row.total_cost_usd)}"
    name = f"{label} ({row.scenario})" if label and label != row.scenario else row.scenario
    return f"#{row.id} {name} — {row.status}{cost}, {str(row.created_at)[:16].replace('T', ' ')} UTC"


def reopen_run(run_id: int) -> None:
    """Load a stored run into the session, so the Results, Compare, Donor view and Export pages show it."""
    try:
        open_stored_run(run_id)
    except PlannerError as exc:
        st.session_state["runs_error"] = str(exc)


def _record_session_plan(name: str) -> None:
    """Record a plan of this session in the run store now (outputs as ``planner solve`` writes them)."""
    ss = st.session_state
    entry = ss["runs"][name]
    try:
        run_id = record_plan(entry["plan"], entry["raw"], name, entry["times"], store_path())
    except (PlannerError, OSError, sqlite3.Error) as exc:
        ss["runs_error"] = f"The plan was not recorded: {exc}"
        return
    entry.pop("record_error", None)
    entry["stored_id"] = run_id
    ss["runs_recorded"] = f"Recorded '{name}' as run {run_id}."


def _rename() -> None:
    """Callback of 'Rename': the chosen plan gets the typed name (in the session and the run store)."""
    ss = st.session_state
    old, new = ss.get("runs_rename_pick"), ss.get("runs_new_label", "")
    problem = rename_run(str(old), str(new))
    if problem:
        ss["runs_error"] = problem
    else:
        ss["runs_new_label"] = ss.get("runs_rename_pick", "")
        ss["runs_recorded"] = f"Renamed '{old}' to '{ss['runs_rename_pick']}'."


def _picked_for_rename() -> None:
    st.session_state["runs_new_label"] = st.session_state.get("runs_rename_pick", "")


def _record_state(entry: dict[str, Any]) -> str:
    run_id = stored_id(entry)
    if run_id is not None:
        return f"run {run_id}"
    if entry.get("recording") is not None:
        return "recording…"
    return "not recorded" + (f": {entry['record_error']}" if entry.get("record_error") else "")


def session_plans() -> None:
    """The session's plans: their labels, where the run store has them, and renaming one."""
    ss = st.session_state
    runs = ss.get("runs", {})
    if not runs:
        return
    st.subheader("Plans of this session")
    rows = []
    for label, entry in runs.items():
        s = entry["plan"].summary
        rows.append({"plan": label, "scenario": s.get("scenario"), "run_store": _record_state(entry),
                     "offices_connected": s.get("offices_connected"), "population_covered": s.get("population_covered"),
                     "total_cost_usd": s.get("total_cost_usd")})  # fmt: skip
    show_table(pd.DataFrame(rows), key="runs_session")
    if ss.get("runs_rename_pick") not in runs:
        ss["runs_rename_pick"] = ss.get("current") if ss.get("current") in runs else list(runs)[-1]
        ss["runs_new_label"] = ss["runs_rename_pick"]
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    c1.selectbox("Plan", list(runs), key="runs_rename_pick", on_change=_picked_for_rename, format_func=md)
    c2.text_input("New name", key="runs_new_label", max_chars=MAX_LABEL_CHARS)
    c3.button("Rename", key="runs_rename", on_click=_rename)
    st.caption(
        "Every plan is recorded in the run store as it is made (the files `planner solve` writes) under its name; a "
        "new name is kept there too. Plans are never overwritten: the same scenario with other settings is kept "
        "beside the first."
    )
    fresh = [n for n, e in runs.items() if stored_id(e) is None and e.get("recording") is None]
    if fresh:
        name = st.selectbox("Plan not recorded", fresh, key="runs_save_pick", format_func=md)
        st.button("Record in the run store", key="runs_save", on_click=_record_session_plan, args=(name,))


def page_runs() -> None:
    """The Runs page: the session's plans (names, renaming), the run store's recorded runs to show and reopen."""
    st.header("Runs")
    ss = st.session_state
    store = RunStore()
    for key, show in (("runs_error", st.error), ("runs_recorded", st.success)):
        if key in ss:
            show(md(ss.pop(key)))
    session_plans()
    st.subheader("Recorded runs")
    st.caption(
        f"Run store {md(store.path)} (the `PLANNER_STORE` environment variable chooses another). Every "
        "`planner solve` is recorded here with its scenario, data fingerprints, catalogue, versions and outputs; "
        "`planner runs list | show | export | compare | delete` reads the same store."
    )
    try:
        table = store.list_runs()
        named = store.labels()
    except (PlannerError, sqlite3.Error) as exc:
        st.error(f"Cannot read the run store: {md(exc)}")
        return
    if table.empty:
        st.info("No runs recorded yet: every plan the app makes and every `planner solve SCENARIO` is recorded here.")
    else:
        shown = table.assign(
            label=[named.get(int(i), "") for i in table["id"]],
            created_at=table["created_at"].str.slice(0, 19).str.replace("T", " "),
            mip_gap=[gap_words({"status": st_, "mip_gap": g}) for st_, g in zip(table["status"], table["mip_gap"],
                                                                               strict=True)],
        ).rename(columns={"created_at": "time_(UTC)", "coverage_share": "population_coverage_share",
                          "mip_gap": "solver_proof"})  # fmt: skip
        cols = list(shown.columns)
        cols.insert(cols.index("scenario") + 1, cols.pop(cols.index("label")))
        show_table(shown[cols], key="runs_table")
        labels = {
            int(r.id): _run_label(r, named.get(int(r.id))) for r in cast(Iterator[Any], table.itertuples(index=False))
        }
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
            names = [f"#{r.id} {named.get(r.id) or r.scenario}" for r in records]
            st.dataframe(kpi_display([r.summary for r in records], names=names), key="runs_kpis")
            mix = {
                name: store.read_table(r.id, "by_technology.csv")
                for name, r in zip(names, records, strict=True)
                if "by_technology.csv" in r.files
            }
            rows = report.technology_mix_of(mix).rename(columns={"scenario": "run"})
            if len(rows):
                tech_bar(rows, "run", "offices", "Technology mix (offices connected)", "runs_mix")
        else:
            st.info("Choose at least two runs.")
