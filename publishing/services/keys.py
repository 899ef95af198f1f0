"""API keys: create (the secret is returned once), revoke (the row stays), authenticate."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from compliance.audit import Action, audit_record
from publishing import keys
from publishing.models import ApiKey

TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


def _require_admin(by: User) -> None:
    if not can.can_manage_users(by):
        raise PermissionDenied("Only admins manage API keys.")


@transaction.atomic
def api_key_create(
    *,
    by: User,
    user: User,
    scopes: Iterable[str],
    note: str = "",
    expires_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> tuple[ApiKey, str]:
    """A new key for `user`; returns the row and the secret, which is never shown again."""
    _require_admin(by)
    scopes = sorted(set(scopes))
    unknown = set(scopes) - set(ApiKey.Scope.values)
    if not scopes or unknown:
        raise ValidationError(f"Pick at least one scope of {', '.join(ApiKey.Scope.values)}.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The expiry must be in the future.")
    if not user.is_active:
        raise ValidationError("That user is deactivated.")
    secret = keys.generate()
    key = ApiKey.objects.create(
        user=user,
        note=note.strip()[:200],
        prefix=keys.display_prefix(secret),
        digest=keys.digest(secret, secret=settings.API_KEY_SECRET),
        scopes=scopes,
        expires_at=expires_at,
        created_by=by,
    )
    audit_record(
        action=Action.API_KEY_CREATED, actor=by, obj=key, request=request,
        detail={"prefix": key.prefix, "user_id": user.id, "scopes": scopes,
                "expires_at": expires_at.isoformat() if expires_at else None},
    )  # fmt: skip
    return key, secret


@transaction.atomic
def api_key_revoke(*, by: User, key: ApiKey, request: HttpRequest | None = None) -> ApiKey:
    _require_admin(by)
    key = ApiKey.objects.select_for_update().get(id=key.id)
    if key.revoked_at is not None:
        return key
    key.revoked_at, key.revoked_by = timezone.now(), by
    key.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        action=Action.API_KEY_REVOKED, actor=by, obj=key, request=request,
        detail={"prefix": key.prefix, "user_id": key.user_id},
    )  # fmt: skip
    return key


def api_key_authenticate(secret: str) -> ApiKey | None:
    """The usable key with this secret (not revoked, not expired, its user active), else None.

    A malformed secret is refused without touching the database. last_used_at is updated at
    most once a minute, by one conditional UPDATE, so a busy key does not write on every call.
    """
    if not keys.well_formed(secret):
        return None
    now = timezone.now()
    key = (
        ApiKey.objects.select_related("user")
        .filter(digest=keys.digest(secret, secret=settings.API_KEY_SECRET), revoked_at=None)
        .filter(Q(expires_at=None) | Q(expires_at__gt=now))
        .first()
    )
    if key is None or not key.user.is_active:
        return None
    if key.last_used_at is None or key.last_used_at < now - TOUCH_EVERY:
        ApiKey.objects.filter(id=key.id).filter(
            Q(last_used_at=None) | Q(last_used_at__lt=now - TOUCH_EVERY)
        ).update(last_used_at=now)
    return key
