"""Two scores an editor sees on every AI draft before submitting it (plain Python).

- style fidelity: how close the draft sits to the author's own posts (cosine of its embedding to
  the centroid of theirs; training.evaluation.style_score, the measure the registry uses);
- grounding: the share of the draft's sentences that a retrieved source supports, where
  "supports" means the sentence's embedding is within GROUNDED_SIMILARITY of a source's.
"""

import re
from collections.abc import Callable

import numpy as np

GROUNDED_SIMILARITY = 0.5  # MiniLM cosine: same topic and claim, not merely the same domain
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
MIN_SENTENCE_WORDS = 4  # headings and fragments do not count either way


def sentences(text: str) -> list[str]:
    parts = (p.strip(" #*-\t") for p in SENTENCE_END.split(text))
    return [p for p in parts if len(p.split()) >= MIN_SENTENCE_WORDS]


def grounding(
    draft: str, sources: list[str], embed: Callable[[list[str]], np.ndarray]
) -> float | None:
    """Share of sentences supported by a source; None when the draft has no sentences."""
    claims = sentences(draft)
    if not claims:
        return None
    if not sources:
        return 0.0
    a = _unit(np.asarray(embed(claims), dtype=np.float64))
    b = _unit(np.asarray(embed(sources), dtype=np.float64))
    best = (a @ b.T).max(axis=1)
    return float((best >= GROUNDED_SIMILARITY).mean())


def style_fidelity(
    draft: str, references: list[str], embed: Callable[[list[str]], np.ndarray]
) -> float | None:
    from training.evaluation import style_score

    if not draft.strip() or not references:
        return None
    return style_score([draft], references, embed)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
