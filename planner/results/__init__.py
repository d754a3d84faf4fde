"""Results: the plan, shared-cost allocation, the output files and the app's derived views.

The plan is the per-office table, KPIs, breakdowns and "why". Imports no Pyomo (``docs/architecture.md``).
"""

from planner.results.outputs import PLAN_COLUMNS, output_bytes, output_names, routes_geojson, write_outputs
from planner.results.plan import Plan, make_results, roadmap_table

__all__ = [
    "PLAN_COLUMNS",
    "Plan",
    "make_results",
    "output_bytes",
    "output_names",
    "roadmap_table",
    "routes_geojson",
    "write_outputs",
]
