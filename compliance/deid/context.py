"""Layers 2 and 3: dictionary look-ups steered by context (names, places, employers, jobs)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import lexicon as lx
from .spans import Deadline, Span

WORD_RE = re.compile(r"[^\W\d_]+(?:['’](?![sS]\b)[^\W\d_]+)*")

TITLES = lx.section("titles")
# Words after which a name is expected ("wife mary", "named Hope", "pt Will").
RELATIONS = lx.section("relations")
# Words after which a name is NOT what follows even if capitalised.
NAME_STOP = lx.common_words() - frozenset(lx.AMBIGUOUS_NAMES) - frozenset(lx.NICKNAMES)

_CREDENTIALS = re.compile(
    r",?\s*(?:MD|M\.D\.|DO|D\.O\.|RN|R\.N\.|NP|PA-C|PA|PhD|PHD|LCSW|LPN|CNA|DPT|OTR|MSW|FACP|FACS"
    r"|MBBS|DDS|PharmD|PHARMD|CNM|CRNA|APRN|FNP|DNP|LMFT|LPC|PsyD|PSYD)\b"
)
_SIGNATURE = re.compile(
    r"(?im)^[ \t>*-]*(?:electronically\s+)?(?:signed(?:\s+by)?|dictated\s+by|transcribed\s+by"
    r"|attending|resident|provider|pcp|primary care|referring(?:\s+physician|\s+provider)?"
    r"|cc|author|nurse|therapist|clinician|physician|surgeon|consultant|from|to|dear|sincerely"
    r"|regards|thanks|thank you|best|contact|emergency contact|next of kin|nok|spouse|husband"
    r"|wife|son|daughter|mother|father|guardian|caregiver)\b[ \t:,-]*"
)
_INITIALS = re.compile(r"(?<![\w.])[A-Z]\.\s?[A-Z]\.(?:\s?[A-Z]\.)?(?![\w])")
_INITIALS_SAFE = {"U.S.", "A.M.", "P.M.", "M.D.", "D.O.", "R.N.", "N.P.", "P.O.", "U.K.", "E.R."}
_READING_AFTER = re.compile(r"\s*[\d/]")  # "C.O. 6.1/2.8": cardiac output, not initials

_HOSPITAL_KEYS = (
    r"Hospitals?|Medical\s+Cent(?:er|re)|Health\s+Cent(?:er|re)|Health\s+System|Healthcare"
    r"|Health\s+Care|Clinic|Infirmary|Hospice|Sanatorium|Rehabilitation\s+(?:Center|Hospital)"
    r"|Rehab\s+Center|Nursing\s+(?:Home|Facility|Center)|Care\s+Center|Surgical\s+Center"
    r"|Surgery\s+Center|Cancer\s+Center|Heart\s+Institute|Institute|Children'?s|General|Memorial"
    r"|Regional|Medical\s+Group|Urgent\s+Care|Behavioral\s+Health|Health|Medical|Sanitarium"
    r"|Psychiatric\s+Center|Dialysis\s+Center|Family\s+Practice|Pediatrics|Associates|Samaritan"
    r"|Mercy|Providence|Presbyterian|Baptist|Methodist|Lutheran|Adventist|Sinai|Our\s+Lady"
)
_ORG_KEYS = (
    r"Inc|Corp|Corporation|LLC|Ltd|Co|Company|Industries|Group|Foundation|Bank|University"
    r"|College|School|Academy|Church|Enterprises|Systems|Technologies|Solutions|Services|Motors"
    r"|Airlines|Insurance|Logistics|Manufacturing|Construction|Farms?|Market|Foods|Labs"
    r"|Pharmaceuticals|Partners|Consulting|Electric|Energy|Steel|Mills|Works|Department|Dept"
    r"|Restaurant|Cafe|Diner|Bakery|Store|Stores|Shop|Factory|Plant|Warehouse|Mine|Living"
    r"|Credit\s+Union|Union|Library|Cooperative|Co-op|Dairy|Pantry|Kitchen|Club|Agency"
    r"|Association|Society|Council|Authority|Trust|Realty|Press|Studio|Salon|Garage|Hardware"
    r"|Transit|Railroad|Post\s+Office|Daycare|Center|Centre|Ministries|Mission|Shelter"
    r"|Nursery|Landscaping|Plumbing|Roofing|Trucking|Freight|Movers|Apparel|Textiles|Staffing"
    r"|Mill|Supply|Lumber|Brewing|Brewery|Winery|Ranch|Orchard|Resort|Hotel|Inn|Casino"
    r"|Airport|Depot|Shipyard|Outfitters|Fitness|Gym|Collective|Cannery|Quarry|Tavern|Grill"
    r"|HOA|LLP|PLLC|PC|Facility|Apartments|Condominiums|Prison|Jail|Penitentiary"
    r"|Elementary|Preschool|Kindergarten|Seminary|Museum|Theat(?:er|re)|Zoo|Holdings|Ventures"
    r"|Traders|Trading|Aerospace|Automotive|Laboratories|Electronics|Software|Contractors"
    r"|Builders|Dealership|Cleaners|Distributors|Wholesale|Mart|Grocery|Supermarket|Telecom"
)
_NAMEISH = r"(?<![\w.])(?:St\.|ST\.|Saint|SAINT|[A-Z]\.|[A-Z][\w'’&-]{0,30}|O'[A-Z]\w{0,30})"
HOSPITAL_RE = re.compile(
    rf"((?:{_NAMEISH}\s+(?:(?:of|the|and|&)\s+){{0,2}}){{0,5}})(?i:\b({_HOSPITAL_KEYS}))\b"
    r"((?:\s+(?i:of)\s+(?:(?i:the)\s+)?[A-Z][\w'’.-]{1,30}(?:\s+[A-Z][\w'’.-]{1,30}){0,2})?)"
)
ORG_RE = re.compile(
    rf"((?:{_NAMEISH}\s+(?:(?:of|the|and|&)\s+){{0,2}}){{1,5}})(?i:\b({_ORG_KEYS}))\b\.?"
    r"((?:\s+of\s+[A-Z][\w'’.-]{1,30}(?:\s+[A-Z][\w'’.-]{1,30}){0,2})?)"
)
_NEEDS_PREFIX = {"mercy", "providence", "presbyterian", "baptist", "methodist", "lutheran",
                 "adventist", "sinai", "samaritan", "general", "memorial", "regional", "health",
                 "medical", "institute", "clinic",
                 "children's", "childrens", "associates", "hospital", "hospitals"}  # fmt: skip
_LEAD_STOP = lx.section("lead_stop")
_WORKPLACE_CUE = re.compile(
    r"\b(?:works?|worked|working|employed|job|employee|retired|volunteers?|volunteering"
    r"|owns|owner|manager|laid off)\s+(?:at|for|by|with|from)\s+(?:the\s+)?"
    r"(?-i:((?:[A-Z][\w'’.&-]{0,30})(?:\s+(?:[A-Z][\w'’.&-]{0,30}|&|and|of)){0,4}))",
    re.I,
)
# A role in an organisation, then the organisation: "husband CEO of ACME", "owner of Lark & Co",
# "a cashier at Brightway" (a job from the professions list before "at"/"for").
_ROLE_WORDS = (
    r"ceo|cfo|coo|cto|cio|president|vice[\s-]president|vp|founder|co-?founder|owner|co-?owner"
    r"|partner|director|manager|supervisor|foreman|chair(?:man|woman|person)|executive|employee"
    r"|officer|principal|head|chief|proprietor|shareholder|board\s+member|intern|contractor"
    r"|consultant|staff"
)
_ROLE_CUE = re.compile(
    rf"\b(?:{_ROLE_WORDS})\s+(?:of|at|for|with)\s+(?:the\s+)?"
    r"(?-i:((?:[A-Z][\w'’.&-]{0,30})(?:\s+(?:[A-Z][\w'’.&-]{0,30}|&|and|of)){0,4}))",
    re.I,
)
_JOB_AT = re.compile(
    r"\b([a-z][a-z-]{2,30})\s+(?:at|for)\s+(?:the\s+)?"
    r"(?-i:((?:[A-Z][\w'’.&-]{0,30})(?:\s+(?:[A-Z][\w'’.&-]{0,30}|&|and|of)){0,4}))",
    re.I,
)
# The same cues before a lower-case name that is in no dictionary: "works at brightway".
_WORKPLACE_LOWER = re.compile(
    r"\b(?:works?|worked|working|employed|employee|retired|owns|owner|ceo|president|founder"
    r"|laid off|fired|job)\s+(?:at|for|by|from|of)\s+(?:the\s+)?([a-z][\w'’&-]{2,30})\b",
    re.I,
)
_EMPLOYER_CUE = re.compile(
    r"\b(?:employer|company|workplace|school|church)\s*:\s*"
    r"(?-i:((?:[A-Z][\w'’.&-]{0,30})(?:\s+(?:[A-Z][\w'’.&-]{0,30}|&|and|of)){0,4}))",
    re.I,
)
_CARE_CUE = re.compile(
    r"\b(?:seen at|admitted to|transferred (?:from|to)|followed (?:at|by)|treated at"
    r"|presented to|discharged from|evaluated at|hospitali[sz]ed at|care at|outside hospital"
    r"|osh|delivered at|surgery at|dialysis at|rehab at|records from)\s*:?\s+(?:the\s+)?"
    r"(?-i:((?:[A-Z][\w'’.&-]{0,30})(?:\s+(?:[A-Z][\w'’.&-]{0,30}|of|&)){0,5}))",
    re.I,
)
_PLACE_CUE = re.compile(
    r"\b(?:lives?(?: alone| together)? in|living(?: alone)? in|resides? in|residing in"
    r"|moved (?:to|from)|born in|from|grew up in"
    r"|relocated (?:to|from)|travel(?:l)?ed to|trip to|visiting|native of|hometown(?: of| is)?"
    r"|home in|near|outside(?: of)?|town of|city of)\s+"
    r"(?-i:((?:the\s+)?(?:[A-Z][\w'’.-]{1,30})(?:\s+[A-Z][\w'’.-]{1,30}){0,2}))",
    re.I,
)
_CITY_STATE = re.compile(
    r"((?:[A-Z][\w'’.-]{1,30}\s+){0,2}[A-Z][\w'’.-]{1,30}),\s+(?:"
    + "|".join(sorted(lx.US_STATES, key=len, reverse=True))
    + "|"
    + "|".join(re.escape(v) for v in lx.US_STATES.values())
    + r"|(?i:"
    + "|".join(re.escape(v) for v in lx.US_STATES.values())
    + r"))\b"
)
_PLACE_SUFFIX = re.compile(
    r"\b((?:[A-Z][\w'’.-]{1,30}\s+){1,2}(?:Falls|Springs|Landing|Heights|Hills|Beach|Harbor"
    r"|Harbour|Junction|Crossing|Creek|Ridge|Grove|Valley|Village|Lake|Point|Park|Bluffs|Hollow"
    r"|Mills|Ferry|Station|Center|Township|FALLS|SPRINGS|LANDING|HEIGHTS|HILLS|BEACH|HARBOR"
    r"|JUNCTION|CROSSING|CREEK|RIDGE|GROVE|VALLEY|VILLAGE|LAKE|POINT|HOLLOW|MILLS|FERRY))\b"
)
_IN_PLACE = re.compile(
    r"\b(?:in|at|near|from|to)\s+(?-i:([A-Z][\w'’-]{2,30}(?:\s+[A-Z][\w'’-]{2,30}){0,2}))\b", re.I
)
_PROF_MODS = (
    r"((?:(?:retired|former|part-time|full-time|self-employed|licensed|senior|junior|head|chief"
    r"|school|high school|elementary|public|local|professional|commercial|certified)\s+){0,2})"
)
_PROF_HEAD = r"([a-z][a-z-]{1,30}(?:\s+[a-z][a-z-]{1,30}){0,4})"
# Where a job title captured after a strong cue ends.
_PROF_END = lx.section("profession_end")
# A strong cue lets an unknown job word through on its shape ("works as a glazier").
_PROF_STRONG = re.compile(
    r"\b(?:works? as|worked as|working as|employed as|job as|occupation|profession"
    r"|career as|trained as|works? (?:part|full)-time as|used to work as|retired|former"
    r"|formerly)\s*:?\s+(?:an?\s+)?" + _PROF_MODS + _PROF_HEAD,
    re.I,
)
_PROF_WEAK = re.compile(
    r"(?:\b(?:is|was|as|works?|worked)\s+an?|,\s+an?|\bretired)\s+" + _PROF_MODS + _PROF_HEAD, re.I
)
# ", a court stenographer," / ", an air traffic controller, whom"
_PROF_APPOS = re.compile(
    r"(?:\d\s*(?:y/?o|yo|[fm])\b|year-old \w+|\bman|\bwoman|\bmale|\bfemale|\b[FM]|aged \d+)"
    r"\s*,\s+an?\s+"
    r"([a-z][a-z-]{1,30}(?:\s+[a-z][a-z-]{1,30}){0,3})\s*,",
    re.I,
)
_NOT_JOBS = lx.section("not_jobs")
_JOB_SUFFIX = re.compile(r"(?:er|or|ist|ian|man|woman|ant|ent|eer|ier|ee|smith|wright)$")


@dataclass(slots=True)
class _Tok:
    start: int
    end: int
    word: str
    fold: str


def tokenize(text: str) -> list[_Tok]:
    return [_Tok(m.start(), m.end(), m.group(), lx.fold(m.group())) for m in WORD_RE.finditer(text)]


def _is_cap(word: str) -> bool:
    return word[:1].isupper()


def caps_note(text: str) -> bool:
    """Whether a note is written in capitals (more than 80% of its first 5,000 letters): then
    capitals say nothing about names."""
    letters = [ch for ch in text[:5000] if ch.isalpha()]
    return bool(letters) and sum(ch.isupper() for ch in letters) > 0.8 * len(letters)


def _sentence_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t\"'(":
        i -= 1
    return i < 0 or text[i] in ".!?:\n;*-•"


FAMILY = lx.section("family_cues")
PARTICLES = lx.section("name_particles")
_VERBISH = re.compile(r"(?:ed|ing|ly|s)$")
_MODALS = frozenset(["will", "may", "can", "must", "might", "mark", "bill"])


def _name_follows(text: str, toks: list[_Tok], i: int) -> bool:
    """After 'son will': punctuation or a past-tense verb says 'will' was a name."""
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    if nxt is None or text[toks[i].end : nxt.start].strip():
        return True
    return nxt.fold.endswith(("ed", "s")) or nxt.fold in {"at", "on", "in", "by", "with", "and"}


def _lower_unknown(t: _Tok) -> bool:
    """'wife fenella': an unknown lowercase word right after a relation word."""
    return (
        t.word.islower()
        and len(t.word) > 2
        and t.fold not in lx.common_words()
        and t.fold not in lx.all_names() - lx.strong_names()
        and t.fold not in lx.safelist()
        and not _VERBISH.search(t.fold)
    )


_EPONYM = re.compile(
    r"\b([A-Z][\w-]+)['’]s?\s+(?:disease|syndrome|esophagus|sign|palsy|phenomenon|disorder"
    r"|ulcer|fracture|lymphoma|tumou?r|test|maneuver|manoeuvre|cyst|contracture|node|triad"
    r"|reflex|law|criteria|score|scale|classification|procedure|operation|pouch|drain|catheter)\b",
    re.I,
)


def eponym_positions(text: str) -> set[int]:
    """Start offsets of eponyms ('Wilson's disease', 'Barrett's esophagus'), which stay."""
    out = {m.start(1) for m in _EPONYM.finditer(text)}
    for m in re.finditer(r"\b(?:Jackson-Pratt|Swan-Ganz|Guillain-Barr[eé])\b", text, re.I):
        out.update(t.start() + m.start() for t in WORD_RE.finditer(m.group()))
    return out


def find_names(text: str, toks: list[_Tok], caps_note: bool, deadline: Deadline) -> list[Span]:
    strong, names, given = lx.strong_names(), lx.all_names(), lx.given_names()
    safe, never = lx.safelist(), frozenset(lx.NEVER_NAMES)
    ambiguous = frozenset(lx.AMBIGUOUS_NAMES)
    flagged = [0.0] * len(toks)  # confidence per token, 0 = not a name

    def nameish(t: _Tok, cued: bool) -> bool:
        if t.fold in never or t.fold in safe:
            return False
        if cued:
            if _is_cap(t.word) and (t.fold in names or t.fold not in NAME_STOP):
                return True
            return (t.fold in names or t.fold in ambiguous) and t.fold not in NAME_STOP
        return False

    for i, t in enumerate(toks):
        if i % 512 == 0:
            deadline.check()
        f, w = t.fold, t.word
        if f in safe or f in never:
            continue
        prev = toks[i - 1] if i else None
        gap = text[prev.end : t.start].replace("(?)", "") if prev else ""  # "wife(?) Joellen"
        cued = (
            prev is not None
            and len(gap) <= 3
            and "\n" not in gap
            and (prev.fold in TITLES or prev.fold in RELATIONS)
        )
        family_cue = cued and (prev.fold in TITLES or prev.fold in FAMILY)
        initials = w.isupper() and len(w) <= 3 and f not in NAME_STOP
        initials = initials or (len(w) == 1 and w.isupper() and text[t.end : t.end + 1] == ".")
        relation_cue = cued and prev.fold in FAMILY
        lower_ok = (relation_cue and _lower_unknown(t)) or (
            family_cue and f in names and f not in lx.common_words()
        )
        if relation_cue and w.islower() and f in ambiguous and prev.fold not in {"pt", "patient"}:
            # "son major called", "neighbor grace at bedside"; but "son will call"
            lower_ok = lower_ok or f not in _MODALS or _name_follows(text, toks, i)
        if cued and (nameish(t, True) and not w.islower() or lower_ok or (family_cue and initials)):
            flagged[i] = 0.9
            continue
        if f in strong and len(w) > 2:
            if w.isupper() and not caps_note and len(w) <= 4:
                continue  # an abbreviation in a mixed-case note
            if _is_cap(w) or (f in given and len(w) > 3):
                flagged[i] = 0.8 if _is_cap(w) else 0.6
    _colon_names(text, toks, flagged)
    _extend(text, toks, flagged, names, caps_note)
    _signature_names(text, toks, flagged)
    _extend(text, toks, flagged, names, caps_note)
    _particles(text, toks, flagged)
    _propagate(toks, flagged)
    safe_at = eponym_positions(text)
    flagged = [0.0 if t.start in safe_at else c for t, c in zip(toks, flagged, strict=True)]
    spans = [
        Span(t.start, t.end, "NAME", "dictionary", c)
        for t, c in zip(toks, flagged, strict=True)
        if c
    ]
    for m in _INITIALS.finditer(text):
        if m.group() not in _INITIALS_SAFE and not _READING_AFTER.match(text, m.end()):
            spans.append(Span(m.start(), m.end(), "NAME", "pattern", 0.7))
    return spans


_NOT_EXTEND = frozenset(lx.professions()[0]) | frozenset(lx.NEVER_NAMES) | lx.safelist()


def _extend(
    text: str, toks: list[_Tok], flagged: list[float], names: frozenset[str], caps: bool
) -> None:
    """Grow names over neighbours: 'Hope Smith', 'John A. Smith', 'Smith, Will', 'X and Y'."""
    never = frozenset(lx.NEVER_NAMES)
    for _ in range(2):
        changed = False
        for i, t in enumerate(toks):
            if flagged[i] or not _is_cap(t.word) or t.fold in never:
                continue
            single = len(t.word) == 1
            if t.fold in _NOT_EXTEND and t.fold not in names:
                continue
            if t.word.isupper() and len(t.word) <= 4 and not single and not caps:
                continue  # an abbreviation in a mixed-case note
            if not (single or t.fold in names or t.fold not in NAME_STOP):
                continue
            if t.fold not in names and t.fold.endswith(("ed", "ing")) and not single:
                continue
            if single and text[t.start - 1 : t.start] in "'’":
                continue  # the s of a possessive
            for j in (i - 1, i + 1, i - 2, i + 2):
                if not 0 <= j < len(toks) or not flagged[j]:
                    continue
                a, b = (toks[j], t) if j < i else (t, toks[j])
                gap = text[a.end : b.start]
                if abs(i - j) == 2:
                    # "Benedikt and Aigerim": the word between is a conjunction
                    mid = toks[(i + j) // 2]
                    joined = mid.fold in {"and", "or"} and len(gap) <= 7
                else:
                    joined = gap.strip(" .-") == "" and len(gap) <= 3
                    # "Smith, John" / "KRISTIANSEN, FEMI": a flagged name, then a comma
                    joined = joined or (j < i and gap.strip() == "," and len(gap) <= 3)
                if joined:
                    flagged[i] = 0.7
                    changed = True
                    break
        if not changed:
            break


_COLON_CUE = re.compile(
    r"\b(?:patient|pt|name|proxy|health care proxy|hcp|poa|contact|emergency contact|re|attn"
    r"|attending|resident|pcp|provider|surgeon|physician|nurse|rn|therapist|guardian|caregiver"
    r"|next of kin|nok|spouse|referring|author|signed|cc|to|from|dear|informant)\s*:\s*",
    re.I,
)


def _colon_names(text: str, toks: list[_Tok], flagged: list[float]) -> None:
    """'Patient: Rose, Summer', 'HEALTH CARE PROXY: ESZTER OKAFOR', 'Re: April Oduya'."""
    starts = {t.start: i for i, t in enumerate(toks)}
    never = frozenset(lx.NEVER_NAMES)
    for m in _COLON_CUE.finditer(text):
        i = starts.get(m.end())
        count = 0
        while i is not None and count < 4:
            t = toks[i]
            short_caps = t.word.isupper() and 1 < len(t.word) <= 4 and count
            if (
                not _is_cap(t.word)
                or t.fold in never
                or t.fold in NAME_STOP - _MONTH_WORDS
                or (short_caps)
            ):
                break
            flagged[i] = flagged[i] or 0.8
            count += 1
            nxt = i + 1
            if nxt >= len(toks) or text[t.end : toks[nxt].start] not in {" ", ", ", ". ", "-"}:
                break
            i = nxt


_MONTH_WORDS = frozenset(["april", "may", "june", "august"])


def _particles(text: str, toks: list[_Tok], flagged: list[float]) -> None:
    """'Nadia de Bruyn', 'Dr. van Henegouwen', 'Angeline Mac Briartaigh'."""
    for i in range(len(toks) - 1):
        t, nxt = toks[i], toks[i + 1]
        if t.fold not in PARTICLES or flagged[i] or not nxt.word[:1].isalpha():
            continue
        before = toks[i - 1] if i else None
        after_name = before is not None and (flagged[i - 1] or before.fold in TITLES)
        # "van de Leemput": a particle may follow a particle before the family name
        k = i + 2 if nxt.fold in PARTICLES and i + 2 < len(toks) else i + 1
        if after_name and len(text[before.end : t.start]) <= 2 and not toks[k].word.islower():
            for j in range(i, k + 1):
                flagged[j] = max(flagged[j], 0.7)


def _propagate(toks: list[_Tok], flagged: list[float]) -> None:
    """A word found as a name once is a name wherever it is capitalised in the same note."""
    seen = {t.fold for t, c in zip(toks, flagged, strict=True) if c >= 0.7 and len(t.word) > 2}
    never = frozenset(lx.NEVER_NAMES)
    for i, t in enumerate(toks):
        if flagged[i] or t.fold not in seen or t.fold in never:
            continue
        if _is_cap(t.word) or (t.fold not in lx.common_words() and t.fold not in lx.safelist()):
            flagged[i] = 0.7


def _signature_names(text: str, toks: list[_Tok], flagged: list[float]) -> None:
    starts = {t.start: i for i, t in enumerate(toks)}
    ends = {t.end: i for i, t in enumerate(toks)}
    never = frozenset(lx.NEVER_NAMES)
    for m in _CREDENTIALS.finditer(text):
        i = ends.get(m.start())
        for _ in range(4):
            if i is None or not _is_cap(toks[i].word) or toks[i].fold in never:
                break
            if toks[i].fold in NAME_STOP:
                break
            flagged[i] = flagged[i] or 0.8
            gap = text[toks[i - 1].end : toks[i].start] if i else ":"
            i = i - 1 if len(gap) <= 3 and ":" not in gap and "\n" not in gap else None
    for m in _SIGNATURE.finditer(text):
        pos = m.end()
        i = starts.get(pos)
        count = 0
        while i is not None and count < 4 and "\n" not in text[m.end() : toks[i].start]:
            t = toks[i]
            if not _is_cap(t.word) or t.fold in never or t.fold in NAME_STOP:
                break
            flagged[i] = flagged[i] or 0.75
            count += 1
            i = i + 1 if i + 1 < len(toks) and len(text[t.end : toks[i + 1].start]) <= 3 else None


def _trim_lead(text: str, start: int, end: int) -> int:
    """Drop leading cue words ('admitted to', 'TRANSFERRED FROM') from a capitalised run."""
    new_start = start
    for m in WORD_RE.finditer(text, start, end):
        f = lx.fold(m.group())
        if f in _LEAD_STOP or (m.group().isupper() and f.endswith("ed") and len(f) > 4):
            new_start = m.end()
        else:
            break
    while new_start < end and text[new_start] in " \t":
        new_start += 1
    return new_start


def find_institutions(text: str, deadline: Deadline) -> list[Span]:
    spans: list[Span] = []
    for rx, label in ((HOSPITAL_RE, "HOSPITAL"), (ORG_RE, "ORGANIZATION")):
        for m in rx.finditer(text):
            start = _trim_lead(text, m.start(1), m.end(1))
            key = lx.fold(m.group(2).split()[0])
            if not all(w[:1].isupper() for w in m.group(2).split()):
                continue
            if start >= m.end(1) and (key in _NEEDS_PREFIX or label == "ORGANIZATION"):
                continue
            prefix = [lx.fold(w) for w in WORD_RE.findall(text[start : m.end(1)])]
            if any(w in lx.safelist() for w in prefix):
                continue
            if prefix and all(w in lx.common_words() for w in prefix) and label == "ORGANIZATION":
                continue
            if start >= m.end(1) and not m.group(2)[0].isupper():
                continue
            spans.append(Span(start, m.end(), label, "context", 0.85))
        deadline.check()
    for rx, label in (
        (_WORKPLACE_CUE, "ORGANIZATION"),
        (_EMPLOYER_CUE, "ORGANIZATION"),
        (_CARE_CUE, "HOSPITAL"),
        (_ROLE_CUE, "ORGANIZATION"),
        (_JOB_AT, "ORGANIZATION"),
    ):
        for m in rx.finditer(text):
            group = 2 if rx is _JOB_AT else 1
            if rx is _JOB_AT and (m.group(1).isupper() or not _a_job(m.group(1))):
                continue
            start, end = m.start(group), _trim_tail(text, m.start(group), m.end(group))
            if rx is _ROLE_CUE and _a_department(text[start:end], m.group(0)):
                continue
            if end > start and not _short_caps_stays(text[start:end], m.group(0), rx):
                spans.append(Span(start, end, label, "context", 0.75))
    for m in _WORKPLACE_LOWER.finditer(text):
        if lx.unknown_word(lx.fold(m.group(1))) and lx.fold(m.group(1)) not in _LEAD_STOP:
            spans.append(Span(m.start(1), m.end(1), "ORGANIZATION", "context", 0.6))
    deadline.check()
    return spans


def _a_department(value: str, cue: str) -> bool:
    """'Director of Nursing', 'head of Surgery': a role in a department, not an employer."""
    words = [lx.fold(w) for w in WORD_RE.findall(value)]
    if not re.search(r"\bof\s", cue, re.I) or not words or value.isupper() or "&" in value:
        return False
    return all(w in lx.english_words() or w in lx.safelist() for w in words)


def _a_job(word: str) -> bool:
    f = lx.fold(word)
    return f in lx.professions()[0] and f not in lx.PROFESSION_CLINICAL and f not in _NOT_JOBS


def _short_caps_stays(value: str, cue: str, rx: re.Pattern[str]) -> bool:
    """A short all-caps word after a cue: a care abbreviation ('works with PT', 'seen at ED')
    stays; after an employer cue an acronym that is no clinical word is the employer ('CEO of
    ACME', 'works for UPS')."""
    if not (value.isupper() and len(value) <= 4):
        return False
    if rx is _CARE_CUE or re.search(r"\bwith\b", cue, re.I) or len(value) < 2:
        return True
    f = lx.fold(value)
    return f in lx.safelist() or f in lx.common_words() or f in lx.section("care_units")


_ABBREVIATIONS = {"st", "co", "inc", "corp", "ltd", "dr", "mt", "ft", "bros", "assn", "jr", "sr"}


def _trim_tail(text: str, start: int, end: int) -> int:
    """Cut a cue-captured run at its first everyday word (keeps 'Acme Corp', drops 'On Monday')."""
    last = start
    for m in WORD_RE.finditer(text, start, end):
        f = lx.fold(m.group())
        everyday = f in lx.common_words() and not _is_cap(m.group())
        if everyday and f not in {"of", "and"} and m.start() > start:
            break
        if f in _LEAD_STOP and f not in {"of", "and"}:
            break
        last = m.end()
        # A full stop after a word that is no abbreviation ends the sentence, and the name:
        # "seen at Lakeside Medical Center. She …" must not take "She".
        sentence_ends = text[last : last + 1] == "." and text[last + 1 : last + 2].isspace()
        if sentence_ends and f not in _ABBREVIATIONS:
            break
    while last > start and text[last - 1] in "-.&":
        last -= 1
    # "CEO of ACME and visits": a joining word at the end joins nothing
    tail = re.search(r"(?:\s+(?:and|of|&))+$", text[start:last], re.I)
    return start + tail.start() if tail else last


def find_places(text: str, toks: list[_Tok], caps_note: bool, deadline: Deadline) -> list[Span]:
    cities, names = lx.cities(), lx.all_names()
    safe_at = eponym_positions(text)
    spans: list[Span] = []
    for i, t in enumerate(toks):
        if i % 512 == 0:
            deadline.check()
        candidates = cities.get(t.fold)
        if not candidates or not _is_cap(t.word) or t.start in safe_at:
            continue
        for city in candidates:
            parts = city.split()
            tail = toks[i : i + len(parts)]
            if len(tail) == len(parts) and all(
                a.fold == b and _is_cap(a.word) for a, b in zip(tail, parts, strict=True)
            ):
                break
        else:
            continue
        end = tail[-1].end
        prev = toks[i - 1].fold if i else ""
        cued = prev in {"in", "from", "to", "near", "at", "of", "outside", "visiting"}
        state_after = re.match(r",?\s*(?:[A-Z]{2}\b|[A-Z][a-z]+)", text[end : end + 20])
        if len(parts) == 1 and not (cued or state_after):
            if caps_note or t.fold in names or _sentence_start(text, t.start):
                continue
            if t.fold in lx.common_words():
                continue
        spans.append(Span(t.start, end, "CITY", "dictionary", 0.8 if cued else 0.6))
    for m in _PLACE_CUE.finditer(text):
        start = m.start(1)
        if text[start : start + 4].lower() == "the ":
            start += 4
        end = _trim_tail(text, start, m.end(1))
        value = lx.fold(text[start:end])
        if not caps_note and text[start:end].isupper() and end - start <= 4:
            continue
        if end > start and value not in lx.states_folded() and value not in lx.common_words():
            spans.append(Span(m.start(1), end, "CITY", "context", 0.6))
    for m in _CITY_STATE.finditer(text):
        start = _trim_lead(text, m.start(1), m.end(1))
        if start < m.end(1) and lx.fold(text[start : m.end(1)]) not in lx.common_words():
            spans.append(Span(start, m.end(1), "CITY", "context", 0.7))
    for m in _PLACE_SUFFIX.finditer(text):
        start = _trim_lead(text, m.start(1), m.end(1))
        if start < m.end(1) - 1 and len(text[start : m.end(1)].split()) > 1:
            spans.append(Span(start, m.end(1), "CITY", "context", 0.6))
    stop = lx.common_words() | lx.safelist() | lx.states_folded() | set(lx.NEVER_NAMES)
    for m in _IN_PLACE.finditer(text):
        words = m.group(1).split()
        word = words[-1]
        if word.isupper() and not caps_note and len(word) <= 4:
            continue
        if caps_note and (len(words) > 1 or not lx.unknown_word(lx.fold(word))):
            continue  # in capitals every run looks like a name: "AT BASES", "TO GH"
        if lx.fold(word) not in stop and lx.fold(word) not in lx.professions()[0]:
            spans.append(Span(m.start(1), m.end(1), "CITY", "context", 0.5))
    deadline.check()
    return spans


def find_professions(text: str, toks: list[_Tok], deadline: Deadline) -> list[Span]:
    words, phrases = lx.professions()
    spans: list[Span] = []
    for i, t in enumerate(toks):
        if i + 1 < len(toks):
            pair = f"{t.fold} {toks[i + 1].fold}"
            if pair in phrases:
                spans.append(Span(t.start, toks[i + 1].end, "PROFESSION", "dictionary", 0.8))
                continue
        if t.fold in words and t.fold not in lx.PROFESSION_CLINICAL:
            spans.append(Span(t.start, t.end, "PROFESSION", "dictionary", 0.7))
    for m in _PROF_APPOS.finditer(text):
        if not set(m.group(1).lower().split()) & (_PROF_END - {"in", "of", "at"}):
            spans.append(Span(m.start(1), m.end(1), "PROFESSION", "context", 0.7))
    for rx in (_PROF_STRONG, _PROF_WEAK):
        for m in rx.finditer(text):
            parts = m.group(2).lower().split()
            keep = 0
            if rx is _PROF_STRONG:
                # after "works as a" the whole title counts: "home health aide", "graduate
                # student in chemistry"; stop at the first function word
                for k, p in enumerate(parts):
                    if p in _PROF_END and not (p == "in" and k and parts[k - 1] == "student"):
                        break
                    keep = k + 1
                if keep and parts[0] in _NOT_JOBS:
                    keep = 0
            else:
                for k, p in enumerate(parts):
                    pair = f"{p} {parts[k + 1]}" if k + 1 < len(parts) else ""
                    if pair in phrases:
                        keep = k + 2
                        break
                    if p in words or p in lx.PROFESSION_CLINICAL:
                        keep = k + 1
                        continue
                    break
            if keep:
                end = m.start(2) + len(" ".join(m.group(2).split()[:keep]))
                start = m.start(1) if m.group(1) else m.start(2)
                spans.append(Span(start, end, "PROFESSION", "context", 0.75))
    deadline.check()
    return spans
