"""AI drafts: the brief form, a run's live page, its token stream, the inspector, the run list,
thumbs on a draft, the author's voice guide and the per-version dashboard with A/B experiments.

Each view parses input, checks permission, calls one service or selector, renders. Who sees a
run is selectors.run_get_for: another person's run is a 404. The stream is server-sent events
relayed from Redis pub/sub (services._publish); it holds a gthread worker thread while open, so
it ends on the run's `done` message or after STREAM_MAX_SECONDS, and the browser reconnects.
"""

import json
import re
import time
from collections.abc import Iterator
from functools import cache

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from generation import graph_svg, selectors
from generation.assist import proposal_hunks
from generation.feedback import experiment_start, experiment_stop, feedback_give
from generation.forms import (
    AssistForm,
    BriefForm,
    ExperimentForm,
    FeedbackForm,
    RunFilterForm,
    TakenForm,
    VoiceGuideForm,
)
from generation.models import Experiment, GenerationRun, RunStep
from generation.services import (
    assist_decision_record,
    assist_start,
    generation_run_cancel,
    generation_run_start,
    stream_channel,
    stream_key,
    voice_guide_update,
)
from generation.stats import Mean, Rate, experiment_results, version_dashboard
from posts.diffs import diff_html
from posts.models import Post

STREAM_MAX_SECONDS = 600  # a streaming response holds a gthread thread: never for long
STREAM_HEARTBEAT_SECONDS = 10  # keeps proxies from closing an idle connection
STREAM_RETRY_MS = 3000
CITATION = re.compile(r"\[(\d{1,3})\]")


def _error_text(exc: Exception) -> str:
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


def _run_for(request: HttpRequest, run_id: int) -> GenerationRun:
    try:
        return selectors.run_get_for(request.user, run_id)
    except GenerationRun.DoesNotExist:
        raise Http404("No such draft, or not one you may see.") from None


def _safe(html: str) -> SafeString:
    # graph_svg and draft_html escape every text they place and format every number themselves.
    return mark_safe(html)  # noqa: S308


# --- Presentation helpers ------------------------------------------------------------------


def draft_html(text: str, *, sources: list[dict], findings: list[dict]) -> SafeString:
    """The draft, escaped, with guard findings as <mark> (by their offsets) and citation
    markers [n] as links to the cited source. Overlapping findings: the first one wins."""
    spans = sorted(
        (f["start"], f["end"], f)
        for f in findings
        if isinstance(f.get("start"), int)
        and isinstance(f.get("end"), int)
        and 0 <= f["start"] < f["end"] <= len(text)
    )
    targets = {s.get("n"): s for s in sources}
    parts, at = [], 0
    for start, end, finding in spans:
        if start < at:
            continue
        parts.append(_cited(text[at:start], targets))
        title = escape(f"{finding.get('kind', '')}: {finding.get('detail', '')}")
        parts.append(
            f'<mark class="finding finding-{escape(finding.get("kind", ""))}" title="{title}">'
            f"{_cited(text[start:end], targets)}</mark>"
        )
        at = end
    parts.append(_cited(text[at:], targets))
    return _safe("".join(parts))


def _cited(text: str, targets: dict) -> str:
    def link(match: re.Match) -> str:
        source = targets.get(int(match[1]))
        if source is None:
            return match[0]
        href = f"#source-{int(match[1])}"
        if source.get("post_id"):
            href = reverse("posts:detail", args=[source["post_id"]])
        title = escape(source.get("title") or "Source")
        return f'<a class="citation" href="{href}" title="{title}">[{int(match[1])}]</a>'

    return CITATION.sub(link, str(escape(text)))


def source_rows(run: GenerationRun) -> list[dict]:
    rows = []
    for source in run.sources:
        post_id = source.get("post_id") if source.get("source") != "note" else None
        rows.append(
            {
                **source,
                "is_note": source.get("source") == "note",
                "url": reverse("posts:detail", args=[post_id]) if post_id else "",
            }
        )
    return rows


def proposal_html(run: GenerationRun) -> SafeString:
    """A rewrite or continuation as a diff against the selection it was asked for ('' for a
    whole draft); diff_html escapes every text it places."""
    if run.kind == GenerationRun.Kind.DRAFT or not run.output:
        return _safe("")
    return _safe(diff_html(run.brief.get("selection", ""), run.output)[0])


def run_figures(run: GenerationRun) -> dict:
    return {
        "model": run.model_version.label if run.model_version else "base model",
        "latency_s": run.latency_s,
    }


def score_rows(run: GenerationRun) -> list[dict]:
    """The two scores an editor sees before submitting, as a percentage and a bar width."""

    def row(label: str, value: float | None, help_text: str) -> dict:
        percent = None if value is None else round(min(max(value, 0.0), 1.0) * 100)
        return {"label": label, "percent": percent, "help": help_text}

    return [
        row("Style fidelity", run.style_fidelity, "How close the draft is to your own posts."),
        row("Grounding", run.grounding, "Share of sentences a retrieved source supports."),
    ]


def rate_text(rate: Rate) -> str:
    """'42% (25–61%)': the rate and its 95% interval; '—' without data."""
    if rate.value is None:
        return "—"
    low, high = rate.interval
    return f"{rate.value:.0%} ({low * 100:.0f}–{high * 100:.0f}%)"


def mean_text(mean: Mean, *, digits: int = 2, unit: str = "") -> str:
    """'0.31 (0.20–0.42)': the mean and its 95% interval when there is one; '—' without data."""
    if mean.value is None:
        return "—"
    text = f"{mean.value:.{digits}f}"
    if mean.interval is not None:
        low, high = mean.interval
        text += f" ({low:.{digits}f}–{high:.{digits}f})"
    return f"{text} {unit}".strip()


def summary_cells(summary: dict) -> dict:
    """stats.summarise's figures as the dashboard's text cells."""
    acceptance, thumbs = summary["acceptance"], summary["thumbs_up"]
    tps = summary["tokens_per_s"]
    return {
        "runs": summary["runs"],
        "acceptance": rate_text(acceptance),
        "acceptance_n": f"{acceptance.hits}/{acceptance.total}",
        "thumbs_up": rate_text(thumbs),
        "thumbs_n": f"{thumbs.hits}/{thumbs.total}",
        "edit_distance": mean_text(summary["edit_distance"]),
        "hunks_taken": mean_text(summary["hunks_taken"]),
        "latency": mean_text(summary["latency_s"], digits=1, unit="s"),
        "tokens_per_s": "—" if tps is None else f"{tps:.1f}",
    }


@cache
def workflow_description() -> tuple[list[str], list[graph_svg.Edge], str]:
    """LangGraph's own nodes, edges and Mermaid text for the workflow, built once per process
    (imported here, not at the top: the web process must not load langgraph until asked)."""
    from generation.workflow import Steps, build_graph, mermaid

    def unused(*args: object) -> None:
        raise AssertionError("The inspector's graph is drawn, never run.")

    class Silent:
        def record(self, node: str, **kwargs: object) -> None:
            pass

    graph = build_graph(Steps(unused, unused, unused, unused), Silent())
    drawn = graph.compile().get_graph()
    edges = [(e.source, e.target, bool(e.conditional)) for e in drawn.edges]
    return list(drawn.nodes), edges, mermaid(graph)


def timeline(run: GenerationRun, steps: list[RunStep]) -> str:
    if not steps:
        return ""
    origin = run.started_at or steps[0].started_at
    bars = [
        (f"{s.seq}. {s.node}", (s.started_at - origin).total_seconds(), s.duration_ms / 1000)
        for s in steps
    ]
    return graph_svg.timeline_svg(bars, title=f"Steps of run #{run.id}")


def step_rows(steps: list[RunStep]) -> list[dict]:
    def pretty(value: object) -> str:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)

    return [{"step": s, "input": pretty(s.input), "output": pretty(s.output)} for s in steps]


# --- Pages ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def new(request: HttpRequest) -> HttpResponse:
    """The brief form and the user's recent drafts; POST queues a draft."""
    channels = selectors.requestable_channels(request.user)
    if not channels:
        raise PermissionDenied("You may not ask for AI drafts.")
    form = BriefForm(request.POST or None, channels=channels)
    if request.method == "POST" and form.is_valid():
        try:
            run = generation_run_start(
                channel=form.cleaned_data["channel"],
                brief=form.brief(),
                by=request.user,
                sampling=form.sampling(),
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, _error_text(exc))
        else:
            messages.success(request, f"Draft #{run.id} queued; it appears below as it is written.")
            return redirect("generation:run", run_id=run.id)
    context = {"form": form, "recent": selectors.run_recent_for(request.user)}
    return render(request, "generation/new.html", context, status=400 if form.errors else 200)


@require_GET
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_for(request, run_id)
    finished = run.status not in GenerationRun.ACTIVE_STATUSES
    context = {
        "run": run,
        "finished": finished,
        "figures": run_figures(run),
        "can_cancel": not finished and not run.cancel_requested,
        "draft": draft_html(
            run.output,
            sources=run.sources,
            findings=run.findings if run.channel == Post.Channel.GENERAL else [],
        ),
        "sources": source_rows(run),
        "proposal": proposal_html(run) if finished else "",
        "scores": score_rows(run) if finished and run.kind == GenerationRun.Kind.DRAFT else [],
        "feedback": selectors.run_feedback_for(request.user, run) if finished else None,
    }
    return render(request, "generation/run.html", context)


@require_POST
def run_feedback(request: HttpRequest, run_id: int) -> HttpResponse:
    """Thumbs up or down, with an optional comment; giving it again replaces the earlier one."""
    run = _run_for(request, run_id)
    form = FeedbackForm(request.POST)
    if run.status in GenerationRun.ACTIVE_STATUSES:
        messages.error(request, "Rate the draft once it is finished.")
    elif not form.is_valid():
        messages.error(
            request, "Choose thumbs up or thumbs down; a comment is at most 2000 characters."
        )
    else:
        try:
            feedback_give(
                run=run,
                by=request.user,
                thumbs_up=form.thumbs_up,
                comment=form.cleaned_data["comment"],
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, "Thanks: your feedback on this draft is saved.")
    return redirect("generation:run", run_id=run.id)


@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_for(request, run_id)
    try:
        run = generation_run_cancel(run=run, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        if run.status == GenerationRun.Status.CANCELLED:
            messages.success(request, f"Draft #{run.id} cancelled before it started.")
        else:
            messages.success(request, f"Draft #{run.id} stops at its next token.")
    return redirect("generation:run", run_id=run.id)


@require_GET
def run_stream(request: HttpRequest, run_id: int) -> StreamingHttpResponse:
    run = _run_for(request, run_id)
    response = StreamingHttpResponse(_events(run), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _event(message: dict) -> bytes:
    return f"data: {json.dumps(message)}\n\n".encode()


def _finished_events(run: GenerationRun) -> Iterator[bytes]:
    yield _event({"text": run.output, "replace": True})
    yield _event({"done": True, "status": run.status, "post": run.post_id})


def _events(run: GenerationRun) -> Iterator[bytes]:
    """The run's messages as server-sent events: stored output if it is over, else live.

    Subscribes before looking at the run again, so a run that finishes in between is seen
    either in the database or on the channel, never missed."""
    import redis

    if run.status not in GenerationRun.ACTIVE_STATUSES:
        yield from _finished_events(run)
        return
    client = redis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(stream_channel(run.id))
        yield f"retry: {STREAM_RETRY_MS}\n: subscribed\n\n".encode()
        run.refresh_from_db(fields=["status", "output", "post"])
        if run.status not in GenerationRun.ACTIVE_STATUSES:
            yield from _finished_events(run)
            return
        # The text so far, read after subscribing: later pieces come on the channel, and
        # _relay skips those this already holds (see generation/services.py, the stream).
        so_far = (client.get(stream_key(run.id)) or b"").decode()
        if so_far:
            yield _event({"text": so_far, "offset": 0, "replace": True})
        yield from _relay(pubsub, len(so_far))
    finally:
        pubsub.close()
        client.close()


def _relay(pubsub: object, have: int = 0) -> Iterator[bytes]:
    """Relay the channel's messages; `have` is how many characters of the current text the
    page already holds, so a piece it already has is skipped (or cut to its new part)."""
    started = beat = time.monotonic()
    while time.monotonic() - started < STREAM_MAX_SECONDS:
        message = pubsub.get_message(timeout=1.0)
        if message and message.get("type") == "message":
            data = message["data"]
            text = data.decode() if isinstance(data, bytes) else str(data)
            try:
                parsed = json.loads(text)
            except ValueError:
                continue  # not ours
            if not isinstance(parsed, dict):
                continue
            if "offset" in parsed and not parsed.get("replace"):
                piece, offset = str(parsed.get("text", "")), int(parsed["offset"])
                if offset + len(piece) <= have:
                    continue  # already in the text so far
                parsed = {**parsed, "text": piece[max(0, have - offset) :]}
                have = offset + len(piece)
            elif parsed.get("replace"):
                have = len(str(parsed.get("text", "")))
            yield _event(parsed)
            if parsed.get("done"):
                return
        if time.monotonic() - beat >= STREAM_HEARTBEAT_SECONDS:
            beat = time.monotonic()
            yield b": heartbeat\n\n"


@require_GET
def inspector(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_for(request, run_id)
    steps = selectors.run_steps(run)
    nodes, edges, mermaid_text = workflow_description()
    finished = run.status not in GenerationRun.ACTIVE_STATUSES
    path, taken_edges = graph_svg.path_taken(
        [s.node for s in steps], finished=finished and bool(steps) and steps[-1].node == "finalise"
    )
    svg = graph_svg.graph_svg(nodes, edges, taken_nodes=path, taken_edges=taken_edges)
    context = {
        "run": run,
        "figures": run_figures(run),
        "graph": _safe(svg),
        "mermaid": mermaid_text,
        "path": [n for n in path if not n.startswith("__")],
        "timeline": _safe(timeline(run, steps)),
        "steps": step_rows(steps),
    }
    return render(request, "generation/inspector.html", context)


@require_GET
def runs(request: HttpRequest) -> HttpResponse:
    """Every run on the channels the user oversees, filtered."""
    channels = selectors.reviewable_channels(request.user)
    if not channels:
        raise PermissionDenied("Only editors and compliance officers see everyone's drafts.")
    form = RunFilterForm(request.GET or None, channels=channels)
    rows = list(selectors.run_list_for(request.user, form.filters())[: selectors.RUN_LIST_LIMIT])
    context = {"form": form, "runs": rows, "limit": selectors.RUN_LIST_LIMIT}
    return render(request, "generation/runs.html", context)


@require_http_methods(["GET", "POST"])
def voice(request: HttpRequest) -> HttpResponse:
    """The signed-in author's voice guide; an editor keeps another author's with ?author=<id>."""
    if not selectors.requestable_channels(request.user):
        raise PermissionDenied("Only those who may ask for AI drafts keep a voice guide.")
    author_id = request.GET.get("author") or None
    try:
        guide = selectors.voice_guide_get_for(request.user, int(author_id) if author_id else None)
    except (ValueError, User.DoesNotExist):
        raise Http404("No such author.") from None
    initial = {f: getattr(guide, f) for f in ("tone", "use_words", "avoid_words", "structure")}
    form = VoiceGuideForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            voice_guide_update(author=guide.author, by=request.user, **form.cleaned_data)
        except ValidationError as exc:  # PermissionDenied: a 403, as for the GET
            form.add_error(None, _error_text(exc))
        else:
            messages.success(request, "The voice guide is saved; new drafts follow it.")
            return redirect(request.get_full_path())
    context = {"form": form, "guide": guide, "own": guide.author_id == request.user.id}
    return render(request, "generation/voice.html", context, status=400 if form.errors else 200)


def _channel_dashboard(channel: str, channels: list[str]) -> dict:
    experiments = []
    for experiment in selectors.experiments_for(channel):
        results = experiment_results(experiment)
        experiments.append(
            {
                "experiment": experiment,
                "arms": [
                    {"arm": "A", "version": experiment.version_a, **summary_cells(results["a"])},
                    {"arm": "B", "version": experiment.version_b, **summary_cells(results["b"])},
                ],
            }
        )
    return {
        "channel": channel,
        "label": Post.Channel(channel).label,
        "versions": [
            {"label": row["label"], **summary_cells(row)} for row in version_dashboard(channel)
        ],
        "experiments": experiments,
        "running": any(e["experiment"].active for e in experiments),
        "form": ExperimentForm(channel=channel, channels=channels),
    }


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Per model version: acceptance, thumbs, edit distance and speed, with 95% intervals; the
    channel's A/B experiments below. Editors see the general channel, officers the clinical one."""
    channels = selectors.reviewable_channels(request.user)
    if not channels:
        raise PermissionDenied("Only editors and compliance officers see the dashboard.")
    sections = [_channel_dashboard(c, channels) for c in channels]
    return render(request, "generation/dashboard.html", {"sections": sections})


@require_POST
def experiment_new(request: HttpRequest) -> HttpResponse:
    channels = selectors.reviewable_channels(request.user)
    channel = request.POST.get("channel", "")
    if channel not in channels:
        raise PermissionDenied("You may not run experiments on this channel.")
    form = ExperimentForm(request.POST, channel=channel, channels=channels)
    if not form.is_valid():
        errors = [
            f"{form.fields[f].label or f}: {' '.join(e)}" if f != "__all__" else " ".join(e)
            for f, e in form.errors.items()
        ]
        messages.error(request, "The experiment was not started. " + " ".join(errors))
        return redirect("generation:dashboard")
    data = form.cleaned_data
    try:
        experiment = experiment_start(
            name=data["name"],
            version_a=data["version_a"],
            version_b=data["version_b"],
            share_b=data["share_b"],
            by=request.user,
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"Experiment “{experiment.name}” started.")
    return redirect("generation:dashboard")


@require_POST
def experiment_end(request: HttpRequest, experiment_id: int) -> HttpResponse:
    try:
        experiment = selectors.experiment_get_for(request.user, experiment_id)
    except Experiment.DoesNotExist:
        raise Http404("No such experiment, or not one you may see.") from None
    if not experiment.active:
        messages.info(request, f"Experiment “{experiment.name}” had already ended.")
        return redirect("generation:dashboard")
    try:
        experiment_stop(experiment=experiment, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"Experiment “{experiment.name}” stopped.")
    return redirect("generation:dashboard")


# --- The post editor's rewrite and continue (static/js/assist.js) ----------------------------


def _json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@require_POST
def assist_request(request: HttpRequest) -> JsonResponse:
    """Queue a rewrite of the editor's selection, or a continuation at its cursor."""
    form = AssistForm(request.POST)
    if not form.is_valid():
        return _json_error("The request was incomplete; reload the editor and try again.", 400)
    data = form.cleaned_data
    post = Post.objects.filter(id=data["post"]).first()
    if post is None:
        return _json_error("This post no longer exists.", 404)
    try:
        run = assist_start(
            post=post,
            by=request.user,
            kind=data["kind"],
            text=data["text"],
            start=data["start"],
            end=data["end"],
            instruction=data["instruction"],
        )
    except PermissionDenied as exc:
        return _json_error(str(exc), 403)
    except ValidationError as exc:
        return _json_error(_error_text(exc), 400)
    return JsonResponse(
        {
            "run": run.id,
            "stream": reverse("generation:stream", args=[run.id]),
            "proposal": reverse("generation:proposal", args=[run.id]),
            "cancel": reverse("generation:cancel", args=[run.id]),
            "page": reverse("generation:run", args=[run.id]),
        },
        status=202,
    )


@require_GET
def proposal(request: HttpRequest, run_id: int) -> JsonResponse:
    """A rewrite's or continuation's state, and once finished its hunks (posts.diffs.Hunk)."""
    run = _run_for(request, run_id)
    if run.kind == GenerationRun.Kind.DRAFT:
        raise Http404("This run wrote a whole draft, not a proposal.")
    finished = run.status not in GenerationRun.ACTIVE_STATUSES
    proposed = finished and run.status in (
        GenerationRun.Status.SUCCEEDED,
        GenerationRun.Status.NEEDS_REVIEW,
    )
    hunks = proposal_hunks(run.kind, run.brief, run.output) if proposed else []
    return JsonResponse(
        {
            "run": run.id,
            "kind": run.kind,
            "status": run.status,
            "status_label": run.get_status_display(),
            "finished": finished,
            "error": run.error,
            "selection": run.brief.get("selection", ""),
            "hunks": [h.to_dict() for h in hunks],
            "findings": [
                {"kind": f.get("kind", ""), "detail": f.get("detail", "")} for f in run.findings
            ],
            "taken": reverse("generation:taken", args=[run.id]),
        }
    )


@require_POST
def proposal_taken(request: HttpRequest, run_id: int) -> JsonResponse:
    """The editor took `accepted` of the proposal's `total` hunks (for the dashboard)."""
    run = _run_for(request, run_id)
    form = TakenForm(request.POST)
    if not form.is_valid():
        return _json_error("Say how many hunks were taken, of how many.", 400)
    try:
        assist_decision_record(run=run, by=request.user, **form.cleaned_data)
    except PermissionDenied as exc:
        return _json_error(str(exc), 403)
    except ValidationError as exc:
        return _json_error(_error_text(exc), 400)
    return JsonResponse({"accepted": run.hunks_accepted, "total": run.hunks_total})
