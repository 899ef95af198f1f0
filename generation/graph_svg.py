"""Inline SVG for the run inspector: the workflow graph with the path a run took, and a timeline.

Plain functions from names and numbers to an SVG string, like training/charts.py: every label goes
through `escape()` and every coordinate is a number formatted here, so a view may `mark_safe()`
the result. The graph comes from LangGraph's own description (`compile().get_graph()`), passed
in as node ids and (source, target, conditional) edges, so the picture cannot drift from the code.

Layout: plain layers, top to bottom, by breadth-first depth from `__start__`. A node whose every
edge leads back up (revise → guard) is a loop: it sits beside the node it returns to instead of
below it, so the main path stays one straight column.
"""

from collections.abc import Iterable, Sequence

from django.utils.html import escape

Edge = tuple[str, str, bool]  # source, target, conditional
START, END = "__start__", "__end__"
NODE_W, NODE_H, LAYER_GAP, COLUMN_GAP, MARGIN = 120, 36, 34, 60, 16
TAKEN, IDLE, INK, MUTED = "#2f6f5e", "#c5cbd3", "#1f2933", "#616e7c"
DASHED, BOLD = ' stroke-dasharray="6 4"', ' font-weight="600"'


def layers(nodes: Sequence[str], edges: Iterable[Edge]) -> dict[str, tuple[int, int]]:
    """Each node's (layer, column): layer by depth from the start, loops beside their target."""
    edges = list(edges)
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    for source, target, _ in edges:
        successors.setdefault(source, []).append(target)
    depth: dict[str, int] = {}
    frontier = [START] if START in successors else list(nodes[:1])
    for node in frontier:
        depth[node] = 0
    while frontier:
        following = []
        for node in frontier:
            for target in successors.get(node, []):
                if target not in depth:
                    depth[target] = depth[node] + 1
                    following.append(target)
        frontier = following
    for node in nodes:  # unreachable nodes go below everything else
        depth.setdefault(node, max(depth.values(), default=-1) + 1)
    loops = {
        node
        for node, targets in successors.items()
        if targets and node in depth and all(depth[t] < depth[node] for t in targets)
    }
    for node in loops:
        depth[node] = max(depth[t] for t in successors[node])
    # Compact the layers (a loop leaves its own layer empty) and order each one: main path first.
    kept = sorted(set(depth.values()))
    rank = {d: i for i, d in enumerate(kept)}
    order = {n: i for i, n in enumerate(nodes)}
    placed: dict[str, tuple[int, int]] = {}
    for d in kept:
        row = sorted((n for n in depth if depth[n] == d), key=lambda n: (n in loops, order.get(n)))
        for column, node in enumerate(row):
            placed[node] = (rank[d], column)
    return placed


def graph_svg(
    nodes: Sequence[str],
    edges: Sequence[Edge],
    *,
    taken_nodes: Iterable[str] = (),
    taken_edges: Iterable[tuple[str, str]] = (),
    title: str = "The drafting workflow",
) -> str:
    """The graph as SVG; taken nodes and edges drawn solid in the accent colour, the rest grey.
    Conditional edges are dashed."""
    taken_nodes, taken_edges = set(taken_nodes), set(taken_edges)
    placed = layers(nodes, edges)
    columns = max((c for _, c in placed.values()), default=0) + 1
    rows = max((r for r, _ in placed.values()), default=0) + 1
    width = 2 * MARGIN + columns * NODE_W + (columns - 1) * COLUMN_GAP
    height = 2 * MARGIN + rows * NODE_H + (rows - 1) * LAYER_GAP

    def box(node: str) -> tuple[float, float]:  # top-left corner
        row, column = placed[node]
        return MARGIN + column * (NODE_W + COLUMN_GAP), MARGIN + row * (NODE_H + LAYER_GAP)

    parts = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
        f'font-family="system-ui, sans-serif"><title>{escape(title)}</title><defs>'
        + "".join(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>'
            for name, colour in (("taken", TAKEN), ("idle", IDLE))
        )
        + "</defs>"
    ]
    pairs = {(s, t) for s, t, _ in edges}
    for source, target, conditional in edges:
        if source not in placed or target not in placed:
            continue
        x1, y1, x2, y2 = _ends(box(source), box(target), both_ways=(target, source) in pairs)
        taken = (source, target) in taken_edges
        name = "taken" if taken else "idle"
        parts.append(
            f'<line class="edge{" taken" if taken else ""}" data-edge="{escape(source)}-&gt;'
            f'{escape(target)}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{TAKEN if taken else IDLE}" stroke-width="{3 if taken else 1.5}"'
            f'{DASHED if conditional else ""} marker-end="url(#arrow-{name})">'
            f"<title>{escape(source)} → {escape(target)}"
            f"{' (conditional)' if conditional else ''}</title></line>"
        )
    for node in nodes:
        x, y = box(node)
        taken = node in taken_nodes
        terminal = node in (START, END)
        label = node.strip("_") if terminal else node
        parts.append(
            f'<g class="node{" taken" if taken else ""}" data-node="{escape(node)}">'
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" '
            f'rx="{NODE_H / 2 if terminal else 6}" fill="{"#e2f4ec" if taken else "#fff"}" '
            f'stroke="{TAKEN if taken else IDLE}" stroke-width="{2.5 if taken else 1.5}"/>'
            f'<text x="{x + NODE_W / 2}" y="{y + NODE_H / 2 + 5}" text-anchor="middle" '
            f'font-size="14" fill="{INK if taken else MUTED}"'
            f"{BOLD if taken else ''}>{escape(label)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _ends(
    source: tuple[float, float], target: tuple[float, float], *, both_ways: bool
) -> tuple[float, float, float, float]:
    """Where an edge starts and ends: bottom to top between layers, side to side within one.
    Two edges between the same pair (guard ⇄ revise) are drawn apart instead of on top."""
    (sx, sy), (tx, ty) = source, target
    if sy == ty:  # same layer
        offset = (-7 if sx < tx else 7) if both_ways else 0
        y = sy + NODE_H / 2 + offset
        if sx < tx:
            return sx + NODE_W, y, tx, y
        return sx, y, tx + NODE_W, y
    offset = (-12 if sx < tx else 12) if both_ways else 0
    if sy < ty:  # downwards
        return sx + NODE_W / 2 + offset, sy + NODE_H, tx + NODE_W / 2 + offset, ty
    return sx + NODE_W / 2 + offset, sy, tx + NODE_W / 2 + offset, ty + NODE_H


def path_taken(nodes_in_order: Sequence[str], *, finished: bool) -> tuple[list[str], set]:
    """The nodes and edges a run went through, from its steps' nodes in seq order: from the
    start, through each step, to the end once the run finished through its last node."""
    path = [START, *nodes_in_order]
    if finished and nodes_in_order:
        path.append(END)
    return path, set(zip(path, path[1:], strict=False))


def timeline_svg(
    bars: Sequence[tuple[str, float, float]], *, width: int = 640, title: str = "Timeline"
) -> str:
    """One bar per step: (label, start offset s, duration s), on a shared seconds axis."""
    label_w, row_h, top = 110, 22, 8
    if not bars:
        return ""
    total = max((start + length for _, start, length in bars), default=0) or 1.0
    plot = width - label_w - 70
    height = top + row_h * len(bars) + 8
    parts = [
        f'<svg class="timeline-chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" font-family="system-ui, sans-serif">'
        f"<title>{escape(title)}</title>"
    ]
    for i, (label, start, length) in enumerate(bars):
        y = top + i * row_h
        x = label_w + max(start, 0) / total * plot
        w = max(length / total * plot, 1.5)  # a 0 ms step still shows
        parts.append(
            f'<g class="step"><text x="{label_w - 8}" y="{y + 14}" text-anchor="end" '
            f'font-size="12" fill="{INK}">{escape(label)}</text>'
            f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
            f'rx="3" fill="{TAKEN}"><title>{escape(label)}: {length:.2f} s from '
            f"+{start:.2f} s</title></rect>"
            f'<text x="{x + w + 6:.1f}" y="{y + 14}" font-size="11" fill="{MUTED}">'
            f"{length:.2f} s</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
