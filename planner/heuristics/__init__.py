"""Heuristics: the certified hull greedy, the rolling horizon and the shared-infrastructure heuristic.

Numpy only: no Pyomo, no HiGHS. A heuristic that needs an exact solver (the sharing heuristic) receives it as
an argument from :mod:`planner.optimize`, which dispatches to the heuristics, never the other way round.
"""
