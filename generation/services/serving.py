"""The generation runtime of this process, as the settings serve it: one place for
BLOGLLM_GENERATION_BATCH_MAX, _KV_CACHE_MB, _PREFIX_CACHE_ENTRIES and _PRECISION."""

from pathlib import Path

from django.conf import settings

from generation.runtime import Runtime, Serving, get_runtime


def serving_options(device: str) -> Serving:
    """The settings' Serving for a runtime on `device` ("cpu" | "cuda"): "auto" precision is the
    measured default there (generation/precision.py, precision_default)."""
    from generation.precision import precision_default

    precision = settings.GENERATION_PRECISION
    if precision == "auto":
        precision = precision_default(device)
    return Serving(
        max_batch=settings.GENERATION_BATCH_MAX,
        kv_cache_mb=settings.GENERATION_KV_CACHE_MB,
        prefix_entries=settings.GENERATION_PREFIX_CACHE_ENTRIES,
        precision=precision,
    )


def runtime_for(base_model: str) -> Runtime:
    """This process's Runtime for `base_model` (loaded on first use, then kept)."""
    from training.base_model import device_plan

    plan = device_plan(quantize=False)
    return get_runtime(
        base_model, cache_dir=Path(settings.MODEL_CACHE_DIR), plan=plan,
        serving=serving_options(plan.device),
    )  # fmt: skip
