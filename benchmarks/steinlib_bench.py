"""Benchmark :func:`planner.network.steiner_tree` on SteinLib instances against known optima and networkx.

Usage::

    python benchmarks/steinlib_bench.py [DIR] [--time-limit 25] [--pattern 'b*.stp'] [--markdown]

DIR defaults to ``../shared/steinlib`` relative to the repository. Optima come from each file's ``Optimal``
line, else from ``optima.csv`` or the README in DIR, else from the small table below (SteinLib values).
Prints one row per instance: size, cost found, optimum, gap, time, method, and networkx's Mehlhorn
heuristic cost and gap for comparison. ``--markdown`` prints the table in Markdown (for docs/steiner.md).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import networkx as nx  # noqa: E402
from networkx.algorithms.approximation import steiner_tree as nx_steiner_tree  # noqa: E402

from planner.network import read_stp  # noqa: E402
from planner.optimize.steiner import steiner_tree  # noqa: E402

# Known optimal values (SteinLib, series B and C) used when neither the file nor DIR carries them.
KNOWN_OPTIMA: dict[str, float] = {
    **dict(zip([f"b{i:02d}" for i in range(1, 19)], [82, 83, 138, 59, 61, 122, 111, 104, 220, 86, 88, 174,
                                                       165, 235, 318, 127, 131, 218], strict=True)),
    **dict(zip([f"c{i:02d}" for i in range(1, 21)], [85, 144, 754, 1079, 1579, 55, 102, 509, 707, 1093, 32,
                                                       46, 258, 323, 556, 11, 18, 113, 146, 267], strict=True)),
}  # fmt: skip


def directory_optima(directory: Path) -> dict[str, float]:
    """Optima listed next to the instances: ``optima.csv`` (instance,optimum,...) or README table rows."""
    found: dict[str, float] = {}
    csv_path = directory / "optima.csv"
    if csv_path.exists():
        with csv_path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                try:
                    found[row["instance"].strip().lower()] = float(row["optimum"])
                except (KeyError, ValueError):
                    continue
    readme = directory / "README.md"
    if readme.exists():
        for m in re.finditer(r"^\|?\s*([a-z]\d{2})\s*\|\s*([\d.]+)\s*\|", readme.read_text(), re.M | re.I):
            found.setdefault(m.group(1).lower(), float(m.group(2)))
    return found


def gap_pct(cost: float, optimum: float | None) -> float | None:
    return None if optimum in (None, 0) else 100.0 * (cost - optimum) / optimum


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def run(directory: Path, pattern: str, time_limit: float, markdown: bool) -> list[dict[str, object]]:
    files = sorted(directory.glob(pattern))
    if not files:
        raise SystemExit(f"no instances matching {pattern!r} in {directory}")
    listed = directory_optima(directory)
    header = ["instance", "|V|", "|E|", "|T|", "found", "optimum", "gap %", "seconds", "method", "nx cost", "nx gap %"]
    if markdown:
        print("| " + " | ".join(h.replace("|", "\\|") for h in header) + " |")
        print("|" + "|".join("---:" if h not in ("instance", "method") else "---" for h in header) + "|")
    else:
        print(" ".join(f"{h:>9}" for h in header))
    rows = []
    for path in files:
        inst = read_stp(path)
        key = path.stem.lower()
        optimum = inst.optimum if inst.optimum is not None else listed.get(key, KNOWN_OPTIMA.get(key))
        t0 = time.perf_counter()
        tree = steiner_tree(inst.graph, inst.terminals, time_limit_s=time_limit)
        seconds = time.perf_counter() - t0
        assert nx.is_tree(tree) and all(t in tree for t in inst.terminals), f"{path.name}: invalid tree"
        cost = tree.graph["cost"]
        nx_tree = nx_steiner_tree(inst.graph, inst.terminals, weight="weight", method="mehlhorn")
        nx_cost = float(nx_tree.size(weight="weight"))
        row = {
            "instance": path.stem,
            "|V|": inst.graph.number_of_nodes(),
            "|E|": inst.graph.number_of_edges(),
            "|T|": len(inst.terminals),
            "found": cost,
            "optimum": optimum,
            "gap %": gap_pct(cost, optimum),
            "seconds": seconds,
            "method": tree.graph["method"],
            "nx cost": nx_cost,
            "nx gap %": gap_pct(nx_cost, optimum),
        }
        rows.append(row)
        cells = [
            str(row["instance"]),
            str(row["|V|"]),
            str(row["|E|"]),
            str(row["|T|"]),
            f"{cost:g}",
            fmt(optimum, "g"),
            fmt(row["gap %"], ".2f"),
            f"{seconds:.2f}",
            str(row["method"]),
            f"{nx_cost:g}",
            fmt(row["nx gap %"], ".2f"),
        ]
        if markdown:
            print("| " + " | ".join(cells) + " |", flush=True)
        else:
            print(" ".join(f"{c:>9}" for c in cells), flush=True)
    gaps = [r["gap %"] for r in rows if r["gap %"] is not None]
    nx_gaps = [r["nx gap %"] for r in rows if r["nx gap %"] is not None]
    n_opt = sum(1 for g in gaps if abs(g) < 1e-9)
    print(
        f"\n{len(rows)} instances: {n_opt} optimal, max gap {max(gaps, default=0):.2f} %, "
        f"mean gap {sum(gaps) / max(len(gaps), 1):.3f} % (networkx mean {sum(nx_gaps) / max(len(nx_gaps), 1):.2f} %), "
        f"max time {max(r['seconds'] for r in rows):.1f} s, total {sum(r['seconds'] for r in rows):.1f} s"
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=REPO.parent / "shared" / "steinlib")
    parser.add_argument("--pattern", default="*.stp", help="glob for instance files (default: *.stp)")
    parser.add_argument("--time-limit", type=float, default=25.0, help="seconds per instance (default: 25)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    run(args.directory, args.pattern, args.time_limit, args.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
