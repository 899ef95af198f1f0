"""Webhook endpoints (admins manage them, audited) and their deliveries.

A post event makes one WebhookDelivery per active endpoint that wants it, with the payload
frozen as the API showed the post. A delivery is tried at once and then on the schedule in
publishing/webhooks.py (RETRY_DELAYS) until a 2xx, or it fails. The database is the queue: a try
first claims its delivery by moving `next_attempt_at` past the try's timeout, in a short
transaction, so two workers never send one delivery at once, and a worker that dies mid-try only
delays it; beat's `webhooks_deliver_due` picks up every delivery whose time has come.
"""

import json
import logging
import secrets
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from blogllm import metrics
from blogllm.crypto import decrypt_text, encrypt_text
from compliance.audit import Action, audit_record
from publishing import webhooks
from publishing.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)
Event = WebhookEndpoint.Event
S = WebhookDelivery.Status
ROTATION_OVERLAP = timedelta(hours=24)  # how long the previous secret still signs
CLAIM_MARGIN = timedelta(seconds=60)  # past the timeout, before a claimed try counts as lost


def _require_admin(by: User) -> None:
    if not can.can_manage_users(by):
        raise PermissionDenied("Only admins manage webhooks.")


def _clean(url: str, events: Iterable[str]) -> tuple[str, list[str]]:
    url = url.strip()
    events = sorted(set(events))
    if not events or set(events) - set(Event.values):
        raise ValidationError({"events": f"Pick at least one of {', '.join(Event.values)}."})
    try:
        webhooks.resolve_safely(url, allow=settings.WEBHOOK_ALLOW_NETWORKS)
    except webhooks.UnsafeAddressError as error:
        raise ValidationError({"url": str(error)}) from None
    return url, events


# --- Endpoints ----------------------------------------------------------------------------------


@transaction.atomic
def webhook_endpoint_create(
    *,
    by: User,
    url: str,
    events: Iterable[str],
    description: str = "",
    request: HttpRequest | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint; returns it and its signing secret, which is shown only this once."""
    _require_admin(by)
    url, events = _clean(url, events)
    secret = webhooks.generate_secret()
    endpoint = WebhookEndpoint.objects.create(
        url=url, events=events, description=description.strip()[:200],
        secret_encrypted=encrypt_text(secret), created_by=by,
    )  # fmt: skip
    audit_record(
        action=Action.WEBHOOK_CREATED, actor=by, obj=endpoint, request=request,
        detail={"url": url, "events": events},
    )  # fmt: skip
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    by: User,
    endpoint: WebhookEndpoint,
    url: str,
    events: Iterable[str],
    description: str = "",
    is_active: bool = True,
    request: HttpRequest | None = None,
) -> WebhookEndpoint:
    """Change an endpoint. Turning it back on clears why it was off; its waiting deliveries go
    out on their schedule again."""
    _require_admin(by)
    url, events = _clean(url, events)
    endpoint = WebhookEndpoint.objects.select_for_update().get(id=endpoint.id)
    before = {"url": endpoint.url, "events": endpoint.events, "is_active": endpoint.is_active}
    endpoint.url, endpoint.events = url, events
    endpoint.description = description.strip()[:200]
    if is_active and not endpoint.is_active:
        endpoint.disabled_reason = ""
    elif not is_active and endpoint.is_active:
        endpoint.disabled_reason = f"Turned off by {by}."
    endpoint.is_active = is_active
    endpoint.save()
    after = {"url": url, "events": events, "is_active": is_active}
    if after != before:
        audit_record(
            action=Action.WEBHOOK_CHANGED, actor=by, obj=endpoint, request=request,
            detail={"before": before, "after": after},
        )  # fmt: skip
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(
    *, by: User, endpoint: WebhookEndpoint, request: HttpRequest | None = None
) -> str:
    """A new signing secret, returned once. For ROTATION_OVERLAP deliveries carry signatures by
    both, so a receiver can switch to the new secret without missing a delivery."""
    _require_admin(by)
    endpoint = WebhookEndpoint.objects.select_for_update().get(id=endpoint.id)
    secret = webhooks.generate_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
    endpoint.secret_encrypted = encrypt_text(secret)
    endpoint.save()
    audit_record(
        action=Action.WEBHOOK_SECRET_ROTATED, actor=by, obj=endpoint, request=request,
        detail={"previous_valid_until": endpoint.previous_secret_expires_at.isoformat()},
    )  # fmt: skip
    return secret


@transaction.atomic
def webhook_endpoint_delete(
    *, by: User, endpoint: WebhookEndpoint, request: HttpRequest | None = None
) -> None:
    """Delete an endpoint with its delivery log (the audit trail keeps that it existed)."""
    _require_admin(by)
    audit_record(
        action=Action.WEBHOOK_DELETED, actor=by, obj=endpoint, request=request,
        detail={"url": endpoint.url, "deliveries": endpoint.deliveries.count()},
    )  # fmt: skip
    endpoint.delete()


def signing_secrets(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous during rotation."""
    found = [decrypt_text(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires and expires > now:
        found.append(decrypt_text(endpoint.previous_secret_encrypted))
    return found


# --- Deliveries ---------------------------------------------------------------------------------


@transaction.atomic
def webhooks_enqueue(*, event: str, post_id: int) -> list[WebhookDelivery]:
    """One delivery of `event` about the post to each active endpoint that wants it; each is sent
    once this transaction commits."""
    from publishing.api.serializers import PostOutputSerializer
    from publishing.selectors import post_as_shown
    from publishing.tasks import webhook_deliver_task

    endpoints = list(WebhookEndpoint.objects.filter(is_active=True, events__contains=[event]))
    post = post_as_shown(post_id=post_id) if endpoints else None
    if post is None:
        return []
    now = timezone.now()
    payload = {
        "type": event,
        "timestamp": now.isoformat(),
        "data": PostOutputSerializer(post).data,
    }
    payload = json.loads(json.dumps(payload))  # what is stored is exactly what is sent
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            message_id=f"msg_{secrets.token_urlsafe(18)}",
            event=event,
            post_id=post_id,
            payload=payload,
            next_attempt_at=now,
        )  # fmt: skip
        for endpoint in endpoints
    )
    for delivery in deliveries:
        transaction.on_commit(lambda d=delivery.id: webhook_deliver_task.delay(delivery_id=d))
    return deliveries


def _claim(delivery_id: int, *, now: datetime) -> WebhookDelivery | None:
    """Take a due delivery for one try, or None if it is not due, is done, or its endpoint is
    off. The claim is a later next_attempt_at, so a lost worker's try is retried after it."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(id=delivery_id, status=S.PENDING)
            .first()
        )
        if delivery is None or not delivery.endpoint.is_active:
            return None
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return None
        timeout = timedelta(seconds=settings.WEBHOOK_TIMEOUT_S)
        delivery.next_attempt_at = now + timeout + CLAIM_MARGIN
        delivery.attempts += 1
        delivery.save(update_fields=["next_attempt_at", "attempts"])
        return delivery


def _try(delivery: WebhookDelivery) -> webhooks.Outcome:
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    now = timezone.now()
    try:
        signed_with = signing_secrets(delivery.endpoint, now=now)
    except ValueError as error:  # a FIELD_ENCRYPTION_KEY that no longer decrypts the secret
        return webhooks.Outcome(status_code=None, duration_ms=0, error=str(error))
    return webhooks.send(
        delivery.endpoint.url,
        body=body,
        headers_=webhooks.headers(
            signed_with, message_id=delivery.message_id, timestamp=int(time.time()), body=body
        ),
        timeout_s=settings.WEBHOOK_TIMEOUT_S,
        allow=settings.WEBHOOK_ALLOW_NETWORKS,
    )


def _record_try(delivery: WebhookDelivery, outcome: webhooks.Outcome, *, manual: bool) -> None:
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.tries.count() + 1,
        status_code=outcome.status_code,
        duration_ms=outcome.duration_ms,
        error=outcome.error[:500],
        response_excerpt=outcome.excerpt[:500],
        manual=manual,
    )
    metrics.WEBHOOK_ATTEMPTS.labels("delivered" if outcome.ok else "failed").inc()
    delivery.last_status_code = outcome.status_code
    delivery.last_duration_ms = outcome.duration_ms
    delivery.last_error = (outcome.error or ("" if outcome.ok else outcome.excerpt))[:500]


def _disable_gone(endpoint: WebhookEndpoint, *, now: datetime) -> None:
    """410 Gone: the receiver does not want these any more. Off, with its waiting deliveries."""
    reason = f"The receiver answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC."
    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        is_active=False, disabled_reason=reason, updated_at=now
    )
    endpoint.deliveries.filter(status=S.PENDING).update(
        status=S.FAILED, next_attempt_at=None, finished_at=now,
        last_error="Not sent: the endpoint was turned off after a 410 Gone.",
    )  # fmt: skip
    audit_record(
        action=Action.WEBHOOK_DISABLED, obj=endpoint, detail={"reason": reason, "url": endpoint.url}
    )


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """One scheduled try of a delivery, if it is due (the task and beat's sweep call this)."""
    now = timezone.now()
    delivery = _claim(delivery_id, now=now)
    if delivery is None:
        return None
    outcome = _try(delivery)
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(id=delivery.id)
        _record_try(delivery, outcome, manual=False)
        if outcome.ok:
            delivery.status, delivery.finished_at, delivery.next_attempt_at = S.SUCCEEDED, now, None
        elif outcome.status_code == 410:
            delivery.status, delivery.finished_at, delivery.next_attempt_at = S.FAILED, now, None
            delivery.save()
            _disable_gone(delivery.endpoint, now=now)
            return delivery
        else:
            delay = webhooks.next_delay(delivery.attempts)
            if delay is not None and outcome.status_code in (429, 503):
                delay = webhooks.retry_after(outcome.retry_after, now=now) or delay
            if delay is None:
                delivery.status, delivery.finished_at = S.FAILED, now
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + delay
        delivery.save()
    if not outcome.ok:
        logger.info(
            "Webhook %s to endpoint %s: try %s failed (%s)", delivery.message_id,
            delivery.endpoint_id, delivery.attempts, outcome.status_code or outcome.error,
        )  # fmt: skip
    return delivery


def webhook_redeliver(
    *, by: User, delivery: WebhookDelivery, request: HttpRequest | None = None
) -> WebhookDelivery:
    """Send a delivery again now, as someone asked (the same webhook-id, so a receiver that
    already has it can tell). Success settles it; a failure leaves its state and schedule."""
    _require_admin(by)
    delivery = WebhookDelivery.objects.select_related("endpoint").get(id=delivery.id)
    outcome = _try(delivery)
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(id=delivery.id)
        _record_try(delivery, outcome, manual=True)
        if outcome.ok:
            delivery.status, delivery.finished_at, delivery.next_attempt_at = S.SUCCEEDED, now, None
        delivery.save()
        audit_record(
            action=Action.WEBHOOK_REDELIVERED, actor=by, obj=delivery, request=request,
            detail={"message_id": delivery.message_id, "status_code": outcome.status_code},
        )  # fmt: skip
        if outcome.status_code == 410:
            _disable_gone(delivery.endpoint, now=now)
    return delivery


def webhooks_deliver_due(now: datetime | None = None) -> list[int]:
    """The pending deliveries whose try is due, on active endpoints (beat runs this often)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status=S.PENDING,
            next_attempt_at__lte=now,
            endpoint__is_active=True,
        )  # fmt: skip
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:500]
    )
