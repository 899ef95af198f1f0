"""Layer 1: validated patterns for identifiers with a shape (dates, numbers, addresses).

Every regex here is linear: quantified groups are separated by fixed delimiters or bounded, so a
hostile note cannot make one backtrack catastrophically.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from . import lexicon as lx
from .lexicon import HOLIDAYS, US_STATES
from .spans import Deadline, Span

Add = Callable[..., None]

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_ORD = r"(?:st|nd|rd|th)"
_YEAR = r"(?:\d{4}|'\d{2})"

DATE_RES = [
    # March 4th, 2021 / Mar. 4 / Jan 5th
    re.compile(rf"\b{_MONTH}\.?\s+\d{{1,2}}{_ORD}?\b(?:\s*,?\s*{_YEAR}\b)?", re.I),
    # 5 January 2021 / 4th of March
    re.compile(rf"\b\d{{1,2}}{_ORD}?\s+(?:of\s+)?{_MONTH}\b\.?(?:\s*,?\s*{_YEAR}\b)?", re.I),
    # March 2021 / Sept of 2019
    re.compile(rf"\b{_MONTH}\.?\s*,?\s+(?:of\s+)?\d{{4}}\b", re.I),
    # 05-Jan-2021
    re.compile(rf"\b\d{{1,2}}[-/ ]{_MONTH}[-/ ]\d{{2,4}}\b", re.I),
    # 2021-03-04, 2021/3/4
    re.compile(r"(?<![\d/.-])(?:19|20)\d{2}([-/.])\d{1,2}\1\d{1,2}(?![\d/-])"),
    # 3/4/2021, 03-04-21, 3.4.21
    re.compile(r"(?<![\d/.])(?<!\d-)\d{1,2}([-/.])\d{1,2}\1(?:\d{4}|\d{2})(?![\d/-]|\.\d)"),
    # 3/2021
    re.compile(r"(?<![\d/.-])(?:0?[1-9]|1[0-2])/(?:19|20)\d{2}(?![\d/-])"),
    re.compile(r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b", re.I),
    re.compile(r"\b(?:" + "|".join(re.escape(h) for h in HOLIDAYS) + r")\b", re.I),
    re.compile(r"\bbirthday\b", re.I),
    # a year written short in a history list: "CABG '92", "'09 PTCA", "repair in 14'"
    re.compile(r"(?<![\w'’])['’]\d{2}(?![\w'’]|\.\d)"),
    re.compile(r"(?<![\w'’./-])\d{2}['’](?![\w'’\d])"),
]
_MAY_RE = re.compile(
    r"\b(?:early|mid|late|in|since|until|by|during|last|next|this|of|from)[\s-](May|MAY)\b", re.I
)
_FULL_MONTH = re.compile(
    r"\b(?:January|February|March|April|June|July|August|September|October|November|December"
    r"|JANUARY|FEBRUARY|MARCH|APRIL|JUNE|JULY|AUGUST|SEPTEMBER|OCTOBER|NOVEMBER|DECEMBER)\b"
)
# m/d, and m/yy in history lists ("echo 8/87"); a hyphen before is a word's ("TOXICITY-9/2")
_MONTH_DAY = re.compile(r"(?<![\d/,])(?<!\d[.-])(\d{1,2})/(\d{1,2})(?![\d/%]|\.\d)")
_NOT_DATE_BEFORE = re.compile(
    r"(?:\bbp|b/p|blood pressure|pressure|\bpain|strength|power|motor|murmur|grade|score|scale"
    r"|ratio|reflex(?:es)?|dtrs?|gcs|apgar|rated?|\bx|\bout of|\bsbp|\bdbp|\bvision|acuity"
    r"|\bva|\bdose|\btake|\btab(?:let)?s?|\bvitals?|\bpupils?|\bgravida|\bg\d|\bp\d|->|→)"
    r"[\s:=-]*(?:was|is|of|at)?[\s:=-]*$",
    re.I,
)
_NOT_DATE_AFTER = re.compile(
    r"^\s*(?:mm\s*hg|mmhg|pain|strength|murmur|systolic|diastolic|bilat|throughout|in all|of\b"
    r"|tabs?\b|tablets?\b|dose|power|score|scale|on the|at rest|sec|min|\(|cm|mm|mg|ml"
    r"|%|x\b|times|power|motor|reflex|up\b|->|→)",
    re.I,
)
_FRACTIONS = {(1, 2), (1, 3), (1, 4), (2, 3), (3, 4)}
_DATE_PAIR = re.compile(r"(?<![\d/.])(\d{1,2}/\d{1,2})[-/](\d{1,2}/\d{1,2})(?![\d/]|\.\d)")
_DAY_MONTH_SHORT_YEAR = re.compile(
    rf"\b\d{{1,2}}\s+{_MONTH}\.?,\s*\d{{2}}\b(?!\s*(?:mg|ml|cc|units?|%|mcg|mm|cm)\b)", re.I
)


# "returned to OR on 7-8 for coiling": a day after "on", unless a unit follows ("on 2-3 L").
_ON_MONTH_DASH_DAY = re.compile(r"\b(?:on|since|from|until)\s+(\d{1,2})-(\d{1,2})(?![\d/.-])", re.I)
_WORD_AFTER = re.compile(r"\s*(%|[^\W\d_]+)?")
_NOT_UNITS = frozenset(["for", "and", "with", "at", "in", "to", "when", "after", "before", "per"])
# A year alone. 1960-1999 cannot be a clock time ("at 1900" is), so bare it is a year unless a unit
# or an intake/output reading follows ("s/p resection 1977", never "IN 1980 OUT 1200" or "1975cc");
# 2000-2049 reads as a time unless a year's cue comes first ("its 2019", "in 2012").
_NOT_AFTER_YEAR = (
    r"(?![\d/:%-]|[.,]\d|\s*(?:cc|mls?|l|mg|g|gms?|kcal|cal|u|units?|mcg|lbs?|kg|hrs?|h|min|ms|out|in"
    r"|to|x|/)\b)"
)
# A two-digit year before a procedure in a history list: "09 PTCA to LCX", "13 stent" (a count
# of stents is one digit; "'09 PTCA" is above)
_SHORT_YEAR_BEFORE_EVENT = re.compile(
    r"(?<![\w'’./:-])(\d{2})\s+(?:PTCA|PCI|CABG|stents?|N?STEMI|MI|AVR|MVR|ablation|PPM|AICD|CVA"
    r"|TIA)\b",
    re.I,
)
# A vital sign or a lab before a number makes it a reading: "HR 88 MI ruled out"
_READING_BEFORE = re.compile(
    r"(?i)\b(?:hr|rr|sats?|spo2|o2|temp|t|bp|map|cvp|pap|k|na|ef|rate|hct|hgb|wbc|plt|inr|ptt|glu"
    r"|bs|fs|ci|co|svr|peep|fio2|vt|ps)\s*[:=]?\s*$"
)
_BARE_YEAR = re.compile(rf"(?<![\d.,/:+=-])\b(19[6-9]\d)\b{_NOT_AFTER_YEAR}", re.I)
_CUED_YEAR = re.compile(rf"(?i)\b(?:in|its|it's|since|year|yr|of)\s+(20[0-4]\d)\b{_NOT_AFTER_YEAR}")


def _unit_follows(text: str, end: int) -> bool:
    word = _WORD_AFTER.match(text, end).group(1)
    return bool(word) and word.lower() not in _NOT_UNITS


def _month_day(value: str) -> bool:
    month, day = (int(part) for part in value.split("/"))
    return 1 <= month <= 12 and 1 <= day <= 31


_DATE_CUE_BEFORE = re.compile(
    r"(?:\bon|\bsince|\bfrom|\buntil|\bdated?|\bdob|\badmitted|\bdischarged|\bseen|\bvisit"
    r"|\bthrough|\bby|\bbefore|\bafter|\bsurgery|\bdos|\bdoa)\s*:?\s*$",
    re.I,
)
_ORDINAL_DAY = re.compile(
    r"\bthe\s+(\d{1,2}(?:st|nd|rd|th))\b(?=\s*(?:$|[.,;:)!?]|(?:of|at|and|when|to|through|in"
    r"|for|after|before|until|around|or|she|he|they|we|the|pt|patient|by|with|was|is|during"
    r"|this|last|next)\b))",
    re.I,
)

_AGE_NUM = r"(9\d|1[01]\d)"
AGE_RES = [
    re.compile(
        rf"(?<![\d.,/])\b{_AGE_NUM}\s*-?\s*(?=(?:y/?o\b|y\.o\.?|yrs?\b|years?\b|yr-old|year-old"
        r"|yo[fm]?\b|y[fm]\b|[fm]\b|-?year))",
        re.I,
    ),
    re.compile(rf"\b(?:aged?|age of|age:|turned|turns|turning)\s*:?\s*{_AGE_NUM}\b(?!\s*%)", re.I),
    re.compile(
        rf"\b(?:patient|pt|she|he|who|mother|father|mom|dad)\s+(?:is|was)\s+{_AGE_NUM}\b"
        r"(?!\s*(?:%|mg|kg|lb|bpm|mm|/|\.\d|percent|beats|over))",
        re.I,
    ),
    re.compile(r"\b(?:in\s+(?:his|her|their|the)\s+(?:early\s+|mid\s+|late\s+)?)(9\d'?s)\b", re.I),
    re.compile(r"\b(?:in\s+(?:his|her|their)\s+(?:early\s+|mid\s+|late\s+)?)(nineties)\b", re.I),
    re.compile(
        rf"\b(?:died|passed away|passed|deceased|death|expired)\s+(?:at|aged?)\s+(?:age\s+)?"
        rf"{_AGE_NUM}\b",
        re.I,
    ),
    re.compile(
        r"\b(?:mother|father|grandmother|grandfather|husband|wife|aunt|uncle|sister|brother"
        rf"|spouse|mom|dad|neighbou?r|friend)\s*(?:\([^)\n]{{0,40}}\)\s*)?[,(]\s*{_AGE_NUM}"
        r"\s*[,;:)]",
        re.I,
    ),
]
_AGE_WORDS = re.compile(
    r"\b((?:ninety|one[\s-]hundred(?:[\s-]and)?|a[\s-]hundred(?:[\s-]and)?)(?:[\s-]+(?:one|two"
    r"|three|four|five|six|seven|eight|nine|ten))?)(?=[\s-]+(?:years?|yo\b|y/o|-year)|\s*(?:yo|y/o))",
    re.I,
)
_AGE_WORDS_CUE = re.compile(
    r"\b(?:aged?|age of|turned|turns|is|was)\s+((?:ninety|one[\s-]hundred|a hundred)"
    r"(?:[\s-]+(?:one|two|three|four|five|six|seven|eight|nine))?)\b",
    re.I,
)
_BORN = re.compile(
    r"\b(?:born(?:\s+in)?|b\.|yob|year of birth:?|dob:?|birth year:?)\s*((?:18|19)\d{2})\b", re.I
)

_TEMP_BEFORE = re.compile(r"(?:\btemp(?:erature)?|\bt|°|\btmax|\bfever of)\s*:?\s*$", re.I)

PHONE_RE = re.compile(
    r"(?<![\w/.-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s*|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
    r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?(?![\w-]|\.\d)",
    re.I,
)
PHONE_INTL_RE = re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]\(?\d{1,5}\)?){2,5}(?![\w-])")
PHONE_LOCAL_RE = re.compile(r"(?<![\w/.-])\d{3}-\d{4}(?![\w-])")
PHONE_EXT_RE = re.compile(r"\b(?:ext\.?|extension|x)\s*(\d{3,6})\b", re.I)
PHONE_CUE = re.compile(
    r"(?:call|phone|tel|telephone|cell|mobile|pager|page|beeper|contact|reach|number|#|home"
    r"|work|ph|c|h|w|p|m|fax|f)\s*[.:#]?\s*(?:is|at|number|no\.?)?\s*:?\s*$",
    re.I,
)
PHONE_BARE_RE = re.compile(r"(?<![\w.-])\d{10}(?![\w-])")
# Free formats people type: "201/324/1423", "212- 476- 8356", "617 / 555 / 0142".
PHONE_LOOSE_RE = re.compile(
    r"(?<![\w/.-])\(?\d{3}\)?\s?[-/.]\s?\d{3}\s?[-/.]\s?\d{4}(?![\w/-]|\.\d)"
)
# A pager number is a bare 4-6 digits after its cue: "Pager: #54321", "PG 33445", "pgr 27190".
PAGER_RE = re.compile(
    r"\b(?:pager|pgr|pg|beeper|bpr)\b\s*[.:#]*\s*(?:#|no\.?|number)?\s*(\d{4,6})\b", re.I
)
FAX_CUE = re.compile(
    r"(?:\bfax|\bfacsimile|\bf\s*[:#.]|\bfx\s*[:#.]?)[^\n\d]{0,15}$",
    re.I,
)
EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,6}")
URL_RE = re.compile(
    r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'()\[\]]{2,2000}|"
    r"(?<![@\w.-])(?:[a-z0-9-]{1,63}\.){1,4}(?:com|org|net|edu|gov|io|us|info|biz|health|co"
    r"|me|uk|ca|de|fr|ly|app|site)\b(?:/[^\s<>\"'()\[\]]{0,2000})?",
    re.I,
)
IPV4_RE = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\d]|\.\d)"
)
IPV6_RE = re.compile(
    r"(?<![\w:])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}"
    r"|(?:[0-9a-f]{1,4}:){1,7}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?"
    r"|::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6}))(?![\w:])",
    re.I,
)
MAC_RE = re.compile(r"(?<![\w:-])(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}(?![\w:-])", re.I)
SSN_RE = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
SSN_MASKED_RE = re.compile(r"(?<![\w-])[xX*#]{3}-?[xX*#]{2}-?\d{4}(?![\w-])")
SSN_CUE_RE = re.compile(
    r"\b(?:ssn|ss#|s\.s\.n\.?|soc(?:ial)?\.?\s*sec(?:urity)?(?:\s*(?:no|number|#))?)"
    r"[^\d\n]{0,40}?(\d{3}[- ]?\d{2}[- ]?\d{4}|\d{4})(?!\d)",
    re.I,
)

# The identifier itself: a first group, then up to four more separated by a space or a dash
# ("CDL 984 034 442", "SN 24-FUMGK", "plate GUN 173"); it must hold a digit somewhere.
_ID_PART = (
    r"(?=[A-Za-z0-9/.:\- ]{0,40}\d)((?:[A-Z0-9][A-Z0-9/.:-]{0,40}[A-Z0-9])|[A-Z0-9])"
    r"((?: [A-Z0-9][A-Z0-9/-]{0,20}){0,4})"
)
_FILLER = (
    r"(?:[\s:#.=(-]|\b(?:no|num|number|id|is|of|was|reads?|ending in|ends in|code|with)\b){0,12}"
)


def _context_re(keywords: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{keywords})\b{_FILLER}{_ID_PART}", re.I)


CONTEXT_IDS: list[tuple[str, re.Pattern[str]]] = [
    (
        # "MR" only before a number or ":"/"#": "Mr. John Smith on 555-…" is a title and a phone.
        "MRN",
        _context_re(
            r"mrn|mr#|mr(?=\s*[:#]|\s+\d)|med(?:ical)?\s*rec(?:ord)?s?|record|chart|hospital\s*#"
            r"|unit\s*no|patient\s*id|pt\s*id|ehr\s*id|emr\s*id"
        ),
    ),
    (
        "HEALTH_PLAN",
        _context_re(
            r"member(?:ship)?|policy|insurance(?:\s*(?:id|card))?|subscriber|health\s*plan"
            r"|plan\s*(?:id|#|no|number)|group\s*(?:id|#|no|number)|medicare|medicaid|beneficiary"
            r"|hicn|mbi|bcbs|insured|payer\s*id"
        ),
    ),
    (
        "ACCOUNT",
        _context_re(
            r"acc(?:oun)?t|acct|billing|invoice|bank\s*account|credit\s*card|card|routing|iban"
        ),
    ),
    (
        "VEHICLE",
        _context_re(
            r"(?:license|licence)\s*plate|plate|tag|vin|vehicle(?:\s*identification)?|registration"
            r"|truck|car|sedan|suv|van|pickup|motorcycle|minivan|jeep"
        ),
    ),
    (
        "LICENSE",
        _context_re(
            r"(?:driver'?s|drivers|driving)\s*(?:license|licence|lic)|dl|cdl|(?:license|licence)"
            r"(?!\s*plate)|lic|dea|npi|state\s*license|medical\s*license|certificate|cert"
            r"|board\s*certification|registration\s*no|passport"
        ),
    ),
    (
        "DEVICE",
        _context_re(
            r"serial|s/n|sn|udi|device(?:\s*(?:id|identifier))?|model|lot|imei|implant(?:\s*id)?"
            r"|pacemaker|icd\s*serial|pump\s*serial|defibrillator|hearing\s*aid|stimulator"
            r"|catalog|ref"
        ),
    ),
    (
        "BIOMETRIC",
        _context_re(
            r"(?:fingerprint|finger\s*print|thumbprint|retina[l]?|iris|voice\s*print|voiceprint"
            r"|palm\s*print|facial|face|biometric|dna|gait)(?:\s*(?:scan|template|print|sample"
            r"|profile|record|signature|recognition|geometry))?"
        ),
    ),
    (
        "ID",
        _context_re(
            r"id|identifier|badge|employee|case|claim|study|reference|ref\s*#|account\s*holder"
            r"|tracking|ticket|specimen|accession|barcode|wristband|bracelet"
        ),
    ),
]
# Codes a person or an encounter is known by, after a cue that names them: "confirmation #
# K7Q2P9", "auth code 58213", "requisition: RQ-20417", "locker 214". One token with a digit;
# "code" alone needs a ":"/"#" ("code: XJ42"), and never after a clinical code system.
_CODE_NUM = r"(?:\s*(?:#|no\.?|num(?:ber)?|id|code))?"
_MISC_CODE_RE = re.compile(
    r"\b(?:(?:confirmation|conf|authori[sz]ation|auth|pre-?cert(?:ification)?|approval"
    r"|requisition|req|voucher|locker|booking|reservation|transaction|receipt|docket|permit"
    rf"|accession|specimen|sample|barcode|ticket|tracking|reference|ref|pin){_CODE_NUM}"
    r"|(?:access|door|gate|lockbox|key|entry|security|promo|verification|tracking|case|order"
    r"|encounter|visit|referral|request|report|incident|control|file|kit|lab|batch|fin|csn|claim"
    r"|episode|event|document|doc|form|job|work\s+order|service|account)\s*(?:#|no\.?"
    r"|num(?:ber)?|id|code)|csn|fin|(?<![\w-])code(?=\s*[:#=]))"
    r"\s*[:#=]?\s*((?=[A-Za-z0-9-]{0,30}\d)[A-Za-z0-9][A-Za-z0-9-]{1,30}[A-Za-z0-9])"
    r"(?![\w/]|[.:,]\d)",
    re.I,
)
_CLINICAL_CODE_BEFORE = re.compile(
    r"(?:icd(?:-?\s?(?:9|10)(?:-cm)?)?|cpt|loinc|snomed|hcpcs|drg|ndc|rxnorm|billing|diagnosis|dx"
    r"|procedure|modifier|e/m|cdt|mesh|umls)\W*(?:code)?\W*$",
    re.I,
)
_UNIT_AFTER = re.compile(
    r"\s*(?:mg|mcg|g|gm|ml|cc|l|kg|lb|units?|u|meq|mmol|mmhg|%|x\b|times|hrs?|min|cm|mm|bpm"
    r"|tabs?|caps?|puffs?|drops?|doses?|am|pm)\b",
    re.I,
)

_ID_LOOKS_LIKE_UNIT = re.compile(
    r"^\d{1,5}(?:\.\d+)?(?:mg|mcg|mcgs|ml|cc|l|g|gm|kg|lb|lbs|cm|mm|units?|u|mmhg|%|bpm|hrs?|h|min"
    r"|mins|mph|mphr|meq|mmol|ips|peep|psv|ps|fio2|lpm|am|pm|x)$",
    re.I,
)
_RANGE = re.compile(r"^(\d{1,4})-{1,2}(\d{1,4})(?:[a-z]{1,4}|'?s)?$", re.I)
# A reading, not a number anyone is known by: "temp 99po", "hr 101", "o2 sat 98%".
_READING = re.compile(r"^\d{1,3}(?:[.,]\d+(?:[a-z]{1,3}|%)?|[a-z]{1,3}|%)$", re.I)


def _a_range(value: str) -> bool:
    """'98-100', '272-359', '1300-1800': readings or clock times from-to, not an identifier.
    Two 4-digit groups are a range only when both are clock times ('4021-3388' is an ID)."""
    m = _RANGE.match(value)
    if not m:
        return False
    low, high = m.groups()
    if len(low) < 4 or len(high) < 4:
        return True
    return all(int(v[:2]) <= 24 and int(v[2:]) < 60 for v in (low, high))


DEA_RE = re.compile(r"\b[A-Z][A-Z9]\d{7}\b")
VIN_RE = re.compile(
    r"\b(?=[A-HJ-NPR-Z0-9]{0,16}\d)(?=[A-HJ-NPR-Z0-9]{0,16}[A-HJ-NPR-Z])"
    r"[A-HJ-NPR-Z0-9]{17}\b"
)
UDI_RE = re.compile(r"\(01\)\d{14}(?:\(\d{2}\)[\w.-]{1,20}){0,4}")
PHOTO_RE = re.compile(
    r"(?<![\w.-])[\w-]{1,80}(?:\.[\w-]{1,40}){0,3}\.(?:jpe?g|png|gif|bmp|tiff?|heic|heif|webp"
    r"|dcm|raw|svg|mov|mp4|avi)\b",
    re.I,
)
TATTOO_RE = re.compile(
    r"\btattoo(?:ed|s)?\b[^\n\"'“‘]{0,60}?(?:[\"“]([^\"”\n]{1,80})[\"”]"
    r"|['‘]((?:[^'’\n]|['’](?=\w)){1,80})['’])",
    re.I,
)
TATTOO_BARE_RE = re.compile(
    r"\btattoo(?:ed|s)?\s+(?:reading|that reads|which reads|saying|that says|says|reads|of"
    r"|with)\s+(?![\"'“‘])([A-Z0-9][A-Z0-9&+ ]{0,40}[A-Z0-9])",
)
GENERIC_ID_RE = re.compile(
    r"(?<![\w/.-])(?=[A-Za-z0-9-]{0,40}\d)[A-Za-z0-9][A-Za-z0-9-]{5,40}"
    r"(?![\w/]|\.\w)"
)
_LOINC_OR_ICD = re.compile(r"^(?:\d{3,5}-\d|[A-Z]\d{2}(?:\.\d{1,4})?|\d{5}|[A-Z]{1,3}-?\d{1,3})$")

_STATE_ABBR = "|".join(US_STATES)
_STATE_NAMES = "|".join(re.escape(s) for s in US_STATES.values())
ZIP_RES = [
    re.compile(rf"(?:\b(?:{_STATE_ABBR})\.?|\b(?:{_STATE_NAMES}))\s*,?\s+(\d{{5}}(?:-\d{{4}})?)\b"),
    re.compile(rf"(?i:\b(?:{_STATE_NAMES}))\s*,?\s+(\d{{5}}(?:-\d{{4}})?)\b"),
    re.compile(
        r"(?i:\b(?:zip|zip\s*code|zipcode|postal\s*code|postcode)\b)[\s:#-]{0,5}"
        r"(\d{5}(?:-\d{4})?)\b"
    ),
    re.compile(r"(?<![\d-])(\d{5}-\d{4})(?![\d-])"),
]
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Circle|Cir|Way"
    r"|Place|Pl|Terrace|Ter|Parkway|Pkwy|Highway|Hwy|Trail|Trl|Square|Sq|Alley|Loop|Pike|Row|Path"
    r"|Crescent|Close|Plaza|Turnpike|Expressway|Freeway"
    r"|STREET|ST|AVENUE|AVE|ROAD|RD|BOULEVARD|BLVD|LANE|LN|DRIVE|DR|COURT|CT|CIRCLE|CIR|WAY"
    r"|PLACE|PL|TERRACE|PARKWAY|PKWY|HIGHWAY|HWY|TRAIL|SQUARE|LOOP|PIKE|PLAZA)"
)
STREET_RE = re.compile(
    r"\b\d{1,6}[A-Za-z]?(?:-\d{1,4})?\s+((?:[A-Z0-9][\w'’.-]{0,30}\s+){1,4}?)"
    + _STREET_SUFFIX
    + r"\b\.?(?:\s*,?\s*(?:(?i:apt|apartment|unit|suite|ste|fl|floor|rm|room|bldg)\.?\s*#?|#)\s*"
    r"[\w-]{1,8})?"
)
_STREET_STOP = {
    "by", "ago", "with", "to", "and", "the", "of", "for", "in", "on", "at", "from", "seen", "was",
    "weeks", "days", "months", "years", "hours", "times", "mg", "ml", "tabs", "visits", "per",
    "is", "a", "an", "then", "after", "before", "since", "called", "told", "saw", "met", "not",
    "dear", "pt", "patient", "am", "pm",
}  # fmt: skip
PO_BOX_RE = re.compile(r"\b(?:P\.?\s?O\.?\s*Box|Post\s+Office\s+Box)\s+\d{1,8}\b", re.I)
ROOM_RE = re.compile(
    r"\b(?:room|rm|bed|ward|bay|suite|ste|floor|pod|cubicle|apt|apartment)\.?\s*(?:#|no\.?)?\s*"
    r"(\d{1,5}[A-Z]?(?:-[A-Z0-9]{1,3})?|[A-Z]-?\d{1,4}[A-Z]?)\b",
    re.I,
)
COUNTY_RE = re.compile(
    r"\b((?:[A-Z][\w'’.-]{1,30}\s+){1,3}(?:County|Parish|Borough|Township|Twp|COUNTY|PARISH"
    r"|BOROUGH|TOWNSHIP))\b"
)
NEIGHBORHOOD_RE = re.compile(
    r"\b(?:neighbou?rhood|area|district|section|suburb|community|village|town)\s+(?:of|called)"
    r"\s+((?:[A-Z][\w'’.-]{1,30})(?:\s+[A-Z][\w'’.-]{1,30}){0,3})",
    re.I,
)


def dea_valid(code: str) -> bool:
    d = [int(c) for c in code[2:]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def ssn_valid(area: str, group: str, serial: str) -> bool:
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


def find_dates(text: str, add: Add, deadline: Deadline) -> None:
    for rx in DATE_RES:
        for m in rx.finditer(text):
            add(m.start(), m.end(), "DATE")
        deadline.check()
    for m in _MAY_RE.finditer(text):
        if m.group(1)[0] == "M":
            add(m.start(1), m.end(1), "DATE", confidence=0.8)
    for m in _FULL_MONTH.finditer(text):
        add(m.start(), m.end(), "DATE", confidence=0.8)
    for m in _MONTH_DAY.finditer(text):
        month, day = int(m.group(1)), int(m.group(2))
        month_year = len(m.group(2)) == 2 and day > 31  # "8/87": no day is 87
        if not (1 <= month <= 12 and (1 <= day <= 31 or month_year)):
            continue
        before = text[max(0, m.start() - 30) : m.start()]
        after = text[m.end() : m.end() + 15]
        if (month, day) in _FRACTIONS and not _DATE_CUE_BEFORE.search(before):
            continue  # "rales 1/3 up", "crackles 1/2 way": a fraction
        if _DATE_CUE_BEFORE.search(before) or not (
            _NOT_DATE_BEFORE.search(before) or _NOT_DATE_AFTER.match(after)
        ):
            add(m.start(), m.end(), "DATE", confidence=0.85)
    for m in _ORDINAL_DAY.finditer(text):
        add(m.start(1), m.end(1), "DATE")
    for m in _DATE_PAIR.finditer(text):  # "10/15-10/16", "10/03/10/04": from one day to another
        if all(_month_day(g) for g in (m.group(1), m.group(2))):
            add(m.start(1), m.end(1), "DATE", confidence=0.85)
            add(m.start(2), m.end(2), "DATE", confidence=0.85)
    for m in _ON_MONTH_DASH_DAY.finditer(text):  # "returned to OR on 7-8 for coiling"
        if _month_day(f"{m.group(1)}/{m.group(2)}") and not _unit_follows(text, m.end()):
            add(m.start(1), m.end(), "DATE", confidence=0.7)
    for m in _DAY_MONTH_SHORT_YEAR.finditer(text):  # "28 Oct, 88"
        add(m.start(), m.end(), "DATE", confidence=0.85)
    deadline.check()


def find_ages(text: str, add: Add, deadline: Deadline) -> None:
    for rx in AGE_RES:
        for m in rx.finditer(text):
            before = text[max(0, m.start() - 12) : m.start(1)]
            if rx is AGE_RES[0] and _TEMP_BEFORE.search(before):
                continue
            add(m.start(1), m.end(1), "AGE")
    for rx in (_AGE_WORDS, _AGE_WORDS_CUE):
        for m in rx.finditer(text):
            add(m.start(1), m.end(1), "AGE")
    limit = datetime.now(UTC).year - 90
    for m in _BORN.finditer(text):
        if int(m.group(1)) <= limit:
            add(m.start(1), m.end(1), "AGE")
    deadline.check()


def find_contact(text: str, add: Add, deadline: Deadline) -> None:
    def phone(start: int, end: int, confidence: float = 1.0) -> None:
        before = text[max(0, start - 25) : start]
        add(start, end, "FAX" if FAX_CUE.search(before) else "PHONE", confidence=confidence)

    for rx in (PHONE_RE, PHONE_INTL_RE, PHONE_LOOSE_RE):
        for m in rx.finditer(text):
            phone(m.start(), m.end())
    for m in PAGER_RE.finditer(text):
        phone(m.start(1), m.end(1), 0.9)
    for rx in (PHONE_LOCAL_RE, PHONE_BARE_RE):
        for m in rx.finditer(text):
            if PHONE_CUE.search(text[max(0, m.start() - 20) : m.start()]):
                phone(m.start(), m.end(), 0.8)
    for m in PHONE_EXT_RE.finditer(text):
        if re.search(
            r"(?:call|phone|tel|ext|extension|pager|at)\W*$", text[: m.start()][-15:], re.I
        ):
            phone(m.start(1), m.end(1), 0.7)
    deadline.check()
    for m in EMAIL_RE.finditer(text):
        add(m.start(), m.end(), "EMAIL")
    for m in URL_RE.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in ".,;:!?":
            end -= 1
        if PHOTO_RE.fullmatch(text, m.start(), end):
            continue
        add(m.start(), end, "URL")
    for m in IPV4_RE.finditer(text):
        add(m.start(), m.end(), "IP")
    for m in IPV6_RE.finditer(text):
        value = m.group()
        if (
            len(value) >= 6
            and sum(ch == ":" for ch in value) >= 2
            and any(c.isdigit() for c in value)
        ):
            add(m.start(), m.end(), "IP")
    for m in MAC_RE.finditer(text):
        add(m.start(), m.end(), "DEVICE")
    deadline.check()


def _id_span(m: re.Match[str]) -> tuple[int, int]:
    """Keep extra groups while they hold digits, or are a short code before digits ('GUN 173')."""
    start, end = m.start(1), m.end(1)
    first = m.group(1)
    groups = m.group(2).split()
    pos = m.start(2)
    has_digit = any(ch.isdigit() for ch in first)
    code = first.isupper() and len(first) <= 4 and first.lower() not in {"id", "no", "num"}
    if not has_digit and not code:
        if not groups:
            return start, end
        # a word like "reference" or "ID" is no part of the identifier: start at the digits
        previous: tuple[int, str] | None = None
        for group in groups:
            pos = m.string.index(group, pos)
            if any(ch.isdigit() for ch in group):
                code = previous and previous[1].isupper() and len(previous[1]) <= 4
                if code and previous[1].lower() not in {"id", "no", "num"}:
                    return previous[0], pos + len(group)  # "plate MFJ 218"
                return pos, pos + len(group)
            previous = (pos, group)
            pos += len(group)
        return start, end
    for k, group in enumerate(groups):
        pos = m.string.index(group, pos)
        digits = any(ch.isdigit() for ch in group)
        short_code = group.isupper() and len(group) <= 4 and k + 1 < len(groups)
        if digits or (not has_digit and short_code):
            end = pos + len(group)
            has_digit = has_digit or digits
        else:
            break
        pos += len(group)
    while end > start and m.string[end - 1] in ".:/-":
        end -= 1
    return start, end


# A number standing alone after a note's title, ending its header line: "admission note 2115".
# It may be the note's, the encounter's or the clock's; a shift ("note 1900-0700") is a range.
_NOTE_HEADER_NUMBER = re.compile(
    r"(?im)^[ \t]*(?:[a-z/]+[ \t]+){0,3}(?:note|addendum)[ \t]*[:#]?[ \t]*(\d{3,8})[ \t]*$"
)


def find_numbers(text: str, add: Add, deadline: Deadline) -> None:
    for m in SSN_RE.finditer(text):
        ok = ssn_valid(m.group(1), m.group(3), m.group(4))
        if m.group(2) == "-" or ok:
            add(m.start(), m.end(), "SSN", confidence=1.0 if ok else 0.8)
    for m in SSN_MASKED_RE.finditer(text):
        add(m.start(), m.end(), "SSN")
    for m in SSN_CUE_RE.finditer(text):
        add(m.start(1), m.end(1), "SSN")
    deadline.check()
    for label, rx in CONTEXT_IDS:
        for m in rx.finditer(text):
            start, end = _id_span(m)
            value = text[start:end]
            if not any(ch.isdigit() for ch in value) or _ID_LOOKS_LIKE_UNIT.match(value):
                continue
            if _READING.match(value) or re.fullmatch(r"\d{1,3}-\d{1,3}%?", value):
                continue  # "ID-afebrile temp 97-98%", "CARD-- HR 44-60": a section, then readings
            if label == "ID" and len(value) < 3:
                continue
            add(start, end, label, detector="context", confidence=0.9)
        deadline.check()
    for m in _MISC_CODE_RE.finditer(text):
        value = m.group(1)
        before = text[max(0, m.start() - 25) : m.start()]
        if _CLINICAL_CODE_BEFORE.search(before) or _UNIT_AFTER.match(text, m.end()):
            continue  # "CPT code: 99213", "sample 250 ml"
        if len(value) < 3 or _ID_LOOKS_LIKE_UNIT.match(value) or _READING.match(value):
            continue
        if _a_range(value) or re.fullmatch(r"\d{1,2}-\d{1,2}", value):
            continue
        if m.group().lower().lstrip().startswith("code") and _LOINC_OR_ICD.match(value):
            continue  # "code: I10": a diagnosis
        add(m.start(1), m.end(1), "ID", detector="context", confidence=0.85)
    deadline.check()
    for m in _NOTE_HEADER_NUMBER.finditer(text):
        add(m.start(1), m.end(1), "ID", detector="context", confidence=0.6)
    for m in DEA_RE.finditer(text):
        if dea_valid(m.group()):
            add(m.start(), m.end(), "LICENSE")
    for m in VIN_RE.finditer(text):
        add(m.start(), m.end(), "VEHICLE", confidence=0.9)
    for m in UDI_RE.finditer(text):
        add(m.start(), m.end(), "DEVICE")
    for m in PHOTO_RE.finditer(text):
        add(m.start(), m.end(), "PHOTO")
    for rx in (TATTOO_RE, TATTOO_BARE_RE):
        for m in rx.finditer(text):
            group = 1 if m.group(1) else 2
            add(m.start(group), m.end(group), "ID", detector="context")
    for m in GENERIC_ID_RE.finditer(text):
        value = m.group()
        digits = sum(ch.isdigit() for ch in value)
        if (
            digits >= 4
            and not _LOINC_OR_ICD.match(value)
            and not _ID_LOOKS_LIKE_UNIT.match(value)
            and not _a_range(value)
        ):
            add(m.start(), m.end(), "ID", confidence=0.6)
    deadline.check()


# --- EHR user names ----------------------------------------------------------------------------
# A login is one token: letters, digits, and ".", "_" or "-" inside ("jsmith2", "m.lopez",
# "kbrown_rn"). Where it is cued ("user: …", "entered by …", "(user jsmith)") the cue decides;
# elsewhere only an unambiguous shape counts: initials fused to a dictionary surname, then digits.
_LOGIN = r"([A-Za-z][A-Za-z0-9]{0,30}(?:[._-][A-Za-z0-9]{1,30}){0,2})(?![\w@]|[.-]\w)"
# A cue that names the field: whatever login-shaped token follows is the user name.
_USER_FIELD_CUE = re.compile(
    r"(?<![\w-])(?:user(?:[\s_-]?(?:id|name))?|login(?:[\s_-]?(?:id|name))?|log-?in|logon"
    r"|sign-?on|ehr\s+user|emr\s+user|network\s+id|staff\s+id|operator)"
    r"\s*(?:[:=#]|\bis\b)\s*" + _LOGIN,
    re.I,
)
# "(user jsmith)", "[user: mlopez]": the bracket makes the cue sure even without a colon.
_USER_BRACKET_CUE = re.compile(
    r"[(\[]\s*(?:user(?:[\s_-]?(?:id|name))?|login|by|author|signed|uid)\s*[:=#]?\s*" + _LOGIN,
    re.I,
)
# An action in the record, then who did it ("entered by", "by:"): the token is a login only when
# it looks like one, since "seen by anesthesia", "confirmed by cxr" are prose.
_USER_ACTION_CUE = re.compile(
    r"(?<![\w-])(?:logged\s+(?:in|on)\s+as|(?:entered|signed|cosigned|co-signed|authored"
    r"|edited|modified|updated|accessed|created|documented|charted|verified|reviewed|amended"
    r"|dictated|transcribed|printed|viewed|opened|closed|ordered|released|acknowledged|scanned"
    r"|uploaded|completed|addended|saved|filed)(?:\s+and\s+\w+)?\s+by|(?:last\s+)?(?:edited"
    r"|modified|updated|changed)\s+by|(?:author|by)(?=\s*[:=#]))\s*[:=#]?\s*" + _LOGIN,
    re.I,
)
# Anywhere: 1-2 initials fused to a surname, or a surname and an initial, then digits.
_LOGIN_SHAPE = re.compile(r"(?<![\w.@/#-])([a-z]{3,16})(\d{1,4})(?![\w@]|[./,-]\d)")
_LOGIN_DOTTED = re.compile(r"(?<![\w.@/#-])([a-z]{1,12})[._]([a-z]{2,16})(\d{0,4})(?![\w@.]|-\w)")
_USER_STOP = frozenset(
    ["id", "name", "is", "not", "none", "unknown", "na", "n", "a", "the", "me", "pt", "patient",
     "self", "system", "admin", "dr", "doctor", "nurse", "rn", "md", "staff", "user", "login",
     "phone", "email", "fax"]
)  # fmt: skip


def _surname_fused(letters: str) -> bool:
    """'jsmith', 'mklopez', 'smithj': initials fused to a dictionary surname."""
    family = lx.family_names()
    return (
        letters[1:] in family
        and len(letters) > 3
        or (len(letters) > 4 and letters[2:] in family)
        or (len(letters) > 4 and letters[:-1] in family and letters[:-1] not in lx.given_names())
    )


def _everyday(word: str) -> bool:
    f = word.lower()
    return not lx.unknown_word(f) or f in lx.all_names() and f not in lx.strong_names()


def _dotted_login(first: str, last: str, cued: bool = False) -> bool:
    """'j.smith', 'maria_lopez': an initial or a given name, then a dictionary surname (one that
    is no English word too, unless a cue stands before it)."""
    first, last = first.lower(), last.lower()
    initial_ok = len(first) == 1 or first in lx.given_names()
    return initial_ok and last in lx.family_names() and (cued or lx.unknown_word(last))


def _loginish(value: str) -> bool:
    """A token that reads as a login, not a word: letters with digits ('jsmith2'), an initial and a
    surname fused ('dwhite') or joined by '.'/'_' ('j.smith'); never a word of prose."""
    letters = re.sub(r"[^A-Za-z]", "", value)
    if len(value) < 3 or len(letters) < 3 or value.lower() in _USER_STOP:
        return False
    if not (value.islower() or value.isupper()):
        return False
    if m := re.fullmatch(r"([A-Za-z]+)[._]([A-Za-z]+)\d{0,4}", value):
        return _dotted_login(m.group(1), m.group(2), cued=True)
    if m := re.fullmatch(r"([A-Za-z]{3,16})\d{1,4}", value):
        return not _everyday(m.group(1)) and not re.search(r"[xo]$", m.group(1).lower())
    return value.isalpha() and _surname_fused(value.lower()) and not _everyday(value)


def find_usernames(text: str, add: Add, deadline: Deadline) -> None:
    for rx, strong in (
        (_USER_FIELD_CUE, True),
        (_USER_BRACKET_CUE, True),
        (_USER_ACTION_CUE, False),
    ):
        for m in rx.finditer(text):
            value = m.group(1).rstrip("._-")
            end = m.start(1) + len(value)
            if value.lower() in _USER_STOP or len(value) < 2:
                continue
            if strong:
                if (
                    value[0].isupper()
                    and not value.isupper()
                    and not any(c.isdigit() for c in value)
                ):
                    continue  # "user: John Smith" is a name, and the name layer has it
                if value.isalpha() and not value.islower() and _everyday(value):
                    continue
            elif not _loginish(value):
                continue
            add(m.start(1), end, "USERNAME", detector="context", confidence=0.9)
    deadline.check()
    for m in _LOGIN_SHAPE.finditer(text):
        letters = m.group(1)
        if letters.endswith("x") or (letters.endswith("o") and len(letters) <= 5):
            continue  # "axox3", "orientedx3": times; "mgso4", "paco2": a formula
        if _surname_fused(letters) and lx.unknown_word(letters):
            add(m.start(), m.end(), "USERNAME", confidence=0.85)
    for m in _LOGIN_DOTTED.finditer(text):
        if _dotted_login(m.group(1), m.group(2)) and (m.group(3) or len(m.group(1)) > 1):
            add(m.start(), m.end(), "USERNAME", confidence=0.8)
    deadline.check()


def find_places(text: str, add: Add, deadline: Deadline) -> None:
    for m in STREET_RE.finditer(text):
        middle = m.group(1).split()
        if any(w.lower().strip(".,") in _STREET_STOP for w in middle):
            continue
        if re.match(r"\.?\s+[A-Z][a-z]", text[m.end() : m.end() + 4]) and re.search(
            r"(?:Dr|St|DR|ST)\.?$", m.group()
        ):
            continue  # "Dr. Brannigan", "St. Mary's": a title, not a street
        add(m.start(), m.end(), "STREET")
    for m in PO_BOX_RE.finditer(text):
        add(m.start(), m.end(), "STREET")
    for rx in ZIP_RES:
        for m in rx.finditer(text):
            add(m.start(1), m.end(1), "ZIP")
    for m in ROOM_RE.finditer(text):
        add(m.start(1), m.end(1), "LOCATION", confidence=0.8)
    for m in COUNTY_RE.finditer(text):
        add(m.start(1), m.end(1), "LOCATION")
    for m in NEIGHBORHOOD_RE.finditer(text):
        add(m.start(1), m.end(1), "LOCATION", detector="context", confidence=0.8)
    deadline.check()


def find_patterns(text: str, deadline: Deadline) -> list[Span]:
    spans: list[Span] = []

    def add(
        start: int, end: int, label: str, detector: str = "pattern", confidence: float = 1.0
    ) -> None:
        spans.append(Span(start, end, label, detector, confidence))

    for finder in (find_dates, find_ages, find_contact, find_numbers, find_usernames, find_places):
        finder(text, add, deadline)
    find_years(text, spans, add)
    return spans


def find_years(text: str, found: list[Span], add: Add) -> None:
    """Years alone ("s/p resection 1977", "its 2019", "09 PTCA"), last and only where no other
    pattern saw more: "DOB 1923-07-30" is a date of birth, "tattoo 'MOM 1972'" an ID."""
    for rx in (_BARE_YEAR, _CUED_YEAR, _SHORT_YEAR_BEFORE_EVENT):
        for m in rx.finditer(text):
            start, end = m.span(1)
            if any(s.start < end and start < s.end for s in found):
                continue
            before = text[max(0, m.start() - 12) : m.start()]
            if not (_NOT_DATE_BEFORE.search(before) or _READING_BEFORE.search(before)):
                add(start, end, "DATE", confidence=0.7)
