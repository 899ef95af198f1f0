"""The learned layer: built by the project's own script from its own synthetic text, it tags
names by their cue, and the engine's union with it only adds spans to the rules'."""

import pytest

from compliance.deid import find_spans, learned
from compliance.management.commands.deid_train import training_examples


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> object:  # noqa: ANN001
    path = tmp_path_factory.mktemp("deid") / "crf.crfsuite"
    result = learned.train(training_examples(12, 300, seed=3), path, max_iterations=40)
    assert result["examples"] > 300 and path.stat().st_size > 1000
    return path


def test_a_small_model_built_from_generated_text_finds_a_cued_name(small_model) -> None:  # noqa: ANN001
    text = "pt comfortable overnoc.\ndr quarrendale notified of k+ 3.1\nskin intact, turned q2h."
    spans = learned.find_learned(text, path=small_model)
    found = {text[s.start : s.end] for s in spans}
    assert "quarrendale" in found
    assert not found & {"comfortable", "skin", "intact", "notified"}


def test_the_layer_only_tags_words_that_could_be_phi(small_model) -> None:  # noqa: ANN001
    text = "dr aware. lasix 40 iv given. foley draining clear urine. rales 1/3 up."
    assert learned.find_learned(text, path=small_model) == []


def test_words_the_rules_cover_already_are_not_tagged_again(small_model) -> None:  # noqa: ANN001
    text = "dr quarrendale notified"
    rules = find_spans(text, time_limit=None, use_ner=False, use_learned=False)
    assert learned.find_learned(text, found=rules, path=small_model) == []


def test_the_union_with_the_committed_model_only_adds_spans() -> None:
    if not learned.available():
        pytest.fail("the committed model compliance/deid/model/deid-crf.crfsuite is missing")
    text = "Tomas wishes to make pt DNR. spoke with lorna re plan.\nk. marrowby rrt"
    rules = find_spans(text, time_limit=None, use_ner=False, use_learned=False)
    union = find_spans(text, time_limit=None, use_ner=False, use_learned=True)
    covered = [range(s.start, s.end) for s in union]
    assert all(any(s.start in r and s.end - 1 in r for r in covered) for s in rules)


def test_the_layer_is_off_unless_the_setting_turns_it_on(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("BLOGLLM_DEID_LEARNED", raising=False)
    assert not learned.enabled()
    monkeypatch.setenv("BLOGLLM_DEID_LEARNED", "1")
    assert learned.enabled()
