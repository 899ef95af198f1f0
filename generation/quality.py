"""Draft quality: the benchmark's scores for one draft, and one row for many (plain Python).

The benchmark (training/services/quality.py) writes a draft for each held-out post's brief in four
setups (base or tuned model, with or without retrieval) and scores each draft here against the
real post it stands in for and the passages retrieved for its brief:

- BLEU (sacrebleu, 0-100) and ROUGE-L F (rouge-score, stemmed, 0-1) against the real post;
- style fidelity and grounding, the editor's two scores (generation/scores.py);
- distinct-2/3 (unique n-grams over n-grams), the repeated 4-gram rate (share of 4-grams said
  earlier in the same draft) and loops (a 4-gram said LOOP_REPEATS times or more);
- meta-talk (generation/cleaning.py) in the final draft and in the model's raw output;
- completeness: ends on a whole sentence and within LENGTH_RANGE of the words asked for;
- the guard's verdict, and the time, tokens/s and time to first token of the model.

Words are counted as generation.cleaning.words counts them (lower case, punctuation dropped).
"""

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import numpy as np

from generation import cleaning
from generation.scores import grounding, style_fidelity
from generation.types import Finding, blocking

LOOP_NGRAM = 4
LOOP_REPEATS = 3  # a 4-gram said this often is a loop, not a phrase the author likes
# Complete: within half and one and a half times the words asked for. A 135M model at a token
# limit rarely overshoots, so the lower bound is the one that bites: under half is a stub.
LENGTH_RANGE = (0.5, 1.5)

BASE_PROMPT_ONLY = "base prompt-only"
BASE_RETRIEVAL = "base + retrieval"
TUNED = "tuned"
TUNED_RETRIEVAL = "tuned + retrieval"  # the full workflow
# (label, with the tuned adapter, with retrieval), in the order the rows are shown.
SETUPS = (
    (BASE_PROMPT_ONLY, False, False),
    (BASE_RETRIEVAL, False, True),
    (TUNED, True, False),
    (TUNED_RETRIEVAL, True, True),
)

Embed = Callable[[list[str]], np.ndarray]


# --- One draft --------------------------------------------------------------------------------


def bleu(draft: str, reference: str) -> float:
    """sacrebleu's sentence BLEU of the draft against the real post, 0-100."""
    import sacrebleu

    return float(sacrebleu.sentence_bleu(draft, [reference]).score)


def corpus_bleu(drafts: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's corpus BLEU (the figure papers report), 0-100."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(drafts), [list(references)]).score)


def rouge_l(draft: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence, stemmed words), 0-1."""
    return float(_rouge_scorer().score(reference, draft)["rougeL"].fmeasure)


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct(text: str, n: int) -> float | None:
    """Unique n-grams over all n-grams of the text's words; None when it has none."""
    grams = ngrams(cleaning.words(text), n)
    return len(set(grams)) / len(grams) if grams else None


def repeated_ngram_rate(text: str, n: int = LOOP_NGRAM) -> float | None:
    """The share of the text's n-grams that it already said earlier; None when it has none."""
    grams = ngrams(cleaning.words(text), n)
    if not grams:
        return None
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams)


def has_ngram_loop(text: str, n: int = LOOP_NGRAM, times: int = LOOP_REPEATS) -> bool:
    """Whether some n-gram occurs `times` times or more."""
    counts = Counter(ngrams(cleaning.words(text), n))
    return bool(counts) and max(counts.values()) >= times


def has_meta_talk(text: str) -> bool:
    """Whether the text talks about the task or echoes the prompt (generation.cleaning)."""
    return bool(cleaning.meta_talk(text))


def within_length(text: str, asked: int | None) -> bool | None:
    """Whether the text's word count is within LENGTH_RANGE of `asked`; None when none was."""
    if not asked:
        return None
    low, high = LENGTH_RANGE
    return low * asked <= len(cleaning.words(text)) <= high * asked


def guard_passed(findings: list[Finding]) -> bool:
    """Whether the guard found nothing that blocks (advice does not count)."""
    return not blocking(findings)


@dataclass(frozen=True)
class Timing:
    """What writing one draft took: the whole workflow, and the model's own share of it."""

    seconds: float  # the workflow, retrieval to finalise
    new_tokens: int  # every model call of the draft (a revise's too)
    generating_s: float  # the model's time on them: prefill and decoding
    first_token_s: float | None  # the first call's, from the runtime's GenerationResult

    @property
    def tokens_per_s(self) -> float | None:
        return self.new_tokens / self.generating_s if self.generating_s > 0 else None


@dataclass(frozen=True)
class DraftScores:
    bleu: float
    rouge_l: float
    style_fidelity: float | None
    grounding: float | None
    distinct_2: float | None
    distinct_3: float | None
    repeated_4gram: float | None
    loop: bool
    meta_talk: bool
    raw_meta_talk: bool
    ends_whole: bool
    within_length: bool | None
    complete: bool
    guard_passed: bool
    words: int
    seconds: float
    tokens_per_s: float | None
    first_token_s: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def score_draft(
    draft: str,
    *,
    reference: str,
    raw: str,
    asked_words: int | None,
    passages: list[str],
    style_references: list[str],
    embed: Embed,
    findings: list[Finding],
    timing: Timing,
) -> DraftScores:
    """Every score of one draft. `raw`: what the model wrote before the workflow cleaned it;
    `passages`: what retrieval found for the brief (also for a prompt-only draft, so that
    grounding compares across setups); `findings`: the guard's, on this final draft."""
    whole = cleaning.ends_whole(draft)
    sized = within_length(draft, asked_words)
    return DraftScores(
        bleu=bleu(draft, reference),
        rouge_l=rouge_l(draft, reference),
        style_fidelity=style_fidelity(draft, style_references, embed),
        grounding=grounding(draft, passages, embed),
        distinct_2=distinct(draft, 2),
        distinct_3=distinct(draft, 3),
        repeated_4gram=repeated_ngram_rate(draft),
        loop=has_ngram_loop(draft),
        meta_talk=has_meta_talk(draft),
        raw_meta_talk=has_meta_talk(raw),
        ends_whole=whole,
        within_length=sized,
        complete=whole and sized is not False,
        guard_passed=guard_passed(findings),
        words=len(cleaning.words(draft)),
        seconds=timing.seconds,
        tokens_per_s=timing.tokens_per_s,
        first_token_s=timing.first_token_s,
    )


# --- Many drafts: one row ---------------------------------------------------------------------

MEANS = (
    "rouge_l", "style_fidelity", "grounding", "distinct_2", "distinct_3", "repeated_4gram",
    "words", "seconds", "tokens_per_s", "first_token_s",
)  # fmt: skip
# A row's rate: the share of its drafts for which the draft's flag holds.
RATES = {
    "loop_rate": "loop",
    "meta_talk_rate": "meta_talk",
    "raw_meta_talk_rate": "raw_meta_talk",
    "ends_whole_rate": "ends_whole",
    "within_length_rate": "within_length",
    "complete_rate": "complete",
    "guard_pass_rate": "guard_passed",
}


def aggregate(
    label: str, scores: list[DraftScores], *, drafts: list[str], references: list[str]
) -> dict:
    """One row: corpus BLEU over `drafts` against `references`, the mean of each score and the
    share of drafts for each flag. A draft's None (a score it has none of) is left out."""
    row: dict[str, Any] = {"label": label, "drafts": len(scores)}
    row["bleu"] = corpus_bleu(drafts, references) if drafts else None
    row["bleu_sentence"] = _mean([s.bleu for s in scores])
    for key in MEANS:
        row[key] = _mean([getattr(s, key) for s in scores])
    for key, flag in RATES.items():
        row[key] = _mean([float(getattr(s, flag)) for s in scores if getattr(s, flag) is not None])
    return row


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return sum(present) / len(present) if present else None


# --- Reading rows -----------------------------------------------------------------------------

# (key, short header for a terminal, header for a page, format, higher is better)
COLUMNS = (
    ("bleu", "BLEU", "BLEU", "{:.1f}", True),
    ("rouge_l", "ROUGE-L", "ROUGE-L F", "{:.3f}", True),
    ("style_fidelity", "style", "Style fidelity", "{:.3f}", True),
    ("grounding", "ground", "Grounding", "{:.0%}", True),
    ("distinct_2", "dist-2", "Distinct-2", "{:.2f}", True),
    ("distinct_3", "dist-3", "Distinct-3", "{:.2f}", True),
    ("repeated_4gram", "rep-4g", "Repeated 4-grams", "{:.0%}", False),
    ("loop_rate", "loops", "4-gram loops", "{:.0%}", False),
    ("meta_talk_rate", "meta", "Meta-talk", "{:.0%}", False),
    ("raw_meta_talk_rate", "meta-raw", "Meta-talk before cleaning", "{:.0%}", False),
    ("ends_whole_rate", "whole", "Ends whole", "{:.0%}", True),
    ("within_length_rate", "len-ok", "Within length", "{:.0%}", True),
    ("complete_rate", "complete", "Complete", "{:.0%}", True),
    ("guard_pass_rate", "guard", "Guard pass", "{:.0%}", True),
    ("words", "words", "Words", "{:.0f}", None),
    ("seconds", "s/draft", "Seconds per draft", "{:.1f}", False),
    ("tokens_per_s", "tok/s", "Tokens/s", "{:.1f}", True),
    ("first_token_s", "ttft-s", "First token (s)", "{:.2f}", False),
)


def formatted(value: float | None, pattern: str) -> str:
    return "—" if value is None else pattern.format(value)


def format_table(rows: list[dict]) -> str:
    """The rows as a plain-text table, one setup per line."""
    width = max([len("setup"), *(len(r["label"]) for r in rows)])
    header = ["setup".ljust(width), "n"] + [short for _, short, *_ in COLUMNS]
    lines = [header]
    for row in rows:
        cells = [row["label"].ljust(width), str(row["drafts"])]
        cells += [formatted(row.get(key), pattern) for key, _, _, pattern, _ in COLUMNS]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                  enumerate(zip(line, widths, strict=True)))
        for line in lines
    )  # fmt: skip


def done_when_checks(rows: list[dict]) -> list[tuple[str, bool | None]]:
    """Issue 13's goals for the full workflow, each True, False, or None (no such rows)."""
    by_label = {row["label"]: row for row in rows}
    full, base = by_label.get(TUNED_RETRIEVAL), by_label.get(BASE_PROMPT_ONLY)

    def above(key: str) -> bool | None:
        if not full or not base or full.get(key) is None or base.get(key) is None:
            return None
        return full[key] > base[key]

    def equals(key: str, value: float) -> bool | None:
        return None if not full or full.get(key) is None else full[key] == value

    return [
        ("full workflow: no meta-talk", equals("meta_talk_rate", 0.0)),
        ("full workflow: no 4-gram loops", equals("loop_rate", 0.0)),
        ("full workflow: every draft ends on a whole sentence", equals("ends_whole_rate", 1.0)),
        ("full workflow: style fidelity above base prompt-only", above("style_fidelity")),
        ("full workflow: grounding above base prompt-only", above("grounding")),
    ]


def format_checks(checks: list[tuple[str, bool | None]]) -> str:
    words = {True: "PASS", False: "FAIL", None: "n/a "}
    return "\n".join(f"{words[ok]}  {text}" for text, ok in checks)
