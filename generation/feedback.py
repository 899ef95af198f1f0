"""What editors think of AI drafts: thumbs and comments, how much they changed before
publishing (normalised word edit distance), and A/B experiments between two model versions."""

import random
import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from rapidfuzz.distance import Levenshtein

from accounts import permissions as can
from accounts.models import User
from generation.models import Experiment, Feedback, GenerationRun

SOURCES_HEADING = re.compile(r"\n#+\s*Sources\s*\n.*\Z", re.DOTALL | re.IGNORECASE)


def feedback_give(*, run: GenerationRun, by: User, thumbs_up: bool, comment: str = "") -> Feedback:
    """Thumbs up or down on a draft; giving it again replaces the earlier one."""
    if not can.can_oversee_run(by, run):
        raise PermissionDenied("Only the author of the request or a reviewer may rate this draft.")
    feedback, _ = Feedback.objects.update_or_create(
        run=run, user=by, defaults={"thumbs_up": thumbs_up, "comment": comment.strip()[:2000]}
    )
    return feedback


def words(text: str) -> list[str]:
    return SOURCES_HEADING.sub("", text).split()


def edit_distance(draft: str, published: str) -> float:
    """Word-level Levenshtein distance over the longer text's word count: 0 means published as
    drafted, 1 means nothing kept. The sources list at the end is left out of both."""
    a, b = words(draft), words(published)
    if not a and not b:
        return 0.0
    return Levenshtein.distance(a, b) / max(len(a), len(b))


def generation_publication_record(*, post_id: int) -> None:
    """Remember how far a published post moved from its AI draft (feedback for the model that
    wrote it). Runs when posts says a post was published, after that transaction committed."""
    run = (
        GenerationRun.objects.filter(post_id=post_id, kind=GenerationRun.Kind.DRAFT)
        .select_related("post")
        .order_by("-created_at")
        .first()
    )
    if run is None or run.published_at is not None:
        return
    run.published_at = timezone.now()
    run.edit_distance = edit_distance(run.output, run.post.body_markdown)
    run.save(update_fields=["published_at", "edit_distance"])


def on_post_published(sender: object, *, post_id: int, **kwargs: object) -> None:
    generation_publication_record(post_id=post_id)


# --- A/B experiments ------------------------------------------------------------------------------


@transaction.atomic
def experiment_start(
    *, name: str, version_a: object, version_b: object, by: User, share_b: float = 0.5
) -> Experiment:
    if version_a.channel != version_b.channel:
        raise ValidationError("Both versions must belong to the same channel.")
    if version_a.id == version_b.id:
        raise ValidationError("An experiment compares two different versions.")
    if not can.can_manage_models(by, version_a.channel):
        raise PermissionDenied("Only those who manage this channel's models run experiments.")
    if not 0 < share_b < 1:
        raise ValidationError("Version B's share of the requests is between 0 and 1.")
    if Experiment.objects.filter(channel=version_a.channel, active=True).exists():
        raise ValidationError("This channel already has an experiment running; stop it first.")
    return Experiment.objects.create(
        name=name.strip() or f"{version_a.label} vs {version_b.label}",
        channel=version_a.channel,
        version_a=version_a,
        version_b=version_b,
        share_b=share_b,
        created_by=by,
    )


def experiment_stop(*, experiment: Experiment, by: User) -> Experiment:
    if not can.can_manage_models(by, experiment.channel):
        raise PermissionDenied("Only those who manage this channel's models run experiments.")
    experiment.active, experiment.ended_at = False, timezone.now()
    experiment.save(update_fields=["active", "ended_at"])
    return experiment


def experiment_assign(channel: str, *, rng: random.Random | None = None) -> tuple:
    """(experiment, arm, version) for a new request, or (None, "", None) with no experiment."""
    experiment = (
        Experiment.objects.filter(channel=channel, active=True)
        .select_related("version_a", "version_b")
        .first()
    )
    if experiment is None:
        return None, "", None
    draw = (rng or random).random()  # noqa: S311 - a traffic split, not a secret
    if draw < experiment.share_b:
        return experiment, "b", experiment.version_b
    return experiment, "a", experiment.version_a
