"""Generation speed: `Runtime.generate` against a bare `model.generate()`, threads, adapters.

On SmolLM2-135M-Instruct (the bundled base model, cache folder var/bench-cache: the first load
converts the GGUF, about 30 s), in one process, with one brief and BENCH_GEN_TOKENS (128) new
tokens, greedy and seeded sampling (temperature 0.7, top-p 0.9, repetition penalty 1.1):
- tokens/s of `runtime.generate` (its own step loop, scheduler thread, cancel check) against a bare
  `model.generate()` of the same model, prompt and options; each round runs both, alternating
  which goes first, and the table shows medians over BENCH_GEN_ROUNDS (3); greedy also against
  a bare `generate()` in a fresh thread, since the runtime decodes in one;
- time to first token: the runtime's first streamed piece, from the call, against a bare
  `generate()` with max_new_tokens=1 (prefill and one token);
- four briefs at once from four threads through `get_runtime` (they decode in one batch;
  bench_serving.py measures batching properly);
- adapters: first load (wraps the base), a second load, a switch between cached ones, and tokens/s
  with a LoRA adapter (r16 q/k/v/o) and with the base behind disabled adapters.
BENCH_GEN_THREADS sets torch's CPU threads (default: torch's own; 1 on a shared 2-core box).
"""

import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench-cache"
BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
TOKENS = int(os.environ.get("BENCH_GEN_TOKENS", "128"))
ROUNDS = int(os.environ.get("BENCH_GEN_ROUNDS", "3"))
TARGET_RATIO = 0.9
TARGET_FIRST_TOKEN_S = 0.3  # the runtime's first piece, at most this much later than bare


def bare_generate(model: Any, tokenizer: Any, prompt: list[int], settings: Any,
                  max_new_tokens: int) -> tuple[list[int], float]:  # fmt: skip
    """The reference: one `model.generate()` call, seeded as the runtime seeds, with the
    runtime's repetition rules (over the new tokens only); (ids, seconds)."""
    import torch

    from generation.decoding import repetition_rules

    device = next(model.parameters()).device
    input_ids = torch.tensor([prompt], device=device)
    options: dict[str, Any] = {"do_sample": settings.temperature > 0}
    if settings.temperature > 0:
        options.update(temperature=settings.temperature, top_p=settings.top_p)
    else:
        options.update(temperature=None, top_p=None, top_k=None)
    torch.manual_seed(settings.seed or 0)
    started = time.perf_counter()
    output = model.generate(
        input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
        max_new_tokens=max_new_tokens, logits_processor=repetition_rules(settings, len(prompt)),
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, use_cache=True,
        **options,
    )  # fmt: skip
    ids = output[0, len(prompt) :].tolist()  # .tolist() waits for the GPU, so it is timed
    return ids, time.perf_counter() - started


def bare_in_thread(*args: Any) -> tuple[list[int], float]:
    """bare_generate in a fresh thread, as the runtime runs it: on this machine a thread's
    generate() ran 5-8% faster than the main thread's, which alone flatters the runtime."""
    box: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.update(out=bare_generate(*args)))
    thread.start()
    thread.join()
    return box["out"]


def through_runtime(runtime: Any, messages: list[dict], settings: Any) -> dict[str, Any]:
    marks: list[float] = []
    started = time.perf_counter()
    stamp = lambda _: marks.append(time.perf_counter())  # noqa: E731
    result = runtime.generate(messages, settings, on_text=stamp)
    return {"result": result, "first_piece_s": marks[0] - started if marks else None}


def rounds(runtime: Any, messages: list[dict], modes: dict[str, Any]) -> dict[str, list[Any]]:
    """Runtime and bare for each mode, alternating which goes first (on a shared machine the
    later of two runs is often the faster); bare time to first token once a round."""
    model, tokenizer = runtime.model, runtime.tokenizer
    prompt = runtime.prompt_ids(messages)
    rows: dict[str, list[Any]] = {"first_bare": [], "greedy_bare_thread": []}
    for name in modes:
        rows[f"{name}_runtime"], rows[f"{name}_bare"] = [], []
    for round_ in range(ROUNDS):
        for name, settings in modes.items():
            order = ("runtime", "bare") if round_ % 2 == 0 else ("bare", "runtime")
            for what in order:
                if what == "runtime":
                    rows[f"{name}_runtime"].append(through_runtime(runtime, messages, settings))
                else:
                    ids, seconds = bare_generate(model, tokenizer, prompt, settings, TOKENS)
                    rows[f"{name}_bare"].append({"ids": ids, "seconds": seconds})
        ids, seconds = bare_in_thread(model, tokenizer, prompt, modes["greedy"], TOKENS)
        rows["greedy_bare_thread"].append({"ids": ids, "seconds": seconds})
        rows["first_bare"].append(bare_generate(model, tokenizer, prompt, modes["greedy"], 1)[1])
    return rows


def concurrent(briefs: list[str], settings: Any) -> dict[str, Any]:
    """Four briefs from four threads, each asking get_runtime for the model as a worker would."""
    from generation.runtime import get_runtime
    from training.samples import chat_messages

    results: list[Any] = [None] * len(briefs)
    errors: list[BaseException] = []
    gate = threading.Barrier(len(briefs))

    def work(n: int) -> None:
        try:
            gate.wait()
            runtime = get_runtime(BASE_MODEL, cache_dir=CACHE)
            results[n] = runtime.generate(chat_messages(briefs[n]), settings)
        except BaseException as error:  # counted in the table
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(briefs))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"wall": time.perf_counter() - started, "results": results, "errors": errors}


def adapter_costs(runtime: Any, messages: list[dict], settings: Any) -> dict[str, float]:
    """Two random LoRA adapters (made on the runtime's own base, then removed from it)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from training.trainer import quiet_peft

    work = Path(tempfile.mkdtemp(prefix="bench-generation-"))
    try:
        for seed, name in enumerate(("one", "two")):
            config = LoraConfig(
                task_type="CAUSAL_LM", r=16, lora_alpha=32, init_lora_weights=False,
                target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            )  # fmt: skip
            torch.manual_seed(seed)
            with quiet_peft():
                peft_model = get_peft_model(runtime.model, config)
            peft_model.save_pretrained(work / name)
            peft_model.unload()
        one, two = ("bench:one", work / "one"), ("bench:two", work / "two")
        short = type(settings)(max_new_tokens=1, temperature=0)
        costs = {"first_load": runtime.generate(messages, short, adapter=one).waited_s}
        costs["second_load"] = runtime.generate(messages, short, adapter=two).waited_s
        costs["switch"] = runtime.generate(messages, short, adapter=one).waited_s
        costs["adapter_rate"] = runtime.generate(messages, settings, adapter=one).tokens_per_s
        costs["disabled_rate"] = runtime.generate(messages, settings).tokens_per_s
        costs["loads"] = runtime.adapter_loads
        return costs
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    import torch

    from generation.runtime import SamplingSettings, get_runtime, reset_runtimes
    from training.base_model import device_plan
    from training.evaluation import FIXED_BRIEFS
    from training.samples import chat_messages

    if os.environ.get("BENCH_GEN_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_GEN_THREADS"]))
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    plan = device_plan(quantize=False)
    reset_runtimes()
    started = time.perf_counter()
    runtime = get_runtime(BASE_MODEL, cache_dir=CACHE, plan=plan)
    load_s = time.perf_counter() - started
    messages = chat_messages(FIXED_BRIEFS[0])
    modes = {
        "greedy": SamplingSettings(max_new_tokens=TOKENS, temperature=0),
        "sampled": SamplingSettings(max_new_tokens=TOKENS, seed=1),
    }
    runtime.generate(messages, SamplingSettings(max_new_tokens=4))  # warm-up, not timed
    rows = rounds(runtime, messages, modes)
    briefs = [*FIXED_BRIEFS, 'Write a blog post titled "Why I walk to work".\nTags: habits.']
    together = concurrent(briefs[:4], modes["sampled"])
    adapters = adapter_costs(runtime, messages, modes["greedy"])
    report(plan, runtime, load_s, rows, together, adapters, len(runtime.prompt_ids(messages)))
    reset_runtimes()


def report(plan: Any, runtime: Any, load_s: float, rows: dict[str, list[Any]],
           together: dict[str, Any], adapters: dict[str, float],
           prompt_tokens: int) -> None:  # fmt: skip
    import torch

    print(
        f"SmolLM2-135M-Instruct on {plan.device} ({plan.dtype}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads, {os.cpu_count()} CPUs; base load {load_s:.1f} s"
    )
    print(f"prompt {prompt_tokens} tokens, {TOKENS} new tokens; medians of {ROUNDS} rounds")
    print(f"\n{'':22} {'tokens/s':>9} {'bare':>7} {'ratio':>6}  same text  runs (runtime/bare)")
    for name in ("greedy", "sampled"):
        ours, bare = rows[f"{name}_runtime"], rows[f"{name}_bare"]
        rate = statistics.median(row["result"].tokens_per_s for row in ours)
        bare_rate = statistics.median(len(row["ids"]) / row["seconds"] for row in bare)
        same = all(
            o["result"].text == runtime.tokenizer.decode(b["ids"], skip_special_tokens=True)
            for o, b in zip(ours, bare, strict=True)
        )
        runs = " ".join(
            f"{o['result'].tokens_per_s:.1f}/{len(b['ids']) / b['seconds']:.1f}"
            for o, b in zip(ours, bare, strict=True)
        )
        ratio = rate / bare_rate
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(
            f"{name + ' generate':22} {rate:>9.1f} {bare_rate:>7.1f} {ratio:>6.2f}  "
            f"{'yes' if same else 'NO':9}  {runs}  (target >= {TARGET_RATIO}: {verdict})"
        )
    threaded = statistics.median(len(r["ids"]) / r["seconds"] for r in rows["greedy_bare_thread"])
    ours = statistics.median(row["result"].tokens_per_s for row in rows["greedy_runtime"])
    print(
        f"greedy bare generate in a worker thread {threaded:.1f} tokens/s: runtime ratio to it "
        f"{ours / threaded:.2f}"
    )
    firsts = [row["first_piece_s"] for row in rows["greedy_runtime"] + rows["sampled_runtime"]]
    first = statistics.median(f for f in firsts if f is not None)
    first_bare = statistics.median(rows["first_bare"])
    verdict = "met" if first - first_bare <= TARGET_FIRST_TOKEN_S else "NOT met"
    print(
        f"first token: runtime's first piece {first * 1000:.0f} ms, bare generate of 1 token "
        f"{first_bare * 1000:.0f} ms, {(first - first_bare) * 1000:+.0f} ms "
        f"(target <= {TARGET_FIRST_TOKEN_S * 1000:.0f} ms: {verdict})"
    )
    done = [r for r in together["results"] if r is not None]
    waits = " ".join(f"{r.waited_s:.1f}" for r in sorted(done, key=lambda r: r.waited_s))
    print(
        f"four briefs from four threads: {len(done)}/4 done, {len(together['errors'])} errors, "
        f"base loads {runtime.base_loads}, wall {together['wall']:.1f} s "
        f"(sum of generations {sum(r.seconds for r in done):.1f} s), waits {waits} s"
    )
    print(
        f"adapters: first load (wraps the base) {adapters['first_load'] * 1000:.0f} ms, second "
        f"load {adapters['second_load'] * 1000:.0f} ms, switch {adapters['switch'] * 1000:.1f} ms; "
        f"greedy tokens/s with an adapter {adapters['adapter_rate']:.1f}, base behind disabled "
        f"adapters {adapters['disabled_rate']:.1f} ({adapters['loads']} adapter loads)"
    )


if __name__ == "__main__":
    main()
