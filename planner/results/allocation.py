"""Shared costs allocated to offices, so that office costs add up to the plan's total.

A trench segment is split among the offices behind it, a site among its offices (docs/shared-infrastructure.md).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from planner.costing import annuity_factor
from planner.geo import haversine_km
from planner.problem import ModelData, SolveResult
from planner.results.outputs import ROUTE_COLUMNS, SITE_COLUMNS
from planner.scenario import Scenario

RELAY_COLUMNS = ["office_id", "hub_office_id", "distance_km", "lat", "lon", "hub_lat", "hub_lon"]
"""The built microwave relay links, one row per relayed office: the office (``office_id``, ``lat``, ``lon``), the
fibre-connected office it relays from (``hub_office_id``, ``hub_lat``, ``hub_lon``; WGS84 degrees) and the hop
length (``distance_km``, great circle)."""


def allocate_shared(
    plan: pd.DataFrame, planned: pd.DataFrame, data: ModelData, result: SolveResult, scenario: Scenario
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]:
    """Say which shared asset serves each office and allocate shared costs to offices (in place).

    Allocation rule (documented in docs/shared-infrastructure.md): a fibre trench edge's cost is split equally
    among the fibre offices whose route to the backbone runs through it (each office pays a share of every
    segment on its own path, so a branch to one village is paid by that village alone and the common trunk
    by all); a new tower site's cost is split equally among the offices assigned to it (each office is
    assigned to its nearest built site). Relayed offices use a hub's fibre at no extra shared cost. Shares are
    added to the office's capex / opex / cost columns, so the office costs sum to the plan's total cost.
    Returns the built fibre edges, sites and relay links (:data:`RELAY_COLUMNS`) as tables (None when the
    scenario shares nothing).
    """
    infra = data.infra
    plan["shared_asset"] = ""
    plan["shared_cost_usd"] = 0.0
    if not scenario.infrastructure.enabled:
        return None, None, None
    empty_routes = pd.DataFrame(columns=ROUTE_COLUMNS)
    empty_sites = pd.DataFrame(columns=SITE_COLUMNS)
    relays = pd.DataFrame(columns=RELAY_COLUMNS)
    if infra is None:
        return empty_routes, empty_sites, relays
    counted = scenario.policy.opex_paid_by in ("operator", "both")
    annuity = annuity_factor(scenario.discount_rate, scenario.horizon.years)
    shared = data.shared[result.chosen] if len(result.chosen) else np.zeros(0, dtype=object)
    picked = data.options.iloc[result.chosen]["office_id"].to_numpy(object)
    row_index = pd.Index(plan["office_id"])
    share = np.zeros((len(plan), 5))  # capex, opex (upkeep), cost (basis), residual value, annualised (USD)
    asset = plan["shared_asset"].to_numpy(object).copy()
    routes = empty_routes
    arcs_built = result.arcs if result.arcs is not None else np.zeros(0, dtype=np.int64)
    if len(arcs_built):
        arcs = infra.arcs.iloc[arcs_built]
        nodes = infra.nodes
        roots = nodes[nodes["kind"] == "fibre_node"]
        root_ref = pd.Series(roots["ref"].to_numpy(object), index=roots["node"].astype(int).to_numpy())
        tail = infra.arcs["tail"].to_numpy(np.int64)
        length = infra.arcs["length_km"].to_numpy(float)
        money = _money(infra.arcs)
        paths = infra.paths(arcs_built, picked[shared == "fibre"])
        offices = np.array(list(paths), dtype=object)
        sizes = np.fromiter((len(p) for p in paths.values()), dtype=np.int64, count=len(paths))
        flat = np.fromiter(itertools.chain.from_iterable(paths.values()), dtype=np.int64, count=int(sizes.sum()))
        rows = row_index.get_indexer(offices)
        flat_rows = np.repeat(rows, sizes)
        users = np.bincount(flat, minlength=len(infra.arcs))  # fibre offices behind each arc
        # each arc's cost split equally among its users, added arc by arc in the built order (as summed by hand)
        order = np.argsort(pd.Index(arcs_built).get_indexer(flat), kind="stable")
        np.add.at(share, flat_rows[order], money[flat[order]] / users[flat[order]][:, None])
        if len(offices):
            starts = np.cumsum(sizes) - sizes
            some = sizes > 0
            km = np.zeros(len(offices))
            if len(flat):
                km[some] = np.add.reduceat(length[flat], starts[some])
            last = flat[np.maximum(starts + sizes - 1, 0)] if len(flat) else np.zeros(len(offices), np.int64)
            root = root_ref.reindex(np.where(some, tail[last], -1)).fillna("?").astype(str).to_numpy(object)
            root[~some] = "?"
            asset[rows] = ("fibre from node " + root + ": " + np.char.mod("%.1f", km).astype(object)
                           + " km of trench, " + sizes.astype(str).astype(object) + " segment(s)")  # fmt: skip
        name = pd.Series(nodes["node_id"].to_numpy(object), index=nodes["node"].astype(int))
        routes = pd.DataFrame(
            {
                "edge": arcs["edge"].astype(int).to_numpy(),
                "from_node": name.reindex(arcs["tail"].astype(int)).to_numpy(),
                "to_node": name.reindex(arcs["head"].astype(int)).to_numpy(),
                "length_km": arcs["length_km"].round(3).to_numpy(),
                "capex_usd": arcs["capex_usd"].to_numpy(float),
                "opex_usd_per_year": arcs["opex_usd_per_year"].to_numpy(float),
                "cost_usd": arcs["cost_usd"].to_numpy(float),
                "offices_served": users[np.asarray(arcs_built, dtype=np.int64)].astype(int),
            }
        )
    sites = empty_sites
    sites_built = result.sites if result.sites is not None else np.zeros(0, dtype=np.int64)
    if len(sites_built):
        built = infra.sites.iloc[sites_built]
        cover = infra.site_cover[infra.site_cover["site"].isin(set(built["site"]))]
        on_site = set(picked[shared == "site"])
        cover = cover[cover["office_id"].isin(on_site)].copy()
        s_lat = dict(zip(built["site"], built["lat"], strict=True))
        s_lon = dict(zip(built["site"], built["lon"], strict=True))
        pos = planned.assign(office_id=planned["office_id"].astype(str)).set_index("office_id")
        cover["km"] = haversine_km(
            cover["site"].map(s_lat).to_numpy(float), cover["site"].map(s_lon).to_numpy(float),
            cover["office_id"].map(pos["lat"]).to_numpy(float), cover["office_id"].map(pos["lon"]).to_numpy(float),
        )  # fmt: skip
        assigned = cover.sort_values(["office_id", "km", "site"]).groupby("office_id").first()
        counts = assigned.groupby("site").size()
        pops = plan.set_index("office_id")["population"]
        if len(assigned):
            site_of = assigned["site"].astype(int).to_numpy()
            at = pd.Index(infra.sites["site"].astype(int)).get_indexer(pd.Index(site_of))  # the first row of each site
            n = counts.reindex(site_of).to_numpy(np.int64)
            rows = row_index.get_indexer(assigned.index)
            share[rows] += _money(infra.sites)[at] / n[:, None]
            asset[rows] = ("new tower " + infra.sites["site_id"].astype(str).to_numpy(object)[at] + " ("
                           + np.char.mod("%.1f", assigned["km"].to_numpy(float)).astype(object) + " km), shared by "
                           + n.astype(str).astype(object) + " office(s)")  # fmt: skip
        sites = built.assign(
            offices_served=built["site"].map(counts).fillna(0).astype(int).to_numpy(),
            population_served=built["site"]
            .map(assigned.assign(pop=assigned.index.map(pops)).groupby("site")["pop"].sum())  # type: ignore[arg-type]  # stubs: Index.map takes a Series
            .fillna(0.0)
            .to_numpy(),
        )[SITE_COLUMNS]
    if (shared == "relay").any():
        hub_fibre = set(picked[shared == "fibre"]) | set(
            picked[(data.options.iloc[result.chosen]["technology"] == infra.fibre_technology).to_numpy()]
        )
        rel = infra.relays[infra.relays["hub_office_id"].isin(hub_fibre)].sort_values(["office_id", "distance_km"])
        first = rel.groupby("office_id").first()
        relayed = picked[shared == "relay"]
        hit = first.index.get_indexer(relayed)
        found = hit >= 0
        hub = first.iloc[hit[found]]
        asset[row_index.get_indexer(relayed[found])] = (
            "microwave relay from office " + hub["hub_office_id"].astype(str).to_numpy(object) + " ("
            + np.char.mod("%.1f", hub["distance_km"].to_numpy(float)).astype(object) + " km)"
        )  # fmt: skip
        pos = planned.assign(office_id=planned["office_id"].astype(str)).set_index("office_id")
        ends = pd.Index(pos.index)
        office = ends.get_indexer(pd.Index(relayed[found]))
        far = ends.get_indexer(pd.Index(hub["hub_office_id"].astype(str)))
        lat, lon = pos["lat"].to_numpy(float), pos["lon"].to_numpy(float)
        relays = pd.DataFrame(
            {
                "office_id": relayed[found].astype(str),
                "hub_office_id": hub["hub_office_id"].astype(str).to_numpy(object),
                "distance_km": hub["distance_km"].to_numpy(float),
                "lat": np.where(office >= 0, lat[office], np.nan),
                "lon": np.where(office >= 0, lon[office], np.nan),
                "hub_lat": np.where(far >= 0, lat[far], np.nan),
                "hub_lon": np.where(far >= 0, lon[far], np.nan),
            }
        )[RELAY_COLUMNS]
    plan["shared_asset"] = asset
    plan["shared_cost_usd"] = share[:, 2]
    plan["capex_usd"] += share[:, 0]
    plan["capex_civil_usd"] += share[:, 0]
    plan["opex_network_usd_per_year"] += share[:, 1]
    plan["opex_usd_per_year"] += share[:, 1] * counted
    plan["tco_usd"] += share[:, 0] + share[:, 1] * counted * annuity
    plan["cost_usd"] += share[:, 2]
    plan["residual_value_usd"] += share[:, 3]
    plan["annualised_usd"] += share[:, 4]
    return routes, sites, relays


def _money(frame: pd.DataFrame) -> np.ndarray:
    """Capex, upkeep per year, budget cost, residual value and annualised cost (USD) of arcs or sites."""
    cols = ["capex_usd", "opex_usd_per_year", "cost_usd", "residual_value_usd", "annualised_usd"]
    return frame.reindex(columns=cols).fillna(0.0).to_numpy(float)
