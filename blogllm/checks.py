"""Checks of the services BlogLLM needs: the data dir, PostgreSQL with pgvector, Redis, migrations.

Each check returns None when all is well, or a Problem: one sentence for an operator that names
the setting to fix. Start-up (`make run`, workers, the container entrypoint) stops on the first
problem; /readyz reports them all.
"""

import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Problem:
    check: str
    sentence: str


class ServiceUnavailable(ImproperlyConfigured):
    """A service BlogLLM needs is unreachable or unfit; the message says which setting to fix."""


def redacted(url: str) -> str:
    """The URL without its password, fit for an error message or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def check_data_dir(path: Path | None = None) -> Problem | None:
    path = Path(path or settings.DATA_DIR)
    probe = path / f".write-probe-{uuid.uuid4().hex}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return Problem("data_dir", f"BLOGLLM_DATA_DIR ({path}) is not a writable folder: {reason}.")
    return None


def check_database(alias: str = "default") -> Problem | None:
    from django.db import connections

    setting = "DATABASE_URL" if settings.DATABASE_URL else "BLOGLLM_DATA_DIR (embedded PostgreSQL)"
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
            has_vector = cursor.fetchone() is not None
    except ImproperlyConfigured as exc:
        return Problem("database", str(exc))
    except Exception as exc:
        where = redacted(settings.DATABASE_URL) if settings.DATABASE_URL else "the embedded server"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Problem("database", f"Cannot connect to {setting} at {where}: {first_line}.")
    if not has_vector:
        return Problem(
            "database",
            "DATABASE_URL points at a PostgreSQL server without the pgvector extension; "
            "install pgvector there, or unset DATABASE_URL to use the embedded server.",
        )
    return None


def check_redis(url: str | None = None) -> Problem | None:
    import redis

    url = url or settings.REDIS_URL
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return Problem(
            "redis",
            f"Cannot reach Redis at REDIS_URL={redacted(url)} ({exc}); "
            "start Redis or point REDIS_URL at a running server.",
        )
    return None


def check_migrations(alias: str = "default") -> Problem | None:
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connections[alias])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return Problem("migrations", f"Cannot read the migration state: {exc}.")
    if pending:
        return Problem(
            "migrations",
            f"{len(pending)} database migrations are not applied; run `manage.py migrate`.",
        )
    return None


def first_startup_problem() -> Problem | None:
    """What must hold before anything starts, checked in order and stopping at the first
    failure, so a bad setting never leaves a half-started database behind. Migrations are not
    checked: the launcher applies them."""
    return check_data_dir() or check_redis() or check_database()


def raise_on_startup_problem() -> None:
    problem = first_startup_problem()
    if problem is not None:
        raise ServiceUnavailable(problem.sentence)
