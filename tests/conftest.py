"""Shared fixtures: role personas, a clean Redis per test, and a real Celery worker process."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.cache import cache

from accounts.roles import Role
from tests.accounts.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # noqa: ANN001, ANN201
    """The test database, with the role groups in place. They come from a data migration, and a
    reused test database that a transactional test once flushed would lack them. (Overriding
    this fixture, rather than adding an autouse one, keeps runs without database tests off
    the database entirely.)"""
    from django.db import connections

    from accounts.roles import sync_roles

    with django_db_blocker.unblock():
        sync_roles()
        # Audit events committed by an earlier run (a module fixture's, an interrupted run's)
        # would be in the snapshot below, and reloading it re-saves rows: the append-only
        # trigger refuses that UPDATE. Start every run with an empty trail instead.
        with connections["default"].cursor() as cursor:
            cursor.execute("TRUNCATE compliance_auditevent")
        # serialized_rollback restores this snapshot after a transactional test's flush. Taken
        # again here, so that it has the groups a reused database may have lost, and also
        # kept on the wrapper class: Playwright's greenlets give later tests a new connection
        # object, and the copy Django keeps on the first object would be lost to them.
        wrapper = connections["default"]
        snapshot = wrapper.creation.serialize_db_to_string()
        wrapper._test_serialized_contents = snapshot
        type(wrapper)._test_serialized_contents = snapshot


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    # Rate limits and used TOTP codes live in the cache: start every test from zero. (The cache
    # has its own Redis database in tests; the broker's is left alone.)
    cache.clear()


@pytest.fixture
def author(db):  # noqa: ANN001, ANN201
    return UserFactory(roles=[Role.AUTHOR])


@pytest.fixture
def editor(db):  # noqa: ANN001, ANN201
    return UserFactory(roles=[Role.EDITOR])


@pytest.fixture
def officer(db):  # noqa: ANN001, ANN201
    return UserFactory(roles=[Role.COMPLIANCE_OFFICER])


@pytest.fixture
def admin_user(db):  # noqa: ANN001, ANN201
    return UserFactory(roles=[Role.ADMIN])


@pytest.fixture
def outsider(db):  # noqa: ANN001, ANN201
    """Signed in, but holds no role."""
    return UserFactory(roles=[])


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised Llama with a real BPE tokenizer, built once per session, for
    the ML plumbing tests (training, generation, and the browser test of the editor's AI)."""
    from training.tiny import tiny_model_create

    return tiny_model_create(tmp_path_factory.mktemp("tiny") / "model")


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child process of the test run: test settings, same services."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "blogllm.settings.test", "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


def kill_when(command: list[str], ready: Callable[[], bool], *, what: str) -> None:
    """Run `command` (a manage.py job on the test database) in its own process group and
    kill -9 it as soon as `ready()` holds: the tests of what survives a worker that dies.
    `what` names that moment for the failure message."""
    from django.db import connection

    env = subprocess_env(BLOGLLM_DATABASE_NAME=connection.settings_dict["NAME"])
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert time.monotonic() < deadline, f"no {what} within two minutes"
            assert process.poll() is None, f"the command ended before {what}"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def celery_worker_process(celery_worker_session):  # noqa: ANN001, ANN201
    """A real `celery worker` process on all three queues, using the test database and Redis.

    Tests that need it see only committed rows: mark them django_db(transaction=True,
    serialized_rollback=True); the second keeps the role groups that the flush would drop.

    After the test, this waits until the worker has nothing queued or running, before the
    database flush: a task the test queued but did not wait for (an approved note's embedding,
    say) would otherwise write while the flush truncates the tables, and PostgreSQL ends one of
    the two as a deadlock.
    """
    yield celery_worker_session
    wait_until_worker_idle(celery_worker_session)


def wait_until_worker_idle(worker: subprocess.Popen, timeout: float = 180) -> None:
    """Return once the broker holds no message for the worker: none queued, and none delivered
    but unacknowledged (tasks ack late, so a running task's message counts until it ends)."""
    from blogllm.celery import app

    deadline = time.monotonic() + timeout
    idle_readings = 0
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        while True:
            queued = {
                queue.name: channel.queue_declare(queue=queue.name).message_count
                for queue in app.amqp.queues.values()
            }
            running = channel.client.hlen(channel.unacked_key)
            # Twice in a row: a message popped from its queue reaches the unacked hash a moment
            # later.
            idle_readings = 0 if running or any(queued.values()) else idle_readings + 1
            if idle_readings == 2:
                return
            if worker.poll() is not None:
                raise RuntimeError("The test Celery worker died; see its log.")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"The test Celery worker is still busy {timeout:.0f} s after the test "
                    f"(queued: {queued}, running: {running}); a test left work behind."
                )
            time.sleep(0.1)


@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup, django_db_blocker):  # noqa: ANN001, ANN201
    """The worker process behind celery_worker_process, started once per test session."""
    from django.conf import settings
    from django.db import connection

    from blogllm.celery import app

    with django_db_blocker.unblock():
        database_name = connection.settings_dict["NAME"]
    app.control.purge()  # tasks left in the test broker by an interrupted earlier run
    # Beside the run's own data (BLOGLLM_DATA_DIR), so two test runs keep separate logs.
    log = Path(settings.DATA_DIR) / "celery-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as log_file:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "blogllm",
                "worker",
                "--pool",
                "solo",
                "--queues",
                "default,gpu,generate",
                "--hostname",
                f"test-{os.getpid()}@%h",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            # JSON lines, as in production: tests read the request context off them.
            # The bias audit every new version queues, at its smallest: the worker tests'
            # tiny versions need the path, not the statistics.
            env=subprocess_env(
                BLOGLLM_DATABASE_NAME=database_name,
                BLOGLLM_LOG_FORMAT="json",
                BLOGLLM_BIAS_PAIRS_PER_GROUP="2",
                BLOGLLM_BIAS_TOKENS="16",
            ),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while not app.control.ping(timeout=1.0):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The test Celery worker did not start; see {log}.")
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=30)
