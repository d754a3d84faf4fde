"""Array forms of the results' per-office text (planner/results/plan.py) against their plain definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.data import category_from_codes, cheapest_rows, repeated_text
from planner.problem import ModelSpec
from planner.results.plan import (
    joined,
    joined_by_position,
    joined_words_by_position,
    office_rows,
    why,
    with_chosen_columns,
)

TECHS = ["fibre", "cellular_4g", "microwave", "geo_satellite", "leo_satellite", "x;y"]


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 6), st.sampled_from(TECHS)), max_size=60),
    n=st.integers(7, 9),
)
def test_joined_by_position_is_the_per_key_join_in_row_order(rows: list[tuple[int, str]], n: int) -> None:
    """Positions 0..n-1, values joined with ';' in the order the rows come: what ``groupby(key).agg(';'.join)``
    gives (repeats and rows out of order included), '' where a position has no row."""
    at = np.array([p for p, _ in rows], dtype=np.int64)
    values = pd.Series([t for _, t in rows], dtype="str")
    got = joined_by_position(at, values, n, ";")
    want = {p: ";".join(t for q, t in rows if q == p) for p in range(n)}
    assert got.tolist() == [want[p] for p in range(n)]
    words, which = joined_words_by_position(at, values, n, ";")  # the same as distinct texts and codes
    assert len(set(words.tolist())) == len(words) or not len(at)
    assert words[which].tolist() == [want[p] for p in range(n)]


def test_a_long_sequence_falls_back_to_the_plain_join() -> None:
    """30 rows at one position do not fit an int64 in base 7: the plain join answers, in row order."""
    at = np.zeros(30, dtype=np.int64)
    values = pd.Series([TECHS[k % 6] for k in range(30)], dtype="str")
    got = joined_by_position(at, values, 2, ";")
    assert got.tolist() == [";".join(values), ""]
    assert got[0] == joined(pd.Series(at), values, ";").iloc[0]


def why_by_office(plan: pd.DataFrame, options: pd.DataFrame, spec: ModelSpec) -> list[str]:
    """The why sentences written office by office: the reference :func:`planner.results.plan.why` must equal."""
    funded = plan[plan["technology"] != "none"]
    last = min(((p + 1e-9) / max(c, 1e-9) for p, c in zip(funded["population"], funded["cost_usd"], strict=True)),
               default=None)  # fmt: skip
    rules = [r for r, on in (("technology share caps", spec.technology_max_share),
                             ("regional minimums", spec.region_min_coverage)) if on]  # fmt: skip
    because = " and ".join(rules) if rules else "the budget/target row (a cheaper mix elsewhere)"
    out = []
    for office, tech, cost in zip(plan["office_id"], plan["technology"], plan["cost_usd"], strict=True):
        rows = options[options["office_id"] == office]
        ok = rows[rows["eligible"]]
        if ok.empty:
            detail = "; ".join(f"{t}: {r}" for t, r in zip(rows["technology"], rows["reason"], strict=True))
            out.append(f"no eligible technology ({detail})")
            continue
        best = ok.iloc[int(np.argmin(ok["cost_usd"].to_numpy()))]  # the first among equal costs
        usd = f"{best['cost_usd']:,.0f}"
        if tech == "none":
            if spec.objective == "max_coverage":
                tail = f" (last funded: {last:.3g} people per USD)" if last is not None else ""
                out.append(f"budget exhausted: its cheapest option ({best['technology']}, {usd} USD) covers less "
                           f"per USD than the offices funded{tail}")  # fmt: skip
            else:
                out.append(f"not needed for the coverage target at least cost (cheapest option "
                           f"{best['technology']}, {usd} USD)")  # fmt: skip
        elif abs(cost - best["cost_usd"]) <= 1e-6 * max(1.0, best["cost_usd"]):
            out.append(f"cheapest eligible option for the same coverage ({len(ok) - 1} costlier alternatives)")
        else:
            out.append(f"cheaper {best['technology']} ({usd} USD) not chosen because of {because}")
    return out


@pytest.mark.parametrize("seed", range(6))
def test_why_equals_the_sentences_written_office_by_office(seed: int) -> None:
    """Random plans with every case (funded at the cheapest, at a dearer option, unfunded, nothing eligible), both
    objectives and the side-rule wording: the array-built sentences are the per-office ones."""
    rng = np.random.default_rng(seed)
    techs = ["fibre", "cellular_4g", "leo_satellite"]
    rows = []
    for i in range(60):
        for t in techs[: int(rng.integers(1, 4))]:
            rows.append((f"O{i}", t, float(rng.choice([0.0, 1234.4, 1234.6, 999.7, 1000.3, 5e5, rng.uniform(10, 1e6)])),
                         bool(rng.random() < 0.8), "" if rng.random() < 0.8 else "policy: excluded"))  # fmt: skip
    options = pd.DataFrame(rows, columns=["office_id", "technology", "cost_usd", "eligible", "reason"])
    options.loc[~options["eligible"] & (options["reason"] == ""), "reason"] = "too slow"
    chosen = []
    for office, group in options.groupby("office_id", sort=False):
        ok = group[group["eligible"]]
        if ok.empty or rng.random() < 0.4:
            chosen.append((office, "none", 0.0))
        else:
            pick = ok.iloc[int(rng.integers(len(ok)))]
            chosen.append((office, pick["technology"], pick["cost_usd"]))
    plan = pd.DataFrame(chosen, columns=["office_id", "technology", "cost_usd"])
    plan["population"] = rng.integers(0, 5000, len(plan)).astype(float)
    plan = plan.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # plan order is not options order
    for spec in (
        ModelSpec(objective="max_coverage", metric="population", budget_usd=1e6),
        ModelSpec(objective="min_cost", metric="population", coverage_target=0.5),
        ModelSpec(objective="max_coverage", metric="population", budget_usd=1e6, technology_max_share={"fibre": 0.5}),
    ):
        got = why(plan, options, spec)
        assert got.tolist() == why_by_office(plan, options, spec)
        assert isinstance(got.dtype, pd.CategoricalDtype) and got.cat.categories.is_unique  # each sentence once
        assert len(got.cat.categories) == got.nunique()  # (999.7 and 1000.3 USD share "1,000 USD": one sentence)


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.sampled_from(["a", "b", "a, b", "", "c"]), min_size=0, max_size=8),
    picks=st.lists(st.integers(-1, 7), max_size=30),
)
def test_category_from_codes_is_words_taken_by_code(words: list[str], picks: list[int]) -> None:
    """``words[codes]`` (-1: missing), words repeated or not; each distinct text one category."""
    codes = np.array([c for c in picks if c < len(words)], dtype=np.int64)
    got = category_from_codes(words, codes)
    want = [words[c] if c >= 0 else None for c in codes]
    assert [None if pd.isna(v) else v for v in got.tolist()] == want
    assert got.cat.categories.is_unique and set(got.cat.categories) == set(words)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.sampled_from([1.0, 2.0, 3.0, float("nan")])), max_size=30),
    st.booleans(),
)
def test_cheapest_rows_are_the_first_least_cost_row_of_each_group(rows: list[tuple[int, float]], together: bool):
    """Grouped rows together (sorted, the options table's layout) or scattered, with ties and NaN costs: one row per
    group, the first of least cost in row order (NaN counting as the most), as a stable sort by (group, cost) gives,
    groups in the order they first appear."""
    if together:
        rows = sorted(rows, key=lambda r: r[0])
    group = np.array([r[0] for r in rows], dtype=np.int64)
    costs = np.array([r[1] for r in rows], dtype=float)
    got = cheapest_rows(group, costs)
    expected = {}
    for i, (g, c) in enumerate(rows):
        key = (np.inf if np.isnan(c) else c, i)
        if g not in expected or key < expected[g][0]:
            expected[g] = (key, i)
    assert got.tolist() == [i for _, i in expected.values()]  # groups in the order they first appear


@given(st.integers(0, 50), st.one_of(st.none(), st.text(max_size=8)))
def test_repeated_text_is_np_full_of_that_value(n: int, value: str | None) -> None:
    """The options table's constant text columns: the same cells as ``np.full(n, value, dtype=object)``."""
    got, want = repeated_text(n, value), np.full(n, value, dtype=object)
    assert got.dtype == want.dtype and got.shape == want.shape and all(g is value for g in got)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12),
    st.lists(st.tuples(st.integers(0, 14), st.floats(0, 1e6), st.sampled_from(["a", "bb", ""]), st.booleans())),
)
def test_the_chosen_columns_join_by_position_as_the_left_merge(n_offices: int, rows: list) -> None:
    """``with_chosen_columns`` gives ``base.merge(chosen rows, on="office_id", how="left")``: values, dtypes and
    order, including chosen rows of offices not in the plan (ids 12-14) and offices with two chosen rows."""
    base = pd.DataFrame({"office_id": pd.array([f"o{i}" for i in range(n_offices)], dtype="str"), "pop": 1.0})
    opts = pd.DataFrame(
        {
            "office_id": pd.array([f"o{r[0]}" for r in rows], dtype="str"),
            "cost_usd": np.array([r[1] for r in rows], dtype=float),
            "technology": pd.array([r[2] for r in rows], dtype="str"),
            "chosen": np.array([r[3] for r in rows], dtype=bool),
        }
    )
    keep = ["cost_usd", "technology"]
    chosen = np.flatnonzero(opts["chosen"].to_numpy(bool))
    got = with_chosen_columns(base, opts, keep, office_rows(base, opts), chosen)
    want = base.merge(opts.loc[chosen, ["office_id", *keep]], on="office_id", how="left")
    pd.testing.assert_frame_equal(got, want)


def test_chosen_columns_of_one_shared_array_share_one_gathered_array_and_write_apart() -> None:
    """Two option columns on one array (costing's zero costs) give two plan columns on one gathered array, with
    the right values (NaN where an office has no chosen option); a write into one leaves the other as it was."""
    base = pd.DataFrame({"office_id": pd.array(["a", "b", "c"], dtype="str")})
    zero = pd.Series(np.zeros(4))
    opts = pd.DataFrame(
        {"office_id": pd.array(["a", "a", "c", "c"], dtype="str"), "x": zero, "y": zero,
         "cost_usd": np.array([1.0, 2.0, 3.0, 4.0])},
        copy=False,
    )  # fmt: skip
    assert np.shares_memory(opts["x"].to_numpy(), opts["y"].to_numpy())
    got = with_chosen_columns(base, opts, ["x", "y", "cost_usd"], office_rows(base, opts), np.array([1, 2]))
    assert got["cost_usd"].tolist()[::2] == [2.0, 3.0] and np.isnan(got["cost_usd"].iloc[1])
    for col in ("x", "y"):
        assert got[col].tolist()[::2] == [0.0, 0.0] and np.isnan(got[col].iloc[1])
    assert np.shares_memory(got["x"].to_numpy(), got["y"].to_numpy())
    got.loc[0, "x"] = 5.0
    assert got["y"].iloc[0] == 0.0 and zero.tolist() == [0.0] * 4
