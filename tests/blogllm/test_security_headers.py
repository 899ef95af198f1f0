"""The headers an auditor checks first, on every main page: a Content-Security-Policy that lets
no inline script run without the response's nonce, Permissions-Policy and the usual others; and
pages whose markup keeps to that policy (no inline script or handler, every <style> nonced)."""

import re

import pytest
from django.utils import timezone

from generation.models import GenerationRun
from posts.models import Post
from tests.compliance.factories import make_note, with_totp
from tests.posts.factories import make_post
from tests.training.factories import ModelVersionFactory, TrainingRunFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(author, officer):  # noqa: ANN001, ANN201
    post = make_post(author, title="Sleep", body_markdown="Rest.")
    note = make_note(author)
    run = TrainingRunFactory(finished=True)
    version = ModelVersionFactory(run=run)
    draft = make_post(author, title="AI draft", source=Post.Source.AI_ASSISTED)
    generation = GenerationRun.objects.create(
        channel="general", brief={"topic": "Sleep"}, requested_by=author, base_model="m",
        status="succeeded", output="Rest.", post=draft, finished_at=timezone.now(),
    )  # fmt: skip
    return {"post": post, "note": note, "run": run, "version": version, "generation": generation}


PAGES = [
    ("editor", "/"),
    ("editor", "/posts/"),
    ("editor", "/posts/new/"),
    ("editor", "/posts/{post.id}/"),
    ("editor", "/posts/{post.id}/edit/"),
    ("editor", "/posts/search/?q=sleep"),
    ("editor", "/posts/import/"),
    ("editor", "/posts/corpus/"),
    ("editor", "/generate/"),
    ("editor", "/generate/runs/"),
    ("editor", "/generate/runs/{generation.id}/"),
    ("editor", "/generate/runs/{generation.id}/inspect/"),
    ("editor", "/generate/dashboard/"),
    ("editor", "/training/"),
    ("editor", "/training/runs/{run.id}/"),
    ("editor", "/training/models/"),
    ("editor", "/training/models/{version.id}/"),
    ("officer", "/compliance/notes/"),
    ("officer", "/compliance/notes/new/"),
    ("officer", "/compliance/notes/{note.uid}/"),
    ("officer", "/compliance/audit/"),
    ("admin_user", "/publishing/keys/"),
    ("admin_user", "/publishing/webhooks/"),
    ("admin_user", "/admin/"),
    (None, "/accounts/login/"),
    (None, "/api/v1/posts/"),
    (None, "/api/v1/docs/"),
]


def _policy(header: str) -> dict[str, list[str]]:
    directives = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.parametrize(("persona", "path"), PAGES)
def test_every_main_page_sends_the_security_headers_and_keeps_to_its_policy(
    request,
    client,
    objects,
    persona,
    path,  # noqa: ANN001
) -> None:
    if persona:
        user = request.getfixturevalue(persona)
        client.force_login(with_totp(user))  # officers and admins must have MFA set up
    response = client.get(path.format(**objects), secure=True)
    assert response.status_code == 200, (path, response.status_code)

    policy = _policy(response["Content-Security-Policy"])
    assert policy["script-src"][0] == "'self'" and "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert "camera=()" in response["Permissions-Policy"]
    assert "microphone=()" in response["Permissions-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"

    if not response["Content-Type"].startswith("text/html"):
        return
    html = response.content.decode()
    nonces = {v[len("'nonce-") : -1] for v in policy["script-src"] if v.startswith("'nonce-")}
    for tag in re.findall(r"<script\b[^>]*>", html):
        if 'type="application/json"' in tag:  # data for a script (json_script), never run
            continue
        nonce = re.search(r'nonce="([^"]+)"', tag)
        assert "src=" in tag or (nonce and nonce.group(1) in nonces), (path, tag)
    style_nonces = {v[len("'nonce-") : -1] for v in policy["style-src"] if v.startswith("'nonce-")}
    if "'unsafe-inline'" not in policy["style-src"]:  # the inspector's graph needs it there
        for tag in re.findall(r"<style\b[^>]*>", html):
            nonce = re.search(r'nonce="([^"]+)"', tag)
            assert nonce and nonce.group(1) in style_nonces, (path, tag)
    handlers = re.findall(r"<[^>]+\son[a-z]+\s*=", html)
    assert not handlers, (path, handlers[:3])  # inline handlers would be refused by the policy
    assert "javascript:" not in html.lower(), path
