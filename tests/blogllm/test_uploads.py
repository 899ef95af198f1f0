"""Uploads are capped by kind with a sentence that names the setting, and a post is capped in
words by every door: a 10 MB Markdown file no longer imports as one post of two million words."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from blogllm.uploads import upload_problem
from posts.importers import iter_import
from posts.models import ImportJob, Post
from posts.services.editing import post_create
from posts.services.importing import import_items

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("name", "size", "refusal"),
    [
        ("post.md", 10 * MB, "The file is 10 MB; a single Markdown, HTML or text file is limited "
                             "to 5 MB (BLOGLLM_MAX_DOCUMENT_MB)."),
        ("page.HTML", 6 * MB, "limited to 5 MB (BLOGLLM_MAX_DOCUMENT_MB)"),
        ("blog.xml", 300 * MB, "an export or feed file is limited to 256 MB (BLOGLLM_MAX_EXPORT"),
        ("note.docx", 21 * MB, "a Word document is limited to 20 MB (BLOGLLM_MAX_DOCX_MB)"),
        ("notes.csv", 257 * MB, "a CSV file is limited to 256 MB (BLOGLLM_MAX_CSV_MB)"),
        ("site.zip", 1025 * MB, "an archive is limited to 1024 MB (BLOGLLM_MAX_IMPORT_MB)"),
        ("empty.md", 0, "The file is empty."),
    ],
)  # fmt: skip
def test_each_kind_of_upload_has_its_own_limit(name: str, size: int, refusal: str) -> None:
    assert refusal in upload_problem(name, size)
    if size:
        assert upload_problem(name, 1000) is None


@pytest.mark.django_db
def test_a_huge_markdown_file_is_refused_at_the_upload_and_nothing_is_stored(
    client, author
) -> None:  # noqa: ANN001
    client.force_login(author)
    big = SimpleUploadedFile("everything.md", b"word " * (2 * MB + 100_000))
    response = client.post(reverse("posts:import"), {"file": big, "channel": "general"})
    assert response.status_code == 200
    assert "limited to 5 MB (BLOGLLM_MAX_DOCUMENT_MB)" in response.content.decode()
    assert not ImportJob.objects.exists() and not Post.objects.exists()


@pytest.mark.django_db
def test_an_over_long_post_is_skipped_in_an_import_and_the_others_go_in(
    author, tmp_path, settings
) -> None:  # noqa: ANN001
    settings.POST_MAX_WORDS = 1000
    (tmp_path / "short.md").write_text("---\ntitle: Short\n---\n\nA few words on sleep.\n")
    (tmp_path / "long.md").write_text("---\ntitle: Long\n---\n\n" + "word " * 1500 + "\n")
    report = {line.source: line for line in import_items(iter_import(tmp_path), by=author)}
    assert report["short.md"].outcome == "imported"
    assert report["long.md"].outcome == "skipped"
    assert (
        "1,500 words; a post may have at most 1,000 (BLOGLLM_POST_MAX_WORDS)"
        in report["long.md"].detail
    )
    assert list(Post.objects.values_list("title", flat=True)) == ["Short"]


@pytest.mark.django_db
def test_the_editor_and_the_api_refuse_an_over_long_post_too(client, author, settings) -> None:  # noqa: ANN001
    settings.POST_MAX_WORDS = 100
    with pytest.raises(ValidationError, match="at most 100"):
        post_create(author=author, title="Long", body_markdown="word " * 101)
    client.force_login(author)
    form = {"title": "Long", "body_markdown": "word " * 101, "tags": "", "channel": "general"}
    response = client.post(reverse("posts:new"), form)
    assert "a post may have at most 100" in response.content.decode()
    assert not Post.objects.exists()


@pytest.mark.django_db
def test_a_clinical_note_upload_is_capped_by_its_kind(client, settings) -> None:  # noqa: ANN001
    from tests.compliance.factories import make_officer

    client.force_login(make_officer())
    settings.UPLOAD_LIMITS_MB = {**settings.UPLOAD_LIMITS_MB, "document": 1}
    big = SimpleUploadedFile("ward.txt", b"Pt stable. " * (MB // 5))
    response = client.post(reverse("compliance:new"), {"kind": "upload", "upload-file": big})
    assert "a single Markdown, HTML or text file is limited to 1 MB" in response.content.decode()
