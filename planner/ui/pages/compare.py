"""The Compare page: 2 to 4 plans side by side (the latest, or those pinned) by KPI, region, technology and office.

Plans come from the session: run on the Scenario page, solved here from the bundled scenarios, or reopened from
the run store (the app's runs and the CLI's). The difference tables are :mod:`planner.results.compare`'s.
"""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from planner.errors import PlannerError
from planner.results import report
from planner.results.compare import CHANGES, breakdown_differences, change_counts, office_changes
from planner.store import RunStore
from planner.ui.format import count, kpi_display, money, people, points, share, tech_label
from planner.ui.safe import md
from planner.ui.state import bundled, open_stored_run, run_and_store, stored_id
from planner.ui.widgets import office_map, show_last_error, show_table, tech_bar

MAX_PLANS = 4
#: The colour of each kind of change on the map of changed offices.
CHANGE_COLOURS = {
    "connected": "#2ca02c",
    "dropped": "#d62728",
    "other technology": "#ff7f0e",
    "other year": "#1f77b4",
    "only in A": "#7f7f7f",
    "only in B": "#bcbd22",
}
#: The figures of the breakdowns: (column, words, formatter of a value); differences of shares in points.
FIGURES: dict[str, tuple[str, Callable[..., str]]] = {
    "offices": ("offices connected", count),
    "population": ("population covered", people),
    "cost_usd": ("cost (budget basis)", money),
    "coverage_share_population": ("population covered (share)", share),
}
STORED_OFFERED = 20  # recorded runs offered to add


def _solve_bundled(names: list[str]) -> None:
    for n in names:
        raw = copy.deepcopy(bundled()[n])
        run_and_store(raw)
        show_last_error()


def _open_stored() -> None:
    """Callback of 'Open for comparison': reopen the chosen recorded runs into the session."""
    ss = st.session_state
    for run_id in ss.get("cmp_stored", []):
        try:
            open_stored_run(int(run_id))
        except PlannerError as exc:
            ss["cmp_error"] = str(exc)
    ss["cmp_stored"] = []


def _pin() -> None:
    """Callback of the plans box: the user's choice is pinned (kept when more are run); none follows the latest."""
    st.session_state["cmp_pinned"] = list(st.session_state.get("cmp_names", []))


def _unpin() -> None:
    st.session_state["cmp_pinned"] = []


def _add_plans() -> None:
    """Solve bundled scenarios, or reopen recorded runs, to compare."""
    ss = st.session_state
    with st.expander("Add plans: solve bundled scenarios, or open recorded runs", expanded=len(ss.get("runs", {})) < 2):
        pick = st.multiselect("Bundled scenarios", list(bundled()), key="cmp_bundled")
        if st.button("Solve these", key="cmp_solve", disabled=not pick):
            _solve_bundled(pick)
        try:
            table = RunStore().list_runs(limit=STORED_OFFERED)
            named = RunStore().labels()
        except (PlannerError, sqlite3.Error) as exc:
            st.caption(f"The run store cannot be read: {md(exc)}")
            return
        here = {stored_id(e) for e in ss.get("runs", {}).values()}
        offered = {
            int(i): f"#{i} {named.get(int(i)) or s} ({c}, {str(t)[:16].replace('T', ' ')} UTC)"
            for i, s, c, t in zip(table["id"], table["scenario"], table["command"], table["created_at"], strict=True)
            if int(i) not in here and c in ("solve", "app", "compare")
        }
        if offered:
            label_of = offered.__getitem__
            st.multiselect("Recorded runs (the latest; the app's and `planner solve`'s)", list(offered),
                           format_func=label_of, key="cmp_stored")  # fmt: skip
            st.button("Open for comparison", key="cmp_open", on_click=_open_stored)
    if "cmp_error" in ss:
        st.error(md(ss.pop("cmp_error")))


def _formatted(table: pd.DataFrame, plans: int, fmt: Callable[..., str], key_words: str) -> pd.DataFrame:
    """A :func:`breakdown_differences` table of ``plans`` plans as text.

    Values by ``fmt``, differences signed (differences of shares in percentage points).
    """
    out = pd.DataFrame(index=table.index)
    for i, col in enumerate(table.columns):
        if i < plans:
            out[col] = [fmt(v) for v in table[col]]
        elif fmt is share:
            out[col] = [points(v) for v in table[col]]
        else:
            out[col] = [fmt(v, signed=True) for v in table[col]]
    index = [tech_label(k) for k in table.index] if table.index.name == "technology" else list(table.index)
    out.insert(0, key_words, index)
    return out.reset_index(drop=True)


def _breakdown(plans: dict[str, Any], attr: str, key: str, words: str, figures: list[str]) -> None:
    """One breakdown (by region or technology) of the plans side by side, one figure at a time."""
    figure = st.radio(
        f"Figure by {words.lower()}",
        figures,
        format_func=lambda f: FIGURES[f][0],
        horizontal=True,
        key=f"cmp_{key}_figure",
    )
    tables = {n: getattr(p, attr) for n, p in plans.items()}
    table = breakdown_differences(tables, key, figure)
    st.dataframe(_formatted(table, len(tables), FIGURES[figure][1], words), hide_index=True, key=f"cmp_{key}")


def _offices(plans: dict[str, Any], runs: dict[str, Any], names: list[str]) -> None:
    """Which offices differ between two of the plans, counted by kind of change, listed and mapped."""
    st.subheader("Offices that differ")
    c1, c2 = st.columns(2)
    a = c1.selectbox("Plan A", names, index=0, key="cmp_a", format_func=md)
    b = c2.selectbox("Plan B", names, index=len(names) - 1, key="cmp_b", format_func=md)
    if a == b:
        st.info("Choose two different plans.")
        return
    diff = office_changes(plans[a].plan, plans[b].plan)
    st.caption(f"{len(diff):,} offices differ between A = {md(a)} and B = {md(b)}")
    counts = change_counts(diff).rename(columns={"change": "kind"})
    shown = pd.DataFrame({
        "Kind of change": counts["kind"] + " (" + counts["meaning"] + ")",
        "Offices": [count(v) for v in counts["offices"]],
        "Their population": [people(v) for v in counts["population"]],
        "Cost B − A": [money(v, signed=True) for v in counts["cost_change_usd"]],
    })  # fmt: skip
    st.dataframe(shown, hide_index=True, key="cmp_counts")
    if not len(diff):
        return
    sides = ("technology", "year", "cost_usd")
    table = diff.rename(columns={f"{c}_{x}": f"{c}_{x.upper()}" for c in sides for x in ("a", "b")})
    for col in ("year_A", "year_B"):  # a year, not an amount: no thousands separator
        table[col] = pd.to_numeric(table[col], errors="coerce").round().astype("Int64").astype("string").fillna("")
    show_table(table, key="cmp_diff")
    coords = pd.concat([runs[a]["coords"], runs[b]["coords"]]).drop_duplicates("office_id")
    present = [c for c in CHANGES if c in set(diff["change"])]
    st.caption("Map of the offices that differ, by kind of change: " + ", ".join(present) + ".")
    office_map(diff.merge(coords, on="office_id", how="left"), "change", CHANGE_COLOURS, key="cmp_map")


def page_compare() -> None:
    """The Compare page."""
    ss = st.session_state
    st.header("Compare plans")
    _add_plans()
    runs = ss.get("runs", {})
    if len(runs) < 2:
        st.info("Run at least two scenarios (Scenario page, or above) to compare them.")
        return
    pinned = [n for n in ss.get("cmp_pinned", []) if n in runs][:MAX_PLANS]
    ss["cmp_names"] = pinned or list(runs)[-MAX_PLANS:]
    st.multiselect(
        f"Plans to compare (2 to {MAX_PLANS})",
        list(runs),
        max_selections=MAX_PLANS,
        key="cmp_names",
        on_change=_pin,
        format_func=md,
        help="The latest plans of the session until you choose: your choice is pinned and stays when you run more.",
    )
    if pinned:
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.caption(f"Pinned: {len(pinned)} plan(s); new runs do not change this comparison.")
        c2.button("Follow the latest plans", key="cmp_unpin", on_click=_unpin)
    else:
        st.caption("The latest plans of the session; choose 2 to 4 above to pin them.")
    names = list(ss["cmp_names"])
    if len(names) < 2:
        st.info("Choose at least two plans.")
        return
    plans = {n: runs[n]["plan"] for n in names}
    st.subheader("KPIs (differences to the first)")
    st.dataframe(kpi_display([p.summary for p in plans.values()], names=names), key="cmp_kpis")
    st.subheader("By technology")
    _breakdown(plans, "by_technology", "technology", "Technology", ["offices", "population", "cost_usd"])
    tech_bar(report.technology_mix(plans), "scenario", "offices", "Technology mix (offices connected)", "cmp_mix")
    st.subheader("By region")
    _breakdown(plans, "by_region", "region", "Region", ["offices", "population", "coverage_share_population",
                                                         "cost_usd"])  # fmt: skip
    _offices(plans, runs, names)
