"""`manage.py deid_spans < notes.jsonl > spans.jsonl`: the engine's batch CLI (no database).

Input lines {"id": str|int, "text": str}; output lines {"id", "spans": [{"start","end","label"}]}
in input order. A malformed line, or a note that runs past the time limit (withheld: never
passed through un-redacted), gets a line on stderr naming its id (or its line number) and no
output line; the rest go on, and the exit code is 1. Blank lines are skipped.
"""

import json
import sys
from collections.abc import Callable, Iterable

from django.core.management.base import BaseCommand, CommandError

from compliance.services.config import deid_time_limit


class LineError(Exception):
    """A line that cannot be processed; the message is the reason."""


def parse_line(line: str | bytes) -> tuple[str | int, str]:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise LineError("not UTF-8") from None
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LineError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(item, dict):
        raise LineError('not a JSON object with "id" and "text"')
    ident = item.get("id")
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        raise LineError('"id" must be a string or an integer')
    text = item.get("text")
    if not isinstance(text, str):
        raise LineError('"text" must be a string', ident)
    return ident, text


def run_jsonl(
    command: BaseCommand,
    lines: Iterable[str | bytes],
    handle: Callable[[str | int, str], dict],
) -> None:
    """Feed each non-blank line to `handle(id, text)` and write its result as a JSON line."""
    from compliance.deid import DeidTimeout

    done = failed = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        ident: str | int | None = None
        try:
            ident, text = parse_line(line)
            try:
                result = handle(ident, text)
            except DeidTimeout:
                raise LineError("withheld: de-identification ran past its time limit") from None
        except LineError as exc:
            if len(exc.args) > 1:
                ident = exc.args[1]
            where = f"id {json.dumps(ident, ensure_ascii=False)}" if ident is not None else ""
            command.stderr.write(f"{where or f'line {number}'}: {exc.args[0]}")
            failed += 1
            continue
        except Exception as exc:  # an engine failure on one note must not stop the rest
            where = f"id {json.dumps(ident, ensure_ascii=False)}"
            command.stderr.write(f"{where}: withheld: de-identification failed ({exc!r})")
            failed += 1
            continue
        command.stdout.write(json.dumps(result, ensure_ascii=False))
        done += 1
    if failed:
        raise CommandError(f"{failed} of {done + failed} lines failed.", returncode=1)


def input_lines(options: dict) -> Iterable[str | bytes]:
    stdin = options.get("stdin")
    if stdin is not None:
        return stdin
    return sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin


def add_time_limit(parser) -> None:  # noqa: ANN001
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="Seconds per note before it is withheld (default BLOGLLM_DEID_TIME_LIMIT; 0: none).",
    )


def time_limit(options: dict) -> float | None:
    value = options["time_limit"]
    if value is None:
        return deid_time_limit()
    return value if value > 0 else None


class Command(BaseCommand):
    help = "Read {id, text} JSON lines on stdin; write {id, spans} JSON lines (PHI spans)."
    requires_system_checks = []
    requires_migrations_checks = False
    stealth_options = ("stdin",)

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        add_time_limit(parser)

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        from compliance.deid import find_spans

        limit = time_limit(options)

        def spans(ident: str | int, text: str) -> dict:
            found = find_spans(text, time_limit=limit)
            return {
                "id": ident,
                "spans": [{"start": s.start, "end": s.end, "label": s.label} for s in found],
            }

        run_jsonl(self, input_lines(options), spans)
