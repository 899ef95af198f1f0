"""generation/precision.py on the tiny model: each precision generates, int8 stays close to float32
and still takes LoRA adapters, mixed batches included, and the tied embedding survives int8."""

from pathlib import Path
from typing import Any

import pytest

from generation.precision import (
    PRECISIONS,
    apply_precision,
    cpu_has_native_bf16,
    precision_default,
)


@pytest.fixture
def tiny_model(tiny_model_dir: Path, tmp_path: Path) -> Any:
    from training.base_model import device_plan, load_base_model

    model, _ = load_base_model(
        str(tiny_model_dir), cache_dir=tmp_path / "cache", plan=device_plan("cpu")
    )
    return model.eval()


def relative_error(actual: Any, expected: Any) -> float:
    return ((actual.float() - expected.float()).norm() / expected.float().norm()).item()


def prompt_ids(rows: int = 1) -> Any:
    import torch

    generator = torch.Generator().manual_seed(0)
    return torch.randint(5, 200, (rows, 12), generator=generator)  # vocab: 658


@pytest.mark.parametrize("in_features", [64, 72])  # 72: the kernel refuses it, the fallback runs
def test_int8_linear_computes_close_to_the_float_linear(in_features: int) -> None:
    import torch

    from generation.precision import Int8Linear

    torch.manual_seed(0)
    linear = torch.nn.Linear(in_features, 96, bias=True)
    int8 = Int8Linear.from_linear(linear)
    x = torch.randn(2, 5, in_features)

    with torch.no_grad():
        assert relative_error(int8(x), linear(x)) < 0.02
        assert int8(x).dtype == torch.float32
    assert isinstance(int8, torch.nn.Linear)  # what peft's dispatch tests
    assert int8.qweight.dtype == torch.int8 and int8.qweight.shape == (96, in_features)
    assert int8.scales.shape == (96,)
    # No float copy of the weight stays behind; peft reads only the placeholder's dtype/device.
    assert int8.weight.numel() == 0 and int8.weight.dtype == torch.float32


@pytest.mark.parametrize("precision", PRECISIONS)
def test_each_precision_gives_finite_logits_and_generates(tiny_model: Any, precision: str) -> None:
    import torch

    apply_precision(tiny_model, precision)
    ids = prompt_ids()

    with torch.no_grad():
        logits = tiny_model(input_ids=ids).logits
        output = tiny_model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
            max_new_tokens=8, min_new_tokens=8, pad_token_id=0,
        )  # fmt: skip
    assert torch.isfinite(logits).all()
    assert output.shape == (1, ids.shape[1] + 8)


def test_int8_replaces_every_linear_and_stays_close_to_float32(tiny_model: Any) -> None:
    import copy

    import torch

    from generation.precision import Int8Linear

    reference = copy.deepcopy(tiny_model)
    apply_precision(tiny_model, "int8")
    ids = prompt_ids(rows=2)

    linears = [m for m in tiny_model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(isinstance(m, Int8Linear) for m in linears)
    with torch.no_grad():
        error = relative_error(tiny_model(input_ids=ids).logits, reference(input_ids=ids).logits)
    assert error < 0.05


def test_int8_leaves_the_tied_input_embedding_intact(tiny_model: Any) -> None:
    import torch

    from generation.precision import Int8Linear

    embedding = tiny_model.get_input_embeddings().weight
    assert tiny_model.lm_head.weight is embedding  # tied, as SmolLM2's is
    before = embedding.detach().clone()

    apply_precision(tiny_model, "int8")

    assert isinstance(tiny_model.lm_head, Int8Linear)
    assert tiny_model.get_input_embeddings().weight is embedding
    assert torch.equal(embedding, before)
    # The int8 lm_head is made from the embedding it was tied to.
    assert relative_error(tiny_model.lm_head.dequantized_weight(), before) < 0.01


def test_int8_model_takes_lora_adapters_and_serves_a_mixed_batch(
    tiny_model: Any, adapter_dirs: dict[str, Path]
) -> None:
    import torch
    from peft import PeftModel

    from training.trainer import quiet_peft

    apply_precision(tiny_model, "int8")
    with quiet_peft():
        model = PeftModel.from_pretrained(tiny_model, adapter_dirs["a"], adapter_name="a")
        model.load_adapter(adapter_dirs["b"], adapter_name="b")
    model.eval()
    names = ["a", "b", "__base__"]
    ids = prompt_ids(rows=3)

    with torch.no_grad():
        mixed = model(input_ids=ids, adapter_names=names).logits
        alone = []
        for row, name in enumerate(names):
            if name == "__base__":
                with model.disable_adapter():
                    alone.append(model(input_ids=ids[row : row + 1]).logits[0])
            else:
                model.set_adapter(name)
                alone.append(model(input_ids=ids[row : row + 1]).logits[0])
        with model.disable_adapter():
            base_of_row_0 = model(input_ids=ids[:1]).logits[0]

    for row in range(3):
        assert torch.allclose(mixed[row], alone[row], atol=1e-4, rtol=1e-4), names[row]
    # The adapters take part: adapter a's row differs from what the base says for it.
    assert not torch.allclose(alone[0], base_of_row_0, atol=1e-2)


def test_apply_precision_refuses_an_unknown_precision_naming_the_choices(tiny_model: Any) -> None:
    with pytest.raises(ValueError, match="float32, bfloat16, int8"):
        apply_precision(tiny_model, "fp8")


def test_apply_precision_refuses_a_model_that_already_has_adapters(
    tiny_model: Any, adapter_dirs: dict[str, Path]
) -> None:
    from peft import PeftModel

    from training.trainer import quiet_peft

    with quiet_peft():
        model = PeftModel.from_pretrained(tiny_model, adapter_dirs["a"], adapter_name="a")
    with pytest.raises(ValueError, match="before any adapter"):
        apply_precision(model, "int8")


def test_the_defaults_and_the_bf16_probe_are_plain_answers() -> None:
    assert precision_default("cpu") == "float32"
    assert precision_default("cuda") == "bfloat16"
    assert isinstance(cpu_has_native_bf16(), bool)
