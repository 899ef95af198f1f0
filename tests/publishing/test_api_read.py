"""The read API: only published posts, key rules, throttling, the error shape, queries."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from posts.models import Post
from publishing.services.keys import api_key_create, api_key_revoke
from tests.posts.factories import make_post

pytestmark = pytest.mark.django_db
S = Post.Status


def _published(author, **fields):
    fields.setdefault("published_at", timezone.now())
    return make_post(author, status=S.PUBLISHED, **fields)


@pytest.fixture
def every_state(author):
    """One post in each state; only the published one may ever show."""
    for status in (S.DRAFT, S.IN_REVIEW, S.APPROVED, S.ARCHIVED):
        make_post(author, status=status, title=f"Hidden {status}", slug=f"hidden-{status}")
    scheduled = make_post(author, status=S.APPROVED, title="Scheduled", slug="scheduled")
    Post.objects.filter(id=scheduled.id).update(scheduled_at=timezone.now() + timedelta(days=1))
    return _published(author, title="Out there", slug="out-there", tags=["Sleep"])


def test_the_list_and_details_show_published_posts_only(client, every_state):
    body = client.get("/api/v1/posts/").json()
    assert [p["slug"] for p in body["results"]] == ["out-there"]
    for status in (S.DRAFT, S.IN_REVIEW, S.APPROVED, S.ARCHIVED):
        response = client.get(f"/api/v1/posts/hidden-{status}/")
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not_found"
    assert client.get("/api/v1/posts/scheduled/").status_code == 404
    for query in ("tag=sleep", "channel=general", "published_after=2000-01-01T00:00:00Z"):
        slugs = [p["slug"] for p in client.get(f"/api/v1/posts/?{query}").json()["results"]]
        assert slugs == ["out-there"], query


def test_a_post_carries_both_bodies_reading_time_and_provenance(client, every_state):
    post = client.get("/api/v1/posts/out-there/").json()
    assert post["body_markdown"].startswith("## Why we wake")
    assert "<h2>Why we wake</h2>" in post["body_html"]
    assert post["tags"] == ["sleep"] and post["reading_minutes"] == 1
    assert post["canonical_url"].endswith("/api/v1/posts/out-there/")
    assert post["provenance"] == {
        "ai_assisted": False, "model": None, "sources": [], "edit_distance": None,
        "clinical_grounding": None,
    }  # fmt: skip


@override_settings(PUBLIC_POST_URL="https://blog.example.com/{slug}/")
def test_canonical_urls_follow_the_site_setting(client, every_state):
    post = client.get("/api/v1/posts/out-there/").json()
    assert post["canonical_url"] == "https://blog.example.com/out-there/"


def test_cursor_pages_are_stable_and_link_to_each_other(client, author):
    now = timezone.now()
    for n in range(5):
        _published(author, title=f"Post {n}", slug=f"post-{n}", published_at=now)
    first = client.get("/api/v1/posts/?page_size=2").json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    seen = [p["slug"] for page in (first, second, third) for p in page["results"]]
    # Same publication time for all: the id breaks the tie, so nothing repeats or goes missing.
    assert sorted(seen) == [f"post-{n}" for n in range(5)] and len(set(seen)) == 5
    assert third["next"] is None and second["previous"]


def test_bad_filters_and_unknown_parameters_are_refused_field_by_field(client, every_state):
    response = client.get("/api/v1/posts/?channel=secret")
    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("channel", "invalid_choice")
    ]
    response = client.get("/api/v1/posts/?sort=title")  # a typo must not be ignored
    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("sort", "unknown_field")
    ]


def test_the_list_costs_the_same_queries_for_one_post_or_twenty(
    client, author, django_assert_max_num_queries
):
    _published(author, slug="only", tags=["a", "b"])
    with django_assert_max_num_queries(4):
        client.get("/api/v1/posts/")
    for n in range(20):
        _published(author, slug=f"more-{n}", tags=["a", f"t{n}"])
    with django_assert_max_num_queries(4):
        assert len(client.get("/api/v1/posts/").json()["results"]) == 20


@override_settings(API_PUBLIC=False)
def test_a_private_api_needs_a_valid_key_with_the_read_scope(
    client, admin_user, author, every_state
):
    assert client.get("/api/v1/posts/").status_code == 401
    _, reader = api_key_create(by=admin_user, user=author, scopes=["posts:read"])
    key, writer = api_key_create(by=admin_user, user=author, scopes=["drafts:write"])
    assert client.get("/api/v1/posts/", HTTP_AUTHORIZATION=f"Bearer {reader}").status_code == 200
    response = client.get("/api/v1/posts/", HTTP_AUTHORIZATION=f"Bearer {writer}")
    assert response.status_code == 403 and "posts:read" in response.json()["errors"][0]["message"]
    api_key_revoke(by=admin_user, key=key)
    assert client.get("/api/v1/posts/", HTTP_AUTHORIZATION=f"Bearer {writer}").status_code == 401


def test_a_bad_key_is_refused_even_on_the_public_api(client, every_state):
    response = client.get("/api/v1/posts/", HTTP_AUTHORIZATION="Bearer bllm_nope")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "authentication_failed"


@override_settings(API_RATE_PER_IP=3)
def test_throttling_answers_429_with_retry_after(client, every_state):
    for _ in range(3):
        assert client.get("/api/v1/posts/").status_code == 200
    response = client.get("/api/v1/posts/")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["errors"][0]["code"] == "throttled"


def test_other_methods_and_paths_answer_in_the_error_shape(client, every_state):
    response = client.delete("/api/v1/posts/out-there/")
    assert response.status_code == 405 and response.json()["errors"][0]["code"]
    assert client.get("/api/v1/nowhere/").json()["errors"][0]["code"] == "not_found"
    assert client.get("/api/v2/posts/").status_code == 404


@override_settings(API_MAX_BODY_BYTES=1024)
def test_a_body_over_the_limit_gets_413(client, every_state):
    response = client.post("/api/v1/posts/", data="x" * 2048, content_type="application/json")
    assert response.status_code == 413


def test_the_schema_and_its_docs_page_are_served_without_a_cdn(client):
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    document = schema.json()
    assert {"/api/v1/posts/", "/api/v1/posts/{slug}/"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    parameters = {p["name"] for p in document["paths"]["/api/v1/posts/"]["get"]["parameters"]}
    assert {"tag", "channel", "published_after", "cursor", "fields"} <= parameters
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200 and b"cdn" not in docs.content.lower()


def test_details_answer_304_to_a_current_etag_and_200_after_a_change(client, every_state):
    first = client.get("/api/v1/posts/out-there/")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = client.get("/api/v1/posts/out-there/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    since = client.get("/api/v1/posts/out-there/", HTTP_IF_MODIFIED_SINCE=modified)
    assert since.status_code == 304
    Post.objects.filter(id=every_state.id).update(title="Renamed", updated_at=timezone.now())
    changed = client.get("/api/v1/posts/out-there/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed.json()["title"] == "Renamed"


def test_lists_change_their_etag_when_a_post_is_published_or_withdrawn(client, author, every_state):
    etag = client.get("/api/v1/posts/").headers["ETag"]
    assert client.get("/api/v1/posts/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    _published(author, slug="newer")
    assert client.get("/api/v1/posts/", HTTP_IF_NONE_MATCH=etag).status_code == 200
    etag = client.get("/api/v1/posts/").headers["ETag"]
    Post.objects.filter(slug="newer").update(status=S.ARCHIVED)
    assert client.get("/api/v1/posts/", HTTP_IF_NONE_MATCH=etag).status_code == 200
    # Another page or filter is another resource with its own tag.
    assert client.get("/api/v1/posts/?tag=sleep").headers["ETag"] != etag


def test_head_works_and_carries_the_validators(client, every_state):
    response = client.head("/api/v1/posts/out-there/")
    assert response.status_code == 200 and response.headers["ETag"]
    assert response.content == b""


def test_field_selection_returns_only_the_fields_asked_for(client, every_state):
    listed = client.get("/api/v1/posts/?fields=title,slug").json()["results"]
    assert listed == [{"title": "Out there", "slug": "out-there"}]
    detail = client.get("/api/v1/posts/out-there/?fields=excerpt").json()
    assert detail == {"excerpt": ""}
    response = client.get("/api/v1/posts/?fields=title,status")  # no such field: say so
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "fields"


def test_search_finds_published_posts_only_best_first(client, author):
    from posts.services.embedding import post_embed

    waking = "Waking at 3 a.m. and the worry that comes with it."
    sleep = _published(author, title="Night waking", slug="night-waking", body_markdown=waking)
    bread = "Feeding a starter and baking bread at home."
    _published(author, title="Sourdough", slug="sourdough", body_markdown=bread)
    draft = "Waking at 3 a.m. again, in a draft."
    hidden = make_post(author, title="Waking draft", slug="waking-draft", body_markdown=draft)
    for post in (sleep, Post.objects.get(slug="sourdough"), hidden):
        post_embed(post_id=post.id)
    results = client.get("/api/v1/posts/?q=waking at night").json()["results"]
    slugs = [p["slug"] for p in results]
    assert slugs[0] == "night-waking" and "waking-draft" not in slugs


def test_ordering_is_a_choice_of_stable_orders(client, author):
    now = timezone.now()
    _published(author, slug="older", published_at=now - timedelta(days=2))
    _published(author, slug="newer", published_at=now)
    oldest_first = client.get("/api/v1/posts/?ordering=published_at").json()["results"]
    assert [p["slug"] for p in oldest_first] == ["older", "newer"]
    assert client.get("/api/v1/posts/?ordering=title").status_code == 400


def test_tags_and_authors_count_published_posts_and_never_show_an_email(client, author, editor):
    _published(author, slug="a", tags=["sleep", "worry"])
    make_post(editor, slug="draft-only", tags=["secret plans"])
    tags = client.get("/api/v1/tags/").json()
    assert tags == [{"name": "sleep", "post_count": 1}, {"name": "worry", "post_count": 1}]
    authors = client.get("/api/v1/authors/")
    assert authors.json() == [{"id": author.id, "name": author.get_full_name(), "post_count": 1}]
    assert author.email.encode() not in authors.content
    etag = authors.headers["ETag"]
    assert client.get("/api/v1/authors/", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_the_schema_documents_the_page_shape_and_every_error_an_endpoint_gives(client):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    listed = paths["/api/v1/posts/"]["get"]["responses"]
    assert {"200", "304", "400", "401", "403", "429"} <= set(listed)
    page = listed["200"]["content"]["application/json"]["schema"]["$ref"]
    assert page.endswith("/PostPage")  # next/previous/results, as the cursor pages answer
    edit = paths["/api/v1/drafts/{post_id}/"]["patch"]["responses"]
    assert {"200", "404", "409", "412", "413", "415", "428"} <= set(edit)
