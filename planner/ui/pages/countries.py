"""The Countries page: several countries in one scenario (a ``countries`` section), and Monte Carlo from the app.

Opens the bundled multi-country scenarios (``scenarios/*.yaml`` with a ``countries`` section), edits the money
(one pool ``budget_usd`` with reserved shares ``countries.min_share``, or ``countries.budgets`` per country),
validates the mapping with the scenario schema (errors shown escaped) and runs it through
:func:`planner.ui.state.run_and_store`, like the Scenario page. Shows a table per country and a map coloured by
country or technology. Monte Carlo (:func:`planner.analysis.montecarlo.monte_carlo`) samples the catalogue's
uncertain figures and shows P10/P50/P90 of cost and coverage and, on the map, how often the samples choose each
office's planned technology. The tables are built by the pure functions :func:`countries_mapping`,
:func:`country_table`, :func:`single_country`, :func:`percentile_table` and :func:`robustness`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st
import yaml

from planner.analysis.montecarlo import MonteCarlo, monte_carlo
from planner.data import read_offices
from planner.distributed import SERIAL
from planner.errors import InputError, PlannerError
from planner.pipeline import costing_key, prepare
from planner.results import Plan
from planner.scenario import scenario_from_dict
from planner.ui.format import count, people, share
from planner.ui.safe import md
from planner.ui.state import ROOT, SCENARIO_DIR, run_and_store, stamp, store
from planner.ui.widgets import (
    PLOT_CONFIG,
    kpi_cards,
    money,
    office_map,
    show_error,
    show_table,
    solve_summary,
    tech_bar,
)

USD_PER_M = 1e6
MAX_APP_SAMPLES = 200  # Monte Carlo samples the app runs (each is a solve); `planner montecarlo` for more
# Robustness bands: the share of samples that choose the plan's technology for an office.
ROBUST_BANDS = [(0.9, "same in ≥ 90 % of samples"), (0.5, "same in 50-90 %"), (0.0, "same in under 50 %")]
ROBUST_COLOURS = dict(zip([b for _, b in ROBUST_BANDS], ["#2ca02c", "#ff7f0e", "#d62728"], strict=True))
COUNTRY_PALETTE = px.colors.qualitative.Bold
COUNTRY_COLUMNS = {
    "country": "country",
    "offices_planned": "offices planned",
    "offices_connected": "offices connected",
    "population_covered": "people covered",
    "coverage_share": "coverage (share of the country's people)",
    "share_of_people_covered": "share of all people covered",
    "cost_usd": "cost (USD, budget basis)",
    "share_of_cost": "share of the cost",
    "cost_per_person_usd": "cost per person (USD)",
    "budget_usd": "budget (USD)",
    "reserved_usd": "reserved (USD)",
}


# --------------------------------------------------------------------------------------------- pure
def countries_mapping(
    raw: dict[str, Any],
    mode: str,
    pool_usd: float,
    shares: dict[str, float | None],
    budgets: dict[str, float],
    name: str,
    method: str | None = None,
) -> dict[str, Any]:
    """A multi-country scenario mapping with the money set as the form says.

    Args:
        raw: the scenario mapping to start from (it is not changed).
        mode: ``pool`` (one ``budget_usd`` shared by all, ``min_share`` reserved per country) or ``budgets`` (one
            budget per country, ``countries.budgets``).
        pool_usd: the pool, USD (mode ``pool``).
        shares: fraction of the pool reserved per country, None or 0 for none (mode ``pool``).
        budgets: USD per country (mode ``budgets``).
        name: the scenario's name.
        method: ``countries.method`` (auto, monolithic, decomposition); None keeps the scenario's.
    """
    out = copy.deepcopy(raw)
    section = dict(out.get("countries") or {})
    section.pop("budgets", None)
    section.pop("min_share", None)
    out.pop("budget_usd", None)
    if mode == "pool":
        out["budget_usd"] = float(pool_usd)
        reserved = {c: float(s) for c, s in shares.items() if s}
        if reserved:
            section["min_share"] = reserved
    elif mode == "budgets":
        section["budgets"] = {c: float(v) for c, v in budgets.items()}
    else:
        raise ValueError(f"mode must be 'pool' or 'budgets', not {mode!r}")
    if method is not None:
        section["method"] = method
    out["countries"] = section
    out["name"] = name
    return out


#: Display names of :func:`country_table` (shares are shown in %).
COUNTRY_LABELS = {
    "country": "Country",
    "offices_planned": "Offices planned",
    "offices_connected": "Offices connected",
    "population_covered": "People covered",
    "coverage_share": "Coverage (% of the country's people)",
    "share_of_people_covered": "Share of all people covered (%)",
    "cost_usd": "Cost (USD, budget basis)",
    "share_of_cost": "Share of the cost (%)",
    "cost_per_person_usd": "Cost per person (USD)",
    "budget_usd": "Budget (USD)",
    "reserved_usd": "Reserved (USD)",
}


def country_table(plan: Plan) -> pd.DataFrame:
    """One row per country of a multi-country plan (the plan table's ``country`` column).

    Columns (:data:`COUNTRY_COLUMNS`): offices planned and connected, people covered, coverage (share of the
    country's planned population), the country's share of all people covered and of the cost, cost (USD, budget
    basis), cost per person covered (USD; NaN when nobody is covered) and, from the summary's ``by_country``, the
    country's own budget and the money reserved for it (USD; NaN when it has none).

    Raises:
        ValueError: the plan has no ``country`` column (not a multi-country plan).
    """
    table = plan.plan
    if "country" not in table:
        raise ValueError(f"plan {plan.scenario.name!r} is not a multi-country plan (no country column)")
    con = table["technology"] != "none"
    frame = table.assign(
        connected=con.astype(int),
        covered=table["population"].where(con, 0.0),
        cost=table["cost_usd"].where(con, 0.0),
    )
    out = (
        frame.groupby("country", sort=True)
        .agg(
            offices_planned=("office_id", "size"),
            offices_connected=("connected", "sum"),
            population_planned=("population", "sum"),
            population_covered=("covered", "sum"),
            cost_usd=("cost", "sum"),
        )
        .reset_index()
    )
    planned = out["population_planned"].where(out["population_planned"] > 0)
    out["coverage_share"] = out["population_covered"] / planned
    total_people, total_cost = float(out["population_covered"].sum()), float(out["cost_usd"].sum())
    out["share_of_people_covered"] = out["population_covered"] / total_people if total_people else 0.0
    out["share_of_cost"] = out["cost_usd"] / total_cost if total_cost else 0.0
    out["cost_per_person_usd"] = out["cost_usd"] / out["population_covered"].where(out["population_covered"] > 0)
    by = plan.summary.get("by_country", {})
    out["budget_usd"] = [by.get(c, {}).get("budget_usd") for c in out["country"]]
    out["reserved_usd"] = [by.get(c, {}).get("reserved_usd") for c in out["country"]]
    out = out.astype({"budget_usd": float, "reserved_usd": float})
    return out[list(COUNTRY_COLUMNS)]


def single_country(raw: dict[str, Any], iso3: str, budget_usd: float) -> dict[str, Any]:
    """One country of a scenario with one offices file per country, planned alone within ``budget_usd`` (USD).

    The ``countries`` section goes; that country's file becomes ``data.offices``; the name gets ``-<ISO3>``.

    Raises:
        ValueError: the scenario has no offices file for ``iso3`` in ``countries.files``.
    """
    files = (raw.get("countries") or {}).get("files") or {}
    if iso3 not in files:
        raise ValueError(f"{iso3} has no offices file of its own in countries.files")
    out = copy.deepcopy(raw)
    out.pop("countries")
    out["data"] = {**out.get("data", {}), "offices": files[iso3]}
    out["budget_usd"] = float(budget_usd)
    out["name"] = f"{raw['name']}-{iso3}"
    return out


def percentile_table(mc: MonteCarlo) -> pd.DataFrame:
    """P10, P50, P90 and mean over the samples of cost, capex, people covered, coverage and offices connected.

    Also the value of the central catalogue (the plan at the catalogue's own figures).
    """
    rows = []
    for key, label in (
        ("total_cost_usd", "total cost (USD, budget basis)"),
        ("total_capex_usd", "capex (USD)"),
        ("population_covered", "people covered"),
        ("coverage_share", "coverage (share of the metric)"),
        ("offices_connected", "offices connected"),
    ):
        q = mc.summary[key]
        rows.append({"figure": label, "P10": q["p10"], "P50": q["p50"], "P90": q["p90"], "mean": q["mean"],
                     "central catalogue": mc.summary["base"].get(key)})  # fmt: skip
    return pd.DataFrame(rows)


def percentile_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`percentile_table` as text: amounts in K/M USD, people with separators, coverage in %."""
    fmt: dict[str, Callable[[Any], str]] = {
        "total cost (USD, budget basis)": money,
        "capex (USD)": money,
        "people covered": people,
        "coverage (share of the metric)": share,
        "offices connected": count,
    }
    out = table.copy()
    for col in ("P10", "P50", "P90", "mean", "central catalogue"):
        out[col] = [fmt[str(f)](v) for f, v in zip(table["figure"], table[col], strict=True)]
    return out.rename(columns={"figure": "Figure", "mean": "Mean", "central catalogue": "Central catalogue"})


def robustness(offices: pd.DataFrame) -> pd.Series:
    """The robustness band of each office (:data:`ROBUST_BANDS`) from ``base_choice_share`` (NaN: no sample)."""
    share = offices["base_choice_share"]
    out = pd.Series("no feasible sample", index=offices.index, dtype=object)
    for low, label in reversed(ROBUST_BANDS):
        out[share >= low] = label
    return out


# --------------------------------------------------------------------------------------------- loading
@st.cache_data(show_spinner=False)
def multi_country() -> dict[str, dict[str, Any]]:
    """Bundled multi-country scenarios (a ``countries`` section) as raw mappings with every path made absolute."""
    out = {}
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or "name" not in raw or not isinstance(raw.get("countries"), dict):
            continue
        raw["data"] = {k: str((path.parent / v).resolve()) for k, v in (raw.get("data") or {}).items() if v}
        files = raw["countries"].get("files") or {}
        raw["countries"]["files"] = {k: str((path.parent / v).resolve()) for k, v in files.items()}
        out[raw["name"]] = raw
    return out


@st.cache_data(show_spinner=False, max_entries=16)
def _file_countries(path: str, stamp_: str) -> list[str]:
    try:
        return sorted(read_offices(Path(path))["country"].dropna().astype(str).unique())
    except PlannerError:
        return []


def countries_of(raw: dict[str, Any]) -> list[str]:
    """The scenario's countries: its ``countries.files`` keys, else the offices file's ``country`` values."""
    files = (raw.get("countries") or {}).get("files") or {}
    if files:
        return sorted(files)
    offices = (raw.get("data") or {}).get("offices")
    return _file_countries(offices, stamp(offices)) if offices else []


# --------------------------------------------------------------------------------------------- page
def _choices() -> dict[str, dict[str, Any]]:
    """Scenario name -> mapping: the session's multi-country plans (as last run), then the bundled ones."""
    runs = st.session_state.get("runs", {})
    out = {n: e["raw"] for n, e in runs.items() if e["raw"].get("countries")}
    for name, raw in multi_country().items():
        out.setdefault(name, raw)
    return out


def _form(raw: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The money form; the scenario mapping to run when submitted, else None."""
    section = raw.get("countries") or {}
    isos = countries_of(raw)
    pool = float(raw.get("budget_usd") or sum((section.get("budgets") or {}).values()) or 0.0)
    shares = section.get("min_share") or {}
    given = section.get("budgets") or {}
    with st.form(f"ct_form_{key}"):
        mode = st.radio(
            "Money",
            ["pool", "budgets"],
            index=1 if given else 0,
            format_func={
                "pool": "One pool (budget_usd) with reserved shares (countries.min_share)",
                "budgets": "A budget per country (countries.budgets), each planned alone",
            }.get,
            key=f"ct_mode_{key}",
        )
        c1, c2 = st.columns(2)
        pool_m = c1.number_input(
            "Pool (M USD, budget basis)", min_value=0.0, value=pool / USD_PER_M, step=0.1, format="%.3f",
            key=f"ct_pool_{key}",
        )  # fmt: skip
        method = c2.selectbox(
            "Pool method",
            ["auto", "monolithic", "decomposition"],
            index=["auto", "monolithic", "decomposition"].index(section.get("method", "auto")),
            key=f"ct_method_{key}",
            help="monolithic: one HiGHS model of every country with the pool rows; decomposition: price the pool "
            "(Lagrange multiplier); auto chooses.",
        )
        new_shares: dict[str, float | None] = {}
        new_budgets: dict[str, float] = {}
        for iso in isos:
            a, b = st.columns(2)
            share = float(shares.get(iso, shares.get("*", 0.0)))
            new_shares[iso] = a.number_input(
                f"{md(iso)}: share of the pool reserved", min_value=0.0, max_value=1.0, value=share, step=0.05,
                key=f"ct_share_{key}_{iso}",
            )  # fmt: skip
            default = given.get(iso, given.get("*", pool * share if share else pool / max(len(isos), 1)))
            new_budgets[iso] = USD_PER_M * b.number_input(
                f"{md(iso)}: own budget (M USD)", min_value=0.0, value=float(default) / USD_PER_M, step=0.05,
                format="%.3f", key=f"ct_budget_{key}_{iso}",
            )  # fmt: skip
        name = st.text_input("Plan name (a new name keeps the earlier plan)", raw["name"], key=f"ct_name_{key}")
        if not st.form_submit_button("Run countries", type="primary", key="ct_run"):
            return None
    return countries_mapping(
        raw, mode, pool_m * USD_PER_M, new_shares, new_budgets, name.strip() or raw["name"], method
    )


def _store_error(key: str, err: dict[str, Any] | None) -> None:
    st.session_state[key] = err


def _show_error(key: str, title: str) -> None:
    """The error kept under ``key``, if any; ``title`` (Markdown) heads a list of input problems."""
    show_error(st.session_state.get(key), title)


def _run(raw: dict[str, Any]) -> None:
    """Validate with the scenario schema (errors kept for display, nothing run), then run into the session."""
    ss = st.session_state
    _store_error("ct_error", None)
    try:
        scenario_from_dict(copy.deepcopy(raw), base_dir=ROOT, file="countries")
    except InputError as exc:
        _store_error("ct_error", {"kind": "input", "issues": exc.issues})
        return
    if run_and_store(raw):
        ss["ct_pick_name"] = raw["name"]
    else:  # the error belongs to this page, not to the Scenario page's form
        _store_error("ct_error", ss.pop("last_error", None))


def page_countries() -> None:
    """The Countries page: choose a multi-country scenario, set the money, run, compare countries, Monte Carlo."""
    st.header("Countries: one plan for several countries")
    choices = _choices()
    if not choices:
        st.info("No multi-country scenario found (scenarios/*.yaml with a countries section).")
        return
    ss = st.session_state
    names = list(choices)
    wanted = ss.pop("ct_pick_name", None)
    if wanted in names:
        ss["ct_pick"] = wanted
    elif ss.get("ct_pick") not in names:
        ss["ct_pick"] = names[0]
    name = st.selectbox("Scenario", names, key="ct_pick")
    raw = choices[name]
    if raw.get("description"):
        st.caption(md(raw["description"]))
    submitted = _form(raw, name)
    if submitted is not None:
        _run(submitted)
        st.rerun()
    _show_error("ct_error", "Not valid, nothing was run")
    entry = ss.get("runs", {}).get(name)
    if entry is None:
        st.info("Run the scenario to see the plan per country.")
    else:
        _show_plan(entry)
    montecarlo_section(raw, entry)


def _coords(entry: dict[str, Any]) -> pd.DataFrame:
    return entry["plan"].plan.merge(entry["coords"], on="office_id", how="left")


def _show_plan(entry: dict[str, Any]) -> None:
    """KPIs, the table per country and the map of a multi-country plan."""
    plan: Plan = entry["plan"]
    solve_summary(entry)
    kpi_cards(plan)
    info = plan.summary.get("countries", {})
    st.caption(
        f"{md(info.get('count', '?'))} countries, {md(info.get('mode', '?'))} ({md(info.get('method', '?'))}); "
        f"budget {money(plan.summary.get('budget_usd'))} on the {md(plan.summary['budget_basis'])} basis."
    )
    table = country_table(plan)
    st.subheader("Per country")
    show_table(table, "ct_table", names=COUNTRY_LABELS)
    st.download_button("countries.csv", table.to_csv(index=False), "countries.csv", "text/csv", key="ct_dl")
    colour = st.radio("Colour the map by", ["technology", "country"], horizontal=True, key="ct_colour")
    shown = _coords(entry)
    palette = {c: COUNTRY_PALETTE[i % len(COUNTRY_PALETTE)] for i, c in enumerate(sorted(table["country"]))}
    office_map(shown, colour, palette if colour == "country" else None, key="ct_map")
    mix = shown[shown["technology"] != "none"].groupby(["country", "technology"], as_index=False).size()
    if len(mix):
        mix = mix.rename(columns={"size": "offices"})
        tech_bar(mix, "country", "offices", "Offices connected per country", "ct_mix")
    per_person = table.dropna(subset=["cost_per_person_usd"])
    if len(per_person):
        fig = px.bar(per_person, x="country", y="cost_per_person_usd", title="Cost per person covered, by country",
                     labels={"cost_per_person_usd": "USD per person (budget basis)", "country": "Country"},
                     text=[money(v) for v in per_person["cost_per_person_usd"]])  # fmt: skip
        st.plotly_chart(fig, config=PLOT_CONFIG, key="ct_per_person", width="stretch")


# --------------------------------------------------------------------------------------------- Monte Carlo
def _mc_scope(raw: dict[str, Any], entry: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """The Monte Carlo inputs: which offices and which catalogue; the scenario mapping to sample and its label."""
    isos = countries_of(raw)
    files = (raw.get("countries") or {}).get("files") or {}
    scopes = ["all", *[c for c in isos if c in files]]
    scope = st.radio(
        "Offices",
        scopes,
        format_func=lambda s: "every country (the scenario as it is)" if s == "all" else f"{s} alone",
        horizontal=True,
        key=f"mc_scope_{raw['name']}",
    )
    if scope == "all":
        overlay = st.selectbox(
            "Catalogue",
            ["", *isos],
            format_func=lambda c: "as the scenario prices it" if not c else f"every office priced with the {c} overlay",
            key=f"mc_overlay_{raw['name']}",
            help="Monte Carlo draws one catalogue per sample: offices priced with several countries' overlays must be "
            "priced with one (catalogue_region) to be sampled.",
        )
        out = copy.deepcopy(raw)
        if overlay:
            out["catalogue_region"] = overlay
        return out, "every country" + (f", {overlay} overlay" if overlay else "")
    spent = None
    if entry is not None:
        spent = entry["plan"].summary.get("by_country", {}).get(scope, {}).get("cost_usd")
    budgets = (raw.get("countries") or {}).get("budgets") or {}
    default = budgets.get(scope, budgets.get("*", spent if spent is not None else float(raw.get("budget_usd") or 0.0)))
    budget_m = st.number_input(
        f"Budget of {md(scope)} alone (M USD)",
        min_value=0.0,
        value=float(default) / USD_PER_M,
        step=0.05,
        format="%.3f",
        key=f"mc_budget_{raw['name']}_{scope}",
        help="Starts from its own budget, else what it spent in the plan shown above, else the pool.",
    )
    return single_country(raw, scope, budget_m * USD_PER_M), f"{scope} alone"


def montecarlo_section(raw: dict[str, Any], entry: dict[str, Any] | None) -> None:
    """Monte Carlo over the catalogue's uncertain figures: P10/P50/P90 and per-office robustness on the map."""
    st.subheader("Monte Carlo: how robust is the plan to the catalogue's uncertain figures?")
    st.caption(
        "Each sample draws every catalogue figure that has a low-high range, re-costs and solves the scenario "
        f"(seeded: the same seed gives the same samples). Up to {MAX_APP_SAMPLES} samples here; "
        "`planner montecarlo` runs more, on Dask."
    )
    mc_raw, label = _mc_scope(raw, entry)
    c1, c2 = st.columns(2)
    samples = int(c1.number_input("Samples", min_value=1, max_value=MAX_APP_SAMPLES, value=20, step=10, key="mc_n"))
    seed = int(c2.number_input("Seed", min_value=0, value=0, step=1, key="mc_seed"))
    if st.button("Run Monte Carlo", key="mc_run"):
        _run_monte_carlo(mc_raw, label, samples, seed)
    _show_error("mc_error", "Monte Carlo refused")
    err = st.session_state.get("mc_error") or {}
    if any(i.column == "catalogue_region" for i in err.get("issues", [])):
        st.info("Choose above one overlay to price every office with, or one country alone, and run again.")
    result = st.session_state.get("mc_result")
    if result is not None and result["scenario"] == raw["name"]:
        _show_monte_carlo(result)


def _run_monte_carlo(raw: dict[str, Any], label: str, samples: int, seed: int) -> None:
    """Prepare (cached with the app's costed options) and run Monte Carlo in this process, with a progress bar."""
    ss = st.session_state
    _store_error("mc_error", None)
    steps = ["costing the offices", "solving the central catalogue", f"solving {samples} samples", "summarising"]
    bar = st.progress(0.0, text=steps[0])
    with st.status(
        f"Monte Carlo of {md(raw['name'])} ({md(label)}): {samples} samples, seed {seed}", expanded=True
    ) as box:

        def say(message: str) -> None:
            st.write(md(message))

        def sampled(done: int, total: int, what: str) -> None:  # the central solve, each sample, the summary
            k = 1 if done == 0 else 2 if done < total else 3
            fraction = min((1 + 2 * done / max(total, 1)) / len(steps), 1.0)
            bar.progress(fraction, text=f"step {k + 1} of {len(steps)}: {md(what)}")

        try:
            scenario = scenario_from_dict(copy.deepcopy(raw), base_dir=ROOT, file="monte carlo")
            cache = store()
            ckey = costing_key(scenario)
            prepared = cache.get(cache.prepared, ckey)
            if prepared is None:
                prepared = prepare(scenario, progress=say)
                cache.put(cache.prepared, ckey, prepared)
            mc = monte_carlo(prepared, samples, seed, scheduler=SERIAL, progress=say, steps=sampled)
        except InputError as exc:
            box.update(label="Monte Carlo refused: bad input", state="error", expanded=False)
            bar.empty()
            _store_error("mc_error", {"kind": "input", "issues": exc.issues})
            return
        except PlannerError as exc:
            box.update(label="Monte Carlo could not run", state="error", expanded=False)
            bar.empty()
            _store_error("mc_error", {"kind": "other", "message": str(exc)})
            return
        bar.progress(1.0, text=f"step {len(steps)} of {len(steps)}: {steps[-1]}")
        box.update(label=f"Monte Carlo done: {mc.summary['feasible_samples']}/{samples} samples with a plan, "
                   f"{mc.summary['seconds']:.1f} s", state="complete", expanded=False)  # fmt: skip
    coords = prepared.inputs.planned[["office_id", "lat", "lon"]].assign(office_id=lambda t: t["office_id"].astype(str))
    origin = st.session_state.get("ct_pick")
    ss["mc_result"] = {"scenario": origin, "label": label, "mc": mc, "coords": coords}


def _show_monte_carlo(result: dict[str, Any]) -> None:
    """P10/P50/P90 of cost and coverage, the per-sample spread and the robustness map."""
    mc: MonteCarlo = result["mc"]
    s = mc.summary
    st.markdown(
        f"**{md(result['label'])}**: {s['feasible_samples']} of {s['samples']} samples with a plan (seed {s['seed']}), "
        f"{len(s['uncertain_figures'])} uncertain figures."
    )
    st.dataframe(percentile_display(percentile_table(mc)), hide_index=True, key="mc_percentiles")
    feasible = mc.samples[mc.samples["status"] != "infeasible"]
    if len(feasible) > 1:
        fig = px.scatter(feasible, x="total_cost_usd", y="coverage_share", hover_data=["sample"],
                         title="Samples: cost (USD) and coverage")  # fmt: skip
        st.plotly_chart(fig, config=PLOT_CONFIG, key="mc_samples_chart", width="stretch")
    offices = mc.offices.assign(office_id=mc.offices["office_id"].astype(str))
    offices["robustness"] = robustness(offices)
    st.markdown("**Per office**: how often the samples choose the technology of the central plan")
    if "offices_choice_stable_90pct" in s:
        st.caption(
            f"{s['offices_choice_stable_90pct']:,} of {len(offices):,} offices get the same technology in at least "
            f"90 % of the samples; on average an office keeps its technology in "
            f"{100 * s['offices_base_choice_share_mean']:.0f} % of them."
        )
    shown = offices.merge(result["coords"], on="office_id", how="left")
    colours = {**ROBUST_COLOURS, "no feasible sample": "#b0b0b0"}
    office_map(shown, "robustness", colours, key="mc_map")
    cols = [c for c in ("office_id", "name", "region", "population", "base_technology", "base_choice_share",
                        "most_frequent_technology", "most_frequent_share") if c in offices]  # fmt: skip
    show_table(offices.sort_values("base_choice_share")[cols], "mc_offices")
    st.download_button("office_robustness.csv", mc.offices.to_csv(index=False), "office_robustness.csv", "text/csv",
                       key="mc_dl")  # fmt: skip
