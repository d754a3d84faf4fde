"""Read and validate the input files (DESIGN §3). The only module that reads user data files.

Every rejected value becomes an :class:`~planner.errors.Issue` naming file, row, column and what was expected;
all issues of a file are collected before one :class:`~planner.errors.InputError` is raised, so a user fixes
them in one pass. Rows are either used or reported: nothing is dropped silently.

Row numbers: for CSV the line number in the file, as a text editor or spreadsheet shows it (the header is row 1,
the first data row is row 2, blank lines count); for GeoJSON the 1-based feature number; for GeoPackage the
1-based row of the feature table.

Rules for the files (each refusal is an InputError, exit 2, naming file and line):

* **Encoding**: UTF-8, with or without a byte-order mark, any line ending (LF, CRLF, CR); UTF-16 only with its
  byte-order mark. Anything else (a Windows-1252 / Latin-1 export) is refused at its first bad line rather
  than guessed: a wrong guess would silently change names and ids. An Excel workbook or an SQLite file given as
  text is named as such.
* **Delimiter** (CSV): ',', ';' or tab, whichever makes the header line name the most known columns (',' on a
  tie). In a ';' or tab file numbers may use a decimal comma (``29,39``); a '.' in a number of such a file is
  then ambiguous (``10.928``: ten thousand?) and refused. Quotes follow RFC 4180; a quote never closed is refused.
* **Ragged rows**: a data row with more or fewer fields than the header is refused (a trailing delimiter used to
  shift every column; a missing one to default the rest silently). A line of only delimiters is blank.
* **GeoJSON**: a FeatureCollection whose features are objects with object ``properties`` and Point (offices,
  nodes, towers) or LineString/MultiLineString (roads) geometry of numeric ``[lon, lat]``; a key given twice in
  an object, nesting too deep for the decoder and numbers of more than 4,300 digits are refused.
* **GeoPackage**: a valid SQLite file with exactly one layer in ``gpkg_geometry_columns``.
* **Plausibility**: latitudes -90..90 and longitudes -180..180 always. An office whose ``country`` is an ISO3
  code of ``planner/country_bbox.csv`` (Natural Earth 1:50m outlines, ``scripts/build_country_bbox.py``) must lie
  in that country's bounding box widened by :data:`BOX_MARGIN_DEG`: each office outside is an error with its
  row (saying when lat/lon exchanged would lie inside), and a file whose offices mostly look swapped gets one more
  error naming the file. Fibre nodes, towers and roads are not checked one by one (a real site outside the
  offices' area is harmless); a file of them that mostly lies outside the offices' area but inside it with
  lat/lon exchanged is an error (see :func:`_cross_file_location_issues`).
* **Size**: every file is checked against ``PLANNER_MAX_INPUT_MB`` before it is read; CSV files are streamed
  record by record (the whole text is never held in memory besides the table).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import functools
import hashlib
import importlib.resources
import itertools
import json
import math
import os
import re
import sqlite3
import stat
import struct
import threading
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from planner.errors import InputError, Issue
from planner.geo import Box, PointIndex
from planner.scenario import SERVICES, Scenario
from planner.terrain import ElevationGrid

STATUSES = ("unconnected", "underserved", "connected", "unknown")
"""``unknown``: not surveyed, or the survey could not tell (``planner survey``); the scenario's ``unknown_status``
decides whether such offices are planned."""
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

    skip_unknown: bool = False  # scenario unknown_status.action == "skip": offices of unknown status are not planned
    _planned: tuple[pd.DataFrame, bool, pd.DataFrame] | None = field(
        default=None, init=False, repr=False, compare=False
    )  # (offices, skip_unknown, planned): see planned

    @property
    def planned(self) -> pd.DataFrame:
        """Offices to plan: unconnected, underserved and (unless skipped) of unknown status.

        Filtered once per offices table and setting: a run asks six times, each filter a copy of the table (0.08 s
        at 650,000 offices).
        """
        cached = self._planned
        if cached is None or cached[0] is not self.offices or cached[1] != self.skip_unknown:
            left_out = ["connected", "unknown"] if self.skip_unknown else ["connected"]
            cached = (self.offices, self.skip_unknown, self.offices[~self.offices["status"].isin(left_out)])
            self._planned = cached
        return cached[2]


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


def _parse_column(cells: pd.Series, col: Column) -> tuple[pd.Series, pd.Series]:
    """Every cell of a column parsed as :func:`_parse_cell` does: (values, error message or None), by row.

    The same results, computed once per distinct cell (a column of 650,000 offices holds few distinct services,
    statuses or flags); numbers convert in one numpy call when every cell is a valid finite number in range.
    """
    no_errors = pd.Series(None, index=cells.index, dtype=object)
    if cells.dtype == np.float64:  # a Parquet number column (nulls as NaN; no NaN or infinity among its values)
        if col.kind in ("float", "int"):
            numbers = cells.to_numpy()
            fast = _checked_numbers(numbers[~np.isnan(numbers)], np.isnan(numbers), col, cells.index)
            if fast is not None:
                return fast, no_errors
        cells = _number_text(cells)  # the per-cell rules below say what is wrong, as for the same file in CSV
    if col.kind == "str":
        trimmed = _trimmed_arrow(cells)
        if trimmed is not None:
            return trimmed, no_errors
    text = (cells.where(cells.notna(), "") if cells.isna().any() else cells).astype(str)  # (no copy when none)
    if col.kind == "str":
        stripped = _stripped(text)
        empty = stripped == ""
        texts = stripped.astype(object)
        missing = no_errors.copy()
        if empty.any():
            if col.required:
                missing[empty] = f"empty; expected {col.expected or 'a value'}"
                texts[empty] = None
            else:
                texts[empty] = col.default
        return pd.Series(texts, index=cells.index, dtype=object), missing
    if col.kind in ("float", "int"):
        fast = _numbers(text, col)
        if fast is not None:
            return fast, no_errors
    codes, uniques = pd.factorize(text, sort=False)
    parsed = [_parse_cell(u, col) for u in uniques]
    values = np.empty(len(parsed), dtype=object)
    values[:] = [v for v, _ in parsed]
    errors = np.array([e for _, e in parsed], dtype=object)
    return (pd.Series(values[codes], index=cells.index, dtype=object),
            pd.Series(errors[codes], index=cells.index, dtype=object))  # fmt: skip


_PY_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
"""The ASCII characters Python's ``str.strip()`` removes."""


def _trimmed_arrow(cells: pd.Series) -> pd.Series | None:
    """An Arrow text column of ASCII cells, none empty or missing once trimmed, as Arrow text; else None.

    Those cells are what :func:`_parse_column` gives (``str.strip()`` of each, no error), without a Python string
    per cell: at world scale a text column is 650,000 of them. Other columns take the general path.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (isinstance(cells.dtype, pd.StringDtype) and cells.dtype.storage == "pyarrow") or not len(cells):
        return None
    arr = pa.array(cells, from_pandas=True)
    if arr.null_count or not pc.all(pc.string_is_ascii(arr)).as_py():
        return None
    trimmed = pc.utf8_trim(arr, characters=_PY_WHITESPACE)
    if pc.any(pc.equal(pc.utf8_length(trimmed), 0)).as_py():
        return None
    return pd.Series(pd.array(trimmed, dtype="str"), index=cells.index)


def _stripped(text: pd.Series) -> np.ndarray:
    """Every cell as ``str.strip()`` gives it (object array): Arrow's trim on ASCII cells, Python's on the others."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text, type=pa.large_string())
    out = np.asarray(pc.utf8_trim(arr, characters=_PY_WHITESPACE).to_numpy(zero_copy_only=False), dtype=object)
    other = np.flatnonzero(~np.asarray(pc.string_is_ascii(arr).to_numpy(zero_copy_only=False), dtype=bool))
    if len(other):
        out[other] = [str(text.iat[i]).strip() for i in other.tolist()]
    return out


def _parse_plain_numbers(cells: Any) -> np.ndarray | None:
    """Stripped number cells parsed at once by Arrow, else None (a cell Arrow does not read: ``float()`` will).

    ``cells``: an object array of text, or Arrow text. Arrow's text-to-number cast reads a part of what Python's
    ``float()`` reads (decimals with an optional sign, point and exponent; ``inf`` and ``nan``, which the column
    checks then refuse), to the same correctly rounded double: ``tests/test_e2e_speed.py`` checks both on
    generated text. What only ``float()`` reads (underscores between digits, other scripts' digits) is left to
    it. The cast is the check: at 1.6 M quotes a pattern test before it took 0.075 s a column, three times the cast.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = cells if isinstance(cells, pa.Array) else pa.array(cells, type=pa.large_string())
    try:
        numbers = pc.cast(arr, pa.float64())
    except pa.ArrowInvalid:
        return None
    return np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=float)


def _numbers(text: pd.Series, col: Column) -> pd.Series | None:
    """A number column in one conversion, or None when any cell needs the per-cell parser (to say why).

    ASCII cells are trimmed, tested and parsed as Arrow text (no Python string per cell: a CSV of 1.6 M quotes has
    three number columns); a column with other cells goes through Python's ``str.strip`` first.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text, type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    cells: Any
    if not arr.null_count and pc.all(pc.string_is_ascii(arr)).as_py() is not False:
        trimmed = pc.utf8_trim(arr, characters=_PY_WHITESPACE)
        empty = np.asarray(pc.equal(pc.utf8_length(trimmed), 0).to_numpy(zero_copy_only=False), dtype=bool)
        cells = trimmed.filter(pa.array(~empty)) if empty.any() else trimmed
    else:
        stripped = _stripped(text)
        empty = stripped == ""
        cells = stripped[~empty]
    if empty.any() and col.required:
        return None
    numbers = _parse_plain_numbers(cells)
    if numbers is None:
        listed = cells.to_pylist() if isinstance(cells, pa.Array) else cells.tolist()
        try:
            numbers = np.asarray(listed, dtype=float)  # float()'s own parsing
        except ValueError:
            return None
    return _checked_numbers(numbers, empty, col, text.index)


def _checked_numbers(numbers: np.ndarray, empty: np.ndarray, col: Column, index: pd.Index) -> pd.Series | None:
    """The column from its non-empty cells' values, or None when a value breaks the column's rules.

    ``empty``: which cells are empty (they take the column's default); ``numbers``: the others, in order.
    """
    if empty.any() and col.required:
        return None
    if not np.isfinite(numbers).all():
        return None
    if (col.min is not None and (numbers < col.min).any()) or (col.max is not None and (numbers > col.max).any()):
        return None
    if col.kind == "float" and (col.default is None or isinstance(col.default, float)):
        values = np.full(len(empty), np.nan if col.default is None else col.default)
        values[~empty] = numbers
        return pd.Series(values, index=index, dtype=float)
    out = np.empty(len(empty), dtype=object)
    if col.kind == "int":
        if (numbers != np.floor(numbers)).any():
            return None
        out[~empty] = [int(v) for v in numbers]
    else:
        out[~empty] = numbers.tolist()
    out[empty] = col.default
    return pd.Series(out, index=index, dtype=object)


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
        separators = [d for d in "|:" if len(raw.columns) == 1 and d in str(raw.columns[0])]
        if separators:
            found += f"; columns separated by '{separators[0]}'? expected ',', ';' or tab"
        return raw, [Issue(file, None, m, f"required column is missing (columns found: {found})") for m in missing]
    out = raw.copy(deep=False)
    bad_rows: set[int] = set()
    for col in columns:
        if col.name not in raw.columns:
            out[col.name] = col.default
            continue
        values, errors = _parse_column(raw[col.name], col)
        for bad in np.flatnonzero(errors.notna().to_numpy()).tolist():
            issues.append(Issue(file, row_of(bad), col.name, str(errors.iat[bad])))
            bad_rows.add(bad)
        out[col.name] = values
    if id_column is not None and _has_duplicates(out[id_column], bad_rows):
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


def _has_duplicates(ids: pd.Series, bad_rows: set[int]) -> bool:
    """Whether an id (as text) appears twice among the rows not in ``bad_rows``."""
    keep = np.ones(len(ids), dtype=bool)
    keep[list(bad_rows)] = False
    if isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow" and not ids.isna().any():
        import pyarrow as pa
        import pyarrow.compute as pc

        kept = pa.array(ids, from_pandas=True).filter(pa.array(keep))  # Arrow's hash: no Python string per id
        return len(pc.unique(kept)) != len(kept)  # (``unique``: 2-4× faster than ``count_distinct`` here)
    return bool(pd.Series(ids.astype(str).to_numpy()[keep]).duplicated().any())


# --------------------------------------------------------------------------------------------- text files
_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab"}
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")


def _text_encoding(path: Path, head: bytes) -> str:
    """The codec of a text file: UTF-16 when it starts with a UTF-16 byte-order mark, else UTF-8 (BOM optional).

    Binary files that often get a text suffix (an Excel workbook saved as ``.csv``, a GeoPackage) are refused here.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(b"PK\x03\x04"):
        text = "is a zip archive (an Excel .xlsx workbook?); expected a text file: save it as 'CSV UTF-8'"
        raise InputError(Issue(str(path), None, None, text))
    if head.startswith(b"SQLite format 3\x00"):
        raise InputError(Issue(str(path), None, None, "is an SQLite database; a GeoPackage needs the suffix .gpkg"))
    if b"\x00" in head:
        line = head[: head.index(b"\x00")].count(b"\n") + 1
        text = "contains NUL bytes: not a text file (UTF-16 without a byte-order mark?); expected UTF-8 text"
        raise InputError(Issue(str(path), line, None, text))
    return "utf-8-sig"


def _decoding_issue(path: Path, encoding: str) -> Issue:
    """Where a file stops being valid text in ``encoding``: the first bad line (1-based) and what it looks like."""
    if encoding != "utf-8-sig":
        return Issue(str(path), None, None, f"not valid {encoding.upper()} text; expected UTF-8 text")
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):  # \n, \r\n or \r: never inside
        try:  # a UTF-8 multi-byte character
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = line[exc.start : exc.start + 1].hex()
            where = f"character {len(line[: exc.start].decode('utf-8', errors='replace')) + 1}"
            shown = line[max(0, exc.start - 25) : exc.start + 25].decode("cp1252", errors="replace").strip()
            save = "'CSV UTF-8'" if path.suffix.lower() not in (".geojson", ".json") else "UTF-8"
            text = (f"not UTF-8 text: line {number}, {where}, has the byte 0x{bad} (in '{shown}': a Windows-1252 "
                    f"or Latin-1 file?); expected UTF-8: save the file as {save}")  # fmt: skip
            return Issue(str(path), number, None, text)
    return Issue(str(path), None, None, "not UTF-8 text; expected UTF-8")


def _read_text(path: Path) -> str:
    """A whole text file (GeoJSON): UTF-8 with an optional BOM, or UTF-16 with a BOM; else a located error."""
    data = path.read_bytes()
    encoding = _text_encoding(path, data[:65536])
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise InputError(_decoding_issue(path, encoding)) from None


@dataclass
class _CsvText:
    """The records of a CSV file as text: header, data records and the line each record starts on (header = 1)."""

    header: list[str]
    records: list[list[str]]
    lines: list[int]
    delimiter: str


def _choose_delimiter(first_line: str, known: Iterable[str]) -> str:
    """The delimiter (',', ';' or tab) under which the header line names the most known columns; ',' on a tie."""
    names = set(known)

    def score(delimiter: str) -> tuple[int, int]:
        fields = next(csv.reader([first_line], delimiter=delimiter, skipinitialspace=True), [])
        return sum(f.strip() in names for f in fields), len(fields)

    return max(_DELIMITERS, key=lambda d: (score(d)[0], score(d)[1] > 1, d == ","))


def _csv_records(path: Path, known: Iterable[str]) -> _CsvText:
    """Stream a CSV file's records (no second copy of the file is held); blank lines keep their line numbers."""
    with path.open("rb") as fh:
        head = fh.read(65536)
    encoding = _text_encoding(path, head)
    csv.field_size_limit(max(csv.field_size_limit(), min(max_input_bytes(), 2**31 - 1)))
    records: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        with path.open(encoding=encoding, newline="") as fh:
            first = fh.readline()
            delimiter = _choose_delimiter(first, known)
            fh.seek(0)
            reader = csv.reader(fh, delimiter=delimiter, skipinitialspace=True, strict=True)
            with contextlib.suppress(csv.Error):  # an error is located by the second reading
                records = list(reader)
            if records and reader.line_num == len(records):  # one line per record (no quoted line break)
                lines = list(range(1, len(records) + 1))
            else:  # again, noting the line each record starts on
                fh.seek(0)
                reader = csv.reader(fh, delimiter=delimiter, skipinitialspace=True, strict=True)
                records = []
                for fields in reader:
                    records.append(fields)
                    lines.append(start)
                    start = reader.line_num + 1
    except UnicodeDecodeError:
        raise InputError(_decoding_issue(path, encoding)) from None
    except csv.Error as exc:
        text = f"not a readable CSV file from line {start}: {exc} (a '\"' that is never closed?)"
        raise InputError(Issue(str(path), start, None, text)) from None
    while records and not any(f.strip() for f in records[0]):  # blank lines above the header
        records.pop(0)
        lines.pop(0)
    if not records:
        raise InputError(Issue(str(path), None, None, "file is empty; expected a header row and data rows"))
    return _CsvText(records[0], records[1:], lines[1:], delimiter)


def _column_names(fields: list[str]) -> list[str]:
    """Header names, stripped; an empty name becomes ``unnamed_<n>``, a repeated one ``<name>.1`` (flagged later)."""
    names: list[str] = []
    for n, field_ in enumerate(fields, start=1):
        name = field_.strip() or f"unnamed_{n}"
        base, k = name, 0
        while name in names:
            k += 1
            name = f"{base}.{k}"
        names.append(name)
    return names


def _csv_frame(text: _CsvText, path: Path, names: list[str], numeric: Iterable[str]) -> pd.DataFrame:
    """The records as a table of strings indexed by line number; ragged rows and ambiguous decimals are errors."""
    file, width = str(path), len(names)
    issues: list[Issue] = []
    keep: list[list[str]] = []
    index: list[int] = []
    records = text.records
    widths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    # a record is blank when all its fields are whitespace, i.e. when their concatenation is
    filled = np.fromiter(map(bool, map(str.strip, map("".join, records))), dtype=bool, count=len(records))
    if filled.all() and (widths == width).all():  # every record is a row of the table
        keep, index, records = records, text.lines, []
    for fields, line in zip(records, text.lines if records else [], strict=True):
        if not any(f.strip() for f in fields):
            continue  # a blank line (or only delimiters): nothing to lose
        if len(fields) != width:
            extra = len(fields) > width
            why = ("a trailing delimiter or an unquoted delimiter inside a value?" if extra
                   else "a missing value? write an empty cell between delimiters")  # fmt: skip
            sep = _DELIMITER_NAMES[text.delimiter]
            msg = f"{len(fields)} fields separated by {sep}, but the header has {width} ({why}); expected {width}"
            issues.append(Issue(file, line, None, msg))
            continue
        keep.append(fields)
        index.append(line)
    if issues:
        raise InputError(issues)
    frame = pd.DataFrame(keep, columns=names, index=index, dtype=object) if keep else pd.DataFrame(columns=names)
    if text.delimiter != ",":
        frame = _decimal_commas(frame, file, numeric)
    return frame


def _decimal_commas(frame: pd.DataFrame, file: str, numeric: Iterable[str]) -> pd.DataFrame:
    """In a ';' or tab file, numeric cells written with a decimal comma (``29,39``) are read as 29.39.

    Then '.' in a number of the same file is ambiguous (a thousands separator, as in ``10.928``?) and an error.
    """
    cols = [c for c in numeric if c in frame.columns]
    lines = [int(r) for r in frame.index]
    cells = {c: [str(v).strip() for v in frame[c].tolist()] for c in cols}
    comma = {c: [bool(_DECIMAL_COMMA.fullmatch(v)) for v in cells[c]] for c in cols}
    first = next(((c, k) for c in cols for k, hit in enumerate(comma[c]) if hit), None)
    if first is None:
        return frame
    example = f"'{cells[first[0]][first[1]]}' in row {lines[first[1]]}, column '{first[0]}'"
    issues = [
        Issue(file, lines[k], c, f"'{v}': this file writes decimals with ',' ({example}), so '.' is ambiguous "
              "(a thousands separator?); expected one decimal mark: write the number without '.'")
        for c in cols for k, v in enumerate(cells[c]) if "." in v
    ]  # fmt: skip
    if issues:
        raise InputError(issues)
    out = frame.copy()
    for c in cols:
        out[c] = [v.replace(",", ".") if hit else v for v, hit in zip(cells[c], comma[c], strict=True)]
    return out


def _read_csv_strings(
    path: Path, columns: Iterable[Column], headerless: Callable[[list[str]], list[str] | None] | None = None
) -> pd.DataFrame:
    """The CSV as text; the index holds each record's line number (header = 1), blank lines skipped.

    ``headerless(first_record)`` returns column names when the first record is data rather than a header.
    """
    columns = list(columns)
    known = [c.name for c in columns] + (_OPENCELLID if headerless else [])
    numeric = [c.name for c in columns if c.kind in ("float", "int")]
    if headerless is None:
        fast = _plain_csv_frame(path, known, numeric)
        if fast is not None:
            return fast
    text = _csv_records(path, known)
    names = headerless(text.header) if headerless else None
    if names is not None:
        text = _CsvText(names, [text.header, *text.records], [1, *text.lines], text.delimiter)
    else:
        names = _column_names(text.header)
    return _csv_frame(text, path, names, numeric)


def _plain_csv_frame(path: Path, known: Iterable[str], numeric: Iterable[str]) -> pd.DataFrame | None:
    """A *plain* CSV file read by Arrow's parser, as :func:`_csv_frame` reads it; None for any other file.

    Plain: UTF-8 without a byte-order mark, a header on the first line, no quote character at all, no blank
    line, lines ended by LF or CRLF, and every line with the header's number of fields (Arrow's row count must
    equal the file's line count). Those files read the same either way (fields split at the delimiter; the
    spaces the csv module's ``skipinitialspace`` drops at the start of a field are dropped here too); every
    other file, and every file with a fault to report, takes the record-by-record reader, which names the line
    of each fault. World-scale inputs (millions of lines) are usually plain, and Arrow reads them ~20x faster.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    with path.open("rb") as fh:
        data = fh.read()
    if not data or data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    # (A blank line needs no search of its own: Arrow reads it as a record of empty fields, and a record whose
    # first field is empty goes to the other reader below. Two-byte searches cost 0.05 s each per 68 MB file.)
    if b'"' in data or b"\x00" in data or data.startswith((b"\n", b"\r")):
        return None
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):  # a line ended by a lone carriage return
        return None
    end = data.find(b"\n")
    try:
        first = (data[:end] if end >= 0 else data).decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return None
    if not first.strip():
        return None
    delimiter = _choose_delimiter(first, known)
    names = _column_names(next(csv.reader([first], delimiter=delimiter, skipinitialspace=True)))
    rows = data.count(b"\n") - (1 if data.endswith(b"\n") else 0)  # lines after the header
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # ragged rows, invalid UTF-8: the other reader says where
        return None
    if table.num_rows != rows:
        return None
    columns = {}
    for name, column in zip(names, table.columns, strict=True):
        if pc.any(pc.starts_with(column, " ")).as_py():  # a field that starts with ' '
            column = pc.utf8_ltrim(column, characters=" ")
        columns[name] = pd.array(column, dtype="str")
    if not len(names) or (rows and pc.any(pc.equal(pc.utf8_trim_whitespace(table.column(0)), "")).as_py()):
        return None  # a record that may be blank (all fields empty) is the other reader's to judge
    frame = pd.DataFrame(columns, index=pd.RangeIndex(2, rows + 2))
    if delimiter != ",":
        frame = _decimal_commas(frame, str(path), numeric)
    return frame


# --------------------------------------------------------------------------------------------- GeoJSON
class _RepeatedKeys(dict[str, Any]):
    """A JSON object that gave a key more than once: ``json`` keeps the last value, silently; we report it."""

    repeated: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    out = _RepeatedKeys(obj)
    out.repeated = tuple(sorted(k for k, count in Counter(k for k, _ in pairs).items() if count > 1))
    return out


def _json_kind(value: Any) -> str:
    """How JSON calls a decoded value's type."""
    kinds = ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string"), ((int, float), "number"))
    return "null" if value is None else next((name for t, name in kinds if isinstance(value, t)), type(value).__name__)


def _load_json(path: Path) -> Any:
    """Decode a JSON file (UTF-8); every failure, nesting depth and giant numbers included, is a located error."""
    text = _read_text(path)
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        raise InputError(
            Issue(str(path), exc.lineno, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
        ) from None
    except RecursionError:
        msg = "not readable: JSON arrays or objects nested too deeply; expected a GeoJSON FeatureCollection"
        raise InputError(Issue(str(path), None, None, msg)) from None
    except ValueError:  # the only other failure of json.loads on text: an integer of more than 4,300 digits
        msg = "not readable JSON: a number has more than 4,300 digits; expected a GeoJSON FeatureCollection"
        raise InputError(Issue(str(path), None, None, msg)) from None


def _repeated_issue(obj: Any, file: str, n: int | None, what: str) -> list[Issue]:
    if not isinstance(obj, _RepeatedKeys):
        return []
    where = f"feature {n}: " if n is not None else ""
    keys = ", ".join(f"'{k}'" for k in obj.repeated)
    return [Issue(file, n, obj.repeated[0], f"{where}{what} gives key {keys} more than once; expected each once")]


def _features(doc: Any, path: Path, what: str) -> list[Any]:
    """The ``features`` list of a GeoJSON FeatureCollection."""
    file = str(path)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        got = f"type {doc.get('type')!r}" if isinstance(doc, dict) else f"a JSON {_json_kind(doc)}"
        raise InputError(Issue(file, None, None, f"expected a GeoJSON FeatureCollection of {what}, got {got}"))
    if issues := _repeated_issue(doc, file, None, "the FeatureCollection"):
        raise InputError(issues)
    features = doc.get("features")
    if features is None:
        return []
    if not isinstance(features, list):
        text = f"expected 'features' to be a list of Feature objects, got a JSON {_json_kind(features)}"
        raise InputError(Issue(file, None, "features", text))
    return features


def geojson_features(path: Path, what: str) -> list[Any]:
    """The features of a GeoJSON FeatureCollection of ``what``, decoded with every check of the point readers.

    Encodings, nesting depth, giant numbers, repeated keys and the top-level structure are located errors; each
    feature is left to the caller.
    """
    return _features(_load_json(path), path, what)


def _feature_parts(feature: Any, file: str, n: int) -> tuple[dict[str, Any], dict[str, Any]] | Issue:
    """(properties, geometry) of feature ``n``, or the issue that makes it unreadable."""
    if not isinstance(feature, dict):
        return Issue(file, n, None, f"feature {n}: expected a Feature object, got a JSON {_json_kind(feature)}")
    props = {} if feature.get("properties") is None else feature["properties"]
    geom = {} if feature.get("geometry") is None else feature["geometry"]
    for key, value in (("properties", props), ("geometry", geom)):
        if not isinstance(value, dict):
            return Issue(file, n, key, f"feature {n}: expected '{key}' to be an object, got a JSON {_json_kind(value)}")
    repeated = [*_repeated_issue(feature, file, n, "the Feature"), *_repeated_issue(props, file, n, "properties")]
    return repeated[0] if repeated else (props, geom)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cell_text(value: Any) -> str:
    """A property value as the reader's text: null is empty, booleans are true/false, arrays and objects JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _read_geojson_points(path: Path, columns: Iterable[Column]) -> pd.DataFrame:
    file, known = str(path), {c.name for c in columns}
    records, issues = [], []
    for n, feature in enumerate(_features(_load_json(path), path, "points"), start=1):
        parts = _feature_parts(feature, file, n)
        if isinstance(parts, Issue):
            issues.append(parts)
            continue
        props, geom = dict(parts[0]), parts[1]
        coords = geom.get("coordinates")
        if geom.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            issues.append(Issue(file, n, "geometry", f"expected a Point geometry, got {geom.get('type')!r}"))
            continue
        if not (_is_number(coords[0]) and _is_number(coords[1])):
            text = f"feature {n}: expected Point coordinates [lon, lat] as numbers, got {_shown(coords)}"
            issues.append(Issue(file, n, "geometry", text))
            continue
        for key, value in (("lon", coords[0]), ("lat", coords[1])):
            given = props.get(key)
            if given not in (None, "") and not _same_number(given, value):
                text = (f"feature {n}: property {key} = {given} disagrees with the Point geometry's {value} "
                        "(GeoJSON coordinates are [lon, lat]): remove one")  # fmt: skip
                issues.append(Issue(file, n, key, text))
            props[key] = value
        for key, value in props.items():
            if key in known and isinstance(value, dict | list):
                text = (
                    f"feature {n}: property {key} is a JSON {_json_kind(value)} ({_shown(value)}); expected one value"
                )
                issues.append(Issue(file, n, key, text))
        records.append({k: _cell_text(v) for k, v in props.items()})
    if issues:
        raise InputError(issues)
    return pd.DataFrame.from_records(records).fillna("")


def _same_number(a: Any, b: Any) -> bool:
    """Whether two coordinate values are the same number (within 1e-7 degrees, about a centimetre)."""
    try:
        return abs(float(a) - float(b)) <= 1e-7
    except (TypeError, ValueError, OverflowError):
        return False


# --------------------------------------------------------------------------------------------- GeoPackage
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


def _gpkg_layer(con: sqlite3.Connection, file: str) -> tuple[str, str, pd.DataFrame]:
    """(table, geometry column, rows) of the GeoPackage's one feature layer."""
    layers = con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns ORDER BY table_name").fetchall()
    if len(layers) != 1:
        found = ", ".join(str(t) for t, _ in layers) or "none"
        raise InputError(Issue(file, None, None, f"has {len(layers)} feature layers ({found}); expected exactly one"))
    table, geom_col = (str(v) for v in layers[0])
    quoted = '"' + table.replace('"', '""') + '"'
    frame = pd.read_sql_query(f"SELECT * FROM {quoted}", con)  # the name quoted; the connection is read-only
    if geom_col not in frame.columns:
        raise InputError(Issue(file, None, geom_col, f"layer '{table}' has no geometry column '{geom_col}'"))
    return table, geom_col, frame


def _read_geopackage_points(path: Path) -> pd.DataFrame:
    file = str(path)
    try:
        # a file: URI percent-encoded by pathlib: a name with "#", "%" or "?" opens exactly this file, read-only
        with contextlib.closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as con:
            _, geom_col, frame = _gpkg_layer(con, file)
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        raise InputError(Issue(file, None, None, f"not a readable GeoPackage with a point layer: {exc}")) from None
    issues, lons, lats = [], [], []
    for n, blob in enumerate(frame[geom_col].tolist(), start=1):
        try:
            if not isinstance(blob, bytes | bytearray | memoryview):
                raise TypeError(f"got {type(blob).__name__}, not a geometry blob")
            lon, lat = _gpkg_point(bytes(blob))
        except (ValueError, struct.error, TypeError, IndexError) as exc:
            issues.append(Issue(file, n, geom_col, f"expected a Point geometry ({exc})"))
            lon = lat = float("nan")
        lons.append(lon)
        lats.append(lat)
    frame = frame.drop(columns=[geom_col])
    for key, values in (("lon", lons), ("lat", lats)):
        if key in frame.columns:
            for n, (given, value) in enumerate(zip(frame[key].tolist(), values, strict=True), start=1):
                if not pd.isna(given) and given != "" and not _same_number(given, value):
                    text = f"column {key} = {given} disagrees with the Point geometry's {value}: remove one"
                    issues.append(Issue(file, n, key, text))
    if issues:
        raise InputError(issues)
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


def _read_any(
    path: Path, columns: Iterable[Column], headerless: Callable[[list[str]], list[str] | None] | None = None
) -> tuple[pd.DataFrame, Callable[[int], int]]:
    """Read a CSV, GeoJSON or GeoPackage file as a table of strings with its row numbering.

    The size and file-type guard runs before any byte is read. ``headerless`` is for CSV (see
    :func:`_read_csv_strings`).
    """
    if path.is_dir():
        raise InputError(Issue(str(path), None, None, "is a folder; expected a data file"))
    check_regular_file(path)
    try:
        return _read_by_suffix(path, columns, headerless)
    except FileNotFoundError:
        raise InputError(Issue(str(path), None, None, "file not found")) from None
    except OSError as exc:  # permissions, a file vanishing while read: the user's to fix, named
        raise InputError(Issue(str(path), None, None, f"cannot read the file: {exc.strerror or exc}")) from None


@dataclass(frozen=True)
class _Rows:
    """The row users see for each 0-based record: ``lines[i]`` (CSV: the line a record starts on), else ``i + 1``."""

    lines: np.ndarray | None = None

    def __call__(self, i: int) -> int:
        return int(self.lines[i]) if self.lines is not None else i + 1

    def all(self, n: int) -> np.ndarray:
        """The rows of records 0..n-1."""
        return np.asarray(self.lines[:n], dtype=np.int64) if self.lines is not None else np.arange(1, n + 1)


def _row_numbers(row_of: Callable[[int], int], n: int) -> np.ndarray:
    """``row_of(i)`` for i in 0..n-1, at once when ``row_of`` is a :class:`_Rows`."""
    if isinstance(row_of, _Rows):
        return row_of.all(n)
    return np.array([row_of(i) for i in range(n)], dtype=np.int64)


def _read_by_suffix(
    path: Path, columns: Iterable[Column], headerless: Callable[[list[str]], list[str] | None] | None
) -> tuple[pd.DataFrame, Callable[[int], int]]:
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        return _read_geojson_points(path, columns), _Rows()
    if suffix == ".gpkg":
        return _read_geopackage_points(path), _Rows()
    if suffix in (".parquet", ".pq"):  # row numbers: 1-based rows of the table
        return read_parquet_strings(path, {c.name for c in columns if c.kind in ("float", "int")}), _Rows()
    frame = _read_csv_strings(path, columns, headerless)
    lines = frame.index.to_numpy()
    return frame.reset_index(drop=True), _Rows(lines)


def fingerprint(path: Path) -> str:
    """SHA-256 of a file, to record exactly which data a run used (streamed: a large file is not held in memory)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


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


# --------------------------------------------------------------------------------------------- plausibility
BOX_MARGIN_DEG = 0.5  # planner estimate: about 55 km, well above the 1:50m outlines' error and 0.036° grid


@functools.cache
def country_boxes() -> dict[str, Box]:
    """Bounding box of every country by ISO 3166 alpha-3 code (``planner/country_bbox.csv``).

    Built by ``scripts/build_country_bbox.py`` from the Natural Earth 1:50m outlines of the app's map.
    """
    text = importlib.resources.files("planner").joinpath("country_bbox.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    return {
        r["iso3"]: Box(float(r["lat_min"]), float(r["lat_max"]), float(r["lon_west"]), float(r["lon_east"]))
        for r in rows
    }


def _swap_hint(geojson: bool) -> str:
    return "GeoJSON Point coordinates as [lon, lat]" if geojson else "latitudes in column lat and longitudes in lon"


def office_location_issues(table: pd.DataFrame, file: str, row_of: Callable[[int], int], geojson: bool) -> list[Issue]:
    """Offices whose coordinates lie outside the bounding box of their ``country`` (widened by BOX_MARGIN_DEG).

    Each such office is an error naming its row (and whether lat and lon exchanged would lie inside: swapped?).
    When most offices checked look swapped, one more issue names the file. Offices whose country has no known
    box are not checked here (the -90..90 / -180..180 ranges still apply; see :func:`swapped_file_issues`).
    """
    boxes = country_boxes()
    codes = table["country"].astype(str).str.strip().str.upper().to_numpy()
    lat, lon = table["lat"].to_numpy(dtype=float), table["lon"].to_numpy(dtype=float)
    issues: list[Issue] = []
    checked = swapped_count = 0
    for code in dict.fromkeys(codes.tolist()):
        box = boxes.get(code)
        if box is None:
            continue
        idx = np.flatnonzero(codes == code)
        checked += len(idx)
        outside = ~box.contains(lat[idx], lon[idx], BOX_MARGIN_DEG)
        swapped = outside & box.contains(lon[idx], lat[idx], BOX_MARGIN_DEG)
        swapped_count += int(swapped.sum())
        for i, flipped in zip(idx[outside].tolist(), swapped[outside].tolist(), strict=True):
            where = f"(lat, lon) = ({lat[i]:g}, {lon[i]:g}) lies outside {code} ({box}, ±{BOX_MARGIN_DEG:g}°)"
            why = (f"with lat and lon exchanged it lies inside: swapped? expected {_swap_hint(geojson)}" if flipped
                   else f"expected a location in {code}: check the coordinates or the country code")  # fmt: skip
            issues.append(Issue(file, row_of(i), "lat/lon", f"{where}; {why}"))
    if swapped_count and swapped_count * 2 > checked:
        text = (f"{swapped_count:,} of {checked:,} offices lie outside their country but inside it with lat and lon "
                f"exchanged: the coordinates look swapped; expected {_swap_hint(geojson)}")  # fmt: skip
        issues.insert(0, Issue(file, None, "lat/lon", text))
    return issues


def swapped_share(lat: ArrayLike, lon: ArrayLike, area: list[Box]) -> tuple[int, int]:
    """(points outside ``area`` that lie inside it with lat and lon exchanged, points), widened by BOX_MARGIN_DEG."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    inside = np.zeros(len(lat), dtype=bool)
    flipped = np.zeros(len(lat), dtype=bool)
    for box in area:
        inside |= box.contains(lat, lon, BOX_MARGIN_DEG)
        flipped |= box.contains(lon, lat, BOX_MARGIN_DEG)
    return int((~inside & flipped).sum()), len(lat)


def _mostly_swapped(lat: ArrayLike, lon: ArrayLike, area: list[Box]) -> tuple[int, int] | None:
    """(swapped, points) when more than half the points look swapped against ``area``, else None.

    A minority is not reported: near the lat = lon diagonal a real point outside the area can fall inside it
    when exchanged.
    """
    swapped, n = swapped_share(lat, lon, area) if area else (0, 0)
    return (swapped, n) if swapped and swapped * 2 > n else None


def _cross_file_location_issues(scenario: Scenario, tables: dict[str, Any]) -> list[Issue]:
    """Fibre nodes, towers and road vertices whose coordinates look swapped against the offices' area.

    The area is the bounding boxes of the offices' countries. When every office has a known country its box is
    trusted and the other file is named as swapped; offices without one are compared through their own extent,
    and then either file may be the swapped one, so the issue names both.
    """
    offices, boxes = tables["offices"], country_boxes()
    codes = offices["country"].astype(str).str.strip().str.upper()
    known = codes.isin(list(boxes)).to_numpy()
    area = [boxes[c] for c in dict.fromkeys(codes[known].tolist())]
    unknown = offices[~known]
    if len(unknown):
        area.append(Box.around(unknown["lat"], unknown["lon"]))
    paths = scenario.data
    files = scenario.countries.files if scenario.countries is not None and scenario.countries.files else {}
    offices_file = ", ".join(map(str, files.values())) if files else str(paths.offices)
    layers = [
        ("fibre nodes", paths.fibre_nodes, tables["fibre_nodes"], "lat", "lon"),
        ("towers", paths.towers, tables["towers"], "lat", "lon"),
        ("road vertices", paths.roads, tables["roads"], "lat0", "lon0"),
    ]
    issues: list[Issue] = []
    for what, path, table, lat, lon in layers:
        if path is None or table is None or not len(table):
            continue
        geojson = Path(path).suffix.lower() in (".geojson", ".json")
        found = _mostly_swapped(table[lat], table[lon], area)
        if found and not len(unknown):
            text = (f"{found[0]:,} of {found[1]:,} {what} lie outside the offices' countries "
                    f"({'; '.join(map(str, area[:3]))}{'; ...' if len(area) > 3 else ''}) but inside them with lat "
                    f"and lon exchanged: the coordinates look swapped; expected {_swap_hint(geojson)}")  # fmt: skip
            issues.append(Issue(str(path), None, "lat/lon", text))
            continue
        back = _mostly_swapped(unknown["lat"], unknown["lon"], [Box.around(table[lat], table[lon])])
        if len(unknown) and (found or back):
            text = (f"the offices ({offices_file}) and the {what} ({path}) lie far apart, but together with lat and "
                    "lon exchanged in one of the two files: one has its coordinates swapped; expected latitudes in "
                    "column lat and longitudes in lon, GeoJSON Point coordinates as [lon, lat] (a 'country' column "
                    "with ISO3 codes lets the planner tell which file is wrong)")  # fmt: skip
            issues.append(Issue(offices_file, None, "lat/lon", text))
    return issues


# --------------------------------------------------------------------------------------------- readers
def read_offices(path: Path, country: str | None = None, require_country: bool = False) -> pd.DataFrame:
    """Offices (CSV / GeoJSON / GeoPackage) with DESIGN §3 defaults; ``community`` defaults to ``office_id``.

    Several countries (``Scenario.countries``): ``country`` is the ISO alpha-3 code of a per-country file (an
    empty ``country`` cell takes it, another code is an error); ``require_country`` asks every row of a
    shared file for an ISO 3166 alpha-3 code.
    """
    raw, row_of = _read_any(path, OFFICE_COLUMNS)
    table, issues = validate_table(raw, OFFICE_COLUMNS, str(path), row_of, "office_id")
    if not issues and (country is not None or require_country):
        issues = _country_issues(table, str(path), row_of, country)
    if issues:
        raise InputError(issues)
    if table.empty:
        raise InputError(Issue(str(path), None, None, "no offices: expected at least one data row"))
    if country is not None:
        table["country"] = country
    geojson = path.suffix.lower() in (".geojson", ".json")
    if issues := office_location_issues(table, str(path), row_of, geojson):
        raise InputError(issues)
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
    raw, row_of = _read_any(path, NODE_COLUMNS)
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
    raw, row_of = _read_any(path, TOWER_COLUMNS, _opencellid_without_header)
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


def _opencellid_without_header(first: list[str]) -> list[str] | None:
    """OpenCellID's column names when the file's first record is a cell (``LTE,404,...``), not a header."""
    return _OPENCELLID if first and first[0].strip().upper() in _RADIO_GENERATION else None


def _from_opencellid(raw: pd.DataFrame, file: str, row_of: Callable[[int], int]) -> tuple[pd.DataFrame, list[Issue]]:
    missing = [c for c in ("mcc", "net", "area", "cell", "lon", "lat") if c not in raw.columns]
    if missing:
        found = ", ".join(map(str, raw.columns))
        text = f"required column of the OpenCellID layout is missing (columns found: {found})"
        return raw, [Issue(file, None, c, text) for c in missing]
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
    raw, row_of = _read_any(path, OPTION_COLUMNS)
    table, issues = validate_table(raw, OPTION_COLUMNS, str(path), row_of, None)
    if issues and not {"office_id", "technology"} <= set(table.columns):
        raise InputError(issues)
    known = set(technologies)
    seen: dict[tuple[str, str], int] = {}
    pairs = pd.DataFrame({"o": table["office_id"].astype(str), "t": table["technology"].astype(str)})
    clean = not issues and pairs["t"].isin(known).all() and not pairs.duplicated().any()
    for i, (office, tech) in enumerate(zip(pairs["o"], pairs["t"], strict=True) if not clean else ()):
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
    table["row"] = _row_numbers(row_of, len(table))
    return table.reset_index(drop=True)


def read_roads(path: Path | None) -> pd.DataFrame | None:
    """Road lines (GeoJSON LineString / MultiLineString features) as straight segments between consecutive vertices.

    Columns ``road_id, lat0, lon0, lat1, lon1`` (degrees). None when the scenario gives no roads file.
    """
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise InputError(Issue(str(path), None, None, "is a folder; expected a GeoJSON file of road lines"))
    check_regular_file(path)
    try:
        features = _features(_load_json(path), path, "road lines")
    except OSError as exc:
        raise InputError(Issue(str(path), None, None, f"cannot read the file: {exc.strerror or exc}")) from None
    rows: list[tuple[str, float, float, float, float]] = []
    issues: list[Issue] = []
    for n, feature in enumerate(features, start=1):
        parts = _feature_parts(feature, str(path), n)
        if isinstance(parts, Issue):
            issues.append(parts)
            continue
        props, geom = parts
        kind, coords = geom.get("type"), geom.get("coordinates")
        lines = [coords] if kind == "LineString" else coords if kind == "MultiLineString" else None
        if not isinstance(lines, list):
            issues.append(Issue(str(path), n, "geometry", f"expected a LineString or MultiLineString, got {kind!r}"))
            continue
        road_id = _cell_text(props.get("road_id")) or str(n)
        for line in lines:
            if not (isinstance(line, list) and all(isinstance(c, list) and len(c) >= 2 for c in line)
                    and all(_is_number(c[0]) and _is_number(c[1]) for c in line)):  # fmt: skip
                text = f"feature {n}: expected coordinates [lon, lat] as numbers, got {_shown(line)}"
                issues.append(Issue(str(path), n, "geometry", text))
                break
            pts = [(float(c[1]), float(c[0])) for c in line]
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
    if issues := _cross_file_location_issues(scenario, tables):
        raise InputError(issues)
    offices, quotes = tables["offices"], tables["quotes"]
    if quotes is not None and not _quotes_plannable(offices, quotes):
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
    return Inputs(
        offices, tables["fibre_nodes"], tables["towers"], quotes, prints, tables["roads"],
        skip_unknown=scenario.unknown_status.action == "skip",
    )  # fmt: skip


def _arrow_text(x: Any) -> Any:
    """A column, index or array of text as one Arrow ``large_string`` array; None when it is not text.

    Arrow text keeps its own buffers (no copy), so two calls on one column give arrays of the same memory.
    """
    import pyarrow as pa

    arr = pa.array(x.to_numpy(dtype=object) if isinstance(x, pd.Index) else x, from_pandas=True)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    arr = arr.cast(pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr


def _same_memory(a: Any, b: Any) -> bool:
    """Whether two Arrow arrays view the same memory: the same buffers, offset and length (so the same values)."""
    if len(a) != len(b) or a.offset != b.offset or a.type != b.type:
        return False
    pairs = zip(a.buffers(), b.buffers(), strict=True)
    return all((x is None) == (y is None) and (x is None or x.address == y.address) for x, y in pairs)


# Positions a stage already knows (costing sorts the options and knows each row's office): the later stages that
# map the same options column to the same offices take them instead of a hash lookup of millions of keys. Each
# entry holds its arrays, so their memory cannot be reused by other arrays while it is remembered.
_KNOWN_POSITIONS: deque[tuple[Any, Any, np.ndarray]] = deque(maxlen=2)
_KNOWN_LOCK = threading.Lock()


def remember_positions(values: Any, keys: Any, positions: np.ndarray) -> None:
    """Record that ``key_positions(values, keys)`` is ``positions`` (text keys only; the last two are kept)."""
    v, k = _arrow_text(values), _arrow_text(keys)
    if v is None or k is None or len(positions) != len(k):
        return
    pos = np.array(positions, dtype=np.int64)
    pos.setflags(write=False)
    with _KNOWN_LOCK:
        _KNOWN_POSITIONS.append((k, v, pos))


def key_positions(values: Any, keys: Any) -> np.ndarray:
    """The position in ``values`` (unique) of each of ``keys``, -1 where absent: ``Index(values).get_indexer(keys)``.

    Text keys are looked up with Arrow's hash table, several times faster than pandas' on millions of office ids,
    one lookup per run of equal keys, none when the runs are ``values`` in order or when the answer was
    :func:`remember_positions`'d for these very keys (the same Arrow memory) and equal values; other keys with
    pandas.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    v, k = _arrow_text(values), _arrow_text(keys)
    if v is None or k is None:
        return np.asarray(pd.Index(values).get_indexer(keys), dtype=np.int64)

    def lookup(these: Any) -> np.ndarray:
        return np.asarray(pc.index_in(these, value_set=v).fill_null(-1).to_numpy(), dtype=np.int64)

    with _KNOWN_LOCK:
        known = list(_KNOWN_POSITIONS)
    for known_k, known_v, pos in known:
        if _same_memory(known_k, k) and (_same_memory(known_v, v) or known_v.equals(v)):
            return pos.copy()
    if len(k) < 2:
        return lookup(k)
    # Keys come in runs (an options table lists each office's rows together): one lookup per run. When the runs
    # are ``values`` in order (the quotes of a plan's offices), no lookup at all: at 650,000 offices and 1.6 M
    # keys this is 0.03 s instead of 0.2 s.
    change = pc.fill_null(pc.not_equal(k[1:], k[:-1]), True).to_numpy(zero_copy_only=False)
    starts = np.r_[0, np.flatnonzero(change) + 1]
    if len(starts) > 0.9 * len(k):  # hardly any runs: look every key up
        return lookup(k)
    heads = k.take(pa.array(starts))
    if len(heads) == len(v) and heads.null_count == 0 and heads.equals(v) and len(pc.unique(v)) == len(v):
        at = np.arange(len(v), dtype=np.int64)  # (values repeated: the first of each wins, so only when distinct)
    else:
        at = lookup(heads)
    return np.repeat(at, np.diff(np.r_[starts, len(k)]))


def gather(values: np.ndarray, at: np.ndarray, missing: Any) -> np.ndarray:
    """``values[at]`` with ``missing`` where ``at`` is -1 (a key :func:`key_positions` did not find)."""
    if not len(values):
        return np.full(len(at), missing, dtype=object if values.dtype == object else float)
    return np.where(at >= 0, values[np.maximum(at, 0)], missing)


def repeated_text(n: int, value: object) -> np.ndarray:
    """An object array of ``n`` references to ``value``: ``np.full(n, value, dtype=object)``, 6× faster.

    ``np.full`` casts the scalar once per cell; assigning it to an empty object array only stores references
    (0.016 against 0.097 s for 1.6 M cells, measured), and the options table fills millions of such cells.
    """
    out = np.empty(n, dtype=object)
    out[:] = value
    return out


def text_from_codes(words: Any, codes: np.ndarray, index: pd.Index | None = None, name: Any = None) -> pd.Series:
    """``words[codes]`` as pandas' Arrow-backed text (code -1: missing), built by Arrow from the distinct words.

    Text columns of few distinct values (technologies, reasons, the why sentences) become millions of cells
    without a Python string per cell.
    """
    import pyarrow as pa

    text = pa.array(np.asarray(words, dtype=object), type=pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(text, dtype="str"), index=index, name=name)


def category_from_codes(words: Any, codes: np.ndarray, index: pd.Index | None = None, name: Any = None) -> pd.Series:
    """``words[codes]`` as a pandas Categorical (code -1: missing): each distinct text held once.

    For a column of long sentences repeated across millions of rows (the plan's why): at 650,000 offices the
    text is 117 MB as Arrow cells and 3 MB as codes. ``words`` may repeat a text (distinct codes, one sentence).
    """
    sentence_code, sentences = pd.factorize(np.asarray(words, dtype=object), sort=False)
    codes = np.asarray(codes, dtype=np.int64)
    mapped = np.where(codes >= 0, sentence_code[np.maximum(codes, 0)] if len(sentence_code) else -1, -1)
    cats = pd.Index(np.asarray(sentences, dtype=object), dtype="str")
    return pd.Series(pd.Categorical.from_codes(mapped, categories=cats), index=index, name=name)


def cheapest_rows(group: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Per distinct ``group`` value (positions, >= 0), the row of least cost (the first in row order among ties).

    Rows of a group that stand together (the options table is sorted by office) take one pass of ``reduceat``;
    otherwise, or with NaN costs, a sort by (group, cost). Returns row positions, one per group, the groups in the
    order they first appear (as ``groupby(sort=False)`` gives them).
    """
    if not len(group):
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    if len(starts) == np.count_nonzero(np.bincount(group)) and not np.isnan(costs).any():
        size = np.diff(np.r_[starts, len(group)])
        least = np.repeat(np.minimum.reduceat(costs, starts), size)
        hits = np.flatnonzero(costs == least)
        run = np.repeat(np.arange(len(starts)), size)[hits]
        return hits[np.r_[True, run[1:] != run[:-1]]]
    order = np.lexsort((costs, group))
    heads = np.r_[True, group[order][1:] != group[order][:-1]]
    seen = np.argsort(group, kind="stable")[heads]  # each group's first row, groups by value as in ``order[heads]``
    return order[heads][np.argsort(seen)]


def _quotes_plannable(offices: pd.DataFrame, quotes: pd.DataFrame) -> bool:
    """Whether every quote names an office of the offices file that is not connected."""
    # office ids are unique: a quote's office is plannable when it is one of the offices not connected (looked up
    # among those, in whose order the quotes of a plannable file usually come: no hash lookup then)
    open_ids = offices["office_id"][(offices["status"] != "connected").to_numpy(bool)]
    return bool((key_positions(open_ids, quotes["office_id"]) >= 0).all())


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
def read_parquet_strings(path: Path, numeric: Collection[str] = ()) -> pd.DataFrame:
    """A Parquet file as a table of strings, as the CSV reader gives, so one validation serves both.

    Numbers become their shortest round-trip text (so parsing gives back the same value), booleans ``true`` /
    ``false``, nulls ''. A column of nested values (lists, structs) is an error naming it.

    ``numeric``: columns that may stay numbers (float64, nulls as NaN) when the file stores them as integers
    or floats, every value finite and exact in a double: validation then checks them at once instead of
    parsing their text (any other value is written out as text, and the per-cell rules name it).
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
        if name in numeric and _exact_numbers(column, kind):
            columns[name] = pd.Series(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
            continue
        text = column if pa.types.is_string(kind) or pa.types.is_large_string(kind) else pc.cast(column, pa.string())
        columns[name] = pd.array(pc.fill_null(text, ""), dtype="str")  # Arrow-backed: no Python string per cell
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


def _exact_numbers(column: Any, kind: Any) -> bool:
    """Whether an Arrow column holds numbers a double keeps exactly: finite floats, or integers within 2**53."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(kind):
        return not pc.any(pc.invert(pc.is_finite(column))).as_py()
    if pa.types.is_integer(kind):
        bounds = pc.min_max(column).as_py()
        return all(v is None or abs(v) <= 2**53 for v in bounds.values())
    return False


def _number_text(values: pd.Series) -> pd.Series:
    """Numbers as :func:`read_parquet_strings` writes them as text (shortest round trip; NaN as '')."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(values.to_numpy(), from_pandas=True), pa.string())
    return pd.Series(pd.array(pc.fill_null(text, ""), dtype="str"), index=values.index)
