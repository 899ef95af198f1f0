"""The admins' pages: API keys (create shows the secret once, revoke keeps the row) and webhooks
(add, refuse internal addresses, the delivery log, redeliver, rotate, delete)."""

import pytest

from posts.models import Post
from posts.services.workflow import post_publish
from publishing.models import ApiKey, WebhookDelivery, WebhookEndpoint
from publishing.services.keys import api_key_authenticate
from publishing.services.webhooks import webhook_delivery_attempt
from tests.accounts.test_roles import enrol_totp
from tests.posts.factories import make_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    enrol_totp(admin_user)
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("url", ["/publishing/keys/", "/publishing/webhooks/"])
def test_only_admins_open_the_pages(client, editor, url):
    client.force_login(editor)
    assert client.get(url).status_code == 403


def test_an_admin_makes_a_key_sees_its_secret_once_and_revokes_it(admin_client, author):
    response = admin_client.post(
        "/publishing/keys/",
        {"user": author.id, "scopes": ["posts:read", "drafts:write"], "note": "Hugo build",
         "expires_on": "2099-01-01"},
    )  # fmt: skip
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret in response.content.decode() and "not shown again" in response.content.decode()
    key = ApiKey.objects.get()
    assert api_key_authenticate(secret) == key and key.user == author
    assert key.expires_at.year == 2099 and key.note == "Hugo build"
    listing = admin_client.get("/publishing/keys/").content.decode()
    assert key.prefix in listing and secret not in listing
    admin_client.post(f"/publishing/keys/{key.id}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None and api_key_authenticate(secret) is None
    assert "revoked" in admin_client.get("/publishing/keys/").content.decode()


def test_a_key_needs_a_scope_and_a_future_expiry(admin_client, author):
    response = admin_client.post("/publishing/keys/", {"user": author.id, "scopes": []})
    assert response.status_code == 200 and response.context["form"].errors["scopes"]
    response = admin_client.post(
        "/publishing/keys/",
        {"user": author.id, "scopes": ["posts:read"], "expires_on": "2001-01-01"},
    )
    assert "The expiry must be in the future." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_an_internal_address_is_refused_on_the_form(admin_client, settings):
    settings.WEBHOOK_ALLOW_NETWORKS = []
    response = admin_client.post(
        "/publishing/webhooks/", {"url": "http://169.254.169.254/", "events": ["post.published"]}
    )
    assert "webhooks are not sent to internal networks" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_shows_each_try_and_redelivers(
    admin_client,
    author,
    editor,
    receiver,
    django_capture_on_commit_callbacks,
):
    response = admin_client.post(
        "/publishing/webhooks/",
        {"url": receiver.url, "events": ["post.published"], "description": "Static site"},
    )
    secret = response.context["secret"]
    endpoint = WebhookEndpoint.objects.get()
    post = make_post(author, status=Post.Status.APPROVED, slug="sleep")
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(post=post, by=editor)
    delivery = WebhookDelivery.objects.get()
    receiver.answer(503, {"Retry-After": "60"})
    webhook_delivery_attempt(delivery_id=delivery.id)
    page = admin_client.get(f"/publishing/webhooks/{endpoint.id}/").content.decode()
    assert "post.published" in page and "<code>503</code>" in page and "Pending" in page
    assert "seconds from now" in page or "1 minute from now" in page  # the next try
    admin_client.post(f"/publishing/webhooks/deliveries/{delivery.id}/redeliver/")
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and receiver.verify(secret)["data"]["slug"] == "sleep"
    page = admin_client.get(f"/publishing/webhooks/{endpoint.id}/?status=succeeded").content
    assert b"(manual)" in page and b"Succeeded" in page
    listing = admin_client.get("/publishing/webhooks/").content.decode()
    assert "1 delivered" in listing and "Static site" in listing


def test_settings_rotation_and_deletion(admin_client, receiver):  # noqa: F811
    admin_client.post("/publishing/webhooks/", {"url": receiver.url, "events": ["post.published"]})
    endpoint = WebhookEndpoint.objects.get()
    admin_client.post(
        f"/publishing/webhooks/{endpoint.id}/",
        {"url": receiver.url, "events": ["post.archived"], "description": "", "is_active": ""},
    )
    endpoint.refresh_from_db()
    assert endpoint.events == ["post.archived"] and not endpoint.is_active
    response = admin_client.post(f"/publishing/webhooks/{endpoint.id}/rotate/")
    assert response.context["secret"].startswith("whsec_")
    assert "signed with the old secret as well" in response.content.decode()
    admin_client.post(f"/publishing/webhooks/{endpoint.id}/delete/")
    assert not WebhookEndpoint.objects.exists()
