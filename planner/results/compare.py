"""Side-by-side KPIs of several plans (used by ``planner compare`` and the app)."""

from __future__ import annotations

from typing import Any

import pandas as pd

KPIS = [
    ("status", "status"),
    ("objective", "objective"),
    ("mip_gap", "gap"),
    ("offices_connected", "offices connected"),
    ("offices_planned", "offices planned"),
    ("population_covered", "population covered"),
    ("coverage_share_population", "population share"),
    ("communities_connected", "communities connected"),
    ("total_cost_usd", "cost USD (budget basis)"),
    ("total_capex_usd", "capex USD"),
    ("total_opex_usd_per_year", "opex USD/year"),
    ("total_tco_usd", "TCO USD"),
    ("total_tco_residual_usd", "TCO less residual value USD"),
    ("total_annualised_usd", "annualised cost USD"),
    ("cost_basis", "economic cost basis"),
    ("total_economic_cost_usd", "economic cost USD"),
    ("cost_per_person_usd", "cost per person USD"),
    ("cost_per_community_usd", "cost per community USD"),
]


def kpi_table(summaries: list[dict[str, Any]]) -> pd.DataFrame:
    """One column per scenario, one row per KPI, then offices by technology; differences to the first."""
    cols = {}
    techs = sorted({t for s in summaries for t in s.get("by_technology", {})})
    for s in summaries:
        col = {label: s.get(key) for key, label in KPIS}
        for t in techs:
            col[f"offices by {t}"] = s.get("by_technology", {}).get(t, {}).get("offices", 0)
        cols[s["scenario"]] = col
    table = pd.DataFrame(cols)
    if len(summaries) > 1:
        first = table.iloc[:, 0]
        for name in table.columns[1:]:
            num = pd.to_numeric(table[name], errors="coerce")
            base = pd.to_numeric(first, errors="coerce")
            table[f"{name} − {table.columns[0]}"] = (num - base).where(num.notna() & base.notna(), "")
    return table
