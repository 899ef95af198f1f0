"""Stand-alone HTML pages: one saved blog post per file."""

from pathlib import PurePosixPath
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag

from .common import (
    UNTITLED,
    ImportedPost,
    clean_title,
    html_to_markdown,
    html_to_text,
    normalize_tags,
    parse_date,
    slugify,
    split_tags,
)

# Page furniture, not the post.
_NOT_CONTENT = ["script", "style", "nav", "header", "footer", "aside", "form", "noscript"]


def parse_html(text: str, *, source_name: str, source_id: str) -> ImportedPost:
    """One post from an HTML page.

    Steps: read title, date, tags, description and slug from the whole page; drop the heading
    that repeats the title; pick the post's container (`<article>`, else `<main>`, else
    `<body>`); drop page furniture; convert the rest to Markdown.
    """
    soup = BeautifulSoup(text, "html.parser")
    h1 = soup.find("h1")
    title_tag = soup.find("title")
    title = clean_title(title_tag.get_text()) if title_tag else ""
    if not title and h1:
        title = clean_title(h1.get_text())
    keywords = _meta(soup, name="keywords")
    tags = split_tags(keywords) + [
        _content(m) for m in soup.find_all("meta", property="article:tag")
    ]
    published_at = parse_date(_published(soup))
    description = _meta(soup, name="description") or _meta(soup, property="og:description")
    slug = _slug(soup, source_id, title)
    # The title is shown apart from the body, so a matching heading would appear twice.
    if isinstance(h1, Tag) and clean_title(h1.get_text()) == title:
        h1.decompose()
    container = soup.find("article") or soup.find("main") or soup.find("body") or soup
    for tag in container.find_all(_NOT_CONTENT):
        tag.decompose()
    return ImportedPost(
        source_format="html",
        source_name=source_name,
        source_id=source_id,
        title=title or UNTITLED,
        slug=slug,
        body_markdown=html_to_markdown(container),
        published_at=published_at,
        tags=normalize_tags(tags),
        excerpt=html_to_text(description),
        is_draft=False,
    )


def _published(soup: BeautifulSoup) -> str:
    """The first date the page gives: article:published_time, meta date, then `<time datetime>`."""
    time_tag = soup.find("time", attrs={"datetime": True})
    return (
        _meta(soup, property="article:published_time")
        or _meta(soup, name="date")
        or (str(time_tag["datetime"]) if isinstance(time_tag, Tag) else "")
    )


def _slug(soup: BeautifulSoup, source_id: str, title: str) -> str:
    """The canonical URL's last path segment, else the file name, else the title."""
    canonical = soup.find("link", rel="canonical", href=True)
    if isinstance(canonical, Tag):
        segment = PurePosixPath(urlsplit(str(canonical["href"])).path).stem
        if segment and segment != "index":
            return slugify(segment)
    path = PurePosixPath(source_id)
    name = path.parent.name if path.stem == "index" else path.stem
    return slugify(name or title)


def _meta(soup: BeautifulSoup, **attrs: str) -> str:
    return _content(soup.find("meta", attrs=attrs))


def _content(tag: object) -> str:
    return str(tag.get("content") or "").strip() if isinstance(tag, Tag) else ""
