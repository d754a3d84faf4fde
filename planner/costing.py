"""The (office × technology) options table: eligibility, capex, opex, Mbps and TCO (DESIGN §3, §5).

One row per planned office and catalogue technology, eligible or not, so that the results can say for any
office which technologies were feasible, what each would have cost and why the others were excluded.
Only eligible rows become model variables. Costs are split by component so donors see what they pay for:

* capex: ``capex_equipment_usd`` (terminal, radio, ONT), ``capex_civil_usd`` (trench per km, mast),
  ``capex_licence_usd`` (one-off spectrum fee), ``capex_power_usd`` (solar kit sized to the terminal's
  ``power_draw_w`` where there is no grid power: :class:`planner.scenario.PowerKit`);
* opex per year: ``opex_service_usd_per_year`` (fees paid by the post), ``opex_network_usd_per_year`` (upkeep
  and annual licence, borne by the operator), ``opex_power_usd_per_year`` (solar upkeep off grid, grid
  electricity on grid; paid by the post).

``opex_usd_per_year`` is the part counted by ``policy.opex_paid_by``. TCO over the horizon of H years with
discount rate r is ``capex + opex·Σ_{k=1..H}(1+r)^-k + replacements``, where equipment whose lifetime L is
shorter than H is bought again in years L, 2L, ... < H (discounted). ``cost_usd`` is what counts against the
budget: capex or TCO by ``budget_basis``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.data import (
    BACKHAUL_FROM_GENERATION,
    Inputs,
    key_positions,
    remember_positions,
    repeated_text,
    text_from_codes,
)
from planner.geo import PointIndex, haversine_km
from planner.network import SharedInfra, build_fibre_graph, candidate_relays, candidate_sites
from planner.scenario import Catalogue, Scenario, Technology
from planner.terrain import line_of_sight

OPTION_KEY = ["office_id", "technology"]
# The options column that holds the economic cost of each cost_basis (what min_cost and tie-breaks minimise).
ECONOMIC_COLUMN = {"tco": "tco_usd", "tco_residual": "tco_residual_usd", "annualised": "annualised_usd"}


def annuity_factor(rate: float, years: int) -> float:
    """Present value of 1 USD paid at the end of each of ``years`` years: Σ_{k=1..H} (1+r)^-k."""
    return float(sum((1 + rate) ** -k for k in range(1, years + 1)))


def replacement_factor(rate: float, years: int, lifetime: float) -> float:
    """Present value of re-buying 1 USD of equipment every ``lifetime`` years within a horizon of ``years``."""
    total, m = 0.0, 1
    while m * lifetime < years:
        total += (1 + rate) ** -(m * lifetime)
        m += 1
    return total


def capital_recovery_factor(rate: float, life: float) -> float:
    """CRF(r, L) = r / (1 - (1+r)^-L): the equivalent annual cost of 1 USD of capex over a life of L years.

    The annuity that repays 1 USD over L years at rate r (1/L when r = 0). Lives need not be whole years.
    """
    if rate == 0:
        return 1.0 / life
    return rate / (1.0 - (1.0 + rate) ** -life)


def residual_fraction(years: int, life: float, replaced: bool) -> float:
    """Share of an asset's price still unused at the horizon end, straight-line (0..1).

    The asset is bought at the start of the horizon (t = 0) and lives ``life`` years. ``replaced``: it is bought
    again at L, 2L, ... < H (the equipment, as TCO counts it), so the last purchase, at m·L with m the largest
    integer with m·L < H, is worth ((m+1)·L - H) / L at t = H; otherwise (civil works, licence, power kit,
    bought once) it is worth max(0, (L - H) / L).
    """
    if replaced:
        m = math.ceil(years / life) - 1  # the largest m >= 0 with m·L < H
        return ((m + 1) * life - years) / life
    return max(0.0, (life - years) / life)


REPLACED = ("equipment", "security")
"""Capex components re-bought at the end of their life within the horizon (TCO counts the replacements)."""


def lifecycle_costs(
    capex_parts: dict[str, pd.Series], opex: pd.Series, lives: dict[str, pd.Series], rate: float, years: int
) -> tuple[pd.Series, pd.Series]:
    """(residual value, annualised cost) in USD of options with capex components, yearly opex and lives.

    ``capex_parts`` and ``lives`` are keyed by component (``equipment`` and ``security`` are replaced within the
    horizon, the others are bought once), ``opex`` is the counted opex (USD/year), ``rate`` r the discount rate,
    ``years`` H:

    * residual value ``RV = Σ_c capex_c · residual_fraction(H, L_c) · (1+r)^-H`` (discounted to the start);
    * annualised ``EAC·AF(r, H)`` with ``EAC = Σ_c capex_c · CRF(r, L_c) + opex`` and ``AF(r, H) =
      Σ_{k=1..H} (1+r)^-k``: each asset's equivalent annual cost over its own life, paid every year of the
      horizon and discounted as opex is.
    """
    af = annuity_factor(rate, years)
    disc_end = (1.0 + rate) ** -years
    residual = np.zeros(len(opex))
    eac = opex.to_numpy(float).copy()
    factorized: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}  # lives shared by several parts
    for part, capex in capex_parts.items():
        # the factors of each distinct life (a few), gathered by code: millions of options at world scale
        life = lives[part].to_numpy(float)
        key = (life.__array_interface__["data"][0], life.strides[0] if life.ndim else 0, len(life))
        if key not in factorized:
            bits = life.view(np.int64)
            if len(life) and not np.isnan(life[0]) and bool((bits == bits[0]).all()):  # one life: no hashing
                factorized[key] = (np.zeros(len(life), dtype=np.intp), life[:1])
            else:
                factorized[key] = pd.factorize(life, sort=False)
        codes, values = factorized[key]
        frac = np.array([residual_fraction(years, float(v), replaced=part in REPLACED) for v in values], dtype=float)
        crf = np.array([capital_recovery_factor(rate, float(v)) for v in values], dtype=float)
        if (codes < 0).any():  # a missing life: NaN factors, as the mapping of a NaN gave
            frac, crf = np.append(frac, np.nan), np.append(crf, np.nan)
        amount = capex.to_numpy(float)
        finite = np.isfinite(frac).all() and np.isfinite(crf).all() and (frac >= 0).all() and (crf >= 0).all()
        if finite and _all_positive_zero(amount) and (codes >= 0).all():
            # every term is +0.0 (a quote's civil works, licence, power): added as the scalar, the same bits
            residual += 0.0
            eac += 0.0
            continue
        residual += amount * frac[codes] * disc_end
        eac += amount * crf[codes]
    return pd.Series(residual, index=opex.index), pd.Series(eac * af, index=opex.index)


def _all_positive_zero(values: np.ndarray) -> bool:
    """Whether every value is +0.0, bit for bit (-0.0 and NaN are not)."""
    return bool(values.dtype == np.float64 and not values.view(np.int64).any())


def required_mbps(offices: pd.DataFrame, scenario: Scenario) -> pd.Series:
    """Mbps an office needs, by the scenario's demand model (``demand.model``).

    * planner: its services' Mbps plus ``mbps_per_1000_people`` per 1,000 people served, at least ``floor_mbps``;
    * itu_cpp: ``population × adoption × concurrency × mbps_per_user``, at least the CPP floor (20 Mbps);
    * giga: ``mbps_per_site``, or ``population × kbps_per_user / 1000`` when the office serves more than
      ``users_above`` people (whichever is larger).
    """
    demand = scenario.demand
    people = offices["population"].astype(float)
    if demand.model == "itu_cpp":
        cpp = demand.itu_cpp
        users = people * cpp.adoption * cpp.concurrency
        return (users * cpp.mbps_per_user).clip(lower=cpp.floor_mbps).round(3)
    if demand.model == "giga":
        giga = demand.giga
        per_user = (people * giga.kbps_per_user / 1000.0).where(people > giga.users_above, 0.0)
        return per_user.clip(lower=giga.mbps_per_site).round(3)
    services = offices["services"]
    mbps_of = {s: sum(demand.service_mbps.get(x, 0.0) for x in str(s).split(";") if x) for s in services.unique()}
    service_sum = services.map(mbps_of)
    need = service_sum.astype(float) + offices["population"].astype(float) / 1000.0 * demand.mbps_per_1000_people
    return need.clip(lower=demand.floor_mbps).round(3)


def office_weights(offices: pd.DataFrame, metric: str) -> pd.Series:
    """Coverage weight w[i] of each office: population × priority, or priority (offices metric).

    For the communities metric the office weight is its priority; community coverage itself is modelled with
    one indicator per community (see ``model.add_community_coverage``).
    """
    priority = offices["priority"].astype(float)
    if metric == "population":
        return offices["population"].astype(float) * priority
    return priority


@dataclass
class _Anchors:
    """Distance (km) and id of the nearest usable anchor of one technology for every planned office."""

    distance_km: np.ndarray
    anchor_id: np.ndarray
    what: str
    reason: np.ndarray | None = None  # why an office within reach has no usable anchor (hop rules), else ""


def _anchor_points(tech: Technology, inputs: Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The anchors a technology's link may end at: lat, lon, id, and what they are (for reasons)."""
    reach = tech.reach
    pts_lat, pts_lon, ids, names = [], [], [], []
    if "fibre_node" in reach.anchors and len(inputs.fibre_nodes):
        pts_lat.append(inputs.fibre_nodes["lat"].to_numpy(float))
        pts_lon.append(inputs.fibre_nodes["lon"].to_numpy(float))
        ids.append(inputs.fibre_nodes["node_id"].astype(str).to_numpy())
        names.append("fibre node")
    if "tower" in reach.anchors and len(inputs.towers):
        towers = inputs.towers[inputs.towers["generation"] >= (reach.min_tower_generation or 2)]
        label = f"tower ({reach.min_tower_generation or 2}G+)"
        if reach.backhauled_towers_only:
            # towers built in memory may lack the column: the reader's rule for an empty cell applies
            has = (
                towers["backhaul"].astype(bool)
                if "backhaul" in towers
                else towers["generation"] >= BACKHAUL_FROM_GENERATION
            )
            towers = towers[has]
            label = f"backhauled tower ({reach.min_tower_generation or 2}G+)"
        pts_lat.append(towers["lat"].to_numpy(float))
        pts_lon.append(towers["lon"].to_numpy(float))
        ids.append(towers["tower_id"].astype(str).to_numpy())
        names.append(label)
    if "connected_office" in reach.anchors:
        hubs = inputs.offices[inputs.offices["status"] == "connected"]
        pts_lat.append(hubs["lat"].to_numpy(float))
        pts_lon.append(hubs["lon"].to_numpy(float))
        ids.append(hubs["office_id"].astype(str).to_numpy())
        names.append("connected office")
    what = " or ".join(names) if names else " or ".join(a.replace("_", " ") for a in reach.anchors)
    if not pts_lat:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=object), what
    return np.concatenate(pts_lat), np.concatenate(pts_lon), np.concatenate(ids).astype(object), what


def _nearest_anchor(tech: Technology, planned: pd.DataFrame, inputs: Inputs) -> _Anchors:
    """The anchor each office's link ends at.

    The nearest; with a minimum hop length or line of sight, the nearest of the ``max_candidates`` nearest that
    is long enough and clear (with a reason where none is).
    """
    lat, lon = planned["lat"].to_numpy(float), planned["lon"].to_numpy(float)
    n = len(planned)
    reach = tech.reach
    if reach.use_tower_range:
        return _inside_tower_range(tech, lat, lon, inputs)
    a_lat, a_lon, all_ids, what = _anchor_points(tech, inputs)
    none = repeated_text(n, "")
    if len(a_lat) == 0:
        return _Anchors(np.full(n, np.inf), none.copy(), what, none.copy())
    index = PointIndex(a_lat, a_lon)
    los = reach.line_of_sight if inputs.elevation is not None else None
    if reach.min_distance_km <= 0 and los is None:
        dist, idx = index.nearest(lat, lon)
        return _Anchors(dist * reach.route_factor, np.where(idx >= 0, all_ids[np.maximum(idx, 0)], ""), what, none)
    k = min(los.max_candidates if los is not None else 8, len(a_lat))
    limit = reach.max_distance_km if reach.max_distance_km is not None else np.inf
    dist, idx = index.nearest(lat, lon, k=k, max_km=None if not np.isfinite(limit) else limit / reach.route_factor)
    if k == 1:
        dist, idx = dist[:, None], idx[:, None]
    dist = dist * reach.route_factor
    usable = (idx >= 0) & (dist <= limit) & (dist >= reach.min_distance_km)
    blocked = np.full(dist.shape, np.nan)  # worst margin (m) of each blocked candidate
    blocked_at = np.full(dist.shape, np.nan)
    if los is not None and inputs.elevation is not None:
        o, c = np.nonzero(usable)
        a = idx[o, c]
        verdict = line_of_sight(
            inputs.elevation, lon[o], lat[o], a_lon[a], a_lat[a], antenna_a_m=los.office_antenna_m,
            antenna_b_m=los.anchor_antenna_m, frequency_ghz=los.frequency_ghz, k_factor=los.k_factor,
            clearance=los.fresnel_clearance, step_m=los.step_m,
        )  # fmt: skip
        usable[o, c] = verdict.clear
        blocked[o, c] = np.where(verdict.clear, np.nan, verdict.worst_m)
        blocked_at[o, c] = verdict.worst_km
    pick = np.where(usable.any(axis=1), usable.argmax(axis=1), -1)
    rows = np.arange(n)
    out_d = np.where(pick >= 0, dist[rows, np.maximum(pick, 0)], np.inf)
    out_id = np.where(pick >= 0, all_ids[np.maximum(idx[rows, np.maximum(pick, 0)], 0)], "")
    reasons = none.copy()
    share = los.fresnel_clearance if los is not None else 0.0
    for i in np.flatnonzero(pick < 0):
        near = dist[i][np.isfinite(dist[i])]
        in_reach = (dist[i] <= limit) & np.isfinite(dist[i])
        if not in_reach.any():
            continue  # the caller's reason: nothing within the maximum distance
        long_enough = in_reach & (dist[i] >= reach.min_distance_km)
        if not long_enough.any():
            reasons[i] = (f"every {what} within {limit:g} km is nearer than the shortest hop of "
                          f"{reach.min_distance_km:g} km (nearest {near.min():.2f} km)")  # fmt: skip
            continue
        j = int(np.flatnonzero(long_enough)[0])
        if np.isnan(blocked[i, j]):
            reasons[i] = (f"the elevation raster does not cover the hop to {all_ids[idx[i, j]]} "
                          f"({dist[i, j]:.1f} km): line of sight unknown")  # fmt: skip
        else:
            reasons[i] = (f"no line of sight to the {int(long_enough.sum())} nearest {what} within {limit:g} km: "
                          f"the nearest, {all_ids[idx[i, j]]} at {dist[i, j]:.1f} km, is blocked "
                          f"{-blocked[i, j]:.0f} m below {share:.0%} of the Fresnel zone at "
                          f"{blocked_at[i, j]:.1f} km")  # fmt: skip
    return _Anchors(out_d, out_id, what, reasons)


def _with_polygons(
    name: str,
    planned: pd.DataFrame,
    inputs: Inputs,
    scenario: Scenario,
    distance: np.ndarray,
    anchor: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cellular reach by the scenario's ``coverage.source``: towers' radii, published polygons, or either.

    An office inside a polygon is anchored to it as ``layer#feature`` (distance NaN: no distance applies);
    with ``either`` the polygon is named before a tower. Also returns the polygon's advertised Mbps (NaN where
    not given or not covered by a polygon).
    """
    source = scenario.coverage.source
    cov = inputs.coverage
    speed = np.full(len(planned), np.nan)
    if cov is None or source == "towers":
        return distance, anchor, speed
    distance, anchor = distance.copy(), anchor.copy()
    if source == "polygons":
        distance[:] = np.inf
        anchor[:] = ""
    mine = cov[cov["technology"] == name]
    if len(mine):
        pos = pd.Index(planned["office_id"]).get_indexer(mine["office_id"])
        keep = pos >= 0
        pos = pos[keep]
        label = mine["layer"].astype(str).to_numpy()[keep] + "#" + mine["feature"].astype(str).to_numpy()[keep]
        anchor[pos] = label
        distance[pos] = np.nan
        speed[pos] = mine["mbps"].astype(float).to_numpy()[keep]
    return distance, anchor, speed


def _not_covered_reason(what: str, inputs: Inputs, scenario: Scenario) -> str:
    """Why an office has no cellular coverage, naming the sources the scenario consulted."""
    layer = Path(scenario.data.coverage).name if scenario.data.coverage is not None else ""
    source = scenario.coverage.source if inputs.coverage is not None else "towers"
    if source == "polygons":
        return f"not inside any coverage polygon of {layer}"
    if source == "either":
        return f"not inside any coverage polygon of {layer} nor the coverage radius of any {what}"
    return f"not inside the coverage radius of any {what}"


def _inside_tower_range(tech: Technology, lat: np.ndarray, lon: np.ndarray, inputs: Inputs) -> _Anchors:
    """Nearest tower of the required generation whose own coverage radius contains the office (exact).

    The k nearest towers are checked first (vectorised); offices where a tower beyond the k-th could still
    cover them (k-th distance <= the largest radius) are settled with a radius query.
    """
    n = len(lat)
    gen = tech.reach.min_tower_generation or 2
    towers = inputs.towers[inputs.towers["generation"] >= gen]
    what = f"{gen}G+ tower"
    if towers.empty:
        return _Anchors(np.full(n, np.inf), repeated_text(n, ""), what)
    cap = tech.reach.max_distance_km or np.inf
    rng = np.minimum(towers["range_km"].to_numpy(float), cap)
    ids = towers["tower_id"].astype(str).to_numpy().astype(object)
    index = PointIndex(towers["lat"].to_numpy(float), towers["lon"].to_numpy(float))
    k = min(16, len(towers))
    dist, idx = index.nearest(lat, lon, k=k, max_km=float(rng.max()))  # farther towers cannot cover
    if k == 1:
        dist, idx = dist[:, None], idx[:, None]
    covered = (idx >= 0) & (dist <= rng[np.maximum(idx, 0)])
    best_d = np.where(covered, dist, np.inf)
    j = best_d.argmin(axis=1)
    out_d = best_d[np.arange(n), j]
    out_id = np.where(np.isfinite(out_d), ids[np.maximum(idx[np.arange(n), j], 0)], "")
    unsure = np.flatnonzero(~np.isfinite(out_d) & (dist[:, -1] <= rng.max()) & (k < len(towers)))
    if len(unsure):
        # All candidate (office, tower) pairs within the largest radius, in the order of the radius query; a
        # stable sort by (office, distance) keeps the first-found tower among equally near ones.
        found = index.within(lat[unsure], lon[unsure], float(rng.max()))
        sizes = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
        office = np.repeat(unsure, sizes)
        tower = np.fromiter((t for f in found for t in f), dtype=np.int64, count=int(sizes.sum()))
        t_lat, t_lon = towers["lat"].to_numpy(float), towers["lon"].to_numpy(float)
        d = haversine_km(lat[office], lon[office], t_lat[tower], t_lon[tower])
        inside = d <= rng[tower]
        office, tower, d = office[inside], tower[inside], d[inside]
        order = np.lexsort((d, office))
        office, tower, d = office[order], tower[order], d[order]
        first = np.r_[True, office[1:] != office[:-1]] if len(office) else np.zeros(0, dtype=bool)
        out_d[office[first]] = d[first]
        out_id[office[first]] = ids[tower[first]]
    return _Anchors(out_d, out_id, what)


def country_groups(
    planned: pd.DataFrame, catalogue: Catalogue, regional: Mapping[str, Catalogue]
) -> list[tuple[Catalogue, np.ndarray]]:
    """The catalogue that prices each group of offices, with the groups' positions in ``planned``.

    Offices whose ``country`` has a catalogue in ``regional`` take it; the rest take ``catalogue``. One group
    (all offices, ``catalogue``) when ``regional`` is empty.
    """
    if not regional:
        return [(catalogue, np.arange(len(planned)))]
    country = planned["country"].astype(str).str.strip().to_numpy() if "country" in planned else None
    if country is None:
        return [(catalogue, np.arange(len(planned)))]
    groups = []
    rest = np.ones(len(planned), dtype=bool)
    for iso3 in sorted(regional):
        here = country == iso3
        if here.any():
            groups.append((regional[iso3], np.flatnonzero(here)))
            rest &= ~here
    if rest.any():
        groups.append((catalogue, np.flatnonzero(rest)))
    return groups


def _priced_rows(
    name: str,
    groups: list[tuple[Catalogue, np.ndarray]],
    planned: pd.DataFrame,
    inputs: Inputs,
    scenario: Scenario,
    need: np.ndarray,
) -> pd.DataFrame:
    """One technology's rows for every planned office, in ``planned`` order, each group by its own catalogue."""
    if len(groups) == 1:
        cat = groups[0][0]
        return _tech_rows(name, cat.technologies[name], planned, inputs, cat, scenario, need)
    pieces = [
        _tech_rows(name, cat.technologies[name], planned.iloc[idx].reset_index(drop=True), inputs, cat, scenario,
                   need[idx])
        for cat, idx in groups
    ]  # fmt: skip
    order = np.argsort(np.concatenate([idx for _, idx in groups]), kind="stable")
    return pd.concat(pieces, ignore_index=True).take(order).reset_index(drop=True)


def _tech_rows(
    name: str,
    tech: Technology,
    planned: pd.DataFrame,
    inputs: Inputs,
    catalogue: Catalogue,
    scenario: Scenario,
    need: np.ndarray,
) -> pd.DataFrame:
    """One technology's rows for every planned office; ``need``: each office's required Mbps (for its tier)."""
    n = len(planned)
    reach = tech.reach
    reasons = repeated_text(n, "")
    polygon_mbps = np.full(n, np.nan)  # the speed a coverage polygon advertises where it covers the office
    distance = np.full(n, np.nan)
    anchor = repeated_text(n, "")
    km = np.zeros(n)
    if reach.anchors:
        found = _nearest_anchor(tech, planned, inputs)
        distance, anchor = found.distance_km, found.anchor_id
        limit = reach.max_distance_km if not reach.use_tower_range else None
        if reach.use_tower_range:
            distance, anchor, polygon_mbps = _with_polygons(name, planned, inputs, scenario, distance, anchor)
            bad = ~np.isfinite(distance) & (anchor == "")
            reasons[bad] = _not_covered_reason(found.what, inputs, scenario)
        else:
            bad = ~(distance <= (limit if limit is not None else np.inf))
            shown = np.where(np.isfinite(distance), np.round(distance, 1), np.nan)
            near = bad & np.isfinite(shown)
            reasons[bad & ~near] = f"no {found.what} in the data"
            if near.any():  # one sentence per distinct nearest distance
                values, which = np.unique(shown[near], return_inverse=True)
                texts = [f"no {found.what} within {limit:g} km (nearest {v:g} km)" for v in values.tolist()]
                reasons[near] = np.array(texts, dtype=object)[which]
            if found.reason is not None:  # within reach, but no hop is long enough or clear
                hop = found.reason != ""
                reasons[hop] = found.reason[hop]
        if tech.kind == "fibre":
            km = np.where(np.isfinite(distance), distance, 0.0)
    if not tech.available:  # not on sale where the catalogue applies: ineligible, whatever its reach
        reasons[:] = unavailable_reason(name, tech, catalogue)
    equipment = np.full(n, tech.capex_fixed_usd.value)
    service = np.full(n, tech.opex_per_year_usd.value)
    mbps = np.full(n, tech.mbps)
    tier_of = repeated_text(n, "")
    if tech.tiers:
        tier_of = choose_tiers(tech, planned, need)
        for tier_name, tier in tech.tiers.items():
            on = tier_of == tier_name
            service[on] = tier.opex_per_year_usd.value
            equipment[on] = (tier.capex_fixed_usd or tech.capex_fixed_usd).value
            mbps[on] = tier.mbps or tech.mbps
    mbps = np.where(np.isfinite(polygon_mbps), np.minimum(mbps, polygon_mbps), mbps)
    no_grid = ~planned["grid_power"].to_numpy(bool)
    power = catalogue.power
    draw = tech.power_draw_w.value
    solar = power.solar_kit_usd(draw)  # off grid: panels and battery sized to the terminal's draw
    solar_upkeep = solar * power.solar_opex_share_per_year.value
    grid = power.electricity_usd_per_year(draw)  # on grid: the electricity the terminal uses
    keys = "; ".join(figure_key(catalogue, f"technologies.{name}", f) for f in priced_fields(tech))
    power_keys = {
        "solar": "; ".join(figure_key(catalogue, "power", f) for f in SOLAR_FIELDS),
        "grid": figure_key(catalogue, "power", "electricity_usd_per_kwh"),
    }
    rows = pd.DataFrame(
        {
            "office_id": planned["office_id"].to_numpy(),
            "technology": _text(name, n),
            "source": _text("catalogue", n),
            "anchor_id": _text(anchor),
            "distance_km": np.round(distance, 3),
            "capex_equipment_usd": equipment,
            "capex_civil_usd": tech.capex_civil_usd.value + km * tech.capex_per_km_usd.value,
            "capex_licence_usd": tech.licence_once_usd.value,
            "capex_power_usd": np.where(no_grid, solar, 0.0),
            "opex_service_usd_per_year": service,
            "opex_network_usd_per_year": tech.licence_per_year_usd.value + km * tech.opex_per_km_per_year_usd.value,
            "opex_power_usd_per_year": np.where(no_grid, solar_upkeep, grid),
            "power_draw_w": draw,
            "cost_keys": _text(
                _joined(
                    tier_keys(catalogue, name, tech, tier_of, keys),
                    "; ",
                    np.array([power_keys["grid"], power_keys["solar"]], dtype=object)[no_grid.astype(np.intp)],
                )
            ),
            "tier": _text(tier_of),
            "mbps": mbps,
            "lifetime_years": tech.lifetime_years,
            "civil_lifetime_years": tech.civil_lifetime_years or tech.lifetime_years,
            "power_lifetime_years": power.lifetime_years,
            "reason": _text(reasons),
        }
    )
    return rows


TEXT_COLUMNS = ("technology", "reason", "source", "anchor_id", "tier", "cost_keys", "shared", "backup_technology")
"""Text columns of few distinct values: object arrays while the table is built, Arrow-backed text when returned."""


def _text(values: Any, n: int | None = None) -> pd.Series:
    """Text as an object Series (``n`` copies of a scalar), not inferred as an Arrow string column.

    An Arrow column holds each cell's bytes, which every mask and take then copies: millions of rows at world
    scale, of few distinct texts.
    """
    arr = repeated_text(n, values) if n is not None else np.asarray(values, dtype=object)
    return pd.Series(arr, dtype=object, copy=False)  # (pandas copies an array it is given unless told not to)


def _same(value: float, n: int) -> pd.Series:
    """A float column of ``n`` cells of ``value``, to be shared by every column of that value.

    Columns given this Series share its one array, and pandas copies a column on its first write (copy on write),
    so sharing is safe; each column of 1.6 M cells not filled is 13 MB less memory and a fill less.
    """
    return pd.Series(np.zeros(n) if value == 0.0 and not np.signbit(value) else np.full(n, value), copy=False)


def _as_arrow_text(
    col: pd.Series, order: np.ndarray | None = None, one_text: dict[str, pd.Series] | None = None
) -> pd.Series:
    """An object text column as pandas' Arrow-backed text (missing cells NaN), built from its distinct values.

    ``order``: the rows to take, in that order (default: all, as they are). ``one_text``: the columns of one text
    made so far, by text: a column of the same one text shares that one's Arrow array (at 650,000 offices five
    columns of 1.6 M empty cells are one).
    """
    if col.dtype != object:
        return col if order is None else pd.Series(_taken(col, order), name=col.name)
    values = col.to_numpy()
    if len(values) and isinstance(values[0], str) and bool((values == values[0]).all()):
        # one text in every cell (most of these columns: the cells are one string, so each comparison is an
        # identity check): no hashing, and the order does not matter
        index = col.index if order is None else pd.RangeIndex(len(order))
        made = (one_text or {}).get(values[0])
        if made is not None and len(made) == len(values) and made.index.equals(index):
            same = made.copy(deep=False)  # (pandas copies it on its first write)
            same.name = col.name
            return same
        text = text_from_codes([values[0]], np.zeros(len(values), dtype=np.int64), index, col.name)
        if one_text is not None:
            one_text[values[0]] = text
        return text
    codes, uniques = pd.factorize(col, sort=False)
    if order is not None:
        codes = codes[order]
    index = col.index if order is None else pd.RangeIndex(len(codes))
    return text_from_codes(uniques, codes, index, col.name)


def _joined(a: np.ndarray, sep: str, b: np.ndarray) -> np.ndarray:
    """``a + sep + b`` for two text arrays of few distinct values: each distinct pair is joined once."""
    codes_a, uniq_a = pd.factorize(a, sort=False)
    codes_b, uniq_b = pd.factorize(b, sort=False)
    pair, which = np.unique(codes_a * len(uniq_b) + codes_b, return_inverse=True)
    texts = [f"{uniq_a[k // len(uniq_b)]}{sep}{uniq_b[k % len(uniq_b)]}" for k in pair.tolist()]
    return np.array(texts, dtype=object)[which]


SOLAR_FIELDS = (
    "panel_usd_per_w",
    "battery_usd_per_kwh",
    "peak_sun_hours",
    "autonomy_days",
    "solar_opex_share_per_year",
)
COST_FIELDS = ("capex_fixed_usd", "capex_civil_usd", "capex_per_km_usd", "licence_once_usd", "licence_per_year_usd",
               "opex_per_year_usd", "opex_per_km_per_year_usd", "power_draw_w")  # fmt: skip


def priced_fields(tech: Technology) -> list[str]:
    """The cost figures of a technology that price its options (those not zero or not applicable)."""
    return [f for f in COST_FIELDS if getattr(tech, f).source != "not applicable" or getattr(tech, f).value]


def figure_key(catalogue: Catalogue, path: str, field: str) -> str:
    """The key of one figure: ``path.field@REGION`` from the regional overlay, else ``path.field@base``.

    ``path`` is dotted (``technologies.leo_satellite.tiers.light``, ``power``). A donor looks the key up in
    ``planner catalogue`` (and docs/cost-sources.md) to find the figure's source.
    """
    region = catalogue.regions.get(catalogue.region or "")
    node: Any = region.model_dump() if region is not None else {}
    for part in path.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    given = isinstance(node, dict) and field in node
    return f"{path}.{field}@{catalogue.region if given else 'base'}"


def choose_tiers(tech: Technology, planned: pd.DataFrame, need: np.ndarray) -> np.ndarray:
    """Each office's tier: the first, in the catalogue's order, that allows its services and delivers its Mbps.

    An office no tier can serve takes the last (it is then too slow, and the Mbps rule excludes the option).
    """
    codes, kinds = pd.factorize(planned["services"].astype(str), sort=False)
    services = [set(k.split(";")) for k in kinds]  # the distinct service lists (few)
    names = list(tech.tiers)
    out = repeated_text(len(planned), names[-1])
    open_ = np.ones(len(planned), dtype=bool)
    for name, tier in tech.tiers.items():
        barred = np.array([bool(s & set(tier.not_for_services)) for s in services], dtype=bool)[codes]
        fast = need <= (tier.mbps or tech.mbps)
        take = open_ & ~barred & fast
        out[take] = name
        open_ &= ~take
    return out


def tier_keys(catalogue: Catalogue, name: str, tech: Technology, tier_of: np.ndarray, keys: str) -> np.ndarray:
    """The cost keys of each office's row: the technology's figures, the tier's where it has one."""
    out = repeated_text(len(tier_of), keys)
    for tier_name, tier in tech.tiers.items():
        own = ["opex_per_year_usd"] + (["capex_fixed_usd"] if tier.capex_fixed_usd is not None else [])
        parts = [k for k in keys.split("; ") if not any(f".{f}@" in k for f in own)]
        parts += [figure_key(catalogue, f"technologies.{name}.tiers.{tier_name}", f) for f in own]
        out[tier_of == tier_name] = "; ".join(parts)
    return out


def unavailable_reason(name: str, tech: Technology, catalogue: Catalogue) -> str:
    """Why an unavailable technology is not offered: where, as of when, on whose word, and how to ask 'what if'."""
    where = f"in {catalogue.region}" if catalogue.region else "where this catalogue applies"
    info = tech.availability
    when = f" as of {info.as_of}" if info else ""
    source = ""
    if info is not None:
        record = catalogue.sources.get(info.source)
        source = f"; source: {record.publisher}, {record.title} ({record.year})" if record else f"; {info.source}"
    return f"not offered {where}{when}{source} (technologies.{name}.available: true asks what if)"


def _quote_rows(
    quotes: pd.DataFrame, keep: np.ndarray, catalogue: Catalogue
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Quoted options: capex as equipment, opex as the post's service fee (a quote is complete: no add-ons).

    ``keep``: the quotes of planned offices. Returns the rows, each row's technology code and the technologies.
    """
    q = quotes[keep]
    techs = catalogue.technologies
    # per-technology figures gathered by technology code (a quotes file holds few distinct technologies)
    codes, uniques = pd.factorize(q["technology"].astype(str), sort=False)
    kinds = [str(k) for k in uniques]
    known = [techs.get(k) for k in kinds]

    def figure(get: Callable[[Technology], float]) -> np.ndarray:
        return np.array([get(t) if t is not None else np.nan for t in known], dtype=float)[codes]

    mbps_default = figure(lambda t: t.mbps)
    life = figure(lambda t: t.lifetime_years)
    civil_life = figure(lambda t: t.civil_lifetime_years or t.lifetime_years)
    mbps = q["mbps"].to_numpy(float) if "mbps" in q else np.full(len(q), np.nan)
    # The columns a quote leaves at one value are one array each value, shared (pandas copies a column on its
    # first write): at 650,000 offices, ten columns of 1.6 M cells.
    zero, nan, empty = _same(0.0, len(q)), _same(np.nan, len(q)), _text("", len(q))
    rows = pd.DataFrame(
        {
            "office_id": q["office_id"].astype(str).array,  # Arrow text as read: no Python string per cell
            "technology": _text(np.asarray(kinds, dtype=object)[codes]),
            "source": _text("quote", len(q)),
            "anchor_id": empty,
            "distance_km": nan,
            "capex_equipment_usd": q["capex_usd"].astype(float).to_numpy(),
            "capex_civil_usd": zero,
            "capex_licence_usd": zero,
            "capex_power_usd": zero,
            "opex_service_usd_per_year": q["opex_usd_per_year"].astype(float).to_numpy(),
            "opex_network_usd_per_year": zero,
            "opex_power_usd_per_year": zero,
            "power_draw_w": nan,
            "cost_keys": _text("quote: the options file", len(q)),
            "tier": empty,
            "mbps": np.where(np.isnan(mbps), mbps_default, mbps),
            "lifetime_years": life,
            "civil_lifetime_years": civil_life,
            "power_lifetime_years": catalogue.power.lifetime_years,
            "reason": empty,
        },
        copy=False,
    )
    return rows, codes, kinds


def build_options(inputs: Inputs, catalogue: Catalogue, scenario: Scenario) -> pd.DataFrame:
    """Cost every (planned office × technology) pair and mark which are eligible and why not.

    Columns: ``office_id, technology, eligible, reason, source, anchor_id, distance_km``, the capex and opex
    components (see module doc), ``capex_usd, opex_usd_per_year, opex_total_usd_per_year, tco_usd, cost_usd,
    mbps, required_mbps, weight``, and for shared infrastructure ``shared, standalone_cost_usd``. Sorted by
    office then technology.
    """
    return build_options_and_infra(inputs, catalogue, scenario)[0]


def build_options_and_infra(
    inputs: Inputs, catalogue: Catalogue, scenario: Scenario, regional: Mapping[str, Catalogue] | None = None
) -> tuple[pd.DataFrame, SharedInfra | None]:
    """The options table and, when the scenario asks for shared infrastructure, its candidate infrastructure.

    Shared rows (column ``shared``): ``fibre`` (the office's own costs only: its trench moves to the arcs of
    the fibre graph, paid once), ``site`` (4G on a new tower: the site is paid once), ``relay`` (microwave to an
    office connected by fibre in the plan). ``standalone_cost_usd`` is what a shared fibre row costs alone
    (own costs + direct trench), used by the fibre-preference rule and the warm start; NaN for site and relay
    rows (they have no stand-alone form) and equal to ``cost_usd`` for the others.

    ``regional``: catalogues by country (ISO3), each the base with that country's overlay (and the scenario's
    overrides): an office whose ``country`` has one is priced with it, the others with ``catalogue``. Shared
    infrastructure (trenches, sites, relays) is priced with ``catalogue``.
    """
    planned = inputs.planned.reset_index(drop=True)
    need = required_mbps(planned, scenario).to_numpy(float)  # once: tiers and the Mbps rule both use it
    names = list(catalogue.technologies)
    # An office the options file lists has exactly its quotes as candidates (DESIGN §3: they replace the
    # computed ones), so only the other offices are costed from the catalogue.
    quoted = np.zeros(len(planned), dtype=bool)
    q: pd.DataFrame | None = None
    if inputs.quotes is not None and len(inputs.quotes):
        at = key_positions(planned["office_id"], inputs.quotes["office_id"])  # each quote's office in ``planned``
        q_pos = at[at >= 0]
        quoted[q_pos] = True
        q, q_kind, kinds = _quote_rows(inputs.quotes, at >= 0, catalogue)
        names += sorted(set(kinds) - set(names))
        q_code = np.array([names.index(k) for k in kinds], dtype=np.int64)[q_kind]
    costed = np.flatnonzero(~quoted)
    # Row -> position of its office in ``planned`` and index of its technology in ``names``: per-office values
    # are gathered by position rather than looked up by id, and the final sort uses integer keys (millions of
    # rows at world scale).
    pieces: list[pd.DataFrame] = []
    pos_parts: list[np.ndarray] = []
    code_parts: list[np.ndarray] = []
    if len(costed) or q is None:  # (no office at all still gives the table's columns)
        sub = planned if len(costed) == len(planned) else planned.iloc[costed].reset_index(drop=True)
        groups = country_groups(sub, catalogue, regional or {})
        for k, name in enumerate(catalogue.technologies):
            pieces.append(_priced_rows(name, groups, sub, inputs, scenario, need[costed]))
            pos_parts.append(costed)
            code_parts.append(np.full(len(costed), k, dtype=np.int64))
    if q is not None:
        pieces.append(q)
        pos_parts.append(q_pos)
        code_parts.append(q_code)
    table = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
    del pieces, q  # the table holds (or copied) their columns: the sort below frees each as it goes
    pos, code = np.concatenate(pos_parts), np.concatenate(code_parts)
    table = table.reset_index(drop=True)
    # The rows' final order (by office, then technology). Every step below is row by row unless offices share
    # infrastructure or take backup links (those look across an office's rows, and keep the order they always
    # had): otherwise the rows are put in order now, while the table has half its final columns, and the columns
    # computed below are born in order (at 650,000 offices 0.24 GB less copied and a smaller peak).
    order = _option_order(planned, pos, code, names)
    in_order_now = not scenario.infrastructure.enabled and not scenario.policy.backup_link_for_services
    if in_order_now:
        table = _rows_in_order(table, order)
        pos = pos[order]
    if scenario.unknown_status.action == "survey_cost":  # a site survey before building, on every option
        unknown = planned["status"].to_numpy()[pos] == "unknown"
        table.loc[unknown, "capex_civil_usd"] += scenario.unknown_status.survey_cost_usd
        table.loc[unknown, "cost_keys"] = table.loc[unknown, "cost_keys"] + "; scenario.unknown_status.survey_cost_usd"
    zero = _same(0.0, len(table)).set_axis(table.index)  # the columns born zero share one array
    _add_security(table, planned["services"].astype(str).to_numpy(), pos, catalogue, scenario, zero)
    table["shared"] = _text("", len(table))
    table["trench_capex_usd"] = zero
    table["trench_opex_usd_per_year"] = zero
    infra = _share(table, planned, inputs, catalogue, scenario) if scenario.infrastructure.enabled else None
    table["capex_usd"] = table[
        ["capex_equipment_usd", "capex_civil_usd", "capex_licence_usd", "capex_power_usd", "capex_security_usd"]
    ].sum(axis=1)
    paid = scenario.policy.opex_paid_by
    post = table["opex_service_usd_per_year"] + table["opex_power_usd_per_year"] + table["opex_security_usd_per_year"]
    operator = table["opex_network_usd_per_year"]
    table["opex_total_usd_per_year"] = post + operator
    table["opex_usd_per_year"] = {"post": post, "operator": operator, "both": post + operator}[paid]
    years, rate = scenario.horizon.years, scenario.discount_rate
    life = table["lifetime_years"]
    replace = life.map({v: replacement_factor(rate, years, float(v)) for v in life.unique()})
    security_life = catalogue.security.firewall_lifetime_years if catalogue.security is not None else float(years)
    table["tco_usd"] = (
        table["capex_usd"]
        + table["opex_usd_per_year"] * annuity_factor(rate, years)
        + table["capex_equipment_usd"] * replace
        + table["capex_security_usd"] * replacement_factor(rate, years, security_life)
    )
    table["cost_usd"] = table["capex_usd"] if scenario.budget_basis == "capex" else table["tco_usd"]
    capex_parts = {
        "equipment": table["capex_equipment_usd"],
        "civil": table["capex_civil_usd"],
        "licence": table["capex_licence_usd"],
        "power": table["capex_power_usd"],
        "security": table["capex_security_usd"],
    }
    lives = {
        "equipment": life,
        "civil": table["civil_lifetime_years"],
        "licence": table["civil_lifetime_years"],
        "power": table["power_lifetime_years"],
        "security": pd.Series(security_life, index=table.index),
    }
    residual, annualised = lifecycle_costs(capex_parts, table["opex_usd_per_year"], lives, rate, years)
    table["residual_value_usd"] = residual
    table["tco_residual_usd"] = table["tco_usd"] - residual
    table["annualised_usd"] = annualised
    table["econ_cost_usd"] = table[ECONOMIC_COLUMN[scenario.cost_basis]]
    counted = paid in ("operator", "both")
    trench = table["trench_capex_usd"] + (
        table["trench_opex_usd_per_year"] * annuity_factor(rate, years) * counted
        if scenario.budget_basis == "tco"
        else 0.0
    )
    table["standalone_cost_usd"] = np.where(table["shared"].isin(["site", "relay"]), np.nan, table["cost_usd"] + trench)
    # The same on the economic basis: the trench's own economic cost (its life: the row's civil works).
    t_capex, t_upkeep = table["trench_capex_usd"], table["trench_opex_usd_per_year"] * counted
    t_residual, t_annualised = lifecycle_costs(
        {"civil": t_capex}, t_upkeep, {"civil": table["civil_lifetime_years"]}, rate, years
    )
    t_tco = t_capex + t_upkeep * annuity_factor(rate, years)
    trench_econ = {"tco": t_tco, "tco_residual": t_tco - t_residual, "annualised": t_annualised}[scenario.cost_basis]
    table["standalone_econ_usd"] = np.where(
        table["shared"].isin(["site", "relay"]), np.nan, table["econ_cost_usd"] + trench_econ
    )
    if infra is not None:
        _cost_infra(infra, scenario, catalogue)
    table["required_mbps"] = need[pos]
    table["weight"] = office_weights(planned, scenario.coverage_metric).to_numpy(float)[pos]
    _apply_rules(table, scenario)
    if infra is not None and not infra.relays.empty:  # a relay needs a hub that may still take fibre
        can_fibre = set(
            table.loc[(table["technology"] == infra.fibre_technology) & (table["reason"] == ""), "office_id"]
        )
        infra.relays = infra.relays[infra.relays["hub_office_id"].isin(can_fibre)].reset_index(drop=True)
        orphan = (table["shared"] == "relay") & ~table["office_id"].isin(set(infra.relays["office_id"]))
        _add_reason(table, orphan, "no office within hop range can take fibre under the policy rules")
    table["backup_technology"] = _text("", len(table))
    table["backup_cost_usd"] = zero
    needs = set(scenario.policy.backup_link_for_services)
    if needs:
        services = planned["services"].astype(str).str.split(";")
        must = set(planned["office_id"][services.map(lambda s: bool(set(s) & needs))])
        _add_backups(table, must, {k: t.kind for k, t in catalogue.technologies.items()}, scenario)
    table["eligible"] = table["reason"] == ""
    cols = ["office_id", "technology", "eligible", "reason", "source", "anchor_id", "distance_km",
            "power_draw_w", "tier", "cost_keys", "capex_equipment_usd", "capex_civil_usd", "capex_licence_usd",
            "capex_power_usd", "capex_security_usd", "capex_usd",
            "opex_service_usd_per_year", "opex_network_usd_per_year", "opex_power_usd_per_year",
            "opex_security_usd_per_year",
            "opex_usd_per_year", "opex_total_usd_per_year", "tco_usd", "residual_value_usd", "tco_residual_usd",
            "annualised_usd", "econ_cost_usd", "cost_usd", "mbps", "required_mbps", "weight", "shared",
            "standalone_cost_usd", "standalone_econ_usd", "backup_technology", "backup_cost_usd"]  # fmt: skip
    # Text columns are taken as integer codes and become Arrow text from their few distinct values (taking an
    # object column of millions of cells costs more than everything else here); numbers are taken as arrays.
    # Each column leaves the unsorted table as its sorted copy is made (the names above that share a column's data
    # are dropped first), so the two tables are never whole in memory together: 0.4 GB less at 650,000 offices.
    del post, operator, life, replace, capex_parts, lives, residual, annualised, t_capex, t_upkeep, trench
    del t_residual, t_annualised, t_tco, trench_econ
    late = None if in_order_now else order  # the rows still to put in order
    columns: dict[str, Any] = {}
    one_text: dict[str, pd.Series] = {}  # text columns of one value: one Arrow column per value, shared
    for col in cols:
        column = table.pop(col)
        if col in TEXT_COLUMNS:
            columns[col] = _as_arrow_text(column, late, one_text)
        elif late is None or _one_value(column):  # (one value: the same in any order)
            columns[col] = column.set_axis(pd.RangeIndex(len(column)))
        else:
            columns[col] = _taken(column, late)
        del column
    out = pd.DataFrame(columns, copy=False)  # one array per column, not consolidated into one block (a copy)
    at = pos if late is None else pos[late]
    remember_positions(planned["office_id"], out["office_id"], at)  # each option's office in ``planned``
    return out, infra


def _option_order(planned: pd.DataFrame, pos: np.ndarray, code: np.ndarray, names: list[str]) -> np.ndarray:
    """The options' rows sorted by office id, then technology name.

    ``pos``, ``code``: each row's office (its position in ``planned``) and technology (its index in ``names``).
    (office, technology) is unique, so ranking both and sorting the combined integer key gives the order of a
    stable sort by the two text columns.
    """
    office_rank = np.empty(len(planned), dtype=np.int64)
    office_rank[planned["office_id"].argsort(kind="stable").to_numpy()] = np.arange(len(planned))
    tech_rank = np.argsort(np.argsort(np.array(names, dtype=object), kind="stable"), kind="stable")[code]
    return np.argsort(office_rank[pos] * len(names) + tech_rank, kind="stable")


def _rows_in_order(table: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    """``table``'s rows in ``order``, column by column (each column let go as its copy in order is made)."""
    if len(order) != len(table):
        raise ValueError(f"an order of {len(order)} rows for a table of {len(table)}")
    columns: dict[str, Any] = {}
    for col in list(table.columns):
        column = table.pop(col)
        if _one_value(column):  # in any order the same column (the quotes' zero costs, their one source)
            columns[col] = column.set_axis(pd.RangeIndex(len(order)))
        else:  # (its own dtype: an object column of text must not be inferred as Arrow text, a copy of every cell)
            columns[col] = pd.Series(_taken(column, order), name=col, dtype=column.dtype, copy=False)
        del column
    return pd.DataFrame(columns, copy=False)


def _one_value(col: pd.Series) -> bool:
    """Whether every cell of a float64 or object column is the same: bit for bit, or the same text object."""
    values = col.to_numpy() if col.dtype == np.float64 or col.dtype == object else None
    if values is None or len(values) < 2:
        return False
    if values.dtype == np.float64:
        bits = values.view(np.int64)
        return bool((bits == bits[0]).all())
    first = values[0]
    return isinstance(first, str) and bool((values == first).all())


def _taken(col: pd.Series, order: np.ndarray) -> Any:
    """``col.take(order)``'s values, Arrow text taken by Arrow (no Python string per cell)."""
    if isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow":
        return col.take(order).array
    return col.to_numpy()[order]


def _add_security(
    table: pd.DataFrame,
    services: np.ndarray,
    at: np.ndarray,
    catalogue: Catalogue,
    scenario: Scenario,
    zero: pd.Series | None = None,
) -> None:
    """The security baseline as its own cost lines, on every option of an office that must have it (in place).

    An office offering any of ``security.required_for_services`` pays the catalogue's security gateway (capex,
    ``capex_security_usd``) and the yearly endpoint protection, protective DNS, .post mail and training
    (``opex_security_usd_per_year``, paid by the post) whatever its link; the figures are named in ``cost_keys``.
    ``services``: each office's services; ``at``: each row's office (its position in ``services``).
    """
    # (``zero``: a column of zeros of the table's index, shared: pandas copies a column on its first write)
    table["capex_security_usd"] = 0.0 if zero is None else zero
    table["opex_security_usd_per_year"] = 0.0 if zero is None else zero
    base = catalogue.security
    required = set(scenario.security.required_for_services)
    if base is None or not required:
        return
    codes, kinds = pd.factorize(services, sort=False)  # the distinct service lists (few), once per office
    needs = np.array([bool(set(str(k).split(";")) & required) for k in kinds], dtype=bool)[codes][at]
    if not needs.any():
        return
    table.loc[needs, "capex_security_usd"] = base.firewall_capex_usd.value
    table.loc[needs, "opex_security_usd_per_year"] = base.office_usd_per_year()
    keys = "; ".join(f"security.{f}@base" for f in ("firewall_capex_usd", *base.OFFICE_YEARLY))
    table.loc[needs, "cost_keys"] = table.loc[needs, "cost_keys"] + "; " + keys


def _share(
    table: pd.DataFrame, planned: pd.DataFrame, inputs: Inputs, catalogue: Catalogue, scenario: Scenario
) -> SharedInfra:
    """Turn eligible stand-alone rows into shared ones and build the candidate infrastructure (in place).

    Runs before the policy rules, when a row's only possible reason is its reach (anchor distance/coverage).
    """
    settings = scenario.infrastructure
    techs = catalogue.technologies
    computed = table["source"] == "catalogue"
    fibre_name = next((k for k, t in techs.items() if t.kind == "fibre"), None)
    infra = SharedInfra(method=settings.method, fibre_technology=fibre_name, exact_max_arcs=settings.exact_max_arcs)
    hubs = pd.DataFrame(columns=["office_id", "lat", "lon"])
    if fibre_name is not None:
        rows = computed & (table["technology"] == fibre_name) & (table["reason"] == "")
        located = planned.set_index("office_id").loc[table.loc[rows, "office_id"], ["lat", "lon"]]
        hubs = pd.DataFrame(
            {"office_id": table.loc[rows, "office_id"].to_numpy(), "lat": located["lat"].to_numpy(),
             "lon": located["lon"].to_numpy(), "nearest_node": table.loc[rows, "anchor_id"].to_numpy()}
        )  # fmt: skip
        if settings.shared_fibre and len(hubs):
            fibre = techs[fibre_name]
            km = table.loc[rows, "distance_km"].to_numpy(float)
            table.loc[rows, "trench_capex_usd"] = km * fibre.capex_per_km_usd.value
            table.loc[rows, "trench_opex_usd_per_year"] = km * fibre.opex_per_km_per_year_usd.value
            table.loc[rows, "capex_civil_usd"] -= table.loc[rows, "trench_capex_usd"]
            table.loc[rows, "opex_network_usd_per_year"] -= table.loc[rows, "trench_opex_usd_per_year"]
            table.loc[rows, "shared"] = "fibre"
            table.loc[rows, "anchor_id"] = "shared fibre network"
            infra.nodes, infra.arcs, infra.edge_coords = build_fibre_graph(
                hubs, inputs.fibre_nodes, fibre, settings, inputs.roads
            )
    mw_name = next((k for k, t in techs.items() if t.kind == "microwave"), None)
    if settings.radio_relays and mw_name is not None and len(hubs):
        rows = computed & (table["technology"] == mw_name) & (table["reason"] != "")
        needy_ids = table.loc[rows, "office_id"]
        needy = planned[planned["office_id"].isin(needy_ids)][["office_id", "lat", "lon"]]
        hop = techs[mw_name].reach.max_distance_km or np.inf
        infra.relays = _physical_hops(candidate_relays(needy, hubs, hop), planned, techs[mw_name], inputs)
        relay = rows & table["office_id"].isin(set(infra.relays["office_id"]))
        table.loc[relay, ["reason", "shared", "anchor_id"]] = ["", "relay", "office connected by fibre in the plan"]
    site = catalogue.tower_site
    if settings.new_towers and site is not None and site.technology in techs:
        rows = computed & (table["technology"] == site.technology) & (table["reason"] != "")
        uncovered = planned[planned["office_id"].isin(set(table.loc[rows, "office_id"]))][["office_id", "lat", "lon"]]
        infra.sites, infra.site_cover = candidate_sites(uncovered, catalogue)
        served = rows & table["office_id"].isin(set(infra.site_cover["office_id"]))
        table.loc[served, ["reason", "shared", "anchor_id"]] = ["", "site", "new tower site in the plan"]
    return infra


def _physical_hops(relays: pd.DataFrame, planned: pd.DataFrame, tech: Technology, inputs: Inputs) -> pd.DataFrame:
    """The relay hops that respect the radio rules: at least the shortest hop, and clear when a raster is given.

    Both ends of a relay are offices (masts of ``office_antenna_m``).
    """
    reach = tech.reach
    relays = relays[relays["distance_km"] >= reach.min_distance_km]
    los = reach.line_of_sight
    if los is None or inputs.elevation is None or relays.empty:
        return relays.reset_index(drop=True)
    at = planned.set_index(planned["office_id"].astype(str))
    a, b = at.loc[relays["office_id"].astype(str).tolist()], at.loc[relays["hub_office_id"].astype(str).tolist()]
    verdict = line_of_sight(
        inputs.elevation, a["lon"].to_numpy(float), a["lat"].to_numpy(float), b["lon"].to_numpy(float),
        b["lat"].to_numpy(float), antenna_a_m=los.office_antenna_m, antenna_b_m=los.office_antenna_m,
        frequency_ghz=los.frequency_ghz, k_factor=los.k_factor, clearance=los.fresnel_clearance, step_m=los.step_m,
    )  # fmt: skip
    return relays[verdict.clear].reset_index(drop=True)


def _cost_infra(infra: SharedInfra, scenario: Scenario, catalogue: Catalogue) -> None:
    """Set the costs (USD) of the candidate arcs and sites: ``cost_usd`` in the budget basis, and the economic ones.

    The budget basis is capex, or capex + upkeep over the horizon (upkeep is the operator's: it counts when
    ``opex_paid_by`` is operator or both). No replacements (trenches and masts outlive the horizon). Economic
    costs as for the options (:func:`lifecycle_costs`): ``tco_usd`` (capex + counted upkeep over the horizon),
    ``residual_value_usd`` and ``annualised_usd`` with a trench living as long as the fibre technology's civil
    works and a site its ``tower_site.lifetime_years``; ``econ_cost_usd`` the one of the scenario's cost_basis.
    """
    counted = scenario.policy.opex_paid_by in ("operator", "both")
    rate, years = scenario.discount_rate, scenario.horizon.years
    af = annuity_factor(rate, years)
    factor = af if scenario.budget_basis == "tco" else 0.0
    fibre = catalogue.technologies.get(infra.fibre_technology or "")
    trench_life = (fibre.civil_lifetime_years or fibre.lifetime_years) if fibre is not None else 20.0
    site_life = catalogue.tower_site.lifetime_years if catalogue.tower_site is not None else 20.0
    for frame, life in ((infra.arcs, trench_life), (infra.sites, site_life)):
        capex = frame["capex_usd"].astype(float)
        upkeep = frame["opex_usd_per_year"].astype(float) * counted
        frame["cost_usd"] = capex + frame["opex_usd_per_year"].astype(float) * factor * counted
        frame["tco_usd"] = capex + upkeep * af
        lives = {"civil": pd.Series(life, index=frame.index, dtype=float)}
        residual, annualised = lifecycle_costs({"civil": capex}, upkeep, lives, rate, years)
        frame["residual_value_usd"] = residual
        frame["tco_residual_usd"] = frame["tco_usd"] - residual
        frame["annualised_usd"] = annualised
        frame["econ_cost_usd"] = frame[ECONOMIC_COLUMN[scenario.cost_basis]]


BACKUP_ADDED = (
    "capex_equipment_usd", "capex_civil_usd", "capex_licence_usd", "capex_power_usd", "capex_security_usd",
    "capex_usd", "opex_service_usd_per_year", "opex_network_usd_per_year", "opex_power_usd_per_year",
    "opex_usd_per_year", "opex_total_usd_per_year", "tco_usd", "residual_value_usd", "tco_residual_usd",
    "annualised_usd", "econ_cost_usd", "cost_usd", "standalone_cost_usd", "standalone_econ_usd", "power_draw_w",
)  # fmt: skip
"""Money (USD) and power (W) columns in which an option carries its backup link's figures too."""


def _add_backups(table: pd.DataFrame, offices: set[str], kinds: dict[str, str], scenario: Scenario) -> None:
    """Two independent links for the offices that must have them: each option carries its best backup (in place).

    An office in ``offices`` is connected only with a primary option p and a backup q of the same office, both
    eligible, with kind(q) ≠ kind(p) (fibre, cellular, microwave, satellite: GEO and LEO are one kind) and not
    ending at the same anchor (``anchor_id``). Choosing p then costs c[p] + min_q c[q] (ties: the least economic
    cost): the row of p becomes that pair, its money columns the sums, ``backup_technology`` names q. This is the
    exact expansion of the model with a backup variable y[q] per option and the rows Σ_q y[q] = Σ_p x[p] and
    Σ_{kind k} (x + y) ≤ 1 per office: max coverage and min cost only see an office's cheapest pair per primary.
    A primary without a backup becomes ineligible, saying why; the cost ceiling is checked on the pair.
    """
    rows = table.index[table["office_id"].isin(offices) & (table["reason"] == "")]
    if not len(rows):
        return
    cand = table.loc[rows, ["office_id", "technology", "anchor_id", "cost_usd", "econ_cost_usd"]].copy()
    cand["row"] = rows
    cand["kind"] = cand["technology"].map(kinds).fillna(cand["technology"])
    pairs = cand.merge(cand, on="office_id", suffixes=("", "_b"))
    same_anchor = (pairs["anchor_id"].astype(str) != "") & (pairs["anchor_id"] == pairs["anchor_id_b"])
    pairs = pairs[(pairs["kind"] != pairs["kind_b"]) & ~same_anchor]
    pairs = pairs.sort_values(["row", "cost_usd_b", "econ_cost_usd_b", "technology_b"], kind="stable")
    best = pairs.drop_duplicates("row")
    p, q = best["row"].to_numpy(), best["row_b"].to_numpy()
    added = table.loc[q, list(BACKUP_ADDED)].to_numpy(float)
    table.loc[p, list(BACKUP_ADDED)] = table.loc[p, list(BACKUP_ADDED)].to_numpy(float) + np.nan_to_num(added)
    table.loc[p, "backup_technology"] = table.loc[q, "technology"].to_numpy()
    table.loc[p, "backup_cost_usd"] = table.loc[q, "cost_usd"].to_numpy(float)
    table.loc[p, "cost_keys"] = (
        table.loc[p, "cost_keys"].to_numpy() + "; backup: " + table.loc[q, "cost_keys"].to_numpy()
    )
    lonely = table.index.isin(rows) & ~table.index.isin(p)
    services = ", ".join(scenario.policy.backup_link_for_services)
    _add_reason(table, pd.Series(lonely, index=table.index),
                f"no independent backup link (another technology kind, another anchor) for an office offering "
                f"{services}")  # fmt: skip
    ceiling = scenario.policy.max_cost_per_office_usd
    if ceiling is not None:
        over = pd.Series(table.index.isin(p), index=table.index) & (table["cost_usd"] > ceiling)
        _add_reason(table, over, lambda r: "with its backup costs " + r["cost_usd"].map("{:,.0f}".format)
                    + f" USD > cost ceiling {ceiling:,.0f} USD")  # fmt: skip


def _add_reason(table: pd.DataFrame, mask: pd.Series, text: Callable[[pd.DataFrame], pd.Series] | str) -> None:
    """Record an exclusion reason on rows not already excluded (the first reason is the one shown).

    ``text`` is one sentence for all, or a function of the affected rows giving one per row (only those rows
    are formatted: the table has one row per office and technology, millions at world scale).
    """
    mask = mask & (table["reason"] == "")
    if not mask.any():
        return
    table.loc[mask, "reason"] = text if isinstance(text, str) else text(table[mask])


def _apply_rules(table: pd.DataFrame, scenario: Scenario) -> None:
    """Policy eligibility rules, in order: allowed technologies, required Mbps, cost ceiling, fibre preference."""
    policy = scenario.policy
    if policy.allowed_technologies is not None:
        _add_reason(
            table, ~table["technology"].isin(policy.allowed_technologies), "not allowed by policy.allowed_technologies"
        )
    slow = table["mbps"] < table["required_mbps"]
    _add_reason(
        table,
        slow,
        lambda rows: (
            "delivers "
            + rows["mbps"].map("{:g}".format)
            + " Mbps < "
            + rows["required_mbps"].map("{:g}".format)
            + " Mbps required"
        ),
    )
    if policy.max_cost_per_office_usd is not None:
        ceiling = policy.max_cost_per_office_usd
        _add_reason(
            table,
            table["cost_usd"] > ceiling,
            lambda rows: "costs " + rows["cost_usd"].map("{:,.0f}".format) + f" USD > cost ceiling {ceiling:,.0f} USD",
        )
    if policy.fibre_preference_pct is not None:
        # Compared at stand-alone costs: a shared trench's cost is only known once the plan is made, so fibre
        # is preferred only where even its own trench is within the margin; site and relay rows take no part.
        alone = table["standalone_cost_usd"] if "standalone_cost_usd" in table else table["cost_usd"]
        ok = (table["reason"] == "") & alone.notna()
        cheapest = alone.where(ok).groupby(table["office_id"]).transform("min")
        is_fibre = table["technology"].str.contains("fibre") & ok
        fibre_cost = alone.where(is_fibre).groupby(table["office_id"]).transform("min")
        preferred = fibre_cost <= cheapest * (1 + policy.fibre_preference_pct / 100.0)
        _add_reason(
            table,
            preferred & ~table["technology"].str.contains("fibre"),
            f"fibre preferred: fibre costs within {policy.fibre_preference_pct:g} % of the cheapest option",
        )


HOP_REASONS = (
    ("not in reach", "no "),
    ("shorter than the shortest hop", "every "),
    ("no line of sight", "no line of sight"),
    ("line of sight unknown (outside the raster)", "the elevation raster does not cover"),
)


def reach_summary(options: pd.DataFrame, inputs: Inputs, catalogue: Catalogue, scenario: Scenario) -> dict[str, Any]:
    """How many planned offices each coverage source reaches, and why radio hops were rejected (``validate``).

    ``coverage``: per cellular technology, offices inside a polygon, inside a tower's radius, either, and
    eligible by the scenario's ``coverage.source`` rule. ``hops``: per technology with anchors (not cellular),
    offices with a usable hop and the count of each reason of the rest; ``line_of_sight``: checked on which raster,
    or not checked.
    """
    planned = inputs.planned.reset_index(drop=True)
    lat, lon = planned["lat"].to_numpy(float), planned["lon"].to_numpy(float)
    coverage: dict[str, Any] = {}
    hops: dict[str, Any] = {}
    for name, tech in catalogue.technologies.items():
        rows = options[options["technology"] == name]
        if tech.reach.use_tower_range:
            towers = set(planned["office_id"][np.isfinite(_inside_tower_range(tech, lat, lon, inputs).distance_km)])
            cov = inputs.coverage
            polygons = set(cov.loc[cov["technology"] == name, "office_id"]) if cov is not None else set()
            reached = rows["anchor_id"].astype(str) != ""
            coverage[name] = {
                "source": scenario.coverage.source if cov is not None else "towers",
                "in_polygons": len(polygons),
                "in_tower_radius": len(towers),
                "in_both": len(polygons & towers),
                "reached_by_the_rule": int(reached.sum()),
            }
        elif tech.reach.anchors:
            reason = rows["reason"].astype(str)
            counts: dict[str, int] = {}
            rejected = pd.Series(False, index=rows.index)
            for label, start in HOP_REASONS:
                hit = reason.str.startswith(start) if start != "no " else reason.str.match(r"no (?!line of sight)")
                counts[label] = int(hit.sum())
                rejected |= hit
            hops[name] = {"in_reach": int((~rejected).sum()), "rejected": counts}
    los = f"checked on {inputs.elevation.file}" if inputs.elevation is not None else "not checked (no data.elevation)"
    return {"coverage": coverage, "hops": hops, "line_of_sight": los}
