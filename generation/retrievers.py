"""LangChain retrievers over our pgvector chunks, with each channel's reading rules.

- general: chunks of published general-channel posts;
- clinical: chunks of published clinical-channel posts and of approved clinical notes (through
  `note_chunk_search`, the one door to note chunks), nothing else.

Candidates come from the same hybrid search the Search page uses (pgvector + full text, fused by
reciprocal rank), then maximal marginal relevance picks `k` of them: relevance is the fused score
(so a passage only the keyword search found still counts), redundancy is the cosine similarity
between the chunks' stored embeddings. Each Document's metadata carries what a citation needs.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

CHANNELS = ("general", "clinical")


@dataclass(frozen=True)
class Candidate:
    source: str  # "post" | "note"
    chunk_id: int
    text: str
    score: float  # fused hybrid score
    similarity: float | None
    metadata: dict


class ChunkRetriever(BaseRetriever):
    """Retrieve `k` diverse, relevant chunks for a channel (see the module docstring)."""

    channel: str = "general"
    k: int = 6
    fetch_k: int = 24
    lambda_mult: float = 0.6  # 1: relevance only; 0: diversity only
    # Posts whose chunks are never retrieved: the quality benchmark hides the held-out post it
    # writes a draft for, or the draft would copy its answer.
    exclude_post_ids: tuple[int, ...] = ()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        if self.channel not in CHANNELS:
            raise ValueError(f"Unknown channel {self.channel!r}.")
        candidates = post_candidates(
            query, channel=self.channel, limit=self.fetch_k, exclude_post_ids=self.exclude_post_ids
        )
        if self.channel == "clinical":
            candidates += note_candidates(query, limit=self.fetch_k)
        if not candidates:
            return []
        vectors = candidate_vectors(candidates)
        picks = mmr(
            np.array([c.score for c in candidates]), vectors, k=self.k, lambda_mult=self.lambda_mult
        )
        return [_document(candidates[i], rank) for rank, i in enumerate(picks, start=1)]


def post_candidates(
    query: str, *, channel: str, limit: int, exclude_post_ids: Iterable[int] = ()
) -> list[Candidate]:
    """The channel's published chunks for `query`, best first; none of `exclude_post_ids`."""
    from posts.models import Post
    from posts.selectors import chunk_search

    post_ids = None
    if exclude_post_ids:
        # Left out before ranking, not after: a long held-out post would otherwise fill the
        # candidates and leave fewer than `limit` of the others.
        post_ids = (
            Post.objects.filter(channel=channel, status=Post.Status.PUBLISHED)
            .exclude(id__in=list(exclude_post_ids))
            .values_list("id", flat=True)
        )
    hits = chunk_search(
        query,
        channels=[channel],
        statuses=[Post.Status.PUBLISHED],
        limit=limit,
        candidates=limit * 2,
        post_ids=post_ids,
    )
    return [
        Candidate(
            source="post",
            chunk_id=hit.chunk_id,
            text=hit.text,
            score=hit.score,
            similarity=hit.similarity,
            metadata={
                "post_id": hit.post_id,
                "title": hit.post_title,
                "slug": hit.post_slug,
                "heading": hit.heading,
            },
        )
        for hit in hits
    ]


def note_candidates(query: str, *, limit: int) -> list[Candidate]:
    from compliance.selectors import note_chunk_search

    return [
        Candidate(
            source="note",
            chunk_id=hit.chunk_id,
            text=hit.text,
            score=hit.score,
            similarity=hit.similarity,
            metadata={
                "note_uid": str(hit.note_uid),
                "title": "Clinical note",
                "heading": hit.heading,
            },
        )
        for hit in note_chunk_search(query, limit=limit, candidates=limit * 2)
    ]


def candidate_vectors(candidates: list[Candidate]) -> np.ndarray:
    """The stored unit embeddings of the candidates, one row each, in their order."""
    from compliance.models import NoteChunk
    from posts.models import Chunk

    wanted = {"post": [], "note": []}
    for c in candidates:
        wanted[c.source].append(c.chunk_id)
    stored = {
        ("post", cid): vec
        for cid, vec in Chunk.objects.filter(id__in=wanted["post"]).values_list("id", "embedding")
    }
    stored |= {
        ("note", cid): vec
        for cid, vec in NoteChunk.objects.filter(id__in=wanted["note"]).values_list(
            "id", "embedding"
        )
    }
    return np.array([np.asarray(stored[(c.source, c.chunk_id)]) for c in candidates], dtype=float)


def mmr(relevance: np.ndarray, vectors: np.ndarray, *, k: int, lambda_mult: float) -> list[int]:
    """Indices of `k` items chosen greedily by lambda·relevance − (1−lambda)·max similarity to
    those already chosen. Relevance is scaled to [0, 1] so both terms weigh alike."""
    if len(relevance) == 0 or k <= 0:
        return []
    relevance = relevance / relevance.max() if relevance.max() > 0 else relevance
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1, norms)
    similarity = unit @ unit.T
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(k, len(relevance)):
        redundancy = similarity[:, chosen].max(axis=1)
        scores = lambda_mult * relevance - (1 - lambda_mult) * redundancy
        scores[chosen] = -np.inf
        chosen.append(int(np.argmax(scores)))
    return chosen


def _document(candidate: Candidate, rank: int) -> Document:
    return Document(
        page_content=candidate.text,
        metadata={
            "source": candidate.source,
            "chunk_id": candidate.chunk_id,
            "rank": rank,
            "score": candidate.score,
            "similarity": candidate.similarity,
            **candidate.metadata,
        },
    )
