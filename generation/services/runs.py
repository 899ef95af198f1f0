"""A run's life outside the workflow: asked for, cancelled, claimed by a worker, recovered.

A run is queued on the `gpu` queue with the model it gets (an A/B arm's version, the channel's
active version, or the base model); the worker claims it (generation/services/execute.py runs
it). Beat queues again every running run whose worker stopped beating; the next attempt resumes
from the checkpoint, and a run that has lost its worker GENERATION_MAX_ATTEMPTS times fails.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from compliance.audit import Action, audit_record
from generation.models import GenerationRun
from generation.services import stream
from generation.services.sanitize import sanitizer
from generation.types import Brief
from posts.models import Post

logger = logging.getLogger(__name__)

BRIEF_MAX_CHARS = 2000
# A run whose worker died is queued again by generation_runs_recover (beat); one that has lost
# its worker this many times (a draft that kills it, say) fails instead of looping forever.
GENERATION_MAX_ATTEMPTS = 3
GAVE_UP_SENTENCE = "The worker stopped three times while writing this draft; ask again."


def brief_clean(brief: dict) -> Brief:
    """The brief as a run keeps it, from what a form or a caller sent; a ValidationError says
    what is wrong with it."""
    topic = str(brief.get("topic") or "").strip()
    if not topic:
        raise ValidationError("A brief needs a topic.")

    def text(key: str) -> str:
        return str(brief.get(key) or "").strip()[:BRIEF_MAX_CHARS]

    clean: Brief = {
        "topic": text("topic"),
        "outline": text("outline"),
        "audience": text("audience"),
        "tone": text("tone"),
    }
    length = brief.get("length")
    if length not in (None, ""):
        try:
            length = int(length)
        except (TypeError, ValueError):
            raise ValidationError("The length is a number of words.") from None
        if not 50 <= length <= 3000:
            raise ValidationError("Ask for between 50 and 3,000 words.")
        clean["length"] = length
    return clean


@transaction.atomic
def generation_run_start(
    *,
    channel: str,
    brief: dict,
    by: User,
    sampling: dict | None = None,
    base_model: str | None = None,
    enqueue: bool = True,
) -> GenerationRun:
    """Queue a draft on the gpu queue, with the channel's active model version (or the base)."""
    from generation.runtime import SamplingSettings

    if not can.can_request_drafts(by, channel):
        raise PermissionDenied(f"You may not ask for AI drafts on the {channel} channel.")
    brief = sanitizer(channel)(brief_clean(brief))
    try:
        sampling_settings = SamplingSettings.from_dict(sampling or {})
    except (TypeError, ValueError) as exc:
        raise ValidationError(str(exc)) from exc
    return _run_create(
        channel=channel,
        by=by,
        enqueue=enqueue,
        base_model=base_model,
        brief=brief,
        sampling=sampling_settings.to_dict(),
    )


@transaction.atomic
def assist_start(
    *,
    post: Post,
    by: User,
    kind: str,
    text: str,
    start: int,
    end: int,
    instruction: str = "",
    enqueue: bool = True,
) -> GenerationRun:
    """Queue a rewrite of text[start:end], or a continuation at `start`, of a post being edited.

    `text` is the editor's text as it is on screen (perhaps not saved yet). On the clinical
    channel nothing that looks like PHI may go to the model or the trace, and the proposal must
    fit the text exactly, so instead of de-identifying quietly, a request is refused."""
    from generation import assist
    from generation.runtime import SamplingSettings

    if not can.can_request_drafts(by, post.channel):
        raise PermissionDenied(f"You may not ask for AI help on the {post.channel} channel.")
    if not can.can_edit_post(by, post):
        raise PermissionDenied("You may not edit this post now, so the AI cannot either.")
    try:
        brief = assist.assist_brief(
            kind=kind, text=text, start=start, end=end, title=post.title, instruction=instruction
        )
    except assist.AssistError as exc:
        raise ValidationError(str(exc)) from exc
    if post.channel == Post.Channel.CLINICAL:
        _refuse_phi(brief)
    tokens = assist.assist_max_tokens(brief, assist.MAX_NEW_TOKENS)
    return _run_create(
        channel=post.channel,
        by=by,
        enqueue=enqueue,
        kind=kind,
        brief=brief | {"post_version": post.version},
        post=post,
        sampling=SamplingSettings(max_new_tokens=tokens).to_dict(),
    )


def _refuse_when_busy(by: User) -> None:
    """Under load, a new request is refused with a sentence rather than left to wait for an
    hour: one person's drafts in flight, and all drafts waiting, are capped (settings)."""
    active = GenerationRun.objects.filter(
        requested_by=by, status__in=GenerationRun.ACTIVE_STATUSES
    ).count()
    if active >= settings.GENERATION_MAX_ACTIVE_PER_USER:
        raise ValidationError(
            f"You already have {active} drafts being written; ask again when one has finished."
        )
    waiting = GenerationRun.objects.filter(status=GenerationRun.Status.QUEUED).count()
    if waiting >= settings.GENERATION_QUEUE_MAX:
        raise ValidationError(
            f"{waiting} drafts are waiting for a worker; ask again in a few minutes."
        )


def _run_create(
    *, channel: str, by: User, enqueue: bool, base_model: str | None = None, **fields: Any
) -> GenerationRun:
    """A queued run on the model the request gets: an A/B arm's version while an experiment
    runs, else the channel's active version, else the base model. Clinical requests are
    audited; the task is sent once the transaction commits."""
    from generation.feedback import experiment_assign
    from training.models import ModelVersion

    _refuse_when_busy(by)
    experiment, arm, version = experiment_assign(channel)
    if version is None:
        version = ModelVersion.objects.filter(
            channel=channel, status=ModelVersion.Status.ACTIVE
        ).first()
    run = GenerationRun.objects.create(
        experiment=experiment,
        arm=arm,
        channel=channel,
        requested_by=by,
        model_version=version,
        base_model=base_model or (version.base_model if version else settings.BASE_MODEL),
        phase="Waiting for a worker",
        **fields,
    )
    if channel == Post.Channel.CLINICAL:
        audit_record(action=Action.GENERATION_CLINICAL, actor=by, obj=run, detail={"run": run.id})
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run.id))
    return run


def _refuse_phi(brief: dict) -> None:
    from compliance import deid

    labels = sorted(
        {
            span.label
            for key in ("before", "selection", "after", "instruction")
            for span in deid.find_spans(brief[key])
        }
    )
    if labels:
        raise ValidationError(
            "The text around the selection looks like it holds protected health information "
            f"({', '.join(labels)}). A clinical post must not: remove it, then ask again."
        )


def _enqueue(run_id: int) -> None:
    from generation.tasks import generation_run_execute_task

    generation_run_execute_task.delay(run_id)


@transaction.atomic
def generation_run_cancel(*, run: GenerationRun, by: User) -> GenerationRun:
    """A queued run ends now; a running one stops at its next token."""
    run = GenerationRun.objects.select_for_update().get(id=run.id)
    if not can.can_oversee_run(by, run):
        raise PermissionDenied("Only whoever asked for a draft, or a reviewer, may cancel it.")
    if run.status == GenerationRun.Status.QUEUED:
        run.status, run.finished_at, run.phase = GenerationRun.Status.CANCELLED, timezone.now(), ""
        run.save(update_fields=["status", "finished_at", "phase"])
        transaction.on_commit(lambda: stream.end(run, GenerationRun.Status.CANCELLED))
    elif run.status == GenerationRun.Status.RUNNING:
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested"])
    else:
        raise ValidationError("This draft is already finished.")
    return run


def assist_decision_record(*, run: GenerationRun, by: User, accepted: int, total: int) -> None:
    """How many of a proposal's hunks the editor took (the dashboard's 'hunks taken')."""
    if not can.can_take_proposal(by, run):
        raise PermissionDenied("Only whoever asked for this proposal can take it.")
    if run.kind == GenerationRun.Kind.DRAFT or run.status in GenerationRun.ACTIVE_STATUSES:
        raise ValidationError("Only a finished rewrite or continuation is taken hunk by hunk.")
    if not 0 <= accepted <= total or total != (run.hunks_total or 0):
        raise ValidationError(f"Expected 0 to {run.hunks_total or 0} hunks taken.")
    run_update(run, hunks_accepted=accepted)


def run_claim(run_id: int, worker: str) -> GenerationRun | None:
    """Mark the run as ours, or return None when it is not ours to run: ended, still running on a
    live worker (a second delivery of the task), cancelled, or out of attempts."""
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().filter(id=run_id).first()
        if run is None or run.status not in GenerationRun.ACTIVE_STATUSES:
            return None
        now = timezone.now()
        fresh = now - timezone.timedelta(seconds=settings.GENERATION_STALE_SECONDS)
        if (
            run.status == GenerationRun.Status.RUNNING
            and run.heartbeat_at
            and run.heartbeat_at > fresh
        ):
            logger.info(
                "Generation run %s is already running on %s; not starting it twice",
                run.id,
                run.worker,
            )
            return None
        if run.cancel_requested:  # asked for while its worker was dying
            run.status, run.phase = GenerationRun.Status.CANCELLED, "Cancelled"
            run.finished_at = now
            run.save(update_fields=["status", "phase", "finished_at"])
        elif run.attempts >= GENERATION_MAX_ATTEMPTS:
            logger.warning(
                "Generation run %s lost its worker %s times; failed", run.id, run.attempts
            )
            run.status, run.phase = GenerationRun.Status.FAILED, "Failed"
            run.error, run.finished_at = GAVE_UP_SENTENCE, now
            run.save(update_fields=["status", "phase", "error", "finished_at"])
        else:
            run.status, run.worker, run.heartbeat_at = GenerationRun.Status.RUNNING, worker, now
            run.attempts += 1
            run.started_at = run.started_at or now
            run.save(update_fields=["status", "worker", "heartbeat_at", "attempts", "started_at"])
            return run
    stream.end(run, run.status)
    return None


def generation_runs_recover() -> list[int]:
    """Queue again every running run whose worker stopped writing heartbeats (it died); the
    next attempt resumes after the last step the checkpointer saved."""
    stale_before = timezone.now() - timezone.timedelta(seconds=settings.GENERATION_STALE_SECONDS)
    recovered = []
    with transaction.atomic():
        # A run left running by a worker from before heartbeats has none: its start counts.
        stale = GenerationRun.objects.select_for_update(skip_locked=True).filter(
            Q(heartbeat_at__lt=stale_before)
            | Q(heartbeat_at__isnull=True, started_at__lt=stale_before),
            status=GenerationRun.Status.RUNNING,
        )
        for run in stale:
            run.status = GenerationRun.Status.QUEUED
            run.phase = "Waiting to resume: the worker stopped answering"
            run.save(update_fields=["status", "phase"])
            recovered.append((run.id, run.worker))
    for run_id, worker in recovered:
        logger.warning("Generation run %s lost its worker %s; queued again", run_id, worker or "?")
        _enqueue(run_id)
    return [run_id for run_id, _ in recovered]


def run_update(run: GenerationRun, **fields: Any) -> None:
    """Write these fields of the run, and only these (the worker and a page's cancel write
    different fields of one row), and keep the object in step."""
    GenerationRun.objects.filter(id=run.id).update(**fields)
    for name, value in fields.items():
        setattr(run, name, value)
