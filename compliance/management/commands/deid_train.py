"""`manage.py deid_train`: build the learned de-identification layer's model, reproducibly.

Trains compliance/deid/learned.py's CRF on text the project writes and nothing else: the formal
synthetic notes of bench/deid_corpus.py (a third of them also in lower case, as nurses type) and
the nursing shorthand of bench/deid_shorthand.py. Same options, same model. The result replaces
compliance/deid/model/deid-crf.crfsuite (committed; this command is how it is regenerated) and a
JSON file beside it records how it was made. Needs the repository's bench/ folder.
"""

import json
import random
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.deid import learned

# The corpus's labels as the tagger's two: a person, or a place (hospitals, towns, employers).
TAGS = {
    "NAME": "NAME",
    "HOSPITAL": "LOCATION",
    "CITY": "LOCATION",
    "LOCATION": "LOCATION",
    "ORGANIZATION": "LOCATION",
}


def training_examples(notes: int, shorthand: int, seed: int) -> list[tuple[str, list]]:
    try:
        from bench.deid_corpus import generate_corpus
        from bench.deid_shorthand import shorthand_notes
    except ImportError as exc:
        raise CommandError(f"deid_train needs the repository's bench/ folder ({exc}).") from exc
    rng = random.Random(seed)  # noqa: S311 - which notes to lower-case, not a secret
    examples = []
    for note in generate_corpus(notes, seed=seed):
        spans = [(s.start, s.end, TAGS[s.label]) for s in note.spans if s.label in TAGS]
        examples.append((note.text, spans))
        if rng.random() < 1 / 3 and len(note.text.lower()) == len(note.text):
            examples.append((note.text.lower(), spans))
    examples += shorthand_notes(shorthand, seed=seed + 4)
    return examples


class Command(BaseCommand):
    help = "Train the learned de-identification layer on the project's own synthetic text."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--notes", type=int, default=600, help="formal synthetic notes")
        parser.add_argument("--shorthand", type=int, default=3000, help="shorthand notes")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--iterations", type=int, default=120)
        parser.add_argument("--out", type=Path, default=learned.MODEL_PATH)

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        from importlib.metadata import version

        started = time.monotonic()
        examples = training_examples(options["notes"], options["shorthand"], options["seed"])
        result = learned.train(examples, options["out"], max_iterations=options["iterations"])
        recipe = {
            "notes": options["notes"],
            "shorthand": options["shorthand"],
            "seed": options["seed"],
            "iterations": options["iterations"],
            "examples": result["examples"],
            "bytes": result["bytes"],
            "python_crfsuite": version("python-crfsuite"),
        }
        options["out"].with_suffix(".json").write_text(json.dumps(recipe, indent=2) + "\n")
        self.stdout.write(
            f"Trained on {result['examples']} examples in {time.monotonic() - started:.0f} s: "
            f"{options['out']} ({result['bytes'] / 1e6:.1f} MB)."
        )
