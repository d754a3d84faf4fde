"""The end-to-end benchmark (benchmarks/e2e.py) on a small instance: it runs ``planner solve`` as a process on
files and reports what it claims to (the same plan from CSV and Parquet inputs, covering the reference's greedy,
and the reference timed both inside its process and as a whole process). No time is asserted beyond ordering."""

from __future__ import annotations

import importlib.util
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "e2e.py"
e2e = SimpleNamespace(**runpy.run_path(str(_PATH)))  # the script's functions (its __main__ block does not run)


def test_the_benchmark_runs_the_job_and_reports_each_column(tmp_path, capsys):
    rows_file = tmp_path / "rows.json"
    args = ["--sizes", "3000", "--inputs", "csv", "parquet", "--scenarios", "--no-store-runs", "--repeat", "2"]
    assert e2e.main([*args, "--json", str(rows_file)]) == 0
    rows = json.loads(rows_file.read_text())
    assert [(r["instance"], r["inputs"]) for r in rows] == [("3,000 offices", "csv"), ("3,000 offices", "parquet")]
    for r in rows:
        assert r["status"] == "optimal" and r["ref_ok"] is True
        assert r["connected"] > 0 and r["gap"] < 1e-4
        assert 0 < r["ref_s"] < r["process_ref_s"]  # the process also starts Python and imports pandas
        assert abs(r["process_ratio"] - r["wall_s"] / r["process_ref_s"]) < 0.5 * r["process_ratio"]
        assert r["peak_mb"] > 50 and r["wall_s"] > 0
        assert {"read", "costing", "solve", "results", "write"} <= {k for k, v in r.items() if v is not None}
    assert rows[0]["plan_sha"] == rows[1]["plan_sha"]  # CSV and Parquet inputs: the same plan, byte for byte
    sources = list((_PATH.parents[1] / "planner").rglob("*.py"))
    assert sources and all(Path(importlib.util.cache_from_source(str(p))).is_file() for p in sources)  # bytecode
    table = capsys.readouterr().out
    assert "| reference as a process s | wall / process ref |" in table


def test_the_instance_matches_the_reference_budget(tmp_path):
    scenario = e2e.write_instance(tmp_path, 500, 1, "csv")
    offices = pd.read_csv(tmp_path / "offices.csv")
    options = pd.read_csv(tmp_path / "options.csv")
    assert len(offices) == 500 and set(options["office_id"]) <= set(offices["office_id"])
    budget = e2e.reference_budget(offices, options)
    assert f"budget_usd: {budget:.2f}" in scenario.read_text()
    ref = e2e.reference(tmp_path, "csv", budget)
    assert 0 < ref["population"] < offices.loc[offices["status"] != "connected", "population"].sum()
