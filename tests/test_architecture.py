"""The house rules of docs/architecture.md, checked on the source: no import cycle between planner modules, no
private name imported from another module, and the stages that must not load a solver do not.

`lint-imports` (import-linter, run by .ci/run) checks the layer contracts of pyproject.toml; these tests check
what it does not: cycles through lazy imports inside functions, private names, and what ``import`` really loads.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "planner"


def module_name(path: Path) -> str:
    """``planner/optimize/solve.py`` -> ``planner.optimize.solve``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def planner_imports() -> list[tuple[str, str, list[str], int]]:
    """Every import of a planner module by a planner module, at any depth (lazy imports inside functions too):
    (importer, imported module, names taken from it, line)."""
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("planner"):
                names = [a.name for a in node.names]
                # `from planner.results import report` imports the submodule report
                subs = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in modules]
                out.extend((here, s, [], node.lineno) for s in subs)
                rest = [n for n in names if f"{node.module}.{n}" not in modules]
                if rest:
                    out.append((here, str(node.module), rest, node.lineno))
            elif isinstance(node, ast.Import):
                out.extend((here, a.name, [], node.lineno) for a in node.names if a.name.startswith("planner"))
    return out


def test_no_import_cycle_between_planner_modules() -> None:
    graph = nx.DiGraph()
    for importer, imported, _, _ in planner_imports():
        if importer != imported and not importer.startswith(imported + "."):  # a package's own children
            graph.add_edge(importer, imported)
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == []


def test_no_private_name_is_imported_from_another_module() -> None:
    taken = [
        f"{importer}:{line} takes {name} from {imported}"
        for importer, imported, names, line in planner_imports()
        for name in names
        if name.startswith("_") and imported != importer
    ]
    assert taken == []


def test_no_third_party_private_attribute_outside_the_highs_runner() -> None:
    """Only planner.optimize.highs touches a protected member of a third-party object (appsi's HiGHS model,
    in its own subclass); no module reaches into name-mangled attributes (``_Class__name``)."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Attribute) and "__" in node.attr.strip("_"):
                offenders.append(f"{module_name(path)}: {node.attr}")
            protected = isinstance(node, ast.Attribute) and node.attr in ("_solver_model", "_sol")
            if protected and module_name(path) != "planner.optimize.highs":
                offenders.append(f"{module_name(path)}: {node.attr}")
    assert offenders == []


def test_the_guarded_runner_is_the_only_caller_of_highs_run() -> None:
    """Every HiGHS solve goes through planner.optimize.highs: no other module calls ``.run()`` on a HiGHS model or
    ``.solve(`` on an appsi interface."""
    calls = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if module_name(path) == "planner.optimize.highs":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"
            if call and isinstance(node.func.value, ast.Name) and node.func.value.id in ("h", "highs", "opt"):
                calls.append(f"{module_name(path)}:{node.lineno}")
    assert calls == []


@pytest.mark.parametrize("module", ["planner.results", "planner.store", "planner.results.report", "planner.problem"])
def test_module_loads_neither_pyomo_nor_highspy(module: str) -> None:
    code = (
        f"import sys, {module}; bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pyomo', 'highspy'));"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"{module} loads {out}"


def test_streamlit_plotly_and_typer_are_imported_by_the_ui_only() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if name.startswith("planner.ui"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module or ""]
            offenders += [f"{name}: {m}" for m in mods if m.split(".")[0] in ("streamlit", "plotly", "typer")]
    assert offenders == []
