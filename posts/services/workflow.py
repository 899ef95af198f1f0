"""The editorial workflow: who may move a post from which state to which.

draft --submit--> in_review --approve--> approved --publish / schedule--> published --archive-->
archived; request_changes (in_review → draft) and back_to_draft (any later state → draft) need a
reason. A clinical-channel post is approved only once an editor AND a compliance officer have
approved it; nobody approves their own post. Every step is recorded as a Transition.
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from posts.models import Post, Transition

S = Post.Status


def is_editor(user: User | None) -> bool:
    return user is not None and user.has_perm("accounts.review_posts")


def is_clinical_approver(user: User | None) -> bool:
    return user is not None and user.has_perm("accounts.approve_clinical_posts")


def allowed_actions(user: User, post: Post) -> list[str]:
    """The workflow buttons to show this user on this post."""
    actions = []
    own = post.author_id == user.id
    if post.status == S.DRAFT and (own or is_editor(user)):
        actions.append("submit")
    if post.status == S.IN_REVIEW and not own and _approval_role(user, post):
        actions += ["approve", "request_changes"]
    if post.status == S.APPROVED and is_editor(user):
        actions += ["publish", "schedule"] + (["unschedule"] if post.scheduled_at else [])
    if post.status == S.PUBLISHED and is_editor(user):
        actions.append("archive")
    if post.status != S.DRAFT and (is_editor(user) or (own and post.status == S.IN_REVIEW)):
        actions.append("back_to_draft")
    return actions


def _approval_role(user: User, post: Post) -> str | None:
    """Which approval this user can still give: 'editor', 'clinical' or None."""
    if is_editor(user) and post.editor_approved_by_id is None:
        return "editor"
    if post.is_clinical and is_clinical_approver(user) and post.clinical_approved_by_id is None:
        return "clinical"
    return None


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
    if post.author_id != by.id and not is_editor(by):
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
    role = _approval_role(by, post)
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
    if not (is_editor(by) or (post.is_clinical and is_clinical_approver(by))):
        raise PermissionDenied(
            "Only an editor (or, for clinical posts, a compliance officer) can ask for changes."
        )
    return _to_draft(post, by=by, action="request_changes", comment=comment)


@transaction.atomic
def post_back_to_draft(*, post: Post, by: User, reason: str) -> Post:
    post = _locked(post, S.IN_REVIEW, S.APPROVED, S.PUBLISHED, S.ARCHIVED)
    if not reason.strip():
        raise ValidationError("Give a reason for sending the post back to draft.")
    withdrawing = post.author_id == by.id and post.status == S.IN_REVIEW
    if not (is_editor(by) or withdrawing):
        raise PermissionDenied("Only an editor can send this post back to draft.")
    return _to_draft(post, by=by, action="back_to_draft", comment=reason)


def _to_draft(post: Post, *, by: User, action: str, comment: str) -> Post:
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
    post.published_at = timezone.now()
    post.scheduled_at = None
    post.save(update_fields=["status", "published_at", "scheduled_at", "updated_at"])
    if post.source == Post.Source.AI_ASSISTED:
        # How much the editor changed the AI draft: feedback for the model that wrote it.
        from generation.feedback import generation_publication_record

        generation_publication_record(post=post)
    from posts.tasks import post_embed_task

    transaction.on_commit(lambda: post_embed_task.delay(post_id=post.id))
    return post


@transaction.atomic
def post_archive(*, post: Post, by: User, comment: str = "") -> Post:
    post = _locked(post, S.PUBLISHED)
    _require_editor(by, "archive")
    _move(post, S.ARCHIVED, by=by, action="archive", comment=comment)
    post.save(update_fields=["status", "updated_at"])
    return post


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
    if not is_editor(user):
        raise PermissionDenied(f"Only an editor can {verb} posts.")
