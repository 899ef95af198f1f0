"""The leak classes found on real nursing notes, each with made-up text: lower-case titles and
names, signatures with lower-case credentials, places named by a transfer cue or a ward number,
free-format phones and pagers, history-list dates; and the clinical words that must stay."""

import pytest

from compliance.deid import find_spans


def redacted(text: str) -> set[str]:
    return {text[s.start : s.end] for s in find_spans(text, time_limit=None, use_ner=False)}


def covered(text: str, word: str) -> bool:
    start = text.index(word)
    return any(
        s.start <= start and start + len(word) <= s.end
        for s in find_spans(text, time_limit=None, use_ner=False)
    )


@pytest.mark.parametrize(
    ("text", "phi"),
    [
        ("pt seen, dr hollinrake aware of k+ 3.1", ["hollinrake"]),
        ("dr white aware. plan unchanged", ["white"]),
        ("family meeting, spoke with dr young re plan", ["young"]),
        ("elevated lfts. pt of dr. paul hardwicke.", ["paul", "hardwicke"]),
        ("wean per dr okonkwo-bale tonight", ["okonkwo", "bale"]),
        ("Dr. o roarty and Dr. Vellacott in room", ["roarty", "Vellacott"]),
        ("mrs. ana quillfeather called for update", ["quillfeather"]),
    ],
)
def test_a_name_after_a_lower_case_title_is_found(text: str, phi: list[str]) -> None:
    for word in phi:
        assert covered(text, word), (word, redacted(text))


@pytest.mark.parametrize(
    ("text", "phi"),
    [
        ("nebs given, all is well at this time. k. marrowby rrt\n", ["k", "marrowby"]),
        ("skin intact.\n  delphine j. orsatti bsn/rn\n", ["delphine", "orsatti"]),
        ("wound looks clean. rosalind cavendale np into eval", ["rosalind", "cavendale"]),
    ],
)
def test_a_signature_with_a_lower_case_credential_is_found(text: str, phi: list[str]) -> None:
    for word in phi:
        assert covered(text, word), (word, redacted(text))


@pytest.mark.parametrize(
    ("text", "phi"),
    [
        ("HOUSE STAFF marisol pellegrinetti AWARE of pressures", ["marisol", "pellegrinetti"]),
        ("valuables counted by nsg (d. quarrendon and j. ashdale).", ["quarrendon", "ashdale"]),
    ],
)
def test_a_name_without_capitals_after_a_given_name_or_an_initial(text: str, phi: list[str]):
    for word in phi:
        assert covered(text, word), (word, redacted(text))


@pytest.mark.parametrize(
    ("text", "phi"),
    [
        ("mi ruled in, transferred to KMC for cath", ["KMC"]),
        ("911 called and pt taken to brackendale hosp.", ["brackendale"]),
        ("social: married, lives in millbrookton, husband aware", ["millbrookton"]),
        ("plan: transfer to kellerwick 4 when bed available", ["kellerwick"]),
        ("RESP DISTRESS ON KELLERWICK 6; CODE CALLED", ["KELLERWICK"]),
        ("she went to bellhaven hospital by ambulance", ["bellhaven"]),
        ("social: lives alone in white quarnsh, dtr close by", ["quarnsh"]),
        ("radiation planning on Northgate Campus at 11:30", ["Northgate"]),
        ("radiation planning on North Campus at 11:30", ["North"]),
        ("plans to leave at 4pm, to holy rood hospital. awaiting ambulance", ["holy", "rood"]),
        ("Pt admitted from RN Hospital at 1900 for cath", ["RN"]),
        ("valve repair that she had at bgh. presents with brbpr", ["bgh"]),
        ('S: "I know I\'m in KH and it is friday"', ["KH"]),
    ],
)
def test_a_place_named_by_a_cue_is_found(text: str, phi: list[str]) -> None:
    for word in phi:
        assert covered(text, word), (word, redacted(text))


@pytest.mark.parametrize(
    ("text", "phi"),
    [
        ("SOCIAL-wife(?) Marguerite in to visit", ["Marguerite"]),
        ("Wife and lawyer (Oswin Tarrabelle) aware of plan", ["Oswin", "Tarrabelle"]),
        ("pmicu nursing progress  mr K remained on same doses of pressors", ["K"]),
    ],
)
def test_names_after_an_unsure_relation_a_bracket_or_a_title_initial(text: str, phi: list[str]):
    for word in phi:
        assert covered(text, word), (word, redacted(text))


def test_staff_named_bare_before_aware_are_found() -> None:
    text = "RUN OF VENT BIGEMINY. ZELDA QUORTH AWARE, MGSO4 GIVEN. kessinwald notified."
    for word in ("ZELDA", "QUORTH", "kessinwald"):
        assert covered(text, word), (word, redacted(text))
    text = "FREQ PVC'S. RUN OF BIGEMINY ZEB QUORTH AWARE, MGSO4 GIVEN."  # a short given name
    for word in ("ZEB", "QUORTH"):
        assert covered(text, word), (word, redacted(text))
    for kept in ("ho aware", "micu team notified", "family aware"):
        assert not redacted(kept), kept


def test_a_name_opening_a_line_before_an_age_is_found() -> None:
    text = "halvard quennel is a 70 yr old male adm 9/7 with sob"
    assert covered(text, "halvard") and covered(text, "quennel"), redacted(text)
    assert not covered("pt is a 70 yr old male", "pt")


@pytest.mark.parametrize(
    "text",
    [
        "brought to the local hospital by ems",
        "at night hospital staff were short",
        "went to my hospital for the scan",
        "seen at an outside hospital in june",
        "sent to rehab hospital on friday",
        "rise in nph pts",
    ],
)
def test_a_generic_hospital_or_an_abbreviation_after_in_is_no_place(text: str) -> None:
    assert not any(s.label == "LOCATION" for s in find_spans(text, use_ner=False)), redacted(text)


def test_a_hospital_name_keeps_no_word_of_it_in_the_surrogate() -> None:
    from compliance.deid import redact

    text = "plan to go at 4pm, to holy rood hospital. Kessingham Memorial Hospital called."
    out = redact(text, find_spans(text, use_ner=False), seed=3).text
    assert "rood" not in out and "Kessingham" not in out
    assert out.count("ospital") == 2, out  # the generic word stays


def test_a_hospital_found_once_is_found_where_its_name_recurs_alone() -> None:
    text = "ADMITTED TO BRACKENFORD HOSPITAL FOR CP. 7/23 AT BRACKENFORD- 2 FFP GIVEN."
    found = [text[s.start : s.end] for s in find_spans(text, time_limit=None, use_ner=False)]
    assert sum("BRACKENFORD" in f for f in found) == 2, found


def test_a_place_found_once_is_found_wherever_it_recurs() -> None:
    text = "transferred to QX for cath. at QX the team placed a stent. qx to call family."
    found = [text[s.start : s.end] for s in find_spans(text, time_limit=None, use_ner=False)]
    assert found.count("QX") == 2 and "qx" in found
    assert not redacted("qx to call family.")  # alone, two letters say nothing


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("wife (201/324/1423) confirms the story", "201/324/1423"),
        ("dtr Frances- 212- 476- 8356.", "212- 476- 8356"),
        ("Pager: #40718  Time 3:15pm", "40718"),
        ("WILL F/U IN 1-2 DAYS. PG 27190", "27190"),
    ],
)
def test_phones_and_pagers_in_free_formats_are_found(text: str, phone: str) -> None:
    assert covered(text, phone), redacted(text)


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("CABG '92, all grafts occluded. echo 8/87 showing EF 20%", "8/87"),
        ("RENAL INSUFFICIENCY. DIGOXIN TOXICITY-4/1/93. NKDA", "4/1/93"),
        ("DM TYPE 2; CAD 8/84; HTN", "8/84"),
        ("creatinine up to 2.3 (1.6) 10/15 with poor u/o", "10/15"),
        ("last cx 3/23 in am", "3/23"),
        ("monitor culture reports from 10/15-10/16.", "10/16"),
        ("had treatments 10/03/10/04 and due again", "10/04"),
        ("Nursing Progress Note 28 Oct, 88 0700-1245", "88"),
        ("CABGx4 '79, GERD", "'79"),
        ("AAA REPAIR IN 14' C/B DVT", "14'"),
        ("He returned to OR on 7-8 for coiling of aneurysm", "7-8"),
        ("PMH: NIDDM. 08 PTCA to LCX. 12 stent to RCA", "08"),
        ("PMH: NIDDM. 08 PTCA to LCX. 12 stent to RCA", "12"),
        ("Hx of asthma, lung ca s/p resection 1978 LS clear", "1978"),
        ('S: "I know where I am and its 2018." O: VSS', "2018"),
        ("admission note 2215      \npt is a 60 yr old", "2215"),
    ],
)
def test_history_list_dates_are_found(text: str, date: str) -> None:
    assert covered(text, date), redacted(text)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("I/O: IN 1980 OUT 1200, even", "1980"),
        ("urine 1975cc since midnight", "1975"),
        ("TF at goal, total 1990 kcal", "1990"),
        ("lasix given at 2015, diuresed well", "2015"),
        ("HR 88 MI ruled out", "88"),
        ("Nursing Progress Note 1900-0700", "1900"),
        ("plt 1966.5 on repeat", "1966"),
    ],
)
def test_readings_clock_times_and_counts_are_no_years(text: str, kept: str) -> None:
    assert not covered(text, kept), redacted(text)


def test_a_year_alone_moves_with_the_notes_date_shift() -> None:
    from compliance.deid import date_shift_days, redact

    text = "s/p resection 1977; CABG 79'; 09 PTCA to LCX"
    out = redact(text, find_spans(text, use_ner=False), seed=5).text
    assert "1977" not in out and "79'" not in out and "09 PTCA" not in out, out
    years = [int(y) for y in __import__("re").findall(r"\b(19\d\d)\b", out)]
    step = 1 if date_shift_days(5) > 0 else -1  # one year the way the note's dates move
    assert years == [1977 + step], out
    assert f"{79 + step}'" in out and f"{9 + step:02d} PTCA" in out, out


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Foley catheter draining clear yellow urine", "Foley"),
        ("rales 1/3 up bilaterally", "1/3"),
        ("weaned to 2 liters, on 2-3 L nc overnight", "2-3"),
        ("bp stable on dopa 7.9 mcg/kg/min", "dopa"),
        ("remains on simv 18 with rr 20", "simv"),
        ("suctioned for thick tan secretions", "tan"),
        ("plan to wean over to neo gtt", "neo"),
        ("cx grew s. aureus, on vanco", "aureus"),
        ("transferred to the micu from the ed", "micu"),
        ("pt seen by psych today", "psych"),
        ("R. FEMORAL line d/c'd", "FEMORAL"),
    ],
)
def test_clinical_words_next_to_the_same_cues_stay(text: str, kept: str) -> None:
    assert not covered(text, kept), redacted(text)


@pytest.mark.parametrize(
    "text",
    [
        "Please do get checked by a doctor once, especially after a first attack.",
        "I had earned less in my salaried hospital job, for longer hours.",
        "Clients are generally relieved by a clear answer.",
        "Go home in the dark. The clock drifts, and sleep follows it.",
        "She took the list to her doctor. She started a modern antidepressant.",
        "He had been to his doctor nine times in a year.",
    ],
)
def test_everyday_prose_keeps_its_words(text: str) -> None:
    """Blog posts pass through the same engine (the guard): its cues must not fire on prose."""
    assert not redacted(text), redacted(text)
