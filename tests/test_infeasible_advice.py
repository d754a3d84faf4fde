"""Every relaxation the diagnosis of an infeasible scenario prints, applied as printed, makes it feasible.

Small hand-built instances (``ModelData``), one per kind of advice: coverage target too high, budget too small for
a target or for the regional minimums, a regional minimum out of reach, technology caps that block the regional
minimums, roadmap annual budgets too small. The values are read back from the printed message (not from the
diagnosis object), applied to the spec, and the spec is solved again.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.errors import InfeasibleError
from planner.optimize.solve import solve
from planner.problem import ModelData, ModelSpec, RoadmapSpec
from planner.scenario import SolverSettings
from planner.ui.cli import app

SETTINGS = SolverSettings(time_limit_s=20)


def make_data(offices: list[tuple[str, float, str]], options: list[tuple[str, str, float]]) -> ModelData:
    """``offices``: (office_id, weight, region); ``options``: (office_id, technology, cost USD; opex 0)."""
    off = pd.DataFrame(
        [{"office_id": o, "weight": float(w), "region": r, "community": o} for o, w, r in offices],
        columns=["office_id", "weight", "region", "community"],
    )
    opts = pd.DataFrame(
        [
            {"office_id": o, "technology": t, "cost_usd": float(c), "capex_usd": float(c), "opex_usd_per_year": 0.0}
            for o, t, c in options
        ],
        columns=["office_id", "technology", "cost_usd", "capex_usd", "opex_usd_per_year"],
    )
    return ModelData(opts, off)


NUMBER = r"([0-9][0-9,]*(?:\.[0-9]+)?)"


def printed_relaxations(message: str) -> list[dict[str, float]]:
    """The relaxations as printed: ``set a = 1,234 USD, b = 0.5000 (...)`` alternatives joined by ``; or``."""
    assert "Relaxations (each alone makes it feasible): " in message, message
    tail = message.split("Relaxations (each alone makes it feasible): ", 1)[1]
    out = []
    for part in tail.split("; or "):
        pairs = re.findall(r"([A-Za-z_][\w.*-]*) = " + NUMBER, part)
        assert pairs, part
        out.append({k: float(v.replace(",", "")) for k, v in pairs})
    return out


def apply(spec: ModelSpec, changes: dict[str, float]) -> ModelSpec:
    """The spec with printed changes applied (the test's own reading of the field paths)."""
    mins, caps = dict(spec.region_min_coverage), dict(spec.technology_max_share)
    out = replace(spec, region_min_coverage=mins, technology_max_share=caps)
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if key in ("budget_usd", "coverage_target"):
            setattr(out, key, value)
        elif key.startswith("policy.region_min_coverage."):
            mins[key.split(".", 2)[2]] = value
        elif key.startswith("policy.technology_max_share."):
            caps[key.split(".", 2)[2]] = value
        elif head == "roadmap" and out.roadmap is not None:
            year = int(rest.rsplit(".", 1)[1])
            out.roadmap = replace(out.roadmap, annual_budget_usd={**out.roadmap.annual_budget_usd, year: value})
        else:
            raise AssertionError(f"unexpected field {key}")
    return out


def advice(data: ModelData, spec: ModelSpec) -> tuple[InfeasibleError, list[dict[str, float]]]:
    with pytest.raises(InfeasibleError) as info:
        solve(data, spec, SETTINGS)
    return info.value, printed_relaxations(str(info.value))


def assert_all_feasible(data: ModelData, spec: ModelSpec, relaxations: list[dict[str, float]]) -> None:
    for changes in relaxations:
        result = solve(data, apply(spec, changes), SETTINGS)  # raises if still infeasible
        assert result.status in ("optimal", "time_limit")


def test_target_too_high_min_cost() -> None:
    """W = 100, c (20) has no option: at most 80 % reachable; target 90 % -> 0.8000."""
    data = make_data([("a", 30, "r"), ("b", 50, "r"), ("c", 20, "r")], [("a", "fibre", 10), ("b", "leo_satellite", 20)])
    spec = ModelSpec("min_cost", coverage_target=0.9)
    err, relax = advice(data, spec)
    assert err.diagnosis.constraint == "coverage_target"
    assert relax == [{"coverage_target": 0.8}]
    assert_all_feasible(data, spec, relax)


def test_unreachable_share_is_rounded_down() -> None:
    """Reachable share 1/3 = 0.33333...: printed 0.3333 (0.3334 would be infeasible)."""
    data = make_data([("a", 1, "r"), ("b", 1, "r"), ("c", 1, "r")], [("a", "fibre", 10)])
    spec = ModelSpec("min_cost", coverage_target=0.5)
    _, relax = advice(data, spec)
    assert relax == [{"coverage_target": 0.3333}]
    assert_all_feasible(data, spec, relax)


def test_budget_too_small_for_the_target_rounds_up() -> None:
    """Target 60 of W 100; a+b is the least plan at 45.4 USD: the budget printed is 46 USD (45 falls short)."""
    data = make_data(
        [("a", 30, "r"), ("b", 30, "r"), ("c", 40, "r")],
        [("a", "fibre", 20.2), ("b", "fibre", 25.2), ("c", "leo_satellite", 50)],
    )
    spec = ModelSpec("min_cost", budget_usd=40, coverage_target=0.6)
    err, relax = advice(data, spec)
    assert err.diagnosis.constraint == "budget_usd"
    assert {"budget_usd": 46.0} in relax
    assert {"coverage_target": 0.3} in relax  # within 40 USD: one office of 30
    assert_all_feasible(data, spec, relax)
    with pytest.raises(InfeasibleError):  # one dollar less is not enough: rounding down would be wrong
        solve(data, apply(spec, {"budget_usd": 45.0}), SETTINGS)


def test_budget_too_small_for_region_minimums() -> None:
    """max_coverage, budget 5: the south minimum 0.5 needs s1 (7 USD)."""
    data = make_data(
        [("n1", 10, "north"), ("s1", 4, "south"), ("s2", 4, "south")],
        [("n1", "fibre", 5), ("s1", "leo_satellite", 7), ("s2", "fibre", 20)],
    )
    spec = ModelSpec("max_coverage", budget_usd=5, region_min_coverage={"south": 0.5})
    err, relax = advice(data, spec)
    assert err.diagnosis.constraint == "budget_usd"
    assert relax == [{"budget_usd": 7.0}]
    assert_all_feasible(data, spec, relax)


def test_region_minimum_out_of_reach() -> None:
    """Hills: h1 (6) has an option, h2 (4) none: at most 60 %; minimum 75 %."""
    data = make_data(
        [("p1", 10, "plains"), ("h1", 6, "hills"), ("h2", 4, "hills")],
        [("p1", "fibre", 5), ("h1", "leo_satellite", 8)],
    )
    spec = ModelSpec("max_coverage", budget_usd=100, region_min_coverage={"hills": 0.75})
    err, relax = advice(data, spec)
    assert err.diagnosis.constraint == "region_min_coverage"
    assert relax == [{"policy.region_min_coverage.hills": 0.6}]
    assert_all_feasible(data, spec, relax)


def test_region_minimum_out_of_reach_and_then_the_budget() -> None:
    """Lowering the hills minimum to its reach still needs h1 (8 USD) in a budget of 5: both changes together."""
    data = make_data(
        [("p1", 10, "plains"), ("h1", 6, "hills"), ("h2", 4, "hills")],
        [("p1", "fibre", 5), ("h1", "leo_satellite", 8)],
    )
    spec = ModelSpec("max_coverage", budget_usd=5, region_min_coverage={"hills": 0.75})
    _, relax = advice(data, spec)
    assert relax == [{"policy.region_min_coverage.hills": 0.6, "budget_usd": 8.0}]
    assert_all_feasible(data, spec, relax)


def test_technology_cap_blocks_region_minimums() -> None:
    """Every office has only LEO; each region needs half its weight: a LEO cap of 0.25 makes that impossible."""
    offices = [(f"o{i}", 1, "a" if i < 4 else "b") for i in range(8)]
    data = make_data(offices, [(o, "leo_satellite", 10) for o, _, _ in offices])
    spec = ModelSpec("max_coverage", budget_usd=1000, region_min_coverage={"*": 0.5},
                     technology_max_share={"leo_satellite": 0.25})  # fmt: skip
    err, relax = advice(data, spec)
    assert "technology_max_share" in err.diagnosis.constraint
    assert relax == [{"policy.technology_max_share.leo_satellite": 1.0}]
    assert_all_feasible(data, spec, relax)


def test_technology_cap_share_is_rounded_up() -> None:
    """a: LEO only; b, c: fibre or LEO; region r needs a (minimum 1/3 of 3), fibre capped at 0: LEO share needed 1."""
    data = make_data(
        [("a", 1, "r"), ("b", 1, "s"), ("c", 1, "s")],
        [("a", "leo_satellite", 5), ("b", "fibre", 1), ("c", "fibre", 1), ("b", "leo_satellite", 9)],
    )
    spec = ModelSpec("max_coverage", budget_usd=100, region_min_coverage={"r": 1.0, "s": 0.5},
                     technology_max_share={"leo_satellite": 0.3})  # fmt: skip
    _, relax = advice(data, spec)
    for changes in relax:
        share = changes["policy.technology_max_share.leo_satellite"]
        assert share >= 1 / 3  # a LEO plus one fibre office: 1/2 or more; printed at 4 decimals, rounded up
    assert_all_feasible(data, spec, relax)


def test_roadmap_annual_budgets_too_small() -> None:
    """Two years, 10 USD a year; the target needs a (15) and b (15): annual budgets of 15 (or a lower target)."""
    data = make_data([("a", 1, "r"), ("b", 1, "r")], [("a", "fibre", 15), ("b", "fibre", 15)])
    roadmap = RoadmapSpec(years=[2026, 2027], annual_budget_usd={2026: 10.0, 2027: 10.0}, discount_rate=0.0)
    spec = ModelSpec("min_cost", coverage_target=1.0, roadmap=roadmap)
    err, relax = advice(data, spec)
    assert err.diagnosis.constraint == "coverage_target"
    assert {"coverage_target": 0.0} in relax
    budgets = [r for r in relax if any(k.startswith("roadmap.annual_budget_usd.") for k in r)]
    assert budgets, relax
    assert_all_feasible(data, spec, relax)


def test_cli_advice_applied_to_the_scenario_file(tmp_path: Path) -> None:
    """Through files and the CLI: exit 3, the printed budget written into the scenario, exit 0."""
    offices = pd.DataFrame({"office_id": ["a", "b", "c"], "lat": [30.0, 30.1, 30.2], "lon": [79.0, 79.1, 79.2],
                            "population": [300, 300, 400], "region": ["r", "r", "r"]})  # fmt: skip
    offices.to_csv(tmp_path / "offices.csv", index=False)
    options = pd.DataFrame({"office_id": ["a", "b", "c"], "technology": ["fibre", "fibre", "leo_satellite"],
                            "capex_usd": [2000.4, 2500.3, 5000.0], "opex_usd_per_year": [0.0, 0.0, 0.0]})  # fmt: skip
    options.to_csv(tmp_path / "options.csv", index=False)
    body = (
        "name: advice\ndata: {offices: offices.csv, options: options.csv}\nobjective: min_cost\n"
        "coverage_target: 0.6\nbudget_usd: 4000\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(body, encoding="utf-8")
    args = ["solve", str(path), "--out", str(tmp_path / "o"), "--no-store", "-q"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 3, out.output
    relax = printed_relaxations(" ".join(out.output.split()))
    budget = next(r["budget_usd"] for r in relax if "budget_usd" in r)
    assert budget == 4501.0  # a + b = 4,500.7 USD, rounded up
    path.write_text(body.replace("budget_usd: 4000", f"budget_usd: {budget:.0f}"), encoding="utf-8")
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
