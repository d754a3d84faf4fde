"""The Donor view page: what a plan costs per community and person, by region and technology, and why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pandas as pd
import plotly.express as px
import streamlit as st

from planner.results import report
from planner.scenario import catalogue_for, catalogue_table
from planner.ui.safe import md, plot_frame
from planner.ui.widgets import PLOT_CONFIG, money, plan_choice


def page_donor() -> None:
    """The Donor view page of the chosen plan."""
    st.header("Donor view")
    name = plan_choice("Plan", "donor_plan")
    if name is None:
        return
    plan = st.session_state["runs"][name]["plan"]
    s = plan.summary
    c = st.columns(4)
    c[0].metric("Cost per community", money(s["cost_per_community_usd"]))
    pp = s["cost_per_person_usd"]
    c[1].metric("Cost per person", "–" if pp is None else f"{pp:,.2f} USD")
    c[2].metric("Offices left unserved", f"{s['offices_unserved']:,}")
    c[3].metric("… with no eligible technology", f"{s['offices_without_eligible_option']:,}")
    st.caption(
        f"Costs are on the {md(s['budget_basis'])} basis; capex {money(s['total_capex_usd'])}, "
        f"opex {money(s['total_opex_usd_per_year'])}/year, TCO {money(s['total_tco_usd'])}."
    )
    cols = ["offices", "population", "communities", "cost_usd", "cost_per_community_usd", "cost_per_person_usd"]
    st.subheader("By region")
    st.dataframe(
        plan.by_region[["region", "offices_planned", *cols, "coverage_share_population"]],
        hide_index=True,
        key="donor_region",
    )
    st.subheader("By technology")
    st.dataframe(plan.by_technology[["technology", *cols]], hide_index=True, key="donor_tech")
    with st.expander("Where do these figures come from? (technology catalogue with sources)"):
        st.dataframe(pd.DataFrame(catalogue_table(catalogue_for(plan.scenario))), hide_index=True, key="donor_sources")
    st.subheader("Offices left unserved, by region")
    st.dataframe(report.unserved_by_region(plan), hide_index=True, key="donor_unserved")
    st.subheader("Cost breakdown by component")
    comp = report.component_totals(plan)
    if len(comp):
        c1, c2 = st.columns(2)
        for col, kind in ((c1, "capex"), (c2, "opex per year")):
            part = comp[comp["kind"] == kind]
            shown = plot_frame(part, ["technology", "component"])
            fig = px.bar(shown, x="technology", y="usd", color="component", title=f"{kind} (USD)")
            col.plotly_chart(fig, config=PLOT_CONFIG, key=f"donor_comp_{kind}", width="stretch")
    st.dataframe(report.cost_components(plan), hide_index=True, key="donor_components")
    st.subheader("Why this technology?")
    p = plan.plan
    labels = dict(
        zip(p["office_id"], p["office_id"] + " — " + p["name"].astype(str) + " (" + p["region"] + ")", strict=True)
    )
    label_of = cast(Callable[[Any], str], labels.get)  # every option has its label
    office = st.selectbox("Office", list(labels), format_func=label_of, key="donor_office")
    row = p[p["office_id"] == office].iloc[0]
    st.markdown(f"**{md(row['technology'])}** — {md(row['why'])}")
    st.dataframe(report.office_alternatives(plan, office), hide_index=True, key="donor_alternatives")
    lines = report.office_cost_sources(plan, office)
    if len(lines):
        st.caption("The catalogue figures that priced this office's option, and where each comes from:")
        st.dataframe(lines, hide_index=True, key="donor_cost_sources")
