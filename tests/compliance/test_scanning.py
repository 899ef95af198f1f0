"""Output scanning: PHI in generated text, and verbatim overlap with clinical notes."""

import time

import pytest

from compliance.models import ClinicalNote
from compliance.scanning import SHINGLE_WORDS, scan_output, shingle_windows, shingles
from compliance.services import note_approve
from tests.compliance.factories import make_note, make_officer

pytestmark = pytest.mark.django_db

MEMORY = (
    "She described waking every night at four with a pounding heart and the certainty that "
    "something terrible had happened to her brother overseas."
)


@pytest.fixture
def uploader():  # noqa: ANN201
    return make_officer()


@pytest.fixture
def reviewer():  # noqa: ANN201
    return make_officer()


def test_shingles_are_keyed_signed_64_bit_hashes_of_lowercased_word_8_grams() -> None:
    text = "One two three four five six seven eight nine"
    values = shingles(text)
    assert len(values) == 2 and all(-(2**63) <= v < 2**63 for v in values)
    assert shingles(text.upper()) == values  # case does not matter
    assert shingles("one two three") == []  # fewer than 8 words
    windows = shingle_windows(text)
    assert text[windows[1][1] : windows[1][2]] == "two three four five six seven eight nine"
    assert SHINGLE_WORDS == 8


def test_a_clean_text_is_ok(uploader) -> None:  # noqa: ANN001
    make_note(uploader, text=MEMORY)
    report = scan_output("Sleep improves when worry gets a fixed time slot earlier in the evening.")
    assert report.ok and report.phi == [] and report.overlaps == []


def test_phi_in_the_output_is_reported_with_label_and_text() -> None:
    report = scan_output("Call Mr. John Smith on 555-201-3344 about his results.")
    assert not report.ok
    found = {(hit.label, hit.text) for hit in report.phi}
    assert ("PHONE", "555-201-3344") in found
    assert any(label == "NAME" and "Smith" in text for label, text in found)


def test_overlap_with_an_approved_notes_purged_raw_text_is_found(uploader, reviewer) -> None:  # noqa: ANN001
    note = note_approve(note=make_note(uploader, text=MEMORY), by=reviewer)
    note.refresh_from_db()
    assert note.raw_encrypted == "" and note.raw_shingles  # purged, hashes kept
    generated = "In our work we often hear this. " + MEMORY[:110] + " Then we talked about sleep."
    report = scan_output(generated)
    raw_hits = [o for o in report.overlaps if o.note_id == note.id and o.source == "raw"]
    assert len(raw_hits) == 1  # adjacent 8-gram hits merge into one passage
    passage = raw_hits[0]
    assert passage.text == generated[passage.start : passage.end]
    assert passage.text.startswith("She described") and passage.shingles >= 5
    assert not report.ok


def test_overlap_with_another_notes_deidentified_text_is_found(uploader) -> None:  # noqa: ANN001
    note = make_note(uploader)  # pending: names replaced by surrogates in deid_text
    surrogate = note.findings.filter(category="NAME").first().surrogate
    line = next(line for line in note.deid_text.splitlines() if surrogate in line)
    report = scan_output(f"As written before: {line}")
    assert any(o.note_id == note.id and o.source == "deid" for o in report.overlaps)
    assert not ClinicalNote.objects.filter(id=note.id, deid_shingles=[]).exists()


def test_scanning_a_thousand_words_is_fast(uploader) -> None:  # noqa: ANN001
    for n in range(20):
        make_note(uploader, text=f"{MEMORY} Visit number {n} went well overall today.")
    words = ("sleep worry night heart morning breath walk light tea window " * 100).split()
    started = time.monotonic()
    scan_output(" ".join(words))
    assert time.monotonic() - started < 3.0
