"""Writes and business rules for AI-assisted drafts: start a run, execute it in the worker.

A run executes the LangGraph workflow (generation/workflow.py) with our retriever, the channel's
active model version on the runtime, the guard and a finaliser that saves a draft Post (source
ai_assisted) with its sources as citations. Tokens are published to Redis as they come
(`stream_channel(run)`), for the editor's page. On the clinical channel every text is
de-identified before it is stored anywhere: the brief at the start, and each step's input and
output, the findings and the final draft in the recorder and the finaliser.
"""

import functools
import json
import logging
import threading
import time
import traceback as tb
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from blogllm.heartbeat import Heartbeat
from compliance.audit import Action, audit_record
from generation.guard import blocking, check_draft
from generation.models import GenerationRun, RunStep, VoiceGuide
from posts.models import Post

logger = logging.getLogger(__name__)

BRIEF_FIELDS = ("topic", "outline", "audience", "tone")
CANCEL_CHECK_SECONDS = 1.0
SOURCE_EXCERPT_CHARS = 400


class GenerationCancelled(Exception):
    pass


def deidentified(text: str) -> str:
    """`text` with every PHI span the engine finds replaced by its [LABEL]."""
    from compliance import deid

    if not text:
        return text
    return deid.redact(text, deid.find_spans(text), seed=0, mode="placeholder").text


def sanitizer(channel: str) -> Callable[[Any], Any]:
    """Identity on the general channel; on the clinical channel, de-identify every string in a
    value (dicts and lists walked), so no stored trace holds text that skipped de-identification."""
    if channel != Post.Channel.CLINICAL:
        return lambda value: value

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return deidentified(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return clean


def brief_clean(brief: dict) -> dict:
    topic = str(brief.get("topic") or "").strip()
    if not topic:
        raise ValidationError("A brief needs a topic.")
    clean = {k: str(brief.get(k) or "").strip()[:2000] for k in BRIEF_FIELDS}
    length = brief.get("length")
    if length not in (None, ""):
        try:
            length = int(length)
        except (TypeError, ValueError):
            raise ValidationError("The length is a number of words.") from None
        if not 50 <= length <= 3000:
            raise ValidationError("Ask for between 50 and 3,000 words.")
        clean["length"] = length
    return clean


@transaction.atomic
def generation_run_start(
    *,
    channel: str,
    brief: dict,
    by: User,
    sampling: dict | None = None,
    base_model: str | None = None,
    enqueue: bool = True,
) -> GenerationRun:
    """Queue a draft on the gpu queue, with the channel's active model version (or the base)."""
    from generation.runtime import SamplingSettings

    if not can.can_request_drafts(by, channel):
        raise PermissionDenied(f"You may not ask for AI drafts on the {channel} channel.")
    brief = sanitizer(channel)(brief_clean(brief))
    try:
        sampling_settings = SamplingSettings.from_dict(sampling or {})
    except (TypeError, ValueError) as exc:
        raise ValidationError(str(exc)) from exc
    return _run_create(
        channel=channel,
        by=by,
        enqueue=enqueue,
        base_model=base_model,
        brief=brief,
        sampling=sampling_settings.to_dict(),
    )


def _run_create(
    *, channel: str, by: User, enqueue: bool, base_model: str | None = None, **fields: Any
) -> GenerationRun:
    """A queued run on the model the request gets: an A/B arm's version while an experiment
    runs, else the channel's active version, else the base model. Clinical requests are
    audited; the task is sent once the transaction commits."""
    from generation.feedback import experiment_assign
    from training.models import ModelVersion

    experiment, arm, version = experiment_assign(channel)
    if version is None:
        version = ModelVersion.objects.filter(
            channel=channel, status=ModelVersion.Status.ACTIVE
        ).first()
    run = GenerationRun.objects.create(
        experiment=experiment,
        arm=arm,
        channel=channel,
        requested_by=by,
        model_version=version,
        base_model=base_model or (version.base_model if version else settings.BASE_MODEL),
        phase="Waiting for a worker",
        **fields,
    )
    if channel == Post.Channel.CLINICAL:
        audit_record(action=Action.GENERATION_CLINICAL, actor=by, obj=run, detail={"run": run.id})
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run.id))
    return run


@transaction.atomic
def generation_run_cancel(*, run: GenerationRun, by: User) -> GenerationRun:
    """A queued run ends now; a running one stops at its next token."""
    run = GenerationRun.objects.select_for_update().get(id=run.id)
    if not can.can_oversee_run(by, run):
        raise PermissionDenied("Only whoever asked for a draft, or a reviewer, may cancel it.")
    if run.status == GenerationRun.Status.QUEUED:
        run.status, run.finished_at, run.phase = GenerationRun.Status.CANCELLED, timezone.now(), ""
        run.save(update_fields=["status", "finished_at", "phase"])
        transaction.on_commit(lambda: _publish(run.id, {"done": True, "status": "cancelled"}))
    elif run.status == GenerationRun.Status.RUNNING:
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested"])
    else:
        raise ValidationError("This draft is already finished.")
    return run


@transaction.atomic
def assist_start(
    *,
    post: Post,
    by: User,
    kind: str,
    text: str,
    start: int,
    end: int,
    instruction: str = "",
    enqueue: bool = True,
) -> GenerationRun:
    """Queue a rewrite of text[start:end], or a continuation at `start`, of a post being edited.

    `text` is the editor's text as it is on screen (perhaps not saved yet). On the clinical
    channel nothing that looks like PHI may go to the model or the trace, and the proposal must
    fit the text exactly, so instead of de-identifying quietly, a request is refused."""
    from generation import assist
    from generation.runtime import SamplingSettings

    if not can.can_request_drafts(by, post.channel):
        raise PermissionDenied(f"You may not ask for AI help on the {post.channel} channel.")
    if not can.can_edit_post(by, post):
        raise PermissionDenied("You may not edit this post now, so the AI cannot either.")
    try:
        brief = assist.assist_brief(
            kind=kind, text=text, start=start, end=end, title=post.title, instruction=instruction
        )
    except assist.AssistError as exc:
        raise ValidationError(str(exc)) from exc
    if post.channel == Post.Channel.CLINICAL:
        _refuse_phi(brief)
    tokens = assist.assist_max_tokens(brief, assist.MAX_NEW_TOKENS)
    return _run_create(
        channel=post.channel,
        by=by,
        enqueue=enqueue,
        kind=kind,
        brief=brief | {"post_version": post.version},
        post=post,
        sampling=SamplingSettings(max_new_tokens=tokens).to_dict(),
    )


def _refuse_phi(brief: dict) -> None:
    from compliance import deid

    labels = sorted(
        {
            span.label
            for key in ("before", "selection", "after", "instruction")
            for span in deid.find_spans(brief[key])
        }
    )
    if labels:
        raise ValidationError(
            "The text around the selection looks like it holds protected health information "
            f"({', '.join(labels)}). A clinical post must not: remove it, then ask again."
        )


def assist_decision_record(*, run: GenerationRun, by: User, accepted: int, total: int) -> None:
    """How many of a proposal's hunks the editor took (the dashboard's 'hunks taken')."""
    if not can.can_take_proposal(by, run):
        raise PermissionDenied("Only whoever asked for this proposal can take it.")
    if run.kind == GenerationRun.Kind.DRAFT or run.status in GenerationRun.ACTIVE_STATUSES:
        raise ValidationError("Only a finished rewrite or continuation is taken hunk by hunk.")
    if not 0 <= accepted <= total or total != (run.hunks_total or 0):
        raise ValidationError(f"Expected 0 to {run.hunks_total or 0} hunks taken.")
    _update(run, hunks_accepted=accepted)


def _enqueue(run_id: int) -> None:
    from generation.tasks import generation_run_execute_task

    generation_run_execute_task.delay(run_id)


def stream_channel(run_id: int) -> str:
    return f"blogllm:generation:{run_id}"


# --- In the worker -----------------------------------------------------------------------------


# A run whose worker died is queued again by generation_runs_recover (beat); one that has lost
# its worker this many times (a draft that kills it, say) fails instead of looping forever.
GENERATION_MAX_ATTEMPTS = 3
GAVE_UP_SENTENCE = "The worker stopped three times while writing this draft; ask again."
HEARTBEAT_SECONDS = 10


def generation_run_execute(*, run_id: int, worker: str = "") -> GenerationRun | None:
    """Run (or resume, from its checkpoint) the workflow for one run. Never raises for the run's
    own failure: that is stored on the run, de-identified on the clinical channel."""
    run = _claim(run_id, worker)
    if run is None:
        return None
    # At least three beats per stale period, so only a dead worker's run is recovered.
    seconds = min(HEARTBEAT_SECONDS, settings.GENERATION_STALE_SECONDS / 3)
    heartbeat = Heartbeat(GenerationRun, run.id, seconds=seconds)
    heartbeat.start()
    # Stopped before the run's final status is written (the finaliser, or below): once a run
    # reads as ended, its worker writes to it no more.
    try:
        _execute(run, end=heartbeat.stop)
    except GenerationCancelled:
        heartbeat.stop()
        _update(
            run,
            status=GenerationRun.Status.CANCELLED,
            phase="Cancelled",
            finished_at=timezone.now(),
        )
        _publish(run.id, {"done": True, "status": "cancelled"})
    except Exception as exc:  # noqa: BLE001 - the run records every failure
        error, trace = _failure_texts(run, exc)
        if run.channel == Post.Channel.CLINICAL:
            # The exception's own text may quote the brief or a note: log the cleaned trace.
            logger.error("Generation run %s failed\n%s", run.id, trace)
        else:
            logger.exception("Generation run %s failed", run.id)
        heartbeat.stop()
        _update(
            run,
            status=GenerationRun.Status.FAILED,
            phase="Failed",
            error=error,
            traceback=trace,
            finished_at=timezone.now(),
        )
        _publish(run.id, {"done": True, "status": "failed"})
    finally:
        heartbeat.stop()
    run.refresh_from_db()
    return run


def _claim(run_id: int, worker: str) -> GenerationRun | None:
    """Mark the run as ours, or return None when it is not ours to run: ended, still running on a
    live worker (a second delivery of the task), cancelled, or out of attempts."""
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().filter(id=run_id).first()
        if run is None or run.status not in GenerationRun.ACTIVE_STATUSES:
            return None
        now = timezone.now()
        fresh = now - timezone.timedelta(seconds=settings.GENERATION_STALE_SECONDS)
        if (
            run.status == GenerationRun.Status.RUNNING
            and run.heartbeat_at
            and run.heartbeat_at > fresh
        ):
            logger.info(
                "Generation run %s is already running on %s; not starting it twice",
                run.id,
                run.worker,
            )
            return None
        if run.cancel_requested:  # asked for while its worker was dying
            run.status, run.phase = GenerationRun.Status.CANCELLED, "Cancelled"
            run.finished_at = now
            run.save(update_fields=["status", "phase", "finished_at"])
        elif run.attempts >= GENERATION_MAX_ATTEMPTS:
            logger.warning(
                "Generation run %s lost its worker %s times; failed", run.id, run.attempts
            )
            run.status, run.phase = GenerationRun.Status.FAILED, "Failed"
            run.error, run.finished_at = GAVE_UP_SENTENCE, now
            run.save(update_fields=["status", "phase", "error", "finished_at"])
        else:
            run.status, run.worker, run.heartbeat_at = GenerationRun.Status.RUNNING, worker, now
            run.attempts += 1
            run.started_at = run.started_at or now
            run.save(update_fields=["status", "worker", "heartbeat_at", "attempts", "started_at"])
            return run
    _publish(run.id, {"done": True, "status": run.status})
    return None


def _execute(run: GenerationRun, *, end: Callable[[], None] = lambda: None) -> None:
    """The workflow for `run`; `end` is called just before the finaliser writes the outcome."""
    from langgraph.checkpoint.postgres import PostgresSaver

    from generation.workflow import Steps, build_graph

    stats: dict[str, Any] = {}
    guide = VoiceGuide.objects.filter(author_id=run.requested_by_id).first()
    avoid = guide.avoid_list if guide else []
    steps = Steps(
        retrieve=_retrieve(run),
        write=_writer(run, stats),
        check=lambda text: check_draft(
            text, channel=run.channel, length=run.brief.get("length"), avoid=avoid
        ),
        finalise=_finaliser(run, end),
        max_revisions=settings.GENERATION_MAX_REVISIONS,
        voice=guide.as_prompt() if guide else "",
    )
    if run.kind != GenerationRun.Kind.DRAFT:  # the editor's rewrite or continue
        from generation import assist

        steps.query = assist.assist_query
        steps.prompt = functools.partial(assist.assist_messages, run.kind)
        steps.revise_prompt = functools.partial(assist.assist_revise_messages, run.kind)
        steps.finalise = _assist_finaliser(run, end)
    recorder = StepRecorder(run, stats)
    config = {"configurable": {"thread_id": str(run.thread_id)}}
    with checkpoint_connection() as conn:
        saver = PostgresSaver(conn)
        _checkpoint_tables(saver)
        graph = build_graph(steps, recorder).compile(checkpointer=saver)
        pending = graph.get_state(config)
        _update(run, phase="Writing")
        if pending.next:  # an earlier attempt stopped mid-way: continue after its last node
            logger.info("Generation run %s resumes before %s", run.id, pending.next)
            graph.invoke(None, config)
        else:
            graph.invoke({"brief": run.brief}, config)


_checkpoint_tables_ready = threading.Event()


def _checkpoint_tables(saver: Any) -> None:
    """LangGraph's tables and migrations, checked once per process rather than per draft."""
    if not _checkpoint_tables_ready.is_set():
        saver.setup()
        _checkpoint_tables_ready.set()


def checkpoint_connection() -> Any:
    """A psycopg connection to our database for LangGraph's Postgres checkpointer."""
    import psycopg
    from psycopg.rows import dict_row

    connection.ensure_connection()  # starts the embedded PostgreSQL when it is ours
    params = {
        **connection.get_connection_params(),
        "autocommit": True,
        "prepare_threshold": 0,  # what LangGraph's own from_conn_string uses
        "row_factory": dict_row,
    }
    params.pop("cursor_factory", None)  # Django's; the checkpointer wants plain dict rows
    return psycopg.Connection.connect(**params)


def _retrieve(run: GenerationRun) -> Callable[[str], list[dict]]:
    from generation.retrievers import ChunkRetriever

    retriever = ChunkRetriever(channel=run.channel, k=settings.GENERATION_SOURCES)
    if run.kind != GenerationRun.Kind.DRAFT:
        from generation.assist import SOURCES

        retriever.k = min(SOURCES, settings.GENERATION_SOURCES)

    def retrieve(query: str) -> list[dict]:
        return [{"text": d.page_content, **d.metadata} for d in retriever.invoke(query)]

    return retrieve


def _writer(run: GenerationRun, stats: dict) -> Callable[[list[dict]], str]:
    from generation.runtime import SamplingSettings, get_runtime

    runtime = get_runtime(run.base_model, cache_dir=Path(settings.MODEL_CACHE_DIR))
    sampling = SamplingSettings.from_dict(run.sampling)
    adapter = _adapter(run)
    cancel = threading.Event()
    checked = [0.0]
    clean = sanitizer(run.channel)

    streamed = {"chars": 0}  # of the text being written now

    def on_text(piece: str) -> None:
        # Clinical tokens are not published one by one: a name could span pieces unseen.
        if run.channel != Post.Channel.CLINICAL:
            _stream_append(run.id, piece, offset=streamed["chars"])
            streamed["chars"] += len(piece)
        now = time.monotonic()
        if now - checked[0] >= CANCEL_CHECK_SECONDS:
            checked[0] = now
            if GenerationRun.objects.filter(id=run.id, cancel_requested=True).exists():
                cancel.set()

    def write(messages: list[dict]) -> str:
        streamed["chars"] = 0
        if run.channel != Post.Channel.CLINICAL:
            _stream_reset(run.id, "")  # a revision replaces the draft on the page
        result = runtime.generate(
            messages, sampling, adapter=adapter, cancel=cancel, on_text=on_text
        )
        if result.finish_reason == "cancelled":
            raise GenerationCancelled
        stats.update(
            tokens=result.new_tokens,
            prompt_tokens=result.prompt_tokens,
            first_token_s=result.first_token_s,
            tokens_per_s=result.tokens_per_s,
        )
        if run.channel == Post.Channel.CLINICAL:
            _stream_reset(run.id, clean(result.text))
        return result.text

    return write


def _adapter(run: GenerationRun) -> tuple[str, Path] | None:
    from training.storage import default_storage

    version = run.model_version
    if version is None:
        return None
    folder = Path(settings.MODEL_CACHE_DIR) / "adapters" / f"{version.channel}-{version.id}"
    if not (folder / "adapter_config.json").exists():
        default_storage().get_dir(version.adapter_uri, folder)
    return version.label, folder


def _finaliser(run: GenerationRun, end: Callable[[], None]) -> Callable[[dict], dict]:
    from posts.services.editing import post_create

    clean = sanitizer(run.channel)

    def finalise(state: dict) -> dict:
        text = clean(state["draft"]).strip()
        sources = _stored_sources(state, clean)
        findings = clean(state.get("findings", []))
        status = _outcome(findings)
        style, grounded = draft_scores(run, state["draft"], state.get("sources", []))
        post = post_create(
            author=run.requested_by,
            title=run.brief["topic"][:300],
            body_markdown=text + citations_markdown(sources),
            channel=run.channel,
            source=Post.Source.AI_ASSISTED,
            embed=False,
        )
        end()
        _update(
            run,
            status=status,
            phase="Finished",
            post=post,
            output=text,
            sources=sources,
            findings=findings,
            revisions=state.get("revisions", 0),
            style_fidelity=style,
            grounding=grounded,
            finished_at=timezone.now(),
        )
        _publish(run.id, {"done": True, "status": status, "post": post.id})
        return {"post_id": post.id, "status": status}

    return finalise


def _outcome(findings: list[dict]) -> str:
    """Succeeded, or needs review while the guard still finds something that blocks."""
    if blocking(findings):
        return GenerationRun.Status.NEEDS_REVIEW
    return GenerationRun.Status.SUCCEEDED


def _stored_sources(state: dict, clean: Callable[[Any], Any]) -> list[dict]:
    """The retrieved sources as the run keeps them: metadata and scores, and a short excerpt."""
    return [
        {k: v for k, v in s.items() if k != "text"}
        | {"excerpt": clean(s["text"][:SOURCE_EXCERPT_CHARS])}
        for s in state.get("sources", [])
    ]


def _assist_finaliser(run: GenerationRun, end: Callable[[], None]) -> Callable[[dict], dict]:
    """A rewrite or continuation saves no post: the proposal stays on the run, and the editor
    takes it hunk by hunk (generation/assist.py)."""
    from generation.assist import hunk_count, proposal_text

    clean = sanitizer(run.channel)

    def finalise(state: dict) -> dict:
        proposal = clean(proposal_text(run.kind, run.brief, state["draft"]))
        findings = clean(state.get("findings", []))
        status = _outcome(findings)
        end()
        _update(
            run,
            status=status,
            phase="Finished",
            output=proposal,
            sources=_stored_sources(state, clean),
            findings=findings,
            revisions=state.get("revisions", 0),
            hunks_total=hunk_count(run.kind, run.brief, proposal),
            finished_at=timezone.now(),
        )
        _publish(run.id, {"done": True, "status": status, "post": run.post_id})
        return {"status": status, "hunks": run.hunks_total}

    return finalise


STYLE_REFERENCES = 20


def draft_scores(run: GenerationRun, draft: str, sources: list[dict]) -> tuple:
    """(style fidelity, grounding) of a draft; see generation/scores.py."""
    from generation.scores import grounding, style_fidelity
    from posts.embedder import get_embedder

    embed = get_embedder(settings.EMBED_MODEL).embed
    own = Post.objects.filter(
        author_id=run.requested_by_id, channel=run.channel, status=Post.Status.PUBLISHED
    ).exclude(source=Post.Source.AI_ASSISTED)
    # Held-out posts first: they are what the registry's style score measures against too.
    references = list(
        own.order_by("-split", "-published_at").values_list("body_markdown", flat=True)[
            :STYLE_REFERENCES
        ]
    )
    return (
        style_fidelity(draft, references, embed),
        grounding(draft, [s["text"] for s in sources], embed),
    )


def voice_guide_update(*, author: User, by: User, **fields: str) -> VoiceGuide:
    """Authors keep their own guide; editors may keep anyone's."""
    if not can.can_edit_voice_guide(by, author):
        raise PermissionDenied("Only the author or an editor may change this voice guide.")
    allowed = {"tone", "use_words", "avoid_words", "structure"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"Unknown voice guide field(s): {', '.join(sorted(unknown))}.")
    guide, _ = VoiceGuide.objects.get_or_create(author=author)
    for name, value in fields.items():
        setattr(guide, name, str(value).strip()[:4000])
    guide.save()
    return guide


def citations_markdown(sources: list[dict]) -> str:
    if not sources:
        return ""
    lines = [f"[{s['n']}]: {s.get('title') or 'Source'}" for s in sources]
    return "\n\n## Sources\n\n" + "\n".join(f"- {line}" for line in lines) + "\n"


class StepRecorder:
    """Writes a RunStep per node, de-identified on the clinical channel (see sanitizer)."""

    def __init__(self, run: GenerationRun, stats: dict) -> None:
        self.run, self.stats, self.clean = run, stats, sanitizer(run.channel)
        self.seq = RunStep.objects.filter(run=run).aggregate(n=Max("seq"))["n"] or 0

    def record(self, node: str, *, input: dict, output: dict, seconds: float) -> None:  # noqa: A002
        ended = timezone.now()
        tokens = self.stats.pop("tokens", 0) if node in ("draft", "revise") else 0
        if tokens:
            _update(
                self.run,
                prompt_tokens=self.stats.get("prompt_tokens", 0),
                new_tokens=self.run.new_tokens + tokens,
                first_token_s=self.run.first_token_s or self.stats.get("first_token_s"),
                tokens_per_s=self.stats.get("tokens_per_s"),
            )
        self.seq += 1
        RunStep.objects.create(
            run=self.run,
            seq=self.seq,
            node=node,
            input=self.clean(_jsonable(input)),
            output=self.clean(_jsonable(output)),
            retrieved=self.clean(_jsonable(output.get("sources", []))),
            findings=self.clean(_jsonable(output.get("findings", []))),
            tokens=tokens,
            started_at=ended - timezone.timedelta(seconds=seconds),
            ended_at=ended,
            duration_ms=round(seconds * 1000),
        )
        _update(self.run, phase=f"Finished {node}")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _update(run: GenerationRun, **fields: Any) -> None:
    GenerationRun.objects.filter(id=run.id).update(**fields)
    for name, value in fields.items():
        setattr(run, name, value)


# The stream: each piece is appended to a Redis string (the text so far) and published in one
# transaction, with its offset. A page that subscribes late reads the string after subscribing,
# then skips the pieces it already has (generation/views.py): no word is lost or shown twice.
STREAM_TTL_SECONDS = 3600


def stream_key(run_id: int) -> str:
    return f"blogllm:generation:{run_id}:text"


@functools.cache
def _redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)


def _stream_append(run_id: int, piece: str, *, offset: int) -> None:
    message = json.dumps({"text": piece, "offset": offset})
    _send(run_id, lambda pipe: pipe.append(stream_key(run_id), piece), message)


def _stream_reset(run_id: int, text: str) -> None:
    message = json.dumps({"text": text, "offset": 0, "replace": True})
    _send(run_id, lambda pipe: pipe.set(stream_key(run_id), text), message)


def _publish(run_id: int, message: dict) -> None:
    _send(run_id, lambda pipe: None, json.dumps(message))


def _send(run_id: int, store: Callable[[Any], object], message: str) -> None:
    """Best effort: the stream is a convenience, the stored run is the record."""
    import redis

    try:
        with _redis().pipeline(transaction=True) as pipe:
            store(pipe)
            pipe.expire(stream_key(run_id), STREAM_TTL_SECONDS)
            pipe.publish(stream_channel(run_id), message)
            pipe.execute()
    except redis.RedisError:
        logger.warning("Could not publish generation run %s's text", run_id)


# --- Recovery and failures --------------------------------------------------------------------


def generation_runs_recover() -> list[int]:
    """Queue again every running run whose worker stopped writing heartbeats (it died); the
    next attempt resumes after the last step the checkpointer saved."""
    stale_before = timezone.now() - timezone.timedelta(seconds=settings.GENERATION_STALE_SECONDS)
    recovered = []
    with transaction.atomic():
        # A run left running by a worker from before heartbeats has none: its start counts.
        stale = GenerationRun.objects.select_for_update(skip_locked=True).filter(
            Q(heartbeat_at__lt=stale_before)
            | Q(heartbeat_at__isnull=True, started_at__lt=stale_before),
            status=GenerationRun.Status.RUNNING,
        )
        for run in stale:
            run.status = GenerationRun.Status.QUEUED
            run.phase = "Waiting to resume: the worker stopped answering"
            run.save(update_fields=["status", "phase"])
            recovered.append((run.id, run.worker))
    for run_id, worker in recovered:
        logger.warning("Generation run %s lost its worker %s; queued again", run_id, worker or "?")
        _enqueue(run_id)
    return [run_id for run_id, _ in recovered]


def _failure_texts(run: GenerationRun, exc: BaseException) -> tuple[str, str]:
    """The error sentence and traceback to store and log, through the channel's sanitizer. When
    de-identification itself fails (a long traceback past its time limit), only the exception's
    type and the frames are kept: code, never the message's data."""
    clean = sanitizer(run.channel)
    try:
        return (
            clean(f"The draft could not be written ({type(exc).__name__}: {exc})."),
            clean("".join(tb.format_exception(exc))),
        )
    except Exception:  # noqa: BLE001 - the failure must still be recorded
        logger.warning("Generation run %s: its failure could not be de-identified", run.id)
        frames = "".join(tb.format_tb(exc.__traceback__))
        return (
            f"The draft could not be written ({type(exc).__name__}).",
            f"Traceback (most recent call last):\n{frames}{type(exc).__name__}",
        )
