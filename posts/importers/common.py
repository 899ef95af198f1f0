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

import ftfy
from bs4 import BeautifulSoup, Tag
from dateutil import parser as dateutil_parser
from markdownify import MarkdownConverter

# The cleaner's own model of what is code in Markdown, so both agree on what they must not touch.
from posts.corpus._markdown import code_spans, split_blocks

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
    # Sentences for the per-file report about what the import changed or left out.
    notes: tuple[str, ...] = ()


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
    """A title: entities decoded ("&#8217;" → "’"), mojibake repaired, on one line."""
    return collapse_whitespace(fix_mojibake(unescape(text or "")))


def fix_mojibake(text: str) -> str:
    """Mojibake repaired ("isnâ€™t" → "isn’t"): the encoding step of posts.corpus.clean_text.

    Titles do not go through clean_text (its boilerplate and quote steps are for bodies), so they
    get this first step alone, with the same ftfy options.
    """
    return unicodedata.normalize("NFC", ftfy.fix_text(text, uncurl_quotes=False))


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


# Static-site templates: Jekyll's Liquid, Hugo's shortcodes and HTML comments left in Markdown.

# Code is swapped for "\x00<n>\x00" while templates are cleaned, as wpautop sets <pre> aside.
_CODE_MARKER = re.compile(r"\x00(\d+)\x00")
# What a dropped token leaves behind, so a line that held only tokens can go with them.
_DROPPED = "\x01"
_DROPPED_LINE = re.compile(rf"^[ \t]*{_DROPPED}[ \t{_DROPPED}]*(?:\n|\Z)", re.MULTILINE)
_OPENER = re.compile(r"<!--|\{\{[<%]|\{%|\{\{")
# A token never reaches into code; a tag never crosses a blank line either, so a stray "{%" cannot
# eat a paragraph, and an output tag stays on its line and holds no braces. A comment hides whole
# paragraphs, as in a browser.
_CODE = re.compile(r"\x00")
_PARAGRAPH_END = re.compile(r"\x00|\n[ \t]*\n")
_OUTPUT_END = re.compile(r"[\x00\n{}]")
_TOKENS = {  # opener: (kind, closer, barrier)
    "<!--": ("comment", re.compile(r"-->"), _CODE),
    "{{<": ("shortcode", re.compile(r">\}\}"), _PARAGRAPH_END),  # Hugo {{< name >}}
    "{{%": ("shortcode", re.compile(r"%\}\}"), _PARAGRAPH_END),  # Hugo {{% name %}}
    "{%": ("tag", re.compile(r"%\}"), _PARAGRAPH_END),  # Liquid {% name %}
    "{{": ("output", re.compile(r"\}\}"), _OUTPUT_END),  # Liquid or Go output, {{ site.baseurl }}
}
_RAW_TAG = re.compile(r"\{%-?\s*(?:end)?raw\s*-?%\}")
# Block tags by their closing tag: code (becomes a fence), raw text (kept), a comment (dropped).
_BLOCK_CLOSERS = {
    ("tag", "highlight"): re.compile(r"\{%-?\s*endhighlight\s*-?%\}"),
    ("tag", "codeblock"): re.compile(r"\{%-?\s*endcodeblock\s*-?%\}"),
    ("shortcode", "highlight"): re.compile(r"\{\{[<%]\s*/\s*highlight\s*[>%]\}\}"),
    ("tag", "raw"): re.compile(r"\{%-?\s*endraw\s*-?%\}"),
    ("tag", "comment"): re.compile(r"\{%-?\s*endcomment\s*-?%\}"),
}
_LANGUAGE = re.compile(r"[\w+#.-]+")
_SHOWN_DROPPED = 5


def strip_templates(markdown: str) -> tuple[str, list[str]]:
    """Markdown without template syntax, and the tokens dropped, in order.

    Highlight and codeblock tags become fenced code blocks with their language; `{% raw %}` keeps
    its text and loses its tags; `{% comment %}` blocks go whole; every other Liquid tag, Hugo
    shortcode, output tag and HTML comment is dropped, with the line it stood on when it stood
    alone. Fenced code and inline code spans are never changed: a post about Liquid keeps its
    examples. Control characters \\x00 and \\x01 are removed first (clean_text would remove them
    anyway); the cleaning uses them as markers.
    """
    masked, codes = _mask_code(markdown.replace("\x00", "").replace(_DROPPED, ""))
    find = _Finder(masked)
    dropped: list[str] = []
    out: list[str] = []
    position = 0
    while token := _next_token(masked, position, find):
        out.append(masked[position : token.start])
        position = token.end
        closer = _BLOCK_CLOSERS.get((token.kind, token.name))
        end = find(closer, position) if closer else None
        if (token.kind, token.name) == ("tag", "endraw"):
            continue  # a stray closing raw tag hides nothing
        if (token.kind, token.name) == ("tag", "raw"):
            # Raw text stays as written, template syntax and all; an unclosed raw runs to the end.
            stop = end.start() if end else len(masked)
            out.append(masked[position:stop])
            position = end.end() if end else stop
        elif end is not None and token.name == "comment":
            dropped.append(f"{token.text}…{end[0]}")
            out.append(_DROPPED)
            position = end.end()
        elif end is not None:
            code = _restore(masked[position : end.start()], codes)
            line_before = masked[masked.rfind("\n", 0, token.start) + 1 : token.start]
            position = end.end()
            after = masked[position : position + 1]
            out.append(_fence(code, _code_language(token.name, token.args), line_before, after))
        else:  # any other tag, or a code block tag that is never closed
            dropped.append(token.text)
            out.append(_DROPPED)
    out.append(masked[position:])
    cleaned = _DROPPED_LINE.sub("", "".join(out)).replace(_DROPPED, "")
    return _restore(cleaned, codes), dropped


def dropped_note(dropped: list[str]) -> str:
    """'Dropped 3 template tags and 1 HTML comment: {% include toc.html %}, <!-- more -->.'"""
    comments = sum(token.startswith("<!--") for token in dropped)
    counts = [(len(dropped) - comments, "template tag"), (comments, "HTML comment")]
    parts = [f"{n} {noun}{'' if n == 1 else 's'}" for n, noun in counts if n]
    shown = list(dict.fromkeys(_shorten(token) for token in dropped))
    listed = ", ".join(shown[:_SHOWN_DROPPED])
    if len(shown) > _SHOWN_DROPPED:
        listed += f" and {len(shown) - _SHOWN_DROPPED} more"
    return f"Dropped {' and '.join(parts)}: {listed}."


def _mask_code(markdown: str) -> tuple[str, list[str]]:
    """The text with each fenced code block and inline code span swapped for a marker."""
    codes: list[str] = []

    def marker(code: str) -> str:
        codes.append(code)
        return f"\x00{len(codes) - 1}\x00"

    parts = []
    for block in split_blocks(markdown):
        text = "\n".join(block.lines)
        if block.is_code:
            parts.append(marker(text))
            continue
        pieces, position = [], 0
        for start, end in code_spans(text):
            pieces += [text[position:start], marker(text[start:end])]
            position = end
        parts.append("".join(pieces) + text[position:])
    return "\n".join(parts), codes


def _restore(text: str, codes: list[str]) -> str:
    return _CODE_MARKER.sub(lambda match: codes[int(match[1])], text)


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str  # "{%- highlight python linenos %}"
    kind: str  # "comment" | "shortcode" | "tag" | "output"
    name: str  # "highlight"
    args: str  # "python linenos"


class _Finder:
    """The next match of a pattern in one text, at or after a position that only moves forward.

    A pattern is searched again only once the position passes its last match, so a text full of
    unclosed "{%" costs one pass, not one pass per "{%".
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.last: dict[re.Pattern[str], re.Match[str] | None] = {}

    def __call__(self, pattern: re.Pattern[str], position: int) -> re.Match[str] | None:
        if pattern in self.last:
            match = self.last[pattern]
            if match is None or match.start() >= position:
                return match
        match = self.last[pattern] = pattern.search(self.text, position)
        return match


def _next_token(text: str, position: int, find: _Finder) -> _Token | None:
    """The first template token at or after `position` whose closer comes before its barrier."""
    while opener := _OPENER.search(text, position):
        kind, closer, barrier = _TOKENS[opener[0]]
        close = find(closer, opener.end())
        stop = find(barrier, opener.end())
        if close is not None and (stop is None or close.start() <= stop.start()):
            inside = text[opener.end() : close.start()].strip().strip("-").strip()
            name, _, args = inside.partition(" ")
            token_text = text[opener.start() : close.end()]
            return _Token(opener.start(), close.end(), token_text, kind, name.lower(), args.strip())
        position = opener.start() + 1
    return None


def _code_language(name: str, args: str) -> str:
    """The language of a code block tag: "python" from "highlight python linenos", from Octopress'
    "codeblock Title lang:ruby", or from Hugo's `highlight "go" "linenos=table"`."""
    words = args.replace('"', " ").split()
    if name == "codeblock":
        words = [word.removeprefix("lang:") for word in words if word.startswith("lang:")]
    language = _LANGUAGE.match(words[0]) if words else None
    return language[0] if language else ""


def _fence(code: str, language: str, line_before: str, after: str) -> str:
    """A fenced code block in place of a template code block, on lines of its own.

    The fence is longer than any backtick run in the code, so code that shows a fence stays code.
    Raw tags inside are dropped: Jekyll needs them there only to print Liquid as it is.
    """
    code = _RAW_TAG.sub("", code)
    code = re.sub(r"\A[ \t]*\n", "", re.sub(r"\n[ \t]*\Z", "", code))
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    # After an indent (a list item) the fence takes it; after text it starts a line of its own.
    indent = "" if line_before.strip() else line_before
    opening = "\n" if line_before.strip() else ""
    closing = "" if after in {"", "\n"} else "\n"
    return f"{opening}{fence}{language}\n{code}\n{indent}{fence}{closing}"


def _shorten(token: str) -> str:
    token = collapse_whitespace(token)
    return token if len(token) <= 60 else token[:59] + "…"
