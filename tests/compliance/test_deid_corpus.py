"""The synthetic de-identification corpus (bench/deid_corpus.py) and the token scorer (plain
Python, no database)."""

import re
from collections import Counter

import pytest

from bench.deid_corpus import KINDS, GoldSpan, generate_corpus, write_jsonl
from compliance.deid.scoring import score

LABELS = ("NAME", "PROFESSION", "HOSPITAL", "ORGANIZATION", "STREET", "CITY", "ZIP", "LOCATION",
          "AGE", "DATE", "PHONE", "FAX", "EMAIL", "URL", "IP", "SSN", "MRN", "HEALTH_PLAN",
          "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "BIOMETRIC", "PHOTO", "ID")  # fmt: skip
WORD = re.compile(r"\w")


@pytest.fixture(scope="module")
def corpus():
    return generate_corpus(300, seed=7)


def test_the_generator_is_deterministic_and_a_smaller_corpus_is_a_prefix(corpus):
    again = generate_corpus(300, seed=7)
    assert [(n.id, n.text, n.spans) for n in again] == [(n.id, n.text, n.spans) for n in corpus]
    assert [n.text for n in generate_corpus(12, seed=7)] == [n.text for n in corpus[:12]]
    assert generate_corpus(6, seed=8)[0].text != corpus[0].text


def test_kinds_come_evenly_and_lengths_are_those_of_real_notes(corpus):
    assert Counter(n.kind for n in corpus) == {kind: 50 for kind in KINDS}
    lengths = [len(n.text) for n in corpus]
    assert min(lengths) >= 1200 and max(lengths) <= 2800
    assert 1800 <= sum(lengths) / len(lengths) <= 2200


def test_every_label_has_support(corpus):
    support = Counter(s.label for n in corpus for s in n.spans)
    assert set(support) == set(LABELS)
    assert {label: n for label, n in support.items() if n < 40} == {}


def test_gold_offsets_are_exact_and_never_cut_a_word(corpus):
    for note in corpus:
        for span in note.spans + note.distractors:
            entity = note.text[span.start : span.end]
            assert entity and entity == entity.strip(), (note.id, span)
            # A span may end in punctuation ("R.T."), but a word character at its edge must not
            # continue into the text beside it.
            before = note.text[span.start - 1 : span.start]
            after = note.text[span.end : span.end + 1]
            assert not (WORD.match(before) and WORD.match(entity[0])), (note.id, entity)
            assert not (WORD.match(after) and WORD.match(entity[-1])), (note.id, entity)


def test_the_hard_cases_are_in_the_gold(corpus):
    gold = Counter(
        (note.text[s.start : s.end].lower(), s.label) for note in corpus for s in note.spans
    )
    texts = {text for text, _ in gold}
    ages = {text for text, label in gold if label == "AGE"}
    assert any(re.fullmatch(r"9\d[fm]", a) for a in ages)  # "92F"
    assert any(re.fullmatch(r"9\dyo", a) for a in ages)  # "97yo"
    assert any(a.startswith("ninety-") for a in ages)  # "ninety-three-year-old"
    assert any(re.fullmatch(r"19[0-3]\d", a) for a in ages)  # "born 1931"
    assert "birthday" in texts
    holidays = {"christmas", "thanksgiving", "easter", "halloween", "labor day", "memorial day"}
    assert len(holidays & texts) >= 3
    assert any(re.fullmatch(r"\d{1,2}(st|nd|rd|th)", t) for t in texts)  # "the 4th"
    assert {"will", "hope", "faith", "rose"} & {t for t, label in gold if label == "NAME"}
    # Nursing shorthand writes family names in lower case ("pt's dtr sarah at bedside").
    assert any(
        note.text[s.start].islower()
        for note in corpus
        if note.kind == "nursing"
        for s in note.spans
        if s.label == "NAME"
    )


def test_distractors_are_present_and_never_inside_a_gold_span(corpus):
    categories = Counter(d.label for n in corpus for d in n.distractors)
    for category in ("DRUG", "DOSE", "EPONYM", "VITAL", "LAB", "CODE", "AGE_UNDER_90", "YEAR",
                     "STATE", "WORD"):  # fmt: skip
        assert categories[category] >= 40, category
    for note in corpus:
        for d in note.distractors:
            assert not any(s.start < d.end and d.start < s.end for s in note.spans), note.id
    texts = " ".join(n.text for n in corpus)
    for word in ("Parkinson's", "Foley", "q4h", "BID", "SpO2", "HbA1c", "F32.1", "90837"):
        assert word in texts


def test_some_notes_are_all_capitals(corpus):
    capitals = [n for n in corpus if n.text.isupper()]
    assert len(capitals) >= 0.05 * len(corpus)
    assert {n.kind for n in capitals} == set(KINDS)


def test_write_jsonl_writes_texts_and_gold(tmp_path, corpus):
    import json

    texts, gold = write_jsonl(corpus[:3], tmp_path / "notes.jsonl")
    assert gold.name == "notes.gold.jsonl"
    rows = [json.loads(line) for line in texts.read_text().splitlines()]
    assert [set(r) for r in rows] == [{"id", "text"}] * 3
    first = json.loads(gold.read_text().splitlines()[0])
    span = first["spans"][0]
    assert rows[0]["text"][span["start"] : span["end"]] == span["text"]


# --- the scorer, on notes small enough to check by hand --------------------------------------

TEXT = "Seen by Dr. Ada Okafor on 3/4, BP 120/80."
#       Ada = 12-15, Okafor = 16-22, 3/4 = 26-29 (tokens "3" and "4")
GOLD = {"n": [GoldSpan(12, 15, "NAME"), GoldSpan(16, 22, "NAME"), GoldSpan(26, 29, "DATE")]}


def _score(predicted):
    return score(GOLD, {"n": predicted}, {"n": TEXT})


def test_a_perfect_prediction_scores_one():
    result = _score([(12, 22, "NAME"), (26, 29, "DATE")])
    assert (result.recall, result.precision, result.f1) == (1.0, 1.0, 1.0)
    assert result.gold_tokens == 4 and result.missed == []
    assert result.per_category["DATE"].support == 2


def test_a_missed_token_lowers_recall_of_its_category_only():
    result = _score([(12, 22, "NAME")])
    assert result.recall == 2 / 4 and result.precision == 1.0
    assert result.per_category["NAME"].recall == 1.0
    assert result.per_category["DATE"].recall == 0.0
    assert [(m.token, m.label) for m in result.missed] == [("3", "DATE"), ("4", "DATE")]
    assert "[3]" in result.missed[0].context


def test_a_false_positive_lowers_precision():
    # "BP" and "120" are not PHI: 4 right of 6 predicted tokens.
    result = _score([(12, 22, "NAME"), (26, 29, "DATE"), (31, 37, "DATE")])
    assert result.recall == 1.0
    assert result.precision == pytest.approx(4 / 6)
    assert [fp.token for fp in result.false_positives] == ["BP", "120"]


def test_recall_ignores_the_predicted_label_but_strict_spans_need_exact_offsets():
    # Removed is removed: a name labelled as a date still counts for Safe Harbor.
    result = _score([(12, 22, "DATE"), (26, 29, "PHONE")])
    assert result.recall == 1.0 and result.per_category["NAME"].recall == 1.0
    # Only the date's offsets match exactly; (12, 22) is neither (12, 15) nor (16, 22).
    assert result.span_recall == pytest.approx(1 / 3)
    assert result.span_precision == pytest.approx(1 / 2)


def test_a_span_that_covers_part_of_a_token_recalls_that_token():
    result = _score([(12, 22, "NAME"), (26, 28, "DATE")])  # "3/" but not "4"
    assert [m.token for m in result.missed] == ["4"]


def test_a_note_with_no_prediction_misses_everything():
    result = score(GOLD, {}, {"n": TEXT})
    assert result.recall == 0.0 and result.predicted_tokens == 0 and result.precision == 1.0
