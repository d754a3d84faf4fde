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

import streamlit as st

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
from planner.ui.state import bundled, keep_form_state, load_base

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
    st.sidebar.markdown("**Bundled scenarios**")
    for n, raw in bundled().items():
        st.sidebar.caption(f"{md(n)} — {md(raw.get('objective'))}, data {md(Path(raw['data']['offices']).parent.name)}")
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
