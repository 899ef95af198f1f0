"""Reads for the training pages and admin: which channels a user may see, runs, the queue, versions.

Everything here is narrowed to the channels the user manages (`visible_channels`): an editor
never gets a clinical run, version or sample from these functions, whatever the URL says.
"""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from accounts import permissions as can
from accounts.models import User
from training.models import DriftReport, ModelVersion, Promotion, TrainingRun

# Large per-run fields that list pages never show.
RUN_LIST_DEFERRED = ("log", "traceback", "points", "checkpoints", "hyperparameters")
BIG_VERSION_FIELDS = ("samples", "memorisation", "metrics")


def visible_channels(user: User) -> list[str]:
    """The channels whose models `user` may train and manage, in the channels' own order."""
    if not getattr(user, "is_authenticated", False):
        return []
    return can.channels_where(can.can_manage_models, user)


def run_list_for(user: User) -> QuerySet[TrainingRun]:
    """The user's channels' runs, newest first, with their version (if any) in the same query."""
    return (
        TrainingRun.objects.filter(channel__in=visible_channels(user))
        .select_related("version", "requested_by")
        .defer(*RUN_LIST_DEFERRED)
        .order_by("-created_at", "-id")
    )


def run_get_for(user: User, run_id: int) -> TrainingRun:
    """One run with its dataset and version; DoesNotExist when it is not the user's to see."""
    return (
        TrainingRun.objects.filter(channel__in=visible_channels(user))
        .select_related("dataset", "version", "requested_by")
        .defer("dataset__members", "version__samples", "version__memorisation")
        .get(id=run_id)
    )


@dataclass(frozen=True)
class QueueEntry:
    position: int  # 1: the next run a gpu worker takes
    run: TrainingRun


def run_queue(*, channels: list[str] | None = None) -> list[QueueEntry]:
    """Queued runs in the order they were asked for, each with its place in line.

    The gpu queue is shared by both channels, so positions count every queued run; `channels`
    only narrows which entries come back (an editor learns how many runs are ahead, not whose).
    """
    queued = (
        TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED)
        .select_related("requested_by")
        .defer(*RUN_LIST_DEFERRED)
        .order_by("created_at", "id")
    )
    return [
        QueueEntry(position, run)
        for position, run in enumerate(queued, start=1)
        if channels is None or run.channel in channels
    ]


def run_queue_position(run: TrainingRun) -> int | None:
    """Where a queued run stands in `run_queue()` (1: next), in one COUNT; None if not queued."""
    if run.status != TrainingRun.Status.QUEUED:
        return None
    earlier = Q(created_at__lt=run.created_at) | Q(created_at=run.created_at, id__lt=run.id)
    return TrainingRun.objects.filter(earlier, status=TrainingRun.Status.QUEUED).count() + 1


def version_list_for(user: User, channel: str) -> QuerySet[ModelVersion]:
    """A channel's versions, newest first; none when the user does not manage the channel."""
    versions = ModelVersion.objects.filter(channel=channel).select_related("run")
    if channel not in visible_channels(user):
        versions = versions.none()
    # Samples and the memorisation report can be long; the list shows neither.
    return versions.defer("samples", "memorisation", *(f"run__{f}" for f in RUN_LIST_DEFERRED))


def version_get_for(user: User, version_id: int) -> ModelVersion:
    """One version with its run and dataset; DoesNotExist when it is not the user's to see."""
    return (
        ModelVersion.objects.filter(channel__in=visible_channels(user))
        .select_related("run", "dataset")
        .defer("dataset__members", "run__points", "run__log", "run__traceback")
        .get(id=version_id)
    )


def active_version(channel: str) -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(channel=channel, status=ModelVersion.Status.ACTIVE)
        .select_related("dataset", "run")
        .defer("dataset__members", "run__points", "run__log", "run__traceback")
        .first()
    )


def promotion_list(channel: str, limit: int = 10) -> list[Promotion]:
    """The channel's latest promotions and rollbacks, newest first."""
    big = [f"{v}__{f}" for v in ("version", "previous") for f in BIG_VERSION_FIELDS]
    promotions = (
        Promotion.objects.filter(channel=channel)
        .select_related("version", "previous", "by")
        .defer(*big)
    )
    return list(promotions[:limit])


# --- Drift ---------------------------------------------------------------------------------

DRIFT_WARNINGS = {
    frozenset({"requests"}): "Requests have moved away from the training posts: retrain or review.",
    frozenset({"corpus"}): "New posts have moved away from the training posts: retrain or review.",
    frozenset({"corpus", "requests"}): (
        "New posts and requests have moved away from the training posts: retrain or review."
    ),
}


def drift_reference_version(channel: str) -> ModelVersion | None:
    """The version drift is measured against: the active one, or with none active the newest
    candidate (so a freshly trained version has a report before anyone promotes it)."""
    versions = ModelVersion.objects.filter(channel=channel).select_related("dataset")
    return (
        versions.filter(status=ModelVersion.Status.ACTIVE).first()
        or versions.filter(status=ModelVersion.Status.CANDIDATE).order_by("-number").first()
    )


def drift_report_latest(channel: str) -> DriftReport | None:
    """The channel's newest drift report, whichever version it compared against."""
    return DriftReport.objects.filter(channel=channel).select_related("version").first()


def drift_warning(channel: str) -> str | None:
    """One sentence for the dashboard when the channel's latest report drifted, and it compared
    against the version drafts use now (a report on an older version says nothing of this one)."""
    report = drift_report_latest(channel)
    if report is None or not report.drifted:
        return None
    reference = drift_reference_version(channel)
    if reference is None or reference.id != report.version_id:
        return None
    parts = report.report.get("parts") or {}
    drifted = frozenset(name for name, part in parts.items() if part.get("drifted"))
    return DRIFT_WARNINGS.get(drifted, DRIFT_WARNINGS[frozenset({"corpus", "requests"})])
