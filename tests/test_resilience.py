"""Two independent links for offices that handle money: against brute force over the stand-alone options."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
import yaml

from planner.errors import InputError
from planner.pipeline import prepare, solve_prepared
from planner.scenario import load_catalogue, load_scenario

KINDS = {k: t.kind for k, t in load_catalogue().technologies.items()}


def write(tmp: Path, budget: float, backup: bool) -> Path:
    """Four offices around a fibre node F and a backhauled 4G tower T; o0 and o1 offer financial services."""
    pd.DataFrame(
        {"office_id": ["o0", "o1", "o2", "o3"], "lat": [0.0, 0.02, 0.05, 0.1], "lon": [0.0, 0.01, 0.03, 0.0],
         "population": [5000, 3000, 2500, 1500],
         "services": ["mail;financial", "mail;financial", "mail", "mail"], "grid_power": [True] * 4}
    ).to_csv(tmp / "offices.csv", index=False)  # fmt: skip
    pd.DataFrame({"node_id": ["F"], "lat": [0.01], "lon": [0.0]}).to_csv(tmp / "nodes.csv", index=False)
    pd.DataFrame({"tower_id": ["T"], "lat": [0.06], "lon": [0.0], "generation": [4], "range_km": [10],
                  "backhaul": ["yes"]}).to_csv(tmp / "towers.csv", index=False)  # fmt: skip
    raw = {"name": "r", "data": {"offices": "offices.csv", "fibre_nodes": "nodes.csv", "towers": "towers.csv"},
           "budget_usd": budget, "budget_basis": "tco", "solver": {"mip_gap": 0.0, "method": "milp"},
           "policy": {"backup_link_for_services": ["financial"] if backup else []}}  # fmt: skip
    (tmp / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return tmp / "s.yaml"


def brute_force(single: pd.DataFrame, budget: float, needy: set[str], population: dict[str, float]) -> float:
    """The most people covered: every office none, one option, or (needy) a primary + backup of another kind
    and another anchor; total cost within the budget."""
    choices = []
    for office, rows in single.groupby("office_id"):
        opts = [(0.0, 0.0)]
        recs = rows.to_dict("records")
        if office in needy:
            for p, q in itertools.permutations(recs, 2):
                same_anchor = p["anchor_id"] != "" and p["anchor_id"] == q["anchor_id"]
                if KINDS[p["technology"]] != KINDS[q["technology"]] and not same_anchor:
                    opts.append((p["cost_usd"] + q["cost_usd"], population[office]))
        else:
            opts += [(r["cost_usd"], population[office]) for r in recs]
        choices.append(opts)
    best = 0.0
    for combo in itertools.product(*choices):
        if sum(c for c, _ in combo) <= budget + 1e-6:
            best = max(best, sum(w for _, w in combo))
    return best


@pytest.mark.parametrize("budget", [4_000.0, 9_000.0, 16_000.0])
def test_backup_links_reach_the_brute_force_optimum(tmp_path: Path, budget: float) -> None:
    single = prepare(load_scenario(write(tmp_path, budget, backup=False))).options
    single = single[single["eligible"]].assign(anchor_id=lambda t: t["anchor_id"].fillna("").astype(str))
    pop = {"o0": 5000.0, "o1": 3000.0, "o2": 2500.0, "o3": 1500.0}
    expected = brute_force(single, budget, {"o0", "o1"}, pop)
    prepared = prepare(load_scenario(write(tmp_path, budget, backup=True)))
    plan = solve_prepared(prepared)
    assert plan.summary["population_covered"] == pytest.approx(expected)
    # every constraint holds: the budget, and two independent links for each connected office handling money
    assert plan.summary["total_cost_usd"] <= budget + 1e-6
    rows = plan.plan.set_index("office_id")
    standalone = single.set_index(["office_id", "technology"])
    for office in ("o0", "o1"):
        tech, backup = rows.loc[office, "technology"], rows.loc[office, "backup_technology"]
        if tech == "none":
            continue
        assert backup and KINDS[backup] != KINDS[tech]
        a, b = standalone.loc[(office, tech), "anchor_id"], standalone.loc[(office, backup), "anchor_id"]
        assert a == "" or a != b
        both = standalone.loc[(office, tech), "cost_usd"] + standalone.loc[(office, backup), "cost_usd"]
        assert rows.loc[office, "cost_usd"] == pytest.approx(both)
    for office in ("o2", "o3"):
        assert rows.loc[office, "backup_technology"] == ""


def test_an_office_with_no_independent_backup_cannot_be_connected(tmp_path: Path) -> None:
    """Allowed technologies fibre and LEO only: o0 can pair them (another kind, LEO has no anchor); allowing only
    the two satellites leaves no pair of different kinds."""
    path = write(tmp_path, 1e6, backup=True)
    raw = yaml.safe_load(path.read_text())
    raw["policy"]["allowed_technologies"] = ["geo_satellite", "leo_satellite"]
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    opts = prepare(load_scenario(path)).options.set_index(["office_id", "technology"])
    assert not opts.loc[("o0", "leo_satellite"), "eligible"]
    assert opts.loc[("o0", "leo_satellite"), "reason"].startswith("no independent backup link")
    assert opts.loc[("o2", "leo_satellite"), "eligible"]  # mail only: no backup needed


def test_backup_links_refuse_a_roadmap_and_unknown_services(tmp_path: Path) -> None:
    path = write(tmp_path, 1e6, backup=True)
    raw = yaml.safe_load(path.read_text())
    bad = {**raw, "policy": {"backup_link_for_services": ["banking"]}}
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(InputError, match="unknown service"):
        load_scenario(path)
    phased = {**raw, "budget_usd": None, "roadmap": {"annual_budget_usd": 1000}}
    path.write_text(yaml.safe_dump({k: v for k, v in phased.items() if v is not None}), encoding="utf-8")
    with pytest.raises(InputError, match="backup_link_for_services plans a primary and a backup"):
        load_scenario(path)
