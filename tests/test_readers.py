"""Readers against hostile files (planner/data.py): encodings, delimiters, ragged rows, broken GeoJSON and
GeoPackages, implausible coordinates. Each is read correctly by a documented rule or refused with a located
InputError (exit 2), never a traceback and never a silent loss."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.data import (
    country_boxes,
    load_inputs,
    read_fibre_nodes,
    read_offices,
    read_parquet_strings,
    read_quotes,
    read_roads,
    read_towers,
)
from planner.errors import InputError
from planner.geo import Box
from planner.scenario import load_scenario, scenario_from_dict
from planner.ui.cli import app

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "uttarakhand"
HEADER = "office_id,name,lat,lon,population"


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def issues(reader, path: Path) -> list:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as err:
        reader(path)
    assert err.value.issues and all(i.file == str(path) for i in err.value.issues)
    return err.value.issues


# --------------------------------------------------------------------------------------------- 1. encodings
def test_a_latin1_csv_is_refused_at_its_first_bad_line(tmp_path: Path) -> None:
    """UTF-8 is the rule; a Windows-1252 / Latin-1 file is named with the line a text editor shows (header = 1)."""
    text = f"{HEADER}\nA,Dehradun,30.3,78.0,10\nB,Zürich,29.1,79.1,10\nC,Bär,29.2,79.2,5\n"
    path = write(tmp_path / "offices.csv", text.encode("latin-1"))
    (issue,) = issues(read_offices, path)
    assert issue.row == 3 and "not UTF-8 text: line 3, character 4, has the byte 0xfc" in issue.message
    assert "Zürich" in issue.message and "save the file as 'CSV UTF-8'" in issue.message


@pytest.mark.parametrize("reader, name", [(read_offices, "offices.geojson"), (read_roads, "roads.geojson")])
def test_a_latin1_geojson_is_refused_with_its_line(tmp_path: Path, reader, name: str) -> None:  # type: ignore[no-untyped-def]
    doc = '{"type": "FeatureCollection",\n"features": [{"type": "Feature", "properties": {"name": "Bär"}}]}'
    (issue,) = issues(reader, write(tmp_path / name, doc.encode("latin-1")))
    assert issue.row == 2 and "not UTF-8 text: line 2" in issue.message


def test_bom_crlf_and_utf16_with_bom_are_read(tmp_path: Path) -> None:
    text = f"{HEADER}\r\nA,Zürich,29.1,79.1,10\r\n"
    for name, data in (("bom.csv", "\ufeff" + text), ("utf16.csv", text.encode("utf-16"))):
        table = read_offices(write(tmp_path / name, data))
        assert table["name"].tolist() == ["Zürich"] and table["lat"].tolist() == [29.1]


def test_an_excel_workbook_named_csv_is_refused(tmp_path: Path) -> None:
    (issue,) = issues(read_offices, write(tmp_path / "offices.csv", b"PK\x03\x04\x14\x00\x06\x00"))
    assert "Excel .xlsx workbook" in issue.message


# --------------------------------------------------------------------------------------------- 2. delimiters
@pytest.mark.parametrize(
    "text",
    [
        "office_id;name;lat;lon;population\nA;Almora;29,39;79,66;10928\n",  # Excel in a decimal-comma locale
        "office_id;name;lat;lon;population\nA;Almora;29.39;79.66;10928\n",
        "office_id\tname\tlat\tlon\tpopulation\nA\tAlmora\t29.39\t79.66\t10928\n",
        'office_id;name;lat;lon;population\nA;"Almora; Bazar";29,39;79,66;10928\n',
    ],
)
def test_semicolon_and_tab_files_are_read(tmp_path: Path, text: str) -> None:
    """The delimiter is the one of ',', ';' and tab under which the header names the most known columns."""
    table = read_offices(write(tmp_path / "offices.csv", text))
    assert table.loc[0, "lat"] == pytest.approx(29.39) and table.loc[0, "lon"] == pytest.approx(79.66)
    assert table.loc[0, "population"] == 10928 and table.loc[0, "name"].startswith("Almora")


def test_a_dot_in_a_decimal_comma_file_is_ambiguous(tmp_path: Path) -> None:
    """'10.928' next to '29,39' may be ten thousand people: refused, not guessed."""
    text = "office_id;lat;lon;population\nA;29,39;79,66;5\nB;29,4;79,7;10.928\n"
    (issue,) = issues(read_offices, write(tmp_path / "offices.csv", text))
    assert (issue.row, issue.column) == (3, "population") and "writes decimals with ','" in issue.message


# --------------------------------------------------------------------------------------------- 3. ragged rows
@pytest.mark.parametrize(
    "row, fields, why",
    [("B,Almora,29.2,79.2,10,", 6, "trailing delimiter"), ("B,Almora,29.2,10", 4, "missing value")],
)
def test_a_ragged_row_is_refused_with_its_line(tmp_path: Path, row: str, fields: int, why: str) -> None:
    """More fields than the header used to shift columns (pandas took the first as the index) or, with fewer,
    default the missing ones silently."""
    path = write(tmp_path / "offices.csv", f"{HEADER}\nA,Almora,29.1,79.1,10\n\n{row}\n")
    (issue,) = issues(read_offices, path)
    assert issue.row == 4 and f"{fields} fields" in issue.message and why in issue.message


def test_a_ragged_row_exits_2_from_the_command_line(tmp_path: Path) -> None:
    path = write(tmp_path / "offices.csv", f"{HEADER}\nA,Almora,29.1,79.1,10,\n")
    scenario = write(tmp_path / "s.yaml", f"name: s\nbudget_usd: 1000\ndata: {{offices: {path}}}\n")
    out = CliRunner().invoke(app, ["validate", str(scenario)])
    assert out.exit_code == 2 and f"{path}, row 2: 6 fields separated by ','" in out.output
    assert "Traceback" not in out.output


def test_an_unclosed_quote_is_refused_not_swallowed(tmp_path: Path) -> None:
    """A '"' never closed used to take the rest of the file into one cell."""
    path = write(tmp_path / "offices.csv", f'{HEADER}\nA,"Almora,29.1,79.1,10\nB,x,29.2,79.2,5\n')
    (issue,) = issues(read_offices, path)
    assert issue.row == 2 and "never closed" in issue.message


# --------------------------------------------------------------------------------------------- 4. GeoJSON, GeoPackage
POINT = {"type": "Point", "coordinates": [79.1, 29.1]}


@pytest.mark.parametrize(
    "doc, row, text",
    [
        ([1, 2], None, "expected a GeoJSON FeatureCollection of points, got a JSON array"),
        ({"type": "FeatureCollection", "features": "x"}, None, "'features' to be a list"),
        (
            {
                "type": "FeatureCollection",
                "features": [{"geometry": POINT, "properties": {"office_id": "a", "population": 1}}, 7],
            },
            2,
            "feature 2: expected a Feature object, got a JSON number",
        ),
        ({"type": "FeatureCollection", "features": ["x"]}, 1, "got a JSON string"),
        (
            {"type": "FeatureCollection", "features": [{"geometry": POINT, "properties": [1]}]},
            1,
            "expected 'properties' to be an object",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [{"geometry": {"type": "Point", "coordinates": ["79", 29]}, "properties": {}}],
            },
            1,
            "coordinates [lon, lat] as numbers",
        ),
        (
            {"type": "FeatureCollection", "features": [{"geometry": POINT, "properties": {"office_id": {"a": 1}}}]},
            1,
            "property office_id is a JSON object",
        ),
    ],
)
def test_geojson_of_the_wrong_structure_names_the_feature(
    tmp_path: Path, doc: object, row: int | None, text: str
) -> None:
    found = issues(read_offices, write(tmp_path / "offices.geojson", json.dumps(doc)))
    assert any(i.row == row and text in i.message for i in found), [str(i) for i in found]


def test_a_key_given_twice_in_geojson_is_refused(tmp_path: Path) -> None:
    """json keeps the last of two 'population' keys silently."""
    doc = (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", '
        '"coordinates": [79.1, 29.1]}, "properties": {"office_id": "a", "population": 1, "population": 900}}]}'
    )
    (issue,) = issues(read_offices, write(tmp_path / "offices.geojson", doc))
    assert (issue.row, issue.column) == (1, "population") and "more than once" in issue.message


@pytest.mark.parametrize("reader", [read_offices, read_roads])
def test_deeply_nested_json_is_refused(tmp_path: Path, reader) -> None:  # type: ignore[no-untyped-def]
    """100,000 nested arrays: the decoder's RecursionError becomes a located InputError."""
    (issue,) = issues(reader, write(tmp_path / "x.geojson", "[" * 100_000 + "]" * 100_000))
    assert "nested too deeply" in issue.message


@pytest.mark.parametrize(
    "features, text",
    [({"a": 1}, "'features' to be a list"), (["x"], "expected a Feature object"), ([5], "got a JSON number"),
     ([{"geometry": {"type": "LineString", "coordinates": ["12", "34"]}}], "coordinates [lon, lat] as numbers"),
     ([{"geometry": {"type": "LineString", "coordinates": [[79, 29], [80, 30]]}, "properties": "x"}],
      "expected 'properties' to be an object")],
)  # fmt: skip
def test_roads_of_the_wrong_structure_name_the_feature(tmp_path: Path, features: object, text: str) -> None:
    """Roads used to raise AttributeError on a feature that is not an object; "12" was read as digits 1 and 2."""
    doc = {"type": "FeatureCollection", "features": features}
    found = issues(read_roads, write(tmp_path / "roads.geojson", json.dumps(doc)))
    assert any(text in i.message for i in found), [str(i) for i in found]


def _gpkg(path: Path, layers: list[str], geometry_column: str = "geom") -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT)")
    for name in layers:
        con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, ?)", (name, geometry_column))
        quoted = '"' + name.replace('"', '""') + '"'
        con.execute(f"CREATE TABLE {quoted} (fid INTEGER PRIMARY KEY, office_id TEXT, population REAL, lat REAL)")
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize(
    "make, text",
    [
        (lambda p: write(p, b"not a database at all" * 10), "file is not a database"),
        (lambda p: write(p, b""), "no such table: gpkg_geometry_columns"),
        (lambda p: _gpkg(p, ["a", "b"]), "has 2 feature layers (a, b); expected exactly one"),
        (lambda p: _gpkg(p, ['we"ird']), "has no geometry column 'geom'"),
    ],
)
def test_a_broken_geopackage_is_a_located_error(tmp_path: Path, make, text: str) -> None:  # type: ignore[no-untyped-def]
    (issue,) = issues(read_offices, make(tmp_path / "offices.gpkg"))
    assert text in issue.message


# --------------------------------------------------------------------------------------------- 5. plausibility
def _offices_geojson(path: Path, swap: bool, country: bool, n: int = 30) -> Path:
    offices = pd.read_csv(DATA / "offices.csv").head(n)
    features = []
    for row in offices.itertuples():
        coords = [row.lat, row.lon] if swap else [row.lon, row.lat]
        props = {"office_id": row.office_id, "population": row.population} | ({"country": "IND"} if country else {})
        features.append({"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": coords}})
    return write(path, json.dumps({"type": "FeatureCollection", "features": features}))


def test_geojson_points_written_lat_lon_are_refused(tmp_path: Path) -> None:
    """Uttarakhand offices at [29.4, 79.6] (lat first) used to be planned in the Barents Sea."""
    path = _offices_geojson(tmp_path / "offices.geojson", swap=True, country=True)
    found = issues(read_offices, path)
    assert found[0].row is None and "30 of 30 offices lie outside their country" in found[0].message
    assert "expected GeoJSON Point coordinates as [lon, lat]" in found[0].message
    assert found[1].row == 1 and "lies outside IND" in found[1].message and "swapped?" in found[1].message
    assert len(read_offices(_offices_geojson(tmp_path / "ok.geojson", swap=False, country=True))) == 30


def test_swapped_offices_without_a_country_are_caught_against_the_infrastructure(tmp_path: Path) -> None:
    path = _offices_geojson(tmp_path / "offices.geojson", swap=True, country=False)
    data = {"offices": str(path), "towers": str(DATA / "towers.csv"), "fibre_nodes": str(DATA / "fibre_nodes.csv")}
    scenario = scenario_from_dict({"name": "s", "budget_usd": 1e6, "data": data}, tmp_path)
    with pytest.raises(InputError) as err:
        load_inputs(scenario, ["fibre"])
    issue = err.value.issues[0]
    assert issue.file == str(path) and "fibre_nodes.csv" in issue.message and "swapped" in issue.message


def test_one_office_outside_its_country_is_an_error_with_its_row(tmp_path: Path) -> None:
    """A dropped digit (2.91 for 29.1) puts an Indian office in the Indian Ocean."""
    text = "office_id,country,lat,lon,population\nA,IND,29.1,79.1,10\nB,IND,2.91,79.2,10\nC,XYZ,-60,-10,1\n"
    (issue,) = issues(read_offices, write(tmp_path / "offices.csv", text))
    assert (issue.row, issue.column) == (3, "lat/lon") and "lies outside IND" in issue.message
    assert "check the coordinates or the country code" in issue.message  # C: no box for XYZ, only the ranges


def test_swapped_towers_are_named_against_the_offices_countries(tmp_path: Path) -> None:
    towers = pd.read_csv(DATA / "towers.csv")
    towers["lat"], towers["lon"] = towers["lon"].to_numpy(), towers["lat"].to_numpy()
    towers.to_csv(tmp_path / "towers.csv", index=False)
    data = {"offices": str(DATA / "offices.csv"), "towers": str(tmp_path / "towers.csv")}
    scenario = scenario_from_dict({"name": "s", "budget_usd": 1e6, "data": data}, tmp_path)
    with pytest.raises(InputError) as err:
        load_inputs(scenario, ["fibre"])
    (issue,) = err.value.issues
    assert issue.file == str(tmp_path / "towers.csv") and f"{len(towers):,} of {len(towers):,} towers" in issue.message


@pytest.mark.parametrize("scenario", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_the_bundled_data_passes_the_checks(scenario: Path) -> None:
    from planner.pipeline import catalogue_for

    sc = load_scenario(scenario)
    inputs = load_inputs(sc, catalogue_for(sc).technologies)
    assert len(inputs.offices) and set(inputs.offices["country"]) <= {"IND", "NPL", "BTN", "LKA"}


def test_boxes_cross_the_antimeridian_and_are_reproducible(tmp_path: Path) -> None:
    boxes = country_boxes()
    fiji, india = boxes["FJI"], boxes["IND"]
    assert fiji.lon_west > fiji.lon_east  # across 180°
    assert fiji.contains([-17.8, -16.5], [178.4, -179.9]).all() and not fiji.contains([-17.8], [0.0]).any()
    assert india.contains([28.6], [77.2]).all() and not india.contains([77.2], [28.6]).any()
    assert Box(-90, 90, -180, 180).contains([0, 89.9], [-179.9, 179.9]).all()
    spec = importlib.util.spec_from_file_location("build_country_bbox", ROOT / "scripts" / "build_country_bbox.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "country_bbox.csv"
    assert module.build(out) == len(boxes)
    assert out.read_text(encoding="utf-8") == (ROOT / "planner" / "country_bbox.csv").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------- 7. size guard
@pytest.mark.parametrize(
    "reader, name",
    [(read_offices, "o.csv"), (read_fibre_nodes, "n.csv"), (read_towers, "t.csv"),
     (lambda p: read_quotes(p, ["fibre"]), "q.csv"), (read_roads, "r.geojson"), (read_offices, "o.gpkg")],
)  # fmt: skip
def test_every_reader_applies_the_size_guard_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader, name: str
) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path / name, b"x" * 200_000)
    monkeypatch.setenv("PLANNER_MAX_INPUT_MB", "0.1")
    (issue,) = issues(reader, path)
    assert "over the 0 MB limit" in issue.message


def test_rows_in_equal_rows_out_at_scale(tmp_path: Path) -> None:
    """50,000 offices in, 50,000 out, in their order; read in one pass."""
    n = 50_000
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"office_id": [f"O{i}" for i in range(n)], "lat": rng.uniform(29, 30, n).round(5),
                          "lon": rng.uniform(79, 80, n).round(5), "population": rng.integers(0, 9999, n)})  # fmt: skip
    frame.to_csv(tmp_path / "offices.csv", index=False)
    table = read_offices(tmp_path / "offices.csv")
    assert table["office_id"].tolist() == frame["office_id"].tolist()
    assert np.allclose(table["lat"], frame["lat"]) and np.allclose(table["population"], frame["population"])


# ------------------------------------------------------------------------------ Parquet numbers, read as numbers
def _read_offices_parquet(path: Path, population: object) -> object:
    """read_offices of a Parquet file whose ``population`` column is the Arrow array given: the table, or the
    error messages (row, column, message)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(population)  # type: ignore[arg-type]
    table = pa.table(
        {"office_id": [f"P{i}" for i in range(n)], "lat": [30.0 + i / 100 for i in range(n)], "lon": [79.0] * n,
         "population": population, "priority": pa.array([2.5] + [None] * (n - 1), pa.float64())}
    )  # fmt: skip
    pq.write_table(table, path)
    try:
        return read_offices(path).drop(columns=["row"], errors="ignore").reset_index(drop=True)
    except InputError as exc:
        return sorted((i.row, i.column, i.message) for i in exc.issues)


@pytest.mark.parametrize(
    "population",
    [
        [1200.0, 35.5, 0.0],  # fine: the numbers themselves
        [1200.0, -3.0, 7.0],  # below the minimum
        [1200.0, None, 7.0],  # a required number missing (null)
        [1200.0, float("nan"), 7.0],  # NaN is not a number of people
        [1200.0, float("-inf"), 7.0],
        [5, 7, 2**53 + 1],  # an integer a double cannot hold exactly
        [5, -7, 9],  # integers, one out of range
        [5, 7, 9],
    ],
)
def test_typed_parquet_numbers_agree_with_their_text(tmp_path: Path, population: list[object]) -> None:
    """Parquet number columns are checked as numbers (fast path); the result, table or errors, is what the same
    cells give as text (Arrow's own text of each number, as the reader made of every Parquet number before)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    typed = pa.array(population)  # NaN stays NaN, None is null
    got_typed = _read_offices_parquet(tmp_path / "typed.parquet", typed)
    got_text = _read_offices_parquet(tmp_path / "text.parquet", pc.cast(typed, pa.string()))
    if isinstance(got_text, list):
        assert got_typed == got_text
        assert got_text  # a hostile column is refused, with its row and column
    else:
        assert isinstance(got_typed, pd.DataFrame)
        pd.testing.assert_frame_equal(got_typed, got_text)
        assert got_typed["population"].tolist() == [float(v) for v in population]  # type: ignore[arg-type]
        assert got_typed["priority"].tolist() == [2.5, 1.0, 1.0]  # an empty optional number: the default
        raw = read_parquet_strings(tmp_path / "typed.parquet", {"population", "priority"})
        exact = all(not isinstance(v, int) or abs(v) <= 2**53 for v in population)
        assert (raw["population"].dtype == np.float64) == exact  # read as numbers where a double holds them


# ------------------------------------------------------------------------------ plain CSV read by Arrow
def _offices_or_errors(path: Path) -> object:
    try:
        return read_offices(path).reset_index(drop=True)
    except InputError as exc:
        return sorted((i.row, i.column, i.message) for i in exc.issues)


def _both_readers(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """read_offices with the Arrow reader of plain CSV files, and with the record-by-record reader alone."""
    import planner.data as data

    fast = _offices_or_errors(path)
    with monkeypatch.context() as m:
        m.setattr(data, "_plain_csv_frame", lambda *_a, **_k: None)
        slow = _offices_or_errors(path)
    return fast, slow


def _same(fast: object, slow: object) -> None:
    if isinstance(slow, list):
        assert fast == slow
    else:
        assert isinstance(fast, pd.DataFrame)
        pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize(
    "text",
    [
        "office_id,lat,lon,population\nA,30.1,79.2,100\nB,30.2,79.3,250.5\n",
        "office_id,lat,lon,population\nA,30.1,79.2,100\nB,30.2,79.3,250.5",  # no final line break
        "office_id,lat,lon,population\r\nA,30.1,79.2,100\r\nB,30.2,79.3,250.5\r\n",  # CRLF
        "office_id, lat, lon, population, name\nA, 30.1, 79.2, 100,  Dehradun\n",  # spaces after the delimiter
        "office_id;lat;lon;population\nA;30,1;79,2;100\nB;30,2;79,3;1.000\n",  # decimal commas, then an ambiguous '.'
        "office_id\tlat\tlon\tpopulation\nA\t30.1\t79.2\t100\n",
        "office_id,lat,lon,population\nA,30.1,79.2,100\nB,30.2,79.3\n",  # ragged
        "office_id,lat,lon,population\nA,30.1,79.2,100\n\nB,30.2,79.3,5\n",  # a blank line keeps line numbers
        "office_id,lat,lon,population\r\nA,30.1,79.2,100\r\n\r\nB,30.2,79.3,5\r\n",  # a blank CRLF line
        "office_id,lat,lon,population\nA,30.1,79.2,100\n\n",  # a blank last line
        "office_id,lat,lon,population\nA,30.1,79.2,100\nB, 30.2,79.3,5\n",  # one field starts with a space
        "office_id,lat,lon,population\nA,30.1,79.2,100\n,,,\n",  # a record of empty fields
        'office_id,lat,lon,population,name\nA,30.1,79.2,100,"Rishikesh, main"\n',  # quoted: the other reader
        "office_id,lat,lon,population\nA,30.1,79.2,-5\nA,91,79.2,x\n",  # bad values, duplicate id
        "\ufeffoffice_id,lat,lon,population\nA,30.1,79.2,100\n",  # BOM
        "office_id,lat,lon,population\nA,30.1,79.2,1_000\n",
        "office_id,lat,lon,population\rA,30.1,79.2,100\r",  # lines ended by a lone CR
        "office_id,lat,lon,population\nA,30.1,79.2,100\n  \n",  # a last line of spaces
    ],
)
def test_plain_csv_reads_as_the_record_reader_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fast, slow = _both_readers(write(tmp_path / "offices.csv", text), monkeypatch)
    _same(fast, slow)


def test_a_plain_csv_takes_the_arrow_reader(tmp_path: Path) -> None:
    import planner.data as data

    path = write(tmp_path / "o.csv", "office_id, lat,lon,population\nA, 30.1,79.2,100\nB,30.2,79.3,7\n")
    frame = data._plain_csv_frame(path, ["office_id", "lat", "lon", "population"], ["lat"])
    assert frame is not None and list(frame.index) == [2, 3]  # rows keep the file's line numbers
    assert frame["lat"].tolist() == ["30.1", "30.2"]  # the space after the delimiter dropped, as csv does
    assert data._plain_csv_frame(write(tmp_path / "q.csv", 'office_id\n"A"\n'), ["office_id"], []) is None


CELL = st.text(alphabet="Ab1.,; -\t", max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(CELL, min_size=1, max_size=5), min_size=1, max_size=5), crlf=st.booleans())
def test_any_csv_reads_the_same_by_either_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[list[str]], crlf: bool
) -> None:
    """Random cells (spaces, tabs, delimiters, decimal marks among them) under a valid header: both readers give
    the same table or the same located errors."""
    end = "\r\n" if crlf else "\n"
    text = "office_id,lat,lon,population" + end + end.join(",".join(r) for r in rows) + end
    fast, slow = _both_readers(write(tmp_path / "offices.csv", text), monkeypatch)
    _same(fast, slow)


# ------------------------------------------------------------------------------ Arrow text kept as Arrow text
text_cells = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from([*"ab Z9-_.\t", "é", "\xa0", "\u3000", "\x1f"]), max_size=6),
)
# padded ASCII, never empty once trimmed: the column stays Arrow text
ascii_cells = st.builds(
    lambda pad, word, tail: pad + word + tail,
    st.sampled_from(["", " ", "\t", " \x1f"]),
    st.text(alphabet=st.sampled_from([*"abZ9-_."]), min_size=1, max_size=5),
    st.sampled_from(["", " ", "\r", "\x0b "]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ascii_cells, text_cells), min_size=1, max_size=8))
def test_arrow_text_columns_read_as_the_per_cell_rules_read_them(
    tmp_path_factory: pytest.TempPathFactory, cells: list[tuple[object, object]]
) -> None:
    """Parquet text columns of ASCII cells, none empty once trimmed (``name`` here), stay Arrow text (no Python
    string per cell): the table, or the errors, equal what the general path (``str.strip()`` per cell) gives for the
    same file; ``region`` mixes in missing, empty and non-ASCII cells (the general path)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import planner.data as data

    path = tmp_path_factory.mktemp("text") / "offices.parquet"
    n = len(cells)
    columns = {
        "office_id": [f"P{i}" for i in range(n)],
        "name": pa.array([c[0] for c in cells], pa.string()),
        "region": pa.array([c[1] for c in cells], pa.string()),
        "lat": [30.0] * n,
        "lon": [79.0] * n,
        "population": [10.0] * n,
    }
    pq.write_table(pa.table(columns), path)
    got = _offices_or_errors(path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "_trimmed_arrow", lambda _cells: None)
        general = _offices_or_errors(path)
    if isinstance(general, list):
        assert got == general
    else:
        assert isinstance(got, pd.DataFrame)
        pd.testing.assert_frame_equal(got, general)
        assert got["name"].tolist() == [str(c[0]).strip() for c in cells]
