"""Project-level pages: the dashboard and health probes."""

from datetime import datetime

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


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    last_beat = cache.get(HEARTBEAT_KEY)
    context = {
        "role": role_of(request.user),
        "beat_last_seen": datetime.fromisoformat(last_beat) if last_beat else None,
        "posts": post_dashboard(user=request.user),
    }
    return render(request, "home.html", context)
