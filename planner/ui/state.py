"""Session state and process-wide caches of the app.

Bundled scenarios, costed options and plans (cached process-wide), the scenario form's state, uploads, and
running a scenario into the session. Costed options (``prepare``) are cached by everything costing depends on;
a change of objective, budget, target, regional minimums, technology caps, roadmap or solver settings only
re-solves.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import yaml

from planner.data import read_fibre_nodes, read_offices, read_quotes, read_towers
from planner.errors import InfeasibleError, InputError, Issue, PlannerError
from planner.pipeline import Prepared, costing_key, prepare, solve_prepared
from planner.results import Plan
from planner.scenario import Scenario, catalogue_for, load_catalogue, scenario_from_dict

# The repository root (bundled scenarios in scenarios/): the folder the app starts in (``streamlit run app.py``
# from the repository root, as .streamlit/config.toml needs) when it has scenarios/, else the checkout this
# package lies in.
_CHECKOUT = Path(__file__).resolve().parents[2]
ROOT = Path.cwd().resolve() if (Path.cwd() / "scenarios").is_dir() else _CHECKOUT
SCENARIO_DIR = ROOT / "scenarios"
COST_FIELDS = [
    "capex_fixed_usd",
    "capex_civil_usd",
    "capex_per_km_usd",
    "licence_once_usd",
    "licence_per_year_usd",
    "opex_per_year_usd",
    "opex_per_km_per_year_usd",
]


# --------------------------------------------------------------------------------------------- caches
class _Store:
    """Process-wide LRU caches of costed options (by costing key) and plans (by full scenario)."""

    def __init__(self, size: int = 6) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.prepared: OrderedDict[str, Prepared] = OrderedDict()
        self.plans: OrderedDict[str, Plan] = OrderedDict()

    def get(self, table: OrderedDict, key: str) -> Any:
        """The entry of ``key`` in ``table`` (now the most recently used), or None."""
        with self.lock:
            if key in table:
                table.move_to_end(key)
                return table[key]
        return None

    def put(self, table: OrderedDict, key: str, value: Any) -> None:
        """Store an entry in ``table``, dropping the least recently used beyond the size."""
        with self.lock:
            table[key] = value
            while len(table) > self.size:
                table.popitem(last=False)


@st.cache_resource
def store() -> _Store:
    """The process-wide caches of costed options and plans (one for every session)."""
    return _Store()


def plan_key(scenario: Scenario, ckey: str) -> str:
    """Cache key of a plan: the costing key and the full scenario."""
    return ckey + json.dumps(scenario.model_dump(mode="json"), sort_keys=True)


@st.cache_data(show_spinner=False)
def bundled() -> dict[str, dict[str, Any]]:
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
def default_catalogue_rows() -> dict[str, dict[str, float]]:
    """Key cost figures (:data:`COST_FIELDS`) of each technology of the default catalogue."""
    cat = load_catalogue()
    return {t: {f: getattr(tech, f).value for f in COST_FIELDS} for t, tech in cat.technologies.items()}


@st.cache_data(show_spinner=False, max_entries=16)
def regions(path: str, stamp: str) -> list[str]:
    """Regions of an offices file (none if it cannot be read); ``stamp`` (see :func:`stamp`) keys the cache."""
    try:
        return sorted(read_offices(Path(path))["region"].astype(str).unique())
    except PlannerError:
        return []


def stamp(path: str | None) -> str:
    """Size and modification time of a file, to key caches of what is read from it ("" if there is none)."""
    try:
        st_ = Path(path).stat() if path else None
    except OSError:
        return ""
    return f"{st_.st_size}-{st_.st_mtime_ns}" if st_ else ""


# --------------------------------------------------------------------------------------------- form state
def load_base() -> None:
    """Fill the form from the chosen bundled scenario (callback of the 'Start from' box)."""
    raw = copy.deepcopy(bundled()[st.session_state["f_base"]])
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
    ss["f_cost_basis"] = raw.get("cost_basis", "tco")
    ss["f_demand_model"] = (raw.get("demand") or {}).get("model", "planner")
    pol = raw.get("policy", {}) or {}
    ss["f_allowed"] = list(pol.get("allowed_technologies") or default_catalogue_rows().keys())
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


def keep_form_state() -> None:
    """Streamlit forgets the state of widgets not drawn in a run (another page): keep the form's."""
    ss = st.session_state
    for key in list(ss.keys()):
        if isinstance(key, str) and key.startswith("f_"):
            ss[key] = ss[key]


def save_upload(kind: str, upload: Any) -> Path:
    """Save an uploaded file in this session's temp folder.

    The name carries a content hash so costing caches see a new file as new data.
    """
    folder = Path(st.session_state.setdefault("upload_dir", tempfile.mkdtemp(prefix="planner-upload-")))
    content = upload.getvalue()
    digest = hashlib.sha256(content).hexdigest()[:12]
    name = Path(upload.name).name
    path = folder / f"{kind}-{digest}-{name}"
    if not path.exists():
        path.write_bytes(content)
    return path


def check_upload(kind: str, path: Path) -> list[Issue]:
    """Read an uploaded file with the CLI's readers; the issues name file, row and column."""
    readers: dict[str, Callable[[Path], object]] = {
        "offices": read_offices,
        "fibre_nodes": read_fibre_nodes,
        "towers": read_towers,
        "options": lambda p: read_quotes(p, list(default_catalogue_rows())),
    }
    try:
        readers[kind](path)
    except InputError as exc:
        return exc.issues
    return []


def remove_upload(kind: str) -> None:
    """Forget an upload of this session (callback of its 'Remove' button)."""
    st.session_state.get("uploads", {}).pop(kind, None)


def scenario_yaml(raw: dict[str, Any]) -> str:
    """The scenario as YAML for ``planner solve`` (data paths are absolute on the machine that ran the app)."""
    head = (
        "# Connect.Post Planner scenario saved by the app. Reproduce the plan with:\n"
        f"#   planner solve {raw['name']}.yaml --out out/{raw['name']}\n"
    )
    return head + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------------------------- running
def solve_raw(raw: dict[str, Any], say: Any = None) -> tuple[Plan, pd.DataFrame, dict[str, float]]:
    """Validate, prepare (cached) and solve a scenario mapping.

    Raises:
        PlannerError: the scenario is invalid or cannot be planned.
    """
    say = say or (lambda _m: None)
    cache = store()
    t0 = time.perf_counter()
    scenario = scenario_from_dict(copy.deepcopy(raw), base_dir=ROOT, file="scenario")
    catalogue_for(scenario)  # unknown technology names in the policy → InputError before costing
    ckey = costing_key(scenario)
    pkey = plan_key(scenario, ckey)
    prepared = cache.get(cache.prepared, ckey)
    if prepared is None:
        prepared = prepare(scenario, progress=say)
        cache.put(cache.prepared, ckey, prepared)
        cached = False
    else:
        say("costed options unchanged: re-solving only")
        cached = True
    t1 = time.perf_counter()
    plan = cache.get(cache.plans, pkey)
    if plan is None:
        plan = solve_prepared(prepared, scenario=scenario, progress=say)
        cache.put(cache.plans, pkey, plan)
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
