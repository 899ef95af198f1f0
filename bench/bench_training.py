"""Training speed: `trainer.train` against a bare peft loop, adapter I/O and base-model loads.

On SmolLM2-135M-Instruct (the bundled base model), in one process:
- base model load, cold (GGUF dequantised and saved as safetensors in a fresh cache folder, as a
  worker's first run does) and warm (from that folder, as every later run does);
- `trainer.train` for 1 warm-up + BENCH_TRAIN_STEPS optimizer steps of BENCH_TRAIN_BATCH demo posts
  cut to BENCH_TRAIN_SEQ tokens (every demo post is longer, so each batch is full: 4 x 512);
- a bare loop on the same model and batches: get_peft_model with the same LoRA settings, AdamW,
  forward with labels, backward, step; nothing else;
- loading the trainer's adapter onto the base model, and saving it again.
Tokens/s count real tokens over the timed steps (after the warm-up step). Peak memory is the
process RSS sampled every 20 ms during each phase (on CUDA: torch.cuda.max_memory_allocated).

On CUDA the model runs in bf16, on CPU in fp32 (training.base_model.device_plan, no 4-bit).
BENCH_TRAIN_RANDOM_INIT=1 uses a randomly initialised model of SmolLM2-135M's shape and a BPE
tokenizer trained on the demo corpus, for a machine without the GGUF (the load rows are skipped).
BENCH_TRAIN_THREADS sets torch's CPU threads (default: torch's own). BENCH_TRAIN_ROUNDS (default
2 on CUDA, 1 on CPU, where a step takes ~25 s) repeats both runs, alternating which goes first,
and the table shows medians.
"""

import gc
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = ROOT / "posts" / "demo_corpus"
CACHE = ROOT / "var" / "bench-cache"
BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
STEPS = int(os.environ.get("BENCH_TRAIN_STEPS", "4"))
BATCH = int(os.environ.get("BENCH_TRAIN_BATCH", "4"))
SEQ = int(os.environ.get("BENCH_TRAIN_SEQ", "512"))
RANDOM_INIT = os.environ.get("BENCH_TRAIN_RANDOM_INIT") == "1"
TARGET_RATIO = 0.9
GIB = 1024**3


class PeakMemory:
    """Peak RSS (sampled) and, on CUDA, peak allocated GPU memory inside a `with` block."""

    def __init__(self, cuda: bool) -> None:
        self.cuda, self.rss, self.gpu = cuda, 0, 0
        self._done = threading.Event()

    def _sample(self) -> None:
        import psutil

        process = psutil.Process()
        while not self._done.wait(0.02):
            self.rss = max(self.rss, process.memory_info().rss)

    def __enter__(self) -> "PeakMemory":
        import torch

        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        self._done.set()
        self._thread.join()
        if self.cuda:
            self.gpu = torch.cuda.max_memory_allocated()

    def describe(self) -> str:
        gpu = f", GPU {self.gpu / GIB:.2f} GiB" if self.cuda else ""
        return f"RSS {self.rss / GIB:.2f} GiB{gpu}"


def demo_samples() -> list[Any]:
    from training.samples import make_sample, post_brief

    samples = []
    for path in sorted(DEMO_CORPUS.glob("*.md")):
        _, head, body = path.read_text().split("---", 2)
        meta = yaml.safe_load(head)
        brief = post_brief(
            title=meta["title"], tags=meta.get("tags") or [], excerpt=meta.get("excerpt") or ""
        )
        samples.append(
            make_sample(
                id=f"post:{path.stem}", kind="post", brief=brief, text=body.strip(), split="train"
            )
        )
    return samples


def random_model(plan: Any, samples: list[Any]) -> tuple[Any, Any]:
    """SmolLM2-135M's architecture with random weights, and a tokenizer of our own."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from training.tiny import tiny_model_create

    folder = Path(tempfile.mkdtemp(prefix="bench-tokenizer-"))
    tiny_model_create(folder, texts=[s.text for s in samples], vocab_size=8000)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    shutil.rmtree(folder)
    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        head_dim=64,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        rope_theta=100000.0,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(device=plan.device, dtype=getattr(torch, plan.dtype))
    return model.eval(), tokenizer


def load_times(plan: Any) -> tuple[dict[str, Any], Any, Any, Path]:
    """Cold and warm base-model loads in a fresh cache folder; returns the warm-loaded model."""
    from training.base_model import load_base_model

    CACHE.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="cold-", dir=CACHE))
    with PeakMemory(plan.device == "cuda") as memory:
        started = time.perf_counter()
        model, tokenizer = load_base_model(BASE_MODEL, cache_dir=cache, plan=plan)
        cold = time.perf_counter() - started
    del model
    gc.collect()
    started = time.perf_counter()
    model, tokenizer = load_base_model(BASE_MODEL, cache_dir=cache, plan=plan)
    warm = time.perf_counter() - started
    return {"cold": cold, "warm": warm, "cold_memory": memory}, model, tokenizer, cache


def through_trainer(
    model: Any, tokenizer: Any, samples: list[Any], lora: dict[str, Any], work: Path, cuda: bool
) -> dict[str, Any]:
    from training.trainer import TrainConfig, train

    config = TrainConfig(
        max_steps=1 + STEPS, batch_size=BATCH, max_length=SEQ, checkpoint_every=10**6, **lora
    )
    marks: list[tuple[float, int]] = []
    with PeakMemory(cuda) as memory:
        result = train(
            model=model,
            tokenizer=tokenizer,
            train_samples=samples,
            config=config,
            output_dir=work / "trainer",
            on_step=lambda r: marks.append((_now(cuda), r.tokens)),
        )
    (t0, n0), (t1, n1) = marks[0], marks[-1]
    return {
        "rate": (n1 - n0) / (t1 - t0),
        "step_s": (t1 - t0) / STEPS,
        "memory": memory,
        "adapter_dir": result.adapter_dir,
        "loss": result.final_loss,
    }


def bare_loop(
    model: Any, batches: list[dict[str, Any]], lora: dict[str, Any], cuda: bool
) -> dict[str, Any]:
    """The reference: plain forward (transformers' own loss), backward, AdamW step."""
    import torch
    from peft import LoraConfig, get_peft_model

    from training.trainer import quiet_peft

    torch.manual_seed(0)
    model.config.use_cache = False
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=lora["rank"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=list(lora["target_modules"]),
    )
    with quiet_peft():
        peft_model = get_peft_model(model, config)
    peft_model.train()
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=2e-4)
    marks = []
    with PeakMemory(cuda) as memory:
        for batch in batches:
            loss = peft_model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                labels=batch["labels"],
            ).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            marks.append(_now(cuda))
    peft_model.unload()  # the base model again, for the next run
    tokens = sum(batch["n_tokens"] for batch in batches[1:])
    seconds = marks[-1] - marks[0]
    return {"rate": tokens / seconds, "step_s": seconds / STEPS, "memory": memory}


def _now(cuda: bool) -> float:
    if cuda:
        import torch

        torch.cuda.synchronize()  # a step has ended when its kernels have
    return time.perf_counter()


def adapter_times(model: Any, adapter: Path, work: Path) -> dict[str, float]:
    """Loading a trained adapter onto the base model, and saving it again."""
    from training.trainer import load_adapter

    started = time.perf_counter()
    peft_model = load_adapter(model, adapter)
    load = time.perf_counter() - started
    started = time.perf_counter()
    peft_model.save_pretrained(work / "saved-adapter")
    save = time.perf_counter() - started
    peft_model.unload()
    size = (work / "saved-adapter" / "adapter_model.safetensors").stat().st_size
    return {"save": save, "load": load, "mb": size / 1e6}


def main() -> None:
    import torch

    from training.base_model import device_plan
    from training.samples import collate, encode_all

    if os.environ.get("BENCH_TRAIN_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_TRAIN_THREADS"]))
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    plan = device_plan(quantize=False)
    cuda = plan.device == "cuda"
    samples = demo_samples()
    needed = (1 + STEPS) * BATCH
    samples = (samples * (needed // len(samples) + 1))[:needed]
    loads, cache = None, None
    if RANDOM_INIT:
        model, tokenizer = random_model(plan, samples)
    else:
        loads, model, tokenizer, cache = load_times(plan)
    encoded = encode_all(samples, tokenizer, max_length=SEQ)
    batches = [
        collate(encoded[i : i + BATCH], pad_id=tokenizer.pad_token_id, device=plan.device)
        for i in range(0, needed, BATCH)
    ]
    lora = {
        "rank": 16,
        "alpha": 32,
        "dropout": 0.0,
        "target_modules": ("q_proj", "k_proj", "v_proj", "o_proj"),
    }
    work = Path(tempfile.mkdtemp(prefix="bench-training-"))
    rounds = int(os.environ.get("BENCH_TRAIN_ROUNDS", "2" if cuda else "1"))
    results: dict[str, list[dict[str, Any]]] = {"trainer": [], "bare": []}
    try:
        # Each round runs both on the same model; odd rounds swap the order, since on a shared
        # machine the later of two runs in a process is often the faster.
        for round_ in range(rounds):
            order = ("bare", "trainer") if round_ % 2 == 0 else ("trainer", "bare")
            for what in order:
                if what == "bare":
                    results["bare"].append(bare_loop(model, batches, lora, cuda))
                else:
                    results["trainer"].append(
                        through_trainer(model, tokenizer, samples, lora, work, cuda)
                    )
        adapters = adapter_times(model, results["trainer"][-1]["adapter_dir"], work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
    report(plan, encoded, loads, results, adapters)


def report(
    plan: Any,
    encoded: list[dict[str, Any]],
    loads: dict[str, Any] | None,
    results: dict[str, list[dict[str, Any]]],
    adapters: dict[str, float],
) -> None:
    import resource

    import torch

    lengths = [item["n_tokens"] for item in encoded]
    name = "random-init SmolLM2-135M shape" if RANDOM_INIT else "SmolLM2-135M-Instruct"
    print(
        f"{name} on {plan.device} ({plan.dtype}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads, {os.cpu_count()} CPUs"
    )
    print(
        f"LoRA r16 q/k/v/o, dropout 0; {BATCH} sequences of {min(lengths)}-{max(lengths)} "
        f"tokens a step; {STEPS} timed steps after 1 warm-up step"
    )
    rounds = len(results["bare"])
    print(f"\n{'':16} {'tokens/s':>9} {'s/step':>7}  peak memory (highest), medians of {rounds}")
    rates = {}
    for label, key in (("trainer.train", "trainer"), ("bare peft loop", "bare")):
        rows = results[key]
        rates[key] = statistics.median(row["rate"] for row in rows)
        step_s = statistics.median(row["step_s"] for row in rows)
        memory = max((row["memory"] for row in rows), key=lambda m: (m.gpu, m.rss))
        runs = " ".join(f"{row['rate']:.1f}" for row in rows)
        print(f"{label:16} {rates[key]:>9.1f} {step_s:>7.2f}  {memory.describe()}    runs: {runs}")
    ratio = rates["trainer"] / rates["bare"]
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"ratio trainer/bare {ratio:.2f} (target >= {TARGET_RATIO}: {verdict})")
    print(
        f"adapter: save {adapters['save']:.2f} s, load onto the base {adapters['load']:.2f} s, "
        f"{adapters['mb']:.1f} MB"
    )
    if loads is not None:
        print(
            f"base model load: cold (GGUF -> safetensors cache) {loads['cold']:.1f} s "
            f"({loads['cold_memory'].describe()}), warm {loads['warm']:.2f} s"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(f"process peak RSS (ru_maxrss) {peak:.2f} GiB")


if __name__ == "__main__":
    main()
