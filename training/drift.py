"""Drift statistics: how far what a channel sees now has moved from what its model trained on.

Plain Python (numpy, scipy, scikit-learn; no Django), so a notebook or a benchmark can run them
on any two lists of texts. training/services/drift.py loads the texts, embeds them, adds the
behaviour per week and stores the result as a DriftReport.

Each statistic has a value, a threshold and a verdict:
- length: two-sample Kolmogorov–Smirnov test on word counts (drift: p below the test's alpha);
- vocabulary: Jensen–Shannon distance between the two word distributions, and the share of the
  current words that the reference never uses;
- topic: cosine distance between the two embedding centroids;
- domain classifier, as Evidently tests text: a logistic regression learns to tell reference
  from current embeddings; drift when its cross-validated ROC AUC is above 0.55, or, below 1000
  texts, above what a random classifier reaches on as many (Evidently's small-sample rule).

Vocabulary and centroid are permutation tests: the same number for random re-splits of the
pooled texts is the threshold. Sparse vocabularies make both numbers large for two small samples
of one distribution, so a fixed threshold would cry drift on every small channel.
A part's tests share one alpha (Bonferroni: each of k tests uses alpha / k), so a part drifts by
chance about alpha of the time, not k times that. Below `min_items` texts on either side a
statistic says "not enough to compare" instead of a number.
"""

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np

# Words: runs of letters (digits, markup and punctuation are not vocabulary).
WORD_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"
EVIDENTLY_LARGE_SAMPLE = 1000  # from here on Evidently trusts the fixed AUC threshold alone
RANDOM_CLASSIFIER_DRAWS = 1000
HISTOGRAM_BINS = 12


@dataclass(frozen=True)
class DriftConfig:
    alpha: float = 0.05  # a part's chance of a false alarm, shared by its tests
    auc_threshold: float = 0.55  # Evidently's default for its text drift
    min_items: int = 10  # per side; the classifier's 5-fold cross-validation needs 5
    permutations: int = 500
    seed: int = 0


@dataclass(frozen=True)
class Statistic:
    """One test's outcome. `drifted` None: not enough to compare (`note` says why)."""

    name: str  # length | vocabulary | new_words | centroid | classifier
    label: str
    method: str
    reference_n: int
    current_n: int
    value: float | None = None
    threshold: float | None = None
    # "p_below": drift when p_value < threshold; "above": when value > threshold.
    rule: str = "above"
    p_value: float | None = None
    drifted: bool | None = None
    note: str = ""
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Part:
    """A comparison of two sets of texts: the corpus, or the requests."""

    name: str
    reference_n: int
    current_n: int
    statistics: list[Statistic]
    histogram: dict | None = None  # word counts, reference vs current (length_histogram)

    @property
    def drifted(self) -> bool | None:
        """True when any statistic drifted; None when none could compare."""
        verdicts = [s.drifted for s in self.statistics if s.drifted is not None]
        return any(verdicts) if verdicts else None

    def as_dict(self) -> dict:
        return {**asdict(self), "drifted": self.drifted}


def words(text: str) -> int:
    return len(text.split())


def compare(
    name: str,
    *,
    reference: Sequence[str],
    current: Sequence[str],
    reference_vectors: np.ndarray,
    current_vectors: np.ndarray,
    config: DriftConfig,
    lengths: bool = True,
) -> Part:
    """Every statistic of one part; `lengths` False leaves the length test out (requests are
    briefs, the reference titles and excerpts: their lengths say nothing about topic)."""
    ref_words, cur_words = [words(t) for t in reference], [words(t) for t in current]
    tests = 4 + lengths
    shared = {"alpha": config.alpha / tests, "config": config}  # each test's Bonferroni share
    statistics = [length_drift(ref_words, cur_words, **shared)] if lengths else []
    statistics += vocabulary_drift(reference, current, **shared)
    statistics.append(centroid_drift(reference_vectors, current_vectors, **shared))
    statistics.append(classifier_drift(reference_vectors, current_vectors, **shared))
    histogram = None
    if lengths and reference and current:
        histogram = length_histogram(ref_words, cur_words)
    return Part(name, len(reference), len(current), statistics, histogram)


def _too_few(n_reference: int, n_current: int, config: DriftConfig) -> str:
    if min(n_reference, n_current) >= config.min_items:
        return ""
    return (
        f"Not enough to compare: {n_reference} reference and {n_current} current "
        f"(at least {config.min_items} of each)."
    )


def length_drift(
    reference: Sequence[int], current: Sequence[int], *, alpha: float, config: DriftConfig
) -> Statistic:
    """Kolmogorov–Smirnov on word counts: are the two lengths drawn from one distribution?"""
    base = {"name": "length", "label": "Length (words)", "method": "Kolmogorov–Smirnov test",
            "reference_n": len(reference), "current_n": len(current), "rule": "p_below",
            "threshold": alpha}  # fmt: skip
    if note := _too_few(len(reference), len(current), config):
        return Statistic(**base, note=note)
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current)
    return Statistic(
        **base,
        value=float(result.statistic),
        p_value=float(result.pvalue),
        drifted=bool(result.pvalue < alpha),
        detail={
            "reference_median": float(np.median(reference)),
            "current_median": float(np.median(current)),
        },
    )


def vocabulary_drift(
    reference: Sequence[str], current: Sequence[str], *, alpha: float, config: DriftConfig
) -> list[Statistic]:
    """Jensen–Shannon distance of the word distributions (0 same, 1 disjoint) and the share of
    current words the reference never uses, each against random re-splits of the pooled texts."""
    n_ref, n_cur = len(reference), len(current)
    bases = [
        {"name": "vocabulary", "label": "Vocabulary", "reference_n": n_ref, "current_n": n_cur,
         "method": "Jensen–Shannon distance of word frequencies, permutation test"},
        {"name": "new_words", "label": "New words", "reference_n": n_ref, "current_n": n_cur,
         "method": "Share of current words the reference never uses, permutation test"},
    ]  # fmt: skip
    note = _too_few(n_ref, n_cur, config)
    counts = None if note else _word_counts([*reference, *current])
    if counts is None or not _has_words(counts, n_ref):
        note = note or "Not enough to compare: one side has no words."
        return [Statistic(**base, note=note) for base in bases]
    from scipy.spatial.distance import jensenshannon

    def both(is_current: np.ndarray) -> tuple[float, float]:
        cur = counts.T @ is_current
        ref = counts.T @ (1.0 - is_current)
        return float(jensenshannon(ref, cur, base=2)), float(cur[ref == 0].sum() / cur.sum())

    is_current = np.r_[np.zeros(n_ref), np.ones(n_cur)]
    observed = both(is_current)
    null = _permuted(is_current, both, alpha=alpha, config=config)
    return [
        _permutation_statistic(base, observed[i], null[:, i], alpha) for i, base in enumerate(bases)
    ]


def _word_counts(texts: Sequence[str]):  # noqa: ANN202 - a scipy sparse matrix, or None
    from sklearn.feature_extraction.text import CountVectorizer

    try:
        return CountVectorizer(token_pattern=WORD_PATTERN).fit_transform(texts).tocsr()
    except ValueError:  # "empty vocabulary": no text holds a word
        return None


def _has_words(counts, n_reference: int) -> bool:  # noqa: ANN001
    per_text = np.asarray(counts.sum(axis=1)).ravel()
    return bool(per_text[:n_reference].sum() and per_text[n_reference:].sum())


def centroid_drift(
    reference: np.ndarray, current: np.ndarray, *, alpha: float, config: DriftConfig
) -> Statistic:
    """Cosine distance between the mean embeddings: has the topic moved?"""
    base = {"name": "centroid", "label": "Topic (embedding centroid)",
            "method": "Cosine distance of the embedding centroids, permutation test",
            "reference_n": len(reference), "current_n": len(current)}  # fmt: skip
    if note := _too_few(len(reference), len(current), config):
        return Statistic(**base, note=note)
    pooled = np.vstack([reference, current]).astype(np.float64)
    total = pooled.sum(axis=0)

    def distance(is_current: np.ndarray) -> tuple[float]:
        n_cur = is_current.sum()
        cur = (is_current @ pooled) / n_cur
        ref = (total - is_current @ pooled) / (len(pooled) - n_cur)
        return (_cosine_distance(ref, cur),)

    is_current = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    null = _permuted(is_current, distance, alpha=alpha, config=config)
    return _permutation_statistic(base, distance(is_current)[0], null[:, 0], alpha)


def _cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return float(1 - a @ b / norms) if norms else 0.0


def _permuted(
    is_current: np.ndarray,
    statistics: Callable[[np.ndarray], tuple[float, ...]],
    *,
    alpha: float,
    config: DriftConfig,
) -> np.ndarray:
    """The statistics for random re-splits that keep both sizes: one row per permutation. At
    least 4 / alpha of them, so that a p-value below alpha is reachable at all."""
    rng = np.random.default_rng(config.seed)
    count = max(config.permutations, math.ceil(4 / alpha))
    return np.array([statistics(rng.permutation(is_current)) for _ in range(count)])


def _permutation_statistic(
    base: dict, observed: float, null: np.ndarray, alpha: float
) -> Statistic:
    p_value = (1 + int((null >= observed).sum())) / (1 + len(null))
    return Statistic(
        **base,
        value=observed,
        # The value a random split exceeds with chance alpha: drift above it.
        threshold=float(np.quantile(null, 1 - alpha)),
        p_value=p_value,
        drifted=bool(p_value < alpha),
        detail={"random_split_mean": float(null.mean()), "permutations": len(null)},
    )


def classifier_drift(
    reference: np.ndarray, current: np.ndarray, *, alpha: float, config: DriftConfig
) -> Statistic:
    """Evidently's text drift test: can a classifier tell the two sets of embeddings apart?"""
    base = {"name": "classifier", "label": "Domain classifier",
            "method": "Logistic regression on embeddings, cross-validated ROC AUC",
            "reference_n": len(reference), "current_n": len(current)}  # fmt: skip
    if note := _too_few(len(reference), len(current), config):
        return Statistic(**base, note=note)
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    features = np.vstack([reference, current])
    labels = np.r_[np.zeros(len(reference), dtype=int), np.ones(len(current), dtype=int)]
    folds = StratifiedKFold(n_splits=min(5, config.min_items), shuffle=True,
                            random_state=config.seed)  # fmt: skip
    # Balanced weights: a big reference must not teach it to answer "reference" always.
    model = LogisticRegression(max_iter=1000, class_weight="balanced")
    scores = cross_val_predict(model, features, labels, cv=folds, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(labels, scores))
    threshold, random_auc = config.auc_threshold, None
    if len(labels) < EVIDENTLY_LARGE_SAMPLE:
        random_auc = random_classifier_auc(labels, quantile=1 - alpha, seed=config.seed)
        threshold = max(threshold, random_auc)
    return Statistic(
        **base,
        value=auc,
        threshold=threshold,
        drifted=auc > threshold,
        detail={"random_classifier_auc": random_auc, "folds": folds.n_splits},
    )


def random_classifier_auc(labels: np.ndarray, *, quantile: float, seed: int = 0) -> float:
    """The AUC that random scores reach with chance 1 - quantile on these labels (Evidently's
    roc_auc_random_classifier_percentile). With random scores the ranks are a random
    permutation, so the AUC is the Mann–Whitney U of one: computed for all draws at once."""
    rng = np.random.default_rng(seed)
    positives = labels.astype(bool)
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    ranks = rng.random((RANDOM_CLASSIFIER_DRAWS, len(labels))).argsort(axis=1).argsort(axis=1) + 1
    u = ranks[:, positives].sum(axis=1) - n_pos * (n_pos + 1) / 2
    return float(np.quantile(u / (n_pos * n_neg), quantile))


def length_histogram(
    reference: Sequence[int], current: Sequence[int], *, bins: int = HISTOGRAM_BINS
) -> dict:
    """Word counts in shared bins, each side as shares of its own total (sizes differ)."""
    pooled = np.asarray([*reference, *current], dtype=np.float64)
    edges = np.histogram_bin_edges(pooled, bins=bins, range=(pooled.min(), max(pooled.max(), 1)))
    shares = {}
    for side, values in (("reference", reference), ("current", current)):
        counts, _ = np.histogram(values, bins=edges)
        shares[side] = [float(c) / max(len(values), 1) for c in counts]
    return {"edges": [float(e) for e in edges], **shares}


def iso_week(moment: datetime) -> str:
    """The ISO year and week, "2025-W07": weeks sort as text."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def by_week(points: Iterable[tuple[datetime, float | None]]) -> dict[str, list[float]]:
    """The values of each ISO week, weeks in order; None values are left out."""
    weeks: dict[str, list[float]] = defaultdict(list)
    for moment, value in points:
        if value is not None and math.isfinite(value):
            weeks[iso_week(moment)].append(float(value))
    return dict(sorted(weeks.items()))
