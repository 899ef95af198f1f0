"""The gate: only approved notes are embedded, searched, and handed to training."""

import numpy as np
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from compliance import deid
from compliance.models import ClinicalNote, NoteChunk
from compliance.selectors import note_chunk_search, note_list_for_review, note_list_for_training
from compliance.services import note_approve, note_embed, note_reject
from posts.embedder import get_embedder
from tests.compliance.factories import make_note, make_officer

S = ClinicalNote.Status
pytestmark = pytest.mark.django_db

SLEEP = "Seen for insomnia. Night waking at three with racing thoughts about work deadlines."


@pytest.fixture
def uploader():  # noqa: ANN201
    return make_officer()


@pytest.fixture
def reviewer():  # noqa: ANN201
    return make_officer()


def insert_chunk(note: ClinicalNote, text: str) -> NoteChunk:
    """A chunk written straight into the table, bypassing note_embed's own refusal."""
    vector = get_embedder(settings.EMBED_MODEL).embed([text])[0]
    return NoteChunk.objects.create(
        note=note, ord=0, text=text, token_count=10, embedding=np.asarray(vector)
    )


def test_note_embed_refuses_a_pending_or_rejected_note(uploader, reviewer) -> None:  # noqa: ANN001
    pending = make_note(uploader, text=SLEEP)
    with pytest.raises(ValidationError, match="only approved"):
        note_embed(note_id=pending.id)
    rejected = note_reject(note=make_note(uploader, text=SLEEP), by=reviewer, reason="No.")
    with pytest.raises(ValidationError, match="only approved"):
        note_embed(note_id=rejected.id)
    assert not NoteChunk.objects.exists()


def test_an_approved_note_is_embedded_once_from_its_deidentified_text(uploader, reviewer) -> None:  # noqa: ANN001
    note = note_approve(note=make_note(uploader), by=reviewer)
    assert note_embed(note_id=note.id) >= 1
    assert note_embed(note_id=note.id) == 0  # idempotent: same text, same hash
    texts = " ".join(NoteChunk.objects.filter(note=note).values_list("text", flat=True))
    assert "John Smith" not in texts and "48213977" not in texts
    assert "chest tightness" in texts


def test_search_returns_only_approved_notes_chunks_even_if_others_exist(uploader, reviewer) -> None:  # noqa: ANN001
    approved = note_approve(note=make_note(uploader, text=SLEEP), by=reviewer)
    note_embed(note_id=approved.id)
    pending = make_note(uploader, text=SLEEP)
    rejected = note_reject(note=make_note(uploader, text=SLEEP), by=reviewer, reason="No.")
    # Rows a bug (or a person with database access) might write: the selector must ignore them.
    insert_chunk(pending, "Night waking at three with racing thoughts about work deadlines.")
    insert_chunk(rejected, "Night waking at three with racing thoughts about work deadlines.")
    hits = note_chunk_search("night waking racing thoughts")
    assert hits and {hit.note_id for hit in hits} == {approved.id}
    assert "<mark>" in hits[0].snippet_html


def test_training_gets_approved_notes_deidentified_text_only(uploader, reviewer) -> None:  # noqa: ANN001
    approved = note_approve(note=make_note(uploader), by=reviewer)
    make_note(uploader)
    note_reject(note=make_note(uploader), by=reviewer, reason="No.")
    notes = note_list_for_training()
    assert [n.id for n in notes] == [approved.id]
    assert notes[0].deid_text == approved.deid_text and "John Smith" not in notes[0].deid_text
    assert not hasattr(notes[0], "raw_encrypted")


def test_the_queue_lists_pending_notes_riskiest_first(uploader, reviewer, monkeypatch) -> None:  # noqa: ANN001
    calm = make_note(uploader, text="Seen for a routine review of sleep habits.")
    busy = make_note(uploader)  # names, dates, phone numbers, a hospital
    monkeypatch.setattr(
        deid, "find_spans", lambda *a, **k: (_ for _ in ()).throw(deid.DeidTimeout())
    )
    withheld = make_note(uploader)
    monkeypatch.undo()
    note_approve(note=make_note(uploader), by=reviewer)
    queue = list(note_list_for_review())
    assert [n.id for n in queue] == [withheld.id, busy.id, calm.id]
    assert queue[1].categories >= 3 and queue[1].finding_count >= queue[1].categories
