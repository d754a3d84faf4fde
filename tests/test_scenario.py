"""Scenario files and the technology catalogue (planner/scenario.py, DESIGN §4): strict schema, clear issues,
path resolution, catalogue overrides, and the committed JSON Schema kept in sync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.errors import InputError, Issue
from planner.scenario import (
    Catalogue,
    Figure,
    Scenario,
    catalogue_for,
    catalogue_table,
    default_catalogue_path,
    load_catalogue,
    load_scenario,
    scenario_from_dict,
    scenario_json_schema,
    write_json_schema,
)

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))
DATA = REPO / "data" / "uttarakhand"


def base(**over: Any) -> dict[str, Any]:
    """A minimal valid scenario with absolute data paths."""
    raw: dict[str, Any] = {
        "name": "test",
        "data": {
            "offices": str(DATA / "offices.csv"),
            "fibre_nodes": str(DATA / "fibre_nodes.csv"),
            "towers": str(DATA / "towers.csv"),
        },
        "objective": "max_coverage",
        "budget_usd": 1_000_000,
    }
    raw.update(over)
    return raw


def write_scenario(path: Path, raw: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def load_issues(path: Path) -> list[Issue]:
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    assert exc.value.issues
    return exc.value.issues


def by_column(issues: list[Issue]) -> dict[str | None, Issue]:
    return {i.column: i for i in issues}


# --------------------------------------------------------------------------------------------- valid files
def test_minimal_scenario_and_defaults(tmp_path):
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", base()))
    assert isinstance(sc, Scenario)
    assert sc.technologies == "default"
    assert sc.coverage_metric == "population"
    assert sc.budget_basis == "capex"
    assert (sc.horizon.start_year, sc.horizon.end_year, sc.horizon.years) == (2026, 2030, 5)
    assert sc.discount_rate == 0.08
    assert sc.solver.time_limit_s == 60 and sc.solver.mip_gap == 1e-4
    assert sc.policy.allowed_technologies is None
    assert sc.data.options is None and sc.data.roads is None


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_validates(path):
    sc = load_scenario(path)
    assert sc.name == path.stem
    offices = [sc.data.offices] if sc.data.offices is not None else list(sc.countries.files.values())
    assert offices and all(p.is_absolute() and p.exists() for p in offices)
    catalogue = catalogue_for(sc)
    assert catalogue.technologies
    raw = yaml.safe_load(path.read_text())
    assert raw["name"] == sc.name


def test_shipped_scenario_names_are_unique():
    names = [load_scenario(p).name for p in SCENARIOS]
    assert len(names) == len(set(names)) and len(names) >= 3


def test_paths_resolve_relative_to_the_scenario_file(tmp_path, monkeypatch):
    data = tmp_path / "inputs"
    data.mkdir()
    (data / "offices.csv").write_text("office_id,lat,lon,population\nA,29,79,1\n")
    (data / "nodes.csv").write_text("node_id,lat,lon\nN,29,79\n")
    path = write_scenario(
        tmp_path / "sub" / "deeper" / "s.yaml",
        {
            "name": "rel",
            "budget_usd": 5,
            "data": {"offices": "../../inputs/offices.csv", "fibre_nodes": "../../inputs/nodes.csv"},
        },
    )
    monkeypatch.chdir(tmp_path / "sub")  # the working directory must not matter
    sc = load_scenario(Path("deeper") / "s.yaml")
    assert sc.data.offices == (data / "offices.csv").resolve()
    assert sc.data.fibre_nodes == (data / "nodes.csv").resolve()
    assert sc.data.towers is None
    assert path.exists()


def test_technologies_path_resolves_relative_to_the_scenario_file(tmp_path):
    cat = tmp_path / "cfg" / "cat.yaml"
    cat.parent.mkdir()
    cat.write_text(default_catalogue_path().read_text())
    path = write_scenario(tmp_path / "s" / "s.yaml", base(technologies="../cfg/cat.yaml"))
    sc = load_scenario(path)
    assert Path(sc.technologies) == cat.resolve()
    assert set(catalogue_for(sc).technologies) == set(load_catalogue().technologies)


def test_scenario_from_dict_resolves_against_base_dir(tmp_path):
    (tmp_path / "o.csv").write_text("office_id,lat,lon,population\nA,29,79,1\n")
    sc = scenario_from_dict({"name": "app", "data": {"offices": "o.csv"}, "budget_usd": 1}, base_dir=tmp_path)
    assert sc.data.offices == (tmp_path / "o.csv").resolve()


# --------------------------------------------------------------------------------------------- schema errors
def test_unknown_top_level_key(tmp_path):
    path = write_scenario(tmp_path / "s.yaml", base(budjet_usd=5))
    issues = load_issues(path)
    issue = by_column(issues)["budjet_usd"]
    assert issue.file == str(path)
    assert "unknown key" in issue.message
    assert "budjet_usd" in str(InputError(issues))


@pytest.mark.parametrize(
    "over,key",
    [
        ({"solver": {"time_limt_s": 5}}, "solver.time_limt_s"),
        ({"horizon": {"start_year": 2026, "end_yr": 2030}}, "horizon.end_yr"),
        ({"policy": {"allowed_technology": ["fibre"]}}, "policy.allowed_technology"),
        ({"demand": {"floor": 3}}, "demand.floor"),
    ],
)
def test_unknown_nested_key(tmp_path, over, key):
    path = write_scenario(tmp_path / "s.yaml", base(**over))
    issue = by_column(load_issues(path))[key]
    assert issue.file == str(path)
    assert "unknown key" in issue.message


def test_unknown_data_key(tmp_path):
    raw = base()
    raw["data"]["office"] = raw["data"]["offices"]
    path = write_scenario(tmp_path / "s.yaml", raw)
    assert "data.office" in by_column(load_issues(path))


@pytest.mark.parametrize(
    "over,key,words",
    [
        ({"budget_usd": "lots"}, "budget_usd", ["number", "lots"]),
        ({"horizon": {"start_year": "soon"}}, "horizon.start_year", ["integer"]),
        ({"objective": "max_profit"}, "objective", ["max_coverage", "min_cost"]),
        ({"coverage_metric": "people"}, "coverage_metric", ["population"]),
        ({"solver": {"mip_gap": [1]}}, "solver.mip_gap", ["number"]),
        ({"name": ""}, "name", []),
        ({"discount_rate": 1.5}, "discount_rate", ["less than 1", "1.5"]),
        ({"discount_rate": -0.1}, "discount_rate", ["greater than or equal to 0"]),
        ({"budget_usd": -1}, "budget_usd", ["greater than or equal to 0"]),
        ({"objective": "min_cost", "coverage_target": 0}, "coverage_target", ["greater than 0"]),
        ({"objective": "min_cost", "coverage_target": 1.2}, "coverage_target", ["less than or equal to 1"]),
        ({"solver": {"time_limit_s": 0}}, "solver.time_limit_s", ["greater than 0"]),
        ({"policy": {"region_min_coverage": {"*": 2}}}, "policy.region_min_coverage.*", ["less than or equal to 1"]),
        ({"demand": {"service_mbps": {"mail": 2, "gaming": 50}}}, "demand", ["gaming"]),
    ],
)
def test_wrong_type_or_out_of_range(tmp_path, over, key, words):
    path = write_scenario(tmp_path / "s.yaml", base(**over))
    issues = load_issues(path)
    assert key in by_column(issues), [str(i) for i in issues]
    issue = by_column(issues)[key]
    assert issue.file == str(path)
    for word in words:
        assert word in issue.message, str(issue)


def test_several_schema_errors_reported_together(tmp_path):
    path = write_scenario(tmp_path / "s.yaml", base(discount_rate=1.5, solver={"time_limt_s": 5}, budget_usd="x"))
    assert {"discount_rate", "solver.time_limt_s", "budget_usd"} <= set(by_column(load_issues(path)))


def test_max_coverage_needs_budget(tmp_path):
    raw = base()
    del raw["budget_usd"]
    issues = load_issues(write_scenario(tmp_path / "s.yaml", raw))
    assert any("max_coverage" in str(i) and "budget_usd" in str(i) for i in issues)


def test_min_cost_needs_coverage_target(tmp_path):
    issues = load_issues(write_scenario(tmp_path / "s.yaml", base(objective="min_cost")))
    assert any("min_cost" in str(i) and "coverage_target" in str(i) for i in issues)


def test_min_cost_with_target_is_valid(tmp_path):
    raw = base(objective="min_cost", coverage_target=0.9)
    del raw["budget_usd"]
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", raw))
    assert sc.coverage_target == 0.9 and sc.budget_usd is None


def test_horizon_end_before_start(tmp_path):
    issues = load_issues(write_scenario(tmp_path / "s.yaml", base(horizon={"start_year": 2030, "end_year": 2026})))
    issue = by_column(issues)["horizon"]
    assert "end_year 2026 is before start_year 2030" in issue.message


def test_single_year_horizon(tmp_path):
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", base(horizon={"start_year": 2027, "end_year": 2027})))
    assert sc.horizon.years == 1


def test_missing_data_file_named_with_its_key(tmp_path):
    raw = base()
    raw["data"]["offices"] = "nowhere/offices.csv"
    raw["data"]["towers"] = "nowhere/towers.csv"
    path = write_scenario(tmp_path / "s.yaml", raw)
    issues = by_column(load_issues(path))
    assert set(issues) == {"data.offices", "data.towers"}
    assert issues["data.offices"].file == str(path)
    assert "file not found" in issues["data.offices"].message
    assert str((tmp_path / "nowhere" / "offices.csv").resolve()) in issues["data.offices"].message


def test_missing_data_section_and_offices_key(tmp_path):
    raw = base()
    del raw["data"]
    assert "data" in by_column(load_issues(write_scenario(tmp_path / "a.yaml", raw)))
    raw = base(data={"fibre_nodes": str(DATA / "fibre_nodes.csv")})
    issues = load_issues(write_scenario(tmp_path / "b.yaml", raw))
    assert any("data.offices is required" in i.message for i in issues), [i.message for i in issues]


def test_scenario_file_not_found(tmp_path):
    issues = load_issues(tmp_path / "absent.yaml")
    assert issues[0].file == str(tmp_path / "absent.yaml") and "not found" in issues[0].message


def test_invalid_yaml_reports_the_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: broken\ndescription: fine\ndata: {offices: [a.csv\nbudget_usd: 5\n")
    (issue,) = load_issues(path)
    assert issue.file == str(path)
    assert issue.row is not None and issue.row >= 3
    assert "YAML" in issue.message
    assert f"row {issue.row}" in str(issue)


def test_invalid_yaml_indentation_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: x\nbudget_usd: 5\n  data: y\n")
    (issue,) = load_issues(path)
    assert issue.row == 3


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", ""])
def test_top_level_must_be_a_mapping(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    (issue,) = load_issues(path)
    assert issue.file == str(path) and "mapping" in issue.message


# --------------------------------------------------------------------------------------------- catalogue
def test_inline_override_with_a_bare_number(tmp_path):
    sc = load_scenario(
        write_scenario(
            tmp_path / "s.yaml",
            base(technologies={"fibre": {"capex_per_km_usd": 5000, "reach": {"max_distance_km": 10}}}),
        )
    )
    cat = catalogue_for(sc)
    default = load_catalogue()
    fibre = cat.technologies["fibre"]
    assert fibre.capex_per_km_usd == Figure(value=5000, low=5000, high=5000, source="scenario override")
    assert fibre.reach.max_distance_km == 10
    # everything not overridden keeps the default, also inside the merged reach block
    assert fibre.reach.route_factor == default.technologies["fibre"].reach.route_factor
    assert fibre.reach.anchors == default.technologies["fibre"].reach.anchors
    assert fibre.capex_fixed_usd == default.technologies["fibre"].capex_fixed_usd
    assert cat.technologies["microwave"] == default.technologies["microwave"]


def test_inline_override_with_a_full_figure():
    fig = {"value": 700, "low": 500, "high": 900, "source": "tender 2025"}
    cat = load_catalogue({"leo_satellite": {"capex_fixed_usd": fig, "mbps": 150}})
    leo = cat.technologies["leo_satellite"]
    assert leo.capex_fixed_usd == Figure(**fig)
    assert leo.mbps == 150


BAD_FIGURE = {"value": 5, "low": 6, "high": 9, "source": "x"}  # value below its low end


@pytest.mark.parametrize(
    "override,key",
    [
        ({"fibre": {"capex_per_kilometre": 1}}, "technologies.fibre.capex_per_kilometre"),
        ({"fibre": {"reach": {"max_km": 3}}}, "technologies.fibre.reach.max_km"),
        ({"fibre": {"mbps": -5}}, "technologies.fibre.mbps"),
        ({"fibre": {"capex_fixed_usd": BAD_FIGURE}}, "technologies.fibre.capex_fixed_usd"),
    ],
)
def test_bad_override_field_is_named(tmp_path, override, key):
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", base(technologies=override)))
    with pytest.raises(InputError) as exc:
        catalogue_for(sc)
    columns = [i.column for i in exc.value.issues]
    assert key in columns, [str(i) for i in exc.value.issues]
    assert key in str(exc.value)


def test_override_must_be_a_mapping():
    with pytest.raises(InputError) as exc:
        load_catalogue({"fibre": 5})  # type: ignore[dict-item]
    assert exc.value.issues[0].column == "technologies.fibre"


def test_override_may_add_a_complete_technology():
    new = {
        "label": "TV white space",
        "kind": "microwave",
        "capex_fixed_usd": 2000,
        "opex_per_year_usd": 100,
        "mbps": 20,
        "latency_ms": 30,
        "lifetime_years": 8,
    }
    cat = load_catalogue({"tvws": new})
    assert cat.technologies["tvws"].capex_fixed_usd.value == 2000
    with pytest.raises(InputError) as exc:
        load_catalogue({"tvws": {"mbps": 20}})
    assert "technologies.tvws.label" in {i.column for i in exc.value.issues}


@pytest.mark.parametrize("key", ["allowed_technologies", "technology_max_share"])
def test_unknown_technology_in_policy(tmp_path, key):
    value = ["fibre", "hyperloop"] if key == "allowed_technologies" else {"hyperloop": 0.5}
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", base(policy={key: value})))
    with pytest.raises(InputError) as exc:
        catalogue_for(sc)
    (issue,) = exc.value.issues
    assert issue.column == f"policy.{key}"
    assert "unknown technology 'hyperloop'" in issue.message
    assert "fibre" in issue.message  # the known names are listed


def test_policy_may_name_an_overridden_new_technology(tmp_path):
    new = {"label": "x", "kind": "satellite", "capex_fixed_usd": 1, "opex_per_year_usd": 1, "mbps": 10,
           "latency_ms": 600, "lifetime_years": 5}  # fmt: skip
    sc = load_scenario(
        write_scenario(tmp_path / "s.yaml", base(technologies={"geo2": new}, policy={"allowed_technologies": ["geo2"]}))
    )
    assert "geo2" in catalogue_for(sc).technologies


def test_default_catalogue_figures_have_sources_and_ranges():
    cat = load_catalogue()
    assert isinstance(cat, Catalogue)
    assert set(cat.technologies) >= {"fibre", "cellular_4g", "microwave", "geo_satellite", "leo_satellite"}
    entries = [*cat.technologies.items(), ("power", cat.power)]
    figures = 0
    for name, entry in entries:
        for field in type(entry).model_fields:
            value = getattr(entry, field)
            if isinstance(value, Figure):
                figures += 1
                assert value.source.strip(), f"{name}.{field} has no source"
                assert value.low <= value.value <= value.high, f"{name}.{field}: {value}"
                assert value.low >= 0
    assert figures >= 5 * 3 + 2


def test_default_catalogue_yaml_states_every_figure_explicitly():
    """Every figure written in the YAML carries value, low, high and a non-empty source (no bare numbers)."""
    raw = yaml.safe_load(default_catalogue_path().read_text())
    fig_fields = {k for k, f in Figure.model_fields.items()}
    required = {k for k, f in Figure.model_fields.items() if f.is_required()}  # value, low, high, source

    def walk(node: Any, where: str) -> int:
        count = 0
        if isinstance(node, dict):
            if "value" in node:
                assert required <= set(node) <= fig_fields, where
                assert str(node["source"]).strip(), where
                assert node["low"] <= node["value"] <= node["high"], where
                return 1
            for k, v in node.items():
                count += walk(v, f"{where}.{k}")
        return count

    assert walk(raw, "catalogue") >= 17


def test_catalogue_table_lists_sources():
    rows = catalogue_table(load_catalogue())
    assert rows
    assert all(r["source"] and r["low"] <= r["value"] <= r["high"] for r in rows)
    assert {r["technology"] for r in rows} >= {"fibre", "leo_satellite", "power", "tower_site"}
    assert all(r["source_id"] or r["source"].startswith("planner estimate") for r in rows)  # every figure traced


def test_figure_from_number_and_range_check():
    assert Figure.model_validate(3) == Figure(value=3, low=3, high=3, source="scenario override")
    with pytest.raises(ValueError, match="low <= value <= high"):
        Figure(value=10, low=1, high=5, source="x")


# --------------------------------------------------------------------------------------------- JSON schema
def test_committed_json_schema_is_in_sync():
    committed = json.loads((REPO / "scenarios" / "scenario.schema.json").read_text(encoding="utf-8"))
    assert committed == scenario_json_schema(), (
        "scenarios/scenario.schema.json is stale: run `planner schema scenarios/scenario.schema.json`"
    )


def test_json_schema_forbids_unknown_keys_and_documents_fields(tmp_path):
    schema = scenario_json_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["additionalProperties"] is False
    assert {"name", "data", "objective", "budget_usd", "coverage_target", "horizon", "solver"} <= set(
        schema["properties"]
    )
    assert "name" in schema["required"] and "data" in schema["required"]
    for definition in schema.get("$defs", {}).values():
        if definition.get("type") == "object" and "properties" in definition:
            assert definition.get("additionalProperties") is False, definition.get("title")
    out = tmp_path / "schema.json"
    write_json_schema(out)
    assert json.loads(out.read_text()) == schema


def test_shipped_scenarios_point_at_the_schema():
    for path in SCENARIOS:
        first = path.read_text().splitlines()[0]
        assert "$schema=./scenario.schema.json" in first, path.name
