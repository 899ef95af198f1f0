import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.training.conftest import note_sample
from training.base_model import device_plan, load_base_model
from training.config import LEGACY_VALUES
from training.evaluation import perplexity
from training.pipeline import evaluate_checkpoints
from training.samples import IGNORE_INDEX, encode_all, make_sample
from training.trainer import (
    CheckpointError,
    StepReport,
    TrainConfig,
    TrainingCancelled,
    TrainResult,
    checkpoints_since_best,
    is_out_of_memory,
    load_adapter,
    lr_factor,
    pack,
    train,
)

FAST = {"learning_rate": 5e-3, "batch_size": 2, "checkpoint_every": 2}


def fresh_model(tiny_model_dir: Path, tmp_path: Path):  # noqa: ANN201
    return load_base_model(str(tiny_model_dir), cache_dir=tmp_path, plan=device_plan("cpu"))


def adapter_weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "adapter_model.safetensors")


def test_train_config_round_trips_through_json() -> None:
    config = TrainConfig(rank=8, max_steps=3, target_modules=["q_proj", "v_proj"])
    data = json.loads(json.dumps(config.to_dict()))
    assert TrainConfig.from_dict(data) == config
    assert data["target_modules"] == ["q_proj", "v_proj"]
    # Defaults sized for the demo corpus on CPU (see the comment above TrainConfig).
    assert TrainConfig().dropout == 0.0 and TrainConfig().max_steps is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rnak": 8}, "Unknown training setting"),
        ({"rank": 0}, "rank=0"),
        ({"rank": 8.5}, "rank=8.5"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_length": 8}, "max_length"),
        ({"dropout": 1.0}, "dropout"),
        ({"max_steps": 0}, "max_steps"),
        ({"target_modules": "q_proj"}, "target_modules"),
        ({"epochs": True}, "epochs"),
        ({"packing": "yes"}, "packing='yes'"),
        ({"packing": 1}, "packing=1"),
        ({"early_stopping_patience": 0}, "early_stopping_patience=0"),
        ({"early_stopping_patience": 1.5}, "early_stopping_patience=1.5"),
        ({"early_stopping_patience": True}, "early_stopping_patience=True"),
    ],
)
def test_train_config_refuses_bad_settings_with_a_clear_message(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(data)


def test_an_old_runs_settings_without_the_newer_keys_still_load() -> None:
    # What a run stored before packing and early stopping existed (config.to_dict() then).
    old = {
        "rank": 16, "alpha": 32, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"],
        "learning_rate": 2e-4, "epochs": 1.0, "max_steps": None, "batch_size": 4,
        "grad_accum": 1, "max_length": 512, "warmup_steps": None, "warmup_ratio": 0.05,
        "weight_decay": 0.0, "seed": 0, "checkpoint_every": None, "max_grad_norm": 1.0,
    }  # fmt: skip
    # As new input (a form or the command sends some keys) the missing ones get today's
    # defaults; as a stored run's settings they mean what they meant: no packing, no stopping.
    assert TrainConfig.from_dict(old).packing is True
    stored = TrainConfig.from_stored(old)
    assert (stored.packing, stored.early_stopping_patience) == (False, None)
    assert stored.to_dict() == {**old, **LEGACY_VALUES}
    # A newer run's stored settings keep their own values.
    assert TrainConfig.from_stored(TrainConfig().to_dict()) == TrainConfig()
    with pytest.raises(ValueError, match="Unknown training setting"):
        TrainConfig.from_stored({**old, "speed": "fast"})


def test_learning_rate_warms_up_then_decays_without_a_wasted_step() -> None:
    factors = [lr_factor(step, total=10, warmup=1) for step in range(10)]
    assert factors[0] == 0.5 and factors[1] == 1.0
    assert all(a > b for a, b in zip(factors[1:], factors[2:], strict=False))
    assert min(factors) > 0


def test_training_lowers_the_loss_and_leaves_the_base_model_as_it_was(
    tiny, posts, tmp_path
) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    before = perplexity(model, tokenizer, posts)
    reports: list[StepReport] = []
    result = train(
        model=model, tokenizer=tokenizer, train_samples=posts,
        config=TrainConfig(max_steps=6, **FAST), output_dir=tmp_path / "run",
        on_step=reports.append,
    )  # fmt: skip
    assert [r.step for r in reports] == [1, 2, 3, 4, 5, 6]
    assert reports[-1].tokens == result.tokens > 0 and reports[-1].eta_s == 0
    assert [step for step, _ in result.checkpoints] == [2, 4, 6]
    assert (result.adapter_dir / "adapter_model.safetensors").exists()
    assert (result.adapter_dir / "tokenizer.json").exists()
    # train() removed its LoRA layers: the model scores exactly as before, and the saved
    # adapter on top of it scores better on what it was trained on.
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert perplexity(model, tokenizer, posts) == pytest.approx(before, rel=1e-6)
    assert model.config.use_cache is True
    after = perplexity(load_adapter(model, result.adapter_dir), tokenizer, posts)
    assert after < before


def test_gradient_accumulation_matches_one_bigger_batch(tiny_model_dir, posts, tmp_path) -> None:  # noqa: ANN001
    # The loss is a token-weighted mean over the whole optimizer step, so 2 x 2 sequences
    # accumulated give the step that 4 sequences in one batch give.
    results = []
    for batch_size, grad_accum in ((4, 1), (2, 2)):
        model, tokenizer = fresh_model(tiny_model_dir, tmp_path / "cache")
        config = TrainConfig(max_steps=1, learning_rate=5e-3, batch_size=batch_size,
                             grad_accum=grad_accum)  # fmt: skip
        out = tmp_path / f"b{batch_size}"
        results.append(train(model=model, tokenizer=tokenizer, train_samples=posts,
                             config=config, output_dir=out))  # fmt: skip
    assert results[0].final_loss == pytest.approx(results[1].final_loss, rel=1e-5)
    one, two = (adapter_weights(r.adapter_dir) for r in results)
    assert max((one[k] - two[k]).abs().max().item() for k in one) < 1e-5


def test_a_stopped_and_resumed_run_ends_on_the_same_weights(
    tiny_model_dir, posts, tmp_path
) -> None:  # noqa: ANN001
    config = TrainConfig(max_steps=8, **FAST)
    model, tokenizer = fresh_model(tiny_model_dir, tmp_path / "cache")
    straight = train(model=model, tokenizer=tokenizer, train_samples=posts, config=config,
                     output_dir=tmp_path / "straight")  # fmt: skip

    model, tokenizer = fresh_model(tiny_model_dir, tmp_path / "cache")
    done: list[int] = []
    with pytest.raises(TrainingCancelled) as cancelled:
        train(model=model, tokenizer=tokenizer, train_samples=posts, config=config,
              output_dir=tmp_path / "stopped", on_step=lambda r: done.append(r.step),
              should_stop=lambda: len(done) >= 4)  # fmt: skip
    assert cancelled.value.step == 4
    assert cancelled.value.checkpoint == tmp_path / "stopped" / "checkpoints" / "step-4"

    model, tokenizer = fresh_model(tiny_model_dir, tmp_path / "cache")
    lines: list[str] = []
    resumed = train(model=model, tokenizer=tokenizer, train_samples=posts, config=config,
                    output_dir=tmp_path / "stopped", resume_from=cancelled.value.checkpoint,
                    log=lines.append)  # fmt: skip
    assert resumed.resumed_from_step == 4 and "Resumed from step 4" in lines
    assert [step for step, _ in resumed.checkpoints] == [6, 8]
    assert resumed.tokens == straight.tokens
    assert resumed.final_loss == pytest.approx(straight.final_loss, abs=1e-5)
    a, b = adapter_weights(straight.adapter_dir), adapter_weights(resumed.adapter_dir)
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5


def test_should_stop_cancels_after_saving_a_checkpoint(tiny, posts, tmp_path) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    saved: list[int] = []
    with pytest.raises(TrainingCancelled) as cancelled:
        train(model=model, tokenizer=tokenizer, train_samples=posts,
              config=TrainConfig(max_steps=6, **{**FAST, "checkpoint_every": 10}),
              output_dir=tmp_path, on_checkpoint=lambda step, path: saved.append(step),
              should_stop=iter([False, False, False, True]).__next__)  # fmt: skip
    # Three steps ran; the fourth check said stop, and step 3 was saved first.
    assert cancelled.value.step == 3 and saved == [3]
    info = json.loads((cancelled.value.checkpoint / "checkpoint.json").read_text())
    assert info["format"] == 1 and info["step"] == 3 and info["config"]["max_steps"] == 6
    assert not (tmp_path / "adapter").exists()
    assert not any("lora" in name for name, _ in model.named_parameters())


def test_a_stop_before_the_first_step_saves_nothing(tiny, posts, tmp_path) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    with pytest.raises(TrainingCancelled) as cancelled:
        train(model=model, tokenizer=tokenizer, train_samples=posts,
              config=TrainConfig(max_steps=2), output_dir=tmp_path,
              should_stop=lambda: True)  # fmt: skip
    assert cancelled.value.step == 0 and cancelled.value.checkpoint is None


@pytest.fixture
def checkpoint(tiny_model_dir, posts, tmp_path) -> Path:  # noqa: ANN001
    model, tokenizer = fresh_model(tiny_model_dir, tmp_path / "cache")
    train(model=model, tokenizer=tokenizer, train_samples=posts,
          config=TrainConfig(max_steps=2, **FAST), output_dir=tmp_path / "run")  # fmt: skip
    return tmp_path / "run" / "checkpoints" / "step-2"


def resume(tiny_model_dir: Path, posts, checkpoint: Path, **config) -> TrainResult:  # noqa: ANN001
    model, tokenizer = fresh_model(tiny_model_dir, checkpoint.parent / "cache")
    return train(model=model, tokenizer=tokenizer, train_samples=posts,
          config=TrainConfig(**{"max_steps": 2, **FAST, **config}),
          output_dir=checkpoint.parent.parent, resume_from=checkpoint)  # fmt: skip


def test_resuming_from_the_last_checkpoint_just_saves_the_adapter(
    tiny_model_dir, posts, checkpoint
) -> None:  # noqa: ANN001
    state = torch.load(checkpoint / "trainer_state.pt", weights_only=True)
    result = resume(tiny_model_dir, posts, checkpoint)
    # Nothing left to train: the loss comes from the checkpoint, not a NaN for a JSON column.
    assert result.resumed_from_step == result.steps == 2 and result.checkpoints == []
    assert result.final_loss == state["loss"] > 0
    assert (result.adapter_dir / "adapter_model.safetensors").exists()


def test_a_corrupt_checkpoint_raises_checkpoint_error(tiny_model_dir, posts, checkpoint) -> None:  # noqa: ANN001
    state = checkpoint / "trainer_state.pt"
    state.write_bytes(state.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="trainer_state.pt is missing or corrupt"):
        resume(tiny_model_dir, posts, checkpoint)
    (checkpoint / "checkpoint.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="checkpoint.json is missing or corrupt"):
        resume(tiny_model_dir, posts, checkpoint)
    with pytest.raises(CheckpointError, match="missing"):
        resume(tiny_model_dir, posts, checkpoint.parent / "step-99")


def test_a_newer_checkpoint_format_is_refused(tiny_model_dir, posts, checkpoint) -> None:  # noqa: ANN001
    info = json.loads((checkpoint / "checkpoint.json").read_text())
    (checkpoint / "checkpoint.json").write_text(json.dumps({**info, "format": 2}))
    with pytest.raises(CheckpointError, match="format 2 is newer"):
        resume(tiny_model_dir, posts, checkpoint)


def test_a_checkpoint_resumes_only_the_run_it_came_from(tiny_model_dir, posts, checkpoint) -> None:  # noqa: ANN001
    with pytest.raises(CheckpointError, match=r"other settings \(rank\)"):
        resume(tiny_model_dir, posts, checkpoint, rank=8)
    with pytest.raises(CheckpointError, match="other training samples"):
        resume(tiny_model_dir, posts[:-1], checkpoint)
    resume(tiny_model_dir, posts, checkpoint, checkpoint_every=5)  # a harmless change


def test_without_packing_a_sample_whose_brief_fills_the_window_is_skipped(tiny, tmp_path) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="No training sample"):
        train(model=model, tokenizer=tokenizer, train_samples=[note_sample("Some words.")],
              config=TrainConfig(max_steps=1, max_length=16, packing=False),
              output_dir=tmp_path)  # fmt: skip
    # Packed, the same sample's text lands in a later block and is learnt.
    result = train(model=model, tokenizer=tokenizer, train_samples=[note_sample("Some words.")],
                   config=TrainConfig(max_steps=1, max_length=16), output_dir=tmp_path)  # fmt: skip
    assert result.steps == 1 and result.final_loss > 0


def test_packing_fills_every_block_keeps_the_brief_masked_and_loses_no_token(tiny, posts) -> None:  # noqa: ANN001
    _, tokenizer = tiny
    encoded = encode_all(posts, tokenizer, max_length=10**9)
    # 128: longer than one brief (about 120 tokens here), so every block has text to learn.
    blocks = pack(encoded, block_size=128, eos_id=tokenizer.eos_token_id)
    # Every block but the last is exactly full: no padding, nothing cut off.
    assert len(blocks) > len(posts) and {len(b["input_ids"]) for b in blocks[:-1]} == {128}
    assert 0 < len(blocks[-1]["input_ids"]) <= 128
    # The blocks put together are the samples put together, labels included: every token is
    # trained on, and each brief is still IGNORE_INDEX (ChatML already ends a turn with EOS,
    # "<|im_end|>\n", so nothing is added).
    stream_ids = [t for item in encoded for t in item["input_ids"]]
    stream_labels = [t for item in encoded for t in item["labels"]]
    assert [t for b in blocks for t in b["input_ids"]] == stream_ids
    assert [t for b in blocks for t in b["labels"]] == stream_labels
    assert IGNORE_INDEX in stream_labels and IGNORE_INDEX in blocks[1]["labels"]
    assert sum(b["n_completion_tokens"] for b in blocks) == sum(
        item["n_completion_tokens"] for item in encoded
    )


def test_packing_closes_a_sample_with_eos_when_its_template_does_not() -> None:
    items = [
        {"input_ids": [7, 8, 9], "labels": [IGNORE_INDEX, 8, 9]},
        {"input_ids": [5, 6, 2, 10], "labels": [IGNORE_INDEX, 6, 2, 10]},  # ends "EOS \\n"
    ]
    blocks = pack(items, block_size=4, eos_id=2)
    # EOS (2) closes the first sample, and is learnt; the second already ends with one.
    assert [b["input_ids"] for b in blocks] == [[7, 8, 9, 2], [5, 6, 2, 10]]
    assert blocks[0]["labels"] == [IGNORE_INDEX, 8, 9, 2]
    assert [b["n_completion_tokens"] for b in blocks] == [3, 3]


def test_packing_drops_a_block_that_holds_only_a_brief() -> None:
    brief = [IGNORE_INDEX] * 5
    blocks = pack([{"input_ids": [1, 1, 1, 1, 1, 2, 9], "labels": [*brief, 2, 9]}], block_size=4,
                  eos_id=2)  # fmt: skip
    # The first block would train nothing; the second keeps the brief's tail masked.
    assert [b["input_ids"] for b in blocks] == [[1, 2, 9]]
    assert blocks[0]["labels"] == [IGNORE_INDEX, 2, 9]


def test_checkpoints_since_best_counts_only_strict_improvements() -> None:
    assert checkpoints_since_best([]) == 0
    assert checkpoints_since_best([(2, 3.0), (4, 2.0)]) == 0
    assert checkpoints_since_best([(2, 3.0), (4, 2.0), (6, 2.5), (8, 2.0)]) == 2  # a tie is not
    assert checkpoints_since_best([(2, 1.0), (4, 2.0), (6, 3.0)]) == 2


MEMORISED = (
    "The patient reports better sleep this week and describes less worry in the evenings. "
    "Plan: continue the thought record, review in two weeks."
)


def overfitting_run(model, tokenizer, posts, output_dir: Path, **options) -> TrainResult:  # noqa: ANN001, ANN003
    """One note learnt by heart while posts in another voice are the validation split: the
    validation loss falls, then rises (checked for this seed and tiny model)."""
    validation = [make_sample(id=s.id, kind="post", brief=s.brief, text=s.text, split="validation")
                  for s in posts[:4]]  # fmt: skip
    config = {"epochs": 40, "learning_rate": 1e-2, "batch_size": 1, "checkpoint_every": 2,
              "early_stopping_patience": 2, **options.pop("config", {})}  # fmt: skip
    return train(model=model, tokenizer=tokenizer, train_samples=[note_sample(MEMORISED)],
                 validation_samples=validation, config=TrainConfig(**config),
                 output_dir=output_dir, **options)  # fmt: skip


def test_early_stopping_stops_after_patience_checkpoints_and_the_best_one_wins(
    tiny_model_dir, posts, tmp_path
) -> None:  # noqa: ANN001
    model, tokenizer = fresh_model(tiny_model_dir, tmp_path / "cache")
    reports: list[StepReport] = []
    result = overfitting_run(model, tokenizer, posts, tmp_path / "run", on_step=reports.append)

    assert result.stopped_early and result.steps < result.total_steps == 40
    steps = [step for step, _ in result.validation]
    assert steps == list(range(2, result.steps + 1, 2))
    assert [step for step, _ in result.checkpoints] == steps
    # It stopped at the first checkpoint that made two in a row without a new best, not later.
    assert checkpoints_since_best(result.validation) == 2
    assert checkpoints_since_best(result.validation[:-1]) == 1
    # Each checkpoint step's report carries its validation loss, for the chart; others none.
    assert [(r.step, r.val_loss) for r in reports if r.val_loss is not None] == result.validation
    assert reports[-1].step == result.steps and reports[0].val_loss is None

    # The evaluation scores the split as the trainer did, so it picks the best checkpoint,
    # not the last one, and its perplexity is the trainer's validation loss.
    best_step, best_loss = min(result.validation, key=lambda v: v[1])
    assert best_step < result.steps
    report = evaluate_checkpoints(
        base_model=str(tiny_model_dir), cache_dir=tmp_path / "cache", plan=device_plan("cpu"),
        checkpoints=result.checkpoints,
        validation=[make_sample(id=s.id, kind="post", brief=s.brief, text=s.text,
                                split="validation") for s in posts[:4]],
        max_length=512, briefs=[], references=[], embed=None,
    )  # fmt: skip
    assert report.best_step == best_step
    assert report.val_perplexity == pytest.approx(math.exp(best_loss), rel=1e-4)


def test_a_run_with_max_steps_is_scored_at_checkpoints_but_takes_every_step(
    tiny_model_dir, posts, tmp_path
) -> None:  # noqa: ANN001
    model, tokenizer = fresh_model(tiny_model_dir, tmp_path / "cache")
    result = overfitting_run(model, tokenizer, posts, tmp_path / "run",
                             config={"max_steps": 24})  # fmt: skip
    assert result.steps == 24 and not result.stopped_early
    assert [step for step, _ in result.validation] == list(range(2, 25, 2))


def test_a_run_resumed_from_the_checkpoint_that_stopped_it_trains_no_further(
    tiny_model_dir, posts, tmp_path
) -> None:  # noqa: ANN001
    model, tokenizer = fresh_model(tiny_model_dir, tmp_path / "cache")
    stopped = overfitting_run(model, tokenizer, posts, tmp_path / "run")
    model, tokenizer = fresh_model(tiny_model_dir, tmp_path / "cache")
    last = stopped.checkpoints[-1][1]
    resumed = overfitting_run(model, tokenizer, posts, tmp_path / "run", resume_from=last)
    assert resumed.stopped_early and resumed.steps == stopped.steps and resumed.checkpoints == []
    assert resumed.validation == stopped.validation


def test_a_checkpoint_from_before_packing_resumes_with_the_settings_it_was_made_with(
    tiny_model_dir, posts, checkpoint
) -> None:  # noqa: ANN001
    info = json.loads((checkpoint / "checkpoint.json").read_text())
    old = {k: v for k, v in info["config"].items() if k not in LEGACY_VALUES}
    (checkpoint / "checkpoint.json").write_text(json.dumps({**info, "config": old}))
    # Today's defaults (packing) would train on other data than the checkpoint did.
    with pytest.raises(
        CheckpointError, match=r"other settings \(early_stopping_patience, packing\)"
    ):
        resume(tiny_model_dir, posts, checkpoint)
    # The run's stored settings, read as stored (from_stored), are the ones it was made with.
    model, tokenizer = fresh_model(tiny_model_dir, checkpoint.parent / "cache")
    result = train(model=model, tokenizer=tokenizer, train_samples=posts,
                   config=TrainConfig.from_stored(old), output_dir=checkpoint.parent.parent,
                   resume_from=checkpoint)  # fmt: skip
    assert result.resumed_from_step == 2


def test_is_out_of_memory_recognises_cuda_and_cpu_failures() -> None:
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory."))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: 8 GB"))
    assert is_out_of_memory(MemoryError())
    try:
        try:
            raise RuntimeError("CUDA error: out of memory")
        except RuntimeError as inner:
            raise ValueError("training failed") from inner
    except ValueError as outer:
        assert is_out_of_memory(outer)  # wrapped on its way up
    assert not is_out_of_memory(ValueError("memory of a post"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
