"""The inspector's graph: LangGraph's own description, the path taken, and the Mermaid lines that
highlight it."""

import re

from generation import graph
from generation.graph import workflow_description

NODES = ["__start__", "retrieve", "draft", "guard", "revise", "finalise", "__end__"]
EDGES = [
    ("__start__", "retrieve", False),
    ("draft", "guard", False),
    ("guard", "finalise", True),
    ("guard", "revise", True),
    ("retrieve", "draft", False),
    ("revise", "guard", False),
    ("finalise", "__end__", False),
]
# An edge line of draw_mermaid(): "a --> b;", "a -.-> b;", with a label "a -. &nbsp;x&nbsp; .-> b;".
EDGE_LINE = re.compile(r"^\t(\S+) (?:-->|-\.->|-\. .* \.->) (\S+);$", re.MULTILINE)


def test_the_workflow_is_described_by_langgraph_itself() -> None:
    nodes, edges, mermaid = workflow_description()
    assert nodes == NODES
    assert sorted(edges) == sorted(EDGES)
    assert "graph TD;" in mermaid and "guard -.-> revise;" in mermaid


def test_the_mermaid_text_lists_the_edges_in_the_order_linkstyle_counts_them() -> None:
    nodes, edges, mermaid = workflow_description()
    listed = EDGE_LINE.findall(mermaid)
    assert listed == [(source, target) for source, target, _ in edges]


def test_the_path_taken_comes_from_the_steps_in_order() -> None:
    path, edges = graph.path_taken(
        ["retrieve", "draft", "guard", "revise", "guard", "finalise"], finished=True
    )
    assert path[0] == "__start__" and path[-1] == "__end__"
    assert ("guard", "revise") in edges and ("revise", "guard") in edges
    assert ("guard", "finalise") in edges and ("draft", "revise") not in edges
    # A run still going (or one that failed mid-way) has not reached the end.
    path, edges = graph.path_taken(["retrieve", "draft"], finished=False)
    assert path == ["__start__", "retrieve", "draft"] and ("draft", "__end__") not in edges


def test_the_path_taken_is_highlighted_with_a_class_and_link_styles() -> None:
    nodes, edges, mermaid = workflow_description()
    path, taken = graph.path_taken(["retrieve", "draft", "guard", "finalise"], finished=True)
    text = graph.highlighted(mermaid, nodes, edges, taken_nodes=path, taken_edges=taken)
    assert text.startswith(mermaid.rstrip("\n"))  # LangGraph's text, only added to
    assert "\tclass __start__,retrieve,draft,guard,finalise,__end__ taken\n" in text
    # Edges by their place in the text: 0 start→retrieve, 1 draft→guard, 2 guard→finalise,
    # 4 retrieve→draft, 6 finalise→end; not 3 guard→revise nor 5 revise→guard.
    assert f"\tlinkStyle 0,1,2,4,6 {graph.TAKEN_EDGE}\n" in text


def test_a_run_with_no_steps_highlights_only_the_start() -> None:
    path, taken = graph.path_taken([], finished=False)
    text = graph.highlighted("graph TD;\n", NODES, EDGES, taken_nodes=path, taken_edges=taken)
    assert "\tclass __start__ taken" in text and "linkStyle" not in text


def test_names_that_are_not_nodes_of_the_graph_never_reach_the_mermaid_text() -> None:
    # A step's node comes from the database; Mermaid syntax in it must not become syntax.
    bad = 'guard;\n\tclick guard "javascript:alert(1)"'
    path, taken = graph.path_taken(["retrieve", bad], finished=True)
    text = graph.highlighted("graph TD;\n", NODES, EDGES, taken_nodes=path, taken_edges=taken)
    assert "javascript" not in text and "click" not in text
    assert "\tclass __start__,retrieve,__end__ taken" in text
    assert f"\tlinkStyle 0 {graph.TAKEN_EDGE}" in text  # start→retrieve only
