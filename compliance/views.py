"""The compliance officer's pages: review queue, intake, batch progress and the review screen.

Each view parses input, checks permission, calls one service, renders. The raw text reaches a
page only through note_open_for_review, which audits the view and the raw view.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions as can
from blogllm.refusals import refusal_text
from compliance import selectors
from compliance.deid import LABELS, REASONS
from compliance.forms import BatchForm, MarkForm, PasteForm, RejectForm, UploadForm
from compliance.models import ClinicalNote, DeidFinding, DeidSuspect, NoteBatch
from compliance.services import (
    ReviewScreen,
    note_approve,
    note_batch_create,
    note_create,
    note_create_from_upload,
    note_dismiss_suspect,
    note_mark_span,
    note_mark_suspect,
    note_open_for_review,
    note_reject,
    note_rerun_deid,
    note_unmark_finding,
)
from compliance.services.notes import SUSPECT_CATEGORY, suspect_counts

handlers_only = can.allowed(can.can_handle_clinical_notes)
# One colour per category, cycling: enough to tell neighbouring findings apart.
PALETTE = [
    "#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6", "#ffadad", "#a0c4ff",
    "#d0f4de", "#f1c0e8", "#e9edc9", "#cfbaf0",
]  # fmt: skip
LABEL_COLOURS = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(LABELS)}
# Suspects (words the engine let go) get a colour of their own, outside the category palette.
SUSPECT_COLOUR = "#ff922b"


def _note_for(request: HttpRequest, uid: object) -> ClinicalNote:
    try:
        return selectors.note_get_for_review(uid, request.user)
    except ClinicalNote.DoesNotExist:
        raise Http404("No such note.") from None


# --- Highlighting


@dataclass(frozen=True)
class Mark:
    start: int
    end: int
    label: str
    finding_id: int
    suspect_id: int | None = None  # set for a suspect: drawn in its own colour, focusable


def highlight(text: str, marks: list[Mark]) -> SafeString:
    """`text` escaped, each mark wrapped in <mark> with its category. The label is drawn by CSS
    (data-label), so the pane's text content stays exactly the note's text: selection offsets
    in the raw pane are offsets into the raw text."""
    parts: list[str] = []
    position = 0
    for mark in sorted(marks, key=lambda m: (m.start, m.end)):
        if mark.start < position or mark.end > len(text):
            continue  # never draw overlapping or stale marks
        parts.append(escape(text[position : mark.start]))
        if mark.suspect_id is not None:
            parts.append(
                f'<mark class="suspect" tabindex="0" data-suspect="{int(mark.suspect_id)}" '
                f'title="Word to check: {escape(mark.label)} (f: mark as PHI, d: dismiss)">'
                f"{escape(text[mark.start : mark.end])}</mark>"
            )
        else:
            parts.append(
                f'<mark class="phi phi-{escape(mark.label)}" data-label="{escape(mark.label)}" '
                f'data-finding="{int(mark.finding_id)}">'
                f"{escape(text[mark.start : mark.end])}</mark>"
            )
        position = mark.end
    parts.append(escape(text[position:]))
    # Every piece of text above went through escape(); the only markup is our own <mark> tags.
    return mark_safe("".join(parts))  # noqa: S308


def deid_marks(note: ClinicalNote, findings: list[DeidFinding]) -> list[Mark]:
    """Where each active finding's surrogate sits in deid_text. Empty if they do not line up
    (the text is then shown without highlights rather than with wrong ones)."""
    marks, shift = [], 0
    for finding in sorted(findings, key=lambda f: f.start):
        start = finding.start + shift
        end = start + len(finding.surrogate)
        if note.deid_text[start:end] != finding.surrogate:
            return []
        marks.append(Mark(start, end, finding.category, finding.id))
        shift += len(finding.surrogate) - (finding.end - finding.start)
    return marks


def _review_context(request: HttpRequest, screen: ReviewScreen, **extra: object) -> dict:
    note = screen.note
    findings = list(note.findings.all())  # prefetched, ordered by start
    active = [f for f in findings if f.reviewer_action != DeidFinding.Action.REMOVED]
    suspects = list(note.suspects.all())  # prefetched, ordered by start
    to_check = [s for s in suspects if s.state == DeidSuspect.State.UNREVIEWED]
    raw_marks = [Mark(f.start, f.end, f.category, f.id) for f in active]
    raw_marks += [Mark(s.start, s.end, REASONS.get(s.reason, s.reason), 0, s.id) for s in to_check]
    is_uploader = note.uploaded_by_id == request.user.id
    used = sorted({f.category for f in findings})
    return {
        "note": note,
        "findings": findings,
        "raw_html": highlight(screen.raw, raw_marks) if screen.raw is not None else None,
        "deid_html": highlight(note.deid_text, deid_marks(note, active)),
        "legend": [(label, LABEL_COLOURS.get(label, "#eee")) for label in used],
        "suspects": [
            (
                s,
                REASONS.get(s.reason, s.reason),
                SUSPECT_CATEGORY.get(s.reason, "NAME"),
                screen.raw[s.start : s.end] if screen.raw is not None else "",
            )
            for s in suspects
        ],  # fmt: skip
        "suspect_counts": suspect_counts(note),
        "suspect_colour": SUSPECT_COLOUR,
        "label_colours": sorted(LABEL_COLOURS.items()),
        "is_uploader": is_uploader,
        "can_edit": not note.is_decided and note.deid_state == ClinicalNote.Deid.DONE,
        "can_decide": not note.is_decided and can.can_decide_note(request.user, note),
        "mark_form": extra.pop("mark_form", None) or MarkForm(),
        "reject_form": RejectForm(),
        **extra,
    }


# --- Pages


@handlers_only
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    notes = list(selectors.note_list_for_review()[:200])
    batches = list(selectors.note_batch_list(request.user)[:10])
    return render(request, "compliance/queue.html", {"notes": notes, "batches": batches})


@handlers_only
def note_new(request: HttpRequest) -> HttpResponse:
    """Intake: paste a note, upload one .txt/.docx, or upload a CSV batch."""
    kind = request.POST.get("kind", "") if request.method == "POST" else ""
    forms = {
        "paste": PasteForm(request.POST if kind == "paste" else None, prefix="paste"),
        "upload": UploadForm(
            request.POST if kind == "upload" else None,
            request.FILES if kind == "upload" else None,
            prefix="upload",
        ),
        "batch": BatchForm(
            request.POST if kind == "batch" else None,
            request.FILES if kind == "batch" else None,
            prefix="batch",
        ),
    }
    form = forms.get(kind)
    if form is not None and form.is_valid():
        data = form.cleaned_data
        try:
            if kind == "batch":
                batch = note_batch_create(
                    uploaded_file=data["file"], by=request.user, request=request
                )
                return redirect("compliance:batch", batch_id=batch.id)
            if kind == "upload":
                note = note_create_from_upload(
                    uploaded_file=data["file"], by=request.user, title=data["title"],
                    request=request,
                )  # fmt: skip
            else:
                note = note_create(
                    text=data["text"], by=request.user, title=data["title"], request=request
                )
        except ValidationError as exc:
            form.add_error(None, refusal_text(exc))
        else:
            if note.deid_state == ClinicalNote.Deid.WITHHELD:
                messages.warning(request, "De-identification did not finish: the note is withheld.")
            else:
                messages.success(request, "Note de-identified; another officer must review it.")
            return redirect("compliance:review", uid=note.uid)
    status = 400 if form is not None else 200
    return render(request, "compliance/new.html", {"forms": forms}, status=status)


@handlers_only
@require_GET
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(NoteBatch.objects.defer("payload_encrypted"), id=batch_id)
    template = "compliance/partials/batch_report.html" if request.htmx else "compliance/batch.html"
    return render(request, template, {"batch": batch})


@handlers_only
@require_GET
def note_review(request: HttpRequest, uid: str) -> HttpResponse:
    note = _note_for(request, uid)
    try:
        screen = note_open_for_review(note=note, by=request.user, request=request)
    except ValidationError as exc:  # e.g. the key that encrypted it is gone
        messages.error(request, refusal_text(exc))
        screen = ReviewScreen(note, None)
    return render(request, "compliance/review.html", _review_context(request, screen))


def _after_edit(request: HttpRequest, uid: str, **extra: object) -> HttpResponse:
    """htmx: both panes again (a fresh, audited view); otherwise back to the review page."""
    if not request.htmx:
        return redirect("compliance:review", uid=uid)
    note = _note_for(request, uid)
    screen = note_open_for_review(note=note, by=request.user, request=request)
    context = _review_context(request, screen, **extra)
    return render(request, "compliance/partials/panes.html", context)


@handlers_only
@require_POST
def note_mark(request: HttpRequest, uid: str) -> HttpResponse:
    note = _note_for(request, uid)
    form = MarkForm(request.POST)
    error = ""
    if form.is_valid():
        data = form.cleaned_data
        try:
            note_mark_span(
                note=note, start=data["start"], end=data["end"], category=data["category"],
                by=request.user, request=request,
            )  # fmt: skip
        except ValidationError as exc:
            error = refusal_text(exc)
    else:
        error = "Select the missed text in the raw pane (or give start and end) and a category."
    if error and not request.htmx:
        messages.error(request, error)
    return _after_edit(request, uid, error=error, mark_form=form if error else None)


@handlers_only
@require_POST
def finding_unmark(request: HttpRequest, uid: str, finding_id: int) -> HttpResponse:
    note = _note_for(request, uid)
    finding = next((f for f in note.findings.all() if f.id == finding_id), None)
    if finding is None:
        raise Http404("No such finding on this note.")
    error = ""
    try:
        note_unmark_finding(finding=finding, by=request.user, request=request)
    except ValidationError as exc:
        error = refusal_text(exc)
        if not request.htmx:
            messages.error(request, error)
    return _after_edit(request, uid, error=error)


@handlers_only
@require_POST
def suspect_check(request: HttpRequest, uid: str, suspect_id: int, action: str) -> HttpResponse:
    """A word to check: "mark" turns it into a finding, "dismiss" says it is not PHI."""
    note = _note_for(request, uid)
    suspect = next((s for s in note.suspects.all() if s.id == suspect_id), None)
    if suspect is None or action not in ("mark", "dismiss"):
        raise Http404("No such word to check on this note.")
    error = ""
    try:
        if action == "mark":
            category = request.POST.get("category", "")
            if category and category not in LABELS:
                raise ValidationError(f"Unknown category “{category}”.")
            note_mark_suspect(suspect=suspect, by=request.user, category=category, request=request)
        else:
            note_dismiss_suspect(suspect=suspect, by=request.user, request=request)
    except ValidationError as exc:
        error = refusal_text(exc)
        if not request.htmx:
            messages.error(request, error)
    return _after_edit(request, uid, error=error)


@handlers_only
@require_POST
def note_decide(request: HttpRequest, uid: str, action: str) -> HttpResponse:
    """Approve, reject (with a reason) or re-run. Refusals answer 400 with the reason; a user
    without the permission never gets here (403)."""
    note = _note_for(request, uid)
    try:
        if action == "approve":
            note_approve(note=note, by=request.user, request=request)
            done = "approved; its raw text is purged"
        elif action == "reject":
            form = RejectForm(request.POST)
            if not form.is_valid():
                raise ValidationError("Say why the note is rejected.")
            note_reject(
                note=note, by=request.user, reason=form.cleaned_data["reason"], request=request
            )
            done = "rejected; its raw text is purged"
        elif action == "rerun":
            note = note_rerun_deid(note=note, by=request.user, request=request)
            messages.info(request, f"De-identification re-run: {note.get_deid_state_display()}.")
            return redirect("compliance:review", uid=note.uid)
        else:
            raise Http404("Unknown action.")
    except ValidationError as exc:
        context = {"note": note, "message": refusal_text(exc)}
        return render(request, "compliance/refused.html", context, status=400)
    messages.success(request, f"“{note}” {done}.")
    return redirect("compliance:queue")
