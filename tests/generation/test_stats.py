"""The dashboard's intervals: Wilson for rates, normal for means, None where data is too thin."""

import pytest

from generation.stats import Mean, Rate, _mean


def test_a_rate_without_any_count_has_no_value_and_no_interval() -> None:
    assert Rate(0, 0).value is None and Rate(0, 0).interval is None


@pytest.mark.parametrize(
    ("hits", "total", "low", "high"),
    [
        # The figures of the hand-written Wilson formula this replaced, to six places.
        (3, 4, 0.300642, 0.954413),
        (1, 3, 0.061492, 0.792340),
        (50, 100, 0.403832, 0.596168),
        (0, 5, 0.0, 0.434482),  # none: the interval still leaves room above 0
        (5, 5, 0.565518, 1.0),  # all: and below 1
        (0, 1, 0.0, 0.793451),
    ],
)
def test_a_rate_has_the_wilson_interval(hits: int, total: int, low: float, high: float) -> None:
    interval = Rate(hits, total).interval
    assert interval == pytest.approx((low, high), abs=1e-6)
    assert all(type(bound) is float for bound in interval)  # not numpy's, for templates and JSON


def test_a_mean_needs_two_values_for_a_spread_and_an_interval() -> None:
    assert _mean([]) == Mean(None, None, 0)
    assert _mean([0.4]) == Mean(0.4, None, 1) and _mean([0.4]).interval is None


def test_a_mean_has_the_sample_sd_and_a_normal_interval() -> None:
    mean = _mean([1.0, 2.0])
    assert (mean.value, mean.n) == (1.5, 2) and mean.sd == pytest.approx(0.707107, abs=1e-6)
    assert mean.interval == pytest.approx((0.520018, 2.479982), abs=1e-6)
