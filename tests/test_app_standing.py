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
