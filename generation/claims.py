"""Claims a draft states that neither its brief nor any retrieved source does (issue 16, item 6).

Each sentence's checkable claims (numbers, dates and names) are looked up in the brief and the
sources' texts; a sentence holding one that is found in none of them is an "unsupported"
finding: advice, marked for the editor in the draft view ("not found in your sources"), never a
reason to hold the draft back or to write the sentence again. Plain Python, like the guard's
helpers: the service passes the texts in (generation/services/execute.py).

What is a claim:
- a number: 1,200 · 3.5 · 40% · 40 per cent · 3rd · 10:30. Not a citation marker [1], a list
  item's number at the start of its line, digits inside a word (B12, COVID-19), nor a number
  written as a word ("two or three nights" is rarely a fact to check);
- a date: a month name with a day or a year (3 March, March 3rd, March 2021), an ISO date
  (2021-03-04), a year 1900-2099 (and its decade, the 1990s). A month or weekday alone is no
  claim, and never a name;
- a name: a capitalised word or a run of them ("Dr Priya Patel", "University of Oxford", "NHS").
  Not a word with digits in it, a function word in Title Case ("Tea With Sarah": Sarah), a word
  on STOP_NAMES ("I", months, weekdays), a title alone ("Dr"), nor a word whose capital comes
  from its place: the first word of a sentence, or after a colon or an opening quote,
  counts only when it is a known name or an acronym ("Sarah", "NHS"; not "The", "Sleep"), and a
  heading's words only when they are not everyday English ("## Why Dr Patel Matters": Dr Patel).

When is a claim supported, after case-folding, accents and possessive 's taken off:
- a number: the same value in the brief or a source, with thousands separators gone and trailing
  zeros too (1,200 = 1200, 3.50 = 3.5), as digits, a percentage, an ordinal, or a word up to
  twenty or an ordinal word (5 = five, 3rd = third); a percentage only by a percentage
  (40% = 40 % = 40 per cent), since "40 people" is not "40%"; a time by the same time;
- a date: a date there with the same parts; the parts the draft leaves out are free ("March 2021"
  is supported by "3 March 2021", "3 March 2021" is not by "March 2021"; a year by the year);
- a name: its words, any title left out, as a phrase there ("Dr Patel" by "patel"), where a
  one-word name that is an everyday word also needs its capital ("Dr Walker" is not supported by
  "a walker"). One more rule for a person's name (led by a title or a known given name): its
  surname alone, when it is no everyday word and is written with a capital there or follows a
  title ("Dr Priya Patel" by "Ms Patel" or "ask ms patel"). No other name is supported by one of
  its words: "National Sleep Foundation" is not by "foundation", nor "Mayo Clinic" by "Mayo".
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Literal

from generation.cleaning import sentence_spans
from generation.types import Finding

__all__ = ["Claim", "Support", "claims", "supported", "support_index", "unsupported_findings"]

ClaimKind = Literal["number", "date", "name"]
KINDS: tuple[ClaimKind, ...] = ("number", "date", "name")
NOT_FOUND = "not found in your sources"

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
# Capitalised, yet never a name to look up. Months and weekdays: dates, or no claim at all.
STOP_NAMES = (
    {"i", "i'm", "i've", "i'll", "i'd", "ok", "okay", "am", "pm", "faq", "diy"}
    | {m for m in MONTHS if len(m) > 3 or m == "may"}
    | WEEKDAYS
)
TITLES = {
    "dr", "doctor", "prof", "professor", "mr", "mrs", "ms", "mx", "miss", "sir", "dame", "rev",
    "nurse", "coach",
}  # fmt: skip
# Lower-case words inside a name: "University of Oxford", "Ludwig van Beethoven".
JOINERS = {"of", "de", "van", "von", "der", "den", "da", "di", "du", "la", "le", "del", "della"}
SMALL_NUMBERS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
)  # fmt: skip
ORDINALS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
    "eighteenth", "nineteenth", "twentieth",
)  # fmt: skip
NUMBER_WORDS = (
    dict(zip(SMALL_NUMBERS, range(21), strict=True))
    | dict(zip(ORDINALS, range(1, 21), strict=True))
    | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
    | {"ninety": 90, "hundred": 100, "thousand": 1000, "dozen": 12}
)
# Capitalised in Title Case ("Tea With Sarah And Tom"), never a name's word.
FUNCTION_WORDS = {
    "a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "is", "it", "on",
    "or", "so", "the", "to", "with", "your", "my", "our", "how", "why", "what", "when",
}  # fmt: skip
NOT_NAMES = STOP_NAMES | FUNCTION_WORDS

_MONTH = (
    r"(?P<m>\b(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\b\.?)"
)
_DAY = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\b"
_YEAR = r"(?P<y>(?:19|20)\d{2})\b"
# Tried in this order; a later pattern never takes a piece of an earlier one's date.
DATES = [
    re.compile(r"\b" + _YEAR[:-2] + r"-(?P<mo>0?[1-9]|1[0-2])-(?P<d>[0-3]?\d)\b"),
    re.compile(_MONTH + r"\s+" + _DAY + r"(?:,?\s+" + _YEAR + ")?"),
    re.compile(r"\b" + _DAY + r"(?:\s+of)?\s+" + _MONTH + r"(?:,?\s+" + _YEAR + ")?"),
    re.compile(_MONTH + r",?\s+" + _YEAR),
    # A year alone, or its decade: not a piece of a longer number, nor a percentage.
    re.compile(r"(?<![\w.,])" + _YEAR[:-2] + r"(?:s|'s|’s)?(?![\w%]|[.,]\d|\s%)"),
]
NUMBER = re.compile(
    r"(?<![\w.,/:])(?<![^\W\d_]-)"  # not inside a word or a number (B12, COVID-19, 0.5)
    r"(?P<n>\d{1,2}:\d{2}|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:(?P<pc>\s?%|\s?per\s?cent\b)|(?P<ord>st|nd|rd|th)\b)?"
    r"(?![.,:]?\d)"
)
WORD = re.compile(r"[^\W\d_](?:[\w'’-]*[^\W_])?")
# Masked before anything is read (same length, so offsets hold): code, links, the drafts'
# citation markers [1], de-identification's placeholders [NAME], a list item's own number.
MASKED = re.compile(
    r"^(?:```|~~~).*?(?:^(?:```|~~~)[^\n]*$|\Z)"
    r"|`[^`\n]*`"
    r"|\]\([^)\s]*\)|https?://\S+|www\.\S+"
    r"|\[\d{1,3}\]|\[[A-Z][A-Z_]*\]"
    r"|^[ \t]*(?:[-*+][ \t]+)?\d{1,3}[.)](?=\s)",
    re.MULTILINE | re.DOTALL,
)
# "Dr. Patel": the splitter ends a sentence at the title's full stop; the claim goes on.
ABBREVIATION_END = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Mx|Prof|Rev|St|vs|e\.g|i\.e|cf|approx)\.$")


@dataclass(frozen=True)
class Claim:
    """One checkable claim of a draft, at draft[start:end]; `key` is what is looked up."""

    kind: ClaimKind
    text: str
    start: int
    end: int
    key: tuple


@dataclass(frozen=True)
class Support:
    """What the brief and the sources state, normalised for looking claims up."""

    numbers: frozenset[tuple[str, str]]  # (form, value): form "any" holds every value
    dates: frozenset[tuple]  # (year, month, day), None for a part left out
    text: str  # folded words, " " between them, " | " between texts, padded
    capitalised: frozenset[str]  # folded words written with a capital somewhere


def unsupported_findings(
    draft: str, *, brief: Mapping, sources: Iterable[str], channel: str = "general"
) -> list[Finding]:
    """One "unsupported" finding per sentence of `draft` that states a number, date or name found
    in neither the brief nor any source. On the clinical channel the finding keeps no text and
    its detail names the kinds of claim only: the claims themselves may be PHI."""
    texts = [str(v) for v in brief.values() if isinstance(v, str) and v.strip()]
    support = support_index([*texts, *sources])
    spans = _sentences(draft)
    by_sentence: dict[tuple[int, int], list[Claim]] = {}
    for claim in claims(draft):
        if not supported(claim, support):
            span = next((s for s in spans if s[0] <= claim.start < s[1]), (claim.start, claim.end))
            by_sentence.setdefault(span, []).append(claim)
    clinical = channel == "clinical"
    return [
        {
            "kind": "unsupported",
            "label": ", ".join(k for k in KINDS if any(c.kind == k for c in found)),
            "start": start,
            "end": end,
            "text": "" if clinical else draft[start:end],
            "detail": _detail(found, clinical=clinical),
        }
        for (start, end), found in by_sentence.items()
    ]


def claims(text: str) -> list[Claim]:
    """The numbers, dates and names `text` states, in order."""
    masked = MASKED.sub(lambda m: re.sub(r"[^\n]", " ", m[0]), text)
    dates = _dates(masked)
    taken = [(c.start, c.end) for c in dates]
    found = dates + [c for c in _numbers(masked) if not _inside(c, taken)]
    for start, end in _sentences(masked):
        heading = masked[masked.rfind("\n", 0, start) + 1 :].lstrip(" \t").startswith("#")
        found += [c for c in _names(masked, start, end, heading=heading) if not _inside(c, taken)]
    return sorted(found, key=lambda c: (c.start, c.end))


def support_index(texts: Iterable[str]) -> Support:
    texts = [t for t in texts if t]
    numbers: set[tuple[str, str]] = set()
    dates: set[tuple] = set()
    capitalised: set[str] = set()
    for text in texts:
        masked = MASKED.sub(lambda m: re.sub(r"[^\n]", " ", m[0]), text)
        for claim in _numbers(masked):  # a date's day and year count as numbers here too
            numbers.add(claim.key)
            numbers.add(("any", claim.key[1]))
        dates.update(claim.key for claim in _dates(masked))
        for word in re.findall(r"[a-z\-]+", text.lower()):
            for part in word.split("-"):
                value = NUMBER_WORDS.get(part)
                if value is not None:
                    numbers.add(("any", str(value)))
        for word in WORD.finditer(text):
            if word[0][0].isupper():
                capitalised.update(_folded_words(word[0]))
    text = " | ".join(" ".join(_folded_words(t)) for t in texts)
    return Support(frozenset(numbers), frozenset(dates), f" {text} ", frozenset(capitalised))


def supported(claim: Claim, support: Support) -> bool:
    if claim.kind == "number":
        form, value = claim.key
        if form in ("percent", "time"):
            return claim.key in support.numbers
        return ("any", value) in support.numbers
    if claim.kind == "date":
        return any(
            all(
                part is None or part == theirs for part, theirs in zip(claim.key, date, strict=True)
            )
            for date in support.dates
        ) or (claim.key[1:] == (None, None) and ("any", str(claim.key[0])) in support.numbers)
    words = list(claim.key)
    while words and words[0] in TITLES:
        words.pop(0)
    # A one-word name that is an everyday word ("Dr Walker", "Rose") needs its capital there too.
    everyday = len(words) == 1 and _ordinary(words[0]) and words[0] not in support.capitalised
    if words and f" {' '.join(words)} " in support.text and not everyday:
        return True
    surname = words[-1] if words else ""
    named = surname in support.capitalised or any(  # "ms patel" in a brief typed lower-case
        f" {title} {surname} " in support.text for title in TITLES
    )
    return (
        len(claim.key) > 1
        and _person(claim.key)
        and len(surname) > 2
        and named
        and not (_ordinary(surname))
    )


def _same_date(claim: tuple, date: tuple) -> bool:
    """Whether `date` has every part `claim` states (a part it leaves out is free)."""
    return all(part is None or part == theirs for part, theirs in zip(claim, date, strict=True))


# --- Extraction -------------------------------------------------------------------------------


def _numbers(text: str) -> list[Claim]:
    found = []
    for match in NUMBER.finditer(text):
        raw = match["n"]
        if ":" in raw:
            key = ("time", raw)
        else:
            value = Decimal(raw.replace(",", ""))
            value_text = (
                str(int(value)) if value == value.to_integral() else f"{value.normalize():f}"
            )
            form = "percent" if match["pc"] else "ordinal" if match["ord"] else "plain"
            key = (form, value_text)
        found.append(Claim("number", match[0].strip(), match.start(), match.end(), key))
    return found


def _dates(text: str) -> list[Claim]:
    found: list[Claim] = []
    for pattern in DATES:
        for match in pattern.finditer(text):
            if _inside_any(match.span(), [(c.start, c.end) for c in found]):
                continue
            groups = match.groupdict()
            year = int(groups["y"]) if groups.get("y") else None
            if groups.get("mo"):
                month = int(groups["mo"])
            elif groups.get("m"):
                month = MONTHS[groups["m"].rstrip(".").lower()]
            else:
                month = None
            day = int(groups["d"]) if groups.get("d") else None
            if day is not None and not 1 <= day <= 31:
                continue
            found.append(Claim("date", match[0], match.start(), match.end(), (year, month, day)))
    return found


def _names(text: str, start: int, end: int, *, heading: bool) -> list[Claim]:
    """The names in the sentence text[start:end]: runs of capitalised words (joined by JOINERS,
    or by a title's full stop), less the words whose capital comes from their place."""
    words = list(WORD.finditer(text, start, end))
    runs: list[list[re.Match]] = []
    run: list[re.Match] = []
    for i, word in enumerate(words):
        gap = text[words[i - 1].end() : word.start()] if i else ""
        after_title = bool(run) and _is_title(run[-1]) and gap[:1] == "." and gap[1:].isspace()
        joined = gap.isspace() or after_title
        folded = _fold(word[0])
        digits = any(ch.isdigit() for ch in folded)  # B12, COVID-19: neither number nor name
        if _capitalised(word) and folded not in NOT_NAMES and not digits:
            if run and not joined:
                runs.append(run)
                run = []
            run.append(word)
            continue
        if run and word[0] in JOINERS and gap.isspace() and _next_capitalised(words, i, text):
            run.append(word)
            continue
        if run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    found = []
    for run in runs:
        for part in _trimmed(run, text, start, heading=heading):
            s, e = part[0].start(), part[-1].end()
            found.append(Claim("name", text[s:e], s, e, tuple(_folded_words(text[s:e]))))
    return found


def _trimmed(run: list[re.Match], text: str, start: int, *, heading: bool) -> list[list[re.Match]]:
    """The run less what is capitalised by its place (split where a heading's everyday word
    stood), joiners at its ends and a title with no name after it."""
    if heading:  # Title Case: only what is not everyday English
        parts: list[list[re.Match]] = [[]]
        for word in run:
            if _ordinary(_fold(word[0])) and not _is_title(word):
                parts.append([])
            else:
                parts[-1].append(word)
    elif _initial(run[0], text, start) and not (_known(run[0]) or _is_title(run[0])):
        parts = [run[1:]]  # "The Mayo Clinic": Mayo Clinic; "Sleep helps": no name
    else:
        parts = [run]
    out = []
    for part in parts:
        while part and part[0][0] in JOINERS:
            part = part[1:]
        while part and (part[-1][0] in JOINERS or _is_title(part[-1])):
            part = part[:-1]
        if part:
            out.append(part)
    return out


def _known(word: re.Match) -> bool:
    """A known name or an acronym: a name even where any word takes a capital."""
    return _fold(word[0]) in _strong_names() or _acronym(word[0])


def _initial(word: re.Match, text: str, start: int) -> bool:
    """Whether the word stands where any word takes a capital: first in its sentence, or after a
    colon or an opening quote with nothing but marks between."""
    before = text[start : word.start()]
    if not re.search(r"\w", before):
        return True
    return bool(re.search(r"[:\"“‘]", re.split(r"\w", before)[-1]))


def _next_capitalised(words: list[re.Match], i: int, text: str) -> bool:
    return (
        i + 1 < len(words)
        and _capitalised(words[i + 1])
        and text[words[i].end() : words[i + 1].start()].isspace()
    )


def _capitalised(word: re.Match) -> bool:
    return word[0][0].isupper()


def _acronym(word: str) -> bool:
    return len(word) > 1 and word.isupper() and word.isalpha()


def _is_title(word: re.Match) -> bool:
    return _fold(word[0]) in TITLES


def _person(key: tuple) -> bool:
    return bool(key) and (key[0] in TITLES or key[0] in _given_names())


def _sentences(text: str) -> list[tuple[int, int]]:
    """The guard's sentences, joined again where one ended at a title's full stop ("Dr.")."""
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        previous = spans[-1] if spans else None
        if (
            previous
            and ABBREVIATION_END.search(text[previous[0] : previous[1]])
            and "\n" not in text[previous[1] : start]
        ):
            spans[-1] = (previous[0], end)
        else:
            spans.append((start, end))
    return spans


def _inside(claim: Claim, spans: list[tuple[int, int]]) -> bool:
    return _inside_any((claim.start, claim.end), spans)


def _inside_any(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(s < span[1] and span[0] < e for s, e in spans)


# --- Words --------------------------------------------------------------------------------------


def _fold(word: str) -> str:
    """Lower case without accents or a possessive 's: 'Patel’s' and 'PATEL' look up alike."""
    decomposed = unicodedata.normalize("NFKD", word.casefold().replace("’", "'"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"'s?$", "", plain)


def _folded_words(text: str) -> list[str]:
    return [_fold(w) for w in re.findall(r"[^\W_]+(?:['’]s)?", text)]


def _ordinary(folded: str) -> bool:
    """An everyday English word that is not also a known name."""
    from compliance.deid import lexicon

    return (
        folded in lexicon.english_words() or folded in lexicon.common_words()
    ) and folded not in _strong_names()


@cache
def _strong_names() -> frozenset[str]:
    from compliance.deid import lexicon

    return lexicon.strong_names()


@cache
def _given_names() -> frozenset[str]:
    from compliance.deid import lexicon

    return lexicon.given_names()


def _detail(found: list[Claim], *, clinical: bool) -> str:
    """'States “1,200” and “Dr Patel”, not found in your sources.'; on the clinical channel the
    kinds alone: 'States a number and a name not found in your sources.'"""
    if clinical:
        counts = [(k, sum(c.kind == k for c in found)) for k in KINDS]
        kinds = [f"a {k}" if n == 1 else f"{n} {k}s" for k, n in counts if n]
        return f"States {_joined(kinds)} {NOT_FOUND}."
    quoted = list(dict.fromkeys(f"“{c.text}”" for c in found))
    return f"States {_joined(quoted)}, {NOT_FOUND}."


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
