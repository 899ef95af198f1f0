"""AI-assisted drafting runs and their step-by-step traces.

GenerationRun.Kind: a whole `draft` from a brief (finalise saves a new draft Post), or an
assist in the post editor: `rewrite` a selection or `continue` from the cursor (finalise keeps
the proposal on the run; the editor takes it hunk by hunk, generation/assist.py).
GenerationRun.Status: queued → running → succeeded | needs_review | failed | cancelled.
`needs_review`: the guard still found problems after the bounded revisions; the draft is saved
for the editor with the findings shown. The LangGraph state lives in PostgreSQL under
`thread_id`, so a run whose worker died resumes from its last finished node.
On the clinical channel every text stored here (brief, steps, output) has passed
de-identification first; see generation/services/sanitize.py.
"""

import uuid

from django.conf import settings
from django.db import models

from posts.models import Post


class GenerationRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        NEEDS_REVIEW = "needs_review", "Needs review"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Kind(models.TextChoices):
        DRAFT = "draft", "Draft"
        REWRITE = "rewrite", "Rewrite a selection"
        CONTINUE = "continue", "Continue from here"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DRAFT)
    thread_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=16, choices=Post.Channel.choices)
    # draft: topic, outline, audience, tone, length. rewrite/continue: topic (the post's title),
    # instruction, before, selection, after, start, end, post_version (see generation/assist.py).
    brief = models.JSONField(default=dict)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_version = models.ForeignKey(
        "training.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # None: the base model (no active version on the channel)
    base_model = models.CharField(max_length=300)
    sampling = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    output = models.TextField(blank=True)
    sources = models.JSONField(default=list, blank=True)  # [{n, source, title, post_id, score…}]
    findings = models.JSONField(default=list, blank=True)  # the guard's last findings
    revisions = models.PositiveSmallIntegerField(default=0)
    # draft: the Post the run saved. rewrite/continue: the post being edited.
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="generation_runs"
    )
    prompt_tokens = models.PositiveIntegerField(default=0)
    new_tokens = models.PositiveIntegerField(default=0)
    first_token_s = models.FloatField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Written by the worker every few seconds while it runs; a stale one means the worker died
    # and beat queues the run again (generation_runs_recover).
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Shown to the editor before submitting: closeness to the author's own posts (0–1), and the
    # share of sentences a retrieved source supports (generation/scores.py).
    style_fidelity = models.FloatField(null=True, blank=True)
    grounding = models.FloatField(null=True, blank=True)
    # A/B: the experiment that chose this run's model version, and which arm it fell in.
    experiment = models.ForeignKey(
        "Experiment", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    arm = models.CharField(max_length=1, blank=True)  # "a" | "b"
    # When the draft's post is published: how much the editor changed (0 = nothing, 1 = all).
    published_at = models.DateTimeField(null=True, blank=True)
    edit_distance = models.FloatField(null=True, blank=True)
    # rewrite/continue: how many hunks of the proposal the editor took, of how many.
    hunks_total = models.PositiveSmallIntegerField(null=True, blank=True)
    hunks_accepted = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["channel", "status", "created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
        ]

    def __str__(self) -> str:
        return f"Generation #{self.pk} ({self.status})"

    @property
    def latency_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class RunStep(models.Model):
    """One node of one run: what went in and came out, how long it took, what it found."""

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="steps")
    seq = models.PositiveIntegerField()
    node = models.CharField(max_length=32)
    input = models.JSONField(default=dict)
    output = models.JSONField(default=dict)
    retrieved = models.JSONField(default=list, blank=True)  # chunks with scores
    findings = models.JSONField(default=list, blank=True)
    tokens = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="runstep_seq_unique")]

    def __str__(self) -> str:
        return f"{self.run} step {self.seq}: {self.node}"


class Feedback(models.Model):
    """A thumbs up or down, with an optional comment, on one AI draft (one per user and run)."""

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    thumbs_up = models.BooleanField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "user"], name="feedback_one_per_user_and_run")
        ]

    def __str__(self) -> str:
        return f"{'👍' if self.thumbs_up else '👎'} on {self.run}"


class Experiment(models.Model):
    """An A/B test: a channel's drafts split between two model versions while it is active.

    At most one active experiment per channel; `share_b` of the requests go to version B.
    """

    name = models.CharField(max_length=120)
    channel = models.CharField(max_length=16, choices=Post.Channel.choices)
    version_a = models.ForeignKey(
        "training.ModelVersion", on_delete=models.PROTECT, related_name="+"
    )
    version_b = models.ForeignKey(
        "training.ModelVersion", on_delete=models.PROTECT, related_name="+"
    )
    share_b = models.FloatField(default=0.5)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel"],
                condition=models.Q(active=True),
                name="one_active_experiment_per_channel",
            ),
            models.CheckConstraint(
                condition=models.Q(share_b__gt=0, share_b__lt=1), name="experiment_share_b_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"


class VoiceGuide(models.Model):
    """How an author writes, in their own words: every AI feature puts it in its prompt."""

    author = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="voice_guide"
    )
    tone = models.TextField(blank=True)  # "warm, plain, a little dry"
    use_words = models.TextField(blank=True)  # one per line, or comma-separated
    avoid_words = models.TextField(blank=True)
    structure = models.TextField(blank=True)  # "short paragraphs; end with a question"
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Voice guide of {self.author}"

    @staticmethod
    def _items(text: str) -> list[str]:
        return [w.strip() for w in text.replace("\n", ",").split(",") if w.strip()]

    @property
    def avoid_list(self) -> list[str]:
        return self._items(self.avoid_words)

    def as_prompt(self) -> str:
        """The guide as lines for the system prompt ('' when empty)."""
        lines = []
        if self.tone.strip():
            lines.append(f"Tone: {self.tone.strip()}")
        if self.use_words.strip():
            lines.append(f"Words the author likes: {', '.join(self._items(self.use_words))}")
        if self.avoid_words.strip():
            lines.append(f"Never use: {', '.join(self.avoid_list)}")
        if self.structure.strip():
            lines.append(f"Structure: {self.structure.strip()}")
        return "\n".join(lines)


class BlockedWord(models.Model):
    """A word or phrase the guard flags in every draft and rewrite (generation/guard.py), as
    editors and compliance officers list them on the dashboard (the operator's list is
    BLOGLLM_BANNED_TOPICS). Kept lower-case; matching ignores case."""

    word = models.CharField(max_length=100, unique=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["word"]

    def __str__(self) -> str:
        return self.word
