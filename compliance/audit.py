"""The tamper-evident audit trail: write an event, read the trail, prove the chain intact.

Every event's `hash` is SHA-256 over a canonical JSON of its fields plus the previous event's
hash, so changing, inserting or removing a row breaks the chain from there on; `audit_verify`
(and `manage.py verify_audit`) finds the first broken event. The database trigger of migration
0002 refuses UPDATE and DELETE, so a change needs someone who can disable it, and the chain
shows it afterwards. Cutting events off the end leaves a valid shorter chain: compare the last
hash with one kept elsewhere (verify_audit prints it) to catch that.

Writes are fail-closed: `audit_record` runs inside the caller's transaction, so an action whose
event cannot be written is rolled back with it, and an action rolled back leaves no event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.db import connection, models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from blogllm.clientip import client_ip
from compliance.models import AuditEvent

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key that serialises audit writers ("BLOGAUDT" as a signed 64-bit int).
AUDIT_LOCK_KEY = int.from_bytes(b"BLOGAUDT", "big", signed=True)


class Action(StrEnum):
    NOTE_UPLOADED = "note.uploaded"
    NOTE_BATCH_UPLOADED = "note.batch_uploaded"
    NOTE_VIEWED = "note.viewed"
    NOTE_RAW_VIEWED = "note.raw_viewed"
    NOTE_DEID_RERUN = "note.deid_rerun"
    NOTE_SPAN_MARKED = "note.span_marked"
    NOTE_SPAN_UNMARKED = "note.span_unmarked"
    NOTE_SUSPECT_DISMISSED = "note.suspect_dismissed"
    NOTE_APPROVED = "note.approved"
    NOTE_REJECTED = "note.rejected"
    NOTE_EXPORTED = "note.exported"
    NOTE_USED_FOR_TRAINING = "note.used_for_training"
    GENERATION_CLINICAL = "generation.clinical_context"
    MODEL_PROMOTED = "model.promoted"
    MODEL_ROLLED_BACK = "model.rolled_back"
    MODEL_ARCHIVED = "model.archived"
    MODEL_RETRAIN_POLICY_SET = "model.retrain_policy_set"
    ROLE_CHANGED = "user.roles_changed"
    LOGIN_FAILED = "auth.login_failed"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_CHANGED = "webhook.changed"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated"  # noqa: S105 (an action name)
    WEBHOOK_DISABLED = "webhook.disabled"
    WEBHOOK_DELETED = "webhook.deleted"
    WEBHOOK_REDELIVERED = "webhook.redelivered"
    GUARD_WORD_ADDED = "guard.word_added"
    GUARD_WORD_REMOVED = "guard.word_removed"
    AUDIT_VIEWED = "audit.viewed"
    AUDIT_EXPORTED = "audit.exported"


# --- The canonical form -------------------------------------------------------------------------


def format_at(at: dt.datetime) -> str:
    """ISO 8601 in UTC with microseconds and "Z": exactly what a timestamptz column gives back."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def audit_hash(fields: dict, prev_hash: str) -> str:
    """SHA-256 (hex) of the canonical JSON of an event's fields and the previous event's hash.

    `fields` holds seq, at, actor_id, actor_email, action, object_type, object_id, detail, ip
    (others, such as `hash`, are ignored); `at` may be a datetime or its `format_at` string.
    """
    at = fields["at"]
    payload = {
        "seq": fields["seq"],
        "at": format_at(at) if isinstance(at, dt.datetime) else at,
        "actor_id": fields["actor_id"],
        "actor_email": fields["actor_email"],
        "action": fields["action"],
        "object_type": fields["object_type"],
        "object_id": fields["object_id"],
        "detail": fields["detail"],
        "ip": fields["ip"],
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def json_safe(value: Any, path: str = "detail") -> Any:
    """`value` as JSON that survives jsonb unchanged, so the stored row re-hashes identically.

    jsonb reorders keys (harmless: we sort) and normalises numbers (1.10 comes back as 1.1), so
    floats and decimals become strings; so do dates, datetimes and UUIDs. NUL cannot be stored
    in jsonb and becomes U+FFFD. Anything else is refused with TypeError, which fails the write.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, float | Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_at(value) if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_safe(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"Audit {path} has a key that is not a string.")
        return {json_safe(k): json_safe(v, f"{path}.{k}") for k, v in value.items()}
    raise TypeError(f"Audit {path} holds a {type(value).__name__}, which is not JSON-safe.")


# --- Writing -------------------------------------------------------------------------------------


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    detail: dict | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction (see the module docstring).

    The advisory lock is held until the outermost transaction ends, so writers queue up and the
    chain stays gap-free: a writer that rolls back never consumed a seq. The price is that
    audited transactions commit one at a time, so call this near the end of a transaction,
    after its other row locks, and keep audited transactions short.
    """
    if not action or len(action) > 64:
        raise ValueError("An audit action is 1 to 64 characters.")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id if object_id != "" else obj.pk
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
    fields = {
        "actor_id": actor.pk if actor is not None else None,
        "actor_email": (actor.email if actor is not None else "")[:254],
        "action": str(action),
        "object_type": str(object_type)[:64],
        "object_id": str(object_id)[:64],
        "detail": json_safe(detail or {}),
        "ip": client_ip(request),
    }
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_LOCK_KEY])
        last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        # Taken under the lock, so time never runs backwards along the chain. Microseconds,
        # as timestamptz keeps them.
        fields["at"] = timezone.now()
        fields["seq"] = last["seq"] + 1 if last else 1
        prev_hash = last["hash"] if last else GENESIS_HASH
        return AuditEvent.objects.create(
            **fields, prev_hash=prev_hash, hash=audit_hash(fields, prev_hash)
        )


def record_login_failure(
    sender: object, credentials: dict, request: HttpRequest | None = None, **kwargs: object
) -> None:
    """Receiver of django.contrib.auth's user_login_failed (which allauth's login sends).

    Not fail-closed, unlike every other event: the login has already failed, so there is no
    action to roll back, and raising would turn a database hiccup (or a flood of bad logins)
    into a broken login page for everyone. The failure is logged instead.
    """
    login = next(
        (str(credentials[k]) for k in ("email", "login", "username") if credentials.get(k)), ""
    )
    try:
        audit_record(
            action=Action.LOGIN_FAILED,
            detail={"login": login.strip().lower()[:254]},
            request=request,
        )
    except Exception:
        logger.exception("could not record a failed login in the audit trail")


# --- Reading -------------------------------------------------------------------------------------


def audit_event_list(
    *,
    action: str = "",
    actor_email: str = "",
    object_type: str = "",
    object_id: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    """Events matching the filters, newest first. Dates are whole days in the current time zone."""
    events = AuditEvent.objects.all()
    if action:
        events = events.filter(action=action)
    if actor_email:
        events = events.filter(actor_email__icontains=actor_email.strip())
    if object_type:
        events = events.filter(object_type=object_type.strip())
    if object_id:
        events = events.filter(object_id=object_id.strip())
    zone = timezone.get_current_timezone()
    if date_from:
        events = events.filter(at__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=zone))
    if date_to:
        next_day = date_to + dt.timedelta(days=1)
        events = events.filter(at__lt=dt.datetime.combine(next_day, dt.time.min, tzinfo=zone))
    return events.order_by("-seq")


EVENT_FIELDS = [
    "seq", "at", "actor_id", "actor_email", "action", "object_type", "object_id", "detail", "ip",
    "prev_hash", "hash",
]  # fmt: skip


def audit_event_rows(events: QuerySet[AuditEvent], *, batch_size: int = 2000) -> Iterator[dict]:
    """`events` as plain dicts in seq order (`at` formatted as hashed), fetched in batches.

    Keyset pages rather than a server-side cursor: memory stays bounded, and it works under
    autocommit and behind connection poolers alike.
    """
    last_seq = 0
    while True:
        batch = list(
            events.filter(seq__gt=last_seq).order_by("seq").values(*EVENT_FIELDS)[:batch_size]
        )
        for row in batch:
            row["at"] = format_at(row["at"])
            yield row
        if len(batch) < batch_size:
            return
        last_seq = batch[-1]["seq"]


# --- Verifying -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str = ""
    last_hash: str = GENESIS_HASH


def audit_verify(*, batch_size: int = 5000) -> AuditVerification:
    """Walk the whole chain in seq order and report the first event that breaks it."""
    checked, prev_seq, prev_hash = 0, 0, GENESIS_HASH
    for row in audit_event_rows(AuditEvent.objects.all(), batch_size=batch_size):
        seq = row["seq"]
        reason = ""
        if seq != prev_seq + 1:
            reason = f"seq gap after {prev_seq}"
        elif audit_hash(row, row["prev_hash"]) != row["hash"]:
            reason = "hash mismatch: row altered"
        elif row["prev_hash"] != prev_hash:
            reason = (
                f"prev_hash does not match event {prev_seq}"
                if prev_seq
                else "prev_hash of the first event is not the genesis hash"
            )
        if reason:
            return AuditVerification(False, checked, seq, reason, prev_hash)
        checked, prev_seq, prev_hash = checked + 1, seq, row["hash"]
    return AuditVerification(True, checked, last_hash=prev_hash)


def audit_verify_record(*, batch_size: int = 5000) -> AuditVerification:
    """Verify the chain and keep the outcome where /metrics reads it (its age and whether it
    held: the alert rules page someone when either goes wrong). Beat runs this hourly."""
    import time

    from django.core.cache import cache

    from blogllm.metrics import AUDIT_VERIFY_KEY

    result = audit_verify(batch_size=batch_size)
    verdict = {"at": time.time(), "ok": result.ok, "checked": result.checked}
    cache.set(AUDIT_VERIFY_KEY, verdict, timeout=None)
    if not result.ok:
        logger.error(
            "Audit trail broken at event %s: %s", result.first_broken_seq, result.reason,
            extra={"checked": result.checked},
        )  # fmt: skip
    return result


# --- Exporting -----------------------------------------------------------------------------------


def audit_export_begin(
    *, filters: dict, export_format: str, request: HttpRequest | None = None
) -> tuple[QuerySet[AuditEvent], AuditEvent]:
    """Record an export and return the events it covers, fixed at the trail's current end.

    The AUDIT_EXPORTED event (filters, format, count) is committed before the caller streams a
    single row, so an export that is cut off, or fails, is still on the record. Events written
    while the file streams are left out, so the file holds exactly the `count` recorded.
    """
    with transaction.atomic():
        up_to = AuditEvent.objects.aggregate(last=models.Max("seq"))["last"] or 0
        events = audit_event_list(**filters).filter(seq__lte=up_to)
        event = audit_record(
            action=Action.AUDIT_EXPORTED,
            detail={
                "format": export_format,
                "filters": {key: value for key, value in filters.items() if value},
                "count": events.count(),
                "up_to_seq": up_to,
            },
            request=request,
        )
    return events, event
