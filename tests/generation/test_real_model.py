"""The one drafting check on the real base model: on the demo blog, the brief that once came back
as task talk and "sleep, sleep, sleep" (issue 13) now gives a draft with neither, that ends on a
whole sentence. Slow (about a minute on 2 CPU cores once the model cache holds the dequantised
GGUF), so it is marked `real_model`."""

import re

import pytest

from accounts.roles import Role
from blogllm.demo import seed_demo_posts
from generation import cleaning, quality
from generation.services.execute import generation_run_execute
from generation.services.runs import generation_run_start
from posts.services.embedding import posts_embed_all
from tests.accounts.factories import UserFactory

pytestmark = [pytest.mark.real_model, pytest.mark.django_db]

BRIEF = {"topic": "Sleep when worry keeps you awake", "length": 150}


def test_a_demo_draft_has_no_task_talk_and_no_loops_and_ends_whole() -> None:
    author = UserFactory(roles=[Role.AUTHOR])
    seed_demo_posts(author)
    posts_embed_all()
    run = generation_run_start(
        channel="general", brief=BRIEF, by=author, sampling={"max_new_tokens": 200, "seed": 1},
        enqueue=False,
    )  # fmt: skip

    run = generation_run_execute(run_id=run.id)

    assert run.status in ("succeeded", "needs_review"), run.traceback
    body = run.post.body_markdown.partition("\n\n## Sources\n")[0]
    draft = re.sub(r"\[\\\[(\d+)\\\]\]\([^)]*\)", r"[\1]", body)  # links back to [n]
    assert len(cleaning.words(draft)) >= 40, draft
    assert cleaning.meta_talk(draft) == [], draft
    assert not quality.has_ngram_loop(draft), draft
    assert cleaning.ends_whole(draft), draft
    assert run.sources and run.sources[0]["post_id"]  # grounded in the author's own posts
