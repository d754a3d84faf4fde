"""The Export page: the report of a plan (HTML), its files (CSV, JSON, Excel workbook, GeoJSON) and scenario (YAML)."""

from __future__ import annotations

import streamlit as st

from planner.results import report
from planner.ui.report_html import pdf_available, report_html, report_pdf
from planner.ui.safe import md
from planner.ui.state import scenario_yaml
from planner.ui.widgets import plan_choice


def page_export() -> None:
    """The Export page of the chosen plan."""
    st.header("Export")
    name = plan_choice("Plan", "export_plan")
    if name is None:
        return
    entry = st.session_state["runs"][name]
    plan, coords = entry["plan"], entry["coords"]
    st.subheader("Report to hand over")
    st.download_button(
        "Download the report (HTML, printable to PDF)",
        lambda: report_html(plan, coords).encode("utf-8"),
        file_name=f"{name}-report.html",
        mime="text/html",
        key="dl_report",
        type="primary",
        on_click="ignore",
    )
    missing = pdf_available()
    if missing is None:
        st.download_button(
            "Download the report (PDF)",
            lambda: report_pdf(report_html(plan, coords)),
            file_name=f"{name}-report.pdf",
            mime="application/pdf",
            key="dl_report_pdf",
            on_click="ignore",
        )
    else:
        st.caption(md(missing))
    st.caption(
        "One self-contained page: the question asked, the headline figures, a map, the technology mix, cost per "
        "community and person, the source of every cost figure, the conventions and the solver's proof. It "
        "loads nothing from the internet; open it in a browser and print it, or take the PDF (A4, same content)."
    )
    st.subheader("Data files")
    st.caption(
        "Files of the selected plan. The workbook has one sheet per table (summary, plan, by technology, "
        "by region, cost components, options, sources)."
    )
    c = st.columns(5)
    c[0].download_button(
        "Plan (CSV)",
        report.plan_csv(plan),
        file_name=f"{name}-plan.csv",
        mime="text/csv",
        key="dl_csv",
        on_click="ignore",
    )
    c[1].download_button(
        "Summary (JSON)",
        report.summary_json(plan),
        file_name=f"{name}-summary.json",
        mime="application/json",
        key="dl_json",
        on_click="ignore",
    )
    c[2].download_button(
        "Workbook (Excel)",
        lambda: report.excel_bytes(plan),
        file_name=f"{name}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="dl_xlsx",
        on_click="ignore",
    )
    c[3].download_button(
        "Map points (GeoJSON)",
        lambda: report.geojson_bytes(plan, coords),
        file_name=f"{name}.geojson",
        mime="application/geo+json",
        key="dl_geojson",
        on_click="ignore",
    )
    c[4].download_button(
        "Scenario (YAML)",
        scenario_yaml(entry["raw"]),
        file_name=f"{name}.yaml",
        mime="application/x-yaml",
        key="dl_yaml",
        on_click="ignore",
    )
