"""Great-circle distances and nearest-neighbour queries (planner/geo.py) against closed forms and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.geo import EARTH_RADIUS_KM, PointIndex, chord_to_km, haversine_km, km_to_chord, nearest_km

lats = st.floats(min_value=-90, max_value=90, allow_nan=False)
lons = st.floats(min_value=-180, max_value=180, allow_nan=False)


# --------------------------------------------------------------------------------------------- haversine
def test_earth_radius_is_the_mean_radius():
    assert EARTH_RADIUS_KM == 6371.0088


def test_london_paris():
    d = float(haversine_km(51.5074, -0.1278, 48.8566, 2.3522))
    assert d == pytest.approx(343.5, abs=0.6)


def test_quarter_meridian():
    d = float(haversine_km(0.0, 0.0, 90.0, 0.0))
    assert d == pytest.approx(math.pi / 2 * 6371.0088, rel=1e-12)


def test_one_degree_of_longitude_at_the_equator():
    d = float(haversine_km(0.0, 10.0, 0.0, 11.0))
    assert d == pytest.approx(111.19, abs=0.01)
    assert d == pytest.approx(2 * math.pi * EARTH_RADIUS_KM / 360, rel=1e-12)


def test_half_circumference_between_antipodes():
    d = float(haversine_km(10.0, 20.0, -10.0, -160.0))
    # arcsin is ill-conditioned near 1: haversine loses digits at antipodes (about 1e-8 relative)
    assert d == pytest.approx(math.pi * EARTH_RADIUS_KM, rel=1e-7)


def test_across_the_antimeridian_is_short():
    d = float(haversine_km(0.0, 179.5, 0.0, -179.5))
    assert d == pytest.approx(111.19, abs=0.01)


def test_broadcasts_over_arrays():
    d = haversine_km(np.array([0.0, 0.0]), np.array([0.0, 0.0]), 0.0, np.array([1.0, 2.0]))
    assert d.shape == (2,)
    assert d[1] == pytest.approx(2 * d[0], rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(lats, lons, lats, lons)
def test_symmetric_and_bounded(lat1, lon1, lat2, lon2):
    d12 = float(haversine_km(lat1, lon1, lat2, lon2))
    d21 = float(haversine_km(lat2, lon2, lat1, lon1))
    assert d12 == pytest.approx(d21, abs=1e-6)
    assert 0.0 <= d12 <= math.pi * EARTH_RADIUS_KM + 1e-6


@settings(max_examples=100, deadline=None)
@given(lats, lons)
def test_zero_on_identical_points(lat, lon):
    assert float(haversine_km(lat, lon, lat, lon)) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=0, max_value=math.pi * EARTH_RADIUS_KM, allow_nan=False))
def test_chord_round_trip(km):
    assert float(chord_to_km(km_to_chord(km))) == pytest.approx(km, abs=1e-6)


# --------------------------------------------------------------------------------------------- PointIndex
def _brute_nearest(qlat, qlon, rlat, rlon):
    d = haversine_km(qlat[:, None], qlon[:, None], rlat[None, :], rlon[None, :])
    return d.min(axis=1), d


def _random_points(rng, n, lat_range=(-90, 90), lon_range=(-180, 180)):
    # uniform on the sphere within the latitude band
    lo, hi = np.sin(np.radians(lat_range[0])), np.sin(np.radians(lat_range[1]))
    lat = np.degrees(np.arcsin(rng.uniform(lo, hi, n)))
    lon = rng.uniform(*lon_range, n)
    return lat, lon


@pytest.mark.parametrize(
    "lat_range,lon_range",
    [
        ((-90, 90), (-180, 180)),  # the whole globe
        ((-10, 10), (170, 180)),  # near the antimeridian (queries are shifted across it below)
        ((80, 90), (-180, 180)),  # near the north pole
        ((-90, -80), (-180, 180)),  # near the south pole
        ((29, 31), (77, 81)),  # a small region (Uttarakhand)
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearest_equals_brute_force(lat_range, lon_range, seed):
    rng = np.random.default_rng(seed)
    rlat, rlon = _random_points(rng, 300, lat_range, lon_range)
    qlat, qlon = _random_points(rng, 200, lat_range, lon_range)
    if lon_range == (170, 180):
        # reference points on both sides of the antimeridian, queries too
        rlon = np.where(rng.random(rlon.size) < 0.5, rlon, rlon - 360)
        qlon = np.where(rng.random(qlon.size) < 0.5, qlon, qlon - 360)
    index = PointIndex(rlat, rlon)
    dist, idx = index.nearest(qlat, qlon)
    best, all_d = _brute_nearest(qlat, qlon, rlat, rlon)
    assert dist.shape == (qlat.size,) and idx.shape == (qlat.size,)
    np.testing.assert_allclose(dist, best, rtol=1e-9, atol=1e-6)
    # the returned index is a nearest point (ties allowed): its distance equals the minimum
    np.testing.assert_allclose(all_d[np.arange(qlat.size), idx], best, rtol=1e-9, atol=1e-6)
    # nearest_km is the same query as a function
    d2, i2 = nearest_km(qlat, qlon, rlat, rlon)
    np.testing.assert_allclose(d2, dist)
    np.testing.assert_array_equal(i2, idx)


def test_antimeridian_neighbour_is_found_across_it():
    index = PointIndex([0.0, 0.0], [-179.9, 170.0])
    dist, idx = index.nearest([0.0], [179.9])
    assert idx[0] == 0
    assert dist[0] == pytest.approx(float(haversine_km(0, 179.9, 0, -179.9)), rel=1e-9)
    assert dist[0] < 25


def test_near_pole_neighbour_across_longitudes():
    # two points near the north pole on opposite meridians are close; a point at the same lon far south is not
    index = PointIndex([89.9, 80.0], [-170.0, 10.0])
    dist, idx = index.nearest([89.9], [10.0])
    assert idx[0] == 0
    assert dist[0] == pytest.approx(float(haversine_km(89.9, 10.0, 89.9, -170.0)), rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(lats, lons), min_size=1, max_size=30), st.lists(st.tuples(lats, lons), min_size=1, max_size=10)
)
def test_nearest_property(refs, queries):
    rlat, rlon = (np.array(v, dtype=float) for v in zip(*refs, strict=True))
    qlat, qlon = (np.array(v, dtype=float) for v in zip(*queries, strict=True))
    dist, idx = PointIndex(rlat, rlon).nearest(qlat, qlon)
    best, _ = _brute_nearest(qlat, qlon, rlat, rlon)
    np.testing.assert_allclose(dist, best, rtol=1e-7, atol=1e-5)
    assert ((idx >= 0) & (idx < rlat.size)).all()


def test_k_nearest_sorted_and_equal_to_brute_force():
    rng = np.random.default_rng(7)
    rlat, rlon = _random_points(rng, 100)
    qlat, qlon = _random_points(rng, 20)
    dist, idx = PointIndex(rlat, rlon).nearest(qlat, qlon, k=3)
    assert dist.shape == (20, 3) and idx.shape == (20, 3)
    _, all_d = _brute_nearest(qlat, qlon, rlat, rlon)
    np.testing.assert_allclose(dist, np.sort(all_d, axis=1)[:, :3], rtol=1e-9, atol=1e-6)


def test_k_larger_than_reference_set_pads_with_inf_and_minus_one():
    dist, idx = PointIndex([0.0, 1.0], [0.0, 1.0]).nearest([0.0], [0.0], k=4)
    assert dist.shape == (1, 4)
    assert np.isfinite(dist[0, :2]).all()
    assert np.isinf(dist[0, 2:]).all()
    assert (idx[0, 2:] == -1).all()


@pytest.mark.parametrize("radius_km", [10.0, 250.0, 2000.0])
@pytest.mark.parametrize("seed", [3, 4])
def test_within_equals_brute_force(radius_km, seed):
    rng = np.random.default_rng(seed)
    rlat, rlon = _random_points(rng, 400, (-60, 60), (-180, 180))
    # queries include points near the antimeridian and near the poles
    qlat = np.concatenate([_random_points(rng, 30)[0], [0.0, 0.0, 89.5, -89.5]])
    qlon = np.concatenate([_random_points(rng, 30)[1], [179.99, -179.99, 0.0, 120.0]])
    found = PointIndex(rlat, rlon).within(qlat, qlon, radius_km)
    _, all_d = _brute_nearest(qlat, qlon, rlat, rlon)
    assert len(found) == qlat.size
    for q in range(qlat.size):
        expected = set(np.flatnonzero(all_d[q] <= radius_km).tolist())
        got = set(found[q])
        # points at the boundary (within float noise) may go either way
        boundary = set(np.flatnonzero(np.abs(all_d[q] - radius_km) < 1e-6).tolist())
        assert got - boundary == expected - boundary


def test_within_across_the_antimeridian():
    index = PointIndex([0.0, 0.0, 0.0], [179.95, -179.95, 0.0])
    (found,) = index.within([0.0], [180.0], 10.0)
    assert sorted(found) == [0, 1]


def test_empty_reference_set():
    index = PointIndex(np.array([]), np.array([]))
    assert index.size == 0
    dist, idx = index.nearest([10.0, 20.0], [30.0, 40.0])
    assert np.isinf(dist).all() and dist.shape == (2,)
    assert (idx == -1).all() and idx.dtype == np.int64
    dist_k, idx_k = index.nearest([10.0], [30.0], k=2)
    assert dist_k.shape == (1, 2) and np.isinf(dist_k).all() and (idx_k == -1).all()
    assert index.within([10.0, 20.0], [30.0, 40.0], 100.0) == [[], []]
    d, i = nearest_km([1.0], [2.0], [], [])
    assert np.isinf(d[0]) and i[0] == -1


def test_empty_query_set():
    dist, idx = PointIndex([0.0], [0.0]).nearest(np.array([]), np.array([]))
    assert dist.shape == (0,) and idx.shape == (0,)
