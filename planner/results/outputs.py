"""The output contract (DESIGN §6): the files a plan writes, their names, columns and encoders; the one writer.

``planner solve`` (:func:`write_outputs`), the app's downloads (:func:`output_bytes`) and the run store (which
records the files :func:`write_outputs` wrote) all go through :func:`output_bytes`, so a file has the same bytes
wherever it is produced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

import pandas as pd

PLAN_COLUMNS = [
    "office_id", "technology", "year", "capex_usd", "opex_usd_per_year", "cost_usd", "mbps", "population",
    "region", "community", "name", "status", "tco_usd", "residual_value_usd", "annualised_usd", "required_mbps",
    "capex_equipment_usd", "capex_civil_usd",
    "capex_licence_usd", "capex_power_usd", "capex_security_usd", "opex_service_usd_per_year",
    "opex_network_usd_per_year", "opex_power_usd_per_year", "opex_security_usd_per_year",
    "eligible_technologies", "shared_asset", "shared_cost_usd", "backup_technology", "backup_cost_usd", "cost_keys",
    "why",
]  # fmt: skip


ROUTE_COLUMNS = ["edge", "from_node", "to_node", "length_km", "capex_usd", "opex_usd_per_year", "cost_usd",
                 "offices_served"]  # fmt: skip


SITE_COLUMNS = ["site_id", "lat", "lon", "capex_usd", "opex_usd_per_year", "cost_usd", "offices_served",
                "population_served"]  # fmt: skip


class Plan(Protocol):
    """What the output files are made of: the tables of a solved plan (:class:`planner.results.plan.Plan`)."""

    plan: pd.DataFrame
    options: pd.DataFrame
    by_technology: pd.DataFrame
    by_region: pd.DataFrame
    summary: dict[str, Any]
    roadmap: pd.DataFrame | None
    fibre_routes: pd.DataFrame | None
    sites: pd.DataFrame | None
    infra: Any


def _csv(table: pd.DataFrame, float_format: str | None = None) -> bytes:
    return table.to_csv(index=False, float_format=float_format).encode("utf-8")


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2) + "\n").encode("utf-8")


# name -> (does the plan have it?, its bytes), in the order write_outputs writes them
ENCODERS: dict[str, tuple[Callable[[Plan], bool], Callable[[Plan], bytes]]] = {
    "plan.csv": (lambda p: True, lambda p: _csv(p.plan)),
    "by_technology.csv": (lambda p: True, lambda p: _csv(p.by_technology)),
    "by_region.csv": (lambda p: True, lambda p: _csv(p.by_region)),
    "options.csv": (lambda p: True, lambda p: _csv(p.options, "%.6g")),
    "fibre_routes.geojson": (
        lambda p: p.fibre_routes is not None,
        lambda p: (json.dumps(routes_geojson(cast(pd.DataFrame, p.fibre_routes), p.infra)) + "\n").encode("utf-8"),
    ),
    "sites.csv": (lambda p: p.sites is not None, lambda p: _csv(cast(pd.DataFrame, p.sites))),
    "roadmap.csv": (lambda p: p.roadmap is not None, lambda p: _csv(cast(pd.DataFrame, p.roadmap))),
    "summary.json": (lambda p: True, lambda p: _json(p.summary)),
}


def output_names(plan: Plan) -> list[str]:
    """The files ``plan`` writes, in the order :func:`write_outputs` writes them."""
    return [name for name, (has, _) in ENCODERS.items() if has(plan)]


def output_bytes(plan: Plan, name: str) -> bytes:
    """The content of one output file of ``plan`` (a name from :func:`output_names`)."""
    has, encode = ENCODERS[name]
    if not has(plan):
        raise KeyError(f"this plan has no {name}")
    return encode(plan)


def write_outputs(plan: Plan, out_dir: Path) -> list[Path]:
    """Write the plan's output files to ``out_dir`` and return their paths.

    ``plan.csv``, ``summary.json``, ``by_technology.csv``, ``by_region.csv``, ``options.csv`` and, with shared
    infrastructure, ``fibre_routes.geojson`` and ``sites.csv`` (``roadmap.csv`` for a roadmap).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in output_names(plan):
        path = out_dir / name
        path.write_bytes(output_bytes(plan, name))
        written.append(path)
    return written


def routes_geojson(routes: pd.DataFrame, infra: Any) -> dict[str, Any]:
    """The built fibre edges as a GeoJSON FeatureCollection of LineStrings (properties: the routes table)."""
    features = []
    for r in routes.to_dict("records"):
        coords = infra.edge_coords.get(int(r["edge"]), []) if infra is not None else []
        props = {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        features.append(
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
             "properties": props}
        )  # fmt: skip
    return {"type": "FeatureCollection", "features": features}
