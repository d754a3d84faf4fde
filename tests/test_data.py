"""Input readers (planner/data.py, DESIGN §3): every rejected value is an Issue naming file, row, column and
what was expected; every row is either used or reported."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import pandas as pd
import pytest

from planner.data import (
    load_inputs,
    read_fibre_nodes,
    read_offices,
    read_quotes,
    read_towers,
    summarise_inputs,
)
from planner.errors import InputError, Issue
from planner.scenario import load_catalogue, scenario_from_dict

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "uttarakhand"
TECHS = ["fibre", "cellular_4g", "microwave", "geo_satellite", "leo_satellite"]

OFFICE_HEADER = "office_id,lat,lon,population"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(exc_info: pytest.ExceptionInfo[InputError]) -> list[Issue]:
    issues = exc_info.value.issues
    assert issues, "an InputError must carry at least one issue"
    return issues


def only_issue(exc_info: pytest.ExceptionInfo[InputError]) -> Issue:
    issues = issues_of(exc_info)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def assert_issue(issue: Issue, path: Path, row: int | None, column: str, *words: str) -> None:
    """The issue names the file, the row, the column, and says what was expected."""
    assert issue.file == str(path)
    assert issue.row == row, str(issue)
    assert issue.column == column, str(issue)
    assert "expected" in issue.message, str(issue)
    for word in words:
        assert word in issue.message, str(issue)
    # the printed form carries all of it too (the CLI shows str(issue))
    text = str(issue)
    assert str(path) in text and f"'{column}'" in text
    if row is not None:
        assert f"row {row}" in text


# --------------------------------------------------------------------------------------------- offices
def test_missing_required_column(tmp_path):
    path = write(tmp_path, "offices.csv", "office_id,lat,population\nA,29.1,100\n")
    with pytest.raises(InputError) as exc:
        read_offices(path)
    issue = only_issue(exc)
    assert issue.file == str(path)
    assert issue.column == "lon"
    assert issue.row in (None, 1)  # the header
    assert "missing" in issue.message
    # what was found is shown so the user can spot a misspelling
    assert "office_id" in issue.message and "population" in issue.message


def test_every_missing_required_column_is_reported(tmp_path):
    path = write(tmp_path, "offices.csv", "office_id,name\nA,x\n")
    with pytest.raises(InputError) as exc:
        read_offices(path)
    assert sorted(i.column for i in issues_of(exc)) == ["lat", "lon", "population"]


@pytest.mark.parametrize(
    "row_text,column,words",
    [
        (",29.1,79.1,100", "office_id", ["empty"]),
        ("A,,79.1,100", "lat", ["empty", "latitude"]),
        ("A,29.1,,100", "lon", ["empty", "longitude"]),
        ("A,29.1,79.1,", "population", ["empty", ">= 0"]),
        ("A,north,79.1,100", "lat", ["'north' is not a number", "latitude"]),
        ("A,29.1,east,100", "lon", ["not a number"]),
        ("A,29.1,79.1,many", "population", ["not a number"]),
        ("A,91,79.1,100", "lat", ["out of range", "-90..90"]),
        ("A,-90.5,79.1,100", "lat", ["out of range"]),
        ("A,29.1,180.01,100", "lon", ["out of range", "-180..180"]),
        ("A,29.1,-181,100", "lon", ["out of range"]),
        ("A,29.1,79.1,-1", "population", ["out of range", ">= 0"]),
        ("A,nan,79.1,100", "lat", ["not finite"]),
        ("A,29.1,79.1,inf", "population", ["not finite"]),
    ],
)
def test_required_cell_errors(tmp_path, row_text, column, words):
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER}\nOK,29.0,79.0,5\n{row_text}\n")
    with pytest.raises(InputError) as exc:
        read_offices(path)
    assert_issue(only_issue(exc), path, 3, column, *words)


def test_lat_lon_bounds_are_inclusive(tmp_path):
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER}\nA,90,180,0\nB,-90,-180,0\n")
    table = read_offices(path)
    assert table["lat"].tolist() == [90.0, -90.0]
    assert table["lon"].tolist() == [180.0, -180.0]
    assert table["population"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "column,value,words",
    [
        ("status", "online", ["'online' is not allowed", "unconnected", "underserved", "connected"]),
        ("grid_power", "maybe", ["'maybe' is not a boolean", "true or false"]),
        ("services", "mail;banking", ["unknown service(s) banking", "e_commerce"]),
        ("current_mbps", "-3", ["out of range"]),
        ("priority", "high", ["not a number"]),
    ],
)
def test_optional_cell_errors(tmp_path, column, value, words):
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER},{column}\nA,29.1,79.1,100,{value}\n")
    with pytest.raises(InputError) as exc:
        read_offices(path)
    assert_issue(only_issue(exc), path, 2, column, *words)


def test_duplicate_office_id_names_the_first_row(tmp_path):
    path = write(
        tmp_path,
        "offices.csv",
        f"{OFFICE_HEADER}\nA,29.1,79.1,1\nB,29.2,79.2,2\nC,29.3,79.3,3\nB,29.4,79.4,4\n",
    )
    with pytest.raises(InputError) as exc:
        read_offices(path)
    issue = only_issue(exc)
    assert issue.file == str(path)
    assert issue.row == 5  # the duplicate (line 5)
    assert issue.column == "office_id"
    assert "duplicate id 'B'" in issue.message
    assert "row 3" in issue.message  # where it was first seen


def test_several_errors_in_one_file_are_all_reported(tmp_path):
    path = write(
        tmp_path,
        "offices.csv",
        "office_id,lat,lon,population,status,grid_power\n"
        "A,29.1,79.1,100,unconnected,true\n"
        "B,95,79.1,-5,unconnected,true\n"  # two errors in one row
        "C,29.1,79.1,100,online,true\n"
        "D,29.1,abc,100,connected,perhaps\n"
        "A,29.1,79.1,100,underserved,false\n",
    )
    with pytest.raises(InputError) as exc:
        read_offices(path)
    found = {(i.row, i.column) for i in issues_of(exc)}
    assert found == {
        (3, "lat"),
        (3, "population"),
        (4, "status"),
        (5, "lon"),
        (5, "grid_power"),
        (6, "office_id"),
    }
    # and the message of the exception lists them all
    text = str(exc.value)
    for row in (3, 4, 5, 6):
        assert f"row {row}" in text


def test_many_errors_message_is_capped_but_issues_are_complete(tmp_path):
    rows = "".join(f"O{i},29.1,79.1,-{i + 1}\n" for i in range(40))
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER}\n{rows}")
    with pytest.raises(InputError) as exc:
        read_offices(path)
    assert len(exc.value.issues) == 40
    assert [i.row for i in exc.value.issues] == list(range(2, 42))
    assert "and 15 more problems" in str(exc.value)


def test_csv_row_numbering_header_is_row_one(tmp_path):
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER}\nA,29.1,79.1,1\nB,29.1,79.1,2\nC,29.1,79.1,-3\n")
    with pytest.raises(InputError) as exc:
        read_offices(path)
    assert only_issue(exc).row == 4  # the 4th line of the file


def test_csv_row_numbering_counts_blank_lines(tmp_path):
    """The row is the line number in the file (data.py docstring), also when a blank line precedes it."""
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER}\nA,29.1,79.1,1\n\nC,29.1,79.1,-3\n")
    with pytest.raises(InputError) as exc:
        read_offices(path)
    assert only_issue(exc).row == 4  # line 4 of the file; line 3 is blank


def test_byte_order_mark_and_spaces_are_tolerated(tmp_path):
    path = tmp_path / "offices.csv"
    path.write_bytes(("\ufeff" + OFFICE_HEADER + "\nA, 29.1, 79.1, 100\n").encode("utf-8"))
    table = read_offices(path)
    assert table["office_id"].tolist() == ["A"]
    assert table["lat"].tolist() == [29.1]


def test_defaults(tmp_path):
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER}\nA,29.1,79.1,100\nB,29.2,79.2,0\n")
    table = read_offices(path)
    assert table["community"].tolist() == ["A", "B"]
    assert table["status"].tolist() == ["unconnected", "unconnected"]
    assert table["grid_power"].tolist() == [True, True]
    assert table["services"].tolist() == ["mail", "mail"]
    assert table["priority"].tolist() == [1.0, 1.0]
    assert table["current_mbps"].tolist() == [0.0, 0.0]
    assert table["population"].dtype == float and table["lat"].dtype == float


def test_defaults_apply_to_empty_optional_cells(tmp_path):
    path = write(
        tmp_path,
        "offices.csv",
        "office_id,lat,lon,population,community,status,grid_power,services,priority,current_mbps\n"
        "A,29.1,79.1,100,,,,,,\n"
        "B,29.2,79.2,50,village-7,CONNECTED,No,Mail; Financial ;mail,2.5,10\n",
    )
    table = read_offices(path).set_index("office_id")
    assert table.loc["A", "community"] == "A"
    assert table.loc["A", "status"] == "unconnected"
    assert bool(table.loc["A", "grid_power"]) is True
    assert table.loc["A", "services"] == "mail"
    assert table.loc["A", "priority"] == 1.0
    assert table.loc["A", "current_mbps"] == 0.0
    assert table.loc["B", "community"] == "village-7"
    assert table.loc["B", "status"] == "connected"
    assert bool(table.loc["B", "grid_power"]) is False
    assert table.loc["B", "services"] == "mail;financial"
    assert table.loc["B", "priority"] == 2.5


@pytest.mark.parametrize("text,value", [("true", True), ("1", True), ("Yes", True), ("F", False), ("0", False)])
def test_boolean_spellings(tmp_path, text, value):
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER},grid_power\nA,29.1,79.1,100,{text}\n")
    assert bool(read_offices(path)["grid_power"].iloc[0]) is value


def test_extra_columns_are_kept(tmp_path):
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER},pincode\nA,29.1,79.1,100,244712\n")
    assert read_offices(path)["pincode"].tolist() == ["244712"]


def test_header_only_file_is_an_error(tmp_path):
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER}\n")
    with pytest.raises(InputError) as exc:
        read_offices(path)
    issue = only_issue(exc)
    assert issue.file == str(path) and "at least one" in issue.message


@pytest.mark.parametrize("content", ["", None])
def test_empty_or_absent_file(tmp_path, content):
    path = tmp_path / "offices.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as exc:
        read_offices(path)
    issue = only_issue(exc)
    assert issue.file == str(path)
    assert ("empty" in issue.message) if content is not None else ("not found" in issue.message)


def test_default_data_nothing_dropped():
    for reader, name in ((read_offices, "offices.csv"), (read_fibre_nodes, "fibre_nodes.csv")):
        path = DATA / name
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        table = reader(path)
        assert len(table) == len(lines) - 1, name
    towers = DATA / "towers.csv"
    lines = [ln for ln in towers.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(read_towers(towers)) == len(lines) - 1


def test_rows_in_equal_rows_out(tmp_path):
    rows = "".join(f"O{i},{29 + i / 100},{79 + i / 100},{i * 10},\n" for i in range(57))  # status empty
    path = write(tmp_path, "offices.csv", f"{OFFICE_HEADER},status\n" + rows.replace(",\n", ",connected\n", 5))
    table = read_offices(path)
    assert len(table) == 57
    assert table["office_id"].tolist() == [f"O{i}" for i in range(57)]


# --------------------------------------------------------------------------------------------- GeoJSON
def _feature(props, geometry):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def test_geojson_offices(tmp_path):
    doc = {
        "type": "FeatureCollection",
        "features": [
            _feature({"office_id": "G1", "population": 1200, "status": "connected"}, _pt(79.5, 29.5)),
            _feature({"office_id": "G2", "population": 300, "grid_power": False, "community": None}, _pt(78.25, 30.1)),
        ],
    }
    path = write(tmp_path, "offices.geojson", json.dumps(doc))
    table = read_offices(path).set_index("office_id")
    assert table.loc["G1", "lon"] == 79.5 and table.loc["G1", "lat"] == 29.5
    assert table.loc["G2", "lon"] == 78.25 and table.loc["G2", "lat"] == 30.1
    assert table.loc["G1", "population"] == 1200.0
    assert table.loc["G1", "status"] == "connected"
    assert bool(table.loc["G2", "grid_power"]) is False
    assert table.loc["G2", "community"] == "G2"
    assert table.loc["G2", "status"] == "unconnected"
    assert len(table) == 2


def _pt(lon, lat):
    return {"type": "Point", "coordinates": [lon, lat]}


def test_geojson_bad_geometry_names_the_feature(tmp_path):
    doc = {
        "type": "FeatureCollection",
        "features": [
            _feature({"office_id": "G1", "population": 1}, _pt(79.5, 29.5)),
            _feature({"office_id": "G2", "population": 1}, {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
            _feature({"office_id": "G3", "population": 1}, None),
        ],
    }
    path = write(tmp_path, "offices.geojson", json.dumps(doc))
    with pytest.raises(InputError) as exc:
        read_offices(path)
    issues = issues_of(exc)
    assert [(i.row, i.column) for i in issues] == [(2, "geometry"), (3, "geometry")]
    assert all(i.file == str(path) and "expected a Point" in i.message for i in issues)
    assert "LineString" in issues[0].message


def test_geojson_value_errors_use_feature_numbers(tmp_path):
    doc = {
        "type": "FeatureCollection",
        "features": [
            _feature({"office_id": "G1", "population": 1}, _pt(79.5, 29.5)),
            _feature({"office_id": "G2", "population": -7}, _pt(79.5, 29.5)),
            _feature({"office_id": "G3", "population": 1}, _pt(200.0, 29.5)),
        ],
    }
    path = write(tmp_path, "offices.geojson", json.dumps(doc))
    with pytest.raises(InputError) as exc:
        read_offices(path)
    assert {(i.row, i.column) for i in issues_of(exc)} == {(2, "population"), (3, "lon")}


def test_geojson_not_a_feature_collection(tmp_path):
    path = write(tmp_path, "offices.geojson", json.dumps({"type": "Feature"}))
    with pytest.raises(InputError) as exc:
        read_offices(path)
    assert "FeatureCollection" in only_issue(exc).message


def test_geojson_invalid_json_reports_the_line(tmp_path):
    path = write(tmp_path, "offices.geojson", '{"type": "FeatureCollection",\n "features": [\n oops ]}')
    with pytest.raises(InputError) as exc:
        read_offices(path)
    issue = only_issue(exc)
    assert issue.file == str(path) and issue.row == 3 and "JSON" in issue.message


# --------------------------------------------------------------------------------------------- GeoPackage
def _gpkg_point_blob(lon: float, lat: float, envelope: bool = False, big_endian_wkb: bool = False) -> bytes:
    """A GeoPackage geometry blob: 'GP', version 0, flags, srs_id, optional XY envelope, then a WKB Point."""
    flags = 0x01 | ((1 << 1) if envelope else 0)  # little-endian header; envelope code 1 = [minx, maxx, miny, maxy]
    header = b"GP" + bytes([0, flags]) + struct.pack("<i", 4326)
    if envelope:
        header += struct.pack("<4d", lon, lon, lat, lat)
    order = ">" if big_endian_wkb else "<"
    wkb = bytes([0 if big_endian_wkb else 1]) + struct.pack(order + "I", 1) + struct.pack(order + "dd", lon, lat)
    return header + wkb


def _write_gpkg(path: Path, rows: list[tuple]) -> Path:
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT, "
        "srs_id INTEGER, z TINYINT, m TINYINT)"
    )
    con.execute("INSERT INTO gpkg_geometry_columns VALUES ('post_offices', 'geom', 'POINT', 4326, 0, 0)")
    con.execute(
        "CREATE TABLE post_offices (fid INTEGER PRIMARY KEY, geom BLOB, office_id TEXT, population REAL, "
        "community TEXT, status TEXT)"
    )
    con.executemany(
        "INSERT INTO post_offices (geom, office_id, population, community, status) VALUES (?, ?, ?, ?, ?)", rows
    )
    con.commit()
    con.close()
    return path


def test_geopackage_offices(tmp_path):
    path = _write_gpkg(
        tmp_path / "offices.gpkg",
        [
            (_gpkg_point_blob(79.25, 29.75), "P1", 1500.0, "c-1", "unconnected"),
            (_gpkg_point_blob(78.5, 30.25, envelope=True), "P2", 20.0, "c-2", "underserved"),
            (_gpkg_point_blob(-0.125, 51.5, big_endian_wkb=True), "P3", 0.0, "c-1", "connected"),
        ],
    )
    table = read_offices(path).set_index("office_id")
    assert len(table) == 3
    assert (table.loc["P1", "lon"], table.loc["P1", "lat"]) == (79.25, 29.75)
    assert (table.loc["P2", "lon"], table.loc["P2", "lat"]) == (78.5, 30.25)
    assert (table.loc["P3", "lon"], table.loc["P3", "lat"]) == (-0.125, 51.5)
    assert table.loc["P1", "population"] == 1500.0
    assert table.loc["P2", "community"] == "c-2"
    assert table.loc["P2", "status"] == "underserved"
    assert table.loc["P3", "status"] == "connected"
    assert table.loc["P1", "services"] == "mail"  # absent column: default
    assert "geom" not in table.columns


def test_geopackage_null_cells_take_defaults(tmp_path):
    """A NULL in an optional column is an empty cell: it takes the default like an empty CSV cell."""
    path = _write_gpkg(
        tmp_path / "offices.gpkg",
        [
            (_gpkg_point_blob(79.25, 29.75), "P1", 1500.0, "c-1", "connected"),
            (_gpkg_point_blob(78.5, 30.25), "P2", 20.0, None, None),
        ],
    )
    table = read_offices(path).set_index("office_id")
    assert table.loc["P2", "community"] == "P2"
    assert table.loc["P2", "status"] == "unconnected"


def test_geopackage_errors_name_the_row(tmp_path):
    path = _write_gpkg(
        tmp_path / "offices.gpkg",
        [
            (_gpkg_point_blob(79.25, 29.75), "P1", 1500.0, "c", "unconnected"),
            (_gpkg_point_blob(79.25, 29.75), "P2", -1.0, "c", "unconnected"),
            (_gpkg_point_blob(79.25, 29.75), "P3", 1.0, "c", "offline"),
        ],
    )
    with pytest.raises(InputError) as exc:
        read_offices(path)
    issues = issues_of(exc)
    assert len(issues) == 2
    assert_issue(issues[0], path, 2, "population", ">= 0")
    assert_issue(issues[1], path, 3, "status", "'offline' is not allowed")


def test_geopackage_bad_geometry_names_the_row(tmp_path):
    line = b"GP" + bytes([0, 1]) + struct.pack("<i", 4326) + bytes([1]) + struct.pack("<I", 2) + b"\0" * 40
    path = _write_gpkg(
        tmp_path / "offices.gpkg",
        [
            (_gpkg_point_blob(79.25, 29.75), "P1", 1.0, None, None),
            (line, "P2", 1.0, None, None),
            (b"XX-not-a-geometry", "P3", 1.0, None, None),
        ],
    )
    with pytest.raises(InputError) as exc:
        read_offices(path)
    issues = issues_of(exc)
    assert [(i.row, i.column) for i in issues] == [(2, "geom"), (3, "geom")]
    assert all(i.file == str(path) and "expected a Point" in i.message for i in issues)


def test_not_a_geopackage(tmp_path):
    path = write(tmp_path, "offices.gpkg", "plain text")
    with pytest.raises(InputError) as exc:
        read_offices(path)
    issue = only_issue(exc)
    assert issue.file == str(path) and "GeoPackage" in issue.message


# --------------------------------------------------------------------------------------------- fibre nodes
def test_fibre_nodes(tmp_path):
    path = write(tmp_path, "nodes.csv", "node_id,lat,lon\nN1,29.1,79.1\nN2,29.2,79.2\n")
    table = read_fibre_nodes(path)
    assert table["node_id"].tolist() == ["N1", "N2"]
    assert table["lat"].dtype == float


def test_fibre_nodes_none_is_an_empty_table():
    table = read_fibre_nodes(None)
    assert len(table) == 0 and {"node_id", "lat", "lon"} <= set(table.columns)


def test_duplicate_node_id(tmp_path):
    path = write(tmp_path, "nodes.csv", "node_id,lat,lon\nN1,29.1,79.1\nN2,29.2,79.2\nN1,29.3,79.3\n")
    with pytest.raises(InputError) as exc:
        read_fibre_nodes(path)
    issue = only_issue(exc)
    assert (issue.file, issue.row, issue.column) == (str(path), 4, "node_id")
    assert "duplicate id 'N1'" in issue.message and "row 2" in issue.message


def test_fibre_node_bad_coordinates(tmp_path):
    path = write(tmp_path, "nodes.csv", "node_id,lat,lon\nN1,100,79.1\nN2,29.2,x\n")
    with pytest.raises(InputError) as exc:
        read_fibre_nodes(path)
    assert {(i.row, i.column) for i in issues_of(exc)} == {(2, "lat"), (3, "lon")}


# --------------------------------------------------------------------------------------------- towers
TOWER_HEADER = "tower_id,lat,lon,generation,range_km"


def test_towers_plain_layout(tmp_path):
    path = write(tmp_path, "towers.csv", f"{TOWER_HEADER}\nT1,29.1,79.1,4,8\nT2,29.2,79.2,2,5.5\n")
    table = read_towers(path)
    assert table["generation"].tolist() == [4, 2]
    assert table["range_km"].tolist() == [8.0, 5.5]


@pytest.mark.parametrize(
    "value,words",
    [("6", ["out of range", "2, 3, 4 or 5"]), ("1", ["out of range"]), ("4.5", ["not a whole number"]),
     ("LTE", ["not a number"]), ("", ["empty"])],
)  # fmt: skip
def test_towers_bad_generation(tmp_path, value, words):
    path = write(tmp_path, "towers.csv", f"{TOWER_HEADER}\nT1,29.1,79.1,4,8\nT2,29.2,79.2,{value},5\n")
    with pytest.raises(InputError) as exc:
        read_towers(path)
    assert_issue(only_issue(exc), path, 3, "generation", *words)


def test_towers_bad_range(tmp_path):
    path = write(tmp_path, "towers.csv", f"{TOWER_HEADER}\nT1,29.1,79.1,4,-1\nT2,29.2,79.2,4,500\n")
    with pytest.raises(InputError) as exc:
        read_towers(path)
    assert {(i.row, i.column) for i in issues_of(exc)} == {(2, "range_km"), (3, "range_km")}


def test_towers_none_is_an_empty_table():
    table = read_towers(None)
    assert len(table) == 0 and {"tower_id", "generation", "range_km"} <= set(table.columns)


OCID_HEADER = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
OCID_ROWS = [
    "LTE,404,45,1001,12345,0,79.1,29.1,2500,10,1,1500000000,1600000000,0",
    "GSM,404,45,1001,222,0,79.2,29.2,1000,3,1,1500000000,1600000000,0",
    "UMTS,404,10,77,9,0,79.3,29.3,800,3,1,1500000000,1600000000,0",
    "NR,404,10,77,10,0,79.4,29.4,300,3,1,1500000000,1600000000,0",
    "CDMA,404,10,78,11,0,79.5,29.5,12000,3,1,1500000000,1600000000,0",
]


@pytest.mark.parametrize("header", [True, False])
def test_towers_opencellid_layout(tmp_path, header):
    text = (OCID_HEADER + "\n" if header else "") + "\n".join(OCID_ROWS) + "\n"
    path = write(tmp_path, "cells.csv", text)
    table = read_towers(path)
    assert len(table) == len(OCID_ROWS)
    assert table["generation"].tolist() == [4, 2, 3, 5, 2]
    assert table["range_km"].tolist() == pytest.approx([2.5, 1.0, 0.8, 0.3, 12.0])
    assert table["lat"].tolist() == [29.1, 29.2, 29.3, 29.4, 29.5]
    assert table["lon"].tolist() == [79.1, 79.2, 79.3, 79.4, 79.5]
    assert table["tower_id"].is_unique


@pytest.mark.parametrize("header,row", [(True, 3), (False, 2)])
def test_towers_opencellid_errors_name_the_line(tmp_path, header, row):
    rows = [OCID_ROWS[0], OCID_ROWS[1].replace("GSM", "WIMAX").replace(",1000,", ",far,")]
    text = (OCID_HEADER + "\n" if header else "") + "\n".join(rows) + "\n"
    path = write(tmp_path, "cells.csv", text)
    with pytest.raises(InputError) as exc:
        read_towers(path)
    issues = issues_of(exc)
    assert {(i.row, i.column) for i in issues} == {(row, "radio"), (row, "range")}
    assert all(i.file == str(path) and "expected" in i.message for i in issues)


def test_towers_opencellid_bad_coordinates(tmp_path):
    rows = [OCID_ROWS[0], OCID_ROWS[1].replace(",29.2,", ",95,")]
    path = write(tmp_path, "cells.csv", OCID_HEADER + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError) as exc:
        read_towers(path)
    issue = only_issue(exc)
    assert (issue.row, issue.column) == (3, "lat")


# --------------------------------------------------------------------------------------------- quotes
QUOTE_HEADER = "office_id,technology,capex_usd,opex_usd_per_year"


def test_quotes(tmp_path):
    path = write(tmp_path, "options.csv", f"{QUOTE_HEADER},mbps\nA,fibre,1000,100,50\nA,leo_satellite,600,900,\n")
    table = read_quotes(path, TECHS)
    assert table["technology"].tolist() == ["fibre", "leo_satellite"]
    assert table["capex_usd"].tolist() == [1000.0, 600.0]
    assert table["row"].tolist() == [2, 3]
    assert len(table) == 2


def test_quotes_none():
    assert read_quotes(None, TECHS) is None


def test_quotes_unknown_technology(tmp_path):
    path = write(tmp_path, "options.csv", f"{QUOTE_HEADER}\nA,fibre,1000,100\nA,carrier_pigeon,5,1\n")
    with pytest.raises(InputError) as exc:
        read_quotes(path, TECHS)
    assert_issue(only_issue(exc), path, 3, "technology", "unknown technology 'carrier_pigeon'", "fibre")


def test_quotes_duplicate_office_technology(tmp_path):
    path = write(tmp_path, "options.csv", f"{QUOTE_HEADER}\nA,fibre,1000,100\nB,fibre,1,1\nA,fibre,900,90\n")
    with pytest.raises(InputError) as exc:
        read_quotes(path, TECHS)
    issue = only_issue(exc)
    assert (issue.file, issue.row, issue.column) == (str(path), 4, "technology")
    assert "duplicate quote" in issue.message and "'A'" in issue.message and "row 2" in issue.message


def test_quotes_value_errors_and_unknown_technology_together(tmp_path):
    path = write(tmp_path, "options.csv", f"{QUOTE_HEADER}\nA,fibre,-1,100\nA,warp,5,x\n")
    with pytest.raises(InputError) as exc:
        read_quotes(path, TECHS)
    assert {(i.row, i.column) for i in issues_of(exc)} == {
        (2, "capex_usd"),
        (3, "opex_usd_per_year"),
        (3, "technology"),
    }


def _scenario(tmp_path: Path, offices: str, options: str | None = None):
    (tmp_path / "offices.csv").write_text(offices)
    data = {"offices": "offices.csv"}
    if options is not None:
        (tmp_path / "options.csv").write_text(options)
        data["options"] = "options.csv"
    return scenario_from_dict({"name": "t", "data": data, "budget_usd": 1000}, base_dir=tmp_path)


OFFICES = (
    "office_id,lat,lon,population,status\n"
    "A,29.1,79.1,100,unconnected\n"
    "B,29.2,79.2,200,connected\n"
    "C,29.3,79.3,300,underserved\n"
)


def test_quotes_unknown_and_connected_office(tmp_path):
    sc = _scenario(tmp_path, OFFICES, f"{QUOTE_HEADER}\nA,fibre,1,1\nB,fibre,1,1\nZ,fibre,1,1\nC,microwave,1,1\n")
    with pytest.raises(InputError) as exc:
        load_inputs(sc, TECHS)
    issues = issues_of(exc)
    path = str(tmp_path / "options.csv")
    assert [(i.file, i.row, i.column) for i in issues] == [(path, 3, "office_id"), (path, 4, "office_id")]
    assert "connected" in issues[0].message and "'B'" in issues[0].message
    assert "unknown office 'Z'" in issues[1].message


def test_load_inputs_collects_issues_of_every_file(tmp_path):
    sc = _scenario(tmp_path, OFFICES.replace("100,", "-100,"), f"{QUOTE_HEADER}\nA,warp,1,1\n")
    with pytest.raises(InputError) as exc:
        load_inputs(sc, TECHS)
    files = {Path(i.file).name for i in issues_of(exc)}
    assert files == {"offices.csv", "options.csv"}


def test_load_inputs_and_summary(tmp_path):
    sc = _scenario(tmp_path, OFFICES, f"{QUOTE_HEADER}\nA,fibre,1,1\nC,microwave,1,1\n")
    inputs = load_inputs(sc, TECHS)
    assert len(inputs.offices) == 3
    assert inputs.planned["office_id"].tolist() == ["A", "C"]
    assert len(inputs.quotes) == 2
    assert len(inputs.fibre_nodes) == 0 and len(inputs.towers) == 0
    assert set(inputs.fingerprints) == {"offices", "options"}
    assert all(len(v) == 64 for v in inputs.fingerprints.values())
    facts = summarise_inputs(inputs)
    assert facts["offices"] == 3
    assert facts["by_status"] == {"connected": 1, "underserved": 1, "unconnected": 1}
    assert facts["population_planned"] == 400.0
    assert facts["quotes"] == 2


def test_default_scenario_inputs_load():
    from planner.scenario import load_scenario

    sc = load_scenario(REPO / "scenarios" / "uttarakhand-budget.yaml")
    inputs = load_inputs(sc, list(load_catalogue().technologies))
    assert isinstance(inputs.offices, pd.DataFrame)
    assert inputs.offices["office_id"].is_unique
    assert len(inputs.offices) == 2560
    assert len(inputs.fibre_nodes) == 6446 and len(inputs.towers) == 916  # backbone 136 + 6,310 BharatNet GP PoPs


@pytest.mark.parametrize("name", ["a#b.gpkg", "x%41.gpkg", "ü b?.gpkg"])
def test_a_geopackage_name_with_uri_characters_reads_that_file(tmp_path, name):
    """'x%41' once read 'xA', and 'a#b' opened (and created) a read-write file 'a': the path is now a URI."""
    path = _write_gpkg(tmp_path / name, [(_gpkg_point_blob(79.25, 29.75), "P1", 10.0, "c", "unconnected")])
    _write_gpkg(tmp_path / "xA.gpkg", [(_gpkg_point_blob(1.0, 2.0), "WRONG", 1.0, "c", "unconnected")])
    before = sorted(p.name for p in tmp_path.iterdir())
    assert read_offices(path)["office_id"].tolist() == ["P1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no stray file
