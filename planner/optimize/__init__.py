"""The solver layer: the Pyomo model, HiGHS (one guarded runner), the solve dispatch, model series and the
exact Steiner branch-and-cut. The only layer that imports Pyomo and highspy (``docs/architecture.md``).
"""
