"""API keys in the Django admin: list, create (the secret is shown once) and revoke, all
through publishing.services.keys, so the admin audits exactly as the command does. Webhook
endpoints and deliveries are listed read-only; they are managed on their own pages."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from publishing.models import ApiKey, WebhookDelivery, WebhookEndpoint
from publishing.services.keys import api_key_create, api_key_revoke


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["user", "scopes", "note", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "scopes", "note", "created_at", "expires_at",
                    "last_used_at", "revoked_at"]  # fmt: skip
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "user__email", "note"]
    list_select_related = ["user"]
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, **kwargs: object):  # noqa: ANN201
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        return [f.name for f in ApiKey._meta.fields]  # a key never changes, it is revoked

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["user", "scopes", "note", "expires_at"]
        return [f.name for f in ApiKey._meta.fields if f.name != "digest"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.Form, change: bool) -> None:
        if change:
            return
        try:
            key, secret = api_key_create(
                by=request.user, user=form.cleaned_data["user"],
                scopes=form.cleaned_data["scopes"], note=form.cleaned_data["note"],
                expires_at=form.cleaned_data["expires_at"], request=request,
            )  # fmt: skip
        except (PermissionDenied, ValidationError) as exc:
            raise PermissionDenied(str(exc)) from None
        obj.pk = key.pk
        messages.warning(request, f"The new key, shown only now; store it: {secret}")

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:  # noqa: ANN001
        return  # no related objects; the service saved everything

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(by=request.user, key=key, request=request)
        messages.success(request, f"Revoked {queryset.count()} key(s).")

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revocation keeps the row


class _ReadOnly(admin.ModelAdmin):
    """Webhooks are changed on their own pages (publishing/views.py), through the services that
    check addresses and audit; the admin shows them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    list_display = ["url", "events", "is_active", "disabled_reason", "created_at", "manage"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    exclude = ["secret_encrypted", "previous_secret_encrypted"]

    @admin.display(description="Manage")
    def manage(self, endpoint: WebhookEndpoint) -> str:
        url = reverse("publishing:webhook", kwargs={"endpoint_id": endpoint.id})
        return format_html('<a href="{}">settings and delivery log</a>', url)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    list_display = ["message_id", "endpoint", "event", "status", "attempts", "last_status_code",
                    "last_duration_ms", "next_attempt_at", "created_at"]  # fmt: skip
    list_filter = ["status", "event"]
    search_fields = ["message_id", "endpoint__url"]
    list_select_related = ["endpoint"]
