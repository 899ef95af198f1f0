"""Reads for the publishing API: only published posts, ever."""

from datetime import datetime

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    When,
)

from generation.models import GenerationRun
from posts.models import Post, Tag
from posts.selectors import chunk_search
from posts.services.editing import normalise_tags

SEARCH_LIMIT = 100  # posts a search returns, best first


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
    posts = _as_shown(Post.objects.filter(status=Post.Status.PUBLISHED))
    if tag:  # tag names are unique, so the join adds no duplicate rows
        posts = posts.filter(tags__name__in=normalise_tags([tag]))
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
    return posts


def _as_shown(posts: QuerySet[Post]) -> QuerySet[Post]:
    """With what PostOutputSerializer reads: author, tags and the draft runs behind provenance."""
    # The corpus fingerprints and import findings are never shown: not worth reading.
    posts = posts.defer("minhash", "cleaning_changes", "contact_findings")
    return posts.select_related("author").prefetch_related(
        "tags",
        Prefetch(
            "generation_runs",
            queryset=GenerationRun.objects.filter(kind=GenerationRun.Kind.DRAFT)
            .select_related("model_version")
            .order_by("-created_at"),
            to_attr="draft_runs",
        ),
    )


def post_as_shown(*, post_id: int) -> Post | None:
    """One post in any state, ready for PostOutputSerializer: a webhook describes the post as the
    API showed it, also when it has just stopped being public."""
    return _as_shown(Post.objects.filter(id=post_id)).first()


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


def published_post_search(
    posts: QuerySet[Post], query: str, *, channel: str = ""
) -> QuerySet[Post]:
    """`posts` narrowed to those the web UI's hybrid search finds for `query` (pgvector and
    full-text, fused), annotated with `search_position` (0 = best) for ordering."""
    channels = [channel] if channel else list(Post.Channel.values)
    hits = chunk_search(
        query, channels=channels, statuses=[Post.Status.PUBLISHED], limit=SEARCH_LIMIT * 3
    )
    ranked: list[int] = []
    for hit in hits:  # a post's best chunk decides its place
        if hit.post_id not in ranked:
            ranked.append(hit.post_id)
    ranked = ranked[:SEARCH_LIMIT]
    position = Case(
        *[When(id=post_id, then=n) for n, post_id in enumerate(ranked)],
        output_field=IntegerField(),
    )
    return posts.filter(id__in=ranked).annotate(search_position=position)


def published_tag_list() -> QuerySet[Tag]:
    """Tags of at least one published post, with how many."""
    published = Q(posts__status=Post.Status.PUBLISHED)
    return (
        Tag.objects.annotate(post_count=Count("posts", filter=published))
        .filter(post_count__gt=0)
        .order_by("name")
    )


def published_author_list() -> QuerySet:
    """People with at least one published post: id and name only, never an e-mail address."""
    from accounts.models import User

    published = Q(posts__status=Post.Status.PUBLISHED)
    return (
        User.objects.annotate(post_count=Count("posts", filter=published))
        .filter(post_count__gt=0)
        .order_by("first_name", "last_name", "id")
    )
