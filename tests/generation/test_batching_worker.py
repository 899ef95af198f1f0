"""A generation worker as deployed (`--pool threads`) serves two drafts at once: both run through
the whole workflow in one process, and their model calls overlap (one batch), where a pool of
processes with one slot would write them one after the other."""

import os
import subprocess
import sys
import time
import uuid

import pytest

from accounts.roles import Role
from generation.models import GenerationRun
from generation.services.runs import generation_run_start
from generation.tasks import generation_run_execute_task
from tests.accounts.factories import UserFactory
from tests.conftest import ROOT, subprocess_env

QUEUE = f"generate-test-{os.getpid()}"  # this test's worker only: not the session worker's queue


@pytest.fixture
def threads_worker(tmp_path):  # noqa: ANN001, ANN201
    from django.db import connection

    from blogllm.celery import app

    name = f"batch-{uuid.uuid4().hex[:8]}@test"
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "blogllm", "worker", "--pool", "threads",
         "--concurrency", "2", "--queues", QUEUE, "--hostname", name, "--without-mingle",
         "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=subprocess_env(BLOGLLM_DATABASE_NAME=connection.settings_dict["NAME"],
                           BLOGLLM_GENERATION_BATCH_MAX="2"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not app.control.ping(destination=[name], timeout=1.0):
            assert worker.poll() is None and time.monotonic() < deadline, (
                tmp_path / "worker.log"
            ).read_text()[-3000:]
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_threads_worker_writes_two_drafts_at_once_in_one_batch(threads_worker, tiny_model_dir):
    author = UserFactory(roles=[Role.AUTHOR], email=f"{uuid.uuid4().hex[:8]}@example.com")
    runs = [
        generation_run_start(
            channel="general",
            brief={"topic": topic},
            by=author,
            sampling={"max_new_tokens": 300, "seed": n},
            base_model=str(tiny_model_dir),
            enqueue=False,
        )  # fmt: skip
        for n, topic in enumerate(["walking to work", "baking bread"])
    ]
    for run in runs:
        generation_run_execute_task.apply_async(args=[run.id], queue=QUEUE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = set(GenerationRun.objects.filter(id__in=[r.id for r in runs])
                       .values_list("status", flat=True))  # fmt: skip
        if not statuses & set(GenerationRun.ACTIVE_STATUSES):
            break
        time.sleep(0.3)

    done = [GenerationRun.objects.get(id=run.id) for run in runs]
    for run in done:
        assert run.status in ("succeeded", "needs_review"), run.traceback
    first, second = (run.steps.filter(node="draft").first() for run in done)
    # The two drafts were written at the same time, not one after the other.
    assert first.started_at < second.ended_at and second.started_at < first.ended_at
