"""Error reporting (Sentry) and tracing (OpenTelemetry), each on only when its setting is set.

Sentry, with SENTRY_DSN: errors of the web and the workers, scrubbed before they leave the
process. A clinical note's name or phone number can reach an error (an exception message that
quotes its input, a log line someone added in a hurry), so nothing free-text is trusted: no
request bodies, cookies, query strings or headers beyond a few, no local variables, the user by
id only, and every remaining string (messages, exception values, breadcrumbs, extras, task
arguments) is run through the de-identification engine, placeholders in, before it is sent.

OpenTelemetry, with OTEL_EXPORTER_OTLP_ENDPOINT: traces of requests and tasks over OTLP/HTTP,
configured by the standard OTEL_* variables (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS,
OTEL_TRACES_SAMPLER…); no collector is needed when it is unset. Spans carry the route and the
path, never the query string. Log lines carry the trace id either way (blogllm.context).
"""

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

# Headers worth keeping on an error report: none of them carries content or credentials.
KEPT_HEADERS = {"user-agent", "x-request-id", "traceparent", "content-type", "content-length"}


# --- Scrubbing --------------------------------------------------------------------------------


def scrub_text(text: str) -> str:
    """The text with whatever the de-identification engine finds replaced by placeholders
    ([NAME], [PHONE]…); all of it replaced if the engine fails or runs out of time."""
    if not text or not text.strip():
        return text
    try:
        from compliance import deid

        spans = deid.find_spans(text, time_limit=2)
        return deid.redact(text, spans, seed=0, mode="placeholder").text
    except Exception:  # noqa: BLE001 - fail closed: a report without its text is still a report
        return "[text withheld: it could not be checked for PHI]"


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """Sentry's before_send: the event with no content left that could carry PHI."""
    request = event.get("request")
    if isinstance(request, dict):
        headers = request.get("headers") or {}
        event["request"] = {
            "method": request.get("method"),
            "url": (request.get("url") or "").split("?", 1)[0],
            "headers": {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS},
        }
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    for exception in (event.get("exception") or {}).get("values") or []:
        if exception.get("value"):
            exception["value"] = scrub_text(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        message = logentry.get("formatted") or logentry.get("message") or ""
        params = logentry.get("params") or ()
        if params and not logentry.get("formatted"):
            try:
                message = message % tuple(params)
            except (TypeError, ValueError):
                message = f"{message} {params!r}"
        event["logentry"] = {"message": scrub_text(message), "params": []}
    for key in ("message", "extra", "contexts"):
        if key in event:
            event[key] = _scrub_contexts(event[key]) if key == "contexts" else _scrub(event[key])
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, dict):
        breadcrumbs["values"] = [scrub_breadcrumb(b) for b in breadcrumbs.get("values") or []]
    return event


def _scrub_contexts(contexts: dict) -> dict:
    # Runtime, OS and trace contexts are the SDK's own facts; anything else is scrubbed.
    own = {"runtime", "os", "trace", "device", "app", "browser"}
    return {k: v if k in own else _scrub(v) for k, v in contexts.items()}


def scrub_breadcrumb(crumb: dict, hint: dict | None = None) -> dict:
    """Sentry's before_breadcrumb: the message scrubbed, the data (SQL parameters, URLs) gone."""
    crumb = dict(crumb)
    if crumb.get("message"):
        crumb["message"] = scrub_text(crumb["message"])
    crumb.pop("data", None)
    return crumb


# --- Start-up ---------------------------------------------------------------------------------


def sentry_options() -> dict[str, Any]:
    """What sentry_sdk.init gets (the tests use the same, with their own transport)."""
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    return {
        # What the SDK collects by itself: no user details, bodies, SQL parameters, task
        # arguments, model inputs or outputs, local variables. before_send scrubs the rest.
        "data_collection": {
            "user_info": False,
            "http_bodies": [],
            "database_query_data": False,
            "queues": False,
            "gen_ai": {"inputs": False, "outputs": False},
            "stack_frame_variables": False,
        },
        "before_send": scrub_event,
        "before_breadcrumb": scrub_breadcrumb,
        "traces_sample_rate": float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
        "environment": os.environ.get("SENTRY_ENVIRONMENT") or "production",
        "integrations": [DjangoIntegration(), CeleryIntegration()],
    }


def sentry_init(dsn: str) -> None:
    import sentry_sdk

    sentry_sdk.init(dsn=dsn, **sentry_options())


_otel_on = False


def otel_init(*, django: bool = False, celery: bool = False) -> bool:
    """Export traces when OTEL_EXPORTER_OTLP_ENDPOINT is set. Called where each process starts
    (wsgi.py for the web; each Celery pool process), after any fork: the exporter's thread
    does not survive one."""
    global _otel_on
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or _otel_on:
        return _otel_on
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = os.environ.get("OTEL_SERVICE_NAME") or "blogllm"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    if django:
        from django.conf import settings
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        # After the health probes: its middleware reads the Host header, which a platform's
        # probe (by IP) would fail; probes need no traces anyway.
        probes = settings.MIDDLEWARE.index("blogllm.middleware.HealthProbeMiddleware")
        os.environ.setdefault("OTEL_PYTHON_DJANGO_MIDDLEWARE_POSITION", str(probes + 1))
        DjangoInstrumentor().instrument(request_hook=_path_only)
    if celery:
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()
    _otel_on = True
    logger.info("OpenTelemetry traces go to %s", os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    return True


def _path_only(span: Any, request: Any) -> None:
    """A span keeps the path, never the query string (search terms, filters)."""
    if span is not None and span.is_recording():
        span.set_attribute("http.url", request.build_absolute_uri(request.path))
        span.set_attribute("url.full", request.build_absolute_uri(request.path))
        span.set_attribute("url.query", "")


def current_trace_id() -> str | None:
    """The active span's trace id, when tracing is on (for log lines)."""
    if not _otel_on:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None
