"""Webhooks against a real HTTP receiver on loopback, checked with the standardwebhooks package:
signatures (and both during a rotation), the retry schedule, Retry-After, 410, timeouts,
redirects, manual redelivery, the events each workflow step sends, and SSRF refusal."""

import json
import time
from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks import WebhookVerificationError

from compliance.models import AuditEvent
from posts.models import Post
from posts.services.workflow import post_archive, post_back_to_draft, post_publish
from publishing import webhooks
from publishing.models import WebhookDelivery, WebhookEndpoint
from publishing.services.webhooks import (
    webhook_delivery_attempt,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_redeliver,
    webhooks_deliver_due,
)
from publishing.tasks import webhook_deliver_task
from tests.posts.factories import make_post

pytestmark = pytest.mark.django_db
E = WebhookEndpoint.Event
D = WebhookDelivery.Status


@pytest.fixture
def endpoint(admin_user, receiver):
    return webhook_endpoint_create(by=admin_user, url=receiver.url, events=E.values)


def _approved(author, slug="sleep"):
    return make_post(author, status=Post.Status.APPROVED, slug=slug)


def _due_again(delivery) -> None:
    """Pretend the wait is over."""
    WebhookDelivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())


def test_a_publication_reaches_the_receiver_signed_with_the_post_as_the_api_shows_it(
    client, author, editor, endpoint, receiver, django_capture_on_commit_callbacks
):
    _, secret = endpoint
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author), by=editor)
    webhook_deliver_task(delivery_id=WebhookDelivery.objects.get().id)  # as a worker runs it
    payload = receiver.verify(secret)
    assert payload["type"] == "post.published"
    assert payload["data"] == client.get("/api/v1/posts/sleep/").json()
    headers = receiver.received[0]["headers"]
    delivery = WebhookDelivery.objects.get()
    assert headers["webhook-id"] == delivery.message_id
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 30
    assert headers["content-type"] == "application/json"
    assert delivery.status == D.SUCCEEDED and delivery.attempts == 1
    attempt = delivery.tries.get()
    assert attempt.status_code == 200 and attempt.number == 1 and not attempt.manual
    # Another secret does not verify it: the signature is over this body with this secret.
    with pytest.raises(WebhookVerificationError):
        receiver.verify(webhooks.generate_secret())


def test_each_workflow_step_sends_its_event_to_the_endpoints_that_want_it(
    author, editor, admin_user, receiver, django_capture_on_commit_callbacks
):
    archive_only, _ = webhook_endpoint_create(by=admin_user, url=receiver.url, events=[E.ARCHIVED])
    everything, _ = webhook_endpoint_create(by=admin_user, url=receiver.url, events=E.values)
    post = _approved(author)
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=post, by=editor)
        post_back_to_draft(post=post, by=editor, reason="A wrong dose")
    Post.objects.filter(id=post.id).update(status=Post.Status.APPROVED)
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=post, by=editor)
        post_archive(post=post, by=editor)
    events = list(everything.deliveries.order_by("id").values_list("event", flat=True))
    assert events == ["post.published", "post.unpublished", "post.updated", "post.archived"]
    assert list(archive_only.deliveries.values_list("event", flat=True)) == ["post.archived"]
    # Nothing is sent about a post that was never public.
    draft = make_post(author, slug="never-out")
    Post.objects.filter(id=draft.id).update(status=Post.Status.APPROVED)
    with django_capture_on_commit_callbacks(execute=True):
        post_back_to_draft(post=draft, by=editor, reason="Not yet")
    assert not WebhookDelivery.objects.filter(post=draft).exists()


def test_failures_are_retried_on_the_schedule_then_given_up(
    author, editor, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author), by=editor)
    delivery = WebhookDelivery.objects.get()
    waits = []
    for _ in range(webhooks.MAX_TRIES):
        receiver.answer(500)
        before = timezone.now()
        delivery = webhook_delivery_attempt(delivery_id=delivery.id)
        if delivery.next_attempt_at:
            waits.append(round((delivery.next_attempt_at - before).total_seconds()))
            # Not due yet: a second worker (or the sweep) sends nothing.
            assert webhook_delivery_attempt(delivery_id=delivery.id) is None
            _due_again(delivery)
    assert waits == [5, 300, 1800, 7200, 18000, 36000]
    assert delivery.status == D.FAILED and delivery.attempts == webhooks.MAX_TRIES
    assert delivery.last_status_code == 500 and delivery.tries.count() == 7
    assert len(receiver.received) == 7
    # Every try carried the same webhook-id: a receiver can drop what it already has.
    assert {r["headers"]["webhook-id"] for r in receiver.received} == {delivery.message_id}


def test_retry_after_on_429_and_503_sets_the_next_try(
    author, editor, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author), by=editor)
    delivery = WebhookDelivery.objects.get()
    receiver.answer(429, {"Retry-After": "120"})
    start = timezone.now()
    delivery = webhook_delivery_attempt(delivery_id=delivery.id)
    assert 119 <= (delivery.next_attempt_at - start).total_seconds() <= 122
    _due_again(delivery)
    receiver.answer(503, {"Retry-After": format_datetime(timezone.now() + timedelta(hours=3))})
    delivery = webhook_delivery_attempt(delivery_id=delivery.id)
    assert abs((delivery.next_attempt_at - timezone.now()).total_seconds() - 3 * 3600) < 5
    _due_again(delivery)
    receiver.answer(200)
    assert webhook_delivery_attempt(delivery_id=delivery.id).status == D.SUCCEEDED


def test_410_gone_turns_the_endpoint_off_and_fails_what_waits(
    author, editor, endpoint, receiver, django_capture_on_commit_callbacks
):
    ep, _ = endpoint
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author, "one"), by=editor)
        post_publish(post=_approved(author, "two"), by=editor)
    first, second = WebhookDelivery.objects.order_by("id")
    receiver.answer(410)
    webhook_delivery_attempt(delivery_id=first.id)
    ep.refresh_from_db()
    assert not ep.is_active and "410" in ep.disabled_reason
    second.refresh_from_db()
    assert second.status == D.FAILED and "410" in second.last_error
    assert AuditEvent.objects.filter(action="webhook.disabled", object_id=str(ep.id)).exists()
    assert len(receiver.received) == 1
    # New events do not go to a disabled endpoint.
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author, "three"), by=editor)
    assert WebhookDelivery.objects.count() == 2


def test_a_slow_receiver_times_out_and_a_redirect_is_not_followed(
    author, editor, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author), by=editor)
    delivery = WebhookDelivery.objects.get()
    receiver.answer(200, delay=2)  # WEBHOOK_TIMEOUT_S is 1 here
    delivery = webhook_delivery_attempt(delivery_id=delivery.id)
    assert delivery.status == D.PENDING and delivery.last_status_code is None
    assert "No answer in 1 s" in delivery.last_error
    _due_again(delivery)
    receiver.answer(302, {"Location": "http://169.254.169.254/latest/meta-data/"})
    delivery = webhook_delivery_attempt(delivery_id=delivery.id)
    assert delivery.status == D.PENDING and delivery.last_status_code == 302
    assert len(receiver.received) == 2  # the redirect's target was never asked


def test_manual_redelivery_resends_the_same_message_and_settles_it(
    author, editor, admin_user, endpoint, receiver, django_capture_on_commit_callbacks
):
    _, secret = endpoint
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author), by=editor)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(id=delivery.id).update(status=D.FAILED)
    with pytest.raises(Exception, match="Only admins"):
        webhook_redeliver(by=editor, delivery=delivery)
    delivery = webhook_redeliver(by=admin_user, delivery=delivery)
    assert delivery.status == D.SUCCEEDED
    assert receiver.verify(secret)["type"] == "post.published"
    assert receiver.received[0]["headers"]["webhook-id"] == delivery.message_id
    assert delivery.tries.get().manual
    assert AuditEvent.objects.filter(action="webhook.redelivered", actor=admin_user).exists()


def test_during_a_rotation_both_secrets_verify_until_the_old_one_expires(
    author, editor, admin_user, endpoint, receiver, django_capture_on_commit_callbacks
):
    ep, old = endpoint
    new = webhook_endpoint_rotate_secret(by=admin_user, endpoint=ep)
    assert new != old and new.startswith("whsec_")
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author, "one"), by=editor)
    webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().id)
    assert len(receiver.received[-1]["headers"]["webhook-signature"].split(" ")) == 2
    assert receiver.verify(old) == receiver.verify(new)
    WebhookEndpoint.objects.filter(id=ep.id).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author, "two"), by=editor)
    webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.latest("id").id)
    assert receiver.verify(new)["data"]["slug"] == "two"
    with pytest.raises(WebhookVerificationError):
        receiver.verify(old)


def test_the_sweep_finds_due_deliveries_on_active_endpoints_only(
    author, editor, admin_user, endpoint, receiver, django_capture_on_commit_callbacks
):
    ep, _ = endpoint
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author), by=editor)
    delivery = WebhookDelivery.objects.get()
    assert webhooks_deliver_due() == [delivery.id]
    assert webhooks_deliver_due(timezone.now() - timedelta(minutes=1)) == []
    same = {"url": ep.url, "events": ep.events}
    webhook_endpoint_update(by=admin_user, endpoint=ep, **same, is_active=False)
    assert webhooks_deliver_due() == []
    assert webhook_delivery_attempt(delivery_id=delivery.id) is None  # waits, is not dropped
    webhook_endpoint_update(by=admin_user, endpoint=ep, **same, is_active=True)
    assert webhook_delivery_attempt(delivery_id=delivery.id).status == D.SUCCEEDED


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "http://user:pw@example.com/hook",
        "http://no-such-host.invalid/hook",
    ],
)
def test_endpoints_on_internal_networks_are_refused(admin_user, settings, url):
    settings.WEBHOOK_ALLOW_NETWORKS = []
    with pytest.raises(ValidationError) as refused:
        webhook_endpoint_create(by=admin_user, url=url, events=[E.PUBLISHED])
    assert "url" in refused.value.message_dict
    assert not WebhookEndpoint.objects.exists()


def test_allowing_loopback_never_allows_link_local(admin_user, settings):
    settings.WEBHOOK_ALLOW_NETWORKS = ["loopback", "private"]
    webhook_endpoint_create(by=admin_user, url="http://127.0.0.1:9/hook", events=[E.PUBLISHED])
    with pytest.raises(ValidationError, match="forbidden"):
        webhook_endpoint_create(by=admin_user, url="http://169.254.169.254/", events=[E.PUBLISHED])


def test_the_address_is_checked_again_before_each_try(
    author, editor, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=_approved(author), by=editor)
    settings.WEBHOOK_ALLOW_NETWORKS = []  # as if the name now resolved somewhere internal
    delivery = webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().id)
    assert delivery.status == D.PENDING and "loopback address" in delivery.last_error
    assert receiver.received == []


def test_endpoint_changes_are_audited_and_admin_only(admin_user, editor, receiver):
    with pytest.raises(Exception, match="Only admins"):
        webhook_endpoint_create(by=editor, url=receiver.url, events=[E.PUBLISHED])
    ep, secret = webhook_endpoint_create(by=admin_user, url=receiver.url, events=[E.PUBLISHED])
    webhook_endpoint_rotate_secret(by=admin_user, endpoint=ep)
    actions = list(
        AuditEvent.objects.filter(object_id=str(ep.id))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["webhook.created", "webhook.secret_rotated"]
    # The secret is stored encrypted, never in the clear, and is not in the trail.
    ep.refresh_from_db()
    assert secret not in ep.secret_encrypted
    trail = json.dumps(list(AuditEvent.objects.values_list("detail", flat=True)))
    assert secret.removeprefix("whsec_") not in trail
    with pytest.raises(ValidationError):
        webhook_endpoint_create(by=admin_user, url=receiver.url, events=["post.deleted"])


def test_retry_after_reads_seconds_and_dates_within_bounds():
    now = timezone.now()
    assert webhooks.retry_after("30", now=now) == timedelta(seconds=30)
    assert webhooks.retry_after("0", now=now) == timedelta(seconds=1)
    assert webhooks.retry_after("999999", now=now) == webhooks.RETRY_AFTER_MAX
    in_ten = format_datetime(now + timedelta(minutes=10))
    assert abs(webhooks.retry_after(in_ten, now=now) - timedelta(minutes=10)) < timedelta(seconds=2)
    assert webhooks.retry_after("soon", now=now) is None
    assert webhooks.retry_after(None, now=now) is None
