"""The draft-quality benchmark of a version (training/services/quality.py) on the tiny model:
held-out briefs through the real workflow, four setups, stored on the version, scores only."""

import json

import pytest

from generation import quality
from generation.retrievers import ChunkRetriever
from posts.models import Post
from posts.services.embedding import posts_embed
from tests.posts.factories import make_post
from tests.training.factories import ModelVersionFactory
from training.services.quality import (
    DraftQualityError,
    draft_quality_compare,
    draft_quality_report,
    model_version_quality_evaluate,
    model_version_quality_queue,
    quality_brief,
)

pytestmark = pytest.mark.django_db

HELD_OUT = (
    "## Three in the morning\n\nThe worry that wakes me is never the one I went to bed with. "
    "I keep a notebook by the bed and write it down, and then I can sleep again."
)
TRAIN = (
    "## Tea at dusk\n\nA cup of chamomile after dinner tells my body the day is done. "
    "The ritual matters more than the leaf, and the notebook waits on the pillow."
)


@pytest.fixture
def blog(author) -> dict[str, Post]:  # noqa: ANN001
    held = make_post(
        author, status=Post.Status.PUBLISHED, title="When worry wakes you",
        body_markdown=HELD_OUT, excerpt="A notebook by the bed.",
    )  # fmt: skip
    train = make_post(
        author, status=Post.Status.PUBLISHED, title="Tea at dusk", body_markdown=TRAIN
    )
    # A post's split comes from its uid; these two are set, so each test knows which is held out.
    Post.objects.filter(id=held.id).update(split=Post.Split.VALIDATION)
    Post.objects.filter(id=train.id).update(split=Post.Split.TRAIN)
    posts_embed(post_ids=[held.id, train.id])
    return {"held": held, "train": train}


def test_the_brief_is_the_posts_title_excerpt_and_tags_within_what_the_tokens_can_write(blog):
    brief = quality_brief(blog["held"], max_new_tokens=20)

    assert brief["topic"] == "When worry wakes you"
    assert brief["outline"] == "A notebook by the bed."
    assert brief["length"] == 14  # 20 tokens write about 14 words, fewer than the post's


def test_retrieval_for_a_held_out_brief_never_finds_the_post_itself(blog):
    query = "When worry wakes you: a notebook by the bed"
    found = ChunkRetriever(channel="general", k=4).invoke(query)
    hidden = ChunkRetriever(channel="general", k=4, exclude_post_ids=(blog["held"].id,)).invoke(
        query
    )

    assert blog["held"].id in {d.metadata["post_id"] for d in found}
    assert hidden and blog["held"].id not in {d.metadata["post_id"] for d in hidden}


def test_a_versions_benchmark_writes_four_setups_and_stores_scores_only(
    blog, author, tiny_model_dir, tiny_adapter, settings
):  # noqa: ANN001
    from training.storage import default_storage

    settings.MODEL_CACHE_DIR = str(tiny_adapter.parent / "models")
    uri = default_storage().put_dir(tiny_adapter, "general/versions/quality-test/adapter")
    version = ModelVersionFactory(base_model=str(tiny_model_dir), adapter_uri=uri)
    version.dataset.author_ids = [author.id]
    version.dataset.save()

    version = model_version_quality_evaluate(version=version, briefs=3, max_new_tokens=12)

    version.refresh_from_db()
    report = version.draft_quality
    assert [row["label"] for row in report["rows"]] == [label for label, *_ in quality.SETUPS]
    assert report["post_ids"] == [blog["held"].id]  # the one held-out post
    assert all(row["drafts"] == 1 for row in report["rows"])
    full = report["rows"][-1]
    assert {key for key, *_ in quality.COLUMNS} <= set(full)
    assert 0 <= full["rouge_l"] <= 1 and full["seconds"] > 0 and full["tokens_per_s"] > 0
    assert version.draft_quality_at is not None
    stored = json.dumps(report)
    assert "notebook by the bed and write" not in stored  # no draft or post text is kept
    compared = draft_quality_compare(version, None)
    assert compared[0]["header"] == "BLEU" and compared[0]["active"] == "—"


def test_without_an_adapter_only_the_base_rows_are_written(blog, author, tiny_model_dir):
    report = draft_quality_report(
        channel="general", base_model=str(tiny_model_dir), adapter=None,
        author_ids=[author.id], briefs=1, max_new_tokens=8,
    )  # fmt: skip

    assert [row["label"] for row in report["rows"]] == [
        quality.BASE_PROMPT_ONLY,
        quality.BASE_RETRIEVAL,
    ]
    assert report["adapter"] is None


def test_a_channel_with_nothing_held_out_says_so(author, tiny_model_dir):
    post = make_post(author, status=Post.Status.PUBLISHED, body_markdown=TRAIN)
    Post.objects.filter(id=post.id).update(split=Post.Split.TRAIN)

    with pytest.raises(DraftQualityError, match="no published held-out"):
        draft_quality_report(
            channel="general", base_model=str(tiny_model_dir), adapter=None,
            author_ids=[author.id], briefs=1, max_new_tokens=8,
        )  # fmt: skip


def test_a_new_version_queues_its_benchmark_once_the_transaction_commits(
    django_capture_on_commit_callbacks, monkeypatch
):  # noqa: ANN001
    from training import tasks

    queued = []
    monkeypatch.setattr(tasks.model_version_quality_evaluate_task, "delay", queued.append)
    version = ModelVersionFactory()

    with django_capture_on_commit_callbacks(execute=True):
        model_version_quality_queue(version=version)
        assert queued == []

    assert queued == [version.id]


def test_the_command_prints_the_base_rows_when_the_channel_has_no_version(
    blog, tiny_model_dir, settings
):  # noqa: ANN001
    from io import StringIO

    from django.core.management import call_command

    settings.BASE_MODEL = str(tiny_model_dir)
    out = StringIO()

    call_command("evaluate_drafts", "general", "--briefs", "1", "--tokens", "8", stdout=out)

    text = out.getvalue()
    assert "no model version: base rows only" in text
    assert "base prompt-only" in text and "base + retrieval" in text and "tuned" not in text
    assert "n/a   full workflow: no meta-talk" in text  # no full-workflow row to judge
