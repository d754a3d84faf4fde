"""The Donor view page: what a plan costs per community and person, by region and technology, and why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pandas as pd
import plotly.express as px
import streamlit as st

from planner.results import report
from planner.scenario import catalogue_for, catalogue_table
from planner.ui.format import BUDGET_BASIS_WORDS, count, money, tech_label
from planner.ui.safe import md, plot_frame
from planner.ui.widgets import PLOT_CONFIG, plan_choice, show_table


def page_donor() -> None:
    """The Donor view page of the chosen plan."""
    st.header("Donor view")
    name = plan_choice("Plan", "donor_plan")
    if name is None:
        return
    plan = st.session_state["runs"][name]["plan"]
    s = plan.summary
    c = st.columns(4)
    c[0].metric(
        "Cost per community", money(s["cost_per_community_usd"]), help=money(s["cost_per_community_usd"], exact=True)
    )
    c[1].metric("Cost per person", money(s["cost_per_person_usd"]), help=money(s["cost_per_person_usd"], exact=True))
    c[2].metric("Offices left unserved", count(s["offices_unserved"]))
    c[3].metric("… with no eligible technology", count(s["offices_without_eligible_option"]))
    basis = BUDGET_BASIS_WORDS.get(str(s["budget_basis"]), md(s["budget_basis"]))
    st.caption(
        f"Costs are on the {basis} basis; capex {money(s['total_capex_usd'])}, "
        f"opex {money(s['total_opex_usd_per_year'])} per year, TCO {money(s['total_tco_usd'])}."
    )
    cols = ["offices", "population", "communities", "cost_usd", "cost_per_community_usd", "cost_per_person_usd"]
    st.subheader("By region")
    show_table(plan.by_region[["region", "offices_planned", *cols, "coverage_share_population"]], key="donor_region")
    st.subheader("By technology")
    show_table(plan.by_technology[["technology", *cols]], key="donor_tech")
    with st.expander("Where do these figures come from? (technology catalogue with sources)"):
        show_table(pd.DataFrame(catalogue_table(catalogue_for(plan.scenario))), key="donor_sources")
    st.subheader("Offices left unserved, by region")
    show_table(report.unserved_by_region(plan), key="donor_unserved")
    st.subheader("Cost breakdown by component")
    comp = report.component_totals(plan)
    if len(comp):
        c1, c2 = st.columns(2)
        for col, kind in ((c1, "capex"), (c2, "opex per year")):
            part = comp[comp["kind"] == kind].assign(technology=lambda t: t["technology"].map(tech_label))
            shown = plot_frame(part, ["technology", "component"])
            fig = px.bar(shown, x="technology", y="usd", color="component", title=f"{kind} (USD)",
                         labels={"usd": "USD", "technology": "Technology", "component": "Component"})  # fmt: skip
            col.plotly_chart(fig, config=PLOT_CONFIG, key=f"donor_comp_{kind}", width="stretch")
    show_table(report.cost_components(plan), key="donor_components")
    st.subheader("Why this technology?")
    p = plan.plan
    labels = dict(
        zip(p["office_id"], p["office_id"] + " — " + p["name"].astype(str) + " (" + p["region"] + ")", strict=True)
    )
    label_of = cast(Callable[[Any], str], labels.get)  # every option has its label
    office = st.selectbox("Office", list(labels), format_func=label_of, key="donor_office")
    row = p[p["office_id"] == office].iloc[0]
    st.markdown(f"**{md(tech_label(row['technology']))}** — {md(row['why'])}")
    show_table(report.office_alternatives(plan, office), key="donor_alternatives")
    lines = report.office_cost_sources(plan, office)
    if len(lines):
        st.caption("The catalogue figures that priced this office's option, and where each comes from:")
        show_table(lines, key="donor_cost_sources")
