"""Several plans side by side: KPIs, and what differs by region, technology and office.

KPI tables serve ``planner compare`` and the app; the differences serve the app's Compare page. Pure pandas.
"""

from __future__ import annotations

from collections.abc import Mapping
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


# --------------------------------------------------------------------------------------------- plan differences
MINUS = "\u2212"
#: How an office differs between plan A and plan B, in the order the counts are listed.
CHANGES = ("connected", "dropped", "other technology", "other year", "only in A", "only in B")
CHANGE_WORDS = {
    "connected": "connected in B, not in A",
    "dropped": "connected in A, not in B",
    "other technology": "connected in both, by another technology",
    "other year": "same technology, built in another year",
    "only in A": "planned in A only (other data)",
    "only in B": "planned in B only (other data)",
}
_NONE = "none"
_OFFICE_COLUMNS = ["office_id", "name", "region", "population"]


def _side(plan: pd.DataFrame, tag: str) -> pd.DataFrame:
    """The columns of one plan table that a comparison reads, suffixed ``_a`` or ``_b``."""
    cols = {c: c for c in _OFFICE_COLUMNS if c in plan.columns}
    side = plan[[*cols, "technology", *(c for c in ("year", "cost_usd") if c in plan.columns)]].copy()
    side["office_id"] = side["office_id"].astype(str)
    for col in ("year", "cost_usd"):
        if col not in side.columns:
            side[col] = pd.NA
    return side.rename(columns={c: f"{c}_{tag}" for c in side.columns if c != "office_id"})


def office_changes(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """The offices whose plan differs between two plan tables (``plan.csv`` of plan A and plan B).

    One row per office that is connected in one plan only (``connected``: in B, not A; ``dropped``: in A, not
    B), connected by another technology (``other technology``) or by the same in another year (``other year``,
    roadmaps), or planned in one plan only (``only in A`` / ``only in B``: the plans read other offices).

    Columns ``office_id, name, region, population, change, technology_a, technology_b, year_a, year_b,
    cost_usd_a, cost_usd_b, cost_change_usd`` (USD, B minus A; a plan without the office counts 0 USD), sorted by
    change (:data:`CHANGES` order) then office. Offices the same in both plans are left out.
    """
    both = _side(a, "a").merge(_side(b, "b"), on="office_id", how="outer", indicator=True)
    for col in _OFFICE_COLUMNS[1:]:
        ca, cb = f"{col}_a", f"{col}_b"
        left = both[ca] if ca in both.columns else pd.Series(pd.NA, index=both.index)
        right = both[cb] if cb in both.columns else pd.Series(pd.NA, index=both.index)
        both[col] = left.where(left.notna(), right)
    ta = both["technology_a"].fillna(_NONE).astype(str)
    tb = both["technology_b"].fillna(_NONE).astype(str)
    on_a, on_b = ta != _NONE, tb != _NONE
    ya = pd.to_numeric(both["year_a"], errors="coerce")
    yb = pd.to_numeric(both["year_b"], errors="coerce")
    other_year = on_a & on_b & (ta == tb) & ya.notna() & yb.notna() & (ya != yb)
    change = pd.Series(pd.NA, index=both.index, dtype="object")
    change[on_a & on_b & (ta != tb)] = "other technology"
    change[other_year] = "other year"
    change[~on_a & on_b] = "connected"
    change[on_a & ~on_b] = "dropped"
    change[both["_merge"] == "left_only"] = "only in A"
    change[both["_merge"] == "right_only"] = "only in B"
    both["change"] = change
    both["technology_a"] = both["technology_a"].where(both["_merge"] != "right_only", "not planned")
    both["technology_b"] = both["technology_b"].where(both["_merge"] != "left_only", "not planned")
    cost_a = pd.to_numeric(both["cost_usd_a"], errors="coerce").fillna(0.0)
    cost_b = pd.to_numeric(both["cost_usd_b"], errors="coerce").fillna(0.0)
    both["cost_change_usd"] = cost_b - cost_a
    out = both[both["change"].notna()].copy()
    out["_order"] = out["change"].map({c: i for i, c in enumerate(CHANGES)})
    out = out.sort_values(["_order", "office_id"]).reset_index(drop=True)
    cols = [*_OFFICE_COLUMNS, "change", "technology_a", "technology_b", "year_a", "year_b", "cost_usd_a",
            "cost_usd_b", "cost_change_usd"]  # fmt: skip
    return out[cols]


def change_counts(changes: pd.DataFrame) -> pd.DataFrame:
    """Per kind of change (:data:`CHANGES`, all of them, in order): offices, their population, cost change (USD).

    ``changes`` is an :func:`office_changes` table.
    """
    pop = pd.to_numeric(changes["population"], errors="coerce").fillna(0.0)
    grouped = changes.assign(population=pop).groupby("change")
    table = pd.DataFrame({
        "offices": grouped.size(),
        "population": grouped["population"].sum(),
        "cost_change_usd": grouped["cost_change_usd"].sum(),
    }).reindex(list(CHANGES)).fillna(0.0)  # fmt: skip
    table["offices"] = table["offices"].astype(int)
    table.insert(0, "meaning", [CHANGE_WORDS[c] for c in table.index])
    return table.rename_axis("change").reset_index()


def breakdown_differences(tables: Mapping[str, pd.DataFrame], key: str, value: str) -> pd.DataFrame:
    """One figure of several plans' breakdowns side by side, with each plan's difference to the first.

    Args:
        tables: plan name → its ``by_region`` or ``by_technology`` table (first = the reference).
        key: the breakdown's key column (``region``, ``technology``).
        value: the figure (``offices``, ``population``, ``cost_usd``, ``coverage_share_population``...).

    Returns:
        Indexed by ``key`` (every key of any plan, sorted), one column per plan (0 where a plan has no row: it
        connects nothing there; missing where the plan's table has no such figure), then ``<name> − <first>``
        per other plan.
    """
    names = list(tables)
    cols = {}
    for name, table in tables.items():
        if value in table.columns:
            series = pd.to_numeric(table.set_index(table[key].astype(str))[value], errors="coerce")
            cols[name] = series.groupby(level=0).sum(min_count=1)
        else:
            cols[name] = pd.Series(dtype=float)
    keys = sorted(set().union(*(set(s.index) for s in cols.values()))) if cols else []
    out = pd.DataFrame(index=pd.Index(keys, name=key))
    for name, series in cols.items():
        has = value in tables[name].columns
        out[name] = series.reindex(keys).fillna(0.0) if has else float("nan")
    for name in names[1:]:
        out[f"{name} {MINUS} {names[0]}"] = out[name] - out[names[0]]
    return out
