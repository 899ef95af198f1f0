"""Writing: sanitised rendering, revisions, autosave, stale edits, tags and slugs."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied

from posts.models import Post, Revision
from posts.services.editing import StaleEditError, post_update
from tests.posts.factories import make_post


def update(post: Post, by, **changes):  # noqa: ANN001, ANN201
    fields = {
        "title": post.title,
        "body_markdown": post.body_markdown,
        "excerpt": post.excerpt,
        "tags": [t.name for t in post.tags.all()],
    }
    fields.update(changes)
    return post_update(post_id=post.id, by=by, expected_version=post.version, **fields)


def test_the_body_renders_to_sanitised_html(author) -> None:  # noqa: ANN001
    post = make_post(
        author,
        body_markdown=(
            "## Hello\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) "
            '<img src=x onerror="alert(1)"> **bold**'
        ),
    )
    assert "<h2>Hello</h2>" in post.body_html and "<strong>bold</strong>" in post.body_html
    assert "<script" not in post.body_html
    assert 'href="javascript:' not in post.body_html  # left as inert text, never a link
    assert "onerror" not in post.body_html


def test_word_count_and_reading_time(author) -> None:  # noqa: ANN001
    post = make_post(author, body_markdown="word " * 460)
    assert post.word_count == 460 and post.reading_minutes == 2


def test_every_save_keeps_a_revision(author) -> None:  # noqa: ANN001
    post = make_post(author)
    post = update(post, author, body_markdown="Second version.")
    post = update(post, author, title="New title")
    assert post.version == 3
    assert list(post.revisions.values_list("version", "title")) == [
        (3, "New title"), (2, "A post about sleep"), (1, "A post about sleep"),
    ]  # fmt: skip
    assert post.revisions.get(version=2).body_markdown == "Second version."


def test_saving_unchanged_content_adds_nothing(author) -> None:  # noqa: ANN001
    post = make_post(author)
    assert update(post, author).version == 1
    assert post.revisions.count() == 1


def test_autosaves_within_minutes_update_one_revision(author) -> None:  # noqa: ANN001
    post = make_post(author)
    post = update(post, author, body_markdown="typing…", autosave=True)
    post = update(post, author, body_markdown="typing more…", autosave=True)
    assert post.version == 3
    assert post.revisions.count() == 2  # the creation, and one coalesced autosave
    assert post.revisions.first().body_markdown == "typing more…"
    # A later autosave starts a new revision.
    Revision.objects.filter(post=post).update(saved_at=post.updated_at - timedelta(hours=1))
    post = update(post, author, body_markdown="after lunch", autosave=True)
    assert post.revisions.count() == 3


def test_a_stale_edit_is_refused_and_names_the_newer_version(author, editor) -> None:  # noqa: ANN001
    post = make_post(author)
    stale = Post.objects.get(id=post.id)
    update(post, author, body_markdown="The author's edit.")
    with pytest.raises(StaleEditError) as caught:
        update(stale, editor, body_markdown="The editor's edit, begun earlier.")
    assert caught.value.current.version == 2
    assert caught.value.current.body_markdown == "The author's edit."
    assert Post.objects.get(id=post.id).body_markdown == "The author's edit."  # nothing overwritten


def test_who_may_edit(author, editor, outsider) -> None:  # noqa: ANN001
    post = make_post(author)
    with pytest.raises(PermissionDenied):
        update(post, outsider, body_markdown="vandalism")
    post = update(post, editor, body_markdown="An editor may edit a draft.")
    Post.objects.filter(id=post.id).update(status=Post.Status.IN_REVIEW)
    post.refresh_from_db()
    with pytest.raises(PermissionDenied, match="in review"):
        update(post, author, body_markdown="Authors wait for the review.")
    Post.objects.filter(id=post.id).update(status=Post.Status.PUBLISHED)
    post.refresh_from_db()
    with pytest.raises(PermissionDenied, match="published"):
        update(post, editor, body_markdown="Published posts go back to draft first.")


def test_tags_are_normalised_and_slugs_stay_unique(author) -> None:  # noqa: ANN001
    first = make_post(author, title="Sleep", tags=["Sleep", " sleep ", "CBT  Basics"])
    second = make_post(author, title="Sleep")
    assert sorted(t.name for t in first.tags.all()) == ["cbt basics", "sleep"]
    assert (first.slug, second.slug) == ("sleep", "sleep-2")


def test_each_post_gets_a_stable_split(author) -> None:  # noqa: ANN001
    from posts import corpus

    post = make_post(author)
    assert post.split == corpus.split_for(str(post.uid))
