"""A labelled synthetic clinical-note corpus for tuning and benchmarking de-identification.

Bench and test code only (bench_deid, bench/deid_score.py, tests/compliance/test_deid_corpus.py):
the product never imports it. The demo's clinical notes (compliance/demo_notes/) were written by
it once, `generate_corpus(6, seed=2026)`, and are shipped as plain files.

    from bench.deid_corpus import generate_corpus, write_jsonl
    notes = generate_corpus(300, seed=7)      # deterministic for (n, seed); a prefix for smaller n
    notes[0].text[s.start:s.end]               # for s in notes[0].spans: the exact entity text
    write_jsonl(notes, "var/deid/notes.jsonl") # also writes var/deid/notes.gold.jsonl

    python -m bench.deid_corpus var/deid/notes.jsonl --n 300 --seed 7

Six kinds of note in turn (discharge summary, SOAP progress note, nursing note, therapy session
note, radiology report, referral letter), 1,200 to 2,800 characters, about one in thirteen in
capitals. Texts are built by appending fragments and recording offsets as they go, never by
searching afterwards, so every gold span is exact. Each note also lists its distractors (drugs,
eponyms, doses, vitals, labs, codes, ages under 90, bare years, states, ordinary words that are
names elsewhere): text that must stay, with the same offsets, for measuring over-redaction
(bare years may go or stay: compliance.deid.scoring counts them on neither side).
Names come mostly from the hand-written lists below, some from Faker's non-US locales; all
hospitals, organisations, addresses and numbers are invented.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path


def _words(text: str) -> list[str]:
    return text.split()


KINDS = ("discharge", "progress", "nursing", "therapy", "radiology", "referral")

GIVEN = _words("""Adaeze Aigerim Alejandro Amara Anneliese Anoush Anselm Arjun Astrid Aurelio Ayesha
Bartholomew Beatriz Benedikt Bongani Bronwyn Caoimhe Carmelita Casimir Cedric Chiamaka Cosmin
Dagny Dariusz Delphine Desmond Dmitri Dolores Eamon Ebele Efua Eilidh Eleni Emeka Esperanza
Eszter Evander Fatima Femi Fenella Florin Gaspard Gideon Giovanna Gwendolyn Hamid Hana Hendrik
Hyacinth Ifeoma Ignatius Ilse Imogen Ingeborg Isidore Jadwiga Jarrah Jovan Kalani Kamala Kasimir
Keziah Kofi Leocadia Liesel Lorcan Ludmila Lupe Malakai Marisol Mateusz Mehmet Mireille Mthunzi
Nadia Naledi Nikhil Niamh Nobuko Odalys Oksana Olufemi Onyeka Ottoline Padraig Perpetua Phuong
Priyanka Quang Radomir Rashida Reinhold Rosalind Ruairi Saoirse Seraphina Siobhan Sunniva Tadeusz
Tamsin Temperance Thandiwe Theodora Thiago Tomasz Ulrike Valentina Vasilisa Wairimu Wojciech
Xiomara Yaroslav Yesenia Yusuf Zbigniew Zeynep Zofia Zoltan Sarah Michael David Jennifer Robert
Linda James Maria Daniel Patricia Kevin Susan Brian Karen Luis Angela Jamal Tanisha DeShawn
Latoya Will Hope Faith Rose Grace Joy Dawn June April Summer Bill Art Rusty Sunny Mark Pat Major
Hunter Destiny Precious Royal""")

FAMILY = _words("""Okonkwo Abernathy Achterberg Adeyemi Agbaje Alcantara Amundsen Anand Arceneaux
Arroyo Babatunde Bakshi Balogun Barraclough Bartosiewicz Beauchamp Bergstrom Bhattacharya Bianchi
Blackwood Bonaventura Brannigan Brzezinski Castellanos Chakraborty Chatterjee Chukwuma Ciobanu
Coughlan Czajkowski Dabrowski Dalgaard Delacroix Desrosiers Dimitrov Dlamini Donoghue Drummond
Duong Eckhardt Ekwueme Esposito Fairweather Farouk Fenwick Ferreira Fitzgerald Fonseca Gallagher
Gastineau Ghosh Gonzaga Grzelak Guerrero Halvorsen Hargreaves Hashemi Hauptmann Hernandez
Hoang Holloway Ibekwe Iwasaki Jablonski Jankowski Kaczmarek Kapoor Karamanlis Kaur Kenyatta
Khumalo Kowalczyk Kristiansen Lachance Lindqvist Lombardi Loughlin Mahlangu Makinde Mbeki
McAllister MacPhail Mendoza Mirzoyan Moreau Mukherjee Nakamura Naidoo Ndlovu Nguyen Nwachukwu
Obuya Oduya Ogunleye Okafor Olawale Ostrowski Paczkowski Papadakis Pellegrino Petrovic
Quiroga Radulescu Ramaswamy Rasmussen Reinholt Rinaldi Rodriguez Rosenthal Rzepka Sandoval
Santangelo Schaefer Sepulveda Shevchenko Sigurdsson Sokolov Szabo Tafolla Takahashi Thibodeaux
Tkachenko Trujillo Umarov Underhill Valdivia Vasquez Villanueva Wachowski Waweru Whitlock
Wojcik Xiong Yamamoto Yilmaz Zabala Zamora Zielinski Johnson Williams Brown Jones Miller Davis
Washington Major Rose Young Hill Black King Cook Sharp Law Strong Love Christmas Day""")

FAKER_LOCALES = ("pl_PL", "vi_VN", "tr_TR", "it_IT", "es_MX", "fr_FR", "pt_BR", "nl_NL",
                 "fi_FI", "cs_CZ", "ro_RO", "hu_HU", "yo_NG", "zu_ZA", "ga_IE")  # fmt: skip

CITIES = """Columbus|Dayton|Toledo|Akron|Fairhaven|Harrisburg|Allentown|Scranton|Erie|Buffalo|Utica
|Syracuse|Albany|Poughkeepsie|Hartford|New Haven|Worcester|Springfield|Lowell|Providence|Bangor
|Burlington|Manchester|Portland|Eugene|Salem|Spokane|Tacoma|Boise|Helena|Billings|Cheyenne
|Laramie|Provo|Flagstaff|Tucson|Las Cruces|Amarillo|Lubbock|El Paso|Laredo|Waco|Shreveport
|Baton Rouge|Biloxi|Mobile|Tuscaloosa|Chattanooga|Knoxville|Asheville|Durham|Savannah|Macon
|Tallahassee|Gainesville|Pensacola|Lexington|Louisville|Evansville|Fort Wayne|Kalamazoo|Flint
|Saginaw|Duluth|Fargo|Sioux Falls|Rapid City|Omaha|Lincoln|Topeka|Wichita|Tulsa|Joplin|Peoria
|Rockford|Dubuque|Cedar Rapids|Green Bay|Oshkosh|Florence|Marion|Jackson|Austin|Paris|Athens
|Hopewell Junction|Millbrook Falls|Quarry Hollow|East Tannersville|Little Baraboo|Wren's Ferry
|Oakvale|Pinder Crossing|North Ashcombe|Greywater|Saltlick|Cobb's Landing|Mossfield
|Dunmore Springs|Kettle Bend""".replace("\n", "").split("|")

STATES = """Ohio|Pennsylvania|New York|Vermont|Maine|Oregon|Idaho|Montana|Wyoming|Arizona|Texas
|Louisiana|Alabama|Tennessee|Georgia|Florida|Kentucky|Indiana|Michigan|Minnesota|Nebraska
|Kansas|Oklahoma|Missouri|Illinois|Iowa|Wisconsin|North Carolina|Virginia|Colorado""".replace(
    "\n", ""
).split("|")
STATE_ABBR = _words("OH PA NY VT ME OR ID MT WY AZ TX LA AL TN GA FL KY IN MI MN NE KS OK MO IL")

HOSPITALS = """Lakeside Regional Medical Center|St. Brigid's Hospital|Mercy Ridge Hospital
|Harborview Community Hospital|Good Samaritan of the Valley|Northgate Memorial Hospital
|Cedar Hollow Medical Center|St. Columba's Infirmary|Three Rivers General Hospital
|Bluestem Prairie Hospital|Our Lady of Sorrows Medical Center|Kestrel Bay Health Center
|Ashgrove Children's Hospital|Pinecrest Behavioral Health|Riverside Heights Hospital
|Saint Wenceslas Hospital|Copper Canyon Regional|Willowbrook Rehabilitation Center""".replace(
    "\n", ""
).split("|")

ORGS = """Harbor Freight Logistics|Pinecrest Elementary School|Grace Fellowship Church
|Tri-County Home Health|Meridian Tool & Die|Blue Heron Credit Union|Kessler Dairy Cooperative
|Northfield Public Library|Sunrise Senior Living|Vantage Roofing Co.|Golden Spoon Diner
|Holloway & Brandt LLP|Riverbend Middle School|Cascade Paper Mill|St. Anselm Parish
|Redline Courier Services|Alder Street Food Pantry|Brightpath Staffing|Coastal Fisheries Union
|Ironwood Correctional Facility|Maple Leaf Daycare|Summit Ridge Apartments HOA""".replace(
    "\n", ""
).split("|")

PROFESSIONS = """welder|schoolteacher|long-haul truck driver|dental hygienist|electrician
|line cook|firefighter|paralegal|hairdresser|roofer|bank teller
|machinist|nursing assistant|barista|software developer|pharmacist
|dairy farmer|commercial fisherman|librarian|police officer|bus driver|carpenter|accountant
|Uber driver|warehouse picker|daycare worker|pastor|veterinary technician|plumber|stonemason
|court stenographer|cashier|home health aide|landscaper|tattoo artist|air traffic controller
|railroad conductor|seamstress|postal carrier|coal miner|professional cellist|crossing guard
|auto mechanic|chef|graduate student in chemistry|real estate agent|HVAC technician
|Army sergeant""".replace("\n", "").split("|")

STREET_NAMES = """Old Mill|Larkspur|Chestnut Ridge|Willow Bend|Carriage House|Quarry|Beacon Hill
|Thornapple|Juniper|Ferncliff|Kingfisher|Pottery|Sycamore Hollow|Tannery|Wren|Cooper's Mill
|Hawthorne|Ridgecrest|Lantern|Ashby""".replace("\n", "").split("|")
STREET_TYPES = ["St", "Street", "Ave", "Avenue", "Rd", "Road", "Ln", "Lane", "Dr", "Ct", "Blvd"]

COUNTIES = """Harlan County|Sangamon County|Lackawanna County|Cuyahoga County|Tioga County
|Kanawha County|Ottertail County|Bexar County|Washtenaw County|Pike County|Muskingum County
|Chemung County""".replace("\n", "").split("|")
NEIGHBOURHOODS = """the Ironbound|Five Points|Little Saigon|Germantown|the Flats|Hungry Hollow
|Frog Town|Cabbagetown|the Bottoms|Olde Towne East|Polish Hill""".replace("\n", "").split("|")
TATTOOS = ["LOLA 4EVER", "Semper Fi 0312", "MOM 1962", "Carmen y Nico", "RIP BIG JAY",
           "Daddy's Girl", "XIII", "Kat & Luis 2009", "Born to Lose", "Lucky 7 Crew"]  # fmt: skip
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "protonmail.com",
                 "aol.com", "comcast.net", "hotmail.com"]  # fmt: skip
RELATIONS = [("daughter", "dtr"), ("son", "son"), ("wife", "wife"), ("husband", "husb"),
             ("sister", "sis"), ("brother", "bro"), ("niece", "niece"), ("grandson", "gson"),
             ("granddaughter", "gdtr"), ("neighbor", "neighbor")]  # fmt: skip

# Each drug with doses it is really given at, so the medication lists read true.
DRUGS = {
    "metoprolol": ["25 mg PO BID", "50 mg PO q12h"], "lisinopril": ["10 mg PO daily"],
    "apixaban": ["5 mg PO BID", "2.5 mg BID"], "furosemide": ["40 mg IV BID", "20 mg PO daily"],
    "sertraline": ["50 mg PO daily", "100 mg qAM"], "lorazepam": ["0.5 mg PO q6h PRN anxiety"],
    "acetaminophen": ["650 mg PO q6h PRN", "1 g PO q8h"], "heparin": ["5000 units SC q8h"],
    "insulin glargine": ["18 units SC qHS", "10 units SC nightly"],
    "atorvastatin": ["40 mg PO qHS", "80 mg daily"], "levetiracetam": ["500 mg PO BID"],
    "quetiapine": ["25 mg PO qHS PRN agitation"], "ceftriaxone": ["1 g IV q24h"],
    "vancomycin": ["1,250 mg IV q12h"], "pantoprazole": ["40 mg PO daily"],
    "Lasix": ["40 mg PO BID"], "Zoloft": ["75 mg daily"], "Eliquis": ["5 mg BID"],
    "Keppra": ["750 mg BID"], "Seroquel": ["50 mg qHS"], "Coumadin": ["5 mg PO daily"],
    "Norco": ["5/325 1 tab q4h PRN pain"], "oxycodone": ["5 mg PO q4h PRN"],
    "potassium chloride": ["20 mEq PO x1"], "aspirin": ["81 mg daily"],
}  # fmt: skip
EPONYMS = ["Parkinson's disease", "Crohn's disease", "Alzheimer's dementia", "Hodgkin lymphoma",
           "Graves' disease", "Bell's palsy", "Cushing's syndrome", "Barrett's esophagus",
           "Raynaud's phenomenon", "Guillain-Barre syndrome", "Hashimoto's thyroiditis",
           "Wilson's disease", "Addison's disease", "Sjogren's syndrome"]  # fmt: skip
SCALES = ["Apgar 8 and 9", "Glasgow Coma Scale 15", "GCS 14", "Braden score 16",
          "Morse fall score 45", "PHQ-9 of 14", "GAD-7 of 11", "MMSE 24/30", "CIWA 6"]  # fmt: skip
DEVICES_COMMON = ["Foley catheter", "Hoyer lift", "Swan-Ganz catheter", "Jackson-Pratt drain",
                  "Pleur-evac", "PICC line", "Bair Hugger"]  # fmt: skip
CODES = ["ICD-10 F32.1", "ICD-10 I10", "ICD-10 E11.9", "ICD-10 J44.1", "ICD-10 F41.1",
         "CPT 90837", "CPT 99214", "CPT 71046", "ICD-10 N17.9", "CPT 70450"]  # fmt: skip
PROBLEMS: list[list[Fragment]] = [
    ["Hypertension (", ("~CODE", "ICD-10 I10")],
    ["Type 2 diabetes (", ("~CODE", "ICD-10 E11.9")],
    ["COPD exacerbation (", ("~CODE", "ICD-10 J44.1")],
    ["Depression, moderate (", ("~CODE", "ICD-10 F32.1")],
    ["Acute kidney injury (", ("~CODE", "ICD-10 N17.9")],
    ["Follow-up visit (", ("~CODE", "CPT 99214")],
]
PSYCH_DRUGS = ("sertraline", "Zoloft", "quetiapine", "Seroquel", "lorazepam")
PSYCH_SCALES = ["PHQ-9 of 14", "GAD-7 of 11", "PHQ-9 of 7", "GAD-7 of 5", "AUDIT-C 4"]
IMAGING_CODES = ["CPT 71046", "CPT 70450", "CPT 74177", "CPT 72148", "CPT 76705"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip
HOLIDAYS = ["Christmas", "Christmas Eve", "Thanksgiving", "New Year's Day", "New Year's Eve",
            "Easter", "Fourth of July", "Labor Day", "Memorial Day", "Halloween",
            "Valentine's Day", "Mother's Day", "Father's Day"]  # fmt: skip
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
NUMBER_WORDS = {90: "ninety", 91: "ninety-one", 92: "ninety-two", 93: "ninety-three",
                94: "ninety-four", 95: "ninety-five", 96: "ninety-six", 97: "ninety-seven",
                98: "ninety-eight", 99: "ninety-nine", 100: "one hundred",
                }  # fmt: skip

# A fragment is plain text, or (label, text) for PHI, or ("~CATEGORY", text) for a distractor.
Fragment = str | tuple[str, str]


@dataclass(frozen=True)
class GoldSpan:
    start: int
    end: int
    label: str


@dataclass
class LabelledNote:
    id: str
    kind: str
    text: str
    spans: list[GoldSpan]
    # Text that must NOT be redacted, by category (DRUG, EPONYM, DOSE, VITAL, LAB, CODE, ...).
    distractors: list[GoldSpan] = field(default_factory=list)


class _Doc:
    """Appends fragments and records the offsets of PHI and distractors as it goes."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.spans: list[GoldSpan] = []
        self.distractors: list[GoldSpan] = []

    def add(self, *fragments: Fragment) -> None:
        for fragment in fragments:
            if isinstance(fragment, str):
                text, label = fragment, None
            else:
                label, text = fragment
            if label and text:
                record = GoldSpan(self.pos, self.pos + len(text), label.lstrip("~"))
                (self.distractors if label.startswith("~") else self.spans).append(record)
            self.parts.append(text)
            self.pos += len(text)

    def text(self) -> str:
        return "".join(self.parts)


class _Faker:
    """Faker instances are slow to build: one per locale, reseeded per use for determinism."""

    _cache: dict = {}

    @classmethod
    def name(cls, rng: random.Random) -> tuple[str, str]:
        from faker import Faker

        locale = rng.choice(FAKER_LOCALES)
        fake = cls._cache.get(locale) or cls._cache.setdefault(locale, Faker(locale))
        fake.seed_instance(rng.randrange(2**31))
        return fake.first_name(), fake.last_name()


@dataclass
class _Person:
    first: str
    last: str
    sex: str  # "F" or "M"

    @property
    def they(self) -> str:
        return "she" if self.sex == "F" else "he"

    @property
    def their(self) -> str:
        return "her" if self.sex == "F" else "his"


@dataclass
class _Cast:
    """Everything one note refers to, so names and places recur consistently within it."""

    rng: random.Random
    patient: _Person
    relative: _Person
    relation: tuple[str, str]
    doctors: list[_Person]
    nurse: _Person
    age: int
    day: date
    dob: date
    hospital: str
    city: str
    state: str
    org: str
    profession: str


def _person(rng: random.Random, sex: str | None = None) -> _Person:
    sex = sex or rng.choice("FM")
    if rng.random() < 0.2:
        first, last = _Faker.name(rng)
    else:
        first, last = rng.choice(GIVEN), rng.choice(FAMILY)
    return _Person(first, last, sex)


def _cast(rng: random.Random) -> _Cast:
    old = rng.random() < 0.3
    age = rng.randint(90, 102) if old else rng.choice([rng.randint(19, 89), rng.randint(60, 89)])
    day = date(2019, 1, 1) + timedelta(days=rng.randrange(6 * 365))
    dob = day - timedelta(days=365 * age + rng.randrange(300))
    relation = rng.choice(RELATIONS)
    female = ("daughter", "wife", "sister", "niece", "granddaughter")
    rel_sex = "F" if relation[0] in female else "M"
    return _Cast(
        rng=rng,
        patient=_person(rng),
        relative=_person(rng, rel_sex),
        relation=relation,
        doctors=[_person(rng) for _ in range(3)],
        nurse=_person(rng),
        age=age,
        day=day,
        dob=dob,
        hospital=rng.choice(HOSPITALS),
        city=rng.choice(CITIES),
        state=rng.choice(STATES),
        org=rng.choice(ORGS),
        profession=rng.choice(PROFESSIONS),
    )


# ---------------------------------------------------------------------------------------------
# Value makers: each returns fragments, so a value with parts (an address) keeps exact offsets.


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _fill(rng: random.Random, pattern: str) -> str:
    """'#' becomes a digit, '@' a letter or digit, '%' a letter: _fill(rng, "%##-####")."""
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    pools = {"#": "0123456789", "@": letters + "0123456789", "%": letters}
    return "".join(rng.choice(pools[ch]) if ch in pools else ch for ch in pattern)


def _alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(n))


def _date(rng: random.Random, d: date, full: bool = False) -> list[Fragment]:
    """A date as notes write it; full=True keeps the year (headers, dates of birth)."""
    mon = MONTHS[d.month - 1]
    forms = [
        f"{d.month:02d}/{d.day:02d}/{d.year}",
        f"{d.month}/{d.day}/{d.year % 100:02d}",
        d.isoformat(),
        f"{mon} {d.day}, {d.year}",
        f"{d.day} {mon[:3]} {d.year}",
        f"{mon[:3]} {d.day}",
        f"{d.month}/{d.day}",
        f"{d.day:02d}-{mon[:3].upper()}-{d.year}",
        f"{mon[:3]} {_ordinal(d.day)}",
    ]
    if full:
        forms = [form for form in forms if str(d.year % 100) in form]
    return [("DATE", rng.choice(forms))]


def _ascii(text: str) -> str:
    """Letters only, accents dropped: for e-mail addresses and host names."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def _a_phi(label: str, word: str) -> list[Fragment]:
    """ "a welder" / "an electrician", the article outside the span."""
    article = "an " if word[0].lower() in "aeiou" or word.startswith("HVAC") else "a "
    return [article, (label, word)]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _word_date(rng: random.Random, c: _Cast, future: bool = False) -> list[Fragment]:
    """Dates written as words: holidays, birthdays, bare ordinals, weekday plus ordinal. The
    preposition comes with it ("over Christmas", "last Tuesday the 3rd")."""
    d = c.day + timedelta(days=rng.randint(2, 40) * (1 if future else -1))
    ordinal, mon = _ordinal(d.day), MONTHS[d.month - 1]
    forms: list[list[Fragment]] = [
        ["on the ", ("DATE", ordinal)],
        ["on ", ("DATE", f"{mon[:3]} {ordinal}")],
        ["on ", ("DATE", f"{d.month}/{d.day}")],
        ["on ", ("DATE", f"{mon} {ordinal}")],
    ]
    if future:
        forms += [
            ["after ", ("DATE", rng.choice(HOLIDAYS))],
            ["next ", ("DATE", WEEKDAYS[d.weekday()]), " the ", ("DATE", ordinal)],
            ["before ", c.patient.their, " ", ("DATE", "birthday")],
        ]
    else:
        forms += [
            ["over ", ("DATE", rng.choice(HOLIDAYS))],
            ["around ", c.patient.their, " ", ("DATE", "birthday")],
            ["last ", ("DATE", WEEKDAYS[d.weekday()]), " the ", ("DATE", ordinal)],
            ["in early ", ("DATE", mon)],
        ]
    return rng.choice(forms)


def _phone(rng: random.Random, label: str = "PHONE") -> list[Fragment]:
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), _digits(rng, 4)
    forms = [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", f"{a}{b}{c}"]
    return [(label, rng.choice(forms))]


def _name(rng: random.Random, p: _Person, style: str = "full") -> list[Fragment]:
    if style == "full":
        return [("NAME", p.first), " ", ("NAME", p.last)]
    if style == "last, first":
        return [("NAME", p.last), ", ", ("NAME", p.first)]
    if style == "first":
        return [("NAME", p.first)]
    if style == "initials":
        return [("NAME", f"{p.first[0]}.{p.last[0]}.")]
    return [("NAME", p.last)]


def _doctor(rng: random.Random, p: _Person) -> list[Fragment]:
    form = rng.randrange(5)
    if form == 0:
        return ["Dr. ", ("NAME", p.last)]
    if form == 1:
        return ["Dr. ", ("NAME", p.first), " ", ("NAME", p.last)]
    if form == 2:
        return [("NAME", p.first), " ", ("NAME", p.last), ", MD"]
    if form == 3:
        return ["Dr. ", ("NAME", f"{p.first[0]}."), " ", ("NAME", p.last)]
    return [("NAME", f"{p.first[0]}. {p.last}"), ", DO"]


def _address(rng: random.Random, c: _Cast) -> list[Fragment]:
    street = f"{rng.randint(2, 9890)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
    if rng.random() < 0.3:
        street += f", Apt {rng.randint(1, 40)}{rng.choice('ABCD')}"
    state = rng.choice([c.state, rng.choice(STATE_ABBR)])
    return [("STREET", street), ", ", ("CITY", c.city), ", ", ("~STATE", state), " ",
            ("ZIP", _fill(rng, rng.choice(["#####", "#####", "#####", "#####-####"])))]  # fmt: skip


def _ssn(rng: random.Random) -> list[Fragment]:
    a, b, c = _digits(rng, 3), _digits(rng, 2), _digits(rng, 4)
    return rng.choice(
        [
            ["SSN: ", ("SSN", f"{a}-{b}-{c}")],
            ["SSN ", ("SSN", f"{a} {b} {c}")],
            ["SS# ", ("SSN", f"{a}{b}{c}")],
            ["SSN xxx-xx-", ("SSN", c)],
            ["last 4 of SSN ", ("SSN", c)],
            ["Social Security no. ", ("SSN", f"{a}-{b}-{c}")],
        ]
    )


def _age_old(rng: random.Random, c: _Cast) -> list[Fragment]:
    """An age over 89, in one of the ways notes write it (the number alone is PHI)."""
    a, sex = c.age, c.patient.sex
    noun = "woman" if sex == "F" else "man"
    return rng.choice(
        [
            [("AGE", f"{a}{sex}")],
            [("AGE", f"{a}yo"), " ", sex],
            [("AGE", str(a)), " y/o ", sex],
            [("AGE", str(a)), "-year-old ", noun],
            ["aged ", ("AGE", str(a))],
            [("AGE", NUMBER_WORDS.get(a, str(a))), "-year-old ", noun],
            ["a ", noun, " born ", ("AGE", str(c.dob.year))],
            [("AGE", str(a)), " yo ", noun],
        ]
    )


def _age(rng: random.Random, c: _Cast) -> list[Fragment]:
    if c.age >= 90:
        return _age_old(rng, c)
    a, sex = c.age, c.patient.sex
    noun = "woman" if sex == "F" else "man"
    return rng.choice(
        [
            [("~AGE_UNDER_90", f"{a}-year-old"), " ", noun],
            [("~AGE_UNDER_90", f"{a}{sex}")],
            [("~AGE_UNDER_90", f"{a} y/o"), " ", sex],
            [("~AGE_UNDER_90", f"{a} yo"), " ", noun],
        ]
    )


# ---------------------------------------------------------------------------------------------
# Paragraphs that carry the rarer identifiers; every note gets three, in rotation, so each label
# has support across any few hundred notes.


def _p_vehicle(rng: random.Random, c: _Cast) -> list[Fragment]:
    plate = rng.choice([f"{rng.randint(1, 9)}{_alnum(rng, 3)}{_digits(rng, 3)}",
                        _fill(rng, "@@@-####"), _fill(rng, "%%% ###")])  # fmt: skip
    vin = "1" + _alnum(rng, 16).replace("O", "0")
    return rng.choice(
        [
            ["Per EMS, pt was the restrained driver of a sedan, plate ", ("VEHICLE", plate),
             ", struck at low speed; airbags deployed. "],
            ["Police report lists the vehicle VIN as ", ("VEHICLE", vin),
             "; no other occupants were injured. "],
            ["Security notes pt's truck (", ("VEHICLE", plate), ") left in the ED ambulance bay "
             "overnight and was moved to lot C. "],
            [c.patient.they.capitalize(), " still drives; the ", c.relation[0], " asked that the "
             "keys to the car with plate ", ("VEHICLE", plate), " be held until cleared. "],
        ]
    )  # fmt: skip


def _p_device(rng: random.Random, c: _Cast) -> list[Fragment]:
    serial = rng.choice([f"{_alnum(rng, 3)}{_digits(rng, 6)}{_alnum(rng, 1)}",
                         _fill(rng, "SN ##-@@@@@"), _fill(rng, "##########")])  # fmt: skip
    return rng.choice(
        [
            ["Dual-chamber pacemaker interrogated, serial ", ("DEVICE", serial),
             "; battery 7.5 years, no arrhythmia episodes stored. "],
            ["Insulin pump (serial no. ", ("DEVICE", serial), ") suspended during the procedure "
             "and resumed at the prior basal rate. "],
            ["Home CPAP unit serial ", ("DEVICE", serial), " brought from home and checked by "
             "biomedical engineering. "],
            ["Left cochlear implant, device ID ", ("DEVICE", serial), ", confirmed MRI-conditional "
             "at 1.5 T with the magnet removed. "],
        ]
    )  # fmt: skip


def _p_biometric(rng: random.Random, c: _Cast) -> list[Fragment]:
    ident = rng.choice([f"FPT-{_digits(rng, 8)}", f"BIO{_digits(rng, 7)}",
                        _fill(rng, "VP-@@@@-####"), _fill(rng, "RS#########")])  # fmt: skip
    return rng.choice(
        [
            ["Identity confirmed by fingerprint scan at registration (template ID ",
             ("BIOMETRIC", ident), "). "],
            ["Medication cabinet access by palm-vein scan, enrollment ", ("BIOMETRIC", ident),
             ", was revoked at discharge. "],
            ["Voiceprint ", ("BIOMETRIC", ident), " on file with the telehealth vendor was "
             "used to verify the caller. "],
            ["Retinal scan reference ", ("BIOMETRIC", ident), " attached to the research "
             "consent. "],
        ]
    )  # fmt: skip


def _p_photo(rng: random.Random, c: _Cast) -> list[Fragment]:
    name = rng.choice([f"IMG_{_digits(rng, 4)}.JPG", f"DSC{_digits(rng, 5)}.jpg",
                       _fill(rng, "wound_sacrum_####.png"), _fill(rng, "PXL_########_######.jpg"),
                       _fill(rng, "face_photo_###.jpeg"), _fill(rng, "derm####.heic")])  # fmt: skip
    return rng.choice(
        [
            ["Wound photographed and uploaded to the chart as ", ("PHOTO", name), ". "],
            ["Photo of the rash (", ("PHOTO", name), ") sent to dermatology for e-consult. "],
            ["Pre-procedure facial photograph ", ("PHOTO", name), " stored in media tab. "],
        ]
    )  # fmt: skip


def _p_tattoo(rng: random.Random, c: _Cast) -> list[Fragment]:
    text = rng.choice(TATTOOS)
    site = rng.choice(["left forearm", "right deltoid", "upper back", "left calf", "neck"])
    study = f"{_alnum(rng, 3)}-{_digits(rng, 4)}"
    return rng.choice(
        [
            ["Identifying marks: tattoo reading \"", ("ID", text), "\" on the ", site, ". "],
            ["Skin: healed tattoo on ", site, " with the words '", ("ID", text), "'; no lesions. "],
            ["Enrolled in the sepsis registry, study ID ", ("ID", study), ". "],
            ["Belongings include employee badge #", ("ID", _digits(rng, 6)), " from ",
             ("ORGANIZATION", c.org), ". "],
        ]
    )  # fmt: skip


def _p_license(rng: random.Random, c: _Cast) -> list[Fragment]:
    dl = rng.choice([f"{_alnum(rng, 1)}{_digits(rng, 3)}-{_digits(rng, 4)}-{_digits(rng, 4)}",
                     _fill(rng, "### ### ###"), _fill(rng, "D#######")])  # fmt: skip
    return rng.choice(
        [
            ["Driver's license ", ("LICENSE", dl), " copied at registration. "],
            ["Pt's commercial driver license (CDL ", ("LICENSE", dl), ") reported to the state "
             "per seizure guidelines. "],
            ["Prescriber DEA# ", ("LICENSE", f"B{_alnum(rng, 1)}{_digits(rng, 7)}"), " verified. "],
            ["Nurse license ", ("LICENSE", f"RN{_digits(rng, 6)}"), " on the controlled-"
             "substance waste log. "],
        ]
    )  # fmt: skip


def _p_net(rng: random.Random, c: _Cast) -> list[Fragment]:
    octet = rng.randint
    ip = rng.choice([f"{octet(11, 223)}.{octet(0, 255)}.{octet(0, 255)}.{octet(1, 254)}",
                     f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                     _fill(rng, "2601:###:c##::##")])  # fmt: skip
    slug = c.patient.last.lower().replace(" ", "").replace("'", "")
    url = rng.choice([f"https://telehealth.{slug[:5]}care.org/room/{_digits(rng, 5)}",
                      f"www.caringbridge.org/visit/{slug}{_digits(rng, 2)}",
                      f"https://www.gofundme.com/f/help-{slug}-family",
                      f"http://{slug}.blogspot.com"])  # fmt: skip
    return rng.choice(
        [
            ["Video visit connected from IP ", ("IP", ip), " via ", ("URL", url), ". "],
            ["Family set up an update page at ", ("URL", url), " and asked that it not be shared "
             "with staff. "],
            ["Portal login flagged from unfamiliar address ", ("IP", ip), "; pt confirmed it was "
             "the ", c.relation[0], "'s laptop. "],
        ]
    )  # fmt: skip


def _p_contact(rng: random.Random, c: _Cast) -> list[Fragment]:
    user = _ascii(c.patient.first[0] + c.patient.last)
    email = f"{user}{rng.randint(1, 99)}@{rng.choice(EMAIL_DOMAINS)}"
    return rng.choice(
        [
            ["Prefers contact by email at ", ("EMAIL", email), " or cell ", *_phone(rng), ". "],
            ["Records requested by fax to ", *_phone(rng, "FAX"), "; cover sheet sent. "],
            ["Copy of this note faxed to PCP office (fax ", *_phone(rng, "FAX"), "). "],
            ["Emergency contact: ", c.relation[0], " ", *_name(rng, c.relative), ", ",
             *_phone(rng), ". "],
        ]
    )  # fmt: skip


def _p_place(rng: random.Random, c: _Cast) -> list[Fragment]:
    return rng.choice(
        [
            ["Lives alone in ", ("LOCATION", rng.choice(NEIGHBOURHOODS)), "; ",
             ("LOCATION", rng.choice(COUNTIES)), " adult protective services involved. "],
            ["Transferred from room ", ("LOCATION", f"{rng.randint(2, 9)}{_digits(rng, 2)}"),
             " to room ", ("LOCATION", f"{rng.randint(2, 9)}{_digits(rng, 2)}{rng.choice('AB')}"),
             " for isolation. "],
            ["Grew up in ", ("CITY", rng.choice(CITIES)), ", ", ("~STATE", rng.choice(STATES)),
             "; moved here in ", ("~YEAR", str(rng.randint(1975, 2018))), ". "],
            ["Meals on Wheels from the ", ("LOCATION", rng.choice(COUNTIES)),
             " senior center. "],
        ]
    )  # fmt: skip


def _p_elder(rng: random.Random, c: _Cast) -> list[Fragment]:
    a = rng.randint(90, 101)
    return rng.choice(
        [
            ["Main support is ", c.patient.their, " mother, ", ("AGE", str(a)), ", who lives with ",
             "them. "],
            ["Family history: father died at ", ("AGE", str(a)), "; mother with ",
             ("~EPONYM", rng.choice(EPONYMS)), ". "],
            ["Cares for an aunt aged ", ("AGE", str(a)), " three days a week. "],
            ["Grandmother, a ", ("AGE", NUMBER_WORDS.get(a, str(a))), "-year-old, is in hospice. "],
        ]
    )  # fmt: skip


def _p_ids(rng: random.Random, c: _Cast) -> list[Fragment]:
    return rng.choice(
        [
            ["Verified ", *_ssn(rng), " for the disability application. "],
            ["Insurance: Medicaid ID ", ("HEALTH_PLAN", f"{_digits(rng, 8)}{_alnum(rng, 1)}"),
             "; billing account ", ("ACCOUNT", _fill(rng, "####-###-##")),
             ". "],
            ["Old chart number ", ("MRN", f"{_alnum(rng, 1)}{_digits(rng, 7)}"), " merged into "
             "the current record. "],
        ]
    )  # fmt: skip


RARE: tuple[Callable[[random.Random, _Cast], list[Fragment]], ...] = (
    _p_vehicle, _p_device, _p_biometric, _p_photo, _p_tattoo, _p_license, _p_net, _p_contact,
    _p_place, _p_elder, _p_ids,
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Distractor fragments: clinical text that looks like PHI to a naive detector.


def _meds(rng: random.Random, n: int, pool: Sequence[str] = ()) -> list[Fragment]:
    out: list[Fragment] = []
    for i, drug in enumerate(rng.sample(sorted(pool or DRUGS), n)):
        out += [("~DRUG", drug), " ", ("~DOSE", rng.choice(DRUGS[drug]))]
        out.append("; " if i < n - 1 else ". ")
    return out


def _vitals(rng: random.Random) -> list[Fragment]:
    return [
        ("~VITAL", f"BP {rng.randint(95, 170)}/{rng.randint(55, 99)}"), ", ",
        ("~VITAL", f"HR {rng.randint(52, 118)}"), ", ",
        ("~VITAL", f"RR {rng.randint(12, 24)}"), ", ",
        ("~VITAL", f"T {rng.randint(360, 389) / 10}"), ", ",
        ("~VITAL", f"SpO2 {rng.randint(88, 100)}%"), " on ",
        rng.choice(["RA", "2L NC", "room air", "4 L nasal cannula"]), ". ",
    ]  # fmt: skip


def _labs(rng: random.Random) -> list[Fragment]:
    labs = [f"Na {rng.randint(128, 146)}", f"K {rng.randint(32, 55) / 10}",
            f"Cr {rng.randint(6, 31) / 10}", f"WBC {rng.randint(40, 189) / 10}",
            f"Hgb {rng.randint(72, 158) / 10}", f"HbA1c {rng.randint(52, 118) / 10}%",
            f"INR {rng.randint(9, 34) / 10}", f"TSH {rng.randint(3, 90) / 10}",
            f"troponin {rng.choice(['<0.01', '0.04', '0.12'])}"]  # fmt: skip
    out: list[Fragment] = []
    for i, lab in enumerate(rng.sample(labs, 4)):
        out += [("~LAB", lab), ", " if i < 3 else ". "]
    return out


def _eponym(rng: random.Random, c: _Cast) -> list[Fragment]:
    pair = rng.sample(EPONYMS, 2)
    return rng.choice(
        [
            ["History of ", ("~EPONYM", rng.choice(EPONYMS)), " diagnosed in ",
             ("~YEAR", str(rng.randint(1988, 2022))), ". "],
            [("~EPONYM", rng.choice(DEVICES_COMMON)), " placed; ",
             ("~EPONYM", rng.choice(SCALES)), ". "],
            ["No family history of ", ("~EPONYM", pair[0]), " or ", ("~EPONYM", pair[1]), ". "],
            ["Originally from ", ("~STATE", rng.choice(STATES)), "; moved here in ",
             ("~YEAR", str(rng.randint(1970, 2020))), ". We ", ("~WORD", "hope"), " to taper ",
             ("~DRUG", rng.choice(sorted(DRUGS))), " as an outpatient. "],
            ["Pt ", ("~WORD", "will"), " need labs in one week and ", ("~WORD", "may"),
             " resume ", ("~DRUG", rng.choice(sorted(DRUGS))), " if ", ("~LAB", "Cr <1.5"), ". "],
        ]
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The six kinds. Each writes a header and its core sections; _note() adds the rotating rare
# paragraphs, filler up to a target length, and the signature.


def _discharge(doc: _Doc, c: _Cast, rng: random.Random) -> Callable[[], None]:
    p, d0 = c.patient, c.day
    doc.add(("HOSPITAL", c.hospital.upper()), "\nDISCHARGE SUMMARY\n\nPatient: ",
            *_name(rng, p, "last, first"), "    MRN: ", ("MRN", _digits(rng, 8)),
            "    Acct #: ", ("ACCOUNT", _digits(rng, 10)), "\nDOB: ", *_date(rng, c.dob, full=True),
            "    Admitted: ", *_date(rng, d0, full=True), "    Discharged: ",
            *_date(rng, d0 + timedelta(days=rng.randint(2, 9)), full=True), "\nAttending: ",
            *_doctor(rng, c.doctors[0]), "    PCP: ", *_doctor(rng, c.doctors[1]), "\n",
            *(_ssn(rng) if rng.random() < 0.5 else []), "\n")  # fmt: skip
    doc.add("HISTORY OF PRESENT ILLNESS: ", *_name(rng, p, "first"), " ", *_name(rng, p, "last"),
            " is a ", *_age(rng, c), " with ", ("~EPONYM", rng.choice(EPONYMS)), " and ",
            rng.choice(["CHF", "COPD", "CKD stage 3", "type 2 diabetes", "atrial fibrillation"]),
            " who presented to the ED ", *_word_date(rng, c), " with ",
            rng.choice(["worsening dyspnea", "a fall at home", "confusion and fever",
                        "chest pain radiating to the left arm", "melena"]),
            ". ", c.patient.their.capitalize(), " ", c.relation[0], ", ", *_name(rng, c.relative),
            ", found the patient on the floor. \n\n",
            "HOSPITAL COURSE: Started on ", *_meds(rng, 2), "Admission labs: ", *_labs(rng),
            "Vitals at discharge: ", *_vitals(rng), "\n\n")  # fmt: skip

    def close() -> None:
        doc.add("\nDISCHARGE MEDICATIONS: ", *_meds(rng, 3), "\nFOLLOW-UP: ",
                *_doctor(rng, c.doctors[1]), " on ", *_date(rng, d0 + timedelta(days=14)),
                "; clinic ", *_phone(rng), ". Discharged home to ", *_address(rng, c),
                " with ", c.relation[0], ".\n\nElectronically signed: ",
                *_doctor(rng, c.doctors[0]),
                " ", *_date(rng, d0 + timedelta(days=9)), " pager ", *_phone(rng),
                "\n")  # fmt: skip

    return close


def _progress(doc: _Doc, c: _Cast, rng: random.Random) -> Callable[[], None]:
    p = c.patient
    doc.add("PROGRESS NOTE - ", ("HOSPITAL", c.hospital), " Internal Medicine\nDate of service: ",
            *_date(rng, c.day), "   Pt: ", *_name(rng, p), "   MRN ",
            ("MRN", _fill(rng, "###-####-##")),
            "\n\nS: ", *_age(rng, c), ", ", *_a_phi("PROFESSION", c.profession),
            ", seen for follow-up. "
            "Reports feeling better since a fall ", *_word_date(rng, c), ". Still works at ",
            ("ORGANIZATION", c.org), " part time. ", c.patient.their.capitalize(), " ",
            c.relation[0], " ",
            *_name(rng, c.relative, "first"), " helps with meds. Denies chest pain, fevers. \n\n",
            "O: ", *_vitals(rng), "Gen: NAD. Lungs: clear bilaterally. Labs: ", *_labs(rng),
            "\n\nA/P:\n1. ", *rng.choice(PROBLEMS), "): continue ", *_meds(rng, 2), "\n2. ",
            ("~EPONYM", rng.choice(EPONYMS)), ": stable; neurology follow-up with ",
            *_doctor(rng, c.doctors[2]), ".\n")  # fmt: skip

    def close() -> None:
        doc.add("\nRTC ", *_word_date(rng, c, future=True), " or sooner PRN. Questions: ",
                *_phone(rng),
                ".\n\n", *_doctor(rng, c.doctors[0]), "\n", ("HOSPITAL", c.hospital),
                " Internal Medicine\n")  # fmt: skip

    return close


def _nursing(doc: _Doc, c: _Cast, rng: random.Random) -> Callable[[], None]:
    """Shorthand; family names often in lower case, as typed at the bedside."""
    p, rel = c.patient, c.relative
    low = rng.random() < 0.6
    rel_first = rel.first.lower() if low else rel.first
    doc.add("NURSING NOTE  ", *_date(rng, c.day), "  Rm ", ("LOCATION", _fill(rng, "###")),
            "\nPt: ", *_name(rng, p, "last, first"), "  MRN ", ("MRN", _digits(rng, 7)),
            "\n\n0700 rec'd pt from night RN, ", *_age(rng, c), ", A&Ox3, c/o pain ",
            ("~SCORE", f"{rng.randint(2, 8)}/10"), " L hip. ", *_vitals(rng),
            "\n0900 meds given per MAR: ", *_meds(rng, 2), "pt's ", c.relation[1], " ",
            ("NAME", rel_first), " at bedside, asking re: d/c plan. \n",
            "1130 ", ("~EPONYM", rng.choice(DEVICES_COMMON)), " intact, ",
            ("~EPONYM", rng.choice(SCALES)), ". ambulated w/ PT to nsg station. \n",
            "1300 spoke w/ ", c.relation[1], " ", ("NAME", rel_first), " on phone ", *_phone(rng),
            ", ", rel.they, " ", ("~WORD", "will"), " bring pt's glasses ",
            *_word_date(rng, c, future=True),
            ". \n")  # fmt: skip

    def close() -> None:
        initials = f"{c.nurse.first[0]}{c.nurse.last[0]}"
        doc.add("0645 pt resting, call light in reach. ", rng.choice(["dtr", "son", "wife"]), " ",
                ("NAME", rng.choice(GIVEN).lower()), " called, updated. \n\n-- ",
                *_name(rng, c.nurse), ", RN (", ("NAME", initials), ")\n")  # fmt: skip

    return close


def _therapy(doc: _Doc, c: _Cast, rng: random.Random) -> Callable[[], None]:
    p, rel = c.patient, c.relative
    doc.add(("HOSPITAL", rng.choice(HOSPITALS)), " - Outpatient Psychotherapy\nClient: ",
            *_name(rng, p), " (", *_name(rng, p, "initials"), ")   Session ",
            str(rng.randint(2, 30)),
            "   ", *_date(rng, c.day), "\n", ("~CODE", "CPT 90837"), "; ",
            ("~CODE", rng.choice(["ICD-10 F32.1", "ICD-10 F41.1", "ICD-10 F43.10"])), "\n\n",
            "Client is a ", *_age(rng, c), " who works as ", *_a_phi("PROFESSION", c.profession),
            " at ", ("ORGANIZATION", c.org), ". Reports low mood that began ", *_word_date(rng, c),
            ", when ", c.patient.their, " ", c.relation[0], " ", *_name(rng, rel, "first"),
            " moved out. Describes conflict with a supervisor, ", *_name(rng, _person(rng)),
            ", and worry that ", c.patient.they, " ", ("~WORD", "may"), " lose the job. ",
            ("~SCALE", rng.choice(["PHQ-9 of 16", "PHQ-9 of 9", "GAD-7 of 12"])),
            ". Sleep 4-5 h. Denies SI/HI; has ", ("~WORD", "hope"), " about the new role.\n\n",
            "Interventions: CBT thought record; reviewed ", ("~DRUG", rng.choice(sorted(DRUGS))),
            " adherence with prescriber ", *_doctor(rng, c.doctors[1]), ".\n")  # fmt: skip

    def close() -> None:
        doc.add("\nSafety plan reviewed; crisis line 988 and clinic ", *_phone(rng), ". Next "
                "session ", *_date(rng, c.day + timedelta(days=7)), ".\n\n",
                *_name(rng, c.doctors[2]), ", PsyD, Licensed Psychologist (lic. ",
                ("LICENSE", f"PSY{_digits(rng, 5)}"), ")\n")  # fmt: skip

    return close


def _radiology(doc: _Doc, c: _Cast, rng: random.Random) -> Callable[[], None]:
    p = c.patient
    exam = rng.choice(["CT HEAD WITHOUT CONTRAST", "CHEST X-RAY 2 VIEWS", "MRI LUMBAR SPINE",
                       "CT ABDOMEN/PELVIS WITH CONTRAST", "US RIGHT UPPER QUADRANT"])  # fmt: skip
    doc.add(("HOSPITAL", c.hospital), " - Department of Radiology\nPatient: ",
            *_name(rng, p, "last, first"), "   MRN: ", ("MRN", _digits(rng, 8)), "   DOB: ",
            *_date(rng, c.dob, full=True), "\nAccession: ", ("ID", f"RAD{_digits(rng, 9)}"),
            "   Exam date: ", *_date(rng, c.day), "\nOrdering: ", *_doctor(rng, c.doctors[1]),
            "\n\nEXAM: ", exam, "\nCLINICAL HISTORY: ", *_age(rng, c), ", ",
            rng.choice(["fall", "back pain", "cough and fever", "RUQ pain", "headache"]),
            "; history of ", ("~EPONYM", rng.choice(EPONYMS)), ".\nCOMPARISON: ",
            *_date(rng, c.day - timedelta(days=rng.randint(30, 900))), ".\n",
            "TECHNIQUE: Standard protocol. ", ("~CODE", rng.choice(IMAGING_CODES)),
            ". DLP 812 mGy-cm.\n\n",
            "FINDINGS: ", rng.choice(["No acute intracranial hemorrhage. Chronic small vessel "
            "ischemic change.", "Lungs clear. Heart size normal. No effusion.", "Mild "
            "degenerative disc disease at L4-L5 without stenosis.", "Gallbladder distended with "
            "stones; wall 4 mm."]), " ", ("~EPONYM", rng.choice(DEVICES_COMMON)),
            " in expected position.\n")  # fmt: skip

    def close() -> None:
        doc.add("\nIMPRESSION: No acute findings requiring emergent intervention. Discussed with ",
                *_doctor(rng, c.doctors[1]), " by phone ", *_phone(rng), " at 14:20.\n\n",
                "Dictated by: ", *_doctor(rng, c.doctors[0]), "  Tech: ",
                ("NAME", f"{c.nurse.first[0]}.{c.nurse.last[0]}."), "\nWorkstation ",
                ("IP", f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"),
                "\n")  # fmt: skip

    return close


def _referral(doc: _Doc, c: _Cast, rng: random.Random) -> Callable[[], None]:
    p, doc_from, doc_to = c.patient, c.doctors[0], c.doctors[1]
    host = _ascii(c.hospital.replace("'s", ""))[:16]
    doc.add(("HOSPITAL", c.hospital), "\n", *_address(rng, c), "\nTel ", *_phone(rng), "  Fax ",
            *_phone(rng, "FAX"), "  ", ("URL", f"www.{host}.org"), "\n\n",
            *_date(rng, c.day, full=True),
            "\n\nDear Dr. ", *_name(rng, doc_to, "last"), ",\n\nRe: ", *_name(rng, p), ", DOB ",
            *_date(rng, c.dob, full=True), ", ",
            *(_ssn(rng) + [", "] if rng.random() < 0.4 else []),
            "Member ID ", ("HEALTH_PLAN", f"{_alnum(rng, 3)}{_digits(rng, 9)}"),
            "\n\nThank you for seeing this ", *_age(rng, c), ", ",
            *_a_phi("PROFESSION", c.profession),
            ", whom I have followed since ", ("~YEAR", str(rng.randint(2001, 2018))), " for ",
            ("~EPONYM", rng.choice(EPONYMS)), ". Over the last months ", c.patient.they,
            " has had ", rng.choice(["progressive tremor", "weight loss of 6 kg", "recurrent "
            "syncope", "worsening renal function"]), ". Current medications: ", *_meds(rng, 3),
            "Recent results: ", *_labs(rng), "\n\n")  # fmt: skip

    def close() -> None:
        doc.add("\nI would be grateful for your opinion. ", p.they.capitalize(), " can be reached "
                "at ", *_phone(rng), ".\n\nYours sincerely,\n\n", *_doctor(rng, doc_from),
                "\nNPI ", ("LICENSE", f"1{_digits(rng, 9)}"), "\n", ("EMAIL",
                f"{_ascii(doc_from.first[0] + doc_from.last)}@{host}.org"),
                "\ncc: ", *_name(rng, p), "\n")  # fmt: skip

    return close


WRITERS = {
    "discharge": _discharge,
    "progress": _progress,
    "nursing": _nursing,
    "therapy": _therapy,
    "radiology": _radiology,
    "referral": _referral,
}


def _general(rng: random.Random, c: _Cast) -> list[Callable[[], list[Fragment]]]:
    """Further paragraphs for the physician notes: ordinary prose, PHI where it usually is."""
    d, job = c.doctors[2], rng.choice(PROFESSIONS)
    return [
        lambda: _eponym(rng, c),
        lambda: _eponym(rng, c),
        lambda: ["Vitals at the last visit: ", *_vitals(rng)],
        lambda: ["Labs today: ", *_labs(rng)],
        lambda: ["Case discussed with ", *_doctor(rng, d), " (", rng.choice(["cardiology",
                 "nephrology", "palliative care", "GI"]), "), who recommends ", *_meds(rng, 1)],
        lambda: ["Social history: lives with ", c.relation[0], " ", *_name(rng, c.relative),
                 "; ", *rng.choice([["former ", ("PROFESSION", job)],
                                    ["retired ", ("PROFESSION", job)],
                                    ["works as ", *_a_phi("PROFESSION", job)]]),
                 ". Quit smoking in ",
                 ("~YEAR", str(rng.randint(1980, 2020))), ", no alcohol. "],
        lambda: ["Family visited ", *_word_date(rng, c), "; ", c.relation[0], " ",
                 *_name(rng, c.relative, "first"), " updated by phone at ", *_phone(rng), ". "],
        lambda: ["Previously admitted to ", ("HOSPITAL", rng.choice(HOSPITALS)), " on ",
                 *_date(rng, c.day - timedelta(days=rng.randint(40, 700))), " for ",
                 rng.choice(["pneumonia", "a GI bleed", "syncope", "cellulitis"]), ". "],
        lambda: ["PT/OT evaluated; recommends rolling walker and home safety check. ",
                 "Echo ", ("~YEAR", str(c.day.year - rng.randint(1, 6))), " showed EF 45%. "],
        lambda: ["Code status: full code, confirmed with patient and ", c.relation[0],
                 ". Health care proxy: ", *_name(rng, c.relative), ", ", *_phone(rng), ". "],
        lambda: ["Overnight: brief episode of ", rng.choice(["delirium", "hypotension to 88/50",
                 "rapid AF"]), ", resolved; ", ("~EPONYM", rng.choice(SCALES)), ". "],
        lambda: ["Blood cultures from ", *_date(rng, c.day - timedelta(days=2)), " grew MSSA; "
                 "ID consulted and ", ("~DRUG", "cefazolin"), " ", ("~DOSE", "2 g IV q8h"),
                 " started, plan 14 days. "],
        lambda: ["Medication reconciliation completed with pharmacist ",
                 *_name(rng, _person(rng)), "; home ", *_meds(rng, 1)],
        lambda: ["Advance directive on file, signed ", *_date(rng, c.day - timedelta(days=900),
                 full=True), "; POLST reviewed with the ", c.relation[0], ". "],
        lambda: ["Referred to ", ("ORGANIZATION", rng.choice(ORGS[3:4] + ORGS[8:9])),
                 " for home services; intake nurse ", *_name(rng, _person(rng), "first"),
                 " will call ", *_word_date(rng, c, future=True), ". "],
        lambda: ["Wound care: stage 2 sacral ulcer, 2 x 3 cm, clean base; foam dressing q3 days. "
                 "Continue ", *_meds(rng, 1)],
        lambda: ["Diet: ", rng.choice(["2 g sodium", "carb-controlled", "mechanical soft"]),
                 ". Continue ", *_meds(rng, 2)],
    ]  # fmt: skip


def _nursing_more(rng: random.Random, c: _Cast) -> list[Callable[[], list[Fragment]]]:
    rel = c.relative.first.lower() if rng.random() < 0.6 else c.relative.first
    return [
        lambda: ["1600 VS ", *_vitals(rng), "pt denies SOB.\n"],
        lambda: ["1700 ate 50% of dinner, tol well. ", ("~EPONYM", rng.choice(SCALES)), ".\n"],
        lambda: ["1800 turned q2h, sacrum intact, ", ("~EPONYM", "Braden 14"), ".\n"],
        lambda: ["1930 pt's ", c.relation[1], " ", ("NAME", rel), " called, updated on plan, ",
                 "states ", c.relative.they, " ", ("~WORD", "will"), " visit ",
                 *_word_date(rng, c, future=True), ".\n"],
        lambda: ["2000 PRN given: ", *_meds(rng, 1), "pain ", ("~SCORE", "7/10"), " -> ",
                 ("~SCORE", "3/10"), " at 2100.\n"],
        lambda: ["2200 pt asking for ", ("NAME", rel), "; reoriented x2, ",
                 ("~EPONYM", rng.choice(DEVICES_COMMON)), " patent.\n"],
        lambda: ["2300 Dr. ", ("NAME", c.doctors[0].last), " notified of ",
                 ("~LAB", f"K {rng.randint(30, 34) / 10}"), "; new order ", *_meds(rng, 1), "\n"],
        lambda: ["0100 sleeping, resp even/unlabored. ", ("~VITAL", f"SpO2 {rng.randint(92, 99)}%"),
                 ".\n"],
        lambda: ["0300 BG ", ("~LAB", f"{rng.randint(70, 260)} mg/dL"), ", covered per sliding "
                 "scale. pt ", ("~WORD", "may"), " have decaf per ", ("NAME", c.doctors[1].last),
                 ".\n"],
        lambda: ["0500 AM labs drawn from R AC. bed alarm on, non-skid socks, fall risk band. "
                 "pt's ", c.relation[1], " ", ("NAME", rel), " asked staff to call ",
                 c.relative.their, " cell ",
                 *_phone(rng), " if any change.\n"],
        lambda: ["0600 I&O: in 1,240 mL / out 900 mL via ", ("~EPONYM", "Foley"), ". skin w/d, "
                 "IV site clean. report given to day RN ", ("NAME", c.nurse.first.lower()),
                 ".\n"],
    ]  # fmt: skip


def _therapy_more(rng: random.Random, c: _Cast) -> list[Callable[[], list[Fragment]]]:
    friend = _person(rng)
    return [
        lambda: ["Explored grief about ", c.patient.their, " father, who died ",
                 *_word_date(rng, c), "; client cried when describing the funeral. "],
        lambda: ["Client described an argument with ", c.relation[0], " ",
                 *_name(rng, c.relative, "first"), " ", *_word_date(rng, c),
                 " and identified the automatic thought 'I ruin everything'. "],
        lambda: ["Mental status: well groomed, cooperative, mood 'flat', affect constricted, "
                 "thought process linear, no psychosis. Insight and judgment fair. "],
        lambda: ["Homework: behavioural activation, walk with friend ", *_name(rng, friend),
                 " three times a week; continue ", *_meds(rng, 1, PSYCH_DRUGS)],
        lambda: ["History notable for ", ("~EPONYM", rng.choice(EPONYMS)), " in the family; "
                 "client fears the same. ", ("~SCALE", rng.choice(PSYCH_SCALES)), ". "],
        lambda: ["Client reports using alcohol on weekends, 3-4 drinks; AUDIT-C 5. Discussed "
                 "the interaction with ", ("~DRUG", rng.choice(sorted(DRUGS))), ". "],
        lambda: ["Relationship history: married ", ("~YEAR", str(rng.randint(1970, 2015))),
                 ", separated; two children, ", *_name(rng, _person(rng), "first"), " and ",
                 *_name(rng, _person(rng), "first"), ", who live with the other parent in ",
                 ("CITY", rng.choice(CITIES)), ". "],
        lambda: ["Trauma history: witnessed a workplace accident at ", ("ORGANIZATION",
                 rng.choice(ORGS)), "; intrusive memories worse ", *_word_date(rng, c), ". "],
        lambda: ["Coping: volunteering at ", ("ORGANIZATION", rng.choice(ORGS)), ", journaling, "
                 "calls with sister ", *_name(rng, _person(rng, "F"), "first"), ". Client ",
                 "expressed ", ("~WORD", "hope"), " that the new schedule ", ("~WORD", "will"),
                 " help. "],
        lambda: ["Discussed returning to work as ", *_a_phi("PROFESSION", rng.choice(PROFESSIONS)),
                 "; we ", ("~WORD", "will"), " revisit goals at the next session. "],
    ]  # fmt: skip


def _radiology_more(rng: random.Random, c: _Cast) -> list[Callable[[], list[Fragment]]]:
    return [
        lambda: ["Incidental 6 mm right lower lobe nodule; follow-up CT in 12 months per ",
                 ("~EPONYM", "Fleischner Society"), " guidelines. "],
        lambda: ["No fracture or dislocation. Soft tissues unremarkable. "],
        lambda: ["Vascular calcification of the aorta. No free air. Bowel gas pattern normal. "],
        lambda: ["Stable postoperative change since ", *_date(rng, c.day - timedelta(days=400)),
                 ". Prior report by ", *_doctor(rng, c.doctors[2]), " reviewed. "],
        lambda: ["Contrast: 80 mL iohexol IV; eGFR 64; no reaction. ", ("~LAB", "Cr 1.1"), ". "],
        lambda: ["Findings suggest ", ("~EPONYM", rng.choice(EPONYMS)), " is less likely. "],
        lambda: ["Liver normal in size with smooth contour. Spleen 11 cm. Kidneys without "
                 "hydronephrosis; 1.2 cm simple cyst left lower pole. "],
        lambda: ["Osseous structures: multilevel degenerative change, no suspicious lytic or "
                 "blastic lesion. "],
        lambda: ["Outside images from ", ("HOSPITAL", rng.choice(HOSPITALS)), " dated ",
                 *_date(rng, c.day - timedelta(days=rng.randint(60, 800)), full=True),
                 " were reviewed for comparison. "],
        lambda: ["Preliminary read by resident ", *_doctor(rng, _person(rng)), " at ",
                 rng.choice(["02:14", "23:40", "05:55"]), "; no discrepancy with this report. "],
    ]  # fmt: skip


MORE = {"nursing": _nursing_more, "therapy": _therapy_more, "radiology": _radiology_more}


def _note(i: int, seed: int) -> LabelledNote:
    rng = random.Random(f"{seed}-{i}")  # noqa: S311 - synthetic text, not security
    kind = KINDS[i % len(KINDS)]
    c = _cast(rng)
    doc = _Doc()
    close = WRITERS[kind](doc, c, rng)
    for k in range(3):
        doc.add(*RARE[(i * 3 + k) % len(RARE)](rng, c))
    # Nursing entries keep their clock order; other prose comes in any order, never twice.
    more = MORE.get(kind, _general)(rng, c)
    if kind != "nursing":
        rng.shuffle(more)
    more.reverse()
    target = rng.triangular(1500, 2700, 2100)
    while doc.pos < target and more:
        doc.add(*more.pop()())
        if kind not in ("nursing", "radiology") and rng.random() < 0.3:
            doc.add("\n")
    close()
    text = doc.text()
    # About one note in thirteen is in capitals; only where that keeps every offset.
    if i % 13 == 6 and len(text.upper()) == len(text):
        text = text.upper()
    return LabelledNote(f"note-{i:04d}", kind, text, doc.spans, doc.distractors)


def generate_corpus(n: int = 300, seed: int = 7) -> list[LabelledNote]:
    """n notes, the six kinds in turn; the same (n, seed) always gives the same notes."""
    return [_note(i, seed) for i in range(n)]


def write_jsonl(
    notes: list[LabelledNote], path: str | Path, gold_path: str | Path | None = None
) -> tuple[Path, Path]:
    """Write {"id", "text"} lines to path and the gold spans to gold_path (default
    `<stem>.gold.jsonl` beside it). Returns both paths."""
    path = Path(path)
    gold = Path(gold_path) if gold_path else path.with_name(f"{path.stem}.gold.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as texts, gold.open("w", encoding="utf-8") as spans:
        for note in notes:
            texts.write(json.dumps({"id": note.id, "text": note.text}, ensure_ascii=False) + "\n")
            row = {
                "id": note.id,
                "kind": note.kind,
                "spans": [
                    {"start": s.start, "end": s.end, "label": s.label,
                     "text": note.text[s.start : s.end]}
                    for s in note.spans
                ],
                "distractors": [
                    {"start": s.start, "end": s.end, "category": s.label} for s in note.distractors
                ],
            }  # fmt: skip
            spans.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path, gold


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic labelled note corpus.")
    parser.add_argument("path", help="where to write the texts (.jsonl)")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    write_jsonl(generate_corpus(args.n, args.seed), args.path)


if __name__ == "__main__":
    main()
