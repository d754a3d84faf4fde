"""Which scenario fields re-cost (planner.scenario.SOLVE_ONLY_FIELDS, pipeline.costing_key): a change of a
solve-only field keeps the costed options, any other change, or a changed data file, re-costs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from planner.pipeline import costing_key, prepare
from planner.scenario import SOLVE_ONLY_FIELDS, SOLVE_ONLY_POLICY_FIELDS, Policy, Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]


def budget_scenario() -> Scenario:
    return load_scenario(ROOT / "scenarios" / "uttarakhand-budget.yaml")


def test_solve_only_fields_are_scenario_fields() -> None:
    assert set(SOLVE_ONLY_FIELDS) <= set(Scenario.model_fields)
    assert set(SOLVE_ONLY_POLICY_FIELDS) <= set(Policy.model_fields)


def test_a_solve_only_change_keeps_the_costed_options() -> None:
    base = budget_scenario()
    changed = base.model_copy(
        update={
            "name": "other",
            "budget_usd": 3_000_000.0,
            "solver": base.solver.model_copy(update={"time_limit_s": 5.0}),
            "policy": base.policy.model_copy(update={"region_min_coverage": {"*": 0.1}}),
        }
    )
    assert costing_key(changed) == costing_key(base)
    a, b = prepare(base).options, prepare(changed).options
    pd.testing.assert_frame_equal(a, b)


def test_a_costing_change_or_a_changed_data_file_re_costs(tmp_path: Path) -> None:
    base = budget_scenario()
    assert costing_key(base.model_copy(update={"discount_rate": 0.1})) != costing_key(base)
    other_basis = "capex" if base.budget_basis == "tco" else "tco"
    assert costing_key(base.model_copy(update={"budget_basis": other_basis})) != costing_key(base)
    towers = tmp_path / "towers.csv"
    shutil.copy(base.data.towers, towers)
    moved = base.model_copy(update={"data": base.data.model_copy(update={"towers": towers})})
    key = costing_key(moved)
    assert key != costing_key(base)  # another path
    with towers.open("a", encoding="utf-8") as f:
        f.write("\n")
    assert costing_key(moved) != key  # same path, other content
