"""RSS 2.0 and Atom feeds, streamed entry by entry."""

from collections.abc import Iterator
from html import escape
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import tostring

from .common import (
    UNTITLED,
    ImportedPost,
    ImportResult,
    ImportSkip,
    children_by_name,
    clean_title,
    collapse_whitespace,
    html_to_markdown,
    html_to_text,
    iter_entries,
    normalize_tags,
    parse_date,
    short_name,
    slug_from_url,
    slugify,
    text_of,
)

# Blogger's Atom export marks each entry's kind; only posts are blog posts.
_BLOGGER_KIND_SCHEME = "http://schemas.google.com/g/2005#kind"
_BLOGGER_POST_KIND = "http://schemas.google.com/blogger/2008/kind#post"


def iter_rss(
    events: Iterator[tuple[str, Any]], root: Element, *, source_name: str
) -> Iterator[ImportResult]:
    """Posts and skips from an RSS 2.0 feed, given the iterparse events that follow its root."""
    return iter_entries(
        events, root, "item", parse_rss_item, source_name=source_name,
        id_fields=("guid", "atom:id", "link"),
    )  # fmt: skip


def iter_atom(
    events: Iterator[tuple[str, Any]], root: Element, *, source_name: str
) -> Iterator[ImportResult]:
    """Posts and skips from an Atom feed, given the iterparse events that follow its root."""
    return iter_entries(
        events, root, "atom:entry", parse_atom_entry, source_name=source_name,
        id_fields=("guid", "atom:id", "link"),
    )  # fmt: skip


def parse_rss_item(item: Element, *, source_name: str) -> ImportedPost | ImportSkip:
    """One RSS item; `content:encoded` is the body when present, and `description` the excerpt."""
    fields = {name: text_of(element).strip() for name, element in children_by_name(item).items()}
    title = clean_title(fields.get("title"))
    link = fields.get("link", "")
    content = fields.get("content:encoded", "")
    description = fields.get("description", "")
    source_id = fields.get("guid") or link
    if not source_id:
        return ImportSkip(source_name, "No guid or link, so a re-import could not match it.")
    if not title and not (content or description):
        return ImportSkip(source_name, "Neither a title nor any content.")
    tags = [text_of(child) for child in item if short_name(child.tag) == "category"]
    return ImportedPost(
        source_format="rss",
        source_name=source_name,
        source_id=source_id,
        title=title or UNTITLED,
        slug=slug_from_url(link) or slugify(title),
        body_markdown=html_to_markdown(content or description),
        published_at=parse_date(fields.get("pubDate") or fields.get("dc:date")),
        tags=normalize_tags(tags),
        # Without content:encoded the description is the body, not a summary of it.
        excerpt=html_to_text(description) if content else "",
        is_draft=False,
    )


def parse_atom_entry(entry: Element, *, source_name: str) -> ImportedPost | ImportSkip:
    """One Atom entry; `content` is the body when present, and `summary` the excerpt."""
    fields = children_by_name(entry)
    categories = [child for child in entry if short_name(child.tag) == "atom:category"]
    kind_categories = [c for c in categories if c.get("scheme") == _BLOGGER_KIND_SCHEME]
    kinds = [c.get("term", "") for c in kind_categories]
    if kinds and _BLOGGER_POST_KIND not in kinds:
        kind = kinds[0].rpartition("#")[2]
        return ImportSkip(source_name, f"Not a blog post: Blogger {kind}.")
    link = _alternate_link(entry)
    source_id = text_of(fields.get("atom:id")).strip() or link
    if not source_id:
        return ImportSkip(source_name, "No id or link, so a re-import could not match it.")
    title = clean_title(_atom_text(fields.get("atom:title")))
    content = fields.get("atom:content")
    if content is not None and content.get("src"):
        content = None  # content kept elsewhere: the summary is all we have
    summary = fields.get("atom:summary")
    body = _atom_markdown(content if content is not None else summary)
    if not title and not body:
        return ImportSkip(source_name, "Neither a title nor any content.")
    published = text_of(fields.get("atom:published")) or text_of(fields.get("atom:updated"))
    draft = text_of(fields.get("app:control")).strip().lower() == "yes"  # <app:draft>yes</…>
    return ImportedPost(
        source_format="atom",
        source_name=source_name,
        source_id=source_id,
        title=title or UNTITLED,
        slug=slug_from_url(link) or slugify(title),
        body_markdown=body,
        published_at=parse_date(published.strip()),
        tags=normalize_tags(c.get("term", "") for c in categories if c not in kind_categories),
        excerpt=_atom_text(summary) if content is not None else "",
        is_draft=draft,
    )


def _alternate_link(entry: Element) -> str:
    """The first `<link rel="alternate">`; a link without rel is an alternate too."""
    for child in entry:
        if short_name(child.tag) == "atom:link" and child.get("rel", "alternate") == "alternate":
            return child.get("href", "").strip()
    return ""


def _atom_html(element: Element) -> str | None:
    """HTML for an Atom text construct, or None when it is plain text (type="text")."""
    kind = element.get("type", "text")
    if "xhtml" in kind:
        # The content is a <div> in the XHTML namespace: drop the namespace, keep the markup.
        for node in element.iter():
            node.tag = node.tag.rpartition("}")[2]
        markup = (tostring(child, encoding="unicode", method="html") for child in element)
        return escape(element.text or "") + "".join(markup)
    if "html" in kind:
        return text_of(element)
    return None


def _atom_markdown(element: Element | None) -> str:
    if element is None:
        return ""
    html = _atom_html(element)
    return html_to_markdown(html) if html is not None else text_of(element).strip()


def _atom_text(element: Element | None) -> str:
    if element is None:
        return ""
    html = _atom_html(element)
    return html_to_text(html) if html is not None else collapse_whitespace(text_of(element))
