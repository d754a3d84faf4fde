"""Every output file of the shipped scenarios is byte for byte what it was (timings aside): the digests of
``scripts/output_digest.py`` (``planner solve`` as a process, plus the app's downloads) against the ones stored
in ``tests/data/output_digests.txt``.

A change that moves a plan or a figure on purpose updates the stored digests in the same commit:
``python scripts/output_digest.py > tests/data/output_digests.txt`` (then keep only the scenarios listed here).
The roadmap (a time-limited MILP whose incumbent depends on the machine's speed) and the shared-infrastructure
scenario (its Steiner rounds run under a 15 s limit) are left to the script, run by hand.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "tests" / "data" / "output_digests.txt"
SCENARIOS = {  # scenario -> also digest the app's downloads (one more solve in process)
    "uttarakhand-budget": True,
    "uttarakhand-95pct": False,
    "uttarakhand-policy": False,
    "himalaya-pool": False,
}


def stored(prefix: str) -> list[str]:
    return [line for line in STORED.read_text(encoding="utf-8").splitlines() if line.startswith(prefix + "/")]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_outputs_are_unchanged(scenario: str, tmp_path: Path) -> None:
    args = [sys.executable, str(ROOT / "scripts" / "output_digest.py"), "--only", scenario, "--keep", str(tmp_path)]
    if not SCENARIOS[scenario]:
        args.append("--no-downloads")
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=tmp_path).stdout.splitlines()
    got = [line for line in out if line.startswith(scenario + "/")]
    assert got, out
    expected = stored(scenario) if SCENARIOS[scenario] else [x for x in stored(scenario) if "/download/" not in x]
    assert got == expected


def test_the_schema_is_unchanged() -> None:
    """``planner schema`` writes the committed ``scenarios/scenario.schema.json`` byte for byte."""
    import hashlib

    digest = hashlib.sha256((ROOT / "scenarios" / "scenario.schema.json").read_bytes()).hexdigest()
    assert stored("schema") == [f"schema/scenario.schema.json  {digest}"]
