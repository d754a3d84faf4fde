"""Costing (planner/costing.py) against values worked out by hand from the frozen test catalogue
(tests/data/catalogue_frozen.yaml, the bundled figures before their 2026-12-01 review): fibre 1,500 USD +
8,000 USD/route km, 600 USD/yr + 130 USD/km/yr, route factor 1.2, at most 50 route km; 4G 300 USD,
360 USD/yr, 30 Mbps, inside a 4G tower's range (capped at 23 km);
microwave 3,000 + 2,500 mast + 2,000 licence, 300 USD/yr + 600 USD/yr licence, within 30 km of a fibre node,
3G+ tower or connected office; GEO 2,800 USD, 2,760 USD/yr, 10 Mbps; LEO 600 USD, 600 USD/yr, 100 Mbps;
solar 1,500 USD + 150 USD/yr where there is no grid power (every terminal draws 50 W there), no
electricity cost on grid.

Geometry: every point lies on the equator, where 0.1° of longitude is 6371.0088 × 0.1 × π/180 = 11.1195 km.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from planner.costing import annuity_factor, build_options, replacement_factor, required_mbps
from planner.data import Inputs
from planner.scenario import catalogue_for, load_catalogue, scenario_from_dict

pytestmark = pytest.mark.usefixtures("frozen_catalogue")

KM_PER_DEG = 6371.0088 * math.pi / 180  # 111.195 km per degree on the equator
FIBRE_KM_A = 0.1 * KM_PER_DEG * 1.2  # office A: 0.1° from the fibre node, × route factor 1.2 = 13.3434 km
TECHS = ["cellular_4g", "fibre", "geo_satellite", "leo_satellite", "microwave"]


# --------------------------------------------------------------------------------------------- formulas
def test_annuity_factor() -> None:
    # Σ_{k=1..5} 1.08^-k = 0.925926 + 0.857339 + 0.793832 + 0.735030 + 0.680583 = 3.992710
    assert annuity_factor(0.08, 5) == pytest.approx(3.992710, abs=1e-6)
    assert annuity_factor(0.0, 7) == pytest.approx(7.0)
    assert annuity_factor(0.1, 1) == pytest.approx(1 / 1.1)
    assert annuity_factor(0.08, 0) == 0.0


def test_replacement_factor() -> None:
    # lifetime 5 in 15 years: bought again in years 5 and 10 (not 15): 1.08^-5 + 1.08^-10 = 0.680583 + 0.463193
    assert replacement_factor(0.08, 15, 5) == pytest.approx(1.143776, abs=1e-6)
    # lifetime 5 in 5 years: never bought again; lifetime 20 in 15 years: never
    assert replacement_factor(0.08, 5, 5) == 0.0
    assert replacement_factor(0.08, 15, 20) == 0.0
    # lifetime 7 in 15 years: years 7 and 14; at rate 0 it just counts purchases
    assert replacement_factor(0.08, 15, 7) == pytest.approx(1.08**-7 + 1.08**-14)
    assert replacement_factor(0.0, 15, 7) == pytest.approx(2.0)
    assert replacement_factor(0.0, 16, 5) == pytest.approx(3.0)  # years 5, 10, 15


def scenario(tmp_path: Path, **raw: Any):
    (tmp_path / "offices.csv").write_text("office_id,lat,lon,population\n", encoding="utf-8")
    base = {"name": "costing test", "data": {"offices": "offices.csv"}, "budget_usd": 1_000_000}
    return scenario_from_dict({**base, **raw}, base_dir=tmp_path)


def test_required_mbps(tmp_path: Path) -> None:
    offices = pd.DataFrame(
        {
            "services": ["mail", "mail;e_government", "mail;e_commerce;financial;e_government", "mail"],
            "population": [1000.0, 4000.0, 10_000.0, 8000.0],
        }
    )
    need = required_mbps(offices, scenario(tmp_path))
    # mail 2 + 0.5 = 2.5 -> floor 5; 2 + 10 + 4 × 0.5 = 14; 2 + 5 + 3 + 10 + 10 × 0.5 = 25; 2 + 4 = 6
    assert list(need) == [5.0, 14.0, 25.0, 6.0]
    custom = scenario(tmp_path, demand={"service_mbps": {"mail": 1.0}, "mbps_per_1000_people": 2.0, "floor_mbps": 0.0})
    # services absent from service_mbps count 0: 1 + 2; 1 + 8; 1 + 20 ... (e_commerce etc. now 0)
    assert list(required_mbps(offices, custom)) == [3.0, 9.0, 21.0, 17.0]


# --------------------------------------------------------------------------------------------- a tiny map
def office(oid: str, lon: float, **extra: Any) -> dict[str, Any]:
    row = {"office_id": oid, "lat": 0.0, "lon": lon, "population": 1000.0, "name": oid, "country": "XX",
           "region": "r", "community": oid, "status": "unconnected", "current_mbps": 0.0, "grid_power": True,
           "services": "mail", "priority": 1.0}  # fmt: skip
    row.update(extra)
    return row


def tiny_inputs(quotes: pd.DataFrame | None = None) -> Inputs:
    """Fibre node N1 at lon 0; 4G tower T4 (5 km) at lon 1; 3G tower T3 (10 km) at lon 2; 2G tower T2 (10 km)
    at lon 3; connected office C at lon 4. Planned offices:

    A lon 0.1: 11.12 km from N1 -> fibre (13.34 route km) and microwave; no tower near.
    B lon 0.5: 55.6 km from N1 -> fibre 66.7 route km > 50 and microwave > 30: satellite only.
    D lon 1.03: 3.34 km from T4 (inside its 5 km) -> 4G; microwave via T4.
    E lon 2.02: 2.22 km from the 3G tower only -> no 4G; microwave via T3.
    F lon 3.02: 2.22 km from the 2G tower only, no grid power -> satellite only (+ solar).
    G lon 3.9: 11.12 km from connected office C -> microwave via C.
    """
    offices = pd.DataFrame(
        [
            office("A", 0.1),
            office("B", 0.5),
            office("D", 1.03),
            office("E", 2.02),
            office("F", 3.02, grid_power=False),
            office("G", 3.9),
            office("C", 4.0, status="connected"),
        ]
    )
    nodes = pd.DataFrame({"node_id": ["N1"], "lat": [0.0], "lon": [0.0], "name": ["node"]})
    towers = pd.DataFrame(
        {"tower_id": ["T4", "T3", "T2"], "lat": [0.0, 0.0, 0.0], "lon": [1.0, 2.0, 3.0], "generation": [4, 3, 2],
         "range_km": [5.0, 10.0, 10.0]}
    )  # fmt: skip
    return Inputs(offices, nodes, towers, quotes)


def options(tmp_path: Path, quotes: pd.DataFrame | None = None, **raw: Any) -> pd.DataFrame:
    scen = scenario(tmp_path, **raw)
    table = build_options(tiny_inputs(quotes), catalogue_for(scen), scen)
    return table.set_index(["office_id", "technology"])


def eligible(table: pd.DataFrame) -> set[tuple[str, str]]:
    return set(table.index[table["eligible"]])


def test_every_planned_office_and_technology_has_one_row(tmp_path: Path) -> None:
    table = options(tmp_path)
    expected = {(o, t) for o in "ABDEFG" for t in TECHS}  # C is connected: not planned
    assert set(table.index) == expected
    assert len(table) == len(expected)
    assert (table["eligible"] == (table["reason"] == "")).all()


def test_fibre_capex_and_opex_from_the_great_circle_distance(tmp_path: Path) -> None:
    row = options(tmp_path).loc[("A", "fibre")]
    km = 0.1 * KM_PER_DEG * 1.2  # 11.1195 km × route factor 1.2 = 13.3434 route km
    assert math.isclose(0.1 * KM_PER_DEG, 11.1195, abs_tol=1e-4)
    assert row["eligible"]
    assert row["anchor_id"] == "N1"
    assert row["distance_km"] == pytest.approx(km, abs=1e-3)
    assert row["capex_equipment_usd"] == pytest.approx(1500)
    assert row["capex_civil_usd"] == pytest.approx(8000 * km, rel=1e-9)  # 106,747
    assert row["capex_usd"] == pytest.approx(1500 + 8000 * km, rel=1e-9)
    assert row["capex_power_usd"] == 0.0  # grid power
    assert row["opex_service_usd_per_year"] == pytest.approx(600)
    assert row["opex_network_usd_per_year"] == pytest.approx(130 * km, rel=1e-9)
    assert row["opex_usd_per_year"] == pytest.approx(600 + 130 * km, rel=1e-9)  # opex_paid_by both
    assert row["cost_usd"] == pytest.approx(row["capex_usd"])  # budget basis capex


def test_fibre_ineligible_beyond_its_maximum_distance(tmp_path: Path) -> None:
    row = options(tmp_path).loc[("B", "fibre")]
    assert not row["eligible"]
    # 0.5° = 55.6 km, × 1.2 = 66.7 route km > 50
    assert "50 km" in row["reason"]
    assert "66.7 km" in row["reason"]
    # raising the limit makes it eligible at the same route length
    wider = options(tmp_path, technologies={"fibre": {"reach": {"max_distance_km": 70}}}).loc[("B", "fibre")]
    assert wider["eligible"]
    assert wider["capex_usd"] == pytest.approx(1500 + 8000 * 0.5 * KM_PER_DEG * 1.2, rel=1e-9)


def test_cellular_only_inside_a_4g_towers_range(tmp_path: Path) -> None:
    table = options(tmp_path)
    assert table.loc[("D", "cellular_4g"), "eligible"]
    assert table.loc[("D", "cellular_4g"), "anchor_id"] == "T4"
    assert table.loc[("D", "cellular_4g"), "distance_km"] == pytest.approx(0.03 * KM_PER_DEG, abs=1e-3)
    assert table.loc[("D", "cellular_4g"), "capex_usd"] == pytest.approx(300)
    assert table.loc[("D", "cellular_4g"), "opex_usd_per_year"] == pytest.approx(360)
    # E is 2.2 km from a 3G tower with a 10 km radius: it does not count for 4G
    assert not table.loc[("E", "cellular_4g"), "eligible"]
    assert "4G" in table.loc[("E", "cellular_4g"), "reason"]
    for oid in "ABFG":
        assert not table.loc[(oid, "cellular_4g"), "eligible"]


def test_cellular_range_is_the_towers_own_radius(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An office 4.4 km from a 4G tower of radius 4 km is outside; with radius 5 km it is inside."""
    inputs = tiny_inputs()
    inputs.offices.loc[inputs.offices["office_id"] == "D", "lon"] = 1.04  # 4.448 km from T4
    scen = scenario(tmp_path)
    table = build_options(inputs, load_catalogue(), scen).set_index(["office_id", "technology"])
    assert table.loc[("D", "cellular_4g"), "eligible"]
    inputs.towers.loc[inputs.towers["tower_id"] == "T4", "range_km"] = 4.0
    table = build_options(inputs, load_catalogue(), scen).set_index(["office_id", "technology"])
    assert not table.loc[("D", "cellular_4g"), "eligible"]


def test_microwave_within_30_km_of_node_tower_or_connected_office(tmp_path: Path) -> None:
    table = options(tmp_path)
    expected_anchor = {"A": "N1", "D": "T4", "E": "T3", "G": "C"}
    for oid, anchor in expected_anchor.items():
        row = table.loc[(oid, "microwave")]
        assert row["eligible"], oid
        assert row["anchor_id"] == anchor
    assert table.loc[("A", "microwave"), "distance_km"] == pytest.approx(0.1 * KM_PER_DEG, abs=1e-3)
    assert table.loc[("G", "microwave"), "distance_km"] == pytest.approx(0.1 * KM_PER_DEG, abs=1e-3)
    # B: 55.6 km from everything; F: only a 2G tower nearby (2G does not count), C is 0.98° = 109 km away
    for oid in "BF":
        row = table.loc[(oid, "microwave")]
        assert not row["eligible"]
        assert "30 km" in row["reason"]


def test_microwave_licence_fees_in_capex_and_opex(tmp_path: Path) -> None:
    row = options(tmp_path).loc[("A", "microwave")]
    assert row["capex_equipment_usd"] == pytest.approx(3000)
    assert row["capex_civil_usd"] == pytest.approx(2500)  # mast; no per-km civil works for radio
    assert row["capex_licence_usd"] == pytest.approx(2000)
    assert row["capex_usd"] == pytest.approx(3000 + 2500 + 2000)
    assert row["opex_service_usd_per_year"] == pytest.approx(300)
    assert row["opex_network_usd_per_year"] == pytest.approx(600)  # annual licence
    assert row["opex_usd_per_year"] == pytest.approx(900)


def test_satellite_everywhere(tmp_path: Path) -> None:
    table = options(tmp_path)
    for oid in "ABDEFG":
        for tech in ("geo_satellite", "leo_satellite"):
            assert table.loc[(oid, tech), "eligible"], (oid, tech)
    assert eligible(table) == {
        ("A", "fibre"), ("A", "microwave"), ("D", "cellular_4g"), ("D", "microwave"), ("E", "microwave"),
        ("G", "microwave"),
    } | {(o, t) for o in "ABDEFG" for t in ("geo_satellite", "leo_satellite")}  # fmt: skip


def test_solar_only_without_grid_power(tmp_path: Path) -> None:
    table = options(tmp_path)
    for tech in TECHS:
        f = table.loc[("F", tech)]
        assert f["capex_power_usd"] == pytest.approx(1500)
        assert f["opex_power_usd_per_year"] == pytest.approx(150)
        b = table.loc[("B", tech)]
        assert b["capex_power_usd"] == 0.0
        assert b["opex_power_usd_per_year"] == 0.0
    leo = table.loc[("F", "leo_satellite")]
    assert leo["capex_usd"] == pytest.approx(600 + 1500)
    assert leo["opex_usd_per_year"] == pytest.approx(600 + 150)


def test_tco_worked_out(tmp_path: Path) -> None:
    """Horizon 2026-2040 (H = 15), rate 0.08: annuity 8.559479; LEO (lifetime 5) re-bought in years 5 and 10:
    1.08^-5 + 1.08^-10 = 1.143776; GEO (lifetime 7) in years 7 and 14: 0.583490 + 0.340461 = 0.923951.

    F (no grid) LEO: capex 600 + 1500 = 2100; opex 600 + 150 = 750; TCO = 2100 + 750 × 8.559479 + 600 × 1.143776
    = 2100 + 6419.609 + 686.266 = 9205.875 (solar is not re-bought: only the equipment is).
    B GEO: 2800 + 2760 × 8.559479 + 2800 × 0.923951 = 2800 + 23624.162 + 2587.063 = 29011.225.
    A fibre (lifetime 20): capex + opex × annuity only.
    """
    table = options(tmp_path, horizon={"start_year": 2026, "end_year": 2040})
    annuity = sum(1.08**-k for k in range(1, 16))
    assert annuity == pytest.approx(8.559479, abs=1e-6)
    assert table.loc[("F", "leo_satellite"), "tco_usd"] == pytest.approx(9205.875, abs=1e-2)
    assert table.loc[("B", "geo_satellite"), "tco_usd"] == pytest.approx(29011.225, abs=1e-2)
    a = table.loc[("A", "fibre")]
    assert a["tco_usd"] == pytest.approx(a["capex_usd"] + a["opex_usd_per_year"] * annuity, rel=1e-12)
    mw = table.loc[("A", "microwave")]  # lifetime 10: re-bought in year 10 only
    assert mw["tco_usd"] == pytest.approx(7500 + 900 * annuity + 3000 * 1.08**-10, rel=1e-12)
    # the budget counts capex unless the basis is TCO
    assert (table["cost_usd"] == table["capex_usd"]).all()
    tco = options(tmp_path, horizon={"start_year": 2026, "end_year": 2040}, budget_basis="tco")
    assert np.allclose(tco["cost_usd"], tco["tco_usd"])
    assert tco.loc[("F", "leo_satellite"), "cost_usd"] == pytest.approx(9205.875, abs=1e-2)


def test_default_horizon_tco(tmp_path: Path) -> None:
    """Default horizon 2026-2030: H = 5, annuity 3.992710; LEO lifetime 5 is not re-bought (year 5 is not < 5).
    B LEO: 600 + 600 × 3.992710 = 2995.626."""
    table = options(tmp_path)
    assert table.loc[("B", "leo_satellite"), "tco_usd"] == pytest.approx(2995.626, abs=1e-3)


@pytest.mark.parametrize(
    ("paid_by", "expected"),
    [
        # post pays the service fee and solar upkeep; the operator the annual licence (and per-km upkeep)
        ("post", {("A", "microwave"): 300, ("F", "leo_satellite"): 750, ("A", "fibre"): 600}),
        ("operator", {("A", "microwave"): 600, ("F", "leo_satellite"): 0, ("A", "fibre"): 130 * FIBRE_KM_A}),
        ("both", {("A", "microwave"): 900, ("F", "leo_satellite"): 750,
                  ("A", "fibre"): 600 + 130 * FIBRE_KM_A}),
    ],
)  # fmt: skip
def test_opex_paid_by(tmp_path: Path, paid_by: str, expected: dict[tuple[str, str], float]) -> None:
    table = options(tmp_path, policy={"opex_paid_by": paid_by}, budget_basis="tco")
    annuity = annuity_factor(0.08, 5)
    for key, opex in expected.items():
        row = table.loc[key]
        assert row["opex_usd_per_year"] == pytest.approx(opex, rel=1e-9), key
        # the total is shown whoever pays; TCO and the budget count only the counted part
        total = row["opex_service_usd_per_year"] + row["opex_network_usd_per_year"] + row["opex_power_usd_per_year"]
        assert row["opex_total_usd_per_year"] == pytest.approx(total)
        assert row["cost_usd"] == pytest.approx(row["capex_usd"] + opex * annuity, rel=1e-9)


def test_required_mbps_excludes_slow_options(tmp_path: Path) -> None:
    """A serves mail + e-government to 4,000 people: 2 + 10 + 4 × 0.5 = 14 Mbps; GEO gives 10 Mbps."""
    inputs = tiny_inputs()
    inputs.offices.loc[inputs.offices["office_id"] == "A", ["services", "population"]] = ["mail;e_government", 4000.0]
    table = build_options(inputs, load_catalogue(), scenario(tmp_path)).set_index(["office_id", "technology"])
    row = table.loc[("A", "geo_satellite")]
    assert row["required_mbps"] == pytest.approx(14.0)
    assert not row["eligible"]
    assert row["reason"] == "delivers 10 Mbps < 14 Mbps required"
    assert table.loc[("A", "leo_satellite"), "eligible"]  # 100 Mbps
    assert table.loc[("B", "geo_satellite"), "eligible"]  # B needs the 5 Mbps floor only
    # 31 Mbps needed: 4G (30 Mbps) goes too
    strict = options(tmp_path, demand={"floor_mbps": 31})
    assert strict.loc[("D", "cellular_4g"), "reason"] == "delivers 30 Mbps < 31 Mbps required"
    assert not strict.loc[("D", "cellular_4g"), "eligible"]


def test_cost_ceiling(tmp_path: Path) -> None:
    """Ceiling 5,000 USD capex: microwave (7,500) and A's fibre (~108,000) are not funded; LEO (600), GEO (2,800)
    and 4G (300) are; F's LEO with solar (2,100) is; F's GEO with solar (4,300) is too."""
    table = options(tmp_path, policy={"max_cost_per_office_usd": 5000})
    for key in [("A", "microwave"), ("A", "fibre"), ("G", "microwave")]:
        assert not table.loc[key, "eligible"]
        assert "cost ceiling 5,000 USD" in table.loc[key, "reason"]
    assert table.loc[("A", "microwave"), "reason"] == "costs 7,500 USD > cost ceiling 5,000 USD"
    for key in [("A", "leo_satellite"), ("D", "cellular_4g"), ("F", "leo_satellite"), ("F", "geo_satellite")]:
        assert table.loc[key, "eligible"], key
    # an option already excluded keeps its first reason
    assert "50 km" in table.loc[("B", "fibre"), "reason"]


def test_fibre_preference(tmp_path: Path) -> None:
    """A's options: fibre 1500 + 8000 × 13.343 = 108,247; LEO 600; GEO 2,800; microwave 7,500.
    Fibre is not within 1,000 % of the cheapest (600 × 11 = 6,600): no preference. With a fibre override costing
    1,500 + 0 per km = 1,500 <= 600 × 3.5 (250 %): fibre preferred, every other option of A excluded."""
    no_pref = options(tmp_path, policy={"fibre_preference_pct": 1000})
    assert eligible(no_pref) == eligible(options(tmp_path))
    cheap = {"fibre": {"capex_per_km_usd": 0}}
    pref = options(tmp_path, technologies=cheap, policy={"fibre_preference_pct": 250})
    assert pref.loc[("A", "fibre"), "eligible"]
    for tech in ("microwave", "geo_satellite", "leo_satellite"):
        assert not pref.loc[("A", tech), "eligible"]
        assert "fibre preferred" in pref.loc[("A", tech), "reason"]
    # 100 %: 1,500 > 600 × 2 = 1,200, so no preference
    not_within = options(tmp_path, technologies=cheap, policy={"fibre_preference_pct": 100})
    assert not_within.loc[("A", "leo_satellite"), "eligible"]
    # offices without eligible fibre are untouched
    assert pref.loc[("B", "leo_satellite"), "eligible"]


def test_allowed_technologies(tmp_path: Path) -> None:
    table = options(tmp_path, policy={"allowed_technologies": ["fibre", "leo_satellite"]})
    assert eligible(table) == {("A", "fibre")} | {(o, "leo_satellite") for o in "ABDEFG"}
    assert table.loc[("D", "cellular_4g"), "reason"] == "not allowed by policy.allowed_technologies"


QUOTES = pd.DataFrame(
    {"office_id": ["A", "A", "F"], "technology": ["fibre", "leo_satellite", "geo_satellite"],
     "capex_usd": [50_000.0, 700.0, 2000.0], "opex_usd_per_year": [1000.0, 650.0, 2000.0],
     "mbps": [500.0, np.nan, np.nan]}
)  # fmt: skip


def test_quotes_replace_the_computed_rows(tmp_path: Path) -> None:
    """A quotes fibre (50,000 capex, 1,000/yr, 500 Mbps) and LEO (700, 650/yr, Mbps from the catalogue);
    F (no grid) quotes GEO for 2,000 and 2,000/yr: a quote is complete, so no solar is added."""
    table = options(tmp_path, QUOTES)
    fibre = table.loc[("A", "fibre")]
    assert fibre["source"] == "quote"
    assert fibre["eligible"]
    assert fibre["capex_usd"] == pytest.approx(50_000)
    assert fibre["opex_usd_per_year"] == pytest.approx(1000)
    assert fibre["mbps"] == pytest.approx(500)
    leo = table.loc[("A", "leo_satellite")]
    assert (leo["source"], leo["capex_usd"], leo["mbps"]) == ("quote", pytest.approx(700), pytest.approx(100))
    assert leo["tco_usd"] == pytest.approx(700 + 650 * 3.992710, abs=1e-3)  # 3,295.262 over 2026-2030
    geo = table.loc[("F", "geo_satellite")]
    assert geo["source"] == "quote"
    assert geo["capex_usd"] == pytest.approx(2000)  # no solar on a quote
    assert geo["opex_usd_per_year"] == pytest.approx(2000)
    # offices without quotes keep their computed rows
    assert table.loc[("B", "leo_satellite"), "source"] == "catalogue"
    assert table.loc[("G", "microwave"), "eligible"]
    assert not table.index.duplicated().any()


def test_a_quoted_office_has_exactly_its_quotes(tmp_path: Path) -> None:
    """The options file lists an office's complete set of candidates (DESIGN §3): A's and F's rows are their
    quotes and nothing else, so no computed row (and no catalogue pricing) is left for A's microwave or F's
    fibre. Quotes are per office: F quoting GEO does not touch A's or B's rows, nor A's quotes F's."""
    table = options(tmp_path, QUOTES)
    assert {t for o, t in table.index if o == "A"} == {"fibre", "leo_satellite"}
    assert {t for o, t in table.index if o == "F"} == {"geo_satellite"}
    assert (table.loc[["A", "F"], "source"] == "quote").all()
    # every other office keeps one computed row per technology
    assert set(table.index) == {("A", "fibre"), ("A", "leo_satellite"), ("F", "geo_satellite")} | {
        (o, t) for o in "BDEG" for t in TECHS
    }
    assert (table.drop(index=["A", "F"])["source"] == "catalogue").all()


def test_an_all_quotes_table_shares_its_constant_columns_and_each_write_stays_its_own(tmp_path: Path) -> None:
    """Every office quoted: the columns a quote leaves at one value (zero costs, empty text) share one array per
    value, and the writes costing makes after (a 150 USD survey on the unknown office's options, the 550 USD
    security gateway and 240 USD/yr where e-government is offered) land in their own column and rows only."""
    quotes = pd.DataFrame(
        {"office_id": ["A", "A", "B", "D", "E", "F", "G"],
         "technology": ["fibre", "leo_satellite", "geo_satellite", "cellular_4g", "leo_satellite", "geo_satellite",
                        "leo_satellite"],
         "capex_usd": [50_000.0, 700.0, 2000.0, 300.0, 650.0, 2100.0, 600.0],
         "opex_usd_per_year": [1000.0, 650.0, 2000.0, 360.0, 600.0, 2000.0, 600.0], "mbps": [np.nan] * 7}
    )  # fmt: skip
    inputs = tiny_inputs(quotes)
    inputs.offices.loc[inputs.offices["office_id"] == "B", "status"] = "unknown"
    inputs.offices.loc[inputs.offices["office_id"] == "E", "services"] = "mail;e_government"
    scen = scenario(tmp_path, unknown_status={"action": "survey_cost", "survey_cost_usd": 150.0})
    bundled = load_catalogue(Path(__file__).parents[1] / "planner" / "technologies.yaml")  # (it has security)
    assert bundled.security is not None and bundled.security.firewall_capex_usd.value == 550
    assert bundled.security.office_usd_per_year() == 240
    table = build_options(inputs, bundled, scen)
    assert list(zip(table["office_id"], table["technology"], strict=True)) == sorted(
        zip(quotes["office_id"], quotes["technology"], strict=True)
    )
    by = table.set_index("office_id")
    assert by.loc["B", "capex_civil_usd"] == 150.0 and by.loc["B", "capex_usd"] == 2150.0
    assert set(by.drop(index="B")["capex_civil_usd"]) == {0.0}
    assert by.loc["E", "capex_security_usd"] == 550.0 and by.loc["E", "opex_security_usd_per_year"] == 240.0
    assert set(by.drop(index="E")["capex_security_usd"]) == {0.0}
    assert set(by.drop(index="E")["opex_security_usd_per_year"]) == {0.0}
    assert by.loc["E", "capex_usd"] == 650.0 + 550.0
    for col in ("capex_licence_usd", "capex_power_usd", "opex_network_usd_per_year", "opex_power_usd_per_year",
                "backup_cost_usd"):  # fmt: skip
        assert set(table[col]) == {0.0}, col
    assert table["distance_km"].isna().all() and table["power_draw_w"].isna().all()
    assert set(table["tier"]) == set(table["anchor_id"]) == set(table["shared"]) == set(table["backup_technology"])
    assert set(table["tier"]) == {""}
    # the shared arrays: one for the zeros never written, one for the empty text
    assert np.shares_memory(table["capex_licence_usd"].to_numpy(), table["opex_power_usd_per_year"].to_numpy())
    assert not np.shares_memory(table["capex_licence_usd"].to_numpy(), table["capex_civil_usd"].to_numpy())
    tier, shared = (pa_array(table[c]) for c in ("tier", "shared"))
    assert tier.buffers()[1].address == shared.buffers()[1].address


def pa_array(col: pd.Series) -> Any:
    """The one Arrow array behind an Arrow-backed text column."""
    import pyarrow as pa

    arr = pa.array(col, from_pandas=True)
    return arr.chunk(0) if isinstance(arr, pa.ChunkedArray) else arr


def test_rows_in_order_keeps_one_value_columns_and_takes_the_others() -> None:
    from planner.costing import _rows_in_order

    zero = pd.Series(np.zeros(4))
    table = pd.DataFrame(
        {"a": np.array([1.0, 2.0, 3.0, 4.0]), "z": zero, "n": pd.Series(np.full(4, np.nan)),
         "t": pd.Series(np.array(["x", "y", "x", "z"], dtype=object)), "e": pd.Series(np.array([""] * 4, dtype=object)),
         "neg": np.array([0.0, -0.0, 0.0, 0.0])}
    )  # fmt: skip
    order = np.array([3, 1, 0, 2])
    want = {c: table[c].to_numpy()[order] for c in table.columns}
    got = _rows_in_order(table.copy(), order)
    for c, values in want.items():
        assert got[c].dtype == table[c].dtype
        assert got[c].tolist() == values.tolist() or (pd.isna(got[c]).all() and pd.isna(values).all())
    assert np.signbit(got["neg"].to_numpy()).tolist() == [False, True, False, False]  # -0.0 is not 0.0
    with pytest.raises(ValueError, match="an order of 3 rows for a table of 4"):
        _rows_in_order(table.copy(), order[:3])
