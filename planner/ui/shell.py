"""Connect.Post Planner — Streamlit front end: build, run and compare scenarios; donor view; exports.

Run with ``streamlit run app.py`` from the repository root (it reads ``.streamlit/config.toml`` there, which
serves ``static/`` so the map's country outlines load without internet).

The app holds no model logic: it assembles a scenario mapping from the widgets, validates it with
``planner.scenario.scenario_from_dict`` and calls ``planner.pipeline.prepare`` / ``solve_prepared``. Costed
options (``prepare``) are cached by everything costing depends on; a change of objective, budget, target,
regional minimums, technology caps, roadmap or solver settings only re-solves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from planner.ui.format import OBJECTIVE_WORDS, money, share
from planner.ui.pages.compare import page_compare
from planner.ui.pages.countries import page_countries
from planner.ui.pages.donor import page_donor
from planner.ui.pages.export import page_export
from planner.ui.pages.progress import page_progress
from planner.ui.pages.results import page_results
from planner.ui.pages.roadmap import page_roadmap
from planner.ui.pages.runs import page_runs
from planner.ui.pages.scenario import page_scenario
from planner.ui.pages.standing import page_standing
from planner.ui.safe import md
from planner.ui.state import bundled, keep_form_state, load_base, scenarios

DEFAULT_SCENARIO = "uttarakhand-budget"
PAGES = [
    "Scenario",
    "Results",
    "Roadmap",
    "Countries",
    "Where we stand",
    "Progress",
    "Compare",
    "Donor view",
    "Export",
    "Runs",
]


def _caption(name: str, raw: dict[str, Any], is_bundled: bool) -> str:
    """One line under a scenario of the picker: what it asks, on which data (escaped)."""
    objective = raw.get("objective", "max_coverage")
    if objective == "min_cost":
        ask = f"least cost to {share(raw.get('coverage_target'), digits=0)}"
    elif raw.get("budget_usd"):
        ask = f"most coverage for {money(raw.get('budget_usd'))}"
    else:
        ask = OBJECTIVE_WORDS.get(str(objective), str(objective))
    if raw.get("roadmap"):
        ask += ", year by year"
    data = Path(str((raw.get("data") or {}).get("offices", ""))).parent.name
    return md(f"{ask}; data {data}" + ("" if is_bundled else " (opened file)"))


def _picked() -> None:
    """Load the scenario chosen in the sidebar and show the Scenario page."""
    load_base()
    st.session_state["page"] = "Scenario"


def main() -> None:
    """Draw the app: page config, the session's first form, the sidebar and the chosen page."""
    st.set_page_config(page_title="Connect.Post Planner", page_icon="📮", layout="wide")
    ss = st.session_state
    if "form_ready" not in ss:
        names = list(bundled())
        ss["f_base"] = DEFAULT_SCENARIO if DEFAULT_SCENARIO in names else names[0]
        load_base()
        ss["form_ready"] = True
    keep_form_state()
    st.sidebar.title("Connect.Post Planner")
    page = st.sidebar.radio("Page", PAGES, key="page")
    options = scenarios()
    st.sidebar.radio(
        "Scenario",
        list(options),
        key="f_base",
        on_change=_picked,
        format_func=md,
        captions=[_caption(n, raw, n in bundled()) for n, raw in options.items()],
        help="Fills the Scenario page's form from this scenario (bundled examples, and those opened this session).",
    )
    runs = ss.get("runs", {})
    if runs:
        st.sidebar.markdown("**Plans this session:** " + ", ".join(md(n) for n in runs))
    {
        "Scenario": page_scenario,
        "Results": page_results,
        "Roadmap": page_roadmap,
        "Countries": page_countries,
        "Where we stand": page_standing,
        "Progress": page_progress,
        "Compare": page_compare,
        "Donor view": page_donor,
        "Export": page_export,
        "Runs": page_runs,
    }[page]()
