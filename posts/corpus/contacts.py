"""Find e-mail addresses and phone numbers in post text, for review before training.

Every pattern runs in linear time: a match can only start where the character before it cannot
continue it (a lookbehind rejects every other position at once), and every repetition has a
small upper bound, so the work per start position is bounded by a constant.
"""

import re
from dataclasses import dataclass

_AT = r"(?:@|\s?[\[({<]\s?(?i:at)\s?[\])}>]\s?)"
_DOT = r"(?:\.|\s?[\[({<]\s?(?i:dot)\s?[\])}>]\s?)"
_EMAIL = re.compile(
    rf"(?<![\w.%+-])[\w.%+-]{{1,64}}{_AT}"
    # "logo@2x.png" is a retina image, not an address.
    rf"(?!\d{{1,2}}x\.)(?:[A-Za-z0-9-]{{1,63}}{_DOT}){{1,8}}[A-Za-z]{{2,24}}(?![\w-])"
)

# Not preceded by a word character, "+", or a digit and separator (the tail of a date, ISBN or
# version number); not followed by a word character or by a separator and digit.
_START = r"(?<![\w+])(?<!\d[./-])"
_END = r"(?![\w+])(?![./-]\d)"
_PHONE = re.compile(
    # Every number starts with a digit, "(" or "+": checking that first skips most positions at
    # the cost of one comparison (eight times faster on ordinary prose).
    r"(?=[\d(+])(?:"
    + "|".join(
        (
            # tel: links, whatever the format after them.
            r"(?<=tel:)\+?\d[\d().-]{4,24}\d",
            # International: +CC then groups split by one separator, "(0)" trunk prefix allowed.
            rf"{_START}\+\d{{1,3}}(?:[ .-]?\(0\))?"
            rf"(?:[ .-]?\(\d{{1,4}}\)|(?:[ .-]|(?<=\)))\d{{1,8}}){{1,6}}{_END}",
            rf"{_START}\+\d{{8,15}}{_END}",
            # US: (555) 123-4567, 555-123-4567, 555.123.4567, 1-800-555-1234; one separator kind.
            rf"{_START}(?:1[ .-]?)?\(\d{{3}}\)[ ]?\d{{3}}[ .-]\d{{4}}{_END}",
            rf"{_START}(?:1([ .-]))?\d{{3}}([ .-])\d{{3}}\2\d{{4}}{_END}",
            # National with a trunk 0: 020 7946 0958, 0121 496 0000, 030 1234567, 01 23 45 67 89.
            rf"{_START}(?:\(0\d{{1,4}}\)|0\d{{1,4}})[ -]\d{{3,8}}(?:[ -]\d{{2,8}}){{0,2}}{_END}",
            rf"{_START}0[1-9](?:[ .]\d{{2}}){{4}}{_END}",
        )
    )
    + ")",
    re.IGNORECASE,
)
# Digit counts that make a real number: E.164 allows at most 15; national numbers with a trunk 0
# have 9 to 12 digits (UK 10-11, Germany up to 12).
_INTERNATIONAL_DIGITS = range(8, 16)
_NATIONAL_DIGITS = range(9, 13)


@dataclass(frozen=True)
class ContactFinding:
    kind: str  # "email" | "phone"
    start: int
    end: int
    text: str


def find_contact_details(text: str) -> list[ContactFinding]:
    """E-mail addresses (also "name [at] domain [dot] com") and phone numbers, by position.

    Years, dates, times, prices, percentages, ISBNs, version numbers, DSM codes and plain
    counts are not phone numbers; neither are US seven-digit local numbers ("555-1234"),
    which look too much like other codes.
    """
    findings = [
        ContactFinding("email", match.start(), match.end(), match[0])
        for match in _EMAIL.finditer(text)
    ]
    findings += [
        ContactFinding("phone", match.start(), match.end(), match[0])
        for match in _PHONE.finditer(text)
        if _plausible_phone(match[0], text[max(0, match.start() - 4) : match.start()])
    ]
    findings.sort(key=lambda finding: (finding.start, -finding.end))
    kept: list[ContactFinding] = []
    for finding in findings:
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept


def _plausible_phone(candidate: str, before: str) -> bool:
    if before.lower() == "tel:":
        return True
    digits = sum(char.isdigit() for char in candidate.replace("(0)", ""))
    if candidate.startswith("+"):
        return digits in _INTERNATIONAL_DIGITS
    if candidate.lstrip("(").startswith("0"):
        return digits in _NATIONAL_DIGITS
    return True
