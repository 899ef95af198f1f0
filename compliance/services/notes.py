"""A clinical note's life: intake and de-identification, review, decision, key rotation.

note_create encrypts the raw text, de-identifies it within a time limit (or withholds it) and
stores the findings. While the note is pending a reviewer adds missed spans and unmarks false
positives (both re-render deid_text from the raw text with the note's seed). note_approve and
note_reject purge the raw text; only an approved note is embedded (on commit). Every step is
audited inside its own transaction: if the audit write fails, the step rolls back (fail closed).
"""

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from blogllm import metrics
from blogllm.crypto import DecryptionError, decrypt_text, encrypt_text, rotate
from compliance import deid
from compliance.audit import Action, audit_record
from compliance.models import ClinicalNote, DeidFinding, DeidSuspect, NoteBatch
from compliance.scanning import shingles
from compliance.services import config

logger = logging.getLogger(__name__)

# A withheld note (the engine gave up) goes to the top of the review queue.
WITHHELD_RISK = 1000.0
NOT_YOURS = "You uploaded this note; another compliance officer must review it."


def _active_findings(note: ClinicalNote) -> list[DeidFinding]:
    """The findings that are redacted: all but those a reviewer unmarked."""
    return list(note.findings.exclude(reviewer_action=DeidFinding.Action.REMOVED).order_by("start"))


def _require_handler(by: User) -> None:
    if not can.can_handle_clinical_notes(by):
        raise PermissionDenied("Only compliance officers handle clinical notes.")


def _require_pending(note: ClinicalNote, doing: str) -> None:
    if note.status != ClinicalNote.Status.PENDING:
        raise ValidationError(f"This note was {note.status} already; {doing} only a pending note.")


def _locked(note: ClinicalNote) -> ClinicalNote:
    """The note's row, locked until the transaction ends, so two reviewers never both decide."""
    return ClinicalNote.objects.select_for_update().get(id=note.id)


# --- Validation and the raw text


def clean_note_text(text: object) -> str:
    """The text as stored: validated, with newlines normalised to \\n. Raises ValidationError."""
    if not isinstance(text, str):
        raise ValidationError("The note must be text.")
    if "\x00" in text:
        raise ValidationError("The note contains NUL characters (binary data?); use plain text.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            "The note contains characters that cannot be decoded (broken Unicode); "
            "save it again as UTF-8."
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValidationError("The note is empty.")
    limit = config.max_note_chars()
    if len(text) > limit:
        raise ValidationError(
            f"The note has {len(text):,} characters; notes are limited to {limit:,} "
            "(BLOGLLM_MAX_NOTE_CHARS). Split it into several notes."
        )
    return text


def raw_text(note: ClinicalNote) -> str:
    """Decrypt a pending note's raw text. Callers audit; only services in this package call it."""
    if not note.raw_encrypted:
        raise ValidationError("The raw text of this note was purged when it was decided.")
    try:
        return decrypt_text(note.raw_encrypted)
    except DecryptionError:
        raise ValidationError(
            "The raw text of this note cannot be decrypted: none of the FIELD_ENCRYPTION_KEY "
            "keys fits. Put back the key it was encrypted with (after the new one)."
        ) from None


# --- De-identification


@dataclass
class DeidResult:
    spans: list[deid.Span] = field(default_factory=list)
    suspects: list[deid.Suspect] = field(default_factory=list)
    withheld: bool = False
    reason: str = ""
    ms: int = 0


def _run_engine(text: str, *, time_limit: float) -> DeidResult:
    """Run the engine; a timeout or any engine failure withholds the note, never passes it on."""
    started, withheld = time.monotonic(), None
    try:
        spans = deid.find_spans(text, time_limit=time_limit)
    except deid.DeidTimeout:
        withheld = "timeout"
        result = DeidResult(withheld=True, reason=f"ran past its {time_limit:g} s limit")
    except Exception as exc:  # an engine bug must withhold the note, not crash the upload
        logger.exception("de-identification failed")
        withheld = "error"
        result = DeidResult(withheld=True, reason=f"failed ({type(exc).__name__})")
    else:
        # Suspects stop at their own small limit and never fail the note: they only add checks.
        try:
            suspects = deid.find_suspects(text, spans)
        except Exception:
            logger.exception("finding suspects failed")
            suspects = []
        result = DeidResult(spans=list(spans), suspects=suspects)
    result.ms = round(1000 * (time.monotonic() - started))
    metrics.deid_observe(seconds=result.ms / 1000, withheld=withheld, suspects=len(result.suspects))
    return result


def risk_score(findings: list[DeidFinding] | list[deid.Span], *, withheld: bool = False) -> float:
    """Review priority: uncertain findings and many kinds of PHI first; withheld notes on top."""
    if withheld:
        return WITHHELD_RISK
    labels = {getattr(f, "label", None) or getattr(f, "category", "") for f in findings}
    uncertainty = sum(1.0 - float(f.confidence) for f in findings)
    return round(uncertainty + 0.5 * len(labels), 4)


def _render(note: ClinicalNote, raw: str) -> None:
    """Re-render deid_text (and the surrogates) from the raw text and the active findings."""
    findings = _active_findings(note)
    spans = [
        deid.Span(
            start=f.start, end=f.end, label=f.category, detector=f.detector,
            confidence=f.confidence,
        )
        for f in findings
    ]  # fmt: skip
    redacted = deid.redact(raw, spans, seed=note.deid_seed, mode=config.deid_mode())
    surrogate_of = {(s.start, s.end): text for s, text in redacted.replacements}
    for finding in findings:
        finding.surrogate = surrogate_of.get((finding.start, finding.end), "")[:200]
    DeidFinding.objects.bulk_update(findings, ["surrogate"])
    note.deid_text = redacted.text
    note.deid_shingles = shingles(redacted.text)
    note.risk_score = risk_score(findings)


def _apply_engine(note: ClinicalNote, raw: str, result: DeidResult) -> None:
    """Store the engine's findings and the rendered text, or withhold the note."""
    note.deid_ms, note.engine_version = result.ms, deid.ENGINE_VERSION
    if result.withheld:
        note.deid_state, note.deid_text, note.deid_shingles = ClinicalNote.Deid.WITHHELD, "", []
        note.risk_score = WITHHELD_RISK
        return
    DeidFinding.objects.bulk_create(
        DeidFinding(
            note=note, start=s.start, end=s.end, category=s.label, detector=s.detector,
            confidence=s.confidence,
        )
        for s in result.spans
    )  # fmt: skip
    DeidSuspect.objects.bulk_create(
        DeidSuspect(note=note, start=s.start, end=s.end, reason=s.reason) for s in result.suspects
    )
    note.deid_state = ClinicalNote.Deid.DONE
    _render(note, raw)


@transaction.atomic
def note_create(
    *,
    text: str,
    by: User,
    title: str = "",
    source: str = ClinicalNote.Source.PASTE,
    source_name: str = "",
    batch: NoteBatch | None = None,
    request: HttpRequest | None = None,
) -> ClinicalNote:
    """Store a new pending note: encrypted raw text, findings and the de-identified text."""
    text = clean_note_text(text)
    seed = secrets.randbits(62)
    note = ClinicalNote.objects.create(
        title=title.strip()[:200], source=source, source_name=source_name[:255], batch=batch,
        uploaded_by=by, raw_encrypted=encrypt_text(text),
        raw_sha256=hashlib.sha256(text.encode()).hexdigest(), raw_chars=len(text),
        raw_shingles=shingles(text), deid_seed=seed, date_shift_days=deid.date_shift_days(seed),
    )  # fmt: skip
    result = _run_engine(text, time_limit=config.deid_time_limit())
    _apply_engine(note, text, result)
    note.save(
        update_fields=[
            "deid_state", "deid_text", "deid_shingles", "deid_ms", "engine_version", "risk_score",
        ]
    )  # fmt: skip
    audit_record(
        action=Action.NOTE_UPLOADED, actor=by, obj=note, request=request,
        detail={
            "source": source, "chars": len(text), "findings": len(result.spans),
            "suspects": len(result.suspects),
            "deid_state": note.deid_state, "withheld_reason": result.reason,
            "batch": batch.id if batch else None,
        },
    )  # fmt: skip
    return note


@transaction.atomic
def note_rerun_deid(
    *, note: ClinicalNote, by: User, request: HttpRequest | None = None
) -> ClinicalNote:
    """Run the engine again on a withheld note, with the longer re-run time limit."""
    _require_handler(by)
    note = _locked(note)
    _require_pending(note, "re-run")
    if note.deid_state != ClinicalNote.Deid.WITHHELD:
        raise ValidationError("Only a withheld note is re-run; this one is de-identified already.")
    raw = raw_text(note)
    result = _run_engine(raw, time_limit=config.deid_rerun_time_limit())
    note.suspects.all().delete()
    note.findings.all().delete()
    _apply_engine(note, raw, result)
    note.save(
        update_fields=[
            "deid_state", "deid_text", "deid_shingles", "deid_ms", "engine_version", "risk_score",
        ]
    )  # fmt: skip
    audit_record(
        action=Action.NOTE_DEID_RERUN, actor=by, obj=note, request=request,
        detail={
            "rerun": True, "deid_state": note.deid_state, "findings": len(result.spans),
            "suspects": len(result.suspects),
        },
    )  # fmt: skip
    return note


# --- Review: reviewer marks and unmarks


@transaction.atomic
def note_mark_span(
    *,
    note: ClinicalNote,
    start: int,
    end: int,
    category: str,
    by: User,
    request: HttpRequest | None = None,
) -> DeidFinding:
    """Add a span the engine missed. Active findings it overlaps are merged into it.

    Unreviewed suspects the span covers count as looked at: they become marked, with it.
    """
    _require_handler(by)
    note = _locked(note)
    _require_pending(note, "spans are marked on")
    if note.deid_state != ClinicalNote.Deid.DONE:
        raise ValidationError("A withheld note is re-run or rejected, not marked by hand.")
    if category not in deid.LABELS:
        raise ValidationError(f"Unknown category “{category}”.")
    raw = raw_text(note)
    if not (0 <= start < end <= len(raw)):
        raise ValidationError(f"The span must lie within the text (0 to {len(raw)}), start < end.")
    overlapping = [f for f in _active_findings(note) if f.start < end and start < f.end]
    merged = [
        {"start": f.start, "end": f.end, "category": f.category, "detector": f.detector}
        for f in overlapping
    ]
    if overlapping:
        start = min(start, *(f.start for f in overlapping))
        end = max(end, *(f.end for f in overlapping))
        # Superseded by the reviewer's span; what they were stays in the audit event's detail.
        DeidFinding.objects.filter(id__in=[f.id for f in overlapping]).delete()
    finding = DeidFinding.objects.create(
        note=note, start=start, end=end, category=category, detector="reviewer",
        confidence=1.0, reviewer_action=DeidFinding.Action.ADDED,
    )  # fmt: skip
    covered = note.suspects.filter(state=DeidSuspect.State.UNREVIEWED, start__lt=end, end__gt=start)
    suspect_ids = sorted(covered.values_list("id", flat=True))
    covered.update(state=DeidSuspect.State.MARKED, finding=finding)
    _render(note, raw)
    note.save(update_fields=["deid_text", "deid_shingles", "risk_score"])
    audit_record(
        action=Action.NOTE_SPAN_MARKED, actor=by, obj=note, request=request,
        detail={
            "finding": finding.id, "start": start, "end": end, "category": category,
            "reviewer_action": "added", "merged": merged, "suspects": suspect_ids,
        },
    )  # fmt: skip
    return finding


# The category a suspect becomes when the reviewer turns it into a finding with one key.
SUSPECT_CATEGORY = {"unknown_word": "NAME", "after_speaking": "NAME", "bare_number": "ID"}


def _pending_suspect(suspect: DeidSuspect, doing: str) -> tuple[ClinicalNote, DeidSuspect]:
    note = _locked(suspect.note)
    _require_pending(note, doing)
    suspect = DeidSuspect.objects.select_for_update().get(id=suspect.id, note=note)
    if suspect.state != DeidSuspect.State.UNREVIEWED:
        raise ValidationError(f"This word was checked already ({suspect.get_state_display()}).")
    return note, suspect


@transaction.atomic
def note_mark_suspect(
    *,
    suspect: DeidSuspect,
    by: User,
    category: str = "",
    request: HttpRequest | None = None,
) -> DeidFinding:
    """Turn a suspect into a finding (redacted like any other) through note_mark_span."""
    _require_handler(by)
    note, suspect = _pending_suspect(suspect, "words are checked on")
    category = category or SUSPECT_CATEGORY.get(suspect.reason, "NAME")
    return note_mark_span(
        note=note, start=suspect.start, end=suspect.end, category=category, by=by,
        request=request,
    )  # fmt: skip


@transaction.atomic
def note_dismiss_suspect(
    *, suspect: DeidSuspect, by: User, request: HttpRequest | None = None
) -> DeidSuspect:
    """The reviewer looked at a suspect and it is not PHI: it stays as it is in the text."""
    _require_handler(by)
    note, suspect = _pending_suspect(suspect, "words are checked on")
    suspect.state = DeidSuspect.State.DISMISSED
    suspect.save(update_fields=["state"])
    audit_record(
        action=Action.NOTE_SUSPECT_DISMISSED, actor=by, obj=note, request=request,
        detail={
            "suspect": suspect.id, "start": suspect.start, "end": suspect.end,
            "reason": suspect.reason,
        },
    )  # fmt: skip
    return suspect


def suspect_counts(note: ClinicalNote) -> dict[str, int]:
    """How many suspects the note has in each state (and in all), for the screen and audit."""
    counts = dict.fromkeys(DeidSuspect.State.values, 0)
    for suspect in note.suspects.all():
        counts[suspect.state] += 1
    counts["total"] = sum(counts.values())
    return counts


def to_check_text(n: int) -> str:
    return f"{n} word{'' if n == 1 else 's'} still to check"


@transaction.atomic
def note_unmark_finding(
    *, finding: DeidFinding, by: User, request: HttpRequest | None = None
) -> DeidFinding:
    """Unmark a false positive: the finding stays on record but is no longer redacted."""
    _require_handler(by)
    note = _locked(finding.note)
    _require_pending(note, "findings are unmarked on")
    finding = DeidFinding.objects.select_for_update().get(id=finding.id, note=note)
    if finding.reviewer_action == DeidFinding.Action.REMOVED:
        raise ValidationError("This finding is unmarked already.")
    finding.reviewer_action = DeidFinding.Action.REMOVED
    finding.save(update_fields=["reviewer_action"])
    raw = raw_text(note)
    _render(note, raw)
    note.save(update_fields=["deid_text", "deid_shingles", "risk_score"])
    audit_record(
        action=Action.NOTE_SPAN_UNMARKED, actor=by, obj=note, request=request,
        detail={
            "finding": finding.id, "start": finding.start, "end": finding.end,
            "category": finding.category, "reviewer_action": "removed",
        },
    )  # fmt: skip
    return finding


@dataclass(frozen=True)
class ReviewScreen:
    note: ClinicalNote
    raw: str | None  # None once the note is decided (purged)


@transaction.atomic
def note_open_for_review(
    *, note: ClinicalNote, by: User, request: HttpRequest | None = None
) -> ReviewScreen:
    """The one door to a note's raw text: audits the view and, while pending, the raw view."""
    _require_handler(by)
    audit_record(action=Action.NOTE_VIEWED, actor=by, obj=note, request=request)
    if note.is_decided:
        return ReviewScreen(note, None)
    raw = raw_text(note)
    audit_record(
        action=Action.NOTE_RAW_VIEWED, actor=by, obj=note, request=request,
        detail={"chars": len(raw)},
    )  # fmt: skip
    return ReviewScreen(note, raw)


# --- Decisions


def _decide(note: ClinicalNote, by: User, doing: str) -> ClinicalNote:
    _require_handler(by)
    note = _locked(note)
    _require_pending(note, f"{doing} is for")
    if not can.can_decide_note(by, note):
        raise ValidationError(NOT_YOURS)
    return note


@transaction.atomic
def note_approve(
    *, note: ClinicalNote, by: User, request: HttpRequest | None = None
) -> ClinicalNote:
    """Approve a de-identified note: purge the raw text, audit, and embed it after commit."""
    note = _decide(note, by, "approval")
    if note.deid_state != ClinicalNote.Deid.DONE:
        raise ValidationError(
            "This note was withheld (de-identification did not finish): re-run it or reject it."
        )
    suspects = suspect_counts(note)
    if suspects[DeidSuspect.State.UNREVIEWED]:
        raise ValidationError(
            f"{to_check_text(suspects[DeidSuspect.State.UNREVIEWED])}: mark each word the "
            "engine was unsure of as PHI, or dismiss it, before approving."
        )
    note.status, note.raw_encrypted = ClinicalNote.Status.APPROVED, ""
    note.reviewed_by, note.reviewed_at = by, timezone.now()
    note.save(update_fields=["status", "raw_encrypted", "reviewed_by", "reviewed_at"])
    audit_record(
        action=Action.NOTE_APPROVED, actor=by, obj=note, request=request,
        detail={
            "findings": note.findings.exclude(reviewer_action="removed").count(),
            "suspects": {
                "total": suspects["total"],
                "looked_at": suspects["dismissed"] + suspects["marked"],
                "dismissed": suspects["dismissed"], "marked": suspects["marked"],
            },
        },
    )  # fmt: skip
    from compliance.tasks import note_embed_task

    note_id = note.id
    transaction.on_commit(lambda: note_embed_task.delay(note_id=note_id))
    return note


@transaction.atomic
def note_reject(
    *, note: ClinicalNote, by: User, reason: str, request: HttpRequest | None = None
) -> ClinicalNote:
    """Reject a note with a reason and purge its raw text."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why the note is rejected.")
    note = _decide(note, by, "rejection")
    note.status, note.raw_encrypted = ClinicalNote.Status.REJECTED, ""
    note.reviewed_by, note.reviewed_at, note.decision_reason = by, timezone.now(), reason
    note.save(
        update_fields=["status", "raw_encrypted", "reviewed_by", "reviewed_at", "decision_reason"]
    )
    audit_record(
        action=Action.NOTE_REJECTED, actor=by, obj=note, request=request,
        detail={"reason": reason[:500]},
    )  # fmt: skip
    return note


# --- Key rotation


@dataclass
class RotationResult:
    notes: int = 0
    batches: int = 0
    failed: list[str] = field(default_factory=list)  # "note <uid>" / "batch <id>"


def note_rotate_keys() -> RotationResult:
    """Re-encrypt pending notes' raw text and queued batches' payloads with the newest key.

    Each row in its own transaction: a row no key decrypts is reported and the rest go on.
    """
    result = RotationResult()
    for note_id, uid in ClinicalNote.objects.exclude(raw_encrypted="").values_list("id", "uid"):
        with transaction.atomic():
            note = ClinicalNote.objects.select_for_update().get(id=note_id)
            if not note.raw_encrypted:
                continue  # decided meanwhile
            try:
                note.raw_encrypted = rotate(note.raw_encrypted)
            except DecryptionError:
                result.failed.append(f"note {uid}")
                continue
            note.save(update_fields=["raw_encrypted"])
            result.notes += 1
    for batch_id in NoteBatch.objects.exclude(payload_encrypted="").values_list("id", flat=True):
        with transaction.atomic():
            batch = NoteBatch.objects.select_for_update().get(id=batch_id)
            if not batch.payload_encrypted:
                continue
            try:
                batch.payload_encrypted = rotate(batch.payload_encrypted)
            except DecryptionError:
                result.failed.append(f"batch {batch_id}")
                continue
            batch.save(update_fields=["payload_encrypted"])
            result.batches += 1
    return result
