"""The solver layer: the Pyomo model, HiGHS, the solve dispatch, model series and the exact Steiner branch-and-cut.

HiGHS runs through one guarded runner. The only layer that imports Pyomo and highspy (``docs/architecture.md``).
"""
