"""The numbers behind the training pages' line charts: loss curves, checkpoint and version
comparisons.

Plain functions from numbers to a JSON-able dict. The template (training/_chart.html) writes it
with `json_script` next to a <canvas>, which static/js/charts.js draws with Chart.js, and as a
table in a <details> for those who cannot see the canvas. Non-finite values are left out here:
JSON has no NaN, and a chart of one would be wrong anyway.
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
