"""Load shedding: a costly request past its limit is answered 503 with Retry-After at once;
AI drafts past the per-person or queue cap are refused with a sentence."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from blogllm import shedding
from generation.services.runs import generation_run_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_search_at_a_time(settings):  # noqa: ANN001, ANN201
    settings.SHED_LIMITS = {**settings.SHED_LIMITS, "search": 1}
    shedding._bulkheads.clear()
    yield shedding._bulkhead("search")
    shedding._bulkheads.clear()


def test_a_search_past_the_limit_is_shed_at_once_and_the_next_one_runs(
    client, editor, one_search_at_a_time
) -> None:  # noqa: ANN001
    client.force_login(editor)
    url = reverse("posts:search") + "?q=sleep"
    assert one_search_at_a_time.acquire(blocking=False)  # another thread's search is running
    try:
        busy = client.get(url)
    finally:
        one_search_at_a_time.release()
    assert busy.status_code == 503 and busy["Retry-After"] == "2"
    assert "try again in a moment" in busy.content.decode()
    assert client.get(url).status_code == 200


def test_an_autosave_is_never_shed(client, author, one_search_at_a_time) -> None:  # noqa: ANN001
    from tests.posts.factories import make_post

    post = make_post(author, title="Sleep")
    client.force_login(author)
    assert one_search_at_a_time.acquire(blocking=False)
    try:
        form = {"title": "Sleep well", "body_markdown": "Rest.", "version": post.version,
                "tags": "", "excerpt": "", "slug": post.slug}  # fmt: skip
        response = client.post(reverse("posts:autosave", args=[post.id]), form)
    finally:
        one_search_at_a_time.release()
    assert response.status_code == 200
    post.refresh_from_db()
    assert post.title == "Sleep well"


def test_drafts_past_the_per_person_cap_are_refused_with_a_sentence(author, settings) -> None:  # noqa: ANN001
    settings.GENERATION_MAX_ACTIVE_PER_USER = 2
    for _ in range(2):
        generation_run_start(channel="general", brief={"topic": "Tea"}, by=author, enqueue=False)
    with pytest.raises(ValidationError, match="You already have 2 drafts being written"):
        generation_run_start(channel="general", brief={"topic": "Tea"}, by=author, enqueue=False)


def test_drafts_past_the_queue_cap_are_refused_with_a_sentence(author, editor, settings) -> None:  # noqa: ANN001
    settings.GENERATION_QUEUE_MAX = 2
    generation_run_start(channel="general", brief={"topic": "Tea"}, by=author, enqueue=False)
    generation_run_start(channel="general", brief={"topic": "Tea"}, by=editor, enqueue=False)
    with pytest.raises(ValidationError, match="2 drafts are waiting for a worker"):
        generation_run_start(channel="general", brief={"topic": "Tea"}, by=editor, enqueue=False)
