"""Importing into posts: the report, duplicates on re-import, cleaning, flags, jobs, command."""

import shutil
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from posts.importers import iter_import
from posts.models import ImportJob, Post
from posts.services.importing import estimate_items, import_items
from tests.conftest import ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
DEMO = ROOT / "posts" / "demo_corpus"


def outcomes(report) -> dict[str, int]:  # noqa: ANN001
    counts = {"imported": 0, "duplicate": 0, "skipped": 0}
    for line in report:
        counts[line.outcome] += 1
    return counts


def test_every_format_imports_and_bad_files_are_reported_not_fatal(author) -> None:  # noqa: ANN001
    report = import_items(iter_import(FIXTURES), by=author)
    counts = outcomes(report)
    assert counts["imported"] >= 10
    skipped = {line.source: line.detail for line in report if line.outcome == "skipped"}
    assert any("truncated.xml" in source for source in skipped)  # malformed XML
    assert any("binary.html" in source for source in skipped)
    assert any("broken-yaml" in source for source in skipped)
    assert all(detail for detail in skipped.values())  # every skip says why
    formats = set(Post.objects.values_list("import_format", flat=True))
    assert {"markdown", "wxr", "rss", "atom", "html"} <= formats


def test_imported_posts_keep_their_dates_titles_tags_and_slugs(author) -> None:  # noqa: ANN001
    import_items(iter_import(FIXTURES / "jekyll"), by=author)
    post = Post.objects.get(slug="hello-world")
    assert post.published_at.date().isoformat() == "2021-03-04"
    assert post.source == Post.Source.IMPORTED and post.status == Post.Status.PUBLISHED
    assert post.tags.exists() and post.title
    assert post.revisions.count() == 1


def test_reimporting_the_same_export_creates_no_duplicates(author) -> None:  # noqa: ANN001
    first = outcomes(import_items(iter_import(FIXTURES / "wordpress.xml"), by=author))
    count = Post.objects.count()
    second = outcomes(import_items(iter_import(FIXTURES / "wordpress.xml"), by=author))
    assert Post.objects.count() == count
    assert second["imported"] == 0 and second["duplicate"] == first["imported"]


def test_the_same_text_from_another_source_is_a_duplicate(author, tmp_path) -> None:  # noqa: ANN001
    body = "## Rest\n\n" + "Sleep is a skill you can practise, not a switch you can flip. " * 20
    (tmp_path / "a.md").write_text(f"---\ntitle: Rest\n---\n{body}")
    (tmp_path / "b.md").write_text(f"---\ntitle: Rest again\n---\n{body}\n\n")
    report = import_items(iter_import(tmp_path), by=author)
    assert [line.outcome for line in report] == ["imported", "duplicate"]
    assert "Same text as" in report[1].detail


def test_a_near_copy_is_imported_but_flagged(author, tmp_path) -> None:  # noqa: ANN001
    sentences = [f"Point {i}: worry shrinks when you write it down before bed." for i in range(40)]
    edited = [*sentences]
    edited[5] = "Point 5: a completely different sentence lives here now."
    (tmp_path / "a.md").write_text("---\ntitle: Original\n---\n" + " ".join(sentences))
    (tmp_path / "b.md").write_text("---\ntitle: Edited copy\n---\n" + " ".join(edited))
    report = import_items(iter_import(tmp_path), by=author)
    assert [line.outcome for line in report] == ["imported", "imported"]
    copy = Post.objects.get(title="Edited copy")
    assert copy.duplicate_of == Post.objects.get(title="Original")
    assert copy.duplicate_score >= 0.8
    assert "near-duplicate" in report[1].detail


def test_cleaning_repairs_text_and_contact_details_are_flagged(author, tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "p.md").write_text(
        "---\ntitle: Contact\n---\nDonâ€™t hesitate: call 555-123-4567 or write to "
        "me@example.org.\n\nShare this:\n\n- Twitter\n- Facebook\n"
    )
    import_items(iter_import(tmp_path), by=author)
    post = Post.objects.get(title="Contact")
    assert "Don't hesitate" in post.body_markdown and "Share this" not in post.body_markdown
    assert post.cleaning_changes
    assert {f["kind"] for f in post.contact_findings} == {"phone", "email"}


def test_the_split_comes_from_what_was_imported_so_every_import_holds_out_the_same_posts(
    author,
) -> None:  # noqa: ANN001
    from posts import corpus

    import_items(iter_import(DEMO), by=author)
    for post in Post.objects.all():
        assert post.split == corpus.split_for(post.import_key)
    held = set(Post.objects.filter(split="validation").values_list("slug", flat=True))
    assert held  # and, on a fresh database, the same slugs again:
    Post.objects.all().delete()
    import_items(iter_import(DEMO), by=author)
    assert set(Post.objects.filter(split="validation").values_list("slug", flat=True)) == held


def test_estimates_for_the_progress_bar(tmp_path) -> None:
    assert estimate_items(FIXTURES / "wordpress.xml") >= 5
    assert estimate_items(DEMO) == len(list(DEMO.glob("*.md")))
    archive = shutil.make_archive(str(tmp_path / "demo"), "zip", DEMO)
    assert estimate_items(Path(archive)) == len(list(DEMO.glob("*.md")))


def test_the_command_prints_a_line_per_item_and_totals(author) -> None:  # noqa: ANN001
    out = StringIO()
    call_command("import_posts", str(FIXTURES / "jekyll"), "--author", author.email, stdout=out)
    text = out.getvalue()
    assert "imported" in text and "skipped" in text and "Front matter" in text
    assert text.strip().splitlines()[-1].endswith("skipped.")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_upload_imports_in_the_background_with_progress(
    client, celery_worker_process, tmp_path
) -> None:  # noqa: ANN001
    from accounts.roles import Role
    from tests.accounts.factories import UserFactory

    author = UserFactory(roles=[Role.AUTHOR])
    archive = Path(shutil.make_archive(str(tmp_path / "blog"), "zip", DEMO))
    client.force_login(author)
    upload = SimpleUploadedFile("blog.zip", archive.read_bytes(), content_type="application/zip")
    response = client.post(reverse("posts:import"), {"file": upload, "channel": "general"})
    job = ImportJob.objects.get()
    assert response.url == reverse("posts:import_job", args=[job.id])
    assert job.items_total == len(list(DEMO.glob("*.md")))

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (ImportJob.Status.FINISHED, ImportJob.Status.FAILED):
            break
        time.sleep(0.5)
    assert job.status == ImportJob.Status.FINISHED, job.error
    assert job.imported == job.items_total and job.percent == 100
    assert not Path(job.stored_path).exists()  # the upload is removed once imported
    fragment = client.get(
        reverse("posts:import_job", args=[job.id]), headers={"HX-Request": "true"}
    )
    assert b'value="100"' in fragment.content and b"hx-trigger" not in fragment.content
    # The worker then embeds the new posts in batches; wait for it, so that the search works
    # and nothing still writes while the test's teardown empties the tables.
    while Post.objects.filter(embedded_hash="").exists() and time.monotonic() < deadline + 120:
        time.sleep(0.5)
    assert not Post.objects.filter(embedded_hash="").exists()
