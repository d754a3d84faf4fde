"""Progress against a stored plan, worked out from the plan's own rows, and the re-plan of the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from planner.errors import InputError
from planner.pipeline import run
from planner.scenario import load_scenario
from planner.store import RunStore
from planner.survey import read_actual
from planner.ui.cli import app

runner = CliRunner()


def solved_run(tmp: Path, objective: str = "max_coverage") -> tuple[Path, pd.DataFrame, dict]:
    """Six offices far from any infrastructure (satellite only), a budget for about four: run 1 in the store."""
    pd.DataFrame(
        {"office_id": [f"o{i}" for i in range(6)], "lat": [0.0] * 6, "lon": [0.1 * i for i in range(6)],
         "population": [600, 500, 400, 300, 200, 100], "region": ["A", "A", "A", "B", "B", "B"]}
    ).to_csv(tmp / "offices.csv", index=False)  # fmt: skip
    raw = {"name": "p", "data": {"offices": "offices.csv"}, "objective": objective, "budget_basis": "capex"}
    raw.update({"budget_usd": 1900.0} if objective == "max_coverage" else {"coverage_target": 0.8})
    (tmp / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = runner.invoke(app, ["solve", str(tmp / "s.yaml"), "--out", str(tmp / "o"), "--store", str(tmp / "r.db")])
    assert out.exit_code == 0, out.output
    plan = pd.read_csv(tmp / "o" / "plan.csv")
    return tmp / "r.db", plan, json.loads((tmp / "o" / "summary.json").read_text())


def test_progress_arithmetic_and_the_replan_equal_to_a_fresh_plan(tmp_path: Path) -> None:
    db, plan, _ = solved_run(tmp_path)
    built = plan[plan["technology"] != "none"].sort_values("population", ascending=False)
    left_out = plan[plan["technology"] == "none"]
    assert len(built) >= 2 and len(left_out) >= 1
    first, second = built.iloc[0], built.iloc[1]
    other = "geo_satellite" if second["technology"] != "geo_satellite" else "leo_satellite"
    outside = left_out.iloc[0]
    pd.DataFrame(
        {"office_id": [first["office_id"], second["office_id"], outside["office_id"]],
         "technology": ["", other, "leo_satellite"], "date": ["2026-05-01", "2026", "2027-01-31"],
         "cost_usd": ["", "700", "350"]}
    ).to_csv(tmp_path / "actual.csv", index=False)  # fmt: skip
    out = runner.invoke(
        app, ["progress", "1", "--actual", str(tmp_path / "actual.csv"), "--out", str(tmp_path / "p"),
              "--store", str(db)]
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    s = json.loads((tmp_path / "p" / "progress.json").read_text())
    assert s["offices_planned"] == len(built) and s["offices_connected"] == 3
    assert (s["offices_connected_as_planned"], s["offices_connected_with_another_technology"]) == (1, 1)
    assert s["offices_connected_outside_the_plan"] == 1
    assert s["offices_not_yet_connected"] == len(built) - 2
    # spend: the first office has no recorded cost, so its planned capex counts; 700 and 350 as recorded
    spend = first["capex_usd"] + 700 + 350
    assert s["spend_usd"] == pytest.approx(spend) and s["spend_estimated_offices"] == 1
    assert s["budget_left_usd"] == pytest.approx(1900.0 - spend)
    assert s["people_connected"] == first["population"] + second["population"] + outside["population"]
    by_year = pd.read_csv(tmp_path / "p" / "progress_by_year.csv").set_index("year")
    assert by_year.loc[2026, "offices_connected"] == 2 and by_year.loc[2027, "offices_connected"] == 1
    by_tech = pd.read_csv(tmp_path / "p" / "progress_by_technology.csv").set_index("technology")
    assert by_tech.loc[other, "spend_usd"] == pytest.approx(700 + (350 if other == "leo_satellite" else 0))
    states = pd.read_csv(tmp_path / "p" / "progress_offices.csv").set_index("office_id")["state"]
    assert states[outside["office_id"]] == "connected outside the plan"
    # the re-plan: the three offices fixed as connected, the budget left; equal to a fresh plan made by hand
    fresh = pd.read_csv(tmp_path / "offices.csv")
    fresh["status"] = ["connected" if o in {first["office_id"], second["office_id"], outside["office_id"]}
                       else "unconnected" for o in fresh["office_id"]]  # fmt: skip
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    raw = yaml.safe_load((tmp_path / "s.yaml").read_text())
    raw.update({"data": {"offices": "fresh.csv"}, "budget_usd": float(max(1900.0 - spend, 0.0))})
    (tmp_path / "fresh.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    expected = run(load_scenario(tmp_path / "fresh.yaml")).summary
    got = json.loads((tmp_path / "p" / "replan" / "summary.json").read_text())
    assert got["objective_value"] == pytest.approx(expected["objective_value"], rel=1e-6)
    assert got["offices_planned"] == 3
    record = RunStore(db).get(2)
    assert record.command == "progress" and record.extra["replan_of"] == 1


def test_a_coverage_target_counts_what_is_connected(tmp_path: Path) -> None:
    """min_cost 80 % of 2,100 people = 1,680: after o0 (600) and o1 (500) are connected, the rest need 580 of
    the 1,000 people left: a target of 0.58."""
    from planner.analysis.progress import compare_progress, replan_scenario

    db, _, _ = solved_run(tmp_path, "min_cost")
    plan = RunStore(db).load_plan(1, options=False)
    (tmp_path / "a.csv").write_text("office_id\no0\no1\n", encoding="utf-8")
    prog = compare_progress(plan, read_actual(tmp_path / "a.csv"), "a.csv")
    scenario, changes = replan_scenario(plan.scenario, prog, tmp_path / "re")
    assert changes["coverage_target"] == pytest.approx(580 / 1000)
    assert scenario.coverage_target == pytest.approx(0.58)


@pytest.mark.parametrize(
    "body, column, text",
    [
        ("office_id,date\nzz,2026\n", "office_id", "not an office of the plan"),
        ("office_id,date\no0,May 2026\n", "date", "expected YYYY-MM-DD or a year"),
        ("office_id,cost_usd\no0,-5\n", "cost_usd", "expected USD, a number >= 0"),
        ("office_id\no0\no0\n", "office_id", "listed again (first in row 2)"),
    ],
)
def test_a_bad_actual_file_names_row_and_column(tmp_path: Path, body: str, column: str, text: str) -> None:
    from planner.analysis.progress import compare_progress

    db, _, _ = solved_run(tmp_path)
    (tmp_path / "a.csv").write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as err:
        compare_progress(RunStore(db).load_plan(1, options=False), read_actual(tmp_path / "a.csv"), "a.csv")
    issue = err.value.issues[0]
    assert issue.column == column and text in issue.message and issue.row is not None
