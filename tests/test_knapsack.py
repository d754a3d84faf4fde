"""The core search (planner.heuristics.knapsack): exact 0/1 knapsack optima, checked by brute force and by HiGHS."""

from __future__ import annotations

import itertools

import highspy
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner.heuristics.knapsack as knapsack
from planner.heuristics.greedy import Hull, economic_swap, greedy_max_coverage, greedy_min_cost, office_hull
from planner.heuristics.knapsack import best_subset
from planner.problem import ModelData, relative_gap


def brute_max(v: np.ndarray, w: np.ndarray, cap: float) -> float:
    """The knapsack optimum by enumeration (n <= 14)."""
    best = 0.0
    for bits in itertools.product([False, True], repeat=len(v)):
        m = np.array(bits, dtype=bool)
        if w[m].sum() <= cap:
            best = max(best, float(v[m].sum()))
    return best


def brute_lex(v: np.ndarray, w: np.ndarray, cap: float) -> tuple[float, float]:
    """(most value, least weight among the plans of most value) by enumeration."""
    best = (0.0, 0.0)
    for bits in itertools.product([False, True], repeat=len(v)):
        m = np.array(bits, dtype=bool)
        if w[m].sum() <= cap and (v[m].sum(), -w[m].sum()) > (best[0], -best[1]):
            best = (float(v[m].sum()), float(w[m].sum()))
    return best


def brute_cover(c: np.ndarray, w: np.ndarray, target: float) -> float | None:
    """The least cost covering ``target`` weight by enumeration (None when unreachable)."""
    best = None
    for bits in itertools.product([False, True], repeat=len(c)):
        m = np.array(bits, dtype=bool)
        if w[m].sum() >= target:
            cost = float(c[m].sum())
            best = cost if best is None else min(best, cost)
    return best


items = st.lists(st.tuples(st.integers(1, 60), st.integers(1, 60)), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(items, st.floats(0.0, 1.0))
def test_best_subset_is_the_brute_force_optimum(pairs, share):
    v = np.array([p[0] for p in pairs], dtype=float)
    w = np.array([p[1] for p in pairs], dtype=float)
    cap = float(np.floor(share * w.sum()))
    r = best_subset(v, w, cap, np.zeros(len(v), dtype=bool))
    best = brute_max(v, w, cap)
    assert r.proven
    assert r.value == pytest.approx(best, abs=1e-9)
    assert float(v[r.take].sum()) == pytest.approx(r.value, abs=1e-9)
    assert float(w[r.take].sum()) <= cap + 1e-9
    assert r.bound == pytest.approx(r.value)


def test_a_hand_worked_knapsack():
    """Items (value, weight) (6, 4), (5, 3), (5, 3). By ratio (5/3 > 6/4) the greedy takes the two (5, 3) items:
    with capacity 6 that is optimal (10); with capacity 7 it cannot add (6, 4) and stays at 10, while
    (6, 4) + (5, 3) = 11 is optimal."""
    v, w = np.array([6.0, 5.0, 5.0]), np.array([4.0, 3.0, 3.0])
    greedy = np.array([False, True, True])
    assert best_subset(v, w, 6.0, greedy).value == 10.0
    r = best_subset(v, w, 7.0, greedy)
    assert r.value == 11.0 and r.proven and r.take[0] and r.take.sum() == 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=1, max_size=11), st.floats(0.0, 1.0))
def test_among_the_most_valuable_plans_the_lightest(pairs, share):
    """Many ties (values and weights 1-4): the plan found has the most value and, among those, the least weight
    (the least cost at the most coverage; the most coverage at the least cost for a cover)."""
    v = np.array([p[0] for p in pairs], dtype=float)
    w = np.array([p[1] for p in pairs], dtype=float)
    cap = float(np.floor(share * w.sum()))
    start = np.zeros(len(v), dtype=bool)
    order = np.lexsort((w, -(v / w)))
    start[order[np.cumsum(w[order]) <= cap]] = True  # the greedy prefix, often optimal in value but heavy
    r = best_subset(v, w, cap, start)
    assert r.proven
    assert (r.value, float(w[r.take].sum())) == pytest.approx(brute_lex(v, w, cap))


@settings(max_examples=150, deadline=None)
@given(items, st.floats(0.0, 1.0), st.integers(0, 3))
def test_greedy_max_coverage_with_the_core_search_is_optimal(pairs, share, free):
    """Through the planner's hull: free offices (cost 0) always taken, the rest exactly the knapsack optimum."""
    cost = np.array([p[1] for p in pairs] + [0] * free, dtype=float)
    weight = np.array([p[0] for p in pairs] + [1] * free, dtype=float)
    hull = Hull(np.arange(len(cost), dtype=np.int64), cost, weight)
    budget = float(np.floor(share * cost.sum()))
    chosen, value, bound = greedy_max_coverage(hull, budget, improve_above=0.0)
    assert value == pytest.approx(brute_max(weight[: len(pairs)], cost[: len(pairs)], budget) + free)
    assert float(weight[chosen].sum()) == pytest.approx(value)
    assert float(cost[chosen].sum()) <= budget + 1e-9
    assert relative_gap(value, bound) <= 1e-9
    plain = greedy_max_coverage(hull, budget)
    assert value >= plain[1] - 1e-9 and bound <= plain[2] + 1e-9  # never worse, never a looser bound


@settings(max_examples=150, deadline=None)
@given(items, st.floats(0.05, 1.0))
def test_greedy_min_cost_with_the_core_search_is_optimal(pairs, share):
    cost = np.array([p[1] for p in pairs], dtype=float)
    weight = np.array([p[0] for p in pairs], dtype=float)
    hull = Hull(np.arange(len(cost), dtype=np.int64), cost, weight)
    target = float(np.ceil(share * weight.sum()))
    got = greedy_min_cost(hull, target, improve_above=0.0)
    assert got is not None
    chosen, value, bound = got
    assert value == pytest.approx(brute_cover(cost, weight, target))
    assert float(weight[chosen].sum()) >= target - 1e-9
    # among the least-cost covers, one of most coverage
    most = max(
        float(weight[m].sum())
        for bits in itertools.product([False, True], repeat=len(cost))
        for m in [np.array(bits, dtype=bool)]
        if abs(float(cost[m].sum()) - value) < 1e-9 and float(weight[m].sum()) >= target
    )
    assert float(weight[chosen].sum()) == pytest.approx(most)
    assert float(cost[chosen].sum()) == pytest.approx(value)
    assert relative_gap(value, bound) <= 1e-9


def test_without_improve_above_the_greedy_is_unchanged():
    """The greedy the sweep and the fast path relied on stays as it was when no core search is asked for."""
    hull = Hull(np.arange(3, dtype=np.int64), np.array([4.0, 3.0, 3.0]), np.array([6.0, 5.0, 5.0]))
    _, value, bound = greedy_max_coverage(hull, 7.0)
    assert value == 10.0 and bound == pytest.approx(10.0 + 6.0 / 4.0)
    _, value, bound = greedy_max_coverage(hull, 7.0, improve_above=1e-4)
    assert value == 11.0 and bound == 11.0


def highs_knapsack(v: np.ndarray, w: np.ndarray, cap: float) -> float:
    """The 0/1 knapsack optimum by HiGHS with a zero gap (an independent solver)."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    n = len(v)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, 1
    lp.col_cost_ = -v
    lp.col_lower_, lp.col_upper_ = np.zeros(n), np.ones(n)
    lp.row_lower_, lp.row_upper_ = np.array([-highspy.kHighsInf]), np.array([cap])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(n + 1, dtype=np.int32)
    lp.a_matrix_.index_ = np.zeros(n, dtype=np.int32)
    lp.a_matrix_.value_ = w
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h.passModel(lp)
    h.run()
    return -h.getInfo().objective_function_value


def correlated(seed: int, n: int, share: float) -> tuple[np.ndarray, np.ndarray, float]:
    """``n`` items whose values are their weights (100-999) plus 0-99, the capacity ``share`` of all weight:
    (values, weights, capacity). The hard kind for the LP bound."""
    rng = np.random.default_rng(seed)
    w = rng.integers(100, 1000, n).astype(float)
    v = w + rng.integers(0, 100, n)
    return v, w, float(np.floor(w.sum() * share))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_subset_matches_highs_on_correlated_knapsacks(seed):
    """300 items with values correlated to weights (the hard kind for the LP bound): the same optimum as HiGHS."""
    v, w, cap = correlated(seed, 300, 1 / 3)
    start = np.zeros(300, dtype=bool)
    r = best_subset(v, w, cap, start)
    assert r.proven
    assert r.value == pytest.approx(highs_knapsack(v, w, cap), abs=1e-6)
    assert float(w[r.take].sum()) <= cap


def test_a_cut_core_improves_but_proves_nothing(monkeypatch):
    """With the core cut to a few items the plan is never worse than the start and keeps the LP bound."""
    v, w, cap = correlated(5, 200, 1 / 2)
    order = np.argsort(-(v / w), kind="stable")
    start = np.zeros(200, dtype=bool)
    start[order[np.cumsum(w[order]) <= cap]] = True  # the greedy prefix
    monkeypatch.setattr(knapsack, "MAX_CORE", 6)
    r = best_subset(v, w, cap, start)
    assert not r.proven and r.core <= 7
    assert r.value >= float(v[start].sum())
    assert r.bound >= highs_knapsack(v, w, cap) - 1e-6
    assert float(w[r.take].sum()) <= cap


def test_a_search_stopped_early_keeps_the_lp_bound(monkeypatch):
    v, w, cap = correlated(6, 300, 1 / 3)
    monkeypatch.setattr(knapsack, "MAX_STATES", 3)
    r = best_subset(v, w, cap, np.zeros(300, dtype=bool))
    opt = highs_knapsack(v, w, cap)
    assert not r.proven
    assert r.value <= opt + 1e-6 <= r.bound + 2e-6
    assert float(w[r.take].sum()) <= cap


def economic_swap_by_frame(data: ModelData, chosen: np.ndarray) -> np.ndarray:
    """The economic swap as a table sort and group (the reference :func:`economic_swap` must equal)."""
    opts = data.options
    frame = pd.DataFrame({"office": opts["office_id"].to_numpy(object), "cost": opts["cost_usd"].to_numpy(float),
                          "econ": data.econ, "pair": np.arange(len(opts))})  # fmt: skip
    own = frame.iloc[chosen].set_index("office")
    frame = frame[frame["office"].isin(own.index)]
    cap, mine = own["cost"].reindex(frame["office"]).to_numpy(), own["econ"].reindex(frame["office"]).to_numpy()
    better = frame[(frame["cost"].to_numpy() <= cap) & (frame["econ"].to_numpy() < mine)]
    best = better.sort_values(["office", "econ", "pair"]).groupby("office", sort=False)["pair"].first()
    out = own["pair"].copy()
    out.loc[best.index] = best.to_numpy()
    return np.sort(out.to_numpy(np.int64))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=1, max_size=5).flatmap(
        lambda techs: st.tuples(st.just(techs), st.lists(st.integers(0, 4), min_size=6, max_size=6))
    ),
    st.booleans(),
)
def test_economic_swap_moves_each_office_to_its_least_economic_cost_within_its_budget_cost(drawn, sorted_rows):
    """Offices with up to five options of budget cost and economic cost 1-4 (many ties), their picks drawn at random,
    options sorted by office (as costing writes them) or not: the same plan as the table sort and group."""
    techs, picks = drawn
    rows = [(f"o{i}", f"t{j}", c, e) for i in range(6) for j, (c, e) in enumerate(techs) if (i + j) % 3 or j == 0]
    if not sorted_rows:
        rows = rows[1::2] + rows[::2]
    options = pd.DataFrame(rows, columns=["office_id", "technology", "cost_usd", "econ_cost_usd"])
    data = ModelData(options, pd.DataFrame({"office_id": [f"o{i}" for i in range(6)], "weight": 1.0}))
    first = options.reset_index().groupby("office_id", sort=False)["index"].apply(list)
    chosen = np.array(sorted(pairs[p % len(pairs)] for pairs, p in zip(first, picks, strict=False)), dtype=np.int64)
    got = economic_swap(data, chosen)
    assert got.tolist() == economic_swap_by_frame(data, chosen).tolist()
    cost, econ = options["cost_usd"].to_numpy(), options["econ_cost_usd"].to_numpy()
    assert cost[got].sum() <= cost[chosen].sum() and econ[got].sum() <= econ[chosen].sum()


def office_hull_by_groupby(data: ModelData, economic: bool) -> tuple[list[int], list[float], list[float]]:
    """The hull as a group by office_id (first-seen order, the first least-cost pair): what office_hull must give."""
    opts = data.options
    cost = pd.Series(data.econ if economic else opts["cost_usd"].to_numpy(float))
    best = cost.groupby(opts["office_id"].to_numpy(object), sort=False).idxmin()
    weight = data.offices.set_index("office_id")["weight"]
    return best.tolist(), cost[best].tolist(), [float(weight.get(o, np.nan)) for o in best.index]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=14),
    st.booleans(),
    st.booleans(),
)
def test_office_hull_is_the_group_by_office(rows, economic, all_known):
    """Options of up to six offices in any order (not standing together), costs 0-3 (ties), offices the offices
    table lacks (weight NaN) or not: each office's first least-cost pair, offices in first-seen order."""
    options = pd.DataFrame(
        [(f"o{o}", f"t{k}", float(c), float(e)) for k, (o, c, e) in enumerate(rows)],
        columns=["office_id", "technology", "cost_usd", "econ_cost_usd"],
    )
    known = range(6) if all_known else range(0, 6, 2)
    offices = pd.DataFrame({"office_id": [f"o{i}" for i in known], "weight": [1.0 + i for i in known]})
    data = ModelData(options, offices)
    hull = office_hull(data, economic=economic)
    pairs, cost, weight = office_hull_by_groupby(data, economic)
    assert hull.pair.tolist() == pairs and hull.cost.tolist() == cost
    np.testing.assert_array_equal(hull.weight, weight)  # NaN where the offices table lacks the office
    got = data.office_position()
    assert got.tolist() == [int(o[1:]) // (1 if all_known else 2) if f"{o}" in set(offices["office_id"]) else -1
                            for o in options["office_id"]]  # fmt: skip
