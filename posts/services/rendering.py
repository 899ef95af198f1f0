"""Markdown to sanitised HTML: CommonMark (markdown-it-py) rendered, then cleaned with nh3."""

import re

import nh3
from django.utils.html import strip_tags
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"linkify": False, "typographer": False}).enable("table")

ALLOWED_TAGS = {
    "a", "abbr", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}}


def render_markdown(markdown: str) -> str:
    """HTML safe to show anywhere: no scripts, styles, event handlers or javascript: links."""
    html = _markdown.render(markdown)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def count_words(html: str) -> int:
    """Words a reader sees: rendered text, without Markdown or HTML syntax."""
    return len(_WORD.findall(strip_tags(html)))
