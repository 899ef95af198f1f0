"""The guard's toxicity check: abusive or profane sentences (scored one by one by the classifier
that ships in alt-profanity-check, or holding a blocked word) become findings at their place,
the targeted revise writes just that sentence again, and the dashboard counts findings by kind
per version."""

import pytest

from generation.guard import check_draft
from generation.stats import summarise
from tests.generation.test_workflow import ListRecorder, run, steps

pytestmark = pytest.mark.django_db

CALM = "I walk to work every morning. The air is cold and the light is soft."
RUDE = "Anyone who disagrees is a fucking idiot."


def toxic(findings: list[dict]) -> list[dict]:
    return [f for f in findings if f["kind"] == "toxic"]


def test_an_abusive_sentence_is_found_at_its_place_and_calm_ones_are_not() -> None:
    text = f"{CALM} {RUDE} Tea helps."
    (finding,) = toxic(check_draft(text, channel="general"))
    assert text[finding["start"] : finding["end"]] == RUDE
    assert finding["label"] == "classifier" and "abusive or profane" in finding["detail"]
    assert toxic(check_draft(CALM, channel="general")) == []
    # Words that only sound violent in plain use stay: "kill the process".
    assert (
        toxic(check_draft("Kill the process before you restart the server.", channel="general"))
        == []
    )


def test_editors_blocked_words_are_findings_too() -> None:
    from generation.models import BlockedWord

    BlockedWord.objects.create(word="snake oil")
    (finding,) = toxic(check_draft(f"{CALM} This cure is snake oil.", channel="general"))
    assert finding["label"] == "blocked" and finding["text"] == "This cure is snake oil."


def test_on_the_clinical_channel_the_finding_keeps_no_text() -> None:
    (finding,) = toxic(check_draft(f"{CALM} {RUDE}", channel="clinical"))
    assert finding["text"] == "" and finding["end"] > finding["start"]


def test_the_targeted_revise_writes_only_the_toxic_sentence_again() -> None:
    asked = []

    def rewrite(messages: list[dict], max_new_tokens: int) -> str:
        asked.append(messages[-1]["content"])
        return "Some people see it differently."

    _, graph_steps = steps([f"{CALM} {RUDE}"])
    graph_steps.check = lambda text: check_draft(text, channel="general")
    graph_steps.rewrite = rewrite
    recorder = ListRecorder()
    state = run(graph_steps, recorder)

    assert recorder.nodes == ["retrieve", "draft", "guard", "revise", "guard", "finalise"]
    assert f"<passage>\n{RUDE}\n</passage>" in asked[0] and "abusive or profane" in asked[0]
    assert state["draft"] == f"{CALM} Some people see it differently."
    assert toxic(state["findings"]) == []


def test_findings_are_counted_by_kind_for_the_dashboard(author) -> None:  # noqa: ANN001
    from django.utils import timezone

    from generation.models import GenerationRun

    for findings in ([{"kind": "toxic"}, {"kind": "phi"}], [{"kind": "toxic"}], []):
        GenerationRun.objects.create(
            channel="general", brief={"topic": "t"}, requested_by=author, base_model="m",
            status="needs_review" if findings else "succeeded", findings=findings,
            finished_at=timezone.now(),
        )  # fmt: skip
    assert summarise(GenerationRun.objects.all())["findings"] == {"phi": 1, "toxic": 2}


def test_editors_keep_the_blocked_words_on_the_dashboard(client, editor, author) -> None:  # noqa: ANN001
    from compliance.models import AuditEvent
    from generation.models import BlockedWord

    client.force_login(editor)
    response = client.post("/generate/dashboard/blocked-words/", {"word": "  Snake   OIL "})
    assert response.status_code == 302 and response.url.endswith("#blocked-words")
    assert list(BlockedWord.objects.values_list("word", flat=True)) == ["snake oil"]
    assert AuditEvent.objects.filter(action="guard.word_added").count() == 1
    (finding,) = toxic(check_draft(f"{CALM} This cure is Snake Oil.", channel="general"))
    assert finding["label"] == "blocked"
    assert "snake oil" in client.get("/generate/dashboard/").content.decode()

    again = client.post("/generate/dashboard/blocked-words/", {"word": "snake oil"}, follow=True)
    assert "is blocked already" in again.content.decode()

    client.force_login(author)  # authors ask for drafts; they do not set the guard's rules
    assert client.post("/generate/dashboard/blocked-words/", {"word": "tea"}).status_code == 403
    client.force_login(editor)
    word = BlockedWord.objects.get()
    client.post(f"/generate/dashboard/blocked-words/{word.id}/delete/")
    assert not BlockedWord.objects.exists()
    assert toxic(check_draft(f"{CALM} This cure is snake oil.", channel="general")) == []
