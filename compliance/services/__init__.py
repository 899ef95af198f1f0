"""Writes and business rules for clinical notes, one module per concern:

- notes: create and de-identify, reviewer marks, approve/reject (two-person rule), key rotation
- intake: .txt/.docx uploads and CSV batches
- embedding: chunk and embed approved notes for clinical retrieval
- config: the BLOGLLM_ settings they read
"""

from compliance.services.embedding import note_embed
from compliance.services.intake import note_batch_create, note_batch_run, note_create_from_upload
from compliance.services.notes import (
    ReviewScreen,
    note_approve,
    note_create,
    note_dismiss_suspect,
    note_mark_span,
    note_mark_suspect,
    note_open_for_review,
    note_reject,
    note_rerun_deid,
    note_rotate_keys,
    note_unmark_finding,
)

__all__ = [
    "ReviewScreen",
    "note_approve",
    "note_batch_create",
    "note_batch_run",
    "note_create",
    "note_create_from_upload",
    "note_dismiss_suspect",
    "note_embed",
    "note_mark_span",
    "note_mark_suspect",
    "note_open_for_review",
    "note_reject",
    "note_rerun_deid",
    "note_rotate_keys",
    "note_unmark_finding",
]
