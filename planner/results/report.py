"""Exports and derived views of a solved plan (DESIGN §2, report.py).

Plan CSV, summary JSON, an Excel workbook with one sheet per table, GeoJSON of the planned offices, and the small tables
the app shows (cost components, offices whose technology differs between two plans, the alternatives of one office).

Everything here works on the :class:`~planner.results.Plan` tables only; no Streamlit, no solving.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from planner.data import read_scenario_offices
from planner.results.outputs import output_bytes
from planner.results.plan import Plan
from planner.scenario import catalogue_for, catalogue_table

#: Cost components of the plan table: (column, label). Capex is paid once, opex every year.
CAPEX_COMPONENTS = [
    ("capex_equipment_usd", "equipment"),
    ("capex_civil_usd", "civil works"),
    ("capex_licence_usd", "licences"),
    ("capex_power_usd", "power (solar)"),
    ("capex_security_usd", "security gateway"),
]
OPEX_COMPONENTS = [
    ("opex_service_usd_per_year", "service fees"),
    ("opex_network_usd_per_year", "network upkeep"),
    ("opex_power_usd_per_year", "power upkeep"),
    ("opex_security_usd_per_year", "security (endpoint, DNS, .post mail, training)"),
]
#: Columns of an office's alternatives (from ``Plan.options``).
OPTION_VIEW = ["technology", "chosen", "eligible", "reason", "capex_usd", "opex_usd_per_year", "tco_usd",
               "cost_usd", "mbps", "required_mbps", "distance_km", "anchor_id", "source", "cost_keys"]  # fmt: skip


# --------------------------------------------------------------------------------------------- plain files
def plan_csv(plan: Plan) -> bytes:
    """``plan.csv`` as written by ``planner solve``."""
    return output_bytes(plan, "plan.csv")


def summary_json(plan: Plan) -> bytes:
    """``summary.json`` as written by ``planner solve``."""
    return output_bytes(plan, "summary.json")


# --------------------------------------------------------------------------------------------- Excel
def _flat(prefix: str, value: Any, rows: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, rows)
    elif isinstance(value, list):
        rows.append((prefix, json.dumps(value)))
    else:
        rows.append((prefix, value))


def summary_table(plan: Plan) -> pd.DataFrame:
    """The summary as two columns ``key, value`` (nested keys joined by dots)."""
    rows: list[tuple[str, Any]] = []
    _flat("", plan.summary, rows)
    return pd.DataFrame(rows, columns=["key", "value"])


def workbook_tables(plan: Plan) -> dict[str, pd.DataFrame]:
    """The workbook's tables by sheet name, in sheet order.

    Summary, plan, by technology, by region, cost components, options, roadmap (when phased), fibre routes and sites
    (shared infrastructure) and the catalogue's sources.
    """
    sheets = {
        "summary": summary_table(plan),
        "plan": plan.plan,
        "by_technology": plan.by_technology,
        "by_region": plan.by_region,
        "cost_components": cost_components(plan),
        "options": plan.options,
    }
    if plan.roadmap is not None:
        sheets["roadmap"] = plan.roadmap
    if plan.fibre_routes is not None:
        sheets["fibre_routes"] = plan.fibre_routes
    if plan.sites is not None:
        sheets["sites"] = plan.sites
    sheets["sources"] = pd.DataFrame(catalogue_table(catalogue_for(plan.scenario)))
    return sheets


def _cell(v: Any) -> Any:
    """An Excel cell value: numbers, text and booleans as they are; NA and NaN blank; anything else as text."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(float(v)) else None
    return v if isinstance(v, str) else str(v)


def excel_bytes(plan: Plan) -> bytes:
    """An .xlsx workbook with one sheet per table (see :func:`workbook_tables`).

    Written row by row with openpyxl's write-only mode (the options sheet has one row per office and technology).
    """
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    for name, table in workbook_tables(plan).items():
        sheet = wb.create_sheet(title=name[:31])
        sheet.freeze_panes = "A2"
        for i, col in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(60, max(10, len(str(col)) + 2))
        sheet.append([str(c) for c in table.columns])
        for row in table.itertuples(index=False, name=None):
            sheet.append([_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_excel(plan: Plan, path: Path) -> Path:
    """Write the workbook to ``path``."""
    path.write_bytes(excel_bytes(plan))
    return path


# --------------------------------------------------------------------------------------------- GeoJSON
def _json_value(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, np.bool_ | bool):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(float(v)) else float(v)
    return v


def office_coordinates(plan: Plan) -> pd.DataFrame:
    """``office_id, lat, lon`` of the plan's offices, read from the scenario's offices file."""
    offices = read_scenario_offices(plan.scenario)  # one file, or one per country
    return offices[["office_id", "lat", "lon"]].assign(office_id=lambda t: t["office_id"].astype(str))


def plan_with_coordinates(plan: Plan, offices: pd.DataFrame | None = None) -> pd.DataFrame:
    """The plan table with ``lat, lon`` (from ``offices``, or the scenario's offices file)."""
    coords = office_coordinates(plan) if offices is None else offices[["office_id", "lat", "lon"]]
    coords = coords.assign(office_id=coords["office_id"].astype(str)).drop_duplicates("office_id")
    return plan.plan.merge(coords, on="office_id", how="left")


ROUTE_VERTEX_COLUMNS = ["edge", "vertex", "lat", "lon", "length_km", "offices_served"]
"""Columns of :func:`route_vertices`: one row per vertex of a built fibre trench edge, in drawing order
(``vertex`` from 0); ``lat``/``lon`` in WGS84 degrees, the edge's trench ``length_km`` and ``offices_served``
repeated on each of its rows."""


def route_vertices(plan: Plan) -> pd.DataFrame:
    """The geometry of the plan's built fibre trenches as a tidy table (:data:`ROUTE_VERTEX_COLUMNS`).

    The polylines are the candidate graph's (straight lines between offices, nodes and junctions, or the road
    geometry when the scenario gives roads). Empty when the plan builds no trench or its candidate infrastructure
    is not at hand (a run reopened from the store).
    """
    routes, infra = plan.fibre_routes, plan.infra
    if routes is None or infra is None or not len(routes):
        return pd.DataFrame(columns=ROUTE_VERTEX_COLUMNS)
    rows = []
    for edge, km, served in zip(routes["edge"], routes["length_km"], routes["offices_served"], strict=True):
        for k, (lon, lat) in enumerate(infra.edge_coords.get(int(edge), [])):
            rows.append((int(edge), k, float(lat), float(lon), float(km), int(served)))
    return pd.DataFrame(rows, columns=ROUTE_VERTEX_COLUMNS)


def plan_geojson(plan: Plan, offices: pd.DataFrame | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: one Point per planned office with every plan column as a property."""
    table = plan_with_coordinates(plan, offices)
    props = [c for c in table.columns if c not in ("lat", "lon")]
    features = []
    for rec in table.to_dict(orient="records"):
        lat, lon = rec["lat"], rec["lon"]
        geometry = None
        if lat is not None and lon is not None and math.isfinite(lat) and math.isfinite(lon):
            geometry = {"type": "Point", "coordinates": [float(lon), float(lat)]}
        features.append(
            {"type": "Feature", "geometry": geometry, "properties": {k: _json_value(rec[k]) for k in props}}
        )
    return {
        "type": "FeatureCollection",
        "name": plan.summary.get("scenario", "plan"),
        "features": features,
    }


def geojson_bytes(plan: Plan, offices: pd.DataFrame | None = None) -> bytes:
    """:func:`plan_geojson` as UTF-8 text."""
    return json.dumps(plan_geojson(plan, offices), allow_nan=False).encode("utf-8")


def write_exports(plan: Plan, out_dir: Path, offices: pd.DataFrame | None = None) -> list[Path]:
    """Write ``plan.xlsx`` and ``plan.geojson`` to ``out_dir`` (next to what ``write_outputs`` writes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    xlsx = write_excel(plan, out_dir / "plan.xlsx")
    geo = out_dir / "plan.geojson"
    geo.write_bytes(geojson_bytes(plan, offices))
    return [xlsx, geo]


# --------------------------------------------------------------------------------------------- derived views
def cost_components(plan: Plan) -> pd.DataFrame:
    """Per technology (and a ``total`` row): capex by component, opex per year by component, and TCO."""
    con = plan.plan[plan.plan["technology"] != "none"]
    cols = [c for c, _ in CAPEX_COMPONENTS + OPEX_COMPONENTS]
    table = con.groupby("technology")[[*cols, "capex_usd", "opex_usd_per_year", "tco_usd"]].sum()
    table.loc["total"] = table.sum()
    table.insert(0, "offices", con.groupby("technology").size().reindex(table.index).fillna(len(con)).astype(int))
    return table.reset_index()


def component_totals(plan: Plan) -> pd.DataFrame:
    """Long table ``technology, component, kind (capex | opex per year), usd`` for stacked charts."""
    con = plan.plan[plan.plan["technology"] != "none"]
    rows = []
    for kind, comps in (("capex", CAPEX_COMPONENTS), ("opex per year", OPEX_COMPONENTS)):
        for col, label in comps:
            for tech, usd in con.groupby("technology")[col].sum().items():
                rows.append({"technology": tech, "component": label, "kind": kind, "usd": float(usd)})
    return pd.DataFrame(rows, columns=["technology", "component", "kind", "usd"])


def technology_mix(plans: dict[str, Plan]) -> pd.DataFrame:
    """Long table ``scenario, technology, offices, population, cost_usd`` of the connected offices."""
    return technology_mix_of({name: plan.by_technology for name, plan in plans.items()})


def technology_mix_of(by_technology: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """:func:`technology_mix` from each plan's ``by_technology`` table (e.g. reopened from the run store)."""
    rows = []
    for name, table in by_technology.items():
        for r in cast(Iterator[Any], table.itertuples(index=False)):
            rows.append({"scenario": name, "technology": r.technology, "offices": int(r.offices),
                         "population": float(r.population), "cost_usd": float(r.cost_usd)})  # fmt: skip
    return pd.DataFrame(rows, columns=["scenario", "technology", "offices", "population", "cost_usd"])


def changed_offices(a: Plan, b: Plan, name_a: str = "a", name_b: str = "b") -> pd.DataFrame:
    """Offices whose technology differs between two plans (offices of either plan).

    Columns ``office_id, name, region, population, technology_<a>, technology_<b>, cost_usd_<a>, cost_usd_<b>, change``.
    """
    keep = ["office_id", "name", "region", "population", "technology", "cost_usd"]
    left = a.plan[keep].rename(columns={"technology": f"technology_{name_a}", "cost_usd": f"cost_usd_{name_a}"})
    right = b.plan[["office_id", "technology", "cost_usd"]].rename(
        columns={"technology": f"technology_{name_b}", "cost_usd": f"cost_usd_{name_b}"}
    )
    both = left.merge(right, on="office_id", how="outer")
    ta, tb = f"technology_{name_a}", f"technology_{name_b}"
    both[ta] = both[ta].fillna("not planned")
    both[tb] = both[tb].fillna("not planned")
    diff = both[both[ta] != both[tb]].copy()
    diff["change"] = diff[ta] + " → " + diff[tb]
    return diff.sort_values(["change", "office_id"]).reset_index(drop=True)


def office_alternatives(plan: Plan, office_id: str) -> pd.DataFrame:
    """Every technology considered for one office, cheapest eligible first.

    Whether it was chosen, whether it is eligible or why not, and its costs.
    """
    opts = plan.options[plan.options["office_id"].astype(str) == str(office_id)]
    cols = [c for c in OPTION_VIEW if c in opts.columns]
    return (
        opts.sort_values(["eligible", "cost_usd"], ascending=[False, True])[cols].reset_index(drop=True)
        if len(opts)
        else pd.DataFrame(columns=cols)
    )


def unserved_by_region(plan: Plan) -> pd.DataFrame:
    """Per region: offices planned, connected, left unserved, and unserved for lack of any eligible option."""
    p = plan.plan
    g = p.assign(
        connected=p["technology"] != "none",
        unserved=p["technology"] == "none",
        no_option=p["eligible_technologies"] == "",
        population_unserved=p["population"].where(p["technology"] == "none", 0.0),
    ).groupby("region")
    table = g.agg(
        offices_planned=("office_id", "size"),
        offices_connected=("connected", "sum"),
        offices_unserved=("unserved", "sum"),
        unserved_no_eligible_option=("no_option", "sum"),
        population_unserved=("population_unserved", "sum"),
    )
    return table.reset_index()


def office_cost_sources(plan: Plan, office_id: str) -> pd.DataFrame:
    """The catalogue figures that priced one office's chosen option (its ``cost_keys``), with values and sources.

    One row per key: ``key, entry, field, region, value, low, high, source`` (the figure of the catalogue the
    plan was priced with, its regional overlay included). Empty when the office is not connected or was quoted.
    """
    row = plan.plan.loc[plan.plan["office_id"] == office_id]
    keys = str(row["cost_keys"].iat[0]) if len(row) and "cost_keys" in row else ""
    table = pd.DataFrame(catalogue_table(catalogue_for(plan.scenario)))
    rows = []
    for key in (k for k in keys.split("; ") if "@" in k):
        path, region = key.rsplit("@", 1)
        parts = path.split(".")
        entry, field = (
            (parts[1], ".".join(parts[2:])) if parts[0] == "technologies" else (parts[0], ".".join(parts[1:]))
        )
        hit = table[(table["technology"] == entry) & (table["field"] == field)]
        figure = hit.iloc[0] if len(hit) else None
        rows.append({"key": key, "entry": entry, "field": field, "region": region,
                     "value": None if figure is None else figure["value"],
                     "low": None if figure is None else figure["low"],
                     "high": None if figure is None else figure["high"],
                     "source": "" if figure is None else figure["source"]})  # fmt: skip
    return pd.DataFrame(rows, columns=["key", "entry", "field", "region", "value", "low", "high", "source"])
