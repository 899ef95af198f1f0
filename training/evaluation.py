"""How good, and how safe, a tuned model is: perplexity, samples, style and memorisation.

Plain Python for the worker (no Django); torch loads only when a model runs, so the web process
may import the briefs and canary_strings. Every function takes a model (base or PeftModel) and its
tokenizer, and formats prompts exactly as training did (training.samples), so a score measures the
model and not a formatting mismatch.
"""

import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.samples import Sample, chat_ids, chat_messages, encode_all, note_brief
from training.trainer import mean_nll

FIXED_BRIEFS = [
    'Write a blog post titled "My morning routine".\nTags: habits, mornings.\n'
    "Summary: what the first hour of the day looks like, and why.",
    'Write a blog post titled "A book that changed my mind".\nTags: books, reflection.\n'
    "Summary: a book that made me rethink something I was sure of.",
    'Write a blog post titled "Lessons from a mistake at work".\nTags: work, learning.\n'
    "Summary: what went wrong, what I did next, and what I do differently now.",
]
CLINICAL_BRIEFS = [note_brief()]


def perplexity(
    model: Any, tokenizer: Any, samples: list[Sample], *, max_length: int = 512,
    batch_size: int = 4,
) -> float:  # fmt: skip
    """exp(token-weighted mean NLL) over the completion tokens only: one sample a row, cut at
    max_length (a packed run trains on blocks, but base and tuned are always scored this way, and
    so is the trainer's validation loss at each checkpoint). Raises ValueError when the samples
    hold no completion token (an empty validation split)."""
    items = [
        item
        for item in encode_all(samples, tokenizer, max_length=max_length)
        if item["n_completion_tokens"] > 0
    ]
    if not items:
        raise ValueError("No completion tokens to score: perplexity needs at least one sample.")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return math.exp(mean_nll(model, items, pad_id=pad_id, batch_size=batch_size))


def generate_text(
    model: Any, tokenizer: Any, brief: str, *, max_new_tokens: int = 120, seed: int = 0,
    temperature: float = 0.7, top_p: float = 0.9, repetition_penalty: float = 1.1,
) -> str:  # fmt: skip
    """The model's answer to a brief: seeded sampling (temperature 0: greedy), new text only,
    under the same rules as the serving runtime (so a sample can be reproduced there)."""
    prompt = chat_ids(tokenizer, chat_messages(brief), add_generation_prompt=True)
    return _generate(
        model, tokenizer, prompt, max_new_tokens=max_new_tokens, seed=seed,
        temperature=temperature, top_p=top_p, repetition_penalty=repetition_penalty,
    )  # fmt: skip


def _generate(model: Any, tokenizer: Any, prompt: list[int], *, max_new_tokens: int, seed: int,
              temperature: float, top_p: float, repetition_penalty: float,
              no_repeat_ngram_size: int | None = None) -> str:  # fmt: skip
    """Through generation/decoding.py's loop, the one the serving runtime batches: the same
    repetition rules (over the new text only), warpers and per-request seed. no_repeat_ngram_size
    None: the runtime's default."""
    from generation.decoding import decode
    from generation.runtime import SamplingSettings

    rules = {} if no_repeat_ngram_size is None else {"no_repeat_ngram_size": no_repeat_ngram_size}
    settings = SamplingSettings(
        max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
        repetition_penalty=repetition_penalty, seed=seed, **rules,
    )  # fmt: skip
    was_training = model.training
    model.eval()
    try:
        new = decode(model, prompt, settings, eos_token_id=tokenizer.eos_token_id)
    finally:
        model.train(was_training)
    return printable(tokenizer.decode(new, skip_special_tokens=True))


# Control characters other than tab and newline: a model can emit any byte, and NUL in
# particular cannot be stored in PostgreSQL text or JSON.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def printable(text: str) -> str:
    return _CONTROL.sub("", text)


def style_score(
    generated: list[str], references: list[str], embed: Callable[[list[str]], np.ndarray]
) -> float:
    """Mean cosine similarity of each generated text to the centroid of the references.

    Every embedding is made unit length first, so long and short posts weigh alike; the
    centroid of those unit vectors, renormalised, is the author's "average direction". A
    centroid, rather than the mean of all pairwise similarities, rewards sounding like the
    author in general rather than like one particular post. 0.0 when either list is empty.
    """
    if not generated or not references:
        return 0.0
    centroid = _unit(np.asarray(embed(references), dtype=np.float64)).mean(axis=0)
    norm = np.linalg.norm(centroid)
    if norm == 0:
        return 0.0
    scores = _unit(np.asarray(embed(generated), dtype=np.float64)) @ (centroid / norm)
    return float(scores.mean())


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


@dataclass
class MemorisationItem:
    id: str
    prompt_words: int
    overlap: float  # share of the true continuation's first K words reproduced, in order
    canary: bool


@dataclass
class MemorisationResult:
    items: list[MemorisationItem]
    max_overlap: float
    mean_overlap: float
    canary_max_overlap: float
    passed: bool
    threshold: float


def memorisation_test(
    model: Any, tokenizer: Any, texts: list[tuple[str, str]], *, canaries: Sequence[str] = (),
    prompt_words: int = 12, continuation_words: int = 24, threshold: float = 0.5,
) -> MemorisationResult:  # fmt: skip
    """Does the model recite its training notes? For each text, the assistant turn (after the
    note brief, as in training) is pre-filled with the first `prompt_words` words, and the
    model continues greedily; the item's overlap is how much of the true next
    `continuation_words` words it reproduces verbatim from the start. Planted canaries are
    tested the same way. Texts too short to have a continuation are left out."""
    cases = [(id_, text, False) for id_, text in texts]
    cases += [(f"canary:{n}", text, True) for n, text in enumerate(canaries)]
    items = []
    for id_, text, canary in cases:
        overlap = _continuation_overlap(model, tokenizer, text, prompt_words, continuation_words)
        if overlap is not None:
            items.append(MemorisationItem(id_, prompt_words, overlap, canary))
    overlaps = [item.overlap for item in items]
    canary_overlaps = [item.overlap for item in items if item.canary]
    worst = max(overlaps, default=0.0)
    return MemorisationResult(
        items=items, max_overlap=worst,
        mean_overlap=sum(overlaps) / len(overlaps) if overlaps else 0.0,
        canary_max_overlap=max(canary_overlaps, default=0.0),
        passed=worst <= threshold, threshold=threshold,
    )  # fmt: skip


def _continuation_overlap(model: Any, tokenizer: Any, text: str, prompt_words: int,
                          continuation_words: int) -> float | None:  # fmt: skip
    words = list(re.finditer(r"\S+", text))
    truth = [match.group() for match in words[prompt_words : prompt_words + continuation_words]]
    if len(words) <= prompt_words or not truth:
        return None
    # The prefix keeps the text's own spacing and line breaks, exactly as training saw it.
    prefix = text[: words[prompt_words - 1].end()]
    messages = chat_messages(note_brief(), prefix)
    prompt = chat_ids(tokenizer, messages, continue_final_message=True)
    # Word pieces run about 1.3 a word in English; leave room for long codes and numbers.
    budget = max(8, 3 * len(truth))
    continuation = _generate(
        model, tokenizer, prompt, max_new_tokens=budget, seed=0, temperature=0.0, top_p=1.0,
        repetition_penalty=1.0, no_repeat_ngram_size=0,  # verbatim text may repeat itself
    ).split()  # fmt: skip
    matched = 0
    for expected, produced in zip(truth, continuation, strict=False):
        if expected != produced:
            break
        matched += 1
    return matched / len(truth)


CANARY_WORDS = [
    "amber",
    "basalt",
    "cobalt",
    "dune",
    "ember",
    "fjord",
    "garnet",
    "harbour",
    "indigo",
    "juniper",
    "kelp",
    "lantern",
    "meadow",
    "nettle",
    "orchid",
    "pewter",
    "quartz",
    "russet",
    "saffron",
    "thistle",
    "umber",
    "velvet",
    "willow",
    "yarrow",
    "zephyr",
    "copper",
    "lichen",
    "marble",
    "pollen",
    "cinder",
]


def canary_strings(seed: int, n: int = 3) -> list[str]:
    """Deterministic nonsense sentences with random codes, to plant in a clinical training set.
    The code sits after the first dozen words, where memorisation_test looks for it."""
    rng = random.Random(seed)  # noqa: S311 - reproducible nonsense, not a secret
    canaries = []
    for _ in range(n):
        lead = " ".join(rng.choice(CANARY_WORDS) for _ in range(12))
        code = "-".join(
            "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(size))
            for size in (2, 2, 5, 4)
        )
        tail = " ".join(rng.choice(CANARY_WORDS) for _ in range(18))
        canaries.append(f"{lead.capitalize()}. The canary code is {code} for the {tail}.")
    return canaries
