"""Notes from files: a .txt or .docx is one note; a CSV is a batch, one note per row.

A batch keeps its CSV encrypted (like a note's raw text) until it has run, then empties it, also
when the run fails. Rows are numbered as a spreadsheet shows them: the header is row 1, so the
first note is row 2. Each row is created in its own transaction together with the batch's
progress, so a worker that dies mid-batch resumes after the last finished row, never twice.
"""

import csv
import io
import json
import logging
import unicodedata
import zipfile
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from blogllm.crypto import DecryptionError, decrypt_text, encrypt_text
from compliance.audit import Action, audit_record
from compliance.models import ClinicalNote, NoteBatch
from compliance.services.notes import note_create

logger = logging.getLogger(__name__)

CONTROL_RATIO = 0.05  # more control characters than this (tabs and newlines aside): binary
_TEXT_CONTROLS = {"\t", "\n", "\r", "\f", "\v"}


def decode_text(data: bytes, *, what: str = "The file") -> str:
    """Bytes of a text file as str: UTF-8 (with or without BOM), UTF-16 with a BOM, or else
    Windows-1252 if it decodes cleanly. Binary data is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _refuse_binary(data.decode("utf-16"), what)
        except UnicodeDecodeError:
            raise ValidationError(f"{what} starts like UTF-16 but does not decode.") from None
    if b"\x00" in data:
        raise ValidationError(f"{what} looks binary (it holds NUL bytes), not plain text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise ValidationError(
                f"{what} is neither UTF-8 nor Windows-1252 text; save it as UTF-8."
            ) from None
    return _refuse_binary(text, what)


def _refuse_binary(text: str, what: str) -> str:
    controls = sum(
        1 for ch in text if ch not in _TEXT_CONTROLS and unicodedata.category(ch) == "Cc"
    )
    if text and controls / len(text) > CONTROL_RATIO:
        raise ValidationError(f"{what} looks binary (many control characters), not plain text.")
    return text


def docx_text(data: bytes) -> str:
    """The paragraphs and table cells of a Word document, in document order."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                lines.append(block.text)
            elif isinstance(block, Table):
                for row in block.rows:
                    lines.append("\t".join(cell.text for cell in row.cells))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValidationError(
            "The .docx file could not be read: it is corrupt or not a Word document."
        ) from exc
    except Exception as exc:  # lxml and python-docx raise many kinds for a damaged package
        logger.info("unreadable docx", exc_info=True)
        raise ValidationError(
            "The .docx file could not be read: it is corrupt or not a Word document."
        ) from exc
    return "\n".join(lines)


def note_create_from_upload(
    *, uploaded_file: object, by: User, title: str = "", request: HttpRequest | None = None
) -> ClinicalNote:
    """One note from an uploaded .txt or .docx file."""
    name = Path(getattr(uploaded_file, "name", "") or "upload").name
    data = uploaded_file.read()
    suffix = Path(name).suffix.lower()
    if suffix == ".docx":
        text, source = docx_text(data), ClinicalNote.Source.DOCX
    elif suffix == ".txt":
        text, source = decode_text(data, what=f"“{name}”"), ClinicalNote.Source.TXT
    else:
        raise ValidationError("Upload a .txt or .docx file (or a .csv as a batch).")
    return note_create(
        text=text, by=by, title=title or Path(name).stem, source=source, source_name=name,
        request=request,
    )  # fmt: skip


# --- CSV batches


def _rows(text: str) -> csv.DictReader:
    # The csv module refuses cells over 128 KiB by default; a note may be far longer, and a cell
    # that is too long should be refused by note_create with its own sentence, not end the file.
    csv.field_size_limit(2**31 - 1)
    return csv.DictReader(io.StringIO(text, newline=""))


def _check_csv(text: str) -> int:
    """The number of data rows; raises if the header has no "text" column."""
    try:
        reader = _rows(text)
        columns = [c.strip().lower() for c in (reader.fieldnames or [])]
        if "text" not in columns:
            raise ValidationError('The CSV needs a "text" column (and may have a "title" one).')
        return sum(1 for _ in reader)
    except csv.Error as exc:
        raise ValidationError(f"The CSV could not be read: {exc}.") from None


@transaction.atomic
def note_batch_create(
    *, uploaded_file: object, by: User, request: HttpRequest | None = None
) -> NoteBatch:
    """Store an uploaded CSV (encrypted) and queue it; the task starts after commit."""
    name = Path(getattr(uploaded_file, "name", "") or "notes.csv").name
    text = decode_text(uploaded_file.read(), what=f"“{name}”")
    total = _check_csv(text)
    batch = NoteBatch.objects.create(
        uploaded_by=by, file_name=name[:255], payload_encrypted=encrypt_text(text),
        items_total=total,
    )  # fmt: skip
    audit_record(
        action=Action.NOTE_BATCH_UPLOADED, actor=by, obj=batch, request=request,
        detail={"file": name, "rows": total},
    )  # fmt: skip
    from compliance.tasks import note_batch_run_task

    transaction.on_commit(lambda: note_batch_run_task.delay(note_batch_id=batch.id))
    return batch


def _cell(row: dict, name: str) -> str | None:
    for key, value in row.items():
        if isinstance(key, str) and key.strip().lower() == name:
            return value
    return None


def _append(batch_id: int, entry: dict, *, created: int, failed: int) -> None:
    """Add one report entry and count it, in one statement (no read-modify-write of the list).

    `items_done` is the batch's progress (blogllm.progress): its page reads it from the row, and
    a restarted run resumes after it, so it is counted in the same transaction as the row's note.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE compliance_notebatch SET report = report || jsonb_build_array(%s::jsonb), "
            "items_done = items_done + 1, created = created + %s, failed = failed + %s "
            "WHERE id = %s",
            [json.dumps(entry), created, failed, batch_id],
        )


def note_batch_run(*, batch: NoteBatch) -> NoteBatch:
    """Create a note per row, each in its own transaction; a broken row is reported and skipped.

    The payload is emptied at the end whatever happens, so no raw text outlives the run.
    """
    if batch.status in (NoteBatch.Status.FINISHED, NoteBatch.Status.FAILED):
        return batch
    NoteBatch.objects.filter(id=batch.id).update(status=NoteBatch.Status.RUNNING)
    status, error = NoteBatch.Status.FINISHED, ""
    try:
        _run_rows(batch)
    except Exception as exc:
        logger.exception("note batch failed", extra={"batch": batch.id})
        status = NoteBatch.Status.FAILED
        error = exc.messages[0] if isinstance(exc, ValidationError) else "The batch stopped."
    finally:
        NoteBatch.objects.filter(id=batch.id).update(
            payload_encrypted="", status=status, error=error, finished_at=timezone.now()
        )
    batch.refresh_from_db()
    return batch


def _run_rows(batch: NoteBatch) -> None:
    try:
        text = decrypt_text(batch.payload_encrypted)
    except DecryptionError:
        raise ValidationError(
            "The batch's file cannot be decrypted: none of the FIELD_ENCRYPTION_KEY keys fits."
        ) from None
    reader = _rows(text)
    already = NoteBatch.objects.get(id=batch.id).items_done  # rows done before a restart
    index = 0
    while True:
        row_number = index + 2  # the header is row 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            index += 1
            if index > already:
                _append(
                    batch.id, _failed(row_number, f"unreadable CSV ({exc})"), created=0, failed=1
                )
            break  # the reader cannot find the next row reliably after a syntax error
        index += 1
        if index <= already:
            continue
        _one_row(batch, row, row_number)


def _failed(row_number: int, reason: str) -> dict:
    return {"row": row_number, "outcome": "failed", "detail": reason, "note": None}


def _one_row(batch: NoteBatch, row: dict, row_number: int) -> None:
    text = _cell(row, "text")
    try:
        if text is None:
            raise ValidationError("The row has no text cell.")
        with transaction.atomic():
            note = note_create(
                text=text, by=batch.uploaded_by, title=_cell(row, "title") or "",
                source=ClinicalNote.Source.CSV,
                source_name=f"{batch.file_name} row {row_number}", batch=batch,
            )  # fmt: skip
            detail = "withheld for manual review" if note.deid_state == "withheld" else ""
            entry = {
                "row": row_number,
                "outcome": "created",
                "detail": detail,
                "note": str(note.uid),
            }
            _append(batch.id, entry, created=1, failed=0)
    except ValidationError as exc:
        _append(batch.id, _failed(row_number, " ".join(exc.messages)), created=0, failed=1)
    except Exception as exc:  # one broken row must not stop the batch
        logger.exception("note batch row failed", extra={"batch": batch.id, "row": row_number})
        _append(batch.id, _failed(row_number, f"could not be stored ({type(exc).__name__})"),
                created=0, failed=1)  # fmt: skip
