"""The app's Runs page (``streamlit.testing.v1.AppTest``): it lists the runs of the run store, shows one,
reopens it for the other pages, compares stored runs, and records a plan of the session.

Two small runs (200 offices) are recorded through ``planner solve`` once (module fixture); each test points
``PLANNER_STORE`` at that store or at an empty one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest
from test_store import small_scenarios
from typer.testing import CliRunner

from planner.pipeline import run
from planner.store import RunStore
from planner.ui.cli import app as cli
from planner.ui.safe import md

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _runs_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _clean(at)
    at.sidebar.radio(key="page").set_value("Runs").run()
    _clean(at)
    return at


def _frame(at: AppTest, column: str) -> pd.DataFrame:
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert frames, f"no table with a '{column}' column"
    return frames[0]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[Path, Path]]:
    tmp = tmp_path_factory.mktemp("app-runs")
    db = tmp / "runs.sqlite"
    scenarios = small_scenarios(tmp)
    for i, path in enumerate(scenarios):
        result = CliRunner().invoke(cli, ["solve", str(path), "--out", str(tmp / f"out{i}"), "-q", "--store", str(db)])
        assert result.exit_code == 0, result.output
    return db, scenarios


@pytest.fixture()
def store(recorded, monkeypatch) -> RunStore:
    monkeypatch.setenv("PLANNER_STORE", str(recorded[0]))
    return RunStore()


def test_runs_page_lists_shows_and_reopens_a_run(store):
    at = _runs_page()
    listed = _frame(at, "Population coverage (%)")
    assert listed["ID"].tolist() == [2, 1]
    assert listed["Scenario"].tolist() == ["uttarakhand-95pct", "uttarakhand-budget"]
    assert md(store.path) in " ".join(c.value for c in at.caption)

    at.selectbox(key="runs_pick").set_value(1).run()
    _clean(at)
    summary = store.get(1).summary
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Offices connected"] == f"{summary['offices_connected']:,}"
    assert len(_frame(at, "Why this technology")) == summary["offices_planned"]

    data = _frame(at, "sha256")
    assert set(data["file"]) >= {"offices", "towers"} and set(data["today"]) == {"unchanged"}

    at.button(key="runs_open").click().run()
    _clean(at)
    assert at.session_state["current"] == "run 1: uttarakhand-budget"
    at.sidebar.radio(key="page").set_value("Results").run()  # the reopened run drives the other pages
    _clean(at)
    assert at.selectbox(key="results_plan").value == "run 1: uttarakhand-budget"
    assert {m.label: m.value for m in at.metric}["Offices connected"] == metrics["Offices connected"]
    at.sidebar.radio(key="page").set_value("Export").run()
    _clean(at)
    assert "dl_csv" in {b.key for b in at.get("download_button")}


def test_runs_page_compares_stored_runs(store):
    at = _runs_page()
    assert at.multiselect(key="runs_cmp").value == [2, 1]
    kpis = _frame(at, "#1 uttarakhand-budget")
    assert "#2 uttarakhand-95pct" in kpis.columns
    connected = f"{store.get(2).summary['offices_connected']:,}"
    assert connected == kpis.loc["Offices connected", "#2 uttarakhand-95pct"]
    assert at.get("plotly_chart"), "no technology-mix chart"
    at.multiselect(key="runs_cmp").set_value([1]).run()
    _clean(at)
    assert any("at least two runs" in i.value for i in at.info)


def test_runs_page_records_a_session_plan(recorded, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "empty.sqlite"))
    at = _runs_page()
    assert any("No runs recorded yet" in i.value for i in at.info)

    path = recorded[1][0]
    plan = run(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    at.session_state["runs"] = {
        raw["name"]: {
            "plan": plan,
            "coords": pd.DataFrame(columns=["office_id", "lat", "lon"]),
            "raw": raw,
            "times": {"total_s": 1.5, "costing_cached": False},
        }
    }
    at.run()
    _clean(at)
    assert at.selectbox(key="runs_save_pick").value == raw["name"]
    at.button(key="runs_save").click().run()
    _clean(at)
    assert any("as run 1" in s.value for s in at.success)
    record = RunStore().get(1)
    assert record.command == "app" and record.scenario == raw["name"]
    assert yaml.safe_load(record.scenario_yaml) == raw and "plan.csv" in record.files
    assert record.summary == json.loads(json.dumps(plan.summary))
    assert "runs_save" not in {b.key for b in at.button}  # a recorded plan is not offered again
