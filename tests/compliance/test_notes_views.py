"""Compliance pages and admin: wiring, the two-person rule, escaping, audit and query counts."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from compliance.audit import Action
from compliance.models import AuditEvent, ClinicalNote, DeidFinding, NoteBatch
from tests.compliance.factories import NOTE_TEXT, make_note, make_officer, with_totp

S = ClinicalNote.Status


@pytest.fixture
def uploader(db):  # noqa: ANN001, ANN201
    return make_officer()


@pytest.fixture
def reviewer(db):  # noqa: ANN001, ANN201
    return make_officer()


def review_url(note: ClinicalNote) -> str:
    return reverse("compliance:review", args=[note.uid])


def decide_url(note: ClinicalNote, action: str) -> str:
    return reverse("compliance:decide", args=[note.uid, action])


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["author", "editor", "outsider"])
def test_people_without_the_permission_get_403(client, request, uploader, persona) -> None:  # noqa: ANN001
    note = make_note(uploader)
    client.force_login(request.getfixturevalue(persona))
    for url in (reverse("compliance:queue"), reverse("compliance:new"), review_url(note)):
        assert client.get(url).status_code == 403
    assert client.post(decide_url(note, "approve")).status_code == 403
    note.refresh_from_db()
    assert note.status == S.PENDING


@pytest.mark.django_db
def test_an_officer_without_totp_is_sent_to_set_it_up(client) -> None:  # noqa: ANN001
    officer = make_officer(totp=False)
    client.force_login(officer)
    response = client.get(reverse("compliance:queue"))
    assert response.status_code == 302 and response.url == reverse("mfa_activate_totp")


@pytest.mark.django_db
def test_the_queue_marks_your_own_uploads(client, uploader, reviewer) -> None:  # noqa: ANN001
    make_note(uploader, title="Mine")
    make_note(reviewer, title="Theirs")
    client.force_login(uploader)
    page = client.get(reverse("compliance:queue"))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("uploaded by you — another officer must review") == 1
    assert "Clinical notes" in html  # the navigation item


@pytest.mark.django_db
def test_paste_intake_creates_a_note_and_shows_its_review_page(client, uploader) -> None:  # noqa: ANN001
    client.force_login(uploader)
    response = client.post(
        reverse("compliance:new"),
        {"kind": "paste", "paste-title": "Stairs", "paste-text": NOTE_TEXT},
    )
    note = ClinicalNote.objects.get()
    assert response.url == review_url(note)
    response = client.post(reverse("compliance:new"), {"kind": "paste", "paste-text": "   "})
    assert response.status_code == 400 and ClinicalNote.objects.count() == 1


@pytest.mark.django_db
def test_file_intake_refuses_a_binary_txt_with_the_reason(client, uploader) -> None:  # noqa: ANN001
    client.force_login(uploader)
    upload = SimpleUploadedFile("x.txt", b"\x00\x01\x02binary")
    response = client.post(reverse("compliance:new"), {"kind": "upload", "upload-file": upload})
    assert response.status_code == 400 and "binary" in response.content.decode()
    assert not ClinicalNote.objects.exists()


@pytest.mark.django_db
def test_the_uploader_sees_no_decision_buttons_and_a_post_is_refused(client, uploader) -> None:  # noqa: ANN001
    note = make_note(uploader)
    client.force_login(uploader)
    html = client.get(review_url(note)).content.decode()
    assert decide_url(note, "approve") not in html and decide_url(note, "reject") not in html
    assert "another compliance officer must review it" in html
    response = client.post(decide_url(note, "approve"))
    assert response.status_code == 400
    assert "another compliance officer" in response.content.decode()
    response = client.post(decide_url(note, "reject"), {"reason": "mine"})
    assert response.status_code == 400
    note.refresh_from_db()
    assert note.status == S.PENDING and note.raw_encrypted


@pytest.mark.django_db
def test_another_officer_reviews_and_approves(client, uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader)
    client.force_login(reviewer)
    page = client.get(review_url(note))
    html = page.content.decode()
    assert decide_url(note, "approve") in html
    # Both panes, with the findings highlighted by category.
    assert 'id="raw-text"' in html and 'id="deid-text"' in html
    assert html.count('data-label="NAME"') >= 2
    assert AuditEvent.objects.filter(action=Action.NOTE_VIEWED, object_id=str(note.id)).exists()
    assert AuditEvent.objects.filter(action=Action.NOTE_RAW_VIEWED, object_id=str(note.id)).exists()

    response = client.post(decide_url(note, "approve"))
    assert response.url == reverse("compliance:queue")
    note.refresh_from_db()
    assert note.status == S.APPROVED and note.raw_encrypted == ""
    html = client.get(review_url(note)).content.decode()
    assert "Raw text purged" in html and 'id="raw-text"' not in html
    assert "48213977" not in html


@pytest.mark.django_db
def test_reject_without_a_reason_is_refused(client, uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader)
    client.force_login(reviewer)
    assert client.post(decide_url(note, "reject"), {"reason": ""}).status_code == 400
    response = client.post(decide_url(note, "reject"), {"reason": "Identifying throughout."})
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.status == S.REJECTED and note.decision_reason == "Identifying throughout."


@pytest.mark.django_db
def test_the_note_text_is_escaped_in_both_panes(client, uploader, reviewer) -> None:  # noqa: ANN001
    note = make_note(uploader, text="<script>alert('x')</script> Seen by John Smith today.")
    client.force_login(reviewer)
    html = client.get(review_url(note)).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


@pytest.mark.django_db
def test_marking_and_unmarking_through_htmx_rerenders_the_panes(client, uploader, reviewer) -> None:  # noqa: ANN001
    text = "Seen with her friend Quentavia at the lake."
    note = make_note(uploader, text=text)
    client.force_login(reviewer)
    start = text.index("Quentavia")
    response = client.post(
        reverse("compliance:mark", args=[note.uid]),
        {"start": start, "end": start + 9, "category": "NAME"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and 'id="panes"' in response.content.decode()
    finding = DeidFinding.objects.get(note=note, detector="reviewer")
    note.refresh_from_db()
    assert "Quentavia" not in note.deid_text

    response = client.post(
        reverse("compliance:unmark", args=[note.uid, finding.id]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    note.refresh_from_db()
    assert "Quentavia" in note.deid_text


@pytest.mark.django_db
def test_the_review_page_runs_a_fixed_number_of_queries(
    client, uploader, reviewer, django_assert_max_num_queries
) -> None:  # noqa: ANN001
    text = " ".join(f"Seen by Dr. Ann Lee on 0{n % 9 + 1}/1{n % 9}/2021." for n in range(40))
    note = make_note(uploader, text=text)
    assert note.findings.count() >= 20
    client.force_login(reviewer)
    client.get(review_url(note))  # warm up: session, permissions cache
    # Not one per finding: findings are prefetched; the two audit writes take a few each.
    with django_assert_max_num_queries(22):
        response = client.get(review_url(note))
    assert response.status_code == 200


# --- Admin


@pytest.fixture
def superuser(db):  # noqa: ANN001, ANN201
    from tests.accounts.factories import UserFactory

    user = UserFactory(is_superuser=True, is_staff=True)
    return with_totp(user)


@pytest.mark.django_db
def test_the_admin_has_no_approve_action_and_status_is_read_only(
    client, uploader, superuser
) -> None:  # noqa: ANN001
    note = make_note(uploader)
    client.force_login(superuser)
    changelist = client.get(reverse("admin:compliance_clinicalnote_changelist"))
    assert changelist.status_code == 200
    action_form = changelist.context.get("action_form")
    actions = action_form.fields["action"].choices if action_form else []
    assert not any("approve" in str(name).lower() for name, _ in actions)

    url = reverse("admin:compliance_clinicalnote_change", args=[note.id])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert note.raw_encrypted not in html and 'name="status"' not in html
    client.post(url, {"status": "approved", "reviewed_by": superuser.id})
    note.refresh_from_db()
    assert note.status == S.PENDING and note.reviewed_by is None


# --- A CSV batch through the real worker


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_csv_batch_runs_in_the_worker_to_100_percent(client, celery_worker_process) -> None:  # noqa: ANN001
    officer = make_officer()
    client.force_login(officer)
    rows = "text,title\n" + "".join(f'"Seen for sleep, visit {n}.",Visit {n}\n' for n in range(5))
    rows += ',"Empty one"\n'
    upload = SimpleUploadedFile("batch.csv", rows.encode())
    response = client.post(reverse("compliance:new"), {"kind": "batch", "batch-file": upload})
    batch = NoteBatch.objects.get()
    assert response.url == reverse("compliance:batch", args=[batch.id])

    # The page polls its own fragment, which reads the progress from the batch's row, until
    # the batch has ended: then the bar is full and the polling stops.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fragment = client.get(response.url, headers={"HX-Request": "true"}).content.decode()
        if "hx-trigger" not in fragment:
            break
        time.sleep(0.3)
    assert 'value="100"' in fragment and "hx-trigger" not in fragment
    page = client.get(reverse("compliance:batch", args=[batch.id]))
    html = page.content.decode()
    assert "100%" in html and "row 7" in html and "The note is empty." in html
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.failed) == (NoteBatch.Status.FINISHED, 5, 1)
    assert batch.payload_encrypted == ""
    assert ClinicalNote.objects.filter(batch=batch).count() == 5
