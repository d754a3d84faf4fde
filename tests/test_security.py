"""The security baseline: its own cost lines for the offices that must have it, worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from planner.pipeline import prepare, solve_prepared
from planner.scenario import load_catalogue, load_scenario


def scenario(tmp: Path, **top: object) -> Path:
    pd.DataFrame(
        {"office_id": ["mail", "bank", "gov"], "lat": [0.0] * 3, "lon": [0.0, 0.01, 0.02], "population": [100] * 3,
         "services": ["mail", "mail;financial", "mail;e_government"]}
    ).to_csv(tmp / "offices.csv", index=False)  # fmt: skip
    raw = {"name": "sec", "data": {"offices": "offices.csv"}, "budget_usd": 1e6, "budget_basis": "tco", **top}
    (tmp / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return tmp / "s.yaml"


def test_offices_offering_financial_or_e_government_services_pay_the_baseline(tmp_path: Path) -> None:
    """Gateway 550 USD once (5-year life: no replacement in 2026-2030); yearly 72 endpoint + 0 DNS + 168 mail +
    0 training = 240 USD, discounted over 5 years at 8 %: 240 · 3.99271 = 958.25; TCO line 1,508.25 USD."""
    sec = load_catalogue().security
    assert sec is not None and sec.office_usd_per_year() == 72 + 0 + 168 + 0
    opts = prepare(load_scenario(scenario(tmp_path))).options.set_index(["office_id", "technology"])
    off = prepare(load_scenario(scenario(tmp_path, security={"required_for_services": []}))).options
    off = off.set_index(["office_id", "technology"])
    for office in ("bank", "gov"):
        row = opts.loc[(office, "leo_satellite")]
        assert row["capex_security_usd"] == 550 and row["opex_security_usd_per_year"] == 240
        assert "security.firewall_capex_usd@base" in row["cost_keys"]
        af = sum(1.08**-k for k in range(1, 6))
        assert row["tco_usd"] - off.loc[(office, "leo_satellite"), "tco_usd"] == pytest.approx(550 + 240 * af)
        assert row["capex_usd"] - off.loc[(office, "leo_satellite"), "capex_usd"] == pytest.approx(550)
    mail = opts.loc[("mail", "leo_satellite")]
    assert mail["capex_security_usd"] == 0 and "security." not in mail["cost_keys"]
    only_fin = prepare(load_scenario(scenario(tmp_path, security={"required_for_services": ["financial"]}))).options
    assert set(only_fin.loc[only_fin["office_id"] == "gov", "capex_security_usd"]) == {0.0}


def test_the_plan_reports_the_security_lines_and_the_country_costs(tmp_path: Path) -> None:
    plan = solve_prepared(prepare(load_scenario(scenario(tmp_path))))
    s = plan.summary["security"]
    assert s["offices_with_baseline"] == 2
    assert s["office_capex_usd"] == pytest.approx(2 * 550) and s["office_opex_usd_per_year"] == pytest.approx(480)
    assert s["country"]["one_off_usd"] == pytest.approx(252_900 + 1_000)
    assert s["country"]["per_year_usd"] == pytest.approx(202_320 + 2_800)
    row = plan.plan.set_index("office_id").loc["bank"]
    assert row["capex_security_usd"] == 550 and row["opex_security_usd_per_year"] == 240
    quiet = solve_prepared(prepare(load_scenario(scenario(tmp_path, security={"country_costs": "none"}))))
    assert quiet.summary["security"]["country"] is None
