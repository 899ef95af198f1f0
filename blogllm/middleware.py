"""Request plumbing of the project: health probes first, and a clear page when Redis is down."""

import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from kombu.exceptions import OperationalError

from blogllm.checks import redacted

logger = logging.getLogger(__name__)


class HealthProbeMiddleware:
    """Answer /healthz, /readyz and /metrics before host validation, HTTPS redirects and login.

    Platform probes (Cloud Run, Kubernetes, Docker) and Prometheus call the container by its IP,
    with a Host header that is not in ALLOWED_HOSTS, over plain HTTP and without a session.
    /metrics checks its own token or address (blogllm.views.metrics_refusal).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from blogllm import views

        probes = {"/healthz": views.healthz, "/readyz": views.readyz, "/metrics": views.metrics}
        probe = probes.get(request.path_info)
        return probe(request) if probe is not None else self.get_response(request)


class SecurityHeadersMiddleware:
    """The header Django's SecurityMiddleware does not set: Permissions-Policy (features no page
    uses are off). The Content-Security-Policy is django-csp's (CONTENT_SECURITY_POLICY)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class ServiceUnavailableMiddleware:
    """Turn an unreachable Redis, met mid-request, into a clear 503 instead of a stack trace."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | redis.ConnectionError | redis.TimeoutError):
            return None
        sentence = (
            f"Background jobs are unavailable: cannot reach Redis at "
            f"REDIS_URL={redacted(settings.REDIS_URL)}. Nothing was lost; try again shortly."
        )
        logger.error("redis unreachable during a request", extra={"path": request.path})
        return TemplateResponse(request, "503.html", {"sentence": sentence}, status=503)
