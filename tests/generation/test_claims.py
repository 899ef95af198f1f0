"""The hallucination check (generation/claims.py): the numbers, dates and names a draft states,
looked up in its brief and sources; a sentence holding one found nowhere is marked for the editor
as advice ("not found in your sources"), and on the clinical channel says only what kind of claim
it was. The wiring: a finished run stores these findings without being held back by them."""

import pytest

from generation.claims import claims, support_index, supported, unsupported_findings
from generation.models import GenerationRun
from generation.services.execute import generation_run_execute
from generation.services.runs import generation_run_start
from generation.types import blocking
from generation.workflow import fixable
from posts.services.embedding import posts_embed
from tests.compliance.factories import make_officer
from tests.posts.factories import make_post

BRIEF = {"topic": "sleep", "outline": "", "audience": "", "tone": ""}


def stated(text: str) -> list[tuple[str, str]]:
    return [(c.kind, c.text) for c in claims(text)]


def holds(draft: str, source: str) -> bool:
    """Whether `source` supports every claim of `draft` (which must state at least one)."""
    found = claims(draft)
    assert found, draft
    index = support_index([source])
    return all(supported(c, index) for c in found)


class TestWhatIsAClaim:
    def test_numbers_with_separators_decimals_percentages_ordinals_and_times_are_claims(self):
        text = "We saw 1,200 readers; 3.5 hours, 40% and 12 per cent, the 3rd night, at 10:30."

        assert stated(text) == [
            ("number", "1,200"),
            ("number", "3.5"),
            ("number", "40%"),
            ("number", "12 per cent"),
            ("number", "3rd"),
            ("number", "10:30"),
        ]

    def test_citation_markers_list_numbers_digits_in_words_and_number_words_are_not(self):
        text = "1. Sleep early [1].\n2) Tea helps [2][3].\n- 3. Vitamin B12 and two or three cups."

        assert stated(text) == []

    def test_a_range_is_two_numbers(self):
        assert stated("Adults need 7-9 hours.") == [("number", "7"), ("number", "9")]

    def test_dates_are_month_names_with_a_day_or_a_year_iso_dates_and_years(self):
        text = (
            "On 3 March 2021 it began; by March 4th, 2021 and in June 2022 it grew. "
            "It ended 2023-01-05, after the 1990s and 2019."
        )

        assert [c.key for c in claims(text)] == [
            (2021, 3, 3),
            (2021, 3, 4),
            (2022, 6, None),
            (2023, 1, 5),
            (1990, None, None),
            (2019, None, None),
        ]
        assert {c.kind for c in claims(text)} == {"date"}  # the days are not numbers too

    def test_a_month_or_a_weekday_alone_is_neither_a_date_nor_a_name(self):
        assert stated("We walk on Monday, and in March, and again in May.") == []

    def test_names_are_capitalised_runs_without_the_words_capitalised_by_their_place(self):
        text = (
            "The Mayo Clinic agrees with Dr. Priya Patel. Sleep helps, I think. "
            "Sarah read the University of Oxford study: “Tea calms,” it said."
        )

        assert stated(text) == [
            ("name", "Mayo Clinic"),  # not "The", which only opens the sentence
            ("name", "Dr. Priya Patel"),  # the title's full stop ends neither sentence nor name
            ("name", "Sarah"),  # a known name, even where any word takes a capital
            ("name", "University of Oxford"),
        ]  # not "Sleep", "I", nor "Tea" after the opening quote

    def test_an_acronym_is_a_name_wherever_it_stands(self):
        assert stated("NHS advice changed. Ask your GP.") == [("name", "NHS"), ("name", "GP")]

    def test_a_heading_counts_only_its_words_that_are_not_everyday_english(self):
        assert stated("## Why Sleep Matters to Dr Patel\n\nRest well.") == [("name", "Dr Patel")]

    def test_code_links_and_placeholders_are_not_read(self):
        text = "Run `Sleep 5` or see [this](https://Example.com/2019) about [NAME] on [DATE]."

        assert stated(text) == []


class TestWhenIsAClaimSupported:
    @pytest.mark.parametrize(
        ("draft", "source"),
        [
            ("We saw 1,200 readers.", "We saw 1200 readers."),
            ("It took 3.50 hours.", "It took 3.5 hours."),
            ("About 40% slept.", "About 40 % slept."),
            ("About 40% slept.", "About 40 per cent slept."),
            ("It took 5 nights.", "It took five nights."),
            ("On the 3rd night.", "On the third night."),
            ("By the 3rd night.", "After 3 nights."),
            ("It began in March 2021.", "It began on 3 March 2021."),
            ("It began on 2021-03-03.", "It began on March 3rd, 2021."),
            ("It began in 2019.", "The 2019 survey."),
            ("We agree with Dr Patel's advice.", "patel says so"),  # case and possessive
            ("We agree with Dr Priya Patel.", "Ms Patel says so."),  # a person's surname
            ("We agree with Dr Priya Patel.", "ask ms patel"),  # after a title, lower case
            ("We read about José today.", "JOSE wrote it."),  # accents
            ("We joined the University of Oxford.", "the university of oxford"),
        ],
    )
    def test_a_claim_is_supported_by_the_same_fact_written_another_way(self, draft, source):
        assert holds(draft, source)

    @pytest.mark.parametrize(
        ("draft", "source"),
        [
            ("About 40% slept.", "About 40 people slept."),  # a count is not a share
            ("It took 12 nights.", "It took two nights."),
            ("It began on 3 March 2021.", "It began in March 2021."),  # the day is not there
            ("It began in 2021.", "It began in 2020."),
            ("We agree with Dr Walker.", "Take a walker along."),  # an everyday word
            ("We joined the National Sleep Foundation.", "the foundation"),  # one word of it
            ("We went to the Mayo Clinic.", "Mayo is a town."),
            ("We agree with Dr Priya Patel.", "Priya is kind."),  # the given name alone
        ],
    )
    def test_a_claim_is_unsupported_when_only_part_of_it_or_something_like_it_is_there(
        self, draft, source
    ):
        assert not holds(draft, source)


class TestFindings:
    def test_each_sentence_with_an_unsupported_claim_is_one_advice_finding_at_its_place(self):
        draft = "Tea calms me [1]. In 2019, 1,200 readers wrote to Dr Patel. Sleep 7 hours."
        sources = ["Tea calms me. Seven hours of sleep is enough, says Dr Patel."]

        (finding,) = unsupported_findings(draft, brief=BRIEF, sources=sources)

        sentence = "In 2019, 1,200 readers wrote to Dr Patel."
        assert draft[finding["start"] : finding["end"]] == sentence == finding["text"]
        assert finding["kind"] == "unsupported" and finding["label"] == "number, date"
        assert finding["detail"] == "States “2019” and “1,200”, not found in your sources."
        # Advice: never holds a draft back, never sent to the targeted revise.
        assert blocking([finding]) == [] and fixable([finding]) == []

    def test_a_draft_without_sources_is_checked_against_its_brief_alone(self):
        brief = BRIEF | {"topic": "Tea for 1,200 readers", "outline": "Dr Patel on naps"}
        draft = "Dr Patel wrote to 1,200 readers. About 40% nap."

        findings = unsupported_findings(draft, brief=brief, sources=[])

        assert [f["text"] for f in findings] == ["About 40% nap."]

    def test_a_draft_stating_nothing_to_check_has_no_finding(self):
        assert unsupported_findings("Tea calms me. Rest well.", brief=BRIEF, sources=[]) == []

    def test_on_the_clinical_channel_a_finding_keeps_no_text_and_names_only_the_kinds(self):
        draft = "Dr Okafor saw 12 patients and 3 nurses on 4 May 2020."

        (finding,) = unsupported_findings(draft, brief=BRIEF, sources=[], channel="clinical")

        assert finding["text"] == "" and (finding["start"], finding["end"]) == (0, len(draft))
        assert finding["detail"] == "States 2 numbers, a date and a name not found in your sources."
        assert "Okafor" not in str(finding) and "12" not in str(finding)


def scripted_writer(text: str) -> type:
    """A Writer that writes `text` every time (a tiny random model never states a figure)."""

    class Writer:
        def __init__(self, run: GenerationRun) -> None:
            pass

        def __call__(self, messages: list[dict]) -> str:
            return text

        def quietly(self, messages: list[dict], max_new_tokens: int) -> str:
            return text

        def show(self, text: str) -> None:
            pass

        def take(self) -> None:
            return None

    return Writer


@pytest.mark.django_db
class TestWiring:
    def run(self, monkeypatch, tiny_model_dir, text: str, **start) -> GenerationRun:  # noqa: ANN001
        from generation.services import execute

        monkeypatch.setattr(execute, "Writer", scripted_writer(text))
        run = generation_run_start(
            **start, sampling={"max_new_tokens": 24}, base_model=str(tiny_model_dir), enqueue=False
        )
        return generation_run_execute(run_id=run.id)

    def test_a_finished_draft_stores_its_unsupported_sentences_without_being_held_back(
        self, author, monkeypatch, tiny_model_dir
    ):
        tea = "Green tea in the afternoon keeps me calm; 40% of my readers agree."
        post = make_post(author, title="Tea", body_markdown=tea, status="published")
        posts_embed(post_ids=[post.id])
        text = (
            "Green tea keeps me calm [1]. About 40% of readers agree. Since 2019, 1,200 tried it."
        )

        run = self.run(
            monkeypatch, tiny_model_dir, text, channel="general", brief={"topic": "tea"}, by=author
        )

        assert run.sources and run.output == text
        unsupported = [f for f in run.findings if f["kind"] == "unsupported"]
        assert [f["text"] for f in unsupported] == ["Since 2019, 1,200 tried it."]
        assert run.status == GenerationRun.Status.SUCCEEDED  # advice only
        assert run.revisions == 0  # and nothing was written again for it

    def test_a_prompt_only_draft_is_checked_against_its_brief(
        self, author, monkeypatch, tiny_model_dir
    ):
        text = "Tea for 1,200 readers is a lot. Most of them nap for 20 minutes after lunch."

        run = self.run(
            monkeypatch, tiny_model_dir, text, channel="general",
            brief={"topic": "tea for 1,200 readers"}, by=author,
        )  # fmt: skip

        assert run.sources == []
        assert [f["text"] for f in run.findings if f["kind"] == "unsupported"] == [
            "Most of them nap for 20 minutes after lunch."
        ]

    def test_a_clinical_draft_stores_the_kinds_of_claim_only(self, monkeypatch, tiny_model_dir):
        text = "Rest helps. About 40% of patients sleep better by the 3rd week."

        run = self.run(
            monkeypatch, tiny_model_dir, text, channel="clinical",
            brief={"topic": "sleep"}, by=make_officer(),
        )  # fmt: skip

        (finding,) = [f for f in run.findings if f["kind"] == "unsupported"]
        assert finding["text"] == "" and finding["label"] == "number"
        assert finding["detail"] == "States 2 numbers not found in your sources."
        # Its offsets are those of the stored, de-identified text the page shows.
        assert run.output[finding["start"] : finding["end"]].startswith("About")
