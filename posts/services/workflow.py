"""The editorial workflow: who may move a post from which state to which.

draft --submit--> in_review --approve--> approved --publish / schedule--> published --archive-->
archived; request_changes (in_review → draft) and back_to_draft (any later state → draft) need a
reason. A clinical-channel post is approved only once an editor AND a compliance officer have
approved it; nobody approves their own post. Every step is recorded as a Transition.
"""

import logging
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from posts.models import Post, Transition
from posts.signals import post_published, post_withdrawn

S = Post.Status
logger = logging.getLogger(__name__)


def allowed_actions(user: User, post: Post) -> list[str]:
    """The workflow buttons to show this user on this post."""
    actions = []
    if post.status == S.DRAFT and can.can_submit_post(user, post):
        actions.append("submit")
    if post.status == S.IN_REVIEW and can.post_approval_role(user, post):
        actions += ["approve", "request_changes"]
    if post.status == S.APPROVED and can.can_publish_posts(user):
        actions += ["publish", "schedule"] + (["unschedule"] if post.scheduled_at else [])
    if post.status == S.PUBLISHED and can.can_publish_posts(user):
        actions.append("archive")
    if post.status != S.DRAFT and can.can_send_post_back_to_draft(
        user, post, in_review=post.status == S.IN_REVIEW
    ):
        actions.append("back_to_draft")
    return actions


def _move(post: Post, to: str, *, by: User | None, action: str, comment: str = "") -> Post:
    Transition.objects.create(
        post=post, from_status=post.status, to_status=to, action=action, by=by, comment=comment
    )
    post.status = to
    return post


def _locked(post: Post, *expected: str) -> Post:
    """Re-read the post under a row lock and check it is still in one of `expected` states."""
    fresh = Post.objects.select_for_update().get(id=post.id)
    if fresh.status not in expected:
        names = " or ".join(S(e).label.lower() for e in expected)
        raise ValidationError(
            f"{fresh.title!r} is {fresh.get_status_display().lower()}; this needs it {names}."
        )
    return fresh


@transaction.atomic
def post_submit(*, post: Post, by: User) -> Post:
    post = _locked(post, S.DRAFT)
    if not can.can_submit_post(by, post):
        raise PermissionDenied("Only the author or an editor can submit this post for review.")
    if not post.body_markdown.strip():
        raise ValidationError("An empty post cannot go to review.")
    _move(post, S.IN_REVIEW, by=by, action="submit")
    post.save(update_fields=["status", "updated_at"])
    return post


@transaction.atomic
def post_approve(*, post: Post, by: User, comment: str = "") -> Post:
    post = _locked(post, S.IN_REVIEW)
    if post.author_id == by.id:
        raise PermissionDenied("Nobody approves their own post; ask another editor.")
    role = can.post_approval_role(by, post)
    if role is None:
        raise PermissionDenied("You cannot approve this post (or have already approved it).")
    if role == "editor":
        post.editor_approved_by = by
    else:
        post.clinical_approved_by = by
    complete = post.editor_approved_by_id is not None and (
        not post.is_clinical or post.clinical_approved_by_id is not None
    )
    _move(post, S.APPROVED if complete else S.IN_REVIEW, by=by, action="approve", comment=comment)
    post.save(update_fields=["status", "editor_approved_by", "clinical_approved_by", "updated_at"])
    return post


@transaction.atomic
def post_request_changes(*, post: Post, by: User, comment: str) -> Post:
    post = _locked(post, S.IN_REVIEW)
    if not comment.strip():
        raise ValidationError("Say what should change: the author needs a comment.")
    if not can.can_request_post_changes(by, post):
        raise PermissionDenied(
            "Only an editor (or, for clinical posts, a compliance officer) can ask for changes."
        )
    return _to_draft(post, by=by, action="request_changes", comment=comment)


@transaction.atomic
def post_back_to_draft(*, post: Post, by: User, reason: str) -> Post:
    post = _locked(post, S.IN_REVIEW, S.APPROVED, S.PUBLISHED, S.ARCHIVED)
    if not reason.strip():
        raise ValidationError("Give a reason for sending the post back to draft.")
    if not can.can_send_post_back_to_draft(by, post, in_review=post.status == S.IN_REVIEW):
        raise PermissionDenied("Only an editor can send this post back to draft.")
    return _to_draft(post, by=by, action="back_to_draft", comment=reason)


def _to_draft(post: Post, *, by: User, action: str, comment: str) -> Post:
    if post.status == S.PUBLISHED:
        transaction.on_commit(lambda: _announce(post_withdrawn, post_id=post.id, how="unpublished"))
    _move(post, S.DRAFT, by=by, action=action, comment=comment.strip())
    post.editor_approved_by = post.clinical_approved_by = None
    post.scheduled_at = None
    post.save(
        update_fields=[
            "status", "editor_approved_by", "clinical_approved_by", "scheduled_at", "updated_at",
        ]
    )  # fmt: skip
    return post


@transaction.atomic
def post_schedule(*, post: Post, by: User, at: datetime) -> Post:
    post = _locked(post, S.APPROVED)
    _require_editor(by, "schedule")
    if timezone.is_naive(at):
        raise ValidationError("A schedule time needs a time zone.")
    if at <= timezone.now():
        raise ValidationError("Pick a time in the future, or publish now.")
    post.scheduled_at = at
    Transition.objects.create(
        post=post, from_status=post.status, to_status=post.status, action="schedule", by=by,
        comment=f"to publish at {at.isoformat()}",
    )  # fmt: skip
    post.save(update_fields=["scheduled_at", "updated_at"])
    return post


@transaction.atomic
def post_unschedule(*, post: Post, by: User) -> Post:
    post = _locked(post, S.APPROVED)
    _require_editor(by, "unschedule")
    post.scheduled_at = None
    Transition.objects.create(
        post=post, from_status=post.status, to_status=post.status, action="unschedule", by=by
    )
    post.save(update_fields=["scheduled_at", "updated_at"])
    return post


@transaction.atomic
def post_publish(*, post: Post, by: User | None) -> Post:
    """Publish an approved post now. `by=None` is the scheduler (beat)."""
    post = _locked(post, S.APPROVED)
    if by is not None:
        _require_editor(by, "publish")
    _move(post, S.PUBLISHED, by=by, action="publish" if by else "scheduled_publish")
    republished = post.published_at is not None
    post.published_at = timezone.now()
    post.scheduled_at = None
    post.save(update_fields=["status", "published_at", "scheduled_at", "updated_at"])
    from posts.tasks import post_embed_task

    transaction.on_commit(lambda: post_embed_task.delay(post_id=post.id))
    # Whoever cares (generation's feedback, webhooks) hears of it once it has committed.
    transaction.on_commit(
        lambda: _announce(post_published, post_id=post.id, republished=republished)
    )
    return post


@transaction.atomic
def post_archive(*, post: Post, by: User, comment: str = "") -> Post:
    post = _locked(post, S.PUBLISHED)
    _require_editor(by, "archive")
    _move(post, S.ARCHIVED, by=by, action="archive", comment=comment)
    post.save(update_fields=["status", "updated_at"])
    transaction.on_commit(lambda: _announce(post_withdrawn, post_id=post.id, how="archived"))
    return post


def _announce(signal: Signal, *, post_id: int, **kwargs: object) -> None:
    """Tell the listeners; the change stands whatever they do, so a failing one is logged."""
    for receiver, result in signal.send_robust(sender=Post, post_id=post_id, **kwargs):
        if isinstance(result, Exception):
            logger.error("After changing post %s, %r failed", post_id, receiver, exc_info=result)


def publish_due_posts(now: datetime | None = None) -> list[int]:
    """Publish every approved post whose scheduled time has come. Beat runs this often."""
    now = now or timezone.now()
    due = Post.objects.filter(status=S.APPROVED, scheduled_at__lte=now).values_list("id", flat=True)
    published = []
    for post_id in due:
        try:
            post_publish(post=Post(id=post_id), by=None)
        except ValidationError:  # changed state since we listed it: nothing to do
            continue
        published.append(post_id)
    return published


def _require_editor(user: User, verb: str) -> None:
    if not can.can_publish_posts(user):
        raise PermissionDenied(f"Only an editor can {verb} posts.")
