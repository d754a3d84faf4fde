"""Coverage polygons at world scale: N offices × P published coverage polygons, as files, end to end.

For each (N, P) the benchmark writes, in a temporary folder, an offices CSV (N offices scattered over a
20° × 20° box, seeded) and a GeoJSON coverage layer (P polygons: 64-vertex circles of radius 2–25 km around
seeded centres, a generation of 4, an operator and an advertised Mbps), then times, in a fresh interpreter:

* ``read``: ``planner.layers.read_coverage`` (JSON parse, shapely geometry, validity of every feature);
* ``query``: ``planner.layers.covered_offices`` (STRtree point-in-polygon, fastest polygon per office);

and, for the sizes given with ``--e2e``, ``planner validate`` as a subprocess on a scenario naming both files
(files in, the command a user runs, its JSON out), once with the coverage layer and once without: the
difference is what the polygons cost end to end. Peak memory is the child's ``ru_maxrss``.

    python benchmarks/coverage.py --offices 100000 650000 --polygons 1000 5000 --e2e 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def write_instance(folder: Path, n: int, p: int, seed: int = 7) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    offices = pd.DataFrame(
        {
            "office_id": [f"O{i}" for i in range(n)],
            "lat": np.round(rng.uniform(5, 25, n), 5),
            "lon": np.round(rng.uniform(70, 90, n), 5),
            "population": rng.integers(100, 20000, n),
        }
    )
    offices.to_csv(folder / "offices.csv", index=False)
    angles = np.linspace(0, 2 * np.pi, 65)
    features = []
    for k in range(p):
        lat0, lon0 = rng.uniform(5, 25), rng.uniform(70, 90)
        r = rng.uniform(2, 25) / 111.19
        ring = [[round(lon0 + r * np.cos(a) / np.cos(np.radians(lat0)), 6), round(lat0 + r * np.sin(a), 6)]
                for a in angles]  # fmt: skip
        ring[-1] = ring[0]
        features.append(
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
             "properties": {"generation": 4, "operator": f"op{k % 3}", "mbps": int(rng.integers(5, 50))}}
        )  # fmt: skip
    (folder / "coverage.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return folder / "offices.csv", folder / "coverage.geojson"


CHILD = """
import json, resource, sys, time
import pandas as pd
from pathlib import Path
from planner.layers import read_coverage, covered_offices
from planner.scenario import load_catalogue
techs = load_catalogue().technologies
offices = pd.read_csv(sys.argv[1], dtype={"office_id": str})
t0 = time.perf_counter()
layer = read_coverage(Path(sys.argv[2]), techs)
t1 = time.perf_counter()
cov = covered_offices(layer, offices, techs)
t2 = time.perf_counter()
print(json.dumps({"read_s": t1 - t0, "query_s": t2 - t1, "covered": int(cov["office_id"].nunique()),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def in_process(offices: Path, coverage: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(offices), str(coverage)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def validate(folder: Path, with_polygons: bool) -> tuple[float, float]:
    data = {"offices": "offices.csv", **({"coverage": "coverage.geojson"} if with_polygons else {})}
    (folder / "s.yaml").write_text(json.dumps({"name": "cov", "data": data, "budget_usd": 1e6}))
    planner = Path(sys.executable).with_name("planner")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run([str(planner), "validate", str(folder / "s.yaml")], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(out.stdout + out.stderr)
    return wall, max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--offices", type=int, nargs="+", default=[100_000, 650_000])
    ap.add_argument("--polygons", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--e2e", type=int, nargs="*", default=[100_000], help="office counts for planner validate")
    args = ap.parse_args()
    print("| offices | polygons | layer MB | read s | query s | offices covered | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    e2e_rows = []
    for n in args.offices:
        for p in args.polygons:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                offices, coverage = write_instance(folder, n, p)
                r = in_process(offices, coverage)
                size = coverage.stat().st_size / 1e6
                print(f"| {n:,} | {p:,} | {size:.1f} | {r['read_s']:.2f} | {r['query_s']:.2f} | {r['covered']:,} "
                      f"| {r['rss_mb']:.0f} |", flush=True)  # fmt: skip
                if n in args.e2e:
                    without, _ = validate(folder, False)
                    with_, _ = validate(folder, True)
                    e2e_rows.append((n, p, without, with_))
    if e2e_rows:
        print("\n| offices | polygons | `planner validate` without polygons s | with polygons s | difference s |")
        print("|---:|---:|---:|---:|---:|")
        for n, p, without, with_ in e2e_rows:
            print(f"| {n:,} | {p:,} | {without:.1f} | {with_:.1f} | {with_ - without:+.1f} |")


if __name__ == "__main__":
    main()
