"""The Scenario page: start from a bundled scenario, edit it in the form, add data files, save and run it."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, cast

import pandas as pd
import streamlit as st

from planner.errors import InputError
from planner.ui.format import column_label, money, tech_label
from planner.ui.safe import md
from planner.ui.state import (
    COST_FIELDS,
    UPLOAD_COLUMNS,
    UPLOAD_SUFFIXES,
    bundled,
    default_catalogue_rows,
    load_base,
    open_scenario,
    regions,
    remove_upload,
    run_and_store,
    scenario_yaml,
    stamp,
    take_upload,
    template_bytes,
    upload_key,
    upload_limit_mb,
)
from planner.ui.widgets import kpi_cards, show_issues, show_last_error, solve_summary

DATA_KEYS = ["offices", "fibre_nodes", "towers", "options", "coverage"]
DATA_LABELS = {
    "offices": "Offices (CSV, GeoJSON or GeoPackage)",
    "fibre_nodes": "Fibre nodes (CSV node_id, lat, lon)",
    "towers": "Towers (CSV tower_id, lat, lon, generation, range_km[, backhaul], or OpenCellID)",
    "options": "Engineering quotes (CSV office_id, technology, capex_usd, opex_usd_per_year[, mbps])",
    "coverage": "Cellular coverage polygons (GeoJSON or GeoPackage; property technology or generation)",
}
INTRO = """**Which technology should connect each unconnected post office, and what will it cost?** The planner prices
every office's options (fibre, 4G, microwave radio, satellite) from published figures and picks the plan with the
most coverage within a budget, or the least cost reaching a coverage target, and says how close to the best
possible plan it is.

1. **Choose a scenario** in the sidebar (bundled examples), or open your own scenario YAML below.
2. **Adjust** the objective, budget and policy rules; replace the data with your files (templates below).
3. **Run scenario**, then read **Results** and the **Donor view**, and download the report on **Export**."""


# --------------------------------------------------------------------------------------------- scenario form
def _effective_costs(overrides: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Key cost figures of the default catalogue with the scenario's overrides applied."""
    base = copy.deepcopy(default_catalogue_rows())
    for tech, fields in overrides.items():
        for f, v in fields.items():
            if f in COST_FIELDS and tech in base:
                base[tech][f] = float(v["value"] if isinstance(v, dict) else v)
    return pd.DataFrame.from_dict(base, orient="index")[COST_FIELDS].rename_axis("technology")


#: Top-level scenario keys the form sets (or drops on purpose); any other key of the base scenario is kept as is.
FORM_KEYS = {"name", "description", "data", "technologies", "objective", "coverage_metric", "budget_usd",
             "budget_basis", "coverage_target", "horizon", "discount_rate", "cost_basis", "policy", "demand",
             "roadmap", "infrastructure", "solver"}  # fmt: skip
COST_BASIS_LABELS = {
    "tco": "TCO over the horizon",
    "tco_residual": "TCO less residual value at the horizon end",
    "annualised": "Annualised over each asset's life",
}
DEMAND_LABELS = {
    "planner": "Planner: services + Mbps per 1,000 people",
    "itu_cpp": "ITU CPP: people x 25 % x 10 % x 2 Mbps, floor 20",
    "giga": "Giga: 20 Mbps per site, 50 kbps per user above 400",
}


def usd(amount: float, unit: float = 1e6) -> float:
    """An amount entered in millions (or ``unit``) of USD, in USD to the cent (what the scenario file holds)."""
    return round(float(amount) * unit, 2)


def _h(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:10]


def data_section(base: dict[str, Any]) -> tuple[dict[str, str], bool]:
    """Upload widgets; returns the data paths (uploads replace the base scenario's) and whether all are valid.

    Uploads are kept in the session (not only in the widget), so they survive a visit to another page; 'Remove'
    deletes the file. Names are shown as uploaded (escaped); the files are saved under generated names.
    """
    paths = dict(base.get("data", {}))
    uploads = st.session_state.setdefault("uploads", {})
    ok = True
    shown = {k: md(Path(v).name) if v else "none" for k, v in paths.items()}
    with st.expander("Data: use your own files (optional)", expanded=bool(uploads)):
        st.caption(
            "Uploads replace the base scenario's files; they are checked with the same rules and messages "
            f"as `planner validate` (file, row, column). Up to {upload_limit_text()} per file."
        )
        for kind in DATA_KEYS:
            upload = st.file_uploader(
                DATA_LABELS[kind],
                key=upload_key(kind),
                type=[s.lstrip(".") for s in UPLOAD_SUFFIXES[kind]],
            )
            _templates(kind)
            entry = take_upload(kind, upload) if upload is not None else uploads.get(kind)
            if entry is None:
                continue
            name = md(entry["name"])
            if entry["issues"]:
                ok = False
                show_issues(entry["issues"], f"{name} cannot be used ({len(entry['issues'])} problem(s)):")
                shown[kind] = f"{name} (rejected)"
            else:
                st.success(f"{name}: valid, used instead of the bundled file")
                paths[kind] = entry["path"]
                shown[kind] = f"{name} (uploaded)"
            st.button(f"Remove {name}", key=f"remove_{kind}", on_click=remove_upload, args=(kind,))
    st.caption("Data in use: " + ", ".join(f"{k} = {v}" for k, v in shown.items()))
    return paths, ok


def _templates(kind: str) -> None:
    """Download buttons of an upload's empty template and small example file, and its columns."""
    t1, t2, t3 = st.columns([1, 1, 3])
    for col, example in ((t1, False), (t2, True)):
        name, content, mime = template_bytes(kind, example)
        col.download_button(
            "Example file" if example else "Template",
            content,
            file_name=name,
            mime=mime,
            key=f"tpl_{kind}_{'example' if example else 'empty'}",
            on_click="ignore",
        )
    if kind in UPLOAD_COLUMNS:
        cols = UPLOAD_COLUMNS[kind]
        need = ", ".join(f"`{c.name}`" for c in cols if c.required)
        optional = ", ".join(f"`{c.name}`" for c in cols if not c.required)
        t3.caption(f"Required: {need}. Optional: {optional}.")
    else:
        t3.caption("(Multi)Polygons in WGS 84 with `technology` (e.g. `cellular_4g`, `3G`, `LTE`) or `generation` "
                   "(2-5); optional `operator`, `mbps`.")  # fmt: skip


def upload_limit_text() -> str:
    """The upload limit for the caption ("?" if ``PLANNER_MAX_INPUT_MB`` is not a number: each upload says so)."""
    try:
        return f"{upload_limit_mb():,.0f} MB"
    except InputError:
        return "? MB"


def _objective_section() -> None:
    """Objective and coverage metric, budget, basis and target, horizon and discount rate (three columns)."""
    c1, c2, c3 = st.columns(3)
    with c1:
        st.radio(
            "Objective",
            ["max_coverage", "min_cost"],
            key="f_objective",
            format_func={
                "max_coverage": "Most coverage within a budget",
                "min_cost": "Least cost reaching a target",
            }.get,
        )
        st.selectbox("Coverage metric", ["population", "offices", "communities"], key="f_metric")
    with c2:
        st.number_input(
            "Budget (M USD)",
            min_value=0.0,
            step=0.1,
            format="%.3f",
            key="f_budget_m",
            help="Millions of USD: 2 means 2,000,000 USD. Required for 'most coverage'. With 'least cost', 0 means "
            "no budget limit.",
        )
        st.caption(f"= {money(usd(st.session_state['f_budget_m']), exact=True)}")
        st.radio(
            "Budget basis",
            ["capex", "tco"],
            key="f_basis",
            horizontal=True,
            help="capex: upfront cost only; tco: capex + discounted opex over the horizon",
        )
        st.number_input(
            "Coverage target (share)",
            min_value=0.01,
            max_value=1.0,
            step=0.01,
            key="f_target",
            help="Used with 'least cost reaching a target'.",
        )
    with c3:
        st.number_input("Horizon start year", min_value=2000, max_value=2100, step=1, key="f_start")
        st.number_input("Horizon end year", min_value=2000, max_value=2100, step=1, key="f_end")
        st.number_input("Discount rate", min_value=0.0, max_value=0.99, step=0.01, key="f_rate")
        st.selectbox(
            "Economic cost (least cost, tie-breaks)",
            ["tco", "tco_residual", "annualised"],
            key="f_cost_basis",
            format_func=lambda v: COST_BASIS_LABELS[str(v)],
            help="What 'least cost' minimises; the budget still counts the budget basis. See README, cost conventions.",
        )
        st.selectbox(
            "Demand model (required Mbps)",
            ["planner", "itu_cpp", "giga"],
            key="f_demand_model",
            format_func=lambda v: DEMAND_LABELS[str(v)],
        )


def _technology_section(techs: list[str], over: dict[str, Any], v: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Allowed technologies and the key costs table; returns the costs shown and as edited."""
    st.multiselect("Allowed technologies", techs, key="f_allowed", format_func=tech_label)
    with st.expander("Key costs (USD; edits become overrides in the scenario's `technologies` mapping)"):
        shown = _effective_costs(over)
        # The technology's name is shown; its key stays the (hidden) index the overrides are written under.
        edited = st.data_editor(
            shown.assign(name=[tech_label(t) for t in shown.index])[["name", *COST_FIELDS]],
            key=f"costs_{v}_{_h(over)}",
            disabled=["name"],
            hide_index=True,
            width="stretch",
            column_config={
                "name": st.column_config.TextColumn("Technology"),
                **{f: st.column_config.NumberColumn(column_label(f), format="localized") for f in COST_FIELDS},
            },
        )
        if over:
            st.caption("Overrides: " + md(json.dumps(over)))
    return shown, edited


def _policy_section(base: dict[str, Any], techs: list[str], v: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Policy rules: regional minimums, technology caps, cost ceiling, fibre preference, opex payer.

    Returns the regional minimums and the technology caps as edited.
    """
    ss = st.session_state
    with st.expander("Policy rules"):
        p1, p2 = st.columns(2)
        with p1:
            st.markdown("**Regional minimum coverage** (share of the metric; region `*` = every region)")
            names = regions(base["data"]["offices"], stamp(base["data"]["offices"]))
            mins = ss["region_mins"]
            region_df = pd.DataFrame({"region": list(mins), "min_share": [float(x) for x in mins.values()]})
            region_edit = st.data_editor(
                region_df.astype({"region": "object", "min_share": "float"}),
                key=f"regions_{v}_{_h(mins)}",
                num_rows="dynamic",
                hide_index=True,
                column_config={
                    "region": st.column_config.SelectboxColumn("region", options=["*", *names], required=True),
                    "min_share": st.column_config.NumberColumn("min share", min_value=0.0, max_value=1.0, step=0.05),
                },
            )
        with p2:
            st.markdown("**Technology caps** (maximum share of the connected offices; blank = no cap)")
            caps = ss["tech_caps"]
            caps_df = pd.DataFrame({"technology": [tech_label(t) for t in techs],
                                    "max_share": [caps.get(t) for t in techs]})  # fmt: skip
            caps_edit = st.data_editor(
                caps_df.astype({"max_share": "float"}),
                key=f"caps_{v}_{_h(caps)}",
                hide_index=True,
                disabled=["technology"],
                column_config={
                    "technology": st.column_config.TextColumn("Technology"),
                    "max_share": st.column_config.NumberColumn("max share", min_value=0.0, max_value=1.0, step=0.05),
                },
            )
        q1, q2, q3 = st.columns(3)
        q1.number_input(
            "Cost ceiling per office (K USD, 0 = none)",
            min_value=0.0,
            step=5.0,
            format="%.1f",
            key="f_max_cost_k",
            help="Thousands of USD: 50 means 50,000 USD per office.",
        )
        ceiling = usd(ss["f_max_cost_k"], 1e3)
        q1.caption(f"= {money(ceiling, exact=True)}" if ceiling > 0 else "no ceiling")
        with q2:
            st.checkbox("Prefer fibre when within", key="f_fibre_pref_on")
            st.number_input("% of the cheapest option", min_value=0.0, step=5.0, key="f_fibre_pref")
        q3.selectbox("Opex paid by", ["both", "post", "operator"], key="f_opex_paid_by")
        if base.get("roadmap"):
            annual = base["roadmap"].get("annual_budget_usd")
            if isinstance(annual, dict):
                per_year = ", ".join(f"{md(y)}: {money(v)}" for y, v in annual.items())
                st.info(f"This scenario phases the plan year by year; annual budgets kept as given ({per_year}).")
            else:
                st.info("This scenario phases the plan year by year (other roadmap settings kept as given).")
                st.number_input("Roadmap: annual budget (M USD)", min_value=0.0, step=0.1, format="%.3f",
                                key="f_annual_m", help="Millions of USD available each year.")  # fmt: skip
                st.caption(f"= {money(usd(ss['f_annual_m']), exact=True)} per year")
    return region_edit, caps_edit


def _sharing_section(base: dict[str, Any]) -> None:
    """Shared infrastructure switches (not with a roadmap)."""
    with st.expander("Shared infrastructure (trenches paid once, new towers, radio relays)"):
        if base.get("roadmap"):
            st.info("Shared infrastructure is planned for one period: not available with a roadmap.")
        else:
            i1, i2, i3, i4 = st.columns(4)
            i1.checkbox("Share fibre trenches", key="f_share_fibre")
            i2.checkbox("New 4G tower sites", key="f_share_towers")
            i3.checkbox("Microwave relays off fibre offices", key="f_share_relays")
            i4.selectbox("Design method", ["auto", "exact", "heuristic"], key="f_share_method")


def _solver_section() -> None:
    """Solver settings: time limit, gap, method."""
    with st.expander("Solver"):
        s1, s2, s3 = st.columns(3)
        s1.number_input("Time limit per solver call (s)", min_value=1.0, step=5.0, key="f_time_limit")
        s2.number_input("Relative gap accepted", min_value=0.0, max_value=0.5, step=1e-4, format="%.4f", key="f_gap")
        s3.selectbox("Method", ["auto", "milp", "fast"], key="f_method")


def _cost_overrides(over: dict[str, Any], shown: pd.DataFrame, edited: pd.DataFrame) -> dict[str, Any]:
    """The scenario's cost overrides with the edits of the key costs table."""
    overrides = copy.deepcopy(over)
    for tech in edited.index:
        for f in COST_FIELDS:
            new, old = cast(float, edited.at[tech, f]), cast(float, shown.at[tech, f])
            if pd.notna(new) and float(new) != float(old):
                overrides.setdefault(str(tech), {})[f] = float(new)
    return overrides


def _policy(techs: list[str], region_edit: pd.DataFrame, caps_edit: pd.DataFrame) -> dict[str, Any]:
    """The scenario's ``policy`` mapping from the form; the session keeps the regional minimums and caps as edited."""
    ss = st.session_state
    policy: dict[str, Any] = {}
    if sorted(ss["f_allowed"]) != sorted(techs):
        policy["allowed_technologies"] = list(ss["f_allowed"])
    mins_new = {
        str(r): float(s)
        for r, s in zip(region_edit["region"], region_edit["min_share"], strict=True)
        if pd.notna(r) and pd.notna(s)
    }
    ss["region_mins"] = mins_new
    if mins_new:
        policy["region_min_coverage"] = mins_new
    caps_new = {
        str(t): float(s)
        for t, s in zip(techs, caps_edit["max_share"], strict=True)
        if pd.notna(s)  # rows in order
    }
    ss["tech_caps"] = caps_new
    if caps_new:
        policy["technology_max_share"] = caps_new
    if ss["f_fibre_pref_on"]:
        policy["fibre_preference_pct"] = float(ss["f_fibre_pref"])
    if ss["f_max_cost_k"] > 0:
        policy["max_cost_per_office_usd"] = usd(ss["f_max_cost_k"], 1e3)
    if ss["f_opex_paid_by"] != "both":
        policy["opex_paid_by"] = ss["f_opex_paid_by"]
    return policy


def _scenario_mapping(
    base: dict[str, Any], paths: dict[str, str], overrides: dict[str, Any], policy: dict[str, Any]
) -> dict[str, Any]:
    """The scenario mapping exactly as it will be saved (keys in the order of the saved YAML)."""
    ss = st.session_state
    raw: dict[str, Any] = {"name": ss["f_name"].strip() or "scenario"}
    if base.get("description"):
        raw["description"] = base["description"]
    keys = [*DATA_KEYS, *(k for k in paths if k not in DATA_KEYS)]  # coverage, elevation, roads kept as given
    raw["data"] = {k: paths[k] for k in keys if paths.get(k)}
    given = base.get("technologies")
    raw["technologies"] = overrides or (given if isinstance(given, str) else "default")  # a catalogue path is kept
    raw["objective"] = ss["f_objective"]
    raw["coverage_metric"] = ss["f_metric"]
    budget = usd(ss["f_budget_m"])
    if budget > 0 or (ss["f_objective"] == "max_coverage" and not base.get("roadmap")):
        raw["budget_usd"] = budget
    raw["budget_basis"] = ss["f_basis"]
    if ss["f_objective"] == "min_cost":
        raw["coverage_target"] = float(ss["f_target"])
    raw["horizon"] = {"start_year": int(ss["f_start"]), "end_year": int(ss["f_end"])}
    raw["discount_rate"] = float(ss["f_rate"])
    if ss.get("f_cost_basis", "tco") != "tco" or base.get("cost_basis"):
        raw["cost_basis"] = ss.get("f_cost_basis", "tco")
    if policy:
        raw["policy"] = policy
    for key in ("demand", "roadmap"):
        if base.get(key):
            raw[key] = copy.deepcopy(base[key])
    if isinstance((raw.get("roadmap") or {}).get("annual_budget_usd"), int | float):
        raw["roadmap"]["annual_budget_usd"] = usd(ss["f_annual_m"])
    model = ss.get("f_demand_model", "planner")
    if model != (raw.get("demand") or {}).get("model", "planner"):
        raw["demand"] = {**(raw.get("demand") or {}), "model": model}
    shares = {
        "shared_fibre": bool(ss.get("f_share_fibre")),
        "new_towers": bool(ss.get("f_share_towers")),
        "radio_relays": bool(ss.get("f_share_relays")),
    }
    if any(shares.values()) and not base.get("roadmap"):
        infra = {**copy.deepcopy(base.get("infrastructure") or {}), **shares}
        infra["method"] = ss.get("f_share_method", "auto")
        raw["infrastructure"] = infra
    raw["solver"] = {
        **copy.deepcopy(base.get("solver") or {}),
        "time_limit_s": float(ss["f_time_limit"]),
        "mip_gap": float(ss["f_gap"]),
        "method": ss["f_method"],
    }
    for key, value in base.items():  # what the form has no field for (coverage rules, catalogue region) is kept
        if key not in raw and key not in FORM_KEYS:
            raw[key] = copy.deepcopy(value)
    return raw


def scenario_form() -> tuple[dict[str, Any], bool]:
    """The scenario editor.

    Returns the raw scenario mapping (what is saved and run) and whether the data is ok.
    """
    ss = st.session_state
    base = ss["base_raw"]
    v = ss["form_version"]
    techs = list(default_catalogue_rows())
    st.text_input("Scenario name", key="f_name")
    _objective_section()
    over = ss["costs_over"]
    shown, edited = _technology_section(techs, over, v)
    region_edit, caps_edit = _policy_section(base, techs, v)
    _sharing_section(base)
    _solver_section()
    paths, data_ok = data_section(base)

    # Assemble the scenario mapping exactly as it will be saved.
    overrides = _cost_overrides(over, shown, edited)
    ss["costs_over"] = overrides
    policy = _policy(techs, region_edit, caps_edit)
    return _scenario_mapping(base, paths, overrides, policy), data_ok


# --------------------------------------------------------------------------------------------- page
def _opened() -> None:
    """Callback of 'Open a scenario YAML': validate the file and, if it is valid, load it into the form."""
    ss = st.session_state
    upload = ss.get(upload_key("scenario"))
    ss.pop("open_issues", None)
    if upload is None:
        return
    raw, issues = open_scenario(upload)
    if raw is None:
        ss["open_issues"] = {"name": upload.name, "issues": issues}
        return
    key = str(raw["name"]) if raw["name"] not in bundled() else f"{raw['name']} (opened)"
    ss.setdefault("opened", {})[key] = raw
    ss["f_base"] = key
    load_base()
    ss["open_ok"] = f"Opened {upload.name}: scenario '{raw['name']}' is in the form."


def _open_section() -> None:
    """'Open a scenario YAML': the same checks as ``planner validate``, problems shown with line and key."""
    ss = st.session_state
    with st.expander("Open a scenario YAML", expanded="open_issues" in ss):
        st.file_uploader(
            "Scenario file (.yaml), e.g. one saved with 'Save scenario as YAML'",
            type=["yaml", "yml"],
            key=upload_key("scenario"),
            on_change=_opened,
            help="Checked like `planner validate`. Relative data paths are read from the bundled scenarios' folder.",
        )
        bad = ss.get("open_issues")
        if bad:
            show_issues(bad["issues"], f"{md(bad['name'])} cannot be opened ({len(bad['issues'])} problem(s)):")
    if "open_ok" in ss:
        st.success(md(ss.pop("open_ok")))


def page_scenario() -> None:
    """The Scenario page: intro, Run and Save at the top, the form and uploads, errors, the headline figures."""
    ss = st.session_state
    st.header("Build and run a scenario")
    st.markdown(INTRO)
    base = ss["base_raw"]
    st.markdown(
        f"**Scenario: {md(base['name'])}**" + (f" — {md(base['description'])}" if base.get("description") else "")
    )
    bar = st.container()  # Run and Save: drawn after the form (they need it) but shown here, above the fold
    out = st.container()  # the run's progress, errors and headline figures
    _open_section()
    raw, data_ok = scenario_form()
    with bar:
        b1, b2, b3 = st.columns([1, 1, 2])
        run = b1.button("Run scenario", type="primary", key="run", disabled=not data_ok)
        b2.download_button(
            "Save scenario as YAML",
            scenario_yaml(raw),
            file_name=f"{raw['name']}.yaml",
            mime="application/x-yaml",
            key="save_yaml",
            on_click="ignore",
        )
        if not data_ok:
            b3.warning("Fix the uploaded files below before running.")
    with st.expander("Scenario YAML (what 'Save' downloads; `planner solve` on it gives the same plan)"):
        st.code(scenario_yaml(raw), language="yaml")
    with out:
        if run and data_ok:
            run_and_store(raw)
        show_last_error()
        current = ss.get("current")
        runs = ss.get("runs", {})
        if current in runs and not ss.get("last_error"):
            st.subheader(f"Plan: {md(current)}")
            solve_summary(runs[current])
            kpi_cards(runs[current]["plan"])
            st.caption("See **Results** for the map, charts and the per-office table; **Export** for the report.")
