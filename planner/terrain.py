"""Terrain: an elevation grid and the line-of-sight test of a microwave hop over it.

A hop from A (office, antenna ``h_a`` m above ground) to B (far end, ``h_b`` m) of length D km clears the terrain
when, at every profile point P at d1 km from A and d2 = D − d1 km from B,

    line(P) − (ground(P) + bulge(P)) ≥ c · F1(P)

with line(P) = (g_A + h_a) + (g_B + h_b − g_A − h_a) · d1 / D the straight ray between the antennas (m),
bulge(P) = d1 · d2 / (12.742 · k) m the earth's bulge for an effective earth radius k · 6,371 km,
F1(P) = 17.32 · sqrt(d1 · d2 / (f · D)) m the first Fresnel radius at f GHz, and c the required clearance
(0.6: 60 % of the first Fresnel zone, the usual planning rule). Ground heights are bilinear samples of the grid
(metres above sea level). Points are spaced ``step_m`` apart along the great circle (linear in lon/lat, which
is exact enough at hop lengths of tens of km).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.geo import haversine_km

EARTH_RADIUS_KM = 6371.0


@dataclass
class ElevationGrid:
    """Ground heights (m) on a regular lon/lat grid: ``values[row, col]`` at the centre of each cell.

    ``lon0, lat0``: the outer corner of cell (0, 0) (upper left: rows go south when ``dlat`` < 0); ``dlon, dlat``:
    cell size in degrees. NaN where the raster has no data.
    """

    values: np.ndarray
    lon0: float
    lat0: float
    dlon: float
    dlat: float
    file: str = ""

    def height(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Bilinear ground height at each point, m; NaN outside the grid or next to a no-data cell."""
        col = (np.asarray(lon, float) - self.lon0) / self.dlon - 0.5
        row = (np.asarray(lat, float) - self.lat0) / self.dlat - 0.5
        rows, cols = self.values.shape
        c0 = np.floor(col).astype(np.int64)
        r0 = np.floor(row).astype(np.int64)
        fc, fr = col - c0, row - r0
        # points within half a cell of the edge take the edge cell's value (clamped), points beyond it are NaN
        outside = (col < -0.5) | (row < -0.5) | (col > cols - 0.5) | (row > rows - 0.5)
        c0c, c1c = np.clip(c0, 0, cols - 1), np.clip(c0 + 1, 0, cols - 1)
        r0c, r1c = np.clip(r0, 0, rows - 1), np.clip(r0 + 1, 0, rows - 1)
        v = self.values
        top = v[r0c, c0c] * (1 - fc) + v[r0c, c1c] * fc
        bottom = v[r1c, c0c] * (1 - fc) + v[r1c, c1c] * fc
        out = top * (1 - fr) + bottom * fr
        return np.where(outside, np.nan, out)


@dataclass
class Clearance:
    """The line-of-sight verdict of each hop.

    ``clear``: bool; ``worst_m``: the smallest margin line − (ground + bulge + c·F1) over the profile, m (negative:
    blocked by that much); ``worst_km``: where, km from the office; ``known``: False where the profile leaves the
    grid or crosses no-data cells (then the hop is not judged clear).
    """

    clear: np.ndarray
    worst_m: np.ndarray
    worst_km: np.ndarray
    known: np.ndarray


def fresnel_radius_m(d1_km: np.ndarray, d2_km: np.ndarray, frequency_ghz: float) -> np.ndarray:
    """First Fresnel zone radius, m, at d1 / d2 km from the two ends of a hop at ``frequency_ghz``."""
    total = d1_km + d2_km
    return 17.32 * np.sqrt(np.where(total > 0, d1_km * d2_km / (frequency_ghz * np.maximum(total, 1e-12)), 0.0))


def earth_bulge_m(d1_km: np.ndarray, d2_km: np.ndarray, k_factor: float) -> np.ndarray:
    """Height of the earth's bulge above the chord, m, for an effective earth radius ``k_factor`` · 6,371 km."""
    return d1_km * d2_km * 1000.0 / (2.0 * k_factor * EARTH_RADIUS_KM)


def line_of_sight(
    grid: ElevationGrid,
    lon_a: np.ndarray,
    lat_a: np.ndarray,
    lon_b: np.ndarray,
    lat_b: np.ndarray,
    *,
    antenna_a_m: float,
    antenna_b_m: float,
    frequency_ghz: float,
    k_factor: float,
    clearance: float,
    step_m: float,
) -> Clearance:
    """Judge every hop A→B (arrays of equal length) on the grid; see the module docstring for the rule."""
    lon_a, lat_a = np.asarray(lon_a, float), np.asarray(lat_a, float)
    lon_b, lat_b = np.asarray(lon_b, float), np.asarray(lat_b, float)
    n = len(lon_a)
    if n == 0:
        empty = np.zeros(0)
        return Clearance(empty.astype(bool), empty, empty, empty.astype(bool))
    length = haversine_km(lat_a, lon_a, lat_b, lon_b)
    samples = int(np.clip(np.ceil(length.max() * 1000.0 / step_m), 2, 2000)) + 1
    t = np.linspace(0.0, 1.0, samples)[None, :]  # both ends included
    lon = lon_a[:, None] + (lon_b - lon_a)[:, None] * t
    lat = lat_a[:, None] + (lat_b - lat_a)[:, None] * t
    ground = grid.height(lon.ravel(), lat.ravel()).reshape(n, samples)
    d1 = length[:, None] * t
    d2 = length[:, None] - d1
    start = ground[:, 0] + antenna_a_m
    end = ground[:, -1] + antenna_b_m
    ray = start[:, None] + (end - start)[:, None] * t
    need = ground + earth_bulge_m(d1, d2, k_factor) + clearance * fresnel_radius_m(d1, d2, frequency_ghz)
    margin = (ray - need)[:, 1:-1] if samples > 2 else np.zeros((n, 1))
    known = np.isfinite(ground).all(axis=1)
    safe = np.where(np.isfinite(margin), margin, np.inf)
    at = safe.argmin(axis=1)
    worst = safe[np.arange(n), at]
    worst = np.where(known, worst, np.nan)
    where = d1[:, 1:-1][np.arange(n), at] if samples > 2 else np.zeros(n)
    return Clearance(known & (worst >= 0), worst, where, known)
