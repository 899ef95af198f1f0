"""The importers read earlier blog posts from files: plain parsing, no database."""

import io
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest

from posts.importers import ImportedPost, ImportSkip, archive, iter_import, iter_import_file, wxr
from posts.importers.common import parse_date, slugify
from posts.importers.wxr import strip_shortcodes, wpautop

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
ROOT = Path(__file__).resolve().parents[2]


def results(path: Path) -> list[ImportedPost | ImportSkip]:
    return list(iter_import(path))


def posts(path: Path) -> dict[str, ImportedPost]:
    """Imported posts by source_id."""
    return {r.source_id: r for r in results(path) if isinstance(r, ImportedPost)}


def skips(path: Path) -> dict[str, str]:
    """Skip reasons by source_name."""
    return {r.source_name: r.reason for r in results(path) if isinstance(r, ImportSkip)}


def write_wxr(path: Path, count: int) -> None:
    """A generated WordPress export of `count` published posts, written item by item."""
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"'
            ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
            ' xmlns:wp="http://wordpress.org/export/1.2/"><channel><title>Big</title>\n'
        )
        for n in range(count):
            out.write(
                f"<item><title>Post {n}</title><guid>https://big.example/?p={n}</guid>"
                f"<content:encoded><![CDATA[First paragraph {n}.\n\nSecond <b>bold</b>.]]>"
                f"</content:encoded><wp:post_id>{n}</wp:post_id>"
                "<wp:post_date_gmt>2020-01-01 00:00:00</wp:post_date_gmt>"
                "<wp:status>publish</wp:status><wp:post_type>post</wp:post_type></item>\n"
            )
        out.write("</channel></rss>\n")


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive_file:
        for name, data in members.items():
            archive_file.writestr(name, data)
    return path


# Markdown ----------------------------------------------------------------------------------


def test_a_jekyll_post_keeps_its_front_matter_fields() -> None:
    post = posts(FIXTURES / "jekyll")["_posts/2021-03-04-hello-world.md"]

    assert post.source_format == "markdown"
    assert post.source_name == "_posts/2021-03-04-hello-world.md"
    assert post.title == "Hello, World!"
    assert post.slug == "hello-world"  # from the Jekyll file name
    # "10:30 +0200" in the front matter is the same instant in UTC.
    assert post.published_at == datetime(2021, 3, 4, 8, 30, tzinfo=UTC)
    # Tags and categories, lowercased, stripped and de-duplicated in order.
    assert post.tags == ("python", "django", "notes", "web")
    assert post.excerpt == "My first post, at last."
    assert post.body_markdown == "This is my first post.\n\n## A section\n\n- one\n- two"
    assert post.is_draft is False


def test_a_jekyll_post_with_draft_true_or_published_false_is_a_draft() -> None:
    imported = posts(FIXTURES / "jekyll")

    assert imported["_posts/2021-05-06-second-thoughts.md"].is_draft is True
    assert imported["_posts/2022-01-02-third.md"].is_draft is True


def test_a_plain_date_in_front_matter_becomes_midnight_utc() -> None:
    post = posts(FIXTURES / "jekyll")["_posts/2021-05-06-second-thoughts.md"]

    assert post.published_at == datetime(2021, 5, 6, tzinfo=UTC)
    assert post.tags == ("writing", "drafts")  # a comma-separated string
    assert post.excerpt == "Still thinking."  # from description


def test_a_front_matter_slug_wins_over_the_file_name() -> None:
    assert posts(FIXTURES / "jekyll")["_posts/2022-01-02-third.md"].slug == "my-custom-slug"


def test_an_unreadable_date_leaves_published_at_empty_without_skipping_the_post() -> None:
    assert posts(FIXTURES / "jekyll")["_posts/2022-01-02-third.md"].published_at is None


def test_front_matter_that_is_not_valid_yaml_skips_the_file_with_the_yaml_error() -> None:
    reason = skips(FIXTURES / "jekyll")["_posts/2022-02-03-broken-yaml.md"]

    assert reason.startswith("Front matter is not valid YAML: did not find expected ','")
    assert reason.endswith("(line 4).")


def test_a_readme_without_front_matter_is_imported_with_its_first_heading_as_title() -> None:
    post = posts(FIXTURES / "jekyll")["README.md"]

    assert post.title == "My Old Blog"
    assert post.slug == "my-old-blog"
    # The heading became the title, so it does not open the body a second time.
    assert post.body_markdown == "The posts of my old Jekyll site, kept for the record."
    assert post.published_at is None


def test_a_markdown_file_without_heading_takes_its_title_from_the_file_name(
    tmp_path: Path,
) -> None:
    (tmp_path / "2019-07-08-summer-plans.md").write_text("Just a note.\n")

    (post,) = results(tmp_path)

    assert post.title == "summer plans"
    assert post.slug == "summer-plans"
    # Jekyll takes the date from the file name when the front matter has none.
    assert post.published_at == datetime(2019, 7, 8, tzinfo=UTC)


def test_a_text_file_is_a_post_only_with_front_matter(tmp_path: Path) -> None:
    (tmp_path / "LICENSE.txt").write_text("MIT License\n")
    (tmp_path / "post.txt").write_text("---\ntitle: From a txt\n---\nBody.\n")

    assert [r.source_name for r in results(tmp_path) if isinstance(r, ImportedPost)] == ["post.txt"]
    assert skips(tmp_path) == {"LICENSE.txt": "Text file without front matter, so not a blog post."}


def test_a_hugo_post_reads_yaml_lists_an_iso_date_and_a_summary() -> None:
    post = posts(FIXTURES / "hugo")["content/posts/hugo-bundle/index.md"]

    assert post.title == "A Hugo page bundle"
    assert post.published_at == datetime(2023, 4, 5, 8, 20, 30, tzinfo=UTC)
    assert post.tags == ("alps", "travel")
    assert post.excerpt == "Walking above the clouds."
    assert post.is_draft is False
    assert post.body_markdown.startswith("![Peak](peak.jpg)")


def test_hidden_files_and_macosx_folders_are_left_out_silently() -> None:
    names = [r.source_name for r in results(FIXTURES / "jekyll")]

    assert names == [
        "README.md",
        "_posts/2021-03-04-hello-world.md",
        "_posts/2021-05-06-second-thoughts.md",
        "_posts/2022-01-02-third.md",
        "_posts/2022-02-03-broken-yaml.md",
    ]


# WordPress ---------------------------------------------------------------------------------


def test_a_wordpress_export_imports_its_posts_with_their_fields() -> None:
    post = posts(FIXTURES / "wordpress.xml")["https://blog.example.org/?p=101"]

    assert post.source_format == "wxr"
    assert post.source_name == "wordpress.xml#item 1 (https://blog.example.org/?p=101)"
    assert post.title == "Winter & flu season"
    assert post.slug == "winter-flu-season"
    assert post.published_at == datetime(2019, 11, 12, 8, 15, tzinfo=UTC)
    assert post.excerpt == "How to get through flu season."
    assert post.is_draft is False


def test_wordpress_tags_and_categories_both_count_but_post_formats_do_not() -> None:
    post = posts(FIXTURES / "wordpress.xml")["https://blog.example.org/?p=101"]

    assert post.tags == ("health", "flu")


def test_wordpress_auto_paragraphs_and_shortcodes_become_clean_markdown() -> None:
    body = posts(FIXTURES / "wordpress.xml")["https://blog.example.org/?p=101"].body_markdown

    assert body.split("\n\n") == [
        # One newline inside a paragraph is a line break, as WordPress shows it.
        "Winter is coming, and so is the flu.  \nWash your hands.",
        # [caption] is gone, its image and text are kept; [gallery] is gone entirely.
        "![A sink](https://blog.example.org/wp-content/uploads/sink.jpg) Washing hands",
        "Get your shot early [sic].",  # plain brackets are not a shortcode
        "- Rest\n- Drink water",
    ]


def test_gutenberg_blocks_and_preformatted_text_survive_auto_paragraphs() -> None:
    post = posts(FIXTURES / "wordpress.xml")["https://blog.example.org/?p=202"]

    assert post.body_markdown == (
        "## Block editor\n\nParagraphs already have their tags.\n\n```\nline one\n\nline three\n```"
    )


def test_wpautop_wraps_loose_text_but_not_blocks() -> None:
    assert wpautop("One\n\nTwo\nlines\n\n<h2>Head</h2>") == (
        "<p>One</p>\n\n<p>Two<br />\nlines</p>\n\n<h2>Head</h2>"
    )


def test_nested_and_self_closing_shortcodes_are_removed_keeping_inner_text() -> None:
    html = '[row][col width="1/2"]Left[/col][/row] [embed]https://v.example/1[/embed] [playlist]'

    assert strip_shortcodes(html) == "Left https://v.example/1 "


def test_a_percent_encoded_wordpress_slug_is_decoded_then_made_ascii() -> None:
    # wp:post_name is "%e6%97%a5%e6%9c%ac-caf%c3%a9", that is "日本-café".
    assert posts(FIXTURES / "wordpress.xml")["https://blog.example.org/?p=202"].slug == "cafe"


def test_wordpress_drafts_and_private_posts_are_marked_as_drafts() -> None:
    imported = posts(FIXTURES / "wordpress.xml")

    assert imported["https://blog.example.org/?p=202"].is_draft is True  # private
    assert imported["https://blog.example.org/?p=404"].is_draft is True  # draft


def test_a_wordpress_post_without_gmt_date_falls_back_to_its_pub_date() -> None:
    imported = posts(FIXTURES / "wordpress.xml")

    assert imported["wp-post-303"].published_at == datetime(2022, 1, 1, 11, 0, tzinfo=UTC)
    # A draft's pubDate is WordPress's "-0001" placeholder: no date rather than a wrong one.
    assert imported["https://blog.example.org/?p=404"].published_at is None


def test_a_wordpress_post_with_an_empty_guid_is_identified_by_its_post_id() -> None:
    post = posts(FIXTURES / "wordpress.xml")["wp-post-303"]

    assert post.slug == "no-gmt-date"  # no wp:post_name: from the title


def test_pages_attachments_and_trashed_posts_are_skipped_with_a_reason() -> None:
    reasons = skips(FIXTURES / "wordpress.xml")

    assert reasons["wordpress.xml#item 4 (https://blog.example.org/?page_id=2)"] == (
        "Not a blog post: WordPress page."
    )
    assert reasons[
        "wordpress.xml#item 5 (https://blog.example.org/wp-content/uploads/sink.jpg)"
    ] == ("Not a blog post: WordPress attachment.")
    assert reasons["wordpress.xml#item 7 (https://blog.example.org/?p=505)"] == (
        "In the WordPress trash."
    )


def test_a_malformed_item_is_skipped_and_the_rest_of_the_export_imports() -> None:
    found = results(FIXTURES / "wordpress.xml")

    assert found[7] == ImportSkip(
        "wordpress.xml#item 8", "No guid or post id, so a re-import could not match it."
    )
    assert isinstance(found[8], ImportedPost)
    assert found[8].title == "After the bad item"
    assert [type(r).__name__ for r in found].count("ImportedPost") == 5


def test_an_item_that_breaks_the_parser_is_skipped_and_the_export_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parse = wxr.parse_wxr_item

    def fragile(item: Element, *, source_name: str) -> ImportedPost | ImportSkip:
        if "item 1 " in source_name:
            raise KeyError("boom")
        return parse(item, source_name=source_name)

    monkeypatch.setattr(wxr, "parse_wxr_item", fragile)

    found = results(FIXTURES / "wordpress.xml")

    assert found[0] == ImportSkip(
        "wordpress.xml#item 1 (https://blog.example.org/?p=101)",
        "Could not read this item: 'boom'.",
    )
    assert isinstance(found[1], ImportedPost)


def test_a_truncated_export_keeps_the_posts_before_the_error_and_names_the_line() -> None:
    found = results(FIXTURES / "broken" / "truncated.xml")

    assert [r.title for r in found[:2] if isinstance(r, ImportedPost)] == [
        "Winter & flu season",
        "Gutenberg era",
    ]
    assert found[2:] == [ImportSkip("truncated.xml", "Malformed XML at line 77: no element found.")]


def test_a_generated_export_of_2000_posts_streams_through(tmp_path: Path) -> None:
    export = tmp_path / "big.xml"
    write_wxr(export, 2000)

    found = results(export)

    assert len(found) == 2000
    assert all(isinstance(r, ImportedPost) for r in found)
    assert found[-1].body_markdown == "First paragraph 1999.\n\nSecond **bold**."


def test_xml_that_declares_entities_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "laughs.xml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><rss><channel>&lol2;</channel></rss>'
    )

    assert skips(bomb) == {
        "laughs.xml": "XML declares entities or external references, refused for safety."
    }


# Feeds -------------------------------------------------------------------------------------


def test_an_rss_item_prefers_content_encoded_and_keeps_the_description_as_excerpt() -> None:
    post = posts(FIXTURES / "feed.rss")["tag:notes.example.com,2020:post-17"]

    assert post.source_format == "rss"
    assert post.title == "Sleep & memory"  # the feed escaped it twice
    assert post.slug == "sleep-and-memory"  # the link's last segment, without ".html"
    assert post.published_at == datetime(2020, 2, 16, 2, 30, tzinfo=UTC)
    assert post.tags == ("sleep", "research")
    assert post.body_markdown == "## The study\n\nSleep helps memory.\n\n1. Sleep\n2. Remember"
    assert post.excerpt == "What a night of sleep does for memory."


def test_an_rss_item_without_guid_is_identified_by_its_link_and_its_description_is_the_body() -> (
    None
):
    post = posts(FIXTURES / "feed.rss")["https://notes.example.com/2020/03/short-note/"]

    assert post.slug == "short-note"
    assert post.body_markdown == "Only a **description** here."
    assert post.excerpt == ""
    assert post.published_at == datetime(2020, 3, 1, 9, 0, tzinfo=UTC)


def test_an_atom_entry_reads_html_content_categories_and_published_date() -> None:
    post = posts(FIXTURES / "feed.atom")["urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"]

    assert post.source_format == "atom"
    assert post.title == "Tea & patience"  # type="html", so tags are dropped
    assert post.slug == "tea-and-patience"  # from link rel="alternate", not rel="edit"
    assert post.published_at == datetime(2022, 7, 30, 9, 45, tzinfo=UTC)
    assert post.tags == ("tea", "slow living")
    assert post.body_markdown == "Let it steep.\n\n> Patience is bitter."
    assert post.excerpt == "Why good tea needs time."


def test_an_atom_entry_without_published_uses_updated_and_reads_xhtml_content() -> None:
    post = posts(FIXTURES / "feed.atom")["urn:uuid:2b0b8f2e-1111-2222-3333-444455556666"]

    assert post.published_at == datetime(2022, 8, 1, 12, 0, tzinfo=UTC)
    assert post.body_markdown == "An **xhtml** body.\n\n- kept"
    assert post.slug == "updated-only"


def test_blogger_settings_entries_are_skipped_and_drafts_are_marked(tmp_path: Path) -> None:
    kind = 'scheme="http://schemas.google.com/g/2005#kind"'
    blog = "http://schemas.google.com/blogger/2008/kind"
    (tmp_path / "blog.atom").write_text(
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:app="http://www.w3.org/2007/app">'
        f'<entry><id>s1</id><title>x</title><category {kind} term="{blog}#settings"/></entry>'
        f'<entry><id>p1</id><title>Draft</title><category {kind} term="{blog}#post"/>'
        '<category term="Notes"/><app:control><app:draft>yes</app:draft></app:control>'
        '<content type="html">Hi</content></entry></feed>'
    )

    found = results(tmp_path / "blog.atom")

    assert found[0] == ImportSkip("blog.atom#entry 1 (s1)", "Not a blog post: Blogger settings.")
    assert isinstance(found[1], ImportedPost)
    assert (found[1].is_draft, found[1].tags) == (True, ("notes",))


def test_an_xml_feed_is_decoded_in_its_declared_encoding() -> None:
    (post,) = results(FIXTURES / "encodings" / "windows-1252.rss")

    assert post.title == "Résumé – 2009"
    assert post.body_markdown == "Niño’s café"


# HTML --------------------------------------------------------------------------------------


def test_an_html_page_reads_its_meta_tags_and_keeps_only_the_article() -> None:
    post = posts(FIXTURES / "html")["clinic-hours.html"]

    assert post.source_format == "html"
    assert post.title == "New clinic hours"
    assert post.slug == "clinic-hours"  # from the file name
    assert post.published_at == datetime(2018, 9, 10, 6, 0, tzinfo=UTC)
    assert post.tags == ("clinic", "news", "hours")
    assert post.excerpt == "We now open at eight."
    # No h1 (it is the title), script, form, nav, header, aside or footer.
    assert post.body_markdown == (
        "From Monday we open at **eight**.\n\n## Weekends\n\n- Saturday: 9 to 12\n- Sunday: closed"
    )


def test_an_html_page_without_a_title_tag_uses_its_h1_and_time_element() -> None:
    post = posts(FIXTURES / "html")["stretching.htm"]

    assert post.title == "Notes on stretching"
    assert post.published_at == datetime(2017, 4, 1, tzinfo=UTC)
    assert post.body_markdown == "Posted 1 April 2017.\n\nStretch every morning."  # no footer


# Files, encodings, batches -----------------------------------------------------------------


def test_empty_binary_unsupported_and_unknown_xml_files_are_skipped_with_a_reason(
    tmp_path: Path,
) -> None:
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")

    assert skips(FIXTURES / "broken") | skips(tmp_path) == {
        "binary.html": "Binary file, not text.",
        "empty.md": "Empty file.",
        "not-a-feed.xml": (
            "Not a WordPress export, RSS or Atom feed: the root element is <config>."
        ),
        "truncated.xml": "Malformed XML at line 77: no element found.",
        "scan.pdf": "Unsupported file type .pdf.",
    }


def test_a_cp1252_markdown_file_is_decoded() -> None:
    (post,) = results(FIXTURES / "encodings" / "cp1252.markdown")

    assert post.title == "Café notes – part 1"
    assert post.body_markdown == "Naïve “quotes” and 10 € coffee."
    assert post.slug == "cafe-notes-part-1"


def test_a_utf8_bom_and_windows_line_endings_do_not_hide_the_front_matter() -> None:
    (post,) = results(FIXTURES / "encodings" / "bom-crlf.md")

    assert (post.title, post.body_markdown) == ("Windows notes", "Written in Notepad.")


def test_the_batch_goes_on_after_bad_files() -> None:
    found = results(FIXTURES)
    names = [r.source_name for r in found]

    # The bad files sit between good ones, and everything after them is still read.
    assert names.index("broken/truncated.xml") < names.index("encodings/cp1252.markdown")
    assert names[-1] == "jekyll/_posts/2022-02-03-broken-yaml.md"
    assert sum(isinstance(r, ImportedPost) for r in found) == 21


def test_importing_the_same_input_twice_gives_identical_source_ids(tmp_path: Path) -> None:
    def ids() -> list[str]:
        return [r.source_id for r in iter_import(FIXTURES) if isinstance(r, ImportedPost)]

    first = ids()

    # Re-import detection relies on this: same files, same ids, in the same order.
    assert first == ids()
    assert len(set(first)) == len(first) - 2  # truncated.xml repeats two wordpress.xml posts


# Zip archives ------------------------------------------------------------------------------


def test_a_zip_is_read_member_by_member_with_member_paths_as_ids(tmp_path: Path) -> None:
    members = {
        "blog/_posts/2021-03-04-hello.md": b"---\ntitle: Hello\n---\nHi.\n",
        "blog/feed.rss": (FIXTURES / "feed.rss").read_bytes(),
        "blog/": b"",
        "__MACOSX/blog/._feed.rss": b"\x00\x05",
        "blog/.DS_Store": b"\x00\x00",
        "blog/logo.png": b"\x89PNG",
    }
    upload = make_zip(tmp_path / "archive.zip", members)

    found = results(upload)

    assert [(r.source_name, type(r).__name__) for r in found] == [
        ("archive.zip:blog/_posts/2021-03-04-hello.md", "ImportedPost"),
        ("archive.zip:blog/feed.rss#item 1 (tag:notes.example.com,2020:post-17)", "ImportedPost"),
        (
            "archive.zip:blog/feed.rss#item 2 (https://notes.example.com/2020/03/short-note/)",
            "ImportedPost",
        ),
        ("archive.zip:blog/logo.png", "ImportSkip"),
    ]
    assert found[0].source_id == "blog/_posts/2021-03-04-hello.md"
    assert found[0].slug == "hello"
    assert found[3].reason == "Unsupported file type .png."


def test_an_uploaded_zip_stream_gives_the_same_ids_as_the_zip_on_disk(tmp_path: Path) -> None:
    upload = make_zip(tmp_path / "posts.zip", {"a.md": b"# A\n", "b/c.md": b"# C\n"})

    from_disk = [r.source_id for r in iter_import(upload)]
    from_upload = [
        r.source_id for r in iter_import_file("posts.zip", io.BytesIO(upload.read_bytes()))
    ]

    assert from_disk == from_upload == ["a.md", "b/c.md"]


def test_a_zip_member_compressed_over_100_to_1_is_skipped_as_a_zip_bomb(tmp_path: Path) -> None:
    upload = make_zip(tmp_path / "bomb.zip", {"bomb.md": b"a" * 5_000_000, "ok.md": b"# Fine\n"})

    found = results(upload)

    assert found[0] == ImportSkip(
        "bomb.zip:bomb.md", "Compressed over 100 to 1, like a zip bomb, so not read."
    )
    assert isinstance(found[1], ImportedPost)


def test_a_zip_member_over_20_mb_uncompressed_is_skipped(tmp_path: Path) -> None:
    upload = tmp_path / "big.zip"
    with zipfile.ZipFile(upload, "w", compression=zipfile.ZIP_STORED) as archive_file:
        archive_file.writestr("huge.html", b"<p>x</p>" * (21 * 1024 * 1024 // 8))

    assert skips(upload) == {"big.zip:huge.html": "Larger than 20 MB uncompressed, so not read."}


def test_an_archive_stops_after_too_many_members(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(archive, "MAX_MEMBERS", 2)
    upload = make_zip(tmp_path / "many.zip", {f"{n}.md": b"# N\n" for n in range(5)})

    found = results(upload)

    assert [r.source_name for r in found] == ["many.zip:0.md", "many.zip:1.md", "many.zip"]
    assert found[-1].reason == "Archive stopped after 2 members; the rest were not read."


def test_an_archive_stops_after_too_much_content(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(archive, "MAX_ARCHIVE_BYTES", 10)
    upload = make_zip(tmp_path / "full.zip", {"a.md": b"# A\n", "b.md": b"# Bbbbbbbbb\n"})

    found = results(upload)

    assert found[-1] == ImportSkip(
        "full.zip", "Archive stopped after 2 GB of content; the rest was not read."
    )
    assert len(found) == 2


def test_a_nested_zip_and_a_broken_zip_are_skipped(tmp_path: Path) -> None:
    inner = make_zip(tmp_path / "inner.zip", {"a.md": b"# A\n"}).read_bytes()
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    make_zip(uploads / "outer.zip", {"inner.zip": inner, "b.md": b"# B\n"})
    (uploads / "broken.zip").write_bytes(b"PK\x03\x04 not really")

    assert skips(uploads) == {
        "broken.zip": "Not a readable zip archive.",
        "outer.zip:inner.zip": "Archives inside archives are not imported.",
    }
    assert list(posts(uploads)) == ["b.md"]


# Helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("Crème brûlée: à la carte", "creme-brulee-a-la-carte"),
        ("日本語", "untitled"),
        ("  --  ", "untitled"),
        ("word " * 30, ("word-" * 16)[:79]),
    ],
)
def test_slugs_are_lowercase_ascii_with_hyphens_at_most_80_characters_and_never_empty(
    title: str, slug: str
) -> None:
    assert slugify(title) == slug
    assert len(slugify(title)) <= 80


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-03-04T10:30:00+02:00", datetime(2021, 3, 4, 8, 30, tzinfo=UTC)),
        ("2021-03-04 10:30:00", datetime(2021, 3, 4, 10, 30, tzinfo=UTC)),  # naive: UTC
        ("Tue, 12 Nov 2019 08:15:00 +0100", datetime(2019, 11, 12, 7, 15, tzinfo=UTC)),
        ("March 4, 2021", datetime(2021, 3, 4, tzinfo=UTC)),
        (datetime(2021, 3, 4, 10, 30), datetime(2021, 3, 4, 10, 30, tzinfo=UTC)),  # noqa: DTZ001
        ("Tuesday", None),  # a loose parser would invent the year
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_dates_are_timezone_aware_utc_or_none(value: object, expected: datetime | None) -> None:
    assert parse_date(value) == expected


def test_the_importers_are_plain_python_and_load_no_django() -> None:
    # The same code runs in a worker, a CLI or a notebook; the posts service is the adapter.
    code = "import sys, posts.importers; print([m for m in sys.modules if m.startswith('django')])"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
