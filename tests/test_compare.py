"""What differs between plans (planner/results/compare.py), on small hand-made plan tables whose differences are
read off by eye: offices connected, dropped, moved to another technology or year, or planned in one plan only;
breakdowns by region and technology side by side."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from planner.results.compare import CHANGES, breakdown_differences, change_counts, office_changes


def _plan(rows: list[tuple[str, str, int | None, float, str, float]]) -> pd.DataFrame:
    """A plan table: (office_id, technology, year, cost_usd, region, population) per office."""
    return pd.DataFrame(
        {
            "office_id": [r[0] for r in rows],
            "name": [f"{r[0]} BO" for r in rows],
            "technology": [r[1] for r in rows],
            "year": pd.array([r[2] for r in rows], dtype="Int64"),
            "cost_usd": [r[3] for r in rows],
            "region": [r[4] for r in rows],
            "population": [r[5] for r in rows],
        }
    )


A = _plan([
    ("o1", "fibre", 2026, 40_000.0, "North", 1000.0),          # same in B
    ("o2", "none", None, 0.0, "North", 500.0),                 # connected in B
    ("o3", "leo_satellite", 2026, 3_000.0, "South", 200.0),    # dropped in B
    ("o4", "fibre", 2026, 50_000.0, "South", 800.0),           # other technology in B
    ("o5", "microwave", 2026, 9_000.0, "South", 300.0),        # other year in B
    ("o6", "none", None, 0.0, "South", 50.0),                  # only in A
])  # fmt: skip
B = _plan([
    ("o1", "fibre", 2026, 40_000.0, "North", 1000.0),
    ("o2", "cellular_4g", 2027, 5_000.0, "North", 500.0),
    ("o3", "none", None, 0.0, "South", 200.0),
    ("o4", "leo_satellite", 2026, 3_500.0, "South", 800.0),
    ("o5", "microwave", 2028, 8_000.0, "South", 300.0),
    ("o7", "geo_satellite", 2026, 2_000.0, "East", 70.0),      # only in B
])  # fmt: skip


def test_office_changes_names_each_kind_of_change():
    diff = office_changes(A, B)
    assert diff[["office_id", "change"]].values.tolist() == [
        ["o2", "connected"], ["o3", "dropped"], ["o4", "other technology"], ["o5", "other year"],
        ["o6", "only in A"], ["o7", "only in B"],
    ]  # fmt: skip
    row = diff.set_index("office_id")
    assert row.loc["o4", "technology_a"] == "fibre" and row.loc["o4", "technology_b"] == "leo_satellite"
    assert row.loc["o4", "cost_change_usd"] == pytest.approx(-46_500.0)
    assert row.loc["o2", "cost_change_usd"] == pytest.approx(5_000.0)
    assert row.loc["o5", "year_a"] == 2026 and row.loc["o5", "year_b"] == 2028
    assert row.loc["o6", "technology_b"] == "not planned" and row.loc["o7", "technology_a"] == "not planned"
    # office facts come from whichever plan has the office
    assert row.loc["o7", "region"] == "East" and row.loc["o7", "population"] == 70.0
    assert row.loc["o7", "name"] == "o7 BO"


def test_office_changes_of_a_plan_with_itself_is_empty_and_direction_matters():
    assert office_changes(A, A).empty
    back = office_changes(B, A).set_index("office_id")["change"]
    assert back["o2"] == "dropped" and back["o3"] == "connected"
    assert back["o6"] == "only in B" and back["o7"] == "only in A"


def test_office_ids_compare_as_text():
    numbers = A.assign(office_id=range(1, 7))
    text = A.assign(office_id=[str(i) for i in range(1, 7)], technology="none")
    diff = office_changes(numbers, text)
    assert set(diff["change"]) == {"dropped"} and set(diff["office_id"]) == {"1", "3", "4", "5"}


def test_change_counts_lists_every_kind_with_population_and_cost():
    counts = change_counts(office_changes(A, B)).set_index("change")
    assert list(counts.index) == list(CHANGES)
    assert counts["offices"].tolist() == [1, 1, 1, 1, 1, 1]
    assert counts.loc["dropped", "population"] == 200.0
    assert counts.loc["other year", "cost_change_usd"] == pytest.approx(-1_000.0)
    none = change_counts(office_changes(A, A))
    assert none["offices"].sum() == 0 and list(none["change"]) == list(CHANGES)


def _by(plan: pd.DataFrame, key: str) -> pd.DataFrame:
    con = plan[plan["technology"] != "none"]
    return con.groupby(key).agg(offices=("office_id", "size"), cost_usd=("cost_usd", "sum")).reset_index()


def test_breakdown_differences_by_technology_and_region():
    tech = breakdown_differences({"A": _by(A, "technology"), "B": _by(B, "technology")}, "technology", "offices")
    assert list(tech.columns) == ["A", "B", "B \u2212 A"]
    assert tech.to_dict("index") == {
        "cellular_4g": {"A": 0.0, "B": 1.0, "B \u2212 A": 1.0},
        "fibre": {"A": 2.0, "B": 1.0, "B \u2212 A": -1.0},
        "geo_satellite": {"A": 0.0, "B": 1.0, "B \u2212 A": 1.0},
        "leo_satellite": {"A": 1.0, "B": 1.0, "B \u2212 A": 0.0},
        "microwave": {"A": 1.0, "B": 1.0, "B \u2212 A": 0.0},
    }
    three = {"A": _by(A, "region"), "B": _by(B, "region"), "C": _by(A, "region")}
    cost = breakdown_differences(three, "region", "cost_usd")
    assert cost.index.name == "region" and list(cost.index) == ["East", "North", "South"]
    assert cost.loc["South", "A"] == pytest.approx(62_000.0) and cost.loc["South", "B"] == pytest.approx(11_500.0)
    assert cost.loc["East", "B \u2212 A"] == pytest.approx(2_000.0)
    assert (cost["C \u2212 A"] == 0).all()


def test_breakdown_differences_leaves_a_figure_a_plan_lacks_missing():
    old = _by(A, "region").drop(columns="cost_usd")  # e.g. a stored run written before the figure existed
    cost = breakdown_differences({"A": _by(A, "region"), "old": old}, "region", "cost_usd")
    assert cost["old"].isna().all() and cost["old \u2212 A"].isna().all()
    assert not math.isnan(cost.loc["North", "A"])
