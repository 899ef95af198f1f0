"""The request id and user id that follow a request into every log line and Celery task.

A request's id is its `X-Request-ID` header when that is a sane token, else the trace id of its
W3C `traceparent`, else a new one; the response carries it back in `X-Request-ID`. A task started
while a request (or another task) is being served carries the id in its message headers, and the
worker binds it for the task's log lines; a task that no request started (beat's) uses its own
task id. Only the user's numeric id is ever logged, never an e-mail address or a name.
"""

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

# What a log line and a task message may carry. Each is None when unknown.
FIELDS = ("request_id", "trace_id", "user_id", "task_id", "task")
_context: ContextVar[dict[str, str | int] | None] = ContextVar("blogllm_context", default=None)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
# The message header a task's context travels in (JSON, so only str and int values).
HEADER = "blogllm_context"


def current() -> dict[str, str | int]:
    """The bound context: a copy, holding only the fields that are known."""
    return dict(_context.get() or {})


def bind(**values: str | int | None) -> None:
    """Add fields to the current context (None removes one)."""
    merged = {**current(), **values}
    _context.set({key: value for key, value in merged.items() if value is not None})


def clear() -> None:
    _context.set(None)


def ids_from_headers(headers: dict[str, str]) -> dict[str, str]:
    """The request id (and trace id) for a request with these headers (`request.headers`)."""
    trace = _TRACEPARENT.fullmatch(headers.get("traceparent", "").strip().lower())
    trace_id = trace.group(1) if trace and trace.group(1) != "0" * 32 else None
    given = headers.get("X-Request-ID", "").strip()
    request_id = given if _REQUEST_ID.fullmatch(given) else trace_id or uuid.uuid4().hex
    return (
        {"request_id": request_id, "trace_id": trace_id} if trace_id else {"request_id": request_id}
    )


class RequestIdMiddleware:
    """Bind the request id for the request's log lines (and its user id once it is known), and
    return it in `X-Request-ID`. First in MIDDLEWARE, so every later line carries it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        clear()  # threads serve many requests: nothing of the last one may leak into this one
        bind(**ids_from_headers(request.headers))
        request.request_id = current()["request_id"]
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request.request_id
            return response
        finally:
            clear()

    def process_view(self, request: HttpRequest, *args: object) -> None:
        # Runs after the authentication middleware, before the view and its log lines.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            bind(user_id=user.pk)


class ContextFilter(logging.Filter):
    """Put the bound fields on every record a handler emits (None where unknown): the JSON
    formatter writes the known ones, the text format shows the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = current()
        if "trace_id" not in bound:
            from blogllm.observability import current_trace_id

            bound["trace_id"] = current_trace_id()  # None unless OpenTelemetry is on
        for field in FIELDS:
            if getattr(record, field, None) is None:
                setattr(record, field, bound.get(field))
        return True


# --- Celery: the worker side binds what the publishing side put in the message.


def task_headers_add(headers: dict) -> None:
    """`before_task_publish`: carry the request id and user id into the task's message."""
    carried = {key: value for key, value in current().items() if key in ("request_id", "user_id")}
    if carried:
        headers.setdefault(HEADER, carried)


def task_context_bind(*, task_id: str, task_name: str, carried: dict | None) -> None:
    """`task_prerun`: bind the carried fields, or the task's own id as the request id."""
    clear()
    carried = carried if isinstance(carried, dict) else {}
    request_id = carried.get("request_id")
    user_id = carried.get("user_id")
    bind(
        request_id=request_id if isinstance(request_id, str) and request_id else task_id,
        user_id=user_id if isinstance(user_id, int) else None,
        task_id=task_id,
        task=task_name,
    )
