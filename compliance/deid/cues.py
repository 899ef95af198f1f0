"""Layer 3b: names and places as nurses write them, without the capitals the other layers need.

Real notes say "dr healey aware", "q. lander rrt", "mary souza", "transferred to gh", "taken to
kernan hosp" and "on quartermain 2". Each rule here is a cue, not a list of names: a doctor's
title, a credential ending a signature, a given name before an unknown word, a transfer verb, a
hospital word, a ward number. "Unknown" means outside everyday English (lexicon.english_words),
the clinical words, the medical safelist and the care units: a word a dictionary cannot place
is what a cue turns into PHI. A place found once is a place wherever it recurs in the note.
"""

from __future__ import annotations

import re

from . import lexicon as lx
from .spans import Deadline, Span

# What follows "dr" without being a name: "dr aware", "dr notified", "drs and nurses".
_NOT_AFTER_TITLE = lx.section("not_after_title")
_PARTICLES = lx.section("name_particles") | {"o"}
# Words that end a place's name walking back from it: cue words ("to", "from") and care units.
_NOT_A_PLACE = lx.section("lead_stop") | lx.section("care_units")
_DR = frozenset(["dr", "drs"])  # after these a name is expected, whatever its case
_DOCTOR = _DR | frozenset(["doctor", "doctors"])
_PERSON_TITLES = _DOCTOR | frozenset(["mr", "mrs", "ms", "miss"])
_CREDENTIAL = re.compile(
    r"(?i)\b(?:rrt|rn|bsn(?:/rn)?|np|lcsw|licsw|licws|msw|lpn|cna|crna|rd|slp|otr|rph|pharmd"
    r"|md|pa-c)\b(?=[ \t]*(?:$|\n|,|into\b|in\b|aware\b|notified\b|to see\b|at bedside\b))"
)
_MOVE_CUE = re.compile(
    r"(?i)\b(?:transfer(?:r?ed)?|trans|xfer(?:r?ed)?|admit(?:ted)?|adm|readmitted|brought|taken"
    r"|sent|med-?flighted|medflighted|flown|arrived|came|referred|followed|seen"
    r"|rec(?:ie|ei)ved|returned|retired|works?|worked|working|employed"
    r"|transported|transfered|dc'?d|discharged|accepted|arrival|enroute|en route)"
    r"\s+(?:(?:in|back|over|up|out)\s+)?(?:to|into|at|from|by|@)\s+(?:the\s+)?"
)
_LIVING_CUE = re.compile(
    r"(?i)\b(?:lives?(?:\s+alone|\s+together)?|living|resides?|residing|moved)\s+(?:in|at|to)\s+"
)
_WARD_CUE = re.compile(r"(?i)(?:\b(?:to|from|at|plan:?)|@)\s+$")
_ON_WARD_CUE = re.compile(r"(?i)\b(?:on|in)\s+$")  # "on quartermain 6"; but "on simv 18"
_HOSPITAL_WORD = re.compile(
    r"(?i)\b(?:hosp(?:ital)?|memorial|medical\s+cent(?:er|re)|med\s+cent(?:er|re)|campus"
    r"|infirmary|general)\b"
)
# A ward number ends the phrase: not a dose ("on dopa 7.9", "captopril 6.25 tid", "cpap 20/10").
_WARD_NUMBER = re.compile(
    r"\s?(\d{1,2})(?![\w/:-]|\.\d)(?!\s*(?:u|units?|mg|mcg|mcgs|ml|cc|l|lpm|%|hr|hrs|min|x|times"
    r"|mmhg|bpm|breaths|tid|bid|qd|qid|prn|am|pm)\b)(?!\s*\+)",
    re.I,
)
_JOINERS = {" ", "-", " - "}
# Who a name follows in a note: "psych nurse leslie kiezulas", "case manager marta", "sw anne".
_ROLES = lx.section("titles") | frozenset(["manager", "worker", "sw", "cm", "chaplain", "rn"])
_UNIT_AFTER_PLACE = frozenset(["er", "ed", "ew", "cath", "icu", "micu", "ccu", "sicu", "or", "ir"])
_BARE_PLACE_CUE = re.compile(r"(?i)\b(?:to|from|at)\s$")
# Words that describe a hospital without naming it: "the local hospital", "an outside hosp".
_GENERIC_PLACE_WORDS = lx.section("generic_place_words") | lx.section("care_units")
# A hospital's short form after a word of place: "had at gh", "I know I'm in GH", "to MGH".
_HOSPITAL_SHORT = re.compile(
    r"(?:\b(?:[Aa]t|[Tt]o|[Ff]rom|AT|TO|FROM|in|IN)|@)\s+([A-Za-z]{1,3}[Hh])\b"
)
_PLACE_BEFORE = re.compile(r"(?i)(?:\b(?:to|at|from|in)|@)\s+$")
_SAINT = re.compile(
    r"(?:\b(?:to|at|from|in|by)|@)\s+((?:St\.?|ST\.?|Saint|SAINT)\s+[A-Z][\w'’]*\.?)"
)


_unknown = lx.unknown_word


def find_cued(text: str, toks: list, deadline: Deadline) -> list[Span]:
    """NAME and LOCATION spans from the cues above; `toks` from context.tokenize."""
    names: set[int] = set()  # token indexes
    _title_names(text, toks, names)
    _signature_names(text, toks, names)
    _aware_names(text, toks, names)
    _bracketed_names(text, toks, names)
    _given_then_unknown(text, toks, names)
    _initial_names(text, toks, names)
    deadline.check()
    places: list[tuple[int, int]] = []
    _moved_places(text, toks, places)
    _hospital_places(text, toks, places)
    _ward_places(text, toks, places)
    deadline.check()
    places += _recurring(text, toks, places)
    spans = [Span(toks[i].start, toks[i].end, "NAME", "context", 0.75) for i in sorted(names)]
    spans += [Span(start, end, "LOCATION", "context", 0.7) for start, end in places]
    return spans


def _gap(text: str, a: object, b: object) -> str:
    return text[a.end : b.start]


def _title_names(text: str, toks: list, names: set[int]) -> None:
    """'dr healey', 'dr. john bowman', 'dr williams-nuzzo', 'Dr. o rourke', 'drs x and y'."""
    for i, t in enumerate(toks[:-1]):
        if t.fold not in _PERSON_TITLES:
            continue
        j = i + 1
        gap = _gap(text, t, toks[j])
        if len(gap) > 2 or "\n" in gap or gap.strip(" .") or toks[j].fold in _NOT_AFTER_TITLE:
            continue
        initial = len(toks[j].word) == 1 and toks[j].word.isupper()  # "mr I remained"
        known_name = _unknown(toks[j].fold) or toks[j].fold in lx.all_names() or initial
        if t.fold not in _DR and not known_name:
            continue  # "mrs. jones" yes; "ms aware", "mr comfortable" no
        if t.fold in ("doctor", "doctors") and not (
            _capitalised(toks[j]) and gap == " " or _unknown(toks[j].fold)
        ):
            continue  # prose: "checked by a doctor once", "her doctor. She started"
        names.add(j)
        # the rest of the name: a particle, a hyphen, a family name after a given name
        for k in (j + 1, j + 2):
            if k >= len(toks) or _gap(text, toks[k - 1], toks[k]) not in _JOINERS | {". "}:
                break
            fold = toks[k].fold
            joined = _gap(text, toks[k - 1], toks[k]) == "-" or toks[k - 1].fold in _PARTICLES
            if fold in _NOT_AFTER_TITLE or not (joined or _unknown(fold) or fold in lx.all_names()):
                break
            if not joined and fold in lx.common_words():
                break
            names.add(k)
        if t.fold == "drs":  # "Drs Ferullo and Saeed"
            k = max(names) + 1
            if k + 1 < len(toks) and toks[k].fold == "and":
                names.add(k + 1)


_AWARE = frozenset(["aware", "notified", "paged", "informed"])


def _aware_names(text: str, toks: list, names: set[int]) -> None:
    """'BEA TURA AWARE', 'kessler notified': one or two words no dictionary places, right
    before 'aware' or 'notified' (the staff a nurse told, named bare)."""
    for i, t in enumerate(toks):
        if t.fold not in _AWARE or i == 0:
            continue
        run: list[int] = []
        k = i - 1
        while k >= 0 and len(run) < 2 and _gap(text, toks[k], toks[k + 1]) == " ":
            fold = toks[k].fold
            bare_name = fold in lx.all_names() and fold not in lx.english_words()
            # a short word right before an unknown one is its given name ("BEA TURA AWARE"),
            # when it is no clinical, common or staff word
            given = bool(run) and len(fold) <= 5 and not _plain_word(fold)
            if not (_unknown(fold) or bare_name or given) or len(fold) < 3:
                break
            run.insert(0, k)
            k -= 1
        names.update(run)


def _plain_word(fold: str) -> bool:
    return (
        fold in lx.common_words()
        or fold in lx.safelist()
        or fold in _NOT_AFTER_TITLE
        or fold in _NOT_A_PLACE
        or fold in _ROLES
    )


# "lawyer (Wil Laberbera)", "friend (Tomas Ruiz)": who someone is, then their name in brackets
_BRACKETED = re.compile(
    r"(?i:\b(?:lawyer|attorney|friend|neighbou?r|proxy|poa|guardian|caregiver|husband|wife|son"
    r"|daughter|brother|sister|partner|fianc[eé]e?|cousin|niece|nephew|aunt|uncle|sw|cm))"
    r"\s*\(([A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2})\)"
)


def _bracketed_names(text: str, toks: list, names: set[int]) -> None:
    starts = {t.start: i for i, t in enumerate(toks)}
    for m in _BRACKETED.finditer(text):
        run = [starts.get(m.start(1) + p.start()) for p in re.finditer(r"\S+", m.group(1))]
        if None in run or any(toks[k].fold in lx.common_words() for k in run):
            continue
        if any(_unknown(toks[k].fold) or toks[k].fold in lx.all_names() for k in run):
            names.update(run)


def _signature_names(text: str, toks: list, names: set[int]) -> None:
    """'q. lander rrt', 'barbara j. parrilli bsn/rn', 'florencia cooke np into eval'."""
    ends = {t.end: i for i, t in enumerate(toks)}
    for m in _CREDENTIAL.finditer(text):
        i = ends.get(m.start() - 1) if text[m.start() - 1 : m.start()] == " " else None
        found: list[int] = []
        while i is not None and len(found) < 3:
            t = toks[i]
            initial = len(t.word) == 1 and text[t.end : t.end + 1] == "."
            if not (initial or _unknown(t.fold) or t.fold in lx.all_names()):
                break
            if t.fold in _NOT_AFTER_TITLE or (
                t.fold in lx.common_words() and t.fold not in lx.given_names()
            ):
                break
            found.append(i)
            gap = _gap(text, toks[i - 1], t) if i else "\n"
            i = i - 1 if gap in (" ", ". ") else None
        if any(len(toks[k].word) > 1 for k in found):
            names.update(found)


def _given_then_unknown(text: str, toks: list, names: set[int]) -> None:
    """'mary souza aware', 'leslie kiezulas', 'BEA TURA AWARE': a given name, in lower case or
    in an all-caps run, then a word no dictionary places (or a family name)."""
    given, family = lx.given_names(), lx.family_names()
    ambiguous = frozenset(lx.AMBIGUOUS_NAMES) | lx.common_words()
    for i, t in enumerate(toks[:-1]):
        nxt = toks[i + 1]
        if t.word[:1].isupper() and not t.word.isupper():
            continue  # capitalised: the dictionary layer's case
        if t.fold not in given or t.fold in ambiguous or len(t.fold) < 3:
            continue
        if _gap(text, t, nxt) != " " or nxt.word[:1].isupper() != t.word[:1].isupper():
            continue
        if nxt.fold in lx.common_words() or nxt.fold in lx.safelist():
            continue
        third = toks[i + 2] if i + 2 < len(toks) else None
        three = nxt.fold in given and third is not None and _gap(text, nxt, third) == " "
        if three and (_unknown(third.fold) or third.fold in family):
            names.update((i, i + 1, i + 2))  # "mary theresa kondouli"
            continue
        role = i > 0 and toks[i - 1].fold in _ROLES and _gap(text, toks[i - 1], t) == " "
        if t.fold in lx.english_words() and not role:  # "tan secretions", "neo gtt"
            if nxt.fold in family:
                names.update((i, i + 1))
            continue
        if _unknown(nxt.fold) or nxt.fold in family:
            names.update((i, i + 1))


_AGE_SUBJECTS = frozenset(["pt", "patient", "she", "he", "this", "the", "mr", "mrs", "ms"])
# "per d ross": lower case, and never the article ("by a doctor", "with a clear answer")
_PER_INITIAL = re.compile(r"\b(?:per|by|with|from)\s+([b-hj-npr-wyz])\.?\s+([a-z][\w'’-]{2,30})\b")
_IS_A_AGE = re.compile(
    r"(?im)^[ \t]*([a-z][\w'’-]+(?:[ \t]+[a-z][\w'’-]+){0,2})[ \t]+is[ \t]+an?[ \t]+\d{1,3}[ \t]*"
    r"(?:y/?o|yr|year|y\.o\.)"
)


def _initial_names(text: str, toks: list, names: set[int]) -> None:
    """'nsg (d. renna and j. o'brien)': an initial with its period, then an unknown word, in
    lower case (an all-caps "R. FEMORAL" is a side, not a person)."""
    for i, t in enumerate(toks[:-1]):
        if len(t.word) != 1 or text[t.end : t.end + 2] != ". " or toks[i + 1].start != t.end + 2:
            continue
        if t.start and text[t.start - 1] not in " \t\n(":
            continue
        if not toks[i + 1].word.islower():
            continue
        nxt = toks[i + 1]
        if _unknown(nxt.fold) and nxt.fold not in _NOT_AFTER_TITLE and len(nxt.fold) > 2:
            names.update((i, i + 1))
    starts = {t.start: i for i, t in enumerate(toks)}
    for m in _PER_INITIAL.finditer(text):  # "per d ross": an initial without its period
        i, k = starts.get(m.start(1)), starts.get(m.start(2))
        fold = lx.fold(m.group(2))
        if i is not None and k is not None and (_unknown(fold) or fold in lx.family_names()):
            names.update((i, k))
    for m in _IS_A_AGE.finditer(text):  # "lorrie morales is a 70 yr old female"
        run = [starts[p.start() + m.start(1)] for p in re.finditer(r"\S+", m.group(1))]
        folds = [toks[k].fold for k in run]
        # a line that opens with someone's age: what comes before "is a 70 yr old" is who
        if not any(
            f in _NOT_AFTER_TITLE or f in lx.common_words() or f in _AGE_SUBJECTS for f in folds
        ):
            names.update(run)


def _place_run(text: str, toks: list, i: int, *, limit: int = 3) -> list[int]:
    """Up to `limit` tokens from toks[i], joined by single spaces, that name a place: every one
    unknown, or the run ends in a hospital word ('sacred heart hospital')."""
    run = [i]
    while len(run) < limit and run[-1] + 1 < len(toks):
        k = run[-1] + 1
        if _gap(text, toks[k - 1], toks[k]) not in (" ", "-") or toks[k].fold in {"and", "for"}:
            break
        run.append(k)
    for size in range(len(run), 0, -1):
        part = run[:size]
        if all(_unknown(toks[k].fold) for k in part):
            return part
    return []


def _moved_places(text: str, toks: list, places: list[tuple[int, int]]) -> None:
    """'transferred to gh', 'followed at gh by dr healey', 'lives in catonsville'."""
    starts = {t.start: i for i, t in enumerate(toks)}
    for cue in (_MOVE_CUE, _LIVING_CUE):
        for m in cue.finditer(text):
            i = starts.get(m.end())
            if i is None:
                continue
            run = _place_run(text, toks, i, limit=2)
            if not run and cue is _LIVING_CUE:
                run = _lived_in(text, toks, i)
            if run:
                places.append((toks[run[0]].start, _glued(text, toks[run[-1]].end)))
    # "to gh er", "at GH cath lab": a word no dictionary places, then a unit of a hospital
    for i, t in enumerate(toks[:-1]):
        nxt = toks[i + 1]
        if not (_unknown(t.fold) and 2 <= len(t.fold) <= 5 and nxt.fold in _UNIT_AFTER_PLACE):
            continue
        if _gap(text, t, nxt) == " " and _PLACE_BEFORE.search(text[max(0, t.start - 12) : t.start]):
            places.append((t.start, t.end))
    # "had at gh", "in GH": a hospital's initials, H for hospital, that no dictionary places;
    # after "in" only in capitals ("in nph pts" is a drug's)
    for m in _HOSPITAL_SHORT.finditer(text):
        short = m.group(1)
        lower_in = m.group().lower().startswith("in") and not short.isupper()
        if _unknown(short.lower()) and not lower_in:
            places.append((m.start(1), m.end(1)))
    # "Was accepted by St. Agnes", "had a bed @ St A.", "in St Mary hospital"
    for m in _SAINT.finditer(text):
        places.append((m.start(1), m.end(1)))


def _lived_in(text: str, toks: list, i: int) -> list[int]:
    """After 'lives in': a town ('rome'), or words up to one no dictionary places ('white
    amrsh')."""
    k = i + 1
    joined = k < len(toks) and _gap(text, toks[i], toks[k]) == " "
    placed = toks[i].fold in _NOT_A_PLACE
    if joined and _unknown(toks[k].fold) and not placed:
        return [i, k]
    return [i] if _is_town(toks[i].fold) else []


def _capitalised(tok: object) -> bool:
    return tok.word[:1].isupper() and not tok.word.isupper()


def _is_town(fold: str) -> bool:
    """A town is PHI; a state is not (Safe Harbor keeps states); 'the' is no town."""
    return fold in lx.cities() and fold not in lx.states_folded() | lx.common_words()


def _hospital_places(text: str, toks: list, places: list[tuple[int, int]]) -> None:
    """'kernan hosp', 'reisterstown hospital', 'sacred heart hospital', 'harford memorial',
    'university of maryland hospital': the words before a hospital word, back to a cue word."""
    ends = {t.end: i for i, t in enumerate(toks)}
    for m in _HOSPITAL_WORD.finditer(text):
        i = ends.get(m.start() - 1) if text[m.start() - 1 : m.start()] == " " else None
        run: list[int] = []
        while i is not None and len(run) < 4:
            t = toks[i]
            # "admitted from MD Hospital": a shorthand word is the name when a transfer cue
            # comes right before it
            cued = _moved_to(text, t.start) and t.fold not in _GENERIC_PLACE_WORDS
            if t.fold in _NOT_A_PLACE and not (t.fold == "of" and run) and not cued:
                break
            if t.fold in lx.safelist() and not cued:
                break
            run.insert(0, i)
            gap = _gap(text, toks[i - 1], t) if i else "\n"
            i = i - 1 if gap == " " else None
        # The name starts at its first word no dictionary places, or capitalised in a mixed-case
        # note: "in my salaried hospital job" names nothing, "rehab(sacred heart Memorial)" does.
        bracketed = run and text[toks[run[0]].start - 1 : toks[run[0]].start] == "("
        # … or right after a place cue: "transferred to sacred heart hospital", "recieved from
        # university of maryland hospital" (never "in my salaried hospital job")
        moved = run and _moved_to(text, toks[run[0]].start)
        # … or right after a bare "to", "from" or "at", when no word of it is generic: "to go
        # this afternoon, to sacred heart hospital" (never "to the local hospital", "at night
        # hospital staff")
        moved = moved or (run and _bare_hospital_name(text, toks, run))
        if not (bracketed or moved):
            while run and not _named(toks[run[0]]):
                run.pop(0)
        while run and toks[run[0]].fold == "of":
            run.pop(0)
        if not run:
            continue
        # "kernan hosp": the name is PHI, the generic word not; "harford memorial": both
        generic = re.match(r"(?i)hosp|medical|med\b|campus", m.group())
        places.append((toks[run[0]].start, toks[run[-1]].end if generic else m.end()))


def _bare_hospital_name(text: str, toks: list, run: list[int]) -> bool:
    """Whether the words before a hospital word follow a bare 'to', 'from' or 'at' and none of
    them is generic ('local', 'outside', 'night', 'my')."""
    start = toks[run[0]].start
    if not _BARE_PLACE_CUE.search(text[max(0, start - 6) : start]):
        return False
    return not any(toks[k].fold in _GENERIC_PLACE_WORDS for k in run)


def _moved_to(text: str, start: int) -> bool:
    """Whether a transfer cue ends right at `start` ('transferred to |sacred heart hospital')."""
    window = max(0, start - 40)
    return any(m.end() == start for m in _MOVE_CUE.finditer(text, window, start))


def _named(tok: object) -> bool:
    return _unknown(tok.fold) or _capitalised(tok)


def _ward_places(text: str, toks: list, places: list[tuple[int, int]]) -> None:
    """'to quartermain 2', 'on QUARTERMAIN 6', 'transfer to quartermain2': an unknown word
    with a ward number, after a word of place."""
    for t in toks:
        if not _unknown(t.fold) or len(t.fold) < 4:
            continue
        before = text[max(0, t.start - 6) : t.start]
        if not (_WARD_CUE.search(before) or (len(t.fold) >= 6 and _ON_WARD_CUE.search(before))):
            continue
        number = _WARD_NUMBER.match(text, t.end)
        if number:
            places.append((t.start, number.end() if number.group()[0].isdigit() else t.end))


def _glued(text: str, end: int) -> int:
    """A ward number glued to the place ('quartermain2') belongs to it."""
    number = re.compile(r"\d{1,2}\b").match(text, end)
    return number.end() if number else end


def recurring_places(text: str, toks: list, spans: list[Span]) -> list[Span]:
    """A hospital any layer found ('CALVERT HOSPITAL') is a place where its own name recurs
    ('7/23 AT CALVERT-'): every other occurrence of a word in it that no dictionary places (not
    the generic word: 'hosp' is everyone's)."""
    places = [(s.start, s.end) for s in spans if s.label == "HOSPITAL"]
    return [
        Span(a, b, "LOCATION", "context", 0.65)
        for a, b in _recurring(text, toks, places)
        if not _HOSPITAL_WORD.fullmatch(text[a:b])
    ]


def _proper(fold: str) -> bool:
    """A word of a place's name that is no common, generic or medical word ('calvert', not
    'heart', 'local' or 'rehab')."""
    return len(fold) >= 4 and not (
        fold in lx.common_words() or fold in lx.safelist() or fold in _GENERIC_PLACE_WORDS
    )


def _recurring(text: str, toks: list, places: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Every other occurrence, in any case, of a word already found as a place that is unknown
    or a name ('CALVERT HOSPITAL' … '7/23 AT CALVERT-'), never a common word ('heart')."""
    found = {
        t.fold
        for t in toks
        for start, end in places
        if start <= t.start
        and t.end <= end
        and (_unknown(t.fold) or _proper(t.fold))
        and not _HOSPITAL_WORD.fullmatch(t.word)
    }
    return [(t.start, t.end) for t in toks if t.fold in found]
