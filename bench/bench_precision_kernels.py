"""The CPU kernels an int8 Linear could use, against float32 and bfloat16, on SmolLM2's shapes.

Which kernel generation/precision.py's Int8Linear uses comes from this table. Random weights
(std 0.05) of SmolLM2-135M's Linear shapes, [576 -> 1536] (gate/up), [1536 -> 576] (down) and
[576 -> 49152] (lm_head), times 1, 4 and 8 rows (decoding steps of a batch of 1 to 8), on one
torch thread (the worker's setting). Each kernel's time is the median of its calls after a
warm-up; its error is ||out - fp32|| / ||fp32||, against float32 with the unquantised weight,
for Gaussian inputs and for inputs with 4 outlier channels 20x larger (as LLM activations have):
- fp32, bf16: F.linear with the float32 / bfloat16 weight;
- int8pack fp32 / bf16: torch._weight_int8pack_mm(x, int8 weight, per-row scales), x in float32
  or converted to bfloat16;
- dequant: F.linear(x, qweight.float()) * scales, the weight converted on every call;
- fbgemm dynamic: torch.ops.quantized.linear_dynamic, which quantises the activations too;
- Int8Linear: the module itself (x float32 in and out, through the kernel it picked).
BENCH_PRECISION_ROWS (1,4,8) sets the row counts.
"""

import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

SHAPES = [(576, 1536), (1536, 576), (576, 49152)]
ROWS = [int(v) for v in os.environ.get("BENCH_PRECISION_ROWS", "1,4,8").split(",")]
OUTLIER_CHANNELS = 4
OUTLIER_FACTOR = 20.0
MIN_CALLS, MAX_CALLS, TIME_PER_KERNEL_S = 5, 200, 0.3


def median_us(call: Callable[[], Any]) -> float:
    """Median microseconds per call, after 3 warm-up calls, over up to TIME_PER_KERNEL_S."""
    for _ in range(3):
        call()
    times: list[float] = []
    deadline = time.perf_counter() + TIME_PER_KERNEL_S
    while len(times) < MIN_CALLS or (len(times) < MAX_CALLS and time.perf_counter() < deadline):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def kernels(weight: Any) -> dict[str, Callable[[Any], Any]]:
    """name -> function of a float32 input [rows, in] giving a float output [rows, out]."""
    import torch
    import torch.nn.functional as F

    from generation.precision import Int8Linear, quantize_weight

    out_features = weight.shape[0]
    qweight, scales_bf16 = quantize_weight(weight)
    scales = scales_bf16.float()
    weight_bf16 = weight.to(torch.bfloat16)
    with warnings.catch_warnings():  # torch deprecates quantized tensors; measured all the same
        warnings.simplefilter("ignore", UserWarning)
        quantized = torch.quantize_per_channel(
            qweight.float() * scales[:, None], scales.double(),
            torch.zeros(out_features, dtype=torch.long), 0, torch.qint8,
        )  # fmt: skip
        packed = torch.ops.quantized.linear_prepack(quantized, None)
    linear = torch.nn.Linear(weight.shape[1], out_features, bias=False)
    linear.weight.data = weight
    module = Int8Linear.from_linear(linear)
    return {
        "fp32": lambda x: F.linear(x, weight),
        "bf16": lambda x: F.linear(x.to(torch.bfloat16), weight_bf16),
        "int8pack fp32": lambda x: torch._weight_int8pack_mm(x, qweight, scales),
        "int8pack bf16": lambda x: torch._weight_int8pack_mm(
            x.to(torch.bfloat16), qweight, scales_bf16
        ),
        "dequant": lambda x: F.linear(x, qweight.float()) * scales,
        "fbgemm dynamic": lambda x: torch.ops.quantized.linear_dynamic(x, packed, True),
        "Int8Linear": module,
    }


def measure(in_features: int, out_features: int, rows: int) -> list[dict[str, Any]]:
    import torch

    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(out_features, in_features, generator=generator) * 0.05
    gaussian = torch.randn(rows, in_features, generator=generator)
    outliers = gaussian.clone()
    outliers[:, :OUTLIER_CHANNELS] *= OUTLIER_FACTOR
    results = []
    with torch.no_grad():
        reference = {"gaussian": gaussian @ weight.T, "outliers": outliers @ weight.T}
        for name, kernel in kernels(weight).items():
            errors = {
                kind: ((kernel(x).float() - reference[kind]).norm() / reference[kind].norm())
                for kind, x in (("gaussian", gaussian), ("outliers", outliers))
            }
            results.append(
                {
                    "kernel": name,
                    "us": median_us(lambda kernel=kernel: kernel(gaussian)),
                    "error": errors["gaussian"].item(),
                    "error_outliers": errors["outliers"].item(),
                }
            )
    return results


def main() -> None:
    import torch

    from generation.precision import cpu_has_native_bf16

    torch.set_num_threads(1)
    print(
        f"torch {torch.__version__}, 1 thread, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, native bf16: {cpu_has_native_bf16()}"
    )
    print(f"\n{'shape':>13} {'rows':>4} {'kernel':>15} {'us':>10} {'x fp32':>7} "
          f"{'error':>8} {'outliers':>8}")  # fmt: skip
    for in_features, out_features in SHAPES:
        for rows in ROWS:
            results = measure(in_features, out_features, rows)
            fp32_us = results[0]["us"]
            for result in results:
                print(
                    f"{in_features:>5}->{out_features:<6} {rows:>4} {result['kernel']:>15} "
                    f"{result['us']:>10.1f} {fp32_us / result['us']:>7.2f} "
                    f"{result['error']:>8.4f} {result['error_outliers']:>8.4f}"
                )
    print("(x fp32: speed against fp32; error: relative to fp32 with the unquantised weight)")


if __name__ == "__main__":
    main()
