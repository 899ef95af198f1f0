from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from accounts.models import User
from accounts.roles import role_of
from accounts.services import user_role_names, user_roles_changed


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "roles", "is_active", "last_login"]
    list_filter = ["groups", "is_active", "is_superuser"]
    search_fields = ["email", "first_name", "last_name"]
    readonly_fields = ["is_staff", "last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Name", {"fields": ["first_name", "last_name"]}),
        ("Roles", {"fields": ["groups", "is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    filter_horizontal = ["groups"]

    @admin.display(description="Roles")
    def roles(self, user: User) -> str:
        return role_of(user)

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        # An Admin manages roles; only a superuser may make another superuser.
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, "is_superuser"]

    def get_queryset(self, request: HttpRequest):  # noqa: ANN201
        return super().get_queryset(request).prefetch_related("groups")

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:  # noqa: ANN001
        # The form sets the groups itself; the service records the change and syncs staff status.
        before = user_role_names(form.instance) if change else []
        super().save_related(request, form, formsets, change)
        user_roles_changed(user=form.instance, before=before, by=request.user)
