"""`manage.py generate`: a draft and its citations on the terminal."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from generation.models import GenerationRun
from posts.services.embedding import posts_embed
from tests.posts.factories import make_post

pytestmark = pytest.mark.django_db

TEA = "## Tea\n\nGreen tea in the afternoon keeps me calm; the ritual matters more than the leaf."


def test_generate_prints_the_draft_its_citations_and_where_it_was_saved(author, tiny_model_dir):
    post = make_post(author, title="Tea", body_markdown=TEA, status="published")
    posts_embed(post_ids=[post.id])
    out = StringIO()

    call_command(
        "generate", "--topic", "afternoon tea", "--as", author.email, "--stream",
        "--base-model", str(tiny_model_dir), "--max-new-tokens", "16", "--seed", "1", stdout=out,
    )  # fmt: skip

    run = GenerationRun.objects.get()
    text = out.getvalue()
    assert run.output in text and f"[1] Tea (post {post.id})" in text
    assert f"draft saved as post #{run.post_id}" in text


def test_generate_refuses_an_unknown_user_and_a_channel_the_user_may_not_use(author):
    with pytest.raises(CommandError, match="No user"):
        call_command("generate", "--topic", "tea", "--as", "nobody@example.com")
    with pytest.raises(CommandError, match="may not ask"):
        call_command("generate", "--topic", "tea", "--as", author.email, "--channel", "clinical")
