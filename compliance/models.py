"""Clinical notes, their de-identification findings and suspects, CSV intake batches, and the
audit trail.

ClinicalNote.Status: pending → approved | rejected. Only an approved note may ground generation
(NoteChunk) or enter a training dataset; compliance/selectors.py is the one door to both.
The raw text is encrypted at rest (blogllm.crypto) and purged when the note is decided.
"""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from blogllm.progress import TrackedJob
from posts.models import ChunkBase


class NoteBatch(TrackedJob):
    """A CSV of notes (one per row) de-identified in the background.

    Status: queued → running → finished | failed (TrackedJob). `report` has one entry per row.
    """

    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    file_name = models.CharField(max_length=255)
    # The uploaded CSV, encrypted like a note's raw text, and emptied once the batch has run.
    payload_encrypted = models.TextField(blank=True)
    created = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "note batches"

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"


class ClinicalNote(models.Model):
    """A clinical note under review. See the module docstring for its states."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    class Deid(models.TextChoices):
        DONE = "done", "De-identified"
        # The engine ran past the per-note time limit (or failed): nothing de-identified is
        # shown or used, and the note waits for a person. Never passed through un-redacted.
        WITHHELD = "withheld", "Withheld for manual review"

    class Source(models.TextChoices):
        PASTE = "paste"
        TXT = "txt"
        DOCX = "docx"
        CSV = "csv"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.PASTE)
    source_name = models.CharField(max_length=255, blank=True)  # file name, or "file.csv row 7"
    batch = models.ForeignKey(
        NoteBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="uploaded_notes"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # Fernet token of the raw text; "" once the note is decided (purged).
    raw_encrypted = models.TextField(blank=True)
    raw_sha256 = models.CharField(max_length=64, db_index=True)
    raw_chars = models.PositiveIntegerField(default=0)
    # Keyed hashes of the raw text's word 8-grams, kept after the purge, so generated text can
    # still be checked for verbatim overlap with the note without keeping its words.
    raw_shingles = ArrayField(models.BigIntegerField(), default=list, blank=True)
    # The same keyed hashes over deid_text (re-computed whenever it is re-rendered), so output
    # scanning finds verbatim copies of the de-identified text with one indexed query too.
    deid_shingles = ArrayField(models.BigIntegerField(), default=list, blank=True)

    deid_state = models.CharField(max_length=16, choices=Deid.choices, default=Deid.DONE)
    deid_text = models.TextField(blank=True)
    deid_seed = models.BigIntegerField()  # surrogates and the date shift derive from this
    date_shift_days = models.IntegerField(default=0)
    deid_ms = models.PositiveIntegerField(default=0)
    engine_version = models.CharField(max_length=32, blank=True)
    # Review-queue order: many low-confidence findings and many categories come first.
    risk_score = models.FloatField(default=0.0, db_index=True)

    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviewed_notes",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    embedded_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-uploaded_at"]
        constraints = [
            # The two-person rule, also for writes that bypass the services.
            models.CheckConstraint(
                condition=~models.Q(reviewed_by=models.F("uploaded_by")),
                name="note_reviewer_is_not_uploader",
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending") | models.Q(raw_encrypted=""),
                name="note_raw_purged_when_decided",
            ),
        ]
        indexes = [
            # Output scanning asks `raw_shingles && ARRAY[…]` (and the same of deid_shingles).
            GinIndex(fields=["raw_shingles"], name="note_raw_shingles_gin"),
            GinIndex(fields=["deid_shingles"], name="note_deid_shingles_gin"),
        ]

    def __str__(self) -> str:
        return self.title or f"Note {str(self.uid)[:8]}"

    @property
    def is_decided(self) -> bool:
        return self.status != self.Status.PENDING


class DeidFinding(models.Model):
    """One span of PHI in a note's raw text (character offsets), and what the reviewer did."""

    class Action(models.TextChoices):
        NONE = "", "Not reviewed"
        ADDED = "added", "Added by reviewer (missed)"
        REMOVED = "removed", "Unmarked by reviewer (false positive)"

    note = models.ForeignKey(ClinicalNote, on_delete=models.CASCADE, related_name="findings")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    category = models.CharField(max_length=32, db_index=True)
    detector = models.CharField(max_length=32)  # a compliance.deid.spans.DETECTORS value
    confidence = models.FloatField(default=1.0)
    reviewer_action = models.CharField(max_length=8, choices=Action.choices, blank=True)
    surrogate = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["note_id", "start", "end"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="finding_span"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.start}-{self.end}"


class DeidSuspect(models.Model):
    """A word the engine considered and let go (compliance/deid/suspects.py), for the reviewer.

    State: unreviewed → dismissed (looked at, not PHI) | marked (turned into a finding through
    note_mark_span, so it is redacted like any other). A note is approved only when none is
    unreviewed. Offsets into the raw text only: the word itself is never stored here.
    """

    class State(models.TextChoices):
        UNREVIEWED = "unreviewed", "To check"
        DISMISSED = "dismissed", "Dismissed (not PHI)"
        MARKED = "marked", "Marked as PHI"

    note = models.ForeignKey(ClinicalNote, on_delete=models.CASCADE, related_name="suspects")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    reason = models.CharField(max_length=32)  # a key of compliance.deid.suspects.REASONS
    state = models.CharField(max_length=16, choices=State.choices, default=State.UNREVIEWED)
    finding = models.ForeignKey(
        DeidFinding, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["note_id", "start", "end"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="suspect_span"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.start}-{self.end} ({self.state})"


class NoteChunk(ChunkBase):
    """A piece of an approved note's de-identified text, embedded for clinical retrieval."""

    owner_field = "note"

    note = models.ForeignKey(ClinicalNote, on_delete=models.CASCADE, related_name="chunks")

    class Meta(ChunkBase.Meta):
        ordering = ["note_id", "ord"]
        constraints = [models.UniqueConstraint(fields=["note", "ord"], name="notechunk_note_ord")]

    def __str__(self) -> str:
        return f"note {self.note_id}#{self.ord}"


class AuditEvent(models.Model):
    """One entry of the append-only, SHA-256 hash-chained audit trail (compliance/audit.py).

    `seq` is gap-free (writers take an advisory lock); `hash` covers a canonical serialisation of
    every other field plus `prev_hash`. A database trigger refuses UPDATE and DELETE. The actor
    is kept as id and e-mail without a foreign-key constraint, so deleting a user never needs
    to touch (and could never change) their events.
    """

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"
