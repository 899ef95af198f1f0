"""Prometheus metrics of our own, beside django-prometheus's requests, responses and database.

Two kinds:
- **events**, counted where they happen (a task ended, a draft finished, a note was
  de-identified, a webhook was tried) in whichever process that is. Under gunicorn and Celery,
  PROMETHEUS_MULTIPROC_DIR (set by `make run` and the containers) makes them multiprocess-safe:
  each process writes its own files and a scrape sums them.
- **state**, read from Redis and the database when /metrics is scraped: queue depth, runs by
  state, the last training run's loss and speed, deliveries waiting, the audit trail's last
  verification, the workers' last sign of life and each channel's latest drift report.

Labels are closed sets (task names, channels, finding kinds, statuses, queues): never a user, a
path, a title or any text, so no label can carry PHI.
"""

import logging
import os
import time
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

# --- Events -----------------------------------------------------------------------------------

TASK_SECONDS = Histogram(
    "blogllm_celery_task_seconds",
    "Time a Celery task ran, by task.",
    ["task"],
    buckets=(0.05, 0.25, 1, 5, 15, 60, 300, 1200, 3600, 4 * 3600),
)
TASK_FAILURES = Counter("blogllm_celery_task_failures", "Celery tasks that raised.", ["task"])
TASK_RETRIES = Counter("blogllm_celery_task_retries", "Celery task retries asked for.", ["task"])

GENERATION_RUNS = Counter(
    "blogllm_generation_runs", "Generation runs that ended, by channel and status.",
    ["channel", "status"],
)  # fmt: skip
FIRST_TOKEN_SECONDS = Histogram(
    "blogllm_generation_first_token_seconds",
    "Time from the start of generating to the first new token.",
    ["channel"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60),
)
TOKENS_PER_SECOND = Histogram(
    "blogllm_generation_tokens_per_second",
    "Decoding speed of a generation run.",
    ["channel"],
    buckets=(1, 2, 4, 8, 12, 16, 24, 32, 64, 128, 256),
)
BATCH_WAIT_SECONDS = Histogram(
    "blogllm_generation_batch_wait_seconds",
    "Time a model call of a draft waited for a place in its worker's batch (and its adapter).",
    ["channel"],
    buckets=(0.01, 0.1, 0.5, 1, 2, 5, 10, 20, 40, 80, 160),
)
GUARD_FINDINGS = Counter(
    "blogllm_generation_guard_findings", "The guard's findings on finished drafts, by kind.",
    ["channel", "kind"],
)  # fmt: skip
REVISIONS = Counter(
    "blogllm_generation_revisions", "Revise rounds the guard sent drafts through.", ["channel"]
)

DEID_NOTES = Counter("blogllm_deid_notes", "Clinical notes run through de-identification.")
DEID_SECONDS = Histogram(
    "blogllm_deid_seconds",
    "Time the de-identification engine took per note.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
DEID_WITHHELD = Counter(
    "blogllm_deid_withheld",
    "Notes withheld for manual review because the engine timed out or failed.",
    ["reason"],
)
DEID_SUSPECTS = Counter("blogllm_deid_suspects", "Words flagged to reviewers as possible PHI.")

SHED = Counter(
    "blogllm_requests_shed", "Requests answered 503 at once because their kind was at its limit.",
    ["kind"],
)  # fmt: skip
EMBEDDING_CACHE = Counter(
    "blogllm_embedding_cache",
    "Texts looked up in a process's embedding cache, by result (hit or miss).",
    ["result"],
)
WEBHOOK_ATTEMPTS = Counter(
    "blogllm_webhook_attempts", "Webhook delivery tries, by outcome.", ["outcome"]
)

AUDIT_VERIFY_KEY = "audit:last-verification"  # cache: {"at": epoch, "ok": bool, "checked": n}
WORKER_SEEN_KEY = "metrics:worker-seen:{queue}"  # cache: epoch of the last task a queue ran


def task_observe(*, task: str, seconds: float) -> None:
    TASK_SECONDS.labels(task).observe(seconds)


def generation_observe(
    *, channel: str, status: str, first_token_s: float | None, tokens_per_s: float | None,
    finding_kinds: list[str], revisions: int,
) -> None:  # fmt: skip
    GENERATION_RUNS.labels(channel, status).inc()
    if first_token_s is not None:
        FIRST_TOKEN_SECONDS.labels(channel).observe(first_token_s)
    if tokens_per_s:
        TOKENS_PER_SECOND.labels(channel).observe(tokens_per_s)
    for kind in finding_kinds:
        GUARD_FINDINGS.labels(channel, kind).inc()
    if revisions:
        REVISIONS.labels(channel).inc(revisions)


def generation_wait_observe(*, channel: str, seconds: float) -> None:
    BATCH_WAIT_SECONDS.labels(channel).observe(seconds)


def deid_observe(*, seconds: float, withheld: str | None, suspects: int) -> None:
    """One note through the engine; `withheld` is "timeout" or "error" when it was withheld."""
    DEID_NOTES.inc()
    DEID_SECONDS.observe(seconds)
    if withheld:
        DEID_WITHHELD.labels(withheld).inc()
    if suspects:
        DEID_SUSPECTS.inc(suspects)


# --- State, read at scrape time ---------------------------------------------------------------


class StateCollector:
    """Gauges read from Redis and the database on each scrape (in the process that serves it)."""

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        from django.conf import settings

        queues = settings.CELERY_TASK_QUEUES
        parts = {
            "queues": lambda: [self._queue_lengths(queues)],
            "workers": lambda: list(self._workers(queues)),
            "training": lambda: list(self._training()),
            "generation": lambda: [self._generation_waiting()],
            "webhooks": lambda: [self._webhooks()],
            "audit": lambda: list(self._audit()),
            "drift": lambda: list(self._drift()),
        }
        failed = GaugeMetricFamily(
            "blogllm_metrics_state_failed",
            "1 for each part of the state that could not be read on this scrape (Redis or the "
            "database unreachable): the rest of /metrics is still served.",
            labels=["part"],
        )
        for name, read in parts.items():
            try:
                yield from read()
            except Exception:  # noqa: BLE001 - one unreadable part must not hide the others
                logger.warning("metrics: could not read %s", name, exc_info=True)
                failed.add_metric([name], 1.0)
        yield failed

    def _queue_lengths(self, queues) -> GaugeMetricFamily:  # noqa: ANN001
        from blogllm.celery import app

        gauge = GaugeMetricFamily(
            "blogllm_celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"]
        )
        with app.connection_for_read() as connection:
            client = connection.default_channel.client
            for queue in queues:
                gauge.add_metric([queue.name], client.llen(queue.name))
        return gauge

    def _workers(self, queues):  # noqa: ANN001, ANN202
        from django.core.cache import cache

        seen = GaugeMetricFamily(
            "blogllm_worker_last_task_age_seconds",
            "Seconds since a worker of this queue last showed life: started a task (beat sends "
            "each queue a heartbeat task every 30-60 s) or, for gpu and generate, beat a running "
            "run's row.",
            labels=["queue"],
        )
        now = time.time()
        for queue in queues:
            moments = [cache.get(WORKER_SEEN_KEY.format(queue=queue.name))]
            # A long run keeps its worker busy: its own heartbeat counts.
            moments += _latest_run_heartbeats(queue.name)
            moments = [at for at in moments if at is not None]
            if moments:
                seen.add_metric([queue.name], now - max(moments))
        yield seen

    def _training(self):  # noqa: ANN202
        from django.db.models import Count

        from training.models import TrainingRun

        runs = GaugeMetricFamily(
            "blogllm_training_runs",
            "Training runs by channel and state.",
            labels=["channel", "state"],
        )
        counts = TrainingRun.objects.values("channel", "status").annotate(n=Count("id"))
        for row in counts.order_by():
            runs.add_metric([row["channel"], row["status"]], row["n"])
        yield runs
        loss = GaugeMetricFamily(
            "blogllm_training_last_loss", "Loss of the latest training run.", labels=["channel"]
        )
        speed = GaugeMetricFamily(
            "blogllm_training_tokens_per_second",
            "Training speed of the latest training run.",
            labels=["channel"],
        )
        latest = (
            TrainingRun.objects.exclude(loss=None)
            .order_by("channel", "-created_at")
            .distinct("channel")
            .values("channel", "loss", "tokens_per_s")
        )
        for row in latest:
            loss.add_metric([row["channel"]], row["loss"])
            if row["tokens_per_s"] is not None:
                speed.add_metric([row["channel"]], row["tokens_per_s"])
        yield loss
        yield speed

    def _generation_waiting(self) -> GaugeMetricFamily:
        from django.db.models import Count

        from generation.models import GenerationRun

        gauge = GaugeMetricFamily(
            "blogllm_generation_runs_active",
            "Generation runs queued or running, by channel and state.",
            labels=["channel", "state"],
        )
        active = (GenerationRun.Status.QUEUED, GenerationRun.Status.RUNNING)
        counts = GenerationRun.objects.filter(status__in=active).values("channel", "status")
        for row in counts.annotate(n=Count("id")).order_by():
            gauge.add_metric([row["channel"], row["status"]], row["n"])
        return gauge

    def _webhooks(self) -> GaugeMetricFamily:
        from publishing.models import WebhookDelivery

        gauge = GaugeMetricFamily(
            "blogllm_webhook_deliveries_pending", "Webhook deliveries waiting for a (re)try."
        )
        gauge.add_metric([], WebhookDelivery.objects.filter(status="pending").count())
        return gauge

    def _audit(self):  # noqa: ANN202
        from django.core.cache import cache

        last = cache.get(AUDIT_VERIFY_KEY)
        age = GaugeMetricFamily(
            "blogllm_audit_verification_age_seconds",
            "Seconds since the audit trail's hash chain was last verified.",
        )
        intact = GaugeMetricFamily(
            "blogllm_audit_intact", "1 when the last verification proved the chain intact."
        )
        if last is not None:
            age.add_metric([], time.time() - last["at"])
            intact.add_metric([], 1.0 if last["ok"] else 0.0)
        yield age
        yield intact

    def _drift(self):  # noqa: ANN202
        from training.models import DriftReport

        score = GaugeMetricFamily(
            "blogllm_drift_score",
            "The latest drift report's headline numbers per channel: the domain classifier's "
            "ROC AUC (0.5: indistinguishable) and the embedding centroids' cosine distance, for "
            "new posts (corpus_*) and requests (requests_*) against the training posts.",
            labels=["channel", "part"],
        )
        detected = GaugeMetricFamily(
            "blogllm_drift_detected",
            "1 when the channel's latest drift report found its posts or requests drifted.",
            labels=["channel"],
        )
        age = GaugeMetricFamily(
            "blogllm_drift_report_age_seconds",
            "Seconds since the channel's latest drift report was computed.",
            labels=["channel"],
        )
        latest = (
            DriftReport.objects.order_by("channel", "-computed_at", "-id")
            .distinct("channel")
            .values("channel", "drifted", "computed_at", "report__scores")
        )
        for row in latest:
            for part, value in sorted((row["report__scores"] or {}).items()):
                if isinstance(value, int | float):
                    score.add_metric([row["channel"], part], float(value))
            detected.add_metric([row["channel"]], 1.0 if row["drifted"] else 0.0)
            age.add_metric([row["channel"]], time.time() - row["computed_at"].timestamp())
        yield score
        yield detected
        yield age


def _latest_run_heartbeats(queue: str) -> list[float]:
    from django.db.models import Max

    from generation.models import GenerationRun
    from training.models import TrainingRun

    moments = []
    for model in {"gpu": [TrainingRun], "generate": [GenerationRun]}.get(queue, []):
        at = model.objects.filter(status="running").aggregate(at=Max("heartbeat_at"))["at"]
        if at is not None:
            moments.append(at.timestamp())
    return moments


def worker_seen(queue: str) -> None:
    from django.core.cache import cache

    cache.set(WORKER_SEEN_KEY.format(queue=queue), time.time(), timeout=24 * 3600)


_STATE = CollectorRegistry(auto_describe=False)
_STATE.register(StateCollector())


def multiprocess_dir_prepare() -> None:
    """Make PROMETHEUS_MULTIPROC_DIR, and drop the files of processes that are gone (a restart
    must not keep counting a dead process's numbers). Live processes' files are kept: under
    `make run` web and worker share the folder. It must exist before any process imports
    prometheus_client: `make run` and the image make it first; gunicorn's on_starting and the
    Celery worker's start call this again."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*_*.db"):
        pid = stale.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_metrics_serve(port: int) -> None:
    """A Celery worker's own events on http://0.0.0.0:PORT/ for Prometheus (its pool processes
    count in the multiprocess directory; this thread in the main process sums them). The web's
    /metrics has the state; a worker in another container can only be scraped like this."""
    from prometheus_client import start_http_server

    start_http_server(port, registry=_events())


def exposition() -> bytes:
    """Everything /metrics shows, in the Prometheus text format."""
    return generate_latest(_events()) + generate_latest(_STATE)


def _events() -> CollectorRegistry:
    """The events of every process (summed from the multiprocess folder), or of this one."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry
