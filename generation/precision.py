"""The generation model's number format: float32, bfloat16, or int8 weights, converted in place.

Plain Python (no Django). torch loads only when a function here runs, or when `Int8Linear` is
first looked up, so the web process may import this module with generation/runtime.py.

Decoding on a CPU reads every weight once per new token, so a step costs about what moving the
weights through memory costs: smaller weights, faster steps.

- "float32": the model as loaded.
- "bfloat16": `model.to(torch.bfloat16)`, half the bytes. It works on any CPU; only some
  (AVX512_BF16, AMX) compute it natively, which `cpu_has_native_bf16()` tells.
- "int8": weight-only int8. Every `torch.nn.Linear` (lm_head too) becomes an `Int8Linear`: an
  int8 weight [out, in] with one bfloat16 scale per output row (symmetric, per channel), a
  quarter of float32's bytes. Activations stay as they are; only the weights are quantised.

Why weight-only int8 through `torch._weight_int8pack_mm` (bench/bench_precision_kernels.py
measures it, one thread, rows 1-8, SmolLM2-135M's shapes):
- the kernel is faster than float32 on every shape measured (1.2x to 2.8x; the lm_head, the
  biggest layer, 2.8x at 1-4 rows), and its error (about 0.8% of the output's norm) comes from
  the weights alone, whatever the activations look like. At 4-8 rows bfloat16 is as fast or
  faster on the small layers; int8 holds half its bytes;
- fbgemm's dynamic int8 linear (`torch.ops.quantized.linear_dynamic`) is faster still, but it
  quantises the activations too, per tensor: with a few outlier channels, as LLM activations
  have, its error grew to 4-9%; and torch deprecates the quantized tensors it needs;
- `_weight_int8pack_mm` with float32 activations has no fast CPU path (10x slower than float32),
  so the input goes through it as bfloat16 and the output returns in the input's dtype;
- dequantising the weight on every call and multiplying in float32 is slower than float32 itself.
"""

import functools
from pathlib import Path
from typing import Any

PRECISIONS = ("float32", "bfloat16", "int8")

# _weight_int8pack_mm crashed the process (a segfault, not an exception) for in_features 8, 24,
# 63, 65 and 72 in torch 2.13, and gave right answers for every multiple of 16 tried; other
# layers take the slower dequantising path.
INT8PACK_IN_FEATURES_MULTIPLE = 16

CPU_FLAGS_WITH_NATIVE_BF16 = {"avx512_bf16", "amx_bf16", "bf16"}  # bf16: aarch64's name


def precision_default(device: str) -> str:
    """bfloat16 on CUDA, float32 on a CPU. On the draft-quality benchmark (bench_precision_quality,
    5 held-out briefs x 2 setups, 2026-12-07) neither bfloat16 nor int8 scored worse than float32
    beyond its seed-to-seed noise, and int8 decoded drafts 1.7x faster; but that is 10 drafts, and
    with int8 the real-model demo draft (tests/generation/test_real_model.py) came out as one
    sentence of task talk. int8 stays a setting until a larger benchmark clears it."""
    return "bfloat16" if device.startswith("cuda") else "float32"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 itself (AVX512_BF16, AMX, Arm BF16) rather than oneDNN
    emulating it with float32 instructions: the same results either way, only the speed differs.

    Read from /proc/cpuinfo's flags, since torch reports only the vector width
    (`torch.backends.cpu.get_cpu_capability()` says "AVX512" with or without bf16, and
    `torch.ops.mkldnn._is_mkldnn_bf16_supported()` is true on any AVX512 core). False where
    there is no /proc/cpuinfo (not Linux) or torch was built without oneDNN."""
    import torch

    if not torch.backends.mkldnn.is_available():
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return bool(flags & CPU_FLAGS_WITH_NATIVE_BF16)


def apply_precision(model: Any, precision: str) -> None:
    """Convert a loaded transformers causal LM to `precision` (one of PRECISIONS), in place.

    Do it before any adapter is loaded: LoRA then wraps the converted layers, and its own small
    matrices stay in the dtype of the activations. A PeftModel is refused, since int8 would
    quantise the adapters' own Linear layers too. The int8 model is for inference only (its
    kernel has no backward)."""
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}.")
    if hasattr(model, "peft_config"):
        raise ValueError("apply_precision takes the base model, before any adapter is loaded.")
    if precision == "bfloat16":
        model.to(torch.bfloat16)
    elif precision == "int8":
        _quantize_linears(model)


def _quantize_linears(model: Any) -> None:
    """Replace every torch.nn.Linear of `model` by an Int8Linear made from it.

    A tied lm_head shares its weight with the input embeddings: the new module quantises a copy
    and the embedding keeps the original Parameter, untouched."""
    import torch

    int8_linear = _int8_linear_class()
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not isinstance(module, int8_linear)
    ]
    for name, linear in targets:
        parent_name, _, child_name = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child_name, int8_linear.from_linear(linear))


def quantize_weight(weight: Any) -> tuple[Any, Any]:
    """(int8 [out, in], bfloat16 scales [out]) of a float weight [out, in], symmetric per row.

    The scale is rounded to bfloat16 (the kernel's dtype) before quantising, so that
    qweight * scale is exactly the weight the kernel computes with."""
    import torch

    weight = weight.detach().to(torch.float32)
    largest = weight.abs().amax(dim=1).clamp(min=torch.finfo(torch.float32).tiny)
    scales = (largest / 127).to(torch.bfloat16)
    qweight = torch.round(weight / scales.to(torch.float32).unsqueeze(1))
    return qweight.clamp(-127, 127).to(torch.int8), scales


def __getattr__(name: str) -> Any:
    # Int8Linear subclasses torch.nn.Linear, so defining it imports torch: it is defined on
    # first lookup (PEP 562), which keeps `import generation.precision` free of torch.
    if name == "Int8Linear":
        return _int8_linear_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _int8_linear_class() -> type:
    """The Int8Linear class, defined once, the first time it is needed."""
    import torch
    import torch.nn.functional as F

    class Int8Linear(torch.nn.Linear):
        """A Linear whose weight is int8 `qweight` [out, in] times bfloat16 `scales` [out].

        It stays a torch.nn.Linear so that peft wraps it as it wraps any Linear (its
        dispatch_default tests isinstance). What peft 0.21.2 reads of the layer it wraps is
        `in_features` and `out_features` (the LoRA matrices' shapes), and `weight.device` and
        `weight.dtype` (where to put those matrices, and in which dtype); the mixed-adapter
        forward only calls this module. So `weight` is an empty Parameter [0] with the dtype of
        the activations (the original weight's): right device and dtype, no bytes. Code that
        would use it as the real weight (peft's merge_and_unload, or F.linear) fails loudly on
        its shape instead of computing with a stale copy. `dequantized_weight()` gives the
        weight the module computes with.
        """

        def __init__(
            self,
            qweight: torch.Tensor,
            scales: torch.Tensor,
            bias: torch.Tensor | None,
            dtype: torch.dtype,
        ) -> None:
            # Not Linear.__init__: that would allocate (and initialise) a full float weight.
            torch.nn.Module.__init__(self)
            self.out_features, self.in_features = qweight.shape
            self.register_buffer("qweight", qweight)
            self.register_buffer("scales", scales)
            # Whether torch._weight_int8pack_mm takes this layer (CPU inputs only).
            self.int8pack_in_features = self.in_features % INT8PACK_IN_FEATURES_MULTIPLE == 0
            placeholder = torch.empty(0, dtype=dtype, device=qweight.device)
            self.weight = torch.nn.Parameter(placeholder, requires_grad=False)
            if bias is None:
                self.register_parameter("bias", None)
            else:
                self.bias = torch.nn.Parameter(bias.detach().clone(), requires_grad=False)

        @classmethod
        def from_linear(cls, linear: torch.nn.Linear) -> "Int8Linear":
            qweight, scales = quantize_weight(linear.weight)
            return cls(qweight, scales, linear.bias, linear.weight.dtype)

        def reset_parameters(self) -> None:
            """Nothing to initialise: the weights come from a trained Linear."""

        def dequantized_weight(self) -> torch.Tensor:
            """The float weight [out, in] this module computes with (for tests and checks)."""
            return self.qweight.to(self.weight.dtype) * self.scales.to(self.weight.dtype)[:, None]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Called some 200 times per decoded token: the Python here is kept to a few ops
            # (each costs about a microsecond beside a 50 us kernel).
            rows = x if x.dim() == 2 else x.reshape(-1, self.in_features)
            if self.int8pack_in_features and rows.device.type == "cpu" and rows.shape[0]:
                rows_bf16 = rows.to(torch.bfloat16).contiguous()
                scales = self.scales.to(torch.bfloat16)
                out = torch._weight_int8pack_mm(rows_bf16, self.qweight, scales).to(x.dtype)
            else:
                # (x @ q.T) * s is x @ (q * s).T, without a float copy of the weight scaled
                out = F.linear(rows, self.qweight.to(x.dtype)) * self.scales.to(x.dtype)
            if self.bias is not None:
                out = out + self.bias.to(x.dtype)
            return out if x.dim() == 2 else out.reshape(*x.shape[:-1], self.out_features)

        def extra_repr(self) -> str:
            return (
                f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, int8 weight, bfloat16 scales"
            )

    # Found by pickle (torch.save of a whole model) through the module's __getattr__.
    Int8Linear.__module__ = __name__
    Int8Linear.__qualname__ = "Int8Linear"
    return Int8Linear
