"""WordPress export files (WXR), streamed item by item."""

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from .common import (
    UNTITLED,
    ImportedPost,
    ImportResult,
    ImportSkip,
    children_by_name,
    clean_title,
    html_to_markdown,
    html_to_text,
    iter_entries,
    normalize_tags,
    parse_date,
    short_name,
    slugify,
    text_of,
)

DRAFT_STATUSES = {"draft", "pending", "private", "future"}
TAG_DOMAINS = {"post_tag", "category"}
_NO_DATE = "0000-00-00 00:00:00"

# Shortcodes: a pair keeps its inner text; a known self-closing one, or one with attributes, goes.
# A bare "[sic]" or "[1]" is ordinary text and stays.
_PAIRED_SHORTCODE = re.compile(r"\[([a-zA-Z][\w-]*)(?:\s[^\]]*)?\](.*?)\[/\1\]", re.DOTALL)
_LONE_SHORTCODE = re.compile(
    r"\[/?(?:caption|wp_caption|gallery|audio|video|playlist|embed)\b[^\]]*\]"
    r"|\[[a-zA-Z][\w-]*\s+[\w-]+=[^\]]*\]"
)
# Tags that open a block of their own, so wpautop must not wrap them in <p>.
_BLOCK_START = re.compile(
    r"^<(?:!--|p|div|h[1-6]|ul|ol|li|dl|blockquote|pre|table|figure|hr|section|article|"
    r"address|form|fieldset|iframe|math|svg)\b",
    re.IGNORECASE,
)
_PRE = re.compile(r"<pre\b.*?</pre>", re.DOTALL | re.IGNORECASE)


def iter_wxr(
    events: Iterator[tuple[str, Any]], root: Element, *, source_name: str
) -> Iterator[ImportResult]:
    """Posts and skips from a WXR file, given the iterparse events that follow its root."""
    return iter_entries(
        events, root, "item", parse_wxr_item, source_name=source_name,
        id_fields=("guid", "wp:post_id"),
    )  # fmt: skip


def parse_wxr_item(item: Element, *, source_name: str) -> ImportedPost | ImportSkip:
    """One WordPress item: pages, attachments, menus, revisions and trash are skipped."""
    fields = {name: text_of(element).strip() for name, element in children_by_name(item).items()}
    post_type = fields.get("wp:post_type") or "post"
    status = fields.get("wp:status") or "publish"
    if post_type != "post":
        return ImportSkip(source_name, f"Not a blog post: WordPress {post_type}.")
    if status == "trash":
        return ImportSkip(source_name, "In the WordPress trash.")
    if status == "auto-draft":
        return ImportSkip(source_name, "An empty WordPress auto-draft.")
    post_id = fields.get("wp:post_id")
    source_id = fields.get("guid") or (f"wp-post-{post_id}" if post_id else "")
    if not source_id:
        return ImportSkip(source_name, "No guid or post id, so a re-import could not match it.")
    title = clean_title(fields.get("title"))
    html = fields.get("content:encoded", "")
    if not title and not html:
        return ImportSkip(source_name, "Neither a title nor any content.")
    date_gmt = fields.get("wp:post_date_gmt", "")
    published = date_gmt if date_gmt and date_gmt != _NO_DATE else fields.get("pubDate")
    tags = [
        text_of(child)
        for child in item
        if short_name(child.tag) == "category" and child.get("domain") in TAG_DOMAINS
    ]
    return ImportedPost(
        source_format="wxr",
        source_name=source_name,
        source_id=source_id,
        title=title or UNTITLED,
        slug=slugify(unquote(fields.get("wp:post_name", "")) or title),
        body_markdown=html_to_markdown(wpautop(strip_shortcodes(html))),
        published_at=parse_date(published),
        tags=normalize_tags(tags),
        excerpt=html_to_text(fields.get("excerpt:encoded", "")),
        is_draft=status in DRAFT_STATUSES,
    )


def strip_shortcodes(html: str) -> str:
    """Remove `[caption …]…[/caption]` and other shortcode tags, keeping the text between them."""
    for _ in range(10):  # nested pairs come off one layer per pass
        unwrapped = _PAIRED_SHORTCODE.sub(r"\2", html)
        if unwrapped == html:
            break
        html = unwrapped
    return _LONE_SHORTCODE.sub("", html)


def wpautop(html: str) -> str:
    """WordPress's auto-paragraphs, in small: blank lines separate paragraphs, newlines are <br>.

    WordPress stores classic-editor posts without <p> tags and adds them on display; without this
    step markdownify would run every paragraph of such a post together.
    """
    # <pre> keeps its blank lines: set the blocks aside while splitting.
    kept: list[str] = []

    def keep(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return f"\x00{len(kept) - 1}\x00"

    text = _PRE.sub(keep, html.replace("\r\n", "\n"))
    paragraphs = []
    for chunk in re.split(r"\n\s*\n", text):
        chunk = chunk.strip()
        if not chunk:
            continue
        if _BLOCK_START.match(chunk) or re.fullmatch(r"\x00\d+\x00", chunk):
            paragraphs.append(chunk)
        else:
            paragraphs.append("<p>" + chunk.replace("\n", "<br />\n") + "</p>")
    joined = "\n\n".join(paragraphs)
    return re.sub(r"\x00(\d+)\x00", lambda match: kept[int(match.group(1))], joined)
