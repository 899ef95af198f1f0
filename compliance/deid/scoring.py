"""Token-level scoring of de-identification output, as i2b2's binary "token" evaluation does it.

    from compliance.deid.scoring import score, score_notes
    from compliance.deid import find_spans
    result = score_notes(notes, lambda text: find_spans(text))  # notes: LabelledNote-like
    print(result.report())            # overall, per category, the most frequent misses
    result.recall, result.per_category["AGE"].recall, result.missed[:10]

The labelled synthetic corpus it is tuned and benchmarked on lives in bench/deid_corpus.py
(`python -m bench.deid_score` scores our engine on it), outside the shipped package.

Texts are cut into `\\w+` tokens. A gold token (one inside a gold span) is recalled when any
predicted span overlaps it, whatever the predicted label: for Safe Harbor what matters is that it
was removed. Per-category recall is over the gold tokens of that category. Precision is the share
of predicted tokens (tokens a predicted span overlaps) that lie in some gold span. Strict span
figures count a gold span found only when a predicted span has exactly its offsets (any label).
When distractors are given (text that must stay), the share of their tokens removed is reported
per category too.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Miss:
    note_id: str
    label: str
    token: str
    context: str  # about 30 characters either side, the token in [brackets]


@dataclass
class CategoryScore:
    support: int = 0  # gold tokens of this category
    found: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.support if self.support else 1.0


@dataclass
class Score:
    gold_tokens: int = 0
    gold_found: int = 0
    predicted_tokens: int = 0
    predicted_correct: int = 0
    gold_spans: int = 0
    gold_spans_exact: int = 0
    predicted_spans: int = 0
    predicted_spans_exact: int = 0
    per_category: dict[str, CategoryScore] = field(default_factory=dict)
    missed: list[Miss] = field(default_factory=list)
    false_positives: list[Miss] = field(default_factory=list)
    distractors: dict[str, CategoryScore] = field(default_factory=dict)  # found = removed

    @property
    def recall(self) -> float:
        return self.gold_found / self.gold_tokens if self.gold_tokens else 1.0

    @property
    def precision(self) -> float:
        return self.predicted_correct / self.predicted_tokens if self.predicted_tokens else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def span_recall(self) -> float:
        return self.gold_spans_exact / self.gold_spans if self.gold_spans else 1.0

    @property
    def span_precision(self) -> float:
        return self.predicted_spans_exact / self.predicted_spans if self.predicted_spans else 1.0

    def missed_counts(self, top: int = 15) -> list[tuple[str, str, int]]:
        """The most frequent missed tokens as (token, label, count), case folded."""
        counts = Counter((m.token.lower(), m.label) for m in self.missed)
        return [(token, label, n) for (token, label), n in counts.most_common(top)]

    def report(self, top: int = 15) -> str:
        lines = [
            f"token recall {self.recall:.4f}  precision {self.precision:.4f}  F1 {self.f1:.4f}"
            f"  ({self.gold_tokens} gold tokens, {self.predicted_tokens} predicted)",
            f"strict spans: recall {self.span_recall:.4f}  precision {self.span_precision:.4f}",
            f"{'category':<14}{'recall':>8}{'support':>9}",
        ]
        for label, cat in sorted(self.per_category.items()):
            lines.append(f"{label:<14}{cat.recall:>8.4f}{cat.support:>9}")
        if self.distractors:
            lines.append(f"{'distractor':<14}{'removed':>8}{'tokens':>9}")
            for label, cat in sorted(self.distractors.items()):
                lines.append(f"{label:<14}{cat.recall:>8.4f}{cat.support:>9}")
        lines.append(f"most frequent misses (of {len(self.missed)}):")
        lines += [f"  {n:>4}  {label:<12} {token}" for token, label, n in self.missed_counts(top)]
        return "\n".join(lines)


def _triple(span: Any) -> tuple[int, int, str]:
    """Accept (start, end, label) tuples, GoldSpan and the engine's Span alike."""
    if isinstance(span, tuple | list):
        return int(span[0]), int(span[1]), str(span[2]) if len(span) > 2 else ""
    return span.start, span.end, getattr(span, "label", "")


def _covered(tokens: list[tuple[int, int]], spans: Iterable[tuple[int, int, str]]) -> list[str]:
    """For each token, the label of a span overlapping it, or "" if none does."""
    labels = [""] * len(tokens)
    starts = [t[0] for t in tokens]
    for start, end, label in spans:
        if end <= start:
            continue
        # Tokens are sorted and disjoint: walk from the first one that could overlap.
        i = max(0, bisect_right(starts, start) - 1)
        while i < len(tokens) and tokens[i][0] < end:
            if tokens[i][1] > start and not labels[i]:
                labels[i] = label or "?"
            i += 1
    return labels


def _context(text: str, start: int, end: int, width: int = 30) -> str:
    left = text[max(0, start - width) : start]
    right = text[end : end + width]
    return f"{left}[{text[start:end]}]{right}".replace("\n", " ")


# Distractors that may go or stay, counted on neither side (still reported as distractors): a
# year alone, which Safe Harbor keeps and the engine withholds in a history ("quit in 1998").
OPTIONAL_DISTRACTORS = frozenset(["YEAR"])


def score(
    gold: Mapping[str, Sequence[Any]],
    predicted: Mapping[str, Sequence[Any]],
    texts: Mapping[str, str],
    distractors: Mapping[str, Sequence[Any]] | None = None,
) -> Score:
    """Score predicted spans against gold spans, note by note (ids are the keys of texts).
    A note missing from predicted counts as nothing predicted."""
    result = Score()
    for note_id, text in texts.items():
        tokens = [m.span() for m in TOKEN.finditer(text)]
        gold_spans = [_triple(s) for s in gold.get(note_id, ())]
        pred_spans = [_triple(s) for s in predicted.get(note_id, ())]
        gold_labels = _covered(tokens, gold_spans)
        pred_labels = _covered(tokens, pred_spans)
        optional = [
            (start, end)
            for start, end, category in map(_triple, (distractors or {}).get(note_id, ()))
            if category in OPTIONAL_DISTRACTORS
        ]
        for (start, end), g, p in zip(tokens, gold_labels, pred_labels, strict=True):
            if any(a <= start and end <= b for a, b in optional):
                continue  # may go or stay, as the PhysioNet gold's optional spans
            if g:
                cat = result.per_category.setdefault(g, CategoryScore())
                cat.support += 1
                result.gold_tokens += 1
                if p:
                    cat.found += 1
                    result.gold_found += 1
                else:
                    miss = Miss(note_id, g, text[start:end], _context(text, start, end))
                    result.missed.append(miss)
            if p:
                result.predicted_tokens += 1
                if g:
                    result.predicted_correct += 1
                else:
                    fp = Miss(note_id, p, text[start:end], _context(text, start, end))
                    result.false_positives.append(fp)
        exact_gold = {(s, e) for s, e, _ in gold_spans}
        exact_pred = {(s, e) for s, e, _ in pred_spans}
        result.gold_spans += len(exact_gold)
        result.predicted_spans += len(exact_pred)
        result.gold_spans_exact += len(exact_gold & exact_pred)
        result.predicted_spans_exact += len(exact_pred & exact_gold)
        if distractors is not None:
            for start, end, category in map(_triple, distractors.get(note_id, ())):
                inside = [p for (s, e), p in zip(tokens, pred_labels, strict=True)
                          if s < end and e > start]  # fmt: skip
                cat = result.distractors.setdefault(category, CategoryScore())
                cat.support += len(inside)
                cat.found += sum(1 for p in inside if p)
    return result


def score_notes(notes: Sequence[Any], predict: Callable[[str], Sequence[Any]]) -> Score:
    """Run predict(text) on each note and score it, distractors included. A note needs `id`,
    `text`, `spans` and `distractors` (bench/deid_corpus.py's LabelledNote has them)."""
    return score(
        {n.id: n.spans for n in notes},
        {n.id: predict(n.text) for n in notes},
        {n.id: n.text for n in notes},
        {n.id: n.distractors for n in notes},
    )
