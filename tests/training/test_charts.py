"""The numbers behind the training charts: plain dicts, finite values only, long series thinned."""

import json

from training.charts import line_chart, loss_chart, thin


def test_a_line_chart_keeps_each_series_its_axes_and_a_title_for_screen_readers() -> None:
    chart = line_chart(
        {"tuned": [(1, 3.0), (2, 2.5), (3, 2.2)], "base": [(1, 3.1), (3, 3.1)]},
        x_label="version",
        y_label="validation perplexity",
    )
    assert [s["name"] for s in chart["series"]] == ["tuned", "base"]
    assert chart["series"][0]["points"] == [(1, 3.0), (2, 2.5), (3, 2.2)]
    assert chart["x_label"] == "version" and chart["y_label"] == "validation perplexity"
    assert chart["title"] == "validation perplexity by version"
    assert json.loads(json.dumps(chart))["kind"] == "line"  # what json_script writes


def test_non_finite_values_are_left_out_and_an_empty_series_goes() -> None:
    chart = line_chart(
        {"loss": [(1, float("nan")), (2, None), (3, 2.0), (4, float("inf"))], "none": []},
        marks=[(1, float("nan"), "nope"), (3, 2.0, "chosen: step 3")],
    )
    assert chart["series"] == [{"name": "loss", "points": [(3, 2.0)]}]
    assert chart["marks"] == [{"x": 3, "y": 2.0, "label": "chosen: step 3"}]
    json.dumps(chart, allow_nan=False)  # JSON has no NaN: the page would not parse it


def test_no_data_gives_no_series() -> None:
    for series in ({}, {"loss": []}, {"loss": [(1, float("nan")), (2, None)]}):
        assert line_chart(series)["series"] == []


def test_long_series_are_thinned_to_what_the_chart_can_show() -> None:
    points = [(i, float(i)) for i in range(5000)]
    kept = thin(points, limit=600)
    assert len(kept) <= 601 and kept[0] == points[0] and kept[-1] == points[-1]
    assert len(line_chart({"loss": points})["series"][0]["points"]) <= 601


def test_the_loss_chart_draws_validation_loss_at_the_checkpoints_that_have_it() -> None:
    points = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.8, "val_loss": 2.9},
              {"step": 3, "loss": 2.6}, {"step": 4, "loss": 2.5, "val_loss": 2.7}]  # fmt: skip
    chart = loss_chart(points)
    assert [s["name"] for s in chart["series"]] == ["training loss", "validation loss"]
    assert chart["series"][1]["points"] == [(2, 2.9), (4, 2.7)]
    # An older run's points have no validation loss: its chart is the training loss alone.
    assert [s["name"] for s in loss_chart(points[:1])["series"]] == ["training loss"]
