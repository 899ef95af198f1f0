"""'Rewrite this selection' and 'continue from here' in the post editor.

The editor sends the post's text as it is on screen, with the selection (or the cursor) as
character offsets. A run of kind `rewrite` or `continue` goes through the same workflow as a
draft (retrieve → draft → guard → revise → finalise) with the prompts below, and its output is a
proposal for that one place in the text. The editor sees the proposal as hunks (posts.diffs):
for a rewrite, the selection's words it keeps and each change; for a continuation, each new
paragraph. They take or leave each hunk, and the page puts the result in place of the selection,
after checking that the text there is still what was sent (static/js/assist.js).

Plain Python (no Django), like the workflow.
"""

from generation.cleaning import (
    PARAGRAPH_BREAK,
    SENTENCE_END,
    clean_draft,
    clean_rewrite,
    whole_sentences,
)
from generation.workflow import scaffold, sources_text, system_prompt
from posts.diffs import Hunk, hunks

REWRITE, CONTINUE = "rewrite", "continue"
KINDS = (REWRITE, CONTINUE)
MAX_SELECTION_CHARS = 4000
MAX_INSTRUCTION_CHARS = 300
BEFORE_CHARS = 2000  # of the text before the selection, in the prompt
AFTER_CHARS = 600
QUERY_CHARS = 600  # of the nearby text, to find sources
SOURCES = 3  # fewer than a draft's: the prompt carries the post's own text too
CONTINUE_TOKENS = 120  # a paragraph; the editor asks again for more
MAX_NEW_TOKENS = 1024  # a 4,000-character selection is about 1,000 tokens


class AssistError(ValueError):
    """The request cannot be served as sent (the message says why, for the editor)."""


def assist_brief(
    *, kind: str, text: str, start: int, end: int, title: str, instruction: str = ""
) -> dict:
    """What the run needs to know, checked: the selection and the text around it.

    `start`/`end` are offsets into `text` (JavaScript's selectionStart/selectionEnd, which count
    UTF-16 code units: the page converts them before sending)."""
    if kind not in KINDS:
        raise AssistError(f"Unknown kind {kind!r}: ask to rewrite or to continue.")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start <= end <= len(text):
        raise AssistError("The selection is outside the text; select it again.")
    selection = text[start:end]
    if kind == REWRITE and not selection.strip():
        raise AssistError("Select the words to rewrite first.")
    if kind == CONTINUE and not text[:start].strip():
        raise AssistError("Write a little first, then ask to continue from there.")
    if len(selection) > MAX_SELECTION_CHARS:
        raise AssistError(
            f"The selection is {len(selection):,} characters; rewrite at most "
            f"{MAX_SELECTION_CHARS:,} at a time."
        )
    instruction = " ".join(instruction.split())
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise AssistError(f"Keep the instruction under {MAX_INSTRUCTION_CHARS} characters.")
    return {
        "topic": title.strip()[:300] or "Untitled post",
        "instruction": instruction,
        "before": text[max(0, start - BEFORE_CHARS) : start],
        "selection": selection,
        "after": text[end : end + AFTER_CHARS],
        "start": start,
        "end": end,
    }


def assist_query(brief: dict) -> str:
    """What to search the author's earlier writing for: the selection, or the text just before
    the cursor, with the instruction."""
    near = brief["selection"] if brief["selection"].strip() else brief["before"][-QUERY_CHARS:]
    return f"{brief.get('instruction', '')} {near[:QUERY_CHARS]}".strip()


def assist_max_tokens(brief: dict, limit: int) -> int:
    """Room for a rewrite about twice the selection's length, or a paragraph or two."""
    if brief["selection"].strip():
        return min(limit, max(48, len(brief["selection"]) // 2))  # about 4 characters a token
    return min(limit, CONTINUE_TOKENS)


def _rewrite_task(brief: dict) -> str:
    wish = f" Instruction: {brief['instruction']}." if brief.get("instruction") else ""
    before = ("…" if brief["start"] > len(brief["before"]) else "") + brief["before"]
    return (
        f"You are editing the blog post “{brief['topic']}”. Rewrite the passage between "
        f"<passage> and </passage> in the author's voice, keeping its meaning.{wish} Answer with "
        "the new passage only: no quotes, no notes, nothing before or after it.\n\n"
        f"Text before the passage:\n{before}\n\n<passage>\n{brief['selection']}\n</passage>"
        f"\n\nText after the passage:\n{brief['after']}"
    )


def _continue_task(brief: dict) -> str:
    lines = [f"Write a blog post titled “{brief['topic']}”."]
    if brief.get("instruction"):
        lines.append(f"Where it goes on: {brief['instruction']}.")
    if brief["after"].strip():
        lines.append(f"Later the post says, for context only:\n{brief['after']}")
    return "\n".join(lines)


def post_so_far(brief: dict) -> str:
    """The text before the cursor as the start of the assistant's own answer: from a paragraph
    break when the window cut the post, without trailing spaces (the model writes its own)."""
    before = brief["before"]
    if brief["start"] > len(before) and "\n\n" in before:
        before = before[before.index("\n\n") + 2 :]
    return before.rstrip(" \t")


def assist_messages(kind: str, brief: dict, sources: list[dict], voice: str = "") -> list[dict]:
    """A rewrite is asked for as an instruction. A continuation is the post so far put in the
    assistant's mouth, to be continued (the runtime opens the turn without closing it): what
    a model tuned on the author's posts (brief → post) does best."""
    system = {"role": "system", "content": system_prompt(voice)}
    if kind == REWRITE:
        user = f"{_rewrite_task(brief)}\n\nSources:\n{sources_text(sources)}"
        return [system, {"role": "user", "content": user}]
    user = f"{_continue_task(brief)}\n\nSources:\n{sources_text(sources)}"
    return [
        system,
        {"role": "user", "content": user},
        {"role": "assistant", "content": post_so_far(brief)},
    ]


def assist_clean(kind: str, output: str, messages: list[dict]) -> str:
    """The workflow's cleaner (generation/cleaning.py) for a rewrite or a continuation. A
    continuation keeps the space or break it starts with: it joins the text before."""
    prompt = scaffold(messages)
    if kind == REWRITE:
        return clean_rewrite(output, prompt=prompt)
    lead = output[: len(output) - len(output.lstrip())]
    cleaned = clean_draft(output, prompt=prompt)
    return lead + cleaned if cleaned else ""


def proposal_text(kind: str, brief: dict, output: str) -> str:
    """The model's answer as text to put in place of the selection (a rewrite, cleaned of talk
    and keeping the selection's own surrounding whitespace) or at the cursor (a continuation,
    joined to the text before by the model's own space or break). A sentence cut off by the
    token limit is dropped when the selection ends a sentence, and always in a continuation."""
    if kind == REWRITE:
        text = clean_rewrite(output)
        selection = brief["selection"]
        if SENTENCE_END.search(selection.rstrip()[-3:] or " "):
            text = whole_sentences(text)
        if not text:
            return ""
        lead = selection[: len(selection) - len(selection.lstrip())]
        trail = selection[len(selection.rstrip()) :]
        return f"{lead}{text}{trail}"
    text = whole_sentences(output.rstrip())
    before = brief["before"]
    if not text.strip():
        return ""
    if not before or before[-1].isspace():
        return text.lstrip()  # the text before already ends with its space or break
    return text if text[0].isspace() else " " + text


def proposal_hunks(kind: str, brief: dict, proposal: str) -> list[Hunk]:
    """A rewrite: the selection → the proposal, word by word. A continuation: one hunk per new
    paragraph, each carrying the break before it, so any of them can be taken alone."""
    if kind == REWRITE:
        return hunks(brief["selection"], proposal)
    pieces, at = [], 0
    for match in PARAGRAPH_BREAK.finditer(proposal):
        if match.start() > at:
            pieces.append(proposal[at : match.start()])
            at = match.start()
    pieces.append(proposal[at:])
    pieces = [piece for piece in pieces if piece.strip()]
    return [Hunk(i, "", piece) for i, piece in enumerate(pieces, start=1)]


def hunk_count(kind: str, brief: dict, proposal: str) -> int:
    return sum(1 for h in proposal_hunks(kind, brief, proposal) if h.changed)
