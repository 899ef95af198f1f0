"""A bounded, thread-safe LRU cache of sentence embeddings, in this process's memory only.

Keyed by sha256 of (model name, normalised text): a brief's query, a draft's sentences and its
sources are embedded again and again in one run (retrieval, the grounding score of each
revision, the style score against the same reference posts), and a model call costs
milliseconds per text where a lookup costs microseconds.

Clinical note text reaches the embedder (notes, briefs on the clinical channel), so this cache
is never shared or persistent: no Redis, no disk, nothing another process can read. It holds
digests and vectors, never the text, and it dies with the process. Plain Python (no Django).
"""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

DEFAULT_ENTRIES = 4096  # ~6 MiB of 384-dimension float32 vectors


def normalise(text: str) -> str:
    """Runs of whitespace as one space, ends trimmed: what the model's tokenizer sees anyway."""
    return " ".join(text.split())


def cache_key(model_name: str, text: str) -> bytes:
    # The NUL cannot occur in a model name, so no (name, text) pair collides with another.
    return hashlib.sha256(f"{model_name}\0{normalise(text)}".encode()).digest()


class EmbeddingCache:
    """Vectors by key, least recently used evicted past `max_entries` (0: caches nothing).

    `count(result, n)` is told of each lookup's hits and misses ("hit" / "miss"), for metrics.
    """

    def __init__(
        self, max_entries: int = DEFAULT_ENTRIES, *,
        count: Callable[[str, int], None] | None = None,
    ) -> None:  # fmt: skip
        if max_entries < 0:
            raise ValueError("max_entries must be 0 or more")
        self.max_entries = max_entries
        self.count = count
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def __len__(self) -> int:
        return len(self._vectors)

    def get_many(self, keys: list[bytes]) -> list[np.ndarray | None]:
        """The cached vector for each key (None for a miss); a hit becomes the most recent."""
        found: list[np.ndarray | None] = []
        with self._lock:
            for key in keys:
                vector = self._vectors.get(key)
                if vector is not None:
                    self._vectors.move_to_end(key)
                found.append(vector)
        hits = sum(vector is not None for vector in found)
        self._count(hits, len(keys) - hits)
        return found

    def put_many(self, items: dict[bytes, np.ndarray]) -> None:
        if not self.enabled:
            return
        with self._lock:
            for key, vector in items.items():
                # A read-only copy: a caller that edits its result in place cannot edit ours.
                stored = np.array(vector, dtype=np.float32, copy=True)
                stored.setflags(write=False)
                self._vectors[key] = stored
                self._vectors.move_to_end(key)
            while len(self._vectors) > self.max_entries:
                self._vectors.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()

    def _count(self, hits: int, misses: int) -> None:
        if self.count is None:
            return
        if hits:
            self.count("hit", hits)
        if misses:
            self.count("miss", misses)
