"""Drafts sent in through the API: create, edit while still a draft, submit for review.

Nothing here approves or publishes: those stay with people, through posts.services.workflow.
"""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts import permissions as can
from accounts.models import User
from compliance.scanning import scan_output
from posts.models import Post
from posts.services.editing import post_create, post_update
from posts.services.workflow import post_submit


def _require_writer(user: User, channel: str) -> None:
    if not can.can_draft_posts(user) and not can.can_write_clinical_posts(user):
        raise PermissionDenied("This key's owner may not write posts.")
    if channel == Post.Channel.CLINICAL and not can.can_write_clinical_posts(user):
        raise PermissionDenied("This key's owner may not write clinical posts.")


def _require_no_phi(channel: str, *texts: str) -> None:
    """Clinical text passes the same PHI scan as generated text; the refusal names the
    categories found, never the words (they are the PHI)."""
    if channel != Post.Channel.CLINICAL:
        return
    categories: set[str] = set()
    for text in texts:
        report = scan_output(text)
        if report.error:
            raise ValidationError(report.error)
        categories |= {hit.label for hit in report.phi}
        if report.overlaps:
            categories.add("verbatim clinical note text")
    if categories:
        raise ValidationError(
            "The text looks like it holds protected health information "
            f"({', '.join(sorted(categories))}); remove it and send the draft again."
        )


def api_draft_create(
    *, by: User, title: str, body_markdown: str, excerpt: str = "",
    tags: Iterable[str] = (), channel: str = Post.Channel.GENERAL,
) -> Post:  # fmt: skip
    _require_writer(by, channel)
    _require_no_phi(channel, title, body_markdown, excerpt)
    return post_create(
        author=by, title=title, body_markdown=body_markdown, excerpt=excerpt, tags=tags,
        channel=channel,
    )  # fmt: skip


def api_draft_get(*, by: User, post_id: int) -> Post:
    """One of the key owner's own posts, in any state (so a client can follow its review)."""
    try:
        return Post.objects.prefetch_related("tags").get(id=post_id, author=by)
    except Post.DoesNotExist:
        raise Post.DoesNotExist("None of this key's owner's posts has that id.") from None


@transaction.atomic
def api_draft_update(*, by: User, post: Post, expected_version: int, changes: dict) -> Post:
    if post.status != Post.Status.DRAFT:
        raise PermissionDenied(
            f"The post is {post.get_status_display().lower()}; only drafts change here."
        )
    _require_writer(by, post.channel)
    fields = {
        "title": changes.get("title", post.title),
        "body_markdown": changes.get("body_markdown", post.body_markdown),
        "excerpt": changes.get("excerpt", post.excerpt),
    }
    _require_no_phi(post.channel, *fields.values())
    tags = changes.get("tags", [t.name for t in post.tags.all()])
    return post_update(
        post_id=post.id, by=by, expected_version=expected_version, tags=tags, **fields
    )


def api_draft_submit(*, by: User, post: Post) -> Post:
    return post_submit(post=post, by=by)
