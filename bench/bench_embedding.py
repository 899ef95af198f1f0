"""Chunks/s through the project's embedding pipeline against a bare SentenceTransformer.encode.

In a fresh process on a throwaway database (bench/_django.py), the 44 demo posts are imported
with `import_items`, then:
- pipeline: `posts_embed(post_ids=..., force=True)` over batches of EMBED_BATCH_POSTS posts, the
  way the worker embeds an import (chunk_markdown with the model's token counter, one
  Embedder.embed call per batch of posts, pgvector insert per post);
- bare: `SentenceTransformer(resolve_model(...)).encode(texts, batch_size=32,
  normalize_embeddings=True)` on exactly the chunk texts the pipeline embeds, a second copy of
  the model loaded from the same bundled folder.
Both are warmed up with a whole pass, then run 3 times alternately; the table shows medians.
One more pass, one post per call (`post_embed`, what an edit or a publish enqueues), is taken
apart from the inside (chunk_markdown and Embedder.embed timed where the service calls them; the
rest is database and ORM) beside bare encode given the same one-post batches, and the stored
vectors are compared with the bare ones.

Both run under the same torch thread count, set before the model loads: torch's default
(one per core) and the worker's BLOGLLM_TORCH_THREADS (1), each in its own process.
`BENCH_EMBED_THREADS=2` (a comma-separated list) picks other settings.

The pipeline runs with the embedding cache off (it re-embeds the same texts each pass). Then, on
the worker's thread setting, the cache itself: one brief's query embedded REPEATED_QUERY times,
and the grounding score's texts (6 sources, 12 draft sentences, one sentence rewritten per
round) over 3 rounds, each with a cold-to-warm cache against the cache off.
"""

import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench._django import bench_author, in_fresh_process, throwaway_django

ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = ROOT / "posts" / "demo_corpus"
REPEATS = 3
TARGET_RATIO = 0.8


def torch_default_threads() -> int:
    import torch

    return torch.get_num_threads()


def measure(threads: int) -> dict[str, Any]:
    """Pipeline and bare rates with torch on `threads` threads (run in a fresh process)."""
    import torch

    torch.set_num_threads(threads)
    with throwaway_django():
        import numpy as np
        from django.conf import settings
        from sentence_transformers import SentenceTransformer

        from posts.chunking import chunk_markdown
        from posts.embedder import get_embedder, resolve_model
        from posts.importers import iter_import
        from posts.models import Chunk, Post
        from posts.services.embedding import EMBED_BATCH_POSTS, posts_embed
        from posts.services.importing import import_items

        import_items(iter_import(DEMO_CORPUS), by=bench_author())
        posts = list(Post.objects.order_by("id"))
        from posts.embedding_cache import EmbeddingCache

        embedder = get_embedder(settings.EMBED_MODEL)
        embedder.cache = EmbeddingCache(0)  # every pass embeds: this compares model work
        bare = SentenceTransformer(resolve_model(settings.EMBED_MODEL))

        def chunk(post: Post) -> list[Any]:
            return chunk_markdown(
                post.body_markdown, title=post.title,
                count_tokens=embedder.count_tokens, max_tokens=embedder.max_tokens,
            )  # fmt: skip

        def encode(texts: list[str]) -> np.ndarray:
            return bare.encode(
                texts, batch_size=32, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )  # fmt: skip

        texts = [piece.embed_text for post in posts for piece in chunk(post)]
        ids = [post.id for post in posts]
        batches = [ids[i : i + EMBED_BATCH_POSTS] for i in range(0, len(ids), EMBED_BATCH_POSTS)]

        def pipeline() -> int:
            return sum(posts_embed(post_ids=batch, force=True)[1] for batch in batches)

        # Warm-up: one whole pass each, so both have met every input shape before the clock runs.
        pipeline()
        encode(texts)

        pipeline_rates, bare_rates, chunk_counts = [], [], []
        for _ in range(REPEATS):
            started = time.perf_counter()
            written = pipeline()
            pipeline_rates.append(written / (time.perf_counter() - started))
            chunk_counts.append(written)
            started = time.perf_counter()
            bare_vectors = encode(texts)
            bare_rates.append(len(texts) / (time.perf_counter() - started))

        stored = Chunk.objects.order_by("post_id", "ord").values_list("embedding", flat=True)
        difference = float(np.abs(np.array([np.asarray(v) for v in stored]) - bare_vectors).max())
        return {
            "threads": torch.get_num_threads(),
            "posts": len(posts),
            "chunks": len(texts),
            "written": chunk_counts,
            "tokens": sum(embedder.count_tokens(text) for text in texts),
            "pipeline": statistics.median(pipeline_rates),
            "pipeline_all": pipeline_rates,
            "bare": statistics.median(bare_rates),
            "bare_all": bare_rates,
            "breakdown": breakdown(posts, chunk, embedder, bare),
            "max_difference": difference,
        }


def breakdown(posts: list[Any], chunk: Any, embedder: Any, bare: Any) -> dict[str, float]:
    """One pipeline pass timed by step from the inside (chunk_markdown and Embedder.embed are
    wrapped for the pass, the rest is database and ORM), and bare encode with the same batches."""
    import posts.services.embedding as service

    spent = {"chunking": 0.0, "embedding": 0.0}

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return wrapper

    original_chunk_markdown = service.chunk_markdown
    service.chunk_markdown = timed("chunking", original_chunk_markdown)
    embedder.embed = timed("embedding", embedder.embed)  # an instance attribute, removed below
    try:
        started = time.perf_counter()
        for post in posts:
            service.post_embed(post_id=post.id, force=True)
        total = time.perf_counter() - started
    finally:
        service.chunk_markdown = original_chunk_markdown
        del embedder.embed
    batches = [[piece.embed_text for piece in chunk(post)] for post in posts]
    started = time.perf_counter()
    for texts in batches:
        bare.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return {
        "total": total,
        **spent,
        "rest": total - spent["chunking"] - spent["embedding"],
        "bare_per_post_batches": time.perf_counter() - started,
        "batch": sum(map(len, batches)) / len(batches),
    }


REPEATED_QUERY = 50
ROUNDS = 3


def cache_figures(threads: int) -> dict[str, float]:
    """Seconds for a repeated query and for revise rounds' grounding, cache off and on."""
    import torch

    torch.set_num_threads(threads)
    from posts.embedder import Embedder
    from posts.embedding_cache import EmbeddingCache

    paragraphs = [
        block.strip()
        for path in sorted(DEMO_CORPUS.rglob("*.md"))
        for block in path.read_text().split("\n\n")
        if len(block.split()) > 12 and not block.startswith(("#", "---"))
    ]
    sources, sentences = paragraphs[:6], [p.split(". ")[0] + "." for p in paragraphs[6:18]]
    query = "afternoon tea and sleep: a warm post for readers who walk to work"
    off = Embedder("sentence-transformers/all-MiniLM-L6-v2", cache=EmbeddingCache(0))
    on = Embedder(off.model_name, model=off.model, cache=EmbeddingCache(4096))
    off.embed(paragraphs[:32])  # warm-up

    def rounds(embedder: Embedder) -> float:
        started = time.perf_counter()
        for n in range(ROUNDS):
            draft = [*sentences[:-1], f"{sentences[-1]} (round {n})"]
            embedder.embed(draft)
            embedder.embed(sources)
        return time.perf_counter() - started

    def repeated(embedder: Embedder) -> float:
        started = time.perf_counter()
        for _ in range(REPEATED_QUERY):
            embedder.embed([query])
        return time.perf_counter() - started

    return {
        "threads": torch.get_num_threads(),
        "query_off": repeated(off), "query_on": repeated(on),
        "rounds_off": rounds(off), "rounds_on": rounds(on),
    }  # fmt: skip


def main() -> None:
    default = in_fresh_process(torch_default_threads)
    print(f"torch.get_num_threads() in a fresh process: {default} ({os.cpu_count()} CPUs)")
    wanted = os.environ.get("BENCH_EMBED_THREADS")
    # torch's default, then the worker's setting (BLOGLLM_TORCH_THREADS, 1 by default).
    thread_settings = (
        [int(v) for v in wanted.split(",")] if wanted else sorted({default, 1}, reverse=True)
    )
    results = [in_fresh_process(measure, threads) for threads in thread_settings]

    first = results[0]
    print(
        f"{first['posts']} demo posts -> {first['chunks']} chunks, "
        f"{first['tokens'] / first['chunks']:.0f} word pieces each on average; "
        f"medians of {REPEATS} runs after a warm-up"
    )
    header = f"{'torch threads':>13} {'pipeline ch/s':>14} {'bare ch/s':>10} {'ratio':>6}"
    print(f"\n{header}  runs (pipeline/bare)")
    for result in results:
        ratio = result["pipeline"] / result["bare"]
        runs = " ".join(
            f"{p:.1f}/{b:.1f}"
            for p, b in zip(result["pipeline_all"], result["bare_all"], strict=True)
        )
        print(
            f"{result['threads']:>13} {result['pipeline']:>14.1f} {result['bare']:>10.1f} "
            f"{ratio:>6.2f}  {runs}"
        )
    print(f"(target: pipeline/bare >= {TARGET_RATIO})")

    print(
        f"\none post per call (post_embed, as an edit or publish runs it), taken apart (seconds "
        f"for {first['chunks']} chunks, {first['breakdown']['batch']:.1f} chunks per call):"
    )
    print(f"{'torch threads':>13} {'total':>7} {'chunking':>9} {'embed':>7} {'db+orm':>7} "
          f"{'bare, same batches':>19}")  # fmt: skip
    for result in results:
        parts = result["breakdown"]
        print(
            f"{result['threads']:>13} {parts['total']:>7.1f} {parts['chunking']:>9.1f} "
            f"{parts['embedding']:>7.1f} {parts['rest']:>7.1f} "
            f"{parts['bare_per_post_batches']:>19.1f}"
        )
    for result in results:
        same = all(written == result["chunks"] for written in result["written"])
        print(
            f"threads {result['threads']}: posts_embed wrote {result['written'][0]} chunks a pass "
            f"({'the same texts' if same else 'NOT the same count'} as bare); "
            f"largest difference between stored and bare vectors {result['max_difference']:.1e}"
        )

    cache = in_fresh_process(cache_figures, 1)
    print(f"\nembedding cache, torch threads {cache['threads']} (seconds, off / on, speed-up):")
    for label, key in (
        (f"one query x{REPEATED_QUERY}", "query"),
        (f"grounding texts x{ROUNDS} rounds", "rounds"),
    ):
        off, on = cache[f"{key}_off"], cache[f"{key}_on"]
        print(f"{label:>26} {off:>8.3f} / {on:>7.3f}  {off / on:>6.1f}x")


if __name__ == "__main__":
    main()
