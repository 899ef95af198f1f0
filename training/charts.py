"""The numbers behind the training pages' line charts: loss curves, checkpoint and version
comparisons.

Plain functions from numbers to a JSON-able dict. The template (training/_chart.html) writes it
with `json_script` next to a <canvas>, which static/js/charts.js draws with Chart.js, and as a
table in a <details> for those who cannot see the canvas. Non-finite values are left out here:
JSON has no NaN, and a chart of one would be wrong anyway.

The drift page's charts are drawn here instead, as SVG geometry for training/_svg_chart.html
(histogram_svg, band_svg): they need no script at all.
"""

import math
from collections.abc import Sequence

Point = tuple[float, float]
MAX_POINTS = 600  # a run logs one point per step; more than the chart has pixels is waste


def line_chart(
    series: dict[str, Sequence[Point]],
    *,
    x_label: str = "step",
    y_label: str = "loss",
    marks: Sequence[tuple[float, float, str]] = (),
    title: str = "",
) -> dict:
    """One line per series that has a point; `marks` circles and labels chosen points (the
    checkpoint a version kept). No series left: `series` is empty and the page says so."""
    kept = [{"name": name, "points": thin(_finite(points))} for name, points in series.items()]
    return {
        "kind": "line",
        "title": title or f"{y_label} by {x_label}",
        "x_label": x_label,
        "y_label": y_label,
        "series": [s for s in kept if s["points"]],
        "marks": [
            {"x": x, "y": y, "label": label}
            for x, y, label in marks
            if _is_finite(x) and _is_finite(y)
        ],
    }


def loss_chart(points: Sequence[dict]) -> dict:
    """A run's training loss at every step, and its validation loss at the checkpoints that
    were scored (runs from before that have no such line)."""
    return line_chart(
        {
            "training loss": [(p["step"], p.get("loss")) for p in points],
            "validation loss": [(p["step"], p["val_loss"]) for p in points if "val_loss" in p],
        },
        y_label="loss",
    )


def thin(points: Sequence[Point], limit: int = MAX_POINTS) -> list[Point]:
    """At most about `limit` points, evenly spaced, always keeping the last one."""
    if len(points) <= limit:
        return list(points)
    every = math.ceil(len(points) / limit)
    kept = list(points[::every])
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def _is_finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _finite(points: Sequence[Point]) -> list[Point]:
    return [(x, y) for x, y in points if _is_finite(x) and _is_finite(y)]


# --- Server-rendered SVG (training/_svg_chart.html): no script, so no canvas to wait for ------

SVG_WIDTH, SVG_HEIGHT = 520, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 12, 12, 40
MAX_X_TICKS = 7


def _plot_box() -> tuple[float, float, float, float]:
    """(left, right, top, bottom) of the plotting area inside the SVG."""
    return PAD_LEFT, SVG_WIDTH - PAD_RIGHT, PAD_TOP, SVG_HEIGHT - PAD_BOTTOM


def _frame(kind: str, title: str, x_label: str, y_label: str) -> dict:
    left, right, top, bottom = _plot_box()
    return {
        "kind": kind,
        "title": title,
        "x_label": x_label,
        "y_label": y_label,
        "width": SVG_WIDTH,
        "height": SVG_HEIGHT,
        "box": {"left": left, "right": right, "top": top, "bottom": bottom},
        "x_mid": round((left + right) / 2, 1),
        "empty": True,
    }


def _y_ticks(low: float, high: float, fmt: str, count: int = 3) -> list[dict]:
    left, _, top, bottom = _plot_box()
    ticks = []
    for i in range(count):
        value = low + (high - low) * i / (count - 1)
        y = bottom - (bottom - top) * i / (count - 1)
        ticks.append({"y": round(y, 1), "label": format(value, fmt)})
    return ticks


def histogram_svg(
    edges: Sequence[float],
    series: dict[str, Sequence[float]],
    *,
    x_label: str,
    y_label: str = "share",
    title: str = "",
) -> dict:
    """Bars side by side in every bin, one colour per series (shares of each series' total);
    each bar carries its own sentence for a tooltip and the table beside the chart."""
    chart = _frame("histogram", title or f"{x_label}: {' vs '.join(series)}", x_label, y_label)
    bins = len(edges) - 1
    values = [v for vs in series.values() for v in vs if _is_finite(v)]
    if bins < 1 or not values:
        return chart
    left, right, top, bottom = _plot_box()
    peak = max(values) or 1.0
    bin_width = (right - left) / bins
    bar_width = bin_width * 0.8 / max(len(series), 1)
    bars, rows = [], []
    for b in range(bins):
        span = f"{edges[b]:.0f}–{edges[b + 1]:.0f}"
        rows.append({"bin": span, "values": [vs[b] for vs in series.values()]})
        for s, (name, shares) in enumerate(series.items()):
            height = (bottom - top) * shares[b] / peak
            bars.append({
                "x": round(left + b * bin_width + bin_width * 0.1 + s * bar_width, 1),
                "y": round(bottom - height, 1),
                "w": round(bar_width, 1),
                "h": round(height, 1),
                "series": s,
                "label": f"{name}, {span} {x_label}: {shares[b]:.0%}",
            })  # fmt: skip
    every = math.ceil((bins + 1) / MAX_X_TICKS)
    x_ticks = [
        {"x": round(left + i * bin_width, 1), "label": f"{edges[i]:.0f}"}
        for i in range(0, bins + 1, every)
    ]
    return {
        **chart,
        "empty": False,
        "bars": bars,
        "rows": rows,
        "series": [{"name": name, "index": i} for i, name in enumerate(series)],
        "x_ticks": x_ticks,
        "y_ticks": _y_ticks(0, peak, ".0%"),
    }


def band_svg(
    points: Sequence[dict],
    *,
    y_label: str,
    title: str = "",
    share: bool = False,
) -> dict:
    """A line through each point's `mean` with its 95% interval (`low`, `high`) as a band,
    points evenly spaced by their `week`. `share`: a 0–1 axis shown as percentages."""
    chart = _frame("band", title or f"{y_label} by week", "ISO week", y_label)
    kept = [p for p in points if _is_finite(p.get("mean"))]
    if not kept:
        return chart
    lows = [p["low"] if _is_finite(p.get("low")) else p["mean"] for p in kept]
    highs = [p["high"] if _is_finite(p.get("high")) else p["mean"] for p in kept]
    floor, ceiling = (0.0, 1.0) if share else (min(lows), max(highs))
    if ceiling - floor < 1e-9:
        floor, ceiling = floor - 0.5, ceiling + 0.5
    left, right, top, bottom = _plot_box()
    step = (right - left) / max(len(kept) - 1, 1)

    def at(i: int, value: float) -> tuple[float, float]:
        x = left + i * step if len(kept) > 1 else (left + right) / 2
        clipped = min(max(value, floor), ceiling)
        return round(x, 1), round(
            bottom - (bottom - top) * (clipped - floor) / (ceiling - floor), 1
        )

    line = [at(i, p["mean"]) for i, p in enumerate(kept)]
    upper = [at(i, v) for i, v in enumerate(highs)]
    lower = [at(i, v) for i, v in reversed(list(enumerate(lows)))]
    fmt = ".0%" if share else ".2f"
    every = math.ceil(len(kept) / MAX_X_TICKS)
    return {
        **chart,
        "empty": False,
        "line": _path(line),
        "band": _path(upper + lower) + " Z",
        "dots": [
            {"x": x, "y": y, "label": _band_label(p, fmt)}
            for (x, y), p in zip(line, kept, strict=True)
        ],
        "x_ticks": [
            {"x": line[i][0], "label": kept[i]["week"]} for i in range(0, len(kept), every)
        ],
        "y_ticks": _y_ticks(floor, ceiling, fmt),
        "rows": [{**p, "text": _band_label(p, fmt)} for p in kept],
    }


def _path(points: Sequence[Point]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x},{y}" for i, (x, y) in enumerate(points))


def _band_label(point: dict, fmt: str) -> str:
    text = f"{point['week']}: {format(point['mean'], fmt)}"
    if _is_finite(point.get("low")) and _is_finite(point.get("high")):
        text += f" ({format(point['low'], fmt)} to {format(point['high'], fmt)})"
    return f"{text}, n = {point.get('n', 0)}"
