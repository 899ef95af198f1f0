"""Small inline SVG charts for the training pages: loss curves, checkpoint and version comparisons.

Plain functions from numbers to an SVG string. Every label goes through `escape()` and every
coordinate is a number we format ourselves, so a view may `mark_safe()` the result. No
JavaScript and no external assets: the chart is drawn by the browser from the page itself.
"""

import math
from collections.abc import Sequence

from django.utils.html import escape

Point = tuple[float, float]
# Colour-blind-safe enough for two or three lines (Okabe–Ito), then it cycles.
PALETTE = ["#2f6f5e", "#d55e00", "#0072b2", "#cc79a7", "#e69f00", "#56b4e9"]
MAX_POINTS = 600  # a run logs one point per step; more than the chart has pixels is waste
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 16, 28, 40


def line_chart(
    series: dict[str, Sequence[Point]],
    *,
    width: int = 640,
    height: int = 220,
    x_label: str = "step",
    y_label: str = "loss",
    marks: Sequence[tuple[float, float, str]] = (),
    title: str = "",
) -> str:
    """One polyline per series, axes with a few ticks, a legend; `marks` circles and labels
    chosen points (the checkpoint a version kept). Non-finite values are left out."""
    clean = {name: _finite(points) for name, points in series.items()}
    clean = {name: points for name, points in clean.items() if points}
    marks = [m for m in marks if _is_finite(m[0]) and _is_finite(m[1])]
    if not clean:
        return empty_chart(width=width, height=min(height, 80), title=title)
    every = [p for points in clean.values() for p in points] + [(x, y) for x, y, _ in marks]
    whole = all(float(x).is_integer() for x, _ in every)  # steps, version numbers
    x_ticks = ticks(min(p[0] for p in every), max(p[0] for p in every), integer=whole)
    y_ticks = ticks(min(p[1] for p in every), max(p[1] for p in every))
    frame = _Frame(width, height, x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1])

    parts = [_open(width, height, title or f"{y_label} by {x_label}")]
    parts += _axes(frame, x_ticks, y_ticks, x_label, y_label)
    for i, (name, points) in enumerate(clean.items()):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in thin(points))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        if len(points) <= 30:  # few points (checkpoints, versions): show each one
            parts += [
                f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3" fill="{colour}"/>'
                for x, y in points
            ]
    for x, y, label in marks:
        cx, cy = frame.x(x), frame.y(y)
        # Near the right edge the label ends at the point instead of overflowing the chart.
        anchor = "end" if cx > frame.right - 60 else "middle"
        parts.append(
            f'<circle class="mark" cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="none" '
            f'stroke="#1f2933" stroke-width="2"><title>{escape(label)}</title></circle>'
            f'<text x="{cx:.1f}" y="{cy - 10:.1f}" text-anchor="{anchor}" font-size="11">'
            f"{escape(label)}</text>"
        )
    parts += _legend(list(clean), width)
    parts.append("</svg>")
    return "".join(parts)


def empty_chart(*, width: int = 640, height: int = 80, title: str = "") -> str:
    return (
        _open(width, height, title or "No data yet", css="chart empty")
        + f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="#fff" '
        f'stroke="#e4e7eb"/><text x="{width / 2:.1f}" y="{height / 2:.1f}" '
        f'text-anchor="middle" fill="#616e7c" font-size="14">No data yet</text></svg>'
    )


def ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """About `count` round tick values covering [low, high] (1, 2, 2.5 or 5 × a power of ten);
    `integer`: whole numbers only (no "step 1.5")."""
    if high < low:
        low, high = high, low
    if high == low:  # one value: give it some room
        spread = 1.0 if integer else abs(low) * 0.1 or 1.0
        low, high = low - spread, high + spread
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    multiples = (1, 2, 2.5, 5, 10)
    if integer:  # whole steps only: 1, 2, 5, 10, 20, 25, 50…
        magnitude = max(1, magnitude)
        multiples = (1, 2, 5, 10) if magnitude < 10 else multiples
    step = next(m * magnitude for m in multiples if m * magnitude >= raw)
    start, end = math.floor(low / step) * step, math.ceil(high / step) * step
    # Multiply rather than add, so float error does not pile up from tick to tick.
    return [round(start + i * step, 10) for i in range(round((end - start) / step) + 1)]


def thin(points: Sequence[Point], limit: int = MAX_POINTS) -> list[Point]:
    """At most about `limit` points, evenly spaced, always keeping the last one."""
    if len(points) <= limit:
        return list(points)
    every = math.ceil(len(points) / limit)
    kept = list(points[::every])
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def number(value: float) -> str:
    """A tick label: short, no float noise (0.30000000000000004 → 0.3, 1e-05 stays)."""
    if value == 0:
        return "0"
    if abs(value) >= 10000 or abs(value) < 0.001:
        return f"{value:.2g}"
    return f"{value:.6g}"


class _Frame:
    """Maps data coordinates to the plot area inside the padding."""

    def __init__(self, width: int, height: int, x0: float, x1: float, y0: float, y1: float):
        self.left, self.right = PAD_LEFT, width - PAD_RIGHT
        self.top, self.bottom = PAD_TOP, height - PAD_BOTTOM
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)


def _open(width: int, height: int, title: str, css: str = "chart") -> str:
    return (
        f'<svg class="{css}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
        f'font-family="system-ui, sans-serif"><title>{escape(title)}</title>'
    )


def _axes(
    frame: _Frame, x_ticks: list[float], y_ticks: list[float], x_label: str, y_label: str
) -> list[str]:
    parts = [
        f'<rect x="{frame.left}" y="{frame.top}" width="{frame.right - frame.left}" '
        f'height="{frame.bottom - frame.top}" fill="#fff" stroke="#e4e7eb"/>'
    ]
    for value in y_ticks:
        y = frame.y(value)
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#eef0f3"/><text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#616e7c">{number(value)}</text>'
        )
    for value in x_ticks:
        x = frame.x(value)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.bottom}" y2="{frame.bottom + 4}" '
            f'stroke="#616e7c"/><text x="{x:.1f}" y="{frame.bottom + 16}" text-anchor="middle" '
            f'font-size="11" fill="#616e7c">{number(value)}</text>'
        )
    middle = (frame.top + frame.bottom) / 2
    parts.append(
        f'<text x="{(frame.left + frame.right) / 2:.1f}" y="{frame.bottom + 34}" '
        f'text-anchor="middle" font-size="12" fill="#1f2933">{escape(x_label)}</text>'
        f'<text x="14" y="{middle:.1f}" text-anchor="middle" font-size="12" fill="#1f2933" '
        f'transform="rotate(-90 14 {middle:.1f})">{escape(y_label)}</text>'
    )
    return parts


def _legend(names: list[str], width: int) -> list[str]:
    parts, x = [], float(width - PAD_RIGHT)
    # Right-aligned, last series rightmost; about 7 px per character of label.
    for i in reversed(range(len(names))):
        label = names[i]
        x -= 22 + 7 * len(label)
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<g class="legend"><line x1="{x:.1f}" x2="{x + 14:.1f}" y1="12" y2="12" '
            f'stroke="{colour}" stroke-width="3"/><text x="{x + 18:.1f}" y="16" font-size="12" '
            f'fill="#1f2933">{escape(label)}</text></g>'
        )
    return parts


def _is_finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _finite(points: Sequence[Point]) -> list[Point]:
    return [(float(x), float(y)) for x, y in points if _is_finite(x) and _is_finite(y)]
