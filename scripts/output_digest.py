"""Digest every output file the shipped scenarios write, to prove that a change leaves them byte for byte the same.

Runs ``planner solve`` (as a subprocess, as a user does) on each scenario in ``scenarios/``, plus
``planner schema`` and the app's download formats (Excel, GeoJSON, the plan and summary bytes), and prints one
line per file: ``scenario/file  sha256``. Timings are the only part of an output that may change between two
runs of the same code, so they are removed first: every JSON key that ends in ``seconds`` (and the ``timings``
mapping) is dropped before hashing, and Excel workbooks are hashed by their cell values (without the timing rows
of the summary sheet), not their zip bytes (which carry a creation time).

    python scripts/output_digest.py > before.txt      # on the old code
    python scripts/output_digest.py > after.txt       # on the new code
    diff before.txt after.txt                          # empty: nothing changed

``--only NAME`` limits the run to scenarios whose file name contains NAME; ``--keep DIR`` keeps the outputs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _strip_timings(value: Any) -> Any:
    """The JSON value without its timing keys (``*seconds``, ``timings``), which differ from run to run."""
    if isinstance(value, dict):
        return {k: _strip_timings(v) for k, v in value.items() if not str(k).endswith("seconds") and k != "timings"}
    if isinstance(value, list):
        return [_strip_timings(v) for v in value]
    return value


def digest_bytes(name: str, data: bytes) -> str:
    """SHA-256 of an output file's content, with timings removed from JSON files."""
    if name.endswith(".json"):
        data = json.dumps(_strip_timings(json.loads(data)), sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def digest_excel(data: bytes) -> str:
    """SHA-256 of a workbook's sheets and cell values (the zip container carries a timestamp)."""
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    h = hashlib.sha256()
    for sheet in book.worksheets:
        h.update(sheet.title.encode())
        for row in sheet.iter_rows(values_only=True):
            key = str(row[0]) if row else ""
            if key.endswith("seconds") or "seconds." in key or key.startswith("timings"):
                continue  # the summary sheet's timings differ from run to run
            cells = []
            for cell in row:
                if isinstance(cell, str) and cell[:1] in "[{":  # a JSON value (the solver passes): drop timings
                    with contextlib.suppress(ValueError):
                        cell = json.dumps(_strip_timings(json.loads(cell)), sort_keys=True)
                cells.append(cell)
            h.update(repr(tuple(cells)).encode())
    return h.hexdigest()


def app_downloads(scenario: Path) -> dict[str, str]:
    """Digests of what the app offers for download for the plan of ``scenario`` (solved in this process)."""
    from planner.pipeline import run

    try:  # the package layout moved: report lives in planner.results.report, formerly planner.report
        from planner.results import report
    except ImportError:  # pragma: no cover - the layout before the restructuring
        import planner.report as report  # type: ignore[no-redef]

    plan = run(scenario)
    return {
        "download/plan.csv": digest_bytes("plan.csv", report.plan_csv(plan)),
        "download/summary.json": digest_bytes("summary.json", report.summary_json(plan)),
        "download/plan.geojson": digest_bytes("plan.geojson", report.geojson_bytes(plan)),
        "download/plan.xlsx": digest_excel(report.excel_bytes(plan)),
    }


def main() -> int:
    """Print the digests of every shipped scenario's outputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only scenarios whose file name contains this")
    parser.add_argument("--keep", type=Path, default=None, help="keep the output folders here")
    parser.add_argument("--no-downloads", action="store_true", help="skip the app's download formats")
    args = parser.parse_args()
    import importlib.util

    cli = "planner.ui.cli" if importlib.util.find_spec("planner.ui") else "planner.cli"  # the layout before 0.2
    planner = [sys.executable, "-c", f"import sys; from {cli} import main; sys.argv[0] = 'planner'; main()"]
    out_root = args.keep or Path(tempfile.mkdtemp(prefix="digest-"))
    out_root.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    schema = out_root / "scenario.schema.json"
    subprocess.run([*planner, "schema", str(schema)], check=True, capture_output=True)
    lines.append(f"schema/scenario.schema.json  {digest_bytes('x', schema.read_bytes())}")
    for scenario in sorted((ROOT / "scenarios").glob("*.yaml")):
        if args.only not in scenario.name:
            continue
        out = out_root / scenario.stem
        proc = subprocess.run(
            [*planner, "solve", str(scenario), "--out", str(out), "--no-store", "--scheduler", "serial"],
            capture_output=True,
            text=True,
        )
        lines.append(f"{scenario.stem}/exit  {proc.returncode}")
        for path in sorted(out.rglob("*")) if out.exists() else []:
            if path.is_file():
                lines.append(f"{scenario.stem}/{path.relative_to(out)}  {digest_bytes(path.name, path.read_bytes())}")
        if not args.no_downloads and "pool" not in scenario.name:
            for name, value in app_downloads(scenario).items():
                lines.append(f"{scenario.stem}/{name}  {value}")
        print("\n".join(lines), flush=True)
        lines = []
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
