"""`manage.py deid_text < notes.jsonl > deid.jsonl`: de-identified text per line (no database).

Same input and error handling as deid_spans; output lines {"id", "text"}. Surrogates and the date
shift derive from a seed: `--seed N` for every note, or by default one per id, stable across
runs and keyed with SECRET_KEY (so nobody can work out a note's date shift from its id).
"""

import hashlib
import hmac

from django.conf import settings
from django.core.management.base import BaseCommand

from compliance.management.commands.deid_spans import (
    add_time_limit,
    input_lines,
    run_jsonl,
    time_limit,
)


def seed_for(ident: str | int) -> int:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"deid_text:{ident!r}".encode(), hashlib.sha256
    ).digest()
    return int.from_bytes(digest[:8], "big") >> 2  # 62 bits, like ClinicalNote.deid_seed


class Command(BaseCommand):
    help = "Read {id, text} JSON lines on stdin; write {id, text} lines, de-identified."
    requires_system_checks = []
    requires_migrations_checks = False
    stealth_options = ("stdin",)

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        add_time_limit(parser)
        parser.add_argument("--mode", choices=["surrogate", "placeholder"], default="surrogate")
        parser.add_argument("--seed", type=int, default=None, help="One seed for every note.")

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        from compliance.deid import find_spans, redact

        limit, mode, seed = time_limit(options), options["mode"], options["seed"]

        def deidentify(ident: str | int, text: str) -> dict:
            spans = find_spans(text, time_limit=limit)
            chosen = seed if seed is not None else seed_for(ident)
            return {"id": ident, "text": redact(text, spans, seed=chosen, mode=mode).text}

        run_jsonl(self, input_lines(options), deidentify)
