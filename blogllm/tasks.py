"""Project-level tasks: a round-trip probe, the beat heartbeat and the GPU queue's heartbeat."""

import socket

from celery import shared_task
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

HEARTBEAT_KEY = "heartbeat:beat"


@shared_task(name="blogllm.tasks.ping")
def ping(payload: dict) -> dict:
    """Echo `payload` with where it ran; proves broker, worker, database and results all work."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
    return {"payload": payload, "worker": socket.gethostname(), "postgres": server_version}


@shared_task(name="blogllm.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Beat sends this every 30 seconds; the dashboard shows when beat was last heard from."""
    cache.set(HEARTBEAT_KEY, timezone.now().isoformat(), timeout=None)


@shared_task(name="blogllm.tasks.worker_heartbeat", ignore_result=True)
def worker_heartbeat() -> None:
    """Beat sends this to the gpu queue every minute (expiring unread, so a busy worker is not
    flooded): starting it is the sign of life /metrics reports (blogllm.metrics)."""


@shared_task(name="blogllm.tasks.backup_nightly", ignore_result=True, acks_late=True)
def backup_nightly() -> None:
    """Beat runs this at BLOGLLM_BACKUP_HOUR when BLOGLLM_BACKUP_TO is set."""
    from blogllm.backups import backup_create

    backup_create()
