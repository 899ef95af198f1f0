"""The post editor's rewrite and continue: the request's checks, the prompts, the proposal as
hunks taken one by one, a run on the tiny model, the pages and who may use them."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.roles import Role
from compliance.models import AuditEvent
from generation import assist
from generation.assist import (
    AssistError,
    assist_brief,
    assist_messages,
    assist_query,
    proposal_hunks,
    proposal_text,
)
from generation.feedback import generation_publication_record
from generation.models import GenerationRun
from generation.services.execute import generation_run_execute
from generation.services.runs import assist_decision_record, assist_start
from generation.stats import summarise
from posts.diffs import hunks, hunks_apply
from posts.models import Post
from posts.services.embedding import posts_embed
from tests.accounts.factories import UserFactory
from tests.compliance.factories import with_totp
from tests.posts.factories import make_post

TEXT = (
    "## Evenings\n\nI switch the phone off at nine. The quiet hour before bed is mine, and "
    "it makes the next morning easier.\n\nTea helps too."
)
SELECTED = "The quiet hour before bed is mine"


def clinician():  # noqa: ANN201
    """Clinical posts are edited by authors who are also compliance officers."""
    return with_totp(UserFactory(roles=[Role.AUTHOR, Role.COMPLIANCE_OFFICER]))


def span(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return start, start + len(part)


class TestHunks:
    def test_a_rewrite_is_split_into_changes_with_the_kept_words_between(self):
        pieces = hunks(
            "The quick brown fox jumps over the lazy dog.",
            "The quick red fox jumps over the sleepy old dog.",
        )

        changes = [(h.old, h.new) for h in pieces if h.changed]
        assert changes == [("brown", "red"), ("lazy", "sleepy old")]
        assert [h.id for h in pieces if h.changed] == [1, 2]
        assert "".join(h.old for h in pieces) == "The quick brown fox jumps over the lazy dog."

    def test_each_change_can_be_taken_or_left_alone(self):
        old, new = (
            "The quick brown fox jumps over the lazy dog.",
            "The quick red fox jumps over the sleepy dog.",
        )
        pieces = hunks(old, new)

        assert hunks_apply(pieces, {1, 2}) == new
        assert hunks_apply(pieces, set()) == old
        assert hunks_apply(pieces, {1}) == "The quick red fox jumps over the lazy dog."
        assert hunks_apply(pieces, {2}) == "The quick brown fox jumps over the sleepy dog."

    def test_changes_one_word_apart_are_one_decision(self):
        pieces = hunks("I was very tired today", "I felt very sleepy today")

        assert [(h.old, h.new) for h in pieces if h.changed] == [
            ("was very tired", "felt very sleepy")
        ]

    def test_a_continuation_offers_each_new_paragraph_on_its_own(self):
        brief = assist_brief(kind="continue", text="Tea helps.", start=10, end=10, title="Tea")
        proposal = proposal_text("continue", brief, "Green tea, mostly.\n\nNever after six.")

        pieces = proposal_hunks("continue", brief, proposal)

        assert [h.new for h in pieces] == [" Green tea, mostly.", "\n\nNever after six."]
        assert hunks_apply(pieces, {2}) == "\n\nNever after six."


class TestRequest:
    def test_the_brief_holds_the_selection_and_the_text_around_it(self):
        start, end = span(TEXT, SELECTED)

        brief = assist_brief(
            kind="rewrite",
            text=TEXT,
            start=start,
            end=end,
            title="Evenings",
            instruction="  warmer  ",
        )

        assert brief["selection"] == SELECTED and brief["instruction"] == "warmer"
        assert TEXT.startswith(brief["before"]) and brief["after"].startswith(", and it makes")
        assert (brief["start"], brief["end"]) == (start, end)
        assert assist_query(brief).startswith("warmer The quiet hour")

    @pytest.mark.parametrize(
        ("kind", "start", "end", "message"),
        [
            ("rewrite", 5, 5, "Select the words"),
            ("rewrite", 5, 4, "outside the text"),
            ("rewrite", 0, 10_000, "outside the text"),
            ("continue", 0, 0, "Write a little first"),
            ("shout", 0, 3, "Unknown kind"),
        ],
    )
    def test_a_request_that_cannot_be_served_says_why(self, kind, start, end, message):
        with pytest.raises(AssistError, match=message):
            assist_brief(kind=kind, text=TEXT, start=start, end=end, title="t")

    def test_long_selections_are_refused_with_the_limit(self):
        text = "word " * 1000
        with pytest.raises(AssistError, match="at most 4,000"):
            assist_brief(kind="rewrite", text=text, start=0, end=len(text), title="t")

    def test_the_prompts_mark_the_passage_and_carry_the_instruction_and_voice(self):
        start, end = span(TEXT, SELECTED)
        brief = assist_brief(
            kind="rewrite", text=TEXT, start=start, end=end, title="Evenings", instruction="shorter"
        )

        system, user = assist_messages("rewrite", brief, [], voice="Tone: dry")

        assert "Tone: dry" in system["content"]
        assert f"<passage>\n{SELECTED}\n</passage>" in user["content"]
        assert "Instruction: shorter." in user["content"]
        assert "Answer with the new passage only" in user["content"]

    def test_a_continuation_is_the_post_so_far_in_the_assistants_mouth(self):
        cursor = TEXT.index("Tea helps")
        brief = assist_brief(kind="continue", text=TEXT, start=cursor, end=cursor, title="E")

        system, user, assistant = assist_messages("continue", brief, [], voice="Tone: dry")

        assert "Tone: dry" in system["content"]
        assert user["content"].startswith("Write a blog post titled “E”.")
        assert "for context only:\nTea helps too." in user["content"]
        assert assistant == {"role": "assistant", "content": TEXT[:cursor]}

    def test_a_long_post_is_continued_from_a_paragraph_break_inside_the_window(self):
        text = "Opening words. " * 200 + "\n\nThe last paragraph so far."
        brief = assist_brief(kind="continue", text=text, start=len(text), end=len(text), title="E")

        assert assist_messages("continue", brief, [])[2]["content"] == "The last paragraph so far."


class TestProposalText:
    SENTENCE = {"selection": " my quiet hour is mine. \n", "before": "x"}

    def test_preambles_tags_and_quotes_are_dropped_and_the_selections_spacing_kept(self):
        brief = {"selection": " my quiet hour \n", "before": "x"}

        text = proposal_text("rewrite", brief, 'Here is the rewritten passage:\n"The hour is mine"')

        assert text == " The hour is mine \n"

    @pytest.mark.parametrize(
        "answer",
        [
            "To make it warmer, I'd suggest rephrasing it to:\n\nThe hour is mine.\n\n"
            "This version adds warmth by using fewer words.",
            "Revised: “The hour is mine.”",
            "<passage>\nThe hour is mine.\n</passage>",
            "The hour is mine. It makes the morning",  # cut by the token limit
        ],
    )
    def test_a_small_models_talk_around_the_rewrite_is_dropped(self, answer):
        assert proposal_text("rewrite", self.SENTENCE, answer) == " The hour is mine. \n"

    def test_a_rewritten_phrase_is_not_cut_to_whole_sentences(self):
        brief = {"selection": "my quiet hour", "before": "x"}

        assert proposal_text("rewrite", brief, "the hour. that is mine") == "the hour. that is mine"

    def test_a_continuation_joins_the_text_with_the_models_own_space_or_break(self):
        assert proposal_text("continue", {"before": "I like"}, "tea.") == " tea."
        assert proposal_text("continue", {"before": "I like"}, " tea.") == " tea."
        assert proposal_text("continue", {"before": "I like tea."}, "\n\nMore.") == "\n\nMore."
        assert proposal_text("continue", {"before": "I like tea.\n\n"}, "More.") == "More."
        assert proposal_text("continue", {"before": "I like tea. "}, " More.") == "More."

    def test_a_continuation_ends_on_its_last_whole_sentence(self):
        answer = " More tea. Then bed. And the"

        assert (
            proposal_text("continue", {"before": "I like tea."}, answer) == " More tea. Then bed."
        )

    def test_an_empty_answer_is_no_proposal(self):
        assert (
            proposal_text("rewrite", {"selection": "a", "before": ""}, "  <passage></passage> ")
            == ""
        )


@pytest.fixture
def draft(author) -> Post:  # noqa: ANN001
    return make_post(author, title="Evenings", body_markdown=TEXT)


@pytest.mark.django_db
class TestStart:
    def test_the_author_asks_on_their_own_draft_and_the_run_remembers_the_post(self, author, draft):
        start, end = span(TEXT, SELECTED)

        run = assist_start(
            post=draft, by=author, kind="rewrite", text=TEXT, start=start, end=end, enqueue=False
        )

        assert run.kind == "rewrite" and run.post == draft and run.channel == "general"
        assert run.brief["selection"] == SELECTED and run.brief["post_version"] == draft.version
        assert run.sampling["max_new_tokens"] == 48  # about twice the selection, at least 48

    def test_nobody_asks_the_ai_to_edit_a_post_they_may_not_edit(self, author, draft):
        other = UserFactory(roles=[Role.AUTHOR])
        reader = UserFactory(roles=[])
        for user in (other, reader):
            with pytest.raises(PermissionDenied):
                assist_start(post=draft, by=user, kind="continue", text=TEXT, start=9, end=9)

    def test_a_bad_request_is_a_validation_error(self, author, draft):
        with pytest.raises(ValidationError, match="Select the words"):
            assist_start(post=draft, by=author, kind="rewrite", text=TEXT, start=3, end=3)

    def test_clinical_text_that_looks_like_phi_is_refused_not_sent(self):
        officer = clinician()
        text = "Our patient Jane Doveport (555-201-3344) slept better after the change."
        post = make_post(officer, title="Sleep", body_markdown=text, channel="clinical")

        with pytest.raises(ValidationError, match="protected health information.*PHONE"):
            assist_start(
                post=post,
                by=officer,
                kind="rewrite",
                text=text,
                start=0,
                end=len(text),
                enqueue=False,
            )

        assert not GenerationRun.objects.exists()

    def test_a_clean_clinical_request_is_audited(self):
        officer = clinician()
        text = "Short walks in the morning help many people sleep better at night."
        post = make_post(officer, title="Sleep", body_markdown=text, channel="clinical")

        run = assist_start(
            post=post,
            by=officer,
            kind="continue",
            text=text,
            start=len(text),
            end=len(text),
            enqueue=False,
        )

        assert run.channel == "clinical"
        assert AuditEvent.objects.filter(action="generation.clinical_context").count() == 1


@pytest.mark.django_db
def test_a_rewrite_runs_the_graph_and_leaves_the_post_alone(
    author, draft, settings, tiny_model_dir
):
    settings.BASE_MODEL = str(tiny_model_dir)
    source = make_post(
        author,
        title="Phones",
        body_markdown="## Off\n\nMy phone sleeps at nine.",
        status="published",
    )
    posts_embed(post_ids=[source.id])
    start, end = span(TEXT, SELECTED)
    run = assist_start(
        post=draft, by=author, kind="rewrite", text=TEXT, start=start, end=end,
        instruction="warmer", enqueue=False,
    )  # fmt: skip
    posts_before = Post.objects.count()

    run = generation_run_execute(run_id=run.id)

    assert run.status in ("succeeded", "needs_review"), run.traceback
    assert [s.node for s in run.steps.all()][:3] == ["retrieve", "draft", "guard"]
    assert len(run.steps.get(node="retrieve").retrieved) <= assist.SOURCES
    assert Post.objects.count() == posts_before  # no new draft post
    draft.refresh_from_db()
    assert draft.body_markdown == TEXT and run.post == draft
    pieces = proposal_hunks("rewrite", run.brief, run.output)
    assert run.hunks_total == sum(h.changed for h in pieces)
    assert hunks_apply(pieces, {h.id for h in pieces}) == run.output
    prompt = run.steps.get(node="draft").input
    assert prompt["brief"]["selection"] == SELECTED


@pytest.mark.django_db
def test_a_proposal_with_a_phone_number_is_handed_over_with_the_findings(
    author, draft, settings, tiny_model_dir, monkeypatch
):
    """The model's answer is injected here (a tiny random model never writes a phone number);
    the guard, the bounded revision and the finaliser are the real ones. The revise asks for
    the sentence again, gets the number again, and keeps the only text there is, flagged."""
    from generation.services import execute

    class Writer:  # what the model would have written, every time
        def __init__(self, run: GenerationRun) -> None:
            pass

        def __call__(self, messages: list[dict]) -> str:
            return "Call me on 555-201-3344."

        def quietly(self, messages: list[dict], max_new_tokens: int) -> str:
            return self("")  # the sentence again, phone number and all

        def show(self, text: str) -> None:
            pass

        def take(self) -> None:
            return None

    settings.BASE_MODEL = str(tiny_model_dir)
    monkeypatch.setattr(execute, "Writer", Writer)
    cursor = TEXT.index("Tea helps")
    run = assist_start(
        post=draft, by=author, kind="continue", text=TEXT, start=cursor, end=cursor, enqueue=False
    )

    run = generation_run_execute(run_id=run.id)

    assert run.status == "needs_review" and run.revisions == 1
    assert [f["kind"] for f in run.findings] == ["phi"]
    assert run.output == "Call me on 555-201-3344." and run.hunks_total == 1


@pytest.mark.django_db
class TestDecisions:
    def finished(self, author, draft, **fields) -> GenerationRun:  # noqa: ANN001, ANN003
        fields = {"status": "succeeded", "hunks_total": 3, **fields}
        return GenerationRun.objects.create(
            kind="rewrite", channel="general", requested_by=author, post=draft,
            base_model="tiny", brief={"selection": "a b c", "topic": "t"}, output="x y z", **fields,
        )  # fmt: skip

    def test_the_editor_records_how_many_hunks_they_took(self, author, draft):
        run = self.finished(author, draft)

        assist_decision_record(run=run, by=author, accepted=2, total=3)

        run.refresh_from_db()
        assert run.hunks_accepted == 2

    def test_counts_that_do_not_fit_the_proposal_or_someone_elses_run_are_refused(
        self, author, draft
    ):
        run = self.finished(author, draft)
        with pytest.raises(ValidationError):
            assist_decision_record(run=run, by=author, accepted=4, total=3)
        with pytest.raises(ValidationError):
            assist_decision_record(run=run, by=author, accepted=1, total=2)
        with pytest.raises(PermissionDenied):
            assist_decision_record(
                run=run, by=UserFactory(roles=[Role.EDITOR]), accepted=1, total=3
            )

    def test_publishing_measures_the_edit_distance_of_the_draft_not_of_a_rewrite(
        self, author, draft
    ):
        rewrite = self.finished(author, draft)
        whole = GenerationRun.objects.create(
            channel="general", requested_by=author, post=draft, base_model="tiny",
            status="succeeded", output=TEXT,
        )  # fmt: skip

        generation_publication_record(post_id=draft.id)

        rewrite.refresh_from_db()
        whole.refresh_from_db()
        assert rewrite.edit_distance is None and whole.edit_distance == 0.0

    def test_the_dashboard_shows_the_mean_share_of_hunks_taken(self, author, draft):
        self.finished(author, draft, hunks_accepted=3)
        self.finished(author, draft, hunks_accepted=0)
        self.finished(author, draft, hunks_total=2, hunks_accepted=1)
        self.finished(author, draft)  # not decided yet: not counted

        summary = summarise(GenerationRun.objects.all())

        assert summary["hunks_taken"].n == 3 and summary["hunks_taken"].value == pytest.approx(0.5)
        assert summary["runs"] == 4 and summary["acceptance"].total == 0  # no whole drafts


@pytest.mark.django_db
class TestPages:
    def test_the_editor_offers_rewrite_and_continue_to_who_may_ask(self, client, author, draft):
        client.force_login(author)

        page = client.get(reverse("posts:edit", args=[draft.id])).content.decode()

        assert 'id="assist"' in page and "js/assist.js" in page and "Rewrite selection" in page

    def test_asking_answers_with_the_runs_urls(
        self, client, author, draft, django_capture_on_commit_callbacks
    ):
        client.force_login(author)
        start, end = span(TEXT, SELECTED)
        with django_capture_on_commit_callbacks(execute=False) as queued:
            response = client.post(
                reverse("generation:assist"),
                {"post": draft.id, "kind": "rewrite", "text": TEXT, "start": start, "end": end},
            )

        assert response.status_code == 202 and len(queued) == 1
        data = response.json()
        run = GenerationRun.objects.get(id=data["run"])
        assert data["stream"] == reverse("generation:stream", args=[run.id])
        assert data["proposal"] == reverse("generation:proposal", args=[run.id])

    def test_a_refused_request_answers_with_a_sentence(self, client, author, draft):
        client.force_login(author)
        url = reverse("generation:assist")

        empty = client.post(
            url, {"post": draft.id, "kind": "rewrite", "text": TEXT, "start": 4, "end": 4}
        )
        foreign = make_post(UserFactory(roles=[Role.AUTHOR]))
        other = client.post(
            url, {"post": foreign.id, "kind": "continue", "text": "Hi there", "start": 8, "end": 8}
        )
        missing = client.post(
            url, {"post": 999_999, "kind": "continue", "text": "x", "start": 1, "end": 1}
        )
        garbled = client.post(url, {"post": draft.id, "kind": "rewrite"})

        assert empty.status_code == 400 and "Select the words" in empty.json()["error"]
        assert other.status_code == 403 and missing.status_code == 404
        assert garbled.status_code == 400 and garbled.json()["error"]

    def test_the_proposal_comes_as_hunks_and_the_decision_is_recorded(self, client, author, draft):
        start, end = span(TEXT, SELECTED)
        brief = assist_brief(kind="rewrite", text=TEXT, start=start, end=end, title="Evenings")
        run = GenerationRun.objects.create(
            kind="rewrite", channel="general", requested_by=author, post=draft, base_model="tiny",
            status="succeeded", brief=brief, output="The hour before bed is <b>mine</b>",
            hunks_total=2,
        )  # fmt: skip
        client.force_login(author)

        data = client.get(reverse("generation:proposal", args=[run.id])).json()
        taken = client.post(reverse("generation:taken", args=[run.id]), {"accepted": 1, "total": 2})
        page = client.get(reverse("generation:run", args=[run.id])).content.decode()

        assert data["finished"] and data["selection"] == SELECTED
        changes = [(h["old"], h["new"]) for h in data["hunks"] if h["id"]]
        assert changes == [(" quiet", ""), ("mine", "<b>mine</b>")]
        assert taken.status_code == 200 and taken.json() == {"accepted": 1, "total": 2}
        assert "Back to the editor" in page and "took 1 of 2 changes" in page
        assert "&lt;b&gt;mine&lt;/b&gt;" in page and "<b>mine</b>" not in page

    def test_someone_elses_proposal_is_not_found(self, client, author, draft):
        run = GenerationRun.objects.create(
            kind="continue", channel="general", requested_by=author, post=draft, base_model="tiny",
        )  # fmt: skip
        client.force_login(UserFactory(roles=[Role.AUTHOR]))

        assert client.get(reverse("generation:proposal", args=[run.id])).status_code == 404

    def test_an_officers_clinical_editor_has_the_panel(self, client):
        officer = clinician()
        post = make_post(officer, title="Sleep", channel="clinical")
        client.force_login(officer)

        page = client.get(reverse("posts:edit", args=[post.id])).content.decode()

        assert 'id="assist"' in page
        assert json.dumps(post.id) in page
