"""The admins' pages for the publishing API: API keys, webhook endpoints and their delivery log.

Secrets are shown once, in the response to the request that made them (never stored in the
session or a message cookie).
"""

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import permissions as can
from publishing.forms import ApiKeyForm, WebhookEndpointForm
from publishing.models import ApiKey, WebhookDelivery, WebhookEndpoint
from publishing.services.keys import api_key_create, api_key_revoke
from publishing.services.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_redeliver,
)

admins_only = can.allowed(can.can_manage_users, "Only admins manage API keys and webhooks.")
DELIVERIES_PER_PAGE = 50


def _form_errors(form, error: ValidationError) -> None:  # noqa: ANN001
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


@admins_only
def api_keys(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key, secret = api_key_create(
                by=request.user, user=form.cleaned_data["user"],
                scopes=form.cleaned_data["scopes"], note=form.cleaned_data["note"],
                expires_at=form.expires_at(), request=request,
            )  # fmt: skip
        except ValidationError as error:
            _form_errors(form, error)
        else:
            return render(request, "publishing/secret.html", {"key": key, "secret": secret})
    keys = ApiKey.objects.select_related("user", "created_by", "revoked_by")
    return render(request, "publishing/api_keys.html", {"form": form, "keys": keys})


@admins_only
@require_POST
def api_key_revoke_view(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key_revoke(by=request.user, key=get_object_or_404(ApiKey, id=key_id), request=request)
    return redirect("publishing:api_keys")


@admins_only
def webhooks(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = webhook_endpoint_create(
                by=request.user, url=form.cleaned_data["url"], events=form.cleaned_data["events"],
                description=form.cleaned_data["description"], request=request,
            )  # fmt: skip
        except ValidationError as error:
            _form_errors(form, error)
        else:
            context = {"endpoint": endpoint, "secret": secret}
            return render(request, "publishing/secret.html", context)
    S = WebhookDelivery.Status
    endpoints = WebhookEndpoint.objects.annotate(
        succeeded=Count("deliveries", filter=Q(deliveries__status=S.SUCCEEDED)),
        pending=Count("deliveries", filter=Q(deliveries__status=S.PENDING)),
        failed=Count("deliveries", filter=Q(deliveries__status=S.FAILED)),
    )
    return render(request, "publishing/webhooks.html", {"form": form, "endpoints": endpoints})


@admins_only
def webhook(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """One endpoint: its settings, and its delivery log (newest first) with every try."""
    endpoint = get_object_or_404(WebhookEndpoint, id=endpoint_id)
    initial = {f: getattr(endpoint, f) for f in ("url", "events", "description", "is_active")}
    form = WebhookEndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhook_endpoint_update(by=request.user, endpoint=endpoint, **form.cleaned_data,
                                    request=request)  # fmt: skip
        except ValidationError as error:
            _form_errors(form, error)
        else:
            return redirect("publishing:webhook", endpoint_id=endpoint.id)
    deliveries = endpoint.deliveries.select_related("post").prefetch_related("tries")
    status = request.GET.get("status", "")
    if status in WebhookDelivery.Status.values:
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    context = {"endpoint": endpoint, "form": form, "page": page, "status": status,
               "statuses": WebhookDelivery.Status.choices, "now": timezone.now()}  # fmt: skip
    return render(request, "publishing/webhook.html", context)


@admins_only
@require_POST
def webhook_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, id=endpoint_id)
    secret = webhook_endpoint_rotate_secret(by=request.user, endpoint=endpoint, request=request)
    endpoint.refresh_from_db()
    context = {"endpoint": endpoint, "secret": secret, "rotated": True}
    return render(request, "publishing/secret.html", context)


@admins_only
@require_POST
def webhook_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, id=endpoint_id)
    webhook_endpoint_delete(by=request.user, endpoint=endpoint, request=request)
    return redirect("publishing:webhooks")


@admins_only
@require_POST
def webhook_redeliver_view(request: HttpRequest, delivery_id: int) -> HttpResponse:
    """Send one delivery again now; the admin waits for the answer (at most the timeout)."""
    delivery = get_object_or_404(WebhookDelivery, id=delivery_id)
    webhook_redeliver(by=request.user, delivery=delivery, request=request)
    url = reverse("publishing:webhook", kwargs={"endpoint_id": delivery.endpoint_id})
    return redirect(f"{url}#delivery-{delivery.id}")
