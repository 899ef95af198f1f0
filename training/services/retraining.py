"""Scheduled retraining: a channel's RetrainPolicy, when it is due, the run beat starts, and the
decision on the candidate that run makes.

Due: the policy is on, the channel has an active version to compare with, no run of the
channel is queued or running, no earlier scheduled candidate is still waiting for its gates, and
either `min_new_items` samples exist that neither the active version's dataset nor the last
scheduled run's holds, or `every_days` days have passed since the newer of the two (and
something is new: retraining on the same data learns nothing). Beat checks every hour and starts
a due run in the policy's quiet hour only (local time), with the active version's base model,
hyperparameters and authors, on a new snapshot, as the person who set the policy.

The candidate is decided once its draft-quality benchmark and bias audit are in, and the active
version's benchmark has been run again beside it (on the same held-out posts, which change as
posts are published). Gates (`promotion_gates`): validation perplexity relative to the base model
lower than the active version's (each on its own snapshot's held-out samples, so the ratio to the
base on the same samples is what compares), draft-quality scores no worse, the bias audit passed,
and for clinical the memorisation test passed. It is promoted only when the policy says
"promote when better" and every gate passed; otherwise it stays a candidate, with the gates shown.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from compliance.audit import Action, audit_record
from posts.models import Post
from training.models import ModelVersion, RetrainEvent, RetrainPolicy, TrainingRun
from training.services.datasets import dataset_member_ids

logger = logging.getLogger(__name__)

# Draft-quality metrics a scheduled candidate must not do worse on (the full workflow's row).
QUALITY_GATES = (
    ("style_fidelity", "Style fidelity"),
    ("grounding", "Grounding"),
    ("rouge_l", "ROUGE-L"),
    ("guard_pass_rate", "Guard pass"),
)


@dataclass(frozen=True)
class Due:
    """Whether a scheduled run is due, in a sentence, and when beat would start it."""

    due: bool
    reason: str
    starts_at: dt.datetime | None = None  # the next quiet hour, when due


def retrain_policy_for(channel: str) -> RetrainPolicy:
    """The channel's policy (off, unsaved, when nobody has set one)."""
    return RetrainPolicy.objects.filter(channel=channel).first() or RetrainPolicy(channel=channel)


@transaction.atomic
def retrain_policy_set(
    *,
    channel: str,
    by: User | None,
    enabled: bool,
    min_new_items: int | None,
    every_days: int | None,
    quiet_hour: int,
    promote_when_better: bool,
) -> RetrainPolicy:
    """Save the channel's policy (an editor for general, a compliance officer for clinical);
    audited. Scheduled runs are then the setter's."""
    can.require_manage_models(by, channel)
    if enabled and not (min_new_items or every_days):
        raise ValidationError(
            "Say when to retrain: after a number of new posts (or notes), every so many days, "
            "or both."
        )
    if not 0 <= quiet_hour <= 23:
        raise ValidationError("The quiet hour is an hour of the day, 0 to 23.")
    for value, what in ((min_new_items, "new items"), (every_days, "days")):
        if value is not None and value < 1:
            raise ValidationError(f"The number of {what} must be at least 1.")
    policy, _ = RetrainPolicy.objects.select_for_update().get_or_create(channel=channel)
    policy.enabled, policy.min_new_items, policy.every_days = enabled, min_new_items, every_days
    policy.quiet_hour, policy.promote_when_better = quiet_hour, promote_when_better
    policy.set_by = by
    policy.save()
    audit_record(
        action=Action.MODEL_RETRAIN_POLICY_SET,
        actor=by,
        obj=policy,
        detail={
            "channel": channel,
            "enabled": enabled,
            "min_new_items": min_new_items,
            "every_days": every_days,
            "quiet_hour": quiet_hour,
            "promote_when_better": promote_when_better,
        },
    )
    return policy


def _baseline(channel: str, active: ModelVersion) -> tuple[set[str], dt.datetime, str]:
    """What counts as already trained on: the active version's dataset, or the last scheduled
    run's when that is newer (a kept candidate's data is not new again the next night)."""
    snapshot, what = active.dataset, f"{active}'s dataset"
    last = (
        TrainingRun.objects.filter(channel=channel, scheduled=True, dataset__isnull=False)
        .select_related("dataset")
        .order_by("-created_at")
        .first()
    )
    if last is not None and last.dataset.created_at > snapshot.created_at:
        snapshot, what = last.dataset, f"scheduled run #{last.id}'s dataset"
    return {m["id"] for m in snapshot.members}, snapshot.created_at, what


def retrain_due(policy: RetrainPolicy, *, now: dt.datetime | None = None) -> Due:
    now = now or timezone.now()
    channel = policy.channel
    if not policy.enabled:
        return Due(False, "Scheduled retraining is off.")
    active = _active(channel)
    if active is None:
        return Due(
            False,
            "There is no active version to compare a candidate with: promote a first version "
            "by hand.",
        )
    running = TrainingRun.objects.filter(
        channel=channel, status__in=TrainingRun.ACTIVE_STATUSES
    ).first()
    if running is not None:
        return Due(False, f"Run #{running.id} is {running.get_status_display().lower()}.")
    waiting = pending_candidates(channel)
    if waiting:
        return Due(False, f"{waiting[0]} is waiting for its evaluations to decide it.")
    trained, since, what = _baseline(channel, active)
    author_ids = active.run.author_ids
    new = len(dataset_member_ids(channel=channel, author_ids=author_ids) - trained)
    items = "approved notes and posts" if channel == Post.Channel.CLINICAL else "posts"
    days = (now - since).days
    reasons = []
    if policy.min_new_items and new >= policy.min_new_items:
        wanted = policy.min_new_items
        reasons.append(f"{new} new {items} since {what} (the policy asks for {wanted})")
    if policy.every_days and days >= policy.every_days and new:
        reasons.append(f"{days} days since {what} (the policy says every {policy.every_days})")
    if not reasons:
        parts = []
        if policy.min_new_items:
            parts.append(f"{new} of {policy.min_new_items} new {items}")
        if policy.every_days:
            left = policy.every_days - days
            parts.append(
                f"{left} more day{'s' if left != 1 else ''} to go"
                if left > 0
                else f"{days} days, but nothing new to learn from"
            )
        return Due(False, "Not due: " + "; ".join(parts) + f" since {what}.")
    reason = "; ".join(reasons)
    return Due(True, reason[0].upper() + reason[1:] + ".", next_quiet_hour(policy, now))


def next_quiet_hour(policy: RetrainPolicy, now: dt.datetime) -> dt.datetime:
    """The start of the next quiet hour, local time (now, when in it)."""
    local = timezone.localtime(now)
    start = local.replace(hour=policy.quiet_hour, minute=0, second=0, microsecond=0)
    if local.hour == policy.quiet_hour:
        return start
    return start if start > local else start + dt.timedelta(days=1)


def _active(channel: str) -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(channel=channel, status=ModelVersion.Status.ACTIVE)
        .select_related("dataset", "run")
        .first()
    )


def retrain_scheduled_check(*, now: dt.datetime | None = None) -> list[int]:
    """Beat, every hour: start the due runs whose quiet hour it is. Returns the runs started."""
    now = now or timezone.now()
    started = []
    for channel in RetrainPolicy.objects.filter(enabled=True).values_list("channel", flat=True):
        run = _start_if_due(channel, now)
        if run is not None:
            started.append(run.id)
    return started


@transaction.atomic
def _start_if_due(channel: str, now: dt.datetime) -> TrainingRun | None:
    from training.services.runs import training_run_start

    # The policy row is the lock: two beats (or a beat and a save) cannot both start a run.
    policy = RetrainPolicy.objects.select_for_update().get(channel=channel)
    due = retrain_due(policy, now=now)
    if not due.due or timezone.localtime(now).hour != policy.quiet_hour:
        return None
    active = _active(channel)
    try:
        run = training_run_start(
            channel=channel,
            by=policy.set_by,
            author_ids=active.run.author_ids,
            hyperparameters=active.run.hyperparameters,
            base_model=active.base_model,
        )
    except (PermissionDenied, ValidationError) as exc:
        _skipped_once(channel, f"Due, but not started: {' '.join(_messages(exc))}")
        return None
    run.scheduled = True
    run.save(update_fields=["scheduled"])
    RetrainEvent.objects.create(
        channel=channel, kind=RetrainEvent.Kind.STARTED, run=run, reason=due.reason
    )
    logger.info("Scheduled retraining of %s: run %s (%s)", channel, run.id, due.reason)
    return run


def _skipped_once(channel: str, reason: str) -> None:
    """Record a skip once a day, not at every hourly check."""
    day_ago = timezone.now() - dt.timedelta(days=1)
    last = RetrainEvent.objects.filter(channel=channel).first()
    repeated = last and last.kind == RetrainEvent.Kind.SKIPPED and last.reason == reason
    if repeated and last.at > day_ago:
        return
    RetrainEvent.objects.create(channel=channel, kind=RetrainEvent.Kind.SKIPPED, reason=reason)


def _messages(exc: Exception) -> list[str]:
    return exc.messages if isinstance(exc, ValidationError) else [str(exc)]


# --- The candidate ------------------------------------------------------------------------------


def pending_candidates(channel: str) -> list[ModelVersion]:
    """Candidates a scheduled run made that are not decided yet."""
    decided = RetrainEvent.objects.filter(
        channel=channel, kind__in=(RetrainEvent.Kind.PROMOTED, RetrainEvent.Kind.KEPT)
    ).values("version_id")
    return list(
        ModelVersion.objects.filter(
            channel=channel, run__scheduled=True, status=ModelVersion.Status.CANDIDATE
        )
        .exclude(id__in=decided)
        .order_by("number")
    )


def on_scheduled_version_registered(version: ModelVersion) -> None:
    """A scheduled run registered its candidate: the active version's benchmark runs again
    beside the candidate's, so both are measured on the same held-out posts."""
    from training.services.quality import model_version_quality_queue

    active = _active(version.channel)
    if active is not None and active.id != version.id:
        model_version_quality_queue(version=active)


def promotion_gates(candidate: ModelVersion, active: ModelVersion) -> list[dict]:
    """Each gate: {"gate", "passed" (None: not measured yet), "candidate", "active"}."""
    from training.services.quality import full_workflow_row

    gates = [
        {
            "gate": "Validation perplexity relative to the base model (lower is better)",
            "candidate": _ratio(candidate),
            "active": _ratio(active),
            "passed": _compare(_ratio(candidate), _ratio(active), higher=False, strict=True),
        }
    ]
    mine, theirs = full_workflow_row(candidate) or {}, full_workflow_row(active) or {}
    for key, title in QUALITY_GATES:
        a, b = mine.get(key), theirs.get(key)
        gates.append({
            "gate": f"Draft quality: {title} (no worse)",
            "candidate": a,
            "active": b,
            "passed": _compare(a, b, higher=True, strict=False),
        })  # fmt: skip
    gates.append({
        "gate": "Bias audit passed",
        "candidate": candidate.bias_audit_passed,
        "active": active.bias_audit_passed,
        "passed": candidate.bias_audit_passed,
    })  # fmt: skip
    if candidate.is_clinical:
        gates.append({
            "gate": "Memorisation test passed",
            "candidate": candidate.memorisation_passed,
            "active": active.memorisation_passed,
            "passed": candidate.memorisation_passed,
        })  # fmt: skip
    return gates


def _ratio(version: ModelVersion) -> float | None:
    tuned, base = version.metrics.get("val_perplexity"), version.metrics.get("base_val_perplexity")
    return round(tuned / base, 4) if tuned and base else None


def _compare(a: float | None, b: float | None, *, higher: bool, strict: bool) -> bool | None:
    if a is None or b is None:
        return None
    if strict:
        return a > b if higher else a < b
    return a >= b if higher else a <= b


def _ready(candidate: ModelVersion, active: ModelVersion) -> bool:
    """Every evaluation the gates read is in: the candidate's benchmark and audit, and the
    active version's benchmark measured again after the candidate was registered."""
    from training.services.quality import quality_posts

    measurable = quality_posts(
        channel=candidate.channel, author_ids=candidate.dataset.author_ids, limit=1
    )
    if not measurable:  # no held-out posts: no benchmark will come, its gates stay unmeasured
        return candidate.bias_audit is not None
    return (
        candidate.draft_quality is not None
        and candidate.bias_audit is not None
        and active.draft_quality_at is not None
        and active.draft_quality_at >= candidate.created_at
        and (not candidate.is_clinical or candidate.memorisation_passed is not None)
    )


def retrain_candidate_settle(*, version: ModelVersion) -> list[RetrainEvent]:
    """After any evaluation on the channel: decide each waiting scheduled candidate whose
    evaluations are all in (promoted, or kept with its gates)."""
    events = []
    for candidate in pending_candidates(version.channel):
        event = _settle(candidate)
        if event is not None:
            events.append(event)
    return events


@transaction.atomic
def _settle(candidate: ModelVersion) -> RetrainEvent | None:
    from training.services.registry import model_version_promote

    policy = RetrainPolicy.objects.select_for_update().filter(channel=candidate.channel).first()
    active = _active(candidate.channel)
    candidate.refresh_from_db()
    if active is None:
        return _decide(candidate, RetrainEvent.Kind.KEPT, "There is no active version to "
                       "compare with; it stays a candidate.", [])  # fmt: skip
    if not _ready(candidate, active):
        return None
    gates = promotion_gates(candidate, active)
    failed = [g["gate"] for g in gates if g["passed"] is not True]
    if failed:
        return _decide(candidate, RetrainEvent.Kind.KEPT,
                       f"Kept as a candidate: not better than {active} on " + "; ".join(failed)
                       + ".", gates)  # fmt: skip
    if policy is None or not policy.promote_when_better:
        return _decide(candidate, RetrainEvent.Kind.KEPT,
                       f"Better than {active} on every gate; the policy leaves the promotion "
                       "to a person.", gates)  # fmt: skip
    try:
        model_version_promote(
            version=candidate,
            by=policy.set_by,
            reason=f"Scheduled retraining: better than {active} on every gate.",
        )
    except (PermissionDenied, ValidationError) as exc:
        return _decide(candidate, RetrainEvent.Kind.KEPT,
                       "Better on every gate, but not promoted: " + " ".join(_messages(exc)),
                       gates)  # fmt: skip
    return _decide(candidate, RetrainEvent.Kind.PROMOTED,
                   f"Promoted: better than {active} on every gate.", gates)  # fmt: skip


def _decide(candidate: ModelVersion, kind: str, reason: str, gates: list[dict]) -> RetrainEvent:
    return RetrainEvent.objects.create(
        channel=candidate.channel,
        kind=kind,
        run=candidate.run,
        version=candidate,
        reason=reason,
        gates=gates,
    )


def retrain_summary(channel: str) -> dict:
    """What the models page and the dashboard show: the policy, whether a run is due and why,
    when beat would start it, and the history."""
    policy = retrain_policy_for(channel)
    return {
        "policy": policy,
        "due": retrain_due(policy),
        "history": list(
            RetrainEvent.objects.filter(channel=channel).select_related("version", "run")[:10]
        ),
    }
