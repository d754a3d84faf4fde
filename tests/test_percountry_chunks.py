"""Per-country solves on Dask: balanced chunks, certified greedy countries kept in the driver, same plans as serial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner import countries as mc
from planner.countries.percountry import balanced_chunks, needs_solver, solve_all
from planner.distributed import SERIAL
from planner.problem import ModelData, ModelSpec
from planner.scenario import Scenario, SolverSettings


def test_balanced_chunks_put_the_largest_first_into_the_lightest_chunk() -> None:
    chunks = balanced_chunks([10, 1, 7, 3, 3, 6], 2)
    assert sorted(i for ch in chunks for i in ch) == list(range(6))  # every country once
    loads = sorted(sum([10, 1, 7, 3, 3, 6][i] for i in ch) for ch in chunks)
    assert loads == [14, 16]  # largest first: 10+3+3 and 7+6+1
    assert balanced_chunks([5, 5], 8) == [[0], [1]]  # never more chunks than countries


def _country(n: int, seed: int, budget: float) -> tuple[ModelData, ModelSpec, SolverSettings]:
    rng = np.random.default_rng(seed)
    ids = [f"o{i}" for i in range(n)]
    opts = pd.DataFrame({"office_id": ids, "technology": "a", "cost_usd": rng.integers(1, 50, n).astype(float)})
    offices = pd.DataFrame({"office_id": ids, "weight": rng.integers(1, 100, n).astype(float), "region": "r",
                            "community": ids})  # fmt: skip
    return ModelData(opts, offices), ModelSpec("max_coverage", budget_usd=budget), SolverSettings(mip_gap=1e-4)


def test_needs_solver_only_when_the_greedy_gap_misses_mip_gap() -> None:
    # every office fits: the greedy takes all, gap 0, no solver
    assert not needs_solver(_country(5, 1, 1e6))
    # a budget that cuts into a few offices: the greedy's rounding leaves a gap above 1e-4
    data, spec, settings = _country(6, 2, 40.0)
    assert needs_solver((data, spec, settings))
    assert not needs_solver((data, spec, settings.model_copy(update={"method": "fast"})))


def _instance() -> tuple[Scenario, mc.GlobalInstance]:
    rng = np.random.default_rng(11)
    offices, options = [], []
    for c, n in (("AAA", 40), ("BBB", 6), ("CCC", 3), ("DDD", 25)):
        for i in range(n):
            oid = f"{c}-{i}"
            offices.append((oid, c, float(rng.integers(1, 80)), "r"))
            for t in ("a", "b"):
                if rng.random() < 0.8:
                    options.append((oid, t, float(rng.integers(1, 40))))
    planned = pd.DataFrame(offices, columns=["office_id", "country", "weight", "region"])
    planned["community"] = planned["office_id"]
    opts = pd.DataFrame(options, columns=["office_id", "technology", "cost_usd"])
    data = ModelData(opts, planned[["office_id", "weight", "region", "community"]].copy())
    budgets = {"AAA": 150.0, "BBB": 1000.0, "CCC": 20.0, "DDD": 90.0}  # BBB: everything fits (greedy, certified)
    sc = Scenario.model_validate({"name": "t", "data": {"offices": "offices.csv"}, "countries": {"budgets": budgets}})
    return sc, mc.build_instance(sc, planned, data, ModelSpec.from_scenario(sc))


@pytest.fixture(scope="module")
def threads_client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        yield client


def test_dask_per_country_equals_serial_and_ships_only_solver_countries(threads_client) -> None:
    sc, inst = _instance()
    serial = mc.solve_per_country(inst, sc.solver, scheduler=SERIAL)
    dask = mc.solve_per_country(inst, sc.solver, client=threads_client)
    assert np.array_equal(serial.result.chosen, dask.result.chosen)
    assert serial.result.coverage == pytest.approx(dask.result.coverage)
    assert [p.status for p in serial.countries] == [p.status for p in dask.countries]
    tasks = [(c.data, ModelSpec("max_coverage", budget_usd=c.budget_usd), sc.solver) for c in inst.countries]
    heavy = [c.iso3 for c, t in zip(inst.countries, tasks, strict=True) if needs_solver(t)]
    assert "BBB" not in heavy and heavy  # the certified one stays here; at least one goes to a worker
    assert [o.result.objective for o in solve_all(tasks, None, threads_client)] == pytest.approx(
        [o.result.objective for o in solve_all(tasks, SERIAL, None)]
    )
