"""Connectivity surveys: matching to the register, data-quality findings, and unknown status in planning."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from planner.errors import InputError
from planner.pipeline import prepare, solve_prepared
from planner.scenario import load_scenario
from planner.survey import ingest_survey, normalise_name
from planner.ui.cli import app

REGISTER = pd.DataFrame(
    {
        "office_id": ["A1", "B1", "C1", "D1", "E1", "F1"],
        "name": ["Rampur B.O.", "Sitapur SO", "Devprayag", "Kotdwar", "Nowhere", "Gopeshwar"],
        "pincode": ["111", "111", "222", "333", "444", "555"],
        "lat": [30.0, 30.01, 30.1, 30.2, 30.3, 30.4],
        "lon": [79.0, 79.01, 79.1, 79.2, 79.3, 79.4],
        "population": [1000, 2000, 3000, 4000, 5000, 6000],
        "region": ["North", "North", "North", "South", "South", "South"],
    }
)
HEADER = "office_id,postcode,name,connected,technology,down_mbps,up_mbps,power,services,incident_response_plan,"
SURVEY = (
    HEADER
    + """post_domain
A1,,,yes,fibre,25,10,grid,mail;financial,yes,no
,111,sitapur s.o.,Yes,4G,4,1,solar,mail,no,no
,222,Dev Prayag,no,,,,grid,,unknown,
,999,Ghost,yes,4G,10,2,grid,mail,,
D1,,,yes,4G,30,5,grid,mail,,
D1,,,no,,,,grid,mail,,
F1,,,yes,4G,-5,1,,mail,maybe,
"""
)


def files(tmp: Path, survey: str = SURVEY) -> tuple[Path, Path]:
    REGISTER.to_csv(tmp / "register.csv", index=False)
    (tmp / "survey.csv").write_text(survey, encoding="utf-8")
    return tmp / "register.csv", tmp / "survey.csv"


def test_names_are_normalised_for_matching() -> None:
    assert normalise_name("Sitapur S.O.") == normalise_name("SITAPUR SO") == "sitapur"
    assert normalise_name("Rāmpur  Branch Office") == "rampur"


def test_matching_status_and_findings_worked_out(tmp_path: Path) -> None:
    """Row 2 (A1 by id) is connected at 25 Mbps; row 3 matches B1 by postcode 111 + name (score 1.0) at 4 Mbps:
    underserved (< 10); row 4 matches C1 by postcode 222 and 'dev prayag' ~ 'devprayag' (ratio 2·9/19 = 0.947):
    unconnected; row 5 (postcode 999) matches nothing; D1 twice with different answers: unknown; E1 is not in the
    survey: unknown; F1's -5 Mbps is implausible and 'maybe' is not an answer."""
    result = ingest_survey(*files(tmp_path))
    status = result.offices.set_index("office_id")["status"].to_dict()
    assert status == {"A1": "connected", "B1": "underserved", "C1": "unconnected", "D1": "unknown",
                      "E1": "unknown", "F1": "underserved"}  # fmt: skip
    mbps = result.offices.set_index("office_id")["current_mbps"]
    assert (mbps["A1"], mbps["B1"]) == (25.0, 4.0)
    assert not result.offices.set_index("office_id").loc["B1", "grid_power"]  # solar
    m = result.matches.set_index("row")
    assert list(m.loc[[2, 3, 4], "rule"]) == ["office_id", "postcode+name", "postcode+name"]
    assert m.loc[3, "score"] == 1.0 and m.loc[4, "score"] == pytest.approx(18 / 19, abs=1e-3)
    assert m.loc[5, "office_id"] == "" and m.loc[5, "rule"] == "unmatched (no office with that postcode)"
    q = result.quality
    found = {(k, r, c) for k, r, c in zip(q["kind"], q["row"].astype(object), q["column"], strict=True)}
    assert ("unmatched survey row", 5, "office_id") in found
    assert ("conflicting answers", 7, "connected,down_mbps,technology,up_mbps") in found
    assert ("not surveyed", None, "office_id") in {(k, None if pd.isna(r) else r, c) for k, r, c in found}
    assert ("implausible speed", 8, "down_mbps") in found
    assert ("invalid answer", 8, "incident_response_plan") in found
    assert ("missing field", 8, "down_mbps") in found
    assert all(f.endswith("survey.csv") or f.endswith("register.csv") for f in q["file"])
    total = result.status.set_index("region").loc["all"]
    assert (total["connected"], total["underserved"], total["unconnected"], total["unknown"]) == (1, 2, 1, 2)
    assert total["offers_financial"] == 1 and total["has_incident_response_plan"] == 1


def test_a_duplicate_with_the_same_answers_is_reported_not_conflicting(tmp_path: Path) -> None:
    survey = "office_id,connected,down_mbps\nA1,yes,20\nA1,yes,20\n"
    result = ingest_survey(*files(tmp_path, survey))
    assert result.offices.set_index("office_id").loc["A1", "status"] == "connected"
    assert list(result.quality.loc[result.quality["kind"] == "duplicate", "row"]) == [3]


def test_an_xlsx_with_a_merged_two_row_header(tmp_path: Path) -> None:
    """'Measured speed (Mbps)' merged over the two columns 'down' / 'up' of row 2; data from row 3."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Office", "Connected", "Measured speed (Mbps)", None])
    sheet.append([None, None, "down", "up"])
    sheet.merge_cells("C1:D1")
    sheet.append(["A1", "yes", 50, 20])
    sheet.append(["C1", "No", None, None])
    book.save(tmp_path / "survey.xlsx")
    register, _ = files(tmp_path)
    result = ingest_survey(register, tmp_path / "survey.xlsx")
    offices = result.offices.set_index("office_id")
    assert offices.loc["A1", "status"] == "connected" and offices.loc["A1", "current_mbps"] == 50
    assert offices.loc["C1", "status"] == "unconnected"
    assert list(result.matches["row"]) == [3, 4]


@pytest.mark.parametrize(
    "survey, text",
    [
        ("name,connected\nX,yes\n", "no office_id or postcode column"),
        ("office_id,down_mbps\nA1,5\n", "no 'connected' column"),
        ("office_id,connected\nA1,yes,extra,cells\n", "4 cells in a row of a 2-column header"),
    ],
)
def test_a_survey_that_cannot_be_matched_is_refused_with_its_line(tmp_path: Path, survey: str, text: str) -> None:
    with pytest.raises(InputError, match=text):
        ingest_survey(*files(tmp_path, survey))


def test_the_cli_writes_the_merged_register_and_unknown_status_is_planned_by_the_scenario(tmp_path: Path) -> None:
    """The merged offices plan as they are: 'plan' plans the 2 unknown offices, 'skip' leaves them out (3 planned:
    B1 underserved, C1 unconnected, F1 underserved), 'survey_cost' adds 150 USD to each of their options."""
    register, survey = files(tmp_path)
    out = CliRunner().invoke(app, ["survey", str(register), str(survey), "--out", str(tmp_path / "s")])
    assert out.exit_code == 0, out.output
    assert "6 of 7 rows matched" in out.output and "2 unknown" in out.output
    for name in ("offices.csv", "matches.csv", "quality.csv", "status_by_region.csv"):
        assert (tmp_path / "s" / name).exists()
    layer = json.loads((tmp_path / "s" / "status.geojson").read_text())
    props = {f["properties"]["office_id"]: f["properties"] for f in layer["features"]}
    assert props["B1"]["status"] == "underserved" and props["A1"]["incident_response_plan"] == "yes"
    assert layer["features"][0]["geometry"]["coordinates"] == [79.0, 30.0]
    sheets = pd.read_excel(tmp_path / "s" / "survey.xlsx", sheet_name=None)
    assert list(sheets) == ["status by region", "offices", "data quality", "matches"]
    assert len(sheets["data quality"]) == len(pd.read_csv(tmp_path / "s" / "quality.csv"))
    planned = {}
    options = {}
    for action in ("plan", "skip", "survey_cost"):
        raw = {"name": action, "data": {"offices": str(tmp_path / "s" / "offices.csv")}, "budget_usd": 1e6,
               "unknown_status": {"action": action}}  # fmt: skip
        (tmp_path / f"{action}.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
        prepared = prepare(load_scenario(tmp_path / f"{action}.yaml"))
        planned[action] = sorted(prepared.inputs.planned["office_id"])
        options[action] = prepared.options.set_index(["office_id", "technology"])
    assert planned["plan"] == ["B1", "C1", "D1", "E1", "F1"] == planned["survey_cost"]
    assert planned["skip"] == ["B1", "C1", "F1"]
    extra = options["survey_cost"]["capex_usd"] - options["plan"]["capex_usd"]
    assert set(extra.loc[["D1", "E1"]]) == {150.0} and set(extra.loc[["B1", "C1", "F1"]]) == {0.0}
    assert "scenario.unknown_status.survey_cost_usd" in options["survey_cost"].loc[("D1", "leo_satellite"), "cost_keys"]
    plan = solve_prepared(prepare(load_scenario(tmp_path / "skip.yaml")))
    assert plan.summary["offices_planned"] == 3


def test_an_unclosed_quote_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a readable CSV") as err:
        ingest_survey(*files(tmp_path, 'office_id,connected\nA1,yes\n"B1,no\n'))
    assert err.value.issues[0].row is not None
