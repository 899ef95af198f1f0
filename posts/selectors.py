"""Reads of posts for views, the API, the admin and generation's retriever."""

import html
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from pgvector.django import CosineDistance

from accounts import permissions as can
from accounts.models import User
from posts.embedder import get_embedder
from posts.models import Chunk, Post

RRF_K = 60  # the usual reciprocal-rank-fusion constant: damps the weight of the very top ranks
# HNSW candidate list. On 100k realistic chunks (bench/bench_search.py): 100 gave recall@10 0.94
# (0.92 on real questions) at 3 ms p95, 200 gave 0.97 at 4.6 ms p95, so recall wins.
EF_SEARCH = 200
_MARK_START, _MARK_END = "\x02", "\x03"  # ts_headline markers, turned into <mark> after escaping


def post_list(
    *,
    user: User,
    status: str = "",
    channel: str = "",
    tag: str = "",
    query: str = "",
    author_id: int | None = None,
) -> QuerySet[Post]:
    """Posts this user may see, filtered. Authors see their own and everything published."""
    posts = Post.objects.select_related("author").prefetch_related("tags")
    if not can.can_see_unpublished_posts(user):
        posts = posts.filter(Q(author=user) | Q(status=Post.Status.PUBLISHED))
    if status:
        posts = posts.filter(status=status)
    if channel:
        posts = posts.filter(channel=channel)
    if tag:
        posts = posts.filter(tags__name=tag)
    if author_id:
        posts = posts.filter(author_id=author_id)
    if query:
        posts = posts.filter(Q(title__icontains=query) | Q(body_markdown__icontains=query))
    return posts.distinct()


def post_get(*, user: User, post_id: int) -> Post:
    return post_list(user=user).get(id=post_id)


def dashboard(*, user: User) -> dict[str, list[Post]]:
    base = Post.objects.select_related("author").only(
        "id", "title", "slug", "status", "channel", "author__email", "author__first_name",
        "author__last_name", "updated_at", "published_at", "scheduled_at",
    )  # fmt: skip
    S = Post.Status
    review_queue = base.none()
    if can.can_review_posts(user):
        review_queue = base.filter(status=S.IN_REVIEW).exclude(author=user)
    elif can.can_approve_clinical_posts(user):
        review_queue = base.filter(
            status=S.IN_REVIEW, channel=Post.Channel.CLINICAL, clinical_approved_by=None
        )
    return {
        "my_drafts": list(base.filter(author=user, status=S.DRAFT).order_by("-updated_at")[:10]),
        "review_queue": list(review_queue.order_by("updated_at")[:10]),
        "scheduled": list(
            base.filter(status=S.APPROVED, scheduled_at__isnull=False).order_by("scheduled_at")[:10]
        ),
        "recently_published": list(base.filter(status=S.PUBLISHED).order_by("-published_at")[:10]),
    }


@dataclass(frozen=True)
class SearchHit:
    chunk_id: int
    post_id: int
    post_title: str
    post_slug: str
    heading: str
    text: str
    score: float  # reciprocal-rank fusion of the two rankings
    similarity: float | None  # cosine similarity, when the vector search found it
    text_rank: float | None  # full-text rank, when the keyword search found it
    snippet_html: str  # escaped text with the matched words in <mark>


def chunk_search(
    query: str,
    *,
    channels: Iterable[str] = (Post.Channel.GENERAL,),
    statuses: Iterable[str] = (Post.Status.PUBLISHED,),
    limit: int = 10,
    candidates: int = 50,
    post_ids: Iterable[int] | None = None,
) -> list[SearchHit]:
    """Hybrid search: pgvector (cosine, HNSW) and PostgreSQL full-text search, fused with
    reciprocal rank fusion, so paraphrases and exact names and terms are both found.
    Generation's retriever calls this too, with the channels it is allowed to read."""
    query = query.strip()
    if not query:
        return []
    chunks = Chunk.objects.filter(post__channel__in=list(channels), post__status__in=list(statuses))
    if post_ids is not None:
        chunks = chunks.filter(post_id__in=list(post_ids))
    text_query = SearchQuery(query, search_type="websearch", config="english")
    ranked = hybrid_rank(chunks, query, text_query=text_query, limit=limit, candidates=candidates)
    top, fused, similarity, rank = ranked.top, ranked.fused, ranked.similarity, ranked.text_rank

    rows = (
        Chunk.objects.filter(id__in=top)
        .select_related("post")
        .annotate(headline=snippet(text_query))
    )
    by_id = {row.id: row for row in rows}
    return [
        SearchHit(
            chunk_id=chunk_id,
            post_id=by_id[chunk_id].post_id,
            post_title=by_id[chunk_id].post.title,
            post_slug=by_id[chunk_id].post.slug,
            heading=by_id[chunk_id].heading,
            text=by_id[chunk_id].text,
            score=fused[chunk_id],
            similarity=similarity.get(chunk_id),
            text_rank=rank.get(chunk_id),
            snippet_html=_marked(by_id[chunk_id].headline),
        )
        for chunk_id in top
        if chunk_id in by_id
    ]


def _marked(headline: str) -> str:
    escaped = html.escape(headline)
    return escaped.replace(_MARK_START, "<mark>").replace(_MARK_END, "</mark>")


@dataclass(frozen=True)
class HybridRanking:
    top: list[int]  # chunk ids, best first
    fused: dict[int, float]  # reciprocal-rank-fusion score of every candidate
    similarity: dict[int, float]  # cosine similarity, for candidates the vector search found
    text_rank: dict[int, float]  # full-text rank, for candidates the keyword search found


def hybrid_rank(
    chunks: QuerySet,
    query: str,
    *,
    text_query: SearchQuery,
    limit: int,
    candidates: int,
) -> HybridRanking:
    """Rank `chunks` (any model with `embedding` and `search` columns, already filtered to what
    the caller may read) by pgvector cosine distance and by full-text rank, fused with RRF.
    Shared by posts' chunk_search and compliance's note_chunk_search."""
    vector = get_embedder(settings.EMBED_MODEL).embed([query])[0]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}")
            # Filters are applied after the index scan; let pgvector keep scanning until it has
            # enough rows that pass them instead of returning too few.
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        by_vector = list(
            chunks.annotate(distance=CosineDistance("embedding", vector))
            .order_by("distance")
            .values_list("id", "distance")[:candidates]
        )
    by_vector.sort(key=lambda row: row[1])  # relaxed_order may return near-sorted rows
    by_text = list(
        chunks.filter(search=text_query)
        .annotate(rank=SearchRank(F("search"), text_query))
        .order_by("-rank")
        .values_list("id", "rank")[:candidates]
    )

    fused: dict[int, float] = {}
    for ranking in (by_vector, by_text):
        for position, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + position)
    top = sorted(fused, key=fused.__getitem__, reverse=True)[:limit]
    similarity = {chunk_id: 1.0 - distance for chunk_id, distance in by_vector}
    return HybridRanking(top, fused, similarity, dict(by_text))


def marked_headline(headline: str) -> str:
    """A ts_headline made with _MARK_START/_MARK_END, escaped, with the matches in <mark>."""
    return _marked(headline)


def snippet(text_query: SearchQuery) -> SearchHeadline:
    """The highlighted excerpt of a chunk's text, for `marked_headline` to escape and mark."""
    return SearchHeadline(
        "text", text_query, config="english", start_sel=_MARK_START, stop_sel=_MARK_END,
        max_words=40, min_words=20, max_fragments=2, fragment_delimiter=" … ",
    )  # fmt: skip


def published_mentions(words: Iterable[str]) -> set[str]:
    """Which of `words` (names, places) appear as whole words, in any case, in a published post
    of the general channel: what the author has already said in public is no leak when a draft
    says it again. One query a word, at most 50 words."""
    wanted = sorted({w.strip() for w in words if w.strip()})[:50]
    if not wanted:
        return set()
    published = Post.objects.filter(status=Post.Status.PUBLISHED, channel=Post.Channel.GENERAL)
    found: set[str] = set()
    for word in wanted:
        pattern = rf"\m{_pg_regex_escape(word)}\M"
        if published.filter(Q(body_markdown__iregex=pattern) | Q(title__iregex=pattern)).exists():
            found.add(word)
    return found


def _pg_regex_escape(word: str) -> str:
    return "".join(f"\\{c}" if not c.isalnum() and c != " " else c for c in word)
