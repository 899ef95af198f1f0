"""Posts, their revisions and workflow history, tags, import jobs, and embedded chunks.

A post moves draft → in_review → approved → published → archived, and back to draft with a
reason; posts.services.workflow holds the rules. Every content save keeps a Revision.
"""

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from blogllm.progress import TrackedJob

if TYPE_CHECKING:
    from posts.chunking import TextChunk

EMBEDDING_DIMENSIONS = 384  # all-MiniLM-L6-v2
WORDS_PER_MINUTE = 230


class Tag(models.Model):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Post(models.Model):
    """One blog post.

    States: draft → in_review (submit) → approved (approve; a clinical post needs an editor's
    and a compliance officer's approval) → published (publish, or beat at scheduled_at) →
    archived; any of them → draft (back to draft, with a reason).
    `version` grows by one on every content save and guards against stale edits.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    class Channel(models.TextChoices):
        GENERAL = "general", "General"
        CLINICAL = "clinical", "Clinical"

    class Source(models.TextChoices):
        IMPORTED = "imported", "Imported"
        WRITTEN = "written", "Written"
        AI_ASSISTED = "ai_assisted", "AI-assisted"

    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        VALIDATION = "validation", "Validation"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=100, unique=True)
    body_markdown = models.TextField(blank=True)
    body_html = models.TextField(blank=True, editable=False)  # sanitised rendering of the body
    # Words a reader sees, counted when the body is rendered (the API lists it for every post).
    word_count = models.PositiveIntegerField(default=0, editable=False)
    excerpt = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="posts"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.GENERAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WRITTEN)
    version = models.PositiveIntegerField(default=1)

    published_at = models.DateTimeField(null=True, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    editor_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    clinical_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    # Corpus: where it came from, what cleaning did, what it resembles, what it must not carry.
    import_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    import_format = models.CharField(max_length=16, blank=True)
    cleaning_changes = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    minhash = models.JSONField(null=True, blank=True, editable=False)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    duplicate_score = models.FloatField(null=True, blank=True)
    contact_findings = models.JSONField(default=list, blank=True)
    split = models.CharField(max_length=16, choices=Split.choices, default=Split.TRAIN)
    embedded_hash = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_at", "-created_at"]
        indexes = [
            models.Index(fields=["status", "channel"]),
            models.Index(fields=["author", "status"]),
            models.Index(
                fields=["scheduled_at"], name="post_due_idx", condition=Q(status="approved")
            ),
            # The publishing API: pages newest first, and the newest update for its ETags.
            models.Index(
                fields=["-published_at", "-id"], name="post_published_idx",
                condition=Q(status="published"),
            ),
            models.Index(
                fields=["updated_at"], name="post_published_updated_idx",
                condition=Q(status="published"),
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.title

    @property
    def reading_minutes(self) -> int:
        return max(1, round(self.word_count / WORDS_PER_MINUTE))

    @property
    def is_clinical(self) -> bool:
        return self.channel == self.Channel.CLINICAL

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_editable(self) -> bool:
        """Text changes only in draft or review (who may: accounts.permissions)."""
        return self.status in (self.Status.DRAFT, self.Status.IN_REVIEW)


class Revision(models.Model):
    """The content of a post after one save. Autosaves by the same person within a few minutes
    update their latest autosave revision instead of adding one (posts.services.editing);
    explicit saves always add one."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    body_markdown = models.TextField(blank=True)
    excerpt = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Post.Status.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    autosave = models.BooleanField(default=False)  # made by autosave, not an explicit save
    created_at = models.DateTimeField()
    saved_at = models.DateTimeField()

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["post", "version"], name="revision_post_version_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.post_id} v{self.version}"


class Transition(models.Model):
    """One workflow step: who moved the post from which state to which, and why."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16, choices=Post.Status.choices)
    to_status = models.CharField(max_length=16, choices=Post.Status.choices)
    action = models.CharField(max_length=32)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.post_id}: {self.from_status} → {self.to_status}"


class ImportJob(TrackedJob):
    """An upload or folder being imported: queued → running → finished | failed (TrackedJob).

    `items_total` is estimated before the run starts. `report` lists every file or item with
    its outcome (imported, duplicate, skipped + reason).
    """

    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500)
    channel = models.CharField(
        max_length=16, choices=Post.Channel.choices, default=Post.Channel.GENERAL
    )
    task_id = models.CharField(max_length=64, blank=True)
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.file_name} ({self.status})"


class ChunkBase(models.Model):
    """A heading-aware piece of a text, short enough for the embedding model to see whole.

    Post chunks (Chunk) and approved notes' chunks (compliance.NoteChunk) are the same thing over
    different owners: each concrete model adds its foreign key (named by `owner_field`), its
    ordering and its unique (owner, ord) constraint. Index names take the concrete class's name,
    so each table keeps its own (chunk_embedding_hnsw, notechunk_embedding_hnsw, …).
    """

    owner_field: ClassVar[str]  # the foreign key to what was chunked: "post" or "note"

    ord = models.PositiveIntegerField()
    heading = models.CharField(max_length=500, blank=True)
    text = models.TextField()
    token_count = models.PositiveIntegerField()
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    search = models.GeneratedField(
        expression=SearchVector("heading", "text", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        abstract = True
        indexes = [
            HnswIndex(
                name="%(class)s_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search"], name="%(class)s_search_gin"),
        ]

    @classmethod
    def replace_all(
        cls,
        owner: models.Model,
        *,
        pieces: Sequence["TextChunk"],
        vectors: Sequence,
        embedded_hash: str,
    ) -> int:
        """Swap the owner's chunks for these pieces and their vectors, and record on the owner
        (its `embedded_hash`) what they were made from. Returns the number of chunks written.

        Call it inside the transaction that holds the owner's row lock (select_for_update):
        the lock is what makes two workers embedding the same owner write one set of chunks.
        """
        cls.objects.filter(**{cls.owner_field: owner}).delete()
        cls.objects.bulk_create(
            cls(
                **{cls.owner_field: owner},
                ord=piece.ord,
                heading=piece.heading[:500],
                text=piece.text,
                token_count=piece.token_count,
                embedding=vector,
            )
            for piece, vector in zip(pieces, vectors, strict=True)
        )
        type(owner).objects.filter(pk=owner.pk).update(embedded_hash=embedded_hash)
        return len(pieces)


class Chunk(ChunkBase):
    """A piece of a post."""

    owner_field = "post"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="chunks")

    class Meta(ChunkBase.Meta):
        ordering = ["post_id", "ord"]
        constraints = [models.UniqueConstraint(fields=["post", "ord"], name="chunk_post_ord_uniq")]

    def __str__(self) -> str:
        return f"{self.post_id}#{self.ord}"
