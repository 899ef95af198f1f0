"""Aggregates for the per-version dashboard and A/B results, with 95% confidence intervals."""

import math
import statistics
from collections import Counter
from dataclasses import dataclass

from django.db.models import Avg, Count, Q, StdDev

from generation.models import Experiment, Feedback, GenerationRun

Z95 = statistics.NormalDist().inv_cdf(0.975)  # 1.96: the normal quantile of a 95% interval


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """Wilson score interval: honest for small counts and rates near 0 or 1."""
        if not self.total:
            return None
        # Importing scipy.stats takes most of a second: only a page that shows a rate pays it.
        from scipy.stats import binomtest

        ci = binomtest(self.hits, self.total).proportion_ci(0.95, method="wilson")
        return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class Mean:
    value: float | None
    sd: float | None
    n: int

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.value is None or self.sd is None or self.n < 2:
            return None
        half = Z95 * self.sd / math.sqrt(self.n)
        return self.value - half, self.value + half


FINISHED = (GenerationRun.Status.SUCCEEDED, GenerationRun.Status.NEEDS_REVIEW)


def summarise(runs: object) -> dict:
    """Counts, acceptance (drafts whose post was published), thumbs, edit distance, speed, and
    for the editor's rewrites and continuations the mean share of hunks taken."""
    finished = runs.filter(status__in=FINISHED)
    taken = [
        accepted / total
        for accepted, total in finished.exclude(kind=GenerationRun.Kind.DRAFT)
        .filter(hunks_accepted__isnull=False, hunks_total__gt=0)
        .values_list("hunks_accepted", "hunks_total")
    ]
    row = finished.filter(kind=GenerationRun.Kind.DRAFT).aggregate(
        n=Count("id"),
        published=Count("id", filter=Q(published_at__isnull=False)),
        edit=Avg("edit_distance"),
        edit_sd=StdDev("edit_distance", sample=True),
        edited=Count("id", filter=Q(edit_distance__isnull=False)),
    )
    # Feedback counted apart: joining it above would count a run once per rating.
    rated = Feedback.objects.filter(run__in=finished).aggregate(
        up=Count("id", filter=Q(thumbs_up=True)), n=Count("id")
    )
    latencies = [r.latency_s for r in finished.only("started_at", "finished_at") if r.latency_s]
    # The guard's last findings on each finished run, by kind (phi, toxic, banned_topic…).
    findings = Counter(
        finding["kind"]
        for found in finished.values_list("findings", flat=True)
        for finding in found
    )
    return {
        "runs": finished.count(),
        "acceptance": Rate(row["published"], row["n"]),
        "thumbs_up": Rate(rated["up"], rated["n"]),
        "edit_distance": Mean(row["edit"], row["edit_sd"], row["edited"]),
        "latency_s": _mean(latencies),
        "tokens_per_s": finished.aggregate(tps=Avg("tokens_per_s"))["tps"],
        "hunks_taken": _mean(taken),
        "findings": dict(sorted(findings.items())),
    }


def _mean(values: list[float]) -> Mean:
    """Mean and sample standard deviation; None where there are too few values for either."""
    mean = statistics.fmean(values) if values else None
    sd = statistics.stdev(values) if len(values) >= 2 else None
    return Mean(mean, sd, len(values))


def version_dashboard(channel: str) -> list[dict]:
    """One summary per model version that wrote drafts on the channel (None: the base model)."""
    from training.models import ModelVersion

    runs = GenerationRun.objects.filter(channel=channel)
    ids = set(runs.values_list("model_version", flat=True))
    labels = {v.id: str(v) for v in ModelVersion.objects.filter(id__in=ids - {None})}
    return [
        {
            "version_id": version_id,
            "label": labels.get(version_id, "Base model"),
            **summarise(runs.filter(model_version=version_id)),
        }
        for version_id in sorted(ids, key=lambda v: (v is not None, v or 0))
    ]


def experiment_results(experiment: Experiment) -> dict:
    return {arm: summarise(experiment.runs.filter(arm=arm)) for arm in ("a", "b")}
