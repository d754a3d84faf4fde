"""Dask fan-out (planner.distributed) for sweeps and Monte Carlo: on a real ``LocalCluster`` (2 worker
processes) the results equal the serial reference, sample for sample and point for point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_montecarlo import write_tiny

from planner.analysis.montecarlo import monte_carlo
from planner.analysis.sweep import sweep
from planner.distributed import fan_out
from planner.pipeline import prepare
from planner.scenario import load_scenario


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        yield c


def _square(x: int) -> int:
    return x * x


def test_fan_out_keeps_the_input_order(client: Any) -> None:
    assert fan_out(_square, range(7), client=client) == fan_out(_square, range(7), scheduler="serial")


def test_monte_carlo_on_a_local_cluster_equals_serial(tmp_path: Path, client: Any) -> None:
    prepared = prepare(load_scenario(write_tiny(tmp_path)))
    serial = monte_carlo(prepared, 5, seed=21, scheduler="serial")
    dist = monte_carlo(prepared, 5, seed=21, client=client)
    drop = ["solve_seconds"]
    pd.testing.assert_frame_equal(serial.samples.drop(columns=drop), dist.samples.drop(columns=drop))
    pd.testing.assert_frame_equal(serial.offices, dist.offices)
    for key in ("total_cost_usd", "population_covered", "coverage_share"):
        assert serial.summary[key] == dist.summary[key]


def test_sweep_on_a_local_cluster_equals_serial(tmp_path: Path, client: Any) -> None:
    """District minimums send every point to HiGHS: the points are split into one run per worker."""
    path = write_tiny(tmp_path, policy={"region_min_coverage": {"*": 0.3}})
    prepared = prepare(load_scenario(path))
    budgets = [0, 8000, 16000, 24000, 32000]
    serial = sweep(prepared, "budget", budgets, scheduler="serial")
    dist = sweep(prepared, "budget", budgets, client=client)
    assert serial.tasks == 1 and dist.tasks == 2
    cols = ["budget_usd", "status", "total_cost_usd", "population_covered", "coverage_share", "offices_connected",
            "objective_value", "marginal_cost_per_person_usd"]  # fmt: skip
    pd.testing.assert_frame_equal(serial.table[cols], dist.table[cols], rtol=1e-9)


def test_cli_scheduler_address_and_environment_variable(tmp_path: Path, client: Any, monkeypatch: Any) -> None:
    """``--scheduler ADDRESS`` and ``$PLANNER_DASK_SCHEDULER`` reach an existing cluster; same samples as serial."""
    from test_sweep import invoke

    from planner.distributed import SCHEDULER_ENV

    path = write_tiny(tmp_path)
    address = client.scheduler.address
    runs = {"serial": ["--scheduler", "serial"], "address": ["--scheduler", address], "env": []}
    monkeypatch.setenv(SCHEDULER_ENV, address)
    tables = {}
    for name, extra in runs.items():
        out = tmp_path / name
        code, output = invoke("montecarlo", path, "--samples", "3", "--seed", "4", "--out", out, *extra)
        assert code == 0, output
        if name != "serial":
            assert "on Dask (2 workers)" in output
        tables[name] = pd.read_csv(out / "montecarlo_samples.csv").drop(columns="solve_seconds")
    pd.testing.assert_frame_equal(tables["serial"], tables["address"])
    pd.testing.assert_frame_equal(tables["serial"], tables["env"])


def decomposed_pool(tmp_path: Path) -> Path:
    """The shipped pool scenario priced by decomposition (its countries fan out on Dask), data paths absolute."""
    import yaml

    shipped = Path(__file__).resolve().parents[1] / "scenarios" / "himalaya-pool.yaml"
    raw = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    raw["data"] = {k: str((shipped.parent / v).resolve()) for k, v in raw["data"].items()}
    raw["countries"]["files"] = {k: str((shipped.parent / v).resolve()) for k, v in raw["countries"]["files"].items()}
    raw["countries"]["method"] = "decomposition"
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["montecarlo", "sweep", "solve"])
def test_cli_unreachable_scheduler_exit_2(tmp_path: Path, command: str) -> None:
    """Every command that fans out on Dask names the scheduler it could not reach and exits 2 (no traceback);
    ``solve`` does so for a multi-country scenario."""
    import dask
    import distributed  # noqa: F401  (its config defaults must exist before dask.config.set below restores)
    from test_sweep import invoke

    # a plain sweep is one greedy pass (nothing to fan out): a regional minimum makes it a model series
    path = (
        write_tiny(tmp_path, policy={"region_min_coverage": {"*": 0.3}}) if command == "sweep" else write_tiny(tmp_path)
    )
    args = {
        "montecarlo": ["montecarlo", path, "--samples", "2"],
        "sweep": ["sweep", path, "--budgets", "0:40000:3"],
        "solve": ["solve", decomposed_pool(tmp_path), "--no-store"],
    }[command]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, output = invoke(*args, "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "o", "-q")
    assert code == 2, output
    assert "Dask scheduler tcp://127.0.0.1:9" in output and "Traceback" not in output
