"""Running a claimed run: the LangGraph workflow (generation/workflow.py) wired to our steps.

The steps: our retriever over the channel's chunks, the channel's model version on the runtime
(its pieces go to the live stream as they come), the guard, and a finaliser that saves the
outcome: a draft Post (source ai_assisted) with its sources as citations, or, for an editor's
rewrite or continuation, a proposal on the run. A StepRecorder writes every node's input,
output and timing. A Postgres checkpointer saves each finished node under the run's thread, so
a run whose worker died resumes after its last finished node. On the clinical channel every
text is de-identified (services/sanitize.py) before it is stored or streamed.
"""

import dataclasses
import functools
import json
import logging
import re
import threading
import time
import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from blogllm import metrics
from blogllm.heartbeat import Heartbeat
from generation.guard import blocking, check_draft, grounding_finding
from generation.models import GenerationRun, RunStep
from generation.services import stream
from generation.services.runs import run_claim, run_update
from generation.services.sanitize import sanitizer
from generation.services.voice import voice_guide_for
from generation.types import Finding, Source, StoredSource
from generation.workflow import DraftState
from posts.models import Post

logger = logging.getLogger(__name__)

CANCEL_CHECK_SECONDS = 1.0
LOADING = "The model is loading"
HEARTBEAT_SECONDS = 10
SOURCE_EXCERPT_CHARS = 400
CITED_WORDS = 6  # of a passage, in the link that opens its post at it
STYLE_REFERENCES = 20


class GenerationCancelled(Exception):
    pass


def generation_run_execute(*, run_id: int, worker: str = "") -> GenerationRun | None:
    """Run (or resume, from its checkpoint) the workflow for one run. Never raises for the run's
    own failure: that is stored on the run, de-identified on the clinical channel."""
    run = run_claim(run_id, worker)
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
        run_update(
            run,
            status=GenerationRun.Status.CANCELLED,
            phase="Cancelled",
            finished_at=timezone.now(),
        )
        stream.end(run, run.status)
    except Exception as exc:  # noqa: BLE001 - the run records every failure
        error, trace = _failure_texts(run, exc)
        if run.channel == Post.Channel.CLINICAL:
            # The exception's own text may quote the brief or a note: log the cleaned trace.
            logger.error("Generation run %s failed\n%s", run.id, trace)
        else:
            logger.exception("Generation run %s failed", run.id)
        heartbeat.stop()
        run_update(
            run,
            status=GenerationRun.Status.FAILED,
            phase="Failed",
            error=error,
            traceback=trace,
            finished_at=timezone.now(),
        )
        stream.end(run, run.status)
    finally:
        heartbeat.stop()
    run.refresh_from_db()
    return run


def _execute(run: GenerationRun, *, end: Callable[[], None] = lambda: None) -> None:
    """The workflow for `run`; `end` is called just before the finaliser writes the outcome."""
    from langgraph.checkpoint.postgres import PostgresSaver

    from generation.runtime import runtime_loaded
    from generation.workflow import Steps, build_graph

    guide = voice_guide_for(run.requested_by_id)
    avoid = guide.avoid_list if guide else []
    if not runtime_loaded(run.base_model):  # the first draft after a start waits for it
        run_update(run, phase=LOADING)
        stream.status(run, f"{LOADING}: the first draft after a start waits about half a minute.")
    writer = Writer(run)
    stream.status(run, "Writing")
    steps = Steps(
        retrieve=functools.partial(_retrieve, _retriever(run)),
        write=writer,
        check=lambda text: check_draft(
            text, channel=run.channel, length=run.brief.get("length"), avoid=avoid
        ),
        finalise=functools.partial(draft_finalise, run, end),
        max_revisions=settings.GENERATION_MAX_REVISIONS,
        voice=guide.as_prompt() if guide else "",
        rewrite=writer.quietly,
        score=functools.partial(draft_quality, run),
        show=writer.show,
    )
    if run.kind != GenerationRun.Kind.DRAFT:  # the editor's rewrite or continue
        from generation import assist

        steps.query = assist.assist_query
        steps.prompt = functools.partial(assist.assist_messages, run.kind)
        steps.clean = functools.partial(assist.assist_clean, run.kind)
        steps.finalise = functools.partial(proposal_finalise, run, end)
    recorder = StepRecorder(run, writer)
    config = {"configurable": {"thread_id": str(run.thread_id)}}
    with checkpoint_connection() as conn:
        saver = PostgresSaver(conn)
        _checkpoint_tables(saver)
        graph = build_graph(steps, recorder).compile(checkpointer=saver)
        pending = graph.get_state(config)
        run_update(run, phase="Writing")
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


# --- The steps --------------------------------------------------------------------------------


def _retriever(run: GenerationRun) -> Any:
    from generation.retrievers import ChunkRetriever

    k = settings.GENERATION_SOURCES
    if run.kind != GenerationRun.Kind.DRAFT:
        from generation.assist import SOURCES

        k = min(SOURCES, k)
    return ChunkRetriever(channel=run.channel, k=k)


def _retrieve(retriever: Any, query: str) -> list[Source]:
    """The retriever's documents as the workflow's sources (numbered by the workflow)."""
    return [{"text": d.page_content, **d.metadata} for d in retriever.invoke(query)]


@dataclass(frozen=True)
class Written:
    """What one call of the model wrote, for the step recorder."""

    tokens: int
    prompt_tokens: int
    first_token_s: float | None
    tokens_per_s: float | None


class Writer:
    """The workflow's `write` step: the run's model writes from the messages. On the general
    channel each piece goes to the live stream as it comes; on the clinical channel a name could
    span pieces unseen, so only the whole de-identified text is sent once it is written. While
    the worker's batch is full the page hears where the draft stands in the queue. Asks the
    database about once a second whether the run was cancelled (waiting too), and stops at the
    next token."""

    def __init__(self, run: GenerationRun) -> None:
        from generation.runtime import SamplingSettings
        from generation.services.serving import runtime_for

        self.run = run
        self.runtime = runtime_for(run.base_model)
        self.sampling = SamplingSettings.from_dict(run.sampling)
        self.adapter = _adapter(run)
        self.live = run.channel != Post.Channel.CLINICAL
        self.cancel = threading.Event()
        self.checked_at = 0.0
        self.last: Written | None = None
        self.queued = 0  # the place in the runtime's queue last shown, 0: not waiting

    def __call__(self, messages: list[dict]) -> str:
        if self.live:
            stream.replace(self.run, "")  # a draft written again replaces the one on the page
        return self._generate(messages, self.sampling, on_text=self.on_text)

    def quietly(self, messages: list[dict], max_new_tokens: int) -> str:
        """One sentence again for the targeted revise: not streamed (the page keeps the draft
        until the revise shows the result), at most `max_new_tokens`."""
        limit = min(max_new_tokens, self.sampling.max_new_tokens)
        sampling = dataclasses.replace(self.sampling, max_new_tokens=limit)
        return self._generate(messages, sampling, on_text=self.check_cancel)

    def show(self, text: str) -> None:
        """The draft as it now stands (cleaned, or revised) in place of what was streamed; on
        the clinical channel, de-identified: the first text the page sees."""
        stream.replace(self.run, text if self.live else sanitizer(self.run.channel)(text))

    def _generate(self, messages: list[dict], sampling: Any, *, on_text: Any) -> str:
        result = self.runtime.generate(
            messages, sampling, adapter=self.adapter, cancel=self.cancel, on_text=on_text,
            on_queue=self.on_queue,
        )  # fmt: skip
        self.started_writing()
        metrics.generation_wait_observe(channel=self.run.channel, seconds=result.waited_s)
        if result.finish_reason == "cancelled":
            raise GenerationCancelled
        earlier = self.last.tokens if self.last else 0  # a revise's sentences add up
        self.last = Written(
            tokens=earlier + result.new_tokens,
            prompt_tokens=result.prompt_tokens,
            first_token_s=self.last.first_token_s if self.last else result.first_token_s,
            tokens_per_s=result.tokens_per_s,
        )
        return result.text

    def on_queue(self, position: int) -> None:
        """Where the draft waits (1: next), shown above the text; checks for a cancel too."""
        if position != self.queued:
            self.queued = position
            ahead = "next in line" if position == 1 else f"number {position} in line"
            stream.status(self.run, f"Waiting for the model, busy with other drafts: {ahead}")
        self.check_cancel()

    def started_writing(self) -> None:
        if self.queued:
            self.queued = 0
            stream.status(self.run, "Writing")

    def on_text(self, piece: str) -> None:
        self.started_writing()
        if self.live:
            stream.append(self.run, piece)
        self.check_cancel(piece)

    def check_cancel(self, piece: str = "") -> None:
        now = time.monotonic()
        if now - self.checked_at >= CANCEL_CHECK_SECONDS:
            self.checked_at = now
            if GenerationRun.objects.filter(id=self.run.id, cancel_requested=True).exists():
                self.cancel.set()

    def take(self) -> Written | None:
        """What the last call wrote, once: a resumed run's recorder must not count it twice."""
        written, self.last = self.last, None
        return written


def _adapter(run: GenerationRun) -> tuple[str, Path] | None:
    from training.services.quality import version_adapter

    return version_adapter(run.model_version) if run.model_version else None


# --- Finalising -------------------------------------------------------------------------------


def draft_finalise(run: GenerationRun, end: Callable[[], None], state: DraftState) -> dict:
    """Save the draft as a Post (source ai_assisted) with its sources as citations."""
    from posts.services.editing import post_create

    clean = sanitizer(run.channel)
    text = clean(state["draft"]).strip()
    sources = stored_sources(state.get("sources", []), clean)
    style, grounded = draft_scores(run, state["draft"], state.get("sources", []))
    weak = grounding_finding(grounded, settings.GENERATION_GROUNDING_MIN) if sources else None
    findings: list[Finding] = clean(state.get("findings", [])) + ([weak] if weak else [])
    findings += unsupported_claims(run, text, state.get("sources", []))
    status = _outcome(findings)
    post = post_create(
        author=run.requested_by,
        title=run.brief["topic"][:300],
        body_markdown=cited(text, sources) + citations_markdown(sources),
        channel=run.channel,
        source=Post.Source.AI_ASSISTED,
        embed=False,
    )
    end()
    run_update(
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
    stream.end(run, status, post.id)
    _observe(run)
    return {"post_id": post.id, "status": status}


def unsupported_claims(run: GenerationRun, text: str, sources: list[Source]) -> list[Finding]:
    """The sentences of the saved draft stating a number, date or name that neither the brief
    nor any source does (generation/claims.py); a prompt-only draft is checked against its
    brief alone. Checked on `text` as stored (de-identified on clinical), so the findings'
    offsets are the page's, and passed through the sanitizer like every stored finding."""
    from generation.claims import unsupported_findings

    found = unsupported_findings(
        text, brief=run.brief, sources=[s["text"] for s in sources], channel=run.channel
    )
    return sanitizer(run.channel)(found)


def proposal_finalise(run: GenerationRun, end: Callable[[], None], state: DraftState) -> dict:
    """A rewrite or continuation saves no post: the proposal stays on the run, and the editor
    takes it hunk by hunk (generation/assist.py)."""
    from generation.assist import hunk_count, proposal_text

    clean = sanitizer(run.channel)
    proposal = clean(proposal_text(run.kind, run.brief, state["draft"]))
    findings: list[Finding] = clean(state.get("findings", []))
    status = _outcome(findings)
    end()
    run_update(
        run,
        status=status,
        phase="Finished",
        output=proposal,
        sources=stored_sources(state.get("sources", []), clean),
        findings=findings,
        revisions=state.get("revisions", 0),
        hunks_total=hunk_count(run.kind, run.brief, proposal),
        finished_at=timezone.now(),
    )
    stream.end(run, status, run.post_id)
    _observe(run)
    return {"status": status, "hunks": run.hunks_total}


def _observe(run: GenerationRun) -> None:
    """The finished run's speed, findings and revisions, for /metrics (blogllm.metrics)."""

    metrics.generation_observe(
        channel=run.channel, status=run.status, first_token_s=run.first_token_s,
        tokens_per_s=run.tokens_per_s, finding_kinds=[f["kind"] for f in run.findings],
        revisions=run.revisions,
    )  # fmt: skip


def _outcome(findings: list[Finding]) -> str:
    """Succeeded, or needs review while the guard still finds something that blocks."""
    if blocking(findings):
        return GenerationRun.Status.NEEDS_REVIEW
    return GenerationRun.Status.SUCCEEDED


def stored_sources(sources: list[Source], clean: Callable[[Any], Any]) -> list[StoredSource]:
    """The retrieved sources as the run keeps them: metadata and scores, a short excerpt, and
    for a post's passage a link that opens the post at it."""
    return [
        {k: v for k, v in s.items() if k != "text"}
        | {"excerpt": clean(s["text"][:SOURCE_EXCERPT_CHARS])}
        | ({"url": passage_url(s)} if s.get("post_id") else {})
        for s in sources
    ]


def passage_url(source: Source) -> str:
    """The source post's page, scrolled to the passage and highlighted there by the browser (a
    text fragment of the passage's first words)."""
    from urllib.parse import quote

    from django.urls import reverse

    first = " ".join(source["text"].split()[:CITED_WORDS])
    return reverse("posts:detail", args=[source["post_id"]]) + "#:~:text=" + quote(first)


CITATION = re.compile(r"(?<![\\\[])\[(\d{1,2})\](?![(\[:])")


def cited(text: str, sources: list[StoredSource]) -> str:
    """Each [n] in the draft as a link to its passage; an [n] with no such source is dropped
    (the model made it up), a note's stays as text (its page is the officers')."""
    urls = {s["n"]: s.get("url") for s in sources}

    def link(match: re.Match) -> str:
        n = int(match[1])
        if n not in urls:
            return ""
        return f"[\\[{n}\\]]({urls[n]})" if urls[n] else match[0]

    return re.sub(r"[ \t]+([.,;:!?])", r"\1", CITATION.sub(link, text)) if sources else text


def citations_markdown(sources: list[StoredSource]) -> str:
    if not sources:
        return ""
    lines = [
        f"[{s['n']}] [{s.get('title') or 'Source'}]({s['url']})"
        if s.get("url")
        else f"[{s['n']}] {s.get('title') or 'Source'}"
        for s in sources
    ]
    return "\n\n## Sources\n\n" + "\n".join(f"- {line}" for line in lines) + "\n"


def draft_quality(run: GenerationRun, draft: str, sources: list[Source]) -> float:
    """One number for the revise to keep the better draft by: style fidelity plus grounding,
    the two scores the editor sees (a missing one counts 0)."""
    style, grounded = draft_scores(run, draft, sources)
    return (style or 0.0) + (grounded or 0.0)


def draft_scores(run: GenerationRun, draft: str, sources: list[Source]) -> tuple:
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


# --- The trace --------------------------------------------------------------------------------


class StepRecorder:
    """Writes a RunStep per node, de-identified on the clinical channel (see sanitize.py), and
    the run's token counts and speed after each model call."""

    def __init__(self, run: GenerationRun, writer: Writer | None = None) -> None:
        self.run, self.writer, self.clean = run, writer, sanitizer(run.channel)
        self.seq = RunStep.objects.filter(run=run).aggregate(n=Max("seq"))["n"] or 0

    def record(self, node: str, *, input: dict, output: dict, seconds: float) -> None:  # noqa: A002
        ended = timezone.now()
        written = self.writer.take() if self.writer and node in ("draft", "revise") else None
        if written and written.tokens:
            run_update(
                self.run,
                prompt_tokens=written.prompt_tokens,
                new_tokens=self.run.new_tokens + written.tokens,
                first_token_s=self.run.first_token_s or written.first_token_s,
                tokens_per_s=written.tokens_per_s,
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
            tokens=written.tokens if written else 0,
            started_at=ended - timezone.timedelta(seconds=seconds),
            ended_at=ended,
            duration_ms=round(seconds * 1000),
        )
        run_update(self.run, phase=f"Finished {node}")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# --- Failures ---------------------------------------------------------------------------------


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
