"""The Compare page: solve bundled scenarios, then compare 2 to 4 plans' KPIs, technology mix and offices."""

from __future__ import annotations

import copy

import pandas as pd
import plotly.express as px
import streamlit as st

from planner.results import report
from planner.ui.format import kpi_display
from planner.ui.safe import md
from planner.ui.state import bundled, run_and_store
from planner.ui.widgets import office_map, show_last_error, show_table, tech_bar


def _solve_bundled(names: list[str]) -> None:
    for n in names:
        raw = copy.deepcopy(bundled()[n])
        run_and_store(raw)
        show_last_error()


def page_compare() -> None:
    """The Compare page."""
    st.header("Compare scenarios")
    with st.expander("Solve bundled scenarios to compare", expanded=not st.session_state.get("runs")):
        pick = st.multiselect("Bundled scenarios", list(bundled()), key="cmp_bundled")
        if st.button("Solve these", key="cmp_solve", disabled=not pick):
            _solve_bundled(pick)
    runs = st.session_state.get("runs", {})
    if len(runs) < 2:
        st.info("Run at least two scenarios (Scenario page, or above) to compare them.")
        return
    names = st.multiselect(
        "Plans to compare (2 to 4)", list(runs), default=list(runs)[-4:], max_selections=4, key="cmp_names"
    )
    if len(names) < 2:
        st.info("Choose at least two plans.")
        return
    plans = {n: runs[n]["plan"] for n in names}
    st.subheader("KPIs (differences to the first)")
    st.dataframe(kpi_display([p.summary for p in plans.values()], names=list(plans)), key="cmp_kpis")
    tech_bar(report.technology_mix(plans), "scenario", "offices", "Technology mix (offices connected)", "cmp_mix")
    st.subheader("Offices whose technology differs")
    c1, c2 = st.columns(2)
    a = c1.selectbox("Plan A", names, index=0, key="cmp_a")
    b = c2.selectbox("Plan B", names, index=1, key="cmp_b")
    if a == b:
        st.info("Choose two different plans.")
        return
    diff = report.changed_offices(plans[a], plans[b], "A", "B")
    st.caption(f"{len(diff):,} offices differ between A = {md(a)} and B = {md(b)}")
    if len(diff):
        coords = pd.concat([runs[a]["coords"], runs[b]["coords"]]).drop_duplicates("office_id")
        show_table(diff, key="cmp_diff")
        changes = sorted(diff["change"].unique())
        palette = px.colors.qualitative.Dark24
        colours = {c: palette[i % len(palette)] for i, c in enumerate(changes)}
        office_map(diff.merge(coords, on="office_id", how="left"), "change", colours, key="cmp_map")
