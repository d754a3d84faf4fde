"""Read and validate the input files (DESIGN §3). The only module that reads user data files.

Every rejected value becomes an :class:`~planner.errors.Issue` naming file, row, column and what was expected;
all issues of a file are collected before one :class:`~planner.errors.InputError` is raised, so a user fixes
them in one pass. Rows are either used or reported: nothing is dropped silently.

Row numbers: for CSV the line number in the file (the header is row 1, the first data row is row 2); for
GeoJSON the 1-based feature number; for GeoPackage the 1-based row of the feature table.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import os
import sqlite3
import stat
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InputError, Issue
from planner.geo import PointIndex
from planner.scenario import SERVICES, Scenario
from planner.terrain import ElevationGrid

STATUSES = ("unconnected", "underserved", "connected")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
_OPENCELLID = ["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples", "changeable",
               "created", "updated", "averageSignal"]  # fmt: skip
_RADIO_GENERATION = {"GSM": 2, "CDMA": 2, "UMTS": 3, "LTE": 4, "NR": 5}


@dataclass(frozen=True)
class Column:
    """How one column is parsed and checked."""

    name: str
    kind: str  # "str" | "float" | "int" | "bool" | "choice" | "services"
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    expected: str = ""


OFFICE_COLUMNS = (
    Column("office_id", "str", required=True, expected="a non-empty unique id"),
    Column("lat", "float", required=True, min=-90, max=90, expected="latitude in degrees, -90..90"),
    Column("lon", "float", required=True, min=-180, max=180, expected="longitude in degrees, -180..180"),
    Column("population", "float", required=True, min=0, expected="people served, a number >= 0"),
    Column("name", "str", default=""),
    Column("country", "str", default=""),
    Column("region", "str", default="all"),
    Column("community", "str", default=None),
    Column("status", "choice", default="unconnected", choices=STATUSES),
    Column("current_mbps", "float", default=0.0, min=0, expected="Mbps, a number >= 0"),
    Column("grid_power", "bool", default=True, expected="true or false"),
    Column("services", "services", default="mail"),
    Column("priority", "float", default=1.0, min=0, expected="a weight >= 0"),
)
NODE_COLUMNS = (
    Column("node_id", "str", required=True, expected="a non-empty unique id"),
    Column("lat", "float", required=True, min=-90, max=90, expected="latitude in degrees, -90..90"),
    Column("lon", "float", required=True, min=-180, max=180, expected="longitude in degrees, -180..180"),
    Column("name", "str", default=""),
)
TOWER_COLUMNS = (
    Column("tower_id", "str", required=True, expected="a non-empty unique id"),
    Column("lat", "float", required=True, min=-90, max=90, expected="latitude in degrees, -90..90"),
    Column("lon", "float", required=True, min=-180, max=180, expected="longitude in degrees, -180..180"),
    Column("generation", "int", required=True, min=2, max=5, expected="2, 3, 4 or 5 (G)"),
    Column("range_km", "float", required=True, min=0, max=100, expected="coverage radius in km, 0..100"),
    Column("backhaul", "choice", default="", choices=("true", "false", "yes", "no", "1", "0")),
)
BACKHAUL_FROM_GENERATION = 4
"""Towers whose ``backhaul`` is not given: of this generation or later they are taken as backhauled (an IP site)."""
OPTION_COLUMNS = (
    Column("office_id", "str", required=True, expected="an office_id of the offices file"),
    Column("technology", "str", required=True, expected="a technology of the catalogue"),
    Column("capex_usd", "float", required=True, min=0, expected="USD, a number >= 0"),
    Column("opex_usd_per_year", "float", required=True, min=0, expected="USD/year, a number >= 0"),
    Column("mbps", "float", default=None, min=0, expected="Mbps, a number >= 0"),
)


@dataclass
class Inputs:
    """All validated input tables of a scenario."""

    offices: pd.DataFrame
    fibre_nodes: pd.DataFrame
    towers: pd.DataFrame
    quotes: pd.DataFrame | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)
    roads: pd.DataFrame | None = None  # segments: road_id, lat0, lon0, lat1, lon1 (see read_roads)
    coverage: pd.DataFrame | None = None  # planned offices inside coverage polygons (planner.layers.covered_offices)
    elevation: ElevationGrid | None = None  # ground heights for microwave line of sight (planner.layers)

    @property
    def planned(self) -> pd.DataFrame:
        """Offices to plan: unconnected and underserved."""
        return self.offices[self.offices["status"] != "connected"]


# --------------------------------------------------------------------------------------------- parsing
def _parse_cell(raw: str, col: Column) -> tuple[Any, str | None]:
    """Parse one cell; return (value, error message or None). Empty cells take the default."""
    text = raw.strip()
    if text == "":
        if col.required:
            return None, f"empty; expected {col.expected or 'a value'}"
        return col.default, None
    if col.kind == "str":
        return text, None
    if col.kind in ("float", "int"):
        try:
            value = float(text)
        except ValueError:
            return None, f"'{text}' is not a number; expected {col.expected}"
        if not math.isfinite(value):
            return None, f"'{text}' is not finite; expected {col.expected}"
        if col.kind == "int":
            if value != int(value):
                return None, f"'{text}' is not a whole number; expected {col.expected}"
            value = int(value)
        if (col.min is not None and value < col.min) or (col.max is not None and value > col.max):
            return None, f"{text} is out of range; expected {col.expected}"
        return value, None
    if col.kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True, None
        if low in _FALSE:
            return False, None
        return None, f"'{text}' is not a boolean; expected {col.expected}"
    if col.kind == "choice":
        low = text.lower()
        if low not in col.choices:
            return None, f"'{text}' is not allowed; expected one of {', '.join(col.choices)}"
        return low, None
    if col.kind == "services":
        items = [s.strip().lower() for s in text.split(";") if s.strip()]
        bad = [s for s in items if s not in SERVICES]
        if bad:
            return (
                None,
                f"unknown service(s) {', '.join(bad)}; expected ';'-separated from {', '.join(SERVICES)}",
            )
        return ";".join(dict.fromkeys(items)) or col.default, None
    raise AssertionError(col.kind)


def header_issues(raw: pd.DataFrame, columns: Iterable[Column], file: str) -> list[Issue]:
    """Header problems that would silently lose data.

    A column given twice (the reader renames the second ``lat.1``), or an unknown column close to a known one
    (``grid_powr``: every office would get the default grid power).
    """
    known = [c.name for c in columns]
    names = [str(c) for c in raw.columns]
    issues = []
    for name in names:
        base, _, suffix = name.rpartition(".")
        if suffix.isdigit() and base in names:
            issues.append(Issue(file, 1, base, f"column '{base}' appears more than once in the header: keep one"))
        elif name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
            if close:
                issues.append(Issue(file, 1, name, f"unknown column '{name}': did you mean '{close[0]}'?"))
    return issues


def validate_table(
    raw: pd.DataFrame,
    columns: Iterable[Column],
    file: str,
    row_of: Callable[[int], int],
    id_column: str | None,
) -> tuple[pd.DataFrame, list[Issue]]:
    """Type and range-check a table of strings. Returns the typed table and every issue found.

    Columns not in ``columns`` are kept as text. ``row_of(i)`` maps a 0-based record to the row users see.
    """
    columns = list(columns)
    issues: list[Issue] = header_issues(raw, columns, file)
    if issues:
        return raw, issues
    missing = [c.name for c in columns if c.required and c.name not in raw.columns]
    if missing:
        found = ", ".join(map(str, raw.columns)) or "none"
        return raw, [Issue(file, None, m, f"required column is missing (columns found: {found})") for m in missing]
    out = raw.copy()
    bad_rows: set[int] = set()
    for col in columns:
        if col.name not in raw.columns:
            out[col.name] = col.default
            continue
        values = []
        for i, cell in enumerate(raw[col.name].tolist()):
            value, err = _parse_cell("" if cell is None else str(cell), col)
            if err:
                issues.append(Issue(file, row_of(i), col.name, err))
                bad_rows.add(i)
            values.append(value)
        out[col.name] = pd.Series(values, index=raw.index, dtype=object)
    if id_column is not None:
        ids = out[id_column].astype(str)
        first: dict[str, int] = {}
        for i, value in enumerate(ids.tolist()):
            if i in bad_rows:
                continue
            if value in first:
                issues.append(
                    Issue(
                        file,
                        row_of(i),
                        id_column,
                        f"duplicate id '{value}' (first seen in row {first[value]})",
                    )
                )
            else:
                first[value] = row_of(i)
    if not issues:
        for col in columns:
            if col.kind == "float":
                out[col.name] = pd.to_numeric(out[col.name], errors="coerce").astype(float)
            elif col.kind == "int":
                out[col.name] = out[col.name].astype(int)
            elif col.kind == "bool":
                out[col.name] = out[col.name].astype(bool)
    return out, issues


# --------------------------------------------------------------------------------------------- file formats
def _read_csv_strings(path: Path) -> pd.DataFrame:
    """The CSV as text; the index holds each record's line number (header = 1), blank lines skipped."""
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig", skip_blank_lines=False
        )
        blank = (frame == "").all(axis=1) if len(frame.columns) else pd.Series(False, index=frame.index)
        frame = frame[~blank]
        frame.index = frame.index + 2
        return frame
    except FileNotFoundError:
        raise InputError(Issue(str(path), None, None, "file not found")) from None
    except pd.errors.EmptyDataError:
        raise InputError(Issue(str(path), None, None, "file is empty; expected a header row and data rows")) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(Issue(str(path), None, None, f"not a readable CSV file: {exc}")) from None


def _read_geojson_points(path: Path) -> pd.DataFrame:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(Issue(str(path), exc.lineno, None, f"not valid JSON: {exc.msg}")) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InputError(Issue(str(path), None, None, "expected a GeoJSON FeatureCollection"))
    records, issues = [], []
    features = doc.get("features") or []
    if not isinstance(features, list):
        raise InputError(Issue(str(path), None, "features", "expected 'features' to be a list of Feature objects"))
    for n, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            issues.append(
                Issue(str(path), n, None, f"feature {n}: expected a Feature object, got {type(feature).__name__}")
            )
            continue
        raw_props = feature.get("properties") or {}
        geom = feature.get("geometry") or {}
        if not isinstance(raw_props, dict) or not isinstance(geom, dict):
            issues.append(Issue(str(path), n, None, f"feature {n}: properties and geometry must be objects"))
            continue
        props = dict(raw_props)
        coords = geom.get("coordinates")
        if geom.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            issues.append(Issue(str(path), n, "geometry", f"expected a Point geometry, got {geom.get('type')!r}"))
            continue
        for key, value in (("lon", coords[0]), ("lat", coords[1])):
            given = props.get(key)
            if given not in (None, "") and not _same_number(given, value):
                text = (f"feature {n}: property {key} = {given} disagrees with the Point geometry's {value} "
                        "(GeoJSON coordinates are [lon, lat]): remove one")  # fmt: skip
                issues.append(Issue(str(path), n, key, text))
            props[key] = value
        records.append({k: "" if v is None else str(v) for k, v in props.items()})
    if issues:
        raise InputError(issues)
    return pd.DataFrame.from_records(records).fillna("")


def _same_number(a: Any, b: Any) -> bool:
    """Whether two coordinate values are the same number (within 1e-7 degrees, about a centimetre)."""
    try:
        return abs(float(a) - float(b)) <= 1e-7
    except (TypeError, ValueError):
        return False


def _gpkg_point(blob: bytes) -> tuple[float, float]:
    """(lon, lat) of a GeoPackage point geometry blob: 'GP' header, optional envelope, then WKB."""
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry")
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((flags >> 1) & 0x07)
    if envelope is None:
        raise ValueError("bad envelope flag")
    wkb = blob[8 + envelope :]
    order = "<" if wkb[0] == 1 else ">"
    (gtype,) = struct.unpack(order + "I", wkb[1:5])
    if gtype % 1000 != 1:
        raise ValueError(f"geometry type {gtype} is not a Point")
    x, y = struct.unpack(order + "dd", wkb[5:21])
    return x, y


def _read_geopackage_points(path: Path) -> pd.DataFrame:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        table, geom_col = con.execute(
            "SELECT table_name, column_name FROM gpkg_geometry_columns ORDER BY table_name LIMIT 1"
        ).fetchone()
        frame = pd.read_sql_query(f'SELECT * FROM "{table}"', con)
        con.close()
    except (sqlite3.Error, TypeError) as exc:
        raise InputError(Issue(str(path), None, None, f"not a readable GeoPackage with a point layer: {exc}")) from None
    issues, lons, lats = [], [], []
    for n, blob in enumerate(frame[geom_col].tolist(), start=1):
        try:
            lon, lat = _gpkg_point(bytes(blob))
        except (ValueError, struct.error, TypeError, IndexError) as exc:
            issues.append(Issue(str(path), n, geom_col, f"expected a Point geometry ({exc})"))
            lon = lat = float("nan")
        lons.append(lon)
        lats.append(lat)
    if issues:
        raise InputError(issues)
    frame = frame.drop(columns=[geom_col])
    frame["lon"], frame["lat"] = lons, lats
    return frame.astype(object).where(frame.notna(), "").astype(str)


def max_input_bytes() -> int:
    """The largest data or scenario file read, bytes: ``PLANNER_MAX_INPUT_MB`` (default 4,096 MB)."""
    try:
        return int(float(os.environ.get("PLANNER_MAX_INPUT_MB", "4096")) * 1024 * 1024)
    except ValueError:
        raise InputError(Issue("environment", None, "PLANNER_MAX_INPUT_MB", "expected a number of MB")) from None


def check_regular_file(path: Path) -> None:
    """Refuse what is not a regular file (a FIFO would block forever, a device never ends) or is over the limit."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(Issue(str(path), None, None, "file not found")) from None
    except OSError as exc:  # a symlink loop, permissions: named, never a traceback
        raise InputError(Issue(str(path), None, None, f"cannot read the file: {exc.strerror or exc}")) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode) else "a device or special file"
        raise InputError(Issue(str(path), None, None, f"is {kind}; expected a regular data file"))
    limit = max_input_bytes()
    if info.st_size > limit:
        size, most = info.st_size / 2**20, limit / 2**20
        text = f"is {size:,.0f} MB, over the {most:,.0f} MB limit (PLANNER_MAX_INPUT_MB)"
        raise InputError(Issue(str(path), None, None, text))


def _read_any(path: Path) -> tuple[pd.DataFrame, Callable[[int], int]]:
    """Read a CSV, GeoJSON or GeoPackage file as a table of strings with its row numbering."""
    if path.is_dir():
        raise InputError(Issue(str(path), None, None, "is a folder; expected a data file"))
    check_regular_file(path)
    try:
        return _read_by_suffix(path)
    except FileNotFoundError:
        raise InputError(Issue(str(path), None, None, "file not found")) from None
    except OSError as exc:  # permissions, a file vanishing while read: the user's to fix, named
        raise InputError(Issue(str(path), None, None, f"cannot read the file: {exc.strerror or exc}")) from None


def _read_by_suffix(path: Path) -> tuple[pd.DataFrame, Callable[[int], int]]:
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        return _read_geojson_points(path), lambda i: i + 1
    if suffix == ".gpkg":
        return _read_geopackage_points(path), lambda i: i + 1
    if suffix in (".parquet", ".pq"):  # row numbers: 1-based rows of the table
        return read_parquet_strings(path), lambda i: i + 1
    frame = _read_csv_strings(path)
    lines = frame.index.to_numpy()
    return frame.reset_index(drop=True), lambda i: int(lines[i])


def fingerprint(path: Path) -> str:
    """SHA-256 of a file, to record exactly which data a run used."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_fingerprints(scenario: Scenario, missing: str | None = None) -> dict[str, str]:
    """SHA-256 of every data file a scenario names, keyed by its ``data`` key.

    Keys are ``offices.ISO3`` for ``countries.files``. The one fingerprint of a run's inputs (the run store, the app's
    caches, ``Inputs``).

    A file that cannot be read raises ``OSError``, or is recorded as ``missing`` when that text is given.
    """
    paths = {k: Path(v) for k, v in scenario.data.model_dump().items() if v is not None}
    if scenario.countries is not None:
        paths.update({f"offices.{k}": Path(v) for k, v in scenario.countries.files.items()})
    prints: dict[str, str] = {}
    for key, path in paths.items():
        try:
            prints[key] = fingerprint(path)
        except OSError:
            if missing is None:
                raise
            prints[key] = missing
    return prints


# --------------------------------------------------------------------------------------------- readers
def read_offices(path: Path, country: str | None = None, require_country: bool = False) -> pd.DataFrame:
    """Offices (CSV / GeoJSON / GeoPackage) with DESIGN §3 defaults; ``community`` defaults to ``office_id``.

    Several countries (``Scenario.countries``): ``country`` is the ISO alpha-3 code of a per-country file (an
    empty ``country`` cell takes it, another code is an error); ``require_country`` asks every row of a
    shared file for an ISO 3166 alpha-3 code.
    """
    raw, row_of = _read_any(path)
    table, issues = validate_table(raw, OFFICE_COLUMNS, str(path), row_of, "office_id")
    if not issues and (country is not None or require_country):
        issues = _country_issues(table, str(path), row_of, country)
    if issues:
        raise InputError(issues)
    if table.empty:
        raise InputError(Issue(str(path), None, None, "no offices: expected at least one data row"))
    if country is not None:
        table["country"] = country
    table["community"] = table["community"].where(table["community"].notna(), table["office_id"])
    for col in ("office_id", "name", "country", "region", "community", "services", "status"):
        table[col] = table[col].astype(str)
    return table.reset_index(drop=True)


def _country_issues(table: pd.DataFrame, file: str, row_of: Callable[[int], int], country: str | None) -> list[Issue]:
    """Rows whose ``country`` is not an ISO 3166 alpha-3 code, or differs from the file's country."""
    issues = []
    for i, value in enumerate(table["country"].astype(str).str.strip().tolist()):
        if country is not None and value not in ("", country):
            issues.append(Issue(file, row_of(i), "country", f"'{value}' differs from this file's country {country}"))
        elif country is None and not (len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
            shown = f"'{value}'" if value else "empty"
            issues.append(Issue(file, row_of(i), "country", f"{shown}; expected an ISO 3166 alpha-3 code (e.g. KEN)"))
    return issues


def read_country_offices(files: dict[str, Path]) -> pd.DataFrame:
    """One offices file per country (``countries.files``), concatenated; ids must be unique across files."""
    tables, issues = [], []
    for iso3, path in files.items():
        try:
            tables.append((path, read_offices(path, country=iso3)))
        except InputError as exc:
            issues.extend(exc.issues)
    if issues:
        raise InputError(issues)
    first: dict[str, str] = {}
    for path, table in tables:
        for n, office in enumerate(table["office_id"].tolist(), start=1):
            if office in first:
                issues.append(Issue(str(path), None, "office_id", f"office '{office}' (data record {n}) is also in "
                                    f"{first[office]}: office ids must be unique across countries"))  # fmt: skip
            else:
                first[office] = str(path)
    if issues:
        raise InputError(issues)
    return pd.concat([t for _, t in tables], ignore_index=True)


def read_fibre_nodes(path: Path | None) -> pd.DataFrame:
    """Fibre points of presence (CSV ``node_id, lat, lon``); an empty table when the scenario gives none."""
    if path is None:
        return pd.DataFrame(
            {"node_id": pd.Series(dtype=str), "lat": pd.Series(dtype=float), "lon": pd.Series(dtype=float)}
        )
    raw, row_of = _read_any(path)
    table, issues = validate_table(raw, NODE_COLUMNS, str(path), row_of, "node_id")
    if issues:
        raise InputError(issues)
    return table.reset_index(drop=True)


def read_towers(path: Path | None) -> pd.DataFrame:
    """Cell sites: ``tower_id, lat, lon, generation, range_km`` or the OpenCellID layout (with or without header).

    OpenCellID rows map radio GSM/CDMA→2G, UMTS→3G, LTE→4G, NR→5G and ``range`` (metres) to ``range_km``.
    """
    empty = pd.DataFrame(
        {"tower_id": pd.Series(dtype=str), "lat": pd.Series(dtype=float), "lon": pd.Series(dtype=float),
         "generation": pd.Series(dtype=int), "range_km": pd.Series(dtype=float), "backhaul": pd.Series(dtype=bool),
         "backhaul_given": pd.Series(dtype=bool)}
    )  # fmt: skip
    if path is None:
        return empty
    raw, row_of = _read_any(path)
    if len(raw.columns) and str(raw.columns[0]).strip().upper() in _RADIO_GENERATION:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, header=None, names=_OPENCELLID)
        row_of = lambda i: i + 1  # noqa: E731 - no header line
    cells = "radio" in raw.columns and "tower_id" not in raw.columns
    if cells:
        raw, issues = _from_opencellid(raw, str(path), row_of)
        if issues:
            raise InputError(issues)
    table, issues = validate_table(raw, TOWER_COLUMNS, str(path), row_of, "tower_id")
    if issues:
        raise InputError(issues)
    if not len(table):
        return empty
    if cells:
        table = merge_cells_into_sites(table)
    given = table["backhaul"].astype(str)
    table["backhaul_given"] = given != ""
    table["backhaul"] = np.where(given == "", table["generation"] >= BACKHAUL_FROM_GENERATION, given.isin(_TRUE))
    return table.reset_index(drop=True)


def _from_opencellid(raw: pd.DataFrame, file: str, row_of: Callable[[int], int]) -> tuple[pd.DataFrame, list[Issue]]:
    issues = []
    gens, ranges = [], []
    for i, (radio, rng) in enumerate(zip(raw["radio"], raw.get("range", pd.Series([""] * len(raw))), strict=True)):
        gen = _RADIO_GENERATION.get(str(radio).strip().upper())
        if gen is None:
            issues.append(Issue(file, row_of(i), "radio", f"'{radio}' unknown; expected GSM, CDMA, UMTS, LTE or NR"))
        gens.append("" if gen is None else str(gen))
        try:
            ranges.append(str(float(rng) / 1000.0))
        except ValueError:
            issues.append(Issue(file, row_of(i), "range", f"'{rng}' is not a number; expected metres"))
            ranges.append("")
    ids = raw[["mcc", "net", "area", "cell"]].astype(str).agg("-".join, axis=1)
    # OpenCellID's range is the spread of the measurements (m), sometimes tens of km: capped at 100 km (the
    # technology's own reach caps it further when costing).
    ranges = [str(min(float(r), 100.0)) if r else r for r in ranges]
    out = pd.DataFrame(
        {"tower_id": ids, "lat": raw["lat"], "lon": raw["lon"], "generation": gens, "range_km": ranges,
         "operator": raw["mcc"].astype(str) + "-" + raw["net"].astype(str), "cell": raw["cell"].astype(str),
         "samples": raw["samples"].astype(str) if "samples" in raw else "1"}
    )  # fmt: skip
    return out, issues


SITE_RADIUS_KM = 0.15
"""Cells of one operator (mcc-net) whose positions lie within this distance are one site (planner estimate:
OpenCellID positions are averages of measurements, so the cells of one mast scatter by tens of metres)."""


def merge_cells_into_sites(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per cell site from OpenCellID cells.

    Cells of one operator are one site when they are LTE cells of one eNodeB (E-UTRAN cell id // 256) or lie
    within :data:`SITE_RADIUS_KM` of each other (chained). A site is at the samples-weighted mean position of its
    cells, of their highest generation, covers the largest of their ranges and is named after its most measured
    cell; ``cells`` counts them.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(cells)
    op = cells["operator"].astype(str).to_numpy()
    lat, lon = cells["lat"].to_numpy(float), cells["lon"].to_numpy(float)
    a_parts, b_parts = [], []
    for name in np.unique(op):
        idx = np.flatnonzero(op == name)
        pairs = PointIndex(lat[idx], lon[idx]).pairs_within(SITE_RADIUS_KM)
        a_parts.append(idx[pairs[:, 0]])
        b_parts.append(idx[pairs[:, 1]])
    cell_id = pd.to_numeric(cells["cell"], errors="coerce").fillna(-1).to_numpy(np.int64)
    lte = (cells["generation"].to_numpy(int) == 4) & (cell_id >= 0)
    enb = pd.Series(op + ":" + (cell_id // 256).astype(str))[lte]
    first = enb.groupby(enb).transform(lambda g: g.index[0])
    a_parts.append(first.to_numpy(np.int64))
    b_parts.append(enb.index.to_numpy(np.int64))
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, site = connected_components(graph, directed=False)
    weight = pd.to_numeric(cells["samples"], errors="coerce").fillna(1).clip(lower=1).to_numpy(float)
    frame = pd.DataFrame(
        {"site": site, "w": weight, "lat": lat, "lon": lon, "generation": cells["generation"],
         "range_km": cells["range_km"], "tower_id": cells["tower_id"]}
    )  # fmt: skip
    named = frame.sort_values(["site", "w"], ascending=[True, False], kind="stable").drop_duplicates("site")
    named = named.set_index("site").sort_index()
    # weighted mean as an offset from the most measured cell: a one-cell site keeps its position exactly
    ref_lat, ref_lon = named["lat"].to_numpy()[site], named["lon"].to_numpy()[site]
    frame["dlat"], frame["dlon"] = weight * (lat - ref_lat), weight * (lon - ref_lon)
    grouped = frame.groupby("site")
    out = pd.DataFrame(
        {
            "tower_id": named["tower_id"],
            "lat": named["lat"] + grouped["dlat"].sum() / grouped["w"].sum(),
            "lon": named["lon"] + grouped["dlon"].sum() / grouped["w"].sum(),
            "generation": grouped["generation"].max(),
            "range_km": grouped["range_km"].max(),
            "backhaul": "",
            "cells": grouped.size(),
        }
    )
    return out.reset_index(drop=True)


def read_quotes(path: Path | None, technologies: Iterable[str]) -> pd.DataFrame | None:
    """Engineering quotes: for each office listed, the complete set of its candidate technologies."""
    if path is None:
        return None
    raw, row_of = _read_any(path)
    table, issues = validate_table(raw, OPTION_COLUMNS, str(path), row_of, None)
    known = set(technologies)
    seen: dict[tuple[str, str], int] = {}
    for i, (office, tech) in enumerate(
        zip(table["office_id"].astype(str), table["technology"].astype(str), strict=True)
    ):
        if tech and tech not in known:
            issues.append(
                Issue(
                    str(path),
                    row_of(i),
                    "technology",
                    f"unknown technology '{tech}'; expected one of {sorted(known)}",
                )
            )
        key = (office, tech)
        if key in seen:
            issues.append(
                Issue(
                    str(path),
                    row_of(i),
                    "technology",
                    f"duplicate quote for office '{office}' and '{tech}' (first in row {seen[key]})",
                )
            )
        else:
            seen[key] = row_of(i)
    if issues:
        raise InputError(issues)
    table["row"] = [row_of(i) for i in range(len(table))]
    return table.reset_index(drop=True)


def read_roads(path: Path | None) -> pd.DataFrame | None:
    """Road lines (GeoJSON LineString / MultiLineString features) as straight segments between consecutive vertices.

    Columns ``road_id, lat0, lon0, lat1, lon1`` (degrees). None when the scenario gives no roads file.
    """
    if path is None:
        return None
    check_regular_file(Path(path))
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(Issue(str(path), exc.lineno, None, f"not valid JSON: {exc.msg}")) from None
    except OSError as exc:
        raise InputError(Issue(str(path), None, None, f"cannot read the file: {exc.strerror}")) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InputError(Issue(str(path), None, None, "expected a GeoJSON FeatureCollection of road lines"))
    rows: list[tuple[str, float, float, float, float]] = []
    issues: list[Issue] = []
    for n, feature in enumerate(doc.get("features") or [], start=1):
        geom = (feature or {}).get("geometry") or {}
        kind, coords = geom.get("type"), geom.get("coordinates")
        lines = [coords] if kind == "LineString" else coords if kind == "MultiLineString" else None
        if not isinstance(lines, list):
            issues.append(Issue(str(path), n, "geometry", f"expected a LineString or MultiLineString, got {kind!r}"))
            continue
        road_id = str(((feature.get("properties") or {}).get("road_id")) or n)
        for line in lines:
            try:
                pts = [(float(c[1]), float(c[0])) for c in line]
            except (TypeError, ValueError, IndexError):
                issues.append(Issue(str(path), n, "geometry", "expected coordinates [lon, lat] as numbers"))
                break
            bad = [p for p in pts if not (-90 <= p[0] <= 90 and -180 <= p[1] <= 180)]
            if bad:
                issues.append(Issue(str(path), n, "geometry", f"coordinate out of range (lat, lon) = {bad[0]}"))
                break
            if len(pts) < 2:
                issues.append(Issue(str(path), n, "geometry", "a line needs at least two points"))
                break
            rows.extend((road_id, *a, *b) for a, b in itertools.pairwise(pts))
    if issues:
        raise InputError(issues)
    if not rows:
        raise InputError(Issue(str(path), None, None, "no road lines: expected at least one LineString feature"))
    return pd.DataFrame(rows, columns=["road_id", "lat0", "lon0", "lat1", "lon1"])


def load_inputs(scenario: Scenario, technologies: Iterable[str]) -> Inputs:
    """Read every file of a scenario, cross-check them and return the tidy tables."""
    paths = scenario.data
    issues: list[Issue] = []
    tables: dict[str, Any] = {}
    readers: dict[str, Callable[[], Any]] = {
        "offices": lambda: read_scenario_offices(scenario),
        "fibre_nodes": lambda: read_fibre_nodes(paths.fibre_nodes),
        "towers": lambda: read_towers(paths.towers),
        "quotes": lambda: read_quotes(paths.options, technologies),
        "roads": lambda: read_roads(paths.roads),
    }
    for key, reader in readers.items():
        try:
            tables[key] = reader()
        except InputError as exc:
            issues.extend(exc.issues)
    if issues:
        raise InputError(issues)
    offices, quotes = tables["offices"], tables["quotes"]
    if quotes is not None:
        status = dict(zip(offices["office_id"], offices["status"], strict=True))
        for office, row in zip(quotes["office_id"], quotes["row"], strict=True):
            if office not in status:
                issues.append(
                    Issue(
                        str(paths.options),
                        int(row),
                        "office_id",
                        f"unknown office '{office}'; not in {paths.offices}",
                    )
                )
            elif status[office] == "connected":
                issues.append(
                    Issue(
                        str(paths.options),
                        int(row),
                        "office_id",
                        f"office '{office}' is connected; quotes are for offices to plan",
                    )
                )
        if issues:
            raise InputError(issues)
    prints = data_fingerprints(scenario)
    return Inputs(offices, tables["fibre_nodes"], tables["towers"], quotes, prints, tables["roads"])


def read_scenario_offices(scenario: Scenario) -> pd.DataFrame:
    """The offices of a scenario: one file, or one per country (``countries.files``)."""
    if scenario.countries is not None and scenario.countries.files:
        return read_country_offices(scenario.countries.files)
    if scenario.data.offices is None:
        raise InputError(Issue("scenario", None, "data.offices", "required key is missing"))
    return read_offices(scenario.data.offices, require_country=scenario.countries is not None)


def summarise_inputs(inputs: Inputs) -> dict[str, Any]:
    """What the data holds, for ``planner validate``."""
    off = inputs.offices
    return {
        "offices": len(off),
        "by_status": {k: int(v) for k, v in off["status"].value_counts().sort_index().items()},
        "regions": int(off["region"].nunique()),
        "communities": int(off["community"].nunique()),
        "population_planned": float(inputs.planned["population"].sum()),
        "without_grid_power": int((~off["grid_power"].astype(bool)).sum()),
        "fibre_nodes": len(inputs.fibre_nodes),
        "towers": len(inputs.towers),
        "towers_4g_or_better": int((inputs.towers["generation"] >= 4).sum()) if len(inputs.towers) else 0,
        "quotes": 0 if inputs.quotes is None else len(inputs.quotes),
        "road_segments": 0 if inputs.roads is None else len(inputs.roads),
        "lat_range": [float(np.min(off["lat"])), float(np.max(off["lat"]))],
        "lon_range": [float(np.min(off["lon"])), float(np.max(off["lon"]))],
    }


# --------------------------------------------------------------------------------------------- Parquet
def read_parquet_strings(path: Path) -> pd.DataFrame:
    """A Parquet file as a table of strings, as the CSV reader gives, so one validation serves both.

    Numbers become their shortest round-trip text (so parsing gives back the same value), booleans ``true`` /
    ``false``, nulls ''. A column of nested values (lists, structs) is an error naming it.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(Issue(str(path), None, None, f"not a readable Parquet file: {exc}")) from None
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        if pa.types.is_nested(kind):
            raise InputError(Issue(str(path), None, name, f"a column of {kind} values; expected numbers or text"))
        text = column if pa.types.is_string(kind) or pa.types.is_large_string(kind) else pc.cast(column, pa.string())
        columns[name] = pc.fill_null(text, "").to_numpy(zero_copy_only=False).astype(object)
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))
