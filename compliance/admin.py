"""Clinical notes in the Django admin: read-only, with no way to approve (see below)."""

from django.contrib import admin
from django.http import HttpRequest

# The audit trail's admin lives with the rest of the audit code.
from compliance import audit_admin  # noqa: F401
from compliance.models import ClinicalNote, DeidFinding, NoteBatch, NoteChunk

# The two-person rule holds here too: there is NO approve path in the admin (no action, no
# editable status), so a note is approved only through compliance.services.note_approve, which
# refuses the uploader. Every model below is read-only; decisions happen on the review screen.


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        excluded = set(self.exclude or [])
        return [f.name for f in self.model._meta.fields if f.name not in excluded]

    def get_actions(self, request: HttpRequest) -> dict:
        return {}  # not even bulk delete

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # view only, superusers included: no form can change `status`

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DeidFindingInline(admin.TabularInline):
    model = DeidFinding
    fields = ["start", "end", "category", "detector", "confidence", "reviewer_action", "surrogate"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ClinicalNote)
class ClinicalNoteAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__", "status", "deid_state", "source", "uploaded_by", "uploaded_at", "risk_score",
        "reviewed_by",
    ]  # fmt: skip
    list_filter = ["status", "deid_state", "source"]
    search_fields = ["title"]
    list_select_related = ["uploaded_by", "reviewed_by"]
    # Never shown: the encrypted raw text and the keyed hashes of its words.
    exclude = ["raw_encrypted", "raw_shingles", "deid_shingles"]
    inlines = [DeidFindingInline]

    def get_queryset(self, request: HttpRequest):  # noqa: ANN201
        return super().get_queryset(request).defer(*self.exclude)


@admin.register(DeidFinding)
class DeidFindingAdmin(ReadOnlyAdmin):
    list_display = ["note", "category", "start", "end", "detector", "confidence", "reviewer_action"]
    list_filter = ["category", "detector", "reviewer_action"]
    list_select_related = ["note"]


@admin.register(NoteBatch)
class NoteBatchAdmin(ReadOnlyAdmin):
    list_display = ["file_name", "uploaded_by", "status", "created", "failed", "created_at"]
    list_filter = ["status"]
    search_fields = ["file_name"]
    exclude = ["payload_encrypted"]

    def get_queryset(self, request: HttpRequest):  # noqa: ANN201
        return super().get_queryset(request).defer("payload_encrypted")


@admin.register(NoteChunk)
class NoteChunkAdmin(ReadOnlyAdmin):
    list_display = ["note", "ord", "token_count"]
    list_select_related = ["note"]
    exclude = ["embedding", "search"]
