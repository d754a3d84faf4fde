"""The Roadmap and Countries pages: their pure table functions and their main paths through ``AppTest``.

Small instances only: a roadmap of a few Uttarakhand offices (uploaded on the Scenario page, or written to
``tmp_path``) and the bundled three-country pool (502 offices, about a second per solve).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from planner.errors import InputError
from planner.pipeline import run
from planner.scenario import scenario_from_dict
from planner.ui.format import money, share
from planner.ui.pages.countries import countries_mapping, country_table, percentile_table, robustness, single_country
from planner.ui.pages.roadmap import form_defaults, phased, roadmap_section, technology_years, year_table
from planner.ui.safe import md

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 180
OFFICES = ROOT / "data" / "uttarakhand" / "offices.csv"


def _small_offices(step: int = 80) -> bytes:
    """Every ``step``-th Uttarakhand office (25 offices of several regions and technologies at step 80)."""
    lines = OFFICES.read_text(encoding="utf-8").splitlines()
    return ("\n".join([lines[0], *lines[1:2001:step]]) + "\n").encode()


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _page(at: AppTest, name: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(name).run()
    _clean(at)
    return at


def _table(at: AppTest, column: str) -> pd.DataFrame:
    """The first table shown with ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _values(data: list | dict) -> list[float]:
    """A plotly array as a list (plotly sends numeric arrays as base64 ``bdata`` with a ``dtype``)."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def _charts(at: AppTest) -> dict[str, dict]:
    return {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


# --------------------------------------------------------------------------------------------- roadmap: pure
@pytest.fixture(scope="module")
def small_roadmap(tmp_path_factory: pytest.TempPathFactory):
    """A roadmap of 25 offices: 6,000 USD a year, 3 offices a year, at most 1 of them by 4G."""
    folder = tmp_path_factory.mktemp("roadmap")
    (folder / "offices.csv").write_bytes(_small_offices())
    data = ROOT / "data" / "uttarakhand"
    raw = {
        "name": "small-roadmap",
        "data": {
            "offices": "offices.csv",
            "fibre_nodes": str(data / "fibre_nodes.csv"),
            "towers": str(data / "towers.csv"),
        },
        "objective": "max_coverage",
        "budget_basis": "tco",
        "horizon": {"start_year": 2026, "end_year": 2030},
        "roadmap": roadmap_section(6000.0, True, 3, {"cellular_4g": 1, "fibre": None}),
        "solver": {"time_limit_s": 20, "mip_gap": 0.0},
    }
    path = folder / "small-roadmap.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return run(path)


def test_technology_years_add_up_to_the_roadmap_table(small_roadmap):
    plan = small_roadmap
    years = list(range(2026, 2031))
    tech = technology_years(plan.plan, years)
    rm = plan.roadmap.set_index("year")
    per_year = tech.groupby("year")[["offices", "population", "capex_usd", "opex_usd"]].sum()
    assert per_year["offices"].tolist() == rm["offices_connected"].tolist()
    assert per_year["population"].tolist() == pytest.approx(rm["population_new"].tolist())
    assert per_year["capex_usd"].tolist() == pytest.approx(rm["capex_usd"].tolist())
    assert per_year["opex_usd"].tolist() == pytest.approx(rm["opex_usd"].tolist())
    # The build capacity holds (and binds): at most 3 offices a year, at most 1 of them by 4G.
    assert rm["offices_connected"].max() <= 3 and rm["offices_connected"].sum() > 3
    assert tech.loc[tech["technology"] == "cellular_4g", "offices"].tolist() == [1] * 5
    assert set(tech["technology"]) == {"cellular_4g", "fibre"}
    # Cumulative per technology: the last year holds every connected office of that technology.
    con = plan.plan[plan.plan["technology"] != "none"]
    last = tech[tech["year"] == 2030].set_index("technology")["offices_cumulative"]
    assert last.to_dict() == con["technology"].value_counts().to_dict()


def test_year_table_has_budget_and_people_per_technology(small_roadmap):
    plan = small_roadmap
    table = year_table(plan)
    assert table["year"].tolist() == list(range(2026, 2031))
    s = plan.summary["coverage_by_year"]
    assert table["population_cumulative"].tolist() == pytest.approx([s[y]["population_covered"] for y in s])
    techs = sorted(plan.plan.loc[plan.plan["technology"] != "none", "technology"].unique())
    people = table[[f"population_{t}" for t in techs]].sum(axis=1)
    assert people.tolist() == pytest.approx(table["population_new"].tolist())
    assert table[[f"offices_{t}" for t in techs]].sum(axis=1).tolist() == table["offices_connected"].tolist()
    # Budget used never exceeds what is available (6,000 USD a year plus carry-over).
    assert (table["budget_used_usd"] <= table["budget_usd"] + 1e-6).all()
    assert table["budget_usd"].iloc[0] == pytest.approx(6000.0)
    assert table["budget_used_share"].between(0, 1 + 1e-9).all()


def test_roadmap_section_and_phasing_a_plain_scenario_validate():
    section = roadmap_section({2026: 1e5, 2027: 2e5}, False, None, {"cellular_4g": 10, "fibre": None})
    assert section == {
        "annual_budget_usd": {2026: 100000.0, 2027: 200000.0},
        "carry_over": False,
        "build_capacity": {"per_technology": {"cellular_4g": 10}},
    }
    base = yaml.safe_load((ROOT / "scenarios" / "uttarakhand-fibre-shared.yaml").read_text(encoding="utf-8"))
    raw = phased(base, section, "fibre-phased")
    assert "budget_usd" not in raw and "infrastructure" not in raw and raw["name"] == "fibre-phased"
    assert base.get("infrastructure") and base.get("budget_usd")  # the base mapping is left alone
    raw["horizon"] = {"start_year": 2026, "end_year": 2027}
    scenario = scenario_from_dict(raw, base_dir=ROOT / "scenarios")
    assert scenario.roadmap is not None and scenario.roadmap.build_capacity.per_technology == {"cellular_4g": 10}
    # A budget per year must cover every year of the horizon: the schema says which are missing.
    raw["horizon"] = {"start_year": 2026, "end_year": 2028}
    with pytest.raises(InputError, match=r"missing \[2028\]"):
        scenario_from_dict(raw, base_dir=ROOT / "scenarios")


def test_form_defaults_from_the_bundled_roadmap_and_from_a_total_budget():
    raw = yaml.safe_load((ROOT / "scenarios" / "uttarakhand-roadmap.yaml").read_text(encoding="utf-8"))
    d = form_defaults(raw)
    assert d["years"] == [2026, 2027, 2028, 2029, 2030] and d["constant"] and d["carry_over"]
    assert d["budget_m"] == {y: 0.4 for y in d["years"]}
    assert d["total"] == 400 and d["per_technology"] == {"cellular_4g": 300, "leo_satellite": 100}
    plain = {"budget_usd": 2_000_000, "horizon": {"start_year": 2026, "end_year": 2029}}
    assert form_defaults(plain)["budget_m"] == {y: 0.5 for y in range(2026, 2030)}
    per_year = {"roadmap": {"annual_budget_usd": {2026: 1e6, 2027: 0}}, "horizon": {"end_year": 2027}}
    d = form_defaults(per_year)
    assert not d["constant"] and d["budget_m"] == {2026: 1.0, 2027: 0.0} and d["total"] is None


# --------------------------------------------------------------------------------------------- roadmap: page
OWN = "small (own data)"  # the label of a plan of the bundled roadmap scenario's settings on uploaded small.csv


@pytest.fixture(scope="module")
def roadmap_session() -> AppTest:
    """A session that ran the bundled roadmap scenario's settings on 25 uploaded offices."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.sidebar.radio(key="f_base").set_value("uttarakhand-roadmap").run()
    at.file_uploader(key="upload_offices").upload("small.csv", _small_offices(), "text/csv").run()
    at.button(key="run").click().run()
    _clean(at)
    assert list(at.session_state["runs"]) == [OWN]  # named after the uploaded offices, not the bundled scenario
    return _page(at, "Roadmap")


def test_roadmap_page_shows_the_years_and_reruns_with_new_budgets(roadmap_session):
    at = roadmap_session
    plan = at.session_state["runs"][OWN]["plan"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Offices connected"] == f"{plan.summary['offices_connected']:,}"
    charts = _charts(at)
    coverage = charts["rm_coverage"]
    assert coverage["layout"]["shapes"][0]["y0"] == pytest.approx(0.95)  # the target line
    assert _values(coverage["data"][0]["y"]) == pytest.approx(
        [plan.summary["coverage_by_year"][y]["coverage_share_population"] for y in range(2026, 2031)]
    )
    assert {"rm_offices", "rm_capex", "rm_budget"} <= set(charts)
    # One figure per year (the table starts from the current 0.4 M USD a year), re-run under the same name.
    key = f"plan-{OWN}"
    at.radio(key=f"rm_mode_{key}").set_value("per_year")
    at.button(key="rm_run").click().run()
    _clean(at)
    assert not at.error, [e.value for e in at.error]
    rerun = at.session_state["current"]  # kept beside the first plan, labelled by what changed
    assert rerun == f"{OWN} · other roadmap"
    rm = at.session_state["runs"][rerun]["plan"].scenario.roadmap
    assert rm.annual_budget_usd == {y: 400_000.0 for y in range(2026, 2031)}
    # A tighter roadmap under a new name: 3,000 USD a year, no carry-over, 2 offices a year.
    at.radio(key=f"rm_mode_{key}").set_value("constant")
    at.number_input(key=f"rm_every_{key}").set_value(0.003)
    at.checkbox(key=f"rm_c_{key}").set_value(False)
    at.number_input(key=f"rm_total_{key}").set_value(2)
    at.text_input(key=f"rm_n_{key}").set_value("tight-roadmap")
    at.button(key="rm_run").click().run()
    _clean(at)
    assert not at.error, [e.value for e in at.error]
    entry = at.session_state["runs"]["tight-roadmap"]
    rm = entry["plan"].scenario.roadmap
    assert rm.annual_budget_usd == pytest.approx(3000.0)
    assert rm.build_capacity.total == 2 and not rm.carry_over
    assert rm.build_capacity.per_technology == {"cellular_4g": 300, "leo_satellite": 100}
    table = year_table(entry["plan"])
    assert table["offices_connected"].max() <= 2
    assert (table["budget_used_usd"] <= 3000.0 + 1e-6).all()
    assert at.selectbox(key="rm_pick").value == "tight-roadmap"
    assert OWN in at.session_state["runs"]  # the earlier plan is kept for comparison


def test_roadmap_page_phases_a_plan_and_refuses_an_invalid_roadmap():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.file_uploader(key="upload_offices").upload("small.csv", _small_offices(160), "text/csv").run()
    name = "*b* [x](http://e.org)"
    at.text_input(key="f_name").set_value(name)
    at.selectbox(key="f_metric").set_value("communities")
    at.button(key="run").click().run()
    _clean(at)
    _page(at, "Roadmap")
    label = f"{name} (add a roadmap)"
    assert at.selectbox(key="rm_pick").value == label
    at.button(key="rm_run").click().run()
    _clean(at)
    body = at.error[0].value
    assert "a roadmap counts population-years or office-years" in body
    assert list(at.session_state["runs"]) == [name]  # nothing was run
    assert "last_error" not in at.session_state  # the Scenario page's error box is left alone
    # With the population metric (run again on the Scenario page) the same plan is phased, as "<name>-roadmap".
    _page(at, "Scenario")
    at.selectbox(key="f_metric").set_value("population")
    at.button(key="run").click().run()
    _clean(at)
    again = at.session_state["current"]  # the communities plan is kept; this one says what changed
    assert again == f"{name} · population" and name in at.session_state["runs"]
    budget = at.session_state["runs"][again]["plan"].scenario.budget_usd
    _page(at, "Roadmap")
    at.button(key="rm_run").click().run()
    _clean(at)
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="rm_pick").value == f"{again}-roadmap"
    phased_plan = at.session_state["runs"][f"{again}-roadmap"]["plan"]
    assert phased_plan.roadmap is not None and phased_plan.scenario.budget_usd is None
    assert phased_plan.scenario.roadmap.annual_budget_usd == pytest.approx(budget / 5)


# --------------------------------------------------------------------------------------------- countries
POOL = "himalaya-pool"  # 502 offices of IND, NPL and BTN: about a second per solve


def _pool_raw() -> dict:
    path = ROOT / "scenarios" / f"{POOL}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["data"] = {k: str((path.parent / v).resolve()) for k, v in raw["data"].items()}
    raw["countries"]["files"] = {k: str((path.parent / v).resolve()) for k, v in raw["countries"]["files"].items()}
    return raw


def test_countries_mapping_pool_and_budgets_follow_the_schema():
    raw = _pool_raw()
    budgets = countries_mapping(raw, "budgets", 0.0, {}, {"IND": 1e5, "NPL": 2e5, "BTN": 5e4}, "per-country")
    assert "budget_usd" not in budgets and "min_share" not in budgets["countries"]
    assert budgets["countries"]["budgets"] == {"IND": 1e5, "NPL": 2e5, "BTN": 5e4}
    assert scenario_from_dict(budgets, base_dir=ROOT).countries.budgets["NPL"] == 2e5
    pool = countries_mapping(budgets, "pool", 7e5, {"IND": None, "NPL": 0.5, "BTN": 0.0}, {}, "pool", "auto")
    assert pool["budget_usd"] == 7e5 and "budgets" not in pool["countries"]
    assert pool["countries"]["min_share"] == {"NPL": 0.5} and pool["countries"]["method"] == "auto"
    assert scenario_from_dict(pool, base_dir=ROOT).countries.min_share == {"NPL": 0.5}
    assert raw["countries"]["min_share"] == {"NPL": 0.25, "BTN": 0.10}  # the base mapping is left alone
    over = countries_mapping(raw, "pool", 5e5, {"NPL": 0.7, "BTN": 0.5}, {}, "over")
    with pytest.raises(InputError, match=r"adds up to 1\.2 of the pool"):
        scenario_from_dict(over, base_dir=ROOT)


def test_single_country_and_robustness_bands():
    raw = _pool_raw()
    alone = single_country(raw, "NPL", 123_000.0)
    assert "countries" not in alone and alone["data"]["offices"].endswith("offices_NPL.csv")
    assert alone["budget_usd"] == 123_000.0 and alone["name"] == f"{POOL}-NPL"
    assert scenario_from_dict(alone, base_dir=ROOT).countries is None
    with pytest.raises(ValueError, match="LKA has no offices file"):
        single_country(raw, "LKA", 1.0)
    shares = pd.DataFrame({"base_choice_share": [1.0, 0.9, 0.89, 0.5, 0.2, np.nan]})
    assert robustness(shares).tolist() == [
        "same in ≥ 90 % of samples", "same in ≥ 90 % of samples", "same in 50-90 %", "same in 50-90 %",
        "same in under 50 %", "no feasible sample",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def countries_session() -> AppTest:
    """A session that ran the bundled three-country pool on the Countries page."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _page(at, "Countries")
    at.selectbox(key="ct_pick").set_value(POOL).run()
    at.button(key="ct_run").click().run()
    _clean(at)
    assert not at.error, [e.value for e in at.error]
    return at


def test_countries_page_runs_the_pool_and_shows_each_country(countries_session):
    at = countries_session
    plan = at.session_state["runs"][POOL]["plan"]
    s = plan.summary
    table = country_table(plan)
    assert table["country"].tolist() == ["BTN", "IND", "NPL"]
    assert table["offices_connected"].sum() == s["offices_connected"]
    assert table["population_covered"].sum() == pytest.approx(s["population_covered"])
    assert table["cost_usd"].sum() == pytest.approx(s["total_cost_usd"])
    for row in table.itertuples():
        by = s["by_country"][row.country]
        assert (row.offices_planned, row.offices_connected) == (by["offices_planned"], by["offices_connected"])
        assert row.coverage_share == pytest.approx(by["population_covered"] / by["population_planned"])
        assert row.cost_per_person_usd == pytest.approx(by["cost_usd"] / by["population_covered"])
    reserved = table.set_index("country")["reserved_usd"]
    assert reserved.to_dict() == pytest.approx({"BTN": 50_000.0, "IND": 0.0, "NPL": 125_000.0})
    assert table["cost_usd"].sum() <= 500_000 + 1.0  # the pool
    shown = _table(at, "Offices connected")
    assert shown["Offices connected"].tolist() == table["offices_connected"].tolist()
    assert shown["Coverage (% of the country's people)"].tolist() == pytest.approx(
        (100 * table["coverage_share"]).round(1).tolist()
    )
    assert "ct_map" in _charts(at)
    # Colour the map by country: one trace per country.
    at.radio(key="ct_colour").set_value("country").run()
    _clean(at)
    offices = [t for t in _charts(at)["ct_map"]["data"] if t.get("legendgroup")]  # not boundaries, towns, lines
    assert sorted(t["name"] for t in offices) == ["BTN", "IND", "NPL"]


def test_countries_page_budgets_per_country_and_schema_errors(countries_session):
    at = countries_session
    # Shares adding up to more than the pool: the schema's message, escaped, and nothing is run.
    at.number_input(key=f"ct_share_{POOL}_NPL").set_value(0.7)
    at.number_input(key=f"ct_share_{POOL}_BTN").set_value(0.5)
    at.button(key="ct_run").click().run()
    _clean(at)
    body = at.error[0].value
    assert md("countries.min_share adds up to 1.2 of the pool (at most 1)") in body, body
    assert list(at.session_state["runs"]) == [POOL]
    # A budget per country, under a new name: each country planned within its own budget.
    at.radio(key=f"ct_mode_{POOL}").set_value("budgets")
    budgets = {"BTN": 0.02, "IND": 0.1, "NPL": 0.15}
    for iso, m in budgets.items():
        at.number_input(key=f"ct_budget_{POOL}_{iso}").set_value(m)
    at.text_input(key=f"ct_name_{POOL}").set_value("pool-per-country")
    at.button(key="ct_run").click().run()
    _clean(at)
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="ct_pick").value == "pool-per-country"
    plan = at.session_state["runs"]["pool-per-country"]["plan"]
    assert plan.scenario.countries.budgets == pytest.approx({k: v * 1e6 for k, v in budgets.items()})
    assert plan.scenario.budget_usd is None and plan.summary["countries"]["mode"] != "pool"
    table = country_table(plan).set_index("country")
    assert table["budget_usd"].to_dict() == pytest.approx({k: v * 1e6 for k, v in budgets.items()})
    assert (table["cost_usd"] <= table["budget_usd"] + 1e-6).all()
    at.selectbox(key="ct_pick").set_value(POOL).run()  # back to the pool for the next tests
    _clean(at)


def test_monte_carlo_from_the_app_refuses_mixed_overlays_then_runs(countries_session):
    at = countries_session
    at.selectbox(key="ct_pick").set_value(POOL).run()
    at.number_input(key="mc_n").set_value(3)
    at.number_input(key="mc_seed").set_value(1)
    at.button(key="mc_run").click().run()
    _clean(at)
    body = at.error[0].value
    assert "Monte Carlo refused" in body and md("name catalogue_region in the scenario") in body, body
    assert any("one overlay" in i.value for i in at.info)
    assert "mc_result" not in at.session_state
    # Every office priced with the IND overlay: three seeded samples.
    at.selectbox(key=f"mc_overlay_{POOL}").set_value("IND")
    at.button(key="mc_run").click().run()
    _clean(at)
    assert not at.error, [e.value for e in at.error]
    result = at.session_state["mc_result"]
    mc = result["mc"]
    assert mc.summary["samples"] == 3 and mc.summary["seed"] == 1 and result["label"] == "every country, IND overlay"
    assert mc.samples["sample"].tolist() == [0, 1, 2]
    table = percentile_table(mc).set_index("figure")
    cost = table.loc["total cost (USD, budget basis)"]
    assert cost["P10"] <= cost["P50"] <= cost["P90"] <= 500_000 + 1.0  # within the pool
    assert cost["P50"] == pytest.approx(float(np.percentile(mc.samples["total_cost_usd"], 50)))
    shown = _table(at, "P50").set_index("Figure")  # the same figures as text: K/M USD, people, %
    assert shown.loc["total cost (USD, budget basis)", "P50"] == money(cost["P50"])
    assert shown.loc["coverage (share of the metric)", "P90"] == share(
        table.loc["coverage (share of the metric)", "P90"]
    )
    robust = [t for t in _charts(at)["mc_map"]["data"] if t.get("legendgroup")]  # the offices' traces
    counts = robustness(mc.offices).value_counts().to_dict()
    assert {t["name"]: len(_values(t["lat"])) for t in robust} == counts
    assert at.get("status")[-1].proto.label.startswith("Monte Carlo done: ")
    # One country alone (Nepal's file, its own budget): two samples.
    at.radio(key=f"mc_scope_{POOL}").set_value("NPL")
    at.run()
    at.number_input(key=f"mc_budget_{POOL}_NPL").set_value(0.1)
    at.number_input(key="mc_n").set_value(2)
    at.button(key="mc_run").click().run()
    _clean(at)
    assert not at.error, [e.value for e in at.error]
    mc = at.session_state["mc_result"]["mc"]
    assert mc.summary["samples"] == 2 and mc.summary["scenario"] == f"{POOL}-NPL"
    assert mc.offices["office_id"].str.startswith("NPL-").all()
    assert mc.summary["total_cost_usd"]["p90"] <= 100_000 + 1.0
