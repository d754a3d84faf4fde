"""The Results page: KPIs, the map, charts and the per-office table of a plan; shared infrastructure; frontier."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from planner.errors import PlannerError
from planner.pipeline import costing_key, prepare
from planner.results import Plan
from planner.ui.format import column_label, count, km, mbps, money, tech_label
from planner.ui.safe import md
from planner.ui.state import store
from planner.ui.widgets import (
    PLOT_CONFIG,
    MapLayers,
    kpi_cards,
    office_map,
    plan_choice,
    show_table,
    solve_summary,
    tech_bar,
)


def page_results() -> None:
    """The Results page of the chosen plan."""
    st.header("Results")
    name = plan_choice("Plan", "results_plan")
    if name is None:
        return
    entry = st.session_state["runs"][name]
    plan = entry["plan"]
    solve_summary(entry)
    kpi_cards(plan)
    table = plan.plan.merge(entry["coords"], on="office_id", how="left")
    st.subheader("Offices by chosen technology")
    office_map(table, "technology", key="results_map", layers=MapLayers.of(plan))
    c1, c2 = st.columns(2)
    with c1:
        mix = plan.by_technology
        if len(mix):
            tech_bar(mix, "technology", "offices", "Technology mix (offices)", "mix_chart", ["population", "cost_usd"])
    with c2:
        con = plan.plan[plan.plan["technology"] != "none"]
        by = con.groupby(["region", "technology"], as_index=False)["cost_usd"].sum()
        if len(by):
            tech_bar(by, "region", "cost_usd", "Cost by region (USD, budget basis)", "region_chart")
    st.subheader("Per-office plan")
    f1, f2, f3 = st.columns(3)
    regions = f1.multiselect("Region", sorted(table["region"].astype(str).unique()), key="flt_region")
    techs = f2.multiselect("Technology", sorted(table["technology"].unique()), key="flt_tech", format_func=tech_label)
    text = f3.text_input("Name or office id contains", key="flt_text")
    shown = table
    if regions:
        shown = shown[shown["region"].isin(regions)]
    if techs:
        shown = shown[shown["technology"].isin(techs)]
    if text:
        m = shown["name"].str.contains(text, case=False, na=False) | shown["office_id"].str.contains(text, case=False)
        shown = shown[m]
    st.caption(f"{len(shown):,} of {len(table):,} offices (the plan CSV on **Export** has the raw columns)")
    show_table(shown, key="plan_table")
    demand_section(plan)
    reach_section(plan)
    shared_section(plan)
    frontier_section(plan)


def reach_section(plan: Plan) -> None:
    """Where cellular coverage came from and whether microwave hops were checked for line of sight."""
    sc = plan.scenario
    source = (
        f"coverage polygons of {md(sc.data.coverage.name)} ({sc.coverage.source})"
        if sc.data.coverage is not None and sc.coverage.source != "towers"
        else "the towers' coverage radii"
    )
    los = plan.summary.get("line_of_sight", "not checked (no data.elevation)")
    st.caption(f"Cellular coverage from {source}. Microwave line of sight: {md(los)}.")
    if str(los).startswith("not checked"):
        st.info("Line of sight not checked: microwave hops are judged by distance and backhaul only. Give an "
                "elevation raster (data.elevation) to check each hop against the terrain.")  # fmt: skip


def demand_section(plan: Plan) -> None:
    """Which demand model set the required Mbps, and how the requirement is spread over the offices."""
    demand = plan.scenario.demand
    need = plan.plan["required_mbps"].astype(float)
    params = {
        "planner": f"services' Mbps + {demand.mbps_per_1000_people:g} Mbps per 1,000 people, at least "
        f"{demand.floor_mbps:g} Mbps",
        "itu_cpp": f"people x {demand.itu_cpp.adoption:g} adoption x {demand.itu_cpp.concurrency:g} concurrency x "
        f"{demand.itu_cpp.mbps_per_user:g} Mbps per user, at least {demand.itu_cpp.floor_mbps:g} Mbps (ITU CPP)",
        "giga": f"{demand.giga.mbps_per_site:g} Mbps per office, {demand.giga.kbps_per_user:g} kbps per person above "
        f"{demand.giga.users_above:g} people (Giga)",
    }[demand.model]
    st.subheader("Required bandwidth")
    st.caption(
        f"Demand model **{demand.model}**: {params}. Median {mbps(need.median())}, 90th percentile "
        f"{mbps(need.quantile(0.9))}, largest {mbps(need.max())}; "
        f"{int((plan.plan['eligible_technologies'] == '').sum()):,} offices have no option fast enough or in reach."
    )
    fig = px.histogram(plan.plan, x="required_mbps", nbins=40, labels={"required_mbps": "required Mbps"})
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_title="offices")
    st.plotly_chart(fig, key="demand_hist")


def shared_section(plan: Plan) -> None:
    """What the plan builds once and shares: trench edges, new tower sites, relays (shared infrastructure)."""
    info = plan.summary.get("shared_infrastructure")
    if info is None:
        return
    st.subheader("Shared infrastructure")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Fibre trench built", km(info["fibre_km_built"]), f"{count(info['fibre_offices'])} offices on fibre",
              delta_color="off")  # fmt: skip
    c2.metric("New tower sites", count(info["sites_built"]), f"{count(info['site_offices'])} offices served",
              delta_color="off")  # fmt: skip
    c3.metric("Radio relays", count(info["relay_offices"]))
    c4.metric("Shared cost allocated", money(info["shared_cost_usd"]), help=money(info["shared_cost_usd"], exact=True))
    st.caption(
        "Shared costs are allocated to offices: a trench segment is split among the fibre offices behind it, a site "
        "among the offices on it; office costs add up to the plan's total (docs/shared-infrastructure.md)."
    )
    if plan.fibre_routes is not None and len(plan.fibre_routes):
        show_table(plan.fibre_routes, key="routes_table")
    if plan.sites is not None and len(plan.sites):
        show_table(plan.sites, key="sites_table")


def frontier_section(plan: Plan) -> None:
    """Coverage-cost frontier of the plan's scenario: a budget sweep (planner.analysis.sweep) with marginal costs."""
    from planner.analysis.sweep import sweep

    with st.expander("Coverage–cost frontier (budget sweep)"):
        budget = float(plan.scenario.budget_usd or plan.summary.get("total_cost_usd") or 1e6)
        c1, c2, c3 = st.columns(3)
        low = 1e6 * c1.number_input("From (M USD)", min_value=0.0, value=round(budget / 4e6, 3), step=0.1,
                                    format="%.3f", key="fr_low_m")  # fmt: skip
        high = 1e6 * c2.number_input("To (M USD)", min_value=0.0, value=round(budget * 2 / 1e6, 3), step=0.1,
                                     format="%.3f", key="fr_high_m")  # fmt: skip
        c1.caption(f"= {money(low, exact=True)}")
        c2.caption(f"= {money(high, exact=True)}")
        points = int(c3.number_input("Points", min_value=2, max_value=40, value=10, key="fr_points"))
        if st.button("Sweep budgets", key="fr_run"):
            cache = store()
            ckey = costing_key(plan.scenario)
            # The bar shows at once, before the costing (cached or not), so a click is answered immediately.
            bar = st.progress(0.0, text=f"sweeping {points} budgets: costing the scenario's options")
            try:
                prepared = cache.get(cache.prepared, ckey) or prepare(plan.scenario)
                cache.put(cache.prepared, ckey, prepared)
                budgets = [low + (high - low) * i / (points - 1) for i in range(points)]
                bar.progress(0.0, text=f"sweeping {points} budgets (one reused model, warm starts)")

                def steps(done: int, total: int, what: str) -> None:
                    bar.progress(done / max(total, 1), text=f"step {min(done + 1, total)} of {total}: {md(what)}")

                frontier = sweep(prepared, "budget", budgets, "serial", steps=steps)
                # The bar stays, full, with what was done: a sweep of a small scenario can end before a browser
                # has drawn a single step, and the user should still see that the click did its work.
                bar.progress(1.0, text=f"done: {points} budgets swept in {frontier.seconds:.1f} s")
                st.session_state["frontier"] = (plan.scenario.name, frontier)
            except PlannerError as exc:
                bar.empty()
                st.error(md(exc))
                return
        name, frontier = st.session_state.get("frontier", (None, None))
        if frontier is None or name != plan.scenario.name:
            return
        table = frontier.table
        fig = px.line(table, x="total_cost_usd", y="population_covered", markers=True,
                      hover_data=["budget_usd", "coverage_share", "marginal_cost_per_person_usd"],
                      labels={c: column_label(c) for c in table.columns},
                      title="Population covered against total cost (USD)")  # fmt: skip
        st.plotly_chart(fig, config=PLOT_CONFIG, key="frontier_chart", width="stretch")
        st.caption(f"{len(table)} points in {frontier.seconds:.1f} s; marginal cost = extra USD per extra person.")
        show_table(table, key="frontier_table")
        st.download_button("frontier.csv", table.to_csv(index=False), "frontier.csv", "text/csv", key="fr_dl")
