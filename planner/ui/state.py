"""Session state and process-wide caches of the app.

Bundled scenarios, costed options and plans (cached process-wide), the scenario form's state, uploads (one
folder per session, files under generated names, removed with the session), and running a scenario into the
session as a named run: each plan gets a label no other plan of the session has, is recorded in the run store
(as ``planner solve`` records, in the background), can be renamed, and stored runs can be reopened. Costed
options (``prepare``) are cached by everything costing depends on; a change of objective, budget, target,
regional minimums, technology caps, roadmap or solver settings only re-solves.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import stat
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import streamlit as st
import yaml

from planner.data import (
    NODE_COLUMNS,
    OFFICE_COLUMNS,
    OPTION_COLUMNS,
    TOWER_COLUMNS,
    Column,
    fingerprint,
    max_input_bytes,
    read_fibre_nodes,
    read_offices,
    read_quotes,
    read_towers,
)
from planner.errors import InfeasibleError, InputError, Issue, PlannerError
from planner.layers import read_coverage
from planner.pipeline import Prepared, Steps, costing_key, prepare, solve_prepared
from planner.results import Plan, output_bytes, output_names
from planner.scenario import Scenario, catalogue_for, load_catalogue, load_scenario, scenario_from_dict
from planner.store import RunRecord, RunStore
from planner.ui.format import gap_words, money, proven, seconds, share
from planner.ui.safe import md

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
def scenarios() -> dict[str, dict[str, Any]]:
    """The scenarios the form can start from: the bundled ones, then those opened (uploaded) in this session."""
    return {**bundled(), **st.session_state.get("opened", {})}


def load_base() -> None:
    """Fill the form from the chosen scenario, bundled or opened (callback of the sidebar's scenario picker)."""
    raw = copy.deepcopy(scenarios()[st.session_state["f_base"]])
    ss = st.session_state
    ss["base_raw"] = raw
    ss["f_name"] = raw["name"]
    ss["f_objective"] = raw.get("objective", "max_coverage")
    ss["f_metric"] = raw.get("coverage_metric", "population")
    ss["f_budget_m"] = float(raw.get("budget_usd") or 0.0) / 1e6  # entered in M USD, saved in USD
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
    ss["f_max_cost_k"] = float(pol.get("max_cost_per_office_usd") or 0.0) / 1e3  # entered in K USD
    annual = (raw.get("roadmap") or {}).get("annual_budget_usd")
    ss["f_annual_m"] = float(annual) / 1e6 if isinstance(annual, int | float) else 0.0
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


# --------------------------------------------------------------------------------------------- uploads
# The file types each upload takes (its reader chooses CSV, GeoJSON or GeoPackage by the suffix).
UPLOAD_SUFFIXES = {
    "offices": (".csv", ".geojson", ".json", ".gpkg"),
    "fibre_nodes": (".csv",),
    "towers": (".csv",),
    "options": (".csv",),
    "coverage": (".geojson", ".json", ".gpkg"),
}
#: The columns of each CSV upload, as the data layer reads them (required ones first).
UPLOAD_COLUMNS: dict[str, tuple[Column, ...]] = {
    "offices": OFFICE_COLUMNS,
    "fibre_nodes": NODE_COLUMNS,
    "towers": TOWER_COLUMNS,
    "options": OPTION_COLUMNS,
}
# Small example files (three offices near Dehradun, Uttarakhand): made up to show the layout, not real sites.
_EXAMPLE_ROWS: dict[str, list[dict[str, Any]]] = {
    "offices": [
        {"office_id": "EX-01", "lat": 30.3165, "lon": 78.0322, "population": 12000, "name": "Example BO 1",
         "country": "IND", "region": "Dehradun", "community": "248001", "status": "unconnected", "current_mbps": 0,
         "grid_power": "true", "services": "mail;financial", "priority": 1},
        {"office_id": "EX-02", "lat": 30.4010, "lon": 78.0750, "population": 3500, "name": "Example BO 2",
         "country": "IND", "region": "Dehradun", "community": "248003", "status": "underserved", "current_mbps": 2,
         "grid_power": "false", "services": "mail", "priority": 1},
        {"office_id": "EX-03", "lat": 30.4550, "lon": 78.0800, "population": 800, "name": "Example BO 3",
         "country": "IND", "region": "Tehri Garhwal", "community": "248179", "status": "unconnected",
         "current_mbps": 0, "grid_power": "true", "services": "mail;e_commerce;financial;e_government",
         "priority": 2},
    ],
    "fibre_nodes": [
        {"node_id": "FN-01", "lat": 30.3200, "lon": 78.0400, "name": "Example PoP 1"},
        {"node_id": "FN-02", "lat": 30.4400, "lon": 78.0900, "name": "Example PoP 2"},
    ],
    "towers": [
        {"tower_id": "T-01", "lat": 30.3300, "lon": 78.0500, "generation": 4, "range_km": 5, "backhaul": "true"},
        {"tower_id": "T-02", "lat": 30.3900, "lon": 78.0700, "generation": 3, "range_km": 8, "backhaul": "false"},
        {"tower_id": "T-03", "lat": 30.4600, "lon": 78.0700, "generation": 4, "range_km": 4, "backhaul": ""},
    ],
    "options": [
        {"office_id": "EX-03", "technology": "fibre", "capex_usd": 42000, "opex_usd_per_year": 1200, "mbps": 100},
        {"office_id": "EX-03", "technology": "leo_satellite", "capex_usd": 900, "opex_usd_per_year": 1000,
         "mbps": 50},
    ],
}  # fmt: skip
_EXAMPLE_COVERAGE = [  # (technology, operator, mbps, ring of (lon, lat))
    ("cellular_4g", "Example operator", 20,
     [(78.00, 30.28), (78.10, 30.28), (78.10, 30.36), (78.00, 30.36), (78.00, 30.28)]),
    ("3G", "Example operator", None,
     [(78.05, 30.38), (78.12, 30.38), (78.12, 30.43), (78.05, 30.43), (78.05, 30.38)]),
]  # fmt: skip

_FOLDER_NAME = re.compile(r"^(\d+)-(\d+)-")  # <pid>-<process start time, s>-<random>


def upload_root() -> Path:
    """The folder that holds every session's upload folder: ``planner-uploads-<uid>`` in the system temp folder."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"planner-uploads-{uid}"


def _own_folder(path: Path) -> bool:
    """Whether ``path`` is a real folder (not a link) of this user that no one else can write to."""
    try:
        info = path.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False
    return not hasattr(os, "getuid") or (info.st_uid == os.getuid() and not info.st_mode & 0o022)


def _alive(pid: int, started: int) -> bool:
    """Whether the process that made an upload folder still runs (the same pid with the same start time)."""
    try:
        return abs(psutil.Process(pid).create_time() - started) <= 2
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # access denied: someone's process, keep its folder
        return True


@st.cache_resource(show_spinner=False)
def prepared_upload_root(root: str) -> str | None:
    """Create the uploads root (once per process) and remove the folders of processes that are gone.

    Returns:
        The root, or None when it is not a private folder of this user (then each session's folder is made
        directly in the temp folder, and folders of dead processes are not cleaned up).
    """
    path = Path(root)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    if not _own_folder(path):
        return None
    for child in path.iterdir():
        m = _FOLDER_NAME.match(child.name)
        if m and child.is_dir() and not child.is_symlink() and not _alive(int(m[1]), int(m[2])):
            shutil.rmtree(child, ignore_errors=True)
    return root


class UploadFolder:
    """One session's upload folder, made once per session and kept in ``st.session_state["upload_folder"]``.

    It is removed (with whatever it holds) when the session's state is garbage-collected, which Streamlit does
    some time after the browser tab is closed (it keeps a closed session a while for a reconnect), and at the
    latest when the app's process exits normally (``weakref.finalize`` runs at exit). A folder left by a process
    that was killed is removed by the next app process (:func:`prepared_upload_root`).
    """

    def __init__(self) -> None:
        """Make the folder.

        Raises:
            OSError: the temp folder cannot take it.
        """
        me = psutil.Process()
        root = prepared_upload_root(str(upload_root()))
        if root:
            Path(root).mkdir(mode=0o700, parents=True, exist_ok=True)  # a temp cleaner may have removed it
        prefix = f"{me.pid}-{int(me.create_time())}-" if root else "planner-upload-"
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    @property
    def alive(self) -> bool:
        """Whether the folder is still there."""
        return self._finalizer.alive and self.path.is_dir()


def upload_folder() -> Path:
    """This session's upload folder (made at the first upload of the session)."""
    ss = st.session_state
    folder = ss.get("upload_folder")
    if folder is None or not folder.alive:  # duck-typed: after a code reload the kept one has the old class
        folder = UploadFolder()
        ss["upload_folder"] = folder
    return Path(folder.path)


def upload_limit_mb() -> float:
    """The largest upload the app takes, MB.

    Streamlit's ``server.maxUploadSize`` (.streamlit/config.toml) or the data layer's ``PLANNER_MAX_INPUT_MB``,
    whichever is smaller.

    Raises:
        InputError: ``PLANNER_MAX_INPUT_MB`` is not a number.
    """
    return min(float(st.get_option("server.maxUploadSize")), max_input_bytes() / 2**20)


def upload_key(kind: str) -> str:
    """The key of the file-upload widget of ``kind``: a new key after 'Remove', so the widget forgets the file."""
    n = st.session_state.get("upload_versions", {}).get(kind, 0)
    return f"upload_{kind}" if n == 0 else f"upload_{kind}_{n}"


def _refused(upload: Any) -> Issue | None:
    """Why an upload is not saved at all (over the size limit), or None.

    The file type is the widget's ``type`` list (:data:`UPLOAD_SUFFIXES`), which Streamlit enforces.
    """
    try:
        limit = upload_limit_mb()
    except InputError as exc:
        return exc.issues[0]
    if upload.size > limit * 2**20:
        text = (
            f"is {upload.size / 2**20:,.1f} MB, over the app's upload limit of {limit:,.0f} MB "
            "(server.maxUploadSize in .streamlit/config.toml, PLANNER_MAX_INPUT_MB); use `planner solve` for it"
        )
        return Issue(upload.name, None, None, text)
    return None


def save_upload(kind: str, upload: Any) -> Path:
    """Save an uploaded file in this session's upload folder under a generated name.

    The name is ``<kind>-<content hash><suffix>``: costing caches see new content as new data, and the original
    name (which may hold ``#``, ``%``, spaces or any character) never reaches a path; it is kept for display.

    Raises:
        OSError: the file cannot be written (nothing is left behind).
    """
    content = upload.getvalue()
    digest = hashlib.sha256(content).hexdigest()[:16]
    path = upload_folder() / f"{kind}-{digest}{Path(upload.name).suffix.lower()}"
    if not path.exists():
        part = path.with_name(path.name + ".part")
        try:
            part.write_bytes(content)
            part.replace(path)
        finally:
            part.unlink(missing_ok=True)
    return path


def template_bytes(kind: str, example: bool = False) -> tuple[str, bytes, str]:
    """An empty template (the header row; for coverage one feature to fill in) or a small example file of an upload.

    Returns:
        (file name, content, MIME type). Made from the data layer's column lists (:data:`UPLOAD_COLUMNS`).
    """
    if kind == "coverage":
        rows = _EXAMPLE_COVERAGE if example else _EXAMPLE_COVERAGE[:1]
        features = [
            {"type": "Feature",
             "properties": {"technology": tech, "operator": op, **({"mbps": mbps} if mbps is not None else {})},
             "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}}
            for tech, op, mbps, ring in rows
        ]  # fmt: skip
        text = json.dumps({"type": "FeatureCollection", "features": features}, indent=1)
        return f"coverage-{'example' if example else 'template'}.geojson", text.encode(), "application/geo+json"
    columns = [c.name for c in UPLOAD_COLUMNS[kind]]
    table = pd.DataFrame(_EXAMPLE_ROWS[kind] if example else [], columns=columns)
    return f"{kind}-{'example' if example else 'template'}.csv", table.to_csv(index=False).encode(), "text/csv"


def check_upload(kind: str, path: Path) -> list[Issue]:
    """Read an uploaded file with the CLI's readers; the issues name file, row and column."""
    readers: dict[str, Callable[[Path], object]] = {
        "offices": read_offices,
        "fibre_nodes": read_fibre_nodes,
        "towers": read_towers,
        "options": lambda p: read_quotes(p, list(default_catalogue_rows())),
        "coverage": lambda p: read_coverage(p, load_catalogue().technologies),
    }
    try:
        readers[kind](path)
    except InputError as exc:
        return exc.issues
    return []


def _saved_and_checked(kind: str, upload: Any) -> tuple[str | None, list[Issue]]:
    """The saved file of a valid upload and no issues, or None and the issues (then nothing is kept on disk)."""
    refused = _refused(upload)
    if refused is not None:
        return None, [refused]
    try:
        path = save_upload(kind, upload)
    except OSError as exc:
        return None, [Issue(upload.name, None, None, f"cannot be saved: {exc.strerror or exc}")]
    saved = str(path)
    issues = [
        Issue(upload.name, i.row, i.column, i.message.replace(saved, upload.name)) for i in check_upload(kind, path)
    ]
    if issues:
        path.unlink(missing_ok=True)
        return None, issues
    return saved, []


def open_scenario(upload: Any) -> tuple[dict[str, Any] | None, list[Issue]]:
    """Read an uploaded scenario YAML with the CLI's loader (``planner.scenario.load_scenario``).

    Relative data paths are taken from the bundled scenarios' folder (``scenarios/``); absolute ones as they are.

    Returns:
        The scenario mapping with absolute data paths (for the form) and no issues, or None and the issues
        (naming the file as uploaded, with the YAML line or the scenario key).
    """
    refused = _refused(upload)
    if refused is not None:
        return None, [refused]
    try:
        path = save_upload("scenario", upload)
    except OSError as exc:
        return None, [Issue(upload.name, None, None, f"cannot be saved: {exc.strerror or exc}")]
    saved = str(path)
    try:
        scenario = load_scenario(path, base_dir=SCENARIO_DIR)
        if scenario.data.offices is None:
            raise InputError(Issue(saved, None, "data.offices", "no offices file: a scenario with one offices "
                                   "file per country (countries.files) runs with `planner solve` only"))  # fmt: skip
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # checked above: a mapping, no duplicate keys or bombs
    except InputError as exc:
        return None, [Issue(upload.name, i.row, i.column, i.message.replace(saved, upload.name)) for i in exc.issues]
    finally:
        path.unlink(missing_ok=True)
    raw["data"] = {k: str(v) for k, v in scenario.data.model_dump().items() if v is not None}
    if isinstance(scenario.technologies, Path):
        raw["technologies"] = str(scenario.technologies)
    return raw, []


def _forget_file(entry: dict[str, Any] | None) -> None:
    if entry and entry.get("path"):
        Path(entry["path"]).unlink(missing_ok=True)


def take_upload(kind: str, upload: Any) -> dict[str, Any]:
    """Record a new upload of ``kind`` in the session (the file the widget holds); the previous file is deleted.

    Returns:
        The session's entry: ``name`` (as uploaded), ``file_id`` (the widget's), ``path`` (the saved file; None
        if the file was refused or has problems, and then nothing is left on disk) and ``issues`` (which name
        the file as uploaded).
    """
    uploads = st.session_state.setdefault("uploads", {})
    old = uploads.get(kind)
    if old is not None and old.get("file_id") == upload.file_id:
        return old
    path, issues = _saved_and_checked(kind, upload)
    if old is not None and old.get("path") != path:
        _forget_file(old)
    entry = {"name": upload.name, "file_id": upload.file_id, "path": path, "issues": issues}
    uploads[kind] = entry
    return entry


def remove_upload(kind: str) -> None:
    """Forget an upload of this session and delete its file (callback of its 'Remove' button).

    The upload widget gets a new key, so it no longer holds the file either.
    """
    ss = st.session_state
    _forget_file(ss.get("uploads", {}).pop(kind, None))
    versions = ss.setdefault("upload_versions", {})
    versions[kind] = versions.get(kind, 0) + 1


def scenario_yaml(raw: dict[str, Any]) -> str:
    """The scenario as YAML for ``planner solve`` (data paths are absolute on the machine that ran the app)."""
    name = " ".join(str(raw["name"]).split())  # a line break in the name must not end the comment
    head = (
        "# Connect.Post Planner scenario saved by the app. Reproduce the plan with:\n"
        f"#   planner solve {shlex.quote(name + '.yaml')} --out {shlex.quote('out/' + name)}\n"
    )
    return head + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------------------------- running
def solve_raw(
    raw: dict[str, Any], say: Any = None, steps: Steps | None = None
) -> tuple[Plan, pd.DataFrame, dict[str, float]]:
    """Validate, prepare (cached) and solve a scenario mapping (``steps``: a progress bar's callback).

    Raises:
        PlannerError: the scenario is invalid or cannot be planned.
    """
    say = say or (lambda _m: None)
    step = steps or (lambda _done, _total, _what: None)
    cache = store()
    t0 = time.perf_counter()
    step(0, 2, "reading and costing the offices")
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
        what = "a roadmap: rolling horizon, then HiGHS" if scenario.roadmap is not None else scenario.objective
        step(1, 2, f"solving ({what}; at most {scenario.solver.time_limit_s:g} s) and building the plan tables")
        plan = solve_prepared(prepared, scenario=scenario, progress=say)
        cache.put(cache.plans, pkey, plan)
    else:
        say("same scenario as before: plan from the cache")
    t2 = time.perf_counter()
    coords = prepared.inputs.planned[["office_id", "lat", "lon"]].assign(office_id=lambda t: t["office_id"].astype(str))
    return plan, coords, {"prepare_s": t1 - t0, "solve_s": t2 - t1, "total_s": t2 - t0, "costing_cached": cached}


def changed_words(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What differs between two scenario mappings, in words for a plan's label (e.g. "budget 1.50 M USD")."""
    words = []
    if after.get("objective") != before.get("objective"):
        words.append(str(after.get("objective")))
    if after.get("budget_usd") != before.get("budget_usd") and after.get("budget_usd") is not None:
        words.append(f"budget {money(after['budget_usd'])}")
    if after.get("coverage_target") != before.get("coverage_target") and after.get("coverage_target") is not None:
        words.append(f"target {share(after['coverage_target'])}")
    if after.get("data") != before.get("data"):
        words.append("other data")
    for key in ("budget_basis", "cost_basis", "coverage_metric"):
        if after.get(key) != before.get(key) and after.get(key) is not None:
            words.append(str(after[key]))
    for key, word in (("roadmap", "other roadmap"), ("policy", "other policy"), ("technologies", "other costs")):
        if after.get(key) != before.get(key):
            words.append(word)
    if not words and after != before:
        words.append("edited")
    return ", ".join(words[:3])


# --------------------------------------------------------------------------------------------- named runs
#: Session keys holding one plan label (the current plan, the pages' plan pickers) and lists of labels (Compare's
#: choice and pins): a renamed plan is renamed there too.
PLAN_KEYS = ("current", "results_plan", "export_plan", "donor_plan", "cmp_a", "cmp_b", "runs_rename_pick")
PLAN_LIST_KEYS = ("cmp_names", "cmp_pinned")
MAX_LABEL_CHARS = 120
RECORD_WAIT_S = 120.0  # how long a rename waits for the run store to finish recording the plan


def own_data_name(raw: dict[str, Any], uploads: dict[str, Any]) -> str | None:
    """The name (as uploaded) of the offices file a scenario reads when it is an upload of the session, else None."""
    path = (raw.get("data") or {}).get("offices")
    for entry in uploads.values():
        if path and entry.get("path") and str(entry["path"]) == str(path):
            return str(entry["name"])
    return None


def run_label(raw: dict[str, Any], runs: dict[str, Any], data_name: str | None = None, bundled_names: Any = ()) -> str:
    """A label no other plan of the session has: the scenario name, with what changed when the name is taken.

    A scenario run again with the same settings keeps the label of its plan (even a renamed one): it is the same
    plan. A plan on uploaded offices (``data_name``: the file's name as uploaded) is named after that file when
    the scenario still carries a bundled scenario's name (``bundled_names``). Another plan is never overwritten.
    """
    same = next((label for label, entry in runs.items() if entry.get("raw") == raw), None)
    if same is not None:
        return same
    name = " ".join(str(raw["name"]).split())[:MAX_LABEL_CHARS]
    if data_name and name in bundled_names:
        name = f"{Path(data_name).stem} (own data)"
    if name not in runs:
        return name
    words = changed_words(runs[name]["raw"], raw) or "edited"
    label, n = f"{name} · {words}", 2
    while label in runs:
        label, n = f"{name} · {words} #{n}", n + 1
    return label


def label_problem(new: str, old: str, runs: dict[str, Any]) -> str | None:
    """Why ``new`` cannot rename the plan ``old`` of the session (None when it can); ``new`` is whitespace-tidied."""
    if not new:
        return "A plan needs a name."
    if len(new) > MAX_LABEL_CHARS:
        return f"A plan's name has at most {MAX_LABEL_CHARS} characters ({len(new)} given)."
    if " − " in new:  # Compare names its difference columns "<plan> − <first plan>"
        return "A plan's name cannot hold ' − ' (Compare uses it for differences)."
    if new != old and new in runs:
        return f"'{new}' is the name of another plan of this session: choose another."
    return None


def renamed(runs: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The session's plans with ``old`` named ``new``, in the same order (Compare offers the latest last)."""
    return {new if label == old else label: entry for label, entry in runs.items()}


def store_path() -> Path:
    """The run store the app records in: the CLI's (``PLANNER_STORE``, else the user's data directory)."""
    return RunStore().path


@st.cache_resource(show_spinner=False)
def recorder() -> ThreadPoolExecutor:
    """One background writer per process: plans are recorded in the run store while the page shows them."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="planner-run-store")


def record_plan(
    plan: Plan, raw: dict[str, Any], label: str, times: dict[str, Any], path: Path, command: str = "app"
) -> int:
    """Record a plan in the run store as ``planner solve`` does: its output files, scenario YAML and label.

    The files are ``planner.results``' encoders' (the bytes the CLI writes); the label goes to ``extra``.

    Raises:
        PlannerError, sqlite3.Error, OSError: the store cannot take it.
    """
    files = {name: output_bytes(plan, name) for name in output_names(plan)}
    return RunStore(path).record_plan(
        plan,
        command=command,
        files=files,
        scenario_yaml=scenario_yaml(raw),
        timings={"total_s": float(times.get("total_s") or 0.0)},
        extra={"label": label},
    )


def start_recording(label: str) -> None:
    """Record the session's plan ``label`` in the run store, in the background (its entry holds the future)."""
    entry = st.session_state["runs"][label]
    entry.pop("record_error", None)
    entry["recording"] = recorder().submit(
        record_plan, entry["plan"], copy.deepcopy(entry["raw"]), label, dict(entry["times"]), store_path()
    )


def stored_id(entry: dict[str, Any], wait: float | None = 0.0) -> int | None:
    """The run store id of a session plan, once recorded (waiting up to ``wait`` s; None: not recorded yet).

    A failed recording leaves its message in ``entry["record_error"]``.
    """
    if entry.get("stored_id") is not None:
        return int(entry["stored_id"])
    future = entry.get("recording")
    if future is None:
        return None
    try:
        run_id = future.result(timeout=wait)
    except TimeoutError:
        return None
    except Exception as exc:  # the store's failure is shown on the Runs page, the plan stays in the session
        entry.pop("recording", None)
        entry["record_error"] = f"{type(exc).__name__}: {exc}" if not isinstance(exc, PlannerError) else str(exc)
        return None
    entry.pop("recording", None)
    entry["stored_id"] = int(run_id)
    return int(run_id)


def rename_run(old: str, new: str) -> str | None:
    """Rename a plan of the session (and its run store record); None when done, else why not.

    The session's plan pickers and Compare's pins follow the new name. A plan still being recorded is waited
    for, so that the store gets the new name too.
    """
    ss = st.session_state
    runs = ss.get("runs", {})
    new = " ".join(str(new).split())
    if old not in runs:
        return f"No plan '{old}' in this session."
    problem = label_problem(new, old, runs)
    if problem or new == old:
        return problem
    ss["runs"] = renamed(runs, old, new)
    for key in PLAN_KEYS:
        if ss.get(key) == old:
            ss[key] = new
    for key in PLAN_LIST_KEYS:
        if isinstance(ss.get(key), list):
            ss[key] = [new if x == old else x for x in ss[key]]
    run_id = stored_id(ss["runs"][new], wait=RECORD_WAIT_S)
    if run_id is not None:
        try:
            RunStore().set_label(run_id, new)
        except (PlannerError, sqlite3.Error, OSError) as exc:
            return f"Renamed in this session, but not in the run store: {exc}"
    return None


def stored_coords(record: RunRecord) -> pd.DataFrame:
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


def open_stored_run(run_id: int) -> str:
    """Load a stored run (the app's or the CLI's) into the session as the current plan; returns its label.

    Labelled by its stored label, else ``run <id>: <scenario>``; a run already in the session is not loaded twice.

    Raises:
        PlannerError: no such run, or it has no plan tables.
    """
    ss = st.session_state
    runs = ss.setdefault("runs", {})
    here = next((label for label, e in runs.items() if stored_id(e) == run_id), None)
    if here is not None:
        ss["current"] = here
        return here
    store_ = RunStore()
    record = store_.get(run_id)
    plan = store_.load_plan(run_id)
    label = str(record.extra.get("label") or f"run {run_id}: {record.scenario}")
    if label in runs:
        label = f"{label} (run {run_id})"
    runs[label] = {
        "plan": plan,
        "coords": stored_coords(record),
        "raw": copy.deepcopy(record.scenario_json),
        "times": {"total_s": float(record.timings.get("total_s") or 0.0), "costing_cached": False},
        "stored_id": run_id,
    }
    ss["current"] = label
    return label


def run_and_store(raw: dict[str, Any]) -> bool:
    """Run with a progress box; keep the plan in the session under a new label and record it in the run store.

    An error is kept in the session for the page to show.
    """
    ss = st.session_state
    ss.pop("last_error", None)
    box = st.empty()
    with box.status(f"Costing and solving '{md(raw['name'])}'…", expanded=True) as status:
        bar = st.progress(0.0, text="step 1 of 2: reading and costing the offices")

        def steps(done: int, total: int, what: str) -> None:
            bar.progress(done / total, text=f"step {done + 1} of {total}: {md(what)}")

        try:
            plan, coords, times = solve_raw(raw, say=lambda m: st.write(md(m)), steps=steps)
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
    text = f"Solved '{md(s['scenario'])}' in {seconds(times['total_s'])}: {gap_words(s)}"
    if proven(s["status"]):
        box.success(text)
    else:  # a plan without its proof is no success: say how much better one may be
        box.warning(text)
    runs = ss.setdefault("runs", {})
    label = run_label(raw, runs, own_data_name(raw, ss.get("uploads", {})), set(bundled()))
    old = runs.pop(label, None)  # the same scenario again: the same plan, re-inserted last (Compare offers the latest)
    entry = {"plan": plan, "coords": coords, "raw": copy.deepcopy(raw), "times": times}
    runs[label] = entry
    ss["current"] = label
    kept = {k: old[k] for k in ("stored_id", "recording") if old is not None and k in old}
    if kept:  # already recorded (or being recorded): one record per distinct run
        entry.update(kept)
    else:
        start_recording(label)
    if label != raw["name"]:
        st.caption(md(f"Kept as '{label}' (rename it on the Runs page); every plan of the session stays "
                      "for Compare."))  # fmt: skip
    return True
