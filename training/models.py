"""Dataset snapshots, training runs and the model registry.

A run freezes its DatasetSnapshot when it starts, trains a LoRA adapter on the `gpu` queue, saves
checkpoints as it goes, evaluates them, and turns the best one into a ModelVersion (a candidate).
An editor (general) or a compliance officer (clinical) promotes a candidate to the one active
version of its channel; a rollback re-activates the version that was active before. Every
promotion and rollback is a Promotion row and an audit event.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from blogllm.progress import JobProgress
from posts.models import Post

Channel = Post.Channel


class DatasetSnapshot(models.Model):
    """What one run trained and validated on, frozen when the run started.

    `members` lists {"id", "kind", "split", "content_hash", "tokens"} for every sample, so a
    snapshot can be audited and compared without the JSONL artifact (which holds the text).
    """

    channel = models.CharField(max_length=16, choices=Channel.choices)
    author_ids = models.JSONField(default=list, blank=True)  # general channel: whose posts
    members = models.JSONField(default=list)
    train_count = models.PositiveIntegerField(default=0)
    validation_count = models.PositiveIntegerField(default=0)
    train_tokens = models.PositiveIntegerField(default=0)
    validation_tokens = models.PositiveIntegerField(default=0)
    fingerprint = models.CharField(max_length=64)  # sha256 over the members' ids and hashes
    tokenizer = models.CharField(max_length=300)  # the base model whose tokenizer counted
    artifact_uri = models.CharField(max_length=500, blank=True)
    format_version = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} dataset #{self.pk} ({self.train_count} samples)"


class TrainingRun(models.Model):
    """One fine-tuning job.

    Status: queued → running → succeeded | failed | cancelled; queued → cancelled.
    A running run whose worker died (heartbeat older than RUN_STALE_SECONDS) is queued again by
    `training_runs_recover` and resumes from `last_checkpoint_uri`. Progress fields are written
    by the worker as it trains; `points` holds one entry per optimizer step for the loss chart.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    channel = models.CharField(max_length=16, choices=Channel.choices)
    base_model = models.CharField(max_length=300)
    hyperparameters = models.JSONField(default=dict)
    author_ids = models.JSONField(default=list, blank=True)
    dataset = models.ForeignKey(
        DatasetSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who started it: a person on the runs page (or manage.py), or the channel's RetrainPolicy.
    scheduled = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    task_id = models.CharField(max_length=64, blank=True)
    # Progress, written by the worker.
    phase = models.CharField(max_length=64, blank=True)  # "Loading the base model", "Training"…
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    eta_s = models.FloatField(null=True, blank=True)
    points = models.JSONField(default=list, blank=True)  # [{step, loss, lr, tokens_per_s}]
    # [{step, uri, path}]: uploaded as they are saved; their evaluation is in the version's metrics.
    checkpoints = models.JSONField(default=list, blank=True)
    last_checkpoint_uri = models.CharField(max_length=500, blank=True)
    log = models.TextField(blank=True)
    # Where and how it ran.
    device = models.CharField(max_length=32, blank=True)
    dtype = models.CharField(max_length=16, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # How it ended.
    error = models.TextField(blank=True)  # one human sentence
    traceback = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} run #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def progress(self) -> JobProgress:
        """Optimizer steps done, read like any other job's items (blogllm.progress)."""
        return JobProgress(
            done=self.step,
            total=self.total_steps,
            finished=not self.is_active,
            failed=self.status in (self.Status.FAILED, self.Status.CANCELLED),
        )

    @property
    def percent(self) -> int:
        return self.progress.percent


class ModelVersion(models.Model):
    """A trained adapter in the registry, with its lineage, metrics and artifacts.

    Status: candidate → active (promote; the channel's previous active version becomes a
    candidate again) → candidate (rolled back); candidate → archived (final: kept for the record,
    never promoted again). At most one active version per channel (a partial unique index).
    """

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    channel = models.CharField(max_length=16, choices=Channel.choices)
    number = models.PositiveIntegerField()  # v1, v2… per channel
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    base_model = models.CharField(max_length=300)
    run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="version")
    dataset = models.ForeignKey(DatasetSnapshot, on_delete=models.PROTECT, related_name="+")
    code_version = models.CharField(max_length=64, blank=True)
    checkpoint_step = models.PositiveIntegerField(default=0)  # the checkpoint chosen
    adapter_uri = models.CharField(max_length=500)
    report_uri = models.CharField(max_length=500, blank=True)
    # {"val_perplexity", "base_val_perplexity", "style_score", "base_style_score",
    #  "checkpoints": [{step, val_perplexity}], "train_loss", "tokens_per_s"}
    metrics = models.JSONField(default=dict, blank=True)
    samples = models.JSONField(default=list, blank=True)  # [{brief, base, tuned}]
    memorisation = models.JSONField(null=True, blank=True)  # MemorisationResult as a dict
    memorisation_passed = models.BooleanField(null=True, blank=True)
    memorisation_tested_at = models.DateTimeField(null=True, blank=True)
    # The draft-quality benchmark on held-out briefs (training/services/quality.py):
    # {"format", "rows": [{label, drafts, bleu, rouge_l, style_fidelity, grounding, …}],
    #  "briefs", "post_ids", "sampling", "seeds", "code_version", "drafts": [per-draft scores]}
    draft_quality = models.JSONField(null=True, blank=True)
    draft_quality_at = models.DateTimeField(null=True, blank=True)
    # The counterfactual bias audit (training/bias.py): {"format", "groups": [{group, pairs,
    # sentiment_gap, ci, …}], "threshold", "failed": [groups], …}; passed False blocks promotion.
    bias_audit = models.JSONField(null=True, blank=True)
    bias_audit_passed = models.BooleanField(null=True, blank=True)
    bias_audit_at = models.DateTimeField(null=True, blank=True)
    card_uri = models.CharField(max_length=500, blank=True)  # README.md beside the adapter
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["channel", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "number"], name="version_number_unique"),
            models.UniqueConstraint(
                fields=["channel"],
                condition=Q(status="active"),
                name="one_active_version_per_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} v{self.number}"

    @property
    def label(self) -> str:
        return f"{self.channel} v{self.number}"

    @property
    def is_clinical(self) -> bool:
        return self.channel == Channel.CLINICAL

    @property
    def perplexity_gain(self) -> float | None:
        """How much lower the tuned validation perplexity is than the base's (0.2 = 20% lower)."""
        tuned, base = self.metrics.get("val_perplexity"), self.metrics.get("base_val_perplexity")
        if not tuned or not base:
            return None
        return 1 - tuned / base


class Promotion(models.Model):
    """One change of a channel's active version: a promotion or a rollback.

    `previous` is the version that was active before (None for the first); a rollback
    re-activates the `previous` of the promotion that made the current version active.
    """

    class Kind(models.TextChoices):
        PROMOTE = "promote", "Promoted"
        ROLLBACK = "rollback", "Rolled back"

    channel = models.CharField(max_length=16, choices=Channel.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    previous = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    reason = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.version} at {self.at:%Y-%m-%d %H:%M}"


class RetrainPolicy(models.Model):
    """When beat retrains a channel by itself (training/services/retraining.py): off by default.

    Due when `min_new_items` posts (or approved notes) exist that the active version's dataset
    does not hold, or `every_days` days after the active version was trained; beat starts the
    run in the quiet hour only. The result is a candidate; it is promoted by itself only when
    `promote_when_better` is set and it passes every gate (retraining.promotion_gates).
    """

    channel = models.CharField(max_length=16, choices=Channel.choices, unique=True)
    enabled = models.BooleanField(default=False)
    min_new_items = models.PositiveIntegerField(null=True, blank=True)
    every_days = models.PositiveIntegerField(null=True, blank=True)
    quiet_hour = models.PositiveSmallIntegerField(default=3)  # local time, 0-23
    promote_when_better = models.BooleanField(default=False)
    # The editor (general) or compliance officer (clinical) who set it: scheduled runs are
    # theirs, and stop when they may no longer manage the channel's models.
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retrain policies"

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.get_channel_display()} retraining ({state})"


class RetrainEvent(models.Model):
    """What scheduled retraining did, for the history on the models page: a run started (and
    why), or a candidate it made kept or promoted (and the gates, with their numbers)."""

    class Kind(models.TextChoices):
        STARTED = "started", "Run started"
        PROMOTED = "promoted", "Candidate promoted"
        KEPT = "kept", "Candidate kept"
        SKIPPED = "skipped", "Due, not started"

    channel = models.CharField(max_length=16, choices=Channel.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    run = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    gates = models.JSONField(default=list, blank=True)  # [{gate, passed, candidate, active}]
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.channel}) at {self.at:%Y-%m-%d %H:%M}"


class DriftReport(models.Model):
    """How far a channel's new posts and requests have moved from what a version trained on
    (training/services/drift.py, statistics in training/drift.py), with the drafts' behaviour
    per week. Computed by beat daily, when the channel's version changes, or on request.

    `report`: {"format", "config", "reference": {posts, notes, missing, snapshot},
    "parts": {"corpus": Part, "requests": Part}, "behaviour": {metric: [{week, mean, low,
    high, n}]}, "scores": {"corpus_auc", "corpus_centroid", "requests_auc",
    "requests_centroid"}, "notes": [sentences]}: numbers only, never a word of the texts.
    """

    FORMAT = 1

    channel = models.CharField(max_length=16, choices=Channel.choices)
    # The version it compared against: the active one, or with none active the newest candidate.
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField(auto_now_add=True)
    report = models.JSONField(default=dict)
    format_version = models.PositiveSmallIntegerField(default=FORMAT)
    drifted = models.BooleanField(default=False)  # the corpus or the requests drifted

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["channel", "-computed_at"])]

    def __str__(self) -> str:
        state = "drifted" if self.drifted else "no drift"
        return f"{self.get_channel_display()} drift report ({state}) at {self.computed_at:%Y-%m-%d}"
