"""Great-circle geometry, vectorised: distances and nearest-neighbour queries that stay fast at world scale.

Points are WGS84 degrees; distances are km on a sphere of radius :data:`EARTH_RADIUS_KM` (the mean radius,
error < 0.5 % against the ellipsoid, well inside the uncertainty of any cost per km). Nearest-neighbour
queries use a KD-tree on 3-D unit vectors: the chord length is monotone in the great-circle distance, so the
Euclidean nearest neighbour is the great-circle nearest neighbour, and it works across the antimeridian.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distance in km between points (broadcasting numpy arrays of degrees)."""
    p1, l1, p2, l2 = (np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2))
    # Vincenty's formula on the sphere: accurate for all distances, antipodes included (haversine's
    # arcsin loses digits there).
    dl = l2 - l1
    num = np.hypot(np.cos(p2) * np.sin(dl), np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl))
    den = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dl)
    return EARTH_RADIUS_KM * np.arctan2(num, den)


def unit_vectors(lat: ArrayLike, lon: ArrayLike) -> NDArray[np.float64]:
    """(n, 3) unit vectors of points given in degrees."""
    phi, lam = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    cos_phi = np.cos(phi)
    return np.column_stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)])


def chord_to_km(chord: ArrayLike) -> NDArray[np.float64]:
    """Great-circle km from the chord length between unit vectors."""
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord, dtype=float) / 2, 0.0, 1.0))


def km_to_chord(km: ArrayLike) -> NDArray[np.float64]:
    """Chord length between unit vectors that are ``km`` apart on the sphere."""
    return 2 * np.sin(np.minimum(np.asarray(km, dtype=float), np.pi * EARTH_RADIUS_KM) / (2 * EARTH_RADIUS_KM))


class PointIndex:
    """A KD-tree over points (degrees) answering nearest and within-radius queries in great-circle km."""

    def __init__(self, lat: ArrayLike, lon: ArrayLike) -> None:
        from scipy.spatial import cKDTree  # imported on first use: it adds 0.2 s to the start of every run

        self.size = int(np.size(lat))
        self._tree = cKDTree(unit_vectors(lat, lon)) if self.size else None

    def nearest(
        self, lat: ArrayLike, lon: ArrayLike, k: int = 1, max_km: float | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Distance (km) and index of the k nearest points for each query point; inf / -1 where none exist.

        Shapes are (n,) for k == 1, else (n, k). With ``max_km`` the search stops at that distance (much faster
        when few points are near): every point within ``max_km`` is found as without it, and neighbours beyond
        it may be reported as missing (inf / -1).
        """
        n = int(np.size(lat))
        shape = (n,) if k == 1 else (n, k)
        if self._tree is None or n == 0:
            return np.full(shape, np.inf), np.full(shape, -1, dtype=np.int64)
        bound = np.inf if max_km is None else float(km_to_chord(max_km)) * (1 + 1e-9) + 1e-12
        chord, idx = self._tree.query(unit_vectors(lat, lon), k=k, workers=-1, distance_upper_bound=bound)
        idx = np.where(idx >= self.size, -1, idx).astype(np.int64)
        found = idx >= 0
        dist = np.full(shape, np.inf)
        dist[found] = chord_to_km(chord[found])
        return dist, idx

    def pairs_within(self, radius_km: float) -> NDArray[np.int64]:
        """Every pair (i, j), i < j, of the index's own points within ``radius_km`` of each other: shape (m, 2)."""
        if self._tree is None:
            return np.zeros((0, 2), dtype=np.int64)
        found = self._tree.query_pairs(r=float(km_to_chord(radius_km)), output_type="ndarray")
        return np.asarray(found, dtype=np.int64).reshape(-1, 2)

    def within(self, lat: ArrayLike, lon: ArrayLike, radius_km: float) -> list[list[int]]:
        """Indices of the points within ``radius_km`` of each query point."""
        if self._tree is None:
            return [[] for _ in range(int(np.size(lat)))]
        found = self._tree.query_ball_point(unit_vectors(lat, lon), r=float(km_to_chord(radius_km)), workers=-1)
        return [list(f) for f in found]


def nearest_km(
    lat: ArrayLike, lon: ArrayLike, ref_lat: ArrayLike, ref_lon: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Distance (km) to and index of the nearest reference point for each point (inf / -1 if none)."""
    return PointIndex(ref_lat, ref_lon).nearest(lat, lon)


@dataclass(frozen=True)
class Box:
    """A latitude-longitude box, degrees. ``lon_west > lon_east`` when it spans the antimeridian (180°)."""

    lat_min: float
    lat_max: float
    lon_west: float
    lon_east: float

    def contains(self, lat: ArrayLike, lon: ArrayLike, margin_deg: float = 0.0) -> NDArray[np.bool_]:
        """Which points (degrees) lie in the box widened by ``margin_deg`` on every side."""
        lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        span = self.lon_east - self.lon_west
        span = span if span >= 0 else span + 360.0
        in_lat = (lat >= self.lat_min - margin_deg) & (lat <= self.lat_max + margin_deg)
        with np.errstate(invalid="ignore"):
            east_of_west = np.mod(lon - (self.lon_west - margin_deg), 360.0)
        return in_lat & (east_of_west <= span + 2 * margin_deg) & np.isfinite(lon)

    @classmethod
    def around(cls, lat: ArrayLike, lon: ArrayLike) -> Box:
        """The smallest ordinary box (not across 180°) holding the points."""
        lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        return cls(float(lat.min()), float(lat.max()), float(lon.min()), float(lon.max()))

    def __str__(self) -> str:
        return f"lat {self.lat_min:g}..{self.lat_max:g}, lon {self.lon_west:g}..{self.lon_east:g}"
