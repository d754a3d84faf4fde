"""The app's user experience: one formatting layer (planner.ui.format), amounts entered in millions, the first
five minutes (intro, Run at the top, the sidebar picker, opening a scenario YAML, templates to download) and the
HTML report to hand over.

Formatting tests are plain unit tests with hand-written expectations; the app tests use
``streamlit.testing.v1.AppTest`` (one session runs the default scenario once: module fixture).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from planner.ui import format as fmt
from planner.ui.safe import md

APP = str(Path(__file__).resolve().parents[1] / "app.py")
DEFAULT = "uttarakhand-budget"
TIMEOUT = 180
_SCALE = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


# --------------------------------------------------------------------------------------------- format.py
@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (None, "–"),
        (float("nan"), "–"),
        (0, "0 USD"),
        (0.300056, "0.30 USD"),
        (856, "856 USD"),
        (1_200, "1.2 K USD"),
        (7_687.99, "7.7 K USD"),
        (856_000, "856 K USD"),
        (999_999, "1.00 M USD"),  # the scale is chosen after rounding
        (3_753_180.543162626, "3.75 M USD"),
        (37_531_805, "37.5 M USD"),
        (1_200_000_000, "1.20 B USD"),
        (-2_500_000, "−2.50 M USD"),
    ],
)
def test_money_compact(amount, text):
    assert fmt.money(amount) == text


def test_money_exact_and_signed():
    assert fmt.money(2_000_000, exact=True) == "2,000,000 USD"
    assert fmt.money(1737.3756, exact=True) == "1,737 USD"
    assert fmt.money(0.3, exact=True) == "0.30 USD"
    assert fmt.money(1_500_000, signed=True) == "+1.50 M USD"
    assert fmt.money(-999, signed=True) == "−999 USD"


def test_shares_people_units():
    assert fmt.share(0.9509869257442432) == "95.1 %"
    assert fmt.share(6.352610226428457e-05, digits=3) == "0.006 %"
    assert fmt.points(0.012) == "+1.2 pp"
    assert fmt.people(6_050_000) == "6.05 M people"
    assert fmt.people(12_345) == "12,345 people"
    assert fmt.people(6_661_674, exact=True) == "6,661,674 people"
    assert fmt.people_short(5_072_320) == "5.07 M" and fmt.people_short(912_345) == "912,345"
    assert fmt.people_short(999_999_999) == "1.00 B" and fmt.people_short(None) == fmt.DASH
    assert fmt.count(2194) == "2,194"
    assert fmt.mbps(12.49) == "12.5 Mbps" and fmt.mbps(250) == "250 Mbps"
    assert fmt.km(21.04) == "21.0 km" and fmt.km(1234.5) == "1,234 km"


def test_other_tables_share_and_technology_columns():
    """Columns named share_of_* are shares and *_technology columns hold technology keys, in every table."""
    raw = pd.DataFrame({"share_of_cost": [0.25], "base_technology": ["leo_satellite"], "offices": [3]})
    shown = fmt.display_table(raw)
    assert shown["Share of cost (%)"].tolist() == [25.0]
    assert shown["Base technology"].tolist() == ["LEO satellite"]


def test_gap_in_words():
    assert fmt.gap_words({"status": "optimal", "mip_gap": 5.4e-06}) == "proven optimal (within 0.01 %)"
    assert fmt.gap_words({"status": "optimal", "mip_gap": 0.0}) == "proven optimal (within 0.01 %)"
    assert fmt.gap_words({"status": "time_limit", "mip_gap": 0.523}) == (
        "not proven optimal: up to 52 % better may exist"
    )
    # With objective and bound the improvement is relative to the plan: 90 covered, at most 100 → 11 % more.
    summary = {"status": "time_limit", "mip_gap": 0.1, "objective": "max_coverage", "objective_value": 90.0,
               "objective_bound": 100.0}  # fmt: skip
    assert fmt.gap_words(summary) == "not proven optimal: up to 11 % better may exist"
    cheaper = {"status": "time_limit", "objective": "min_cost", "objective_value": 200.0, "objective_bound": 150.0}
    assert fmt.gap_words(cheaper) == "not proven optimal: up to 25 % better may exist"
    assert fmt.gap_words({"status": "time_limit", "mip_gap": None}) == "not proven optimal: no bound known"
    assert not fmt.proven("time_limit") and fmt.proven("optimal")


def test_names_of_technologies_and_columns():
    assert fmt.tech_label("cellular_4g") == "4G cellular"
    assert fmt.tech_label("none") == "Not connected"
    assert fmt.tech_label("my_own_tech") == "my_own_tech"
    assert fmt.tech_labels_in("fibre;cellular_4g") == "Fibre, 4G cellular"
    assert fmt.tech_labels_in("fibre → none") == "Fibre → Not connected"
    assert fmt.column_label("cost_usd") == "Cost (USD)"
    assert fmt.column_label("opex_usd_per_year") == "Opex (USD/year)"
    assert fmt.column_label("capex_civil_usd") == "Capex civil (USD)"
    assert fmt.column_label("technology_A") == "Technology A"


def test_display_table_is_a_renamed_rounded_copy():
    raw = pd.DataFrame(
        {"technology": ["cellular_4g", "none"], "cost_usd": [1737.3756, 0.0], "coverage_share_population": [0.95098, 0]}
    )
    shown = fmt.display_table(raw)
    assert list(shown.columns) == ["Technology", "Cost (USD)", "Population covered (%)"]
    renamed = fmt.display_table(raw, names={"cost_usd": "Cost that year (USD)"})
    assert list(renamed.columns) == ["Technology", "Cost that year (USD)", "Population covered (%)"]
    assert shown["Technology"].tolist() == ["4G cellular", "Not connected"]
    assert shown["Cost (USD)"].tolist() == [1737.0, 0.0]
    assert shown["Population covered (%)"].tolist() == [95.1, 0.0]
    assert raw["cost_usd"].iloc[0] == 1737.3756 and "cost_usd" in raw.columns  # the original is unchanged


def test_kpi_display_formats_every_cell():
    a = {"scenario": "a", "status": "optimal", "mip_gap": 6.352610226428457e-05, "total_cost_usd": 3753180.543162626,
         "coverage_share_population": 0.9509869257442432, "offices_connected": 1200, "population_covered": 6.05e6,
         "by_technology": {"cellular_4g": {"offices": 1000}}}  # fmt: skip
    b = {**a, "scenario": "b", "total_cost_usd": 2_000_000.0, "coverage_share_population": 0.9}
    table = fmt.kpi_display([a, b])
    assert table.loc["Cost (budget basis)", "a"] == "3.75 M USD"
    assert table.loc["Population covered (share)", "a"] == "95.1 %"
    assert table.loc["Solver proof", "a"] == "proven optimal (within 0.01 %)"
    assert table.loc["Offices by 4G cellular", "b"] == "1,000"
    assert table.loc["Cost (budget basis)", "b − a"] == "−1.75 M USD"
    assert table.loc["Population covered (share)", "b − a"] == "−5.1 pp"
    text = " ".join(table.to_numpy().ravel())
    assert not re.search(r"\d\.\d{4,}|e-0\d", text), text  # no raw floats left


def _parse(text: str) -> tuple[float, int, float]:
    """The number, its decimals and its scale of a compact amount like ``3.75 M USD``."""
    m = re.fullmatch(r"(−?)([\d,]+)(?:\.(\d+))? ?([KMBT]?) ?USD", text)
    assert m, text
    decimals = len(m.group(3) or "")
    value = float(m.group(2).replace(",", "") + ("." + m.group(3) if m.group(3) else ""))
    return (-value if m.group(1) else value), decimals, _SCALE[m.group(4)]


@given(st.floats(min_value=-1e14, max_value=1e14, allow_nan=False))
def test_money_round_trips_the_magnitude(x):
    value, decimals, scale = _parse(fmt.money(x))
    assert abs(value * scale - x) <= 0.5 * 10**-decimals * scale * (1 + 1e-9) + 1e-9
    if abs(x) >= 1000:  # three significant figures at most, never "1000 K"
        assert abs(value) < 1000 or scale == 1e12


# --------------------------------------------------------------------------------------------- the app
def _clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _new() -> AppTest:
    return _clean(AppTest.from_file(APP, default_timeout=TIMEOUT).run())


def _saved(at: AppTest) -> dict:
    return yaml.safe_load(at.code[0].value)


def test_budget_is_entered_in_millions_and_saved_in_usd():
    at = _new()
    assert at.number_input(key="f_budget_m").value == pytest.approx(2.0)
    assert at.number_input(key="f_budget_m").label == "Budget (M USD)"
    assert "= 2,000,000 USD" in [c.value for c in at.caption]
    at.number_input(key="f_budget_m").set_value(20.0).run()
    _clean(at)
    assert _saved(at)["budget_usd"] == 20_000_000
    assert "= 20,000,000 USD" in [c.value for c in at.caption]
    at.number_input(key="f_max_cost_k").set_value(50.0).run()
    assert _saved(_clean(at))["policy"]["max_cost_per_office_usd"] == 50_000
    assert "= 50,000 USD" in [c.value for c in at.caption]


def test_roadmap_annual_budget_in_millions():
    at = _new()
    at.sidebar.radio(key="f_base").set_value("uttarakhand-roadmap").run()
    _clean(at)
    assert at.number_input(key="f_annual_m").value == pytest.approx(0.4)
    at.number_input(key="f_annual_m").set_value(0.75).run()
    saved = _saved(_clean(at))
    assert saved["roadmap"]["annual_budget_usd"] == 750_000 and saved["roadmap"]["carry_over"] is True
    assert "= 750,000 USD per year" in [c.value for c in at.caption]


def test_first_screen_intro_run_at_the_top_and_sidebar_picker():
    at = _new()
    intro = next(m.value for m in at.markdown if m.value.startswith("**Which technology"))
    assert "1. **Choose a scenario**" in intro and "3. **Run scenario**" in intro
    # Run comes before every input of the form (it used to be below the whole form).
    order = [getattr(e, "key", None) for e in at.main.get("button") + at.main.get("number_input")]
    assert order.index("run") < order.index("f_budget_m")
    # The sidebar's list is the picker: choosing a scenario from another page loads it and shows the form.
    at.sidebar.radio(key="page").set_value("Donor view").run()
    at.sidebar.radio(key="f_base").set_value("uttarakhand-95pct").run()
    _clean(at)
    assert at.sidebar.radio(key="page").value == "Scenario"
    assert at.radio(key="f_objective").value == "min_cost" and _saved(at)["name"] == "uttarakhand-95pct"


@pytest.mark.parametrize("kind", ["offices", "fibre_nodes", "towers", "options", "coverage"])
def test_templates_and_examples_pass_the_readers(kind, tmp_path):
    from planner.ui.state import UPLOAD_COLUMNS, check_upload, template_bytes

    name, content, _ = template_bytes(kind, example=True)
    path = tmp_path / name
    path.write_bytes(content)
    assert check_upload(kind, path) == []
    _, empty, _ = template_bytes(kind)
    if kind in UPLOAD_COLUMNS:
        header = empty.decode().strip().split(",")
        assert header == [c.name for c in UPLOAD_COLUMNS[kind]]
        assert header[: sum(c.required for c in UPLOAD_COLUMNS[kind])] == [
            c.name for c in UPLOAD_COLUMNS[kind] if c.required
        ]
    if kind == "towers":
        assert "backhaul" in header and "true" in content.decode() and "false" in content.decode()


def test_template_downloads_on_the_page():
    at = _new()
    keys = {b.key for b in at.get("download_button")}
    for kind in ("offices", "fibre_nodes", "towers", "options", "coverage"):
        assert {f"tpl_{kind}_empty", f"tpl_{kind}_example"} <= keys, kind


def test_open_a_scenario_yaml(tmp_path):
    at = _new()
    text = (
        (Path(APP).parent / "scenarios" / "uttarakhand-policy.yaml")
        .read_text()
        .replace("name: uttarakhand-policy", "name: my <b>plan</b>")
    )
    at.file_uploader(key="upload_scenario").upload("mine.yaml", text.encode(), "application/x-yaml").run()
    _clean(at)
    assert at.sidebar.radio(key="f_base").value == "my <b>plan</b>"
    saved = _saved(at)
    assert saved["name"] == "my <b>plan</b>" and saved["data"]["offices"].endswith("data/uttarakhand/offices.csv")
    assert Path(saved["data"]["offices"]).is_absolute()
    assert saved["policy"] == yaml.safe_load(text)["policy"]
    assert any(md("my <b>plan</b>") in m.value for m in at.success)


def test_open_a_bad_scenario_yaml_names_line_and_key():
    at = _new()
    bad = b"name: x\nobjective: max_coverage\nbudget_usd: -5\ndata: {offices: ../data/uttarakhand/offices.csv}\n"
    at.file_uploader(key="upload_scenario").upload("bad [x](http://e.com).yaml", bad, "application/x-yaml").run()
    _clean(at)
    text = " ".join(e.value for e in at.error)
    assert md("bad [x](http://e.com).yaml") in text and md("budget_usd") in text
    table = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert table["column"].tolist() == ["budget_usd"]
    dup = b"name: x\nname: y\n"
    at.file_uploader(key="upload_scenario").upload("dup.yaml", dup, "application/x-yaml").run()
    _clean(at)
    table = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert table["row"].tolist() == [2] and "duplicate key" in table["problem"].iloc[0]
    assert at.sidebar.radio(key="f_base").value == DEFAULT  # nothing was opened


# --------------------------------------------------------------------------------------------- the report
@pytest.fixture(scope="module")
def solved():
    from planner.pipeline import run
    from planner.results import report

    plan = run(Path(APP).parent / "scenarios" / f"{DEFAULT}.yaml")
    return plan, report.office_coordinates(plan)


def _without_attributions(page: str) -> str:
    return re.sub(r'<td class="attribution">.*?</td>', "", page, flags=re.S)


def test_report_has_every_section(solved):
    from planner.ui.report_html import report_html

    plan, coords = solved
    page = report_html(plan, coords)
    s = plan.summary
    for section in ("question", "kpis", "proof", "map", "mix", "unit-costs", "sources", "conventions"):
        assert f'<section id="{section}">' in page, section
    assert DEFAULT in page and "most coverage within a budget" in page
    assert "2.00 M USD (2,000,000 USD)" in page  # the budget asked
    assert fmt.money(s["total_cost_usd"]) in page and fmt.money(s["cost_per_person_usd"]) in page
    assert "<svg" in page and page.count("<circle") == len(plan.plan)  # one dot per office
    assert "4G cellular" in page and "cellular_4g" not in _without_attributions(page).split("<h2>Where")[0]
    assert "Cost per community" in page
    assert "proven optimal (within 0.01 %)" in page.lower()  # the bound in words
    assert f"{s['objective_bound']:,.0f}" in page
    assert "Microwave line of sight" in page and str(s["line_of_sight"]) in page
    assert "Discount rate" in page and "8.0 %" in page and "TCO over the horizon" in page
    sources = page.split('<section id="sources">')[1].split("</section>")[0]
    assert sources.count('<td class="attribution">') >= 5 and "planner estimate" in sources


def test_report_is_self_contained(solved):
    from planner.ui.report_html import report_html

    page = report_html(*solved)
    for fetch in ("<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import"):
        assert fetch not in page.lower(), fetch
    assert not re.search(r"https?://", _without_attributions(page))
    assert re.search(r"https://", page)  # sources do carry their addresses, as plain text


def test_report_escapes_user_text_and_warns_without_proof(solved):
    import dataclasses

    from planner.ui.report_html import report_html

    plan, coords = solved
    evil = "<script>alert(1)</script>"
    hostile = dataclasses.replace(
        plan,
        scenario=plan.scenario.model_copy(update={"name": evil, "description": '<img src="http://e.com/x.png">'}),
        summary={**plan.summary, "scenario": evil, "status": "time_limit", "mip_gap": 0.523, "objective_value": None},
        by_region=plan.by_region.assign(region="<b onmouseover=x>R</b>"),
    )
    page = report_html(hostile, coords)
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and "<b onmouseover" not in page and "&lt;b onmouseover=x&gt;R&lt;/b&gt;" in page
    proof = page.split('<section id="proof">')[1]
    assert '<p class="warn">' in proof and "Not proven optimal: up to 52 % better may exist" in proof


def test_export_page_offers_the_report(solved):
    plan, coords = solved
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.session_state["runs"] = {DEFAULT: {"plan": plan, "coords": coords, "raw": {"name": DEFAULT},
                                          "times": {"total_s": 1.0, "costing_cached": False}}}  # fmt: skip
    at.sidebar.radio(key="page").set_value("Export").run()
    _clean(at)
    assert {"dl_report", "dl_report_pdf"} <= {b.key for b in at.get("download_button")}


def test_cli_report_of_a_recorded_run(solved, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from planner.results import write_outputs
    from planner.store import RunStore
    from planner.ui.cli import app as cli

    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "runs.sqlite"))
    plan, _ = solved
    files = write_outputs(plan, tmp_path / "out")
    run_id = RunStore().record_plan(plan, command="test", files=files, scenario_yaml="", timings={})
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", str(run_id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert '<section id="sources">' in page and "<svg" in page and DEFAULT in page
    missing = CliRunner().invoke(cli, ["report", "999", "--out", str(out)])
    assert missing.exit_code == 2 and "no run 999" in missing.output
    bad = CliRunner().invoke(cli, ["report", str(run_id), "--out", str(tmp_path / "no" / "such" / "r.html")])
    assert bad.exit_code == 2 and "cannot be written" in bad.output


def test_pdf_report_has_the_same_figures(solved, tmp_path, monkeypatch):
    """The PDF (WeasyPrint, offline) carries the report's sections and figures; the CLI writes it by suffix."""
    pypdf = pytest.importorskip("pypdf")
    from typer.testing import CliRunner

    from planner.results import write_outputs
    from planner.store import RunStore
    from planner.ui.cli import app as cli
    from planner.ui.report_html import pdf_available, report_html, report_pdf

    if pdf_available() is not None:  # the test extra installs WeasyPrint; Pango comes with chromium
        pytest.skip(pdf_available())
    plan, coords = solved
    pdf = report_pdf(report_html(plan, coords))
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    s = plan.summary
    wanted = ["The question asked", "The answer in figures", "Map of the plan", "proven optimal", "planner estimate",
              fmt.money(s["total_cost_usd"]), fmt.money(s["cost_per_person_usd"]), "page 1 of"]  # fmt: skip
    for words in wanted:
        assert words.lower() in text.lower(), (words, text[:600])
    assert "Discount rate" in text and "8.0 %" in text
    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "runs.sqlite"))
    run_id = RunStore().record_plan(plan, command="test", files=write_outputs(plan, tmp_path / "out"),
                                    scenario_yaml="", timings={})  # fmt: skip
    result = CliRunner().invoke(cli, ["report", str(run_id), "--out", str(tmp_path / "r.pdf")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    odd = CliRunner().invoke(cli, ["report", str(run_id), "--out", str(tmp_path / "r.docx")])
    assert odd.exit_code == 2 and "expected a .html or .pdf file name" in odd.output


def test_plans_are_named_runs_that_never_overwrite_each_other() -> None:
    """The same name with another budget is kept beside the first, labelled by what changed; the same scenario run
    again keeps its label; a third distinct run gets a number."""
    from planner.ui.state import changed_words, run_label

    base = {"name": "uttarakhand-budget", "budget_usd": 2e6, "objective": "max_coverage", "data": {"offices": "a"}}
    runs: dict = {"uttarakhand-budget": {"raw": base}}
    assert run_label(dict(base), runs) == "uttarakhand-budget"
    cheaper = {**base, "budget_usd": 1.5e6}
    label = run_label(cheaper, runs)
    assert label == "uttarakhand-budget · budget 1.50 M USD"
    runs[label] = {"raw": {**cheaper, "discount_rate": 0.1}}  # the label is taken by other settings
    assert run_label(cheaper, runs) == "uttarakhand-budget · budget 1.50 M USD #2"
    own = {**base, "data": {"offices": "b"}}
    assert changed_words(base, own) == "other data"


def test_rerunning_with_another_budget_keeps_both_plans_and_compare_offers_them():
    at = _new()
    at.button(key="run").click().run()
    at.number_input(key="f_budget_m").set_value(1.5).run()
    at.button(key="run").click().run()
    _clean(at)
    runs = at.session_state["runs"]
    other = f"{DEFAULT} · budget 1.50 M USD"
    assert list(runs) == [DEFAULT, other]
    assert runs[DEFAULT]["plan"].scenario.budget_usd == 2e6 and runs[other]["plan"].scenario.budget_usd == 1.5e6
    assert any("Kept as" in c.value for c in at.caption)
    at.sidebar.radio(key="page").set_value("Compare").run()
    assert at.multiselect(key="cmp_names").value == [DEFAULT, other]
