"""The Streamlit app through ``streamlit.testing.v1.AppTest``: each page's main path, a bad upload, an
infeasible scenario, and a saved scenario that the CLI solves to the same plan.

One session runs the default scenario once (module fixture); the costed options and plans are cached
process-wide by the app, so later sessions re-use them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from planner.ui.cli import app as cli
from planner.ui.safe import md

APP = str(Path(__file__).resolve().parents[1] / "app.py")
DEFAULT = "uttarakhand-budget"
TIMEOUT = 180


def _new() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _clean(at)
    return at


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _page(at: AppTest, name: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(name).run()
    _clean(at)
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _yaml(at: AppTest) -> dict:
    return yaml.safe_load(at.code[0].value)


@pytest.fixture(scope="module")
def ran() -> AppTest:
    at = _new()
    at.button(key="run").click().run()
    _clean(at)
    return at


def test_start_on_default_data_with_bundled_scenarios():
    at = _new()
    picker = at.sidebar.radio(key="f_base")
    assert picker.value == DEFAULT
    assert {"uttarakhand-budget", "uttarakhand-95pct", "uttarakhand-policy"} <= set(picker.options)
    saved = _yaml(at)
    assert saved["name"] == DEFAULT and saved["budget_usd"] == 2_000_000
    assert saved["data"]["offices"].endswith("data/uttarakhand/offices.csv")
    # Choosing another bundled scenario fills the form from it.
    at.sidebar.radio(key="f_base").set_value("uttarakhand-95pct").run()
    assert at.radio(key="f_objective").value == "min_cost"
    assert _yaml(at)["coverage_target"] == 0.95


def test_run_default_scenario_shows_kpis(ran):
    plan = ran.session_state["runs"][DEFAULT]["plan"]
    s = plan.summary
    assert s["status"] == "optimal"
    kpis = _metrics(ran)
    assert kpis["Offices connected"] == f"{s['offices_connected']:,}"
    assert kpis["People connected"] == f"{s['population_covered'] / 1e6:,.2f} M"
    assert kpis["Total cost"] == f"{s['total_cost_usd'] / 1e6:,.2f} M USD"
    assert kpis["Cost per community"] == f"{s['cost_per_community_usd'] / 1e3:,.1f} K USD"
    assert kpis["Cost per person"] == f"{s['cost_per_person_usd']:,.2f} USD"
    assert s["offices_connected"] > 500 and s["total_cost_usd"] <= 2_000_000 + 1e-6
    assert any(m.value.startswith(f"Solved '{DEFAULT}'") and "proven optimal" in m.value for m in ran.success)
    assert any("proven optimal (within" in c.value for c in ran.caption)


def test_results_page_map_charts_and_filters(ran):
    _page(ran, "Results")
    charts = ran.get("plotly_chart")
    assert len(charts) == 4  # map, technology mix, cost by region, required Mbps
    assert any(c.value.startswith("Demand model **planner**") for c in ran.caption)
    assert any("line of sight: not checked" in c.value for c in ran.caption)  # no elevation raster in the data
    assert any(i.value.startswith("Line of sight not checked") for i in ran.info)
    figure = json.loads(charts[0].proto.spec)
    assert figure["data"][0]["type"] == "scattergeo"
    assert charts[0].proto.config and "app/static/" in charts[0].proto.config
    ran.multiselect(key="flt_tech").set_value(["none"]).run()
    _clean(ran)
    s = ran.session_state["runs"][DEFAULT]["plan"].summary
    shown = f"{s['offices_unserved']:,} of {s['offices_planned']:,} offices"
    assert any(c.value.startswith(shown) for c in ran.caption)


def test_donor_page(ran):
    _page(ran, "Donor view")
    plan = ran.session_state["runs"][DEFAULT]["plan"]
    kpis = _metrics(ran)
    assert kpis["Offices left unserved"] == f"{plan.summary['offices_unserved']:,}"
    assert any("Where do these figures come from" in e.label for e in ran.expander)
    sources = [d.value for d in ran.dataframe if "Source" in d.value.columns]
    assert sources and sources[0]["Source"].str.len().min() > 0
    assert len(ran.get("plotly_chart")) == 2  # capex and opex by component
    office = plan.plan[plan.plan["technology"] != "none"].iloc[0]
    ran.selectbox(key="donor_office").set_value(office["office_id"]).run()
    _clean(ran)
    assert any(office["why"] in m.value for m in ran.markdown)
    alternatives = [d.value for d in ran.dataframe if "Chosen" in d.value.columns]
    assert alternatives and alternatives[-1]["Chosen"].sum() == 1


def test_export_page(ran):
    _page(ran, "Export")
    keys = {b.key for b in ran.get("download_button")}
    assert {"dl_csv", "dl_json", "dl_xlsx", "dl_geojson", "dl_yaml"} <= keys


def test_budget_change_resolves_only_and_cli_reproduces_saved_yaml(ran, tmp_path):
    _page(ran, "Scenario")
    ran.text_input(key="f_name").set_value("budget-1.5m")
    ran.number_input(key="f_budget_m").set_value(1.5).run()
    saved = _yaml(ran)
    assert saved["budget_usd"] == 1_500_000 and saved["name"] == "budget-1.5m"
    ran.button(key="run").click().run()
    _clean(ran)
    entry = ran.session_state["runs"]["budget-1.5m"]
    assert entry["times"]["costing_cached"]  # only the solver ran
    path = tmp_path / "budget-1.5m.yaml"
    path.write_text(ran.code[0].value)
    result = CliRunner().invoke(cli, ["solve", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.output
    cli_summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    app_summary = entry["plan"].summary
    for key in ("offices_connected", "population_covered", "total_cost_usd", "objective_value"):
        assert cli_summary[key] == pytest.approx(app_summary[key]), key


def test_compare_page():
    at = _new()
    _page(at, "Compare")
    at.multiselect(key="cmp_bundled").set_value([DEFAULT, "uttarakhand-policy"]).run()
    at.button(key="cmp_solve").click().run()
    _clean(at)
    kpis = [d.value for d in at.dataframe if "uttarakhand-policy" in d.value.columns]
    assert kpis, "KPI table missing"
    assert f"uttarakhand-policy − {DEFAULT}" in kpis[0].columns
    runs = at.session_state["runs"]
    a, b = runs[DEFAULT]["plan"].plan, runs["uttarakhand-policy"]["plan"].plan
    merged = a.merge(b, on="office_id")
    differ = int((merged["technology_x"] != merged["technology_y"]).sum())
    assert any(c.value.startswith(f"{differ:,} offices differ") for c in at.caption)
    diff = [d.value for d in at.dataframe if "Change" in d.value.columns]
    assert len(diff[0]) == differ
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # technology mix and the map of changed offices
    assert json.loads(charts[1].proto.spec)["data"][0]["type"] == "scattergeo"


def test_bad_upload_names_row_and_column():
    at = _new()
    bad = b"office_id,lat,lon,population\nX1,30.1,79.0,100\nX2,95.5,79.1,200\nX3,30.2,79.2,-5\n"
    at.file_uploader(key="upload_offices").upload("my_offices.csv", bad, "text/csv").run()
    _clean(at)
    text = " ".join(e.value for e in at.error)
    assert md("my_offices.csv, row 3, column 'lat'") in text  # user text is escaped for Markdown
    assert md("my_offices.csv, row 4, column 'population'") in text
    assert at.button(key="run").disabled
    table = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert table[["row", "column"]].values.tolist() == [[3, "lat"], [4, "population"]]


def test_infeasible_scenario_suggests_relaxation():
    at = _new()
    at.radio(key="f_objective").set_value("min_cost")
    at.number_input(key="f_target").set_value(1.0)
    at.number_input(key="f_budget_m").set_value(0.0)  # no budget: only the target can be out of reach
    at.multiselect(key="f_allowed").set_value(["cellular_4g"]).run()  # 4G reaches 97 % of the offices
    at.button(key="run").click().run()
    _clean(at)
    text = " ".join(e.value for e in at.error)
    assert "Infeasible" in text and md("coverage_target") in text
    apply = at.button(key="apply_coverage_target")
    apply.click().run()
    _clean(at)
    assert at.number_input(key="f_target").value < 1.0


def test_cost_basis_and_demand_model_go_into_the_saved_scenario():
    """The form's economic cost and demand model choices are saved (and only when they differ from the defaults)."""
    at = _new()
    saved = _yaml(at)
    assert "cost_basis" not in saved and "model" not in (saved.get("demand") or {})
    at.selectbox(key="f_cost_basis").set_value("tco_residual").run()
    at.selectbox(key="f_demand_model").set_value("itu_cpp").run()
    _clean(at)
    saved = _yaml(at)
    assert saved["cost_basis"] == "tco_residual" and saved["demand"]["model"] == "itu_cpp"
