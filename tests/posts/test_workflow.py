"""The editorial workflow: each transition, who may make it, and the clinical double approval."""

import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from posts.models import Post, Transition
from posts.services import workflow
from tests.conftest import ROOT, subprocess_env
from tests.posts.factories import make_post

S = Post.Status


def test_an_author_submits_an_editor_approves_and_publishes(author, editor) -> None:  # noqa: ANN001
    post = make_post(author)
    post = workflow.post_submit(post=post, by=author)
    assert post.status == S.IN_REVIEW
    post = workflow.post_approve(post=post, by=editor, comment="Lovely.")
    assert post.status == S.APPROVED and post.editor_approved_by == editor
    post = workflow.post_publish(post=post, by=editor)
    assert post.status == S.PUBLISHED and post.published_at is not None
    assert list(Transition.objects.filter(post=post).values_list("action", flat=True)) == [
        "publish", "approve", "submit",
    ]  # fmt: skip


def test_an_author_cannot_submit_someone_elses_draft(author, outsider) -> None:  # noqa: ANN001
    post = make_post(author)
    with pytest.raises(PermissionDenied):
        workflow.post_submit(post=post, by=outsider)


def test_nobody_approves_their_own_post(editor) -> None:  # noqa: ANN001
    post = make_post(editor, status=S.IN_REVIEW)
    with pytest.raises(PermissionDenied, match="own post"):
        workflow.post_approve(post=post, by=editor)


@pytest.mark.parametrize("persona", ["author", "officer", "outsider"])
def test_only_editors_approve_general_posts(request, persona, editor) -> None:  # noqa: ANN001
    post = make_post(editor, status=S.IN_REVIEW)
    with pytest.raises(PermissionDenied):
        workflow.post_approve(post=post, by=request.getfixturevalue(persona))


def test_a_clinical_post_needs_an_editor_and_a_compliance_officer(author, editor, officer) -> None:  # noqa: ANN001
    post = make_post(author, channel=Post.Channel.CLINICAL, status=S.IN_REVIEW)
    post = workflow.post_approve(post=post, by=editor)
    assert post.status == S.IN_REVIEW  # the editor alone is not enough
    with pytest.raises(ValidationError, match="in review; this needs it approved"):
        workflow.post_publish(post=post, by=editor)
    post = workflow.post_approve(post=post, by=officer)
    assert post.status == S.APPROVED
    assert (post.editor_approved_by, post.clinical_approved_by) == (editor, officer)
    assert workflow.post_publish(post=post, by=editor).status == S.PUBLISHED


def test_an_officer_can_approve_a_clinical_post_first(author, editor, officer) -> None:  # noqa: ANN001
    post = make_post(author, channel=Post.Channel.CLINICAL, status=S.IN_REVIEW)
    post = workflow.post_approve(post=post, by=officer)
    assert post.status == S.IN_REVIEW
    assert workflow.post_approve(post=post, by=editor).status == S.APPROVED


def test_an_illegal_transition_is_refused_with_a_clear_message(author, editor) -> None:  # noqa: ANN001
    post = make_post(author)
    with pytest.raises(ValidationError, match="is draft; this needs it approved"):
        workflow.post_publish(post=post, by=editor)
    with pytest.raises(ValidationError, match="is draft; this needs it published"):
        workflow.post_archive(post=post, by=editor)


def test_requesting_changes_needs_a_comment_and_clears_approvals(author, editor, officer) -> None:  # noqa: ANN001
    post = make_post(author, channel=Post.Channel.CLINICAL, status=S.IN_REVIEW)
    post = workflow.post_approve(post=post, by=officer)
    with pytest.raises(ValidationError, match="comment"):
        workflow.post_request_changes(post=post, by=editor, comment="  ")
    post = workflow.post_request_changes(post=post, by=editor, comment="Cut the intro.")
    assert post.status == S.DRAFT and post.clinical_approved_by is None
    assert post.transitions.first().comment == "Cut the intro."


def test_back_to_draft_needs_a_reason_and_an_editor(author, editor) -> None:  # noqa: ANN001
    post = make_post(author, status=S.PUBLISHED)
    with pytest.raises(ValidationError, match="reason"):
        workflow.post_back_to_draft(post=post, by=editor, reason="")
    with pytest.raises(PermissionDenied):
        workflow.post_back_to_draft(post=post, by=author, reason="Typo")
    assert workflow.post_back_to_draft(post=post, by=editor, reason="Typo").status == S.DRAFT


def test_an_author_may_withdraw_their_own_post_from_review(author) -> None:  # noqa: ANN001
    post = make_post(author, status=S.IN_REVIEW)
    assert workflow.post_back_to_draft(post=post, by=author, reason="Not ready").status == S.DRAFT


def test_archive_only_after_publishing(author, editor) -> None:  # noqa: ANN001
    post = make_post(author, status=S.PUBLISHED)
    assert workflow.post_archive(post=post, by=editor).status == S.ARCHIVED


def test_scheduling_needs_a_future_time(author, editor) -> None:  # noqa: ANN001
    post = make_post(author, status=S.APPROVED)
    with pytest.raises(ValidationError, match="future"):
        workflow.post_schedule(post=post, by=editor, at=timezone.now() - timedelta(minutes=1))
    at = timezone.now() + timedelta(hours=1)
    assert workflow.post_schedule(post=post, by=editor, at=at).scheduled_at == at
    assert workflow.post_unschedule(post=post, by=editor).scheduled_at is None


def test_publish_due_posts_publishes_only_those_whose_time_came(author, editor) -> None:  # noqa: ANN001
    due = make_post(author, status=S.APPROVED, title="Due")
    later = make_post(author, status=S.APPROVED, title="Later")
    now = timezone.now()
    Post.objects.filter(id=due.id).update(scheduled_at=now - timedelta(seconds=5))
    Post.objects.filter(id=later.id).update(scheduled_at=now + timedelta(hours=1))
    assert workflow.publish_due_posts(now=now) == [due.id]
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == S.PUBLISHED and due.scheduled_at is None
    assert (
        due.transitions.first().action == "scheduled_publish" and due.transitions.first().by is None
    )
    assert later.status == S.APPROVED


@pytest.mark.parametrize(
    ("status", "persona", "expected"),
    [
        (S.DRAFT, "author", ["submit"]),
        (S.DRAFT, "editor", ["submit"]),
        (S.DRAFT, "officer", []),
        (S.IN_REVIEW, "author", ["back_to_draft"]),
        (S.IN_REVIEW, "editor", ["approve", "request_changes", "back_to_draft"]),
        (S.APPROVED, "editor", ["publish", "schedule", "back_to_draft"]),
        (S.APPROVED, "author", []),
        (S.PUBLISHED, "editor", ["archive", "back_to_draft"]),
        (S.ARCHIVED, "editor", ["back_to_draft"]),
    ],
)
def test_the_buttons_follow_the_rules(request, author, status, persona, expected) -> None:  # noqa: ANN001
    post = make_post(author, status=status)
    assert workflow.allowed_actions(request.getfixturevalue(persona), post) == expected


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_beat_and_a_worker_publish_a_scheduled_post(celery_worker_process, tmp_path) -> None:  # noqa: ANN001
    from tests.accounts.factories import UserFactory

    author = UserFactory()
    post = make_post(author, status=S.APPROVED, title="Scheduled")
    scheduled_at = timezone.now() + timedelta(seconds=3)
    Post.objects.filter(id=post.id).update(scheduled_at=scheduled_at)
    beat = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "blogllm", "beat", "--loglevel", "WARNING",
            "--schedule", str(tmp_path / "beat-schedule"),
        ],
        cwd=ROOT, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 75
        while time.monotonic() < deadline:
            post.refresh_from_db()
            if post.status == S.PUBLISHED:
                break
            time.sleep(0.5)
    finally:
        beat.terminate()
        beat.wait(timeout=30)
    assert post.status == S.PUBLISHED
    assert post.published_at - scheduled_at < timedelta(minutes=1)
    # Publishing queued its embedding: let the worker finish before teardown empties the tables.
    while not post.embedded_hash and time.monotonic() < deadline + 60:
        time.sleep(0.5)
        post.refresh_from_db()
    assert post.embedded_hash
