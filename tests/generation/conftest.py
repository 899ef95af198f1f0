"""The tiny model and two tiny LoRA adapters that the runtime tests generate with.

No database: generation/runtime.py is plain Python. The model is built once per session; each
test gets its own Runtime, since adapters change the model they sit on.
"""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    # The test machine is shared: torch's default of one thread per core collapses when another
    # process holds a core (FIELD-NOTES), and these tensors are far too small to need two.
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def adapter_dirs(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three LoRA adapters of the tiny model, "a", "b" and "c", saved as training saves them.
    init_lora_weights=False starts B away from zero, so each one changes what the model says."""
    import torch
    from peft import LoraConfig, get_peft_model

    from training.base_model import device_plan, load_base_model
    from training.trainer import quiet_peft

    root = tmp_path_factory.mktemp("adapters")
    model, _ = load_base_model(
        str(tiny_model_dir), cache_dir=root / "cache", plan=device_plan("cpu")
    )
    folders = {}
    for seed, name in enumerate(("a", "b", "c"), start=1):
        config = LoraConfig(
            task_type="CAUSAL_LM", r=4, lora_alpha=16, init_lora_weights=False,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        )  # fmt: skip
        with torch.random.fork_rng(devices=[]), quiet_peft():
            torch.manual_seed(seed)
            peft_model = get_peft_model(model, config)
        folders[name] = root / name
        peft_model.save_pretrained(folders[name])
        model = peft_model.unload()  # the plain base again, for the next adapter
    return folders


@pytest.fixture
def runtime(tiny_model_dir: Path, tmp_path: Path):  # noqa: ANN201 - a Runtime
    from generation.runtime import Runtime
    from training.base_model import device_plan

    return Runtime(str(tiny_model_dir), cache_dir=tmp_path / "cache", plan=device_plan("cpu"))
