"""The draft-quality scores (generation/quality.py): plain Python, no model and no database."""

import pytest

from generation import quality
from generation.quality import Timing

POST = (
    "I wake at three most nights. The house is quiet and my head is loud. "
    "So I get up, make tea, and write down the one worry that woke me."
)
LOOP = "So, sleep, sleep, sleep. Sleep, sleep, sleep. Sleep is good for you."


def constant_embed(texts: list[str]):  # noqa: ANN201 - every text the same vector
    import numpy as np

    return np.ones((len(texts), 4), dtype=np.float32) / 2


def scores(draft: str, **overrides: object) -> quality.DraftScores:
    options = {
        "reference": POST,
        "raw": draft,
        "asked_words": 30,
        "passages": [POST],
        "style_references": [POST],
        "embed": constant_embed,
        "findings": [],
        "timing": Timing(seconds=2.0, new_tokens=40, generating_s=1.6, first_token_s=0.2),
    }
    return quality.score_draft(draft, **{**options, **overrides})


def test_bleu_and_rouge_l_are_top_for_the_post_itself_and_low_for_another_text():
    assert quality.bleu(POST, POST) == pytest.approx(100)
    assert quality.rouge_l(POST, POST) == pytest.approx(1)
    assert quality.bleu(LOOP, POST) < 10 and quality.rouge_l(LOOP, POST) < 0.3
    assert quality.corpus_bleu([POST, LOOP], [POST, POST]) < 100


def test_distinct_n_and_the_repeated_4gram_rate_see_a_loop():
    assert quality.distinct(POST, 2) == 1.0
    assert quality.distinct(LOOP, 2) < 0.7
    assert quality.repeated_ngram_rate(POST) == 0
    # Nine 4-grams, four of them new: the other five were said before.
    assert quality.repeated_ngram_rate("a b c d a b c d a b c d") == pytest.approx(5 / 9)
    assert quality.distinct("one", 2) is None and quality.repeated_ngram_rate("a b") is None


def test_a_loop_is_a_4gram_said_three_times():
    assert not quality.has_ngram_loop(POST)
    assert not quality.has_ngram_loop("the end of it. the end of it.")  # twice is a phrase
    assert quality.has_ngram_loop("the end of it. the end of it. the end of it.")


def test_within_length_is_half_to_one_and_a_half_times_the_words_asked():
    ten = " ".join(["word"] * 10)
    assert quality.within_length(ten, 10) and quality.within_length(ten, 20)
    assert not quality.within_length(ten, 21) and not quality.within_length(ten, 6)
    assert quality.within_length(ten, None) is None


def test_a_draft_scores_meta_talk_before_and_after_cleaning_and_completeness():
    raw = "Sure! Here is a continuation: " + POST
    result = scores(POST + " And then", raw=raw)

    assert result.raw_meta_talk and not result.meta_talk
    assert not result.ends_whole and not result.complete
    assert scores(POST).complete and scores(POST).ends_whole
    assert result.tokens_per_s == pytest.approx(25) and result.first_token_s == 0.2
    assert result.guard_passed
    phone = {"kind": "phi", "text": "555", "detail": "", "start": 0, "end": 3}
    assert not scores(POST, findings=[phone]).guard_passed


def test_a_row_is_corpus_bleu_means_and_the_share_of_each_flag():
    drafts = [POST, LOOP + " And"]
    row = quality.aggregate(
        quality.TUNED_RETRIEVAL,
        [scores(d) for d in drafts],
        drafts=drafts,
        references=[POST, POST],
    )

    assert row["label"] == "tuned + retrieval" and row["drafts"] == 2
    assert row["loop_rate"] == 0.5 and row["ends_whole_rate"] == 0.5
    assert row["meta_talk_rate"] == 0.0 and row["guard_pass_rate"] == 1.0
    assert row["bleu"] == pytest.approx(quality.corpus_bleu(drafts, [POST, POST]))
    assert row["seconds"] == 2.0


def test_the_table_has_a_line_per_setup_and_the_goals_compare_with_base_prompt_only():
    base = {"label": quality.BASE_PROMPT_ONLY, "drafts": 5, "style_fidelity": 0.2, "grounding": 0.1}
    full = {
        "label": quality.TUNED_RETRIEVAL, "drafts": 5, "style_fidelity": 0.4, "grounding": 0.05,
        "meta_talk_rate": 0.0, "loop_rate": 0.0, "ends_whole_rate": 1.0,
    }  # fmt: skip

    table = quality.format_table([base, full]).splitlines()
    checks = dict(quality.done_when_checks([base, full]))

    assert len(table) == 3 and table[1].startswith("base prompt-only")
    assert "—" in table[1]  # a score it has none of
    assert checks["full workflow: style fidelity above base prompt-only"] is True
    assert checks["full workflow: grounding above base prompt-only"] is False
    assert checks["full workflow: no meta-talk"] is True
    assert dict(quality.done_when_checks([base]))["full workflow: no meta-talk"] is None
