"""The "Where we stand" page: a connectivity survey matched to the office register, on the map, with its findings.

The same job as ``planner survey`` (planner.survey): the register and the survey are uploaded (or the bundled
example is taken), matched, and shown as status counts, a map coloured by surveyed status, the status by region
and every data-quality finding; the merged offices file, the GeoJSON layer and the Excel workbook download.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from planner.errors import InputError
from planner.survey import SurveyResult, ingest_survey, write_survey
from planner.ui.safe import md
from planner.ui.state import save_upload, upload_folder, upload_limit_mb
from planner.ui.widgets import office_map, show_issues, show_table

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_REGISTER = ROOT / "data" / "uttarakhand" / "offices.csv"
STATUS_COLOURS = {"connected": "#2e7d32", "underserved": "#f9a825", "unconnected": "#c62828", "unknown": "#757575"}


def example_survey(register: Path, n: int = 300, seed: int = 7) -> str:
    """A synthetic survey of ``n`` offices of the register (seeded answers, messy names, one duplicate), as CSV.

    For trying the page only: the answers are random, not a real survey.
    """
    import numpy as np

    offices = pd.read_csv(register, dtype=str).head(n)
    rng = np.random.default_rng(seed)
    rows = []
    for i, o in enumerate(offices.to_dict("records")):
        answer = rng.choice(["yes", "no", "unknown"], p=[0.5, 0.4, 0.1])
        speed = f"{rng.uniform(1, 60):.1f}" if answer == "yes" else ""
        by_name = i % 3 == 0  # every third row gives postcode + name instead of the id
        rows.append(
            {
                "office_id": "" if by_name else o["office_id"],
                "postcode": o.get("pincode", ""),
                "name": str(o["name"]).upper().replace(" BO", " B.O.") if by_name else o["name"],
                "connected": answer,
                "down_mbps": speed,
                "services": "mail;financial",
                "incident_response_plan": rng.choice(["yes", "no"], p=[0.4, 0.6]),
            }
        )
    rows.append(dict(rows[1]))  # surveyed twice
    return pd.DataFrame(rows).to_csv(index=False, lineterminator="\n")


def _saved(upload: Any, kind: str) -> Path | None:
    """An uploaded file saved in the session's folder (None and a message if it is over the limit)."""
    limit = upload_limit_mb()
    if upload.size > limit * 2**20:
        st.error(md(f"{upload.name} is {upload.size / 2**20:,.1f} MB, over the upload limit of {limit:,.0f} MB"))
        return None
    return save_upload(kind, upload)


@st.cache_data(show_spinner=False, max_entries=8)
def _ingest(register: str, survey: str, stamp: str) -> SurveyResult:
    return ingest_survey(Path(register), Path(survey))


def _files(result: SurveyResult) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        return {p.name: p.read_bytes() for p in write_survey(result, Path(tmp))}


def page_standing() -> None:
    """Where we stand: the surveyed connectivity of every office."""
    st.header("Where we stand")
    st.caption(
        "Upload the office register (an offices file) and a connectivity survey (CSV or Excel, one row per office: "
        "office_id or postcode + name, connected yes/no/unknown, measured Mbps, services, security measures). "
        "Rows are matched by office id, else by postcode and name; offices never surveyed stay unknown."
    )
    c1, c2 = st.columns(2)
    register_up = c1.file_uploader("Office register", type=["csv", "geojson", "json", "gpkg"], key="stand_register")
    survey_up = c2.file_uploader("Connectivity survey", type=["csv", "xlsx"], key="stand_survey")
    use_example = st.toggle("Use the bundled example (synthetic answers for 300 Uttarakhand offices)", key="stand_ex")
    register = _saved(register_up, "register") if register_up is not None else None
    survey = _saved(survey_up, "survey") if survey_up is not None else None
    names = {"register": register_up.name if register_up else "", "survey": survey_up.name if survey_up else ""}
    if use_example and (register is None or survey is None):
        register = EXAMPLE_REGISTER
        survey = upload_folder() / "survey-example.csv"
        if not survey.exists():
            survey.write_text(example_survey(EXAMPLE_REGISTER), encoding="utf-8")
        names = {"register": "data/uttarakhand/offices.csv", "survey": "example survey"}
    if register is None or survey is None:
        st.info("Upload both files, or use the bundled example.")
        return
    stamp = f"{register.stat().st_mtime_ns}-{survey.stat().st_mtime_ns}"
    try:
        result = _ingest(str(register), str(survey), stamp)
    except InputError as exc:
        saved = {str(register): names["register"], str(survey): names["survey"]}
        shown = [type(i)(saved.get(i.file, i.file), i.row, i.column, i.message) for i in exc.issues]
        show_issues(shown, "The files cannot be matched")
        return
    last = result.status[result.status["region"] == "all"].iloc[0]
    total = {k: int(last[k]) for k in ("offices", "connected", "underserved", "unconnected", "unknown")}
    cols = st.columns(5)
    for col, key in zip(cols, ("offices", "connected", "underserved", "unconnected", "unknown"), strict=True):
        col.metric(key.capitalize(), f"{total[key]:,}")
    matched = int((result.matches["office_id"] != "").sum())
    st.caption(
        md(f"{matched:,} of {len(result.matches):,} survey rows matched to {len(result.offices):,} offices "
           f"({int((result.matches['rule'] == 'postcode+name').sum()):,} by postcode + name); "
           f"{len(result.quality):,} data-quality findings.")
    )  # fmt: skip
    office_map(result.offices, "status", STATUS_COLOURS, key="standing_map")
    st.subheader("Status, services and security by region")
    show_table(result.status, "standing_regions")
    st.subheader("Data quality")
    if result.quality.empty:
        st.success("No finding: every row matched, every office surveyed once, every answer plausible.")
    else:
        kinds = result.quality["kind"].value_counts()
        st.caption(md("; ".join(f"{k}: {v:,}" for k, v in kinds.items())))
        show_table(result.quality, "standing_quality")
    files = _files(result)
    d1, d2, d3 = st.columns(3)
    d1.download_button("Offices ready to plan (CSV)", files["offices.csv"], "offices.csv", "text/csv")
    d2.download_button("Map layer (GeoJSON)", files["status.geojson"], "status.geojson", "application/geo+json")
    d3.download_button(
        "Workbook (Excel)",
        files["survey.xlsx"],
        "survey.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
