"""The editor's pages: wiring, permissions, status codes, conflicts and query counts."""

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from posts.models import Post
from tests.posts.factories import make_post

S = Post.Status


def test_the_post_list_shows_authors_their_own_and_published_posts(client, author, editor) -> None:  # noqa: ANN001
    mine = make_post(author, title="Mine")
    others_draft = make_post(editor, title="Editor's draft")
    published = make_post(editor, title="Out there", status=S.PUBLISHED)
    client.force_login(author)
    titles = [p.title for p in client.get(reverse("posts:list")).context["page"]]
    assert set(titles) == {mine.title, published.title}
    assert others_draft.title not in titles


def test_the_post_list_runs_a_fixed_number_of_queries(
    client, editor, author, django_assert_max_num_queries
) -> None:  # noqa: ANN001
    for n in range(30):
        make_post(author, title=f"Post {n}", tags=["sleep", f"t{n}"])
    client.force_login(editor)
    with django_assert_max_num_queries(12):  # not one per post: authors and tags are prefetched
        response = client.get(reverse("posts:list"))
    assert response.status_code == 200 and len(response.context["page"]) == 25


def test_filters_narrow_the_list(client, editor, author) -> None:  # noqa: ANN001
    make_post(author, title="About sleep", tags=["sleep"])
    make_post(author, title="About fees", tags=["practice"], status=S.PUBLISHED)
    client.force_login(editor)
    page = client.get(reverse("posts:list"), {"tag": "sleep"}).context["page"]
    assert [p.title for p in page] == ["About sleep"]
    page = client.get(reverse("posts:list"), {"status": "published"}).context["page"]
    assert [p.title for p in page] == ["About fees"]


def test_an_author_writes_a_draft_and_submits_it(client, author) -> None:  # noqa: ANN001
    client.force_login(author)
    form = {
        "title": "Burnout",
        "body_markdown": "## Signs\n\nTired of caring.",
        "tags": "burnout, work",
        "channel": "general",
    }
    response = client.post(reverse("posts:new"), form)
    post = Post.objects.get(title="Burnout")
    assert response.url == reverse("posts:edit", args=[post.id])
    response = client.post(reverse("posts:action", args=[post.id, "submit"]))
    post.refresh_from_db()
    assert post.status == S.IN_REVIEW
    assert response.url == reverse("posts:detail", args=[post.id])


def test_an_editor_reviews_with_a_diff_and_approves_and_publishes(client, author, editor) -> None:  # noqa: ANN001
    post = make_post(author, body_markdown="Old words here.")
    from posts.services.editing import post_update

    post = post_update(
        post_id=post.id, by=author, expected_version=1, title=post.title,
        body_markdown="New words here.", excerpt="", tags=[],
    )  # fmt: skip
    Post.objects.filter(id=post.id).update(status=S.IN_REVIEW)
    client.force_login(editor)
    page = client.get(reverse("posts:review", args=[post.id]))
    assert page.status_code == 200
    assert "<del>Old</del><ins>New</ins>" in page.context["diff"]
    client.post(reverse("posts:action", args=[post.id, "approve"]), {"comment": "Good"})
    client.post(reverse("posts:action", args=[post.id, "publish"]))
    post.refresh_from_db()
    assert post.status == S.PUBLISHED


def test_a_refused_transition_is_explained_not_crashed(client, author) -> None:  # noqa: ANN001
    post = make_post(author)
    client.force_login(author)
    response = client.post(reverse("posts:action", args=[post.id, "publish"]), follow=True)
    assert response.status_code == 200
    assert "needs it approved" in response.content.decode()
    assert Post.objects.get(id=post.id).status == S.DRAFT


def test_a_stale_save_keeps_the_users_text_and_shows_the_conflict(client, author, editor) -> None:  # noqa: ANN001
    post = make_post(author, body_markdown="Original.")
    client.force_login(editor)
    client.post(
        reverse("posts:edit", args=[post.id]),
        {"title": post.title, "body_markdown": "The editor saved first.", "version": 1, "tags": ""},
    )
    client.force_login(author)
    response = client.post(
        reverse("posts:edit", args=[post.id]),
        {"title": post.title, "body_markdown": "My careful rewrite.", "version": 1, "tags": ""},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "My careful rewrite." in html  # the user's text is still in the form
    assert "Someone saved this post" in html
    assert Post.objects.get(id=post.id).body_markdown == "The editor saved first."
    # Saving again, knowingly, over the current version works.
    client.post(
        reverse("posts:edit", args=[post.id]),
        {"title": post.title, "body_markdown": "My careful rewrite.", "version": 2, "tags": ""},
    )
    assert Post.objects.get(id=post.id).body_markdown == "My careful rewrite."


def test_autosave_answers_with_the_new_version(client, author) -> None:  # noqa: ANN001
    post = make_post(author)
    client.force_login(author)
    response = client.post(
        reverse("posts:autosave", args=[post.id]),
        {"title": post.title, "body_markdown": "Typing…", "version": 1, "tags": ""},
        headers={"HX-Request": "true"},
    )
    assert b"Saved version 2" in response.content and b'value="2"' in response.content


def test_the_preview_is_rendered_and_sanitised(client, author) -> None:  # noqa: ANN001
    client.force_login(author)
    response = client.post(
        reverse("posts:preview"), {"body_markdown": "# Hi\n\n<script>x</script> word"}
    )
    assert b"<h1>Hi</h1>" in response.content and b"<script>" not in response.content
    assert b"2 words" in response.content  # "Hi" and "word": no markup, no script


@pytest.mark.parametrize("url_name", ["posts:import", "posts:new"])
def test_people_without_a_writing_role_cannot_write_or_import(client, outsider, url_name) -> None:  # noqa: ANN001
    client.force_login(outsider)
    assert client.get(reverse(url_name)).status_code == 403


def test_only_reviewers_see_the_corpus_page(client, author, editor) -> None:  # noqa: ANN001
    client.force_login(author)
    assert client.get(reverse("posts:corpus")).status_code == 403
    client.force_login(editor)
    assert client.get(reverse("posts:corpus")).status_code == 200


def test_an_author_cannot_open_someone_elses_draft(client, author, editor) -> None:  # noqa: ANN001
    post = make_post(editor)
    client.force_login(author)
    assert client.get(reverse("posts:detail", args=[post.id])).status_code == 404


def test_authors_cannot_search_the_clinical_channel(client, author) -> None:  # noqa: ANN001
    client.force_login(author)
    response = client.get(reverse("posts:search"), {"q": "sleep", "channel": "clinical"})
    assert response.status_code == 403


def test_the_dashboard_shows_the_review_queue_to_editors(client, author, editor) -> None:  # noqa: ANN001
    waiting = make_post(author, title="Waiting for you", status=S.IN_REVIEW)
    client.force_login(editor)
    page = client.get(reverse("home"))
    assert waiting in page.context["posts"]["review_queue"]
    client.force_login(author)
    assert client.get(reverse("home")).context["posts"]["review_queue"] == []


def test_clinical_review_queue_for_officers(client, author, officer) -> None:  # noqa: ANN001
    Authenticator.objects.create(user=officer, type=Authenticator.Type.TOTP, data={"secret": "x"})
    clinical = make_post(
        author, title="Clinical", channel=Post.Channel.CLINICAL, status=S.IN_REVIEW
    )
    make_post(author, title="General", status=S.IN_REVIEW)
    client.force_login(officer)
    assert client.get(reverse("home")).context["posts"]["review_queue"] == [clinical]


@pytest.mark.parametrize("url_name", ["posts:list", "posts:search"])
def test_roles_without_posts_do_not_see_them(client, admin_user, url_name) -> None:  # noqa: ANN001
    Authenticator.objects.create(
        user=admin_user, type=Authenticator.Type.TOTP, data={"secret": "x"}
    )
    client.force_login(admin_user)
    assert client.get(reverse(url_name)).status_code == 403


def test_search_results_show_each_post_once_with_its_best_passages(client, author) -> None:  # noqa: ANN001
    from posts.services.embedding import post_embed

    body = "\n\n".join(
        f"## Part {i}\n\n" + "Night worry keeps me awake at 3 a.m. " * 30 for i in range(4)
    )
    post = make_post(author, title="Long night", body_markdown=body, status=S.PUBLISHED)
    post_embed(post_id=post.id)
    client.force_login(author)
    results = client.get(reverse("posts:search"), {"q": "night worry"}).context["results"]
    assert [r["best"].post_id for r in results] == [post.id]
    assert len(results[0]["more"]) == 2


def test_textarea_line_endings_are_normalised(author) -> None:  # noqa: ANN001
    post = make_post(author, body_markdown="One.\r\n\r\nTwo.")
    assert post.body_markdown == "One.\n\nTwo."


def test_an_empty_or_oversized_upload_is_refused_with_a_reason(client, author, settings) -> None:  # noqa: ANN001
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(author)
    empty = SimpleUploadedFile("blog.xml", b"")
    response = client.post(reverse("posts:import"), {"file": empty, "channel": "general"})
    assert "The submitted file is empty." in response.content.decode()
    settings.UPLOAD_LIMITS_MB = {**settings.UPLOAD_LIMITS_MB, "export": 1}
    big = SimpleUploadedFile("blog.xml", b"x" * (2 * 1024 * 1024))
    response = client.post(reverse("posts:import"), {"file": big, "channel": "general"})
    assert "an export or feed file is limited to 1 MB" in response.content.decode()
