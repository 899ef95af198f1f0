"""The inspector's workflow graph: LangGraph's own Mermaid text, with the path a run took styled.

LangGraph describes the compiled graph (`compile().get_graph()`: nodes, edges and
`draw_mermaid()`), so the picture cannot drift from the code; mermaid draws the text in the
browser (static/js/graph.js). All that is ours is which nodes and edges a run went through and
the few Mermaid lines that highlight them.
"""

from collections.abc import Iterable, Sequence
from functools import cache

Edge = tuple[str, str, bool]  # source, target, conditional
START, END = "__start__", "__end__"
TAKEN = "#2f6f5e"  # app.css --accent
TAKEN_NODE = f"fill:#e2f4ec,stroke:{TAKEN},stroke-width:2.5px,color:#1f2933,font-weight:600"
TAKEN_EDGE = f"stroke:{TAKEN},stroke-width:3px"


def path_taken(nodes_in_order: Sequence[str], *, finished: bool) -> tuple[list[str], set]:
    """The nodes and edges a run went through, from its steps' nodes in seq order: from the
    start, through each step, to the end once the run finished through its last node."""
    path = [START, *nodes_in_order]
    if finished and nodes_in_order:
        path.append(END)
    return path, set(zip(path, path[1:], strict=False))


def highlighted(
    mermaid: str,
    nodes: Sequence[str],
    edges: Sequence[Edge],
    *,
    taken_nodes: Iterable[str],
    taken_edges: Iterable[tuple[str, str]],
) -> str:
    """LangGraph's Mermaid text plus a `taken` class on the nodes and a `linkStyle` on the edges
    a run went through.

    Mermaid numbers edges in the order the text lists them, and LangGraph's `draw_mermaid()`
    lists a flat graph's edges in the order of `get_graph().edges`: `edges` must be that list
    (tests/generation/test_graph.py checks it). Only names that are nodes of the graph are
    written, so nothing a run recorded reaches the Mermaid source as syntax.
    """
    taken_nodes, taken_edges = set(taken_nodes), set(taken_edges)
    lines = [mermaid.rstrip("\n"), f"\tclassDef taken {TAKEN_NODE}"]
    names = [node for node in nodes if node in taken_nodes]
    if names:
        lines.append(f"\tclass {','.join(names)} taken")
    links = [
        str(i) for i, (source, target, _) in enumerate(edges) if (source, target) in taken_edges
    ]
    if links:
        lines.append(f"\tlinkStyle {','.join(links)} {TAKEN_EDGE}")
    return "\n".join(lines) + "\n"


@cache
def workflow_description() -> tuple[list[str], list[Edge], str]:
    """LangGraph's own nodes, edges and Mermaid text for the workflow, built once per process
    (imported here, not at the top: the web process must not load langgraph until asked)."""
    from generation.workflow import Steps, build_graph, mermaid

    def unused(*args: object) -> None:
        raise AssertionError("The inspector's graph is drawn, never run.")

    class Silent:
        def record(self, node: str, **kwargs: object) -> None:
            pass

    workflow = build_graph(Steps(unused, unused, unused, unused), Silent())
    drawn = workflow.compile().get_graph()
    edges = [(e.source, e.target, bool(e.conditional)) for e in drawn.edges]
    return list(drawn.nodes), edges, mermaid(workflow)
