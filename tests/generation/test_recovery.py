"""Drafts whose worker died: the heartbeat, claiming a run once, recovery by beat, the bound on
attempts, failures that keep clinical text out of the stored trace and the log, and a real
process killed (kill -9) mid-draft whose run resumes after its retrieve step on the worker."""

import logging
import sys
import time
import uuid
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.roles import Role
from blogllm.celery import app
from blogllm.heartbeat import Heartbeat
from generation.models import GenerationRun, RunStep
from generation.services import execute, runs, sanitize, stream
from generation.services.execute import generation_run_execute
from generation.services.runs import (
    GAVE_UP_SENTENCE,
    GENERATION_MAX_ATTEMPTS,
    generation_run_start,
    generation_runs_recover,
)
from tests.accounts.factories import UserFactory
from tests.conftest import kill_when

PHI = ("Jane Doveport", "555-201-3344")
RESUMING = "Waiting to resume: the worker stopped answering"


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:  # noqa: ANN001
    """Run ids handed to the gpu queue (recorded here instead of published to the broker)."""
    ids: list[int] = []
    monkeypatch.setattr(runs, "_enqueue", ids.append)
    return ids


@pytest.fixture
def published(monkeypatch) -> list[tuple[int, dict]]:  # noqa: ANN001
    """What the worker would add to the run's live stream (recorded instead of sent to Redis)."""
    messages: list[tuple[int, dict]] = []
    monkeypatch.setattr(stream, "_add", lambda run, m: messages.append((run.id, m)))
    return messages


@pytest.fixture
def executed(monkeypatch) -> list[dict]:  # noqa: ANN001
    """Stands in for the workflow: records what the row looked like while it ran."""
    seen: list[dict] = []

    def run_workflow(run: GenerationRun, **kwargs: object) -> None:
        seen.append(GenerationRun.objects.filter(id=run.id).values().get())

    monkeypatch.setattr(execute, "_execute", run_workflow)
    return seen


def queued_run(by, channel: str = "general", **fields) -> GenerationRun:  # noqa: ANN001, ANN003
    run = generation_run_start(channel=channel, brief={"topic": "Tea"}, by=by, enqueue=False)
    if fields:
        GenerationRun.objects.filter(id=run.id).update(**fields)
        run.refresh_from_db()
    return run


def ago(seconds: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


@pytest.mark.django_db
class TestClaiming:
    def test_the_worker_claims_a_run_with_its_name_and_a_heartbeat(
        self, author, executed, published
    ):
        run = queued_run(author)

        run = generation_run_execute(run_id=run.id, worker="gpu-1@host")

        row = executed[0]
        assert (row["status"], row["worker"], row["attempts"]) == ("running", "gpu-1@host", 1)
        assert row["heartbeat_at"] > ago(5) and row["started_at"]
        assert run.status == "running"  # the stand-in workflow finalised nothing

    def test_a_second_delivery_of_a_live_run_does_not_run_it_twice(
        self, author, executed, published
    ):
        run = queued_run(author, status="running", worker="w1", heartbeat_at=ago(1), attempts=1)

        assert generation_run_execute(run_id=run.id, worker="w2") is None

        run.refresh_from_db()
        assert (run.worker, run.attempts, executed, published) == ("w1", 1, [], [])

    def test_a_delivery_of_a_run_whose_worker_died_takes_it_over(self, author, executed, published):
        stale = settings.GENERATION_STALE_SECONDS + 5
        run = queued_run(author, status="running", worker="w1", heartbeat_at=ago(stale))

        generation_run_execute(run_id=run.id, worker="w2")

        assert executed[0]["worker"] == "w2" and executed[0]["attempts"] == 1

    def test_a_run_that_lost_its_worker_three_times_fails_with_a_sentence(
        self, author, executed, published
    ):
        run = queued_run(author, attempts=GENERATION_MAX_ATTEMPTS, phase=RESUMING)

        assert generation_run_execute(run_id=run.id, worker="w4") is None

        run.refresh_from_db()
        assert (run.status, run.error, run.attempts) == ("failed", GAVE_UP_SENTENCE, 3)
        assert GAVE_UP_SENTENCE == (
            "The worker stopped three times while writing this draft; ask again."
        )
        assert run.finished_at and executed == []
        assert published == [(run.id, {"done": True, "status": "failed", "post": None})]

    def test_the_third_attempt_still_runs(self, author, executed, published):
        run = queued_run(author, attempts=GENERATION_MAX_ATTEMPTS - 1)

        generation_run_execute(run_id=run.id, worker="w3")

        assert executed[0]["attempts"] == GENERATION_MAX_ATTEMPTS

    def test_a_run_cancelled_while_its_worker_was_dying_ends_cancelled(
        self, author, executed, published
    ):
        run = queued_run(author, attempts=1, cancel_requested=True, phase=RESUMING)

        assert generation_run_execute(run_id=run.id, worker="w2") is None

        run.refresh_from_db()
        assert run.status == "cancelled" and executed == []
        assert published == [(run.id, {"done": True, "status": "cancelled", "post": None})]


@pytest.mark.django_db
def test_recovery_queues_only_running_runs_whose_heartbeat_went_stale(author, enqueued, settings):
    settings.GENERATION_MAX_ACTIVE_PER_USER = 10  # five runs of one person, on purpose
    stale = settings.GENERATION_STALE_SECONDS + 5
    lost = queued_run(author, status="running", worker="w1", heartbeat_at=ago(stale))
    alive = queued_run(author, status="running", worker="w2", heartbeat_at=ago(1))
    waiting = queued_run(author, heartbeat_at=ago(stale))  # queued already: its task is coming
    # Left running by a worker from before heartbeats: its start is its last sign of life.
    old = queued_run(author, status="running", started_at=ago(stale))
    young = queued_run(author, status="running", started_at=ago(1))

    assert sorted(generation_runs_recover()) == sorted([lost.id, old.id])

    lost.refresh_from_db()
    alive.refresh_from_db()
    waiting.refresh_from_db()
    assert (lost.status, lost.phase) == ("queued", RESUMING)
    assert alive.status == "running" and waiting.status == "queued"
    young.refresh_from_db()
    assert young.status == "running"
    assert sorted(enqueued) == sorted([lost.id, old.id])
    assert generation_runs_recover() == []  # queued now: not queued twice


def test_beat_runs_recovery_every_30_seconds_on_the_default_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["recover-generation-runs"]
    assert entry["task"] == "generation.tasks.generation_runs_recover"
    assert entry["schedule"] == 30.0 and entry["options"] == {"queue": "default"}
    route = app.amqp.router.route({}, "generation.tasks.generation_runs_recover", (), {})
    assert route["queue"].name == "default"
    drafts = app.amqp.router.route({}, "generation.tasks.generation_run_execute", (), {})
    assert drafts["queue"].name == "generate"


@pytest.mark.django_db
class TestFailures:
    @pytest.fixture
    def failing(self, monkeypatch) -> None:  # noqa: ANN001
        """A workflow that fails with a patient's name and number in its message and its cause."""

        def run_workflow(run: GenerationRun, **kwargs: object) -> None:
            try:
                raise ValueError(f"bad token near {PHI[0]}, {PHI[1]}")
            except ValueError as exc:
                raise RuntimeError(f"The model choked on {PHI[0]} ({PHI[1]})") from exc

        monkeypatch.setattr(execute, "_execute", run_workflow)

    def test_a_clinical_failure_stores_and_logs_no_phi(self, officer, failing, published, caplog):
        run = queued_run(officer, channel="clinical")
        caplog.set_level(logging.INFO, logger="generation.services")

        run = generation_run_execute(run_id=run.id, worker="w1")

        assert run.status == "failed" and run.finished_at
        assert "RuntimeError" in run.error and "RuntimeError" in run.traceback
        assert "ValueError" in run.traceback  # the cause is kept, de-identified too
        assert f"Generation run {run.id} failed" in caplog.text
        for text in (run.error, run.traceback, caplog.text):
            assert PHI[0] not in text and PHI[1] not in text and "Doveport" not in text
        assert not any(record.exc_info for record in caplog.records)
        assert published == [(run.id, {"done": True, "status": "failed", "post": None})]

    def test_the_heartbeat_stops_before_the_failure_is_written(
        self, author, failing, published, stops
    ):
        run = queued_run(author)

        assert generation_run_execute(run_id=run.id, worker="w1").status == "failed"
        assert stops[0] == "running"

    def test_a_general_failure_keeps_the_whole_message(self, author, failing, published, caplog):
        run = queued_run(author)
        caplog.set_level(logging.INFO, logger="generation.services")

        run = generation_run_execute(run_id=run.id, worker="w1")

        assert PHI[1] in run.error and PHI[1] in run.traceback
        assert any(record.exc_info for record in caplog.records)

    def test_a_clinical_failure_that_cannot_be_de_identified_keeps_only_code(
        self, officer, failing, published, caplog, monkeypatch
    ):
        from compliance.deid import DeidTimeout

        def too_slow(text: str) -> str:
            raise DeidTimeout("too slow")

        run = queued_run(officer, channel="clinical")
        monkeypatch.setattr(sanitize, "deidentified", too_slow)
        caplog.set_level(logging.INFO, logger="generation.services")

        run = generation_run_execute(run_id=run.id, worker="w1")

        assert run.status == "failed"
        assert run.error == "The draft could not be written (RuntimeError)."
        assert "in run_workflow" in run.traceback  # the frames, which are code
        for text in (run.error, run.traceback, caplog.text):
            assert "Doveport" not in text and PHI[1] not in text


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_heartbeat_writes_from_its_own_thread_until_stopped():
    old = ago(3600)
    run = GenerationRun.objects.create(
        channel="general", brief={"topic": "Tea"}, base_model="m", heartbeat_at=old
    )
    beat = Heartbeat(GenerationRun, run.id, seconds=0.05)

    beat.start()
    deadline = time.monotonic() + 10
    while run.heartbeat_at == old and time.monotonic() < deadline:
        time.sleep(0.05)
        run.refresh_from_db()
    beat.stop()

    assert run.heartbeat_at > ago(10)
    assert not beat.thread.is_alive()


@pytest.fixture
def stops(monkeypatch) -> list[str]:  # noqa: ANN001
    """The run's status each time its heartbeat is stopped."""
    seen: list[str] = []

    class Recorded(Heartbeat):
        def stop(self) -> None:
            seen.append(GenerationRun.objects.get(id=self.pk).status)
            super().stop()

    monkeypatch.setattr(execute, "Heartbeat", Recorded)
    return seen


@pytest.mark.django_db
def test_the_heartbeat_stops_before_the_outcome_is_written(author, tiny_model_dir, stops):
    """Once a run reads as ended, its worker writes to the row no more (a late heartbeat once
    raced a test's teardown into a deadlock)."""
    run = generation_run_start(
        channel="general", brief={"topic": "Tea"}, by=author, enqueue=False,
        sampling={"max_new_tokens": 8, "seed": 1}, base_model=str(tiny_model_dir),
    )  # fmt: skip

    run = generation_run_execute(run_id=run.id, worker="w1")

    assert run.status in ("succeeded", "needs_review"), run.traceback
    assert stops[0] == "running"


def checkpointed_past_retrieve(run: GenerationRun) -> bool:
    """Whether the LangGraph checkpoint holds the retrieve step's output (so a resumed run does
    not retrieve again): the RunStep row is written a moment before the checkpoint."""
    from langgraph.checkpoint.postgres import PostgresSaver

    if not RunStep.objects.filter(run=run, node="retrieve").exists():
        return False
    with execute.checkpoint_connection() as conn:
        saved = PostgresSaver(conn).get_tuple({"configurable": {"thread_id": str(run.thread_id)}})
    return saved is not None and "sources" in saved.checkpoint["channel_values"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_draft_whose_process_is_killed_resumes_after_retrieve_on_the_worker(
    celery_worker_process, tiny_model_dir
):

    author = UserFactory(roles=[Role.AUTHOR], email=f"{uuid.uuid4().hex[:8]}@example.com")
    # `manage.py generate` writes the draft in its own process; kill -9 it mid-draft. 600 new
    # tokens take the tiny model about a second, and leave room in its 2,048-token context for
    # a revision (noise is full of things the guard flags).
    command = [
        sys.executable, "manage.py", "generate", "--topic", "walking to work", "--as",
        author.email, "--base-model", str(tiny_model_dir), "--max-new-tokens", "600",
        "--seed", "3",
    ]  # fmt: skip

    def past_retrieve() -> bool:
        run = GenerationRun.objects.filter(requested_by=author).first()
        return run is not None and checkpointed_past_retrieve(run)

    kill_when(command, past_retrieve, what="its retrieve step")
    run = GenerationRun.objects.get(requested_by=author)
    run.refresh_from_db()
    assert run.status == "running" and run.attempts == 1, "killed too late: the draft was done"
    assert list(run.steps.values_list("node", flat=True)) == ["retrieve"]

    # Time passes without a heartbeat; the beat job then finds the run and queues it again.
    stale = timedelta(seconds=settings.GENERATION_STALE_SECONDS + 1)
    GenerationRun.objects.filter(id=run.id).update(heartbeat_at=run.heartbeat_at - stale)
    assert generation_runs_recover() == [run.id]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status not in GenerationRun.ACTIVE_STATUSES:
            break
        time.sleep(0.3)
    # The finalise step's row is written just after the node that set the status returns: on
    # a busy machine the status can be read in between.
    while time.monotonic() < deadline and not run.steps.filter(node="finalise").exists():
        time.sleep(0.1)

    assert run.status in ("succeeded", "needs_review"), f"{run.status}: {run.traceback}"
    assert run.attempts == 2 and run.worker.startswith("test-")  # the Celery worker's name
    steps = list(run.steps.values_list("seq", "node"))
    nodes = [node for _, node in steps]
    assert nodes.count("retrieve") == 1, nodes  # the checkpoint resumed after retrieve
    assert nodes[:2] == ["retrieve", "draft"] and nodes[-1] == "finalise"
    assert [seq for seq, _ in steps] == list(range(1, len(steps) + 1))
    assert run.post is not None and run.new_tokens > 0
