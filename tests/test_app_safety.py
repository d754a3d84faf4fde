"""The app with hostile input (``streamlit.testing.v1.AppTest``): Markdown and HTML in uploaded cells, file
names and office names are shown as text; uploads live in one folder per session that 'Remove' and the end of
the session empty; an over-size upload is refused; file names with ``#``, ``%``, spaces and unicode work.

Every test points the temp folder at its own ``tmp_path``, so the upload folders it counts are its own.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sqlite3
import struct
import tempfile
from pathlib import Path

import pandas as pd
import psutil
import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from planner.data import read_offices
from planner.ui.safe import md, plot_frame
from planner.ui.state import prepared_upload_root, upload_root

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120
IMAGE = "![t](http://example.com/x.png)"
TAG = '<img src="http://example.com/y.png">'
HEADER = "office_id,name,region,lat,lon,population\n"
GOOD = (HEADER + "A1,Alpha,North,30.1,79.0,1000\nA2,Beta,North,30.2,79.1,2000\n").encode()
RENDER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


@pytest.fixture(autouse=True)
def own_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Uploads go under this test's tmp_path (``tempfile.gettempdir()`` is where the app puts them)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _new() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _clean(at)
    return at


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _upload(at: AppTest, name: str, content: bytes, kind: str = "offices") -> AppTest:
    at.file_uploader(key=f"upload_{kind}").upload(name, content, "application/octet-stream").run()
    _clean(at)
    return at


def _folders() -> list[Path]:
    root = upload_root()
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def _files() -> list[Path]:
    return [f for p in _folders() for f in p.iterdir()]


# What GFM turns into links after parsing (mdast-util-gfm-autolink-literal): bare URLs and e-mail addresses.
AUTOLINK = re.compile(r"(?i)(https?://|www(?=\.))[-.\w]+|[-.\w+]+@[-\w]+(\.[-\w]+)+")


def _shown_as_text(body: str, *payloads: str) -> None:
    """The Markdown body renders with no image, link or HTML tag, and shows each payload literally."""
    html = RENDER.render(body)
    assert "![" not in body and not re.search(r"(?<!\\)<img", body), body
    assert "<img" not in html and "<a " not in html and "<code" not in html, html
    text = html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert not AUTOLINK.search(text), text  # the word joiners (U+2060) md() puts in break these
    for p in payloads:
        assert p in text.replace("\u2060", ""), (p, text)


def _gpkg(path: Path) -> bytes:
    """A two-office GeoPackage (a point layer with the offices' columns), as bytes."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT)")
    con.execute("INSERT INTO gpkg_geometry_columns VALUES ('offices', 'geom')")
    con.execute("CREATE TABLE offices (geom BLOB, office_id TEXT, population REAL)")
    for oid, lon, lat in (("G1", 79.0, 30.1), ("G2", 79.1, 30.2)):
        blob = b"GP" + bytes([0, 1]) + struct.pack("<i", 4326) + bytes([1]) + struct.pack("<Idd", 1, lon, lat)
        con.execute("INSERT INTO offices VALUES (?, ?, 500)", (blob, oid))
    con.commit()
    con.close()
    return path.read_bytes()


def test_escaping_helpers_show_text_literally() -> None:
    hostile = (IMAGE, TAG, "# heading", "1. item", "- item", "a_b *c* `d` :red[e] $f$ <http://x.org> www.x.org a@b.c")
    for text in hostile:
        _shown_as_text(md(text), text)
    assert md("two\nlines") == "two lines"
    table = pd.DataFrame({"name": [TAG], "n": [1]})
    escaped = plot_frame(table, ["name", "n", None])
    assert escaped["name"][0] == '&lt;img src="http://example.com/y.png"&gt;' and escaped["n"][0] == 1
    assert table["name"][0] == TAG  # the caller's table is left alone


def test_markdown_in_a_cell_and_in_the_file_name_is_shown_escaped() -> None:
    at = _new()
    name = f"{TAG}{IMAGE}.csv"
    _upload(at, name, (HEADER + f"A1,Alpha,North,30.1,79.0,{IMAGE}\n").encode())
    body = at.error[0].value
    _shown_as_text(body, name, f"'{IMAGE}' is not a number")
    remove = at.button(key="remove_offices")
    _shown_as_text(remove.label, name)
    assert at.button(key="run").disabled
    assert not _files()  # the rejected file is not kept
    # A valid file with the same name: the success message and the data caption are escaped too.
    _upload(at, name, GOOD)
    assert not at.error
    _shown_as_text(at.success[0].value, name)
    _shown_as_text(next(c.value for c in at.caption if c.value.startswith("Data in use")), name)


def test_hostile_office_and_scenario_names_are_escaped_in_labels_and_the_map() -> None:
    at = _new()
    _upload(at, "offices.csv", (HEADER + f"A1,{TAG},{IMAGE},30.1,79.0,1000\nA2,Beta,North,30.2,79.1,2000\n").encode())
    at.text_input(key="f_name").set_value(f"{IMAGE} {TAG}")
    at.button(key="run").click().run()
    _clean(at)
    name = at.session_state["current"]
    assert name == f"{IMAGE} {TAG}"
    solved = next(m.value for m in [*at.success, *at.warning] if m.value.startswith("Solved"))
    _shown_as_text(solved, f"Solved '{name}'")
    _shown_as_text(next(h.value for h in at.subheader if h.value.startswith("Plan:")), name)
    at.sidebar.radio(key="page").set_value("Results").run()
    _clean(at)
    _shown_as_text(next(m.value for m in at.sidebar.markdown if "Plans this session" in m.value), name)
    charts = [json.loads(c.proto.spec)["data"] for c in at.get("plotly_chart")]
    hover = json.dumps([[t.get("hovertext"), t.get("customdata")] for t in charts[0]])
    assert "&lt;img" in hover and "<img" not in hover  # the map's hover: office name (and region)
    assert IMAGE in json.dumps(charts[2])  # cost by region, x = region: Markdown is text to plotly


def test_one_folder_per_session_emptied_by_remove() -> None:
    at = _new()
    assert not _folders()  # no upload, no folder
    _upload(at, "first.csv", GOOD)
    for _ in range(3):
        at.run()
    _clean(at)
    (folder,) = _folders()
    (saved,) = folder.iterdir()
    assert at.session_state["uploads"]["offices"]["path"] == str(saved)
    # A new file in the widget replaces the old one on disk.
    at.file_uploader(key="upload_offices").set_value(("second.csv", GOOD + b"A3,Gamma,South,30.3,79.2,3\n", "text/csv"))
    at.run()
    _clean(at)
    assert _folders() == [folder] and [p.name for p in folder.iterdir()] != [saved.name]
    assert len(list(folder.iterdir())) == 1
    at.button(key="remove_offices").click().run()
    _clean(at)
    at.run()
    _clean(at)
    assert _folders() == [folder] and not list(folder.iterdir())
    assert "offices" not in at.session_state["uploads"]
    assert not at.button.values or all(b.key != "remove_offices" for b in at.button)
    assert not at.file_uploader[0].value  # the widget was reset: the file does not come back
    assert "data/uttarakhand/offices.csv" in at.code[0].value  # the bundled file is used again
    # When the session is gone, so is its folder.
    del at, saved
    gc.collect()
    assert not folder.exists()


def test_folders_of_gone_processes_are_removed_at_start(tmp_path: Path) -> None:
    root = upload_root()
    me = psutil.Process()
    dead = root / "999999999-1-abc"
    reused = root / f"{me.pid}-{int(me.create_time()) - 3600}-abc"  # this pid, but an earlier process
    live = root / f"{me.pid}-{int(me.create_time())}-abc"
    other = root / "notes"
    for folder in (dead, reused, live, other):
        (folder / "x").mkdir(parents=True)
    assert prepared_upload_root(str(root)) == str(root)
    assert not dead.exists() and not reused.exists() and live.exists() and other.exists()


def test_an_over_size_upload_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _new()
    monkeypatch.setenv("PLANNER_MAX_INPUT_MB", "0.001")  # 1 KiB
    _upload(at, "big.csv", GOOD + b"A9,Big,North,30.0,79.0,1\n" * 100)
    body = at.error[0].value
    assert "big.csv" in body and "over the app's upload limit of 0 MB" in body, body
    assert at.button(key="run").disabled
    assert not _files()
    monkeypatch.delenv("PLANNER_MAX_INPUT_MB")
    assert at.session_state["uploads"]["offices"]["path"] is None


@pytest.mark.parametrize("name", ["a#b.gpkg", "ü b%41.csv"])
def test_file_names_with_hash_percent_space_and_unicode_are_read(tmp_path: Path, name: str) -> None:
    content = _gpkg(tmp_path / "source.gpkg") if name.endswith(".gpkg") else GOOD
    at = _new()
    _upload(at, name, content)
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value == f"{md(name)}: valid, used instead of the bundled file"
    saved = Path(at.session_state["uploads"]["offices"]["path"])
    assert re.fullmatch(r"offices-[0-9a-f]{16}\.(csv|gpkg)", saved.name) and saved.read_bytes() == content
    ids = read_offices(saved)["office_id"].tolist()
    assert ids == (["G1", "G2"] if name.endswith(".gpkg") else ["A1", "A2"])
    assert str(saved) in at.code[0].value  # the scenario uses the saved file
    assert sorted(os.listdir(saved.parent)) == [saved.name]  # nothing stray
