"""Reads for the drafting pages: which runs a user may see, recent drafts, the filtered run list.

Who sees a run: whoever asked for it, and those who review the channel's drafts
(accounts.permissions.can_review_drafts). Anything else is "does not exist" to them.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, QuerySet

from accounts import permissions as can
from accounts.models import User
from generation.models import Experiment, Feedback, GenerationRun, RunStep, VoiceGuide

# Big per-run fields that list pages never show.
RUN_LIST_DEFERRED = ("output", "sources", "findings", "traceback", "sampling")
RECENT_RUNS = 10
RUN_LIST_LIMIT = 200


def requestable_channels(user: User) -> list[str]:
    """The channels `user` may ask for drafts on, in the channels' own order."""
    return can.channels_where(can.can_request_drafts, user)


def reviewable_channels(user: User) -> list[str]:
    """The channels whose runs (everyone's, not only their own), dashboard and experiments
    `user` oversees: editors general, compliance officers clinical."""
    return can.channels_where(can.can_review_drafts, user)


def _visible(user: User) -> Q:
    return Q(requested_by=user) | Q(channel__in=reviewable_channels(user))


def run_get_for(user: User, run_id: int) -> GenerationRun:
    """One run with its model version and post; DoesNotExist when it is not the user's to see."""
    return (
        GenerationRun.objects.filter(_visible(user))
        .select_related("model_version", "requested_by", "post")
        .get(id=run_id)
    )


def run_recent_for(user: User, *, limit: int = RECENT_RUNS) -> list[GenerationRun]:
    """The user's own latest runs, newest first."""
    return list(
        GenerationRun.objects.filter(requested_by=user)
        .select_related("model_version")
        .defer(*RUN_LIST_DEFERRED)
        .order_by("-created_at", "-id")[:limit]
    )


def run_steps(run: GenerationRun) -> list[RunStep]:
    return list(run.steps.order_by("seq"))


@dataclass(frozen=True)
class RunFilters:
    channel: str = ""
    kind: str = ""  # draft | rewrite | continue, "" for any
    status: str = ""
    model_version: str = ""  # a ModelVersion id, "base" for the base model, "" for any
    slower_than_s: float | None = None


def run_list_for(user: User, filters: RunFilters | None = None) -> QuerySet[GenerationRun]:
    """Runs on the channels `user` oversees, newest first, narrowed by `filters`."""
    filters = filters or RunFilters()
    runs = (
        GenerationRun.objects.filter(channel__in=reviewable_channels(user))
        .select_related("model_version", "requested_by")
        .defer(*RUN_LIST_DEFERRED)
        .order_by("-created_at", "-id")
    )
    if filters.channel:
        runs = runs.filter(channel=filters.channel)
    if filters.kind:
        runs = runs.filter(kind=filters.kind)
    if filters.status:
        runs = runs.filter(status=filters.status)
    if filters.model_version == "base":
        runs = runs.filter(model_version__isnull=True)
    elif filters.model_version:
        runs = runs.filter(model_version_id=filters.model_version)
    if filters.slower_than_s is not None:
        runs = runs.alias(latency=F("finished_at") - F("started_at")).filter(
            latency__gt=timedelta(seconds=filters.slower_than_s)
        )
    return runs


@dataclass(frozen=True)
class FeedbackSummary:
    mine: Feedback | None
    up: int
    down: int


def run_feedback_for(user: User, run: GenerationRun) -> FeedbackSummary:
    """The user's own thumbs on the run (if any) and everyone's counts."""
    counts = run.feedback.aggregate(
        up=Count("id", filter=Q(thumbs_up=True)), down=Count("id", filter=Q(thumbs_up=False))
    )
    mine = run.feedback.filter(user=user).first()
    return FeedbackSummary(mine=mine, up=counts["up"], down=counts["down"])


def voice_guide_get_for(user: User, author_id: int | None = None) -> VoiceGuide:
    """The voice guide of `author_id` (default: the user's own), unsaved if they have none yet.

    The same rule as voice_guide_update: authors see their own, editors anyone's.
    User.DoesNotExist when there is no such author."""
    author = user if author_id in (None, user.id) else User.objects.get(id=author_id)
    if not can.can_edit_voice_guide(user, author):
        raise PermissionDenied("Only the author or an editor may see this voice guide.")
    guide = VoiceGuide.objects.filter(author=author).select_related("author").first()
    return guide or VoiceGuide(author=author)


def experiments_for(channel: str) -> list[Experiment]:
    """The channel's experiments, the running one first, then newest first."""
    return list(
        Experiment.objects.filter(channel=channel)
        .select_related("version_a", "version_b", "created_by")
        .order_by("-active", "-started_at")
    )


def experiment_get_for(user: User, experiment_id: int) -> Experiment:
    """One experiment on a channel the user reviews; DoesNotExist otherwise."""
    return Experiment.objects.get(id=experiment_id, channel__in=reviewable_channels(user))
