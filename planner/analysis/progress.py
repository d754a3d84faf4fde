"""Progress against a stored plan, and a re-plan of what is left from the actual state.

``compare_progress`` sets a plan (``planner.results.Plan``, e.g. reopened from the run store) beside what was
actually connected (``planner.survey.read_actual``: office, technology, year, cost) and gives, per office, year,
region and technology: offices and people planned vs connected, spend vs plan, unit cost vs planned.

``replan_scenario`` builds the scenario for the rest: the offices actually connected are fixed (they become
``connected`` in a copy of the offices file, so the re-plan cannot build them again), the money left is the
budget less the actual spend (an office connected without a recorded cost counts at its planned capex, and the
summary says how many), and a roadmap keeps only the years after the last actual year. A coverage target
counts what is already connected: the new target over the offices left is
(target · W_planned − W_connected) / W_left with W the coverage weights of the scenario's metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.costing import office_weights
from planner.data import read_offices
from planner.errors import InputError, Issue
from planner.results import Plan
from planner.scenario import Scenario


@dataclass
class Progress:
    """Planned vs actual: per office (``offices``) and by year, region and technology, plus the totals."""

    offices: pd.DataFrame
    by_year: pd.DataFrame
    by_region: pd.DataFrame
    by_technology: pd.DataFrame
    summary: dict[str, Any]


def compare_progress(plan: Plan, actual: pd.DataFrame, actual_file: str) -> Progress:
    """Set the plan beside what was connected; every actual office must be an office the plan planned.

    Per office ``state``: ``connected as planned`` (the planned technology, or none recorded), ``connected with
    another technology``, ``not yet connected`` (planned, not in the actual file), ``connected outside the
    plan`` (left unconnected by the plan, connected anyway), ``not planned``.
    """
    p = plan.plan.copy()
    p["office_id"] = p["office_id"].astype(str)
    known = set(p["office_id"])
    issues = [
        Issue(actual_file, int(r), "office_id", f"office {o} is not an office of the plan (planned offices only)")
        for o, r in zip(actual["office_id"], actual["row"], strict=True)
        if o not in known
    ]
    if issues:
        raise InputError(issues[:20])
    a = actual.set_index("office_id")
    planned = p["technology"].astype(str) != "none"
    done = p["office_id"].isin(a.index)
    act_tech = p["office_id"].map(a["technology"]).fillna("").astype(str)
    p["actual_technology"] = np.where(done & (act_tech == ""), np.where(planned, p["technology"], ""), act_tech)
    p["actual_year"] = p["office_id"].map(a["year"])
    p["actual_cost_usd"] = p["office_id"].map(a["cost_usd"]).astype(float)
    same = p["actual_technology"] == p["technology"]
    p["state"] = np.select(
        [planned & done & same, planned & done, planned & ~done, ~planned & done],
        ["connected as planned", "connected with another technology", "not yet connected",
         "connected outside the plan"],
        default="not planned",
    )  # fmt: skip
    p["planned_capex_usd"] = np.where(planned, p["capex_usd"].astype(float), 0.0)
    p["planned_cost_usd"] = np.where(planned, p["cost_usd"].astype(float), 0.0)
    # money spent: the recorded cost, or the planned capex where the log gives none (counted in the summary)
    p["spend_usd"] = np.where(done, p["actual_cost_usd"].fillna(p["planned_capex_usd"]), 0.0)
    p["connected"] = done
    p["is_planned"] = planned
    people = p["population"].astype(float)
    p["people_planned"] = np.where(planned, people, 0.0)
    p["people_connected"] = np.where(done, people, 0.0)
    year_planned = p["year"] if "year" in p else pd.Series(np.nan, index=p.index)
    p["year_key"] = np.where(done, p["actual_year"], np.where(planned, year_planned, np.nan))

    def table(key: str) -> pd.DataFrame:
        g = p.groupby(key, dropna=False, sort=True)
        out = pd.DataFrame(
            {
                "offices_planned": g["is_planned"].sum(),
                "offices_connected": g["connected"].sum(),
                "people_planned": g["people_planned"].sum(),
                "people_connected": g["people_connected"].sum(),
                "planned_capex_usd": g["planned_capex_usd"].sum(),
                "planned_cost_usd": g["planned_cost_usd"].sum(),
                "spend_usd": g["spend_usd"].sum(),
            }
        ).reset_index()
        out["unit_cost_planned_usd"] = out["planned_capex_usd"] / out["offices_planned"].where(
            out["offices_planned"] > 0
        )
        out["unit_cost_actual_usd"] = out["spend_usd"] / out["offices_connected"].where(out["offices_connected"] > 0)
        return out

    by_region = table("region")
    p["tech_key"] = np.where(done, p["actual_technology"], p["technology"])
    by_tech = table("tech_key").rename(columns={"tech_key": "technology"})
    by_tech = by_tech[by_tech["technology"] != "none"].reset_index(drop=True)
    by_year = table("year_key").rename(columns={"year_key": "year"})
    by_year["year"] = by_year["year"].map(lambda y: "unknown" if pd.isna(y) else str(int(y)))
    sc = plan.scenario
    budgets = _annual_budgets(sc)
    by_year["budget_usd"] = by_year["year"].map(lambda y: budgets.get(int(y), np.nan) if y.isdigit() else np.nan)
    spent = float(p["spend_usd"].sum())
    budget = _total_budget(sc)
    summary = {
        "offices_planned": int(planned.sum()),
        "offices_connected": int(done.sum()),
        "offices_connected_as_planned": int((p["state"] == "connected as planned").sum()),
        "offices_connected_with_another_technology": int((p["state"] == "connected with another technology").sum()),
        "offices_connected_outside_the_plan": int((p["state"] == "connected outside the plan").sum()),
        "offices_not_yet_connected": int((p["state"] == "not yet connected").sum()),
        "people_planned": float(p["people_planned"].sum()),
        "people_connected": float(p["people_connected"].sum()),
        "planned_capex_usd": float(p["planned_capex_usd"].sum()),
        "spend_usd": spent,
        "spend_estimated_offices": int((done & p["actual_cost_usd"].isna()).sum()),
        "budget_usd": budget,
        "budget_left_usd": None if budget is None else budget - spent,
    }
    cols = ["office_id", "region", "population", "technology", "year", "capex_usd", "cost_usd", "actual_technology",
            "actual_year", "actual_cost_usd", "spend_usd", "state"]  # fmt: skip
    offices = p[[c for c in cols if c in p]].copy()
    return Progress(offices, by_year, by_region, by_tech, summary)


def _annual_budgets(sc: Scenario) -> dict[int, float]:
    """The roadmap's budget per year of the horizon (USD); none without a roadmap."""
    years = range(sc.horizon.start_year, sc.horizon.end_year + 1)
    return {} if sc.roadmap is None else sc.roadmap.budget_by_year(years)


def _total_budget(sc: Scenario) -> float | None:
    if sc.roadmap is not None:
        return float(sum(_annual_budgets(sc).values()))
    return None if sc.budget_usd is None else float(sc.budget_usd)


def replan_scenario(scenario: Scenario, progress: Progress, out_dir: Path) -> tuple[Scenario, dict[str, Any]]:
    """The scenario for what is left (see the module docstring) and what changed; writes the fixed offices file."""
    if scenario.countries is not None or scenario.data.offices is None:
        raise InputError(Issue("run", None, "countries", "re-planning a multi-country run is not supported: re-plan "
                               "each country's stored run"))  # fmt: skip
    offices = read_offices(Path(scenario.data.offices))
    done = set(progress.offices.loc[progress.offices["state"].str.startswith("connected"), "office_id"])
    fixed = offices["office_id"].astype(str).isin(done)
    was_planned = offices["status"] != "connected"
    weights = office_weights(offices, scenario.coverage_metric)
    offices.loc[fixed, "status"] = "connected"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "offices_actual.csv"
    offices.to_csv(path, index=False, lineterminator="\n")
    update: dict[str, Any] = {
        "name": f"{scenario.name}-replan",
        "data": scenario.data.model_copy(update={"offices": path}),
    }
    spent = progress.summary["spend_usd"]
    changes: dict[str, Any] = {"offices_fixed": int(fixed.sum()), "spend_usd": spent}
    if scenario.roadmap is not None:
        years = [int(y) for y in progress.offices["actual_year"].dropna()]
        start = max(years) + 1 if years else scenario.horizon.start_year
        if start > scenario.horizon.end_year:
            raise InputError(Issue("actual", None, "date", f"the actual work reaches {start - 1}: no year of the "
                                   f"horizon ({scenario.horizon.end_year}) is left to re-plan"))  # fmt: skip
        budgets = _annual_budgets(scenario)
        roadmap = scenario.roadmap.model_copy(
            update={"annual_budget_usd": {y: budgets[y] for y in range(start, scenario.horizon.end_year + 1)}}
        )
        update["horizon"] = scenario.horizon.model_copy(update={"start_year": start})
        update["roadmap"] = roadmap
        changes["start_year"] = start
    elif scenario.budget_usd is not None:
        left = max(float(scenario.budget_usd) - spent, 0.0)
        update["budget_usd"] = left
        changes["budget_usd"] = left
    if scenario.objective == "min_cost" and scenario.coverage_target is not None:
        w_all = float(weights[was_planned].sum())
        w_done = float(weights[was_planned & fixed].sum())
        w_left = w_all - w_done
        need = scenario.coverage_target * w_all - w_done
        if need <= 0 or w_left <= 0:
            raise InputError(Issue("actual", None, "coverage_target", "the coverage target is already met by the "
                                   "offices connected: nothing is left to plan"))  # fmt: skip
        update["coverage_target"] = min(1.0, need / w_left)
        changes["coverage_target"] = update["coverage_target"]
    return scenario.model_copy(update=update), changes
