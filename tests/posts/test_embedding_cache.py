"""The embedder's in-process cache: the same vectors as without it, only unseen texts reach the
model, least recently used evicted at the bound, 0 turns it off, and hits and misses counted."""

import hashlib

import numpy as np
import pytest

from posts.embedder import Embedder, get_embedder
from posts.embedding_cache import EmbeddingCache, cache_key

DIMENSIONS = 8


class HashModel:
    """A model with SentenceTransformer's interface whose vector for a text depends on that text
    alone (not on its batch), so cached and uncached results can be compared bit for bit."""

    tokenizer = None
    max_seq_length = 256

    def get_embedding_dimension(self) -> int:
        return DIMENSIONS

    def encode(self, texts: list[str], **kwargs) -> np.ndarray:  # noqa: ANN003
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(" ".join(text.split()).encode()).digest()[:4])
            row = np.random.default_rng(seed).standard_normal(DIMENSIONS)
            rows.append(row / np.linalg.norm(row))
        return np.asarray(rows, dtype=np.float32)


class Counting:
    """Wraps a model and records the texts of each encode call."""

    def __init__(self, model) -> None:  # noqa: ANN001
        self.model, self.calls = model, []

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.model, name)

    def encode(self, texts: list[str], **kwargs) -> np.ndarray:  # noqa: ANN003
        self.calls.append(list(texts))
        return self.model.encode(texts, **kwargs)


def embedder(entries: int, model=None) -> tuple[Embedder, Counting]:  # noqa: ANN001
    counting = Counting(model or HashModel())
    return Embedder("fake", model=counting, cache=EmbeddingCache(entries)), counting


def test_cached_vectors_equal_uncached_ones_exactly_in_the_texts_order():
    cached, _ = embedder(16)
    plain, _ = embedder(0)
    texts = ["Green tea.", "Sleep well.", "Green tea.", "A walk to work."]

    first = cached.embed(texts)
    second = cached.embed(list(reversed(texts)))

    assert first.dtype == np.float32 and first.shape == (4, DIMENSIONS)
    assert np.array_equal(first, plain.embed(texts))
    assert np.array_equal(second, plain.embed(list(reversed(texts))))


def test_only_texts_not_seen_before_reach_the_model_each_once():
    cached, model = embedder(16)

    cached.embed(["Green tea.", "Sleep well.", "Green tea."])
    cached.embed(["Sleep  well.\n", "A walk to work.", "Green tea."])
    cached.embed(["Green tea.", "A walk to work."])

    # A repeat within a call is embedded once; whitespace alone does not make a new text.
    assert model.calls == [["Green tea.", "Sleep well."], ["A walk to work."]]


def test_a_result_edited_in_place_leaves_the_cache_as_it_was():
    cached, _ = embedder(16)
    vector = cached.embed(["Green tea."])
    expected = vector.copy()

    vector[:] = 0

    assert np.array_equal(cached.embed(["Green tea."]), expected)


def test_past_its_bound_the_least_recently_used_vector_is_evicted():
    cached, model = embedder(2)
    cached.embed(["a"])
    cached.embed(["b"])
    cached.embed(["a"])  # "a" is now the more recent: "b" goes first

    cached.embed(["c"])
    assert len(cached.cache) == 2
    model.calls.clear()
    cached.embed(["a", "c"])
    cached.embed(["b"])

    assert model.calls == [["b"]]


def test_zero_entries_turns_the_cache_off():
    cached, model = embedder(0)

    cached.embed(["Green tea."])
    cached.embed(["Green tea."])

    assert model.calls == [["Green tea."], ["Green tea."]] and len(cached.cache) == 0


def test_the_key_is_a_digest_of_model_and_text_never_the_text():
    key = cache_key("model-a", "Call John Smith")

    assert len(key) == 32 and b"John" not in key
    assert key == cache_key("model-a", "  Call   John Smith\n")
    assert key != cache_key("model-b", "Call John Smith")


def test_hits_and_misses_are_counted_for_metrics():
    counted: dict[str, int] = {}
    cache = EmbeddingCache(
        4, count=lambda result, n: counted.update({result: counted.get(result, 0) + n})
    )
    cached = Embedder("fake", model=HashModel(), cache=cache)

    cached.embed(["a", "b"])
    cached.embed(["a", "c", "a"])

    assert counted == {"miss": 3, "hit": 2}


def test_the_projects_embedder_counts_in_prometheus(settings):
    from blogllm.metrics import EMBEDDING_CACHE

    real = get_embedder(settings.EMBED_MODEL)
    hits = EMBEDDING_CACHE.labels(result="hit")._value.get()
    text = "A sentence no other test embeds, about lapsang souchong at dusk."

    real.embed([text])
    real.embed([text])

    assert real.cache.max_entries == settings.EMBED_CACHE_ENTRIES > 0
    assert EMBEDDING_CACHE.labels(result="hit")._value.get() >= hits + 1


def test_with_the_real_model_only_misses_are_encoded_and_vectors_match_uncached(settings):
    real = get_embedder(settings.EMBED_MODEL).model
    cached, model = embedder(16, model=real)
    plain = Embedder("plain", model=real)
    texts = ["Green tea in the afternoon.", "Sleep comes easier after a walk."]

    cached.embed(texts[:1])
    together = cached.embed(texts)

    assert model.calls == [texts[:1], texts[1:]]
    # The real model's vector for a text shifts in the last float bits with its batch (padding
    # changes the kernels' shapes), cache or no cache: equal up to that noise.
    assert np.allclose(together, plain.embed(texts), atol=1e-6)


@pytest.mark.parametrize("spaced", ["Green  tea\nat four.", " Green tea at four. "])
def test_the_real_tokenizer_ignores_the_whitespace_the_key_normalises(settings, spaced):
    real = get_embedder(settings.EMBED_MODEL)

    assert real.tokenizer(spaced)["input_ids"] == real.tokenizer("Green tea at four.")["input_ids"]
