"""Array forms of the results' per-office text (planner/results/plan.py) against their plain definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.results.plan import joined, joined_by_position

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


def test_a_long_sequence_falls_back_to_the_plain_join() -> None:
    """30 rows at one position do not fit an int64 in base 7: the plain join answers, in row order."""
    at = np.zeros(30, dtype=np.int64)
    values = pd.Series([TECHS[k % 6] for k in range(30)], dtype="str")
    got = joined_by_position(at, values, 2, ";")
    assert got.tolist() == [";".join(values), ""]
    assert got[0] == joined(pd.Series(at), values, ";").iloc[0]
