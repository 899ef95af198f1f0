"""What a newcomer does on the first day: search the blog, write and submit a draft, and have
an editor approve and publish it, in a real browser."""

import time

import pytest

from accounts.roles import Role
from posts.models import Chunk, Post
from posts.services.embedding import post_embed
from tests.accounts.factories import UserFactory
from tests.posts.factories import make_post

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_search_write_submit_approve_publish(sign_in, live_server, celery_worker_process) -> None:  # noqa: ANN001
    author = UserFactory(roles=[Role.AUTHOR])
    editor = UserFactory(roles=[Role.EDITOR])
    night = make_post(
        author, title="When Worry Wakes You", status=Post.Status.PUBLISHED,
        body_markdown="## Why 3 a.m. feels worse\n\nThe small hours magnify every fear. "
        "Get up, write the worry down, go back to bed when sleepy.",
    )  # fmt: skip
    post_embed(post_id=night.id)

    page = sign_in(author)
    page.click("nav >> text=Search")
    page.fill("input[name=q]", "I keep waking up anxious at night")
    page.click("button:has-text('Search')")
    page.wait_for_selector(".hit")
    assert page.inner_text(".hit h3") == "When Worry Wakes You"

    page.click("nav >> text=Posts")
    page.click("text=New post")
    page.fill("#id_title", "Rest is a skill")
    page.fill("#id_tags", "sleep")
    page.fill("#id_body_markdown", "## Learning to rest\n\nMost of us were taught to *stop*.")
    page.wait_for_selector("#preview em")  # the live preview rendered the Markdown
    assert "words" in page.inner_text("#preview")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Draft created.")
    page.click("text=View post")
    page.click("button:has-text('Submit for review')")
    page.wait_for_selector("text=is now in review")

    review = sign_in(editor)
    review.click("text=Rest is a skill")  # from the review queue on the dashboard
    review.wait_for_selector(".diff")
    review.click("button:has-text('Approve')")
    review.wait_for_selector("text=is now approved")
    review.click("button:has-text('Publish now')")
    review.wait_for_selector("text=is now published")
    post = Post.objects.get(title="Rest is a skill")
    assert post.status == Post.Status.PUBLISHED and post.editor_approved_by == editor
    # The worker embeds the published post, so search finds it (and is done before teardown).
    deadline = time.monotonic() + 90
    while not Chunk.objects.filter(post=post).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert Chunk.objects.filter(post=post).exists()
