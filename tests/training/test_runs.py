"""Starting, cancelling, resuming and recovering runs, and the sentences a failure gets."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tests.training.factories import TrainingRunFactory
from training.models import TrainingRun
from training.services import runs
from training.services.datasets import DatasetError
from training.services.runs import (
    OOM_SENTENCE,
    failure_sentence,
    training_run_cancel,
    training_run_resume,
    training_run_start,
    training_runs_recover,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:  # noqa: ANN001
    """Run ids handed to the gpu queue (recorded here instead of published to the broker)."""
    ids: list[int] = []
    monkeypatch.setattr(runs, "_enqueue", ids.append)
    return ids


def test_starting_a_run_queues_it_after_commit_with_the_settings_filled_in(
    editor, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = training_run_start(channel="general", by=editor, hyperparameters={"max_steps": 5})

    assert run.status == TrainingRun.Status.QUEUED and enqueued == [run.id]
    assert run.hyperparameters["max_steps"] == 5 and run.hyperparameters["rank"] == 16
    assert run.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_starting_refuses_bad_settings_with_the_trainers_reason(editor):
    with pytest.raises(ValidationError, match="learning_rate"):
        training_run_start(channel="general", by=editor, hyperparameters={"learning_rate": -1})
    with pytest.raises(ValidationError, match="Unknown training setting"):
        training_run_start(channel="general", by=editor, hyperparameters={"speed": "fast"})
    assert not TrainingRun.objects.exists()


def test_only_model_managers_start_runs_on_their_channel(author, editor, officer):
    with pytest.raises(PermissionDenied):
        training_run_start(channel="general", by=author)
    with pytest.raises(PermissionDenied, match="compliance officers"):
        training_run_start(channel="clinical", by=editor)
    with pytest.raises(PermissionDenied, match="editors"):
        training_run_start(channel="general", by=officer)


def test_a_queued_run_is_cancelled_at_once_and_a_running_one_at_its_next_step(editor):
    queued = TrainingRunFactory()
    running = TrainingRunFactory(status=TrainingRun.Status.RUNNING)

    training_run_cancel(run=queued, by=editor)
    training_run_cancel(run=running, by=editor)

    queued.refresh_from_db()
    running.refresh_from_db()
    assert queued.status == TrainingRun.Status.CANCELLED and queued.finished_at
    assert running.status == TrainingRun.Status.RUNNING and running.cancel_requested
    with pytest.raises(ValidationError, match="already ended"):
        training_run_cancel(run=queued, by=editor)


def test_a_failed_run_resumes_from_where_it_was(
    editor, enqueued, django_capture_on_commit_callbacks
):
    run = TrainingRunFactory(status=TrainingRun.Status.FAILED, error="Out of memory", step=7)

    with django_capture_on_commit_callbacks(execute=True):
        training_run_resume(run=run, by=editor)

    run.refresh_from_db()
    assert (run.status, run.error, run.step, enqueued) == ("queued", "", 7, [run.id])
    with pytest.raises(ValidationError, match="failed or cancelled"):
        training_run_resume(run=run, by=editor)


def test_recovery_queues_only_runs_whose_heartbeat_went_stale(settings, enqueued):
    old = timezone.now() - timezone.timedelta(seconds=settings.TRAINING_STALE_SECONDS + 5)
    lost = TrainingRunFactory(status=TrainingRun.Status.RUNNING, heartbeat_at=old, worker="w1")
    alive = TrainingRunFactory(status=TrainingRun.Status.RUNNING, heartbeat_at=timezone.now())

    assert training_runs_recover() == [lost.id]

    lost.refresh_from_db()
    alive.refresh_from_db()
    assert lost.status == TrainingRun.Status.QUEUED and "w1 stopped answering" in lost.log
    assert alive.status == TrainingRun.Status.RUNNING and enqueued == [lost.id]


def test_a_second_delivery_of_a_live_run_does_not_start_it_twice():
    run = TrainingRunFactory(
        status=TrainingRun.Status.RUNNING, heartbeat_at=timezone.now(), worker="w1"
    )

    runs.training_run_execute(run_id=run.id, worker="w2")

    run.refresh_from_db()
    assert (run.worker, run.attempts) == ("w1", 0)


def test_the_heartbeat_stops_before_the_outcome_is_written(monkeypatch):
    """Once a run reads as ended, its worker writes to the row no more (a late heartbeat once
    raced a test's teardown into a deadlock)."""
    from blogllm.heartbeat import Heartbeat

    seen = []

    class Recorded(Heartbeat):
        def stop(self) -> None:
            seen.append(TrainingRun.objects.get(id=self.pk).status)
            super().stop()

    def execute(run: TrainingRun, reporter: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(runs, "Heartbeat", Recorded)
    monkeypatch.setattr(runs, "_execute", execute)
    run = TrainingRunFactory(status=TrainingRun.Status.QUEUED)

    runs.training_run_execute(run_id=run.id, worker="w1")

    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED and seen[0] == TrainingRun.Status.RUNNING


def test_failures_get_a_sentence_a_person_can_act_on():
    assert failure_sentence(RuntimeError("CUDA out of memory. Tried to allocate")) == OOM_SENTENCE
    assert failure_sentence(MemoryError()) == OOM_SENTENCE
    assert failure_sentence(DatasetError("There is nothing to train on.")) == (
        "There is nothing to train on."
    )
    assert failure_sentence(KeyError("x")).startswith("The run failed unexpectedly (KeyError")
