"""clean_text: repair and tidy one imported blog post (Markdown) before training and retrieval."""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import ftfy

from posts.corpus._boilerplate import remove_boilerplate
from posts.corpus._markdown import join_blocks, rewrite_prose, split_blocks

NORMALISED_LINE_ENDINGS = "normalised line endings"
REPAIRED_ENCODING = "repaired mojibake and encoding"
REMOVED_INVISIBLE = "removed invisible characters"
REPLACED_SPACES = "replaced non-breaking and other Unicode spaces"
NORMALISED_QUOTES = "normalised quotes"
REPLACED_ELLIPSES = "replaced ellipsis characters"
REPLACED_TABS = "replaced tabs with spaces"
STRIPPED_TRAILING = "stripped trailing spaces"
COLLAPSED_BLANK_LINES = "collapsed blank lines"
STRIPPED_ENDS = "stripped leading and trailing whitespace"

_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")
# ZWNJ/ZWJ shape emoji sequences and Indic or Persian words: between two non-ASCII characters
# they stay; anywhere else (inside a Latin word, next to a space) they are copy-paste debris. The
# quotes, ellipsis and acute accent that step 4 turns into ASCII do not count as non-ASCII, so a
# second cleaning finds nothing more to remove.
_JOINED = r"[^\x00-\x7f\s\u00b4\u200b-\u200d\u2018-\u201f\u2026]"
_STRAY_JOINER = re.compile(rf"(?<!{_JOINED})[\u200c\u200d]|[\u200c\u200d](?!{_JOINED})")
_UNICODE_SPACE = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'"}
    | {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'}
)
# An acute accent typed as an apostrophe ("don´t"); in NFC text a real accent is never standalone
# between two letters.
_ACUTE_APOSTROPHE = re.compile(r"(?<=\w)\u00b4(?=\w)")
_LEADING_WHITESPACE = re.compile(r"^[ \t]+")


@dataclass(frozen=True)
class CleanResult:
    text: str
    changes: tuple[str, ...]  # what was done, in order, e.g. ("repaired mojibake and encoding",)


def clean_text(markdown: str) -> CleanResult:
    """Clean one post in four steps, each listed in `changes` only when it changed something.

    1. Encoding: Windows line endings become \\n; ftfy with its defaults (mojibake, HTML entities
       when the text has no tags, control characters, full-width letters) except quote
       uncurling; then NFC.
    2. Invisible characters: zero-width spaces, word joiners, BOMs and soft hyphens removed; stray
       zero-width (non-)joiners removed; non-breaking and other Unicode spaces become spaces.
    3. Boilerplate: share and like buttons, related-posts lists, newsletter one-liners, post
       metadata, comment links, copyright footers and read-more links, only as whole lines or a
       heading with its list; see `posts.corpus._boilerplate`.
    4. Quotes and whitespace: curly quotes become ' and ", "…" becomes "...", en and em dashes
       stay; trailing spaces are stripped, Markdown two-space hard line breaks included (they
       become soft breaks); tabs become spaces (a leading tab four, so indentation keeps its
       meaning); two or more blank lines become one; the text is stripped.

    Fenced code blocks and inline code spans only ever see step 1.
    """
    changes: list[str] = []
    text = _repair_encoding(markdown, changes)
    text = _rewrite(text, _remove_invisible, REMOVED_INVISIBLE, changes)
    text = _rewrite(text, _replace_unicode_spaces, REPLACED_SPACES, changes)
    text = _remove_boilerplate(text, changes)
    text = _rewrite(text, _normalise_quotes, NORMALISED_QUOTES, changes)
    text = _rewrite(text, _replace_ellipses, REPLACED_ELLIPSES, changes)
    text = _rewrite(text, _replace_tabs, REPLACED_TABS, changes)
    text = _rewrite(text, _strip_trailing_spaces, STRIPPED_TRAILING, changes)
    text = _collapse_blank_lines(text, changes)
    stripped = text.strip()
    # A file's final newline is not worth a line in the editor's list of changes.
    if stripped != text.removesuffix("\n"):
        changes.append(STRIPPED_ENDS)
    return CleanResult(text=stripped, changes=tuple(changes))


def _repair_encoding(text: str, changes: list[str]) -> str:
    # ftfy would fix Windows line endings too, but they are not worth calling an encoding repair.
    unix = text.replace("\r\n", "\n").replace("\r", "\n")
    if unix != text:
        changes.append(NORMALISED_LINE_ENDINGS)
    text = unix
    fixed = unicodedata.normalize("NFC", ftfy.fix_text(text, uncurl_quotes=False))
    if fixed != text:
        changes.append(REPAIRED_ENCODING)
    return fixed


def _rewrite(text: str, rewrite: Callable[[str], str], label: str, changes: list[str]) -> str:
    rewritten = rewrite_prose(text, rewrite)
    if rewritten != text:
        changes.append(label)
    return rewritten


def _remove_invisible(prose: str) -> str:
    return _STRAY_JOINER.sub("", _INVISIBLE.sub("", prose))


def _replace_unicode_spaces(prose: str) -> str:
    return _UNICODE_SPACE.sub(" ", prose)


def _normalise_quotes(prose: str) -> str:
    return _ACUTE_APOSTROPHE.sub("'", prose.translate(_QUOTES))


def _replace_ellipses(prose: str) -> str:
    return prose.replace("…", "...")


def _replace_tabs(prose: str) -> str:
    lines = []
    for line in prose.split("\n"):
        # Leading tabs expand to 4-column stops, so list nesting and indented code keep their
        # meaning; a tab inside a line is just a wide space.
        line = _LEADING_WHITESPACE.sub(lambda match: match[0].expandtabs(4), line)
        lines.append(line.replace("\t", " "))
    return "\n".join(lines)


def _strip_trailing_spaces(prose: str) -> str:
    return "\n".join(line.rstrip(" \t") for line in prose.split("\n"))


def _remove_boilerplate(text: str, changes: list[str]) -> str:
    blocks = split_blocks(text)
    for index, block in enumerate(blocks):
        if block.is_code:
            continue
        # "At the end of the post" means no code block follows this prose.
        kept, labels = remove_boilerplate(block.lines, ends_document=index == len(blocks) - 1)
        block.lines = kept
        changes.extend(label for label in labels if label not in changes)
    return join_blocks(blocks)


def _collapse_blank_lines(text: str, changes: list[str]) -> str:
    blocks = split_blocks(text)
    changed = False
    for block in blocks:
        if block.is_code:
            continue
        kept: list[str] = []
        for line in block.lines:
            if not line.strip() and kept and not kept[-1].strip():
                changed = True
                continue
            kept.append(line)
        block.lines = kept
    if changed:
        changes.append(COLLAPSED_BLANK_LINES)
    return join_blocks(blocks)
