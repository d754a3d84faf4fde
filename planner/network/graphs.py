"""Shared infrastructure (DESIGN §5): fibre candidate graphs, new tower sites and radio relays.

Costed alone, every office pays its own trench to the backbone; in reality one trench toward a village also
serves the next one, one new tower serves every office in its radius, and an office reached by fibre feeds its
neighbours by microwave. This module builds the candidate infrastructure a plan may buy, as tidy tables; the
model (``model.add_fibre_network``, ``add_tower_sites``, ``add_radio_relays``) decides what to build.

* **Fibre graph.** Nodes: fibre nodes (the backbone, roots), planned offices within fibre reach, and road
  junctions when a roads file is given. Edges: the road network (segments between junctions, offices and fibre
  nodes snapped to their nearest road vertex within ``snap_km`` by a straight connector), otherwise a Delaunay
  triangulation or k-nearest-neighbour graph of offices and fibre nodes, edges up to ``max_edge_km``. Every
  office also keeps the direct edge to its nearest fibre node, so the trench it would dig alone is always a
  candidate: sharing can only lower the cost of a plan. Weight of an edge: length (km, straight-line × the
  fibre ``route_factor``, or road length) × ``capex_per_km_usd``; upkeep ``opex_per_km_per_year_usd`` × km.
  Arcs are directed away from the backbone (no arc enters a fibre node).
* **Tower sites.** One candidate per planned office that no existing tower covers, at the office; it covers
  every such office within ``tower_site.radius_km``. Sites whose cover is contained in another's are dropped
  (same cost, never better).
* **Relays.** An office with no microwave anchor in hop range gets a microwave option whose far end is any
  fibre-reachable office within the hop range (``microwave.reach.max_distance_km``); the model lets it be
  chosen only when one of those offices is connected by fibre in the same plan.

The Steiner-tree reader, reductions and heuristic live in :mod:`planner.network.steiner`; the exact solver
:func:`planner.optimize.steiner.steiner_tree` is in the solver layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from planner.geo import PointIndex, haversine_km
from planner.scenario import Catalogue, Infrastructure, Technology

if TYPE_CHECKING:  # imported where used: a run without shared infrastructure never loads them
    import networkx as nx

NODE_COLUMNS = ["node", "node_id", "kind", "ref", "lat", "lon"]
ARC_COLUMNS = ["arc", "tail", "head", "edge", "length_km", "capex_usd", "opex_usd_per_year", "direct_for"]


@dataclass
class SharedInfra:
    """Candidate shared infrastructure of one instance (tables keyed by integer ``node`` / ``arc`` / ``site``).

    ``nodes``: node, node_id, kind (fibre_node | office | junction), ref (office or node id), lat, lon.
    ``arcs``: arc, tail, head, edge, length_km, capex_usd, opex_usd_per_year (network upkeep), cost_usd (budget
    basis), direct_for (the office whose stand-alone trench this arc is, else ""). ``edge_coords``: the
    (lon, lat) polyline of each edge, for maps. ``sites``: site, site_id, lat, lon, capex_usd,
    opex_usd_per_year, cost_usd; ``site_cover``: site, office_id. ``relays``: office_id, hub_office_id,
    distance_km (hub = an office that can take fibre within hop range).
    """

    nodes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NODE_COLUMNS))
    arcs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=[*ARC_COLUMNS, "cost_usd"]))
    edge_coords: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    sites: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["site", "site_id", "lat", "lon", "capex_usd", "opex_usd_per_year", "cost_usd"]
        )
    )
    site_cover: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["site", "office_id"]))
    relays: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["office_id", "hub_office_id"]))
    method: str = "exact"
    fibre_technology: str | None = None  # the catalogue's fibre technology (relay hubs connect with it)
    exact_max_arcs: int = 60_000  # method auto: the exact model up to this many fibre arcs

    global_arc: np.ndarray | None = None  # subset (one country): arc k is arc global_arc[k] of the whole instance
    global_site: np.ndarray | None = None  # subset: site s is site global_site[s] of the whole instance

    @property
    def empty(self) -> bool:
        """No candidate arc, site or relay."""
        return self.arcs.empty and self.sites.empty and self.relays.empty

    def paths(self, arcs: Iterable[int], offices: Iterable[str]) -> dict[str, list[int]]:
        """Each office's path of built ``arcs`` (positions in ``self.arcs``) up to the backbone, office end first.

        A built tree gives each node at most one in-arc; the walk stops at a root, at a node no built arc enters, or
        where it would loop.
        """
        tail = self.arcs["tail"].to_numpy(np.int64)
        head = self.arcs["head"].to_numpy(np.int64)
        parent = {int(head[k]): int(k) for k in arcs}
        node_of = dict(zip(self.nodes["ref"], self.nodes["node"], strict=True))
        roots = set(self.nodes.loc[self.nodes["kind"] == "fibre_node", "node"].astype(int))
        out: dict[str, list[int]] = {}
        for office in offices:
            v, path, seen = int(node_of[office]), [], set()
            while v not in roots and v in parent and v not in seen:
                seen.add(v)
                path.append(parent[v])
                v = int(tail[parent[v]])
            out[office] = path
        return out

    def subset(self, office_ids: set[str]) -> SharedInfra:
        """The candidates one group of offices (a country) can use alone.

        The backbone, road junctions, its offices, the arcs between them, the sites covering its offices (each at full
        cost) and relays whose hub is one of them. Arcs and sites are renumbered; ``global_arc`` / ``global_site`` map
        them back.
        """
        keep = (self.nodes["kind"] != "office") | self.nodes["ref"].isin(office_ids)
        nodes = set(self.nodes.loc[keep, "node"].astype(int))
        in_arcs = self.arcs["tail"].isin(nodes) & self.arcs["head"].isin(nodes)
        arcs = self.arcs[in_arcs].reset_index(drop=True)
        global_arc = arcs["arc"].to_numpy(np.int64)
        arcs["arc"] = np.arange(len(arcs))
        cover = self.site_cover[self.site_cover["office_id"].isin(office_ids)]
        used = np.array(sorted(set(cover["site"].astype(int))), dtype=np.int64)
        renumber = {int(g): k for k, g in enumerate(used)}
        sites = self.sites.set_index("site").loc[used].reset_index(drop=True)
        sites.insert(0, "site", np.arange(len(sites)))
        cover = cover.assign(site=cover["site"].map(renumber)).reset_index(drop=True)
        relays = self.relays[self.relays["office_id"].isin(office_ids) & self.relays["hub_office_id"].isin(office_ids)]
        return replace(
            self,
            nodes=self.nodes[keep].reset_index(drop=True),
            arcs=arcs,
            sites=sites,
            site_cover=cover,
            relays=relays.reset_index(drop=True),
            global_arc=global_arc,
            global_site=used,
        )


# --------------------------------------------------------------------------------------------- fibre graph
def _local_xy(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Equirectangular km around the mean latitude: good enough to triangulate a country's points."""
    phi0 = np.radians(np.mean(lat)) if len(lat) else 0.0
    return np.column_stack([np.radians(lon) * np.cos(phi0) * 6371.0, np.radians(lat) * 6371.0])


def _geometric_edges(lat: np.ndarray, lon: np.ndarray, settings: Infrastructure) -> set[tuple[int, int]]:
    """Candidate pairs (i < j) of a Delaunay triangulation or a k-nearest-neighbour graph."""
    n = len(lat)
    pairs: set[tuple[int, int]] = set()
    if n < 2:
        return pairs
    use_knn = settings.candidate_graph == "knn" or n < 4
    if not use_knn:
        from scipy.spatial import Delaunay, QhullError

        try:
            tri = Delaunay(_local_xy(lat, lon), qhull_options="QJ")
        except (QhullError, ValueError):  # degenerate (all points on a line): fall back to neighbours
            use_knn = True
        else:
            for simplex in tri.simplices:
                a, b, c = (int(v) for v in simplex)
                pairs.update({(min(a, b), max(a, b)), (min(b, c), max(b, c)), (min(a, c), max(a, c))})
    if use_knn:
        k = min(settings.knn + 1, n)
        _, idx = PointIndex(lat, lon).nearest(lat, lon, k=k)
        idx = idx.reshape(n, -1)
        for i in range(n):
            for j in idx[i]:
                if j >= 0 and j != i:
                    pairs.add((min(i, int(j)), max(i, int(j))))
    return pairs


def _road_graph(
    roads: pd.DataFrame, points: pd.DataFrame, settings: Infrastructure, route_factor: float
) -> tuple[nx.Graph, dict[int, int]]:
    """The road network with points (offices, fibre nodes) attached to their nearest road vertex.

    Returns the graph on integer nodes (points keep their index 0..n-1, road vertices follow) with edge
    attributes ``km`` and ``coords``, degree-2 junction chains contracted and junction leaves removed.
    """
    import networkx as nx

    n = len(points)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    key_of: dict[tuple[float, float], int] = {}
    vlat: list[float] = []
    vlon: list[float] = []

    def vertex(la: float, lo: float) -> int:
        key = (round(la, 5), round(lo, 5))  # ~1 m: vertices shared by two roads become one junction
        if key not in key_of:
            key_of[key] = n + len(vlat)
            vlat.append(la)
            vlon.append(lo)
        return key_of[key]

    seg = roads[["lat0", "lon0", "lat1", "lon1"]].to_numpy(float)
    km = haversine_km(seg[:, 0], seg[:, 1], seg[:, 2], seg[:, 3])
    for (la0, lo0, la1, lo1), d in zip(seg, km, strict=True):
        u, v = vertex(la0, lo0), vertex(la1, lo1)
        if u != v and (not g.has_edge(u, v) or g[u][v]["km"] > d):
            g.add_edge(u, v, km=float(d), coords=[(lo0, la0), (lo1, la1)])
    if vlat:
        dist, idx = PointIndex(np.array(vlat), np.array(vlon)).nearest(
            points["lat"].to_numpy(float), points["lon"].to_numpy(float)
        )
        for i in range(n):
            if idx[i] >= 0 and dist[i] <= settings.snap_km:
                j = n + int(idx[i])
                g.add_edge(
                    i,
                    j,
                    km=float(dist[i]) * route_factor,
                    coords=[
                        (float(cast(float, points["lon"].iat[i])), float(cast(float, points["lat"].iat[i]))),
                        (vlon[j - n], vlat[j - n]),
                    ],
                )
    # Junction leaves are never on a useful route; chains of degree-2 junctions become one edge.
    leaves = [v for v in g.nodes if v >= n and g.degree(v) <= 1]
    while leaves:
        nxt: set[int] = set()
        for v in leaves:
            nbrs = list(g.neighbors(v))
            g.remove_node(v)
            nxt.update(u for u in nbrs if u >= n and g.degree(u) <= 1)
        leaves = list(nxt)
    for v in [v for v in g.nodes if v >= n and g.degree(v) == 2]:
        a, b = list(g.neighbors(v))
        ea, eb = g[a][v], g[v][b]
        ca = ea["coords"] if ea["coords"][-1] == _coord(vlat, vlon, n, v) else ea["coords"][::-1]
        cb = eb["coords"] if eb["coords"][0] == _coord(vlat, vlon, n, v) else eb["coords"][::-1]
        length = ea["km"] + eb["km"]
        g.remove_node(v)
        if a != b and (not g.has_edge(a, b) or g[a][b]["km"] > length):
            g.add_edge(a, b, km=length, coords=ca + cb[1:])
    coords = {v: _coord(vlat, vlon, n, v) for v in g.nodes if v >= n}
    nx.set_node_attributes(g, coords, "xy")
    return g, {v: v for v in g.nodes}


def _coord(vlat: list[float], vlon: list[float], n: int, v: int) -> tuple[float, float]:
    return (vlon[v - n], vlat[v - n])


def _points(table: pd.DataFrame, key: str, kind: str, prefix: str) -> pd.DataFrame:
    """Graph nodes (node_id, kind, ref, lat, lon) for the rows of a table of points."""
    ref = table[key].astype(str)
    return pd.DataFrame(
        {"node_id": prefix + ref, "kind": kind, "ref": ref, "lat": table["lat"].astype(float),
         "lon": table["lon"].astype(float)}
    )  # fmt: skip


def build_fibre_graph(
    offices: pd.DataFrame,
    fibre_nodes: pd.DataFrame,
    fibre: Technology,
    settings: Infrastructure,
    roads: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, list[tuple[float, float]]]]:
    """Candidate fibre graph for ``offices`` and the backbone ``fibre_nodes``: nodes, arcs and edge polylines.

    Arcs come without ``cost_usd``. ``offices`` has office_id, lat, lon and nearest_node (id of their nearest fibre
    node).

    Arc capex = km × capex_per_km_usd and upkeep = km × opex_per_km_per_year_usd, km being the route length.
    """
    rf = fibre.reach.route_factor
    points = pd.concat(
        [
            _points(fibre_nodes, "node_id", "fibre_node", "fibre:"),
            _points(offices, "office_id", "office", "office:"),
        ],
        ignore_index=True,
    )
    n = len(points)
    lat, lon = points["lat"].to_numpy(float), points["lon"].to_numpy(float)
    is_root = (points["kind"] == "fibre_node").to_numpy()
    edges: dict[tuple[int, int], tuple[float, list[tuple[float, float]]]] = {}

    def add(u: int, v: int, km: float, coords: list[tuple[float, float]]) -> None:
        if u == v or (is_root[u] and is_root[v]):
            return
        key = (min(u, v), max(u, v))
        if key not in edges or edges[key][0] > km:
            edges[key] = (km, coords if u < v else coords[::-1])

    junctions = pd.DataFrame(columns=NODE_COLUMNS[1:])
    if roads is not None and len(roads):
        g, _ = _road_graph(roads, points, settings, rf)
        extra = sorted(v for v in g.nodes if v >= n)
        renumber = {v: n + k for k, v in enumerate(extra)}
        xy = dict(g.nodes(data="xy"))
        junctions = pd.DataFrame(
            {
                "node_id": [f"junction:{k}" for k in range(len(extra))],
                "kind": "junction",
                "ref": "",
                "lat": [xy[v][1] for v in extra],
                "lon": [xy[v][0] for v in extra],
            }
        )
        is_root = np.concatenate([is_root, np.zeros(len(extra), dtype=bool)])
        for u, v, data in g.edges(data=True):
            add(renumber.get(u, u), renumber.get(v, v), float(data["km"]), list(data["coords"]))
    else:
        for i, j in _geometric_edges(lat, lon, settings):
            km = float(haversine_km(lat[i], lon[i], lat[j], lon[j]))
            if km <= settings.max_edge_km:
                add(i, j, km * rf, [(lon[i], lat[i]), (lon[j], lat[j])])
    # The stand-alone trench of every office: straight to its nearest fibre node (as costed alone).
    root_of = {ref: k for k, ref in enumerate(points["ref"]) if is_root[k]}
    n_roots = int((points["kind"] == "fibre_node").sum())
    direct: dict[tuple[int, int], str] = {}
    for k, near in enumerate(offices["nearest_node"].astype(str)):
        i = n_roots + k
        r = root_of.get(near)
        if r is None:
            continue
        km = float(haversine_km(lat[r], lon[r], lat[i], lon[i])) * rf
        add(r, i, km, [(lon[r], lat[r]), (lon[i], lat[i])])
        key = (min(r, i), max(r, i))
        if abs(edges[key][0] - km) <= 1e-9 * max(km, 1.0):
            direct[key] = str(offices["office_id"].iat[k])
    nodes = pd.concat([points, junctions], ignore_index=True)
    nodes.insert(0, "node", np.arange(len(nodes)))
    rows = []
    coords: dict[int, list[tuple[float, float]]] = {}
    for e, ((u, v), (km, line)) in enumerate(sorted(edges.items())):
        coords[e] = [(float(a), float(b)) for a, b in line]
        for tail, head in ((u, v), (v, u)):
            if not is_root[head]:  # nothing flows into the backbone
                rows.append((tail, head, e, km, direct.get((u, v), "") if is_root[tail] else ""))
    arcs = pd.DataFrame(rows, columns=["tail", "head", "edge", "length_km", "direct_for"])
    arcs.insert(0, "arc", np.arange(len(arcs)))
    arcs.insert(5, "capex_usd", arcs["length_km"] * fibre.capex_per_km_usd.value)
    arcs.insert(6, "opex_usd_per_year", arcs["length_km"] * fibre.opex_per_km_per_year_usd.value)
    return nodes[NODE_COLUMNS], arcs[ARC_COLUMNS], coords


# --------------------------------------------------------------------------------------------- towers, relays
def candidate_sites(uncovered: pd.DataFrame, catalogue: Catalogue) -> tuple[pd.DataFrame, pd.DataFrame]:
    """New tower sites at the ``uncovered`` offices (office_id, lat, lon) and which offices each covers.

    Returns (sites: site, site_id, lat, lon, capex_usd, opex_usd_per_year; cover: site, office_id). A site
    whose cover set is contained in another site's is dropped (same cost, covers less).
    """
    spec = catalogue.tower_site
    empty = (
        pd.DataFrame(columns=["site", "site_id", "lat", "lon", "capex_usd", "opex_usd_per_year"]),
        pd.DataFrame(columns=["site", "office_id"]),
    )
    if spec is None or uncovered.empty:
        return empty
    lat, lon = uncovered["lat"].to_numpy(float), uncovered["lon"].to_numpy(float)
    ids = uncovered["office_id"].astype(str).to_numpy()
    covers = [frozenset(c) for c in PointIndex(lat, lon).within(lat, lon, spec.radius_km)]
    # Dominance: drop a site when another covers a strict superset (or the same set and comes first). A site
    # covering all of cover(s) lies within the radius of office s, so its rivals are the sites in cover(s).
    keep = [
        s
        for s, cover in enumerate(covers)
        if not any(t != s and cover <= covers[t] and (cover != covers[t] or t < s) for t in cover)
    ]
    sites = pd.DataFrame(
        {
            "site": np.arange(len(keep)),
            "site_id": [f"site:{ids[s]}" for s in keep],
            "lat": lat[keep],
            "lon": lon[keep],
            "capex_usd": spec.capex_usd.value,
            "opex_usd_per_year": spec.opex_per_year_usd.value,
        }
    )
    cover = pd.DataFrame(
        [(k, ids[o]) for k, s in enumerate(keep) for o in sorted(covers[s])], columns=["site", "office_id"]
    )
    return sites, cover


def candidate_relays(needy: pd.DataFrame, hubs: pd.DataFrame, hop_km: float) -> pd.DataFrame:
    """Candidate radio relays: each ``hubs`` office within ``hop_km`` of a ``needy`` office.

    Rows (office_id, hub_office_id, distance_km) for every ``needy`` office and every ``hubs`` office (both with
    office_id, lat, lon) within ``hop_km``, the office itself excluded.
    """
    if needy.empty or hubs.empty:
        return pd.DataFrame(columns=["office_id", "hub_office_id", "distance_km"])
    found = PointIndex(hubs["lat"].to_numpy(float), hubs["lon"].to_numpy(float)).within(
        needy["lat"].to_numpy(float), needy["lon"].to_numpy(float), hop_km
    )
    n_ids, h_ids = needy["office_id"].astype(str).to_numpy(), hubs["office_id"].astype(str).to_numpy()
    rows = [(n_ids[i], h_ids[j]) for i, js in enumerate(found) for j in js if h_ids[j] != n_ids[i]]
    out = pd.DataFrame(rows, columns=["office_id", "hub_office_id"])
    if out.empty:
        return out.assign(distance_km=pd.Series(dtype=float))
    a = needy.set_index(needy["office_id"].astype(str)).loc[out["office_id"]]
    b = hubs.set_index(hubs["office_id"].astype(str)).loc[out["hub_office_id"]]
    out["distance_km"] = np.round(haversine_km(a["lat"], a["lon"], b["lat"], b["lon"]), 3)
    return out[out["distance_km"] <= hop_km].reset_index(drop=True)
