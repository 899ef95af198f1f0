"""The training pipeline on a CUDA GPU, end to end, with figures: `python -m bench.check_cuda`.

Not part of `make bench` (it needs a GPU). Without the bundled GGUF (a GPU machine may not have
it), the model is SmolLM2-135M's architecture with random weights saved as a local folder, so the
path is the one a worker takes for any local base model: load (bf16, on the GPU) → train LoRA
with checkpoints → resume check → evaluate every checkpoint against the base (perplexity,
samples, memorisation) → generation speed → the drafting runtime (generation/runtime.py) on the
GPU: device and dtype of its weights, streaming, greedy determinism, a LoRA adapter switched in,
its tokens/s and first token against a bare generate(), and batching (1-8 drafts at once, mixed
adapters, prefix reuse). Prints one line per check and a JSON summary.
"""

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path


def main() -> None:
    import torch

    from bench.bench_training import demo_samples, random_model
    from training.base_model import device_plan, load_base_model
    from training.config import TrainConfig
    from training.evaluation import canary_strings, generate_text
    from training.pipeline import evaluate_checkpoints
    from training.samples import make_sample
    from training.trainer import train

    plan = device_plan(os.environ.get("CHECK_DEVICE", "cuda"), quantize=False)
    cuda = plan.device == "cuda"
    work = Path(tempfile.mkdtemp(prefix="check-cuda-"))
    figures: dict = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "dtype": plan.dtype,
    }
    try:
        posts = demo_samples()
        samples = [
            make_sample(id=s.id, kind="post", brief=s.brief, text=s.text, split=split)
            for i, s in enumerate(posts)
            for split in ["validation" if i % 8 == 0 else "train"]
        ]
        canaries = canary_strings(0, 3)
        samples += [
            make_sample(id=f"canary:{i}", kind="canary", brief="b", text=t, split="train")
            for i, t in enumerate(canaries)
        ]
        model, tokenizer = random_model(plan, posts)
        base_dir = work / "base"
        model.save_pretrained(base_dir)
        tokenizer.save_pretrained(base_dir)
        del model

        started = time.perf_counter()
        model, tokenizer = load_base_model(str(base_dir), cache_dir=work / "cache", plan=plan)
        figures["load_s"] = round(time.perf_counter() - started, 2)
        params = {(str(p.device), str(p.dtype)) for p in model.parameters()}
        print("base parameters on", params, flush=True)
        figures["base_params"] = sorted(map(list, params))

        train_set = [s for s in samples if s.split == "train"]
        config = TrainConfig(
            max_steps=int(os.environ.get("CHECK_STEPS", "40")),
            batch_size=int(os.environ.get("CHECK_BATCH", "16")),
            max_length=int(os.environ.get("CHECK_LENGTH", "512")),
            learning_rate=1e-3,
            checkpoint_every=20,
        )
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        result = train(
            model=model,
            tokenizer=tokenizer,
            train_samples=train_set,
            config=config,
            output_dir=work / "run",
            log=lambda line: print(line, flush=True) if "step" not in line[:5] else None,
        )
        figures["train"] = {
            "steps": result.steps,
            "tokens_per_s": round(result.tokens_per_s),
            "seconds": round(result.seconds, 1),
            "final_loss": round(result.final_loss, 3),
            "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 1024**3, 2) if cuda else None,
        }
        print("train", figures["train"], flush=True)

        # Resume from the first checkpoint in a fresh run folder: it must reach the same step.
        first = result.checkpoints[0][1]
        resumed = train(
            model=model,
            tokenizer=tokenizer,
            train_samples=train_set,
            config=config,
            output_dir=work / "resumed",
            resume_from=first,
        )
        figures["resumed"] = {"from": result.checkpoints[0][0], "steps": resumed.steps}
        print("resumed", figures["resumed"], flush=True)
        del model
        if cuda:
            torch.cuda.empty_cache()

        started = time.perf_counter()
        report = evaluate_checkpoints(
            base_model=str(base_dir),
            cache_dir=work / "cache",
            plan=plan,
            checkpoints=result.checkpoints,
            validation=[s for s in samples if s.split == "validation"],
            max_length=config.max_length,
            briefs=["Write a blog post about walking to work."],
            references=[],
            embed=None,
            sample_tokens=64,
            memorisation_texts=[(s.id, s.text) for s in train_set[:4]],
            canaries=canaries,
            log=lambda line: print(line, flush=True),
        )
        figures["evaluate_s"] = round(time.perf_counter() - started, 1)
        figures["evaluation"] = {
            "base_val_perplexity": round(report.base_val_perplexity, 1),
            "checkpoints": report.checkpoints,
            "best_step": report.best_step,
            "memorisation_max": report.memorisation["max_overlap"],
        }

        model, tokenizer = load_base_model(str(base_dir), cache_dir=work / "cache", plan=plan)
        generate_text(model, tokenizer, "Warm up.", max_new_tokens=8)
        sync = torch.cuda.synchronize if cuda else (lambda: None)
        sync()
        started = time.perf_counter()
        text = generate_text(model, tokenizer, "Write about tea.", max_new_tokens=128, seed=1)
        sync()
        seconds = time.perf_counter() - started
        figures["generate_128_tokens_s"] = round(seconds, 2)
        figures["generate_chars"] = len(text)
        del model
        figures["runtime"] = check_runtime(base_dir, result.checkpoints[-1][1], work, plan)
        print("runtime", figures["runtime"], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=2, default=str))


def check_runtime(base_dir: Path, adapter_dir: Path, work: Path, plan: object) -> dict:
    """The drafting runtime as a worker uses it, on `plan`'s device."""
    import torch

    from generation.runtime import Runtime, SamplingSettings
    from generation.workflow import draft_messages

    cuda = plan.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    runtime = Runtime(str(base_dir), cache_dir=work / "cache", plan=plan)
    params = sorted({f"{p.device.type}/{p.dtype}" for p in runtime.model.parameters()})
    messages = draft_messages({"topic": "Walking to work in the rain"}, [])
    # Seeded sampling: a random model's greedy text can be one unprintable token repeated.
    seeded = SamplingSettings(max_new_tokens=128, temperature=0.8, seed=1)
    greedy = SamplingSettings(
        max_new_tokens=128, temperature=0, repetition_penalty=1.0, no_repeat_ngram_size=0
    )
    runtime.generate(messages, SamplingSettings(max_new_tokens=4, temperature=0))  # warm up
    pieces: list[str] = []
    one = runtime.generate(messages, seeded, on_text=pieces.append)
    two = runtime.generate(messages, seeded)
    adapter = ("check", adapter_dir)
    tuned = runtime.generate(messages, seeded, adapter=adapter)
    after = runtime.generate(messages, seeded)  # the base again, adapter switched off
    fast = runtime.generate(messages, greedy)  # against the bare greedy generate() below

    prompt = torch.tensor([runtime.prompt_ids(messages)], device=runtime.model.device)
    options = {
        "do_sample": False, "pad_token_id": runtime.tokenizer.eos_token_id,
        "eos_token_id": runtime.tokenizer.eos_token_id, "temperature": None, "top_p": None,
        "top_k": None,
    }  # fmt: skip
    with torch.no_grad():
        sync()
        started = time.perf_counter()
        runtime.model.generate(prompt, max_new_tokens=1, **options)
        sync()
        bare_first = time.perf_counter() - started
        started = time.perf_counter()
        out = runtime.model.generate(prompt, max_new_tokens=128, **options)
        sync()
        bare_tps = (out.shape[1] - prompt.shape[1]) / (time.perf_counter() - started)
    return {
        "params": params,
        "text_chars": len(one.text),
        "streamed_pieces": len(pieces),
        "stream_matches_text": "".join(pieces) == one.text,
        "seed_deterministic": one.text == two.text,
        "adapter_changes_text": tuned.text != one.text,
        "adapter_switched_off": after.text == one.text,
        "tokens_per_s": round(fast.tokens_per_s, 1),
        "bare_tokens_per_s": round(bare_tps, 1),
        "ratio": round(fast.tokens_per_s / bare_tps, 2),
        "first_token_ms": round(fast.first_token_s * 1000, 1),
        "bare_first_token_ms": round(bare_first * 1000, 1),
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 1024**3, 2) if cuda else None,
        "batching": check_batching(runtime, adapter, sync),
    }


def check_batching(runtime: object, adapter: tuple, sync: object) -> dict:
    """Continuous batching on this device (issue 17): 1, 2, 4 and 8 greedy drafts at once against
    the same ones in turn (aggregate tokens/s, and the same texts), with an adapter in the batch;
    and a cached prompt prefix giving the same tokens as a full prefill."""
    from dataclasses import replace

    from bench.bench_serving import draft_prompt, long_voice, timed, together
    from generation.runtime import SamplingSettings

    greedy = SamplingSettings(max_new_tokens=128, temperature=0)
    jobs = [draft_prompt(n) for n in range(8)]
    rows = {}
    for n in (1, 2, 4, 8):
        sync()
        alone = [timed(runtime, job, greedy) for job in jobs[:n]]
        sequential = sum(a["result"].new_tokens for a in alone) / sum(a["wall_s"] for a in alone)
        runs, wall = together(runtime, jobs[:n], greedy)
        sync()
        rate = sum(r["result"].new_tokens for r in runs) / wall
        rows[n] = {
            "sequential_tokens_per_s": round(sequential, 1),
            "aggregate_tokens_per_s": round(rate, 1),
            "ratio": round(rate / sequential, 2),
            "first_token_worst_s": round(max(r["first_s"] for r in runs), 3),
            "first_token_lone_s": round(min(a["first_s"] for a in alone), 3),
            "same_text": [r["result"].text for r in runs] == [a["result"].text for a in alone],
        }
    mixed = [(jobs[n], adapter if n % 2 else None) for n in range(4)]
    expected = [runtime.generate(m, greedy, adapter=a).text for m, a in mixed]
    got: list = [None] * 4
    threads = [
        threading.Thread(target=lambda n=n: got.__setitem__(
            n, runtime.generate(mixed[n][0], greedy, adapter=mixed[n][1]).text
        ))
        for n in range(4)
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    voiced = draft_prompt(0, long_voice())
    short = replace(greedy, max_new_tokens=32)
    first = runtime.generate(voiced, short)  # fills the prefix cache
    again = runtime.generate(voiced, short)  # starts from it
    return {
        "concurrent": rows,
        "mixed_adapters_same_text": got == expected,
        "prefix_reuse_same_tokens": first.text == again.text,
        "prefix_first_token_s": [round(first.first_token_s, 3), round(again.first_token_s, 3)],
        "peak_batch": runtime.peak_batch,
    }


if __name__ == "__main__":
    main()
