"""Read-only admin for drafting runs and their steps: they are records, written by the worker."""

from django.contrib import admin

from generation.models import BlockedWord, GenerationRun, RunStep


class RunStepInline(admin.TabularInline):
    model = RunStep
    fields = ["seq", "node", "duration_ms", "tokens", "findings"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(GenerationRun)
class GenerationRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "channel",
        "status",
        "model_version",
        "requested_by",
        "created_at",
    ]
    list_filter = ["kind", "channel", "status"]
    inlines = [RunStepInline]

    def get_readonly_fields(self, request, obj=None) -> list[str]:  # noqa: ANN001
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(BlockedWord)
class BlockedWordAdmin(admin.ModelAdmin):
    """Read-only here: editors change the list on the dashboard, where each change is audited."""

    list_display = ("word", "added_by", "created_at")
    search_fields = ("word",)

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
