"""Shared pieces of the importers: the result types and the small helpers every format uses.

Plain Python on purpose (no Django): the posts service adapts these results to models.
"""

import email.utils
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html import unescape
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element

from bs4 import BeautifulSoup, Tag
from dateutil import parser as dateutil_parser
from markdownify import MarkdownConverter

SLUG_MAX_LENGTH = 80
UNTITLED = "Untitled"

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SLUG_UNSAFE = re.compile(r"[^a-z0-9]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_WHITESPACE = re.compile(r"\s+")
_TEXT_BLOCKS = ["p", "br", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr"]
# Fills the parts a loose date string leaves out ("March 2021" → 1 March 2021, 00:00 UTC).
_DATE_DEFAULT = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ImportedPost:
    """One post read from a source file, ready for the posts service to store."""

    source_format: str  # "markdown" | "wxr" | "rss" | "atom" | "html"
    source_name: str  # where it came from, for the per-file report
    source_id: str  # stable within its source, so a re-import is recognised
    title: str
    slug: str
    body_markdown: str
    published_at: datetime | None  # timezone-aware UTC
    tags: tuple[str, ...]
    excerpt: str
    is_draft: bool


@dataclass(frozen=True)
class ImportSkip:
    """A file or item that was not imported, with one human sentence saying why."""

    source_name: str
    reason: str


ImportResult = ImportedPost | ImportSkip


def slugify(text: str) -> str:
    """Lowercase ASCII words joined by hyphens, at most 80 characters, never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _SLUG_UNSAFE.sub("-", ascii_text.lower()).strip("-")
    slug = slug[:SLUG_MAX_LENGTH].rstrip("-")
    return slug or "untitled"


def normalize_tags(tags: Iterable[object]) -> tuple[str, ...]:
    """Lowercased, stripped, de-duplicated tags in their first-seen order."""
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = _WHITESPACE.sub(" ", str(tag)).strip().lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def split_tags(value: object) -> list[str]:
    """Tags given as a list, or as one comma-separated string."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(item) for item in value if item is not None]
    return str(value).split(",")


def parse_date(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from a date, datetime or string; None when unparseable.

    Strings are tried as ISO 8601, then RFC 822 (feeds), then dateutil's looser reading.
    Naive values are taken as UTC.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str) and value.strip():
        parsed = _parse_date_string(value.strip())
        if parsed is None:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _parse_date_string(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    for parse in (email.utils.parsedate_to_datetime, _parse_loose_date):
        try:
            parsed = parse(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        # Loose parsers fill in a missing or odd year ("Tuesday"; WordPress drafts say "-0001"),
        # so only a year that is written out in full counts.
        if f"{parsed.year:04d}" in value:
            return parsed
    return None


def _parse_loose_date(value: str) -> datetime:
    return dateutil_parser.parse(value, default=_DATE_DEFAULT)


def is_binary(head: bytes) -> bool:
    """NUL bytes in the first 8 KB mean binary, unless a UTF-16 byte order mark explains them."""
    return b"\x00" in head[:8192] and not head.startswith(_UTF16_BOMS)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else UTF-16 by its BOM, else cp1252; newlines made "\\n".

    Mojibake is repaired later by the cleaning step, not here.
    """
    if data.startswith(_UTF16_BOMS):
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def html_to_markdown(html: str | Tag) -> str:
    """Markdown with ATX headings and "-" bullets; scripts, styles and comments are dropped."""
    soup = html if isinstance(html, Tag) else BeautifulSoup(html, "html.parser")
    markdown = MarkdownConverter(heading_style="ATX", bullets="-").convert_soup(soup)
    return _MANY_BLANK_LINES.sub("\n\n", markdown).strip()


def html_to_text(html: str) -> str:
    """Plain text on one line (for excerpts): tags removed, whitespace collapsed."""
    if "<" not in html and "&" not in html:
        return collapse_whitespace(html)
    soup = BeautifulSoup(html, "html.parser")
    # Keep blocks apart ("<p>One</p><p>Two</p>" → "One Two") without spacing inline tags.
    for block in soup.find_all(_TEXT_BLOCKS):
        block.append(" ")
    return collapse_whitespace(soup.get_text())


def collapse_whitespace(text: str) -> str:
    """One line, single spaces: for titles that arrive with newlines or tabs in them."""
    return _WHITESPACE.sub(" ", text).strip()


def clean_title(text: str | None) -> str:
    """A feed title: entities decoded ("&#8217;" → "’"), on one line."""
    return collapse_whitespace(unescape(text or ""))


def slug_from_url(url: str) -> str:
    """The last path segment of a URL ("…/2021/03/hello-world/" → "hello-world"), or ""."""
    segment = PurePosixPath(unquote(urlsplit(url.strip()).path)).name
    for extension in (".html", ".htm", ".php"):
        segment = segment.removesuffix(extension)
    return "" if segment in {"", "index"} else slugify(segment)


# XML: short names for the namespaces the feed formats use, so parsers can say "wp:status".
_NAMESPACE_PREFIXES = {
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://www.w3.org/2005/Atom": "atom",
    "http://www.w3.org/2007/app": "app",
}
WORDPRESS_NAMESPACE = re.compile(r"^https?://wordpress\.org/export/1\.\d+/$")
_WORDPRESS_EXCERPT_NAMESPACE = re.compile(r"^https?://wordpress\.org/export/1\.\d+/excerpt/$")


def short_name(tag: str) -> str:
    """The "wp:status" form of "{http://wordpress.org/export/1.2/}status"; no namespace: as is.

    Unknown namespaces keep their "{uri}name" form, so they never pass for a known element.
    """
    if not tag.startswith("{"):
        return tag
    namespace, _, local = tag[1:].partition("}")
    if WORDPRESS_NAMESPACE.match(namespace):
        return f"wp:{local}"
    if _WORDPRESS_EXCERPT_NAMESPACE.match(namespace):
        return f"excerpt:{local}"
    prefix = _NAMESPACE_PREFIXES.get(namespace)
    return f"{prefix}:{local}" if prefix else tag


def children_by_name(element: Element) -> dict[str, Element]:
    """The first child of each short name."""
    found: dict[str, Element] = {}
    for child in element:
        found.setdefault(short_name(child.tag), child)
    return found


def text_of(element: Element | None) -> str:
    return "".join(element.itertext()) if element is not None else ""


def first_text(fields: dict[str, Element], *names: str) -> str:
    """The stripped text of the first of these children that has any."""
    for name in names:
        text = text_of(fields.get(name)).strip()
        if text:
            return text
    return ""


def iter_completed(
    events: Iterator[tuple[str, Any]], root: Element, name: str
) -> Iterator[Element]:
    """Each completed element called `name` (a short name) from iterparse events.

    Once the caller has read an element, it is dropped with its earlier siblings (channel title,
    authors, terms…), so a 10,000-post export never holds more than one post in memory.
    """
    open_elements = [root]
    for event, element in events:
        if event == "start":
            open_elements.append(element)
        elif event == "end":
            open_elements.pop()
            if short_name(element.tag) == name and open_elements:
                yield element
                open_elements[-1].clear()


def iter_entries(
    events: Iterator[tuple[str, Any]],
    root: Element,
    name: str,
    parse: Callable[..., ImportedPost | ImportSkip],
    *,
    source_name: str,
    id_fields: tuple[str, ...],
) -> Iterator[ImportResult]:
    """Parse each completed `name` element with `parse`; one that fails becomes an ImportSkip
    and the rest go on. The first of `id_fields` present labels the entry in the report."""
    label = name.removeprefix("atom:")
    for index, element in enumerate(iter_completed(events, root, name), start=1):
        fields = children_by_name(element)
        ident = first_text(fields, *id_fields)
        entry_name = f"{source_name}#{label} {index}" + (f" ({ident})" if ident else "")
        try:
            result = parse(element, source_name=entry_name)
        except Exception as exc:  # one odd entry must not stop the feed
            result = ImportSkip(entry_name, f"Could not read this {label}: {exc}.")
        yield result
