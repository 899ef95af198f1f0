"""Markdown files with Jekyll or Hugo YAML front matter, or with none at all (a README)."""

import re
from pathlib import PurePosixPath

import yaml
from frontmatter.default_handlers import YAMLHandler

from .common import (
    ImportedPost,
    ImportSkip,
    collapse_whitespace,
    html_to_text,
    normalize_tags,
    parse_date,
    slugify,
    split_tags,
)

_JEKYLL_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(.+)$")
_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"\*\*|__|\*|`")


def parse_markdown(text: str, *, source_name: str, source_id: str) -> ImportedPost | ImportSkip:
    """One post from a Markdown file.

    Steps: split and load the YAML front matter (a bad one skips the file), then take each field
    from the front matter, falling back to a Jekyll file name (`YYYY-MM-DD-slug.md`), the first
    `# heading`, or the file name.
    """
    path = PurePosixPath(source_id)
    handler = YAMLHandler()
    if handler.detect(text):
        try:
            front_matter, body = handler.split(text)
        except ValueError:
            return ImportSkip(source_name, "Front matter is not closed by a '---' line.")
        try:
            meta = handler.load(front_matter) or {}
        except yaml.YAMLError as exc:
            return ImportSkip(source_name, f"Front matter is not valid YAML: {_yaml_problem(exc)}.")
        if not isinstance(meta, dict):
            return ImportSkip(source_name, "Front matter is not a set of 'key: value' lines.")
    elif path.suffix.lower() == ".txt":
        # A .txt is only a post when front matter says so; otherwise it is a stray note or licence.
        return ImportSkip(source_name, "Text file without front matter, so not a blog post.")
    else:
        meta, body = {}, text

    jekyll = _JEKYLL_NAME.match(path.stem)
    title = collapse_whitespace(str(meta.get("title") or ""))
    if not title:
        title, body = _title_from_heading(body)
    if not title:
        title = _title_from_path(path, jekyll)
    slug_source = meta.get("slug") or (jekyll.group(2) if jekyll else "") or title
    date_value = meta["date"] if "date" in meta else (jekyll.group(1) if jekyll else None)
    excerpt = next((meta[k] for k in ("excerpt", "description", "summary") if meta.get(k)), "")
    return ImportedPost(
        source_format="markdown",
        source_name=source_name,
        source_id=source_id,
        title=title,
        slug=slugify(str(slug_source)),
        body_markdown=body.strip("\n"),
        published_at=parse_date(date_value),
        tags=normalize_tags(split_tags(meta.get("tags")) + split_tags(meta.get("categories"))),
        excerpt=_plain_text(str(excerpt)),
        is_draft=_is_yes(meta.get("draft")) or _is_no(meta.get("published")),
    )


def _plain_text(markdown: str) -> str:
    """An excerpt without tags, link syntax or emphasis: "**Hi** [you](/u)" → "Hi you"."""
    text = _LINK.sub(r"\1", html_to_text(markdown))
    return collapse_whitespace(_EMPHASIS.sub("", text))


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line from PyYAML's multi-line message, with the line number within the file."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem and exc.problem_mark:
        # The mark counts from the opening '---' line's newline, so +1 gives the file's line.
        return f"{exc.problem} (line {exc.problem_mark.line + 1})"
    return collapse_whitespace(str(exc))


def _title_from_heading(body: str) -> tuple[str, str]:
    """The first `# heading` outside code fences; it leaves the body when it opens the document."""
    lines = body.split("\n")
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _H1.match(line)
        if heading:
            if not any(earlier.strip() for earlier in lines[:index]):
                body = "\n".join(lines[index + 1 :])
            return collapse_whitespace(heading.group(1)), body
    return "", body


def _title_from_path(path: PurePosixPath, jekyll: re.Match[str] | None) -> str:
    """A title from the file name: "2021-03-04-hello-world.md" gives "hello world".

    A Hugo page bundle ("trip/index.md") is named by its folder.
    """
    name = jekyll.group(2) if jekyll else path.stem
    if name in {"index", "_index"} and path.parent.name:
        name = path.parent.name
    return collapse_whitespace(name.replace("-", " ").replace("_", " ")) or path.name


def _is_yes(value: object) -> bool:
    return str(value).strip().lower() in {"true", "yes", "on", "1"}


def _is_no(value: object) -> bool:
    return str(value).strip().lower() in {"false", "no", "off", "0"}
