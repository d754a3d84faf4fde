"""Geographic layers beside the tables: published cellular coverage polygons and elevation rasters.

Operators and regulators publish coverage as maps: one (Multi)Polygon per operator and generation. This module
reads such a layer (GeoJSON or GeoPackage, WGS 84 longitude/latitude), checks every feature (an invalid geometry
is reported by its feature number, never dropped) and finds, with shapely's STRtree, the polygons each office
lies in (on the boundary counts as inside). Costing turns the result into 4G eligibility, with the layer and
feature that cover the office as the option's anchor.

A feature's properties: ``technology`` (a catalogue technology, or 2G/3G/4G/LTE/5G/NR) or ``generation``
(2–5), optional ``operator`` (text) and ``mbps`` (the speed advertised there, Mbps). A generation reaches every
catalogue technology that uses towers' radii (``reach.use_tower_range``) and asks for at most that generation.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from planner.data import Inputs, check_regular_file, geojson_features
from planner.errors import InputError, Issue
from planner.scenario import Scenario, Technology
from planner.terrain import ElevationGrid

GENERATION_NAMES = {"2G": 2, "GSM": 2, "3G": 3, "UMTS": 3, "4G": 4, "LTE": 4, "5G": 5, "NR": 5}
MAX_ISSUES = 20
COVERED_COLUMNS = ["office_id", "technology", "layer", "feature", "operator", "mbps"]


@dataclass
class CoverageLayer:
    """The features of one coverage file, in file order (``feature``: 1-based number in the file)."""

    file: str
    geometry: np.ndarray  # shapely (Multi)Polygons
    feature: np.ndarray  # int, 1-based
    technology: np.ndarray  # str: a catalogue technology, or "" when the feature gives a generation
    generation: np.ndarray  # int: 2..5, or 0 when the feature names a technology
    operator: np.ndarray  # str
    mbps: np.ndarray  # float, NaN when not given

    def __len__(self) -> int:
        return len(self.feature)


def read_coverage(path: Path, technologies: Mapping[str, Technology]) -> CoverageLayer:
    """Read and check a coverage layer (GeoJSON or GeoPackage) against the catalogue's technologies."""
    check_regular_file(path)
    records = _geopackage_records(path) if path.suffix.lower() == ".gpkg" else _geojson_records(path)
    return _layer(str(path), records, technologies)


def _geojson_records(path: Path) -> list[tuple[int, Any, dict[str, Any]]]:
    """(feature number, shapely geometry or an error text, properties) of every feature of a GeoJSON file."""
    out: list[tuple[int, Any, dict[str, Any]]] = []
    for n, feature in enumerate(geojson_features(path, "coverage polygons"), start=1):
        if not isinstance(feature, dict):
            out.append((n, f"expected a Feature object, got {type(feature).__name__}", {}))
            continue
        props = feature.get("properties") or {}
        geom = feature.get("geometry")
        if not isinstance(props, dict):
            out.append((n, "properties must be an object", {}))
            continue
        if not isinstance(geom, dict):
            out.append((n, "geometry must be a Polygon or MultiPolygon object", props))
            continue
        try:
            shape = shapely.geometry.shape(geom)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
            out.append((n, f"geometry cannot be read ({type(exc).__name__}: {str(exc)[:80]})", props))
            continue
        out.append((n, shape, props))
    return out


def _gpkg_wkb(blob: bytes) -> bytes:
    """The WKB of a GeoPackage geometry blob: 'GP', version, flags (envelope size in bits 1-3), srs id, envelope."""
    if len(blob) < 8 or blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((blob[3] >> 1) & 0x07)
    if envelope is None:
        raise ValueError("unknown envelope code in the GeoPackage geometry header")
    return blob[8 + envelope :]


def _geopackage_records(path: Path) -> list[tuple[int, Any, dict[str, Any]]]:
    """(row number, geometry or an error text, properties) of the first feature table of a GeoPackage."""
    file = str(path)
    # A file: URI (percent-encoded by pathlib) opens exactly this file read-only, whatever '#', '%' or '?' its
    # name holds.
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True) as con:
            found = con.execute(
                "SELECT table_name, column_name FROM gpkg_geometry_columns ORDER BY table_name LIMIT 1"
            ).fetchone()
            if found is None:
                raise InputError(Issue(file, None, None, "the GeoPackage has no feature table"))
            table, column = found
            cur = con.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
    except sqlite3.DatabaseError as exc:
        raise InputError(Issue(file, None, None, f"not a readable GeoPackage ({exc})")) from None
    out: list[tuple[int, Any, dict[str, Any]]] = []
    for n, row in enumerate(rows, start=1):
        props = {k: v for k, v in zip(names, row, strict=True) if k != column}
        blob = row[names.index(column)]
        try:
            shape = shapely.from_wkb(_gpkg_wkb(bytes(blob)))
        except (ValueError, TypeError, struct.error, shapely.errors.ShapelyError) as exc:
            out.append((n, f"geometry cannot be read ({str(exc)[:80]})", props))
            continue
        out.append((n, shape, props))
    return out


def _layer(
    file: str, records: list[tuple[int, Any, dict[str, Any]]], technologies: Mapping[str, Technology]
) -> CoverageLayer:
    """Check every feature; any problem stops the run, listed by feature number (the first MAX_ISSUES)."""
    radio = sorted(k for k, t in technologies.items() if t.reach.use_tower_range)
    issues: list[Issue] = []
    geoms, numbers, techs, gens, operators, speeds = [], [], [], [], [], []
    for n, shape, props in records:
        where = f"feature {n}"
        if isinstance(shape, str):
            issues.append(Issue(file, n, "geometry", f"{where}: {shape}"))
            continue
        if shape is None or shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
            kind = "empty" if shape is not None and shape.is_empty else getattr(shape, "geom_type", None)
            issues.append(Issue(file, n, "geometry", f"{where}: expected a Polygon or MultiPolygon, got {kind}"))
            continue
        if not shape.is_valid:
            text = (f"{where}: invalid polygon ({shapely.is_valid_reason(shape)}); repair it in a GIS (e.g. "
                    "'Fix geometries' or shapely.make_valid)")  # fmt: skip
            issues.append(Issue(file, n, "geometry", text))
            continue
        tech, gen, problem = _feature_technology(props, radio)
        if problem:
            issues.append(Issue(file, n, "technology", f"{where}: {problem}"))
            continue
        mbps = props.get("mbps")
        speed = math.nan
        if mbps not in (None, ""):
            try:
                speed = float(mbps)
            except (TypeError, ValueError):
                speed = -1.0
            if not (speed > 0 and math.isfinite(speed)):
                issues.append(Issue(file, n, "mbps", f"{where}: mbps '{mbps}' is not a positive number of Mbps"))
                continue
        geoms.append(shape)
        numbers.append(n)
        techs.append(tech)
        gens.append(gen)
        operators.append("" if props.get("operator") is None else str(props["operator"]))
        speeds.append(speed)
    if issues:
        more = len(issues) - MAX_ISSUES
        shown = issues[:MAX_ISSUES]
        if more > 0:
            shown.append(Issue(file, None, None, f"... and {more} more problems in this file"))
        raise InputError(shown)
    if not geoms:
        raise InputError(Issue(file, None, None, "the coverage layer has no polygon"))
    return CoverageLayer(
        file,
        np.array(geoms, dtype=object),
        np.array(numbers, dtype=np.int64),
        np.array(techs, dtype=object),
        np.array(gens, dtype=np.int64),
        np.array(operators, dtype=object),
        np.array(speeds, dtype=float),
    )


def _feature_technology(props: dict[str, Any], radio: list[str]) -> tuple[str, int, str]:
    """(technology, generation, problem) of one feature's properties; exactly one of the first two is set."""
    tech = props.get("technology")
    gen = props.get("generation")
    if tech not in (None, ""):
        name = str(tech).strip()
        if name.upper() in GENERATION_NAMES:
            return "", GENERATION_NAMES[name.upper()], ""
        if name in radio:
            return name, 0, ""
        return "", 0, (f"technology '{name}' is neither a generation (2G, 3G, 4G/LTE, 5G/NR) nor a catalogue "
                       f"technology reached through coverage ({', '.join(radio) or 'none'})")  # fmt: skip
    if gen not in (None, ""):
        text = str(gen).strip().upper().removesuffix("G")
        if text.isdigit() and 2 <= int(text) <= 5:
            return "", int(text), ""
        return "", 0, f"generation '{gen}' is not 2, 3, 4 or 5"
    return "", 0, "no technology or generation property: say which network the polygon covers"


def covered_offices(
    layer: CoverageLayer, offices: pd.DataFrame, technologies: Mapping[str, Technology]
) -> pd.DataFrame:
    """Which polygon covers each (office, technology): the fastest (highest ``mbps``), else the first in the file.

    Columns ``office_id, technology, layer, feature, operator, mbps``; one row per covered pair. A generation
    polygon covers every technology that uses towers' radii and needs at most that generation.
    """
    if len(offices) == 0 or len(layer) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COVERED_COLUMNS})
    points = shapely.points(offices["lon"].to_numpy(float), offices["lat"].to_numpy(float))
    tree = shapely.STRtree(layer.geometry)
    office, feat = tree.query(points, predicate="intersects")  # inside or on the boundary
    parts = []
    for name, tech in technologies.items():
        if not tech.reach.use_tower_range:
            continue
        need = tech.reach.min_tower_generation or 2
        fits = (layer.technology[feat] == name) | ((layer.generation[feat] >= need) & (layer.technology[feat] == ""))
        o, f = office[fits], feat[fits]
        if not len(o):
            continue
        speed = np.nan_to_num(layer.mbps[f], nan=-1.0)
        order = np.lexsort((layer.feature[f], -speed, o))  # per office: fastest, then first in the file
        o, f = o[order], f[order]
        first = np.r_[True, o[1:] != o[:-1]]
        o, f = o[first], f[first]
        parts.append(
            pd.DataFrame(
                {
                    "office_id": offices["office_id"].to_numpy()[o],
                    "technology": name,
                    "layer": Path(layer.file).name,
                    "feature": layer.feature[f],
                    "operator": layer.operator[f],
                    "mbps": layer.mbps[f],
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COVERED_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def read_elevation(path: Path) -> ElevationGrid:
    """An elevation raster (GeoTIFF or any format rasterio reads; band 1, metres) as a lon/lat grid.

    A raster in another CRS is reprojected to WGS 84 (bilinear). Needs rasterio: the ``terrain`` extra.
    """
    check_regular_file(path)
    file = str(path)
    try:
        import rasterio
        from rasterio.warp import Resampling, calculate_default_transform, reproject
    except ImportError:
        text = "reading an elevation raster needs rasterio: pip install 'connect-post-planner[terrain]'"
        raise InputError(Issue(file, None, None, text)) from None
    try:
        with rasterio.open(path) as src:
            values = src.read(1, masked=True).astype(float).filled(np.nan)
            transform, crs = src.transform, src.crs
            if crs is not None and not crs.is_geographic:
                dst_transform, width, height = calculate_default_transform(
                    crs, "EPSG:4326", src.width, src.height, *src.bounds
                )
                out = np.full((height, width), np.nan)
                reproject(values, out, src_transform=transform, src_crs=crs, dst_transform=dst_transform,
                          dst_crs="EPSG:4326", resampling=Resampling.bilinear, src_nodata=np.nan,
                          dst_nodata=np.nan)  # fmt: skip
                values, transform = out, dst_transform
    except rasterio.errors.RasterioError as exc:
        raise InputError(Issue(file, None, None, f"not a readable elevation raster ({str(exc)[:200]})")) from None
    if transform.b != 0 or transform.d != 0:
        raise InputError(Issue(file, None, None, "the raster is rotated: warp it north-up (e.g. gdalwarp) first"))
    if values.size == 0 or not np.isfinite(values).any():
        raise InputError(Issue(file, None, None, "the raster holds no elevation value"))
    return ElevationGrid(values, transform.c, transform.f, transform.a, transform.e, file)


def load_layers(scenario: Scenario, technologies: Mapping[str, Technology], inputs: Inputs) -> Inputs:
    """The inputs with the scenario's coverage polygons (offices covered) and elevation raster attached."""
    issues: list[Issue] = []
    coverage, elevation = None, None
    if scenario.data.coverage is not None and scenario.coverage.source != "towers":
        try:
            layer = read_coverage(scenario.data.coverage, technologies)
            coverage = covered_offices(layer, inputs.planned, technologies)
        except InputError as exc:
            issues.extend(exc.issues)
    if scenario.data.elevation is not None:
        try:
            elevation = read_elevation(scenario.data.elevation)
        except InputError as exc:
            issues.extend(exc.issues)
    if issues:
        raise InputError(issues)
    return replace(inputs, coverage=coverage, elevation=elevation)
