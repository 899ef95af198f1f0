"""A throwaway Django for benchmarks: its own data dir, embedded PostgreSQL and Redis database.

Django reads its settings once per process, and the RSS high-water mark is per process too, so a
Django benchmark runs each measurement in a fresh child process (`in_fresh_process`) whose body
sits inside `throwaway_django()`. The developer's database under var/ is never touched: the child
gets a new `BLOGLLM_DATA_DIR` (so a new embedded server), migrates it, and at the end stops that
server, empties the benchmark's Redis database and deletes the folder.
"""

import multiprocessing
import os
import resource
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
T = TypeVar("T")


@contextmanager
def throwaway_django() -> Iterator[Path]:
    """Set up Django on a new, migrated database; yields the data dir. Once per process."""
    if _django_is_set_up():
        raise RuntimeError("Django is already set up here: run this in a fresh process.")
    data_dir = Path(tempfile.mkdtemp(prefix="blogllm-bench-"))
    os.environ["BLOGLLM_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "blogllm.settings.local"
    os.environ["REDIS_URL"] = BENCH_REDIS_URL
    # local.py turns DEBUG on, and DEBUG keeps the last 9,000 queries in memory: off, as deployed.
    os.environ["DEBUG"] = "0"
    os.environ.pop("DATABASE_URL", None)  # always the embedded server in the temp dir
    # Figures, not a log line per embedded post or a progress bar per model load.
    os.environ["BLOGLLM_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        yield data_dir
    finally:
        _tear_down(data_dir)


def _django_is_set_up() -> bool:
    from django.apps import apps

    return apps.ready


def _tear_down(data_dir: Path) -> None:
    from django.db import connections

    from blogllm import pgembed

    connections.close_all()
    pgembed.stop(data_dir / "postgres")
    try:
        import redis

        # Import and publish queue embedding tasks that no worker here will ever take.
        redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
    except Exception as exc:  # a benchmark's figures matter more than this cleanup
        print(f"(could not empty {BENCH_REDIS_URL}: {exc})")
    shutil.rmtree(data_dir, ignore_errors=True)


def in_fresh_process(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `function` (a module-level function) in a new Python process and return its result."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(function, *args, **kwargs).result()


def bench_author() -> Any:
    """A user with the Author role, as the import and editing services expect."""
    from accounts.roles import Role
    from accounts.services import user_create

    user, _ = user_create(email="bench-author@example.com", roles=[Role.AUTHOR])
    return user


def maxrss_mb() -> float:
    """This process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's resident set now."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (0-100), interpolated linearly like numpy's default."""
    import numpy as np

    return float(np.percentile(values, pct))
