"""SteinLib STP reader and writer: Steiner tree instances (graph, terminals, known optimum) in the SteinLib format.

Prize-collecting instances (SteinLib / DIMACS 2014 PCSPG and RPCST sets) list their terminals as ``TP node prize``
lines and a rooted one names its root with ``RootP node`` (or ``Root node``): both are read into
:attr:`SteinInstance.prizes` and :attr:`SteinInstance.root`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class SteinInstance:
    """One Steiner tree instance: undirected weighted graph, terminal nodes, known optimum if the file has one."""

    name: str
    graph: nx.Graph
    terminals: list[int]
    optimum: float | None = None
    prizes: dict[int, float] = field(default_factory=dict)  # prize-collecting: ``TP node prize`` lines
    root: int | None = None  # rooted prize-collecting: ``RootP node``


def _number(token: str) -> float | int:
    """Parse an STP number, keeping integers as ``int`` so integral costs stay exact."""
    try:
        return int(token)
    except ValueError:
        return float(token)


def read_stp(path: str | Path) -> SteinInstance:
    """Read a SteinLib STP file (undirected ``E`` edges; ``A`` arcs are rejected).

    Unknown sections and keys are skipped, as the format asks. The optimum is taken from an ``Optimal`` (or
    ``Opt``) key in any section. Malformed input raises :class:`ValueError` naming the file and line.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")

    def fail(lineno: int, message: str) -> ValueError:
        return ValueError(f"{path}:{lineno}: {message}")

    name = path.stem
    optimum: float | None = None
    n_nodes: int | None = None
    n_edges_declared: int | None = None
    n_terms_declared: int | None = None
    edges: dict[tuple[int, int], float | int] = {}
    n_edge_lines = 0
    terminals: list[int] = []
    prizes: dict[int, float] = {}
    root: int | None = None
    section: str | None = None
    seen_header = False
    seen_graph = seen_terminals = False
    lineno = 0

    def node_id(token: str, lineno: int) -> int:
        try:
            v = int(token)
        except ValueError:
            raise fail(lineno, f"node id {token!r} is not an integer") from None
        if n_nodes is None:
            raise fail(lineno, "'Nodes' must be given before edges and terminals")
        if not 1 <= v <= n_nodes:
            raise fail(lineno, f"node {v} outside 1..{n_nodes}")
        return v

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        tokens = line.split()
        key = tokens[0].lower()
        if not seen_header:
            if key != "33d32945":
                raise fail(lineno, "not an STP file (missing '33D32945' header)")
            seen_header = True
            continue
        if key == "eof":
            break
        if key == "section":
            if section is not None:
                raise fail(lineno, f"SECTION inside unfinished section {section!r} (missing END)")
            if len(tokens) < 2:
                raise fail(lineno, "SECTION without a name")
            section = tokens[1].lower()
            seen_graph |= section == "graph"
            seen_terminals |= section == "terminals"
            continue
        if key == "end":
            if section is None:
                raise fail(lineno, "END outside a section")
            section = None
            continue
        if section is None:
            raise fail(lineno, f"unexpected line outside a section: {line!r}")
        try:
            if key in ("optimal", "opt") and len(tokens) >= 2:
                optimum = float(tokens[1])
            elif section == "comment":
                if key == "name" and len(tokens) >= 2:
                    name = line.split(None, 1)[1].strip().strip('"')
            elif section == "graph":
                if key == "nodes":
                    n_nodes = int(tokens[1])
                elif key == "edges":
                    n_edges_declared = int(tokens[1])
                elif key == "e":
                    if len(tokens) != 4:
                        raise fail(lineno, f"edge line needs 'E u v weight', got {line!r}")
                    u, v = node_id(tokens[1], lineno), node_id(tokens[2], lineno)
                    w = _number(tokens[3])
                    if not math.isfinite(w) or w < 0:
                        raise fail(lineno, f"edge weight must be finite and >= 0, got {tokens[3]}")
                    n_edge_lines += 1
                    if u != v:
                        k = (min(u, v), max(u, v))
                        edges[k] = min(w, edges.get(k, w))
                elif key in ("a", "arcs"):
                    raise fail(lineno, "directed arcs are not supported (undirected Steiner tree only)")
            elif section == "terminals":
                if key == "terminals":
                    n_terms_declared = int(tokens[1])
                elif key == "t":
                    if len(tokens) < 2:
                        raise fail(lineno, "terminal line needs 'T node'")
                    terminals.append(node_id(tokens[1], lineno))
                elif key == "tp":
                    if len(tokens) != 3:
                        raise fail(lineno, f"prize line needs 'TP node prize', got {line!r}")
                    v, prize = node_id(tokens[1], lineno), float(tokens[2])
                    if not math.isfinite(prize) or prize < 0:
                        raise fail(lineno, f"prize must be finite and >= 0, got {tokens[2]}")
                    terminals.append(v)
                    prizes[v] = prize
                elif key in ("rootp", "root"):
                    root = node_id(tokens[1], lineno)
        except (ValueError, IndexError) as exc:
            if isinstance(exc, ValueError) and str(exc).startswith(f"{path}:"):
                raise
            raise fail(lineno, f"cannot parse {line!r}") from None
    if not seen_header:
        raise ValueError(f"{path}: empty file, not an STP file")
    if section is not None:
        raise fail(lineno, f"file ends inside section {section!r} (missing END)")
    if not seen_graph or n_nodes is None:
        raise ValueError(f"{path}: no 'SECTION Graph' with a 'Nodes' count")
    if not seen_terminals:
        raise ValueError(f"{path}: no 'SECTION Terminals'")
    if n_edges_declared is not None and n_edges_declared != n_edge_lines:
        raise ValueError(f"{path}: 'Edges {n_edges_declared}' declared but {n_edge_lines} edge lines found")
    if n_terms_declared is not None and n_terms_declared != len(terminals):
        raise ValueError(f"{path}: 'Terminals {n_terms_declared}' declared but {len(terminals)} found")

    import networkx as nx  # imported here: reading a plan's inputs never needs it

    graph = nx.Graph(name=name)
    graph.add_nodes_from(range(1, n_nodes + 1))
    graph.add_weighted_edges_from((u, v, w) for (u, v), w in edges.items())
    return SteinInstance(
        name=name,
        graph=graph,
        terminals=list(dict.fromkeys(terminals)),
        optimum=optimum,
        prizes=prizes,
        root=root,
    )


def write_stp(path: str | Path, inst: SteinInstance, comment: str = "") -> None:
    """Write ``inst`` as a SteinLib STP file that :func:`read_stp` reads back (nodes must be 1..n).

    Prizes become ``TP`` lines, a root a ``RootP`` line, ``comment`` a ``Remark``.
    """
    g = inst.graph
    lines = ["33D32945 STP File, STP Format Version 1.0", "", "SECTION Comment", f'Name "{inst.name}"']
    if comment:
        lines.append(f'Remark "{comment}"')
    lines += ["END", "", "SECTION Graph", f"Nodes {g.number_of_nodes()}", f"Edges {g.number_of_edges()}"]
    lines += [f"E {u} {v} {d.get('weight', 1):g}" for u, v, d in sorted(g.edges(data=True))]
    if inst.optimum is not None:
        lines.append(f"Optimal {inst.optimum:g}")
    lines += ["END", "", "SECTION Terminals", f"Terminals {len(inst.terminals)}"]
    if inst.root is not None:
        lines.append(f"RootP {inst.root}")
    lines += [f"TP {t} {inst.prizes[t]:g}" if t in inst.prizes else f"T {t}" for t in inst.terminals]
    lines += ["END", "", "EOF", ""]
    Path(path).write_text("\n".join(lines), encoding="utf-8")
