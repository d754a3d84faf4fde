"""The "Where we stand" page: the bundled example and an uploaded register + survey, through AppTest."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from planner.ui.pages.standing import EXAMPLE_REGISTER, example_survey


def _page() -> None:
    from planner.ui.pages.standing import page_standing

    page_standing()


def test_the_bundled_example_shows_status_map_regions_and_findings() -> None:
    at = AppTest.from_function(_page, default_timeout=120).run()
    assert any("Upload both files" in i.value for i in at.info)
    at.toggle(key="stand_ex").set_value(True).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Offices"] == "2,560"
    assert int(metrics["Unknown"].replace(",", "")) >= 2560 - 300  # offices never surveyed stay unknown
    assert len(at.get("plotly_chart")) == 1
    assert any("duplicate" in c.value or "conflicting" in c.value for c in at.caption)
    assert [d.proto.label for d in at.get("download_button")] == [
        "Offices ready to plan (CSV)", "Map layer (GeoJSON)", "Workbook (Excel)"
    ]  # fmt: skip


def test_uploaded_files_with_a_bad_survey_name_the_uploaded_file(tmp_path: Path) -> None:
    at = AppTest.from_function(_page, default_timeout=120).run()
    at.file_uploader(key="stand_register").upload("my register.csv", EXAMPLE_REGISTER.read_bytes(), "text/csv")
    at.file_uploader(key="stand_survey").upload("survey #1.csv", b"name,connected\nX,yes\n", "text/csv").run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "survey \\#1.csv" in shown or "survey #1.csv" in shown
    assert "no office\\_id or postcode column" in shown or "no office_id or postcode column" in shown
    good = example_survey(EXAMPLE_REGISTER, n=20).encode()
    at.file_uploader(key="stand_survey").upload("survey.csv", good, "text/csv").run()
    assert not at.exception and {m.label for m in at.metric} >= {"Connected", "Unknown"}


def _progress_page() -> None:
    from planner.ui.pages.progress import page_progress

    page_progress()


def test_the_progress_page_compares_a_stored_run_and_replans(tmp_path: Path, monkeypatch) -> None:
    """A run recorded by `planner solve`; two of its offices connected: the page counts them, draws planned vs
    connected and re-plans the rest as a new linked run."""
    import pandas as pd
    import yaml
    from typer.testing import CliRunner

    from planner.store import RunStore
    from planner.ui.cli import app

    pd.DataFrame({"office_id": [f"o{i}" for i in range(4)], "lat": [0.0] * 4, "lon": [0.1 * i for i in range(4)],
                  "population": [400, 300, 200, 100]}).to_csv(tmp_path / "offices.csv", index=False)  # fmt: skip
    raw = {"name": "p", "data": {"offices": "offices.csv"}, "budget_usd": 1500.0, "budget_basis": "capex"}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    db = tmp_path / "runs.sqlite"
    monkeypatch.setenv("PLANNER_STORE", str(db))
    out = CliRunner().invoke(app, ["solve", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "o")])
    assert out.exit_code == 0, out.output
    plan = pd.read_csv(tmp_path / "o" / "plan.csv")
    built = plan[plan["technology"] != "none"]["office_id"].tolist()[:2]
    at = AppTest.from_function(_progress_page, default_timeout=120).run()
    body = ("office_id,date,cost_usd\n" + "".join(f"{o},2026-03-01,500\n" for o in built)).encode()
    at.file_uploader(key="prog_actual").upload("done.csv", body, "text/csv").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Offices connected"].startswith(f"{len(built)} of ")
    assert len(at.get("plotly_chart")) == 2
    at.button(key="prog_replan").click().run()
    assert not at.exception and any("Re-plan recorded as run 2" in s.value for s in at.success)
    assert RunStore(db).get(2).extra["replan_of"] == 1
