"""Suspects on a note: stored at intake, checked one by one, and approval waits for all of them."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from compliance.audit import Action
from compliance.models import AuditEvent, ClinicalNote, DeidFinding, DeidSuspect
from compliance.services import (
    note_approve,
    note_dismiss_suspect,
    note_mark_span,
    note_mark_suspect,
)
from tests.compliance.factories import make_note, make_officer

TEXT = (
    "Patient John Smith was seen on 03/14/2023 for chest tightness.\n"
    "Case manager spoke with Zorblat about discharge; seen later by Quenwick in the unit.\n"
    "Callback code 40718 for questions. HR 110, heparin 5000 units, WBC 12000."
)
U = DeidSuspect.State

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploader():  # noqa: ANN201
    return make_officer()


@pytest.fixture
def reviewer():  # noqa: ANN201
    return make_officer()


def words(note: ClinicalNote) -> dict[str, DeidSuspect]:
    return {TEXT[s.start : s.end]: s for s in note.suspects.order_by("start")}


def last_event(action: str, note: ClinicalNote) -> AuditEvent:
    return AuditEvent.objects.filter(action=action, object_id=str(note.id)).order_by("-seq")[0]


def test_suspects_are_stored_unreviewed_with_offsets_and_reasons(uploader) -> None:  # noqa: ANN001
    note = make_note(uploader, text=TEXT)
    found = words(note)
    assert set(found) == {"Zorblat", "Quenwick", "40718"}
    assert {s.state for s in found.values()} == {U.UNREVIEWED}
    assert found["40718"].reason == "bare_number"
    assert last_event(Action.NOTE_UPLOADED, note).detail["suspects"] == 3


def test_approval_waits_until_every_suspect_is_looked_at(uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader, text=TEXT)
    found = words(note)
    with pytest.raises(ValidationError, match="3 words still to check"):
        note_approve(note=note, by=reviewer)

    note_dismiss_suspect(suspect=found["Quenwick"], by=reviewer)
    finding = note_mark_suspect(suspect=found["Zorblat"], by=reviewer)
    assert finding.category == "NAME" and finding.reviewer_action == DeidFinding.Action.ADDED
    with pytest.raises(ValidationError, match="1 word still to check"):
        note_approve(note=note, by=reviewer)
    note.refresh_from_db()
    assert "Zorblat" not in note.deid_text and "Quenwick" in note.deid_text

    number = note_mark_suspect(suspect=found["40718"], by=reviewer)
    assert number.category == "ID"
    assert words(note)["Zorblat"].finding_id == finding.id
    note_approve(note=note, by=reviewer)
    note.refresh_from_db()
    assert note.status == ClinicalNote.Status.APPROVED
    detail = last_event(Action.NOTE_APPROVED, note).detail
    assert detail["suspects"] == {"total": 3, "looked_at": 3, "dismissed": 1, "marked": 2}


def test_dismissing_is_audited_with_offsets_only_and_happens_once(uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader, text=TEXT)
    suspect = words(note)["Quenwick"]
    note_dismiss_suspect(suspect=suspect, by=reviewer)
    event = last_event(Action.NOTE_SUSPECT_DISMISSED, note)
    assert event.detail == {
        "suspect": suspect.id, "start": suspect.start, "end": suspect.end,
        "reason": "unknown_word",
    }  # fmt: skip
    assert "Quenwick" not in str(event.detail)
    with pytest.raises(ValidationError, match="checked already"):
        note_dismiss_suspect(suspect=suspect, by=reviewer)
    with pytest.raises(ValidationError, match="checked already"):
        note_mark_suspect(suspect=suspect, by=reviewer)


def test_marking_a_span_by_hand_over_a_suspect_counts_as_looking_at_it(uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader, text=TEXT)
    start = TEXT.index("Quenwick")
    note_mark_span(note=note, start=start, end=start + 8, category="NAME", by=reviewer)
    assert words(note)["Quenwick"].state == U.MARKED
    assert last_event(Action.NOTE_SPAN_MARKED, note).detail["suspects"] == [
        words(note)["Quenwick"].id
    ]


def test_view_shows_the_count_and_checks_a_suspect(client, uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader, text=TEXT)
    client.force_login(reviewer)
    page = client.get(reverse("compliance:review", args=[note.uid])).content.decode()
    assert "3 words to check" in page
    assert page.count('class="suspect"') == 3
    suspect = words(note)["Quenwick"]
    url = reverse("compliance:suspect", args=[note.uid, suspect.id, "dismiss"])
    partial = client.post(url, headers={"HX-Request": "true"}).content.decode()
    assert "2 words to check" in partial
    approve = client.post(reverse("compliance:decide", args=[note.uid, "approve"]))
    assert approve.status_code == 400 and "2 words still to check" in approve.content.decode()
    for suspect in note.suspects.filter(state=U.UNREVIEWED):
        url = reverse("compliance:suspect", args=[note.uid, suspect.id, "mark"])
        assert client.post(url).status_code == 302
    page = client.get(reverse("compliance:review", args=[note.uid])).content.decode()
    assert "All 3 words checked (2 marked, 1 dismissed)" in page
    assert client.post(reverse("compliance:decide", args=[note.uid, "approve"])).status_code == 302


def test_an_unknown_action_on_a_suspect_is_404(client, uploader) -> None:  # noqa: ANN001
    note = make_note(uploader, text=TEXT)
    suspect = words(note)["Quenwick"]
    bogus = reverse("compliance:suspect", args=[note.uid, suspect.id, "explode"])
    client.force_login(uploader)
    assert client.post(bogus).status_code == 404
