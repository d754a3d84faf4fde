"""Monte Carlo over the catalogue (planner.analysis.montecarlo): draws stay in their ranges and follow their
distribution, a fixed seed reproduces every sample whatever the order they are drawn in, reach ranges change
eligibility, and ``planner montecarlo`` writes its three files with consistent figures (exit 2 on bad input).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from test_sweep import invoke, tiny_data

from planner.analysis.montecarlo import monte_carlo, sample_catalogue, sample_rng, uncertain_figures
from planner.pipeline import prepare
from planner.scenario import Figure, Reach, load_catalogue, load_scenario

pytestmark = pytest.mark.usefixtures("frozen_catalogue")  # hand-worked figures: see conftest

CATALOGUE = load_catalogue()


def _figures(cat: Any) -> dict[str, float]:
    return {f["figure"]: f["value"] for f in uncertain_figures(cat)}


@given(seed=st.integers(0, 2**32 - 1), sample=st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_draws_are_seeded_and_within_range(seed: int, sample: int) -> None:
    a, drawn_a = sample_catalogue(CATALOGUE, sample_rng(seed, sample))
    b, drawn_b = sample_catalogue(CATALOGUE, sample_rng(seed, sample))
    assert drawn_a == drawn_b and a == b
    assert set(drawn_a) == {f["figure"] for f in uncertain_figures(CATALOGUE)}
    for f in uncertain_figures(CATALOGUE):
        assert f["low"] <= drawn_a[f["figure"]] <= f["high"]
    # the sampled catalogue carries the draws as its values, ranges unchanged
    assert _figures(a) == drawn_a
    assert a.technologies["fibre"].capex_per_km_usd.low == CATALOGUE.technologies["fibre"].capex_per_km_usd.low


def test_samples_differ_and_the_base_is_untouched() -> None:
    base = _figures(CATALOGUE)
    _, d0 = sample_catalogue(CATALOGUE, sample_rng(7, 0))
    _, d1 = sample_catalogue(CATALOGUE, sample_rng(7, 1))
    _, e0 = sample_catalogue(CATALOGUE, sample_rng(8, 0))
    assert d0 != d1 and d0 != e0
    assert _figures(CATALOGUE) == base


def test_distributions_fixed_uniform_triangular() -> None:
    over = {
        "fibre": {"capex_per_km_usd": {"distribution": "fixed"}, "opex_per_year_usd": {"distribution": "uniform"}},
        "cellular_4g": {"capex_fixed_usd": 300},  # a bare number: no range, never drawn
    }
    cat = load_catalogue(over)
    names = _figures(cat)
    assert "fibre.capex_per_km_usd" not in names and "cellular_4g.capex_fixed_usd" not in names
    kinds = {f["figure"]: f["distribution"] for f in uncertain_figures(cat)}
    assert kinds["fibre.opex_per_year_usd"] == "uniform" and kinds["fibre.capex_fixed_usd"] == "triangular"
    draws = np.array([sample_catalogue(cat, sample_rng(3, s))[1]["fibre.opex_per_year_usd"] for s in range(400)])
    tri = np.array([sample_catalogue(cat, sample_rng(3, s))[1]["fibre.capex_fixed_usd"] for s in range(400)])
    # uniform on [300, 1200]: mean 750 (sd of the mean 13); triangular (800, 1500, 3000): mean 1766.7 (sd 23)
    assert draws.mean() == pytest.approx(750, abs=60)
    assert tri.mean() == pytest.approx((800 + 1500 + 3000) / 3, abs=100)


def test_figure_distribution_is_validated() -> None:
    with pytest.raises(ValidationError):
        Figure(value=1, low=0, high=2, source="s", distribution="normal")  # type: ignore[arg-type]


def test_reach_range_is_validated() -> None:
    Reach(max_distance_km=20, max_distance_km_range=(10, 40))
    for bad in [{"max_distance_km_range": (10, 40)}, {"max_distance_km": 50, "max_distance_km_range": (10, 40)},
                {"max_distance_km": 20, "max_distance_km_range": (0, 40)}]:  # fmt: skip
        with pytest.raises(ValidationError, match="max_distance_km_range"):
            Reach(**bad)


def write_tiny(tmp_path: Path, **over: Any) -> Path:
    raw: dict[str, Any] = {
        "name": "tiny-mc",
        "data": tiny_data(tmp_path),
        "objective": "max_coverage",
        "budget_usd": 20000,
        "budget_basis": "tco",
        "solver": {"time_limit_s": 20},
    }
    raw.update(over)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_reach_range_changes_eligibility(tmp_path: Path) -> None:
    """Fibre only, reach 10 km drawn in [5, 30] km: offices 5.6-33 km from the node are sometimes in reach."""
    fibre = {"reach": {"max_distance_km": 10, "max_distance_km_range": [5, 30]}}
    path = write_tiny(tmp_path, technologies={"fibre": fibre}, policy={"allowed_technologies": ["fibre"]},
                      budget_usd=1e7)  # fmt: skip
    prepared = prepare(load_scenario(path))
    assert "fibre.reach.max_distance_km" in _figures(prepared.catalogue)
    mc = monte_carlo(prepared, 12, seed=5, scheduler="serial")
    reach = mc.samples["fibre.reach.max_distance_km"]
    assert reach.between(5, 30).all()
    # connected offices grow with the drawn reach (each office is connected when fibre reaches it)
    order = np.argsort(reach.to_numpy())
    connected = mc.samples["offices_connected"].to_numpy()[order]
    assert (np.diff(connected) >= 0).all() and connected[-1] > connected[0]


def test_monte_carlo_is_reproducible_and_consistent(tmp_path: Path) -> None:
    prepared = prepare(load_scenario(write_tiny(tmp_path)))
    a = monte_carlo(prepared, 6, seed=11, scheduler="serial")
    b = monte_carlo(prepared, 6, seed=11, scheduler="serial")
    c = monte_carlo(prepared, 6, seed=12, scheduler="serial")
    drop = ["solve_seconds"]
    pd.testing.assert_frame_equal(a.samples.drop(columns=drop), b.samples.drop(columns=drop))
    pd.testing.assert_frame_equal(a.offices, b.offices)
    assert not a.samples.drop(columns=drop).equals(c.samples.drop(columns=drop))
    # samples are independent of how many are drawn: the first 3 of 6 equal a run of 3
    d = monte_carlo(prepared, 3, seed=11, scheduler="serial")
    pd.testing.assert_frame_equal(a.samples.drop(columns=drop).head(3), d.samples.drop(columns=drop))
    s = a.summary
    for key in ("total_cost_usd", "population_covered", "coverage_share"):
        q = s[key]
        assert q["p10"] <= q["p50"] <= q["p90"]
        values = a.samples[key]
        assert values.min() <= q["p10"] and q["p90"] <= values.max()
        assert q["p50"] == pytest.approx(float(np.median(values)))
    shares = a.offices.filter(regex="^share_")
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert (a.offices["most_frequent_share"] == shares.max(axis=1)).all()
    assert (a.samples["total_cost_usd"] <= 20000 + 1e-6).all()


def test_cli_montecarlo_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke("montecarlo", write_tiny(tmp_path), "--samples", "5", "--seed", "3", "--out", out,
                          "--scheduler", "serial", "-q")  # fmt: skip
    assert code == 0, output
    assert "P10" in output and "P90" in output
    summary = json.loads((out / "montecarlo_summary.json").read_text())
    assert summary["samples"] == 5 and summary["seed"] == 3
    assert sum(summary["status_counts"].values()) == 5
    samples = pd.read_csv(out / "montecarlo_samples.csv")
    assert samples["sample"].tolist() == list(range(5))
    offices = pd.read_csv(out / "office_robustness.csv")
    assert len(offices) == 6 and {"office_id", "base_technology", "most_frequent_technology"} <= set(offices.columns)
    code, output = invoke("montecarlo", write_tiny(tmp_path), "--samples", "5", "--seed", "3", "--out", tmp_path / "o2",
                      "--scheduler", "serial", "-q")  # fmt: skip
    assert code == 0, output
    again = pd.read_csv(tmp_path / "o2" / "montecarlo_samples.csv")
    pd.testing.assert_frame_equal(samples.drop(columns="solve_seconds"), again.drop(columns="solve_seconds"))


@pytest.mark.parametrize(("args", "words"), [(["--samples", "0"], "at least 1 sample"), (["--seed", "-1"], "seed")])
def test_cli_montecarlo_bad_input_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    code, output = invoke("montecarlo", write_tiny(tmp_path), *args, "--scheduler", "serial", "-q")
    assert code == 2 and words in output and "Traceback" not in output
