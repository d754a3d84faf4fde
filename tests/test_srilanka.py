"""The bundled Sri Lanka data and scenarios, and the honesty of the bundled infrastructure (towers, calibration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.data import read_towers
from planner.scenario import load_scenario
from planner.ui.cli import app

ROOT = Path(__file__).resolve().parent.parent
LKA = ROOT / "data" / "srilanka"
IND = ROOT / "data" / "uttarakhand"
SCENARIOS = ROOT / "scenarios"
EARTH_KM = 6371.0088

# Calibration targets stated in data/README.md (and the build scripts) and the tolerance checked here.
IND_4G_VILLAGE_SHARE = 16_807 / 17_334  # DoT villages with 4G, Uttarakhand, Nov 2025
LKA_4G_POP_SHARE = 0.95  # Dialog's 4G population coverage goal (operator target)
TOLERANCE = 0.015


def unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def km_between(a_lat: np.ndarray, a_lon: np.ndarray, b_lat: np.ndarray, b_lon: np.ndarray) -> np.ndarray:
    """Great-circle km from every a to every b (len(a) x len(b)), in blocks small enough for memory."""
    b = unit(b_lat, b_lon)
    out = []
    for start in range(0, len(a_lat), 500):
        a = unit(a_lat[start : start + 500], a_lon[start : start + 500])
        out.append(2 * EARTH_KM * np.arcsin(np.clip(np.linalg.norm(a[:, None] - b[None], axis=2) / 2, 0, 1)))
    return np.vstack(out)


def in_4g_range(offices: pd.DataFrame, towers: pd.DataFrame) -> np.ndarray:
    g4 = towers[towers["generation"] >= 4]
    d = km_between(offices["lat"].to_numpy(), offices["lon"].to_numpy(), g4["lat"].to_numpy(), g4["lon"].to_numpy())
    return (d <= g4["range_km"].to_numpy()[None, :]).any(axis=1)


@pytest.fixture(scope="module")
def lka_offices() -> pd.DataFrame:
    return pd.read_csv(LKA / "offices.csv", dtype={"office_id": str, "community": str, "pincode": str})


def test_srilanka_offices_load_with_the_uttarakhand_columns(lka_offices):
    ind_cols = pd.read_csv(IND / "offices.csv", nrows=1).columns.tolist()
    assert lka_offices.columns.tolist() == ind_cols
    assert len(lka_offices) > 1000
    assert lka_offices["office_id"].is_unique
    assert set(lka_offices["country"]) == {"LKA"}
    assert lka_offices["region"].nunique() >= 20  # districts
    assert set(lka_offices["status"]) == {"connected", "unconnected", "underserved"}
    assert (lka_offices["population"] > 0).all()


def test_srilanka_offices_inside_the_bounding_box_and_at_distinct_points(lka_offices):
    assert lka_offices["lat"].between(5.9, 9.9).all()
    assert lka_offices["lon"].between(79.5, 81.9).all()
    # the build leaves out every office at a shared (fallback) point: none remain
    assert not lka_offices.duplicated(["lat", "lon"]).any()


def test_srilanka_towers_read_and_carry_backhaul():
    towers = read_towers(LKA / "towers.csv")
    raw = pd.read_csv(LKA / "towers.csv")
    assert len(towers) == len(raw) > 0
    assert set(raw["backhaul"]) <= {True, False}
    assert (raw.loc[raw["generation"] >= 4, "backhaul"]).all()


@pytest.mark.parametrize("name", ["srilanka-budget", "srilanka-95pct", "himalaya-pool-lka"])
def test_srilanka_scenarios_load_and_validate(name):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    assert scenario.name == name
    result = CliRunner().invoke(app, ["validate", str(SCENARIOS / f"{name}.yaml")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("folder", [IND, LKA])
def test_no_bundled_tower_stands_at_a_post_office(folder):
    offices = pd.read_csv(folder / "offices.csv")
    towers = pd.read_csv(folder / "towers.csv")
    d = km_between(
        towers["lat"].to_numpy(), towers["lon"].to_numpy(), offices["lat"].to_numpy(), offices["lon"].to_numpy()
    )
    assert d.min() > 0.1, f"a tower {d.min() * 1000:.0f} m from an office"


def test_uttarakhand_4g_coverage_matches_the_published_village_share():
    offices = pd.read_csv(IND / "offices.csv")
    bos = offices[offices["office_type"] == "BO"]
    share = in_4g_range(bos, pd.read_csv(IND / "towers.csv")).mean()
    assert abs(share - IND_4G_VILLAGE_SHARE) <= TOLERANCE, share


def test_srilanka_4g_coverage_matches_the_target_population_share(lka_offices):
    plan = lka_offices[lka_offices["status"] != "connected"]
    covered = in_4g_range(plan, pd.read_csv(LKA / "towers.csv"))
    share = plan["population"][covered].sum() / plan["population"].sum()
    assert abs(share - LKA_4G_POP_SHARE) <= TOLERANCE, share


def test_pool_files_hold_both_countries_infrastructure():
    for name in ("fibre_nodes.csv", "towers.csv"):
        pool = pd.read_csv(ROOT / "data" / "pool-lka" / name)
        parts = [pd.read_csv(IND / name), pd.read_csv(LKA / name)]
        assert len(pool) == sum(len(p) for p in parts)
        assert pool.iloc[:, 0].is_unique
