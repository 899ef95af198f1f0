"""The PhysioNet deid dev notes for `python -m bench deid`, and the strict scorer that judges them.

The notes are third-party data (GNU GPL 2) kept outside the repository: they are read from
`../shared/corpora/physionet-deid-dev/notes.jsonl` beside the checkout, or from the file named
by BENCH_DEID_PHYSIONET, and never copied in. `strict_score` counts as
`../shared/corpora/score.py` does, so its figures agree with that script's on the same
predictions:

* a token is a maximal run of letters or of digits ("92F" is two tokens);
* a gold PHI token is caught only when every character lies in a predicted span, labels ignored;
  its category is the most common label over its characters;
* tokens in optional gold spans (bare years) and in a span's "generic" sub-ranges count on
  neither side;
* a non-PHI token is redacted when any character lies in a predicted span;
* precision is PHI tokens touched over all tokens touched (optional ones left out);
* a note leaks when one of its gold PHI tokens is not caught.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV = "BENCH_DEID_PHYSIONET"
# ../shared beside the checkout (the repository root is bench/'s parent)
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "physionet-deid-dev"
DEFAULT = DEFAULT / "notes.jsonl"
TOKEN = re.compile(r"[^\W\d_]+|\d+")


@dataclass
class Note:
    id: str
    text: str
    spans: list[dict[str, Any]]


def corpus_path() -> Path:
    return Path(os.environ.get(ENV) or DEFAULT)


def load_notes(path: Path, limit: int = 0) -> list[Note]:
    notes = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                item = json.loads(line)
                notes.append(Note(str(item["id"]), item["text"], item.get("spans", [])))
                if limit and len(notes) >= limit:
                    break
    return notes


@dataclass
class Category:
    gold: int = 0
    caught: int = 0

    @property
    def recall(self) -> float:
        return self.caught / self.gold if self.gold else 1.0


@dataclass
class StrictScore:
    notes: int = 0
    gold_tokens: int = 0
    caught_tokens: int = 0
    touched_tokens: int = 0  # gold PHI tokens with any character covered
    nonphi_tokens: int = 0
    nonphi_redacted: int = 0
    optional_tokens: int = 0
    optional_redacted: int = 0
    leaked_notes: int = 0
    per_category: dict[str, Category] = field(default_factory=dict)
    leaks: list[tuple[str, str, str]] = field(default_factory=list)  # (note id, label, token)
    redacted_nonphi: Counter = field(default_factory=Counter)  # non-PHI token -> times redacted

    @property
    def recall(self) -> float:
        return self.caught_tokens / self.gold_tokens if self.gold_tokens else 1.0

    @property
    def recall_lenient(self) -> float:
        return self.touched_tokens / self.gold_tokens if self.gold_tokens else 1.0

    @property
    def precision(self) -> float:
        touched = self.touched_tokens + self.nonphi_redacted
        return self.touched_tokens / touched if touched else 0.0

    @property
    def nonphi_redacted_frac(self) -> float:
        return self.nonphi_redacted / self.nonphi_tokens if self.nonphi_tokens else 0.0

    @property
    def leak_free_frac(self) -> float:
        return 1 - self.leaked_notes / self.notes if self.notes else 1.0

    def leak_counts(self, top: int = 15) -> list[tuple[str, str, int]]:
        """The most frequent leaked tokens as (token, label, count), case folded."""
        counts = Counter((token.lower(), label) for _, label, token in self.leaks)
        return [(token, label, n) for (token, label), n in counts.most_common(top)]


def _field(span: Any, name: str, index: int) -> Any:
    if isinstance(span, Mapping):
        return span.get(name)
    if isinstance(span, tuple | list):
        return span[index] if len(span) > index else None
    return getattr(span, name, None)


def _classify(text: str, spans: Sequence[Any]) -> Iterator[tuple[int, int, str, str | None]]:
    """(start, end, cls, label) for each token; cls is 'phi', 'opt' or 'non' (as score.py)."""
    n = len(text)
    required: list[str | None] = [None] * n
    optional = bytearray(n)
    for span in spans:
        a, b = _field(span, "start", 0), _field(span, "end", 1)
        if isinstance(span, Mapping) and span.get("optional"):
            optional[a:b] = b"\x01" * len(range(n)[a:b])
            continue
        label = _field(span, "label", 2)
        required[a:b] = [label] * len(range(n)[a:b])
        for g0, g1 in span.get("generic", []) if isinstance(span, Mapping) else ():
            optional[g0:g1] = b"\x01" * len(range(n)[g0:g1])
    for m in TOKEN.finditer(text):
        a, b = m.start(), m.end()
        labels = [label for label in required[a:b] if label is not None]
        if labels and not all(optional[a:b]):
            yield a, b, "phi", Counter(labels).most_common(1)[0][0]
        elif labels or any(optional[a:b]):
            yield a, b, "opt", labels[0] if labels else None
        else:
            yield a, b, "non", None


def strict_score(
    gold: Mapping[str, Sequence[Any]],
    predicted: Mapping[str, Sequence[Any]],
    texts: Mapping[str, str],
) -> StrictScore:
    """Score predicted spans ((start, end, label) tuples, dicts or Span-like objects) against gold
    spans (dicts with start, end, label and optional "optional" / "generic", or GoldSpan-like
    objects) over the notes whose ids key `texts`. A note missing from predicted counts as
    nothing redacted."""
    result = StrictScore()
    for note_id, text in texts.items():
        result.notes += 1
        covered = bytearray(len(text))
        for span in predicted.get(note_id, ()):
            a = max(0, int(_field(span, "start", 0)))
            b = min(len(text), int(_field(span, "end", 1)))
            if b > a:
                covered[a:b] = b"\x01" * (b - a)
        leaked = False
        for a, b, cls, label in _classify(text, gold.get(note_id, ())):
            hits = covered.count(1, a, b)
            if cls == "phi":
                cat = result.per_category.setdefault(str(label), Category())
                cat.gold += 1
                result.gold_tokens += 1
                if hits == b - a:
                    cat.caught += 1
                    result.caught_tokens += 1
                else:
                    leaked = True
                    result.leaks.append((note_id, str(label), text[a:b]))
                if hits:
                    result.touched_tokens += 1
            elif cls == "opt":
                result.optional_tokens += 1
                result.optional_redacted += hits > 0
            else:
                result.nonphi_tokens += 1
                if hits:
                    result.nonphi_redacted += 1
                    result.redacted_nonphi[text[a:b]] += 1
        result.leaked_notes += leaked
    result.per_category = dict(sorted(result.per_category.items()))
    return result
