"""redact: replace spans with placeholders or with consistent, seeded surrogates."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from . import lexicon as lx
from .spans import LABELS, Span

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_INDEX = {m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_BASE_YEAR = 2001  # a non-leap year stands in when a date has no year of its own

_SURROGATE_GIVEN = tuple(
    [
        "Alex",
        "Avery",
        "Blake",
        "Casey",
        "Drew",
        "Elliot",
        "Emerson",
        "Finley",
        "Harper",
        "Jordan",
        "Kendall",
        "Logan",
        "Morgan",
        "Parker",
        "Quinn",
        "Reese",
        "Riley",
        "Rowan",
        "Sawyer",
        "Skyler",
        "Taylor",
        "Cameron",
        "Dakota",
        "Hayden",
        "Jamie",
        "Kai",
        "Lane",
        "Marlow",
        "Noel",
        "Oakley",
        "Peyton",
        "Remy",
        "Sage",
        "Shawn",
        "Sidney",
        "Tatum",
        "Terry",
        "Toby",
        "Wren",
    ]
)
_SURROGATE_FAMILY = tuple(
    [
        "Abernathy",
        "Ashby",
        "Bancroft",
        "Barlow",
        "Calloway",
        "Dunmore",
        "Ellison",
        "Fairbanks",
        "Garrity",
        "Hollister",
        "Ingram",
        "Jessup",
        "Kingsley",
        "Langford",
        "Merriweather",
        "Northcott",
        "Oakridge",
        "Pemberton",
        "Quimby",
        "Radcliffe",
        "Sutherland",
        "Thornbury",
        "Underhill",
        "Vance",
        "Whitlock",
        "Yardley",
        "Zeller",
        "Ashworth",
        "Blackwood",
        "Castellan",
        "Delacroix",
        "Everly",
        "Fenwick",
        "Galloway",
        "Hartwell",
        "Iverson",
        "Kessler",
        "Lockhart",
        "Montrose",
        "Pryor",
    ]
)
_SURROGATE_CITIES = tuple(
    [
        "Fairview",
        "Riverton",
        "Maplewood",
        "Brookfield",
        "Cedarville",
        "Glenwood",
        "Lakewood",
        "Milford",
        "Oakdale",
        "Pinehurst",
        "Ridgefield",
        "Springdale",
        "Westbury",
        "Ashford",
        "Clayton",
        "Kingsport",
        "Linden",
        "Newbury",
    ]
)
_SURROGATE_JOBS = tuple(
    [
        "clerk",
        "technician",
        "surveyor",
        "machinist",
        "bookbinder",
        "courier",
        "upholsterer",
        "draftsman",
        "glazier",
        "estimator",
    ]
)
_STREET_WORDS = tuple(
    [
        "Maple",
        "Oak",
        "Cedar",
        "Elm",
        "Pine",
        "Birch",
        "Willow",
        "Chestnut",
        "Walnut",
        "Spruce",
        "Laurel",
    ]
)


def _digest(*parts: object) -> int:
    raw = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def date_shift_days(seed: int) -> int:
    """The per-note date offset: 30 to 365 days either way, never 0."""
    h = _digest("date-shift", seed)
    magnitude = 30 + h % 336
    return magnitude if (h >> 20) & 1 else -magnitude


@dataclass(frozen=True)
class Redacted:
    text: str
    replacements: list[tuple[Span, str]] = field(default_factory=list)


def _match_case(original: str, new: str) -> str:
    letters = [c for c in original if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and len(letters) > 1:
        return new.upper()
    if letters and all(c.islower() for c in letters):
        return new.lower()
    return new


def _shape(original: str, seed: int, salt: str) -> str:
    """Format-preserving random: digits → digits, letters → letters of the same case."""
    h = _digest(seed, salt, original)
    out = []
    for i, ch in enumerate(original):
        r = (h >> (i % 56)) + i * 7919 + _digest(h, i) % 1000
        if ch.isdigit():
            out.append(str(r % 10))
        elif ch.isalpha() and ch.lower() not in "x*" or (ch.isalpha() and len(original) < 4):
            letter = chr(ord("A") + r % 26)
            out.append(letter if ch.isupper() else letter.lower())
        else:
            out.append(ch)
    return "".join(out)


class _Surrogates:
    """Per-note memory so the same original always gets the same surrogate."""

    def __init__(self, text: str, seed: int, spans: Sequence[Span]) -> None:
        self.text, self.seed = text, seed
        self.shift = date_shift_days(seed)
        self.memo: dict[tuple[str, str], str] = {}
        self.used: set[str] = set()
        self.spans = sorted(spans, key=lambda s: s.start)

    def pick(self, kind: str, key: str, pool: Sequence[str]) -> str:
        memo_key = (kind, key.lower())
        if memo_key in self.memo:
            return self.memo[memo_key]
        h = _digest(self.seed, kind, key.lower())
        for step in range(len(pool)):
            choice = pool[(h + step) % len(pool)]
            if choice.lower() != key.lower() and (kind, choice) not in self.used:
                break
        self.used.add((kind, choice))  # type: ignore[arg-type]
        self.memo[memo_key] = choice
        return choice

    def name(self, original: str) -> str:
        out = []
        for part in re.split(r"([\s.,'’-]+)", original):
            if not part or not part[0].isalpha():
                out.append(part)
                continue
            if len(part) <= 3 and part.isupper() and lx.fold(part) not in lx.all_names():
                # initials stay initials: "JS" → two letters, each consistent within the note
                out.append("".join(self.pick("initial", c, "ABCDEFGHJKLMNPRSTVW") for c in part))
                continue
            if len(part) == 1:
                out.append(self.pick("initial", part.upper(), "ABCDEFGHJKLMNPRSTVW"))
                continue
            f = lx.fold(part)
            family = f in lx.family_names() and f not in lx.given_names()
            pool = _SURROGATE_FAMILY if family else _SURROGATE_GIVEN
            out.append(_match_case(part, self.pick("family" if family else "given", f, pool)))
        return "".join(out)

    def replace(self, span: Span) -> str:
        original = self.text[span.start : span.end]
        label = span.label
        if label == "NAME":
            return self.name(original)
        if label == "DATE":
            try:
                return shift_date(original, self.shift, self._month_context(span), self)
            except (ValueError, AttributeError, OverflowError):
                return "[DATE]"  # an odd shape we could not re-format: never leak it
        if label == "AGE":
            return _age(original)
        if label in {"CITY"}:
            return _match_case(original, self.pick("city", original, _SURROGATE_CITIES))
        if label == "PROFESSION":
            return _match_case(original, self.pick("job", original, _SURROGATE_JOBS))
        if label in {"HOSPITAL", "ORGANIZATION", "LOCATION", "STREET"} and not any(
            c.isdigit() for c in original
        ):
            return _match_case(original, self._institution(label, original))
        if label == "STREET":
            number = _shape(re.match(r"\d*", original).group(), self.seed, "street")
            word = self.pick("street", original, _STREET_WORDS)
            return _match_case(original, f"{number} {word} Street".strip())
        if label == "USERNAME":
            return self._username(original)
        if label == "EMAIL":
            local = self.pick("given", "email:" + original, _SURROGATE_GIVEN).lower()
            return _match_case(
                original, f"{local}.{_shape('000', self.seed, original)}@example.org"
            )
        if label == "URL":
            path = _shape("aaaaaa", self.seed, original).lower()
            scheme = "https://" if "://" in original else ("www." if "www" in original else "")
            return f"{scheme}{'' if scheme == 'www.' else 'www.'}example.org/{path}"
        if label == "IP":
            h = _digest(self.seed, "ip", original)
            if ":" in original:
                return f"2001:db8::{h % 65536:x}"
            return f"192.0.2.{h % 254 + 1}"
        if label == "PHOTO":
            ext = original.rsplit(".", 1)[-1]
            return f"IMG_{_shape('0000', self.seed, original)}.{ext}"
        key = (label, original)
        if key not in self.memo:
            self.memo[key] = _shape(original, self.seed, label)
        return self.memo[key]

    def _username(self, original: str) -> str:
        """A login for a login: 'jsmith2' → 'kbarlow7', 'm.lopez' → 'r.ingram', same case."""
        key = ("USERNAME", original.lower())
        if key not in self.memo:
            sep = next((c for c in original if c in "._-"), "")
            digits = _shape(re.sub(r"\D", "", original), self.seed, "username")
            family = self.pick("family", "user:" + original, _SURROGATE_FAMILY).lower()
            given = self.pick("given", "user:" + original, _SURROGATE_GIVEN).lower()
            lead = original.split(sep)[0] if sep else ""
            stem = (
                f"{given if len(lead) > 1 else given[0]}{sep}{family}" if sep else given[0] + family
            )
            self.memo[key] = stem + digits
        return _match_case(original, self.memo[key])

    def _institution(self, label: str, original: str) -> str:
        words = original.split()
        # "Calvert Memorial Hospital" → "Fenwick Hospital"; but "sacred heart" → "Fenwick", not
        # "Fenwick heart": only a generic last word stays
        suffix = words[-1] if len(words) > 1 and _GENERIC_PLACE.fullmatch(words[-1]) else ""
        stem = self.pick("place", original, _SURROGATE_FAMILY)
        if label == "LOCATION":
            return f"{stem} {suffix}".strip() if suffix else stem
        return f"{stem} {suffix}".strip() if suffix else f"{stem} {label.title()}"

    def _month_context(self, span: Span) -> tuple[int, int] | None:
        """The month (and year) most recently named before `span`, for 'the 12th'."""
        found = None
        for other in self.spans:
            if other.start >= span.start:
                break
            if other.label == "DATE":
                parsed = parse_date(self.text[other.start : other.end])
                if parsed and parsed[0].month:
                    found = (parsed[0].month, parsed[0].year)
        return found


_AGE_WORD = re.compile(r"ninety|hundred", re.I)


def _age(original: str) -> str:
    if re.fullmatch(r"(?:18|19)\d{2}", original):
        return "90+ years ago"
    return "90+"


# --- dates --------------------------------------------------------------------------------------

_NUMERIC = re.compile(r"^(\d{1,2})([-/.])(\d{1,2})(?:\2(\d{2}|\d{4}))?$")
_ISO = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})$")
_GENERIC_PLACE = re.compile(
    r"(?i)hosp(?:ital)?|cent(?:er|re)|clinic|memorial|medical|general|infirmary|campus|college"
    r"|university|school|church|tower|house|home|manor|inc\.?|llc|corp\.?|company|co\.?|group"
    r"|county|city|town|village|street|st\.?|road|rd\.?|avenue|ave\.?|lane|drive|park|bay"
)
_YEAR_ALONE = re.compile(r"^(?P<pre>['’]?)(?P<y>(?:19|20)\d{2}|\d{2})(?P<post>['’]?)$")
_MONTH_YEAR_NUM = re.compile(r"^(\d{1,2})/(\d{4})$")
_WORDY = re.compile(
    r"^(?:(?P<m1>[A-Za-z]{3,9})\.?\s+(?P<d1>\d{1,2})(?P<o1>st|nd|rd|th)?|(?P<d2>\d{1,2})"
    r"(?P<o2>st|nd|rd|th)?\s+(?P<of>of\s+)?(?P<m2>[A-Za-z]{3,9})\.?|(?P<m3>[A-Za-z]{3,9})\.?"
    r"(?P<sep3>\s*,?\s+(?:of\s+)?))?(?P<ysep>\s*,?\s*)(?P<y>\d{4}|'\d{2})?$",
    re.I,
)
_ORDINAL = re.compile(r"^(\d{1,2})(st|nd|rd|th)$", re.I)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _month_name(original: str, month: int) -> str:
    full = MONTHS[month - 1]
    short = full[:3] if len(original.rstrip(".")) <= 4 and original.lower() != "june" else full
    if original.lower().startswith("sept") and len(original.rstrip(".")) == 4:
        short = full[:4] if month == 9 else full[:3]
    return _match_case(original, short) + ("." if original.endswith(".") else "")


def parse_date(original: str) -> tuple[date, str] | None:
    """(a date with a stand-in year where none is given, a format tag) or None."""
    s = original.strip()
    try:
        if m := _ISO.match(s):
            return date(int(m[1]), int(m[3]), int(m[4])), "iso"
        if m := _NUMERIC.match(s):
            year = m[4]
            y = _BASE_YEAR if not year else int(year) + (2000 if len(year) == 2 else 0)
            if year and len(year) == 2 and y > 2040:
                y -= 100
            return date(y, int(m[1]), int(m[3])), "numeric"
        if m := _MONTH_YEAR_NUM.match(s):
            return date(int(m[2]), int(m[1]), 15), "month-year-num"
        if (m := _WORDY.match(s)) and (mon := m["m1"] or m["m2"] or m["m3"]):
            month = _MONTH_INDEX.get(mon[:3].lower())
            if not month:
                return None
            day = int(m["d1"] or m["d2"] or 15)
            y = m["y"]
            year = _BASE_YEAR if not y else (2000 + int(y[1:]) if y.startswith("'") else int(y))
            return date(year, month, day), "wordy"
    except ValueError:
        return None
    return None


def shift_date(
    original: str, shift: int, month_ctx: tuple[int, int] | None, sur: _Surrogates
) -> str:
    s = original.strip()
    lower = s.lower()
    for i, day in enumerate(WEEKDAYS):
        if lower == day.lower():
            return _match_case(s, WEEKDAYS[(i + shift) % 7])
    if m := _ORDINAL.match(s):
        if month_ctx:
            month, year = month_ctx
            try:
                new = date(year, month, int(m[1])) + timedelta(days=shift)
            except ValueError:
                new = None
            if new:
                return _match_case(s, _ordinal(new.day))
        return _match_case(s, _ordinal(1 + _digest(sur.seed, "day", s) % 28))
    if m := _YEAR_ALONE.match(s):  # "1977", "'09", "79'", "09 PTCA": the year moves with the note
        return _shift_year(m, shift)
    parsed = parse_date(s)
    if parsed is None:
        holiday = _holiday(lower)
        if holiday is None:
            return _match_case(s, "the day") if "birthday" not in lower else "birthday"
        new = holiday + timedelta(days=shift)
        return f"{MONTHS[new.month - 1]} {_ordinal(new.day)}"
    old, kind = parsed
    new = old + timedelta(days=shift)
    if kind == "iso":
        m = _ISO.match(s)
        sep = m[2]
        return f"{new.year}{sep}{new.month:0{len(m[3])}d}{sep}{new.day:0{len(m[4])}d}"
    if kind == "numeric":
        m = _NUMERIC.match(s)
        sep = m[2]
        out = f"{new.month:0{len(m[1])}d}{sep}{new.day:0{len(m[3])}d}"
        if m[4]:
            out += sep + (f"{new.year % 100:02d}" if len(m[4]) == 2 else str(new.year))
        return out
    if kind == "month-year-num":
        return f"{new.month:0{len(s.split('/')[0])}d}/{new.year}"
    return _shift_wordy(s, new)


def _shift_year(m: re.Match, shift: int) -> str:
    digits = m["y"]
    year = int(digits) if len(digits) == 4 else 2000 + int(digits)
    if len(digits) == 2 and year > datetime.now(UTC).year:
        year -= 100  # "79'" is 1979
    # A year alone could be any day of it: it moves one year the way the note's dates move, so
    # it always changes and stays in order with them
    new = year + (1 if shift > 0 else -1)
    return f"{m['pre']}{new if len(digits) == 4 else f'{new % 100:02d}'}{m['post']}"


def _shift_wordy(s: str, new: date) -> str:
    m = _WORDY.match(s)
    year = m["y"]
    y_out = ""
    if year:
        y_out = m["ysep"] + (f"'{new.year % 100:02d}" if year.startswith("'") else str(new.year))
    if m["m1"]:
        day = _ordinal(new.day) if m["o1"] else str(new.day)
        gap = s[len(m["m1"]) : s.index(m["d1"], len(m["m1"]))]
        return f"{_month_name(m['m1'], new.month)}{gap.lstrip('.')}{day}{y_out}"
    if m["m2"]:
        day = _ordinal(new.day) if m["o2"] else str(new.day)
        return f"{day} {m['of'] or ''}{_month_name(m['m2'], new.month)}{y_out}"
    return f"{_month_name(m['m3'], new.month)}{m['sep3'] or ''}{y_out.lstrip(',')}".rstrip()


def _holiday(lower: str) -> date | None:
    y = _BASE_YEAR
    fixed = {
        "christmas": (12, 25), "xmas": (12, 25), "new year": (1, 1), "halloween": (10, 31),
        "independence": (7, 4), "july": (7, 4), "valentine": (2, 14), "veteran": (11, 11),
        "patrick": (3, 17), "juneteenth": (6, 19), "boxing": (12, 26),
    }  # fmt: skip
    for key, (month, day) in fixed.items():
        if key in lower:
            return date(y, month, day) - timedelta(days=1 if " eve" in lower else 0)
    if "thanksgiving" in lower:
        return date(y, 11, 22)
    if "easter" in lower or "good friday" in lower:
        return date(y, 4, 15)
    return date(y, 6, 1) if lower else None


def redact(text: str, spans: Sequence[Span], *, seed: int, mode: str = "surrogate") -> Redacted:
    """Replace each span; surrogates are consistent within the note and fixed by `seed`."""
    if mode not in {"surrogate", "placeholder"}:
        raise ValueError(f"unknown redaction mode {mode!r}")
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    sur = _Surrogates(text, seed, ordered)
    parts: list[str] = []
    replacements: list[tuple[Span, str]] = []
    pos = 0
    for span in ordered:
        if span.start < pos:  # overlapping input: the earlier span already covered it
            continue
        if span.label not in LABELS:
            raise ValueError(f"unknown label {span.label!r}")
        new = f"[{span.label}]" if mode == "placeholder" else sur.replace(span)
        parts.append(text[pos : span.start])
        parts.append(new)
        replacements.append((span, new))
        pos = span.end
    parts.append(text[pos:])
    return Redacted("".join(parts), replacements)
