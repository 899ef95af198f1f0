"""The request id: taken or made per request, returned, and carried into the tasks it starts."""

import io
import json
import logging
import re
import time
from pathlib import Path

import pytest
from django.conf import settings

from blogllm import context
from blogllm.logging import JsonFormatter, TextFormatter


def test_a_response_carries_the_request_id_it_was_given(client) -> None:  # noqa: ANN001
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c")
    assert response["X-Request-ID"] == "lb-7f3a9c"


def test_a_request_without_a_usable_id_gets_a_new_one(client) -> None:  # noqa: ANN001
    first = client.get("/healthz")["X-Request-ID"]
    odd = client.get("/healthz", HTTP_X_REQUEST_ID='"><script>alert(1)</script>')["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", odd)
    assert first != odd


def test_a_traceparent_gives_its_trace_id() -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    ids = context.ids_from_headers({"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    assert ids == {"request_id": trace, "trace_id": trace}
    # An X-Request-ID still names the request; the trace id stays beside it.
    ids = context.ids_from_headers(
        {"traceparent": f"00-{trace}-00f067aa0ba902b7-01", "X-Request-ID": "abc"}
    )
    assert ids == {"request_id": "abc", "trace_id": trace}
    # The all-zero trace id is invalid by the W3C spec.
    assert "trace_id" not in context.ids_from_headers(
        {"traceparent": f"00-{'0' * 32}-{'1' * 16}-01"}
    )


def test_log_lines_carry_the_bound_context_and_nothing_stale() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(context.ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.request_context")
    logger.addHandler(handler)
    try:
        context.bind(request_id="r-1", user_id=42)
        logger.warning("inside")
        context.clear()
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["request_id"] == "r-1" and inside["user_id"] == 42
    assert "request_id" not in outside and "user_id" not in outside


def test_the_text_format_shows_the_request_id_only_when_there_is_one() -> None:
    record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "hello"})
    context.ContextFilter().filter(record)
    assert ": hello" in TextFormatter().format(record) and "[" not in TextFormatter().format(record)
    record.request_id = "r-9"
    assert "x [r-9]: hello" in TextFormatter().format(record)


def test_a_task_message_carries_the_request_context() -> None:
    headers: dict = {}
    context.task_headers_add(headers)
    assert headers == {}  # nothing bound, nothing carried
    context.bind(request_id="r-2", user_id=7, task="ignored")
    try:
        context.task_headers_add(headers)
    finally:
        context.clear()
    assert headers == {context.HEADER: {"request_id": "r-2", "user_id": 7}}
    # The worker side: carried values are bound; junk from a foreign message is not.
    context.task_context_bind(
        task_id="t-1", task_name="x.y", carried={"request_id": 5, "user_id": "a"}
    )
    assert context.current() == {"request_id": "t-1", "task_id": "t-1", "task": "x.y"}
    context.clear()


def _worker_lines(matching: str, *, timeout: float = 120) -> list[dict]:
    log = Path(settings.DATA_DIR) / "celery-worker.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in log.read_text().splitlines() if matching in line]
        if any('"embedded post"' in line for line in lines):
            return [json.loads(line) for line in lines]
        time.sleep(0.2)
    raise AssertionError(f"no worker log line with {matching} within {timeout:.0f} s")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_request_id_follows_a_request_into_its_task_log_lines(celery_worker_process) -> None:  # noqa: ANN001
    from django.test import Client

    from accounts.roles import Role
    from tests.accounts.factories import UserFactory

    author = UserFactory(email="ada.lovelace@example.org", roles=[Role.AUTHOR])
    client = Client()
    client.force_login(author)
    form = {"title": "Sleep", "body_markdown": "Rest well.", "tags": "", "channel": "general"}
    response = client.post("/posts/new/", form, HTTP_X_REQUEST_ID="req-into-task-1")
    assert response.status_code == 302, response.content[:500]
    lines = _worker_lines('"req-into-task-1"')
    embedded = next(line for line in lines if line["message"] == "embedded post")
    assert embedded["user_id"] == author.id
    assert embedded["task"] == "posts.tasks.post_embed" and embedded["task_id"]
    # Only the user's id: never the e-mail address or a name.
    assert not any("ada.lovelace" in json.dumps(line) for line in lines)
