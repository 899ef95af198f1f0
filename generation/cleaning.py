"""One cleaner for everything a model writes in a run: drafts, revisions, rewrites, continuations.

A 135M model answering a prompt wraps its text in talk about the task ("So far, I have rewritten
the draft without any major changes. Here is a continuation:"), echoes the prompt's own lines
("Write a blog post about: …", "Sources:"), falls into loops ("Sleep, sleep, sleep.") and stops
mid-sentence at the token limit. `clean_draft` removes all four, sentence by sentence, and leaves
the author's text as it was: a sentence is dropped whole or kept whole, never edited, and code
blocks are never touched. `clean_rewrite` does the same for a rewritten passage, which may also
come in quotes or tags. `meta_talk` lists what `clean_draft` would drop as talk, for the quality
benchmark (generation/quality.py).

Plain Python (no Django), like the workflow.
"""

import re
from collections.abc import Iterable

# A sentence ends at its mark, closing quotes and any citations after it ("… at 3 a.m. [1]").
CLOSING = r"[\"”’')\]]*(?:[ \t]*\[\d+\])*"
SENTENCE_END = re.compile(r"[.!?…]" + CLOSING + r"(?=\s|$)")
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S")

# A sentence that talks about the task, the prompt or the model itself, not about the topic.
_TASK_WORDS = r"(?:draft|brief|prompt|passage|sources?|continuation|rewrite|revision|version|task)"
META_TALK = re.compile(
    r"^(?:"
    r"(?:sure|okay|ok|certainly|of course|absolutely|great)\b(?:[,!.]?\s*(?:here|i|let)\b|[,!.]*$)"
    r"|here(?:'s| is| are)\b.{0,60}\b(?:" + _TASK_WORDS + r"|blog post|post|article|text)\b"
    r"|(?:so far,? )?i(?:'ve| have)? (?:written|rewritten|revised|edited|made|changed|removed|"
    r"added|kept|replaced|continued|followed|used|included)\b.{0,80}\b(?:the|your|this|these) "
    + _TASK_WORDS
    + r"\b"
    r"|(?:this|the|my) (?:" + _TASK_WORDS + r"|revised \w+|rewritten \w+)\b.{0,40}\b"
    r"(?:adds|keeps|removes|changes|uses|follows|avoids|is written|was written|has been)\b"
    r"|as an ai\b|as a language model\b|i hope (?:this|you)\b|let me know\b|feel free to\b"
    r"|(?:note|disclaimer|word count|revised|rewritten|continuation|draft)\s*:"
    r"|i (?:can(?:not|'t)|am unable to|will now|'ll now)\b"
    # The assistant talking to the user about their writing, or describing the post it should
    # be writing (measured on the base model's drafts of the demo briefs).
    r"|you(?:'ve| have) already (?:outlined|written|drafted|covered|started|done)\b"
    r"|in (?:the context of )?your (?:own )?(?:writing|blog post|post|article|draft)\b"
    r"|i(?:'m| am) (?:here to help|(?:no longer |not )?available to)\b"
    r"|in the (?:first|second|third|next|last|final|opening|closing) (?:paragraph|section),? i\b"
    r"|the rest of the (?:blog post|post|article|draft) (?:continues|goes on|will|is)\b"
    r")",
    re.IGNORECASE,
)
# A placeholder for a link or citation the model did not fill ("[Blog Post 1]", a literal
# "[n]"): wherever it stands, its sentence is not the author's.
PLACEHOLDER = re.compile(
    r"\[(?:n|blog post(?: \d+)?|post(?: \d+)?|link|source(?: \d+)?|citation|insert[^\]]*)\]",
    re.IGNORECASE,
)
# The prompt's own scaffolding (generation/workflow.py, generation/assist.py) written back.
PROMPT_ECHO = re.compile(
    r"^\W*(?:write a blog post (?:about|titled)|outline|audience|tone|length|sources|your draft|"
    r"the author's voice guide|rewrite the draft|a first attempt went on|write it again|"
    r"text (?:before|after) the passage|instruction|no sources were found)\b[^\n]{0,80}?:?\s*$"
    r"|^\s*</?passage>\s*$",
    re.IGNORECASE,
)
LEADING_MARKS = re.compile(r"(?:\[\d+\]|\d+[.)]\s|[^\w\[]|\s)*")
LABEL = re.compile(
    r"\A(?:revised|rewritten|new|rewrite|edited)(?: version| passage| text)?:\s*", re.IGNORECASE
)
LOOP_WORD_RUN = 3  # the same word this many times in a row is a loop ("sleep, sleep, sleep")
MIN_DISTINCT_SHARE = 0.4  # of a long sentence's words; below it the sentence is a loop
LOOP_NGRAM = 4  # a sentence all of whose 4-grams were said before repeats the text


def clean_draft(text: str, *, prompt: Iterable[str] = (), whole: bool = True) -> str:
    """`text` without talk about the task, prompt echoes, loops and (`whole`) a cut-off last
    sentence. `prompt`: the messages' texts; a line of the output equal to one of their lines
    that is not a sentence (a source's title, a brief's label) is an echo, while a sentence is
    left alone (the draft may use a source's words on purpose)."""
    echoes = _echo_lines(prompt)
    seen_sentences: set[str] = set()
    seen_ngrams: set[tuple[str, ...]] = set()
    kept: list[tuple[str, bool]] = []
    for block, is_code in _blocks(text):
        if is_code:
            kept.append((block, True))
            continue
        lines = []
        for line in block.split("\n"):
            if _normal(line) in echoes or PROMPT_ECHO.match(line):
                continue
            sentences = [
                s for s in _sentences(line) if not _dropped(s, seen_sentences, seen_ngrams)
            ]
            if sentences:
                lines.append(" ".join(sentences))
        if lines:
            kept.append(("\n".join(lines), False))
    if whole:
        kept = _ending_whole(kept)
    return _strip_dangling_colon("\n\n".join(block for block, _ in kept)).strip()


def clean_rewrite(output: str, *, prompt: Iterable[str] = ()) -> str:
    """A rewritten passage without its wrapping: 'Here's a revised version:' before it, 'This
    version adds…' after it, a label, quotes or <passage> tags around it; then as `clean_draft`
    but keeping a last phrase without a full stop (the selection may be one)."""
    text = output.replace("<passage>", "").replace("</passage>", "").strip()
    paragraphs = [p.strip() for p in PARAGRAPH_BREAK.split(text) if p.strip()]
    if len(paragraphs) > 1 and paragraphs[0].endswith(":"):
        paragraphs = paragraphs[1:]  # a preamble, whatever its words
    text = clean_draft(LABEL.sub("", "\n\n".join(paragraphs)), prompt=prompt, whole=False)
    for opening, closing in (('"', '"'), ("“", "”"), ("'", "'")):
        if len(text) >= 2 and text.startswith(opening) and text.endswith(closing):
            text = text[1:-1].strip()
    return text


def meta_talk(text: str) -> list[str]:
    """The sentences and lines of `text` that talk about the task or echo the prompt."""
    found = []
    for block, is_code in _blocks(text):
        if is_code:
            continue
        for line in block.split("\n"):
            if PROMPT_ECHO.match(line):
                found.append(line.strip())
            else:
                found.extend(s for s in _sentences(line) if _is_talk(s))
    return found


def whole_sentences(text: str) -> str:
    """`text` up to its last sentence end, when it has one: the token limit cut the rest. A
    text without any sentence end (a heading, a list of phrases) is kept as it is."""
    ends = list(SENTENCE_END.finditer(text))
    if ends and ends[-1].end() < len(text.rstrip()):
        return text[: ends[-1].end()]
    return text


def ends_whole(text: str) -> bool:
    """Whether `text` ends on a whole sentence (or a code block)."""
    stripped = text.rstrip()
    return stripped.endswith(("```", "~~~")) or bool(re.search(r"[.!?…]" + CLOSING + "$", stripped))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`: split at sentence ends and line breaks, without
    the spaces around it."""
    spans, at = [], 0
    for match in re.finditer(r"(?<=[.!?…])" + CLOSING + r"[ \t]+|\n+", text):
        cut = match.start() + len(match[0].rstrip())  # keep closing quotes, not spaces
        if text[at:cut].strip():
            spans.append(_trimmed(text, at, cut))
        at = match.end()
    if text[at:].strip():
        spans.append(_trimmed(text, at, len(text)))
    return spans


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), end - (len(piece) - len(piece.rstrip()))


def words(text: str) -> list[str]:
    return re.findall(r"[\w'’-]+", text.lower())


# --- Pieces -----------------------------------------------------------------------------------


def _blocks(text: str) -> list[tuple[str, bool]]:
    """Paragraphs, and fenced code blocks kept whole (True), in order."""
    blocks, inside, code = [], False, []
    for part in re.split(r"(\n[ \t]*\n)", text):
        if inside or FENCE.search(part):
            code.append(part)
            inside = (inside + len(FENCE.findall(part))) % 2 == 1
            if not inside:
                blocks.append(("".join(code).strip("\n"), True))
                code = []
            continue
        if part.strip():
            blocks.append((part.strip("\n"), False))
    if code:  # an unclosed fence: the token limit cut the code
        blocks.append(("".join(code).strip("\n"), True))
    return blocks


def _ending_whole(blocks: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """The blocks up to the last whole sentence: a last paragraph cut by the token limit is cut
    back to its last sentence end, or dropped when it has none and is not a list ('With'). A
    last code block stays, closed if the limit cut it."""
    blocks = list(blocks)
    while blocks:
        block, is_code = blocks[-1]
        if is_code:
            if len(FENCE.findall(block)) % 2:
                blocks[-1] = (block.rstrip() + "\n" + FENCE.match(block)[1], True)
            return blocks
        cut = whole_sentences(block)
        if cut != block or SENTENCE_END.search(block) or LIST_ITEM.match(block.split("\n")[-1]):
            blocks[-1] = (cut, False)
            return blocks
        if len(blocks) == 1:
            return blocks  # nothing but a phrase: keep it, the guard says it is short
        blocks.pop()
    return blocks


def _sentences(line: str) -> list[str]:
    """The line's sentences, each with its closing quotes ('"create safety."')."""
    return [line[start:end] for start, end in sentence_spans(line)]


def _is_talk(sentence: str) -> bool:
    """META_TALK after any list marker, citation or quote it opens with ('[2] I'm here…')."""
    opening = LEADING_MARKS.match(sentence)
    return bool(META_TALK.match(sentence[opening.end() :]) or PLACEHOLDER.search(sentence))


def _dropped(sentence: str, seen: set[str], seen_ngrams: set[tuple[str, ...]]) -> bool:
    """Talk about the task, or a loop: a word over and over, a sentence said before, or one
    that only repeats what came before. Records a kept sentence in `seen`/`seen_ngrams`."""
    if _is_talk(sentence):
        return True
    tokens = words(sentence)
    key = " ".join(tokens)
    runs = any(
        len(set(tokens[i : i + LOOP_WORD_RUN])) == 1 for i in range(len(tokens) - LOOP_WORD_RUN + 1)
    )
    low_variety = len(tokens) >= 6 and len(set(tokens)) < MIN_DISTINCT_SHARE * len(tokens)
    grams = {tuple(tokens[i : i + LOOP_NGRAM]) for i in range(len(tokens) - LOOP_NGRAM + 1)}
    repeats = bool(grams) and grams <= seen_ngrams
    if runs or low_variety or (key and key in seen) or repeats:
        return True
    if key:
        seen.add(key)
    seen_ngrams.update(grams)
    return False


def _echo_lines(prompt: Iterable[str]) -> set[str]:
    echoes = set()
    for text in prompt:
        for line in text.split("\n"):
            if line.strip() and not SENTENCE_END.search(line.rstrip()[-3:]):
                echoes.add(_normal(line))
    echoes.discard("")
    return echoes


def _normal(line: str) -> str:
    return " ".join(words(line))


def _strip_dangling_colon(text: str) -> str:
    """A last line that announces more ('Here are three tips:') with nothing after it."""
    lines = text.rstrip().split("\n")
    while lines and lines[-1].rstrip().endswith(":"):
        lines.pop()
    return "\n".join(lines)
