"""Real static-site exports: Hugo TOML, Pelican headers, and the template tags left in bodies."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from posts.importers import ImportedPost, ImportSkip, iter_import
from posts.importers.common import dropped_note, strip_templates
from posts.models import Post
from posts.services.importing import import_items

FIXTURES = Path(__file__).parent / "fixtures" / "cleaning"


def results(path: Path) -> dict[str, ImportedPost | ImportSkip]:
    return {r.source_name: r for r in iter_import(path)}


def post(path: Path, name: str) -> ImportedPost:
    found = results(path)[name]
    assert isinstance(found, ImportedPost), found
    return found


def skip_reason(path: Path) -> str:
    (found,) = iter_import(path)
    assert isinstance(found, ImportSkip), found
    return found.reason


# Hugo TOML front matter --------------------------------------------------------------------


def test_a_hugo_toml_post_takes_its_fields_from_the_front_matter() -> None:
    imported = post(FIXTURES / "hugo", "content/posts/go-errors.md")

    assert imported.title == "Errors in Go"  # not "go errors" from the file name
    assert imported.slug == "go-errors-are-values"
    assert imported.published_at == datetime(2022, 9, 14, 16, 0, tzinfo=UTC)  # +02:00 in TOML
    assert imported.tags == ("go", "errors", "programming")
    assert imported.excerpt == "Why errors are values."
    assert imported.is_draft is False
    assert "+++" not in imported.body_markdown and "title =" not in imported.body_markdown


def test_hugo_shortcodes_become_a_fence_or_go_keeping_the_text_between_them() -> None:
    body = post(FIXTURES / "hugo", "content/posts/go-errors.md").body_markdown

    # The highlight shortcode is now a Go fence, its tab-indented code as it was.
    assert '```go\nif err != nil {\n\treturn fmt.Errorf("open: %w", err)\n}\n```' in body
    assert "Wrap errors with %w so callers can unwrap them." in body  # inside {{% notice %}}
    assert "{{" not in body and "<!--" not in body


def test_a_toml_draft_is_a_draft(tmp_path: Path) -> None:
    (tmp_path / "wip.md").write_text('+++\ntitle = "Work in progress"\ndraft = true\n+++\nSoon.\n')

    (imported,) = iter_import(tmp_path)

    assert (imported.title, imported.is_draft, imported.body_markdown) == (
        "Work in progress",
        True,
        "Soon.",
    )


def test_front_matter_that_is_not_valid_toml_skips_the_file_with_the_line(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_text('+++\ntitle = "Bad"\ntags = ["a" "b"]\n+++\nBody.\n')

    # The missing comma is on line 3 of the file; tomllib alone would say line 2.
    assert skip_reason(tmp_path / "bad.md") == (
        "Front matter is not valid TOML: Unclosed array (line 3)."
    )


def test_toml_front_matter_without_its_closing_line_skips_the_file(tmp_path: Path) -> None:
    (tmp_path / "open.md").write_text('+++\ntitle = "Open"\n\nBody.\n')

    assert skip_reason(tmp_path / "open.md") == "Front matter is not closed by a '+++' line."


# Pelican metadata headers ------------------------------------------------------------------


def test_a_pelican_header_gives_the_title_date_slug_tags_and_summary() -> None:
    imported = post(FIXTURES / "pelican", "content/night-shifts.md")

    assert imported.title == "Surviving night shifts"
    assert imported.slug == "night-shifts"
    assert imported.published_at == datetime(2019, 2, 3, 7, 30, tzinfo=UTC)
    assert imported.tags == ("sleep", "shift work", "nursing")  # Tags, then Category
    assert imported.excerpt == "What helped me sleep after a week of nights."  # two lines
    assert imported.is_draft is False
    assert imported.body_markdown.startswith("Dark curtains and a fixed routine")
    assert "Author:" not in imported.body_markdown


def test_pelican_status_draft_and_hidden_import_as_drafts_and_published_as_published(
    tmp_path: Path,
) -> None:
    (tmp_path / "hidden.md").write_text("Title: Hidden page\nStatus: hidden\n\nSecret.\n")
    imported = results(FIXTURES / "pelican") | results(tmp_path)

    assert imported["content/unfinished.md"].is_draft is True
    assert imported["hidden.md"].is_draft is True
    assert imported["content/about-the-site.md"].is_draft is False
    assert imported["content/about-the-site.md"].title == "Colophon"


def test_a_first_line_that_only_looks_like_a_header_stays_in_the_body(tmp_path: Path) -> None:
    # "Note" is not a Pelican key, and the second file's header is broken by a plain line.
    (tmp_path / "note.md").write_text("Note: this blog has moved.\n\nSee the new one.\n")
    (tmp_path / "prose.md").write_text("Title: A post\nand then a sentence.\n\nMore.\n")

    imported = results(tmp_path)

    assert imported["note.md"].body_markdown.startswith("Note: this blog has moved.")
    assert imported["prose.md"].body_markdown.startswith("Title: A post\nand then a sentence.")


# Liquid tags in a Jekyll post --------------------------------------------------------------


def test_liquid_highlight_becomes_a_fence_and_raw_keeps_its_text() -> None:
    body = post(FIXTURES / "jekyll", "_posts/2020-06-07-liquid-tags.md").body_markdown

    assert '```python\ndef greet(name):\n    return f"Hello {name}"\n```' in body
    assert "The page title is {{ page.title }} in a layout." in body
    assert "[the docs](/docs/)" in body  # {{ site.baseurl }} is gone, the link stays
    assert not body.startswith("\n")


def test_liquid_inside_a_fence_or_a_code_span_survives_untouched() -> None:
    body = post(FIXTURES / "jekyll", "_posts/2020-06-07-liquid-tags.md").body_markdown

    assert "```liquid\n{% for post in site.posts %}\n  {{ post.title }}\n{% endfor %}\n```" in body
    assert "Write `{% raw %}` in a post to stop that." in body
    # Outside code, no template syntax is left.
    outside_code = body.split("```liquid")[0].replace("`{% raw %}`", "")
    assert "{%" not in outside_code and "{{ site" not in outside_code


def test_the_dropped_tags_are_listed_for_the_report() -> None:
    imported = post(FIXTURES / "jekyll", "_posts/2020-06-07-liquid-tags.md")

    assert imported.notes == (
        "Dropped 3 template tags and 1 HTML comment: {% include toc.html %}, "
        "{{ site.baseurl }}, <!-- more -->, {% notebook notebooks/intro.ipynb %}.",
    )


def test_a_post_that_is_only_template_tags_is_skipped_as_having_no_text() -> None:
    reason = results(FIXTURES / "jekyll")["_posts/2020-06-08-only-tags.md"]

    assert reason == ImportSkip(
        "_posts/2020-06-08-only-tags.md",
        "No text left after cleaning. Dropped 3 template tags: {% include archive.html %}, "
        "{% for post in site.posts %}, {% endfor %}.",
    )


def test_mojibake_in_a_title_is_repaired_as_in_bodies() -> None:
    imported = post(FIXTURES / "jekyll", "_posts/2020-06-07-liquid-tags.md")

    assert imported.title == "Why Liquid isn’t Markdown"  # the file says "isnâ€™t"


# strip_templates on its own ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        # Octopress codeblock: the language comes from lang:, the title goes.
        (
            "{% codeblock Greeting lang:ruby %}\nputs 1\n{% endcodeblock %}",
            "```ruby\nputs 1\n```",
        ),
        # No language: a plain fence; whitespace control dashes are Liquid syntax too.
        ("{%- highlight -%}\nx = 1\n{%- endhighlight -%}", "```\nx = 1\n```"),
        # In a list item the fence keeps the item's indent.
        (
            "- step\n  {% highlight sh %}\n  ls\n  {% endhighlight %}",
            "- step\n  ```sh\n  ls\n  ```",
        ),
        # Code that shows a fence gets a longer fence, so it stays one code block.
        ("{% highlight md %}\n```\nx\n```\n{% endhighlight %}", "````md\n```\nx\n```\n````"),
        # Raw tags inside a highlight only kept Jekyll from running the Liquid example.
        (
            "{% highlight liquid %}\n{% raw %}{{ page.title }}{% endraw %}\n{% endhighlight %}",
            "```liquid\n{{ page.title }}\n```",
        ),
        # A Liquid comment goes with its inside: commented-out text is not the author's post.
        ("Kept.\n{% comment %}\nold draft\n{% endcomment %}\nAlso kept.", "Kept.\nAlso kept."),
        # A raw block that is never closed keeps everything after it, as written.
        ("{% raw %}{{ a }} and {% b %}", "{{ a }} and {% b %}"),
        # Text that merely has braces in it is not a tag.
        ("A set {1, 2} and 50% off.", "A set {1, 2} and 50% off."),
        # A stray opener does not reach across a blank line to eat the next paragraph.
        ("Odd {% here.\n\nNext %} paragraph.", "Odd {% here.\n\nNext %} paragraph."),
        # An output tag holds no braces: only the innermost {{ x }} is a tag.
        ("Text {{ {{ x }} end.", "Text {{  end."),
    ],
)
def test_strip_templates(markdown: str, expected: str) -> None:
    assert strip_templates(markdown)[0] == expected


def test_an_unclosed_highlight_is_dropped_and_reported_but_its_code_is_kept() -> None:
    text, dropped = strip_templates("{% highlight python %}\nprint(1)\n")

    assert (text, dropped) == ("print(1)\n", ["{% highlight python %}"])


def test_a_tilde_fence_and_a_double_backtick_span_are_code_too() -> None:
    markdown = "~~~\n{% include a.html %}\n~~~\n\nSay ``{{ x }}`` here."

    assert strip_templates(markdown) == (markdown, [])


def test_the_dropped_note_counts_all_and_lists_the_first_five_distinct() -> None:
    dropped = [f"{{% include part{n}.html %}}" for n in range(7)] + ["<!-- more -->"] * 2

    assert dropped_note(dropped) == (
        "Dropped 7 template tags and 2 HTML comments: {% include part0.html %}, "
        "{% include part1.html %}, {% include part2.html %}, {% include part3.html %}, "
        "{% include part4.html %} and 3 more."
    )


# The import report -------------------------------------------------------------------------


def test_the_import_report_shows_what_was_dropped_and_why_a_post_was_skipped(author) -> None:  # noqa: ANN001
    report = {line.source: line for line in import_items(iter_import(FIXTURES), by=author)}

    liquid = report["jekyll/_posts/2020-06-07-liquid-tags.md"]
    assert liquid.outcome == "imported"
    assert liquid.detail.startswith("Dropped 3 template tags and 1 HTML comment: ")
    only_tags = report["jekyll/_posts/2020-06-08-only-tags.md"]
    assert only_tags.outcome == "skipped"
    assert only_tags.detail.startswith("No text left after cleaning.")
    stored = Post.objects.get(id=liquid.post_id)
    assert stored.title == "Why Liquid isn’t Markdown"
    assert "```python" in stored.body_markdown and "{% include" not in stored.body_markdown
    assert Post.objects.get(slug="an-unfinished-thought").status == Post.Status.DRAFT
    assert Post.objects.get(slug="night-shifts").status == Post.Status.PUBLISHED
