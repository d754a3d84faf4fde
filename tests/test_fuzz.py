"""Fuzzing every reader of user files: whatever the bytes, the answer is a valid table or an InputError that
names the file (and a row within it), never another exception.

Hypothesis draws CSV text (known and random headers, random cells, delimiters, quoting, line endings, encodings,
ragged rows), JSON (random structures and near-valid FeatureCollections) and scenario YAML (the bundled
scenarios with valid keys given values of the wrong type, unknown keys, random text).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.data import (
    NODE_COLUMNS,
    OFFICE_COLUMNS,
    OPTION_COLUMNS,
    TOWER_COLUMNS,
    read_fibre_nodes,
    read_offices,
    read_quotes,
    read_roads,
    read_towers,
)
from planner.errors import InputError
from planner.scenario import Scenario, catalogue_for, load_scenario

ROOT = Path(__file__).resolve().parents[1]
TECHS = ["fibre", "cellular_4g", "microwave", "geo_satellite", "leo_satellite"]
FUZZ = settings(
    max_examples=int(os.environ.get("PLANNER_FUZZ_EXAMPLES", "60")),  # a longer hunt: PLANNER_FUZZ_EXAMPLES=5000
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
OPENCELLID = ["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples", "changeable",
              "created", "updated", "averageSignal"]  # fmt: skip
KNOWN = sorted({c.name for cols in (OFFICE_COLUMNS, NODE_COLUMNS, TOWER_COLUMNS, OPTION_COLUMNS) for c in cols}
               | set(OPENCELLID))  # fmt: skip

READERS: dict[str, Callable[[Path], Any]] = {
    "offices": read_offices,
    "fibre_nodes": read_fibre_nodes,
    "towers": read_towers,
    "options": lambda p: read_quotes(p, TECHS),
}


def reads_or_refuses(reader: Callable[[Path], Any], path: Path) -> Any:
    """The reader's table, or None after checking its InputError names ``path`` and rows within the file."""
    try:
        return reader(path)
    except InputError as exc:
        assert exc.issues, "an InputError without issues"
        data = path.read_bytes()
        lines = data.count(b"\n") + data.count(b"\r") + 1  # a CSV row is a line; a GeoJSON row a feature
        for issue in exc.issues:
            assert issue.file == str(path) and issue.message, str(issue)
            assert issue.row is None or issue.row >= 1, str(issue)
            assert issue.row is None or path.suffix != ".csv" or issue.row <= lines, str(issue)
        assert str(path) in str(exc)
        return None


def check_table(kind: str, table: pd.DataFrame) -> None:
    """What a successful read promises: typed, in range, ids unique."""
    if kind == "options":
        assert set(table["technology"]) <= set(TECHS)
        assert (table["capex_usd"] >= 0).all() and (table["opex_usd_per_year"] >= 0).all()
        return
    if len(table):
        assert table["lat"].between(-90, 90).all() and table["lon"].between(-180, 180).all()
    if kind == "offices":
        assert len(table) and table["office_id"].is_unique and (table["population"] >= 0).all()
        assert table["population"].map(math.isfinite).all()
    if kind == "towers" and len(table):
        assert table["generation"].between(2, 5).all()


# --------------------------------------------------------------------------------------------- CSV
CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            "29.1",
            "79.5",
            "29,39",
            "-0",
            "1e400",
            "nan",
            "inf",
            "true",
            "no",
            "mail;financial",
            "connected",
            "A1",
            "4",
            "5000",
            '"',
            '""',
            "LTE",
            " 7 ",
            "10.928",
            "Zürich",
            "\u00a0",
            "fibre",
            "95",
            "-181",
            "1,5",
            "2;3",
        ]
    ),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=10),
    st.text(alphabet=',;\t"\n\r .0123456789-eE', max_size=8),
    st.floats().map(repr),
    st.integers(-(10**6), 10**6).map(str),
)
VALID_ROWS = st.tuples(
    st.floats(28.8, 31.4).map(lambda v: f"{v:.4f}"),
    st.floats(77.6, 81.0).map(lambda v: f"{v:.4f}"),
    st.integers(0, 10**5).map(str),
)


@st.composite
def csv_bytes(draw: st.DrawFn, kind: str) -> bytes:
    base = {"offices": ["office_id", "lat", "lon", "population"], "fibre_nodes": ["node_id", "lat", "lon"],
            "towers": ["tower_id", "lat", "lon", "generation", "range_km"],
            "options": ["office_id", "technology", "capex_usd", "opex_usd_per_year"]}[kind]  # fmt: skip
    header = draw(
        st.one_of(
            st.just(base),
            st.lists(st.sampled_from(KNOWN), max_size=8),
            st.lists(st.one_of(st.sampled_from(KNOWN), st.text(max_size=8)), max_size=8),
            st.just(base).flatmap(lambda b: st.permutations([*b, "name", "country", "grid_powr", "lat"])),
        )
    )
    rows: list[list[str]] = []
    if header == base and kind in ("offices", "fibre_nodes") and draw(st.booleans()):
        for n, (lat, lon, pop) in enumerate(draw(st.lists(VALID_ROWS, min_size=1, max_size=5))):
            rows.append([f"X{n}", lat, lon] + ([pop] if kind == "offices" else []))
    else:
        width = st.integers(max(0, len(header) - 2), len(header) + 2)
        rows = draw(st.lists(width.flatmap(lambda w: st.lists(CELLS, min_size=w, max_size=w)), max_size=6))
    delimiter = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    if draw(st.booleans()):
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows([header, *rows])
        text = buf.getvalue()
    else:  # naive joining: unbalanced quotes, delimiters inside cells, blank lines
        text = newline.join(delimiter.join(r) for r in [header, *rows]) + draw(st.sampled_from(["", newline]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"]))
    return text.encode(encoding, errors="replace")


@pytest.mark.parametrize("kind", list(READERS))
@FUZZ
@given(data=st.data())
def test_csv_readers_answer_a_table_or_a_located_error(tmp_path: Path, kind: str, data: st.DataObject) -> None:
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(data.draw(csv_bytes(kind)))
    table = reads_or_refuses(READERS[kind], path)
    if table is not None:
        check_table(kind, table)


# --------------------------------------------------------------------------------------------- JSON
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6))
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
COORD = st.one_of(st.floats(-200, 200), st.integers(-200, 200), JSON)
POINT = st.fixed_dictionaries({"type": st.sampled_from(["Point", "LineString"]),
                               "coordinates": st.one_of(st.lists(COORD, max_size=3), JSON)})  # fmt: skip
LINE = st.fixed_dictionaries({"type": st.sampled_from(["LineString", "MultiLineString"]),
                              "coordinates": st.lists(st.lists(COORD, max_size=3) | JSON, max_size=4)})  # fmt: skip
PROPS = st.fixed_dictionaries(
    {"office_id": st.one_of(st.text(max_size=4), JSON), "population": st.one_of(st.integers(0, 10**5), JSON)},
    optional={"node_id": JSON, "tower_id": JSON, "generation": st.integers(1, 6), "range_km": st.floats(0, 200),
              "lat": COORD, "country": st.sampled_from(["IND", "NPL", "", "XYZ"]), "road_id": JSON},
)  # fmt: skip
FEATURE = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("Feature"), "properties": st.one_of(PROPS, JSON), "geometry": st.one_of(POINT, LINE, JSON)}
    ),
    JSON,
)


def valid_offices(n: int) -> dict[str, Any]:
    features = [{"type": "Feature", "properties": {"office_id": f"G{i}", "population": 10 * i, "country": "IND"},
                 "geometry": {"type": "Point", "coordinates": [79.0 + i / 100, 29.5]}} for i in range(n)]  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


DOCS = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["FeatureCollection", "Feature"]),
            "features": st.one_of(st.lists(FEATURE, max_size=5), JSON),
        }
    ),
    st.integers(1, 4).map(valid_offices),
)


@st.composite
def json_bytes(draw: st.DrawFn) -> bytes:
    text = json.dumps(draw(DOCS))
    if draw(st.integers(0, 5)) == 0:  # truncated, or with a foreign character
        text = text[: draw(st.integers(0, len(text)))]
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return (text + draw(st.sampled_from(["", "é", "\x00"]))).encode(encoding, errors="replace")


@pytest.mark.parametrize("kind", ["offices", "fibre_nodes", "towers", "roads"])
@FUZZ
@given(data=st.data())
def test_geojson_readers_answer_a_table_or_a_located_error(tmp_path: Path, kind: str, data: st.DataObject) -> None:
    path = tmp_path / f"{kind}.geojson"
    path.write_bytes(data.draw(json_bytes()))
    reader = read_roads if kind == "roads" else READERS[kind]
    table = reads_or_refuses(reader, path)
    if table is not None and kind != "roads":
        check_table(kind, table)
    if table is not None and kind == "roads":
        assert len(table) and table[["lat0", "lat1"]].abs().le(90).all().all()


def test_the_valid_collection_is_read() -> None:
    """The fuzz's valid branch is valid: the readers' success path is exercised, not only their refusals."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "offices.geojson"
        path.write_text(json.dumps(valid_offices(3)), encoding="utf-8")
        assert read_offices(path)["office_id"].tolist() == ["G0", "G1", "G2"]


# --------------------------------------------------------------------------------------------- scenario YAML
def _schema_paths() -> list[tuple[str, ...]]:
    """Every key path of the scenario schema (nested models included), e.g. ('solver', 'time_limit_s')."""
    schema = Scenario.model_json_schema()
    defs = schema.get("$defs", {})
    paths: list[tuple[str, ...]] = []

    def walk(node: dict[str, Any], prefix: tuple[str, ...], depth: int) -> None:
        for sub in node.get("anyOf", []) + node.get("allOf", []):
            walk(sub, prefix, depth)
        if "$ref" in node:
            walk(defs[node["$ref"].split("/")[-1]], prefix, depth)
        for key, sub in node.get("properties", {}).items():
            paths.append((*prefix, key))
            if depth < 3:
                walk(sub, (*prefix, key), depth + 1)

    walk(schema, (), 0)
    return sorted(set(paths))


PATHS = _schema_paths()


def _bundled() -> list[dict[str, Any]]:
    """The shipped scenarios with absolute data paths (so that they stay valid when written elsewhere)."""
    out = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw["data"] = {k: str((path.parent / v).resolve()) for k, v in (raw.get("data") or {}).items()}
        files = (raw.get("countries") or {}).get("files")
        if files:
            raw["countries"]["files"] = {k: str((path.parent / v).resolve()) for k, v in files.items()}
        out.append(raw)
    return out


BUNDLED = _bundled()


@st.composite
def scenario_text(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=80))
    raw = json.loads(json.dumps(draw(st.sampled_from(BUNDLED))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        node = raw
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        action = draw(st.integers(0, 4))
        if action == 0:
            node.pop(path[-1], None)
        elif action == 1:
            node[path[-1] + draw(st.sampled_from(["_x", "s", ""]))] = draw(JSON)
        else:
            node[path[-1]] = draw(JSON)
    return yaml.safe_dump(raw, allow_unicode=True)


@FUZZ
@given(text=scenario_text())
def test_scenarios_load_or_give_a_located_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        scenario = load_scenario(path)
    except InputError as exc:
        assert exc.issues and all(i.file == str(path) and i.message for i in exc.issues), str(exc)
        return
    try:
        catalogue_for(scenario)
    except InputError as exc:
        assert exc.issues and all(i.file and i.message for i in exc.issues), str(exc)
