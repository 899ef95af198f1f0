"""Chunk and embed posts into pgvector. Idempotent: a post whose text has not changed since its
last embedding is skipped, so re-running (or a duplicate task) costs nothing."""

import hashlib
import logging

from django.conf import settings
from django.db import transaction

from posts.chunking import chunk_markdown
from posts.embedder import get_embedder
from posts.models import Chunk, Post

logger = logging.getLogger(__name__)


def embedding_hash(post: Post) -> str:
    """What the chunks depend on: title, body and the embedding model."""
    key = "\x00".join([settings.EMBED_MODEL, post.title, post.body_markdown])
    return hashlib.sha256(key.encode()).hexdigest()


def post_embed(*, post_id: int, force: bool = False) -> int:
    """(Re-)embed one post; returns the number of chunks written (0 when nothing changed)."""
    post = Post.objects.filter(id=post_id).first()
    if post is None:  # deleted before the task ran
        return 0
    wanted = embedding_hash(post)
    if not force and post.embedded_hash == wanted:
        return 0
    embedder = get_embedder(settings.EMBED_MODEL)
    pieces = chunk_markdown(
        post.body_markdown,
        title=post.title,
        count_tokens=embedder.count_tokens,
        max_tokens=embedder.max_tokens,
    )
    vectors = embedder.embed([piece.embed_text for piece in pieces])
    with transaction.atomic():
        # Lock the row so two workers embedding the same post write one set of chunks.
        locked = Post.objects.select_for_update().filter(id=post_id).first()
        if locked is None:
            return 0
        Chunk.objects.filter(post_id=post_id).delete()
        Chunk.objects.bulk_create(
            Chunk(
                post_id=post_id,
                ord=piece.ord,
                heading=piece.heading[:500],
                text=piece.text,
                token_count=piece.token_count,
                embedding=vector,
            )
            for piece, vector in zip(pieces, vectors, strict=True)
        )
        Post.objects.filter(id=post_id).update(embedded_hash=wanted)
    logger.info("embedded post", extra={"post_id": post_id, "chunks": len(pieces)})
    return len(pieces)


def posts_embed_all(*, force: bool = False, progress: object = None) -> tuple[int, int]:
    """Backfill: embed every post that needs it. Returns (posts embedded, chunks written)."""
    ids = list(Post.objects.order_by("id").values_list("id", flat=True))
    posts = chunks = 0
    for done, post_id in enumerate(ids, start=1):
        written = post_embed(post_id=post_id, force=force)
        posts += bool(written)
        chunks += written
        if callable(progress):
            progress(done, len(ids))
    return posts, chunks
