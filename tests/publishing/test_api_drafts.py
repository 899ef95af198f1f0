"""Drafts through the API: scope, ownership, If-Match, submit, and the clinical refusals."""

import pytest
from django.test import Client

from posts.models import Post
from publishing.services.keys import api_key_create

pytestmark = pytest.mark.django_db


def _key(admin_user, user, scopes=("drafts:write",)):
    _, secret = api_key_create(by=admin_user, user=user, scopes=scopes)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def _send(client, headers, **body):
    return client.post("/api/v1/drafts/", data=body, content_type="application/json", **headers)


def test_a_draft_is_created_as_the_keys_owner_and_goes_to_review(client, admin_user, author):
    headers = _key(admin_user, author)
    created = _send(client, headers, title="From my notes app", body_markdown="Hello.",
                    tags=["Sleep"])  # fmt: skip
    assert created.status_code == 201, created.content
    draft = created.json()
    post = Post.objects.get(id=draft["id"])
    assert post.author == author and post.status == Post.Status.DRAFT
    assert draft["tags"] == ["sleep"] and created.headers["ETag"]
    submitted = client.post(f"/api/v1/drafts/{post.id}/submit/", **headers)
    assert submitted.status_code == 200 and submitted.json()["status"] == "in_review"
    again = client.post(f"/api/v1/drafts/{post.id}/submit/", **headers)
    assert again.status_code == 409
    # Submitted, not published: the public API still does not show it.
    assert client.get(f"/api/v1/posts/{post.slug}/").status_code == 404


def test_edits_need_the_current_etag(client, admin_user, author):
    headers = _key(admin_user, author)
    created = _send(client, headers, title="Draft", body_markdown="One.")
    url, etag = f"/api/v1/drafts/{created.json()['id']}/", created.headers["ETag"]

    def patch(if_match=None, **body):
        extra = {"HTTP_IF_MATCH": if_match} if if_match else {}
        return client.patch(url, data=body, content_type="application/json", **headers, **extra)

    assert patch(body_markdown="Two.").status_code == 428
    changed = patch(etag, body_markdown="Two.")
    assert changed.status_code == 200 and changed.json()["body_markdown"] == "Two."
    assert patch(etag, body_markdown="Three.").status_code == 412  # the old tag is stale
    assert patch(changed.headers["ETag"], titel="typo").json()["errors"][0] == {
        "code": "unknown_field", "message": "Unknown field.", "field": "titel",
    }  # fmt: skip


def test_scopes_and_ownership_are_enforced(client, admin_user, author, editor):
    reader = _key(admin_user, author, scopes=("posts:read",))
    assert _send(client, reader, title="No").status_code == 403
    assert _send(client, {}, title="No").status_code == 401
    mine = _send(client, _key(admin_user, author), title="Mine").json()
    other = _key(admin_user, editor)
    assert client.get(f"/api/v1/drafts/{mine['id']}/", **other).status_code == 404


def test_bad_bodies_get_field_errors_415_and_413(client, admin_user, author):
    headers = _key(admin_user, author)
    missing = _send(client, headers, body_markdown="no title")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "title"
    form = client.post("/api/v1/drafts/", data={"title": "x"}, **headers)  # multipart
    assert form.status_code == 415
    huge = _send(client, headers, title="Big", body_markdown="x" * 1_100_000)
    assert huge.status_code == 413


def test_clinical_drafts_need_a_clinical_writer_and_a_clean_phi_scan(
    client, admin_user, author, officer
):
    refused = _send(client, _key(admin_user, author), title="Ward notes", channel="clinical")
    assert refused.status_code == 403
    headers = _key(admin_user, officer)
    phi = "John Smith, born 03/04/1961, called from 617-555-0199."
    leaked = _send(client, headers, title="A case", channel="clinical", body_markdown=phi)
    assert leaked.status_code == 400
    message = leaked.json()["errors"][0]["message"]
    assert "John" not in message and "617" not in message and "protected health" in message
    text = "Night shifts disturb sleep; short naps help some nurses."
    clean = _send(
        client, headers, title="Sleep on night shifts", channel="clinical", body_markdown=text
    )
    assert clean.status_code == 201, clean.content


def test_the_web_form_applies_the_same_clinical_rule(client, author):
    client.force_login(author)
    response = client.post(
        "/posts/new/", {"title": "Ward notes", "body_markdown": "x", "channel": "clinical"}
    )
    assert response.status_code == 200 and "write clinical posts" in response.content.decode()
    assert not Post.objects.filter(title="Ward notes").exists()


def test_imports_apply_the_same_clinical_rule(client, author):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from posts.models import ImportJob

    client.force_login(author)
    upload = SimpleUploadedFile("notes.md", b"# Ward notes\n\nText.", content_type="text/markdown")
    response = client.post("/posts/import/", {"file": upload, "channel": "clinical"})
    assert response.status_code == 200 and "import clinical posts" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_numbers_are_not_text_and_wrong_addresses_answer_in_json(client, admin_user, author):
    headers = _key(admin_user, author)
    refused = _send(client, headers, title="Tags", tags=[0])
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "tags.0"
    assert _send(client, headers, title=12).json()["errors"][0]["field"] == "title"
    # A POST to no endpoint is a JSON 404, not Django's CSRF page.
    missing = Client(enforce_csrf_checks=True).post("/api/v1/drafts/nope/submit/", **headers)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "not_found"
