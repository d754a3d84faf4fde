"""The Roadmap page: a plan phased year by year (a scenario's ``roadmap`` section) as charts and tables.

Per year and technology: offices connected, people covered, capex, opex, the annual budget used and left, and the
cumulative coverage against a target by the end year. The annual budget (one figure or one per year, M USD),
carry-over and build capacity (total and per technology, offices a year) are edited in a form that re-runs the
scenario through :func:`planner.ui.state.run_and_store`, like the Scenario page. A single-country plan of the
session without a roadmap can be phased here too. The tables are built by the pure functions
:func:`technology_years`, :func:`year_table` and :func:`roadmap_section`.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from planner.errors import InputError
from planner.results import Plan
from planner.scenario import scenario_from_dict
from planner.ui.format import money, tech_label
from planner.ui.safe import md
from planner.ui.state import ROOT, bundled, default_catalogue_rows, run_and_store
from planner.ui.widgets import PLOT_CONFIG, show_error, show_table, solve_summary, tech_bar

USD_PER_M = 1e6
# The target line's default when the scenario has no coverage_target: the target of the bundled 95 % scenarios
# (uttarakhand-95pct.yaml, srilanka-95pct.yaml), a reference line only.
DEFAULT_TARGET = 0.95
YEAR_COLUMNS = {
    "year": "year",
    "offices_connected": "offices connected",
    "population_new": "people newly covered",
    "offices_cumulative": "offices connected (cumulative)",
    "population_cumulative": "people covered (cumulative)",
    "coverage_share_population": "population coverage (cumulative share)",
    "capex_usd": "capex (USD)",
    "opex_usd": "opex (USD)",
    "budget_usd": "budget available (USD)",
    "budget_used_usd": "budget used (USD)",
    "budget_left_usd": "budget left (USD)",
}

#: Display names of the per-year-and-technology table (:func:`technology_years`) where the app-wide ones differ.
TECH_YEAR_LABELS = {
    "offices": "Offices newly connected",
    "population": "People newly covered",
    "capex_usd": "Capex that year (USD)",
    "opex_usd": "Opex that year (USD)",
    "offices_cumulative": "Offices connected (cumulative)",
    "population_cumulative": "People covered (cumulative)",
}


def year_labels(columns: list[str]) -> dict[str, str]:
    """Display names of :func:`year_table`'s columns (shares in %).

    :data:`YEAR_COLUMNS` capitalised; per-technology columns as "Offices newly connected: <technology name>" and
    "People newly covered: <technology name>".
    """
    out = {"budget_used_share": "Budget used (%)", "coverage_share_population": "Population coverage, cumulative (%)"}
    for col in columns:
        if col in YEAR_COLUMNS:
            out[col] = YEAR_COLUMNS[col][:1].upper() + YEAR_COLUMNS[col][1:]
        for prefix, words in (("offices_", "Offices newly connected"), ("population_", "People newly covered")):
            if col.startswith(prefix) and col not in YEAR_COLUMNS:
                out[col] = f"{words}: {tech_label(col[len(prefix) :])}"
    return out


# --------------------------------------------------------------------------------------------- tables (pure)
def technology_years(plan: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Per year and technology: what a phased plan connects and pays.

    Args:
        plan: the per-office plan table (``Plan.plan``) with ``year`` (connection year, empty when not connected),
            ``technology``, ``population``, ``capex_usd`` (at that year's prices) and ``opex_usd_per_year``.
        years: the horizon's years, in order.

    Returns:
        One row per (year, technology connected by the plan): ``offices`` and ``population`` newly connected,
        ``capex_usd`` paid that year (USD), ``opex_usd`` paid that year by every office of that technology
        connected up to then (USD), ``offices_cumulative`` and ``population_cumulative``.
    """
    con = plan[(plan["technology"] != "none") & plan["year"].notna()].copy()
    con["year"] = con["year"].astype(int)
    techs = sorted(con["technology"].unique())
    grid = pd.MultiIndex.from_product([years, techs], names=["year", "technology"])
    new = con.groupby(["year", "technology"]).agg(
        offices=("office_id", "size"),
        population=("population", "sum"),
        capex_usd=("capex_usd", "sum"),
        new_opex=("opex_usd_per_year", "sum"),
    )
    out = new.reindex(grid, fill_value=0).reset_index()
    out = out.astype({"offices": int, "population": float, "capex_usd": float, "new_opex": float})
    by_tech = out.groupby("technology", sort=False)
    out["opex_usd"] = by_tech["new_opex"].cumsum()
    out["offices_cumulative"] = by_tech["offices"].cumsum()
    out["population_cumulative"] = by_tech["population"].cumsum()
    return out.drop(columns="new_opex")


def year_table(plan: Plan) -> pd.DataFrame:
    """Per year of a phased plan: the roadmap table (``Plan.roadmap``) with people covered per technology.

    Columns: those of :data:`YEAR_COLUMNS` (offices and people newly and cumulatively connected, population coverage
    share, capex, opex, budget available, used and left, USD), ``budget_used_share`` (used / available; NaN when
    nothing is available), then ``offices_<technology>`` and ``population_<technology>`` per technology connected.

    Raises:
        ValueError: the plan has no roadmap.
    """
    if plan.roadmap is None:
        raise ValueError(f"plan {plan.scenario.name!r} is not phased (no roadmap)")
    table = plan.roadmap[list(YEAR_COLUMNS)].copy()
    available = table["budget_usd"].where(table["budget_usd"] > 0)
    table["budget_used_share"] = table["budget_used_usd"] / available
    tech = technology_years(plan.plan, [int(y) for y in table["year"]])
    for col in ("offices", "population"):
        wide = tech.pivot(index="year", columns="technology", values=col).add_prefix(f"{col}_")
        table = table.merge(wide.reset_index(), on="year", how="left")
    return table


def roadmap_section(
    budget_usd: float | dict[int, float],
    carry_over: bool,
    total: int | None,
    per_technology: dict[str, int | None],
) -> dict[str, Any]:
    """The scenario's ``roadmap`` mapping from the form's values.

    Args:
        budget_usd: USD a year, one figure for every year or a mapping year -> USD.
        carry_over: unspent money of a year is added to the next year's.
        total: offices a year, all technologies together (None: no limit).
        per_technology: offices a year per technology (None: no limit for that technology).
    """
    budget: float | dict[int, float] = (
        {int(y): float(v) for y, v in budget_usd.items()} if isinstance(budget_usd, dict) else float(budget_usd)
    )
    capacity: dict[str, Any] = {}
    if total is not None:
        capacity["total"] = int(total)
    per = {t: int(v) for t, v in per_technology.items() if v is not None}
    if per:
        capacity["per_technology"] = per
    section: dict[str, Any] = {"annual_budget_usd": budget, "carry_over": bool(carry_over)}
    if capacity:
        section["build_capacity"] = capacity
    return section


def phased(raw: dict[str, Any], roadmap: dict[str, Any], name: str) -> dict[str, Any]:
    """A scenario mapping with ``roadmap`` as its roadmap section, under ``name``.

    A scenario that had no roadmap loses what a roadmap replaces or cannot take: ``budget_usd`` (the annual budgets
    replace it), shared ``infrastructure`` (planned for one period) and a ``cost_basis`` other than tco.
    """
    out = copy.deepcopy(raw)
    if not raw.get("roadmap"):
        out.pop("budget_usd", None)
        out.pop("infrastructure", None)
        if out.get("cost_basis") not in (None, "tco"):
            out.pop("cost_basis")
    out["roadmap"] = roadmap
    out["name"] = name
    return out


def _years(raw: dict[str, Any]) -> list[int]:
    hz = raw.get("horizon") or {}
    return list(range(int(hz.get("start_year", 2026)), int(hz.get("end_year", 2030)) + 1))


def form_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """The form's starting values from a scenario mapping (its roadmap, or the total budget spread over the years).

    Returns:
        ``years``, ``constant`` (whether one figure serves every year), ``budget_m`` (M USD a year, per year),
        ``carry_over``, ``total`` and ``per_technology`` (offices a year; None = no limit).
    """
    years = _years(raw)
    rm = raw.get("roadmap") or {}
    given = rm.get("annual_budget_usd")
    if isinstance(given, dict):
        per_year = {y: float(given.get(y, given.get(str(y))) or 0.0) / USD_PER_M for y in years}
    else:
        constant = float(given) if given is not None else float(raw.get("budget_usd") or 0.0) / len(years)
        per_year = {y: constant / USD_PER_M for y in years}
    cap = rm.get("build_capacity") or {}
    return {
        "years": years,
        "constant": not isinstance(given, dict),
        "budget_m": per_year,
        "carry_over": bool(rm.get("carry_over", False)),
        "total": cap.get("total"),
        "per_technology": dict(cap.get("per_technology") or {}),
    }


# --------------------------------------------------------------------------------------------- page
def _choices() -> dict[str, tuple[str, str]]:
    """What the page can phase: label -> (kind, name).

    Kinds: ``plan`` (a session plan with a roadmap), ``bundled`` (a bundled roadmap scenario not yet run), ``phase``
    (a single-country session plan without one).
    """
    runs = st.session_state.get("runs", {})
    out: dict[str, tuple[str, str]] = {}
    for name, entry in runs.items():
        if entry["plan"].roadmap is not None:
            out[name] = ("plan", name)
    for name, raw in bundled().items():
        if raw.get("roadmap") and name not in runs:
            out[f"{name} (bundled, not run yet)"] = ("bundled", name)
    for name, entry in runs.items():
        if entry["plan"].roadmap is None and not entry["raw"].get("countries"):
            out[f"{name} (add a roadmap)"] = ("phase", name)
    return out


def _technologies(plan: Plan | None) -> list[str]:
    if plan is not None and len(plan.options):
        return sorted(plan.options["technology"].unique())
    return list(default_catalogue_rows())


def _int_or_none(x: Any) -> int | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x) else int(x)


def _form(raw: dict[str, Any], plan: Plan | None, default_name: str, key: str) -> dict[str, Any] | None:
    """The roadmap form; the scenario mapping to run when it is submitted, else None."""
    d = form_defaults(raw)
    with st.form(f"rm_form_{key}"):
        st.markdown("**Annual budget and build capacity**")
        c1, c2 = st.columns(2)
        with c1:
            mode = st.radio(
                "Annual budget",
                ["constant", "per_year"],
                index=0 if d["constant"] else 1,
                format_func={"constant": "The same every year", "per_year": "One figure per year (table)"}.get,
                key=f"rm_mode_{key}",
                horizontal=True,
            )
            first = next(iter(d["budget_m"].values()))
            every = st.number_input(
                "Every year (M USD)", min_value=0.0, value=float(first), step=0.05, format="%.3f", key=f"rm_every_{key}"
            )
            per_year = st.data_editor(
                pd.DataFrame({"year": d["years"], "budget_musd": list(d["budget_m"].values())}),
                key=f"rm_years_{key}",
                hide_index=True,
                disabled=["year"],
                column_config={
                    "year": st.column_config.NumberColumn("Year", format="%d"),
                    "budget_musd": st.column_config.NumberColumn("budget (M USD)", min_value=0.0, format="%.3f"),
                },
            )
            carry = st.checkbox("Unspent money carries over to the next year", value=d["carry_over"], key=f"rm_c_{key}")
        with c2:
            total = st.number_input(
                "Offices a year, all technologies (blank = no limit)",
                min_value=0,
                value=d["total"],
                step=10,
                key=f"rm_total_{key}",
            )
            techs = _technologies(plan)
            caps = st.data_editor(
                pd.DataFrame(
                    {
                        "technology": [tech_label(t) for t in techs],
                        "offices": [d["per_technology"].get(t) for t in techs],
                    }
                ).astype({"offices": "Int64"}),
                key=f"rm_caps_{key}",
                hide_index=True,
                disabled=["technology"],
                column_config={
                    "technology": st.column_config.TextColumn("Technology"),
                    "offices": st.column_config.NumberColumn("offices a year (blank = no limit)", min_value=0, step=1),
                },
            )
        name = st.text_input(
            "Plan name (a new name keeps the current plan for comparison)", default_name, key=f"rm_n_{key}"
        )
        if not st.form_submit_button("Run roadmap", type="primary", key="rm_run"):
            return None
    budget: float | dict[int, float]
    if mode == "constant":
        budget = float(every) * USD_PER_M
    else:
        budget = {
            int(y): float(0.0 if pd.isna(v) else v) * USD_PER_M
            for y, v in zip(per_year["year"], per_year["budget_musd"], strict=True)
        }
    section = roadmap_section(
        budget,
        carry,
        _int_or_none(total),
        {str(t): _int_or_none(v) for t, v in zip(techs, caps["offices"], strict=True)},  # rows stay in order
    )
    return phased(raw, section, name.strip() or default_name)


def _run(raw: dict[str, Any]) -> None:
    """Validate (errors shown escaped, nothing run) and run a scenario into the session."""
    ss = st.session_state
    ss.pop("rm_error", None)
    try:
        scenario_from_dict(copy.deepcopy(raw), base_dir=ROOT, file="roadmap")
    except InputError as exc:
        ss["rm_error"] = {"kind": "input", "issues": exc.issues}
        return
    if run_and_store(raw):
        ss["rm_pick_name"] = raw["name"]
    else:  # the error belongs to this page, not to the Scenario page's form
        ss["rm_error"] = ss.pop("last_error", None)


def _show_error() -> None:
    show_error(st.session_state.get("rm_error"), "The roadmap is not valid; nothing was run")


def page_roadmap() -> None:
    """The Roadmap page: choose a phased plan (or a scenario to phase), edit budgets and capacity, see the years."""
    st.header("Roadmap: the plan year by year")
    choices = _choices()
    if not choices:
        st.info("No plan to phase: run a single-country scenario on the **Scenario** page first.")
        return
    labels = list(choices)
    ss = st.session_state
    wanted = ss.pop("rm_pick_name", None)  # the plan just run here
    if wanted in labels:
        ss["rm_pick"] = wanted
    elif ss.get("rm_pick") not in labels:  # first visit: the session's current plan, if it can be phased
        current = [lb for lb, (kind, name) in choices.items() if kind != "bundled" and name == ss.get("current")]
        ss["rm_pick"] = (current or labels)[0]
    label = st.selectbox("Plan or scenario", labels, key="rm_pick")
    kind, name = choices[label]
    runs = ss.get("runs", {})
    entry = runs.get(name) if kind != "bundled" else None
    raw = bundled()[name] if kind == "bundled" else entry["raw"]  # type: ignore[index]
    plan = entry["plan"] if entry is not None else None
    if raw.get("description"):
        st.caption(md(raw["description"]))
    if kind == "phase":
        st.caption(
            "This plan has no roadmap: the annual budgets below replace its total budget (spread evenly to start "
            "with); shared infrastructure and a cost basis other than TCO are dropped (a roadmap plans neither)."
        )
    submitted = _form(raw, plan, f"{name}-roadmap" if kind == "phase" else name, key=f"{kind}-{name}")
    if submitted is not None:
        _run(submitted)
        st.rerun()
    _show_error()
    if kind == "plan" and entry is not None:
        _show_plan(entry)


def _show_plan(entry: dict[str, Any]) -> None:
    """KPIs, charts and tables of a phased plan."""
    plan: Plan = entry["plan"]
    solve_summary(entry)
    years = year_table(plan)
    tech = technology_years(plan.plan, [int(y) for y in years["year"]])
    last = years.iloc[-1]
    c = st.columns(5)
    c[0].metric("Offices connected", f"{int(last['offices_cumulative']):,}", help=f"by {int(last['year'])}")
    c[1].metric("People covered", f"{last['population_cumulative']:,.0f}", help=f"by {int(last['year'])}")
    c[2].metric("Population coverage", f"{100 * last['coverage_share_population']:.1f} %")
    c[3].metric("Capex", money(float(years["capex_usd"].sum())), help="at each year's prices, all years")
    c[4].metric("Budget left", money(float(last["budget_left_usd"])), help=f"at the end of {int(last['year'])}")
    _coverage_chart(plan, years)
    c1, c2 = st.columns(2)
    with c1:
        if len(tech):
            tech_bar(tech, "year", "offices", "Offices connected per year", "rm_offices", ["population"])
    with c2:
        if len(tech):
            tech_bar(tech, "year", "capex_usd", "Capex per year (USD, that year's prices)", "rm_capex", ["offices"])
    _budget_chart(years)
    st.subheader("Per year")
    show_table(years, "rm_year_table", names=year_labels(list(years.columns)))
    st.subheader("Per year and technology")
    show_table(tech, "rm_tech_table", names=TECH_YEAR_LABELS)
    d1, d2 = st.columns(2)
    d1.download_button("roadmap_years.csv", years.to_csv(index=False), "roadmap_years.csv", "text/csv", key="rm_dl1")
    d2.download_button(
        "roadmap_technologies.csv", tech.to_csv(index=False), "roadmap_technologies.csv", "text/csv", key="rm_dl2"
    )


def _coverage_chart(plan: Plan, years: pd.DataFrame) -> None:
    """Cumulative population coverage per year with the target line by the end year."""
    target_default = plan.scenario.coverage_target if plan.scenario.coverage_metric == "population" else None
    end = int(years["year"].iloc[-1])
    target = st.number_input(
        f"Target population coverage by {end} (share)",
        min_value=0.0,
        max_value=1.0,
        value=float(target_default or DEFAULT_TARGET),
        step=0.05,
        key="rm_target",
        help="A reference line: the scenario's coverage_target when it has one (population metric), else the 95 % "
        "target of the bundled 95 % scenarios.",
    )
    fig = px.line(
        years,
        x="year",
        y="coverage_share_population",
        markers=True,
        title="Cumulative population coverage",
        labels={"coverage_share_population": "share of the planned offices' population"},
        hover_data=["population_cumulative", "offices_cumulative"],
    )
    fig.add_hline(y=target, line_dash="dash", line_color="#d62728", annotation_text=f"target {100 * target:.0f} %")
    fig.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1.02], xaxis_dtick=1)
    st.plotly_chart(fig, config=PLOT_CONFIG, key="rm_coverage", width="stretch")
    reached = years[years["coverage_share_population"] >= target - 1e-12]
    if len(reached):
        st.caption(f"Target reached in {int(reached['year'].iloc[0])}.")
    else:
        gap = target - float(years["coverage_share_population"].iloc[-1])
        st.caption(f"Target not reached by {end}: {100 * gap:.1f} points short.")


def _budget_chart(years: pd.DataFrame) -> None:
    """Budget available, used and left per year (USD)."""
    long = years.melt(
        id_vars="year",
        value_vars=["budget_usd", "budget_used_usd", "budget_left_usd"],
        var_name="money",
        value_name="usd",
    )
    long["money"] = long["money"].map({"budget_usd": "available", "budget_used_usd": "used", "budget_left_usd": "left"})
    fig = px.bar(long, x="year", y="usd", color="money", barmode="group", title="Annual budget (USD)")
    fig.update_layout(xaxis_dtick=1)
    st.plotly_chart(fig, config=PLOT_CONFIG, key="rm_budget", width="stretch")
    st.caption(
        f"Spent over the horizon: {money(float(years['budget_used_usd'].sum()))} "
        "(capex in the year built; with the TCO budget basis also the opex of offices already connected)."
    )
