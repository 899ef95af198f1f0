import json
import shutil
from pathlib import Path

import pytest
import torch

from training import base_model
from training.base_model import (
    BaseModelError,
    bundled_gguf,
    device_plan,
    load_base_model,
    load_tokenizer,
    resolve_base_model,
)


def test_device_plan_on_cpu_is_fp32_without_quantisation() -> None:
    plan = device_plan("cpu")
    assert (plan.device, plan.dtype, plan.load_in_4bit) == ("cpu", "float32", False)
    if not torch.cuda.is_available():
        assert device_plan() == plan
        with pytest.raises(BaseModelError, match="CUDA"):
            device_plan("cuda")
    with pytest.raises(ValueError, match="gpu"):
        device_plan("gpu")


def test_resolve_returns_a_local_folder_as_is_and_an_unknown_name_unchanged(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    assert resolve_base_model(str(tiny_model_dir), tmp_path) == str(tiny_model_dir)
    assert resolve_base_model("someone/some-model", tmp_path) == "someone/some-model"
    assert not any(tmp_path.iterdir())  # nothing converted, nothing cached


def test_the_bundled_gguf_is_found_without_importing_its_package() -> None:
    path = bundled_gguf("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert bundled_gguf("SmolLM2-135M-Instruct") == path
    assert bundled_gguf("someone/some-model") is None


def test_a_bundled_model_is_converted_once_into_a_complete_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A stand-in bundle (any installed module's file) and converter: this tests the cache,
    # the real conversion is the real_model test below.
    monkeypatch.setitem(base_model.BUNDLED_GGUF, "fake", ("json", "__init__.py"))
    conversions = []

    def convert(name: str, gguf: Path, into: Path) -> None:
        conversions.append(into)
        (into / "config.json").write_text("{}")
        (into / base_model.MARKER).write_text(json.dumps({"format": 1, "source": name}))

    monkeypatch.setattr(base_model, "_convert", convert)
    stale = tmp_path / "__init__.py"  # a folder left without its marker by an older crash
    stale.mkdir()
    first = resolve_base_model("fake", tmp_path)
    assert first == resolve_base_model("fake", tmp_path) == str(stale)
    assert len(conversions) == 1 and conversions[0].name.startswith(".__init__.py.tmp-")
    assert (stale / "config.json").exists()
    # Only the finished folder and the lock file remain: the temporary folder was renamed.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["__init__.py", "__init__.py.lock"]


def test_load_base_model_loads_a_local_folder(tiny_model_dir: Path, tmp_path: Path) -> None:
    model, tokenizer = load_base_model(str(tiny_model_dir), cache_dir=tmp_path,
                                       plan=device_plan("cpu"))  # fmt: skip
    assert model.dtype == torch.float32 and model.device.type == "cpu"
    assert tokenizer.chat_template and tokenizer.pad_token == "<|endoftext|>"


def test_a_tokenizer_without_padding_pads_with_eos(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    del settings["pad_token"]
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    assert load_tokenizer(str(folder), cache_dir=tmp_path).pad_token == "<|im_end|>"


def test_an_unknown_model_raises_base_model_error_with_a_clear_message(tmp_path: Path) -> None:
    # local_files_only: the test never waits on a network that is not there.
    with pytest.raises(BaseModelError, match="neither a local folder nor a bundled model"):
        load_base_model("no-such-org/no-such-model", cache_dir=tmp_path, local_files_only=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaseModelError, match="folder .* could not be loaded"):
        load_base_model(str(tmp_path / "empty"), cache_dir=tmp_path)


@pytest.mark.real_model
def test_the_bundled_base_model_converts_caches_and_reloads(tmp_path: Path) -> None:
    name = "HuggingFaceTB/SmolLM2-135M-Instruct"
    folder = Path(resolve_base_model(name, tmp_path))  # about 25 s: dequantises the GGUF
    marker = json.loads((folder / "blogllm-base.json").read_text())
    assert marker["format"] == 1 and marker["source"] == name and len(marker["gguf_sha256"]) == 64
    assert (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists()
    written = (folder / "model.safetensors").stat().st_mtime_ns

    model, tokenizer = load_base_model("SmolLM2-135M-Instruct", cache_dir=tmp_path,
                                       plan=device_plan("cpu"))  # fmt: skip
    assert (folder / "model.safetensors").stat().st_mtime_ns == written  # reused, not redone
    assert model.config.hidden_size == 576 and model.config.num_hidden_layers == 30
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token is not None
    # The reloaded weights make a working model: it continues a chat with something.
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**ids, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(output[0, ids["input_ids"].shape[1] :])
