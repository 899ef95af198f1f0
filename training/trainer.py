"""LoRA fine-tuning of a causal LM on chat samples: a plain torch loop, resumable step by step.

Plain Python for the worker (no Django): the service passes a loaded model, samples, a config and
callbacks, and stores what comes back. A run's folder:

    output_dir/checkpoints/step-N/   adapter, trainer_state.pt, checkpoint.json (written last)
    output_dir/adapter/              final adapter + tokenizer + blogllm-adapter.json

Both are written into a temporary sibling and renamed, so a crash never leaves a half-written one.
The data order is a pure function of (seed, number of samples, batch size), so a checkpoint needs
only its step to know where to go on; with the optimizer, scheduler and RNG states restored, a
resumed run ends on the same weights as one that never stopped.

With `packing` (the default) the samples are concatenated, each closed by EOS, and the stream is
cut into max_length blocks: a training item is then a block, not a post. The brief's tokens keep
their IGNORE_INDEX labels in the stream, so the model still learns only the posts. At each
checkpoint the validation samples (if given) are scored as evaluation.perplexity scores them, and
an epochs-based run stops once `early_stopping_patience` checkpoints in a row fail to improve on
the best; the evaluation that follows picks the best checkpoint, not the last.
"""

import hashlib
import json
import math
import random
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.base_model import atomic_folder
from training.config import LEGACY_VALUES, TrainConfig
from training.samples import IGNORE_INDEX, Sample, collate, encode_all

if TYPE_CHECKING:
    import torch

CHECKPOINT_FORMAT = 1
ADAPTER_MARKER = "blogllm-adapter.json"
# Fields a resumed run may change without changing what it computes.
RESUMABLE_CHANGES = {"checkpoint_every"}
# Validation samples scored at each checkpoint: enough to see the trend, cheap on a CPU (the
# demo's 5 posts at 512 tokens take about 5 s on 2 cores); the full split is scored afterwards.
VALIDATION_SAMPLES = 16
UNTRUNCATED = 10**9  # encode()'s max_length when packing: the blocks do the cutting


@dataclass
class StepReport:
    step: int
    total_steps: int
    loss: float
    learning_rate: float
    tokens: int  # cumulative trained tokens (not padding), earlier sessions of the run included
    tokens_per_s: float
    elapsed_s: float
    eta_s: float
    epoch: float
    val_loss: float | None = None  # mean validation NLL, on checkpoint steps only


@dataclass
class TrainResult:
    steps: int
    total_steps: int
    final_loss: float
    tokens: int
    seconds: float
    tokens_per_s: float
    adapter_dir: Path
    checkpoints: list[tuple[int, Path]] = field(default_factory=list)
    resumed_from_step: int | None = None
    validation: list[tuple[int, float]] = field(default_factory=list)  # (step, val_loss)
    stopped_early: bool = False


class TrainingCancelled(Exception):
    """should_stop() said stop; `checkpoint` is where to resume from (None before step 1)."""

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        super().__init__(f"Training cancelled after step {step}.")
        self.step, self.checkpoint = step, checkpoint


class CheckpointError(Exception):
    """A checkpoint or adapter folder that is corrupt, newer than this code, or from another run."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA OOM, CPU allocation failures (torch's RuntimeError, Python's MemoryError),
    also when the error is the cause of the one raised."""
    markers = ("out of memory", "can't allocate memory", "defaultcpuallocator")
    torch = sys.modules.get("torch")  # not loaded: the error cannot be torch's
    cuda_oom = torch.cuda.OutOfMemoryError if torch is not None else ()
    seen: BaseException | None = exc
    for _ in range(5):  # a short cause chain; never loop on a cycle
        if seen is None:
            return False
        if isinstance(seen, cuda_oom):
            return True
        if isinstance(seen, MemoryError) or (
            isinstance(seen, RuntimeError) and any(m in str(seen).lower() for m in markers)
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def train(
    *,
    model: Any,
    tokenizer: Any,
    train_samples: list[Sample],
    config: TrainConfig,
    output_dir: Path,
    validation_samples: list[Sample] | None = None,
    on_step: Callable[[StepReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_checkpoint: Callable[[int, Path], None] | None = None,
    resume_from: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train a LoRA adapter on `model` and save it to output_dir/adapter.

    The LoRA layers are removed again when this returns or raises, so `model` is the plain base
    model afterwards: evaluate the result with `load_adapter(model, result.adapter_dir)`.
    `validation_samples` are scored at every checkpoint (the step's report carries val_loss),
    which early stopping needs; without them the run takes all its steps.
    Raises TrainingCancelled (after a checkpoint) when should_stop() turns true, CheckpointError
    for a bad `resume_from`, ValueError when no sample has a token to learn.
    """
    run = _Run(model, tokenizer, train_samples, config, Path(output_dir), log or (lambda _: None),
               validation_samples or [])  # fmt: skip
    return run.execute(
        on_step=on_step, should_stop=should_stop, on_checkpoint=on_checkpoint,
        resume_from=Path(resume_from) if resume_from is not None else None,
    )  # fmt: skip


def load_adapter(base_model: Any, adapter_dir: Path) -> Any:
    """The base model with a trained adapter on top (a PeftModel in eval mode)."""
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    marker = adapter_dir / ADAPTER_MARKER
    if marker.exists():
        version = _read_json(marker).get("format")
        if not isinstance(version, int) or version > CHECKPOINT_FORMAT:
            raise CheckpointError(f"{adapter_dir}: adapter format {version!r} is not supported.")
    try:
        with quiet_peft():
            model = PeftModel.from_pretrained(base_model, str(adapter_dir), is_trainable=False)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        message = f"{adapter_dir}: the adapter could not be loaded ({error})."
        raise CheckpointError(message) from error
    return model.eval()


def read_checkpoint(path: Path) -> dict[str, Any]:
    """checkpoint.json of a checkpoint folder, checked; raises CheckpointError."""
    path = Path(path)
    info = _read_json(path / "checkpoint.json")
    version = info.get("format")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: checkpoint.json has no valid format version.")
    if version > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {version} is newer than this version of BlogLLM reads "
            f"({CHECKPOINT_FORMAT})."
        )
    if not isinstance(info.get("step"), int) or not isinstance(info.get("config"), dict):
        raise CheckpointError(f"{path}: checkpoint.json lacks its step or config.")
    return info


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path.parent}: {path.name} is missing or corrupt.") from error
    if not isinstance(data, dict):
        raise CheckpointError(f"{path.parent}: {path.name} is not a JSON object.")
    return data


def dataset_fingerprint(samples: list[Sample]) -> str:
    """Order-sensitive hash of the samples: a checkpoint resumes only on the same data."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(f"{sample.id}\0{sample.content_hash}\n".encode())
    return digest.hexdigest()


def lr_factor(step: int, *, total: int, warmup: int) -> float:
    """Linear warm-up then linear decay, for the 0-based optimizer step. Unlike the usual
    schedule, neither the first nor the last step gets a learning rate of 0 (a wasted step
    matters when a demo run has ten)."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    return max(0.0, (total - step) / max(1, total - warmup))


def warmup_steps(config: TrainConfig, total: int) -> int:
    if config.warmup_steps is not None:
        return min(config.warmup_steps, total)
    return math.ceil(config.warmup_ratio * total)


def batch_nll(model: Any, batch: dict[str, Any]) -> "torch.Tensor":
    """Summed next-token NLL over the batch's labelled tokens (fp32, whatever the model dtype)."""
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    # Shift the labels, not the logits: slicing the logits would copy all of them (4 x 512 x
    # 49,152 floats for SmolLM2), as transformers' own loss avoids too. .float() is free in fp32.
    targets = torch.nn.functional.pad(batch["labels"][:, 1:], (0, 1), value=IGNORE_INDEX)
    logits = logits.float()
    return torch.nn.functional.cross_entropy(
        logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE_INDEX,
        reduction="sum",
    )  # fmt: skip


def mean_nll(model: Any, items: list[dict[str, Any]], *, pad_id: int, batch_size: int = 4) -> float:
    """Token-weighted mean NLL of encoded items, in eval mode and without gradients; the mode
    the model was in is restored. Evaluation's perplexity is exp() of it."""
    import torch

    device, was_training = model_device(model), model.training
    total, count = 0.0, 0
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(items), batch_size):
                batch = collate(items[start : start + batch_size], pad_id=pad_id, device=device)
                total += float(batch_nll(model, batch))
                count += batch["n_labels"]
    finally:
        model.train(was_training)
    return total / count if count else math.nan


def pack(
    items: list[dict[str, Any]], *, block_size: int, eos_id: int | None
) -> list[dict[str, Any]]:
    """Encoded samples as one stream cut into block_size blocks (the last may be shorter).

    Each sample is closed by EOS first, unless its chat template already ends it (ChatML ends a
    turn with "<|im_end|>\n"), so the model sees where one post ends and the next brief begins.
    Labels travel with their tokens: a brief stays IGNORE_INDEX wherever the cut falls. A block
    with no label left (a long brief alone) would train nothing and is dropped.
    """
    ids: list[int] = []
    labels: list[int] = []
    for item in items:
        ids += item["input_ids"]
        labels += item["labels"]
        if eos_id is not None and eos_id not in item["input_ids"][-2:]:
            ids.append(eos_id)
            labels.append(eos_id)
    blocks = []
    for start in range(0, len(ids), block_size):
        end = start + block_size
        block_ids, block_labels = ids[start:end], labels[start:end]
        completion = sum(1 for label in block_labels if label != IGNORE_INDEX)
        if completion:
            blocks.append({
                "input_ids": block_ids, "labels": block_labels, "n_tokens": len(block_ids),
                "n_completion_tokens": completion, "truncated": False,
            })  # fmt: skip
    return blocks


def checkpoints_since_best(history: list[tuple[int, float]]) -> int:
    """Checkpoints evaluated after the best (lowest, earliest on a tie) validation loss: only
    a strictly lower loss counts as an improvement."""
    if not history:
        return 0
    best = min(range(len(history)), key=lambda i: (history[i][1], i))
    return len(history) - 1 - best


def model_device(model: Any) -> "torch.device":
    import torch

    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    return next(model.parameters()).device


@contextmanager
def quiet_peft() -> Iterator[None]:
    """peft 0.21 reads transformers 5's deprecated `is_gradient_checkpointing` in every
    PeftModel constructor: a FutureWarning per adapter that no caller can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
        yield


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


class _Run:
    """One call of train(): the encoded data and its fixed order, then the loop."""

    def __init__(self, model: Any, tokenizer: Any, samples: list[Sample], config: TrainConfig,
                 output_dir: Path, log: Callable[[str], None],
                 validation: list[Sample]) -> None:  # fmt: skip
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.output_dir, self.log = output_dir, log
        if config.packing:
            encoded = encode_all(samples, tokenizer, max_length=UNTRUNCATED)
            self.items = pack(encoded, block_size=config.max_length, eos_id=tokenizer.eos_token_id)
        else:
            encoded = encode_all(samples, tokenizer, max_length=config.max_length)
            self.items = [item for item in encoded if item["n_completion_tokens"] > 0]
            if 0 < len(self.items) < len(encoded):
                skipped = len(encoded) - len(self.items)
                log(f"Skipped {skipped} samples whose brief fills max_length.")
        if not self.items:
            raise ValueError("No training sample has any text to learn within max_length tokens.")
        # Scored exactly as evaluation.perplexity scores the split: one sample a row, cut at
        # max_length, brief masked; so the checkpoint that stops the run is the one it ranks.
        scored = encode_all(
            validation[:VALIDATION_SAMPLES], tokenizer, max_length=config.max_length
        )
        self.validation = [item for item in scored if item["n_completion_tokens"] > 0]
        self.fingerprint = dataset_fingerprint(samples)
        self.per_epoch = math.ceil(len(self.items) / config.batch_size)
        if config.max_steps is not None:
            self.total_steps = config.max_steps
            self.total_micro = config.max_steps * config.grad_accum
        else:
            self.total_micro = math.ceil(config.epochs * self.per_epoch)
            self.total_steps = math.ceil(self.total_micro / config.grad_accum)
        pad_id = tokenizer.pad_token_id
        self.pad_id = pad_id if pad_id is not None else tokenizer.eos_token_id
        self.orders: dict[int, list[int]] = {}

    def micro_batch(self, index: int) -> list[dict[str, Any]]:
        """The index-th micro-batch of the whole run: each epoch is its own seeded shuffle."""
        epoch, position = divmod(index, self.per_epoch)
        if epoch not in self.orders:
            order = list(range(len(self.items)))
            random.Random(self.config.seed * 1_000_003 + epoch).shuffle(order)  # noqa: S311
            self.orders[epoch] = order
        size = self.config.batch_size
        return [self.items[i] for i in self.orders[epoch][position * size : (position + 1) * size]]

    def execute(self, *, on_step: Callable[[StepReport], None] | None,
                should_stop: Callable[[], bool] | None,
                on_checkpoint: Callable[[int, Path], None] | None,
                resume_from: Path | None) -> TrainResult:  # fmt: skip
        state = self.read_state(resume_from) if resume_from is not None else None
        seed_everything(self.config.seed)
        use_cache = getattr(self.model.config, "use_cache", None)
        self.model.config.use_cache = False  # the KV cache is useless, and costly, in training
        peft_model = None
        try:
            peft_model = self.wrap()
            return self.loop(peft_model, state, on_step, should_stop, on_checkpoint, resume_from)
        finally:
            if peft_model is not None:
                peft_model.unload()  # removes the LoRA layers: the caller's model is the base again
            self.model.config.use_cache = use_cache
            self.model.eval()

    def wrap(self) -> Any:
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        c = self.config
        model = self.model
        if getattr(model, "is_loaded_in_4bit", False):
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        lora = LoraConfig(
            task_type="CAUSAL_LM", r=c.rank, lora_alpha=c.alpha, lora_dropout=c.dropout,
            target_modules=list(c.target_modules), bias="none",
        )  # fmt: skip
        # On a bf16 model, peft keeps the adapter weights in fp32 (autocast_adapter_dtype).
        with quiet_peft():
            peft_model = get_peft_model(model, lora)
        peft_model.train()
        return peft_model

    def loop(self, peft_model: Any, state: dict[str, Any] | None, on_step: Any, should_stop: Any,
             on_checkpoint: Any, resume_from: Path | None) -> TrainResult:  # fmt: skip
        import torch

        c, total = self.config, self.total_steps
        every = c.checkpoint_interval(total)
        params = [p for p in peft_model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=c.learning_rate, weight_decay=c.weight_decay)
        warmup = warmup_steps(c, total)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, total=total, warmup=warmup)
        )
        start, tokens, loss = 0, 0, math.nan
        history: list[tuple[int, float]] = []  # (step, validation loss) of each checkpoint
        if state is not None:
            self.restore(peft_model, optimizer, scheduler, state, resume_from)
            start, tokens, loss = int(state["step"]), int(state["tokens"]), float(state["loss"])
            history = [(int(step), float(value)) for step, value in state.get("validation", [])]
            self.log(f"Resumed from step {start}")
        what = "blocks of packed samples" if c.packing else "samples"
        self.log(
            f"Training on {len(self.items)} {what}: {total} steps of {c.batch_size} x "
            f"{c.grad_accum} sequences, {self.per_epoch} micro-batches an epoch"
        )
        patience = self.patience()
        device = model_device(peft_model)
        started, session_tokens = time.perf_counter(), 0
        checkpoints: list[tuple[int, Path]] = []
        # The newest checkpoint as (step, folder): where a cancelled run will resume from.
        last = (start, resume_from) if state is not None else None

        def save(step: int) -> tuple[int, Path]:
            path = self.save_checkpoint(peft_model, optimizer, scheduler, step, tokens, loss,
                                        history)  # fmt: skip
            checkpoints.append((step, path))
            if on_checkpoint is not None:
                on_checkpoint(step, path)
            return step, path

        done = start
        # A run resumed from the checkpoint that stopped it has nothing left to train.
        stopped = patience is not None and checkpoints_since_best(history) >= patience
        for step in range(start, total):
            if stopped:
                break
            if should_stop is not None and should_stop():
                if step > 0 and (last is None or last[0] != step):
                    last = save(step)
                self.log(f"Cancelled after step {step}")
                raise TrainingCancelled(step, last[1] if last is not None else None)
            loss, step_tokens, learning_rate = self.train_step(
                peft_model, optimizer, scheduler, params, step, device
            )
            session_tokens += step_tokens
            tokens += step_tokens
            done, elapsed = step + 1, time.perf_counter() - started
            at_checkpoint = done % every == 0 or done == total
            val_loss = None
            if at_checkpoint and self.validation:
                val_loss = mean_nll(peft_model, self.validation, pad_id=self.pad_id)
                history.append((done, val_loss))
            report = StepReport(
                step=done, total_steps=total, loss=loss, learning_rate=learning_rate, tokens=tokens,
                 tokens_per_s=session_tokens / elapsed if elapsed else 0.0,
                elapsed_s=elapsed, eta_s=elapsed / (done - start) * (total - done),
                epoch=done * c.grad_accum / self.per_epoch, val_loss=val_loss,
            )  # fmt: skip
            validated = f" val_loss {val_loss:.4f}" if val_loss is not None else ""
            self.log(
                f"step {done}/{total} loss {loss:.4f}{validated} lr {learning_rate:.2e} "
                f"{report.tokens_per_s:.0f} tokens/s eta {report.eta_s:.0f}s"
            )
            if on_step is not None:
                on_step(report)
            if at_checkpoint:
                last = save(done)
                if patience is not None and checkpoints_since_best(history) >= patience:
                    stopped = True
                    self.log(
                        f"Stopped early after step {done}: validation loss has not improved "
                        f"for {patience} checkpoints"
                    )
        seconds = time.perf_counter() - started
        adapter_dir = self.save_adapter(peft_model, done)
        return TrainResult(
            steps=done, total_steps=total, final_loss=loss, tokens=tokens, seconds=seconds,
            tokens_per_s=session_tokens / seconds if seconds else 0.0, adapter_dir=adapter_dir,
            checkpoints=checkpoints, resumed_from_step=start if state is not None else None,
            validation=history, stopped_early=stopped,
        )  # fmt: skip

    def train_step(self, peft_model: Any, optimizer: Any, scheduler: Any, params: list[Any],
                   step: int, device: Any) -> tuple[float, int, float]:  # fmt: skip
        """One optimizer step (0-based `step`): its mean loss, the tokens it trained on and the
        learning rate it used."""
        import torch

        c = self.config
        first = step * c.grad_accum
        micro = range(first, min(first + c.grad_accum, self.total_micro))
        batches = [collate(self.micro_batch(i), pad_id=self.pad_id, device=device) for i in micro]
        labels = sum(batch["n_labels"] for batch in batches)
        optimizer.zero_grad(set_to_none=True)
        nll_sum = torch.zeros((), device=device)
        for batch in batches:
            # Each micro-batch is divided by the step's label count, so the accumulated
            # gradient is that of one token-weighted mean over the whole step.
            nll = batch_nll(peft_model, batch)
            (nll / labels).backward()
            nll_sum += nll.detach()  # no .item() here: one GPU sync a step, below
        if c.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, c.max_grad_norm)
        learning_rate = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        return nll_sum.item() / labels, sum(b["n_tokens"] for b in batches), learning_rate

    def patience(self) -> int | None:
        """Checkpoints without improvement that end the run; None: it takes all its steps."""
        c = self.config
        if c.early_stopping_patience is None or c.max_steps is not None:
            return None  # max_steps is an exact budget (benchmarks, tests, a chosen schedule)
        if not self.validation:
            self.log("No validation samples to score: early stopping is off for this run.")
            return None
        return c.early_stopping_patience

    def save_checkpoint(self, peft_model: Any, optimizer: Any, scheduler: Any, step: int,
                        tokens: int, loss: float,
                        history: list[tuple[int, float]]) -> Path:  # fmt: skip
        import torch

        rng = {"python": random.getstate(), "torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        state = {
            "step": step, "tokens": tokens, "loss": loss, "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng": rng,
            "epoch": step * self.config.grad_accum / self.per_epoch,
            "validation": [[at, value] for at, value in history],
        }  # fmt: skip
        info = {
            "format": CHECKPOINT_FORMAT, "step": step, "total_steps": self.total_steps,
            "config": self.config.to_dict(), "dataset": self.fingerprint,
            "val_loss": history[-1][1] if history and history[-1][0] == step else None,
        }  # fmt: skip

        def write(folder: Path) -> None:
            peft_model.save_pretrained(folder)
            torch.save(state, folder / "trainer_state.pt")
            (folder / "checkpoint.json").write_text(json.dumps(info, indent=2) + "\n")

        return atomic_folder(self.output_dir / "checkpoints" / f"step-{step}", write)

    def save_adapter(self, peft_model: Any, steps: int) -> Path:
        info = {"format": CHECKPOINT_FORMAT, "steps": steps, "config": self.config.to_dict()}

        def write(folder: Path) -> None:
            peft_model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
            (folder / ADAPTER_MARKER).write_text(json.dumps(info, indent=2) + "\n")

        return atomic_folder(self.output_dir / "adapter", write)

    def read_state(self, path: Path) -> dict[str, Any]:
        """checkpoint.json and trainer_state.pt, checked against this run; CheckpointError."""
        import torch

        info = read_checkpoint(path)
        mine = self.config.to_dict()
        # A checkpoint made before a setting existed was made with its old behaviour.
        theirs = {**LEGACY_VALUES, **info["config"]}
        changed = sorted(
            key for key in set(mine) | set(theirs)
            if key not in RESUMABLE_CHANGES and mine.get(key) != theirs.get(key)
        )  # fmt: skip
        if changed:
            raise CheckpointError(
                f"{path}: made with other settings ({', '.join(changed)}); resume needs the same."
            )
        if info.get("dataset") != self.fingerprint:
            raise CheckpointError(f"{path}: made with other training samples.")
        try:
            state = torch.load(path / "trainer_state.pt", map_location="cpu", weights_only=True)
        except Exception as error:  # a truncated or foreign file raises many kinds
            raise CheckpointError(f"{path}: trainer_state.pt is missing or corrupt.") from error
        if not isinstance(state, dict) or state.get("step") != info["step"] or "rng" not in state:
            raise CheckpointError(f"{path}: trainer_state.pt does not match checkpoint.json.")
        return state

    def restore(self, peft_model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any],
                path: Path | None) -> None:  # fmt: skip
        import torch
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        try:
            weights = load_peft_weights(str(path), device=str(model_device(peft_model)))
            result = set_peft_model_state_dict(peft_model, weights)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        except Exception as error:  # missing file, wrong shapes, wrong keys
            raise CheckpointError(f"{path}: the adapter or optimizer state is corrupt.") from error
        if getattr(result, "unexpected_keys", None):
            raise CheckpointError(f"{path}: the adapter does not fit this model.")
        rng = state["rng"]
        random.setstate(_as_tuple(rng["python"]))
        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(item) for item in value) if isinstance(value, list | tuple) else value
