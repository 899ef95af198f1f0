"""Nursing shorthand with labelled PHI, written here, for training the learned de-identification
layer (compliance/deid/learned.py) alongside bench/deid_corpus.py's formal notes.

Real ICU notes drop capitals and titles' periods, sign with lower-case credentials, name staff
and family bare, and name places by short forms and ward numbers. These lines do the same with
names and places that are half from the corpus's lists and half invented from syllables, so the
tagger learns the cue around a name rather than the name. Every line is one of ours; offsets are
recorded as the line is built.

    from bench.deid_shorthand import shorthand_notes
    for text, spans in shorthand_notes(2000, seed=11): ...
"""

from __future__ import annotations

import random
import re

from bench.deid_corpus import DRUGS, FAMILY, GIVEN, _words

_SYLLABLES = _words(
    "ka ler wick mon ta ri bel ham dor ven sa lo qui nel tor ba sh ing ton ford ley mar ro "
    "vi an des kov pel zen ora fi gu bru ne cal ter ash by wen tre mo hal ric pen sta dal"
)

# Jargon no dictionary holds is not PHI by itself: invented drug- and device-like words ({J})
# fill the clinical lines, so the tagger learns that a name needs its cue.
_JARGON_STEMS = _words(
    "flo dex tor pra quin vel cor lax zan mer cef dopa neo levo amio hep lop pro"
)
_JARGON_ENDS = _words("ol ine ide pril ex ax ium ate one il ene oxin cin mab al ic an")

# {G} given name, {F} family name, {I} an initial, {P} a town or hospital name, {H} a short
# hospital form, {W} a ward number, {O} an employer. Clinical lines carry no PHI at all.
_PHI_LINES = [
    "dr {F} aware of k+ {n}.{n}",
    "dr {F} notified, no new orders",
    "spoke with dr {F} re plan of care",
    "per dr {F} wean as tol",
    "dr. {G} {F} in to see pt",
    "pt of dr {F}.",
    "drs {F} and {F} at bedside",
    "{G} {F} rrt",
    "{I}. {F} rn",
    "{G} {I}. {F} bsn/rn",
    "{G} {F} np into eval",
    "mr {F} had an uneventful noc",
    "mrs. {G} {F} called for update",
    "{G} wishes to make pt dnr",
    "case manager spoke with {G}",
    "wife {G} at bedside most of shift",
    "dtr {G} {F} called, updated",
    "son {G} lives in {P}",
    "house staff {G} {F} aware",
    "nsg ({I}. {F} and {I}. {F}) counted valuables",
    "transferred to {H} for cath",
    "taken to {P} hosp by ambulance",
    "transfer to {P} {W} when bed avail",
    "resp distress on {P} {W}; code called",
    "pt lives in {P} with husband",
    "husband ceo of {O}",
    "followed at {H} by dr {F}",
    "enroute to {H} er",
    "seen by {G} from social work",
    "{G} {F} from speech and swallow in today",
    "{F} to call family in am",
    "plan: {P} {W} today",
]
_CLINICAL_LINES = [
    "neo gtt titrated to keep map >60",
    "lasix {n}0 iv given with good uo",
    "thick tan secretions suctioned via ett",
    "foley draining clear yellow urine",
    "rales 1/3 up bilat, diminished at bases",
    "to ct at 14{n}0, returned without incident",
    "transfer to micu when bed avail",
    "seen by psych today, no new recs",
    "remains on simv {n}{n} with rr {n}{n}",
    "s. aureus in sputum, on vanco",
    "dr aware of low uo",
    "md notified of hct {n}{n}.{n}",
    "pt comfortable, family at bedside",
    "heparin gtt at {n}{n}0 units/hr, ptt pending",
    "a-line dampened, flushed",
    "cont to monitor, plan as above",
    "skin intact, turned q2h",
    "denies pain, resting quietly",
    "bp stable on dopa {n}.{n} mcg/kg/min",
    "will continue current plan per team",
    "tolerating {J} and {J}",
    "{J} d/c'd, started {J}",
    "r {J} intact, no hematoma",
    "cont {J} gtt, wean as tol",
    "see {J} for details",
    "++{J}, abd soft",
    "{J} {n}{n} mg iv given",
    "l fem {J} and temp pacer wire",
    "ls bilat {J}, r base dim",
    "replete {J} prn",
    "perrla, {J} intact",
    "wife and {J} in to visit",
    "?wean {J}. ?pa #'s",
    "scant amt of tan {J}",
    "hr to 130's {J}, pap's to 60/35",
    "{J}, lavaged and sxn'd for occ. thick secretions",
    "oob to {J} and chair, tolerated well",
    "npo for {J}, no stool",
    "bp in 80's to 100's {J}",
    "occ {J} pvc's noted",
    "a {J}. tpn infusing via tlc",
    "{J} and vent changes avail",
    "coarse with occ. {J}",
    "{J} {J} overnite, titrating {J}",
]


def _invented(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))


def _jargon(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(sorted(DRUGS)).split()[0].lower()
    return (
        rng.choice(_JARGON_STEMS)
        + rng.choice(_SYLLABLES[:12]) * rng.randint(0, 1)
        + rng.choice(_JARGON_ENDS)
    )


def _name(rng: random.Random, pool: list[str]) -> str:
    return rng.choice(pool) if rng.random() < 0.5 else _invented(rng).capitalize()


def _fill(rng: random.Random, template: str) -> tuple[str, list[tuple[int, int, str]]]:
    out, spans, pos = [], [], 0
    for piece in re.split(r"(\{[A-Za-z]\})", template):
        label = None
        if piece == "{G}":
            piece, label = _name(rng, GIVEN), "NAME"
        elif piece == "{F}":
            piece, label = _name(rng, FAMILY), "NAME"
        elif piece == "{I}":
            piece, label = rng.choice("abcdefghjklmnprstw"), "NAME"
        elif piece in ("{P}", "{O}"):
            piece, label = _invented(rng).capitalize(), "LOCATION"
        elif piece == "{H}":
            piece, label = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVW") for _ in range(2)), "LOCATION"
        elif piece == "{J}":
            piece = _jargon(rng)
        elif piece == "{W}":
            piece = str(rng.randint(1, 9))
        elif piece == "{n}":
            piece = str(rng.randint(0, 9))
        if label:
            spans.append((pos, pos + len(piece), label))
        out.append(piece)
        pos += len(piece)
    return "".join(out), spans


def _cased(rng: random.Random, text: str) -> str:
    """Most shorthand is lower case, some in capitals, some as typed (names capitalised)."""
    roll = rng.random()
    if roll < 0.55:
        return text.lower()
    if roll < 0.75:
        return text.upper()
    return text


def shorthand_notes(n: int = 2000, seed: int = 11) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """n short notes of 3 to 8 lines, about half the lines with PHI, as
    (text, [(start, end, label)])."""
    rng = random.Random(seed)
    notes = []
    for _ in range(n):
        text, spans = "", []
        for _ in range(rng.randint(3, 8)):
            pool = _PHI_LINES if rng.random() < 0.5 else _CLINICAL_LINES
            line, line_spans = _fill(rng, rng.choice(pool))
            line = _cased(rng, line)
            spans += [(len(text) + a, len(text) + b, label) for a, b, label in line_spans]
            text += line + rng.choice([". ", "\n", ".  ", "\n\n"])
        notes.append((text, spans))
    return notes
