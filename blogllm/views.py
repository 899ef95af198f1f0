"""Project-level pages: the dashboard, health probes and /metrics."""

import hmac
import ipaddress
from datetime import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.roles import role_of
from blogllm import checks
from blogllm.tasks import HEARTBEAT_KEY
from posts.selectors import dashboard as post_dashboard


@login_not_required
@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches no other service."""
    return JsonResponse({"status": "ok"})


@login_not_required
@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database reachable with pgvector, Redis reachable, migrations applied."""
    database = checks.check_database()
    results = {
        "database": database,
        "redis": checks.check_redis(),
        # Without a database the migration state cannot be read; report the cause once.
        "migrations": checks.check_migrations() if database is None else database,
    }
    body = {
        "status": "ok" if not any(results.values()) else "unavailable",
        "checks": {
            name: {"ok": problem is None, **({"error": problem.sentence} if problem else {})}
            for name, problem in results.items()
        },
    }
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)


@login_not_required
@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics (blogllm.metrics), for a bearer token or an allowed address only."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from blogllm.metrics import exposition

    refusal = metrics_refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the scraper may read /metrics: it sent BLOGLLM_METRICS_TOKEN as a bearer token,
    or it connected from a network in BLOGLLM_METRICS_ALLOW and not through a proxy (a proxy on
    the same host would make every visitor look local)."""
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
        return None
    proxied = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        address = None
    allowed = address is not None and any(address in net for net in settings.METRICS_ALLOW)
    if allowed and not proxied:
        return None
    if token and not given:
        response = HttpResponse("A bearer token is needed for /metrics.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse("Not allowed to read /metrics.\n", status=403, content_type="text/plain")


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    last_beat = cache.get(HEARTBEAT_KEY)
    context = {
        "role": role_of(request.user),
        "beat_last_seen": datetime.fromisoformat(last_beat) if last_beat else None,
        "posts": post_dashboard(user=request.user),
    }
    return render(request, "home.html", context)
