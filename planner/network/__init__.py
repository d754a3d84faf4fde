"""Shared-infrastructure candidates and the Steiner-tree parts that need no solver.

The candidates are the fibre graph (roads, Delaunay or k-nearest), tower sites and relays.
"""

from planner.network.graphs import SharedInfra, build_fibre_graph, candidate_relays, candidate_sites
from planner.network.steiner import SteinInstance, read_stp, write_stp

__all__ = [
    "SharedInfra",
    "SteinInstance",
    "build_fibre_graph",
    "candidate_relays",
    "candidate_sites",
    "read_stp",
    "write_stp",
]
