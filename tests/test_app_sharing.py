"""The app's shared-infrastructure controls: the scenario it saves and the Results section they produce."""

from __future__ import annotations

from pathlib import Path

import yaml
from streamlit.testing.v1 import AppTest

from planner.ui.format import km

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_sharing_toggles_reach_the_scenario_and_the_results() -> None:
    at = AppTest.from_file(APP, default_timeout=240).run()
    assert not at.exception
    assert "infrastructure" not in yaml.safe_load(at.code[0].value)
    at.checkbox(key="f_share_fibre").check().run()
    at.checkbox(key="f_share_relays").check().run()
    at.selectbox(key="f_share_method").set_value("heuristic").run()
    saved = yaml.safe_load(at.code[0].value)
    assert saved["infrastructure"] == {
        "shared_fibre": True,
        "new_towers": False,
        "radio_relays": True,
        "method": "heuristic",
    }
    at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    plan = next(iter(at.session_state["runs"].values()))["plan"]
    info = plan.summary["shared_infrastructure"]
    assert info["method"] == "heuristic"
    assert (
        plan.plan["cost_usd"].sum() == plan.summary["total_cost_usd"]
        or abs(plan.plan["cost_usd"].sum() - plan.summary["total_cost_usd"]) <= 1e-6 * plan.summary["total_cost_usd"]
    )
    at.sidebar.radio(key="page").set_value("Results").run()
    assert not at.exception
    assert "Shared infrastructure" in [h.value for h in at.subheader]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Fibre trench built"] == km(info["fibre_km_built"])
