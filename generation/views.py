"""AI drafts: the brief form, a run's live page, its token stream, the inspector, the run list,
thumbs on a draft, the author's voice guide and the per-version dashboard with A/B experiments.

Each view parses input, checks permission, calls one service or selector, renders. Who sees a
run is selectors.run_get_for: another person's run is a 404. The live text is server-sent events
read from the run's Redis stream (generation/services/stream.py), each with the stream entry's
id; it holds a gthread worker thread while open, so it ends on the run's `done` message or after
STREAM_MAX_SECONDS, and the browser reconnects with the last id it got (Last-Event-ID).
"""

import json
import time
from collections.abc import Iterator

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
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
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from blogllm.refusals import refusal_text
from generation import graph, selectors
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
from generation.models import BlockedWord, Experiment, GenerationRun
from generation.presentation import (
    draft_findings,
    draft_html,
    proposal_html,
    run_figures,
    score_rows,
    source_rows,
    step_rows,
    summary_cells,
    timeline,
)
from generation.services import stream
from generation.services.blocked import blocked_word_add, blocked_word_remove
from generation.services.runs import (
    assist_decision_record,
    assist_start,
    generation_run_cancel,
    generation_run_start,
)
from generation.services.voice import voice_guide_update
from generation.stats import experiment_results, version_dashboard
from posts.models import Post
from training.selectors import drift_warning

STREAM_MAX_SECONDS = 600  # a streaming response holds a gthread thread: never for long
STREAM_HEARTBEAT_SECONDS = 10  # keeps proxies from closing an idle connection
STREAM_RETRY_MS = 3000


def _run_for(request: HttpRequest, run_id: int) -> GenerationRun:
    try:
        return selectors.run_get_for(request.user, run_id)
    except GenerationRun.DoesNotExist:
        raise Http404("No such draft, or not one you may see.") from None


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
            form.add_error(None, refusal_text(exc))
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
        "draft": draft_html(run.output, sources=run.sources, findings=draft_findings(run)),
        "unsupported": sum(f.get("kind") == "unsupported" for f in run.findings),
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
            messages.error(request, refusal_text(exc))
        else:
            messages.success(request, "Thanks: your feedback on this draft is saved.")
    return redirect("generation:run", run_id=run.id)


@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_for(request, run_id)
    try:
        run = generation_run_cancel(run=run, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal_text(exc))
    else:
        if run.status == GenerationRun.Status.CANCELLED:
            messages.success(request, f"Draft #{run.id} cancelled before it started.")
        else:
            messages.success(request, f"Draft #{run.id} stops at its next token.")
    return redirect("generation:run", run_id=run.id)


@require_GET
def run_stream(request: HttpRequest, run_id: int) -> StreamingHttpResponse:
    run = _run_for(request, run_id)
    after = request.headers.get("Last-Event-ID", "")  # the browser's, when it reconnects
    response = StreamingHttpResponse(_events(run, after), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _event(message: dict, entry_id: str = "") -> bytes:
    head = f"id: {entry_id}\n" if entry_id else ""
    return f"{head}data: {json.dumps(message)}\n\n".encode()


def _finished_events(run: GenerationRun) -> Iterator[bytes]:
    yield _event({"text": run.output, "replace": True})
    yield _event({"done": True, "status": run.status, "post": run.post_id})


def _events(run: GenerationRun, after: str = "") -> Iterator[bytes]:
    """The run's messages as server-sent events: its stored output once it is over, else its
    live stream (services/stream.py), from the start or after the page's last event. While the
    stream is quiet, a heartbeat, and a look at the run: one that ended without its end
    message reaching Redis ends the page's stream too."""
    if run.status not in GenerationRun.ACTIVE_STATUSES:
        yield from _finished_events(run)
        return
    yield f"retry: {STREAM_RETRY_MS}\n\n".encode()
    beat = time.monotonic()
    for entry in stream.follow(run, after=after, max_seconds=STREAM_MAX_SECONDS):
        if entry is not None:
            yield _event(entry.message, entry.id)
            continue
        if time.monotonic() - beat < STREAM_HEARTBEAT_SECONDS:
            continue
        beat = time.monotonic()
        yield b": heartbeat\n\n"
        run.refresh_from_db(fields=["status", "output", "post"])
        if run.status not in GenerationRun.ACTIVE_STATUSES:
            yield from _finished_events(run)
            return


# Mermaid writes a <style> element into the graph's SVG and cannot give it our nonce: on this
# page alone, <style> may be inline (scripts still need our static files).
@csp_replace({"style-src": [SELF, UNSAFE_INLINE]})
@require_GET
def inspector(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_for(request, run_id)
    steps = selectors.run_steps(run)
    nodes, edges, mermaid_text = graph.workflow_description()
    finished = run.status not in GenerationRun.ACTIVE_STATUSES
    path, taken_edges = graph.path_taken(
        [s.node for s in steps], finished=finished and bool(steps) and steps[-1].node == "finalise"
    )
    context = {
        "run": run,
        "figures": run_figures(run),
        "mermaid": graph.highlighted(
            mermaid_text, nodes, edges, taken_nodes=path, taken_edges=taken_edges
        ),
        "path": [n for n in path if not n.startswith("__")],
        "timeline": timeline(run, steps),
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
            form.add_error(None, refusal_text(exc))
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
        "retraining": _retraining_line(channel),
        "drift_warning": drift_warning(channel),
    }


def _retraining_line(channel: str) -> dict:
    """The channel's scheduled retraining in one line: whether a run is due, why, and when."""
    from training.services.retraining import retrain_due, retrain_policy_for

    policy = retrain_policy_for(channel)
    return {"enabled": policy.enabled, "due": retrain_due(policy)}


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Per model version: acceptance, thumbs, edit distance and speed, with 95% intervals; the
    channel's A/B experiments below. Editors see the general channel, officers the clinical one."""
    channels = selectors.reviewable_channels(request.user)
    if not channels:
        raise PermissionDenied("Only editors and compliance officers see the dashboard.")
    sections = [_channel_dashboard(c, channels) for c in channels]
    context = {"sections": sections, "blocked_words": BlockedWord.objects.all()}
    return render(request, "generation/dashboard.html", context)


@require_POST
def blocked_word_new(request: HttpRequest) -> HttpResponse:
    """Add a word or phrase the guard flags in every draft (editors and officers)."""
    try:
        blocked_word_add(word=request.POST.get("word", ""), by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(reverse("generation:dashboard") + "#blocked-words")


@require_POST
def blocked_word_delete(request: HttpRequest, word_id: int) -> HttpResponse:
    blocked_word_remove(word_id=word_id, by=request.user)
    return redirect(reverse("generation:dashboard") + "#blocked-words")


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
        messages.error(request, refusal_text(exc))
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
        messages.error(request, refusal_text(exc))
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
        return _json_error(refusal_text(exc), 400)
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
        return _json_error(refusal_text(exc), 400)
    return JsonResponse({"accepted": run.hunks_accepted, "total": run.hunks_total})
