"""A newcomer asks for an AI draft in a real browser: it streams in, they open its citations and
its inspector, edit it and submit it for review. The worker writes with the real base model
(a few tokens, so it stays quick), hence the real_model mark."""

import pytest

from accounts.roles import Role
from generation.models import GenerationRun
from posts.models import Post
from posts.services.embedding import post_embed
from tests.accounts.factories import UserFactory
from tests.posts.factories import make_post

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.real_model,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_ask_watch_it_stream_open_citations_and_inspector_edit_and_submit(
    sign_in, live_server, celery_worker_process
) -> None:  # noqa: ANN001
    author = UserFactory(roles=[Role.AUTHOR])
    night = make_post(
        author, title="When Worry Wakes You", status=Post.Status.PUBLISHED,
        body_markdown="## Why 3 a.m. feels worse\n\nThe small hours magnify every fear. "
        "Get up, write the worry down, and go back to bed when you feel sleepy.",
    )  # fmt: skip
    post_embed(post_id=night.id)

    page = sign_in(author)
    page.click("nav >> text=Write with AI")
    page.fill("#id_topic", "Waking up worried at 3 a.m.")
    page.fill("#id_tone", "warm")
    page.click("summary:has-text('Advanced')")
    page.fill("#id_max_new_tokens", "24")
    page.fill("#id_seed", "1")
    page.click("button:has-text('Write the draft')")
    # The words appear in the live box as the worker writes them, then the page reloads.
    page.wait_for_selector("#draft-live")
    page.wait_for_function(
        "() => document.querySelector('#draft-live') === null"
        " || document.querySelector('#draft-live').textContent.length > 0",
        timeout=180_000,
    )
    page.wait_for_selector("text=Edit the draft", timeout=120_000)
    run = GenerationRun.objects.get()
    assert run.status in ("succeeded", "needs_review"), run.traceback
    assert run.new_tokens > 0 and page.inner_text("#draft").strip()

    # Its citations: the source list links to the post the retriever found.
    page.click(f"#source-1 >> text={night.title}")
    page.wait_for_selector(f"h1:has-text('{night.title}')")
    page.go_back()

    page.click("text=Inspect this run")
    page.wait_for_url(f"**/generate/runs/{run.id}/inspect/")
    # mermaid drew LangGraph's graph with the path taken; Chart.js drew one bar per step.
    page.wait_for_selector("#workflow-graph svg g.node")
    assert page.locator('#workflow-graph g.node.taken[id*="-flowchart-retrieve-"]').count() == 1
    timeline = "window.Chart && Chart.getChart(document.querySelector('#timeline canvas'))"
    page.wait_for_function(f"() => {timeline}")
    assert page.evaluate(f"{timeline}.data.labels.length") == run.steps.count()
    page.go_back()

    page.click("text=Edit the draft")
    body = page.locator("#id_body_markdown")
    body.fill(body.input_value() + "\n\nI wrote this last line myself.")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Saved")
    page.click("text=View post")
    page.click("button:has-text('Submit for review')")
    page.wait_for_selector("text=is now in review")
    draft = Post.objects.get(id=run.post_id)
    assert draft.status == Post.Status.IN_REVIEW and draft.source == Post.Source.AI_ASSISTED
    assert draft.body_markdown.endswith("I wrote this last line myself.")
