"""Drafting pages: wiring, who sees which run, status codes, the SSE stream and query counts.

No worker runs here: starting a run only enqueues after commit, and
`django_capture_on_commit_callbacks(execute=False)` shows that something would have been sent.
Finished runs are made as rows directly, with the shapes the services store.
"""

import json
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from generation import views
from generation.models import GenerationRun, RunStep
from generation.services import stream
from posts.models import Post
from tests.accounts.factories import UserFactory
from tests.compliance.factories import make_officer, with_totp
from tests.posts.factories import make_post

GENERAL, CLINICAL = Post.Channel.GENERAL, Post.Channel.CLINICAL
S = GenerationRun.Status
DRAFT = "Sleep comes easier with routine [1]. Skip the <script>alert(1)</script> nightcap [2]."


@pytest.fixture
def officer(officer):  # noqa: ANN001, ANN201
    """The conftest officer with a TOTP device, so the MFA middleware lets them in."""
    return with_totp(officer)


def make_run(by, *, channel: str = GENERAL, status: str = S.QUEUED, **fields) -> GenerationRun:  # noqa: ANN001, ANN003
    fields.setdefault("brief", {"topic": "Sleep <b>hygiene</b>"})
    return GenerationRun.objects.create(
        channel=channel, requested_by=by, status=status, base_model="tiny-base", **fields
    )


def finished_run(author) -> GenerationRun:  # noqa: ANN001
    """A succeeded general run with sources, a finding, a saved post and four steps."""
    cited = make_post(author, title="Evening <routines>", status=Post.Status.PUBLISHED)
    started = timezone.now() - timedelta(seconds=10)
    start = DRAFT.index("<script>")
    run = make_run(
        author,
        status=S.NEEDS_REVIEW,
        output=DRAFT,
        sources=[
            {"n": 1, "source": "post", "post_id": cited.id, "title": cited.title, "score": 0.0312,
             "similarity": 0.81, "heading": "Wind down", "excerpt": "Dim the lights."},
            {"n": 2, "source": "note", "note_uid": "abc", "title": "Clinical note",
             "score": 0.0201, "similarity": None, "excerpt": "[NAME] sleeps poorly."},
        ],
        findings=[
            {"kind": "banned_topic", "label": "script", "start": start,
             "end": start + len("<script>alert(1)</script>"), "text": "<script>alert(1)</script>",
             "detail": "Mentions “<script>”."},
        ],
        new_tokens=120, prompt_tokens=300, first_token_s=0.42, tokens_per_s=31.5,
        started_at=started, finished_at=started + timedelta(seconds=8),
    )  # fmt: skip
    run.post = make_post(author, title="Sleep hygiene")
    run.save(update_fields=["post"])
    offsets = [("retrieve", 0, 300), ("draft", 300, 6000), ("guard", 6300, 200)]
    for seq, (node, at_ms, ms) in enumerate([*offsets, ("finalise", 6500, 100)], start=1):
        RunStep.objects.create(
            run=run,
            seq=seq,
            node=node,
            input={"brief": run.brief} if node == "retrieve" else {"draft": "<i>x</i>"},
            output={"sources": run.sources} if node == "retrieve" else {"ok": True},
            retrieved=run.sources if node == "retrieve" else [],
            findings=run.findings if node == "guard" else [],
            tokens=120 if node == "draft" else 0,
            started_at=started + timedelta(milliseconds=at_ms),
            ended_at=started + timedelta(milliseconds=at_ms + ms),
            duration_ms=ms,
        )
    return run


def url(name: str, run: GenerationRun) -> str:
    return reverse(f"generation:{name}", args=[run.id])


def events(response) -> list:  # noqa: ANN001
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


# --- Permissions


@pytest.mark.django_db
def test_people_who_may_not_ask_for_drafts_get_403(client, outsider) -> None:  # noqa: ANN001
    client.force_login(outsider)
    assert client.get(reverse("generation:new")).status_code == 403
    assert client.post(reverse("generation:new"), {"topic": "x"}).status_code == 403
    assert client.get(reverse("generation:runs")).status_code == 403


@pytest.mark.django_db
def test_an_author_sees_their_own_run_and_another_author_gets_404(client, author) -> None:  # noqa: ANN001
    run = finished_run(author)
    client.force_login(author)
    for name in ("run", "inspector", "stream"):
        assert client.get(url(name, run)).status_code == 200, name
    client.force_login(UserFactory(roles=[Role.AUTHOR]))
    for name in ("run", "inspector", "stream"):
        assert client.get(url(name, run)).status_code == 404, name
    assert client.post(url("cancel", run)).status_code == 404
    # An author oversees nobody's runs: no list of everyone's drafts.
    assert client.get(reverse("generation:runs")).status_code == 403


@pytest.mark.django_db
def test_editors_see_general_runs_and_officers_clinical_ones(
    client, author, editor, officer
) -> None:  # noqa: ANN001
    general = make_run(author)
    clinical = make_run(make_officer(), channel=CLINICAL)  # someone else's
    client.force_login(editor)
    assert client.get(url("run", general)).status_code == 200
    assert client.get(url("run", clinical)).status_code == 404
    client.force_login(officer)
    assert client.get(url("run", clinical)).status_code == 200
    assert client.get(url("run", general)).status_code == 404


# --- The brief form


@pytest.mark.django_db
def test_the_form_offers_only_the_channels_the_user_may_use(client, author, officer) -> None:  # noqa: ANN001
    client.force_login(author)
    assert client.get(reverse("generation:new")).context["form"].fields["channel"].choices == [
        (GENERAL, "General")
    ]
    client.force_login(officer)
    choices = client.get(reverse("generation:new")).context["form"].fields["channel"].choices
    assert [value for value, _ in choices] == [CLINICAL]


@pytest.mark.django_db
def test_a_good_brief_queues_a_run_and_opens_its_page(
    client, author, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    client.force_login(author)
    brief = {"topic": "Sleep", "outline": "why; how", "length": "400", "channel": GENERAL}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("generation:new"), {**brief, "temperature": "0", "seed": 7})
    run = GenerationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == url("run", run)
    assert run.status == S.QUEUED and run.requested_by == author
    assert run.brief["topic"] == "Sleep" and run.brief["length"] == 400
    assert run.sampling["temperature"] == 0 and run.sampling["seed"] == 7
    assert len(callbacks) == 1  # the task, sent after commit


@pytest.mark.django_db
def test_a_bad_brief_is_a_400_with_the_reason(client, author) -> None:  # noqa: ANN001
    client.force_login(author)
    response = client.post(reverse("generation:new"), {"topic": "  ", "channel": GENERAL})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    response = client.post(
        reverse("generation:new"), {"topic": "Sleep", "length": "10", "channel": GENERAL}
    )
    assert (
        response.status_code == 400 and "greater than or equal to 50" in response.content.decode()
    )
    response = client.post(reverse("generation:new"), {"topic": "Sleep", "channel": CLINICAL})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not GenerationRun.objects.exists()


@pytest.mark.django_db
def test_the_form_page_lists_the_users_recent_drafts(client, author, editor) -> None:  # noqa: ANN001
    mine = [make_run(author, brief={"topic": f"Mine {i}"}) for i in range(12)]
    make_run(editor, brief={"topic": "Not mine"})
    client.force_login(author)
    response = client.get(reverse("generation:new"))
    assert [r.id for r in response.context["recent"]] == [r.id for r in reversed(mine)][:10]
    assert "Not mine" not in response.content.decode()


# --- The run page


@pytest.mark.django_db
def test_a_finished_run_shows_its_draft_with_citations_sources_and_findings(client, author) -> None:  # noqa: ANN001
    run = finished_run(author)
    client.force_login(author)
    response = client.get(url("run", run))
    html = response.content.decode()
    cited_post_id = run.sources[0]["post_id"]
    assert response.status_code == 200
    # [1] links to the cited post; [2] is a clinical note: an anchor to the sources list.
    assert f'href="{reverse("posts:detail", args=[cited_post_id])}"' in html
    assert 'href="#source-2"' in html and "Clinical note" in html
    assert "Evening &lt;routines&gt;" in html and "<routines>" not in html
    assert "score 0.031" in html and "similarity 0.810" in html
    # The flagged text is marked where the guard found it, and escaped like everything else.
    assert '<mark class="finding finding-banned_topic"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</mark>" in html
    assert "<script>alert" not in html
    assert "Mentions “&lt;script&gt;”." in html
    assert reverse("posts:edit", args=[run.post_id]) in html
    assert url("inspector", run) in html
    assert "base model" in html and "31.5" in html and "8.0 s" in html
    assert url("stream", run) not in html  # nothing left to stream


CLAIMED = "Tea calms me [1]. In 2019, 1,200 readers took <b>tea</b>. Rest well."


def unsupported(text: str, sentence: str, detail: str) -> dict:
    start = text.index(sentence)
    return {"kind": "unsupported", "label": "number, date", "start": start,
            "end": start + len(sentence), "text": sentence, "detail": detail}  # fmt: skip


@pytest.mark.django_db
def test_a_sentence_with_claims_not_in_the_sources_is_marked_with_a_note_in_words(
    client, author
) -> None:  # noqa: ANN001
    sentence = "In 2019, 1,200 readers took <b>tea</b>."
    tag = CLAIMED.index("<b>")
    run = make_run(
        author, status=S.SUCCEEDED, output=CLAIMED,
        sources=[{"n": 1, "source": "post", "title": "Tea", "score": 0.1, "excerpt": "Tea."}],
        findings=[
            unsupported(CLAIMED, sentence, "States “2019” and “1,200”, not found in your sources."),
            {"kind": "banned_topic", "label": "b", "start": tag, "end": tag + len("<b>tea</b>"),
             "text": "<b>tea</b>", "detail": "Mentions “tea”."},
        ],
    )  # fmt: skip
    client.force_login(author)

    html = client.get(url("run", run)).content.decode()

    detail = "States “2019” and “1,200”, not found in your sources."
    assert f'<span class="finding finding-unsupported" title="{detail}">' in html
    # The guard's own mark stays inside the marked sentence, and the note follows it in words
    # (not colour alone), the icon hidden from screen readers.
    assert (
        '1,200 readers took <mark class="finding finding-banned_topic" title="banned_topic: '
        'Mentions “tea”.">&lt;b&gt;tea&lt;/b&gt;</mark>.<small class="unsupported-note"> '
        f'<span aria-hidden="true">⚠</span> {detail}</small></span> Rest well.'
    ) in html
    assert "1 sentence marked" in html and 'aria-describedby="unsupported-legend"' in html
    assert "<b>tea</b>" not in html


@pytest.mark.django_db
def test_a_clinical_draft_marks_its_unsupported_sentences_but_not_the_guards_raw_offsets(
    client, officer
) -> None:  # noqa: ANN001
    text = "Rest helps. About 40% of [NAME]'s patients sleep better."
    sentence = "About 40% of [NAME]'s patients sleep better."
    finding = unsupported(text, sentence, "States a number not found in your sources.")
    run = make_run(
        officer, channel=CLINICAL, status=S.NEEDS_REVIEW, output=text,
        findings=[
            finding | {"text": "", "label": "number"},
            {"kind": "phi", "label": "NAME", "start": 0, "end": 4, "text": "",
             "detail": "Looks like a person's name (NAME)."},
        ],
    )  # fmt: skip
    client.force_login(officer)

    html = client.get(url("run", run)).content.decode()

    assert '<span class="finding finding-unsupported"' in html
    assert "States a number not found in your sources.</small>" in html
    assert "finding-phi" not in html  # its offsets are the raw draft's, not this text's


@pytest.mark.django_db
def test_an_active_run_streams_and_can_be_cancelled(client, author) -> None:  # noqa: ANN001
    run = make_run(author)
    client.force_login(author)
    html = client.get(url("run", run)).content.decode()
    assert url("stream", run) in html and url("cancel", run) in html
    response = client.post(url("cancel", run), follow=True)
    run.refresh_from_db()
    assert run.status == S.CANCELLED
    assert "cancelled before it started" in response.content.decode()
    # Cancelling a finished run is refused with a message, not an error page.
    response = client.post(url("cancel", run), follow=True)
    assert response.status_code == 200 and "already finished" in response.content.decode()


# --- The stream


@pytest.mark.django_db
def test_the_stream_of_a_finished_run_sends_its_output_then_done(client, author) -> None:  # noqa: ANN001
    run = finished_run(author)
    client.force_login(author)
    response = client.get(url("stream", run))
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    assert events(response) == [
        {"text": DRAFT, "replace": True},
        {"done": True, "status": S.NEEDS_REVIEW, "post": run.post_id},
    ]


def sse(response) -> list[tuple[str, dict]]:  # noqa: ANN001
    """The response's events as (id, message); id '' when the event has none."""
    body = b"".join(response.streaming_content).decode()
    found, entry_id = [], ""
    for line in body.splitlines():
        if line.startswith("id: "):
            entry_id = line[4:]
        elif line.startswith("data: "):
            found.append((entry_id, json.loads(line[6:])))
            entry_id = ""
    return found


@pytest.fixture
def live(monkeypatch):  # noqa: ANN001, ANN201
    """Streams that give up soon if a test fails, and are deleted after it."""
    monkeypatch.setattr(views, "STREAM_MAX_SECONDS", 20)
    runs: list[GenerationRun] = []
    yield runs
    client = redis.Redis.from_url(settings.REDIS_URL)
    for run in runs:
        client.delete(stream.stream_key(run))
    client.close()


def later(*steps) -> threading.Thread:  # noqa: ANN002
    """Run `steps` in a thread, a moment apart, while the test reads the page's stream."""

    def run() -> None:
        for step in steps:
            time.sleep(0.1)
            step()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db
def test_the_stream_relays_what_the_worker_adds_with_ids(client, author, live) -> None:  # noqa: ANN001
    run = make_run(author, status=S.RUNNING)
    live.append(run)
    client.force_login(author)
    response = client.get(url("stream", run))
    worker = later(
        lambda: stream.replace(run, ""),
        lambda: stream.append(run, "Hello <world>"),
        lambda: stream.end(run, "x"),
    )
    try:
        received = sse(response)
    finally:
        worker.join()
    messages = [m for _, m in received]
    assert {"text": "Hello <world>"} in messages
    assert messages[-1] == {"done": True, "status": "x", "post": None}
    ids = [i for i, _ in received]
    assert all(ids) and ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))


@pytest.mark.django_db
def test_a_page_that_opens_mid_draft_gets_the_text_so_far_once_then_the_rest(
    client, author, live
) -> None:  # noqa: ANN001
    run = make_run(author, status=S.RUNNING)
    live.append(run)
    stream.append(run, "An old draft")  # the first draft, replaced by its revision
    stream.replace(run, "")
    for piece in ("Hello", " wor"):  # what the worker wrote before the page came
        stream.append(run, piece)
    client.force_login(author)
    response = client.get(url("stream", run))
    worker = later(
        lambda: stream.append(run, "ld!"),
        lambda: stream.end(run, "x"),
    )
    try:
        received = [m for _, m in sse(response)]
    finally:
        worker.join()
    assert received == [
        {"text": "Hello wor", "replace": True},
        {"text": "ld!"},
        {"done": True, "status": "x", "post": None},
    ]


@pytest.mark.django_db
def test_a_page_that_reconnects_reads_on_after_its_last_event(client, author, live) -> None:  # noqa: ANN001
    run = make_run(author, status=S.RUNNING)
    live.append(run)
    client.force_login(author)
    for piece in ("One", " two"):
        stream.append(run, piece)
    worker = later(lambda: stream.end(run, "x"))
    first = sse(client.get(url("stream", run)))
    worker.join()
    last_seen = first[0][0]  # the page saw the text so far, then lost its connection

    again = sse(client.get(url("stream", run), headers={"Last-Event-ID": last_seen}))

    assert first[0][1] == {"text": "One two", "replace": True}
    assert [m for _, m in again] == [{"done": True, "status": "x", "post": None}]


@pytest.mark.django_db
def test_a_run_that_ended_without_its_end_on_the_stream_ends_the_page_too(
    client, author, live, monkeypatch
) -> None:  # noqa: ANN001
    """Writing to Redis is best effort: the page also looks at the run while the stream is quiet."""
    monkeypatch.setattr(views, "STREAM_HEARTBEAT_SECONDS", 0)
    run = make_run(author, status=S.RUNNING)
    live.append(run)
    client.force_login(author)
    response = client.get(url("stream", run))
    GenerationRun.objects.filter(id=run.id).update(status=S.SUCCEEDED, output="Done it.")

    received = [m for _, m in sse(response)]

    assert received == [
        {"text": "Done it.", "replace": True},
        {"done": True, "status": S.SUCCEEDED, "post": None},
    ]


@pytest.mark.django_db
def test_a_last_event_id_that_is_not_a_stream_id_reads_from_the_start(client, author, live) -> None:  # noqa: ANN001
    run = make_run(author, status=S.RUNNING)
    live.append(run)
    stream.append(run, "So far")
    stream.end(run, "x")
    client.force_login(author)

    received = sse(client.get(url("stream", run), headers={"Last-Event-ID": "$; FLUSHALL"}))

    assert [m for _, m in received] == [
        {"text": "So far", "replace": True},
        {"done": True, "status": "x", "post": None},
    ]


# --- The inspector


@pytest.mark.django_db
def test_the_inspector_draws_the_path_taken_and_the_timeline(client, author) -> None:  # noqa: ANN001
    run = finished_run(author)
    client.force_login(author)
    response = client.get(url("inspector", run))
    html = response.content.decode()
    assert response.status_code == 200 and 'data-mermaid="workflow-mermaid"' in html
    # LangGraph's Mermaid text, in a <details>, which mermaid draws: the guard sent it straight
    # on, so revise and its two edges (3 guard→revise, 5 revise→guard) are not highlighted.
    mermaid = response.context["mermaid"]
    assert "graph TD;" in mermaid and "graph TD;" in html
    assert "\tclass __start__,retrieve,draft,guard,finalise,__end__ taken\n" in mermaid
    assert "\tlinkStyle 0,1,2,4,6 " in mermaid and "mermaid.min.js" in html
    bars = response.context["timeline"]["bars"]
    assert [b["label"] for b in bars] == [f"{s.seq}. {s.node}" for s in run.steps.order_by("seq")]
    assert html.count("<canvas") == 1 and "chart.umd.min.js" in html
    assert "&lt;i&gt;x&lt;/i&gt;" in html and "<i>x</i>" not in html  # step input, escaped
    assert "0.031" in html and "6000 ms" in html and "120 tokens" in html


# --- The run list


@pytest.mark.django_db
def test_the_run_list_filters_by_channel_kind_status_model_and_latency(
    client, author, editor, officer
) -> None:  # noqa: ANN001
    slow = finished_run(author)
    queued = make_run(author, brief={"topic": "Queued one"})
    clinical = make_run(make_officer(), channel=CLINICAL)
    client.force_login(editor)

    def ids(**query: str) -> set[int]:
        response = client.get(reverse("generation:runs"), query)
        assert response.status_code == 200
        return {r.id for r in response.context["runs"]}

    assert ids() == {slow.id, queued.id}  # an editor never sees clinical runs
    assert ids(status=S.QUEUED) == {queued.id}
    assert ids(slower_than="5") == {slow.id} and ids(slower_than="9") == set()
    assert ids(model_version="base") == {slow.id, queued.id}
    assert ids(channel=GENERAL) == {slow.id, queued.id}
    assert ids(slower_than="not a number") == {slow.id, queued.id}  # a bad filter is ignored
    rewrite = make_run(author, kind=GenerationRun.Kind.REWRITE)
    assert ids(kind="rewrite") == {rewrite.id} and ids(kind="draft") == {slow.id, queued.id}
    client.force_login(officer)
    assert ids() == {clinical.id}


@pytest.mark.django_db
def test_the_run_list_query_count_does_not_grow_with_runs(
    client, author, editor, django_assert_max_num_queries
) -> None:  # noqa: ANN001
    for i in range(8):
        make_run(author, brief={"topic": f"Run {i}"})
        make_run(editor, status=S.SUCCEEDED)
    client.force_login(editor)
    client.get(reverse("generation:runs"))  # warm up
    # Session, user, groups, permissions, model versions for the filter, runs: not one per run.
    with django_assert_max_num_queries(7):
        response = client.get(reverse("generation:runs"))
    assert response.status_code == 200 and len(response.context["runs"]) == 16


@pytest.mark.django_db
def test_a_run_never_reads_another_runs_stream_with_the_same_number(author, live) -> None:  # noqa: ANN001
    """Run numbers come back after a database is reset or restored; the stream is keyed by the
    run's thread id, so an old run's text and end are never replayed to a new run's page."""
    import uuid

    old = make_run(author, status=S.SUCCEEDED)
    live.append(old)
    stream.append(old, "Old text")
    stream.end(old, S.SUCCEEDED)
    same_number = GenerationRun(id=old.id, thread_id=uuid.uuid4())

    read = list(stream.follow(same_number, max_seconds=1))

    assert all(entry is None for entry in read)
    assert [e.message for e in stream.follow(old, max_seconds=1) if e][-1]["done"]
