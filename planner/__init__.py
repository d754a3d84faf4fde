"""Connect.Post Planner: decide how every unconnected post office gets online, at what cost and by when.

Stages (each takes and returns tidy pandas tables keyed by ``office_id`` / ``technology`` / ``year``)::

    scenario.load_scenario -> data.load_inputs -> costing.build_options -> solve.solve -> results.make_results
"""

from planner.errors import InfeasibleError, InputError, PlannerError

__version__ = "0.1.0"

__all__ = ["InfeasibleError", "InputError", "PlannerError", "__version__"]
