"""Drift statistics (training/drift.py) on generated corpora: one drawn like the reference does
not drift, a shifted one (longer posts, another topic's words) drifts on every statistic, and
samples too small say so instead of giving a number. Plain Python: no database.

Embeddings here are hashed bags of words (scikit-learn's HashingVectorizer): like a sentence
model's, they move with the topic, and they cost nothing to make.
"""

from datetime import datetime

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from training import charts, drift

GARDEN = "soil compost seedlings tomato mulch pruning roses watering harvest beds weeds shade"
MONEY = "budget savings interest mortgage pension invoice taxes stocks dividend loan credit rent"
COMMON = "the a of and to in is it that for on with as this was we you are be"
CONFIG = drift.DriftConfig()


def corpus(n: int, *, topic: str = GARDEN, words: int = 200, seed: int) -> list[str]:
    """`n` posts of about `words` words: four in ten from the topic, the rest common words."""
    rng = np.random.default_rng(seed)
    topic_words, common = topic.split(), COMMON.split()
    return [
        " ".join(
            rng.choice(topic_words) if rng.random() < 0.4 else rng.choice(common)
            for _ in range(max(20, int(rng.normal(words, words / 5))))
        )
        for _ in range(n)
    ]


def embed(texts: list[str]) -> np.ndarray:
    hashed = HashingVectorizer(n_features=256, token_pattern=drift.WORD_PATTERN)
    return hashed.transform(texts).toarray()


def compare(reference: list[str], current: list[str], **kwargs: object) -> drift.Part:
    return drift.compare(
        "corpus",
        reference=reference,
        current=current,
        reference_vectors=embed(reference),
        current_vectors=embed(current),
        config=CONFIG,
        **kwargs,
    )


def verdicts(part: drift.Part) -> dict[str, bool | None]:
    return {s.name: s.drifted for s in part.statistics}


STATISTICS = ["length", "vocabulary", "new_words", "centroid", "classifier"]


def test_a_corpus_drawn_like_the_reference_does_not_drift() -> None:
    part = compare(corpus(60, seed=1), corpus(40, seed=2))
    assert verdicts(part) == dict.fromkeys(STATISTICS, False)
    assert part.drifted is False


def test_longer_posts_on_another_topic_drift_on_every_statistic() -> None:
    part = compare(corpus(60, seed=1), corpus(40, topic=MONEY, words=400, seed=2))
    assert verdicts(part) == dict.fromkeys(STATISTICS, True)
    assert part.drifted is True
    by_name = {s.name: s for s in part.statistics}
    assert by_name["length"].p_value < by_name["length"].threshold
    assert by_name["classifier"].value > by_name["classifier"].threshold >= 0.55
    # Every money word is new to a gardening reference: four in ten of the current words.
    assert by_name["new_words"].value == pytest.approx(0.4, abs=0.05)
    assert by_name["centroid"].value > by_name["centroid"].threshold > 0


def test_longer_posts_on_the_same_topic_drift_on_length_not_vocabulary() -> None:
    part = compare(corpus(60, seed=1), corpus(40, words=400, seed=2))
    found = verdicts(part)
    assert found["length"] is True
    assert found["vocabulary"] is False and found["new_words"] is False


def test_samples_below_the_minimum_say_not_enough_to_compare() -> None:
    part = compare(corpus(60, seed=1), corpus(3, topic=MONEY, seed=2))
    assert part.drifted is None
    for statistic in part.statistics:
        assert statistic.drifted is None and statistic.value is None
        assert statistic.note.startswith("Not enough to compare: 60 reference and 3 current")


def test_requests_leave_the_length_test_out() -> None:
    part = compare(corpus(20, seed=1), corpus(20, seed=2), lengths=False)
    assert [s.name for s in part.statistics] == STATISTICS[1:]
    assert part.histogram is None


def test_the_tests_share_alpha() -> None:
    # Five tests on the corpus: each at a fifth of alpha (Bonferroni), so one false alarm in
    # twenty reports, not one in four.
    part = compare(corpus(60, seed=1), corpus(40, seed=2))
    assert part.statistics[0].threshold == pytest.approx(CONFIG.alpha / 5)


def test_the_classifier_threshold_rises_above_055_for_small_samples() -> None:
    small = np.r_[np.zeros(12), np.ones(12)]
    large = np.r_[np.zeros(400), np.ones(400)]
    assert drift.random_classifier_auc(small, quantile=0.99) > 0.7
    assert drift.random_classifier_auc(large, quantile=0.99) < 0.6


def test_the_length_histogram_shares_its_bins_and_sums_to_one_a_side() -> None:
    histogram = drift.length_histogram([100, 120, 140], [300, 320])
    assert len(histogram["edges"]) == drift.HISTOGRAM_BINS + 1
    assert sum(histogram["reference"]) == pytest.approx(1)
    assert sum(histogram["current"]) == pytest.approx(1)


def test_weeks_are_iso_weeks_in_order() -> None:
    points = [
        (datetime(2025, 1, 6), 0.5),  # noqa: DTZ001 - a calendar date, no moment
        (datetime(2024, 12, 30), 0.25),  # noqa: DTZ001 - ISO week 1 of 2025 starts here
        (datetime(2024, 12, 29), 1.0),  # noqa: DTZ001
        (datetime(2025, 1, 7), None),  # noqa: DTZ001 - no score: left out
    ]
    assert drift.by_week(points) == {"2024-W52": [1.0], "2025-W01": [0.25], "2025-W02": [0.5]}


# --- The drift page's SVG charts (training/charts.py)


def test_the_histogram_draws_one_bar_per_bin_and_side_within_the_plot() -> None:
    chart = charts.histogram_svg([0, 100, 200], {"training": [0.5, 0.5], "new": [0.0, 1.0]},
                                 x_label="words")  # fmt: skip
    assert not chart["empty"] and len(chart["bars"]) == 4
    left, right, top, bottom = charts._plot_box()
    for bar in chart["bars"]:
        assert left <= bar["x"] and bar["x"] + bar["w"] <= right
        assert top <= bar["y"] and bar["y"] + bar["h"] == pytest.approx(bottom, abs=0.2)
    assert chart["bars"][3]["label"] == "new, 100–200 words: 100%"


def test_the_band_chart_draws_the_interval_around_the_mean() -> None:
    points = [
        {"week": "2025-W01", "mean": 0.5, "low": 0.4, "high": 0.6, "n": 10},
        {"week": "2025-W02", "mean": 0.7, "low": None, "high": None, "n": 1},
    ]
    chart = charts.band_svg(points, y_label="Acceptance", share=True)
    assert chart["line"].startswith("M") and chart["band"].endswith("Z")
    assert [d["label"] for d in chart["dots"]] == [
        "2025-W01: 50% (40% to 60%), n = 10",
        "2025-W02: 70%, n = 1",
    ]
    assert charts.band_svg([], y_label="Grounding")["empty"]
