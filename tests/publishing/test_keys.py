"""API keys: the secret's format, its storage, revocation, expiry and the audit trail."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from compliance.models import AuditEvent
from publishing import keys
from publishing.models import ApiKey
from publishing.services.keys import api_key_authenticate, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def test_a_secret_has_the_prefix_and_a_checksum_that_catches_a_typo():
    secret = keys.generate()
    assert secret.startswith("bllm_") and keys.well_formed(secret)
    typo = secret[:10] + ("A" if secret[10] != "A" else "B") + secret[11:]
    assert not keys.well_formed(typo)


def test_only_a_digest_is_stored_and_the_secret_authenticates(admin_user, author):
    key, secret = api_key_create(by=admin_user, user=author, scopes=["posts:read"], note="site")
    stored = ApiKey.objects.get(id=key.id)
    assert secret not in (stored.digest, stored.prefix, stored.note)
    assert len(stored.digest) == 64 and secret.startswith(stored.prefix)
    assert api_key_authenticate(secret) == key
    assert api_key_authenticate(keys.generate()) is None


def test_only_admins_create_keys_and_scopes_are_checked(admin_user, editor, author):
    with pytest.raises(PermissionDenied):
        api_key_create(by=editor, user=author, scopes=["posts:read"])
    with pytest.raises(ValidationError):
        api_key_create(by=admin_user, user=author, scopes=["posts:delete"])
    with pytest.raises(ValidationError):
        api_key_create(by=admin_user, user=author, scopes=[])


def test_a_revoked_key_keeps_its_row_and_stops_working(admin_user, author):
    key, secret = api_key_create(by=admin_user, user=author, scopes=["posts:read"])
    api_key_revoke(by=admin_user, key=key)
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == admin_user
    assert api_key_authenticate(secret) is None


def test_an_expired_key_stops_working(admin_user, author):
    key, secret = api_key_create(
        by=admin_user, user=author, scopes=["posts:read"],
        expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    ApiKey.objects.filter(id=key.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_key_authenticate(secret) is None


def test_last_used_is_written_at_most_once_a_minute(admin_user, author):
    key, secret = api_key_create(by=admin_user, user=author, scopes=["posts:read"])
    api_key_authenticate(secret)
    first = ApiKey.objects.get(id=key.id).last_used_at
    api_key_authenticate(secret)
    assert ApiKey.objects.get(id=key.id).last_used_at == first  # within the minute: unchanged
    ApiKey.objects.filter(id=key.id).update(last_used_at=first - timedelta(minutes=2))
    api_key_authenticate(secret)
    assert ApiKey.objects.get(id=key.id).last_used_at > first - timedelta(minutes=2)


def test_key_changes_land_in_the_audit_trail_without_the_secret(admin_user, author):
    key, secret = api_key_create(by=admin_user, user=author, scopes=["drafts:write"])
    api_key_revoke(by=admin_user, key=key)
    events = list(AuditEvent.objects.filter(object_id=str(key.id)).order_by("seq"))
    assert [e.action for e in events] == ["api_key.created", "api_key.revoked"]
    assert all(secret not in str(e.detail) for e in events)


def test_the_command_prints_the_secret_once_and_revokes_by_prefix(admin_user, author):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command(
        "api_key", "create", "--for", author.email, "--scopes", "posts:read,drafts:write",
        "--as", admin_user.email, stdout=out,
    )  # fmt: skip
    secret = out.getvalue().split()[-1]
    key = api_key_authenticate(secret)
    assert key.user == author and key.scopes == ["drafts:write", "posts:read"]
    call_command("api_key", "revoke", key.prefix, "--as", admin_user.email, stdout=StringIO())
    assert api_key_authenticate(secret) is None
    with pytest.raises(CommandError, match="Only admins"):
        call_command("api_key", "create", "--for", author.email, "--as", author.email)


def test_admins_create_and_revoke_keys_in_the_django_admin(client, admin_user, author):
    from tests.accounts.test_roles import enrol_totp

    enrol_totp(admin_user)
    admin_user.refresh_from_db()
    client.force_login(admin_user)
    response = client.post(
        "/admin/publishing/apikey/add/",
        {"user": author.id, "scopes": ["posts:read"], "note": "site", "expires_at": ""},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    secret = next(m.split()[-1] for m in shown if "shown only now" in m)
    key = api_key_authenticate(secret)
    assert key.user == author and key.created_by == admin_user
    client.post(
        "/admin/publishing/apikey/",
        {"action": "revoke", "_selected_action": [key.id]},
    )
    assert api_key_authenticate(secret) is None
    assert not author.has_perm("publishing.view_apikey")
