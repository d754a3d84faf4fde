"""The ``planner`` command end to end (DESIGN §6): outputs, KPIs, exit codes and messages.

Each shipped scenario is solved once (module-scoped fixture); the contract and regression tests read its
outputs. One scenario runs through the real ``planner`` console script in a subprocess.
"""

from __future__ import annotations

import gc
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from planner.scenario import load_scenario, scenario_json_schema
from planner.ui.cli import app, main

REPO = Path(__file__).resolve().parents[1]
SCENARIO_DIR = REPO / "scenarios"
DATA = REPO / "data" / "uttarakhand"
PLANNER = Path(sys.executable).with_name("planner")

PLAN_COLUMNS = [
    "office_id", "technology", "year", "capex_usd", "opex_usd_per_year", "cost_usd", "mbps", "population",
    "region", "community",
]  # fmt: skip
SUMMARY_KEYS = [
    "scenario", "status", "objective", "mip_gap", "budget_usd", "total_cost_usd", "total_capex_usd",
    "offices_planned", "offices_connected", "population_covered", "coverage_share", "by_technology",
    "cost_per_person_usd", "cost_per_community_usd", "build_seconds", "solve_seconds",
]  # fmt: skip

# Regression values of the shipped scenarios (summary.json objective_value and total_cost_usd), recorded from
# optimal solves with the catalogue reviewed on 2026-12-01, the security baseline and the calibrated data of
# 2026-12-02 (each office priced with its country's overlay). Compared
# with a relative tolerance of 2 × the scenario's mip_gap: tied optima may pick other technologies, so per-office
# choices are not compared.
REGRESSION: dict[str, dict[str, float]] = {
    "uttarakhand-budget": {"objective_value": 5155162.0, "total_cost_usd": 1999965.3614515113},
    "uttarakhand-95pct": {"objective_value": 3945776.4646032304, "total_cost_usd": 3945776.4646032304},
    # cost_basis tco_residual: the objective is TCO less residual value; the cost is the TCO budget basis.
    "uttarakhand-95pct-lifecycle": {"objective_value": 3887458.152381979, "total_cost_usd": 3955240.9919582144},
    "uttarakhand-policy": {"objective_value": 5951226.0, "total_cost_usd": 2999641.0789820673},
    # a 20 s limit: the rolling horizon's plan (proven gap 2.7e-4, what a loaded machine returns); HiGHS from it
    # reaches 22,956,696 (bound 22,958,061, gap 5.9e-5) when it has the time: rel 4e-4 holds both (and the
    # earlier Pyomo run's 22,954,450.5 / 1,999,139 USD, gap 1.6e-4)
    "uttarakhand-roadmap": {"objective_value": 22951919.0, "total_cost_usd": 1999795.6414125252, "rel": 4e-4},
    "himalaya-pool": {"objective_value": 731757.0, "total_cost_usd": 499594.53622649715},
    # Heuristic design: its cut LP and Steiner step run under time limits, so a much slower machine may stop them
    # earlier (the plan rounded from the cut LP: 3.3e-4 below the LP bound here).
    "uttarakhand-fibre-shared": {"objective_value": 3838481.5, "total_cost_usd": 2997710.5035954923, "rel": 0.01},
    "srilanka-budget": {"objective_value": 5937614.5, "total_cost_usd": 999763.3109678047},
    "srilanka-95pct": {"objective_value": 2988743.250242928, "total_cost_usd": 2988743.250242928},
    # Uttarakhand + Sri Lanka pool (gap 2.6e-4 against the solver's 1e-3)
    "himalaya-pool-lka": {"objective_value": 10436697.5, "total_cost_usd": 1999554.3942782343},
}
# Scenarios that take much longer than a few seconds are kept out of the default run (pytest -m slow runs them).
SLOW = {"uttarakhand-roadmap"}
# This one runs through the installed console script in a real subprocess, the others through CliRunner.
SUBPROCESS = "uttarakhand-policy"

SHIPPED = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
runner = CliRunner()


def _params(names: list[str]) -> list[Any]:
    return [pytest.param(n, id=n, marks=[pytest.mark.slow] if n in SLOW else []) for n in names]


def run_cli(*args: str) -> tuple[int, str]:
    """Invoke the typer app in-process; return the exit code and stdout+stderr."""
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def offices_of(sc: Any) -> pd.DataFrame:
    """The scenario's offices as text: its offices file, or one file per country (countries.files)."""
    files = sc.countries.files.values() if sc.countries is not None and sc.countries.files else [sc.data.offices]
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in files], ignore_index=True)


def run_script(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``planner`` console script."""
    exe = str(PLANNER) if PLANNER.exists() else shutil.which("planner")
    assert exe, "the planner console script is not installed"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [exe, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd, env=env, check=False
    )


# --------------------------------------------------------------------------------------------- solved scenarios
class Solved:
    def __init__(self, name: str, out: Path, code: int, output: str) -> None:
        self.name = name
        self.path = SCENARIO_DIR / f"{name}.yaml"
        self.scenario = load_scenario(self.path)
        self.out = out
        self.code = code
        self.output = output
        self.summary: dict[str, Any] = json.loads((out / "summary.json").read_text()) if code == 0 else {}
        self.plan = pd.read_csv(out / "plan.csv", keep_default_na=False, na_values=[""]) if code == 0 else None


@pytest.fixture(scope="module", params=_params(SHIPPED))
def solved(request, tmp_path_factory) -> Solved:
    name = request.param
    out = tmp_path_factory.mktemp(name)
    if name == SUBPROCESS:
        proc = run_script("solve", SCENARIO_DIR / f"{name}.yaml", "--out", out, "--quiet")
        code, output = proc.returncode, proc.stdout + proc.stderr
        assert "Traceback" not in output
    else:
        code, output = run_cli("solve", SCENARIO_DIR / f"{name}.yaml", "--out", out, "--quiet")
    return Solved(name, out, code, output)


def test_exit_code_and_files(solved):
    assert solved.code == 0, solved.output
    assert (solved.out / "plan.csv").is_file()
    assert (solved.out / "summary.json").is_file()
    assert solved.name in solved.output  # the one-line result names the scenario


def test_plan_columns_and_one_row_per_planned_office(solved):
    plan = solved.plan
    assert list(plan.columns[: len(PLAN_COLUMNS)]) == PLAN_COLUMNS
    offices = offices_of(solved.scenario)
    to_plan = offices[offices["status"].str.lower() != "connected"]
    assert len(plan) == len(to_plan) == solved.summary["offices_planned"]
    assert plan["office_id"].is_unique
    assert set(plan["office_id"].astype(str)) == set(to_plan["office_id"])
    # population, region and community are the office's own
    merged = plan.astype({"office_id": str}).merge(to_plan, on="office_id", suffixes=("", "_in"))
    assert (merged["population"].astype(float) == merged["population_in"].astype(float)).all()
    assert (merged["region"].astype(str) == merged["region_in"]).all()
    assert (merged["community"].astype(str) == merged["community_in"]).all()


def test_plan_rows_are_consistent(solved):
    plan = solved.plan
    sc = solved.scenario
    con = plan[plan["technology"] != "none"]
    none = plan[plan["technology"] == "none"]
    catalogue = {"fibre", "cellular_4g", "microwave", "geo_satellite", "leo_satellite"}
    assert set(con["technology"]) <= catalogue
    # connected offices have a year within the horizon; offices left out have none and cost nothing
    years = con["year"].astype(float)
    assert ((years >= sc.horizon.start_year) & (years <= sc.horizon.end_year)).all()
    assert (years == years.round()).all()
    assert none["year"].isna().all()
    # written as calendar years ("2027", not "2027.0"), empty for offices left unconnected
    raw_years = pd.read_csv(solved.out / "plan.csv", dtype=str, keep_default_na=False)["year"]
    assert raw_years.str.fullmatch(r"(\d{4})?").all(), sorted(set(raw_years))[:5]
    assert (none[["capex_usd", "opex_usd_per_year", "cost_usd", "mbps"]] == 0).all().all()
    assert (con["cost_usd"] > 0).all()
    assert (con["capex_usd"] >= 0).all() and (con["opex_usd_per_year"] >= 0).all()
    assert (con["mbps"] > 0).all()
    if sc.budget_basis == "capex":
        assert (con["cost_usd"] - con["capex_usd"]).abs().max() < 1e-6
    else:
        assert (con["cost_usd"] >= con["capex_usd"] - 1e-6).all()


def test_summary_has_every_design_key(solved):
    s = solved.summary
    missing = [k for k in SUMMARY_KEYS if k not in s]
    assert not missing, missing
    assert s["scenario"] == solved.scenario.name
    assert s["status"] in ("optimal", "time_limit")
    if s["method"] != "shared-heuristic":  # a heuristic design is not proven optimal: it reports time_limit
        assert s["status"] == "optimal"  # the shipped scenarios solve to their gap well within the time limit
        # HiGHS stops at its relative gap up to rounding (uttarakhand-95pct-lifecycle: 1.0001e-4 for 1e-4)
        assert 0 <= s["mip_gap"] <= solved.scenario.solver.mip_gap * (1 + 1e-3)
    else:  # its gap is to a proven but loose bound (pairs at their own costs, trenches and sites free)
        assert 0 <= s["mip_gap"] < 1 and s["objective_bound"] >= s["objective_value"]
    assert s["objective"] == solved.scenario.objective
    assert s["budget_usd"] == solved.scenario.budget_usd
    assert s["build_seconds"] >= 0 and s["solve_seconds"] >= 0
    assert 0 < s["coverage_share"] <= 1
    for tech, row in s["by_technology"].items():
        assert set(row) >= {"offices", "cost_usd"}, tech


def test_kpis_add_up(solved):
    s, plan = solved.summary, solved.plan
    con = plan[plan["technology"] != "none"]
    assert math.isclose(plan["cost_usd"].sum(), s["total_cost_usd"], rel_tol=1e-9, abs_tol=1e-3)
    assert math.isclose(con["capex_usd"].sum(), s["total_capex_usd"], rel_tol=1e-9, abs_tol=1e-3)
    assert s["offices_connected"] == len(con)
    assert sum(v["offices"] for v in s["by_technology"].values()) == s["offices_connected"]
    assert math.isclose(sum(v["cost_usd"] for v in s["by_technology"].values()), s["total_cost_usd"], rel_tol=1e-9)
    for tech, row in s["by_technology"].items():
        assert row["offices"] == int((con["technology"] == tech).sum()), tech
    assert math.isclose(con["population"].sum(), s["population_covered"], rel_tol=1e-9)
    assert math.isclose(s["cost_per_person_usd"], s["total_cost_usd"] / s["population_covered"], rel_tol=1e-9)
    communities = con["community"].astype(str).nunique()
    assert math.isclose(s["cost_per_community_usd"], s["total_cost_usd"] / communities, rel_tol=1e-9)


def test_plan_respects_budget_target_and_policy(solved):
    s, plan, sc = solved.summary, solved.plan, solved.scenario
    con = plan[plan["technology"] != "none"]
    if sc.budget_usd is not None:
        assert s["total_cost_usd"] <= sc.budget_usd * (1 + 1e-9)
    if sc.objective == "min_cost":
        assert s["coverage_share"] >= sc.coverage_target - 1e-9
    pol = sc.policy
    if pol.max_cost_per_office_usd is not None:
        assert con["cost_usd"].max() <= pol.max_cost_per_office_usd * (1 + 1e-9)
    if pol.allowed_technologies is not None:
        assert set(con["technology"]) <= set(pol.allowed_technologies)
    for tech, share in pol.technology_max_share.items():
        assert (con["technology"] == tech).sum() <= share * len(con) + 1e-9, tech
    if pol.region_min_coverage:
        offices = pd.read_csv(sc.data.offices, dtype=str, keep_default_na=False)
        prio = offices.set_index("office_id")["priority"].replace("", "1").astype(float)
        w = plan["population"].astype(float) * plan["office_id"].astype(str).map(prio)
        connected = plan["technology"] != "none"
        share = (w * connected).groupby(plan["region"]).sum() / w.groupby(plan["region"]).sum()
        for region, got in share.items():
            need = pol.region_min_coverage.get(region, pol.region_min_coverage.get("*", 0.0))
            assert got >= need - 1e-9, (region, got, need)
    if sc.roadmap is not None:
        roadmap = pd.read_csv(solved.out / "roadmap.csv") if (solved.out / "roadmap.csv").exists() else None
        assert roadmap is None or len(roadmap) > 0


def test_regression_values(solved):
    assert solved.name in REGRESSION, f"record the regression values of the new scenario {solved.name}"
    expected = REGRESSION[solved.name]
    rel = expected.get("rel", 2 * solved.scenario.solver.mip_gap)
    s = solved.summary
    assert math.isclose(s["objective_value"], expected["objective_value"], rel_tol=rel), s["objective_value"]
    assert math.isclose(s["total_cost_usd"], expected["total_cost_usd"], rel_tol=rel), s["total_cost_usd"]


def test_every_shipped_scenario_has_regression_values():
    assert set(SHIPPED) <= set(REGRESSION), sorted(set(SHIPPED) - set(REGRESSION))


# --------------------------------------------------------------------------------------------- validate
def test_validate_prints_counts():
    code, output = run_cli("validate", SCENARIO_DIR / "uttarakhand-budget.yaml")
    assert code == 0, output
    first, rest = output.split("\n", 1)
    assert "uttarakhand-budget" in first and "valid" in first
    facts = json.loads(rest)
    offices = pd.read_csv(DATA / "offices.csv", dtype=str, keep_default_na=False)
    assert facts["offices"] == len(offices)
    assert sum(facts["by_status"].values()) == len(offices)
    assert facts["fibre_nodes"] == len(pd.read_csv(DATA / "fibre_nodes.csv"))
    assert facts["towers"] == len(pd.read_csv(DATA / "towers.csv"))
    assert facts["quotes"] == 0
    assert facts["eligible_options"] == sum(facts["eligible_by_technology"].values())


# --------------------------------------------------------------------------------------------- bad input
def write_scenario(tmp_path: Path, name: str = "s", **over: Any) -> Path:
    raw: dict[str, Any] = {
        "name": name,
        "data": {
            "offices": str(DATA / "offices.csv"),
            "fibre_nodes": str(DATA / "fibre_nodes.csv"),
            "towers": str(DATA / "towers.csv"),
        },
        "objective": "max_coverage",
        "budget_usd": 100000,
        "solver": {"time_limit_s": 30},
    }
    raw.update(over)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def bad_offices(tmp_path: Path) -> Path:
    path = tmp_path / "offices.csv"
    path.write_text("office_id,lat,lon,population\nA,29.1,79.1,100\nB,29.2,79.2,-50\nC,29.3,79.3,20\n")
    return path


@pytest.mark.parametrize("command", ["solve", "validate"])
def test_bad_offices_exit_2_names_file_row_column(tmp_path, command):
    offices = bad_offices(tmp_path)
    path = write_scenario(tmp_path, data={"offices": str(offices)})
    args = [command, path] + (["--out", tmp_path / "out", "-q"] if command == "solve" else [])
    code, output = run_cli(*args)
    assert code == 2, output
    assert str(offices) in output and "row 3" in output and "column 'population'" in output
    assert "expected" in output
    assert "Traceback" not in output
    assert not (tmp_path / "out" / "plan.csv").exists()


@pytest.mark.parametrize("command", ["solve", "validate"])
def test_data_path_that_is_a_folder_exit_2(tmp_path, command):
    """A towers path naming a folder (or an unreadable file) is bad input naming the path, not a traceback and
    not a Dask scheduler problem."""
    folder = tmp_path / "towers.csv"
    folder.mkdir()
    path = write_scenario(tmp_path, data={"offices": str(DATA / "offices.csv"), "towers": str(folder)})
    args = [command, path] + (["--out", tmp_path / "out", "-q", "--no-store"] if command == "solve" else [])
    code, output = run_cli(*args)
    assert code == 2, output
    assert f"{folder}: is a folder; expected a data file" in output
    assert "Dask" not in output and "Traceback" not in output


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    offices = bad_offices(tmp_path)
    path = write_scenario(tmp_path, data={"offices": str(offices)})
    proc = run_script("solve", path, "--out", tmp_path / "out", "-q")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "row 3" in proc.stderr and "column 'population'" in proc.stderr and str(offices) in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    proc = run_script("validate", write_scenario(tmp_path, "typo", solver={"time_limt_s": 5}))
    assert proc.returncode == 2
    assert "solver.time_limt_s" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "over,words",
    [
        ({"budjet_usd": 5}, ["budjet_usd", "unknown key"]),
        ({"solver": {"time_limt_s": 5}}, ["solver.time_limt_s", "unknown key"]),
        ({"discount_rate": 1.5}, ["discount_rate"]),
        ({"policy": {"allowed_technologies": ["hyperloop"]}}, ["policy.allowed_technologies", "hyperloop"]),
        ({"technologies": {"fibre": {"capex_per_kilometre": 1}}}, ["technologies.fibre.capex_per_kilometre"]),
        ({"data": {"offices": "missing.csv"}}, ["data.offices", "file not found"]),
    ],
)
def test_bad_scenario_exit_2(tmp_path, over, words):
    path = write_scenario(tmp_path, **over)
    code, output = run_cli("solve", path, "--out", tmp_path / "out", "-q")
    assert code == 2, output
    for word in words:
        assert word in output
    assert "Traceback" not in output


def test_missing_scenario_file_exit_2(tmp_path):
    code, output = run_cli("validate", tmp_path / "absent.yaml")
    assert code == 2
    assert "absent.yaml" in output and "not found" in output


def test_bad_quotes_exit_2(tmp_path):
    quotes = tmp_path / "options.csv"
    quotes.write_text(
        "office_id,technology,capex_usd,opex_usd_per_year\nIN-244712-01,fibre,1000,100\nNOPE,fibre,1,1\n"
        "IN-244712-01,teleport,1,1\n"
    )
    data = {"offices": str(DATA / "offices.csv"), "options": str(quotes)}
    code, output = run_cli("validate", write_scenario(tmp_path, data=data))
    assert code == 2, output
    assert "row 4" in output and "teleport" in output


# --------------------------------------------------------------------------------------------- infeasible
def test_infeasible_budget_exit_3(tmp_path):
    # 90 % is reachable (not every office has a fast enough option: LEO is not offered in India), 1,000 USD is not
    path = write_scenario(tmp_path, objective="min_cost", coverage_target=0.9, budget_usd=1000)
    code, output = run_cli("solve", path, "--out", tmp_path / "out", "-q")
    assert code == 3, output
    assert "infeasible" in output and "budget_usd" in output
    assert "Traceback" not in output


def test_infeasible_target_with_allowed_technologies_exit_3(tmp_path):
    path = write_scenario(
        # 4G alone: the bundled towers leave about 3 % of the branch offices outside 4G range (fibre now reaches all)
        tmp_path,
        objective="min_cost",
        coverage_target=1.0,
        budget_usd=None,
        policy={"allowed_technologies": ["cellular_4g"]},
    )
    code, output = run_cli("solve", path, "--out", tmp_path / "out", "-q")
    assert code == 3, output
    assert "infeasible" in output and "coverage_target" in output
    assert "Traceback" not in output


# --------------------------------------------------------------------------------------------- compare, schema
def small_offices(tmp_path: Path, n: int = 150) -> Path:
    offices = pd.read_csv(DATA / "offices.csv", dtype=str, keep_default_na=False).head(n)
    path = tmp_path / "small.csv"
    offices.to_csv(path, index=False)
    return path


def test_compare_prints_both_scenarios(tmp_path):
    data = {
        "offices": str(small_offices(tmp_path)),
        "fibre_nodes": str(DATA / "fibre_nodes.csv"),
        "towers": str(DATA / "towers.csv"),
    }
    a = write_scenario(tmp_path, "small-lean", data=data, budget_usd=20000)
    b = write_scenario(tmp_path, "small-rich", data=data, budget_usd=80000)
    code, output = run_cli("compare", a, b, "-q")
    assert code == 0, output
    assert "small-lean" in output and "small-rich" in output
    for row in ("status", "offices connected", "population covered", "cost USD (budget basis)", "cost per person USD"):
        assert row in output, row
    line = next(ln for ln in output.splitlines() if ln.startswith("offices connected"))
    lean, rich = (int(float(v)) for v in line.split()[2:4])
    assert rich >= lean  # more budget never connects fewer offices here (population metric, same data)


def test_compare_stops_on_bad_input(tmp_path):
    code, output = run_cli("compare", write_scenario(tmp_path, "bad", nmae="x"), write_scenario(tmp_path, "ok"))
    assert code == 2 and "nmae" in output


def test_schema_command_writes_the_json_schema(tmp_path):
    out = tmp_path / "schema.json"
    code, output = run_cli("schema", out)
    assert code == 0, output
    assert json.loads(out.read_text()) == scenario_json_schema()
    assert str(out) in output


def test_schema_in_a_real_process(tmp_path):
    proc = run_script("schema", "s.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "s.json").read_text())["title"] == "Connect.Post Planner scenario"


@pytest.mark.parametrize("ok", [True, False])
def test_entry_point_freezes_the_heap_on_the_way_out(tmp_path, monkeypatch, capsys, ok):
    """``main`` freezes what is left, on success and on bad input, so that the final collections skip it."""
    target = tmp_path / "s.json" if ok else tmp_path / "absent.yaml"
    monkeypatch.setattr(sys, "argv", ["planner", "schema", str(target)] if ok else ["planner", "validate", str(target)])
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as stop:
            main()
        assert stop.value.code == (0 if ok else 2)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process goes on collecting as before
    if ok:
        assert json.loads(target.read_text())["title"] == "Connect.Post Planner scenario"
    else:
        assert "not found" in capsys.readouterr().err


def test_no_arguments_shows_help():
    code, output = run_cli()
    assert "solve" in output and "validate" in output and "compare" in output
    assert code in (0, 2)


def test_fan_out_errors_tell_a_file_from_the_scheduler(capsys):
    import typer

    from planner.ui import cli

    with pytest.raises(typer.Exit) as exit_info, cli._fan_out_errors("tcp://10.0.0.9:8786"):
        raise PermissionError(13, "Permission denied", "/data/towers.csv")
    assert exit_info.value.exit_code == 2
    err = capsys.readouterr().err
    assert "/data/towers.csv: cannot use the file (Permission denied)" in err and "Dask" not in err
    with pytest.raises(typer.Exit) as exit_info, cli._fan_out_errors("tcp://10.0.0.9:8786"):
        raise OSError("Timed out trying to connect to tcp://10.0.0.9:8786 after 30 s")
    assert exit_info.value.exit_code == 2
    assert "cannot use the Dask scheduler tcp://10.0.0.9:8786: Timed out" in capsys.readouterr().err
