"""Tests for planner.network.steiner (STP reader) and planner.optimize.steiner.steiner_tree (exact, heuristic
fallback, edge cases)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.network import SteinInstance, read_stp, write_stp
from planner.optimize.steiner import steiner_tree

STEINLIB = Path(__file__).resolve().parents[2] / "shared" / "steinlib"

TINY_STP = """33D32945 STP File, STP Format Version 1.0

SECTION Comment
Name    "Tiny"
Remark  "A star beats the path through the terminals"
END

SECTION Graph
Optimal 3
Nodes 5
Edges 6
E 1 2 2
E 2 3 2
E 1 4 1
E 2 4 1
E 3 4 1
E 4 5 7
END

SECTION Coordinates
DD 1 0 0
END

SECTION Terminals
Terminals 3
T 1
T 2
T 3
END

EOF
"""


def brute_force_cost(graph: nx.Graph, terminals: list) -> float:
    """Optimum by enumeration: an optimal tree is the MST of its own node set, so try every Steiner subset."""
    others = [v for v in graph if v not in set(terminals)]
    best = float("inf")
    for r in range(len(others) + 1):
        for extra in itertools.combinations(others, r):
            sub = graph.subgraph([*terminals, *extra])
            if nx.is_connected(sub):
                best = min(best, nx.minimum_spanning_tree(sub).size(weight="weight"))
    return best


def assert_valid_tree(graph: nx.Graph, terminals: list, tree: nx.Graph) -> None:
    assert tree.number_of_nodes() <= 1 or nx.is_tree(tree)
    assert set(terminals) <= set(tree.nodes)
    for u, v, data in tree.edges(data=True):
        assert graph.has_edge(u, v)
        assert data == graph.edges[u, v]
    assert tree.graph["method"] in ("exact", "heuristic")
    assert tree.graph["cost"] == pytest.approx(tree.size(weight="weight"))
    assert tree.graph["lower_bound"] <= tree.graph["cost"] + 1e-9
    assert 0.0 <= tree.graph["gap"] <= 1.0
    # no useless Steiner leaves
    assert all(tree.degree(v) > 1 or v in terminals for v in tree) or tree.number_of_nodes() == 1


def random_graph(rng: random.Random, n: int, p: float, integral: bool = True) -> nx.Graph:
    g = nx.gnp_random_graph(n, p, seed=rng.randrange(10**9))
    for u, v in g.edges:
        g.edges[u, v]["weight"] = rng.randint(1, 10) if integral else round(rng.uniform(0.0, 5.0), 3)
    return g


# -- reader -------------------------------------------------------------------------------------------------


def test_read_stp_tiny(tmp_path: Path) -> None:
    path = tmp_path / "tiny.stp"
    path.write_text(TINY_STP)
    inst = read_stp(path)
    assert isinstance(inst, SteinInstance)
    assert inst.name == "Tiny"
    assert inst.optimum == 3
    assert sorted(inst.graph.nodes) == [1, 2, 3, 4, 5]
    assert inst.graph.number_of_edges() == 6
    assert inst.graph.edges[4, 5]["weight"] == 7
    assert inst.terminals == [1, 2, 3]
    tree = steiner_tree(inst.graph, inst.terminals)
    assert tree.graph["cost"] == 3 and tree.graph["method"] == "exact"
    assert sorted(tree.edges) == [(1, 4), (2, 4), (3, 4)] or set(map(frozenset, tree.edges)) == {
        frozenset(e) for e in [(1, 4), (2, 4), (3, 4)]
    }


PRIZE_STP = TINY_STP.replace("T 1\nT 2\nT 3", "RootP 1\nTP 2 10\nTP 3 2.5").replace("Terminals 3", "Terminals 2")


def test_read_stp_prizes_and_root(tmp_path: Path) -> None:
    """Prize-collecting files (``TP node prize``, ``RootP node``): prizes and root are read, and written back."""
    path = tmp_path / "pc.stp"
    path.write_text(PRIZE_STP)
    inst = read_stp(path)
    assert inst.prizes == {2: 10.0, 3: 2.5} and inst.root == 1 and inst.terminals == [2, 3]
    again = tmp_path / "again.stp"
    write_stp(again, inst, "round trip")
    back = read_stp(again)
    assert back.prizes == inst.prizes and back.root == 1 and back.terminals == inst.terminals
    assert sorted(back.graph.edges(data="weight")) == sorted(inst.graph.edges(data="weight"))
    assert back.optimum == inst.optimum


@pytest.mark.parametrize(("new", "message"), [("TP 2", "TP node prize"), ("TP 2 -1", ">= 0"), ("TP 9 1", "outside")])
def test_read_stp_bad_prize_line(tmp_path: Path, new: str, message: str) -> None:
    path = tmp_path / "bad.stp"
    path.write_text(PRIZE_STP.replace("TP 2 10", new))
    with pytest.raises(ValueError, match=message) as info:
        read_stp(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("33D32945 STP File", "HELLO STP File", 1, "header"),
        ("E 2 3 2", "E 2 x 2", 13, "not an integer"),
        ("E 2 3 2", "E 2 9 2", 13, "outside 1..5"),
        ("E 2 3 2", "E 2 3", 13, "E u v weight"),
        ("E 2 3 2", "E 2 3 -2", 13, ">= 0"),
        ("Edges 6", "Edges 7", None, "declared"),
        ("T 3\nEND", "T 3\n", None, "missing END"),
        ("E 2 3 2", "A 2 3 2", 13, "directed"),
    ],
)
def test_read_stp_malformed(tmp_path: Path, old: str, new: str, line: int | None, message: str) -> None:
    path = tmp_path / "bad.stp"
    path.write_text(TINY_STP.replace(old, new, 1))
    with pytest.raises(ValueError, match=message) as info:
        read_stp(path)
    assert str(path) in str(info.value)
    if line is not None:
        assert f"{path}:{line}:" in str(info.value)


@pytest.mark.skipif(not (STEINLIB / "b01.stp").exists(), reason="SteinLib instances not available")
def test_read_stp_b01_and_solve() -> None:
    inst = read_stp(STEINLIB / "b01.stp")
    assert inst.name == "B01"
    assert (inst.graph.number_of_nodes(), inst.graph.number_of_edges(), len(inst.terminals)) == (50, 63, 9)
    assert inst.optimum == 82
    tree = steiner_tree(inst.graph, inst.terminals)
    assert_valid_tree(inst.graph, inst.terminals, tree)
    assert tree.graph["cost"] == 82
    assert tree.graph["method"] == "exact" and tree.graph["gap"] == 0.0


# -- steiner_tree against brute force -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(25))
def test_steiner_tree_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(4, 11)
    g = random_graph(rng, n, rng.choice([0.3, 0.5, 0.8]), integral=seed % 3 != 0)
    comp = max(nx.connected_components(g), key=len)
    g = g.subgraph(comp).copy()
    terminals = rng.sample(sorted(g), k=min(len(g), rng.randint(2, 5)))
    tree = steiner_tree(g, terminals)
    assert_valid_tree(g, terminals, tree)
    assert tree.graph["cost"] == pytest.approx(brute_force_cost(g, terminals))
    assert tree.graph["method"] == "exact"


@st.composite
def small_instances(draw: st.DrawFn) -> tuple[nx.Graph, list[int]]:
    n = draw(st.integers(2, 9))
    pairs = list(itertools.combinations(range(n), 2))
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for u, v in chosen:
        g.add_edge(u, v, weight=draw(st.integers(0, 6)))
    terminals = draw(st.lists(st.integers(0, n - 1), min_size=0, max_size=n, unique=True))
    return g, terminals


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances())
def test_steiner_tree_property(instance: tuple[nx.Graph, list[int]]) -> None:
    g, terminals = instance
    connected = len(terminals) <= 1 or all(nx.has_path(g, terminals[0], t) for t in terminals)
    if not connected:
        with pytest.raises(ValueError, match="not connected"):
            steiner_tree(g, terminals)
        return
    tree = steiner_tree(g, terminals)
    assert_valid_tree(g, terminals, tree)
    expected = brute_force_cost(g, terminals) if len(terminals) > 1 else 0.0
    assert tree.graph["cost"] == pytest.approx(expected)
    assert tree.graph["method"] == "exact"


def test_string_nodes_float_weights_and_default_weight() -> None:
    g = nx.Graph()
    g.add_edge("a", "hub", weight=1.5)
    g.add_edge("b", "hub", weight=1.5)
    g.add_edge("c", "hub", weight=1.5)
    g.add_edge("a", "b", weight=2.0)
    g.add_edge("b", "c", weight=2.0)
    tree = steiner_tree(g, ["a", "b", "c"])
    assert tree.graph["cost"] == pytest.approx(4.0)
    assert "hub" not in tree
    unweighted = nx.cycle_graph(6)
    tree = steiner_tree(unweighted, [0, 3], weight="length")
    assert tree.graph["cost"] == 3.0


# -- time limit fallback ------------------------------------------------------------------------------------


def test_time_limit_fallback_returns_heuristic_tree() -> None:
    rng = random.Random(7)
    g = nx.grid_2d_graph(14, 14)
    for u, v in g.edges:
        g.edges[u, v]["weight"] = rng.randint(1, 100)
    terminals = rng.sample(sorted(g), 25)
    tree = steiner_tree(g, terminals, time_limit_s=0.0)
    assert_valid_tree(g, terminals, tree)
    assert tree.graph["method"] == "heuristic"
    assert tree.graph["gap"] > 0.0
    exact = steiner_tree(g, terminals, time_limit_s=20.0)
    assert exact.graph["method"] == "exact"
    assert exact.graph["cost"] <= tree.graph["cost"]
    assert tree.graph["lower_bound"] <= exact.graph["cost"] + 1e-9


# -- edge cases and errors ----------------------------------------------------------------------------------


def test_zero_and_one_terminal() -> None:
    g = nx.path_graph(4)
    empty = steiner_tree(g, [])
    assert empty.number_of_nodes() == 0 and empty.graph["cost"] == 0.0
    single = steiner_tree(g, [2])
    assert list(single.nodes) == [2] and single.number_of_edges() == 0
    assert single.graph["method"] == "exact" and single.graph["gap"] == 0.0
    dup = steiner_tree(g, [0, 0, 3])
    assert dup.graph["cost"] == 3.0


def test_terminal_not_in_graph() -> None:
    with pytest.raises(ValueError, match=r"not in the graph: \[99\]"):
        steiner_tree(nx.path_graph(3), [0, 99])


def test_unreachable_terminals_are_named() -> None:
    g = nx.Graph([(0, 1), (1, 2), (5, 6)])
    g.add_node(9)
    with pytest.raises(ValueError, match=r"not connected.*\[5, 9\]"):
        steiner_tree(g, [0, 2, 5, 9])


def test_rejects_directed_and_negative_weights() -> None:
    with pytest.raises(ValueError, match="undirected"):
        steiner_tree(nx.DiGraph([(0, 1)]), [0, 1])
    g = nx.Graph()
    g.add_edge(0, 1, weight=-1)
    with pytest.raises(ValueError, match=">= 0"):
        steiner_tree(g, [0, 1])


# -- the MIP phase and HiGHS's warm-start defect ----------------------------------------------------------------


def test_mip_phase_re_solves_without_start_when_highs_returns_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Square 0-1-2-3-0 (weights 1, 1, 1, 5) plus the diagonal 0-2 (weight 3), terminals 0, 2, 3. Trees: 0-1-2
    plus 2-3 costs 3; 0-2, 2-3 costs 4; 3-0 plus 0-1-2 costs 7. The MIP is started from the 4-cost tree
    (edges 0-2, 2-3) and HiGHS is made to return that start (the warm-start defect of
    planner.optimize.highs): the round must run again without the start and return the 3-cost tree."""
    from planner.network.steiner.heuristic import SteinerCore as _Core
    from planner.optimize import steiner as exact
    from planner.optimize.steiner import _DCut

    eu, ev = np.array([0, 1, 2, 3, 0]), np.array([1, 2, 3, 0, 2])
    ew = np.array([1.0, 1.0, 1.0, 5.0, 3.0])
    core = _Core(4, eu, ev, ew, [0, 2, 3])
    model = _DCut(core)
    assert model.solve_lp(None) is not None
    real = exact.plan_defect
    calls: list[str | None] = []

    def first_defective(highs: object, x: np.ndarray, reported: float) -> str | None:
        calls.append("defect" if not calls else real(highs, x, reported))
        return calls[-1]

    monkeypatch.setattr(exact, "plan_defect", first_defective)
    edges, bound, optimal = model.solve_mip(None, {4, 2})
    assert calls == ["defect"]  # the second round ran without the start, so it was not checked again
    assert optimal and edges == {0, 1, 2}
    assert sum(ew[e] for e in edges) == pytest.approx(3.0) and bound == pytest.approx(3.0)
