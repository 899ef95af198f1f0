"""The inline SVG charts: plain functions from numbers to markup, with every label escaped."""

import re
import xml.etree.ElementTree as ET

from training.charts import empty_chart, line_chart, number, thin, ticks

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is well formed


def test_a_line_chart_draws_one_polyline_per_series_with_a_legend() -> None:
    svg = line_chart(
        {"tuned": [(1, 3.0), (2, 2.5), (3, 2.2)], "base": [(1, 3.1), (3, 3.1)]},
        x_label="version",
        y_label="validation perplexity",
    )
    root = parse(svg)
    polylines = root.findall(f"{SVG}polyline")
    assert len(polylines) == 2
    assert len(polylines[0].get("points").split()) == 3
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"tuned", "base", "version", "validation perplexity"} <= set(texts)


def test_points_fall_inside_the_plot_and_lower_values_sit_lower() -> None:
    root = parse(line_chart({"loss": [(0, 1.0), (10, 3.0)]}, width=400, height=200))
    (x0, y0), (x1, y1) = [
        tuple(map(float, p.split(","))) for p in root.find(f"{SVG}polyline").get("points").split()
    ]
    assert 0 < x0 < x1 < 400 and 0 < y1 < y0 < 200  # SVG's y grows downwards


def test_labels_are_escaped() -> None:
    svg = line_chart(
        {"<script>alert(1)</script>": [(1, 1.0), (2, 2.0)]},
        x_label="a & b",
        marks=[(2, 2.0, '"chosen"')],
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "a &amp; b" in svg
    parse(svg)  # still well-formed XML


def test_no_data_gives_a_small_no_data_yet_chart() -> None:
    for series in ({}, {"loss": []}, {"loss": [(1, float("nan")), (2, None)]}):
        svg = line_chart(series)
        assert "No data yet" in svg and "<polyline" not in svg
        parse(svg)
    assert "No data yet" in empty_chart(width=100, height=50)


def test_a_single_point_gets_a_range_around_it() -> None:
    root = parse(line_chart({"loss": [(5, 2.0)]}))
    assert root.find(f"{SVG}polyline") is not None
    assert len(root.findall(f"{SVG}circle")) == 1


def test_marks_circle_the_chosen_point() -> None:
    svg = line_chart({"ppl": [(10, 15.9), (20, 14.2)]}, marks=[(20, 14.2, "step 20")])
    assert 'class="mark"' in svg and "step 20" in svg


def test_ticks_are_round_and_cover_the_range() -> None:
    assert ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1]
    values = ticks(2.31, 2.37)
    assert values[0] <= 2.31 and values[-1] >= 2.37 and len(values) <= 7
    assert ticks(1, 7, integer=True) == [0, 2, 4, 6, 8]  # no "step 1.5"
    assert all(float(v).is_integer() for v in ticks(1, 3, integer=True))


def test_long_series_are_thinned_to_what_the_chart_can_show() -> None:
    points = [(float(i), float(i)) for i in range(5000)]
    kept = thin(points, limit=600)
    assert len(kept) <= 601 and kept[0] == points[0] and kept[-1] == points[-1]
    svg = line_chart({"loss": points})
    assert len(re.search(r'points="([^"]*)"', svg).group(1).split()) <= 601


def test_tick_labels_have_no_float_noise() -> None:
    assert number(0.1 + 0.2) == "0.3" and number(2e-5) == "2e-05" and number(0) == "0"
