"""The LLM runtime of a generation worker: one base model, many LoRA adapters, streamed text.

Plain Python (no Django); torch, transformers and peft load only when a Runtime is made, so the
web process may import SamplingSettings to validate a request. The design, and why:

- One base model per process. Loading takes seconds and holds hundreds of MB, so `get_runtime`
  keeps one Runtime per base model name for the life of the worker; nothing reloads it.
- Adapters on top, by name. The first adapter wraps the base in a PeftModel; later ones are added
  beside it with `load_adapter` and chosen with `set_adapter`, which is cheap next to a load. An
  LRU of `max_adapters` bounds memory; `adapter=None` runs the base with the adapters disabled.
- One generation at a time. The active adapter is global state of the shared model, so a lock
  covers choosing it and generating; a second caller waits its turn.
- Streaming. `model.generate` runs in a worker thread and hands tokens to a streamer queue that
  the caller iterates, so the decoding loop is transformers' own and runs at bare `generate()`
  speed. Cancelling (the caller's event, or a stream dropped half-way) is a stopping criterion
  checked after every token.
"""

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, fields
from functools import cache
from hashlib import sha256
from pathlib import Path
from typing import Any

from training.base_model import DevicePlan, device_plan, load_base_model, resolve_base_model
from training.evaluation import printable
from training.samples import chat_ids
from training.trainer import model_device, quiet_peft

ADAPTER_MARKER = "blogllm-adapter.json"  # written by training's registry beside the peft files
ADAPTER_FORMAT = 1  # the newest blogllm-adapter.json format this code reads


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
    seconds: float  # generating: prefill and decoding, not the wait for the lock or an adapter load
    tokens_per_s: float
    finish_reason: str  # "stop" (end of turn) | "length" (max_new_tokens) | "cancelled"
    adapter: str | None  # the adapter's key, None for the base model
    waited_s: float = 0.0  # for the lock (another generation) and loading the adapter


class Runtime:
    """A base model, its tokenizer and a small LRU of LoRA adapters; see the module docstring."""

    def __init__(self, base_model: str, *, cache_dir: Path, plan: DevicePlan | None = None,
                 max_adapters: int = 4) -> None:  # fmt: skip
        if max_adapters < 1:
            raise ValueError("max_adapters must be at least 1.")
        # 4-bit weights help training fit a GPU; for generation they are only slower.
        plan = plan or device_plan(quantize=False)
        self.base_model, self.plan, self.max_adapters = base_model, plan, max_adapters
        self._source = resolve_base_model(base_model, Path(cache_dir))
        self._base, self.tokenizer = load_base_model(base_model, cache_dir=cache_dir, plan=plan)
        self._base.eval()
        self._peft: Any = None  # the PeftModel around _base, once an adapter has been asked for
        self._adapters: OrderedDict[str, str] = OrderedDict()  # peft name -> key, oldest first
        self._lock = threading.Lock()
        self.base_loads, self.adapter_loads = 1, 0

    @property
    def model(self) -> Any:
        return self._peft if self._peft is not None else self._base

    def prompt_ids(self, messages: list[dict]) -> list[int]:
        """The chat through the model's own template, ending with the assistant's turn opened.
        When the last message is the assistant's, its turn is left open after that text, and
        the model goes on from there (the editor's "continue from here")."""
        if not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str) for m in messages
        ):  # fmt: skip
            raise ValueError("Messages must be a non-empty list of {role, content} strings.")
        if messages[-1]["role"] == "assistant":
            return chat_ids(self.tokenizer, messages, continue_final_message=True)
        return chat_ids(self.tokenizer, messages, add_generation_prompt=True)

    def stream(self, messages: list[dict], settings: SamplingSettings | None = None, *,
               adapter: tuple[str, Path] | None = None,
               cancel: threading.Event | None = None) -> Iterator[str]:  # fmt: skip
        """Text pieces as they are generated. Bad messages or settings raise here, at the call;
        AdapterError when iteration starts. Dropping the iterator stops the generation."""
        prompt = self._checked_prompt(messages, settings := settings or SamplingSettings())
        return self._run(prompt, settings, adapter, cancel, {})

    def generate(self, messages: list[dict], settings: SamplingSettings | None = None, *,
                 adapter: tuple[str, Path] | None = None, cancel: threading.Event | None = None,
                 on_text: Callable[[str], None] | None = None) -> GenerationResult:  # fmt: skip
        """The whole text and its figures; on_text(piece) sees each piece as it comes."""
        prompt = self._checked_prompt(messages, settings := settings or SamplingSettings())
        stats: dict[str, Any] = {}
        pieces = []
        for piece in self._run(prompt, settings, adapter, cancel, stats):
            pieces.append(piece)
            if on_text is not None:
                on_text(piece)
        return GenerationResult(text="".join(pieces), **stats)

    def _checked_prompt(self, messages: list[dict], settings: SamplingSettings) -> list[int]:
        prompt = self.prompt_ids(messages)
        limit = getattr(self._base.config, "max_position_embeddings", None)
        if limit and len(prompt) + settings.max_new_tokens > limit:
            raise ValueError(
                f"The prompt ({len(prompt)} tokens) plus max_new_tokens "
                f"({settings.max_new_tokens}) exceeds the model's context of {limit} tokens."
            )
        return prompt

    def _run(self, prompt: list[int], settings: SamplingSettings, adapter: tuple[str, Path] | None,
             cancel: threading.Event | None, stats: dict[str, Any]) -> Iterator[str]:  # fmt: skip
        """The generator behind stream() and generate(): fills `stats` when it finishes."""
        import torch

        called = time.perf_counter()
        with self._lock:
            context = self._activate(adapter)
            started = time.perf_counter()
            stats.update(prompt_tokens=len(prompt), adapter=adapter[0] if adapter else None,
                         waited_s=started - called, new_tokens=0, first_token_s=None, seconds=0.0,
                         tokens_per_s=0.0, finish_reason="cancelled")  # fmt: skip
            if cancel is not None and cancel.is_set():  # cancelled while waiting: no prefill
                return
            streamer_class, stop_class = _helpers()
            streamer = streamer_class(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            dropped = threading.Event()  # set when the caller stops iterating early
            stop = stop_class([e for e in (cancel, dropped) if e is not None])
            box: dict[str, Any] = {}
            kwargs = self._generate_kwargs(prompt, settings, streamer, stop)
            worker = threading.Thread(target=self._work, args=(context, kwargs, box),
                                      name="blogllm-generate", daemon=True)  # fmt: skip
            if settings.seed is not None:  # in the lock: nothing draws from it in between
                torch.manual_seed(settings.seed)  # CUDA's generators too
            worker.start()
            try:
                for piece in streamer:
                    # Control characters are single characters: cleaning each piece cleans all.
                    if piece := printable(piece):
                        yield piece
            finally:
                dropped.set()  # a caller gone mid-stream (GeneratorExit) stops at the next token
                worker.join()
            if "error" in box:
                raise box["error"]
            new = box["output"][0, len(prompt) :].tolist()
            seconds = time.perf_counter() - started
            if stop.fired:
                reason = "cancelled"
            else:
                reason = "stop" if new and new[-1] == self.tokenizer.eos_token_id else "length"
            first = streamer.first_token_at
            stats.update(new_tokens=len(new), seconds=seconds, finish_reason=reason,
                         first_token_s=first - started if first is not None else None,
                         tokens_per_s=len(new) / seconds if seconds else 0.0)  # fmt: skip

    def _generate_kwargs(self, prompt: list[int], settings: SamplingSettings, streamer: Any,
                         stop: Any) -> dict[str, Any]:  # fmt: skip
        """As training.evaluation generates its samples, so a seed gives the same text in both."""
        import torch

        input_ids = torch.tensor([prompt], dtype=torch.long, device=model_device(self._base))
        pad_id = self.tokenizer.pad_token_id
        options: dict[str, Any] = {
            "input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": settings.max_new_tokens, "do_sample": settings.temperature > 0,
            "logits_processor": repetition_rules(settings, len(prompt)), "use_cache": True,
            "eos_token_id": self.tokenizer.eos_token_id,
            "pad_token_id": pad_id if pad_id is not None else self.tokenizer.eos_token_id,
            "streamer": streamer, "stopping_criteria": [stop],
        }  # fmt: skip
        if settings.temperature > 0:
            options.update(temperature=settings.temperature, top_p=settings.top_p)
        else:  # explicit, so a model's generation_config cannot turn sampling back on
            options.update(temperature=None, top_p=None, top_k=None)
        return options

    def _work(self, context: AbstractContextManager, kwargs: dict[str, Any], box: dict) -> None:
        streamer = kwargs["streamer"]
        try:
            with context:
                box["output"] = self.model.generate(**kwargs)
        except BaseException as error:  # handed to the caller's thread, which raises it
            box["error"] = error
        finally:
            # generate() ends the stream only when it succeeds; the caller must never hang.
            streamer.text_queue.put(streamer.stop_signal)

    def _activate(self, adapter: tuple[str, Path] | None) -> AbstractContextManager:
        """Make `adapter` the active one (loading it on first use); the context to generate in."""
        if adapter is None:
            return self._peft.disable_adapter() if self._peft is not None else nullcontext()
        key, path = adapter[0], Path(adapter[1])
        name = adapter_name(key, path)
        if name in self._adapters:
            self._adapters.move_to_end(name)
        else:
            self._load(name, key, path)
        if self._peft.active_adapter != name:
            self._peft.set_adapter(name, inference_mode=True)
        # Evicted only now, so that the adapter deleted is never the active one.
        while len(self._adapters) > self.max_adapters:
            oldest, _ = self._adapters.popitem(last=False)
            self._peft.delete_adapter(oldest)
        return nullcontext()

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


def get_runtime(base_model: str, *, cache_dir: Path, plan: DevicePlan | None = None) -> Runtime:
    """This process's Runtime for `base_model`, created on first use (the later calls' cache_dir
    and plan are ignored). The lock makes concurrent first calls load the base model once."""
    with _runtimes_lock:
        if base_model not in _runtimes:
            _runtimes[base_model] = Runtime(base_model, cache_dir=cache_dir, plan=plan)
        return _runtimes[base_model]


def runtime_loaded(base_model: str) -> bool:
    """Whether this process has `base_model` ready (False while it is still loading)."""
    return base_model in _runtimes


def reset_runtimes() -> None:
    """Forget every Runtime (tests); the models go when their last user lets go of them."""
    with _runtimes_lock:
        _runtimes.clear()


def repetition_rules(settings: SamplingSettings, prompt_length: int) -> list:
    """The repetition penalty and the n-gram ban over the new tokens only. transformers' own
    `repetition_penalty` and `no_repeat_ngram_size` count the prompt too, which pushes a draft
    away from the very words of the sources it should use."""
    from transformers import NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor

    class NewTextNoRepeat(NoRepeatNGramLogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            return super().__call__(input_ids[:, prompt_length:], scores)

    rules: list = []
    if settings.repetition_penalty != 1:
        penalty = settings.repetition_penalty
        rules.append(
            RepetitionPenaltyLogitsProcessor(float(penalty), prompt_ignore_length=prompt_length)
        )
    if settings.no_repeat_ngram_size:
        rules.append(NewTextNoRepeat(settings.no_repeat_ngram_size))
    return rules


@cache
def _helpers() -> tuple[type, type]:
    """The streamer and stopping criterion, defined on first use: they subclass transformers."""
    import torch
    from transformers import StoppingCriteria, TextIteratorStreamer

    class Streamer(TextIteratorStreamer):
        """Stamps the first token and hands text out at once. The stock streamer holds text back
        to the last space (each word a token late) and queues empty pieces; byte-level BPE needs
        to hold back only a half-decoded character (U+FFFD), and trailing spaces in case a
        tokenizer's clean-up merges them with what follows."""

        first_token_at: float | None = None

        def put(self, value: Any) -> None:
            if self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            self.token_cache.extend(value.reshape(-1).tolist())
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            if text.endswith("\n"):  # flushed, and decoding starts afresh: it stays short
                piece, self.token_cache, self.print_len = text[self.print_len :], [], 0
            else:
                stable = len(text.rstrip(" \ufffd"))
                piece, self.print_len = text[self.print_len : stable], max(self.print_len, stable)
            if piece:
                self.on_finalized_text(piece)

    class Stop(StoppingCriteria):
        """Stops after the current token once any of the events is set."""

        def __init__(self, events: list[threading.Event]) -> None:
            self.events, self.fired = events, False

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            self.fired = self.fired or any(event.is_set() for event in self.events)
            return torch.full((input_ids.shape[0],), self.fired, device=input_ids.device)

    return Streamer, Stop
