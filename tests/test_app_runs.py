"""Plans are named runs (``streamlit.testing.v1.AppTest``): the Runs page lists the runs of the run store, shows
one, reopens it for the other pages, compares stored runs, and records a plan of the session; every plan the app
makes is recorded in the run store under a label of its own, which the user can change; Compare offers the latest
plans or those pinned, with differences by KPI, technology, region and office.

Two small runs (200 offices) are recorded through ``planner solve`` once (module fixture); each test points
``PLANNER_STORE`` at that store or at an empty one. The app tests run the default scenario's settings on the same
200 offices (opened in the session in place of the bundled file).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
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


# --------------------------------------------------------------------------------------------- named runs
DEFAULT = "uttarakhand-budget"
CHEAPER = f"{DEFAULT} · budget 75 K USD"  # the small scenario's budget is 1/20 of the bundled one's


def _values(data) -> list:
    """A plotly array as a list (plotly sends numeric arrays as base64 ``bdata`` with a ``dtype``)."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def _small_app(recorded) -> AppTest:
    """A session whose default scenario is the bundled one on the first 200 offices (fast solves)."""
    raw = yaml.safe_load(recorded[1][0].read_text(encoding="utf-8"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["opened"] = {DEFAULT: raw}  # in place of the bundled entry of the same name
    at.run()
    _clean(at)
    return at


def _run(at: AppTest, budget_m: float | None = None) -> str:
    at.sidebar.radio(key="page").set_value("Scenario").run()
    if budget_m is not None:
        at.number_input(key="f_budget_m").set_value(budget_m).run()
    at.button(key="run").click().run()
    _clean(at)
    return at.session_state["current"]


def _recorded(at: AppTest) -> dict[str, int]:
    """Label → run store id of every plan of the session, once the background recorder has written it."""
    from planner.ui.state import stored_id

    return {label: stored_id(entry, wait=60) for label, entry in at.session_state["runs"].items()}


@pytest.fixture()
def two_runs(recorded, tmp_path, monkeypatch) -> AppTest:
    """A session that ran the small default scenario, then with a lower budget; an empty run store."""
    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "app.sqlite"))
    at = _small_app(recorded)
    assert _run(at) == DEFAULT
    assert _run(at, 0.075) == CHEAPER
    return at


def test_every_app_run_is_recorded_in_the_run_store_under_its_label(two_runs):
    at = two_runs
    runs = at.session_state["runs"]
    assert list(runs) == [DEFAULT, CHEAPER]
    assert _recorded(at) == {DEFAULT: 1, CHEAPER: 2}
    store = RunStore()
    assert store.labels() == {1: DEFAULT, 2: CHEAPER}
    for run_id, label in ((1, DEFAULT), (2, CHEAPER)):
        record = store.get(run_id)
        plan = runs[label]["plan"]
        assert record.command == "app" and record.scenario == DEFAULT
        assert {"plan.csv", "summary.json", "by_technology.csv", "by_region.csv", "options.csv"} <= set(record.files)
        assert record.summary == json.loads(json.dumps(plan.summary, default=str))
        assert yaml.safe_load(record.scenario_yaml)["budget_usd"] == plan.scenario.budget_usd
        back = store.load_plan(run_id, options=False).plan
        assert back["technology"].tolist() == plan.plan["technology"].tolist()
    # The same settings again: the same plan, under its label, not recorded twice.
    assert _run(at, 0.075) == CHEAPER
    assert list(at.session_state["runs"]) == [DEFAULT, CHEAPER] and _recorded(at) == {DEFAULT: 1, CHEAPER: 2}
    assert store.ids() == [1, 2]


def test_a_plan_is_renamed_on_the_runs_page_in_the_session_and_the_store(two_runs):
    at = two_runs
    _recorded(at)
    at.sidebar.radio(key="page").set_value("Runs").run()
    _clean(at)
    session = _frame(at, "Run store")
    assert session["Plan"].tolist() == [DEFAULT, CHEAPER] and session["Run store"].tolist() == ["run 1", "run 2"]
    assert at.selectbox(key="runs_rename_pick").value == CHEAPER  # the current plan
    at.text_input(key="runs_new_label").set_value("  tight   budget ")
    at.button(key="runs_rename").click().run()
    _clean(at)
    assert list(at.session_state["runs"]) == [DEFAULT, "tight budget"]  # the order is kept
    assert at.session_state["current"] == "tight budget"
    assert RunStore().labels() == {1: DEFAULT, 2: "tight budget"}
    assert any("Renamed" in s.value for s in at.success)
    listed = _frame(at, "Label")
    assert listed.set_index("ID")["Label"].to_dict() == {2: "tight budget", 1: DEFAULT}
    # Another plan's name, or none, is refused and nothing changes.
    for bad, words in ((DEFAULT, "the name of another plan"), ("   ", "needs a name")):
        at.selectbox(key="runs_rename_pick").set_value("tight budget").run()
        at.text_input(key="runs_new_label").set_value(bad)
        at.button(key="runs_rename").click().run()
        _clean(at)
        assert any(words in e.value for e in at.error), [e.value for e in at.error]
        assert list(at.session_state["runs"]) == [DEFAULT, "tight budget"]
    assert RunStore().labels() == {1: DEFAULT, 2: "tight budget"}
    # The renamed plan drives the other pages under its new name.
    at.sidebar.radio(key="page").set_value("Results").run()
    _clean(at)
    assert at.selectbox(key="results_plan").value == "tight budget"


def test_a_stored_run_reopens_under_its_label_once(two_runs, recorded):
    at = two_runs
    _recorded(at)
    at.sidebar.radio(key="page").set_value("Runs").run()
    at.text_input(key="runs_new_label").set_value("tight budget")
    at.button(key="runs_rename").click().run()
    _clean(at)
    fresh = _small_app(recorded)  # another session on the same run store
    fresh.sidebar.radio(key="page").set_value("Runs").run()
    fresh.selectbox(key="runs_pick").set_value(2).run()
    fresh.button(key="runs_open").click().run()
    _clean(fresh)
    assert list(fresh.session_state["runs"]) == ["tight budget"]
    assert fresh.session_state["runs"]["tight budget"]["stored_id"] == 2
    fresh.button(key="runs_open").click().run()  # already in the session: not loaded twice
    assert list(fresh.session_state["runs"]) == ["tight budget"]
    original = at.session_state["runs"]["tight budget"]["plan"].plan
    reopened = fresh.session_state["runs"]["tight budget"]["plan"].plan
    assert reopened["technology"].tolist() == original["technology"].tolist()
    coords = fresh.session_state["runs"]["tight budget"]["coords"]
    assert len(coords) == 200  # from the offices file, unchanged since the run
    # A stored run whose label a plan of this session already has is opened beside it, under its run id.
    assert _run(fresh) == DEFAULT and _recorded(fresh)[DEFAULT] == 3
    fresh.sidebar.radio(key="page").set_value("Runs").run()
    fresh.selectbox(key="runs_pick").set_value(1).run()
    fresh.button(key="runs_open").click().run()
    _clean(fresh)
    assert list(fresh.session_state["runs"]) == ["tight budget", DEFAULT, f"{DEFAULT} (run 1)"]


def test_run_store_labels(tmp_path):
    from planner.store import StoreError

    store = RunStore(tmp_path / "labels.sqlite")
    assert store.labels() == {}
    first = store.record(command="app", scenario_json={"name": "s"}, summary={"scenario": "s"}, extra={"label": "a"})
    second = store.record(command="solve", scenario_json={"name": "s"}, summary={"scenario": "s"}, extra={"k": 1})
    assert store.labels() == {first: "a"}  # a CLI run has no label
    store.set_label(second, "named later")
    assert store.labels() == {first: "a", second: "named later"}
    assert store.get(second).extra == {"k": 1, "label": "named later"}  # the rest of the record is kept
    with pytest.raises(StoreError, match="no run 99"):
        store.set_label(99, "x")


def test_own_data_runs_are_named_after_the_uploaded_file(recorded, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "app.sqlite"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    offices = Path(yaml.safe_load(recorded[1][0].read_text(encoding="utf-8"))["data"]["offices"]).read_bytes()
    at.file_uploader(key="upload_offices").upload("Post offices 2026.csv", offices, "text/csv").run()
    assert _run(at) == "Post offices 2026 (own data)"
    assert _run(at, 1.0) == "Post offices 2026 (own data) · budget 1.00 M USD"
    assert RunStore().get(_recorded(at)["Post offices 2026 (own data)"]).extra["label"] == (
        "Post offices 2026 (own data)"
    )


def test_run_labels_are_unique_and_follow_renames():
    from planner.ui.state import label_problem, renamed, run_label

    base = {"name": DEFAULT, "budget_usd": 2e6, "data": {"offices": "/up/offices-1.csv"}}
    runs = {"my plan": {"raw": base}}  # a renamed plan
    assert run_label(dict(base), runs) == "my plan"  # the same settings keep the renamed plan's label
    assert run_label({**base, "budget_usd": 1e6}, runs) == DEFAULT
    assert run_label(base, {}, data_name="offices.csv", bundled_names={DEFAULT}) == "offices (own data)"
    assert run_label({**base, "name": "mine"}, {}, data_name="offices.csv", bundled_names={DEFAULT}) == "mine"
    assert list(renamed({"a": 1, "b": 2, "c": 3}, "b", "z")) == ["a", "z", "c"]
    assert label_problem("a", "b", {"a": {}, "b": {}}) and label_problem("x" * 121, "b", {})
    assert label_problem("a − b", "b", {}) and label_problem("", "b", {})
    assert label_problem("b", "b", {"b": {}}) is None and label_problem("new", "b", {"b": {}}) is None


# --------------------------------------------------------------------------------------------- compare
@pytest.fixture(scope="module")
def plans(recorded) -> dict[str, object]:
    """The small default scenario at three budgets (75 K, 30 K and 10 K USD): plans and office coordinates."""
    from planner.pipeline import prepare, solve_prepared
    from planner.scenario import load_scenario

    scenario = load_scenario(recorded[1][0])
    prepared = prepare(scenario)
    coords = prepared.inputs.planned[["office_id", "lat", "lon"]].assign(office_id=lambda t: t["office_id"].astype(str))
    out = {}
    for usd in (75_000, 30_000, 10_000):
        sc = scenario.model_copy(update={"budget_usd": float(usd)})
        out[f"budget {usd // 1000} K"] = solve_prepared(prepared, scenario=sc)
    return {"plans": out, "coords": coords}


def _entry(plan, coords) -> dict:
    return {"plan": plan, "coords": coords, "raw": {"name": plan.scenario.name, "budget_usd": plan.scenario.budget_usd},
            "times": {"total_s": 1.0, "costing_cached": False}, "stored_id": 0}  # fmt: skip


def test_compare_offers_the_latest_plans_and_keeps_pins_through_new_runs(plans):
    from planner.results.compare import office_changes
    from planner.ui.format import tech_label

    made, coords = plans["plans"], plans["coords"]
    names = list(made)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.session_state["runs"] = {n: _entry(made[n], coords) for n in names[:2]}
    at.sidebar.radio(key="page").set_value("Compare").run()
    _clean(at)
    assert at.multiselect(key="cmp_names").value == names[:2]  # the latest (all of them: two)
    at.session_state["runs"] = {**at.session_state["runs"], names[2]: _entry(made[names[2]], coords)}
    at.run()
    assert at.multiselect(key="cmp_names").value == names  # a new run joins the latest
    at.multiselect(key="cmp_names").set_value([names[0], names[2]]).run()  # pinned
    _clean(at)
    at.session_state["runs"] = {**at.session_state["runs"], "budget 75 K again": _entry(made[names[0]], coords)}
    at.sidebar.radio(key="page").set_value("Results").run()
    at.sidebar.radio(key="page").set_value("Compare").run()
    _clean(at)
    assert at.multiselect(key="cmp_names").value == [names[0], names[2]]  # the pins survive new runs and pages

    a, b = made[names[0]], made[names[2]]
    kpis = _frame(at, f"{names[2]} − {names[0]}")
    fewer = b.summary["offices_connected"] - a.summary["offices_connected"]
    assert kpis.loc["Offices connected", f"{names[2]} − {names[0]}"] == f"{'+' if fewer > 0 else '−'}{abs(fewer):,}"
    tech = _frame(at, "Technology").set_index("Technology")
    for t, row in a.by_technology.set_index("technology").iterrows():
        assert tech.loc[tech_label(t), names[0]] == f"{int(row['offices']):,}"
    region = _frame(at, "Region").set_index("Region")
    assert set(region.index) == set(a.by_region["region"]) | set(b.by_region["region"])

    diff = office_changes(a.plan, b.plan)
    assert len(diff) and set(diff["change"]) <= {"dropped", "other technology", "connected"}
    assert any(c.value.startswith(f"{len(diff):,} offices differ") for c in at.caption)
    counts = _frame(at, "Kind of change").set_index("Kind of change")
    dropped = next(k for k in counts.index if k.startswith("dropped"))
    assert counts.loc[dropped, "Offices"] == f"{int((diff['change'] == 'dropped').sum()):,}"
    listed = _frame(at, "Change")
    assert listed["Office ID"].tolist() == diff["office_id"].tolist()
    chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert {t["type"] for t in chart["data"]} == {"scattergeo"}
    offices = [t for t in chart["data"] if t.get("legendgroup")]  # not the boundaries, towns or their names
    assert {t["name"] for t in offices} == set(diff["change"])
    assert sum(len(_values(t["lat"])) for t in offices) == len(diff)  # every changed office is on the map

    at.button(key="cmp_unpin").click().run()  # follow the latest again
    _clean(at)
    assert at.multiselect(key="cmp_names").value == [*names, "budget 75 K again"]  # the latest four


def test_compare_opens_recorded_cli_runs(store):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.sidebar.radio(key="page").set_value("Compare").run()
    _clean(at)
    assert any("at least two" in i.value for i in at.info)
    at.multiselect(key="cmp_stored").set_value([2, 1]).run()
    at.button(key="cmp_open").click().run()
    _clean(at)
    opened = ["run 2: uttarakhand-95pct", "run 1: uttarakhand-budget"]
    assert list(at.session_state["runs"]) == opened
    assert at.multiselect(key="cmp_names").value == opened
    kpis = _frame(at, f"{opened[1]} − {opened[0]}")
    assert kpis.loc["Offices connected", opened[0]] == f"{store.get(2).summary['offices_connected']:,}"
    assert "cmp_stored" not in {m.key for m in at.multiselect}  # both are in the session now: none left to offer
