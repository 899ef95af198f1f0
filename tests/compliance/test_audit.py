"""The audit trail: hash chain, append-only table, verify_audit, fail-closed writes, gap-free
sequence under concurrent writers, login failures and role changes, and the officer's pages."""

import csv
import io
import json
import threading

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.db.utils import InternalError, ProgrammingError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from accounts.services import user_set_roles
from compliance.audit import (
    GENESIS_HASH,
    Action,
    audit_hash,
    audit_record,
    audit_verify,
    canonical_json,
    format_at,
)
from compliance.models import AuditEvent
from posts.models import Tag
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def enrol_totp(user) -> None:  # noqa: ANN001
    """Officers must have MFA before any page opens; these tests are about the trail."""
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def tamper(sql: str, params: list | None = None) -> None:
    """Change the trail as someone who can switch the trigger off (the table owner) could."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE compliance_auditevent DISABLE TRIGGER compliance_auditevent_append_only"
        )
        cursor.execute(sql, params or [])
        cursor.execute(
            "ALTER TABLE compliance_auditevent ENABLE TRIGGER compliance_auditevent_append_only"
        )


# --- The chain -----------------------------------------------------------------------------------


def test_events_form_a_chain_that_verifies_from_the_genesis_hash(editor) -> None:  # noqa: ANN001
    tag = Tag.objects.create(name="cardiology")
    audit_record(action=Action.NOTE_UPLOADED, actor=editor, obj=tag, detail={"chars": 10})
    audit_record(action=Action.NOTE_VIEWED, actor=editor, object_type="x.y", object_id=7)
    audit_record(action=Action.MODEL_PROMOTED)

    chain = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0].prev_hash == GENESIS_HASH
    for previous, event in zip(chain, chain[1:], strict=False):
        assert event.prev_hash == previous.hash
    for event in chain:
        # Recomputable from the stored row alone: what was hashed is what PostgreSQL kept.
        fields = {f: getattr(event, f) for f in ["seq", "at", "actor_email", "action"]}
        fields |= {"actor_id": event.actor_id, "object_type": event.object_type}
        fields |= {"object_id": event.object_id, "detail": event.detail, "ip": event.ip}
        assert audit_hash(fields, event.prev_hash) == event.hash

    first = chain[-3]
    assert (first.object_type, first.object_id) == ("posts.tag", str(tag.pk))
    assert (first.actor_id, first.actor_email) == (editor.pk, editor.email)
    result = audit_verify(batch_size=2)  # several batches
    assert result.ok and result.checked == len(chain) and result.last_hash == chain[-1].hash


def test_the_canonical_form_is_sorted_compact_utf8_json() -> None:
    event = audit_record(action="x.test", detail={"b": 1, "a": "é"})
    payload = {
        "action": "x.test", "actor_email": "", "actor_id": None, "at": format_at(event.at),
        "detail": {"a": "é", "b": 1}, "ip": None, "object_id": "", "object_type": "",
        "prev_hash": event.prev_hash, "seq": event.seq,
    }  # fmt: skip
    text = '{"action":"x.test","actor_email":"","actor_id":null,"at":"'
    assert canonical_json(payload).startswith(text)
    assert format_at(event.at).endswith("Z") and len(format_at(event.at)) == 27
    import hashlib

    assert event.hash == hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def test_a_nested_unicode_detail_round_trips_through_jsonb_and_still_verifies() -> None:
    detail = {
        "zeta": {"nested": [1, {"ü": "Ärztin 😷", "n": None, "t": True}], "big": 2**60},
        "alpha": [],
        "score": 0.1 + 0.2,  # floats do not survive jsonb unchanged: kept as their text
        "nul": "a\x00b",  # jsonb cannot hold NUL
    }
    event = audit_record(action=Action.NOTE_SPAN_MARKED, detail=detail)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.detail["score"] == "0.30000000000000004"
    assert stored.detail["zeta"]["nested"][1]["ü"] == "Ärztin 😷"
    assert stored.detail["nul"] == "a\ufffdb"
    assert stored.detail == event.detail  # what was hashed is what came back
    assert audit_verify().ok


def test_an_ip_is_stored_as_postgresql_prints_it(rf) -> None:  # noqa: ANN001
    for given, kept in [
        ("10.0.0.7", "10.0.0.7"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("not-an-ip", None),
    ]:
        request = rf.get("/", REMOTE_ADDR=given)
        event = audit_record(action=Action.AUDIT_VIEWED, request=request)
        assert AuditEvent.objects.get(pk=event.pk).ip == kept
    assert audit_verify().ok


# --- Append-only -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql", ["UPDATE compliance_auditevent SET action = 'x'", "DELETE FROM compliance_auditevent"]
)
def test_the_database_refuses_updates_and_deletes(sql: str) -> None:
    audit_record(action=Action.MODEL_PROMOTED)
    with (
        pytest.raises(ProgrammingError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    # psycopg's InsufficientPrivilege (42501), which Django raises as ProgrammingError.
    assert refused.value.__cause__.sqlstate == "42501"
    assert "append-only" in str(refused.value)
    assert not issubclass(ProgrammingError, InternalError)


def test_the_orm_cannot_update_or_delete_events_either() -> None:
    event = audit_record(action=Action.MODEL_PROMOTED)
    with pytest.raises(ProgrammingError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(ProgrammingError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(ProgrammingError), transaction.atomic():
        event.action = "x"
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == Action.MODEL_PROMOTED


# --- verify_audit ------------------------------------------------------------------------------


def record_some(n: int) -> list[AuditEvent]:
    return [audit_record(action=Action.NOTE_VIEWED, object_id=i) for i in range(n)]


def test_verify_audit_reports_an_intact_trail(capsys) -> None:  # noqa: ANN001
    trail = record_some(3)
    call_command("verify_audit")
    out = capsys.readouterr().out
    count = AuditEvent.objects.count()
    assert out.strip() == f"Audit trail intact: {count} events, last hash {trail[-1].hash}"


def test_verify_audit_names_a_row_altered_with_the_trigger_off() -> None:
    trail = record_some(5)
    altered = trail[2]
    tamper("UPDATE compliance_auditevent SET object_id = '999' WHERE seq = %s", [altered.seq])
    with pytest.raises(CommandError) as failed:
        call_command("verify_audit")
    assert failed.value.returncode == 1
    assert str(failed.value).startswith(f"Audit trail broken at event {altered.seq}: hash mismatch")
    result = audit_verify()
    assert (result.first_broken_seq, result.reason) == (altered.seq, "hash mismatch: row altered")


def test_verify_audit_finds_a_deleted_row_by_the_gap() -> None:
    trail = record_some(5)
    tamper("DELETE FROM compliance_auditevent WHERE seq = %s", [trail[1].seq])
    result = audit_verify()
    assert (result.ok, result.first_broken_seq) == (False, trail[2].seq)
    assert result.reason == f"seq gap after {trail[0].seq}"
    with pytest.raises(CommandError, match=f"seq gap after {trail[0].seq}"):
        call_command("verify_audit")


def test_verify_audit_finds_a_row_rewritten_with_a_fresh_hash_by_the_broken_link() -> None:
    trail = record_some(4)
    forged = {**trail[1].__dict__, "action": "note.nothing_to_see"}
    forged_hash = audit_hash(forged, trail[1].prev_hash)
    tamper(
        "UPDATE compliance_auditevent SET action = %s, hash = %s WHERE seq = %s",
        ["note.nothing_to_see", forged_hash, trail[1].seq],
    )
    result = audit_verify()
    assert result.first_broken_seq == trail[2].seq
    assert result.reason == f"prev_hash does not match event {trail[1].seq}"


# --- Fail closed -------------------------------------------------------------------------------


def test_an_action_whose_audit_write_fails_is_rolled_back() -> None:
    with pytest.raises(TypeError, match="not JSON-safe"), transaction.atomic():
        Tag.objects.create(name="rolled-back")
        audit_record(action=Action.NOTE_APPROVED, detail={"note": object()})
    assert not Tag.objects.filter(name="rolled-back").exists()


def test_a_failing_insert_rolls_the_action_back_too(monkeypatch) -> None:  # noqa: ANN001
    def refuse(**kwargs: object) -> None:
        raise ProgrammingError("disk full")

    monkeypatch.setattr(AuditEvent.objects, "create", refuse)
    with pytest.raises(ProgrammingError), transaction.atomic():
        Tag.objects.create(name="rolled-back")
        audit_record(action=Action.NOTE_APPROVED)
    assert not Tag.objects.filter(name="rolled-back").exists()


def test_an_action_rolled_back_takes_its_event_along_and_leaves_no_gap() -> None:
    before = audit_record(action=Action.MODEL_PROMOTED)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(action=Action.MODEL_ROLLED_BACK)
        raise RuntimeError("the action failed after its event was written")
    after = audit_record(action=Action.MODEL_PROMOTED)
    assert after.seq == before.seq + 1 and after.prev_hash == before.hash
    assert not events(Action.MODEL_ROLLED_BACK)


# --- Concurrency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_make_one_gap_free_chain() -> None:
    threads, per_thread = 4, 25
    # Events committed by an earlier module fixture may precede ours; the chain goes on from them.
    first = (AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0) + 1
    start = threading.Barrier(threads)
    committed = [0] * threads
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                try:
                    with transaction.atomic():
                        audit_record(action=Action.NOTE_VIEWED, detail={"thread": n, "i": i})
                        if i % 4 == 3:  # every fourth writer's action fails after its event
                            raise RuntimeError("rolled back")
                    committed[n] += 1
                except RuntimeError:
                    pass
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors
    total = sum(committed)
    assert total == threads * (per_thread - per_thread // 4)
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, first + total))
    result = audit_verify()
    assert result.ok and result.checked == first - 1 + total


# --- What gets recorded ------------------------------------------------------------------------


def test_a_failed_login_is_recorded_with_the_address_and_ip(client, author) -> None:  # noqa: ANN001
    response = client.post(
        reverse("account_login"),
        {"login": author.email.upper(), "password": "wrong"},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200  # the form again: the login view was not disturbed
    (event,) = events(Action.LOGIN_FAILED)
    assert event.detail == {"login": author.email}
    assert (event.ip, event.actor_id) == ("203.0.113.9", None)


def test_a_failed_login_whose_event_cannot_be_written_still_shows_the_form(
    client, author, monkeypatch, caplog
) -> None:  # noqa: ANN001
    def refuse(**kwargs: object) -> None:
        raise ProgrammingError("disk full")

    monkeypatch.setattr(AuditEvent.objects, "create", refuse)
    response = client.post(reverse("account_login"), {"login": author.email, "password": "no"})
    assert response.status_code == 200
    assert "could not record a failed login" in caplog.text


def test_a_role_change_is_recorded_with_before_and_after(author, admin_user) -> None:  # noqa: ANN001
    user_set_roles(user=author, roles=[Role.EDITOR, Role.AUTHOR], by=admin_user)
    event = events(Action.ROLE_CHANGED)[-1]
    assert event.actor_id == admin_user.pk
    assert (event.object_type, event.object_id) == ("accounts.user", str(author.pk))
    assert event.detail == {
        "user": author.email,
        "before": ["Author"],
        "after": ["Author", "Editor"],
    }

    count = len(events(Action.ROLE_CHANGED))
    user_set_roles(user=author, roles=[Role.AUTHOR, Role.EDITOR], by=admin_user)
    assert len(events(Action.ROLE_CHANGED)) == count  # no change, no event


# --- The officer's pages -----------------------------------------------------------------------


def test_officers_read_the_trail_and_others_may_not(client, officer, editor) -> None:  # noqa: ANN001
    enrol_totp(officer)
    client.force_login(editor)
    assert client.get(reverse("audit:list")).status_code == 403
    assert client.post(reverse("audit:export"), {"format": "csv"}).status_code == 403

    client.force_login(officer)
    response = client.get(reverse("audit:list"))
    assert response.status_code == 200
    assert "Audit trail" in [item["label"] for item in response.context["nav_items"]]
    page = response.content.decode()
    assert "verify_audit" in page and "user.roles_changed" in page


def test_the_list_filters_and_records_each_view_once(client, officer, editor) -> None:  # noqa: ANN001
    enrol_totp(officer)
    tag = Tag.objects.create(name="oncology")
    audit_record(action=Action.NOTE_APPROVED, actor=editor, obj=tag)
    audit_record(action=Action.NOTE_REJECTED, actor=officer, obj=tag)
    client.force_login(officer)

    def shown(**params: str) -> list[str]:
        response = client.get(reverse("audit:list"), params)
        return [event.action for event, _ in response.context["rows"]]

    assert shown(action="note.approved") == ["note.approved"]
    assert shown(actor_email=editor.email.upper()) == ["note.approved"]
    assert shown(object_type="posts.tag", object_id=str(tag.pk)) == [
        "note.rejected",
        "note.approved",
    ]
    today = AuditEvent.objects.latest("seq").at.date().isoformat()
    assert "note.approved" in shown(date_from=today, date_to=today)
    assert shown(date_to="2000-01-01") == []

    views = events(Action.AUDIT_VIEWED)
    assert len(views) == 5 and views[-1].actor_id == officer.pk
    assert views[0].detail == {"filters": {"action": "note.approved"}, "page": 1}
    assert views[-1].detail == {"filters": {"date_to": "2000-01-01"}, "page": 1}


def test_the_list_page_runs_a_fixed_number_of_queries(client, officer) -> None:  # noqa: ANN001
    enrol_totp(officer)
    client.force_login(officer)
    client.get(reverse("audit:list"))  # warm the session and content types

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("audit:list")).status_code == 200
        return len(captured)

    few = queries()
    record_some(120)  # more than two pages
    assert queries() == few
    # session, user, groups (MFA rule), MFA check, permissions (2), count; the view event:
    # savepoint, lock, last event, insert, release; the page of events.
    assert few == 13


def test_exports_hold_the_filtered_events_and_are_recorded_before_streaming(
    client, officer
) -> None:  # noqa: ANN001
    enrol_totp(officer)
    record_some(3)
    audit_record(action=Action.NOTE_APPROVED, object_type="compliance.clinicalnote", object_id=9)
    client.force_login(officer)

    response = client.post(reverse("audit:export"), {"format": "csv", "action": "note.viewed"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"].endswith('.csv"')
    # The export is on the record before a single row has been read.
    (exported,) = events(Action.AUDIT_EXPORTED)
    assert exported.detail["filters"] == {"action": "note.viewed"}
    assert exported.detail["format"] == "csv" and exported.detail["count"] == 3
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["action"] for row in rows] == ["note.viewed"] * 3
    assert [int(row["seq"]) for row in rows] == sorted(int(row["seq"]) for row in rows)

    response = client.post(reverse("audit:export"), {"format": "json"})
    assert response["Content-Type"].startswith("application/json")
    exported_events = json.loads(b"".join(response.streaming_content))
    second = events(Action.AUDIT_EXPORTED)[-1]
    # Everything up to (not including) the export's own event; each re-hashes on its own.
    assert len(exported_events) == second.detail["count"] == second.seq - 1
    for event in exported_events:
        assert audit_hash(event, event["prev_hash"]) == event["hash"]

    assert client.post(reverse("audit:export"), {"format": "xml"}).status_code == 400
    assert client.get(reverse("audit:export")).status_code == 405


def test_the_admin_shows_the_trail_read_only(client, officer) -> None:  # noqa: ANN001
    enrol_totp(officer)
    event = audit_record(action=Action.MODEL_PROMOTED)
    client.force_login(officer)
    assert client.get(reverse("admin:compliance_auditevent_changelist")).status_code == 200
    page = client.get(reverse("admin:compliance_auditevent_change", args=[event.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.get(reverse("admin:compliance_auditevent_add")).status_code == 403
    delete = reverse("admin:compliance_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_user_without_the_permission_cannot_open_it_in_the_admin(client, editor) -> None:  # noqa: ANN001
    client.force_login(editor)
    assert client.get(reverse("admin:compliance_auditevent_changelist")).status_code == 403
    assert not events(Action.AUDIT_VIEWED)


def test_a_stranger_with_a_login_and_no_role_gets_nothing(client) -> None:  # noqa: ANN001
    client.force_login(UserFactory(roles=[]))
    assert client.get(reverse("audit:list")).status_code == 403
