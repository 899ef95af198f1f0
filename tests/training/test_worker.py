"""The whole path through a real Celery worker and Redis, on a tiny randomly initialised model:
dataset → run → version → promote → rollback, cancellation, and a run whose process is killed
(kill -9) resuming from its last checkpoint on the worker."""

import sys
import time

import pytest
from django.conf import settings

from accounts.roles import Role
from compliance.models import AuditEvent
from posts.models import Post
from tests.accounts.factories import UserFactory
from tests.conftest import kill_when
from tests.posts.factories import make_post
from training.models import ModelVersion, TrainingRun
from training.services.registry import model_version_promote, model_version_rollback
from training.services.runs import training_run_cancel, training_run_start
from training.storage import default_storage

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SMALL = {"batch_size": 2, "max_length": 320, "learning_rate": 0.003}
ENDED = (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED)


def corpus(author) -> None:  # noqa: ANN001
    """Eight short posts in one voice, two of them held out for validation."""
    for i in range(8):
        body = (
            f"## Note {i}\n\nEvery morning I walk the dog before the ward round. "
            "Quiet streets make for clear thinking, and clear thinking makes for kind medicine. "
            f"Today the lesson was number {i}: slow down, listen, then decide."
        )
        post = make_post(author, title=f"Walks {i}", body_markdown=body, status="published")
        Post.objects.filter(id=post.id).update(split="validation" if i in (3, 6) else "train")


def wait_for(run: TrainingRun, statuses: tuple, timeout: float = 180) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in statuses:
            return run
        time.sleep(0.3)
    raise AssertionError(f"Run #{run.id} still {run.status} ({run.phase}):\n{run.log}")


def train_through_the_worker(editor, tiny_model_dir, **hyper: int) -> TrainingRun:  # noqa: ANN001
    run = training_run_start(
        channel="general",
        by=editor,
        base_model=str(tiny_model_dir),
        hyperparameters={**SMALL, **hyper},
    )
    run = wait_for(run, ENDED)
    assert run.status == TrainingRun.Status.SUCCEEDED, f"{run.error}\n{run.traceback}"
    return run


def test_a_run_trains_registers_a_version_and_the_versions_promote_and_roll_back(
    celery_worker_process, tiny_model_dir
) -> None:  # noqa: ANN001
    editor = UserFactory(roles=[Role.EDITOR])
    corpus(editor)

    first = train_through_the_worker(editor, tiny_model_dir, max_steps=8, checkpoint_every=4)

    assert (first.step, first.total_steps, first.attempts) == (8, 8, 1)
    assert [p["step"] for p in first.points] == list(range(1, 9))
    # Checkpoint steps carry the validation loss the trainer measured there, for the chart.
    assert [p["step"] for p in first.points if "val_loss" in p] == [4, 8]
    assert [c["step"] for c in first.checkpoints] == [4, 8]
    assert first.dataset.train_count == 6 and first.dataset.validation_count == 2
    v1 = first.version
    assert (v1.number, v1.status, v1.channel) == (1, ModelVersion.Status.CANDIDATE, "general")
    assert v1.checkpoint_step in (4, 8)
    assert {c["step"] for c in v1.metrics["checkpoints"]} == {4, 8}
    assert v1.metrics["val_perplexity"] > 0 and v1.metrics["base_val_perplexity"] > 0
    assert len(v1.samples) == 3 and all(s["base"] is not None for s in v1.samples)
    assert v1.metrics["style_score"] is not None
    storage = default_storage()
    assert "adapter_config.json" in storage.list(v1.adapter_uri)
    assert "trainer_state.pt" not in storage.list(v1.adapter_uri)  # resume-only files stay out
    assert storage.exists(v1.report_uri) and storage.exists(first.dataset.artifact_uri)

    model_version_promote(version=v1, by=editor)
    v2 = train_through_the_worker(editor, tiny_model_dir, max_steps=4, checkpoint_every=4).version
    v2 = model_version_promote(version=v2, by=editor)
    v1.refresh_from_db()
    assert (v1.status, v2.status) == (ModelVersion.Status.CANDIDATE, ModelVersion.Status.ACTIVE)
    # v1's bias audit was queued when it was registered, and ran before the second run; its
    # model card, written again after each evaluation, lies beside the adapter.
    assert v1.bias_audit_passed is not None and len(v1.bias_audit["groups"]) == 5
    assert v1.card_uri == v1.adapter_uri.removesuffix("adapter") + "README.md"
    assert storage.exists(v1.card_uri)

    back = model_version_rollback(channel="general", by=editor, reason="v2 rambles")

    v2.refresh_from_db()
    assert back == v1 and (v2.status, back.status) == ("candidate", "active")
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-3:] == ["model.promoted", "model.promoted", "model.rolled_back"]


def test_cancelling_a_running_run_stops_it_after_a_checkpoint(
    celery_worker_process, tiny_model_dir
) -> None:  # noqa: ANN001
    editor = UserFactory(roles=[Role.EDITOR])
    corpus(editor)
    run = training_run_start(
        channel="general",
        by=editor,
        base_model=str(tiny_model_dir),
        hyperparameters={**SMALL, "max_steps": 100_000, "checkpoint_every": 1000},
    )
    deadline = time.monotonic() + 120
    while run.step < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        run.refresh_from_db()

    training_run_cancel(run=run, by=editor)
    run = wait_for(run, ENDED)

    assert run.status == TrainingRun.Status.CANCELLED
    assert 3 <= run.step < 100_000
    assert run.last_checkpoint_uri  # kept, so the run can be resumed
    assert not ModelVersion.objects.filter(run=run).exists()


def test_a_run_whose_process_is_killed_resumes_from_its_checkpoint_on_the_worker(
    celery_worker_process, tiny_model_dir
) -> None:  # noqa: ANN001

    from training.services.runs import training_runs_recover

    editor = UserFactory(roles=[Role.EDITOR], email="trainer@example.com")
    corpus(editor)
    # `manage.py train` runs the training in its own process; kill -9 it after a checkpoint.
    command = [
        sys.executable, "manage.py", "train", "--channel", "general", "--as", editor.email,
        "--base-model", str(tiny_model_dir), "--max-steps", "240", "--checkpoint-every", "40",
        "--batch-size", "2", "--max-length", "320",
    ]  # fmt: skip

    def checkpointed() -> bool:
        run = TrainingRun.objects.first()
        return run is not None and bool(run.checkpoints)

    kill_when(command, checkpointed, what="a checkpoint")
    run = TrainingRun.objects.get()
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING and run.step < 240
    killed_at = run.checkpoints[-1]["step"]

    # Time passes without a heartbeat; the beat job then finds the run and queues it again.
    TrainingRun.objects.filter(id=run.id).update(
        heartbeat_at=run.heartbeat_at - settings_stale_delta()
    )
    assert training_runs_recover() == [run.id]
    run = wait_for(run, ENDED)

    assert run.status == TrainingRun.Status.SUCCEEDED, f"{run.error}\n{run.traceback}"
    assert run.attempts == 2 and run.step == 240
    assert f"Resuming from the checkpoint of step {killed_at}" in run.log
    # The chart has each step once: steps past the checkpoint were trained again, not twice.
    assert [p["step"] for p in run.points] == list(range(1, 241))
    assert run.version.metrics["steps"] == 240


def settings_stale_delta():  # noqa: ANN201
    from datetime import timedelta

    return timedelta(seconds=settings.TRAINING_STALE_SECONDS + 1)


def test_a_clinical_run_trains_on_approved_notes_and_records_its_memorisation_test(
    celery_worker_process, tiny_model_dir
) -> None:  # noqa: ANN001
    from compliance.models import ClinicalNote
    from tests.compliance.factories import decided, make_note, make_officer

    uploader, officer = make_officer(), make_officer()
    for i in range(6):
        note = make_note(uploader, text=f"Patient Jane Roe was seen on 03/0{i + 1}/2023. " * 4)
        decided(note, by=officer, status=ClinicalNote.Status.APPROVED)
    pending = make_note(uploader, text="Patient Carl Dunn, 555-123-4567, seen for a cough.")
    author = UserFactory(roles=[Role.AUTHOR])
    post = make_post(author, title="Sleep clinic", channel="clinical", status="published")
    Post.objects.filter(id=post.id).update(split="validation")

    run = training_run_start(
        channel="clinical",
        by=officer,
        base_model=str(tiny_model_dir),
        hyperparameters={**SMALL, "max_steps": 4, "checkpoint_every": 4},
    )
    run = wait_for(run, ENDED)

    assert run.status == TrainingRun.Status.SUCCEEDED, f"{run.error}\n{run.traceback}"
    kinds = {m["kind"] for m in run.dataset.members}
    assert kinds == {"note", "canary", "post"}
    assert f"note:{pending.uid}" not in {m["id"] for m in run.dataset.members}
    version = run.version
    assert version.memorisation_passed is not None and version.memorisation_tested_at
    assert any(item["canary"] for item in version.memorisation["items"])
    assert AuditEvent.objects.filter(action="note.used_for_training").count() == 1
