"""Heading-aware, token-aware chunks of a Markdown post. Plain Python (no Django).

Each chunk is embedded as "<title> › <section heading>\n<text>", and that whole string must fit
the embedding model's window (256 word pieces for MiniLM, [CLS]/[SEP] included): longer input is
silently truncated, and the cut-off words would never be found. Sections are split at headings,
packed paragraph by paragraph, long paragraphs by sentence, long sentences by words. A new chunk
inside the same section starts with the last sentence(s) of the previous one (the overlap).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")
FENCE = re.compile(r"^(```|~~~)")


@dataclass(frozen=True)
class TextChunk:
    ord: int
    heading: str  # "Title › Section › Subsection"
    text: str
    token_count: int  # of `embed_text`, special tokens included

    @property
    def embed_text(self) -> str:
        return f"{self.heading}\n{self.text}"


def sections(markdown: str, title: str) -> list[tuple[str, list[str]]]:
    """(heading path, paragraphs) in order; fenced code blocks stay one paragraph."""
    path: list[tuple[int, str]] = []
    result: list[tuple[str, list[str]]] = []
    paragraphs: list[str] = []
    lines: list[str] = []
    in_fence = False

    def heading_path() -> str:
        return " › ".join([title, *(text for _, text in path)])

    def end_paragraph() -> None:
        if lines:
            paragraphs.append("\n".join(lines).strip())
            lines.clear()

    def end_section() -> None:
        end_paragraph()
        if paragraphs:
            result.append((heading_path(), [p for p in paragraphs if p]))
            paragraphs.clear()

    for line in markdown.splitlines():
        if FENCE.match(line.strip()):
            in_fence = not in_fence
            lines.append(line)
            continue
        match = None if in_fence else HEADING.match(line)
        if match:
            end_section()
            level = len(match.group(1))
            path = [(lv, text) for lv, text in path if lv < level] + [(level, match.group(2))]
        elif not in_fence and not line.strip():
            end_paragraph()
        else:
            lines.append(line)
    end_section()
    return result


def chunk_markdown(
    markdown: str,
    *,
    title: str,
    count_tokens: Callable[[str], int],
    max_tokens: int = 256,
    target_tokens: int = 200,
    overlap_tokens: int = 40,
) -> list[TextChunk]:
    """Chunks whose embed text never exceeds `max_tokens`; most hold about `target_tokens`."""
    chunks: list[TextChunk] = []
    for heading, paragraphs in sections(markdown, title):
        if count_tokens(f"{heading}\n") > max_tokens // 2:  # absurdly long headings: title only
            heading = title[:120]
        head_tokens = count_tokens(f"{heading}\n")
        limit = min(max_tokens, head_tokens + target_tokens)
        # A piece alone (its own [CLS]/[SEP] counted) must fit beside the heading.
        piece_budget = max_tokens - head_tokens
        pieces = [p for para in paragraphs for p in _fit(para, piece_budget, count_tokens)]
        current: list[str] = []
        for piece in pieces:
            if current and _size(heading, [*current, piece], count_tokens) > limit:
                chunks.append(_make(len(chunks), heading, current, count_tokens))
                current = _overlap(current, overlap_tokens, count_tokens)
                if current and _size(heading, [*current, piece], count_tokens) > max_tokens:
                    current = []
            current.append(piece)
        if current:
            chunks.append(_make(len(chunks), heading, current, count_tokens))
    return chunks


def _size(heading: str, parts: list[str], count_tokens: Callable[[str], int]) -> int:
    return count_tokens(heading + "\n" + "\n\n".join(parts))


def _make(
    ord_: int, heading: str, parts: list[str], count_tokens: Callable[[str], int]
) -> TextChunk:
    text = "\n\n".join(parts)
    return TextChunk(ord_, heading, text, count_tokens(f"{heading}\n{text}"))


def _fit(paragraph: str, budget: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Split a paragraph into pieces of at most `budget` tokens: by sentence, then by words."""
    if count_tokens(paragraph) <= budget:
        return [paragraph]
    pieces: list[str] = []
    for sentence in SENTENCE_END.split(paragraph):
        if not sentence.strip():
            continue
        if count_tokens(sentence) <= budget:
            pieces.append(sentence.strip())
            continue
        words, current = sentence.split(), []
        for word in words:
            if current and count_tokens(" ".join([*current, word])) > budget:
                pieces.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            pieces.append(" ".join(current))
    return _merge(pieces, budget, count_tokens)


def _merge(pieces: list[str], budget: int, count_tokens: Callable[[str], int]) -> list[str]:
    merged: list[str] = []
    for piece in pieces:
        if merged and count_tokens(f"{merged[-1]} {piece}") <= budget:
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged


def _overlap(
    parts: list[str], overlap_tokens: int, count_tokens: Callable[[str], int]
) -> list[str]:
    """The trailing sentences of `parts` that fit in `overlap_tokens`, to open the next chunk."""
    sentences = [s.strip() for s in SENTENCE_END.split(parts[-1]) if s.strip()]
    kept: list[str] = []
    for sentence in reversed(sentences):
        if count_tokens(" ".join([sentence, *kept])) > overlap_tokens:
            break
        kept.insert(0, sentence)
    return [" ".join(kept)] if kept else []
