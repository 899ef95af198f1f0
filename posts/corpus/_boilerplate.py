"""Blog-platform boilerplate (share buttons, related posts, post metadata...) found in imported
Markdown, removed line by line or as a heading with its list, never from inside a paragraph.

A line is only judged by its visible text (Markdown links, emphasis and heading marks stripped)
matched in full, and only when it stands alone: a hard-wrapped paragraph line that happens to read
"Posted in 2019 at the height of..." is prose and stays.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

SHARE = "removed share buttons"
LIKE = "removed like buttons"
RELATED = "removed related posts"
NEWSLETTER = "removed newsletter prompt"
METADATA = "removed post metadata"
COMMENTS = "removed comment links"
COPYRIGHT = "removed copyright footer"
READ_MORE = "removed read-more links"
RULE = "removed a dangling horizontal rule"

_NETWORK = (
    r"(?:facebook|twitter|x|linkedin|reddit|pinterest|whatsapp|telegram|tumblr|pocket|mastodon"
    r"|bluesky|threads|hacker news|flipboard|mix|xing|e-?mail|print)"
)
_CLICK_TO = (
    rf"click to (?:share(?: this)?(?: on {_NETWORK})?|e-?mail(?: a link)?(?: to a friend)?|print)"
    r"(?: \(opens in new window\))?"
)
_SHARE_PART = (
    rf"share(?: this(?: post| article| page| story)?)?(?: (?:on|via|to|with) {_NETWORK})?"
    rf"|tweet(?: this)?|pin it|{_CLICK_TO}"
)
_LIKE_PART = (
    r"like loading(?:\.{3}|…)?|be the first to like this\.?"
    r"|\d+ (?:bloggers|people) like this\.?"
)
_NEWSLETTER_PART = (
    r"(?:subscribe to|sign up (?:to|for)|join)(?: my| our| the)?(?: free| weekly| monthly)?"
    r" (?:newsletter|mailing list|blog|rss feed|feed|e-?mail updates|updates)\b[^|]{0,150}"
    r"|enter your e-?mail(?: address)? to (?:subscribe|follow)\b[^|]{0,150}"
    r"|subscribe(?: (?:via|by) (?:rss|e-?mail))?"
)
_METADATA_PART = (
    r"posted (?:in|on|by|under) [^.!?|]{1,120}"
    r"|(?:filed|categori[sz]ed) (?:under|in):? [^.!?|]{1,120}"
    r"|tagged(?: with| as)?:? [^.!?|]{1,150}"
    r"|(?:proudly )?powered by [\w .-]{1,40}"
    r"|permalink"
)
_COMMENTS_PART = (
    r"leave a (?:comment|reply)(?: cancel reply)?"
    r"|(?:\d{1,5}|no|one|two|three|four|five|six|seven|eight|nine|ten)"
    r" (?:(?:comments?|responses?|replies)(?: yet)?|thoughts? on .{1,150})"
    r"|comments? (?:are )?(?:closed|off)\.?"
)
_COPYRIGHT_PART = (
    r"(?:copyright\s*)?(?:©|\(c\)(?=\s*\d))\s*[^.!?|]{0,100}(?:\.\s*all rights reserved)?\.?"
    r"|copyright \d{4}(?:\s*[-–]\s*\d{4})?[^.!?|]{0,80}?\.?\s*all rights reserved\.?"
    r"|all rights reserved\.?"
)
_READ_MORE_PART = (
    r"(?:read more|continue reading|keep reading|read the (?:full|rest of the|whole)"
    r" (?:post|article|story))(?: (?:of )?[\"“][^\"”]{1,150}[\"”])?(?: on [\w .]{1,30})?"
    r"\s*(?:»|→|›|>>|->|\.{3}|…)?\s*[.!]?"
    r"|\(more(?:\.{3}|…)\)"
)
# Order matters only for which label a line gets; a part matches one category in full.
_PART_CATEGORIES = [
    (SHARE, re.compile(_SHARE_PART, re.IGNORECASE)),
    (LIKE, re.compile(_LIKE_PART, re.IGNORECASE)),
    (NEWSLETTER, re.compile(_NEWSLETTER_PART, re.IGNORECASE)),
    (METADATA, re.compile(_METADATA_PART, re.IGNORECASE)),
    (COMMENTS, re.compile(_COMMENTS_PART, re.IGNORECASE)),
    (COPYRIGHT, re.compile(_COPYRIGHT_PART, re.IGNORECASE)),
    (READ_MORE, re.compile(_READ_MORE_PART, re.IGNORECASE)),
]
_PART_SEPARATOR = re.compile(r"\s*[|•·]\s*")
_SEPARATORS = " \t|•·,;:-–—()"

# Headings that introduce a block of items; "Share this:" and "Like this:" alone are ambiguous
# ("You call it like this:" before a code block), so they go only with their items, before other
# boilerplate, or at the very end of the post.
_SHARE_HEADING = re.compile(
    r"(?:share(?: this(?: post| article| page| story)?)?(?: on)?|sharing is caring"
    r"|spread the word)\s*[:!.]?",
    re.IGNORECASE,
)
_LIKE_HEADING = re.compile(r"like this\s*[:?]?", re.IGNORECASE)
_RELATED_HEADING = re.compile(
    r"(?:related(?: posts| articles| reading| stories)?|you (?:may|might) also (?:like|enjoy)"
    r"|similar posts|more from this blog)\s*:?",
    re.IGNORECASE,
)
_SHARE_ITEM_WORDS = re.compile(
    rf"(?<!\w)(?:{_CLICK_TO}|share(?: this)?(?: (?:on|via) {_NETWORK})?|{_NETWORK}|tweet|pin it"
    r"|more|like)(?!\w)",
    re.IGNORECASE,
)
_LIKE_ITEM = re.compile(rf"like|loading(?:\.{{3}}|…)?|{_LIKE_PART}", re.IGNORECASE)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_RELATED_DETAIL = re.compile(
    rf"{_MONTH} \d{{1,2}},? \d{{4}}|\d{{1,2}} {_MONTH} \d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}"
    r"|in [\"“][^\"”]{1,80}[\"”]|similar post|with \d+ comments?",
    re.IGNORECASE,
)
_BARE_URL = re.compile(r"<?https?://[^\s<>]+>?")

_HEADING_MARK = re.compile(r"^#{1,6}\s+|\s+#+\s*$")
_LIST_MARK = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
# A link's title may hold parentheses ("Click to share (Opens in new window)"), its URL not.
_LINK = re.compile(
    r"\[([^\]\n]*)\]\(\s*<?([^\s)>]*)>?(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^)\n]*\)))?\s*\)"
)
_REFERENCE_LINK = re.compile(r"\[([^\]\n]*)\]\[[^\]\n]*\]")
_HTML_TAG = re.compile(r"<[^<>\n]{1,300}>")
_SHARE_URL = re.compile(
    r"facebook\.com/shar(?:er|e\.php)|twitter\.com/(?:intent/tweet|share)|x\.com/intent/"
    r"|linkedin\.com/(?:shareArticle|sharing)|pinterest\.[a-z.]+/pin/create|reddit\.com/submit"
    r"|whatsapp\.com/send|t\.me/share|tumblr\.com/(?:share|widgets/share)|getpocket\.com/save"
    r"|news\.ycombinator\.com/submitlink|[?&]share=[a-z-]+|^mailto:\?",
    re.IGNORECASE,
)
_THEMATIC_BREAK = re.compile(r"^ {0,3}(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$")


@dataclass(frozen=True)
class _Line:
    raw: str
    label: str  # visible text: Markdown marks, links and tags stripped, spaces collapsed
    heading: bool  # an ATX heading: one line, its own element whatever surrounds it
    list_item: bool

    @property
    def blank(self) -> bool:
        return not self.raw.strip()


def remove_boilerplate(lines: list[str], *, ends_document: bool) -> tuple[list[str], list[str]]:
    """Return the lines that stay and the labels of what went, in order of first appearance.

    `ends_document` says no code block follows these lines, so a trailing "Share this:" is the
    post's footer.
    """
    labels: list[str] = []
    # A removal can leave a neighbour standing alone ("Related" over a copyright line over a
    # link); repeating until nothing changes makes cleaning a cleaned post a no-op. Every pass
    # but the last removes a line, so this ends.
    while True:
        kept = _remove_once(lines, labels, ends_document=ends_document)
        if labels and ends_document and _drop_trailing_rule(kept):
            _note(labels, RULE)
        if len(kept) == len(lines):
            return kept, labels
        lines = kept


def _remove_once(lines: list[str], labels: list[str], *, ends_document: bool) -> list[str]:
    parsed = [_parse(line) for line in lines]
    kept: list[str] = []
    index = 0
    while index < len(parsed):
        block = _heading_block(parsed, index, ends_document=ends_document)
        if block is not None:
            label, index = block
            _note(labels, label)
            continue
        label = _line_category(parsed, index)
        if label is not None:
            _note(labels, label)
        else:
            kept.append(parsed[index].raw)
        index += 1
    return kept


def _note(labels: list[str], label: str) -> None:
    if label not in labels:
        labels.append(label)


def _parse(raw: str) -> _Line:
    text = raw.strip()
    heading, list_item = bool(_HEADING_MARK.match(text)), bool(_LIST_MARK.match(text))
    text = _LIST_MARK.sub("", _HEADING_MARK.sub("", text))
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = text.replace("**", "").replace("__", "").strip(" *_")
    return _Line(raw, " ".join(text.split()), heading=heading, list_item=list_item)


def _parts_category(label: str) -> str | None:
    """The label of the first category when every `|`-separated part is boilerplate."""
    if not label:
        return None
    found: str | None = None
    for part in _PART_SEPARATOR.split(label):
        if not part:
            continue
        category = next(
            (name for name, pattern in _PART_CATEGORIES if pattern.fullmatch(part)), None
        )
        if category is None:
            return None
        found = found or category
    return found


def _without_links(raw: str) -> tuple[str, list[str]]:
    """The line with its list mark, images, links and bare URLs removed, and the link URLs."""
    text = _IMAGE.sub("", _LIST_MARK.sub("", raw.strip()))
    urls = [match[2] for match in _LINK.finditer(text)] + _BARE_URL.findall(text)
    return _BARE_URL.sub("", _LINK.sub("", text)).strip(_SEPARATORS), urls


def _is_share_link_line(raw: str) -> bool:
    """Icon-only share buttons: nothing but links to share endpoints, whatever their text."""
    rest, urls = _without_links(raw)
    return bool(urls) and all(_SHARE_URL.search(url) for url in urls) and not rest


def _matches_alone(line: _Line) -> str | None:
    if _is_share_link_line(line.raw):
        return SHARE
    return _parts_category(line.label)


def _blank_or_boilerplate(parsed: list[_Line], index: int) -> bool:
    if index < 0 or index >= len(parsed):
        return True
    line = parsed[index]
    return line.blank or _matches_alone(line) is not None or _block_kind(line.label) is not None


def _line_category(parsed: list[_Line], index: int) -> str | None:
    line = parsed[index]
    category = _matches_alone(line)
    if category is None:
        return None
    # Standing alone: a wrapped paragraph line, or one item of the author's own list, is prose
    # even when it reads like boilerplate.
    before, after = index - 1, index + 1
    starts_alone = line.heading or _blank_or_boilerplate(parsed, before) or parsed[before].heading
    ends_alone = (
        line.heading
        or _blank_or_boilerplate(parsed, after)
        or parsed[after].heading
        or (parsed[after].list_item and not line.list_item)
    )
    return category if starts_alone and ends_alone else None


def _heading_block(
    parsed: list[_Line], index: int, *, ends_document: bool
) -> tuple[str, int] | None:
    """(label, index after the block) when a share, like or related heading starts one here."""
    kind = _block_kind(parsed[index].label)
    if kind is None:
        return None
    category, is_item = kind
    end, links = index + 1, 0
    for cursor in range(index + 1, len(parsed)):
        line = parsed[cursor]
        if line.blank:
            continue
        if not is_item(line):
            break
        links += bool(_without_links(line.raw)[1])
        end = cursor + 1
    if category == RELATED:
        # Only a heading followed by a list of links is a related-posts block.
        return (category, end) if links else None
    if end > index + 1:
        return category, end
    following = next((i for i in range(index + 1, len(parsed)) if not parsed[i].blank), None)
    if following is None:
        return (category, index + 1) if ends_document else None
    line = parsed[following]
    if _matches_alone(line) is not None or _block_kind(line.label) is not None:
        return category, index + 1
    return None


def _block_kind(label: str) -> tuple[str, Callable[[_Line], bool]] | None:
    if _SHARE_HEADING.fullmatch(label):
        return SHARE, _is_share_item
    if _LIKE_HEADING.fullmatch(label):
        return LIKE, _is_like_item
    if _RELATED_HEADING.fullmatch(label):
        return RELATED, _is_related_item
    return None


def _is_share_item(line: _Line) -> bool:
    if _is_share_link_line(line.raw):
        return True
    rest = _SHARE_ITEM_WORDS.sub("", line.label)
    return rest != line.label and not rest.strip(_SEPARATORS)


def _is_like_item(line: _Line) -> bool:
    return bool(_LIKE_ITEM.fullmatch(line.label))


def _is_related_item(line: _Line) -> bool:
    """A link alone (a post title), or the date or category line a platform prints under it."""
    if _RELATED_DETAIL.fullmatch(line.label):
        return True
    rest, urls = _without_links(line.raw)
    return bool(urls) and (not rest or bool(_RELATED_DETAIL.fullmatch(rest)))


def _drop_trailing_rule(kept: list[str]) -> bool:
    """Drop a `---` left last once the footer below it went (not a setext heading underline)."""
    last = next((i for i in range(len(kept) - 1, -1, -1) if kept[i].strip()), None)
    if last is None or not _THEMATIC_BREAK.match(kept[last]):
        return False
    if last > 0 and kept[last - 1].strip():
        return False
    del kept[last:]
    return True
