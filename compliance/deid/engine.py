"""find_spans: run the layers in order, check the deadline between them, merge the results."""

from __future__ import annotations

from . import context, cues, learned, lexicon, ner, patterns
from .spans import Deadline, Span, merge_spans

_SAFE_CONFIDENCE = 0.95  # a checked pattern at or above this is kept even over a safelisted word


def warm_up() -> None:
    """Build the dictionaries now (a worker calls this once at start-up, not on its first note)."""
    lexicon.strong_names()
    lexicon.cities()
    lexicon.professions()
    lexicon.english_words()


def find_spans(
    text: str,
    *,
    time_limit: float | None = 2.0,
    use_ner: bool | None = None,
    use_learned: bool | None = None,
) -> list[Span]:
    """Sorted, non-overlapping PHI spans in `text`; raises DeidTimeout past `time_limit` seconds.

    `use_ner=None` adds spaCy entities when spaCy and an English model are installed;
    `use_learned=None` adds the learned layer's spans when BLOGLLM_DEID_LEARNED turns it on and
    its model is there (learned.py); True or False decides here.
    """
    warm_up()  # cached: only the first call of a process pays for it, outside the deadline
    deadline = Deadline(time_limit)
    spans = patterns.find_patterns(text, deadline)
    deadline.check()
    caps = context.caps_note(text)
    toks = context.tokenize(text)
    deadline.check()
    spans += context.find_names(text, toks, caps, deadline)
    spans += context.find_institutions(text, deadline)
    spans += context.find_places(text, toks, caps, deadline)
    spans += context.find_professions(text, toks, deadline)
    spans += cues.find_cued(text, toks, deadline)
    spans += cues.recurring_places(text, toks, spans)
    deadline.check()
    if use_learned or (use_learned is None and learned.enabled() and learned.available()):
        spans += learned.find_learned(text, found=merge_spans(spans))
        deadline.check()
    if use_ner or (use_ner is None and ner.available()):
        spans += ner.find_entities(text)
        deadline.check()
    return merge_spans(spans)
