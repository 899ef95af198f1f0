"""The inspector's drawings: layers from LangGraph's own graph, the path taken, the timeline."""

from generation import graph_svg
from generation.views import workflow_description

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


def test_the_workflow_is_described_by_langgraph_itself() -> None:
    nodes, edges, mermaid = workflow_description()
    assert nodes == NODES
    assert sorted(edges) == sorted(EDGES)
    assert "graph TD;" in mermaid and "guard -.-> revise;" in mermaid


def test_layers_put_the_main_path_in_one_column_and_revise_beside_guard() -> None:
    placed = graph_svg.layers(NODES, EDGES)
    main = ["__start__", "retrieve", "draft", "guard", "finalise", "__end__"]
    assert [placed[n] for n in main] == [(row, 0) for row in range(6)]
    assert placed["revise"] == (placed["guard"][0], 1)


def test_the_path_taken_comes_from_the_steps_in_order() -> None:
    path, edges = graph_svg.path_taken(
        ["retrieve", "draft", "guard", "revise", "guard", "finalise"], finished=True
    )
    assert path[0] == "__start__" and path[-1] == "__end__"
    assert ("guard", "revise") in edges and ("revise", "guard") in edges
    assert ("guard", "finalise") in edges and ("draft", "revise") not in edges
    # A run still going (or one that failed mid-way) has not reached the end.
    path, edges = graph_svg.path_taken(["retrieve", "draft"], finished=False)
    assert path == ["__start__", "retrieve", "draft"] and ("draft", "__end__") not in edges


def test_the_graph_svg_highlights_the_path_and_dashes_conditional_edges() -> None:
    path, taken = graph_svg.path_taken(["retrieve", "draft", "guard", "finalise"], finished=True)
    svg = graph_svg.graph_svg(NODES, EDGES, taken_nodes=path, taken_edges=taken)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('<g class="node taken"') == 6 and '<g class="node" data-node="revise">' in svg
    assert svg.count('class="edge taken"') == 5
    assert svg.count('stroke-dasharray="6 4"') == 2  # guard → revise, guard → finalise


def test_labels_are_escaped() -> None:
    svg = graph_svg.graph_svg(["<a>", "b&c"], [("<a>", "b&c", False)], taken_nodes=["<a>"])
    assert "<a>" not in svg and "&lt;a&gt;" in svg and "b&amp;c" in svg
    timeline = graph_svg.timeline_svg([("<x>", 0.0, 1.0)])
    assert "<x>" not in timeline and "&lt;x&gt;" in timeline


def test_the_timeline_scales_bars_to_the_longest_run() -> None:
    svg = graph_svg.timeline_svg([("retrieve", 0.0, 1.0), ("draft", 1.0, 3.0)], width=640)
    assert svg.count('<rect class="bar"') == 2
    assert graph_svg.timeline_svg([]) == ""
