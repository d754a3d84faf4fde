"""Exports of planner/results/report.py, read back: the Excel workbook (one sheet per table) and the GeoJSON of the
plan, plus the derived tables the app shows (cost components, changed offices, alternatives, unserved)."""

from __future__ import annotations

import io
import json
import math

import pandas as pd
import pytest
from openpyxl import load_workbook

from planner.pipeline import prepare, solve_prepared
from planner.results import report
from planner.scenario import scenario_from_dict

OFFICES = """office_id,name,region,community,status,lat,lon,population,grid_power,services
A1,Alpha BO,North,c1,unconnected,30.10,79.00,1200,true,mail
A2,Beta BO,North,c1,unconnected,30.12,79.03,800,false,mail;financial
A3,Gamma BO,North,c2,unconnected,30.40,79.40,3000,true,mail
B1,Delta BO,South,c3,unconnected,29.50,78.50,500,true,mail
B2,Eps BO,South,c4,unconnected,29.52,78.52,2500,true,mail;e_government
B3,Zeta BO,South,c4,unconnected,29.90,78.90,50,true,mail
H1,Hub SO,South,c3,connected,29.51,78.51,0,true,mail
"""
NODES = "node_id,lat,lon\nF1,30.11,79.01\nF2,29.51,78.50\n"
TOWERS = "tower_id,lat,lon,generation,range_km\nT1,30.40,79.41,4,8\nT2,29.90,78.91,4,8\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "offices.csv").write_text(OFFICES)
    (folder / "fibre_nodes.csv").write_text(NODES)
    (folder / "towers.csv").write_text(TOWERS)
    raw = {
        "name": "tiny",
        "data": {"offices": "offices.csv", "fibre_nodes": "fibre_nodes.csv", "towers": "towers.csv"},
        "objective": "max_coverage",
        "budget_usd": 30_000,
        "budget_basis": "tco",
    }
    scenario = scenario_from_dict(raw, base_dir=folder)
    prepared = prepare(scenario)
    plan = solve_prepared(prepared)
    small = solve_prepared(prepared, scenario=scenario.model_copy(update={"budget_usd": 8_000, "name": "small"}))
    return plan, small, folder


def test_excel_workbook_reads_back(tiny):
    plan, _, _ = tiny
    data = report.excel_bytes(plan)
    wb = load_workbook(io.BytesIO(data), read_only=True)
    assert wb.sheetnames == ["summary", "plan", "by_technology", "by_region", "cost_components", "options", "sources"]
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None)
    back = sheets["plan"]
    assert list(back.columns) == list(plan.plan.columns)
    assert len(back) == len(plan.plan)
    assert back["office_id"].astype(str).tolist() == plan.plan["office_id"].tolist()
    assert back["technology"].tolist() == plan.plan["technology"].tolist()
    assert back["cost_usd"].to_numpy() == pytest.approx(plan.plan["cost_usd"].to_numpy())
    assert back["why"].tolist() == plan.plan["why"].tolist()
    assert len(sheets["options"]) == len(plan.options)
    assert sheets["options"]["chosen"].astype(bool).sum() == (plan.plan["technology"] != "none").sum()
    summary = dict(zip(sheets["summary"]["key"], sheets["summary"]["value"], strict=True))
    assert float(summary["total_cost_usd"]) == pytest.approx(plan.summary["total_cost_usd"])
    assert summary["status"] == plan.summary["status"]
    for tech, figures in plan.summary["by_technology"].items():
        assert int(summary[f"by_technology.{tech}.offices"]) == figures["offices"]
    assert sheets["sources"]["source"].notna().all() and len(sheets["sources"]) > 10
    assert len(sheets["by_region"]) == plan.plan["region"].nunique()


def test_geojson_points_with_properties(tiny):
    plan, _, folder = tiny
    text = report.geojson_bytes(plan)  # coordinates read from the scenario's offices file
    doc = json.loads(text)
    assert doc["type"] == "FeatureCollection" and doc["name"] == "tiny"
    offices = pd.read_csv(folder / "offices.csv").set_index("office_id")
    assert len(doc["features"]) == len(plan.plan)
    by_id = plan.plan.set_index("office_id")
    for feat in doc["features"]:
        props = feat["properties"]
        office = props["office_id"]
        assert feat["geometry"]["type"] == "Point"
        assert feat["geometry"]["coordinates"] == pytest.approx([offices.at[office, "lon"], offices.at[office, "lat"]])
        assert props["technology"] == by_id.at[office, "technology"]
        assert props["cost_usd"] == pytest.approx(by_id.at[office, "cost_usd"])
        assert set(props) == set(plan.plan.columns)
        assert all(not (isinstance(v, float) and math.isnan(v)) for v in props.values())
    # Given coordinates win over the file (the app passes the prepared offices table).
    coords = offices.reset_index()[["office_id", "lat", "lon"]].assign(lat=1.0, lon=2.0)
    doc2 = report.plan_geojson(plan, coords)
    assert {tuple(f["geometry"]["coordinates"]) for f in doc2["features"]} == {(2.0, 1.0)}


def test_write_exports(tiny, tmp_path):
    plan, _, _ = tiny
    files = report.write_exports(plan, tmp_path / "out")
    assert [f.name for f in files] == ["plan.xlsx", "plan.geojson"]
    assert all(f.stat().st_size > 0 for f in files)
    assert report.plan_csv(plan).decode().splitlines()[0].startswith("office_id,technology,year")
    assert json.loads(report.summary_json(plan))["scenario"] == "tiny"


def test_cost_components_add_up(tiny):
    plan, _, _ = tiny
    table = report.cost_components(plan).set_index("technology")
    con = plan.plan[plan.plan["technology"] != "none"]
    assert table.loc["total", "offices"] == len(con)
    parts = [c for c, _ in report.CAPEX_COMPONENTS]
    assert table.loc["total", parts].sum() == pytest.approx(con["capex_usd"].sum())
    assert table.loc["total", "capex_usd"] == pytest.approx(plan.summary["total_capex_usd"])
    long = report.component_totals(plan)
    capex = long[long["kind"] == "capex"]["usd"].sum()
    assert capex == pytest.approx(plan.summary["total_capex_usd"])


def test_changed_offices_and_alternatives(tiny):
    plan, small, _ = tiny
    diff = report.changed_offices(plan, small, "big", "small")
    merged = plan.plan.merge(small.plan, on="office_id", suffixes=("_a", "_b"))
    expected = set(merged.loc[merged["technology_a"] != merged["technology_b"], "office_id"])
    assert set(diff["office_id"]) == expected and expected
    assert (diff["change"] == diff["technology_big"] + " → " + diff["technology_small"]).all()
    assert report.changed_offices(plan, plan).empty

    connected = plan.plan[plan.plan["technology"] != "none"].iloc[0]
    alt = report.office_alternatives(plan, connected["office_id"])
    chosen = alt[alt["chosen"]]
    assert chosen["technology"].tolist() == [connected["technology"]]
    assert alt["eligible"].iloc[0]  # eligible options first, cheapest first
    assert (alt.loc[~alt["eligible"], "reason"] != "").all()

    unserved = report.unserved_by_region(small).set_index("region")
    assert unserved["offices_unserved"].sum() == small.summary["offices_unserved"]
    assert unserved["unserved_no_eligible_option"].sum() == small.summary["offices_without_eligible_option"]
