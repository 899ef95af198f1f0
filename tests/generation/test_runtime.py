"""The generation runtime on the tiny model: sampling, streaming, cancelling, adapters, threads."""

import json
import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from generation.runtime import (
    AdapterError,
    Runtime,
    SamplingSettings,
    get_runtime,
    reset_runtimes,
)
from training.evaluation import generate_text
from training.samples import chat_messages

BRIEF = 'Write a blog post titled "Small steps".\nTags: habits.'
MESSAGES = chat_messages(BRIEF)
GREEDY = SamplingSettings(
    max_new_tokens=24, temperature=0, repetition_penalty=1.0, no_repeat_ngram_size=0
)
SAMPLED = SamplingSettings(max_new_tokens=24, temperature=1.0, top_p=0.95, seed=7)


def bare_greedy_ids(runtime: Runtime, max_new_tokens: int) -> list[int]:
    import torch

    prompt = runtime.prompt_ids(MESSAGES)
    input_ids = torch.tensor([prompt])
    output = runtime.model.generate(
        input_ids=input_ids, attention_mask=torch.ones_like(input_ids), do_sample=False,
        max_new_tokens=max_new_tokens, eos_token_id=runtime.tokenizer.eos_token_id,
        pad_token_id=runtime.tokenizer.pad_token_id, temperature=None, top_p=None, top_k=None,
    )  # fmt: skip
    return output[0, len(prompt) :].tolist()


def test_the_prompt_is_the_chat_template_with_the_assistant_turn_opened(runtime):
    text = runtime.tokenizer.decode(runtime.prompt_ids(MESSAGES))
    assert text.startswith("<|im_start|>system\n")
    assert text.endswith(f"{BRIEF}<|im_end|>\n<|im_start|>assistant\n")
    with pytest.raises(ValueError, match="non-empty list"):
        runtime.prompt_ids([])


def test_an_assistant_message_last_is_left_open_for_the_model_to_go_on(runtime):
    messages = [*MESSAGES, {"role": "assistant", "content": "I switch the phone off at nine."}]

    text = runtime.tokenizer.decode(runtime.prompt_ids(messages))

    assert text.endswith("<|im_start|>assistant\nI switch the phone off at nine.")


def test_a_seed_gives_the_same_text_every_time(runtime):
    first = runtime.generate(MESSAGES, SAMPLED)
    again = runtime.generate(MESSAGES, SAMPLED)
    other = runtime.generate(MESSAGES, replace(SAMPLED, seed=8))
    assert first.text and first.text == again.text
    assert other.text != first.text


def test_seeded_sampling_matches_the_samples_training_evaluation_writes(runtime):
    # The same options and seeding as training.evaluation: an evaluation sample can be
    # reproduced by the runtime that serves the model.
    settings = SamplingSettings(max_new_tokens=24, seed=3)
    expected = generate_text(runtime.model, runtime.tokenizer, BRIEF, max_new_tokens=24, seed=3)
    assert runtime.generate(MESSAGES, settings).text == expected


def test_greedy_generation_equals_a_bare_generate_without_sampling(runtime):
    result = runtime.generate(MESSAGES, GREEDY)
    ids = bare_greedy_ids(runtime, GREEDY.max_new_tokens)
    # Same tokens, and the streamed pieces lose nothing of their decoded text.
    assert result.new_tokens == len(ids)
    assert result.text == runtime.tokenizer.decode(ids, skip_special_tokens=True)
    assert result.prompt_tokens == len(runtime.prompt_ids(MESSAGES))
    assert result.tokens_per_s > 0 and 0 < result.first_token_s <= result.seconds
    assert result.adapter is None


def test_no_new_ngram_repeats_and_the_prompt_is_not_counted(runtime):
    import torch

    from generation.decoding import repetition_rules

    # Prompt [5, 6]; new tokens [7, 5]: 5→6 is the prompt's bigram, never banned; 7→5 is banned
    # after another 7, since the new text already said it.
    (ban,) = repetition_rules(SamplingSettings(repetition_penalty=1.0, no_repeat_ngram_size=2), 2)
    scores = ban(torch.tensor([[5, 6, 7, 5]]), torch.zeros(1, 10))
    assert torch.isfinite(scores[0, 6])
    again = ban(torch.tensor([[5, 6, 7, 5, 7]]), torch.zeros(1, 10))
    assert again[0, 5] == float("-inf") and torch.isfinite(again[0, 6])


def test_generated_text_has_no_repeated_ngram_of_the_size_asked(runtime):
    """The rules the runtime passes to generate(), on the tiny model (which loops at once when
    nothing stops it: greedy, 40 tokens)."""
    import torch

    from generation.decoding import repetition_rules

    prompt = runtime.prompt_ids(MESSAGES)
    input_ids = torch.tensor([prompt])

    def new_ids(size: int) -> list[int]:
        rules = repetition_rules(replace(GREEDY, no_repeat_ngram_size=size), len(prompt))
        output = runtime.model.generate(
            input_ids=input_ids, attention_mask=torch.ones_like(input_ids), do_sample=False,
            max_new_tokens=40, min_new_tokens=40, logits_processor=rules,
            pad_token_id=runtime.tokenizer.pad_token_id, temperature=None, top_p=None, top_k=None,
        )  # fmt: skip
        ids = output[0, len(prompt) :].tolist()
        return [tuple(ids[i : i + 3]) for i in range(len(ids) - 2)]

    looping, banned = new_ids(0), new_ids(3)
    assert len(set(looping)) < len(looping)  # without the rule, the tiny model repeats itself
    assert len(set(banned)) == len(banned) == 38


def test_streamed_pieces_join_to_the_text_generate_returns(runtime):
    pieces = list(runtime.stream(MESSAGES, SAMPLED))
    assert len(pieces) > 1 and all(pieces)
    assert "".join(pieces) == runtime.generate(MESSAGES, SAMPLED).text


def test_generate_hands_each_piece_to_on_text_as_it_comes(runtime):
    seen: list[str] = []
    result = runtime.generate(MESSAGES, SAMPLED, on_text=seen.append)
    assert len(seen) > 1 and "".join(seen) == result.text


def test_max_new_tokens_ends_the_text_with_finish_reason_length(runtime):
    result = runtime.generate(MESSAGES, replace(GREEDY, max_new_tokens=8))
    assert (result.new_tokens, result.finish_reason) == (8, "length")


def test_the_end_of_turn_token_ends_the_text_with_finish_reason_stop(runtime):
    # The untrained model never ends its turn on its own: make its first greedy token the end
    # of turn, as a trained model's last one would be.
    first = bare_greedy_ids(runtime, 1)[0]
    runtime.tokenizer.eos_token = runtime.tokenizer.convert_ids_to_tokens(first)
    result = runtime.generate(MESSAGES, GREEDY)
    assert (result.new_tokens, result.finish_reason) == (1, "stop")


def test_cancelling_mid_stream_stops_with_finish_reason_cancelled(runtime):
    cancel = threading.Event()
    settings = replace(GREEDY, max_new_tokens=400)
    result = runtime.generate(MESSAGES, settings, cancel=cancel, on_text=lambda _: cancel.set())
    assert result.finish_reason == "cancelled"
    assert 1 <= result.new_tokens < 400


def test_a_generation_cancelled_before_it_starts_generates_nothing(runtime):
    cancel = threading.Event()
    cancel.set()
    result = runtime.generate(MESSAGES, GREEDY, cancel=cancel)
    assert (result.text, result.new_tokens, result.finish_reason) == ("", 0, "cancelled")


def test_dropping_a_stream_stops_it_and_frees_the_runtime_for_the_next_caller(runtime):
    stream = runtime.stream(MESSAGES, replace(GREEDY, max_new_tokens=400))
    next(stream)
    stream.close()  # what a web client going away amounts to
    assert runtime.generate(MESSAGES, GREEDY).finish_reason == "length"


def test_adapters_change_the_output_and_switching_back_restores_the_base_exactly(
    runtime, adapter_dirs
):
    a, b = ("general:v1", adapter_dirs["a"]), ("clinical:v2", adapter_dirs["b"])
    base = runtime.generate(MESSAGES, GREEDY).text
    with_a = runtime.generate(MESSAGES, GREEDY, adapter=a)
    with_b = runtime.generate(MESSAGES, GREEDY, adapter=b).text
    assert len({base, with_a.text, with_b}) == 3
    assert with_a.adapter == "general:v1"
    assert runtime.generate(MESSAGES, GREEDY).text == base
    assert runtime.generate(MESSAGES, GREEDY, adapter=a).text == with_a.text
    # One base load for all of it, and adapter A, used twice, was loaded once.
    assert (runtime.base_loads, runtime.adapter_loads) == (1, 2)


def test_the_least_recently_used_adapter_is_evicted(tiny_model_dir, tmp_path, adapter_dirs):
    runtime = Runtime(str(tiny_model_dir), cache_dir=tmp_path, max_adapters=2)
    a, b, c = (("a", adapter_dirs["a"]), ("b", adapter_dirs["b"]), ("c", adapter_dirs["c"]))
    settings = replace(GREEDY, max_new_tokens=2)
    for adapter in (a, b, a, c, a):  # c evicts b, not a: a was used after b
        runtime.generate(MESSAGES, settings, adapter=adapter)
    assert runtime.adapter_loads == 3
    runtime.generate(MESSAGES, settings, adapter=b)
    assert runtime.adapter_loads == 4
    assert len(runtime.model.peft_config) == 2


def test_one_adapter_at_most_is_kept_when_max_adapters_is_one(
    tiny_model_dir, tmp_path, adapter_dirs
):
    runtime = Runtime(str(tiny_model_dir), cache_dir=tmp_path, max_adapters=1)
    first = runtime.generate(MESSAGES, GREEDY, adapter=("a", adapter_dirs["a"])).text
    runtime.generate(MESSAGES, GREEDY, adapter=("b", adapter_dirs["b"]))
    again = runtime.generate(MESSAGES, GREEDY, adapter=("a", adapter_dirs["a"])).text
    assert again == first  # reloaded after eviction, and the same adapter
    assert (runtime.adapter_loads, len(runtime.model.peft_config)) == (3, 1)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "adapter_config.json").write_text("{not json"), "adapter_config.json"),
        (lambda f: (f / "adapter_model.safetensors").write_bytes(b"\0" * 10), "safetensors"),
        (lambda f: (f / "adapter_model.safetensors").unlink(), "missing or corrupt"),
    ],
    ids=["config", "weights", "no-weights"],
)
def test_a_corrupt_adapter_folder_raises_adapter_error_and_leaves_the_base_alone(
    runtime, adapter_dirs, tmp_path, damage, message
):
    base = runtime.generate(MESSAGES, GREEDY).text
    folder = Path(shutil.copytree(adapter_dirs["a"], tmp_path / "broken"))
    damage(folder)
    with pytest.raises(AdapterError, match=message):
        runtime.generate(MESSAGES, GREEDY, adapter=("broken", folder))
    assert runtime.generate(MESSAGES, GREEDY).text == base
    assert runtime.adapter_loads == 0


def test_an_adapter_made_for_another_base_model_raises_adapter_error(
    runtime, adapter_dirs, tmp_path
):
    folder = Path(shutil.copytree(adapter_dirs["a"], tmp_path / "other"))
    config = json.loads((folder / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "someone/another-base"
    (folder / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(AdapterError, match="made for 'someone/another-base'"):
        runtime.generate(MESSAGES, GREEDY, adapter=("other", folder))


def test_an_adapter_registered_for_another_base_model_raises_adapter_error(
    runtime, adapter_dirs, tmp_path
):
    folder = Path(shutil.copytree(adapter_dirs["a"], tmp_path / "other"))
    meta = {"format": 1, "base_model": "someone/another-base", "channel": "general"}
    (folder / "blogllm-adapter.json").write_text(json.dumps(meta))
    with pytest.raises(AdapterError, match="trained on 'someone/another-base'"):
        runtime.generate(MESSAGES, GREEDY, adapter=("other", folder))


def test_an_adapter_whose_weights_do_not_fit_the_model_raises_adapter_error(
    runtime, adapter_dirs, tmp_path
):
    from safetensors.torch import load_file, save_file

    folder = Path(shutil.copytree(adapter_dirs["a"], tmp_path / "misfit"))
    weights = load_file(folder / "adapter_model.safetensors")
    name = next(key for key in weights if key.endswith("q_proj.lora_A.weight"))
    weights[name] = weights[name][:, :-1].contiguous()  # as if the model were narrower
    save_file(weights, folder / "adapter_model.safetensors")
    with pytest.raises(AdapterError, match="does not fit"):
        runtime.generate(MESSAGES, GREEDY, adapter=("misfit", folder))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_new_tokens", 0),
        ("max_new_tokens", 5000),
        ("max_new_tokens", True),
        ("temperature", -0.1),
        ("temperature", "hot"),
        ("top_p", 0),
        ("top_p", 1.5),
        ("repetition_penalty", 0.9),
        ("seed", -1),
        ("seed", 1.5),
    ],
)
def test_sampling_settings_refuse_a_value_out_of_range(field, value):
    with pytest.raises(ValueError, match=f"Invalid sampling setting {field}="):
        SamplingSettings(**{field: value})


def test_importing_the_runtime_loads_no_ml_library():
    # The web process imports SamplingSettings to validate a request; torch stays in the worker.
    libraries = ("torch", "transformers", "peft")
    code = f"import sys, generation.runtime; print([m for m in {libraries} if m in sys.modules])"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"


def test_sampling_settings_survive_a_round_trip_through_a_dict_and_refuse_unknown_keys():
    settings = SamplingSettings(max_new_tokens=50, temperature=0, seed=4)
    assert SamplingSettings.from_dict(settings.to_dict()) == settings
    assert SamplingSettings.from_dict({}) == SamplingSettings()
    with pytest.raises(ValueError, match="Unknown sampling setting"):
        SamplingSettings.from_dict({"temprature": 1})


def test_a_prompt_and_max_new_tokens_beyond_the_context_are_refused(runtime):
    # The tiny model's context is 2,048 tokens.
    with pytest.raises(ValueError, match="exceeds the model's context"):
        runtime.generate(MESSAGES, SamplingSettings(max_new_tokens=4000))


def test_get_runtime_returns_one_runtime_per_base_model(tiny_model_dir, tmp_path):
    reset_runtimes()
    try:
        runtime = get_runtime(str(tiny_model_dir), cache_dir=tmp_path)
        assert get_runtime(str(tiny_model_dir), cache_dir=tmp_path) is runtime
        reset_runtimes()
        assert get_runtime(str(tiny_model_dir), cache_dir=tmp_path) is not runtime
    finally:
        reset_runtimes()


def test_four_threads_generating_at_once_all_get_what_they_would_get_alone(runtime, adapter_dirs):
    adapters = [None, ("a", adapter_dirs["a"]), None, ("b", adapter_dirs["b"])]
    jobs = [(adapter, replace(SAMPLED, seed=n)) for n, adapter in enumerate(adapters)]
    results: dict[int, str] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def work(n: int) -> None:
        try:
            start.wait()
            adapter, settings = jobs[n]
            results[n] = runtime.generate(MESSAGES, settings, adapter=adapter).text
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(results) == len(jobs)
    # The lock kept each generation's adapter and seed to itself: alone, each says the same.
    alone = [runtime.generate(MESSAGES, s, adapter=a).text for a, s in jobs]
    assert [results[n] for n in range(len(jobs))] == alone
    assert runtime.base_loads == 1
