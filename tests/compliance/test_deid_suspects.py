"""find_suspects: the words the engine let go that a reviewer should look at. Made-up text."""

import time

import pytest

from compliance.deid import Span, find_suspects


def suspects(text: str, spans: list[Span] | None = None) -> list[tuple[str, str]]:
    found = find_suspects(text, [] if spans is None else spans)
    return [(text[s.start : s.end], s.reason) for s in found]


def test_a_capitalised_word_in_no_dictionary_is_suspect() -> None:
    assert ("Quenwick", "unknown_word") in suspects("Seen today by Quenwick in the unit.")


@pytest.mark.parametrize(
    "text",
    [
        "Pt resting. Dobutamine weaned overnight.",  # a drug's word shape
        "Started on Coumadin and Lasix this morning.",  # the medical safelist
        "Quenwick Plan reviewed. later: quenwick again",  # also written in lower case
        "Plan: rest.\nResp: clear.",  # capitalised at a sentence start, headings
        "Follows Crohn's disease closely.",  # an eponym
    ],
)
def test_ordinary_and_medical_words_are_not_suspect(text: str) -> None:
    assert [r for r in suspects(text) if r[1] == "unknown_word"] == []


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("case manager spoke with lorna about the plan", "lorna"),
        ("Discussed with Zorblat, who agrees.", "Zorblat"),
        ("paged dr quenwick twice", "quenwick"),
    ],
)
def test_a_name_shaped_word_after_a_verb_of_speaking_is_suspect(text: str, word: str) -> None:
    assert (word, "after_speaking") in suspects(text)


@pytest.mark.parametrize(
    "text",
    [
        "spoke with wife about the plan",
        "spoke with her at length",
        "talked to the team",
        "called nurse to bedside",
    ],
)
def test_relations_pronouns_and_common_words_after_speaking_are_not(text: str) -> None:
    assert [r for r in suspects(text) if r[1] == "after_speaking"] == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Pager #40718 for questions", "40718"),
        ("PG 27190", "27190"),
        ("code 123456 given", "123456"),
    ],
)
def test_a_bare_number_is_suspect(text: str, number: str) -> None:
    assert (number, "bare_number") in suspects(text)


@pytest.mark.parametrize(
    "text",
    [
        "HR 110, BP 128/82, SpO2 97%",
        "heparin 5000 units sc",
        "WBC 12000 today",
        "I/O 1400 cc",
        "woke at 2130, slept again ~ 0400",
        "plt 150,000 and 12.5/38.0",
        "svr 1061",
    ],
)
def test_vitals_doses_labs_and_times_are_not_suspect(text: str) -> None:
    assert [r for r in suspects(text) if r[1] == "bare_number"] == []


def test_a_suspect_never_overlaps_a_span_already_found() -> None:
    text = "Seen today by Quenwick; pager #40718."
    start = text.index("Quenwick")
    spans = [Span(start, start + 8, "NAME"), Span(text.index("40718"), len(text) - 1, "PHONE")]
    assert suspects(text, spans) == []


def test_suspects_are_sorted_and_do_not_overlap_each_other() -> None:
    text = "spoke with Quenwick. Later Vorlund came. Pager #40718."
    found = find_suspects(text, [])
    assert [text[s.start : s.end] for s in found] == ["Quenwick", "Vorlund", "40718"]
    assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))


def test_a_note_in_capitals_has_no_unknown_word_suspects() -> None:
    assert suspects("PT SEEN BY QUENWICK TODAY. PAGER #40718.") == [("40718", "bare_number")]


def test_past_the_time_limit_it_returns_what_it_has_instead_of_hanging() -> None:
    text = "Seen by Quenwick. " * 20_000
    started = time.monotonic()
    find_suspects(text, [], time_limit=0.01)
    assert time.monotonic() - started < 1.0
