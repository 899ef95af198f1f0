"""The LLM runtime of a generation worker: one base model, many LoRA adapters, streamed text,
every concurrent request decoded in one batch.

Plain Python (no Django); torch, transformers and peft load only when a Runtime is made, so the
web process may import SamplingSettings to validate a request. The design, and why:

- One base model per process. Loading takes seconds and holds hundreds of MB, so `get_runtime`
  keeps one Runtime per base model name for the life of the worker; nothing reloads it.
- Adapters on top, by name. The first adapter wraps the base in a PeftModel; later ones are added
  beside it with `load_adapter`. Each request names its own, and one batch may hold several
  (peft's mixed-adapter forward); an LRU of `max_adapters` bounds memory, never evicting one
  that a request in the batch still uses. `adapter=None` runs the base model.
- Continuous batching. One scheduler thread owns the model. A request waits in a queue, first
  come first served, until the batch has room (`Serving.max_batch`, and the KV memory its
  prompt and max_new_tokens may take, `Serving.kv_cache_mb`); then its prompt is prefilled on
  its own and it joins the batch at the next step, with its own settings, seed and stop
  conditions (generation/decoding.py). A request that ends, or is cancelled, leaves at the
  next step; the others go on. Each step costs about what one request's step costs on a CPU
  (decoding reads every weight once per step, whatever the batch), so four requests together
  take far less than four one after another.
- Prompt-prefix reuse. The system messages (the system prompt and the author's voice guide) are
  the same for every request of a channel: their KV cache is kept per (adapter, token ids), an
  LRU of `Serving.prefix_entries`, and a request prefills only its own part after it. Keyed by
  the tokens themselves, a new voice-guide version or model version is a new entry by itself.
- Streaming. The caller's thread reads its request's queue: text pieces as tokens come, where it
  stands in the queue while it waits, and the figures at the end. Cancelling (the caller's event,
  or a stream dropped half-way) takes effect at the next step.
"""

import json
import os
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from hashlib import sha256
from pathlib import Path
from typing import Any

from generation import decoding
from training.base_model import DevicePlan, device_plan, load_base_model, resolve_base_model
from training.evaluation import printable
from training.samples import chat_ids
from training.trainer import model_device, quiet_peft

ADAPTER_MARKER = "blogllm-adapter.json"  # written by training's registry beside the peft files
ADAPTER_FORMAT = 1  # the newest blogllm-adapter.json format this code reads
QUEUE_REPORT_SECONDS = 1.0  # a waiting caller hears where it stands at least this often


class AdapterError(Exception):
    """An adapter folder that is corrupt, or made for another base model; the message says which."""


@dataclass(frozen=True)
class SamplingSettings:
    max_new_tokens: int = 400
    temperature: float = 0.7  # 0: greedy
    top_p: float = 0.9
    # Both look at the new text only, never the prompt: the draft may and should use the
    # sources' words, but it must not loop ("sleep, sleep, sleep"). A loop of any period repeats
    # some 6-gram; 6 leaves a citation and its full stop ("[1].", 4 tokens) free to recur.
    repetition_penalty: float = 1.1
    no_repeat_ngram_size: int = 6  # 0: off
    seed: int | None = None  # None: a different text each time

    def __post_init__(self) -> None:
        whole = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
        real = lambda v: isinstance(v, int | float) and not isinstance(v, bool)  # noqa: E731
        rules = [
            ("max_new_tokens", whole(self.max_new_tokens) and 1 <= self.max_new_tokens <= 4096,
             "a whole number from 1 to 4096"),
            ("temperature", real(self.temperature) and 0 <= self.temperature <= 2,
             "a number from 0 (greedy) to 2"),
            ("top_p", real(self.top_p) and 0 < self.top_p <= 1, "a number in (0, 1]"),
            ("repetition_penalty", real(self.repetition_penalty)
             and 1 <= self.repetition_penalty <= 2, "a number from 1 (none) to 2"),
            ("no_repeat_ngram_size", whole(self.no_repeat_ngram_size)
             and 0 <= self.no_repeat_ngram_size <= 32, "a whole number from 0 (off) to 32"),
            ("seed", self.seed is None or (whole(self.seed) and 0 <= self.seed < 2**32),
             "empty or a whole number from 0 to 4294967295"),
        ]  # fmt: skip
        for name, ok, expected in rules:
            if not ok:
                value = getattr(self, name)
                raise ValueError(f"Invalid sampling setting {name}={value!r}: expected {expected}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SamplingSettings":
        if not isinstance(data, dict):
            raise ValueError("Sampling settings must be a JSON object.")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"Unknown sampling setting(s): {', '.join(unknown)}.")
        return cls(**data)


@dataclass
class GenerationResult:
    text: str
    new_tokens: int
    prompt_tokens: int
    first_token_s: float | None  # from the start of generating to the first new token
    seconds: float  # generating: prefill and decoding, not the queue or an adapter load
    tokens_per_s: float
    finish_reason: str  # "stop" (end of turn) | "length" (max_new_tokens) | "cancelled"
    adapter: str | None  # the adapter's key, None for the base model
    waited_s: float = 0.0  # in the queue (the batch was full) and loading the adapter


@dataclass(frozen=True)
class Serving:
    """How a Runtime shares its model among concurrent requests (settings: BLOGLLM_GENERATION_*).

    max_batch: requests decoding together; past it they queue, first come first served.
    kv_cache_mb: the KV cache the batch may hold, as the rows' prompts plus max_new_tokens
        reserve it (a row alone always runs, however long).
    prefix_entries: prompt prefixes (system prompt and voice guide) whose KV is kept; 0: off.
    precision: how the weights compute (generation/precision.py): float32, bfloat16 or int8.
    """

    max_batch: int = 4
    kv_cache_mb: int = 2048
    prefix_entries: int = 8
    precision: str = "float32"

    def __post_init__(self) -> None:
        from generation.precision import PRECISIONS

        if self.max_batch < 1 or self.kv_cache_mb < 1 or self.prefix_entries < 0:
            raise ValueError(
                "max_batch and kv_cache_mb must be at least 1, prefix_entries 0 or more."
            )
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"Unknown precision {self.precision!r}: use one of {', '.join(PRECISIONS)}."
            )


PREFIX_MIN_TOKENS = 16  # a shorter fixed part is not worth a cache entry


@dataclass(eq=False)
class _Request:
    """One caller's generation, as the scheduler thread sees it. The caller reads `out`:
    ("queued", position), ("text", piece), ("end", stats) or ("error", exception)."""

    prompt: list[int]
    prefix: int  # leading prompt tokens that are the channel's fixed part (0: none)
    settings: SamplingSettings
    adapter: tuple[str, Path] | None
    events: list[threading.Event]
    called: float
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    position: int = 0  # in the queue; 0 once decoding
    # Once admitted:
    name: str | None = None  # the peft adapter's name, BASE_ADAPTER or None (no PeftModel yet)
    sampler: Any = None
    pieces: Any = None
    tokens: list[int] = field(default_factory=list)  # prompt and new tokens
    started: float = 0.0
    first_at: float | None = None

    @property
    def cancelled(self) -> bool:
        return any(event.is_set() for event in self.events)

    @property
    def new(self) -> list[int]:
        return self.tokens[len(self.prompt) :]

    @property
    def reserve(self) -> int:
        """The tokens its KV cache may come to hold."""
        return len(self.prompt) + self.settings.max_new_tokens


class Runtime:
    """A base model, its tokenizer, a small LRU of LoRA adapters and the scheduler that decodes
    every request on them in one batch; see the module docstring."""

    def __init__(self, base_model: str, *, cache_dir: Path, plan: DevicePlan | None = None,
                 max_adapters: int = 4, serving: Serving | None = None) -> None:  # fmt: skip
        from generation.precision import apply_precision

        if max_adapters < 1:
            raise ValueError("max_adapters must be at least 1.")
        self.serving = serving or Serving()
        # 4-bit weights help training fit a GPU; for generation they are only slower.
        plan = plan or device_plan(quantize=False)
        self.base_model, self.plan, self.max_adapters = base_model, plan, max_adapters
        if plan.device == "cuda" and self.serving.precision == "int8":
            raise ValueError("int8 is a CPU path (its kernel is CPU-only): use bfloat16 on CUDA.")
        self._source = resolve_base_model(base_model, Path(cache_dir))
        self._base, self.tokenizer = load_base_model(base_model, cache_dir=cache_dir, plan=plan)
        self._base.eval()
        if plan.device == "cpu":
            # A batch carries a padding mask, and with a mask transformers' SDPA repeats the
            # shared key/value heads of grouped-query attention (SmolLM2: 3 for 9 query heads)
            # before every call; torch's CPU kernel takes them as they are (enable_gqa), with
            # the same results: 10% off a step at batch 4 (FIELD-NOTES).
            os.environ.setdefault("TRANSFORMERS_SDPA_FORCE_GQA", "1")
        if self.serving.precision == "float32":  # a CUDA plan loads bfloat16
            self._base.float()
        apply_precision(self._base, self.serving.precision)
        self._peft: Any = None  # the PeftModel around _base, once an adapter has been asked for
        self._adapters: OrderedDict[str, str] = OrderedDict()  # peft name -> key, oldest first
        self._prefixes: OrderedDict[tuple, list] = OrderedDict()  # (adapter, ids) -> KV layers
        self.base_loads, self.adapter_loads, self.prefix_hits = 1, 0, 0
        self.peak_batch = 0  # the most rows that ever decoded together
        # The scheduler: requests wait in _pending, decode in _rows (and _batch, their cache).
        self._cond = threading.Condition()
        self._pending: list[_Request] = []
        self._rows: list[_Request] = []
        self._batch = decoding.Batch()
        self.kv_bytes_per_token = 0  # measured on the first prefill
        self._thread: threading.Thread | None = None

    @property
    def model(self) -> Any:
        return self._peft if self._peft is not None else self._base

    def prompt_ids(self, messages: list[dict]) -> list[int]:
        """The chat through the model's own template, ending with the assistant's turn opened.
        When the last message is the assistant's, its turn is left open after that text, and
        the model goes on from there (the editor's "continue from here")."""
        self._check_messages(messages)
        if messages[-1]["role"] == "assistant":
            return chat_ids(self.tokenizer, messages, continue_final_message=True)
        return chat_ids(self.tokenizer, messages, add_generation_prompt=True)

    def prefix_length(self, messages: list[dict], prompt: list[int]) -> int:
        """How many leading tokens of `prompt` are its system messages (the system prompt and
        the voice guide: the same for every request of a channel), when they are a prefix of it
        under this chat template; 0 when there are none or the template makes them differ."""
        system = []
        for message in messages:
            if message["role"] != "system":
                break
            system.append(message)
        if not system or len(system) == len(messages):
            return 0
        ids = chat_ids(self.tokenizer, system)
        if len(ids) < PREFIX_MIN_TOKENS or len(ids) >= len(prompt) or prompt[: len(ids)] != ids:
            return 0
        return len(ids)

    def queue_length(self) -> int:
        with self._cond:
            return len(self._pending)

    def prefix_cache_keys(self) -> list[tuple[str | None, int]]:
        """(adapter, prefix length) of each cached prefix, oldest first."""
        return [(name, len(ids)) for name, ids in list(self._prefixes)]

    def stream(self, messages: list[dict], settings: SamplingSettings | None = None, *,
               adapter: tuple[str, Path] | None = None,
               cancel: threading.Event | None = None) -> Iterator[str]:  # fmt: skip
        """Text pieces as they are generated. Bad messages or settings raise here, at the call;
        AdapterError when iteration starts. Dropping the iterator stops the generation."""
        request = self._request(messages, settings or SamplingSettings(), adapter, cancel)
        return self._results(request, {}, None)

    def generate(self, messages: list[dict], settings: SamplingSettings | None = None, *,
                 adapter: tuple[str, Path] | None = None, cancel: threading.Event | None = None,
                 on_text: Callable[[str], None] | None = None,
                 on_queue: Callable[[int], None] | None = None) -> GenerationResult:  # fmt: skip
        """The whole text and its figures; on_text(piece) sees each piece as it comes, and
        on_queue(position) where the request stands while it waits (1: next), again about once
        a second, so the caller may look for a cancel meanwhile."""
        request = self._request(messages, settings or SamplingSettings(), adapter, cancel)
        stats: dict[str, Any] = {}
        pieces = []
        for piece in self._results(request, stats, on_queue):
            pieces.append(piece)
            if on_text is not None:
                on_text(piece)
        return GenerationResult(text="".join(pieces), **stats)

    def _check_messages(self, messages: list[dict]) -> None:
        if not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str) for m in messages
        ):  # fmt: skip
            raise ValueError("Messages must be a non-empty list of {role, content} strings.")

    def _request(self, messages: list[dict], settings: SamplingSettings,
                 adapter: tuple[str, Path] | None,
                 cancel: threading.Event | None) -> _Request:  # fmt: skip
        prompt = self.prompt_ids(messages)
        limit = getattr(self._base.config, "max_position_embeddings", None)
        if limit and len(prompt) + settings.max_new_tokens > limit:
            raise ValueError(
                f"The prompt ({len(prompt)} tokens) plus max_new_tokens "
                f"({settings.max_new_tokens}) exceeds the model's context of {limit} tokens."
            )
        prefix = self.prefix_length(messages, prompt) if self.serving.prefix_entries else 0
        events = [cancel] if cancel is not None else []
        return _Request(prompt, prefix, settings, adapter, events, time.perf_counter())

    def _results(self, request: _Request, stats: dict[str, Any],
                 on_queue: Callable[[int], None] | None) -> Iterator[str]:  # fmt: skip
        """The caller's side: hand the request to the scheduler and yield its text. Fills
        `stats` when it ends; a caller who stops iterating cancels it."""
        dropped = threading.Event()
        request.events.append(dropped)
        self._submit(request)
        try:
            while True:
                try:
                    kind, value = request.out.get(timeout=QUEUE_REPORT_SECONDS)
                except queue.Empty:  # still waiting (or a long prefill): say so again
                    if self._thread is None or not self._thread.is_alive():
                        raise RuntimeError("The generation scheduler stopped.") from None
                    if request.position and on_queue is not None:
                        on_queue(request.position)
                    continue
                if kind == "queued":
                    if on_queue is not None:
                        on_queue(value)
                elif kind == "text":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    stats.update(value)
                    return
        finally:
            dropped.set()  # gone mid-stream (GeneratorExit): the row leaves at the next step
            with self._cond:
                self._cond.notify()

    def _submit(self, request: _Request) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="blogllm-decode", daemon=True
                )
                self._thread.start()
            self._pending.append(request)
            self._cond.notify()

    # --- The scheduler thread: the only one that touches the model --------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._rows:
                    self._cond.wait()
                admitted = self._admit()
            try:
                for request in admitted:
                    self._start(request)
                if self._rows:
                    self._choose(self._rows, self._batch.step(
                        self.model, [r.tokens[-1] for r in self._rows], self._names(self._rows)
                    ))  # fmt: skip
            except BaseException as error:  # noqa: BLE001 - every row's caller raises it
                for request in self._rows:
                    request.out.put(("error", error))
                self._rows, self._batch = [], decoding.Batch()

    def _admit(self) -> list[_Request]:
        """(Under the lock.) The waiting requests that fit into the batch now, in order; the
        cancelled ones end here, and the rest hear where they stand if that changed."""
        for request in [r for r in self._pending if r.cancelled]:
            self._pending.remove(request)
            request.out.put(("end", self._stats(request, "cancelled")))
        admitted: list[_Request] = []
        while self._pending and self._fits(self._pending[0], admitted):
            admitted.append(self._pending.pop(0))
        for position, request in enumerate(self._pending, start=1):
            if request.position != position:
                request.position = position
                request.out.put(("queued", position))
        return admitted

    def _fits(self, request: _Request, admitted: list[_Request]) -> bool:
        rows = [*self._rows, *admitted]
        if not rows:
            return True  # alone, a request always runs
        if len(rows) >= self.serving.max_batch:
            return False
        # The left-padded cache holds every row at the longest row's length.
        longest = max(r.reserve for r in [*rows, request])
        needed = (len(rows) + 1) * longest * self.kv_bytes_per_token
        return needed <= self.serving.kv_cache_mb * 2**20

    def _start(self, request: _Request) -> None:
        """Load its adapter, prefill its prompt alone, choose its first token, join the batch."""
        request.position = 0
        try:
            request.name = self._activate(request.adapter)
            request.started = time.perf_counter()
            if request.cancelled:  # cancelled while its adapter loaded: no prefill
                request.out.put(("end", self._stats(request, "cancelled")))
                return
            logits, cache = self._prefill(request)
        except BaseException as error:  # noqa: BLE001 - the caller's thread raises it
            request.out.put(("error", error))
            return
        if not self.kv_bytes_per_token:
            self.kv_bytes_per_token = max(1, decoding.kv_bytes(cache) // len(request.prompt))
        request.sampler = decoding.Sampler(request.settings, len(request.prompt),
                                           model_device(self._base))  # fmt: skip
        request.pieces = decoding.TextPieces(self.tokenizer)
        request.tokens = list(request.prompt)
        self._batch.join(cache)
        self._rows.append(request)
        self.peak_batch = max(self.peak_batch, len(self._rows))
        self._choose([request], logits)

    def _prefill(self, request: _Request) -> tuple[Any, Any]:
        if not request.prefix:
            return decoding.prefill(self.model, request.prompt, adapters=self._names([request]))
        prefix = tuple(request.prompt[: request.prefix])
        key = (request.name, prefix)
        layers = self._prefixes.get(key)
        if layers is None:
            _, cache = decoding.prefill(self.model, list(prefix), adapters=self._names([request]))
            layers = decoding.cache_layers(cache)
            self._prefixes[key] = layers
            while len(self._prefixes) > self.serving.prefix_entries:
                self._prefixes.popitem(last=False)
        else:
            self._prefixes.move_to_end(key)
            self.prefix_hits += 1
        rest = request.prompt[request.prefix :]
        return decoding.prefill(self.model, rest, start=layers, adapters=self._names([request]))

    def _names(self, rows: list[_Request]) -> list[str] | None:
        """peft's adapter_names for these rows; None before any adapter wrapped the model."""
        if self._peft is None:
            return None
        return [r.name or decoding.BASE_ADAPTER for r in rows]

    def _choose(self, rows: list[_Request], logits: Any) -> None:
        """Each row's next token from its logits (rows: the batch's, or one just prefilled);
        text out, and the rows that ended leave the batch."""
        import torch

        now = time.perf_counter()
        ended = set()
        for index, request in enumerate(rows):
            if request.cancelled:
                request.out.put(("end", self._stats(request, "cancelled", now)))
                ended.add(id(request))
                continue
            ids = torch.tensor([request.tokens], device=logits.device)
            token = request.sampler(ids, logits[index : index + 1])
            request.tokens.append(token)
            request.first_at = request.first_at or time.perf_counter()
            if piece := printable(request.pieces.add(token)):
                request.out.put(("text", piece))
            done = token == self.tokenizer.eos_token_id
            if done or len(request.new) >= request.settings.max_new_tokens:
                if piece := printable(request.pieces.flush()):
                    request.out.put(("text", piece))
                reason = "stop" if done else "length"
                request.out.put(("end", self._stats(request, reason)))
                ended.add(id(request))
        if ended:
            keep = [i for i, r in enumerate(self._rows) if id(r) not in ended]
            self._batch.keep(keep)
            self._rows = [self._rows[i] for i in keep]

    def _stats(self, request: _Request, reason: str, now: float | None = None) -> dict[str, Any]:
        now = now or time.perf_counter()
        started = request.started or now  # never started: no time spent generating
        seconds = now - started
        new = len(request.new)
        first = request.first_at - started if request.first_at is not None else None
        return {
            "new_tokens": new, "prompt_tokens": len(request.prompt),
            "first_token_s": first, "seconds": seconds, "finish_reason": reason,
            "tokens_per_s": new / seconds if seconds else 0.0,
            "adapter": request.adapter[0] if request.adapter else None,
            "waited_s": started - request.called,
        }  # fmt: skip

    def _activate(self, adapter: tuple[str, Path] | None) -> str | None:
        """The peft name of `adapter`, loaded on first use; None for the base model."""
        if adapter is None:
            return None
        key, path = adapter[0], Path(adapter[1])
        name = adapter_name(key, path)
        if name in self._adapters:
            self._adapters.move_to_end(name)
        else:
            self._load(name, key, path)
        # Evicted only now, and never one a row in the batch still decodes with.
        busy = {r.name for r in self._rows} | {name}
        for oldest in [n for n in self._adapters if n not in busy]:
            if len(self._adapters) <= self.max_adapters:
                break
            del self._adapters[oldest]
            if self._peft.active_adapter == oldest:  # rows name theirs; peft wants one active
                self._peft.set_adapter(name, inference_mode=True)
            self._peft.delete_adapter(oldest)
            self._prefixes = OrderedDict(
                (k, v) for k, v in self._prefixes.items() if k[0] != oldest
            )
        return name

    def _load(self, name: str, key: str, path: Path) -> None:
        from peft import PeftModel

        self._check_adapter(key, path)
        try:
            with quiet_peft():
                if self._peft is None:
                    model = PeftModel.from_pretrained(self._base, str(path), adapter_name=name)
                    self._peft = model.eval()
                else:
                    self._peft.load_adapter(str(path), adapter_name=name, is_trainable=False)
        except Exception as error:  # the checks above leave only the unexpected
            if self._peft is not None and name in self._peft.peft_config:
                self._peft.delete_adapter(name)
            raise AdapterError(f"Adapter {key!r} at {path} could not be loaded: {error}") from error
        self._adapters[name] = key
        self.adapter_loads += 1

    def _check_adapter(self, key: str, path: Path) -> None:
        """Everything that can be wrong with a folder, found before peft changes the model:
        PeftModel.from_pretrained puts LoRA layers into the base first and loads weights after,
        so a failure there would leave the shared base model altered."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        where = f"Adapter {key!r} at {path}"
        config = _json_object(path / "adapter_config.json", where)
        marker = path / ADAPTER_MARKER
        if marker.exists():
            meta = _json_object(marker, where)
            version, base = meta.get("format"), meta.get("base_model")
            if not isinstance(version, int) or version > ADAPTER_FORMAT:
                raise AdapterError(f"{where}: adapter format {version!r} is not supported.")
            if base is not None and base != self.base_model:
                raise AdapterError(f"{where} was trained on {base!r}, not on {self.base_model!r}.")
        # peft records the folder the base loaded from; in another worker's cache folder the
        # same model has the same folder name.
        recorded = str(config.get("base_model_name_or_path") or "")
        known = {self.base_model, self._source}
        known |= {Path(k).name for k in known}
        if recorded and recorded not in known and Path(recorded).name not in known:
            raise AdapterError(f"{where} was made for {recorded!r}, not for {self.base_model!r}.")
        try:
            weights = load_file(str(path / "adapter_model.safetensors"))
        except (OSError, SafetensorError) as error:
            message = f"{where}: adapter_model.safetensors is missing or corrupt."
            raise AdapterError(message) from error
        for weight, tensor in weights.items():
            match = re.fullmatch(r"base_model\.model\.(.+)\.lora_([AB])\.weight", weight)
            if match is None:
                continue
            try:
                layer = self._base.get_submodule(match[1])
            except AttributeError:
                raise AdapterError(f"{where} adapts {match[1]}, which this model lacks.") from None
            want = getattr(layer, "in_features" if match[2] == "A" else "out_features", None)
            have = tensor.shape[-1] if match[2] == "A" else tensor.shape[0]
            if isinstance(want, int) and have != want:
                raise AdapterError(f"{where} does not fit this model's {match[1]} layer.")


def adapter_name(key: str, path: Path) -> str:
    """A peft adapter name for (key, folder): peft names must be identifiers of a sort (no dots),
    and a key re-used for another folder is another adapter."""
    slug = re.sub(r"[^A-Za-z0-9_]", "_", key)[:40]
    digest = sha256(f"{key}\0{Path(path).resolve()}".encode()).hexdigest()[:10]
    return f"a_{slug}_{digest}"


def _json_object(path: Path, where: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise AdapterError(f"{where}: {path.name} is missing or corrupt.") from error
    if not isinstance(data, dict):
        raise AdapterError(f"{where}: {path.name} is not a JSON object.")
    return data


_runtimes: dict[str, Runtime] = {}
_runtimes_lock = threading.Lock()


def get_runtime(base_model: str, *, cache_dir: Path, plan: DevicePlan | None = None,
                serving: Serving | None = None) -> Runtime:  # fmt: skip
    """This process's Runtime for `base_model`, created on first use (the later calls' cache_dir,
    plan and serving are ignored). The lock makes concurrent first calls load the model once."""
    with _runtimes_lock:
        if base_model not in _runtimes:
            _runtimes[base_model] = Runtime(
                base_model, cache_dir=cache_dir, plan=plan, serving=serving
            )
        return _runtimes[base_model]


def runtime_loaded(base_model: str) -> bool:
    """Whether this process has `base_model` ready (False while it is still loading)."""
    return base_model in _runtimes


def reset_runtimes() -> None:
    """Forget every Runtime (tests); the models go when their last user lets go of them."""
    with _runtimes_lock:
        _runtimes.clear()
