"""Coverage polygons, radio hops that respect physics, and line of sight on an elevation raster.

Hand-built geometry: offices near (0, 0); a degree of latitude is 111.19 km, so 0.01° ≈ 1.1 km.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
import yaml
from typer.testing import CliRunner

from planner.errors import InputError
from planner.pipeline import prepare, solve_prepared
from planner.scenario import load_scenario
from planner.terrain import ElevationGrid, earth_bulge_m, fresnel_radius_m, line_of_sight
from planner.ui.cli import app

SQUARE = [[[-0.05, -0.05], [0.05, -0.05], [0.05, 0.05], [-0.05, 0.05], [-0.05, -0.05]]]


def feature(coords: Any, kind: str = "Polygon", **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": {"type": kind, "coordinates": coords}}


def write_geojson(path: Path, features: list[Any]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def scenario(tmp: Path, offices: pd.DataFrame, **data: Any) -> Path:
    offices.to_csv(tmp / "offices.csv", index=False)
    top = data.pop("top", {})
    raw = {"name": "layers", "data": {"offices": "offices.csv", **{k: str(v) for k, v in data.items()}},
           "budget_usd": 1e6, **top}  # fmt: skip
    (tmp / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return tmp / "s.yaml"


def offices(lat: list[float], lon: list[float], **cols: Any) -> pd.DataFrame:
    ids = [f"o{i}" for i in range(len(lat))]
    return pd.DataFrame({"office_id": ids, "lat": lat, "lon": lon, "population": [1000] * len(lat), **cols})


def rows(path: Path, tech: str) -> pd.DataFrame:
    opts = prepare(load_scenario(path)).options
    return opts[opts["technology"] == tech].set_index("office_id")


# --------------------------------------------------------------------------------------------- coverage polygons
def test_an_office_inside_a_polygon_is_covered_by_that_feature(tmp_path: Path) -> None:
    """o0 at the centre of a 4G square (feature 2; feature 1 is a 3G square that does not count for 4G), o1 on
    its edge (inside), o2 outside: polygons decide alone; the tower that covers o2 counts with towers/either."""
    cov = write_geojson(
        tmp_path / "cov.geojson",
        [feature(SQUARE, technology="3G"), feature(SQUARE, generation=4, operator="Op A", mbps=25)],
    )
    pd.DataFrame({"tower_id": ["T"], "lat": [0.2], "lon": [0.0], "generation": [4], "range_km": [5]}).to_csv(
        tmp_path / "towers.csv", index=False
    )
    office = offices([0.0, 0.05, 0.2 - 0.01], [0.0, 0.0, 0.0])
    path = scenario(
        tmp_path, office, coverage=cov, towers=tmp_path / "towers.csv", top={"coverage": {"source": "polygons"}}
    )
    fourg = rows(path, "cellular_4g")
    assert list(fourg.loc[["o0", "o1"], "anchor_id"]) == ["cov.geojson#2", "cov.geojson#2"]
    assert fourg.loc[["o0", "o1"], "eligible"].all()
    assert list(fourg.loc[["o0", "o1"], "mbps"]) == [25, 25]  # the polygon's advertised speed caps the option
    assert not fourg.loc["o2", "eligible"]
    assert fourg.loc["o2", "reason"] == "not inside any coverage polygon of cov.geojson"
    towers_only = scenario(
        tmp_path, office, coverage=cov, towers=tmp_path / "towers.csv", top={"coverage": {"source": "towers"}}
    )
    fourg = rows(towers_only, "cellular_4g")
    assert list(fourg["eligible"]) == [False, False, True] and fourg.loc["o2", "anchor_id"] == "T"
    either = rows(scenario(tmp_path, office, coverage=cov, towers=tmp_path / "towers.csv"), "cellular_4g")
    assert either["eligible"].all()
    assert list(either["anchor_id"]) == ["cov.geojson#2", "cov.geojson#2", "T"]


def test_the_fastest_polygon_wins_and_a_named_technology_counts(tmp_path: Path) -> None:
    small = [[[-0.01, -0.01], [0.01, -0.01], [0.01, 0.01], [-0.01, 0.01], [-0.01, -0.01]]]
    cov = write_geojson(
        tmp_path / "cov.geojson",
        [
            feature(SQUARE, technology="cellular_4g", mbps=10),
            feature([SQUARE, [[[1, 1], [1.1, 1], [1.1, 1.1], [1, 1]]]], kind="MultiPolygon", technology="LTE", mbps=40),
            feature(small, technology="4G"),
        ],
    )
    fourg = rows(scenario(tmp_path, offices([0.0, 1.05], [0.0, 1.08]), coverage=cov), "cellular_4g")
    assert list(fourg["anchor_id"]) == ["cov.geojson#2", "cov.geojson#2"]


@pytest.mark.parametrize(
    "bad, column, text",
    [
        (
            feature([[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]], technology="4G"),
            "geometry",
            "invalid polygon (Self-intersection",
        ),
        (
            feature([0.0, 0.0], kind="Point", technology="4G"),
            "geometry",
            "expected a Polygon or MultiPolygon, got Point",
        ),
        (feature(SQUARE, technology="wifi"), "technology", "technology 'wifi' is neither a generation"),
        (feature(SQUARE), "technology", "no technology or generation property"),
        (feature(SQUARE, generation=7), "technology", "generation '7' is not 2, 3, 4 or 5"),
        (feature(SQUARE, technology="4G", mbps="fast"), "mbps", "mbps 'fast' is not a positive number"),
        (feature([[["a", 0]]], technology="4G"), "geometry", "geometry cannot be read"),
        ("a string", "geometry", "expected a Feature object, got str"),
    ],
)
def test_a_bad_feature_is_reported_by_its_number(tmp_path: Path, bad: Any, column: str, text: str) -> None:
    cov = write_geojson(tmp_path / "cov.geojson", [feature(SQUARE, technology="4G"), bad])
    with pytest.raises(InputError) as err:
        prepare(load_scenario(scenario(tmp_path, offices([0.0], [0.0]), coverage=cov)))
    (issue,) = err.value.issues
    assert issue.row == 2 and issue.column == column and text in issue.message and issue.file.endswith("cov.geojson")


def test_coverage_polygons_from_a_geopackage_whose_name_has_hash_and_percent(tmp_path: Path) -> None:
    """A GeoPackage (its geometry blobs: 'GP' header, envelope, WKB) at 'a#b %41.gpkg' is read as that file."""
    path = tmp_path / "a#b %41.gpkg"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT)")
        con.execute("INSERT INTO gpkg_geometry_columns VALUES ('coverage', 'geom')")
        con.execute("CREATE TABLE coverage (fid INTEGER PRIMARY KEY, geom BLOB, generation INTEGER, operator TEXT)")
        poly = shapely.Polygon(SQUARE[0])
        envelope = struct.pack("<4d", *poly.bounds)
        blob = b"GP\x00" + bytes([0b00000011]) + struct.pack("<i", 4326) + envelope + shapely.to_wkb(poly)
        con.execute("INSERT INTO coverage VALUES (1, ?, 4, 'Op B')", (blob,))
    (tmp_path / "A.gpkg").write_bytes(b"not this one")  # what 'a#b %41' would name if the % were decoded
    fourg = rows(scenario(tmp_path, offices([0.0, 1.0], [0.0, 1.0]), coverage=path), "cellular_4g")
    assert list(fourg["eligible"]) == [True, False] and fourg.loc["o0", "anchor_id"] == "a#b %41.gpkg#1"


def test_polygons_need_a_layer_and_validate_reports_each_source(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises((InputError, ValidationError), match=r"coverage\.source polygons needs data\.coverage"):
        load_scenario(scenario(tmp_path, offices([0.0], [0.0]), top={"coverage": {"source": "polygons"}}))
    cov = write_geojson(tmp_path / "cov.geojson", [feature(SQUARE, technology="4G")])
    pd.DataFrame({"tower_id": ["T"], "lat": [0.0], "lon": [0.15], "generation": [4], "range_km": [20]}).to_csv(
        tmp_path / "towers.csv", index=False
    )
    path = scenario(tmp_path, offices([0.0, 0.0, 5.0], [0.0, 0.3, 5.0]), coverage=cov, towers=tmp_path / "towers.csv")
    out = CliRunner().invoke(app, ["validate", str(path)])
    assert out.exit_code == 0, out.output
    facts = json.loads(out.output[out.output.index("{") :])
    assert facts["reach"]["coverage"]["cellular_4g"] == {
        "source": "either", "in_polygons": 1, "in_tower_radius": 2, "in_both": 1, "reached_by_the_rule": 2
    }  # fmt: skip
    assert facts["reach"]["line_of_sight"] == "not checked (no data.elevation)"


# --------------------------------------------------------------------------------------------- radio hops
def test_a_hop_ends_at_backhaul_and_is_not_a_few_metres_long(tmp_path: Path) -> None:
    """o0: a 3G tower without backhaul at 2 km and a backhauled one at 6 km: the hop goes to the far one.
    o1: only a fibre node 0.2 km away (shorter than the 0.5 km shortest hop). o2: a 4G tower at 3 km with no
    backhaul column given: 4G sites count as backhauled."""
    pd.DataFrame(
        {"tower_id": ["T3", "T3b"], "lat": [0.018, -0.054], "lon": [0.0, 0.0], "generation": [3, 3],
         "range_km": [5, 5], "backhaul": ["no", "yes"]}
    ).to_csv(tmp_path / "towers.csv", index=False)  # fmt: skip
    pd.DataFrame({"node_id": ["F"], "lat": [5.0], "lon": [5.0018]}).to_csv(tmp_path / "nodes.csv", index=False)
    mw = rows(
        scenario(tmp_path, offices([0.0, 5.0], [0.0, 5.0]), towers=tmp_path / "towers.csv",
                 fibre_nodes=tmp_path / "nodes.csv"),
        "microwave",
    )  # fmt: skip
    assert mw.loc["o0", "eligible"] and mw.loc["o0", "anchor_id"] == "T3b"
    assert mw.loc["o0", "distance_km"] == pytest.approx(0.054 * 111.19, rel=1e-3)
    assert not mw.loc["o1", "eligible"]
    assert mw.loc["o1", "reason"].startswith("every fibre node or backhauled tower (3G+) within 30 km is nearer than")
    pd.DataFrame({"tower_id": ["T4"], "lat": [0.027], "lon": [0.0], "generation": [4], "range_km": [5]}).to_csv(
        tmp_path / "towers.csv", index=False
    )
    mw = rows(scenario(tmp_path, offices([0.0], [0.0]), towers=tmp_path / "towers.csv"), "microwave")
    assert mw.loc["o0", "eligible"] and mw.loc["o0", "anchor_id"] == "T4"


def test_a_bad_backhaul_value_is_located(tmp_path: Path) -> None:
    pd.DataFrame(
        {"tower_id": ["T"], "lat": [0.0], "lon": [0.0], "generation": [4], "range_km": [5], "backhaul": ["maybe"]}
    ).to_csv(tmp_path / "towers.csv", index=False)
    with pytest.raises(InputError) as err:
        prepare(load_scenario(scenario(tmp_path, offices([0.0], [0.0]), towers=tmp_path / "towers.csv")))
    (issue,) = err.value.issues
    assert issue.row == 2 and issue.column == "backhaul" and "'maybe' is not allowed" in issue.message


# --------------------------------------------------------------------------------------------- line of sight
def test_fresnel_zone_and_earth_bulge_by_hand() -> None:
    """A 20 km hop at 7 GHz, at its middle: F1 = 17.32·sqrt(10·10/(7·20)) = 14.638 m; bulge (k = 4/3) =
    10·10/(12.742·4/3) = 5.886 m."""
    assert fresnel_radius_m(np.array([10.0]), np.array([10.0]), 7.0)[0] == pytest.approx(14.638, abs=1e-3)
    assert earth_bulge_m(np.array([10.0]), np.array([10.0]), 4 / 3)[0] == pytest.approx(5.886, abs=1e-3)
    assert fresnel_radius_m(np.array([0.0]), np.array([20.0]), 7.0)[0] == 0


def flat_grid(height: float, bump: float = 0.0, bump_lat: tuple[float, float] = (0, 0)) -> ElevationGrid:
    """0.001° cells over lat -0.01..0.2, lon -0.01..0.01; rows between ``bump_lat`` raised by ``bump`` m."""
    lats = 0.2 - (np.arange(210) + 0.5) * 0.001
    values = np.full((210, 20), height)
    values[(lats >= bump_lat[0]) & (lats <= bump_lat[1]), :] += bump
    return ElevationGrid(values, -0.01, 0.2, 0.001, -0.001)


def test_line_of_sight_margin_by_hand() -> None:
    """Flat ground, a 0.18° (20.01 km) hop between two 20 m masts: the ray is 20 m up all along, and the earth's
    bulge plus 60 % of F1 is largest at the middle, 5.893 + 0.6 · 14.645 = 14.680 m: clear by 5.32 m there. A 6 m
    rise across the middle blocks it by 0.68 m. A hop leaving the raster is not judged clear."""
    d = 0.18 * 111.19493
    need = (
        earth_bulge_m(np.array([d / 2]), np.array([d / 2]), 4 / 3)[0]
        + 0.6 * fresnel_radius_m(np.array([d / 2]), np.array([d / 2]), 7.0)[0]
    )
    args = {"antenna_a_m": 20.0, "antenna_b_m": 20.0, "frequency_ghz": 7.0, "k_factor": 4 / 3, "clearance": 0.6,
            "step_m": 100.0}  # fmt: skip
    flat = line_of_sight(flat_grid(100.0), [0.0], [0.0], [0.0], [0.18], **args)
    assert flat.clear[0] and flat.known[0]
    assert flat.worst_m[0] == pytest.approx(20.0 - need, abs=0.05)
    assert flat.worst_km[0] == pytest.approx(d / 2, abs=0.2)
    ridge = line_of_sight(flat_grid(100.0, 6.0, (0.085, 0.095)), [0.0], [0.0], [0.0], [0.18], **args)
    assert not ridge.clear[0] and ridge.worst_m[0] == pytest.approx(20.0 - need - 6.0, abs=0.05)
    outside = line_of_sight(flat_grid(100.0), [0.0], [0.0], [0.0], [0.5], **args)
    assert not outside.clear[0] and not outside.known[0]


def write_raster(path: Path, grid: ElevationGrid) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    rows_, cols = grid.values.shape
    transform = from_origin(grid.lon0, grid.lat0, grid.dlon, -grid.dlat)
    with rasterio.open(path, "w", driver="GTiff", height=rows_, width=cols, count=1, dtype="float32",
                       crs="EPSG:4326", transform=transform, nodata=-9999) as dst:  # fmt: skip
        dst.write(grid.values.astype("float32"), 1)
    return path


@pytest.mark.parametrize("terrain, clear", [("ridge", False), ("valley", True)])
def test_a_ridge_blocks_the_hop_and_a_valley_clears_it(tmp_path: Path, terrain: str, clear: bool) -> None:
    """The office at (0, 0), its only backhaul a fibre node 20 km north. A 300 m ridge across the middle blocks
    the hop; a 300 m deep valley there clears it (a 20 m rise would block a flat path no more than the ridge)."""
    pytest.importorskip("rasterio")
    grid = flat_grid(500.0, 300.0 if terrain == "ridge" else -300.0, (0.07, 0.11))
    raster = write_raster(tmp_path / "dem.tif", grid)
    pd.DataFrame({"node_id": ["F"], "lat": [0.18], "lon": [0.0]}).to_csv(tmp_path / "nodes.csv", index=False)
    path = scenario(tmp_path, offices([0.0], [0.0]), fibre_nodes=tmp_path / "nodes.csv", elevation=raster)
    prepared = prepare(load_scenario(path))
    mw = prepared.options.set_index("technology").loc["microwave"]
    assert bool(mw["eligible"]) is clear
    if not clear:
        assert mw["reason"].startswith("no line of sight to the 1 nearest fibre node")
        assert "blocked" in mw["reason"] and "60% of the Fresnel zone" in mw["reason"]
    plan = solve_prepared(prepared)
    assert plan.summary["line_of_sight"].startswith("checked on") and "dem.tif" in plan.summary["line_of_sight"]


def test_without_a_raster_line_of_sight_is_not_checked(tmp_path: Path) -> None:
    pd.DataFrame({"node_id": ["F"], "lat": [0.18], "lon": [0.0]}).to_csv(tmp_path / "nodes.csv", index=False)
    plan = solve_prepared(
        prepare(load_scenario(scenario(tmp_path, offices([0.0], [0.0]), fibre_nodes=tmp_path / "nodes.csv")))
    )
    assert plan.summary["line_of_sight"] == "not checked (no data.elevation)"


def test_a_file_that_is_not_a_raster_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("rasterio")
    (tmp_path / "dem.tif").write_bytes(b"not a tiff")
    with pytest.raises(InputError, match="not a readable elevation raster"):
        prepare(load_scenario(scenario(tmp_path, offices([0.0], [0.0]), elevation=tmp_path / "dem.tif")))


def test_relays_respect_the_hop_rules(tmp_path: Path) -> None:
    """Shared infrastructure, the fibre node 40 km north (beyond the 30 km hop, within fibre's 50 km): each office
    may relay through another that takes fibre in the plan, but o0 and o2, 0.3 km apart, are too close for a
    radio hop; o1 is 5.6 km from o0 and 5.9 km from o2."""
    pd.DataFrame({"node_id": ["F"], "lat": [0.36], "lon": [0.0]}).to_csv(tmp_path / "nodes.csv", index=False)
    path = scenario(tmp_path, offices([0.0, 0.05, -0.0027], [0.0, 0.0, 0.0]), fibre_nodes=tmp_path / "nodes.csv",
                    top={"infrastructure": {"shared_fibre": True, "radio_relays": True}})  # fmt: skip
    infra = prepare(load_scenario(path)).data.infra
    assert infra is not None
    pairs = set(zip(infra.relays["office_id"], infra.relays["hub_office_id"], strict=True))
    assert {("o1", "o0"), ("o0", "o1"), ("o2", "o1"), ("o1", "o2")} <= pairs
    assert ("o2", "o0") not in pairs and ("o0", "o2") not in pairs


# --------------------------------------------------------------------------------------------- OpenCellID
OCID = Path(__file__).parent / "data" / "opencellid_sample.csv"


def test_opencellid_cells_are_merged_into_sites_and_give_4g_reach(tmp_path: Path) -> None:
    """The sample (real OpenCellID layout): eNodeB 100001 (cells 25600257-9 = 100001·256 + 1..3) with operator
    404-10's GSM cell 3111 on the same mast 40 m away is one 4G site; eNodeB 100002's two cells 385 m apart are
    one site by their eNodeB; 404-10's GSM cells 3112/3113 (85 m apart) are one 2G site; operator 404-20's UMTS cell
    there is a site of its own. An office 2 km from the first site is 4G-covered by it (range 3.5 km)."""
    from planner.data import read_towers

    sites = read_towers(OCID).set_index("tower_id")
    assert len(sites) == 4
    assert sites["cells"].to_dict() == {"404-10-1101-3111": 4, "404-10-1101-25600513": 2,
                                        "404-10-1102-3113": 2, "404-20-1102-77001": 1}  # fmt: skip
    first = sites.loc["404-10-1101-3111"]  # the most measured cell (60 samples) names the site
    assert first["generation"] == 4 and first["range_km"] == 5.0 and bool(first["backhaul"])
    weights = np.array([40, 10, 25, 60])
    assert first["lat"] == pytest.approx(np.average([30.1001, 30.1004, 30.0998, 30.1000], weights=weights))
    assert first["lon"] == pytest.approx(np.average([79.0801, 79.0806, 79.0799, 79.0805], weights=weights))
    assert sites.loc["404-10-1102-3113", "generation"] == 2 and not sites.loc["404-10-1102-3113", "backhaul"]
    assert sites.loc["404-20-1102-77001", "lat"] == 30.3001  # one cell: its own position, exactly
    fourg = rows(scenario(tmp_path, offices([30.118, 30.3], [79.08, 79.3]), towers=OCID), "cellular_4g")
    assert fourg.loc["o0", "eligible"] and fourg.loc["o0", "anchor_id"] == "404-10-1101-3111"
    assert not fourg.loc["o1", "eligible"]  # 2G and 3G sites only
