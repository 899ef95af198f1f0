"""Markdown structure the cleaner must respect: fenced code blocks and inline code spans.

Only the parts of CommonMark that decide what is code are modelled here; everything else is
prose to the cleaner.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

# A fence may sit in a list item or a blockquote, so any indent and `>` prefix is accepted: when
# in doubt, treating a line as code is the safe side, because code is never rewritten.
_FENCE_OPEN = re.compile(r"^[ \t>]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_FENCE_CLOSE = re.compile(r"^[ \t>]*(?P<fence>`{3,}|~{3,})[ \t]*$")
_BACKTICKS = re.compile(r"`+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# Code spans are swapped for a private-use character while prose is rewritten.
_PRIVATE_USE = range(0xE000, 0xF900)


@dataclass
class Block:
    """Consecutive lines that are either all prose or one fenced code block (fences included)."""

    is_code: bool
    lines: list[str]


def split_blocks(text: str) -> list[Block]:
    """Split text into prose and fenced-code blocks; an unclosed fence runs to the end."""
    blocks: list[Block] = []
    current = Block(is_code=False, lines=[])
    fence = ""
    for line in text.split("\n"):
        if current.is_code:
            current.lines.append(line)
            closing = _FENCE_CLOSE.match(line)
            if closing and _closes(closing["fence"], fence):
                blocks.append(current)
                current = Block(is_code=False, lines=[])
            continue
        opening = _FENCE_OPEN.match(line)
        # A backtick fence whose info string holds a backtick is inline code, not a fence.
        if opening and not (opening["fence"][0] == "`" and "`" in opening["info"]):
            if current.lines:
                blocks.append(current)
            current, fence = Block(is_code=True, lines=[line]), opening["fence"]
            continue
        current.lines.append(line)
    if current.lines:
        blocks.append(current)
    return blocks


def join_blocks(blocks: list[Block]) -> str:
    return "\n".join(line for block in blocks for line in block.lines)


def _closes(candidate: str, fence: str) -> bool:
    return candidate[0] == fence[0] and len(candidate) >= len(fence)


def code_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of inline code spans: a backtick run closed by the next run of equal length
    within the same paragraph. An unmatched run is literal text."""
    runs = [(match.start(), match.end()) for match in _BACKTICKS.finditer(text)]
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(runs):
        start, end = runs[index]
        blank = _BLANK_LINE.search(text, end)
        limit = blank.start() if blank else len(text)
        closer = index + 1
        while closer < len(runs) and runs[closer][0] < limit:
            if runs[closer][1] - runs[closer][0] == end - start:
                break
            closer += 1
        if closer < len(runs) and runs[closer][0] < limit:
            spans.append((start, runs[closer][1]))
            index = closer + 1
        else:
            index += 1
    return spans


def rewrite_prose(text: str, rewrite: Callable[[str], str]) -> str:
    """Apply `rewrite` to the prose of a Markdown text, leaving fenced code blocks and inline code
    spans byte for byte as they were.

    Each code span reaches `rewrite` as one private-use character, so a rewrite must neither drop
    nor add such characters. A span that crosses a line end becomes part of one line, so its inner
    line end is never treated as the end of a prose line.
    """
    blocks = split_blocks(text)
    for block in blocks:
        if not block.is_code:
            prose = _rewrite_outside_spans("\n".join(block.lines), rewrite)
            block.lines = prose.split("\n")
    return join_blocks(blocks)


def _rewrite_outside_spans(prose: str, rewrite: Callable[[str], str]) -> str:
    spans = code_spans(prose)
    if not spans:
        return rewrite(prose)
    marker = next(chr(point) for point in _PRIVATE_USE if chr(point) not in prose)
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces.append(prose[position:start])
        position = end
    pieces.append(prose[position:])
    rewritten = rewrite(marker.join(pieces)).split(marker)
    if len(rewritten) != len(pieces):
        raise AssertionError("a prose rewrite dropped or added a code-span marker")
    out = [rewritten[0]]
    for (start, end), after in zip(spans, rewritten[1:], strict=True):
        out.extend((prose[start:end], after))
    return "".join(out)
