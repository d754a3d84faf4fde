"""Speed at scale: the certified hull greedy on synthetic instances (benchmarks/scale.py) and its agreement
with HiGHS on the full MILP."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from planner.optimize.solve import solve
from planner.problem import ModelSpec
from planner.scenario import SolverSettings

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"


def _scale():
    spec = importlib.util.spec_from_file_location("bench_scale", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_scale", module)
    spec.loader.exec_module(module)
    return module


scale = _scale()


@pytest.fixture(scope="module")
def small():
    return scale.build(2_000, seed=3)


def test_synthetic_instance_is_realistic(small):
    offices = small.inputs.offices
    assert len(offices) == 2_000
    assert 0.15 < (~offices["grid_power"]).mean() < 0.25
    assert offices["office_id"].is_unique
    # every technology is eligible somewhere and not everywhere except LEO (no anchors, 100 Mbps)
    share = small.options.groupby("technology")["eligible"].mean()
    assert set(share.index) == {"fibre", "cellular_4g", "microwave", "geo_satellite", "leo_satellite"}
    assert (share[["fibre", "cellular_4g", "microwave", "geo_satellite"]] < 1).all()
    assert (share > 0).all()


@pytest.mark.parametrize("objective", ["max_coverage", "min_cost"])
def test_greedy_and_milp_agree_within_gap(small, objective):
    sc = (
        scale.scenario(objective, budget_usd=small.budget) if objective == "max_coverage" else scale.scenario(objective)
    )
    spec = ModelSpec.from_scenario(sc)
    fast = solve(small.data, spec, SolverSettings(method="fast", mip_gap=1e-4))
    milp = solve(small.data, spec, SolverSettings(method="milp", mip_gap=1e-4, time_limit_s=60))
    assert fast.method == "greedy" and milp.method == "milp"
    assert milp.status == "optimal"
    # both bounds are proven: each plan lies within the other's reported gap
    diff = abs(fast.objective - milp.objective) / max(abs(milp.objective), 1e-9)
    assert diff <= fast.mip_gap + milp.mip_gap + 1e-9
    if objective == "max_coverage":
        assert milp.objective <= fast.bound * (1 + 1e-9)
        assert fast.cost_usd <= small.budget * (1 + 1e-9) and milp.cost_usd <= small.budget * (1 + 1e-9)
    else:
        assert milp.objective >= fast.bound * (1 - 1e-9)
        total = small.data.total_weight("population")
        assert fast.coverage >= scale.TARGET * total * (1 - 1e-9)


@pytest.mark.slow
def test_100k_offices_certified_fast():
    b = scale.build(100_000, seed=0)
    assert len(b.data.options) > 300_000
    for objective in ("max_coverage", "min_cost"):
        sc = (
            scale.scenario(objective, budget_usd=b.budget) if objective == "max_coverage" else scale.scenario(objective)
        )
        t0 = time.perf_counter()
        res = solve(b.data, ModelSpec.from_scenario(sc), SolverSettings(mip_gap=1e-4))
        secs = time.perf_counter() - t0
        assert res.method == "greedy" and res.status == "optimal"
        assert res.mip_gap <= 1e-4
        assert np.unique(b.data.options["office_id"].to_numpy()[res.chosen]).size == len(res.chosen)
        assert secs < 10  # about 0.1 s measured; generous for slow CI machines
