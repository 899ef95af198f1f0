"""Drafting runs: who may ask, the brief, the guard's findings, the stored trace (and that a
clinical trace holds no PHI), and the whole graph through a real worker on a tiny model."""

import json
import time
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from langgraph.checkpoint.memory import InMemorySaver

from accounts.roles import Role
from compliance.models import AuditEvent, ClinicalNote
from generation.guard import check_draft
from generation.models import GenerationRun, RunStep
from generation.services.execute import generation_run_execute
from generation.services.runs import generation_run_start
from generation.workflow import Steps, build_graph
from posts.models import Post
from posts.services.embedding import posts_embed
from tests.accounts.factories import UserFactory
from tests.compliance.factories import decided, make_note, make_officer
from tests.posts.factories import make_post
from tests.training.factories import ModelVersionFactory

SHORT = {"max_new_tokens": 24, "seed": 3}
TEA = "## Tea\n\nGreen tea in the afternoon keeps me calm; the ritual matters more than the leaf."


@pytest.mark.django_db
class TestStarting:
    def test_authors_ask_for_general_drafts_and_officers_for_clinical_ones(self, author, officer):
        assert generation_run_start(channel="general", brief={"topic": "Tea"}, by=author)
        assert generation_run_start(channel="clinical", brief={"topic": "Sleep"}, by=officer)
        with pytest.raises(PermissionDenied):
            generation_run_start(channel="clinical", brief={"topic": "Sleep"}, by=author)

    def test_a_brief_needs_a_topic_and_a_sensible_length(self, author):
        with pytest.raises(ValidationError, match="topic"):
            generation_run_start(channel="general", brief={"topic": " "}, by=author)
        with pytest.raises(ValidationError, match="between 50 and 3,000"):
            generation_run_start(channel="general", brief={"topic": "Tea", "length": 9}, by=author)
        with pytest.raises(ValidationError, match="temperature"):
            generation_run_start(
                channel="general", brief={"topic": "Tea"}, by=author, sampling={"temperature": 9}
            )

    def test_the_channels_active_version_writes_the_draft(self, author):
        active = ModelVersionFactory(status="active")

        run = generation_run_start(channel="general", brief={"topic": "Tea"}, by=author)

        assert run.model_version == active and run.base_model == active.base_model

    def test_a_clinical_brief_is_de_identified_before_it_is_stored_and_the_request_audited(
        self, officer
    ):
        brief = {"topic": "Call John Smith at 555-201-3344 about his insomnia"}

        run = generation_run_start(channel="clinical", brief=brief, by=officer)

        assert "555-201-3344" not in run.brief["topic"] and "John Smith" not in run.brief["topic"]
        assert "insomnia" in run.brief["topic"]
        assert AuditEvent.objects.filter(action="generation.clinical_context").count() == 1


@pytest.mark.django_db
class TestGuard:
    def test_the_guard_stops_a_draft_with_a_phone_number(self):
        findings = check_draft("Book a session: call 555-201-3344 today.", channel="general")

        assert [f["kind"] for f in findings] == ["phi"] and findings[0]["text"] == "555-201-3344"

    def test_on_the_general_channel_names_the_author_has_published_are_no_finding(self, author):
        text = "Emily Bales told me how she sleeps since 2019. Call 555-201-3344."
        before = {f["text"] for f in check_draft(text, channel="general") if f["kind"] == "phi"}
        assert {"Emily", "Bales", "555-201-3344"} <= before

        make_post(author, status=Post.Status.PUBLISHED, body_markdown="I met emily bales once.")
        findings = check_draft(text, channel="general")

        assert [f["text"] for f in findings] == ["555-201-3344"]  # "2019" alone is no leak
        assert findings[0]["detail"] == "Looks like a phone number (PHONE)."
        clinical = check_draft(text, channel="clinical")  # a clinical draft keeps every hit
        assert {f["label"] for f in clinical} >= {"NAME", "DATE", "PHONE"}

    def test_on_the_general_channel_a_lower_case_word_is_never_a_name(self):
        from compliance.scanning import PhiHit
        from generation.guard import _public_phi

        hits = [PhiHit(6, 10, "NAME", "said"), PhiHit(0, 5, "NAME", "Ottoline")]
        assert [h.text for h in _public_phi(hits)] == ["Ottoline"]

    def test_the_guard_stops_a_verbatim_passage_of_a_clinical_note(self):
        uploader, reviewer = make_officer(), make_officer()
        note = decided(make_note(uploader), by=reviewer, status=ClinicalNote.Status.APPROVED)
        passage = " ".join(note.deid_text.split()[10:30])

        findings = check_draft(f"As I often say, {passage}.", channel="clinical")

        assert "overlap" in {f["kind"] for f in findings}
        assert all(f["text"] == "" for f in findings)  # no clinical text in a stored finding

    def test_banned_topics_and_far_too_short_drafts_are_flagged(self, settings):
        settings.BANNED_TOPICS = ["miracle cure"]

        findings = check_draft("A Miracle Cure for sleep.", channel="general", length=400)

        assert {f["kind"] for f in findings} == {"banned_topic", "length"}

    def test_a_phone_number_the_revise_cannot_rewrite_away_is_dropped_with_its_sentence(self):
        saved = []
        graph = build_graph(
            Steps(
                retrieve=lambda query: [],
                write=lambda messages: "Tea calms me down. Call me on 555-201-3344.",
                check=lambda text: check_draft(text, channel="general"),
                finalise=lambda state: saved.append(state) or {},
                rewrite=lambda messages, limit: "Or call 555-201-3399 instead.",
            ),
            recorder=type("R", (), {"record": lambda *a, **k: None})(),
        ).compile(checkpointer=InMemorySaver())

        state = graph.invoke({"brief": {"topic": "x"}}, {"configurable": {"thread_id": "t"}})

        # The real guard found the number, the sentence came back with another: dropped.
        assert state["revisions"] == 1 and state["findings"] == []
        assert saved[0]["draft"] == "Tea calms me down."


@pytest.mark.django_db
def test_a_run_retrieves_drafts_guards_and_saves_an_ai_assisted_draft(author, tiny_model_dir):
    post = make_post(author, title="Tea", body_markdown=TEA, status="published")
    posts_embed(post_ids=[post.id])
    run = generation_run_start(
        channel="general",
        brief={"topic": "afternoon tea"},
        by=author,
        sampling=SHORT,
        base_model=str(tiny_model_dir),
        enqueue=False,
    )

    run = generation_run_execute(run_id=run.id)

    assert run.status in ("succeeded", "needs_review"), run.traceback
    nodes = list(run.steps.values_list("node", flat=True))
    assert nodes[:3] == ["retrieve", "draft", "guard"] and nodes[-1] == "finalise"
    retrieve = run.steps.get(node="retrieve")
    assert retrieve.retrieved[0]["post_id"] == post.id and retrieve.retrieved[0]["score"] > 0
    assert run.sources[0]["title"] == "Tea" and run.sources[0]["n"] == 1
    draft = run.post
    assert draft.source == Post.Source.AI_ASSISTED and draft.status == Post.Status.DRAFT
    assert f"- [1] [Tea](/posts/{post.id}/#:~:text=" in draft.body_markdown  # the passage's link
    assert run.sources[0]["url"].startswith(f"/posts/{post.id}/#:~:text=")
    assert run.new_tokens > 0 and run.tokens_per_s > 0
    assert run.style_fidelity is not None  # against the author's own published post
    assert run.grounding is None or 0 <= run.grounding <= 1


def stream_messages(run: GenerationRun) -> list[dict]:
    """Every message the run added to its stream, in order (not folded as a late reader sees)."""
    import redis
    from django.conf import settings

    from generation.services.stream import stream_key

    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    return [json.loads(fields["m"]) for _, fields in client.xrange(stream_key(run))]


@pytest.mark.django_db
def test_the_first_draft_after_a_start_says_the_model_is_loading_and_later_ones_do_not(
    author, tiny_model_dir
):
    from generation.runtime import reset_runtimes

    reset_runtimes()
    start = lambda: generation_run_start(  # noqa: E731
        channel="general", brief={"topic": "tea"}, by=author, sampling=SHORT,
        base_model=str(tiny_model_dir), enqueue=False,
    )  # fmt: skip

    first = generation_run_execute(run_id=start().id)
    second = generation_run_execute(run_id=start().id)

    said = [m["status"] for m in stream_messages(first) if "status" in m and not m.get("done")]
    assert said[0].startswith("The model is loading") and said[1] == "Writing"
    said = [m["status"] for m in stream_messages(second) if "status" in m and not m.get("done")]
    assert said == ["Writing"]


@pytest.mark.django_db
def test_a_draft_waiting_for_a_full_batch_shows_its_place_in_line_then_writes(
    author, tiny_model_dir, settings
):
    import threading

    from generation.runtime import SamplingSettings, reset_runtimes
    from generation.services.serving import runtime_for
    from training.samples import chat_messages

    settings.GENERATION_BATCH_MAX = 1
    reset_runtimes()
    runtime = runtime_for(str(tiny_model_dir))  # the worker's, batch of one
    busy, release = threading.Event(), threading.Event()
    other = threading.Thread(target=lambda: runtime.generate(
        chat_messages("Another editor's brief."), SamplingSettings(max_new_tokens=1800),
        cancel=release, on_text=lambda _: busy.set(),
    ))  # fmt: skip
    other.start()
    assert busy.wait(30)
    run = generation_run_start(
        channel="general", brief={"topic": "tea"}, by=author, sampling=SHORT,
        base_model=str(tiny_model_dir), enqueue=False,
    )  # fmt: skip

    def release_when_shown() -> None:
        for _ in range(600):
            if any("in line" in m.get("status", "") for m in stream_messages(run)):
                break
            time.sleep(0.05)
        release.set()

    releaser = threading.Thread(target=release_when_shown)
    releaser.start()
    try:
        run = generation_run_execute(run_id=run.id)
    finally:
        release.set()
        other.join(30)
        releaser.join(30)
        reset_runtimes()

    assert run.status in ("succeeded", "needs_review"), run.traceback
    said = [m["status"] for m in stream_messages(run) if "status" in m and not m.get("done")]
    waiting = "Waiting for the model, busy with other drafts: next in line"
    assert waiting in said and said[said.index(waiting) + 1] == "Writing"


@pytest.mark.django_db
def test_a_draft_its_sources_do_not_support_is_flagged_to_the_editor(author, tiny_model_dir):
    post = make_post(author, title="Tea", body_markdown=TEA, status="published")
    posts_embed(post_ids=[post.id])
    run = generation_run_start(
        channel="general", brief={"topic": "afternoon tea"}, by=author, sampling=SHORT,
        base_model=str(tiny_model_dir), enqueue=False,
    )  # fmt: skip

    run = generation_run_execute(run_id=run.id)  # a random model's words support nothing

    grounding = [f for f in run.findings if f["kind"] == "grounding"]
    assert run.grounding is not None and run.grounding < 0.3
    assert len(grounding) == 1 and "supported" in grounding[0]["detail"]
    assert run.post is not None  # advice: the draft is saved, flagged, not hidden


@pytest.mark.django_db
def test_a_clinical_trace_holds_no_phone_number_or_name_from_the_brief(tiny_model_dir):
    officer = make_officer()
    brief = {"topic": "Jane Doveport called from 555-201-3344 about sleep", "tone": "calm"}
    run = generation_run_start(
        channel="clinical",
        brief=brief,
        by=officer,
        sampling=SHORT,
        base_model=str(tiny_model_dir),
        enqueue=False,
    )

    run = generation_run_execute(run_id=run.id)

    assert run.status in ("succeeded", "needs_review"), run.traceback
    stored = json.dumps(
        [
            list(RunStep.objects.filter(run=run).values()),
            list(GenerationRun.objects.filter(id=run.id).values()),
            list(Post.objects.filter(id=run.post_id).values("title", "body_markdown")),
        ],
        default=str,
    )
    assert "555-201-3344" not in stored and "Doveport" not in stored
    assert "sleep" in stored  # the rest of the brief is there


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_whole_graph_runs_through_a_real_worker(celery_worker_process, tiny_model_dir):
    author = UserFactory(roles=[Role.AUTHOR], email=f"{uuid.uuid4().hex[:8]}@example.com")
    run = generation_run_start(
        channel="general",
        brief={"topic": "walking to work"},
        by=author,
        sampling=SHORT,
        base_model=str(tiny_model_dir),
    )
    deadline = time.monotonic() + 120
    while run.status in GenerationRun.ACTIVE_STATUSES and time.monotonic() < deadline:
        time.sleep(0.3)
        run.refresh_from_db()

    assert run.status in ("succeeded", "needs_review"), run.traceback
    assert run.post.source == Post.Source.AI_ASSISTED
    assert run.steps.first().node == "retrieve" and run.steps.last().node == "finalise"


@pytest.mark.django_db
def test_a_queued_draft_is_cancelled_at_once_and_a_running_one_at_its_next_token(author):
    from generation.services.runs import generation_run_cancel

    queued = generation_run_start(channel="general", brief={"topic": "Tea"}, by=author)
    running = generation_run_start(channel="general", brief={"topic": "Tea"}, by=author)
    GenerationRun.objects.filter(id=running.id).update(status="running")

    generation_run_cancel(run=queued, by=author)
    generation_run_cancel(run=running, by=author)

    queued.refresh_from_db()
    running.refresh_from_db()
    assert queued.status == "cancelled" and running.cancel_requested
    with pytest.raises(ValidationError, match="already finished"):
        generation_run_cancel(run=queued, by=author)
