"""Reads of clinical notes: the review queue, and the gate to generation and training.

Only approved notes leave this module for retrieval (note_chunk_search) and training
(note_list_for_training), and only as de-identified text. Nothing here reads `raw_encrypted`:
the raw text is decrypted only by compliance.services.notes.note_open_for_review, which audits.
"""

import uuid
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet

from accounts import permissions as can
from accounts.models import User
from compliance.models import ClinicalNote, DeidFinding, DeidSuspect, NoteBatch, NoteChunk
from posts.selectors import hybrid_rank, marked_headline, snippet

# Columns that are safe to load anywhere: never the raw text or its shingles.
_QUEUE_FIELDS = (
    "id", "uid", "title", "source", "source_name", "uploaded_by__id", "uploaded_by__email",
    "uploaded_by__first_name", "uploaded_by__last_name", "uploaded_at", "status",
    "deid_state", "risk_score", "raw_chars", "batch",
)  # fmt: skip


def note_list_for_review() -> QuerySet[ClinicalNote]:
    """Pending notes, riskiest first (then oldest), with their category and finding counts."""
    active = ~Q(findings__reviewer_action=DeidFinding.Action.REMOVED)
    return (
        ClinicalNote.objects.filter(status=ClinicalNote.Status.PENDING)
        .select_related("uploaded_by")
        .only(*_QUEUE_FIELDS)
        .annotate(
            categories=Count("findings__category", filter=active, distinct=True),
            finding_count=Count("findings", filter=active, distinct=True),
        )
        .order_by("-risk_score", "uploaded_at", "id")
    )


def note_get_for_review(note_id: int | str | uuid.UUID, user: User) -> ClinicalNote:
    """One note (by uid, or by id when an int) with its findings, suspects and people, for the
    review screen. Raises PermissionDenied for users who do not handle notes, DoesNotExist if
    none."""
    if not can.can_handle_clinical_notes(user):
        raise PermissionDenied("Only compliance officers handle clinical notes.")
    lookup = {"id": note_id} if isinstance(note_id, int) else {"uid": note_id}
    return (
        ClinicalNote.objects.select_related("uploaded_by", "reviewed_by", "batch")
        .defer("raw_shingles", "deid_shingles")
        .prefetch_related(
            Prefetch("findings", queryset=DeidFinding.objects.order_by("start")),
            Prefetch("suspects", queryset=DeidSuspect.objects.order_by("start")),
        )
        .get(**lookup)
    )


def note_batch_list(user: User) -> QuerySet[NoteBatch]:
    return NoteBatch.objects.filter(uploaded_by=user).defer("payload_encrypted", "report")


@dataclass(frozen=True)
class TrainingNote:
    id: int
    uid: uuid.UUID
    deid_text: str


def _notes_for_training() -> QuerySet[ClinicalNote]:
    return (
        ClinicalNote.objects.filter(
            status=ClinicalNote.Status.APPROVED, deid_state=ClinicalNote.Deid.DONE
        )
        .exclude(deid_text="")
        .order_by("id")
    )


def note_list_for_training() -> list[TrainingNote]:
    """Approved notes' de-identified text: the only way a training dataset gets notes."""
    rows = _notes_for_training().values_list("id", "uid", "deid_text")
    return [TrainingNote(*row) for row in rows]


def note_uids_for_training() -> list[uuid.UUID]:
    """Which notes a dataset made now would hold, without their text (scheduled retraining
    counts the new ones)."""
    return list(_notes_for_training().values_list("uid", flat=True))


@dataclass(frozen=True)
class NoteHit:
    chunk_id: int
    note_id: int
    note_uid: uuid.UUID
    heading: str
    text: str
    score: float
    similarity: float | None
    text_rank: float | None
    snippet_html: str


def note_chunk_search(query: str, *, limit: int = 10, candidates: int = 50) -> list[NoteHit]:
    """Hybrid search (pgvector + full text, RRF) over approved notes' chunks only."""
    query = query.strip()
    if not query:
        return []
    # The gate: whatever NoteChunk rows exist, only an approved note's are ever ranked.
    chunks = NoteChunk.objects.filter(note__status=ClinicalNote.Status.APPROVED)
    text_query = SearchQuery(query, search_type="websearch", config="english")
    ranked = hybrid_rank(chunks, query, text_query=text_query, limit=limit, candidates=candidates)
    rows = (
        chunks.filter(id__in=ranked.top)
        .select_related("note")
        .only("id", "note_id", "note__uid", "heading", "text")
        .annotate(headline=snippet(text_query))
    )
    by_id = {row.id: row for row in rows}
    return [
        NoteHit(
            chunk_id=chunk_id,
            note_id=by_id[chunk_id].note_id,
            note_uid=by_id[chunk_id].note.uid,
            heading=by_id[chunk_id].heading,
            text=by_id[chunk_id].text,
            score=ranked.fused[chunk_id],
            similarity=ranked.similarity.get(chunk_id),
            text_rank=ranked.text_rank.get(chunk_id),
            snippet_html=marked_headline(by_id[chunk_id].headline),
        )
        for chunk_id in ranked.top
        if chunk_id in by_id
    ]
