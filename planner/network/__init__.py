"""Shared-infrastructure candidates: fibre graph, tower sites, relays and the solver-free Steiner-tree parts.

The fibre graph (roads, Delaunay or k-nearest), tower sites, relays, and the Steiner-tree parts that need no solver.
"""

from planner.network.graphs import SharedInfra, build_fibre_graph, candidate_relays, candidate_sites
from planner.network.steiner import SteinInstance, read_stp

__all__ = ["SharedInfra", "SteinInstance", "build_fibre_graph", "candidate_relays", "candidate_sites", "read_stp"]
