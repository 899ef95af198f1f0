"""Reads for the publishing API: only published posts, ever."""

from datetime import datetime

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from generation.models import GenerationRun
from posts.models import Post


def published_post_list(
    *,
    tag: str = "",
    channel: str = "",
    author_id: int | None = None,
    published_after: datetime | None = None,
    published_before: datetime | None = None,
    updated_after: datetime | None = None,
) -> QuerySet[Post]:
    """Published posts with what their representation needs, in a constant number of queries.
    Drafts, reviews, approved-but-scheduled and archived posts never pass the status filter."""
    posts = (
        Post.objects.filter(status=Post.Status.PUBLISHED)
        .select_related("author")
        .prefetch_related(
            "tags",
            Prefetch(
                "generation_runs",
                queryset=GenerationRun.objects.filter(kind=GenerationRun.Kind.DRAFT)
                .select_related("model_version")
                .order_by("-created_at"),
                to_attr="draft_runs",
            ),
        )
    )
    if tag:
        posts = posts.filter(tags__name=tag.strip().lower())
    if channel:
        posts = posts.filter(channel=channel)
    if author_id:
        posts = posts.filter(author_id=author_id)
    if published_after:
        posts = posts.filter(published_at__gt=published_after)
    if published_before:
        posts = posts.filter(published_at__lt=published_before)
    if updated_after:
        posts = posts.filter(updated_at__gt=updated_after)
    return posts.distinct() if tag else posts


def published_post_stamp(*, slug: str) -> dict | None:
    """What a published post's ETag is made of, in one query: its id, version, update time and
    its AI draft's edit distance (which the generation app writes just after publication)."""
    runs = GenerationRun.objects.filter(post=OuterRef("pk"), kind=GenerationRun.Kind.DRAFT)
    return (
        Post.objects.filter(status=Post.Status.PUBLISHED, slug=slug)
        .annotate(edit=Subquery(runs.order_by("-created_at").values("edit_distance")[:1]))
        .values("id", "version", "updated_at", "edit")
        .first()
    )
