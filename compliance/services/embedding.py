"""Chunk and embed approved notes' de-identified text for clinical retrieval.

Only an approved note is embedded: anything else raises. Idempotent like posts' embedding: a
note whose de-identified text has not changed since its last embedding is skipped.
"""

import hashlib
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from compliance.models import ClinicalNote, NoteChunk
from posts.chunking import chunk_markdown
from posts.embedder import get_embedder

logger = logging.getLogger(__name__)
# The heading every chunk is embedded under. Not the note's title: titles are typed by the
# uploader and never de-identified, so they stay out of retrieval.
HEADING = "Clinical note"


def note_embedding_hash(note: ClinicalNote) -> str:
    key = "\x00".join([settings.EMBED_MODEL, HEADING, note.deid_text])
    return hashlib.sha256(key.encode()).hexdigest()


class NoteNotApproved(ValidationError):
    """Raised for a note that is not approved: pending and rejected notes are never embedded."""


def note_embed(*, note_id: int, force: bool = False) -> int:
    """(Re-)embed one approved note; returns the number of chunks written (0 if unchanged)."""
    note = ClinicalNote.objects.filter(id=note_id).first()
    if note is None:  # deleted before the task ran
        return 0
    if note.status != ClinicalNote.Status.APPROVED:
        raise NoteNotApproved(
            f"Note {note.uid} is {note.status}; only approved notes are embedded."
        )
    wanted = note_embedding_hash(note)
    if not force and note.embedded_hash == wanted:
        return 0
    embedder = get_embedder(settings.EMBED_MODEL)
    pieces = chunk_markdown(
        note.deid_text,
        title=HEADING,
        count_tokens=embedder.count_tokens,
        max_tokens=embedder.max_tokens,
    )
    vectors = embedder.embed([piece.embed_text for piece in pieces])
    with transaction.atomic():
        # Lock the row so two workers embedding the same note write one set of chunks.
        locked = ClinicalNote.objects.select_for_update().filter(id=note_id).first()
        if locked is None or locked.status != ClinicalNote.Status.APPROVED:
            return 0
        written = NoteChunk.replace_all(
            locked, pieces=pieces, vectors=vectors, embedded_hash=wanted
        )
    logger.info("embedded note", extra={"note_id": note_id, "chunks": written})
    return written
