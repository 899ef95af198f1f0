"""Load shedding: under overload, answer some requests at once with 503 and Retry-After instead
of letting every request wait until all of them time out.

A bulkhead caps how many requests of one costly kind (hybrid search embeds the query on the
CPU) run at once in a web process; one more gets the 503 page in a millisecond, and the
threads stay free for cheap and precious requests (an editor's autosave is never shed). The
per-user and queue caps on AI drafts live with the drafts (generation/services/runs.py).
"""

import threading
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

_bulkheads: dict[str, threading.BoundedSemaphore] = {}
_lock = threading.Lock()


def _bulkhead(kind: str) -> threading.BoundedSemaphore:
    with _lock:
        if kind not in _bulkheads:
            _bulkheads[kind] = threading.BoundedSemaphore(settings.SHED_LIMITS[kind])
        return _bulkheads[kind]


def busy_response(request: HttpRequest, sentence: str, *, retry_after: int = 2) -> HttpResponse:
    response = TemplateResponse(request, "503.html", {"sentence": sentence}, status=503)
    response["Retry-After"] = str(retry_after)
    return response


def shed_when_busy(kind: str, sentence: str) -> Callable:
    """A view decorator: at most SHED_LIMITS[kind] of these run at once in this process; one
    more is answered 503 with `sentence`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            bulkhead = _bulkhead(kind)
            if not bulkhead.acquire(blocking=False):
                from blogllm import metrics

                metrics.SHED.labels(kind).inc()
                return busy_response(request, sentence)
            try:
                response = view(request, *args, **kwargs)
                if hasattr(response, "render"):
                    response.render()  # inside the bulkhead: rendering is part of the cost
                return response
            finally:
                bulkhead.release()

        return wrapped

    return decorator
