"""Serving speed (issue 17): continuous batching, prompt-prefix reuse, precision paths.

On SmolLM2-135M-Instruct (the bundled base model; cache var/bench-cache), in one process, with
draft prompts built as the workflow builds them (generation/workflow.py: system prompt and voice
guide, then the brief and four passages) and BENCH_SERVE_TOKENS (128) new tokens, greedy under
the product's repetition rules:

1. Concurrency: 1, 2, 4 and 8 different briefs through one Runtime, all asked at once from as
   many threads, against the same briefs one after another on the same runtime: aggregate
   tokens/s, per-request tokens/s, time to first token from the call (median and worst), and
   whether every text is the one it is alone. Goal at 4: aggregate >= 2.5x sequential, and no
   request's first token later than 2x a lone request's.
2. Prefix reuse: time to first token of a ~1,100-token prompt whose system turn (system prompt
   and a long voice guide) is ~900 tokens, with the prefix cache off and warm; and the same for
   a demo-sized prompt (a short voice guide, the passages in the user turn). Goal: <= 0.5x.
3. Precision: greedy tokens/s and first token per path (float32, bfloat16, int8), and whether
   the text matches float32's. The draft-quality side of the table is bench_quality run with
   BLOGLLM_GENERATION_PRECISION set (see the issue note).

BENCH_SERVE_THREADS sets torch's threads (default 2: the bench wants the machine to itself);
BENCH_SERVE_SECTIONS picks sections (e.g. "1,2").
"""

import os
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench-cache"
BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
TOKENS = int(os.environ.get("BENCH_SERVE_TOKENS", "128"))
SECTIONS = set(os.environ.get("BENCH_SERVE_SECTIONS", "1,2,3").split(","))
GOAL_AGGREGATE, GOAL_FIRST_TOKEN, GOAL_PREFIX = 2.5, 2.0, 0.5

TOPICS = [
    ("Why I walk to work", "habits, health"),
    ("Bread without a recipe", "baking"),
    ("What my garden taught me about patience", "gardening"),
    ("The week I gave up my phone", "habits"),
    ("Reading slowly on purpose", "books"),
    ("A cheap bike, well kept", "cycling"),
    ("Cooking for one without waste", "cooking"),
    ("Letters instead of messages", "writing"),
]
PASSAGE = (
    "I started small: ten minutes a day, the same time each morning, before the house woke up. "
    "Nothing about it was clever. The trick, if there was one, was to make the habit so easy "
    "that skipping it felt sillier than doing it. After a month the ten minutes had become "
    "twenty without my noticing, and I no longer thought of it as a plan at all, only as part "
    "of how a morning goes. "
)
VOICE = (
    "Tone: warm, plain and a little wry; first person; short paragraphs.\n"
    "Words the author likes: honestly, small, steady, kitchen, walk\n"
    "Never use: synergy, leverage, game-changer\n"
    "Structure: a concrete opening scene, two or three lessons, a one-line close."
)


def draft_prompt(n: int, voice: str = VOICE, passages: int = 4) -> list[dict]:
    from generation.workflow import draft_messages

    title, tags = TOPICS[n % len(TOPICS)]
    sources = [
        {"n": i + 1, "title": f"An earlier post {i + 1}", "text": PASSAGE * (1 + (n + i) % 2)}
        for i in range(passages)
    ]
    return draft_messages({"title": title, "tags": tags}, sources, voice)


def long_voice() -> str:
    """A voice guide with the author's sample paragraphs: ~900 tokens of system turn."""
    samples = "\n\n".join(f"Sample {i + 1}: {PASSAGE}" for i in range(8))
    return f"{VOICE}\nHow the author sounds, in their own words:\n\n{samples}"


def make_runtime(**serving: Any) -> Any:
    from generation.runtime import Runtime, Serving
    from training.base_model import device_plan

    return Runtime(
        BASE_MODEL, cache_dir=CACHE, plan=device_plan(quantize=False), serving=Serving(**serving)
    )


def timed(runtime: Any, messages: list[dict], settings: Any, **kwargs: Any) -> dict:
    """One generation; first token and seconds from the call (queue and prefill included)."""
    called = time.perf_counter()
    first: list[float] = []

    def on_text(piece: str) -> None:
        if not first:
            first.append(time.perf_counter() - called)

    result = runtime.generate(messages, settings, on_text=on_text, **kwargs)
    return {"result": result, "first_s": first[0] if first else None,
            "wall_s": time.perf_counter() - called}  # fmt: skip


def together(runtime: Any, jobs: list[list[dict]], settings: Any) -> tuple[list[dict], float]:
    out: list[Any] = [None] * len(jobs)
    go = threading.Barrier(len(jobs) + 1)

    def work(n: int) -> None:
        go.wait()
        out[n] = timed(runtime, jobs[n], settings)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    go.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return out, time.perf_counter() - started


def concurrency(settings: Any) -> None:
    runtime = make_runtime(max_batch=8)
    jobs = [draft_prompt(n) for n in range(8)]
    runtime.generate(jobs[0], replace(settings, max_new_tokens=4))  # warm-up; the prefix cached
    prompt = len(runtime.prompt_ids(jobs[0]))
    print(f"\n1. Concurrency: {prompt}-token draft prompts, {settings.max_new_tokens} new tokens, "
          f"prefix cache on (warm), max_batch 8")  # fmt: skip
    print(f"{'n':>2} {'seq tok/s':>10} {'conc tok/s':>11} {'x':>5} {'per-req tok/s':>14} "
          f"{'TTFT lone':>10} {'TTFT med':>9} {'TTFT max':>9} {'x lone':>7}  same")  # fmt: skip
    for n in (1, 2, 4, 8):
        alone = [timed(runtime, job, settings) for job in jobs[:n]]
        seq_tokens = sum(a["result"].new_tokens for a in alone)
        seq_rate = seq_tokens / sum(a["wall_s"] for a in alone)
        lone_first = statistics.median(a["first_s"] for a in alone)
        runs, wall = together(runtime, jobs[:n], settings)
        rate = sum(r["result"].new_tokens for r in runs) / wall
        per = statistics.median(r["result"].new_tokens / r["wall_s"] for r in runs)
        firsts = [r["first_s"] for r in runs]
        same = [r["result"].text for r in runs] == [a["result"].text for a in alone]
        worst = max(firsts) / lone_first
        goals = ""
        if n == 4:
            met = {True: "met", False: "NOT met"}
            goals = (f"  goals: aggregate >= {GOAL_AGGREGATE}x "
                     f"{met[rate / seq_rate >= GOAL_AGGREGATE]}, TTFT <= "
                     f"{GOAL_FIRST_TOKEN}x {met[worst <= GOAL_FIRST_TOKEN]}")  # fmt: skip
        print(f"{n:>2} {seq_rate:>10.1f} {rate:>11.1f} {rate / seq_rate:>5.2f} {per:>14.1f} "
              f"{lone_first:>9.2f}s {statistics.median(firsts):>8.2f}s {max(firsts):>8.2f}s "
              f"{worst:>7.2f}  {'yes' if same else 'NO'}{goals}")  # fmt: skip
    print(f"   peak batch {runtime.peak_batch}, prefix hits {runtime.prefix_hits}")


def prefix_reuse(settings: Any) -> None:
    short = replace(settings, max_new_tokens=8)
    cases = [("long voice guide", long_voice(), 2), ("demo-sized prompt", VOICE, 4)]
    print("\n2. Prefix reuse: time to first token, median of 5 (different briefs each time)")
    print(f"{'prompt':18} {'tokens':>6} {'prefix':>6} {'off':>8} {'warm':>8} {'x':>5}  same tokens")
    for label, voice, passages in cases:
        off, on = make_runtime(prefix_entries=0), make_runtime(prefix_entries=8)
        jobs = [draft_prompt(n, voice, passages) for n in range(6)]
        for runtime in (off, on):
            runtime.generate(jobs[5], short)  # warm-up (and the prefix's entry)
        prompt = on.prompt_ids(jobs[0])
        prefix = on.prefix_length(jobs[0], prompt)
        cold = [timed(off, job, short) for job in jobs[:5]]
        warm = [timed(on, job, short) for job in jobs[:5]]
        t_off = statistics.median(c["first_s"] for c in cold)
        t_on = statistics.median(w["first_s"] for w in warm)
        same = all(c["result"].text == w["result"].text for c, w in zip(cold, warm, strict=True))
        verdict = "met" if t_on / t_off <= GOAL_PREFIX else "NOT met"
        print(f"{label:18} {len(prompt):>6} {prefix:>6} {t_off:>7.3f}s {t_on:>7.3f}s "
              f"{t_on / t_off:>5.2f}  {'yes' if same else 'NO'}  (goal <= {GOAL_PREFIX}: "
              f"{verdict})")  # fmt: skip
        del off, on


def decode_rate(result: Any) -> float:
    """Tokens/s after the first token: decoding alone, without the prefill."""
    decoding = result.seconds - (result.first_token_s or 0.0)
    return (result.new_tokens - 1) / decoding if decoding > 0 else 0.0


def precision(settings: Any) -> None:
    from generation.precision import PRECISIONS

    print(f"\n3. Precision: greedy, {settings.max_new_tokens} new tokens, demo-sized prompts; "
          "alone: median of 3; at 4: four at once, aggregate")  # fmt: skip
    print(f"{'precision':10} {'load s':>7} {'decode tok/s':>13} {'x fp32':>7} {'TTFT':>7} "
          f"{'at 4 tok/s':>11} {'x fp32':>7}  same text as float32")  # fmt: skip
    jobs = [draft_prompt(n) for n in range(4)]
    reference: list[str] = []
    base_rate = base_four = 0.0
    for name in PRECISIONS:
        started = time.perf_counter()
        runtime = make_runtime(precision=name, prefix_entries=0)
        load = time.perf_counter() - started
        runtime.generate(jobs[0], replace(settings, max_new_tokens=4))
        runs = [timed(runtime, job, settings) for job in jobs[:3]]
        rate = statistics.median(decode_rate(r["result"]) for r in runs)
        first = statistics.median(r["first_s"] for r in runs)
        four, wall = together(runtime, jobs, settings)
        four_rate = sum(r["result"].new_tokens for r in four) / wall
        texts = [r["result"].text for r in runs]
        if name == "float32":
            reference, base_rate, base_four = texts, rate, four_rate
        same = sum(t == r for t, r in zip(texts, reference, strict=True))
        prefix = [_common_words(t, r) for t, r in zip(texts, reference, strict=True)]
        print(f"{name:10} {load:>7.1f} {rate:>13.1f} {rate / base_rate:>7.2f} {first:>6.2f}s "
              f"{four_rate:>11.1f} {four_rate / base_four:>7.2f}  {same}/{len(texts)} (words "
              f"in common before the first difference: {prefix})")  # fmt: skip
        del runtime


def _common_words(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split(), b.split(), strict=False):
        if x != y:
            break
        n += 1
    return n


def main() -> None:
    import torch

    from generation.precision import cpu_has_native_bf16
    from generation.runtime import SamplingSettings

    torch.set_num_threads(int(os.environ.get("BENCH_SERVE_THREADS", "2")))
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    print(f"SmolLM2-135M-Instruct, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, native bf16: {cpu_has_native_bf16()}")  # fmt: skip
    settings = SamplingSettings(max_new_tokens=TOKENS, temperature=0)
    if "1" in SECTIONS:
        concurrency(settings)
    if "2" in SECTIONS:
        prefix_reuse(settings)
    if "3" in SECTIONS:
        precision(settings)


if __name__ == "__main__":
    main()
