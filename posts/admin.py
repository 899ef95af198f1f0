from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from posts.models import Chunk, ImportJob, Post, Revision, Tag, Transition
from posts.services import workflow


class RevisionInline(admin.TabularInline):
    model = Revision
    fields = ["version", "title", "status", "author", "saved_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TransitionInline(admin.TabularInline):
    model = Transition
    fields = ["at", "action", "from_status", "to_status", "by", "comment"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _run(request: HttpRequest, queryset: QuerySet[Post], step: str, **kwargs: object) -> None:
    """Apply one workflow service to each selected post; report each refusal by title."""
    done = 0
    for post in queryset:
        try:
            getattr(workflow, step)(post=post, by=request.user, **kwargs)
        except (PermissionDenied, ValidationError) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, f"{post.title}: {text}")
        else:
            done += 1
    if done:
        messages.success(request, f"{done} post(s) updated.")


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "status",
        "channel",
        "source",
        "author",
        "published_at",
        "split",
        "flags",
    ]
    list_filter = ["status", "channel", "source", "split", "import_format", "tags"]
    search_fields = ["title", "slug", "body_markdown", "author__email"]
    date_hierarchy = "published_at"
    list_select_related = ["author"]
    autocomplete_fields = ["tags"]
    # Content and state change through the editor and the workflow, which keep revisions and
    # enforce the rules; the admin shows them and runs the workflow as actions.
    readonly_fields = [
        "uid", "title", "slug", "body_markdown", "excerpt", "author", "channel", "status",
        "source", "version", "published_at", "scheduled_at", "editor_approved_by",
        "clinical_approved_by", "import_key", "import_format", "cleaning_changes",
        "content_hash", "duplicate_of", "duplicate_score", "contact_findings", "split",
        "embedded_hash", "created_at", "updated_at",
    ]  # fmt: skip
    exclude = ["minhash", "body_html"]
    inlines = [TransitionInline, RevisionInline]
    actions = ["submit", "approve", "publish", "archive"]

    @admin.display(description="Flags")
    def flags(self, post: Post) -> str:
        found = []
        if post.duplicate_of_id:
            found.append("near-duplicate")
        if post.contact_findings:
            found.append("contact details")
        return ", ".join(found)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # posts are written in the editor or imported

    @admin.action(description="Submit for review")
    def submit(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        _run(request, queryset, "post_submit")

    @admin.action(description="Approve")
    def approve(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        _run(request, queryset, "post_approve")

    @admin.action(description="Publish now")
    def publish(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        _run(request, queryset, "post_publish")

    @admin.action(description="Archive (unpublish)")
    def archive(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        _run(request, queryset, "post_archive")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]
    list_display = ["name"]


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    list_display = ["post", "version", "status", "author", "saved_at"]
    list_filter = ["status"]
    search_fields = ["post__title", "title"]
    list_select_related = ["post", "author"]
    readonly_fields = [f.name for f in Revision._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Transition)
class TransitionAdmin(admin.ModelAdmin):
    list_display = ["at", "post", "action", "from_status", "to_status", "by"]
    list_filter = ["action", "to_status"]
    search_fields = ["post__title", "comment"]
    list_select_related = ["post", "by"]
    readonly_fields = [f.name for f in Transition._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["file_name", "by", "status", "imported", "duplicates", "skipped", "created_at"]
    list_filter = ["status", "channel"]
    search_fields = ["file_name", "by__email"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ["post", "ord", "heading", "token_count"]
    search_fields = ["post__title", "heading", "text"]
    list_select_related = ["post"]
    exclude = ["embedding"]
    readonly_fields = ["post", "ord", "heading", "text", "token_count"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
