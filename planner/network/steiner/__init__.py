"""Steiner trees in graphs, the parts that need no solver: the SteinLib reader, reductions and the heuristic.

The exact branch-and-cut on HiGHS and the driver :func:`planner.optimize.steiner.steiner_tree` live in the
solver layer.
"""

from planner.network.steiner.stp import SteinInstance, read_stp, write_stp

__all__ = ["SteinInstance", "read_stp", "write_stp"]
