"""Plan tables and KPIs (DESIGN §6): per-office plan, summary, breakdowns and the "why this technology" view.

Breakdowns are by technology and region; the "why this technology" explanation covers every planned office.

Cost per community = plan cost / communities with at least one connected office; cost per person = plan cost
/ population covered (DESIGN §5). ``cost_usd`` is always the budget basis; capex, opex and TCO are shown
separately whatever that basis is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from planner.costing import annuity_factor
from planner.data import category_from_codes, cheapest_rows, gather, key_positions, repeated_text, text_from_codes
from planner.problem import ModelData, ModelSpec, RoadmapSpec, SolveResult
from planner.results.allocation import allocate_shared
from planner.results.outputs import PLAN_COLUMNS
from planner.scenario import Scenario, SecurityBaseline

_MONEY = ["capex_usd", "opex_usd_per_year", "cost_usd", "tco_usd", "residual_value_usd", "annualised_usd",
          "capex_equipment_usd", "capex_civil_usd",
          "capex_licence_usd", "capex_power_usd", "capex_security_usd", "opex_service_usd_per_year",
          "opex_network_usd_per_year", "opex_power_usd_per_year", "opex_security_usd_per_year"]  # fmt: skip


@dataclass
class Plan:
    """A solved scenario: every table the CLI writes and the app shows."""

    scenario: Scenario
    plan: pd.DataFrame
    options: pd.DataFrame
    by_technology: pd.DataFrame
    by_region: pd.DataFrame
    summary: dict[str, Any]
    roadmap: pd.DataFrame | None = None
    fibre_routes: pd.DataFrame | None = None  # built trench edges (shared infrastructure)
    sites: pd.DataFrame | None = None  # new tower sites built
    infra: Any = None  # the candidate infrastructure (network.SharedInfra), for route geometry
    relays: pd.DataFrame | None = None  # built microwave relay links (allocation.RELAY_COLUMNS)

    def headline(self) -> Plan:
        """This plan's scenario and summary, without its tables.

        ``planner solve`` records a run from its files once they are written; letting the tables go first gives
        their memory back (1.2 GB at 650,000 offices) before the run store reads and compresses those files.
        """
        empty = pd.DataFrame()
        return Plan(self.scenario, empty, empty, empty, empty, self.summary)


def why(
    plan: pd.DataFrame,
    options: pd.DataFrame,
    spec: ModelSpec,
    row_office: np.ndarray | None = None,
    technology_codes: tuple[np.ndarray, Any] | None = None,
) -> pd.Series:
    """One sentence per office: why this technology (or none). Array operations only (no per-office loop).

    A Categorical: 56,951 distinct sentences across a 650,000-office plan, each held once.

    ``row_office``: each options row's position in ``plan`` (-1: not a planned office), as
    :func:`office_rows` gives it; computed here when not given. ``technology_codes``: ``pd.factorize`` of
    ``options["technology"]`` when the caller has it.
    """
    if row_office is None:
        row_office = office_rows(plan, options)
    el = options["eligible"].to_numpy(bool) & (row_office >= 0)
    at_row = row_office[el]  # each eligible row's office, as its position in the plan
    costs = options["cost_usd"].to_numpy(float)[el]
    first = cheapest_rows(at_row, costs)  # each office's cheapest eligible option
    n_eligible_all = np.bincount(at_row, minlength=len(plan))
    has = n_eligible_all > 0
    codes, names = technology_codes or pd.factorize(options["technology"], sort=False)  # no string per row
    tech_code = np.zeros(len(plan), dtype=np.int64)
    tech_code[at_row[first]] = codes[el][first]
    tech_words = [str(t) for t in names]
    best_cost = np.zeros(len(plan))
    best_cost[at_row[first]] = costs[first]
    connected = (plan["technology"] != "none").to_numpy(bool)
    cost = plan["cost_usd"].to_numpy(float)
    if spec.objective == "max_coverage" and connected.any():
        ratio = (plan["population"].to_numpy(float)[connected] + 1e-9) / np.maximum(cost[connected], 1e-9)
        last_ratio: float | None = float(ratio.min())
    else:
        last_ratio = None
    n_eligible = np.where(has, n_eligible_all, 1).astype(np.int64)
    none = has & ~connected
    same = np.abs(cost - best_cost) <= 1e-6 * np.maximum(1.0, best_cost)
    cheapest = has & ~none & same
    # The sentence of an office is set by its case, its cheapest technology, that option's cost (USD, as text) and
    # its count of alternatives: each distinct combination is written once (tens of thousands at world scale,
    # against one Python string operation per office and term), then taken by code as Arrow text.
    case = np.select([~has, none, cheapest], [3, 0, 1], 2).astype(np.int64)  # 2: a dearer option was chosen
    named = (case == 0) | (case == 2)  # the sentences that name the cheapest option's cost
    cost_code = np.zeros(len(plan), dtype=np.int64)
    cost_words: np.ndarray = np.zeros(0, dtype=object)
    if named.any():
        # keyed by the whole USD the sentence shows (its bits: -0.0 keeps its sign), not the exact cost: at
        # 650,000 offices 56,951 distinct sentences to write and hold instead of 236,388
        named_code, named_bits = pd.factorize(np.rint(best_cost[named]).view(np.int64), sort=False)
        cost_code[named] = named_code
        cost_words = usd_text(np.asarray(named_bits, dtype=np.int64).view(np.float64))
    alt_code, alt_values = pd.factorize(np.where(case == 1, n_eligible - 1, 0), sort=False)
    key = ((case * (len(tech_words) + 1) + tech_code) * (len(cost_words) + 1) + cost_code) * (len(alt_values) + 1)
    key += alt_code
    key[case == 3] = -1 - np.flatnonzero(case == 3)  # without an eligible option: a sentence of its own
    which, _ = pd.factorize(key, sort=False)
    example = np.unique(which, return_index=True)[1]  # the first office of each distinct sentence
    if spec.objective == "max_coverage":
        suffix = f" (last funded: {last_ratio:.3g} people per USD)" if last_ratio is not None else ""
        unfunded = "budget exhausted: its cheapest option ({}, {} USD) covers less per USD than the offices funded"
        unfunded += suffix
    else:
        unfunded = "not needed for the coverage target at least cost (cheapest option {}, {} USD)"
    rules = []
    if spec.technology_max_share:
        rules.append("technology share caps")
    if spec.region_min_coverage:
        rules.append("regional minimums")
    because = " and ".join(rules) if rules else "the budget/target row (a cheaper mix elsewhere)"
    lacking_text: dict[int, str] = {}
    if not has.all():
        offices = pd.Index(plan["office_id"])
        lacking = options[(row_office >= 0) & ~has[np.maximum(row_office, 0)]]
        detail = joined(lacking["office_id"], lacking["technology"] + ": " + lacking["reason"], "; ")
        text = detail.reindex(offices[~has]).fillna("").to_numpy(object)
        lacking_text = dict(zip(np.flatnonzero(~has).tolist(), text.tolist(), strict=True))
    words = []
    for i in example.tolist():
        c = int(case[i])
        if c == 3:
            words.append(f"no eligible technology ({lacking_text[i]})")
        elif c == 1:
            words.append(f"cheapest eligible option for the same coverage ({n_eligible[i] - 1} costlier alternatives)")
        else:
            t, usd = tech_words[tech_code[i]], cost_words[cost_code[i]]
            dearer = f"cheaper {t} ({usd} USD) not chosen because of {because}"
            words.append(unfunded.format(t, usd) if c == 0 else dearer)
    return category_from_codes(words, which, plan.index)


def office_rows(plan: pd.DataFrame, options: pd.DataFrame) -> np.ndarray:
    """Each row of ``options``: the position of its office in ``plan`` (-1 where the plan has no such office)."""
    return key_positions(plan["office_id"], options["office_id"])


def joined_by_position(at: np.ndarray, values: pd.Series, n: int, sep: str) -> np.ndarray:
    """Per position 0..n-1, the ``values`` at that position joined with ``sep`` in row order ('' where none).

    :func:`joined` keyed by integer positions, for values of few distinct texts (technologies): each position's
    sequence of value codes becomes one integer (digits in base ``distinct + 1``, row order kept) and each
    distinct sequence is joined once. A position with more rows than an int64 holds digits for (about 24 of 5
    technologies) falls back to :func:`joined`.
    """
    words, which = joined_words_by_position(at, values, n, sep)
    return words[which]


def joined_words_by_position(at: np.ndarray, values: pd.Series, n: int, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`joined_by_position` as (distinct texts, each position's code into them): one string per distinct text.

    The plan's column of eligible technologies is then made by Arrow from the codes (:func:`text_from_codes`),
    without a Python string reference per office.
    """
    if not len(at):
        return np.array([""], dtype=object), np.zeros(n, dtype=np.int64)
    codes, uniques = pd.factorize(values, sort=False)
    if (at[1:] >= at[:-1]).all():  # already grouped (the options table is sorted by office): no sort, no copies
        pos, code = at, codes
    else:
        rows = np.argsort(at, kind="stable")  # rows grouped by position, row order kept within each
        pos, code = at[rows], codes[rows]
    start = np.r_[0, np.flatnonzero(pos[1:] != pos[:-1]) + 1]
    # each row's rank within its position (int32: millions of rows at world scale, each array a transient)
    rank = np.arange(len(pos), dtype=np.int32) - np.repeat(start.astype(np.int32), np.diff(np.r_[start, len(pos)]))
    base = len(uniques) + 1
    if rank.max() >= int(np.floor(62 / np.log2(base))):  # the sequence would not fit an int64
        keyed = joined(pd.Series(at), pd.Series(values.to_numpy(object)), sep)
        out = repeated_text(n, "")
        out[keyed.index.to_numpy(np.int64)] = keyed.to_numpy(object)
        return out, np.arange(n, dtype=np.int64)
    powers = np.int64(base) ** np.arange(int(rank.max()) + 1, dtype=np.int64)
    digits = powers[rank]
    digits *= code + 1
    del rank
    key = np.zeros(n, dtype=np.int64)
    key[pos[start]] = np.add.reduceat(digits, start)
    del digits
    distinct, which = np.unique(key, return_inverse=True)
    words = [str(u) for u in uniques]
    texts = []
    for k in distinct.tolist():
        parts = []
        while k:
            k, c = divmod(k, base)
            parts.append(words[c - 1])
        texts.append(sep.join(parts))
    return np.array(texts, dtype=object), np.asarray(which, dtype=np.int64)


def joined(keys: pd.Series, values: pd.Series, sep: str) -> pd.Series:
    """``values`` joined with ``sep`` per key, in row order (``groupby(keys).agg(sep.join)``, without a loop per key).

    Rows are ranked within their key; one vectorised concatenation per rank (at most the number of technologies).
    """
    if not len(keys):
        return pd.Series([], dtype=object)
    codes, uniques = pd.factorize(keys, sort=True)
    rank = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    texts = values.astype(str).to_numpy(object)
    out = repeated_text(len(uniques), "")
    for r in range(int(rank.max()) + 1):
        at = rank == r
        out[codes[at]] = (out[codes[at]] + sep + texts[at]) if r else texts[at]
    return pd.Series(out, index=pd.Index(uniques, name=keys.name), dtype=object)


def usd_text(values: np.ndarray) -> np.ndarray:
    """``f"{x:,.0f}"`` of each value (USD with thousands separators), as an object array, without a Python loop.

    Rounding is numpy's ``rint`` (half to even on the exact binary value), as Python's formatting rounds; NaN and
    infinities and magnitudes beyond 2**53 are formatted by Python (rare).
    """
    x = np.asarray(values, dtype=float)
    if not len(x):
        return np.zeros(0, dtype=object)
    r = np.rint(x)
    ok = np.isfinite(r) & (np.abs(r) < 2.0**53)
    a = np.where(ok, np.abs(r), 0).astype(np.int64)
    rest = a // 1000
    low = (a % 1000).astype(str)
    text = np.where(rest > 0, np.strings.zfill(low, 3), low).astype(object)
    while (rest > 0).any():
        more = rest > 0
        group, rest = (rest % 1000).astype(str), rest // 1000
        group = np.where(rest > 0, np.strings.zfill(group, 3), group).astype(object)
        text = np.where(more, group + "," + text, text)
    text = np.where(np.signbit(r), "-" + text, text)
    for i in np.flatnonzero(~ok):
        text[i] = f"{x[i]:,.0f}"
    return text.astype(object)


def _breakdown(plan: pd.DataFrame, key: str) -> pd.DataFrame:
    # only the columns aggregated are copied for the connected offices (the whole plan table is ~0.27 GB at
    # 650,000 offices)
    used = [key, "office_id", "population", "community", "capex_usd", "opex_usd_per_year", "tco_usd",
            "residual_value_usd", "annualised_usd", "cost_usd"]  # fmt: skip
    con = plan.loc[(plan["technology"] != "none").to_numpy(bool), list(dict.fromkeys(used))]
    grouped = con.groupby(key).agg(
        offices=("office_id", "size"),
        population=("population", "sum"),
        communities=("community", "nunique"),
        capex_usd=("capex_usd", "sum"),
        opex_usd_per_year=("opex_usd_per_year", "sum"),
        tco_usd=("tco_usd", "sum"),
        residual_value_usd=("residual_value_usd", "sum"),
        annualised_usd=("annualised_usd", "sum"),
        cost_usd=("cost_usd", "sum"),
    )
    at = list(grouped.columns).index("residual_value_usd")
    grouped.insert(at, "tco_residual_usd", grouped["tco_usd"] - grouped["residual_value_usd"])
    if key != "technology":
        all_ = plan.groupby(key).agg(offices_planned=("office_id", "size"), population_planned=("population", "sum"))
        grouped = all_.join(grouped, how="left").fillna(0)
        grouped["coverage_share_population"] = grouped["population"] / grouped["population_planned"].replace(0, np.nan)
    grouped["cost_per_person_usd"] = grouped["cost_usd"] / grouped["population"].replace(0, np.nan)
    grouped["cost_per_community_usd"] = grouped["cost_usd"] / grouped["communities"].replace(0, np.nan)
    return grouped.reset_index()


def make_results(
    scenario: Scenario,
    planned: pd.DataFrame,
    options: pd.DataFrame,
    data: ModelData,
    result: SolveResult,
    timings: dict[str, float] | None = None,
    spec: ModelSpec | None = None,
    security: SecurityBaseline | None = None,
    options_ready: Callable[[pd.DataFrame], None] | None = None,
) -> Plan:
    """Assemble the plan tables and the summary from a solve result.

    ``security``: the catalogue's security baseline that priced the options (its per-country figures go into
    ``summary.security``). ``options_ready``: called with the plan's options table (``chosen`` set, never
    changed afterwards) before the plan table is built, so that a caller can write it meanwhile.
    """
    t0 = time.perf_counter()
    spec = spec or ModelSpec.from_scenario(scenario)
    chosen = chosen_mask(options, data, result)
    opts = options.reset_index(drop=True).assign(chosen=chosen)
    if options_ready is not None:
        options_ready(opts)
    base = planned[["office_id", "name", "status", "population", "region", "community"]].reset_index(drop=True)
    base["office_id"] = base["office_id"].astype(str)  # (pandas copies on write: ``planned`` is not changed)
    # the chosen options' columns that the plan table keeps
    keep = [c for c in options.columns if c in PLAN_COLUMNS and c not in base.columns]
    row_office = office_rows(base, options)  # each options row's office, by position in the plan
    plan = with_chosen_columns(base, opts, keep, row_office, np.flatnonzero(chosen))
    plan["technology"] = plan["technology"].fillna("none")
    plan["backup_technology"] = plan["backup_technology"].fillna("").astype(str)
    plan["backup_cost_usd"] = plan["backup_cost_usd"].fillna(0.0).astype(float)
    plan["year"] = pd.array(
        np.where(plan["technology"] != "none", scenario.horizon.start_year, cast(Any, pd.NA)), dtype="Int64"
    )  # empty where not connected
    filled: dict[tuple[int, int, int, str], pd.Series] = {}  # columns of one array are filled once, and share it
    for col in [*_MONEY, "mbps"]:
        values = plan[col].to_numpy()
        key = (values.__array_interface__["data"][0], values.strides[0], len(values), values.dtype.str)
        if key not in filled or values.dtype != np.float64:
            filled[key] = plan[col].fillna(0.0).astype(float)
        plan[col] = filled[key].copy(deep=False)
    mbps = options["required_mbps"].to_numpy(float)
    first = np.flatnonzero((row_office >= 0) & ~np.isnan(mbps))[::-1]  # each office's first row wins
    need = np.full(len(plan), np.nan)
    need[row_office[first]] = mbps[first]
    plan["required_mbps"] = need
    eligible = options["eligible"].to_numpy(bool) & (row_office >= 0)
    # technologies as codes, once for the eligible technologies and the why sentences (no string per row)
    tech_codes, tech_names = pd.factorize(options["technology"], sort=False)
    eligible_codes = pd.Series(pd.Categorical.from_codes(tech_codes[eligible], categories=tech_names))
    words, which = joined_words_by_position(row_office[eligible], eligible_codes, len(plan), ";")
    plan["eligible_technologies"] = text_from_codes(words, which, plan.index)
    del eligible_codes
    routes, sites, relays = allocate_shared(plan, planned, data, result, scenario)
    plan["why"] = why(plan, options, spec, row_office, (tech_codes, tech_names))
    del tech_codes
    # the catalogue figures that priced each office's option (empty when not connected, or a hand-made table)
    plan["cost_keys"] = plan["cost_keys"].fillna("") if "cost_keys" in plan else ""
    roadmap = None
    if spec.roadmap is not None and result.years is not None:
        _phase(plan, data, result, spec.roadmap)
        roadmap = roadmap_table(plan, spec.roadmap, data.total_weight("population"))
    plan = plan[PLAN_COLUMNS]
    by_tech = _breakdown(plan, "technology")
    by_region = _breakdown(plan, "region")
    timings = {**(timings or {}), "results": time.perf_counter() - t0}
    summary = _summary(scenario, plan, result, by_tech, by_region, data, spec, timings, security)
    if roadmap is not None:
        summary["coverage_by_year"] = {
            int(r.year): {
                "offices_connected": int(r.offices_cumulative),
                "population_covered": float(r.population_cumulative),
                "coverage_share_population": float(r.coverage_share_population),
            }
            for r in cast(Iterator[Any], roadmap.itertuples(index=False))
        }
    if routes is not None and sites is not None:
        summary["shared_infrastructure"] = {
            "fibre_edges_built": len(routes),
            "fibre_km_built": float(routes["length_km"].sum()),
            "fibre_trench_cost_usd": float(routes["cost_usd"].sum()),
            "fibre_offices": int(plan["shared_asset"].str.startswith("fibre").sum()),
            "sites_built": len(sites),
            "sites_cost_usd": float(sites["cost_usd"].sum()),
            "site_offices": int(plan["shared_asset"].str.startswith("new tower").sum()),
            "relay_offices": int(plan["shared_asset"].str.startswith("microwave relay").sum()),
            "shared_cost_usd": float(plan["shared_cost_usd"].sum()),
            "method": data.infra.method if data.infra is not None else "none",
        }
    return Plan(scenario, plan, opts, by_tech, by_region, summary, roadmap, routes, sites, data.infra, relays)


def with_chosen_columns(
    base: pd.DataFrame, opts: pd.DataFrame, keep: list[str], row_office: np.ndarray, rows: np.ndarray
) -> pd.DataFrame:
    """``base`` (one row per office) with the ``keep`` columns of its chosen option (missing where none).

    ``base.merge(opts.loc[rows, ["office_id", *keep]], on="office_id", how="left")``, by position: each chosen
    row's office is ``row_office`` (:func:`office_rows` on ``base``), so no hash join and no copy of the chosen
    rows before the join. An office with two chosen rows (which a solve does not give) takes the merge, which
    repeats the office as it always did.
    """
    hit = row_office[rows]
    if len(np.unique(hit[hit >= 0])) != int((hit >= 0).sum()):
        picked = opts.loc[rows, ["office_id", *keep]]
        return base.merge(picked.astype({"office_id": str}), on="office_id", how="left")
    rows, hit = rows[hit >= 0], hit[hit >= 0]  # a chosen option of an office not in ``base``: dropped, as a left join
    taker = np.full(len(base), -1, dtype=np.int64)
    taker[hit] = rows
    columns: dict[str, Any] = {c: base[c] for c in base.columns}
    gathered: dict[tuple[int, int, int, str], pd.Series] = {}  # by the memory it is gathered from
    for c in keep:
        col = opts[c]
        if isinstance(col.dtype, np.dtype) and col.dtype.kind == "f":
            # columns of the options table that share one array (costing's zero costs) share one gathered array
            values = col.to_numpy()
            key = (values.__array_interface__["data"][0], values.strides[0], len(values), values.dtype.str)
            if key not in gathered:
                gathered[key] = pd.Series(gather(values, taker, np.nan), index=base.index, copy=False)
            columns[c] = gathered[key].copy(deep=False)  # (pandas copies it on its first write)
        else:  # text (and any other dtype): pandas' take fills the missing cells as a left join does
            columns[c] = col.array.take(taker, allow_fill=True)
    return pd.DataFrame(columns, index=base.index, copy=False)


def chosen_mask(options: pd.DataFrame, data: ModelData, result: SolveResult) -> np.ndarray:
    """Per row of ``options``: whether the solve chose it.

    ``data.options`` is normally the eligible rows of ``options`` in order (``ModelData.from_options``), so the
    chosen pairs map to rows by position; otherwise (an instance built from another table) by
    ``(office_id, technology)``.
    """
    chosen = np.asarray(result.chosen, dtype=np.int64)
    rows = np.flatnonzero(options["eligible"].to_numpy(bool))
    mask = np.zeros(len(options), dtype=bool)
    if len(rows) == len(data.options) and (not len(chosen) or chosen.max() < len(rows)):
        at = rows[chosen]
        same = all(_same_values(options[c].iloc[at], data.options[c].iloc[chosen]) for c in ("office_id", "technology"))
        if same:
            mask[at] = True
            return mask
    picked = data.options.iloc[chosen][["office_id", "technology"]]
    key = pd.MultiIndex.from_frame(options[["office_id", "technology"]].astype(str))
    hit = key.get_indexer(pd.MultiIndex.from_frame(picked.astype(str)))
    mask[hit[hit >= 0]] = True
    return mask


def _same_values(a: pd.Series, b: pd.Series) -> bool:
    """Whether two columns hold the same values in order.

    Compared as stored when their types agree (Arrow text: no Python string per cell), else cell by cell.
    """
    if a.dtype == b.dtype and a.array.equals(b.array):
        return True
    return bool(np.array_equal(a.to_numpy(object), b.to_numpy(object)))


def _phase(plan: pd.DataFrame, data: ModelData, result: SolveResult, rm: RoadmapSpec) -> None:
    """Roadmap: connection years, capex at that year's prices, and cost_usd = budget spend over the horizon."""
    chosen = data.options.iloc[result.chosen]
    assert result.years is not None  # make_results phases only a roadmap result
    year_of = dict(zip(chosen["office_id"], result.years, strict=True))
    con = plan["technology"] != "none"
    plan["year"] = plan["office_id"].map(year_of).where(con, pd.NA).astype("Int64")
    # one capex factor per (technology, year) pair built, not per office
    pairs = pd.MultiIndex.from_arrays([plan["technology"].where(con, ""), plan["year"].fillna(0).astype(int)])
    unique = pairs.unique()
    of_pair = {(t, y): rm.capex_factor(t, int(y)) if t else 1.0 for t, y in unique}
    values = np.array([of_pair[p] for p in unique], dtype=float)
    factor = pd.Series(values[unique.get_indexer(pairs)], index=plan.index)
    for col in ("capex_usd", "capex_equipment_usd", "capex_civil_usd", "capex_licence_usd", "capex_power_usd",
                "capex_security_usd"):  # fmt: skip
        plan[col] = plan[col] * factor
    years_paid = (rm.years[-1] - plan["year"].fillna(rm.years[-1]).astype(int) + 1).where(con, 0)
    plan["cost_usd"] = plan["capex_usd"] + (plan["opex_usd_per_year"] * years_paid if rm.count_opex else 0.0)
    # A roadmap minimises its discounted cost (cost_basis tco only): residual values and annualised costs of
    # assets bought in later years are not computed, rather than shown at start-year figures.
    plan["residual_value_usd"] = np.nan
    plan["annualised_usd"] = np.nan


def roadmap_table(plan: pd.DataFrame, rm: RoadmapSpec, total_weight: float) -> pd.DataFrame:
    """The roadmap table: one row per year of a phased plan.

    Per year: offices and population newly connected, cumulative coverage, capex, opex, budget used and left, and new
    offices per technology.
    """
    con = plan[plan["technology"] != "none"].copy()
    con["year"] = con["year"].astype(int)
    pop_all = float(plan["population"].sum())
    rows, carry, cum_off, cum_pop = [], 0.0, 0, 0.0
    techs = sorted(con["technology"].unique())
    for y in rm.years:
        new = con[con["year"] == y]
        live = con[con["year"] <= y]
        capex = float(new["capex_usd"].sum())
        opex = float(live["opex_usd_per_year"].sum())
        used = capex + (opex if rm.count_opex else 0.0)
        available = rm.annual_budget_usd[y] + (carry if rm.carry_over else 0.0)
        left = available - used
        carry = max(left, 0.0)
        cum_off += len(new)
        cum_pop += float(new["population"].sum())
        row = {
            "year": y, "offices_connected": len(new), "population_new": float(new["population"].sum()),
            "offices_cumulative": cum_off, "population_cumulative": cum_pop,
            "coverage_share_population": cum_pop / pop_all if pop_all else 0.0,
            "capex_usd": capex, "opex_usd": opex, "budget_usd": available, "budget_used_usd": used,
            "budget_left_usd": left,
        }  # fmt: skip
        for t in techs:
            row[f"offices_{t}"] = int((new["technology"] == t).sum())
            row[f"capex_{t}_usd"] = float(new.loc[new["technology"] == t, "capex_usd"].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def _num(x: float | int | None) -> float | int | None:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return None
    return float(x) if isinstance(x, float | np.floating) else int(x)


def _summary(
    scenario: Scenario,
    plan: pd.DataFrame,
    result: SolveResult,
    by_tech: pd.DataFrame,
    by_region: pd.DataFrame,
    data: ModelData,
    spec: ModelSpec,
    timings: dict[str, float],
    security: SecurityBaseline | None,
) -> dict[str, Any]:
    summed = ["cost_usd", "population", "community", "residual_value_usd", "tco_usd", "annualised_usd", "capex_usd",
              "opex_usd_per_year", "capex_security_usd", "opex_security_usd_per_year"]  # fmt: skip
    con = plan.loc[(plan["technology"] != "none").to_numpy(bool), summed]  # the connected offices' figures only
    total_cost = float(con["cost_usd"].sum())
    pop_cov = float(con["population"].sum())
    pop_all = float(plan["population"].sum())
    communities = int(con["community"].nunique())
    W = data.total_weight(spec.metric)
    no_option = int((plan["eligible_technologies"] == "").sum())
    # The four cost figures of DESIGN §5 whatever the bases (USD; NaN -> null for a roadmap, see _phase).
    residual = float(con["residual_value_usd"].sum(min_count=1)) if len(con) else 0.0
    economic = {
        "tco": float(con["tco_usd"].sum()),
        "residual": residual,
        "tco_residual": float(con["tco_usd"].sum()) - residual,
        "annualised": float(con["annualised_usd"].sum(min_count=1)) if len(con) else 0.0,
    }
    return {
        "scenario": scenario.name,
        "status": result.status,
        "objective": scenario.objective,
        "objective_value": _num(result.objective),
        "objective_bound": _num(result.bound),
        "mip_gap": _num(result.mip_gap),
        "method": result.method,
        "coverage_metric": scenario.coverage_metric,
        "budget_basis": scenario.budget_basis,
        "budget_usd": _num(scenario.budget_usd),
        "coverage_target": _num(scenario.coverage_target),
        "total_cost_usd": total_cost,
        "total_capex_usd": float(con["capex_usd"].sum()),
        "total_opex_usd_per_year": float(con["opex_usd_per_year"].sum()),
        "total_tco_usd": float(con["tco_usd"].sum()),
        "cost_basis": scenario.cost_basis,
        "line_of_sight": line_of_sight_note(scenario),
        "security": security_summary(scenario, con, security),
        "total_residual_value_usd": _num(economic["residual"]),
        "total_tco_residual_usd": _num(economic["tco_residual"]),
        "total_annualised_usd": _num(economic["annualised"]),
        "total_economic_cost_usd": _num(economic[scenario.cost_basis]),
        "offices_planned": len(plan),
        "offices_connected": len(con),
        "offices_unserved": len(plan) - len(con),
        "offices_without_eligible_option": no_option,
        "population_planned": pop_all,
        "population_covered": pop_cov,
        "communities_planned": int(plan["community"].nunique()),
        "communities_connected": communities,
        "coverage_share": result.coverage / W if W else 0.0,
        "coverage_share_population": pop_cov / pop_all if pop_all else 0.0,
        "by_technology": {
            r.technology: {
                "offices": int(r.offices),
                "cost_usd": float(r.cost_usd),
                "capex_usd": float(r.capex_usd),
                "opex_usd_per_year": float(r.opex_usd_per_year),
                "tco_usd": float(r.tco_usd),
                "tco_residual_usd": _num(float(r.tco_residual_usd)),
                "annualised_usd": _num(float(r.annualised_usd)),
                "population": float(r.population),
            }
            for r in cast(Iterator[Any], by_tech.itertuples(index=False))
        },
        "cost_per_person_usd": total_cost / pop_cov if pop_cov else None,
        "cost_per_community_usd": total_cost / communities if communities else None,
        "start_year": scenario.horizon.start_year,
        "end_year": scenario.horizon.end_year,
        "build_seconds": round(result.build_seconds + timings.get("costing", 0.0), 4),
        "solve_seconds": round(result.solve_seconds, 4),
        "timings_seconds": {k: round(v, 4) for k, v in timings.items()},
        "passes": [
            {
                "name": p.name,
                "method": p.method,
                "status": p.status,
                "objective": _num(p.objective),
                "bound": _num(p.bound),
                "seconds": round(p.seconds, 4),
            }
            for p in result.passes
        ],
    }


def line_of_sight_note(scenario: Scenario) -> str:
    """Whether microwave hops were checked for line of sight (a plan without an elevation raster says so)."""
    if scenario.data.elevation is None:
        return "not checked (no data.elevation)"
    return f"checked on {Path(scenario.data.elevation).name} (the catalogue's Fresnel clearance rule)"


def security_summary(scenario: Scenario, connected: pd.DataFrame, sec: SecurityBaseline | None) -> dict[str, Any]:
    """The security baseline in the plan: the offices' own lines, and the per-country costs outside their budget.

    Per country: the catalogue's (``sec``) incident-response set-up and information-sharing application (once)
    and their yearly running costs; ``horizon_usd`` = once + yearly · AF(r, H). Countries: those of
    ``countries`` in a multi-country scenario, else one.
    """
    with_baseline = connected[connected["capex_security_usd"] > 0]
    out: dict[str, Any] = {
        "required_for_services": list(scenario.security.required_for_services),
        "offices_with_baseline": len(with_baseline),
        "office_capex_usd": float(with_baseline["capex_security_usd"].sum()),
        "office_opex_usd_per_year": float(with_baseline["opex_security_usd_per_year"].sum()),
        "country": None,
    }
    if scenario.security.country_costs == "none" or not len(with_baseline) or sec is None:
        return out
    c = scenario.countries
    n = len(c.files or c.budgets or {}) if c is not None else 1
    once = sec.incident_response_plan_usd.value + sec.information_sharing_one_off_usd.value
    yearly = sec.incident_response_usd_per_year.value + sec.information_sharing_usd_per_year.value
    af = annuity_factor(scenario.discount_rate, scenario.horizon.years)
    out["country"] = {
        "countries": max(n, 1),
        "one_off_usd": once,
        "per_year_usd": yearly,
        "horizon_usd": once + yearly * af,
        "counted": "per country, outside the offices' budget (catalogue security.incident_response_* and "
        "information_sharing_*)",
    }
    return out
