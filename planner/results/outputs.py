"""The output contract (DESIGN §6): the files a plan writes, their names, columns and encoders; the one writer.

``planner solve`` (:func:`write_outputs`), the app's downloads (:func:`output_bytes`) and the run store (which
records the files :func:`write_outputs` wrote) all go through :func:`output_bytes`, so a file has the same bytes
wherever it is produced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
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
    """The table as CSV: the bytes of ``table.to_csv(index=False, float_format=...)``, written faster when it can.

    Without ``float_format`` the text is made column by column with pyarrow (:func:`fast_csv`), byte for byte what
    pandas writes; a table it cannot vouch for (other dtypes, odd text) goes to pandas.
    """
    if float_format is None:
        fast = fast_csv(table)
        if fast is not None:
            return fast
    return table.to_csv(index=False, float_format=float_format).encode("utf-8")


_STRUCTURAL = '[,"\n\r]'  # a field holding one of these is quoted by pandas (csv.QUOTE_MINIMAL)


def fast_csv(table: pd.DataFrame) -> bytes | None:
    """``table.to_csv(index=False)`` as UTF-8 bytes, built with pyarrow compute; None where pandas must write it.

    Floats are written as Python writes them (the shortest text that reads back the same number): pyarrow's
    shortest form where it is the same (fixed notation, 1e-4 <= |x| < 1e16, with ".0" for whole numbers), numpy's
    ``astype(str)`` (what pandas uses) for the rest. Integers and nullable integers as digits, booleans
    ``True``/``False``, missing values empty, text quoted when it holds a comma, a quote or a line break.
    None for a table of one column, no rows, a column of another dtype, non-text objects, or a carriage return
    (whose quoting differs between Python versions).
    """
    parts = _csv_parts(table)
    return None if parts is None else b"".join([parts[0], *parts[1]])


def _csv_parts(table: pd.DataFrame, words: dict[Any, Any] | None = None) -> tuple[bytes, list[memoryview]] | None:
    """:func:`fast_csv`'s text as (header line, the rows' text in consecutive pieces), or None where pandas must.

    ``words``: the CSV text of a categorical column's categories (:func:`_category_words`), by column name, made
    once for a file written in blocks.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(table.columns) < 2 or not len(table) or not table.columns.is_unique:
        return None
    words = words or {}
    same = _same_float_columns(table)
    firsts = [name for name in table.columns if name not in same]
    try:
        # Columns are formatted on two threads (pyarrow's kernels release the GIL): at world scale plan.csv is the
        # longest output to encode, and the other encoder of write_outputs is done long before it.
        with ThreadPoolExecutor(max_workers=ENCODING_THREADS) as pool:
            columns = dict(table.items())
            made = pool.map(lambda name: _csv_field(columns[name], pa, pc, words.get(name)), firsts)
            texts = dict(zip(firsts, made, strict=True))
        header = [_csv_field(pd.Series([str(name) for name in table.columns], dtype=object), pa, pc)]
    except (_NotFast, pa.ArrowException):
        return None
    fields = [texts[same.get(name, name)] for name in table.columns]
    if any(f is None for f in fields):
        return None

    def joined(span: tuple[int, int]) -> memoryview:
        """The text of rows ``span`` (start, count): cells joined by commas, each row ended by a line break."""
        rows = pc.binary_join_element_wise(*(f.slice(*span) for f in fields), _text(pa, ","))
        rows = pc.binary_join_element_wise(rows, _text(pa, ""), _text(pa, "\n"))
        if isinstance(rows, pa.ChunkedArray):
            rows = rows.combine_chunks()
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset : rows.offset + len(rows) + 1]
        return memoryview(rows.buffers()[2])[int(offsets[0]) : int(offsets[-1])]

    # The rows are joined in halves on two threads (a fifth of a block's time at 650,000 offices, on one thread)
    n, half = len(table), len(table) // 2
    spans = [(0, half), (half, n - half)] if n >= JOIN_HALVES_ROWS else [(0, n)]
    with ThreadPoolExecutor(max_workers=ENCODING_THREADS) as pool:
        bodies = list(pool.map(joined, spans))
    names = header[0].to_pylist()
    return (",".join(names) + "\n").encode("utf-8"), bodies


JOIN_HALVES_ROWS = 8_192  # rows from which a block's rows are joined in two halves (below, a thread costs more)


def write_csv_in_parts(table: pd.DataFrame, path: Path, rows: int | None = None) -> bool:
    """Write ``fast_csv(table)`` to ``path`` a block of ``rows`` rows at a time; False when it cannot.

    False (and no file left) for a table :func:`fast_csv` leaves to pandas, or a block it would. The file is byte
    for byte :func:`fast_csv`'s text (each cell is formatted on its own), while only one block's text is in memory
    at a time: at 650,000 offices ``plan.csv`` is 200 MB, its columns' text several times that.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    step = rows or CSV_BLOCK_ROWS
    if not len(table):
        return False
    try:
        # a categorical column's categories (the why: 56,951 sentences at 650,000 offices) as text once, not a block
        words = {
            name: _category_words(column, pa, pc)
            for name, column in table.items()
            if isinstance(column.dtype, pd.CategoricalDtype)
        }
    except (_NotFast, pa.ArrowException):
        return False
    try:
        with path.open("wb") as out:
            for start in range(0, len(table), step):
                parts = _csv_parts(table.iloc[start : start + step], words)
                if parts is None:
                    raise _NotFast
                if not start:
                    out.write(parts[0])
                for body in parts[1]:
                    out.write(body)
    except _NotFast:
        path.unlink(missing_ok=True)
        return False
    return True


CSV_BLOCK_ROWS = 131_072  # rows per block of a CSV written in parts (about 40 MB of plan.csv text)


def _text(pa: Any, value: str) -> Any:
    return pa.scalar(value, pa.large_string())


class _NotFast(Exception):
    """A column :func:`fast_csv` leaves to pandas."""


def _same_float_columns(table: pd.DataFrame) -> dict[Any, Any]:
    """Each float column that holds the same bits as an earlier one, and that earlier column (``table`` has rows).

    A quote's capex is also its cost and its equipment capex, and its opex its service opex: the text of such a
    column is made once and shared (the same bits give the same text; ``-0.0`` and ``0.0`` differ in bits).
    """
    seen: dict[tuple[int, int], list[tuple[Any, np.ndarray]]] = {}
    same: dict[Any, Any] = {}
    for name, column in table.items():
        if not (column.dtype.kind == "f" and column.dtype == np.float64):
            continue
        bits = column.to_numpy(np.float64).view(np.int64)
        key = (int(bits[0]), int(bits[-1]))
        for first, earlier in seen.get(key, []):
            if np.array_equal(earlier, bits):
                same[name] = first
                break
        else:
            seen.setdefault(key, []).append((name, bits))
    return same


def _category_words(column: pd.Series, pa: Any, pc: Any) -> Any:
    """A categorical column's categories as their CSV text (pyarrow large strings), in category order."""
    categories = column.cat.categories
    if not (categories.dtype == object or isinstance(categories.dtype, pd.StringDtype)):
        raise _NotFast
    return _csv_field(pd.Series(categories.to_numpy(object), dtype=object), pa, pc)


def _csv_field(column: pd.Series, pa: Any, pc: Any, words: Any = None) -> Any:
    """One column as pyarrow large strings, each cell as pandas' CSV writer writes it.

    ``words``: for a categorical column, its categories' text if already made (:func:`_category_words`).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):  # each distinct text formatted once, then taken by code
        words = _category_words(column, pa, pc) if words is None else words
        codes = column.cat.codes.to_numpy(np.int64)
        return pc.fill_null(pc.take(words, pa.array(codes, mask=codes < 0)), "")
    kind = column.dtype.kind
    if isinstance(column.dtype, pd.Int64Dtype):
        missing = pa.array(column.isna().to_numpy(bool))
        digits = pc.cast(pa.array(column.to_numpy(np.int64, na_value=0)), pa.large_string())
        return pc.if_else(missing, _text(pa, ""), digits)
    if kind == "f" and column.dtype == np.float64:
        values = column.to_numpy(np.float64)
        bits = values.view(np.int64)
        if len(values) > 1 and (bits == bits[0]).all():  # one value (bit for bit: -0.0 is not 0.0): written once
            return pa.repeat(_csv_field(column.iloc[:1], pa, pc)[0], len(values))
        text = pc.cast(pa.array(values), pa.large_string())
        whole = pc.invert(pc.match_substring(text, "."))
        text = pc.if_else(whole, pc.binary_join_element_wise(text, _text(pa, ".0"), _text(pa, "")), text)
        magnitude = np.abs(values)
        ok = ((magnitude >= 1e-4) & (magnitude < 1e16)) | (values == 0)
        ok &= ~np.asarray(pc.match_substring(text, "e").to_numpy(zero_copy_only=False), dtype=bool)
        if not ok.all():
            rest = values[~ok]
            fallback = np.where(np.isnan(rest), "", rest.astype(str)).astype(object)
            text = pc.replace_with_mask(text, pa.array(~ok), pa.array(fallback, pa.large_string()))
        return text
    if kind in "iu" and isinstance(column.dtype, np.dtype):
        return pc.cast(pa.array(column.to_numpy()), pa.large_string())
    if kind == "b" and isinstance(column.dtype, np.dtype):
        return pa.array(np.where(column.to_numpy(bool), "True", "False").astype(object), pa.large_string())
    if kind == "O" or isinstance(column.dtype, pd.StringDtype):
        if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
            arrow = pa.array(column, from_pandas=True)  # the column's own buffers: no Python string per cell
            arrow = arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow
            if len(arrow) > 1 and not arrow.null_count and pc.all(pc.equal(arrow, arrow[0])).as_py():
                return pa.repeat(_csv_field(column.iloc[:1], pa, pc)[0], len(arrow))  # one text: checked once
            text = pc.fill_null(arrow.cast(pa.large_string()), "")
        else:
            text = pc.fill_null(pa.array(column.to_numpy(object), pa.large_string(), from_pandas=True), "")
        if pc.any(pc.match_substring(text, "\r")).as_py():
            raise _NotFast
        needs = pc.match_substring_regex(text, _STRUCTURAL)
        if pc.any(needs).as_py():
            quoted = pc.binary_join_element_wise(
                _text(pa, '"'), pc.replace_substring(text, '"', '""'), _text(pa, '"'), _text(pa, "")
            )
            text = pc.if_else(needs, quoted, text)
        return text
    raise _NotFast


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2) + "\n").encode("utf-8")


def _parquet(table: pd.DataFrame) -> bytes:
    """A table as Parquet bytes (pyarrow, zstd; the same columns and types as the plan tables).

    Deterministic: the same table gives the same bytes (the run store stores one copy per content).
    """
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    write_parquet(table, sink)
    return sink.getvalue().to_pybytes()


def write_parquet(table: pd.DataFrame, sink: Any) -> None:
    """Write ``table`` as Parquet to ``sink`` (a path or a pyarrow output stream): :func:`_parquet`'s bytes.

    Straight to a file, the bytes are never whole in memory (the options table at 650,000 offices is 114 MB of
    Parquet, which as bytes were held twice: the stream's buffer and its Python copy).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Categorical text (the plan's why) is written as the text it stands for, one row group at a time: the same
    # column type and bytes as a text column.
    as_text = {c: "str" for c, t in table.dtypes.items() if isinstance(t, pd.CategoricalDtype)}
    schema = pa.Schema.from_pandas(table.head(0).astype(as_text) if as_text else table, preserve_index=False)
    # Dictionary pages for the text columns only (few distinct values); number columns of mostly distinct values
    # would try a dictionary and fall back: the options table at 650,000 offices writes in 1.1 s instead of 1.8 s,
    # and 114 MB instead of 123 MB.
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    # converted one row group at a time: the options table at 650,000 offices (3.2 M rows) is ~1.4 GB as Arrow
    with pq.ParquetWriter(sink, schema, compression="zstd", compression_level=1, use_dictionary=text) as writer:
        for start in range(0, max(len(table), 1), PARQUET_ROW_GROUP):
            part = table.iloc[start : start + PARQUET_ROW_GROUP]
            part = part.astype(as_text) if as_text else part
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))


PARQUET_ROW_GROUP = 1_048_576  # rows per Parquet row group (and per conversion step; pyarrow's default size)


# The tables written as CSV and/or Parquet (``name.csv`` / ``name.parquet``): name -> (does the plan have it?,
# the table), in the order write_outputs writes them.
TABLES: dict[str, tuple[Callable[[Plan], bool], Callable[[Plan], pd.DataFrame]]] = {
    "plan": (lambda p: True, lambda p: p.plan),
    "by_technology": (lambda p: True, lambda p: p.by_technology),
    "by_region": (lambda p: True, lambda p: p.by_region),
    "options": (lambda p: True, lambda p: p.options),
    "sites": (lambda p: p.sites is not None, lambda p: cast(pd.DataFrame, p.sites)),
    "roadmap": (lambda p: p.roadmap is not None, lambda p: cast(pd.DataFrame, p.roadmap)),
}
_FLOAT_FORMAT = {"options": "%.6g"}  # the options table's CSV rounds to 6 significant digits (it is the largest)


def _table_encoders(
    name: str,
) -> dict[str, tuple[Callable[[Plan], bool], Callable[[Plan], bytes]]]:
    has, table = TABLES[name]
    fmt = _FLOAT_FORMAT.get(name)
    return {
        f"{name}.csv": (has, lambda p: _csv(table(p), fmt)),
        f"{name}.parquet": (has, lambda p: _parquet(table(p))),
    }


# file name -> (does the plan have it?, its bytes), in the order write_outputs writes them
ENCODERS: dict[str, tuple[Callable[[Plan], bool], Callable[[Plan], bytes]]] = {
    **_table_encoders("plan"),
    **_table_encoders("by_technology"),
    **_table_encoders("by_region"),
    **_table_encoders("options"),
    "fibre_routes.geojson": (
        lambda p: p.fibre_routes is not None,
        lambda p: (json.dumps(routes_geojson(cast(pd.DataFrame, p.fibre_routes), p.infra)) + "\n").encode("utf-8"),
    ),
    **_table_encoders("sites"),
    **_table_encoders("roadmap"),
    "summary.json": (lambda p: True, lambda p: _json(p.summary)),
}

FORMATS = ("csv", "parquet", "both")
"""``planner solve --format``: the tables as CSV (the default), as Parquet, or both. ``plan.csv`` and
``summary.json`` are written whatever the format (DESIGN §6)."""
ENCODING_THREADS = 2
"""Output files encoded at once by :func:`write_outputs`."""
OPTIONS_CHOICES = ("auto", "csv", "parquet", "both", "none")
"""``planner solve --options-file``: how the (office × technology) options table is written."""
OPTIONS_CSV_MAX_ROWS = 100_000
"""``--options-file auto``: above this many rows the options table is written as Parquet only (its CSV at 650,000
offices is 430 MB and takes longer to format than the whole plan takes to make)."""


def options_names(rows: int, fmt: str = "csv", options: str = "auto") -> list[str]:
    """The options table's files for a table of ``rows`` rows with ``--format fmt --options-file options``."""
    if options == "auto":
        options = "parquet" if rows > OPTIONS_CSV_MAX_ROWS else fmt
    suffixes = {"csv": ["csv"], "parquet": ["parquet"], "both": ["csv", "parquet"], "none": []}
    return [f"options.{suffix}" for suffix in suffixes[options]]


def output_names(plan: Plan, fmt: str = "csv", options: str = "auto") -> list[str]:
    """The files ``plan`` writes with ``--format fmt --options-file options``, in the order they are written.

    ``fmt``: csv (today's files), parquet (every table as ``.parquet``, plus ``plan.csv``) or both. ``options``:
    auto (the options table in the run's format; as Parquet only above :data:`OPTIONS_CSV_MAX_ROWS` rows),
    csv, parquet, both or none.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if options not in OPTIONS_CHOICES:
        raise ValueError(f"options file {options!r}: expected one of {', '.join(OPTIONS_CHOICES)}")
    suffixes = {"csv": {"csv"}, "parquet": {"parquet"}, "both": {"csv", "parquet"}}
    names = []
    for name, (has, _) in ENCODERS.items():
        stem, _, suffix = name.rpartition(".")
        if not has(plan):
            continue
        if stem == "options":
            wanted = name in options_names(len(plan.options), fmt, options)
        elif suffix in ("csv", "parquet"):
            wanted = suffix in suffixes[fmt] or name == "plan.csv"
        else:
            wanted = True
        if wanted:
            names.append(name)
    return names


def output_bytes(plan: Plan, name: str) -> bytes:
    """The content of one output file of ``plan`` (a name from :func:`output_names`)."""
    has, encode = ENCODERS[name]
    if not has(plan):
        raise KeyError(f"this plan has no {name}")
    return encode(plan)


def write_outputs(
    plan: Plan, out_dir: Path, fmt: str = "csv", options: str = "auto", early: EarlyOptions | None = None
) -> list[Path]:
    """Write the plan's output files to ``out_dir`` and return their paths.

    With the defaults: ``plan.csv``, ``summary.json``, ``by_technology.csv``, ``by_region.csv``, ``options.csv``
    (``options.parquet`` above :data:`OPTIONS_CSV_MAX_ROWS` rows) and, with shared infrastructure,
    ``fibre_routes.geojson`` and ``sites.csv`` (``roadmap.csv`` for a roadmap). ``fmt`` and ``options``: see
    :func:`output_names`. ``early``: the options files, if it has started writing them (it is waited for here).
    """
    names = output_names(plan, fmt, options)
    out_dir.mkdir(parents=True, exist_ok=True)
    ahead = early.names if early is not None and early.started else []
    if ahead and ahead != [n for n in names if n.startswith("options.")]:
        raise ValueError(f"options files written ahead {ahead} differ from the plan's {names}")

    def write(name: str) -> Path:
        path = out_dir / name
        if name == "plan.csv" and write_csv_in_parts(plan.plan, path):  # the largest text: in blocks
            return path
        stem = name.rpartition(".")[0]
        if stem in TABLES:
            write_table_file(TABLES[stem][1](plan), path, _FLOAT_FORMAT.get(stem))
            return path
        path.write_bytes(output_bytes(plan, name))
        return path

    # Two files are encoded and written at a time (pyarrow's CSV text and Parquet writer release the GIL: at world
    # scale plan.csv and options.parquet take seconds each).
    rest = [n for n in names if n not in ahead]
    with ThreadPoolExecutor(max_workers=ENCODING_THREADS) as pool:
        written = dict(zip(rest, pool.map(write, rest), strict=True))
    if early is not None and early.started:
        written.update(zip(ahead, early.result(), strict=True))
    return [written[n] for n in names]


def write_table_file(table: pd.DataFrame, path: Path, float_format: str | None = None) -> None:
    """One table as ``path`` (``.csv`` or ``.parquet``): the bytes :func:`output_bytes` gives for it.

    Parquet is written straight to the file (its bytes are never whole in memory: 114 MB for the options table at
    650,000 offices, which as bytes were held twice, the stream's buffer and its Python copy).
    """
    if path.suffix == ".parquet":
        write_parquet(table, str(path))
    else:
        path.write_bytes(_csv(table, float_format))


class EarlyOptions:
    """The options table's files, written on a thread as soon as the solve has chosen its options.

    ``planner solve`` hands this to the pipeline, which calls it with the options table (``chosen`` set) before it
    builds the plan table: at 650,000 offices the options' Parquet (about 1 s of CPU, mostly without the GIL)
    is then written while the plan table is built, not after. :func:`write_outputs` waits for it.
    """

    def __init__(self, out_dir: Path, fmt: str = "csv", options: str = "auto") -> None:
        self.out_dir, self.fmt, self.options = out_dir, fmt, options
        self.names: list[str] = []
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Any] = []

    @property
    def started(self) -> bool:
        """Whether the options files are being (or were) written."""
        return self._pool is not None

    def __call__(self, table: pd.DataFrame) -> None:
        """Start writing ``table`` (the plan's options table) as the options files."""
        if self.started:
            raise RuntimeError("the options files are already being written")
        self.names = options_names(len(table), self.fmt, self.options)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=1)
        fmt = _FLOAT_FORMAT.get("options")
        self._futures = [self._pool.submit(write_table_file, table, self.out_dir / name, fmt) for name in self.names]

    def result(self) -> list[Path]:
        """The files' paths once written (an error of the writing is raised here)."""
        if self._pool is None:
            return []
        try:
            for future in self._futures:
                future.result()
        finally:
            self._pool.shutdown(wait=True)
        return [self.out_dir / name for name in self.names]


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
