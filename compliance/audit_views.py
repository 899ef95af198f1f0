"""The audit trail's pages for compliance officers: a filtered list, and CSV/JSON exports.

Reading the trail is itself recorded (AUDIT_VIEWED, AUDIT_EXPORTED). The chain is not verified
per page view (it reads every event); the page points at `manage.py verify_audit` instead.
"""

import csv
from collections.abc import Iterable, Iterator

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions as can
from compliance.audit import (
    EVENT_FIELDS,
    Action,
    audit_event_list,
    audit_event_rows,
    audit_export_begin,
    audit_record,
    canonical_json,
)

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        required=False, choices=[("", "All actions"), *[(a.value, a.value) for a in Action]]
    )
    actor_email = forms.CharField(
        required=False, max_length=254, widget=forms.TextInput({"placeholder": "Actor e-mail"})
    )
    object_type = forms.CharField(
        required=False, max_length=64, widget=forms.TextInput({"placeholder": "Object type"})
    )
    object_id = forms.CharField(
        required=False, max_length=64, widget=forms.TextInput({"placeholder": "Object id"})
    )
    date_from = forms.DateField(required=False, widget=forms.DateInput({"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput({"type": "date"}))

    def filters(self) -> dict:
        """The cleaned filters, for audit_event_list (empty when the form is invalid)."""
        return dict(self.cleaned_data) if self.is_valid() else {}


def _recorded_filters(filters: dict) -> dict:
    return {key: value for key, value in filters.items() if value}


@can.allowed(can.can_view_audit_trail)
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.filters()
    page = Paginator(audit_event_list(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        action=Action.AUDIT_VIEWED,
        detail={"filters": _recorded_filters(filters), "page": page.number},
        request=request,
    )
    rows = [(event, canonical_json(event.detail)) for event in page]
    return render(request, "compliance/audit_list.html", {"form": form, "page": page, "rows": rows})


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: object) -> object:
    # A cell starting with = + - @ is a formula to spreadsheet programs (CSV injection); the
    # quote keeps it text. The JSON export is the byte-exact one to re-verify hashes with.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_lines(rows: Iterable[dict]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EVENT_FIELDS)
    for row in rows:
        row["detail"] = canonical_json(row["detail"])
        yield writer.writerow([_csv_cell(row[name]) for name in EVENT_FIELDS])


def _json_lines(rows: Iterable[dict]) -> Iterator[str]:
    """A JSON array, one event per line, each with the fields that its hash covers."""
    yield "["
    separator = "\n"
    for row in rows:
        yield separator + canonical_json(row)
        separator = ",\n"
    yield "\n]\n"


EXPORTERS = {"csv": (_csv_lines, "text/csv"), "json": (_json_lines, "application/json")}


@can.allowed(can.can_view_audit_trail)
@require_POST
def audit_export(request: HttpRequest) -> HttpResponse:
    export_format = request.POST.get("format", "")
    form = AuditFilterForm(request.POST)
    if export_format not in EXPORTERS or not form.is_valid():
        return HttpResponseBadRequest("Choose csv or json, and valid filters.")
    events, _ = audit_export_begin(
        filters=form.filters(), export_format=export_format, request=request
    )
    lines, content_type = EXPORTERS[export_format]
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return StreamingHttpResponse(
        lines(audit_event_rows(events)),
        content_type=f"{content_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{export_format}"'},
    )
