"""Markdown files with front matter: YAML (Jekyll, Hugo), TOML (Hugo) or a Pelican header of
"Key: value" lines; or with none at all (a README)."""

import re
import tomllib
from pathlib import PurePosixPath
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from .common import (
    ImportedPost,
    ImportSkip,
    clean_title,
    collapse_whitespace,
    dropped_note,
    html_to_text,
    normalize_tags,
    parse_date,
    slugify,
    split_tags,
    strip_templates,
)

_JEKYLL_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(.+)$")
_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"\*\*|__|\*|`")
_TOML_FRONT_MATTER = re.compile(r"\A\+{3}[ \t]*\n(.*?)^\+{3}[ \t]*$\n?", re.DOTALL | re.MULTILINE)
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")
# Pelican's header: "Key: value" lines up to the first blank line; indented lines continue a value.
_PELICAN_FIELD = re.compile(r"^(?P<key>[A-Za-z][\w-]*):[ \t]*(?P<value>.*)$")
_PELICAN_CONTINUATION = re.compile(r"^[ \t]+\S")
# The header must open with one of Pelican's own keys, so that a note starting "Note: …" stays text.
_PELICAN_KEYS = {"title", "date", "modified", "tags", "category", "slug", "status", "author"}
_PELICAN_KEYS |= {"authors", "summary", "lang", "translation", "save_as", "url", "template"}
# Pelican's draft and hidden; the WordPress ones that a WordPress-to-Jekyll export copies over.
_DRAFT_STATUSES = {"draft", "hidden", "pending", "private"}


class FrontMatterError(ValueError):
    """Front matter that is there but cannot be read; its message is the report's sentence."""


def parse_markdown(text: str, *, source_name: str, source_id: str) -> ImportedPost | ImportSkip:
    """One post from a Markdown file.

    Steps: read the front matter (a broken one skips the file); drop template tags (a post that
    was nothing else is skipped); then take each field from the front matter, falling back to a
    Jekyll file name (`YYYY-MM-DD-slug.md`), the first `# heading`, or the file name.
    """
    path = PurePosixPath(source_id)
    try:
        meta, body = read_front_matter(text)
    except FrontMatterError as exc:
        return ImportSkip(source_name, str(exc))
    if meta is None and path.suffix.lower() == ".txt":
        # A .txt is only a post when front matter says so; otherwise it is a stray note or licence.
        return ImportSkip(source_name, "Text file without front matter, so not a blog post.")
    meta = meta or {}
    body, dropped = strip_templates(body)
    notes = (dropped_note(dropped),) if dropped else ()
    if dropped and not body.strip():
        # The service's words for an empty post, plus what was taken out.
        return ImportSkip(source_name, f"No text left after cleaning. {notes[0]}")

    jekyll = _JEKYLL_NAME.match(path.stem)
    title = clean_title(str(meta.get("title") or ""))
    if not title:
        title, body = _title_from_heading(body)
    if not title:
        title = _title_from_path(path, jekyll)
    slug_source = meta.get("slug") or (jekyll.group(2) if jekyll else "") or title
    date_value = meta["date"] if "date" in meta else (jekyll.group(1) if jekyll else None)
    excerpt = next((meta[k] for k in ("excerpt", "description", "summary") if meta.get(k)), "")
    categories = split_tags(meta.get("categories")) + split_tags(meta.get("category"))
    status = str(meta.get("status") or "").strip().lower()
    return ImportedPost(
        source_format="markdown",
        source_name=source_name,
        source_id=source_id,
        title=title,
        slug=slugify(str(slug_source)),
        body_markdown=body.strip("\n"),
        published_at=parse_date(date_value),
        tags=normalize_tags(split_tags(meta.get("tags")) + categories),
        excerpt=_plain_text(str(excerpt)),
        is_draft=(
            _is_yes(meta.get("draft")) or _is_no(meta.get("published")) or status in _DRAFT_STATUSES
        ),
        notes=notes,
    )


def read_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """The front matter's fields (None when the file has none) and the body after it.

    YAML between '---' lines, TOML between '+++' lines, or a Pelican header. Front matter that is
    there but broken raises FrontMatterError rather than becoming part of the body.
    """
    if text.split("\n", 1)[0].rstrip() == "+++":
        return _read_toml(text)
    handler = YAMLHandler()
    if handler.detect(text):
        try:
            front_matter, body = handler.split(text)
        except ValueError:
            raise FrontMatterError("Front matter is not closed by a '---' line.") from None
        try:
            meta = handler.load(front_matter) or {}
        except yaml.YAMLError as exc:
            problem = _yaml_problem(exc)
            raise FrontMatterError(f"Front matter is not valid YAML: {problem}.") from exc
        if not isinstance(meta, dict):
            raise FrontMatterError("Front matter is not a set of 'key: value' lines.")
        return meta, body
    return _read_pelican(text)


def _read_toml(text: str) -> tuple[dict[str, Any], str]:
    found = _TOML_FRONT_MATTER.match(text)
    if found is None:
        raise FrontMatterError("Front matter is not closed by a '+++' line.")
    try:
        meta = tomllib.loads(found.group(1))
    except tomllib.TOMLDecodeError as exc:
        # tomllib counts from the line after the opening '+++', so +1 gives the file's line.
        problem = _TOML_POSITION.sub(lambda m: f"(line {int(m.group(1)) + 1})", str(exc))
        raise FrontMatterError(f"Front matter is not valid TOML: {problem}.") from exc
    return meta, text[found.end() :]


def _read_pelican(text: str) -> tuple[dict[str, Any] | None, str]:
    """Pelican's "Key: value" lines up to the first blank line, keys lowercased as Pelican does.

    Anything else in those lines means there is no header, and the whole text is the body.
    """
    lines = text.split("\n")
    blank = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    meta: dict[str, Any] = {}
    key = ""
    for line in lines[:blank]:
        field = _PELICAN_FIELD.match(line)
        if field and (meta or field.group("key").lower() in _PELICAN_KEYS):
            key = field.group("key").lower()
            meta[key] = field.group("value").strip()
        elif key and _PELICAN_CONTINUATION.match(line):
            meta[key] = f"{meta[key]} {line.strip()}".strip()
        else:
            return None, text
    if not meta:
        return None, text
    return meta, "\n".join(lines[blank + 1 :])


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
            return clean_title(heading.group(1)), body
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
