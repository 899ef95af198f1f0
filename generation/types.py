"""The shapes that travel through a run: the brief, the retrieved sources, the guard's findings.

TypedDicts, so they stay plain dicts where they are stored (a run's JSON fields, LangGraph's
checkpoints, the step trace) and are checked where they are written. Plain Python: the workflow,
the guard and the retriever use them outside Django too.
"""

from typing import Literal, NotRequired, TypedDict


class Brief(TypedDict):
    """What an editor asks for (generation.services.runs.brief_clean makes one from a form)."""

    topic: str
    outline: str
    audience: str
    tone: str
    length: NotRequired[int]  # words


class SourceFields(TypedDict):
    """What a source carries besides its text: numbered as the draft cites it ([n]), ranked by
    the retriever (generation/retrievers.py), and where it came from."""

    n: int
    source: Literal["post", "note"]
    chunk_id: int
    rank: int
    score: float  # fused hybrid score
    similarity: float
    title: str
    heading: str
    post_id: NotRequired[int]  # a post's
    slug: NotRequired[str]
    note_uid: NotRequired[str]  # a note's: its uid, never its text


class Source(SourceFields):
    """One retrieved chunk, as the workflow's steps see it."""

    text: str


class StoredSource(SourceFields):
    """A source as the run keeps it: no text, a short excerpt (de-identified on clinical)."""

    excerpt: str
    url: NotRequired[str]  # a post's passage: its page, at the passage


FindingKind = Literal[
    "phi",
    "overlap",
    "banned_topic",
    "toxic",
    "avoid_word",
    "length",
    "structure",
    "grounding",
    "unsupported",  # a sentence states a number, date or name no source does (claims.py)
]
# Advice: shown to the editor, never a reason to hold a draft back as needing review.
ADVICE: frozenset[str] = frozenset({"length", "avoid_word", "grounding", "unsupported"})
# What the targeted revise rewrites where it was found: the sentence that holds it.
SENTENCE_FIXABLE: frozenset[str] = frozenset(
    {"phi", "overlap", "banned_topic", "toxic", "avoid_word"}
)


class Finding(TypedDict):
    """Something the guard saw in a draft, at text[start:end] (0, 0 when it is about the whole).
    On the clinical channel `text` is empty: the trace must hold no PHI."""

    kind: FindingKind
    label: str
    start: int
    end: int
    text: str
    detail: str


def blocking(findings: list[Finding]) -> list[Finding]:
    """Findings that must be fixed before a draft goes out as clean (the rest is advice)."""
    return [f for f in findings if f["kind"] not in ADVICE]
