"""Progress in steps: the sweep and Monte Carlo report each point and sample; the Results page's sweep runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.analysis.montecarlo import monte_carlo
from planner.analysis.sweep import point_scenario, sweep
from planner.pipeline import prepare, solve_prepared
from planner.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
DATA = ROOT / "data" / "uttarakhand"


def _small_offices(folder: Path, step: int = 80) -> Path:
    lines = (DATA / "offices.csv").read_text(encoding="utf-8").splitlines()
    path = folder / "offices.csv"
    path.write_text("\n".join([lines[0], *lines[1:2001:step]]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("steps")
    files = {"offices": str(_small_offices(folder)), "fibre_nodes": str(DATA / "fibre_nodes.csv"),
             "towers": str(DATA / "towers.csv")}  # fmt: skip
    raw = {"name": "small", "data": files, "budget_usd": 40_000, "budget_basis": "tco"}
    return prepare(scenario_from_dict(raw, base_dir=folder, file="test"))


def test_sweep_reports_each_point_then_done_and_equals_single_solves(prepared) -> None:
    heard: list[tuple[int, int, str]] = []
    budgets = [10_000.0, 20_000.0, 40_000.0]
    frontier = sweep(prepared, "budget", budgets, "serial", steps=lambda d, t, w: heard.append((d, t, w)))
    assert [(d, t) for d, t, _ in heard] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert heard[0][2] == "budget 1 of 3: 0.01 M USD" and heard[-1][2] == "done"
    for b, value in zip(budgets, frontier.table["objective_value"], strict=True):
        single = solve_prepared(prepared, scenario=point_scenario(prepared.scenario, "budget", b))
        assert value == pytest.approx(single.summary["objective_value"], rel=2 * prepared.scenario.solver.mip_gap)


def test_monte_carlo_reports_the_central_solve_each_sample_and_the_summary(prepared) -> None:
    heard: list[tuple[int, int]] = []
    mc = monte_carlo(prepared, 3, seed=2, scheduler="serial", steps=lambda d, t, _w: heard.append((d, t)))
    assert heard == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(mc.samples) == 3


def test_results_page_sweep_runs_with_a_progress_bar_and_keeps_its_frontier(tmp_path: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.file_uploader(key="upload_offices").upload("small.csv", _small_offices(tmp_path).read_bytes(), "text/csv").run()
    at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.sidebar.radio(key="page").set_value("Results").run()
    assert at.number_input(key="fr_points").value == 10  # the app's default sweep: 10 budgets
    at.number_input(key="fr_points").set_value(4).run()
    at.button(key="fr_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    _, frontier = at.session_state["frontier"]
    assert len(frontier.table) == 4 and frontier.table["status"].isin(["optimal", "time_limit"]).all()
    assert any("4 points in" in c.value for c in at.caption)
    # the bar stays full with what was done (a fast sweep can end before a browser draws one step)
    bars = [(p.value, p.text) for p in at.progress]
    assert any(v == 100 and re.fullmatch(r"done: 4 budgets swept in [\d.]+ s", t) for v, t in bars), bars
