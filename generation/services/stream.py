"""A run's live text, both ends, on one Redis stream per run.

The worker adds an entry per message (XADD): a piece of text to append, the whole text when a
revision (or the clinical channel's de-identified draft) replaces it, and the end of the run.
Entries stay (for STREAM_TTL_SECONDS), ordered, with ids: a page that comes late reads them
all and gets the text so far in one message; a page that reconnects says the last id it has
(the browser's Last-Event-ID) and reads on from there. No word is lost or shown twice, and
nothing needs to line up a subscription with a snapshot.

Messages, as the pages' scripts read them (static/js/generation.js and assist.js):
{"text": piece} appends, {"text": whole, "replace": true} replaces, and
{"done": true, "status": …, "post": …} says the run is over.

The key is the run's thread id (a UUID), not its number: a number comes back after a database is
reset or restored, and a page must never replay another run's end.

Writing is best effort: the stored run is the record, the stream a convenience, so a Redis
failure is logged and the draft goes on. On the clinical channel the worker sends no pieces,
only the de-identified text once it is written (generation/services/execute.py).
"""

import functools
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

STREAM_TTL_SECONDS = 3600
READ_BLOCK_MS = 1000  # a reader wakes at least this often: heartbeats, and checking the run
ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def stream_key(run: Any) -> str:
    """The run's stream (`run`: a GenerationRun, or anything with its `thread_id`)."""
    return f"blogllm:generation:{run.thread_id}:stream"


# --- Writing (the worker, and a cancel) -------------------------------------------------------


def append(run: Any, piece: str) -> None:
    _add(run, {"text": piece})


def replace(run: Any, text: str) -> None:
    _add(run, {"text": text, "replace": True})


def status(run: Any, text: str) -> None:
    """A line about where the run stands ("The model is loading…"), shown above the text."""
    _add(run, {"status": text})


def end(run: Any, status: str, post: int | None = None) -> None:
    _add(run, {"done": True, "status": status, "post": post})


@functools.cache
def _writer() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)


def _add(run: Any, message: dict) -> None:
    import redis

    key = stream_key(run)
    try:
        with _writer().pipeline(transaction=True) as pipe:
            pipe.xadd(key, {"m": json.dumps(message)})
            pipe.expire(key, STREAM_TTL_SECONDS)
            pipe.execute()
    except redis.RedisError:
        logger.warning("Could not add to generation run %s's stream", run.id)


# --- Reading (the page's server-sent events, the generate command, the benchmark) ---------------


@dataclass(frozen=True)
class Entry:
    id: str  # the stream entry's id: a reader that has it reads on after it
    message: dict


def follow(run: Any, *, after: str = "", max_seconds: float = 600) -> Iterator[Entry | None]:
    """The run's messages, from the start (the text so far as one replace message), or after
    the entry id `after`, until the run's end message or `max_seconds`. Yields None whenever a
    second passes without news, so the caller can send a heartbeat or look at the run itself.
    Ends quietly when Redis cannot be read: the caller still has the stored run."""
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=READ_BLOCK_MS / 1000 + 5, decode_responses=True
    )
    key = stream_key(run)
    try:
        if ENTRY_ID.match(after or ""):
            last = after
        else:
            last = "0-0"
            so_far = [Entry(i, m) for i, m in _decoded(client.xrange(key))]
            yield from _folded(so_far)
            if any(entry.message.get("done") for entry in so_far):
                return
            if so_far:
                last = so_far[-1].id
        started = time.monotonic()
        while time.monotonic() - started < max_seconds:
            reply = client.xread({key: last}, block=READ_BLOCK_MS, count=1000)
            if not reply:
                yield None
                continue
            for entry_id, message in _decoded(reply[0][1]):
                last = entry_id
                yield Entry(entry_id, message)
                if message.get("done"):
                    return
    except redis.RedisError:
        logger.warning("Could not read generation run %s's stream", run.id)
    finally:
        client.close()


def text_so_far(run: Any) -> str:
    """What the page shows now: every append since the last replace."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, decode_responses=True)
    try:
        entries = [Entry(i, m) for i, m in _decoded(client.xrange(stream_key(run)))]
    finally:
        client.close()
    folded = _folded(entries)
    return folded[0].message["text"] if folded else ""


def _folded(entries: list[Entry]) -> list[Entry]:
    """Entries as the last status line, one replace message holding the text they add up to
    (under the last text entry's id), then the end message if there is one."""
    text, last_id, ended, said = "", None, [], []
    for entry in entries:
        message = entry.message
        if message.get("done"):
            ended = [entry]
        elif isinstance(message.get("status"), str):
            said = [entry]
        elif isinstance(message.get("text"), str):
            text = message["text"] if message.get("replace") else text + message["text"]
            last_id = entry.id
    head = [Entry(last_id, {"text": text, "replace": True})] if last_id else []
    return said + head + ended


def _decoded(entries: list) -> Iterator[tuple[str, dict]]:
    for entry_id, fields in entries:
        try:
            message = json.loads(fields.get("m", ""))
        except ValueError:
            continue  # not ours
        if isinstance(message, dict):
            yield entry_id, message
