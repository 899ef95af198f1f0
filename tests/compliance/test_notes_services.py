"""Clinical note services: intake, de-identification, review marks, decisions, encryption."""

import io
import json
import zipfile

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from compliance import deid
from compliance.audit import Action
from compliance.models import AuditEvent, ClinicalNote, DeidFinding, NoteBatch
from compliance.services import (
    note_approve,
    note_batch_create,
    note_batch_run,
    note_create,
    note_create_from_upload,
    note_mark_span,
    note_open_for_review,
    note_reject,
    note_rerun_deid,
    note_rotate_keys,
    note_unmark_finding,
)
from compliance.services.notes import WITHHELD_RISK, raw_text
from tests.compliance.factories import NOTE_TEXT, make_note, make_officer

S = ClinicalNote.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def uploader():  # noqa: ANN201
    return make_officer()


@pytest.fixture
def reviewer():  # noqa: ANN201
    return make_officer()


def row_json(note: ClinicalNote) -> str:
    """The whole database row as text: what a dump of the table would show."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT row_to_json(n)::text FROM compliance_clinicalnote n WHERE id = %s", [note.id]
        )
        return cursor.fetchone()[0]


def events(action: str, note: ClinicalNote) -> int:
    return AuditEvent.objects.filter(action=action, object_id=str(note.pk)).count() or (
        AuditEvent.objects.filter(action=action, object_id=str(note.uid)).count()
    )


def timeout(*args: object, **kwargs: object) -> None:
    raise deid.DeidTimeout("too slow")


class Upload(io.BytesIO):
    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name, self.size = name, len(data)


# --- Intake


def test_a_note_is_stored_encrypted_with_findings_and_a_deidentified_text(uploader) -> None:  # noqa: ANN001
    note = make_note(uploader, title="Stairs")
    assert note.status == S.PENDING and note.deid_state == ClinicalNote.Deid.DONE
    # Encryption at rest: the raw text is not readable in the column, but decrypts.
    assert "John Smith" not in note.raw_encrypted and "48213977" not in note.raw_encrypted
    assert raw_text(note) == NOTE_TEXT
    assert note.raw_chars == len(NOTE_TEXT) and len(note.raw_sha256) == 64
    assert note.raw_shingles and note.deid_shingles
    assert note.findings.filter(category="NAME").exists()
    assert "John Smith" not in note.deid_text and "48213977" not in note.deid_text
    assert note.engine_version == deid.ENGINE_VERSION
    assert note.date_shift_days == deid.date_shift_days(note.deid_seed)
    assert events(Action.NOTE_UPLOADED, note) == 1


def test_newlines_are_normalised(uploader) -> None:  # noqa: ANN001
    note = make_note(uploader, text="Line one.\r\nLine two.\rLine three.")
    assert raw_text(note) == "Line one.\nLine two.\nLine three."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The note is empty."),
        ("  \n\t ", "The note is empty."),
        ("a\x00b", "NUL"),
        ("broken \ud800 surrogate", "cannot be decoded"),
    ],
)
def test_bad_text_is_refused_with_a_clear_sentence(uploader, text, message) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError, match=message):
        note_create(text=text, by=uploader)
    assert not ClinicalNote.objects.exists()


def test_a_note_over_the_limit_is_refused(uploader, settings) -> None:  # noqa: ANN001
    settings.MAX_NOTE_CHARS = 1_000_000
    with pytest.raises(ValidationError, match="BLOGLLM_MAX_NOTE_CHARS"):
        note_create(text="a" * 1_000_001, by=uploader)


def test_risk_score_grows_with_uncertain_findings_and_categories(uploader, monkeypatch) -> None:  # noqa: ANN001
    spans = [deid.Span(0, 4, "NAME", "ner", 0.4), deid.Span(10, 14, "CITY", "dictionary", 0.9)]
    monkeypatch.setattr(deid, "find_spans", lambda text, **kw: spans)
    note = make_note(uploader, text="Anna went to Oslo and back again.")
    assert note.risk_score == pytest.approx(0.6 + 0.1 + 0.5 * 2)


def test_a_timeout_withholds_the_note_and_it_cannot_be_approved(
    uploader, reviewer, monkeypatch
) -> None:  # noqa: ANN001
    monkeypatch.setattr(deid, "find_spans", timeout)
    note = make_note(uploader)
    assert note.deid_state == ClinicalNote.Deid.WITHHELD
    assert note.deid_text == "" and not note.findings.exists()  # never passed on un-redacted
    assert note.risk_score == WITHHELD_RISK
    with pytest.raises(ValidationError, match="withheld"):
        note_approve(note=note, by=reviewer)
    note.refresh_from_db()
    assert note.status == S.PENDING


def test_an_engine_crash_withholds_too(uploader, monkeypatch) -> None:  # noqa: ANN001
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(deid, "find_spans", crash)
    assert make_note(uploader).deid_state == ClinicalNote.Deid.WITHHELD


def test_a_withheld_note_is_rerun_with_the_longer_limit(uploader, reviewer, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(deid, "find_spans", timeout)
    note = make_note(uploader)
    monkeypatch.undo()
    note = note_rerun_deid(note=note, by=reviewer)
    assert note.deid_state == ClinicalNote.Deid.DONE and "John Smith" not in note.deid_text
    assert events(Action.NOTE_DEID_RERUN, note) == 1  # a re-run, not a reviewer's mark
    assert events(Action.NOTE_SPAN_MARKED, note) == 0
    assert note_approve(note=note, by=reviewer).status == S.APPROVED
    with pytest.raises(ValidationError):
        note_rerun_deid(note=note, by=reviewer)  # decided: nothing to re-run


def test_a_placeholder_mode_setting_renders_placeholders(uploader, settings) -> None:  # noqa: ANN001
    settings.DEID_MODE = "placeholder"
    note = make_note(uploader)
    assert "[NAME]" in note.deid_text or "<NAME>" in note.deid_text or "NAME" in note.deid_text


def test_surrogates_are_consistent_within_a_note(uploader) -> None:  # noqa: ANN001
    note = make_note(uploader)
    by_original: dict[str, set[str]] = {}
    for finding in note.findings.all():
        by_original.setdefault(NOTE_TEXT[finding.start : finding.end], set()).add(finding.surrogate)
    # "John Smith" (or "John" and "Smith") occurs twice: one surrogate each time.
    assert by_original.get("John Smith", by_original.get("John")) is not None
    assert all(len(surrogates) == 1 for surrogates in by_original.values())
    assert "John" not in note.deid_text and "Smith" not in note.deid_text


# --- Files


def test_txt_uploads_decode_utf8_bom_and_cp1252(uploader) -> None:  # noqa: ANN001
    bom = Upload("\ufeffCafé visit for Zoë.".encode(), "a.txt")
    assert (
        raw_text(note_create_from_upload(uploaded_file=bom, by=uploader)) == "Café visit for Zoë."
    )
    latin = Upload("Café visit – fine.".encode("cp1252"), "b.txt")
    note = note_create_from_upload(uploaded_file=latin, by=uploader)
    assert raw_text(note) == "Café visit – fine." and note.source == ClinicalNote.Source.TXT


def test_binary_txt_files_are_refused(uploader) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError, match="binary"):
        note_create_from_upload(uploaded_file=Upload(b"\x7fELF\x00\x01\x02", "x.txt"), by=uploader)
    controls = bytes(range(1, 9)) * 20 + b"some text"
    with pytest.raises(ValidationError, match="binary"):
        note_create_from_upload(uploaded_file=Upload(controls, "y.txt"), by=uploader)


def test_docx_uploads_read_paragraphs_and_tables(uploader) -> None:  # noqa: ANN001
    import docx

    document = docx.Document()
    document.add_paragraph("Seen today for a sleep review.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Weight", "82 kg"
    buffer = io.BytesIO()
    document.save(buffer)
    note = note_create_from_upload(uploaded_file=Upload(buffer.getvalue(), "n.docx"), by=uploader)
    assert raw_text(note) == "Seen today for a sleep review.\nWeight\t82 kg"
    assert note.source == ClinicalNote.Source.DOCX and note.source_name == "n.docx"


def test_a_corrupt_docx_is_refused_clearly(uploader) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError, match="corrupt"):
        note_create_from_upload(uploaded_file=Upload(b"PK\x03\x04garbage", "c.docx"), by=uploader)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    with pytest.raises(ValidationError, match="corrupt"):
        note_create_from_upload(uploaded_file=Upload(buffer.getvalue(), "z.docx"), by=uploader)


# --- CSV batches (run in-process here; tests/compliance/test_notes_views.py uses the worker)


def test_a_csv_batch_creates_notes_reports_a_broken_row_and_empties_the_payload(uploader) -> None:  # noqa: ANN001
    csv_text = 'title,text\nFirst,"Seen for sleep."\nEmpty,""\nThird,"Seen for worry, again."\n'
    batch = note_batch_create(uploaded_file=Upload(csv_text.encode(), "notes.csv"), by=uploader)
    assert batch.items_total == 3 and batch.payload_encrypted
    assert "Seen for sleep" not in batch.payload_encrypted
    batch = note_batch_run(batch=batch)
    assert batch.status == NoteBatch.Status.FINISHED and batch.payload_encrypted == ""
    assert (batch.items_done, batch.created, batch.failed, batch.percent) == (3, 2, 1, 100)
    assert [(r["row"], r["outcome"]) for r in batch.report] == [
        (2, "created"),
        (3, "failed"),
        (4, "created"),
    ]
    assert batch.report[1]["detail"] == "The note is empty."
    assert list(batch.notes.order_by("id").values_list("title", "source_name")) == [
        ("First", "notes.csv row 2"),
        ("Third", "notes.csv row 4"),
    ]


def test_a_csv_without_a_text_column_or_in_a_bad_encoding_is_refused(uploader) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError, match='"text" column'):
        note_batch_create(uploaded_file=Upload(b"title,body\na,b\n", "x.csv"), by=uploader)
    with pytest.raises(ValidationError, match="UTF-8"):
        note_batch_create(uploaded_file=Upload(b"text\n\x81\x8d\x90\n", "y.csv"), by=uploader)
    assert not NoteBatch.objects.exists()


def test_a_batch_that_fails_still_empties_its_payload(uploader, monkeypatch) -> None:  # noqa: ANN001
    batch = note_batch_create(uploaded_file=Upload(b"text\nhello there\n", "n.csv"), by=uploader)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("compliance.services.intake._run_rows", broken)
    batch = note_batch_run(batch=batch)
    assert batch.status == NoteBatch.Status.FAILED and batch.payload_encrypted == ""


# --- Review marks


def test_marking_a_missed_span_redacts_it_and_unmarking_brings_text_back(
    uploader, reviewer
) -> None:  # noqa: ANN001
    note = make_note(uploader, text="Seen with her friend Quentavia at the lake.")
    start = note_text_index = "Seen with her friend Quentavia at the lake.".index("Quentavia")
    assert note_text_index >= 0
    finding = note_mark_span(note=note, start=start, end=start + 9, category="NAME", by=reviewer)
    note.refresh_from_db()
    assert finding.detector == "reviewer" and finding.reviewer_action == DeidFinding.Action.ADDED
    assert "Quentavia" not in note.deid_text and finding.surrogate in note.deid_text

    note_unmark_finding(finding=finding, by=reviewer)
    note.refresh_from_db()
    finding.refresh_from_db()
    assert "Quentavia" in note.deid_text  # no longer redacted…
    assert finding.reviewer_action == DeidFinding.Action.REMOVED  # …but kept on record
    assert events(Action.NOTE_SPAN_MARKED, note) == 1
    assert events(Action.NOTE_SPAN_UNMARKED, note) == 1


def test_a_marked_span_overlapping_findings_merges_them(uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader)
    name = note.findings.filter(category="NAME").first()
    finding = note_mark_span(
        note=note, start=name.start, end=name.end + 4, category="NAME", by=reviewer
    )
    # The mark grows to cover every finding it overlaps (the engine may have split the name).
    assert finding.start == name.start and finding.end >= name.end + 4
    assert not DeidFinding.objects.filter(id=name.id).exists()
    spans = sorted(
        (f.start, f.end) for f in note.findings.exclude(reviewer_action=DeidFinding.Action.REMOVED)
    )
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # none overlap


def test_marks_are_refused_outside_the_text_or_after_a_decision(uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader)
    with pytest.raises(ValidationError, match="within the text"):
        note_mark_span(note=note, start=5, end=10_000, category="NAME", by=reviewer)
    with pytest.raises(ValidationError, match="Unknown category"):
        note_mark_span(note=note, start=0, end=3, category="SHOE_SIZE", by=reviewer)
    note_reject(note=note, by=reviewer, reason="Not useful.")
    with pytest.raises(ValidationError, match="pending"):
        note_mark_span(note=note, start=0, end=3, category="NAME", by=reviewer)


# --- Decisions


def test_approve_purges_the_raw_text_and_enqueues_embedding(
    uploader, reviewer, django_capture_on_commit_callbacks, monkeypatch
) -> None:  # noqa: ANN001
    note = make_note(uploader)
    sent = []
    monkeypatch.setattr("compliance.tasks.note_embed_task.delay", lambda **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        note_approve(note=note, by=reviewer)
    note.refresh_from_db()
    assert note.status == S.APPROVED and note.raw_encrypted == ""
    assert note.reviewed_by == reviewer and note.reviewed_at is not None
    row = row_json(note)
    for phi in ("John Smith", "48213977", "555-201-3344", "Mary"):
        assert phi not in row  # no plaintext PHI anywhere in the row
    assert sent == [{"note_id": note.id}]
    assert events(Action.NOTE_APPROVED, note) == 1


def test_reject_needs_a_reason_and_purges_the_raw_text(uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader)
    with pytest.raises(ValidationError, match="why"):
        note_reject(note=note, by=reviewer, reason="  ")
    note = note_reject(note=note, by=reviewer, reason="Names in every line.")
    note.refresh_from_db()
    assert note.status == S.REJECTED and note.raw_encrypted == ""
    assert note.decision_reason == "Names in every line."
    assert "48213977" not in row_json(note)
    assert note_open_for_review(note=note, by=reviewer).raw is None  # purged
    with pytest.raises(ValidationError, match="purged"):
        raw_text(note)


def test_the_uploader_may_never_decide_their_own_note(uploader) -> None:  # noqa: ANN001
    note = make_note(uploader)
    with pytest.raises(ValidationError, match="another compliance officer"):
        note_approve(note=note, by=uploader)
    with pytest.raises(ValidationError, match="another compliance officer"):
        note_reject(note=note, by=uploader, reason="mine")
    note.refresh_from_db()
    assert note.status == S.PENDING and note.raw_encrypted


def test_the_database_refuses_a_self_review_even_past_the_services(uploader) -> None:  # noqa: ANN001
    from django.db import IntegrityError, transaction

    note = make_note(uploader)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClinicalNote.objects.filter(id=note.id).update(reviewed_by=uploader)


def test_only_compliance_officers_decide(uploader, editor) -> None:  # noqa: ANN001
    note = make_note(uploader)
    with pytest.raises(PermissionDenied):
        note_approve(note=note, by=editor)


def test_only_pending_notes_are_decided(uploader, reviewer) -> None:  # noqa: ANN001
    note = note_approve(note=make_note(uploader), by=reviewer)
    with pytest.raises(ValidationError, match="approved already"):
        note_reject(note=note, by=reviewer, reason="changed my mind")


def test_a_failing_audit_write_rolls_the_approval_back(uploader, reviewer, monkeypatch) -> None:  # noqa: ANN001
    note = make_note(uploader)

    def audit_down(**kwargs: object) -> None:
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr("compliance.services.notes.audit_record", audit_down)
    with pytest.raises(RuntimeError):
        note_approve(note=note, by=reviewer)
    note.refresh_from_db()
    assert note.status == S.PENDING and raw_text(note) == NOTE_TEXT  # fail closed


# --- The raw view and encryption keys


def test_opening_a_pending_note_audits_the_view_and_the_raw_view(uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader)
    screen = note_open_for_review(note=note, by=reviewer)
    assert screen.raw == NOTE_TEXT
    assert events(Action.NOTE_VIEWED, note) == 1 and events(Action.NOTE_RAW_VIEWED, note) == 1
    detail = AuditEvent.objects.get(action=Action.NOTE_RAW_VIEWED).detail
    assert "John" not in json.dumps(detail)


def test_rotation_keeps_old_notes_readable_and_re_encrypts_them(uploader, settings) -> None:  # noqa: ANN001
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    note = make_note(uploader)
    before = note.raw_encrypted

    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # the new key first: it encrypts from now on
    assert raw_text(note) == NOTE_TEXT  # the old key still decrypts
    result = note_rotate_keys()
    assert (result.notes, result.failed) == (1, [])
    note.refresh_from_db()
    assert note.raw_encrypted != before

    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key can go now
    assert raw_text(note) == NOTE_TEXT


def test_a_missing_key_is_named_in_the_error(uploader, settings) -> None:  # noqa: ANN001
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    note = make_note(uploader)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ValidationError, match="FIELD_ENCRYPTION_KEY"):
        raw_text(note)
    assert note_rotate_keys().failed == [f"note {note.uid}"]
