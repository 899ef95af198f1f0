"""The tiny model every ML test trains: built once per session, loaded fresh per test.

No database: these tests exercise plain Python (training/*.py) and never touch Django's.
"""

from pathlib import Path

import pytest

from training.samples import Sample, make_sample, note_brief, post_brief
from training.tiny import DEFAULT_TEXT

# Short posts in one voice, so a few steps at a high learning rate visibly lower the loss.
POSTS = [line.strip() for line in DEFAULT_TEXT.splitlines() if len(line.split()) >= 8]


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    # The test machine is shared: torch's default of one thread per core collapses when another
    # process holds a core (FIELD-NOTES), and these tensors are far too small to need two.
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def tiny(tiny_model_dir: Path, tmp_path: Path):  # noqa: ANN201 - (model, tokenizer)
    """A freshly loaded (model, tokenizer): training adds and removes layers, so never share."""
    from training.base_model import device_plan, load_base_model

    plan = device_plan("cpu")
    return load_base_model(str(tiny_model_dir), cache_dir=tmp_path / "cache", plan=plan)


@pytest.fixture
def posts() -> list[Sample]:
    return [
        make_sample(
            id=f"post:{n}",
            kind="post",
            brief=post_brief(title=f"Post {n}", tags=["habits"], excerpt=""),
            text=text,
            split="train",
        )
        for n, text in enumerate(POSTS)
    ]


def note_sample(text: str, n: int = 0) -> Sample:
    return make_sample(id=f"note:{n}", kind="note", brief=note_brief(), text=text, split="train")


@pytest.fixture
def tiny_adapter(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A LoRA adapter of the tiny model, saved as training saves one, B away from zero."""
    import torch
    from peft import LoraConfig, get_peft_model

    from training.base_model import device_plan, load_base_model
    from training.trainer import quiet_peft

    model, _ = load_base_model(
        str(tiny_model_dir), cache_dir=tmp_path / "cache", plan=device_plan("cpu")
    )
    config = LoraConfig(
        task_type="CAUSAL_LM", r=4, lora_alpha=16, init_lora_weights=False,
        target_modules=["q_proj", "v_proj"],
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]), quiet_peft():
        torch.manual_seed(7)
        peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(tmp_path / "adapter")
    return tmp_path / "adapter"
