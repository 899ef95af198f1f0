"""Training runs and the model registry in the Django admin: read-only.

Promotion, rollback, archiving and training go through training.services (the pages and the
commands), which check the channel's permission and write the audit trail; the admin has no
add, change, delete or bulk action that could skip them. Each user sees only the channels they
manage, as on the training pages: an editor's admin holds no clinical run, version or sample.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from compliance.admin import ReadOnlyAdmin
from training.models import DatasetSnapshot, ModelVersion, Promotion, TrainingRun
from training.selectors import visible_channels


class ChannelReadOnlyAdmin(ReadOnlyAdmin):
    list_filter = ["channel"]
    # Big JSON and text fields: the list never loads them; the detail page reads each one
    # when it shows it (a query per field, on one row).
    deferred: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request).filter(channel__in=visible_channels(request.user))
        return queryset.defer(*self.deferred)


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(ChannelReadOnlyAdmin):
    list_display = [
        "__str__", "channel", "train_count", "validation_count", "train_tokens", "tokenizer",
        "created_at",
    ]  # fmt: skip
    deferred = ("members",)


@admin.register(TrainingRun)
class TrainingRunAdmin(ChannelReadOnlyAdmin):
    list_display = [
        "__str__", "channel", "status", "phase", "step", "total_steps", "loss", "requested_by",
        "attempts", "created_at", "finished_at",
    ]  # fmt: skip
    list_filter = ["channel", "status"]
    list_select_related = ["requested_by"]
    deferred = ("log", "traceback", "points", "checkpoints")


@admin.register(ModelVersion)
class ModelVersionAdmin(ChannelReadOnlyAdmin):
    list_display = [
        "__str__", "channel", "status", "checkpoint_step", "memorisation_passed", "base_model",
        "created_at", "promoted_at",
    ]  # fmt: skip
    list_filter = ["channel", "status"]
    deferred = ("samples", "memorisation", "metrics")


@admin.register(Promotion)
class PromotionAdmin(ChannelReadOnlyAdmin):
    list_display = ["__str__", "channel", "kind", "version", "previous", "by", "reason", "at"]
    list_filter = ["channel", "kind"]
    list_select_related = ["version", "previous", "by"]
