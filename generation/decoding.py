"""Decoding a token at a time, for one request or a batch of them: what `model.generate` does,
in pieces that the runtime's scheduler (generation/runtime.py) can interleave.

Plain torch and transformers, no Django; torch is imported inside the functions, so the web
process may import this module's names without loading it. The pieces:

- `Sampler`: one request's choice of its next token, from its own settings: the repetition
  rules over its new text, temperature and top-p as transformers' warpers apply them, and its
  own random generator. Each row of a batch draws from its own seed, so a seeded request says
  the same thing whoever else is in the batch.
- `TextPieces`: token ids to text as they come, holding back only what may still change.
- `Batch`: the rows decoding together and their KV cache, left-padded to one length. A row
  joins after its prompt has been prefilled on its own (`prefill`), and leaves when it is done;
  the others never notice either. Positions are each row's own count of real tokens, and the
  attention mask hides the padding, as `generate` does for a left-padded batch.
- `decode`: one prompt, start to end, through the same pieces (training's evaluation samples).

Why not transformers' own continuous batching (`generate_batch`)? It takes one seed for all
requests, only temperature/top-k/top-p as per-request processors (not our repetition rules over
the new text), and no per-request LoRA adapter; a batch here may hold several adapters at once
(peft's mixed-adapter forward, `adapter_names`).
"""

import functools
import secrets
from collections.abc import Callable
from typing import Any

BASE_ADAPTER = "__base__"  # peft's name, in a mixed batch, for "no adapter"


def repetition_rules(settings: Any, prompt_length: int) -> list:
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


class Sampler:
    """The next token of one request: `settings` is a generation.runtime.SamplingSettings."""

    def __init__(self, settings: Any, prompt_length: int, device: Any) -> None:
        import torch
        from transformers import TemperatureLogitsWarper, TopPLogitsWarper

        self.greedy = settings.temperature == 0
        self.rules = repetition_rules(settings, prompt_length)
        if not self.greedy:
            self.rules.append(TemperatureLogitsWarper(float(settings.temperature)))
            if settings.top_p < 1:
                self.rules.append(TopPLogitsWarper(float(settings.top_p)))
        seed = settings.seed if settings.seed is not None else secrets.randbits(63)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def __call__(self, ids: Any, logits: Any) -> int:
        """ids: the row's tokens so far, shape [1, n]; logits: its next-token logits, [1, V]."""
        import torch

        scores = logits.float()
        for rule in self.rules:
            scores = rule(ids, scores)
        if self.greedy:
            return int(scores.argmax(dim=-1))
        probs = torch.softmax(scores, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self.generator))


class TextPieces:
    """New text as tokens arrive. Byte-level BPE can end a token half-way through a character
    (U+FFFD until the next one comes), and a tokenizer's clean-up may merge trailing spaces with
    what follows: only those are held back, everything else goes out at once."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer, self.tokens, self.printed = tokenizer, [], 0

    def add(self, token: int) -> str:
        self.tokens.append(token)
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if text.endswith("\n"):  # flushed, and decoding starts afresh: it stays short
            piece, self.tokens, self.printed = text[self.printed :], [], 0
            return piece
        stable = len(text.rstrip(" \ufffd"))
        piece, self.printed = text[self.printed : stable], max(self.printed, stable)
        return piece

    def flush(self) -> str:
        """What was held back, once the request has ended."""
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        piece, self.tokens, self.printed = text[self.printed :], [], 0
        return piece


def forward(model: Any, ids: Any, mask: Any, cache: Any, *, positions: Any = None,
            adapters: list[str] | None = None) -> Any:  # fmt: skip
    """Next-token logits [B, V] for `ids` [B, n] after what `cache` holds (which it extends);
    `mask` covers the cache and `ids`. Only the last position's logits are computed: a whole
    prompt's would be prompt × vocabulary floats (200 MB for 1,000 tokens)."""
    import torch

    options: dict[str, Any] = {"logits_to_keep": 1}
    if positions is not None:
        options["position_ids"] = positions
    if adapters is not None:  # a PeftModel: each row's own adapter
        options["adapter_names"] = adapters
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=True,
                    **options)  # fmt: skip
    return out.logits[:, -1, :]


ROOM = 128  # tokens of spare room a cache layer grows by


def new_cache(layers: list[tuple[Any, Any]] | None = None) -> Any:
    """A DynamicCache holding `layers` ([(keys, values)] per layer, each [B, heads, T, dim]), whose
    layers write new tokens in place (`_layer_class`)."""
    from transformers import DynamicCache

    cache = DynamicCache()
    cache.layer_class_to_replicate = _layer_class()
    for index, (keys, values) in enumerate(layers or []):
        cache.update(keys, values, index)
    return cache


@functools.cache
def _layer_class() -> type:
    """A DynamicLayer whose keys and values are views of buffers with room to spare: a new token
    is written into the room, where DynamicLayer concatenates, copying the whole cache at every
    step (at batch 4 and 900 tokens, two thirds of a step's time went to that copy). The room
    grows by ROOM tokens when it runs out. Same numbers, same API (keys, values, lengths)."""
    import torch
    from transformers.cache_utils import DynamicLayer

    class InPlaceLayer(DynamicLayer):
        length = 0
        buffers: tuple[Any, Any] | None = None

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            start, end = self.length, self.length + key_states.shape[-2]
            if self.buffers is None or end > self.buffers[0].shape[-2]:
                self.buffers = tuple(
                    self._grown(old, new, start, end + ROOM)
                    for old, new in zip(self.buffers or (None, None), (key_states, value_states),
                                        strict=True)
                )  # fmt: skip
            self.buffers[0][:, :, start:end] = key_states
            self.buffers[1][:, :, start:end] = value_states
            self.length = end
            self.keys, self.values = (b[:, :, :end] for b in self.buffers)
            return self.keys, self.values

        @staticmethod
        def _grown(old: Any, like: Any, length: int, capacity: int) -> Any:
            shape = (*like.shape[:2], capacity, like.shape[-1])
            buffer = torch.empty(shape, dtype=like.dtype, device=like.device)
            if old is not None and length:
                buffer[:, :, :length] = old[:, :, :length]
            return buffer

        def get_seq_length(self) -> int:
            return self.length

    return InPlaceLayer


def cache_layers(cache: Any) -> list[tuple[Any, Any]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def prefill(model: Any, prompt: list[int], *, start: list[tuple[Any, Any]] | None = None,
            adapters: list[str] | None = None) -> tuple[Any, Any]:  # fmt: skip
    """(logits [1, V], cache) after `prompt` alone; `start` is the KV of tokens before it (a
    cached prefix: `prompt` is then only the rest)."""
    import torch

    device = _device(model)
    cache = new_cache(start)
    seen = cache.get_seq_length()
    ids = torch.tensor([prompt], dtype=torch.long, device=device)
    mask = torch.ones((1, seen + len(prompt)), dtype=torch.long, device=device)
    return forward(model, ids, mask, cache, adapters=adapters), cache


class Batch:
    """Rows decoding together, with their KV cache left-padded to one length T.

    `mask` [B, T] is 1 over each row's real tokens; `lengths` counts them (a row's next
    position). Rows are kept in the order they joined."""

    def __init__(self) -> None:
        self.cache: Any = None
        self.mask: Any = None
        self.lengths: list[int] = []

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def width(self) -> int:
        return 0 if self.mask is None else int(self.mask.shape[1])

    def join(self, cache: Any) -> None:
        """Add a row whose prompt has been prefilled alone (`cache`: batch 1, no padding)."""
        import torch
        from torch.nn.functional import pad

        length = cache.get_seq_length()
        if self.cache is None:
            self.cache = cache
            self.mask = torch.ones(
                (1, length), dtype=torch.long, device=cache.layers[0].keys.device
            )
            self.lengths = [length]
            return
        width = max(self.width, length)
        grow, lead = width - self.width, width - length  # padding on the left of each side
        layers = [
            (torch.cat([pad(k, (0, 0, grow, 0)), pad(rk, (0, 0, lead, 0))]),
             torch.cat([pad(v, (0, 0, grow, 0)), pad(rv, (0, 0, lead, 0))]))
            for (k, v), (rk, rv) in zip(cache_layers(self.cache), cache_layers(cache), strict=True)
        ]  # fmt: skip
        row = torch.ones((1, length), dtype=torch.long, device=self.mask.device)
        self.mask = torch.cat([pad(self.mask, (grow, 0)), pad(row, (lead, 0))])
        self.cache = new_cache(layers)
        self.lengths.append(length)

    def keep(self, rows: list[int]) -> None:
        """Only these rows (indices, in order) stay; padding no row needs any more goes."""
        import torch

        if not rows:
            self.cache, self.mask, self.lengths = None, None, []
            return
        index = torch.tensor(rows, dtype=torch.long, device=self.mask.device)
        mask = self.mask.index_select(0, index)
        lead = int(self.width - max(self.lengths[r] for r in rows))
        self.mask = mask[:, lead:]
        self.cache = new_cache([
            (k.index_select(0, index)[:, :, lead:], v.index_select(0, index)[:, :, lead:])
            for k, v in cache_layers(self.cache)
        ])  # fmt: skip
        self.lengths = [self.lengths[r] for r in rows]

    def step(self, model: Any, tokens: list[int], adapters: list[str] | None) -> Any:
        """Each row's next-token logits [B, V] after its token in `tokens` (one per row)."""
        import torch

        device = self.mask.device
        ids = torch.tensor([[t] for t in tokens], dtype=torch.long, device=device)
        positions = torch.tensor([[n] for n in self.lengths], dtype=torch.long, device=device)
        mask = torch.cat(
            [self.mask, torch.ones((len(self), 1), dtype=torch.long, device=device)], 1
        )
        logits = forward(model, ids, mask, self.cache, positions=positions, adapters=adapters)
        self.mask = mask
        self.lengths = [n + 1 for n in self.lengths]
        return logits


def kv_bytes(cache: Any) -> int:
    return sum(k.nbytes + v.nbytes for k, v in cache_layers(cache))


def decode(model: Any, prompt: list[int], settings: Any, *, eos_token_id: int | None,
           on_token: Callable[[int], bool] | None = None) -> list[int]:  # fmt: skip
    """The new tokens for `prompt` alone, through the same pieces as a batch: prefill, then a
    step per token until end of turn or max_new_tokens, or until on_token(token) says stop."""
    import torch

    sampler = Sampler(settings, len(prompt), _device(model))
    logits, cache = prefill(model, prompt)
    batch, tokens = Batch(), list(prompt)
    batch.join(cache)
    new: list[int] = []
    while True:
        token = sampler(torch.tensor([tokens], device=logits.device), logits)
        tokens.append(token)
        new.append(token)
        stop = on_token is not None and on_token(token)
        if stop or token == eos_token_id or len(new) >= settings.max_new_tokens:
            return new
        logits = batch.step(model, [token], None)


def _device(model: Any) -> Any:
    return next(model.parameters()).device
