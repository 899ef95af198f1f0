"""Chunk and embed posts into pgvector. Idempotent: a post whose text has not changed since its
last embedding is skipped, so re-running (or a duplicate task) costs nothing.

Many posts at once (an import, a backfill) are embedded together: the model is several times
faster on full batches of 32 than on the 8 or so chunks of one post (bench/bench_embedding.py).
"""

import hashlib
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from posts.chunking import TextChunk, chunk_markdown
from posts.embedder import get_embedder
from posts.models import Chunk, Post

logger = logging.getLogger(__name__)

# Posts per task when many are embedded at once: enough to fill the model's batches, few
# enough that a task stays short and a crash costs little.
EMBED_BATCH_POSTS = 32


def embedding_hash(post: Post) -> str:
    """What the chunks depend on: title, body and the embedding model."""
    key = "\x00".join([settings.EMBED_MODEL, post.title, post.body_markdown])
    return hashlib.sha256(key.encode()).hexdigest()


def post_embed(*, post_id: int, force: bool = False) -> int:
    """(Re-)embed one post; returns the number of chunks written (0 when nothing changed)."""
    return posts_embed(post_ids=[post_id], force=force)[1]


def posts_embed(*, post_ids: Iterable[int], force: bool = False) -> tuple[int, int]:
    """(Re-)embed these posts, their chunks in shared batches. Returns (posts, chunks) written."""
    posts = list(Post.objects.filter(id__in=list(post_ids)).order_by("id"))
    wanted = {post.id: embedding_hash(post) for post in posts}
    posts = [post for post in posts if force or post.embedded_hash != wanted[post.id]]
    if not posts:
        return 0, 0
    embedder = get_embedder(settings.EMBED_MODEL)
    pieces: dict[int, list[TextChunk]] = {
        post.id: chunk_markdown(
            post.body_markdown,
            title=post.title,
            count_tokens=embedder.count_tokens,
            max_tokens=embedder.max_tokens,
        )
        for post in posts
    }
    vectors = iter(embedder.embed([p.embed_text for post in posts for p in pieces[post.id]]))
    embedded = written = 0
    for post in posts:
        post_vectors = [next(vectors) for _ in pieces[post.id]]
        stored = _store(post.id, wanted[post.id], pieces[post.id], post_vectors)
        embedded, written = embedded + bool(stored), written + stored
    return embedded, written


@transaction.atomic
def _store(post_id: int, wanted: str, pieces: list[TextChunk], vectors: list) -> int:
    # Lock the row so two workers embedding the same post write one set of chunks.
    locked = Post.objects.select_for_update().filter(id=post_id).first()
    if locked is None or embedding_hash(locked) != wanted:
        return 0  # deleted or edited meanwhile: the edit's own task embeds the new text
    written = Chunk.replace_all(locked, pieces=pieces, vectors=vectors, embedded_hash=wanted)
    logger.info("embedded post", extra={"post_id": post_id, "chunks": written})
    return written


def posts_embed_all(*, force: bool = False, progress: object = None) -> tuple[int, int]:
    """Backfill: embed every post that needs it. Returns (posts embedded, chunks written)."""
    ids = list(Post.objects.order_by("id").values_list("id", flat=True))
    posts = chunks = 0
    for start in range(0, len(ids), EMBED_BATCH_POSTS):
        batch = ids[start : start + EMBED_BATCH_POSTS]
        embedded, written = posts_embed(post_ids=batch, force=force)
        posts, chunks = posts + embedded, chunks + written
        if callable(progress):
            progress(start + len(batch), len(ids))
    return posts, chunks
