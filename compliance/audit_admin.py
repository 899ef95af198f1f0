"""The audit trail in the Django admin: read-only for those with compliance.view_auditevent.

No add, change or delete, for anyone (superusers included): events are written only by
compliance.audit.audit_record, and the database refuses changes anyway. Opening the list or an
event is itself recorded, like the trail's own page.
"""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from compliance.audit import Action, audit_record
from compliance.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "seq", "at", "actor_email", "action", "object_type", "object_id", "ip", "short_hash",
    ]  # fmt: skip
    list_filter = ["action", "object_type", "at"]
    search_fields = ["actor_email", "object_id"]
    date_hierarchy = "at"
    ordering = ["-seq"]
    # Counting a long trail on every page is slow; the page shows "Show all" instead.
    show_full_result_count = False
    fields = readonly_fields = [
        "seq", "at", "actor", "actor_email", "action", "object_type", "object_id", "detail", "ip",
        "prev_hash", "hash",
    ]  # fmt: skip

    @admin.display(description="Hash")
    def short_hash(self, event: AuditEvent) -> str:
        return event.hash[:12]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):  # noqa: ANN201
        if self.has_view_permission(request):
            audit_record(
                action=Action.AUDIT_VIEWED,
                detail={"via": "admin", "filters": dict(request.GET.items())},
                request=request,
            )
        return super().changelist_view(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        if self.has_view_permission(request):
            audit_record(
                action=Action.AUDIT_VIEWED,
                detail={"via": "admin", "event": object_id},
                request=request,
            )
        return super().change_view(request, object_id, form_url, extra_context)
