import hashlib
import math
import re

import numpy as np
import pytest

from tests.training.conftest import POSTS, note_sample
from training.evaluation import (
    CLINICAL_BRIEFS,
    FIXED_BRIEFS,
    canary_strings,
    generate_text,
    memorisation_test,
    perplexity,
    style_score,
)
from training.samples import make_sample
from training.trainer import TrainConfig, load_adapter, train


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in for a sentence embedder: hashed word counts in 1,024 dimensions."""
    vectors = np.zeros((len(texts), 1024))
    for row, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 1024] += 1  # noqa: S324
    return vectors


def test_perplexity_of_a_random_model_is_near_its_vocabulary_size(tiny, posts) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    value = perplexity(model, tokenizer, posts, batch_size=3)
    # An untrained model guesses about uniformly: perplexity is of the order of the vocabulary.
    assert len(tokenizer) / 3 < value < len(tokenizer) * 3
    # Batching and padding do not change it.
    assert perplexity(model, tokenizer, posts, batch_size=1) == pytest.approx(value, rel=1e-4)
    assert model.training is False


def test_perplexity_scores_only_the_completion(tiny) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    one = make_sample(id="post:1", kind="post", brief="Brief one.", text=POSTS[0], split="train")
    other = make_sample(id="post:2", kind="post", brief="A much longer and different brief.",
                        text=POSTS[0], split="train")  # fmt: skip
    # Same text, different briefs: only the (conditioned) text is scored, so both are finite
    # and of one order; an empty list is an error rather than a NaN in a JSON column.
    assert math.isfinite(perplexity(model, tokenizer, [one]))
    assert math.isfinite(perplexity(model, tokenizer, [other]))
    with pytest.raises(ValueError, match="No completion tokens"):
        perplexity(model, tokenizer, [])


def test_generate_text_is_deterministic_for_a_seed(tiny) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    first = generate_text(model, tokenizer, FIXED_BRIEFS[0], max_new_tokens=12, seed=3)
    again = generate_text(model, tokenizer, FIXED_BRIEFS[0], max_new_tokens=12, seed=3)
    other = generate_text(model, tokenizer, FIXED_BRIEFS[0], max_new_tokens=12, seed=4)
    assert first == again != other
    assert "<|im_start|>" not in first and "Write a blog post" not in first  # new text only
    greedy = [generate_text(model, tokenizer, "Hi", max_new_tokens=8, seed=s, temperature=0)
              for s in (1, 2)]  # fmt: skip
    assert greedy[0] == greedy[1]  # temperature 0 is greedy: the seed does not matter


def test_fixed_briefs_are_three_general_ones_and_a_clinical_one() -> None:
    assert len(FIXED_BRIEFS) == 3 and len(set(FIXED_BRIEFS)) == 3
    assert CLINICAL_BRIEFS and all("clinical" in brief for brief in CLINICAL_BRIEFS)


def test_style_score_is_the_mean_cosine_to_the_references_centroid() -> None:
    references = ["sleep worry night", "sleep worry morning"]
    assert style_score(["sleep worry night"], references, bag_of_words) > 0.8
    assert style_score(["quarterly revenue forecast"], references, bag_of_words) < 0.3
    assert style_score([], references, bag_of_words) == 0.0
    assert style_score(["x"], [], bag_of_words) == 0.0

    def embed(texts: list[str]) -> np.ndarray:  # hand-made vectors, to check the arithmetic
        table = {"a": [1, 0], "b": [0, 5], "c": [1, 1]}
        return np.array([table[text] for text in texts], dtype=float)

    # References a and b have unit vectors (1,0) and (0,1): the centroid's direction is (1,1).
    assert style_score(["c"], ["a", "b"], embed) == pytest.approx(1.0)
    assert style_score(["a", "c"], ["a", "b"], embed) == pytest.approx((math.sqrt(0.5) + 1) / 2)


def test_canary_strings_are_deterministic_nonsense_with_codes() -> None:
    canaries = canary_strings(seed=7)
    assert canaries == canary_strings(seed=7) != canary_strings(seed=8)
    assert len(canaries) == 3 and len(set(canaries)) == 3
    for canary in canaries:
        words = canary.split()
        # The code comes after the prompt's first 12 words: a test must make the model say it.
        assert "canary" in words[12:] and len(words) >= 36


MEMORISED = (
    "The patient reports better sleep this week and describes less worry in the evenings. "
    "Plan: continue the thought record, review in two weeks."
)


def test_an_overfit_model_recites_its_note_and_fails_the_memorisation_test(tiny, tmp_path) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    texts = [("note:1", MEMORISED)]
    options = {"prompt_words": 6, "continuation_words": 12}
    fresh = memorisation_test(model, tokenizer, texts, **options)
    assert fresh.passed and fresh.max_overlap <= 0.25

    config = TrainConfig(max_steps=30, learning_rate=1e-2, batch_size=1, checkpoint_every=30)
    result = train(model=model, tokenizer=tokenizer, train_samples=[note_sample(MEMORISED)],
                   config=config, output_dir=tmp_path)  # fmt: skip
    overfit = memorisation_test(load_adapter(model, result.adapter_dir), tokenizer, texts,
                                canaries=canary_strings(seed=1), **options)  # fmt: skip
    assert overfit.max_overlap > 0.5 and not overfit.passed
    (note,) = [item for item in overfit.items if not item.canary]
    assert note.id == "note:1" and note.prompt_words == 6 and note.overlap == overfit.max_overlap
    # The canaries were never trained on: they are not reproduced.
    assert [item.canary for item in overfit.items] == [False, True, True, True]
    assert overfit.canary_max_overlap < 0.5


def test_memorisation_test_leaves_out_texts_without_a_continuation(tiny) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    result = memorisation_test(model, tokenizer, [("note:short", "Too short.")])
    assert result.items == [] and result.passed and result.max_overlap == 0.0
