"""Celery: a real worker round trip over Redis, routing by task, retries of lost connections."""

import pytest

from blogllm.celery import app
from blogllm.tasks import HEARTBEAT_KEY, heartbeat, ping


def test_a_task_makes_a_round_trip_through_a_real_worker(celery_worker_process) -> None:  # noqa: ANN001
    payload = {"text": "Grüße, 🌱", "numbers": [1, 2.5], "nested": {"ok": True}}
    result = ping.delay(payload).get(timeout=60)
    assert result["payload"] == payload  # survived JSON both ways
    assert result["postgres"].startswith(("16", "17", "18"))  # the worker reached the database


def test_training_goes_to_the_gpu_queue_and_drafts_to_the_generate_queue() -> None:
    def queue_of(name: str) -> str:
        return app.amqp.router.route({}, name, (), {})["queue"].name

    assert queue_of("training.tasks.training_run_execute") == "gpu"
    assert queue_of("generation.tasks.generation_run_execute") == "generate"
    assert queue_of("generation.tasks.generation_runs_recover") == "default"
    assert queue_of("posts.tasks.post_embed") == "default"
    assert queue_of("blogllm.tasks.ping") == "default"


def test_the_app_speaks_json_only() -> None:
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    # Long GPU tasks must finish before Redis would hand them to another worker.
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit


def test_the_dashboard_shows_when_beat_was_last_heard_from(settings, client, editor) -> None:  # noqa: ANN001
    from django.core.cache import cache

    assert settings.CELERY_BEAT_SCHEDULE["heartbeat"]["task"] == "blogllm.tasks.heartbeat"
    client.force_login(editor)
    assert b"is <code>celery beat</code> running?" in client.get("/").content
    heartbeat()
    assert cache.get(HEARTBEAT_KEY)
    page = client.get("/").content
    assert b"<time datetime=" in page and b"running?" not in page


@pytest.mark.parametrize(
    ("task_path", "service_path", "argument"),
    [
        ("posts.tasks.post_embed_task", "posts.services.embedding.post_embed", {"post_id": 1}),
        ("posts.tasks.posts_embed_task", "posts.services.embedding.posts_embed", {"post_ids": [1]}),
        (
            "compliance.tasks.note_embed_task",
            "compliance.services.embedding.note_embed",
            {"note_id": 1},
        ),
    ],
)
def test_embedding_tasks_retry_a_lost_database_but_not_a_refusal(
    task_path: str, service_path: str, argument: dict, monkeypatch
) -> None:  # noqa: ANN001
    from django.core.exceptions import ValidationError
    from django.db import OperationalError
    from django.utils.module_loading import import_string

    task = import_string(task_path)
    assert task.retry_backoff and task.retry_jitter and task.max_retries == 3
    calls: list[dict] = []

    def failing(error: Exception):  # noqa: ANN202
        def service(**kwargs: object) -> None:
            calls.append(kwargs)
            raise error

        return service

    # Eager mode runs the retries at once, in this process: the first try and three retries.
    monkeypatch.setattr(service_path, failing(OperationalError("server closed the connection")))
    with pytest.raises(OperationalError):
        task.apply(kwargs=argument).get()
    assert len(calls) == 4

    calls.clear()
    monkeypatch.setattr(service_path, failing(ValidationError("not approved")))
    with pytest.raises(ValidationError):
        task.apply(kwargs=argument).get()
    assert len(calls) == 1  # a refusal fails the same way every time: never retried


def test_a_real_worker_knows_every_task_beat_sends(celery_worker_process) -> None:  # noqa: ANN001
    """A task module missing from autodiscovery fails only in a running worker, every few
    seconds, with a KeyError in its log (publishing's webhook sweep once did)."""
    from django.conf import settings

    registered = {
        name for names in (app.control.inspect(timeout=5).registered() or {}).values()
        for name in names
    }  # fmt: skip
    beat_tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert beat_tasks - registered == set()
    assert "publishing.tasks.webhook_deliver" in registered
