"""Continuous batching and prompt-prefix reuse in the runtime, on the tiny model: requests that
arrive together decode in one batch and each says what it would say alone; one cancelled or
dropped leaves the others alone; past the batch's bounds requests queue and hear where they
stand; a cached prefix gives the same tokens as a full prefill."""

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from generation.runtime import Runtime, SamplingSettings, Serving
from training.samples import chat_messages

GREEDY = SamplingSettings(
    max_new_tokens=24, temperature=0, repetition_penalty=1.0, no_repeat_ngram_size=0
)
LONG = replace(GREEDY, max_new_tokens=600)  # the tiny model never ends a turn by itself


def brief(n: int, system: str | None = None) -> list[dict]:
    messages = chat_messages(f'Write a blog post titled "Post {n}".\nTags: tag{n}.' + " more" * n)
    if system is not None:
        messages[0] = {"role": "system", "content": system}
    return messages


def make(tiny_model_dir: Path, tmp_path: Path, **serving: object) -> Runtime:
    from training.base_model import device_plan

    return Runtime(
        str(tiny_model_dir), cache_dir=tmp_path / "cache", plan=device_plan("cpu"),
        serving=Serving(**serving),
    )  # fmt: skip


def at_once(runtime: Runtime, jobs: list[tuple], **kwargs: object) -> list:
    """Each job (messages, settings, adapter) through runtime.generate in its own thread, all
    let go together; the results in order (an exception raised, for a job that failed)."""
    results: list = [None] * len(jobs)
    go = threading.Barrier(len(jobs))

    def work(n: int) -> None:
        messages, settings, adapter = jobs[n]
        go.wait()
        try:
            results[n] = runtime.generate(messages, settings, adapter=adapter, **kwargs)
        except BaseException as error:  # noqa: BLE001 - the test looks at it
            results[n] = error

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.fixture
def batched(tiny_model_dir, tmp_path):  # noqa: ANN201 - a Runtime
    return make(tiny_model_dir, tmp_path, max_batch=4)


def test_concurrent_greedy_requests_decode_together_and_each_says_what_it_says_alone(
    batched, adapter_dirs
):
    adapters = [None, ("a", adapter_dirs["a"]), ("b", adapter_dirs["b"]), None, None, None]
    # Different prompt lengths (left padding), lengths to stop at, adapters in one batch, and
    # more requests than the batch holds (the last two wait and join as others leave).
    jobs = [
        (brief(n), replace(GREEDY, max_new_tokens=8 + 5 * n), adapter)
        for n, adapter in enumerate(adapters)
    ]
    together = at_once(batched, jobs)
    assert batched.peak_batch == 4  # they really shared steps, and no more than the bound
    alone = [batched.generate(m, s, adapter=a) for m, s, a in jobs]
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.new_tokens for r in together] == [8 + 5 * n for n in range(len(jobs))]
    assert all(r.finish_reason == "length" for r in together)
    assert batched.base_loads == 1 and batched.adapter_loads == 2


def test_seeded_sampling_in_a_batch_draws_from_each_requests_own_seed(batched):
    sampled = SamplingSettings(max_new_tokens=24, temperature=1.0, top_p=0.9)
    jobs = [(brief(n % 2), replace(sampled, seed=n), None) for n in range(4)]
    together = [r.text for r in at_once(batched, jobs)]
    alone = [batched.generate(m, s).text for m, s, _ in jobs]
    assert together == alone
    assert together[0] != together[2]  # same prompt, another seed


def test_a_request_cancelled_mid_batch_leaves_and_the_others_finish_as_alone(batched):
    cancel = threading.Event()
    pieces: list[str] = []

    def on_text(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 5:
            cancel.set()

    results: dict[str, object] = {}
    jobs = [(brief(n), replace(GREEDY, max_new_tokens=60), None) for n in range(3)]
    go = threading.Barrier(4)

    def others(n: int) -> None:
        go.wait()
        results[n] = batched.generate(*jobs[n][:2])

    threads = [threading.Thread(target=others, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    go.wait()
    results["cancelled"] = batched.generate(brief(7), LONG, cancel=cancel, on_text=on_text)
    for thread in threads:
        thread.join(timeout=120)

    cancelled = results["cancelled"]
    assert cancelled.finish_reason == "cancelled" and 5 <= cancelled.new_tokens < 60
    assert [results[n].text for n in range(3)] == [batched.generate(*j[:2]).text for j in jobs]
    assert batched.peak_batch == 4


def test_a_stream_dropped_mid_batch_leaves_the_others_alone(batched):
    job = (brief(1), replace(GREEDY, max_new_tokens=40))
    stream = batched.stream(brief(2), LONG)
    next(stream)  # decoding
    (other,) = at_once(batched, [(*job, None)], on_text=lambda _: stream.close())
    assert other.text == batched.generate(*job).text
    assert batched.peak_batch == 2


def test_past_the_batch_requests_queue_and_hear_their_place_until_they_start(
    tiny_model_dir, tmp_path
):
    runtime = make(tiny_model_dir, tmp_path, max_batch=1)
    stop_first, started = threading.Event(), threading.Event()
    places: dict[str, list[int]] = {"second": [], "third": []}
    results: dict[str, object] = {}

    def first() -> None:
        results["first"] = runtime.generate(
            brief(0), LONG, cancel=stop_first, on_text=lambda _: started.set()
        )

    def waiting(name: str) -> None:
        results[name] = runtime.generate(brief(1), GREEDY, on_queue=places[name].append)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert started.wait(60)
    for name, queued in (("second", 1), ("third", 2)):
        threads.append(threading.Thread(target=waiting, args=(name,)))
        threads[-1].start()
        for _ in range(600):  # until the scheduler has put it in the queue
            if runtime.queue_length() == queued and places[name]:
                break
            threading.Event().wait(0.05)
    assert (places["second"][0], places["third"][0]) == (1, 2)
    stop_first.set()
    for thread in threads:
        thread.join(timeout=120)
    assert results["first"].finish_reason == "cancelled"
    # The third moved up to first in line while the second decoded alone; both then ran.
    assert places["third"][-1] == 1 and set(places["second"]) == {1}
    assert (
        results["second"].text == results["third"].text == runtime.generate(brief(1), GREEDY).text
    )
    assert results["third"].waited_s > 0 and runtime.peak_batch == 1


def test_the_kv_memory_bound_keeps_long_requests_apart(tiny_model_dir, tmp_path):
    # The tiny model holds 512 bytes of KV per token; 1 MB fits one row of 600-odd tokens at
    # most twice, so of four such requests no more than two decode at once.
    runtime = make(tiny_model_dir, tmp_path, max_batch=4, kv_cache_mb=1)
    runtime.generate(brief(0), replace(GREEDY, max_new_tokens=1))  # measures the KV per token
    assert 0 < runtime.kv_bytes_per_token <= 1024
    jobs = [(brief(n), replace(LONG, max_new_tokens=2**20 // runtime.kv_bytes_per_token // 2 - 200),
             None) for n in range(4)]  # fmt: skip
    results = at_once(runtime, jobs)
    assert all(r.finish_reason == "length" for r in results)
    assert runtime.peak_batch == 2


def test_a_cached_prefix_gives_the_same_tokens_as_prefilling_the_whole_prompt(
    tiny_model_dir, tmp_path, adapter_dirs
):
    reuse = make(tiny_model_dir, tmp_path / "reuse", prefix_entries=4)
    full = make(tiny_model_dir, tmp_path / "full", prefix_entries=0)
    voice = "You write in the voice of Ada. " + "Short sentences, plain words, no jargon. " * 6
    a = ("a", adapter_dirs["a"])
    jobs = [(brief(n, voice), replace(GREEDY, max_new_tokens=30), adapter)
            for n, adapter in [(1, None), (2, None), (3, a), (4, a)]]  # fmt: skip
    for messages, settings, adapter in jobs:
        prompt = reuse.prompt_ids(messages)
        assert reuse.prefix_length(messages, prompt) > 16  # the system turn, voice guide and all
        assert (
            reuse.generate(messages, settings, adapter=adapter).text
            == full.generate(messages, settings, adapter=adapter).text
        )
    # One entry per (adapter, system turn): the base's and adapter a's; the second of each hit.
    assert (reuse.prefix_hits, len(reuse.prefix_cache_keys())) == (2, 2)
    assert full.prefix_hits == 0
    # A new voice guide (or another channel's system prompt) is another entry, never a hit.
    reuse.generate(brief(5, voice + " And warm."), replace(GREEDY, max_new_tokens=2))
    assert (reuse.prefix_hits, len(reuse.prefix_cache_keys())) == (2, 3)


def test_the_prefix_cache_keeps_the_most_recently_used_entries(tiny_model_dir, tmp_path):
    runtime = make(tiny_model_dir, tmp_path, prefix_entries=2)
    short = replace(GREEDY, max_new_tokens=2)
    voices = [f"Voice {n}: " + "plain words and short sentences. " * 5 for n in range(3)]
    for voice in (voices[0], voices[1], voices[0], voices[2]):  # 2 evicts 1, not 0
        runtime.generate(brief(1, voice), short)
    assert runtime.prefix_hits == 1
    runtime.generate(brief(1, voices[0]), short)
    assert runtime.prefix_hits == 2 and len(runtime.prefix_cache_keys()) == 2


def test_a_failure_in_a_step_reaches_every_caller_and_the_runtime_serves_on(batched, monkeypatch):
    from generation import decoding

    step = decoding.Batch.step

    def broken(self, *args, **kwargs):  # noqa: ANN001, ANN202
        raise RuntimeError("out of memory")

    monkeypatch.setattr(decoding.Batch, "step", broken)
    jobs = [(brief(n), GREEDY, None) for n in range(3)]
    assert all(isinstance(r, RuntimeError) for r in at_once(batched, jobs))
    monkeypatch.setattr(decoding.Batch, "step", step)
    assert batched.generate(brief(1), GREEDY).new_tokens == GREEDY.max_new_tokens


@pytest.mark.parametrize(
    "serving",
    [{"max_batch": 0}, {"kv_cache_mb": 0}, {"prefix_entries": -1}, {"precision": "fp8"}],
)
def test_serving_settings_refuse_values_out_of_range(serving):
    with pytest.raises(ValueError):
        Serving(**serving)


@pytest.mark.parametrize("precision", ["float32", "bfloat16", "int8"])
def test_each_precision_loads_and_generates_in_a_batch_with_adapters(
    tiny_model_dir, tmp_path, adapter_dirs, precision
):
    runtime = make(tiny_model_dir, tmp_path, precision=precision)
    assert runtime.serving.precision == precision
    adapters = [None, ("a", adapter_dirs["a"]), ("b", adapter_dirs["b"])]
    jobs = [(brief(n), replace(GREEDY, max_new_tokens=12), a) for n, a in enumerate(adapters)]
    together = at_once(runtime, jobs)
    assert all(r.new_tokens == 12 and r.text for r in together)
    assert [r.text for r in together] == [
        runtime.generate(m, s, adapter=a).text for m, s, a in jobs
    ]
    if precision == "int8":
        from generation.precision import Int8Linear

        assert isinstance(runtime._base.lm_head, Int8Linear)
    else:
        import torch

        assert next(runtime._base.parameters()).dtype == getattr(torch, precision)
