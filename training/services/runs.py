"""Training runs: start, cancel, resume, execute (in the worker) and recover (from a dead worker).

`training_run_execute` is the worker's whole job: claim the run, load the base model, freeze the
dataset (or read back the frozen one), train with progress, checkpoints and cancellation, then
evaluate the checkpoints and register the best as a candidate ModelVersion. A run whose worker
dies keeps its last uploaded checkpoint; `training_runs_recover` (beat, every minute) queues it
again and the next attempt resumes from there.
"""

import logging
import shutil
import time
import traceback as tb
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from blogllm.heartbeat import Heartbeat
from posts.models import Post
from training.models import TrainingRun
from training.services.datasets import (
    DatasetError,
    dataset_snapshot_create,
    dataset_snapshot_samples,
)
from training.storage import ArtifactError, ArtifactStorage, default_storage

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15
PROGRESS_WRITE_SECONDS = 0.5  # tiny models step in milliseconds: do not write every step
CANCEL_CHECK_SECONDS = 1.0
STEP_LOG_SECONDS = 10.0
OOM_SENTENCE = "Out of memory: try a smaller batch size or sequence length."


def training_config_validate(hyperparameters: dict) -> dict:
    """The run's hyperparameters, defaults filled in; ValidationError with the trainer's reason."""
    from training.config import TrainConfig

    try:
        return TrainConfig.from_dict(hyperparameters).to_dict()
    except (TypeError, ValueError) as exc:
        raise ValidationError(str(exc)) from exc


@transaction.atomic
def training_run_start(
    *,
    channel: str,
    by: User | None,
    author_ids: list[int] | None = None,
    hyperparameters: dict | None = None,
    base_model: str | None = None,
    enqueue: bool = True,
) -> TrainingRun:
    """Queue a run on the gpu queue (or leave it to the caller: `manage.py train` runs it in its
    own process). It freezes its dataset when it starts."""
    can.require_manage_models(by, channel)
    if channel not in Post.Channel.values:
        raise ValidationError(f"Unknown channel {channel!r}.")
    run = TrainingRun.objects.create(
        channel=channel,
        base_model=base_model or settings.BASE_MODEL,
        hyperparameters=training_config_validate(hyperparameters or {}),
        author_ids=sorted(author_ids or []) if channel == Post.Channel.GENERAL else [],
        requested_by=by,
        phase="Waiting for a worker",
    )
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run.id))
    return run


def _enqueue(run_id: int) -> None:
    from training.tasks import training_run_execute_task

    result = training_run_execute_task.delay(run_id)
    TrainingRun.objects.filter(id=run_id).update(task_id=result.id)


@transaction.atomic
def training_run_cancel(*, run: TrainingRun, by: User | None) -> TrainingRun:
    """A queued run ends now; a running one stops at its next step (after a checkpoint)."""
    can.require_manage_models(by, run.channel)
    run = TrainingRun.objects.select_for_update().get(id=run.id)
    if run.status == TrainingRun.Status.QUEUED:
        run.status, run.finished_at = TrainingRun.Status.CANCELLED, timezone.now()
        run.phase = "Cancelled before it started"
        run.save(update_fields=["status", "finished_at", "phase"])
    elif run.status == TrainingRun.Status.RUNNING:
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested"])
    else:
        raise ValidationError(f"Run #{run.id} has already ended ({run.get_status_display()}).")
    return run


@transaction.atomic
def training_run_resume(*, run: TrainingRun, by: User | None) -> TrainingRun:
    """Queue a failed or cancelled run again; it continues from its last checkpoint."""
    can.require_manage_models(by, run.channel)
    run = TrainingRun.objects.select_for_update().get(id=run.id)
    if run.status not in (TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED):
        raise ValidationError("Only a failed or cancelled run can be resumed.")
    run.status, run.cancel_requested, run.finished_at = TrainingRun.Status.QUEUED, False, None
    run.error = run.traceback = ""
    run.phase = "Waiting for a worker"
    run.save(
        update_fields=["status", "cancel_requested", "finished_at", "error", "traceback", "phase"]
    )
    transaction.on_commit(lambda: _enqueue(run.id))
    return run


def training_runs_recover() -> list[int]:
    """Queue again every running run whose worker stopped writing heartbeats (it died)."""
    stale_before = timezone.now() - timezone.timedelta(seconds=settings.TRAINING_STALE_SECONDS)
    recovered = []
    with transaction.atomic():
        stale = TrainingRun.objects.select_for_update(skip_locked=True).filter(
            status=TrainingRun.Status.RUNNING, heartbeat_at__lt=stale_before
        )
        for run in stale:
            run.status = TrainingRun.Status.QUEUED
            run.phase = "Waiting to resume: the worker stopped answering"
            run.log += _line(f"Worker {run.worker or '?'} stopped answering; queued again.")
            run.save(update_fields=["status", "phase", "log"])
            recovered.append(run.id)
    for run_id in recovered:
        logger.warning("Training run %s lost its worker; queued again", run_id)
        _enqueue(run_id)
    return recovered


# --- In the worker -----------------------------------------------------------------------------


def training_run_execute(*, run_id: int, worker: str) -> None:
    """The worker's job for one run (see the module docstring). Never raises for a run's own
    failure: that is stored on the run with a human sentence and the traceback."""
    run = _claim(run_id, worker)
    if run is None:
        return
    heartbeat = Heartbeat(TrainingRun, run.id, seconds=HEARTBEAT_SECONDS)
    heartbeat.start()
    reporter = _Reporter(run, heartbeat)
    try:
        _execute(run, reporter)
    except Exception as exc:  # noqa: BLE001 - the run records every failure
        from training.trainer import TrainingCancelled

        if isinstance(exc, TrainingCancelled):
            reporter.log("Cancelled; the last checkpoint is kept, so the run can be resumed.")
            _end(run, reporter, TrainingRun.Status.CANCELLED, phase="Cancelled")
        else:
            logger.exception("Training run %s failed", run.id)
            reporter.log(f"Failed: {exc}")
            _end(
                run,
                reporter,
                TrainingRun.Status.FAILED,
                phase="Failed",
                error=failure_sentence(exc),
                traceback="".join(tb.format_exception(exc)),
            )
    finally:
        heartbeat.stop()


def failure_sentence(exc: BaseException) -> str:
    from training.base_model import BaseModelError
    from training.trainer import CheckpointError, is_out_of_memory

    if is_out_of_memory(exc):
        return OOM_SENTENCE
    if isinstance(exc, DatasetError | BaseModelError):
        return str(exc)
    if isinstance(exc, CheckpointError):
        return f"The checkpoint to resume from could not be read: {exc}"
    if isinstance(exc, ArtifactError):
        return f"Artifact storage failed: {exc}"
    if isinstance(exc, SoftTimeLimitExceeded):
        return (
            "The run reached the task time limit (BLOGLLM_TASK_SOFT_TIME_LIMIT). Resume it: it "
            "continues from its last checkpoint."
        )
    return f"The run failed unexpectedly ({type(exc).__name__}: {exc}). See the traceback."


def _claim(run_id: int, worker: str) -> TrainingRun | None:
    """Mark the run as ours, or return None when it is not ours to run."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(id=run_id).first()
        if run is None or run.status not in TrainingRun.ACTIVE_STATUSES:
            return None  # ended, or cancelled while queued
        fresh = timezone.now() - timezone.timedelta(seconds=settings.TRAINING_STALE_SECONDS)
        if (
            run.status == TrainingRun.Status.RUNNING
            and run.heartbeat_at
            and run.heartbeat_at > fresh
        ):
            logger.info(
                "Run %s is already running on %s; not starting it twice", run.id, run.worker
            )
            return None
        if run.cancel_requested:
            run.status, run.finished_at = TrainingRun.Status.CANCELLED, timezone.now()
            run.save(update_fields=["status", "finished_at"])
            return None
        run.status, run.worker, run.heartbeat_at = (
            TrainingRun.Status.RUNNING,
            worker,
            timezone.now(),
        )
        run.attempts += 1
        run.started_at = run.started_at or timezone.now()
        run.log += _line(f"Attempt {run.attempts} started on {worker}.")
        run.save(
            update_fields=["status", "worker", "heartbeat_at", "attempts", "started_at", "log"]
        )
        return run


def _execute(run: TrainingRun, reporter: "_Reporter") -> None:
    from training.base_model import device_plan, load_base_model
    from training.config import TrainConfig
    from training.samples import encode
    from training.trainer import train

    storage = default_storage()
    # from_stored: a run queued before a setting existed trains as it would have then.
    config = TrainConfig.from_stored(run.hyperparameters)
    plan = device_plan(settings.TRAINING_DEVICE)
    run.device, run.dtype = plan.device, plan.dtype
    run.save(update_fields=["device", "dtype"])

    reporter.phase("Loading the base model")
    model, tokenizer = load_base_model(
        run.base_model, cache_dir=settings.MODEL_CACHE_DIR, plan=plan
    )

    reporter.phase("Freezing the dataset")
    if run.dataset_id is None:
        count = lambda s: encode(s, tokenizer, max_length=10**9)["n_tokens"]  # noqa: E731
        snapshot, samples = dataset_snapshot_create(run=run, count_tokens=count, storage=storage)
        run.dataset = snapshot
        run.save(update_fields=["dataset"])
        reporter.log(
            f"Dataset #{snapshot.id}: {snapshot.train_count} training and "
            f"{snapshot.validation_count} validation samples, {snapshot.train_tokens} tokens."
        )
    else:
        samples = dataset_snapshot_samples(snapshot=run.dataset, storage=storage)
    train_samples = [s for s in samples if s.split == "train"]
    validation_samples = [s for s in samples if s.split == "validation"]

    work_dir = run_work_dir(run)
    resume_from = _download_last_checkpoint(run, storage, work_dir)
    if resume_from is not None:
        reporter.resume_at(int(resume_from.name.removeprefix("step-")))

    reporter.phase("Training")
    result = train(
        model=model,
        tokenizer=tokenizer,
        train_samples=train_samples,
        config=config,
        output_dir=work_dir,
        validation_samples=validation_samples,
        on_step=reporter.step,
        should_stop=reporter.should_stop,
        on_checkpoint=lambda step, path: _upload_checkpoint(run, reporter, storage, step, path),
        resume_from=resume_from,
        log=reporter.log,
    )
    del model
    stopped = f" (stopped early, of {result.total_steps} planned)" if result.stopped_early else ""
    reporter.log(
        f"Trained {result.steps} steps{stopped}, {result.tokens} tokens at "
        f"{result.tokens_per_s:.0f} tokens/s; final loss {result.final_loss:.3f}."
    )

    from training.services.registry import model_version_create_from_run

    reporter.phase("Evaluating checkpoints")
    version = model_version_create_from_run(
        run=run, samples=samples, work_dir=work_dir, plan=plan, storage=storage, log=reporter.log
    )
    reporter.log(f"Registered {version} (checkpoint of step {version.checkpoint_step}).")
    _end(run, reporter, TrainingRun.Status.SUCCEEDED, phase="Finished")
    shutil.rmtree(work_dir, ignore_errors=True)


def run_work_dir(run: TrainingRun) -> Path:
    path = Path(settings.TRAINING_WORK_DIR) / f"run-{run.id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _download_last_checkpoint(
    run: TrainingRun, storage: ArtifactStorage, work_dir: Path
) -> Path | None:
    if not run.last_checkpoint_uri:
        return None
    step = run.checkpoints[-1]["step"]
    local = work_dir / "resume" / f"step-{step}"
    shutil.rmtree(local, ignore_errors=True)
    return storage.get_dir(run.last_checkpoint_uri, local)


def _upload_checkpoint(
    run: TrainingRun, reporter: "_Reporter", storage: ArtifactStorage, step: int, path: Path
) -> None:
    """Every checkpoint goes to artifact storage at once, so another worker can resume from it.
    The progress up to it is written first: a resumed run keeps the chart points it had."""
    reporter.flush(force=True)
    uri = storage.put_dir(path, f"{run.channel}/runs/{run.id}/checkpoints/step-{step}")
    run.checkpoints = [c for c in run.checkpoints if c["step"] != step] + [
        {"step": step, "uri": uri, "path": str(path)}
    ]
    run.last_checkpoint_uri = uri
    TrainingRun.objects.filter(id=run.id).update(
        checkpoints=run.checkpoints, last_checkpoint_uri=uri
    )
    reporter.log(f"Checkpoint saved at step {step}.")


def _end(
    run: TrainingRun, reporter: "_Reporter", status: str, *, phase: str, **fields: str
) -> None:
    reporter.flush(force=True)
    # The heartbeat stops first: once a run reads as ended, its worker writes to it no more.
    reporter.heartbeat.stop()
    updates = {"status": status, "phase": phase, "finished_at": timezone.now(), **fields}
    TrainingRun.objects.filter(id=run.id).update(**updates)
    for name, value in updates.items():
        setattr(run, name, value)


def _line(text: str) -> str:
    return f"{timezone.now():%Y-%m-%d %H:%M:%S} {text}\n"


class _Reporter:
    """Writes the worker's progress to the run row, at most every PROGRESS_WRITE_SECONDS."""

    def __init__(self, run: TrainingRun, heartbeat: Heartbeat) -> None:
        self.run, self.heartbeat = run, heartbeat
        self.pending: dict = {}
        self.written_at = 0.0
        self.checked_at = 0.0
        self.step_logged_at = 0.0

    def phase(self, text: str) -> None:
        self.run.phase = text
        self.log(text + "…")
        self.pending["phase"] = text
        self.flush(force=True)

    def log(self, text: str) -> None:
        # The trainer reports every step; the log keeps one step line every STEP_LOG_SECONDS
        # (the chart has them all), or a long GPU run would rewrite a huge log at every step.
        if text.startswith("step "):
            now = time.monotonic()
            if now - self.step_logged_at < STEP_LOG_SECONDS:
                return
            self.step_logged_at = now
        logger.info("Run %s: %s", self.run.id, text)
        self.run.log += _line(text)
        self.pending["log"] = self.run.log
        self.flush()

    def resume_at(self, step: int) -> None:
        """Steps after the checkpoint will be trained again: drop their chart points."""
        self.run.points = [p for p in self.run.points if p["step"] <= step]
        self.pending["points"] = self.run.points
        self.log(f"Resuming from the checkpoint of step {step}.")

    def step(self, report: object) -> None:
        point = {
            "step": report.step,
            "loss": round(report.loss, 5),
            "lr": report.learning_rate,
            "tokens_per_s": round(report.tokens_per_s, 1),
        }
        if report.val_loss is not None:  # checkpoint steps: the chart's validation line
            point["val_loss"] = round(report.val_loss, 5)
        self.run.points.append(point)
        self.pending.update(
            step=report.step,
            total_steps=report.total_steps,
            loss=report.loss,
            tokens_per_s=report.tokens_per_s,
            eta_s=report.eta_s,
            points=self.run.points,
        )
        self.flush(force=report.step == report.total_steps)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.checked_at < CANCEL_CHECK_SECONDS:
            return False
        self.checked_at = now
        return TrainingRun.objects.filter(id=self.run.id, cancel_requested=True).exists()

    def flush(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.pending or (not force and now - self.written_at < PROGRESS_WRITE_SECONDS):
            return
        self.pending["heartbeat_at"] = timezone.now()
        TrainingRun.objects.filter(id=self.run.id).update(**self.pending)
        self.pending, self.written_at = {}, now
