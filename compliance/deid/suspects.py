"""Suspects: words the engine considered and let go, shown to the reviewer to check by eye.

A suspect is never redacted on its own: the review screen marks it, and the reviewer either turns
it into a finding or dismisses it. Three kinds, each cheap and each a known way PHI slips past the
rule layers:

- "unknown_word": a capitalised word outside every dictionary (common and clinical words, names
  the engine would have caught, the medical safelist, professions, titles) that does not also
  appear in lower case in the same note ("Pain ... pain" is an ordinary word);
- "after_speaking": a name-shaped word after a verb of speaking ("spoke with lorna", "called
  Tomas"), in any case, since nursing shorthand drops capitals;
- "bare_number": a 4 to 6 digit number on its own ("Pager #40718") outside a vitals, dose or lab
  context ("HR 110", "5000 units", "WBC 12000") and not a clock time ("at 2130").

A suspect never overlaps a span already found. Plain Python, bounded by the same Deadline as the
engine: past the limit the list found so far is returned (suspects only add review work, so a
short list is safe; the spans themselves are the engine's business).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from . import lexicon as lx
from .context import RELATIONS, TITLES, caps_note, eponym_positions, tokenize
from .spans import Deadline, DeidTimeout, Span

REASONS: dict[str, str] = {
    "unknown_word": "capitalised word in no dictionary",
    "after_speaking": "name-shaped word after a verb of speaking",
    "bare_number": "bare number outside a vitals, dose or lab context",
}

# "spoke with X", "told X", "discussed with X": the verbs whose object is a person.
_SPEAKING = re.compile(
    r"\b(?:(?:spoke|speak|speaking|spoken|talked|talking|talk)\s+(?:with|to|w/)"
    r"|(?:discussed|conferred|met|consulted)\s+(?:with|w/)"
    r"|told|called|phoned|paged|notified|informed|updated|asked)"
    r"(?:\s+(?:dr|mr|mrs|ms|miss|nurse)\.?)?\s+"
    r"([^\W\d_]{3,}(?:['’-][^\W\d_]+)?)\b(?!['’]s)",
    re.I,
)
_PRONOUNS = frozenset(
    ("he", "she", "him", "her", "his", "hers", "they", "them", "their", "it", "its", "we", "us",
     "our", "you", "your", "me", "my", "this", "that", "these", "those", "who", "whom", "someone",
     "anyone", "everyone", "all", "both", "each", "none")
)  # fmt: skip
# A number glued to other digits or symbols is part of something else (a date, a ratio, 1,200).
_NUMBER = re.compile(r"(?<![\w.,/:-])(\d{4,6})(?![\w/:%]|[.,-]\d)")
# The words before a number that make it a measurement: vitals, labs, fluids, ventilator settings.
_MEASURE_BEFORE = re.compile(
    r"(?:\b(?:hr|bp|rr|sbp|dbp|map|cvp|pap|spo2|sao2|o2|sats?|temp|tmax|wbc|plt|plts|platelets"
    r"|hct|hgb|glucose|bs|fs|fsbs|inr|ptt|pt|bun|cr|na|k|ck|cpk|ldh|alt|ast|amyl|lipase|ammonia"
    r"|tv|vt|peep|fio2|rate|i/o|i&o|in|out|ins|outs|uo|urine|output|intake|total|balance|neg|pos"
    r"|wt|weight|kcal|cal|calories|ml|cc|vol|volume|units?|dose|bolus|gtt|drip|lab|labs|level"
    r"|count|cells|ebl|loss|gain|x|of|ld|i/o|pb|model|svr|pvr|co|ci|sv|ef)\b|[=:+(-]|\(-\)|\(\+\))\s*(?:was|is|of|at)?\s*$",
    re.I,
)
_MEASURE_AFTER = re.compile(
    r"^\s*(?:units?|u\b|iu\b|mg|mcg|ug|g\b|gm|kg|lbs?|ml|cc|l\b|meq|mmol|mosm|kcal|cal|/|%|x\b"
    r"|mm|cm|cells|k\b|neg|pos|positive|negative|even)",
    re.I,
)
_TIME_BEFORE = re.compile(
    r"(?:\b(?:at|since|until|till|by|from|to|after|before|around|about|approx|approximately"
    r"|between|and|starting|started|began|time)\.?|[@~])\s*$",
    re.I,
)
_TIME_AFTER = re.compile(r"^\s*(?:hrs?\b|hours|h\b|-+>?\s*\d{4}|-+>|to\s+\d{4}|pm|am)", re.I)


@dataclass(frozen=True, slots=True)
class Suspect:
    """Offsets into the note's raw text and why the word is suspect (a key of REASONS)."""

    start: int
    end: int
    reason: str


def _sentence_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t\"'(":
        i -= 1
    return i < 0 or text[i] in ".!?:;\n*-•>)"


def _clock_time(value: str) -> bool:
    return len(value) == 4 and int(value[:2]) < 24 and int(value[2:]) < 60


# Word shape of drug names ("Dopamine", "Heparin", "Metoprolol"): let go unless it is also a name.
_DRUG_SHAPE = re.compile(
    r"(?:ine|in|one|ol|ide|ate|pril|sartan|azole|mycin|cillin|pam|lam|mab|nib|phed|dil|xan)$"
)


def _plain_word(fold: str) -> bool:
    """In one of the engine's dictionaries of words that are not PHI."""
    if fold.endswith("s") and len(fold) > 3 and _plain_word(fold[:-1]):
        return True  # a plural ("patients")
    return (
        fold in lx.common_words()
        or fold in lx.safelist()
        or fold in TITLES
        or fold in RELATIONS
        or fold in lx.professions()[0]
    )


def _unknown_words(text: str, covered: _Covered, add: _Add, deadline: Deadline) -> None:
    if caps_note(text):
        return  # in a note written in capitals every word is capitalised: nothing to tell
    toks = tokenize(text)
    lower_seen = {t.fold for t in toks if t.word.islower()}
    eponyms = eponym_positions(text)
    for n, tok in enumerate(toks):
        if n % 256 == 0:
            deadline.check()
        word = tok.word
        if len(word) < 3 or not word[0].isupper() or not word[1:].islower():
            continue  # only Title-case words: ALL-CAPS ones are abbreviations and headings
        if tok.fold in lower_seen or tok.start in eponyms or _plain_word(tok.fold):
            continue
        if tok.fold in lx.strong_names():
            continue  # the name layer's business: it weighed this name already
        if _sentence_start(text, tok.start):
            continue  # capitalised by grammar, not because it is a name
        if _DRUG_SHAPE.search(tok.fold) and tok.fold not in lx.all_names():
            continue
        if text[tok.end : tok.end + 1] == ":":
            continue  # a heading ("Resp:")
        add(tok.start, tok.end, "unknown_word")


def _after_speaking(text: str, covered: _Covered, add: _Add, deadline: Deadline) -> None:
    for match in _SPEAKING.finditer(text):
        deadline.check()
        fold = lx.fold(match.group(1))
        if fold in _PRONOUNS or _plain_word(fold) or fold.endswith("ing"):
            continue
        add(match.start(1), match.end(1), "after_speaking")


def _bare_numbers(text: str, covered: _Covered, add: _Add, deadline: Deadline) -> None:
    for match in _NUMBER.finditer(text):
        deadline.check()
        value, start, end = match.group(1), match.start(1), match.end(1)
        before, after = text[max(0, start - 24) : start], text[end : end + 16]
        if _MEASURE_BEFORE.search(before) or _MEASURE_AFTER.match(after):
            continue
        if _clock_time(value) and (_TIME_BEFORE.search(before) or _TIME_AFTER.match(after)):
            continue
        add(start, end, "bare_number")


class _Covered:
    """Which characters the engine's spans already cover (so a suspect never overlaps one)."""

    def __init__(self, spans: list[Span]) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for span in sorted(spans, key=lambda s: s.start):
            if self._ends and span.start < self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], span.end)
            else:
                self._starts.append(span.start)
                self._ends.append(span.end)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self._starts, end) - 1  # the last range starting before `end`
        return i >= 0 and self._ends[i] > start


class _Add:
    def __init__(self, covered: _Covered) -> None:
        self.covered, self.found = covered, {}

    def __call__(self, start: int, end: int, reason: str) -> None:
        if not self.covered.overlaps(start, end):
            self.found.setdefault((start, end), Suspect(start, end, reason))


def find_suspects(text: str, spans: list[Span], *, time_limit: float | None = 0.5) -> list[Suspect]:
    """Sorted, non-overlapping suspects in `text` that no span in `spans` overlaps.

    Past `time_limit` seconds it stops and returns what it found so far.
    """
    deadline = Deadline(time_limit)
    covered = _Covered(spans)
    add = _Add(covered)
    try:
        for layer in (_after_speaking, _bare_numbers, _unknown_words):
            layer(text, covered, add, deadline)
    except DeidTimeout:
        pass
    out: list[Suspect] = []
    for suspect in sorted(add.found.values(), key=lambda s: (s.start, s.end)):
        if not out or suspect.start >= out[-1].end:
            out.append(suspect)
    return out
