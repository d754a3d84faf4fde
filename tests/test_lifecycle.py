"""Cost conventions (cost_basis): TCO, TCO less residual value, annualised cost; the arithmetic written out.

Horizon 2026-2030 (H = 5 years), discount rate r = 0.08:
AF(r, 5) = Σ_{k=1..5} 1.08^-k = 3.992710; 1.08^-5 = 0.680583; CRF(r, L) = r / (1 - 1.08^-L):
CRF(0.08, 5) = 0.250456, CRF(0.08, 20) = 0.101852.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from planner.costing import capital_recovery_factor, residual_fraction
from planner.pipeline import prepare, solve_prepared
from planner.scenario import load_scenario

AF5 = 3.992710
DISC5 = 0.680583
CRF5 = 0.250456
CRF20 = 0.101852


def test_residual_fraction_counts_the_last_purchase() -> None:
    assert residual_fraction(5, 20, replaced=False) == pytest.approx(0.75)  # bought once, 15 of 20 years left
    assert residual_fraction(5, 3, replaced=True) == pytest.approx(1 / 3)  # bought at 0 and 3: 1 of 3 years left
    assert residual_fraction(5, 5, replaced=True) == pytest.approx(0.0)  # worn out exactly at the horizon end
    assert residual_fraction(5, 2.5, replaced=True) == pytest.approx(0.0)  # bought at 0 and 2.5, ends at 5
    assert residual_fraction(5, 4, replaced=False) == pytest.approx(0.0)  # gone before the end, not replaced


def test_capital_recovery_factor() -> None:
    assert capital_recovery_factor(0.08, 5) == pytest.approx(CRF5, abs=1e-6)
    assert capital_recovery_factor(0.08, 20) == pytest.approx(CRF20, abs=1e-6)
    assert capital_recovery_factor(0.0, 4) == pytest.approx(0.25)
    # an asset living exactly the horizon costs its capex whether annualised or paid up front
    assert capital_recovery_factor(0.08, 5) * AF5 == pytest.approx(1.0, abs=1e-5)


def write(tmp: Path, cost_basis: str | None, objective: str = "min_cost", **top: object) -> Path:
    """One office A with two quoted options: fibre (3,000 USD, 100 USD/year, 20-year life) and LEO (600 USD,
    600 USD/year, 5-year life); the catalogue gives the lives."""
    pd.DataFrame({"office_id": ["A"], "lat": [0.0], "lon": [0.0], "population": [1000]}).to_csv(
        tmp / "offices.csv", index=False
    )
    pd.DataFrame(
        {
            "office_id": ["A", "A"],
            "technology": ["fibre", "leo_satellite"],
            "capex_usd": [3000.0, 600.0],
            "opex_usd_per_year": [100.0, 600.0],
        }
    ).to_csv(tmp / "quotes.csv", index=False)
    raw: dict[str, object] = {
        "name": f"lifecycle-{cost_basis}",
        "data": {"offices": "offices.csv", "options": "quotes.csv"},
        "objective": objective,
        "budget_basis": "capex",
        "discount_rate": 0.08,
        "technologies": {"fibre": {"lifetime_years": 20}, "leo_satellite": {"lifetime_years": 5}},
        **({"coverage_target": 1.0} if objective == "min_cost" else {}),
        **({"cost_basis": cost_basis} if cost_basis else {}),
        **top,
    }
    path = tmp / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


# fibre: TCO = 3,000 + 100·AF = 3,399.27; residual = 3,000·0.75·1.08^-5 = 1,531.31; annualised = (3,000·CRF20
# + 100)·AF = 1,619.27. LEO: TCO = 600 + 600·AF = 2,995.63 (no replacement: its 5-year life ends at the
# horizon end); residual 0; annualised (600·CRF5 + 600)·AF = 2,995.63.
FIBRE = {"tco": 3000 + 100 * AF5, "residual": 3000 * 0.75 * DISC5, "annualised": (3000 * CRF20 + 100) * AF5}
LEO = {"tco": 600 + 600 * AF5, "residual": 0.0, "annualised": (600 * CRF5 + 600) * AF5}


@pytest.mark.parametrize(
    "cost_basis, winner, economic",
    [
        (None, "leo_satellite", LEO["tco"]),  # the default basis is tco
        ("tco", "leo_satellite", LEO["tco"]),
        ("tco_residual", "fibre", FIBRE["tco"] - FIBRE["residual"]),  # 1,867.96 < 2,995.63
        ("annualised", "fibre", FIBRE["annualised"]),  # 1,619.27 < 2,995.63
    ],
)
def test_fibre_wins_over_its_life_and_loses_within_the_horizon(
    tmp_path: Path, cost_basis: str | None, winner: str, economic: float
) -> None:
    prepared = prepare(load_scenario(write(tmp_path, cost_basis)))
    opts = prepared.options.set_index("technology")
    for tech, figures in (("fibre", FIBRE), ("leo_satellite", LEO)):
        assert opts.loc[tech, "tco_usd"] == pytest.approx(figures["tco"], rel=1e-5)
        assert opts.loc[tech, "residual_value_usd"] == pytest.approx(figures["residual"], rel=1e-5, abs=1e-6)
        assert opts.loc[tech, "tco_residual_usd"] == pytest.approx(figures["tco"] - figures["residual"], rel=1e-5)
        assert opts.loc[tech, "annualised_usd"] == pytest.approx(figures["annualised"], rel=1e-5)
    plan = solve_prepared(prepared)
    row = plan.plan.set_index("office_id").loc["A"]
    assert row["technology"] == winner
    s = plan.summary
    assert s["cost_basis"] == (cost_basis or "tco")
    assert s["objective_value"] == pytest.approx(economic, rel=1e-5)  # min_cost minimises the economic cost
    assert s["total_economic_cost_usd"] == pytest.approx(economic, rel=1e-5)
    won = FIBRE if winner == "fibre" else LEO
    # all four figures are reported whatever the bases
    assert s["total_capex_usd"] == pytest.approx(3000.0 if winner == "fibre" else 600.0)
    assert s["total_cost_usd"] == s["total_capex_usd"]  # budget basis capex
    assert s["total_tco_usd"] == pytest.approx(won["tco"], rel=1e-5)
    assert s["total_tco_residual_usd"] == pytest.approx(won["tco"] - won["residual"], rel=1e-5)
    assert s["total_annualised_usd"] == pytest.approx(won["annualised"], rel=1e-5)
    assert row["residual_value_usd"] == pytest.approx(won["residual"], rel=1e-5, abs=1e-6)
    assert row["annualised_usd"] == pytest.approx(won["annualised"], rel=1e-5)
    tech = plan.summary["by_technology"][winner]
    assert tech["tco_residual_usd"] == pytest.approx(won["tco"] - won["residual"], rel=1e-5)
    assert tech["annualised_usd"] == pytest.approx(won["annualised"], rel=1e-5)


@pytest.mark.parametrize("method", ["auto", "milp"])
def test_max_coverage_tie_break_takes_the_least_economic_cost(tmp_path: Path, method: str) -> None:
    """Budget 3,000 USD of capex: either option connects A (same coverage). The least-capex option is LEO (600);
    the tie-break minimises the economic cost, which is LEO under tco and fibre under tco_residual, even though
    fibre uses more of the budget."""
    for basis, winner in (("tco", "leo_satellite"), ("tco_residual", "fibre")):
        path = write(tmp_path, basis, objective="max_coverage", budget_usd=3000, solver={"method": method})
        plan = solve_prepared(prepare(load_scenario(path)))
        assert plan.summary["population_covered"] == pytest.approx(1000)
        assert plan.plan.set_index("office_id").loc["A", "technology"] == winner
        assert plan.summary["total_cost_usd"] <= 3000 + 1e-9


def test_a_roadmap_keeps_the_tco_basis(tmp_path: Path) -> None:
    from planner.errors import InputError

    path = write(tmp_path, "annualised", objective="max_coverage", roadmap={"annual_budget_usd": 1000})
    with pytest.raises(InputError, match="cost_basis"):
        load_scenario(path)


# --------------------------------------------------------------------------------------------- demand models
def demand_of(model: dict[str, object], population: list[float], services: list[str] | None = None) -> list[float]:
    from planner.costing import required_mbps
    from planner.scenario import Demand, Scenario

    offices = pd.DataFrame({"population": population, "services": services or [""] * len(population)})
    scenario = Scenario.model_construct(demand=Demand.model_validate(model))
    return required_mbps(offices, scenario).tolist()


def test_planner_demand_model() -> None:
    """10,000 people and mail + financial: 2 + 3 Mbps + 0.5·10 = 10 Mbps; 100 people, no service: floor 5."""
    assert demand_of({}, [10_000, 100], ["mail;financial", ""]) == [10.0, 5.0]


def test_itu_cpp_demand_model() -> None:
    """4,000 people × 0.25 adoption × 0.10 concurrency = 100 users × 2 Mbps = 200 Mbps; 200 people: 5 users ×
    2 = 10 Mbps, below the 20 Mbps floor; overridden: 4,000 × 0.5 × 0.1 × 1 = 200 Mbps."""
    assert demand_of({"model": "itu_cpp"}, [4000, 200]) == [200.0, 20.0]
    assert demand_of({"model": "itu_cpp", "itu_cpp": {"adoption": 0.5, "mbps_per_user": 1.0}}, [4000]) == [200.0]


def test_giga_demand_model() -> None:
    """Giga: 20 Mbps per site; above 400 users 50 kbps each: 1,000 people = 50 Mbps, 300 people = 20 Mbps,
    401 people = 20.05 Mbps (just above 400: the per-user rule, still near the site figure)."""
    assert demand_of({"model": "giga"}, [1000, 300, 401]) == [50.0, 20.0, 20.05]


# --------------------------------------------------------------------------------------------- power model
def power_kit() -> object:
    from planner.scenario import PowerKit

    return PowerKit.model_validate(
        {
            "panel_usd_per_w": 3.0,
            "battery_usd_per_kwh": 108.0,
            "peak_sun_hours": 5.0,
            "autonomy_days": 3.0,
            "depth_of_discharge": 0.5,
            "system_derate": 0.75,
            "solar_opex_share_per_year": 0.10,
            "electricity_usd_per_kwh": 0.10,
        }
    )


def test_solar_is_sized_to_the_terminal_draw() -> None:
    """A 75 W terminal uses 24 × 75 = 1,800 Wh a day: 1,800 / (5 h × 0.75) = 480 W of panels × 3 USD = 1,440 USD,
    and 1,800 × 3 days / 0.5 = 10.8 kWh of battery × 108 USD = 1,166.40 USD: 2,606.40 USD. A 10 W 4G router:
    240 Wh a day, 64 W × 3 = 192 USD and 1.44 kWh × 108 = 155.52 USD: 347.52 USD."""
    kit = power_kit()
    assert kit.solar_kit_usd(75) == pytest.approx(2606.40)
    assert kit.solar_kit_usd(10) == pytest.approx(347.52)
    assert kit.solar_kit_usd(0) == 0.0


def test_on_grid_offices_pay_the_electricity() -> None:
    """75 W × 8,760 h = 657 kWh a year × 0.10 USD = 65.70 USD; 10 W: 87.6 kWh = 8.76 USD."""
    kit = power_kit()
    assert kit.electricity_usd_per_year(75) == pytest.approx(65.70)
    assert kit.electricity_usd_per_year(10) == pytest.approx(8.76)


def test_options_carry_the_power_of_their_draw(tmp_path: Path) -> None:
    """Two offices, one off grid, LEO and 4G priced from the bundled catalogue's power model: the solar kit and
    its upkeep off grid, the electricity on grid; capex and opex include them."""
    from planner.scenario import load_catalogue

    cat = load_catalogue()
    p = cat.power
    pd.DataFrame(
        {"office_id": ["on", "off"], "lat": [0.0, 0.0], "lon": [0.0, 0.01], "population": [100, 100],
         "grid_power": [True, False]}
    ).to_csv(tmp_path / "offices.csv", index=False)  # fmt: skip
    raw = {"name": "power", "data": {"offices": "offices.csv"}, "budget_usd": 1e6,
           "policy": {"allowed_technologies": ["leo_satellite"]}}  # fmt: skip
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    opts = prepare(load_scenario(tmp_path / "s.yaml")).options
    opts = opts[opts["technology"] == "leo_satellite"].set_index("office_id")
    draw = cat.technologies["leo_satellite"].power_draw_w.value
    assert draw > 0
    on, off = opts.loc["on"], opts.loc["off"]
    assert on["power_draw_w"] == draw and on["capex_power_usd"] == 0.0
    assert on["opex_power_usd_per_year"] == pytest.approx(draw * 8.76 * p.electricity_usd_per_kwh.value)
    daily = 24 * draw
    kit = daily / (p.peak_sun_hours.value * p.system_derate) * p.panel_usd_per_w.value + (
        daily * p.autonomy_days.value / p.depth_of_discharge / 1000 * p.battery_usd_per_kwh.value
    )
    assert off["capex_power_usd"] == pytest.approx(kit)
    assert off["opex_power_usd_per_year"] == pytest.approx(kit * p.solar_opex_share_per_year.value)
    assert off["capex_usd"] == pytest.approx(off["capex_equipment_usd"] + kit)


# --------------------------------------------------------------------------------------------- catalogue check
def test_the_bundled_catalogue_has_a_source_for_every_figure() -> None:
    """`planner catalogue --check`: every figure of the bundled catalogue cites a source record or is a planner
    estimate (exit 0); estimates are listed."""
    from typer.testing import CliRunner

    from planner.ui.cli import app

    out = CliRunner().invoke(app, ["catalogue", "--check"])
    assert out.exit_code == 0, out.output
    assert "estimate (" in out.output and "0 no source" in out.output


def test_catalogue_check_fails_on_a_figure_without_a_source(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from planner.scenario import catalogue_check, load_catalogue
    from planner.ui.cli import app

    cat = load_catalogue({"leo_satellite": {"opex_per_year_usd": {"value": 700, "low": 600, "high": 800,
                                                                   "source": "a magazine said so"}}})  # fmt: skip
    found = {(r["entry"], r["field"]): r["finding"] for r in catalogue_check(cat, 2026)}
    assert found[("leo_satellite", "opex_per_year_usd")] == "no source"
    old = {r["finding"] for r in catalogue_check(cat, 2040)}
    assert "old" in old  # every dated record is older than 5 years by 2040
    raw = {"name": "x", "data": {"offices": "o.csv"}, "budget_usd": 1,
           "technologies": {"leo_satellite": {"opex_per_year_usd": {"value": 700, "low": 600, "high": 800,
                                                                     "source": "a magazine said so"}}}}  # fmt: skip
    (tmp_path / "o.csv").write_text("office_id,lat,lon,population\na,0,0,1\n", encoding="utf-8")
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = CliRunner().invoke(app, ["catalogue", str(tmp_path / "x.yaml"), "--check"])
    assert out.exit_code == 1 and "no source (1)" in out.output and "leo_satellite.opex_per_year_usd" in out.output


def test_a_figure_citing_an_unknown_record_is_refused() -> None:
    from planner.errors import InputError
    from planner.scenario import load_catalogue

    with pytest.raises(InputError, match="not in the catalogue's sources"):
        load_catalogue({"leo_satellite": {"opex_per_year_usd": {"value": 7, "low": 6, "high": 8, "source": "no_such"}}})


# --------------------------------------------------------------------------------------------- regional overlays
def one_office(tmp: Path, country: str, **top: object) -> Path:
    lat, lon = (29.0, 79.0) if country == "IND" else (0.0, 0.0)  # a location inside the country's bounding box
    pd.DataFrame({"office_id": ["A"], "lat": [lat], "lon": [lon], "population": [1000], "country": [country]}).to_csv(
        tmp / "offices.csv", index=False
    )
    raw = {"name": "region", "data": {"offices": "offices.csv"}, "budget_usd": 1e6, **top}
    (tmp / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return tmp / "s.yaml"


def test_the_offices_country_chooses_the_overlay_and_an_unavailable_technology_says_why(tmp_path: Path) -> None:
    from planner.scenario import load_catalogue

    india = load_catalogue(region="IND")
    prepared = prepare(load_scenario(one_office(tmp_path, "IND")))
    assert prepared.scenario.catalogue_region == "IND" and prepared.catalogue.region == "IND"
    opts = prepared.options.set_index("technology")
    leo = opts.loc["leo_satellite"]
    assert not leo["eligible"]
    assert leo["reason"].startswith("not offered in IND as of 2026-01; source: Voice of Sikkim")
    assert "leo_satellite.available: true" in leo["reason"]
    # the overlay's figures price the options: India's 4G plan, its grid electricity for the 10 W router
    fourg = opts.loc["cellular_4g"]
    assert fourg["opex_service_usd_per_year"] == india.technologies["cellular_4g"].opex_per_year_usd.value == 71
    draw = india.technologies["cellular_4g"].power_draw_w.value
    assert fourg["opex_power_usd_per_year"] == pytest.approx(draw * 8.76 * 0.071)
    plan = solve_prepared(prepared)
    assert plan.scenario.catalogue_region == "IND"  # the plan says which figures priced it


def test_a_scenario_asks_what_if_the_technology_were_offered(tmp_path: Path) -> None:
    what_if = {"leo_satellite": {"available": True}}
    opts = prepare(load_scenario(one_office(tmp_path, "IND", technologies=what_if))).options.set_index("technology")
    assert opts.loc["leo_satellite", "eligible"]
    assert opts.loc["leo_satellite", "capex_equipment_usd"] == 367  # India's expected kit price


def test_explicit_region_and_the_base_catalogue(tmp_path: Path) -> None:
    from planner.errors import InputError

    kenya = prepare(load_scenario(one_office(tmp_path, "", catalogue_region="KEN")))
    assert kenya.catalogue.region == "KEN"
    assert kenya.options.set_index("technology").loc["cellular_4g", "opex_service_usd_per_year"] == 344
    base = prepare(load_scenario(one_office(tmp_path, "FRA")))  # no overlay for France: the global base
    assert base.catalogue.region is None and base.scenario.catalogue_region is None
    with pytest.raises(InputError, match="no regional overlay 'XYZ'"):
        prepare(load_scenario(one_office(tmp_path, "", catalogue_region="XYZ")))


def test_offices_of_several_countries_are_priced_by_their_own_overlays(tmp_path: Path) -> None:
    """One run, three countries: the Indian office pays India's 4G plan (71 USD/year) and cannot take LEO, the
    Kenyan one Kenya's (344), the French one the base figure (no overlay for France); a named catalogue_region
    prices all three with one overlay; Monte Carlo, which draws one catalogue, refuses the mixed pricing."""
    from planner.analysis.montecarlo import monte_carlo
    from planner.errors import InputError
    from planner.scenario import load_catalogue

    pd.DataFrame(
        {"office_id": ["in", "ke", "fr"], "lat": [29.0, -1.3, 48.9], "lon": [79.0, 36.8, 2.3],  # in each country
         "population": [1000] * 3, "country": ["IND", "KEN", "FRA"]}
    ).to_csv(tmp_path / "offices.csv", index=False)  # fmt: skip
    raw = {"name": "mixed", "data": {"offices": "offices.csv"}, "budget_usd": 1e6}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    prepared = prepare(load_scenario(tmp_path / "s.yaml"))
    assert set(prepared.regional) == {"IND", "KEN"} and prepared.scenario.catalogue_region is None
    opts = prepared.options.set_index(["office_id", "technology"])
    base = load_catalogue().technologies["cellular_4g"].opex_per_year_usd.value
    fourg = opts.xs("cellular_4g", level="technology")["opex_service_usd_per_year"]
    assert fourg.to_dict() == {"in": 71, "ke": 344, "fr": base}
    assert "technologies.cellular_4g.opex_per_year_usd@IND" in opts.loc[("in", "cellular_4g"), "cost_keys"]
    assert "technologies.cellular_4g.opex_per_year_usd@KEN" in opts.loc[("ke", "cellular_4g"), "cost_keys"]
    assert "technologies.cellular_4g.opex_per_year_usd@base" in opts.loc[("fr", "cellular_4g"), "cost_keys"]
    leo = opts.xs("leo_satellite", level="technology")
    assert not leo.loc["in", "eligible"] and leo.loc["in", "reason"].startswith("not offered in IND")
    assert leo.loc["ke", "eligible"] and leo.loc["fr", "eligible"]
    plan = solve_prepared(prepared).plan.set_index("office_id")
    assert plan.loc["in", "technology"] != "leo_satellite"
    chosen = {o: opts.loc[(o, plan.loc[o, "technology"]), "cost_keys"] for o in ["in", "ke", "fr"]}
    assert chosen == plan["cost_keys"].to_dict()
    with pytest.raises(InputError, match="Monte Carlo draws one catalogue"):
        monte_carlo(prepared, samples=2)
    raw["catalogue_region"] = "KEN"  # one overlay for every office
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    kenya = prepare(load_scenario(tmp_path / "s.yaml"))
    assert not kenya.regional
    assert set(kenya.options.query("technology == 'cellular_4g'")["opex_service_usd_per_year"]) == {344}


def test_every_option_and_office_names_the_figures_that_priced_it(tmp_path: Path) -> None:
    """India's 4G row is priced by the IND overlay's service figure and grid electricity, the rest from the base;
    the plan carries the key of the chosen option; a quoted option says so."""
    prepared = prepare(load_scenario(one_office(tmp_path, "IND")))
    keys = prepared.options.set_index("technology").loc["cellular_4g", "cost_keys"].split("; ")
    assert "technologies.cellular_4g.opex_per_year_usd@IND" in keys
    assert "technologies.cellular_4g.capex_fixed_usd@base" in keys
    assert "power.electricity_usd_per_kwh@IND" in keys
    plan = solve_prepared(prepared)
    row = plan.plan.set_index("office_id").loc["A"]
    chosen = prepared.options.set_index("technology").loc[row["technology"], "cost_keys"]
    assert row["cost_keys"] == chosen
    quoted = prepare(load_scenario(write(tmp_path, None))).options
    assert set(quoted.loc[quoted["source"] == "quote", "cost_keys"]) == {"quote: the options file"}


# --------------------------------------------------------------------------------------------- service tiers
def test_the_tier_follows_the_services_and_is_named_in_the_keys(tmp_path: Path) -> None:
    """LEO's light tier (50 GB, 780 USD/year) is for offices offering only mail; an office with financial services
    takes the standard one (500 GB, 1,980 USD/year); Sri Lanka's overlay prices the same tiers at 812 / 2,433."""
    pd.DataFrame(
        {"office_id": ["mail", "bank"], "lat": [0.0, 0.0], "lon": [0.0, 0.01], "population": [100, 100],
         "services": ["mail", "mail;financial"]}
    ).to_csv(tmp_path / "offices.csv", index=False)  # fmt: skip
    for region, prices in ((None, (780, 1980)), ("LKA", (812, 2433))):
        raw = {"name": "tiers", "data": {"offices": "offices.csv"}, "budget_usd": 1e6,
               **({"catalogue_region": region} if region else {})}  # fmt: skip
        (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
        opts = prepare(load_scenario(tmp_path / "s.yaml")).options
        leo = opts[opts["technology"] == "leo_satellite"].set_index("office_id")
        assert list(leo.loc[["mail", "bank"], "tier"]) == ["light", "standard"]
        assert list(leo.loc[["mail", "bank"], "opex_service_usd_per_year"]) == list(prices)
        where = region or "base"
        assert f"technologies.leo_satellite.tiers.light.opex_per_year_usd@{where}" in leo.loc["mail", "cost_keys"]
        assert "technologies.leo_satellite.opex_per_year_usd" not in leo.loc["mail", "cost_keys"]


def test_the_donor_sees_each_cost_line_of_an_office_with_its_source(tmp_path: Path) -> None:
    from planner.results.report import office_cost_sources

    plan = solve_prepared(prepare(load_scenario(one_office(tmp_path, "IND"))))
    lines = office_cost_sources(plan, "A").set_index("key")
    tech = plan.plan.set_index("office_id").loc["A", "technology"]  # no tower in reach: a satellite link
    service = lines.loc[f"technologies.{tech}.opex_per_year_usd@base"]
    assert service["value"] == plan.plan.set_index("office_id").loc["A", "opex_service_usd_per_year"]
    grid = lines.loc["power.electricity_usd_per_kwh@IND"]
    assert grid["value"] == pytest.approx(0.071) and "Himachal" in grid["source"]
    assert lines["source"].str.len().min() > 0  # every line traced


def test_lifecycle_costs_of_zero_parts_are_the_plain_sums_bit_for_bit() -> None:
    """Parts whose capex is +0.0 everywhere are added as a scalar: the same bits as the sum of their terms,
    including an opex of -0.0 (which -0.0 + 0.0 turns into 0.0), a NaN life and a -0.0 capex."""
    opex = pd.Series([-0.0, 100.0, 250.0])
    zero, neg = pd.Series(np.zeros(3)), pd.Series([-0.0, 0.0, 0.0])
    life, odd = pd.Series([5.0, 10.0, 5.0]), pd.Series([5.0, np.nan, 5.0])
    lives = {"equipment": life, "civil": life, "licence": odd, "power": life}
    rate, years = 0.08, 5
    for parts in (
        {"equipment": pd.Series([100.0, 0.0, 50.0]), "civil": zero, "licence": zero, "power": neg},
        {"civil": zero, "power": zero},  # every part skipped: the -0.0 opex still becomes 0.0
    ):
        _check_lifecycle(parts, opex, lives, rate, years)


def _check_lifecycle(parts: dict, opex: pd.Series, lives: dict, rate: float, years: int) -> None:
    from planner.costing import lifecycle_costs

    residual, annualised = lifecycle_costs(parts, opex, lives, rate, years)
    want_r, want_e = np.zeros(3), opex.to_numpy().copy()
    for part, capex in parts.items():
        lv = lives[part].to_numpy()
        frac = np.array([residual_fraction(years, v, replaced=part == "equipment") if v == v else np.nan for v in lv])
        crf = np.array([capital_recovery_factor(rate, v) if v == v else np.nan for v in lv])
        want_r += capex.to_numpy() * frac * (1 + rate) ** -years
        want_e += capex.to_numpy() * crf
    want_e *= sum((1 + rate) ** -k for k in range(1, years + 1))
    np.testing.assert_array_equal(np.isnan(residual), np.isnan(want_r))  # the NaN life's row, as before
    ok = ~np.isnan(want_r)
    assert residual.to_numpy()[ok].tobytes() == want_r[ok].tobytes()
    assert np.signbit(annualised.to_numpy()[ok]).tolist() == np.signbit(want_e[ok]).tolist()
    assert not np.signbit(annualised.to_numpy()[0])
    np.testing.assert_allclose(annualised.to_numpy()[ok], want_e[ok], rtol=1e-15)
