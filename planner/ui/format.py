"""How the app and its report write numbers, units, solver proofs, technology names and column names.

One formatting layer (no Streamlit here): every page, table and the HTML report call these functions, so an
amount reads the same everywhere (``856 K USD``, ``3.75 M USD``), a share is ``95.1 %``, a gap is said in
words and a column is ``Cost (USD)`` rather than ``cost_usd``. Display tables are copies: downloads keep the
raw columns and values.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from planner.errors import PlannerError
from planner.scenario import load_catalogue

DASH = "–"  # an absent value
MINUS = "−"  # U+2212: a negative difference
_SCALES = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")]


def missing(x: Any) -> bool:
    """Whether ``x`` is no number to show (None, NA, NaN, infinite, or not a number at all)."""
    if x is None or x is pd.NA:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def _sign(x: float, signed: bool) -> str:
    if x < 0:
        return MINUS
    return "+" if signed and x > 0 else ""


def _decimals(v: float, scale_symbol: str) -> int:
    """Decimals of a compact figure ``v`` (1 <= v < 1000): three significant figures; thousands with two."""
    if scale_symbol == "K":
        return 1 if v < 10 else 0
    return 2 if v < 10 else 1 if v < 100 else 0


def compact_parts(x: float) -> tuple[str, str, int]:
    """``abs(x)`` as (digits, scale symbol, decimals) with symbols K, M, B, T ("" below a thousand).

    The scale is chosen after rounding, so 999,999 is ``1.00 M`` (not ``1000 K``).
    """
    a = abs(float(x))
    for i, (scale, sym) in enumerate(_SCALES):
        if a >= scale or (i == len(_SCALES) - 1 and round(a) >= 1000):
            v = a / scale
            d = _decimals(v, sym)
            text = f"{v:,.{d}f}"
            if float(text.replace(",", "")) >= 1000 and i > 0:  # rounds up into the next scale
                bigger, bsym = _SCALES[i - 1]
                v = a / bigger
                d = _decimals(v, bsym)
                return f"{v:.{d}f}", bsym, d
            return text, sym, d
    d = 2 if 0 < a < 10 else 0
    return f"{a:,.{d}f}", "", d


def money(x: Any, exact: bool = False, signed: bool = False, unit: str = "USD") -> str:
    """An amount: ``1.2 K USD``, ``856 K USD``, ``3.75 M USD``, ``1.20 B USD``; ``0.30 USD`` below 10.

    Args:
        x: the amount, USD (None or NaN: "–").
        exact: whole units with thousands separators (``2,000,000 USD``); below 10 with cents.
        signed: a ``+`` before positive amounts (differences).
        unit: the unit written after the figure.
    """
    if missing(x):
        return DASH
    v = float(x)
    if exact:
        d = 2 if 0 < abs(v) < 10 else 0
        return f"{_sign(v, signed)}{abs(v):,.{d}f} {unit}"
    digits, sym, _ = compact_parts(v)
    return f"{_sign(v, signed)}{digits} {sym + ' ' if sym else ''}{unit}"


def count(x: Any, signed: bool = False) -> str:
    """A whole number with thousands separators: ``12,345``."""
    if missing(x):
        return DASH
    v = float(x)
    return f"{_sign(v, signed)}{abs(v):,.0f}"


def people(x: Any, exact: bool = False, signed: bool = False) -> str:
    """A number of people: ``6.05 M people`` from a million up, ``12,345 people`` below (or always, ``exact``)."""
    if missing(x):
        return DASH
    v = float(x)
    if exact or abs(v) < 1e6:
        return f"{count(v, signed)} people"
    digits, sym, _ = compact_parts(v)
    return f"{_sign(v, signed)}{digits} {sym} people"


def people_short(x: Any) -> str:
    """A number of people short enough for a KPI card whose label says "people": ``5.07 M``, ``912,345``."""
    if missing(x):
        return DASH
    v = float(x)
    if abs(v) < 1e6:
        return count(v)
    digits, sym, _ = compact_parts(v)
    return f"{_sign(v, False)}{digits} {sym}"


def share(x: Any, digits: int = 1, signed: bool = False) -> str:
    """A fraction as a percentage: 0.9509 → ``95.1 %``."""
    if missing(x):
        return DASH
    v = 100 * float(x)
    return f"{_sign(v, signed)}{abs(v):,.{digits}f} %"


def points(x: Any, digits: int = 1) -> str:
    """A difference of two shares in percentage points: 0.012 → ``+1.2 pp``."""
    if missing(x):
        return DASH
    v = 100 * float(x)
    return f"{_sign(v, True)}{abs(v):,.{digits}f} pp"


def _unit(x: Any, unit: str, signed: bool) -> str:
    if missing(x):
        return DASH
    v = float(x)
    d = 0 if abs(v) >= 100 else 1 if abs(v) >= 1 or v == 0 else 2
    return f"{_sign(v, signed)}{abs(v):,.{d}f} {unit}"


def mbps(x: Any, signed: bool = False) -> str:
    """A bandwidth: ``250 Mbps``, ``12.5 Mbps``, ``0.25 Mbps``."""
    return _unit(x, "Mbps", signed)


def km(x: Any, signed: bool = False) -> str:
    """A distance: ``1,234 km``, ``12.3 km``."""
    return _unit(x, "km", signed)


def seconds(x: Any) -> str:
    """A duration: ``0.42 s``, ``12.3 s``, ``95 s``."""
    if missing(x):
        return DASH
    v = float(x)
    return f"{v:,.{2 if v < 10 else 1 if v < 60 else 0}f} s"


# --------------------------------------------------------------------------------------------- solver proof
def _pct(x: float) -> str:
    """A positive percentage in words: whole percent from 10 %, two significant figures below (``0.12 %``)."""
    p = 100 * x
    if p >= 10:
        return f"{p:,.0f} %"
    return f"{p:.2g} %" if p >= 0.01 else "0.01 %"


def proven(status: Any) -> bool:
    """Whether the solver proved the plan optimal within the accepted gap (``status`` is ``optimal``)."""
    return status == "optimal"


def improvement_bound(summary: dict[str, Any]) -> float | None:
    """How much better than the plan a plan may be, as a share of the plan's objective; None if unknown.

    From ``objective_value`` and ``objective_bound`` (``objective``: max_coverage has the bound above, min_cost
    below); without them the solver's relative gap (``mip_gap``, relative to the bound).
    """
    value: Any = summary.get("objective_value")
    bound: Any = summary.get("objective_bound")
    if not missing(value) and not missing(bound) and abs(float(value)) > 1e-12:
        v, b = float(value), float(bound)
        diff = b - v if summary.get("objective", "max_coverage") == "max_coverage" else v - b
        return max(0.0, diff / abs(v))
    gap: Any = summary.get("mip_gap")
    return None if missing(gap) else max(0.0, float(gap))


def gap_words(summary: dict[str, Any]) -> str:
    """The solver's proof in words, from a plan summary (``status``, ``mip_gap``, objective and bound).

    ``proven optimal (within 0.01 %)`` when the status is optimal (the gap, at least 0.01 %), else
    ``not proven optimal: up to 52 % better may exist`` (or ``no bound known``); ``infeasible`` as is.
    """
    status = summary.get("status")
    gap: Any = summary.get("mip_gap")
    if status == "infeasible":
        return "infeasible: no plan meets every constraint"
    if proven(status):
        return f"proven optimal (within {_pct(0.0 if missing(gap) else float(gap))})"
    better = improvement_bound(summary)
    if better is None:
        return "not proven optimal: no bound known"
    return f"not proven optimal: up to {_pct(better)} better may exist"


# --------------------------------------------------------------------------------------------- names
TECH_NONE = "Not connected"


@functools.lru_cache(maxsize=1)
def catalogue_labels() -> dict[str, str]:
    """Display names of the default catalogue's technologies (``cellular_4g`` → ``4G cellular``)."""
    try:
        cat = load_catalogue()
    except PlannerError:  # a broken catalogue is reported where it is used; names stay raw here
        return {}
    return {key: tech.label for key, tech in cat.technologies.items()}


def tech_label(key: Any, labels: dict[str, str] | None = None) -> str:
    """A technology's display name from the catalogue (``none`` → ``Not connected``; unknown keys as they are)."""
    text = str(key)
    if text == "none":
        return TECH_NONE
    return (labels if labels is not None else catalogue_labels()).get(text, text)


def tech_labels_in(text: Any) -> str:
    """Every technology key in a text (``fibre;cellular_4g``, ``fibre → none``) replaced by its display name."""
    if missing(text) and not isinstance(text, str):
        return "" if text is None else str(text)
    names = {**catalogue_labels(), "none": TECH_NONE}
    keys = sorted(names, key=len, reverse=True)
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, keys)) + r")(?![A-Za-z0-9_])")
    out = pattern.sub(lambda m: names[m.group(1)], str(text))
    return out.replace(";", ", ") if ";" in out and "@" not in out else out


#: Display names of the columns of the plan's tables (one mapping for every table of the app and report).
COLUMN_LABELS: dict[str, str] = {
    "id": "ID",
    "office_id": "Office ID",
    "name": "Name",
    "region": "Region",
    "country": "Country",
    "community": "Community",
    "technology": "Technology",
    "year": "Year",
    "population": "Population",
    "offices": "Offices",
    "offices_planned": "Offices planned",
    "offices_connected": "Offices connected",
    "offices_unserved": "Offices left unserved",
    "unserved_no_eligible_option": "… with no eligible technology",
    "population_unserved": "Population left unserved",
    "communities": "Communities",
    "capex_usd": "Capex (USD)",
    "opex_usd_per_year": "Opex (USD/year)",
    "cost_usd": "Cost (USD)",
    "tco_usd": "TCO (USD)",
    "usd": "Amount (USD)",
    "mbps": "Capacity (Mbps)",
    "required_mbps": "Required (Mbps)",
    "current_mbps": "Current (Mbps)",
    "distance_km": "Distance (km)",
    "cost_per_community_usd": "Cost per community (USD)",
    "cost_per_person_usd": "Cost per person (USD)",
    "coverage_share_population": "Population covered (%)",
    "coverage_share": "Coverage (%)",
    "eligible_technologies": "Eligible technologies",
    "eligible": "Eligible",
    "chosen": "Chosen",
    "reason": "Why not",
    "why": "Why this technology",
    "anchor_id": "Connects to",
    "source": "Source",
    "source_id": "Source key",
    "cost_keys": "Catalogue figures used",
    "field": "Figure",
    "entry": "Catalogue entry",
    "key": "Catalogue key",
    "value": "Value",
    "low": "Low",
    "high": "High",
    "note": "Note",
    "component": "Component",
    "kind": "Kind",
    "change": "Change",
    "budget_usd": "Budget (USD)",
    "total_cost_usd": "Total cost (USD)",
    "population_covered": "Population covered",
    "marginal_cost_per_person_usd": "Marginal cost per person (USD)",
}
_SUFFIXES = [
    ("_usd_per_year", " (USD/year)"),
    ("_usd_per_km", " (USD/km)"),
    ("_usd", " (USD)"),
    ("_mbps", " (Mbps)"),
    ("_km", " (km)"),
    ("_share", " (%)"),
]


def column_label(col: Any) -> str:
    """A column's display name: :data:`COLUMN_LABELS`, else words with the unit in brackets.

    ``capex_civil_usd`` → ``Capex civil (USD)``, ``technology_A`` → ``Technology A``.
    """
    text = str(col)
    if text in COLUMN_LABELS:
        return COLUMN_LABELS[text]
    for prefix in ("technology_", "cost_usd_"):
        if text.startswith(prefix) and len(text) > len(prefix):
            base = COLUMN_LABELS[prefix.rstrip("_")]
            rest = text[len(prefix) :]
            return f"{base.split(' (')[0]} {rest}" + (" (USD)" if prefix == "cost_usd_" else "")
    unit = ""
    for suffix, words in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text, unit = text[: -len(suffix)], words
            break
    if not unit and text.startswith("share_of"):  # a share, shown x 100 by display_table
        unit = " (%)"
    words_ = text.replace("_", " ").strip()
    return (words_[:1].upper() + words_[1:] if words_ else text) + unit


def share_column(col: Any) -> bool:
    """Whether a column holds fractions shown as percentages (``coverage_share``, ``…_share``)."""
    text = str(col)
    return text.startswith(("coverage_share", "share_of")) or text.endswith("_share") or text == "share"


def _tech_column(col: Any) -> bool:
    text = str(col)
    return (
        text in ("technology", "eligible_technologies", "change")
        or text.startswith("technology_")
        or text.endswith("_technology")
    )


def display_table(frame: pd.DataFrame, labels: bool = True, names: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` to show: technology keys as names, shares x 100, amounts rounded, columns renamed.

    USD columns are rounded to whole USD (cents below 10 USD: costs per person), Mbps and km to 0.1, shares
    become percentages with one decimal. The column names follow :func:`column_label` (``labels=False``
    keeps them; ``names`` overrides the label of the columns it names). The original is unchanged: downloads keep
    raw columns and values.
    """
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if _tech_column(col) and not pd.api.types.is_numeric_dtype(series):
            out[col] = series.map(tech_labels_in)
            continue
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            continue
        text = str(col)
        if share_column(col):
            out[col] = (100 * series.astype(float)).round(1)
        elif "usd" in text or text in ("value", "low", "high"):
            small = series.abs().max() < 10 if len(series.dropna()) else False
            out[col] = series.astype(float).round(2 if small else 0)
        elif text.endswith(("_mbps", "_km")) or text in ("mbps",):
            out[col] = series.astype(float).round(1)
    if labels:
        given = names or {}
        out = out.rename(columns={c: given.get(str(c)) or column_label(c) for c in out.columns})
    return out


# --------------------------------------------------------------------------------------------- KPI tables
Formatter = Callable[..., str]
#: Rows of a side-by-side KPI table: (summary key, label, formatter of a value, formatter of a difference).
KPI_ROWS: list[tuple[str, str, Formatter | None]] = [
    ("status", "Solver status", None),
    ("objective", "Objective", None),
    ("offices_connected", "Offices connected", count),
    ("offices_planned", "Offices planned", count),
    ("population_covered", "Population covered", people),
    ("coverage_share_population", "Population covered (share)", share),
    ("communities_connected", "Communities connected", count),
    ("total_cost_usd", "Cost (budget basis)", money),
    ("total_capex_usd", "Capex", money),
    ("total_opex_usd_per_year", "Opex per year", money),
    ("total_tco_usd", "TCO over the horizon", money),
    ("total_tco_residual_usd", "TCO less residual value", money),
    ("total_annualised_usd", "Annualised cost", money),
    ("cost_basis", "Economic cost basis", None),
    ("total_economic_cost_usd", "Economic cost", money),
    ("cost_per_person_usd", "Cost per person", money),
    ("cost_per_community_usd", "Cost per community", money),
]
OBJECTIVE_WORDS = {"max_coverage": "most coverage within a budget", "min_cost": "least cost reaching a target"}
STATUS_WORDS = {"optimal": "optimal", "time_limit": "stopped at the time limit", "infeasible": "infeasible"}
COST_BASIS_WORDS = {
    "tco": "TCO over the horizon",
    "tco_residual": "TCO less residual value at the horizon end",
    "annualised": "annualised over each asset's life",
}
BUDGET_BASIS_WORDS = {"capex": "capex (upfront cost only)", "tco": "TCO (capex + discounted opex over the horizon)"}
_WORDS = {**OBJECTIVE_WORDS, **STATUS_WORDS, **COST_BASIS_WORDS}


def _difference(fmt: Formatter, a: Any, b: Any) -> str:
    if missing(a) or missing(b):
        return ""
    d = float(b) - float(a)
    if fmt is share:
        return points(d)
    return fmt(d, signed=True)


def kpi_display(summaries: Iterable[dict[str, Any]], names: list[str] | None = None) -> pd.DataFrame:
    """A side-by-side KPI table as text, one column per plan, then differences to the first.

    Columns are named by ``names`` (default: each summary's ``scenario``).

    Rows are :data:`KPI_ROWS`, the solver's proof in words and the offices connected by each technology (by
    name). Differences are signed (``+1.20 M USD``, ``+1.2 pp`` for shares).
    """
    items = list(summaries)
    techs = sorted({t for s in items for t in s.get("by_technology", {})})
    rows: dict[str, list[Any]] = {}
    kinds: dict[str, Formatter | None] = {}
    for key, label, fmt in KPI_ROWS:
        rows[label] = [s.get(key) for s in items]
        kinds[label] = fmt
        if key == "status":
            rows["Solver proof"] = [gap_words(s) for s in items]
            kinds["Solver proof"] = None
    for t in techs:
        label = f"Offices by {tech_label(t)}"
        rows[label] = [s.get("by_technology", {}).get(t, {}).get("offices", 0) for s in items]
        kinds[label] = count
    names = names or [str(s.get("scenario", f"plan {i + 1}")) for i, s in enumerate(items)]
    table: dict[str, list[str]] = {}
    for j, name in enumerate(names):
        col = []
        for label, values in rows.items():
            fmt, v = kinds[label], values[j]
            col.append(_WORDS.get(str(v), DASH if v is None else str(v)) if fmt is None else fmt(v))
        table[name] = col
    for j, name in enumerate(names[1:], start=1):
        col = []
        for label, values in rows.items():
            fmt = kinds[label]
            col.append("" if fmt is None else _difference(fmt, values[0], values[j]))
        table[f"{name} {MINUS} {names[0]}"] = col
    return pd.DataFrame(table, index=list(rows))


#: The colour of each technology on maps and charts (the app and the report).
TECH_COLOURS = {
    "fibre": "#1f77b4",
    "cellular_4g": "#2ca02c",
    "microwave": "#ff7f0e",
    "geo_satellite": "#9467bd",
    "leo_satellite": "#d62728",
    "none": "#b0b0b0",
}
