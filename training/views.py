"""Training runs and the model registry, for editors (general) and compliance officers (clinical).

Each view parses input, checks permission, calls one service, renders. A user sees only the
channels they manage (selectors.visible_channels): another channel's run or version is a 404,
and a user who manages none gets 403. Live parts (a running run, the queue) are htmx partials
that poll every 2 s and stop polling once nothing is active.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.humanize.templatetags.humanize import ordinal
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import permissions as can
from blogllm.refusals import refusal_text
from posts.models import Post
from training import charts, selectors
from training.forms import PromoteForm, RetrainPolicyForm, RollbackForm, RunStartForm
from training.models import ModelVersion, TrainingRun
from training.services.bias import bias_table, model_version_bias_request
from training.services.cards import model_card_html
from training.services.datasets import dataset_preview
from training.services.drift import BEHAVIOUR, drift_config, drift_report_request
from training.services.quality import (
    draft_quality_comparison,
    draft_quality_table,
    model_version_quality_request,
)
from training.services.registry import (
    model_version_archive,
    model_version_evaluate_queue,
    model_version_promote,
    model_version_rollback,
    promotion_blockers,
)
from training.services.retraining import retrain_policy_set, retrain_summary
from training.services.runs import training_run_cancel, training_run_resume, training_run_start

RECENT_RUNS = 15
MEMORISATION_ITEMS_SHOWN = 50


# Editors and compliance officers (anyone who manages some channel's models).
model_managers_only = can.allowed(
    can.on_any_channel(can.can_manage_models),
    "Only editors and compliance officers manage models.",
)


def _run_for(request: HttpRequest, run_id: int) -> TrainingRun:
    try:
        return selectors.run_get_for(request.user, run_id)
    except TrainingRun.DoesNotExist:
        raise Http404("No such training run, or not one you may see.") from None


def _version_for(request: HttpRequest, version_id: int) -> ModelVersion:
    try:
        return selectors.version_get_for(request.user, version_id)
    except ModelVersion.DoesNotExist:
        raise Http404("No such model version, or not one you may see.") from None


# --- Presentation helpers ------------------------------------------------------------------


def about(seconds: float | None) -> str:
    """An ETA in words: "about 3 min"."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min" if minutes else f"about {hours} h"


def in_line(position: int) -> str:
    return "next in line" if position == 1 else f"{ordinal(position)} in line"


def figures(version: ModelVersion | None) -> dict | None:
    """A version's headline metrics, for tables that compare versions."""
    if version is None:
        return None
    metrics = version.metrics or {}
    gain = version.perplexity_gain
    return {
        "val_perplexity": metrics.get("val_perplexity"),
        "base_val_perplexity": metrics.get("base_val_perplexity"),
        "gain_percent": None if gain is None else round(100 * gain, 1),
        "style_score": metrics.get("style_score"),
        "base_style_score": metrics.get("base_style_score"),
        "memorisation": memorisation_word(version),
    }


def memorisation_word(version: ModelVersion) -> str:
    if version.memorisation_passed is None:
        return "not tested"
    return "passed" if version.memorisation_passed else "failed"


def checkpoint_rows(run: TrainingRun, version: ModelVersion | None) -> list[dict]:
    """Every checkpoint the run saved, with its validation perplexity once evaluated."""
    metrics = version.metrics if version else {}
    scores = {c["step"]: c.get("val_perplexity") for c in metrics.get("checkpoints") or []}
    steps = sorted({c["step"] for c in run.checkpoints} | set(scores))
    chosen = version.checkpoint_step if version else None
    return [{"step": s, "val_perplexity": scores.get(s), "chosen": s == chosen} for s in steps]


def checkpoint_chart(version: ModelVersion) -> dict:
    checkpoints = version.metrics.get("checkpoints") or []
    tuned = [(c["step"], c.get("val_perplexity")) for c in checkpoints]
    series = {"tuned": tuned}
    base = version.metrics.get("base_val_perplexity")
    if base is not None and tuned:
        series["base"] = [(tuned[0][0], base), (tuned[-1][0], base)]
    chosen = [(s, p, f"chosen: step {s}") for s, p in tuned if s == version.checkpoint_step]
    return charts.line_chart(series, y_label="validation perplexity", marks=chosen)


def memorisation_report(version: ModelVersion) -> dict | None:
    """The memorisation result (training.evaluation.MemorisationResult as a dict), worst first."""
    data = version.memorisation
    if not data:
        return None
    items = sorted(data.get("items") or [], key=lambda item: -(item.get("overlap") or 0))
    return {
        **data,
        "items": items[:MEMORISATION_ITEMS_SHOWN],
        "total": len(items),
        "canaries": sum(1 for item in items if item.get("canary")),
    }


# --- Runs ----------------------------------------------------------------------------------


def _queue_context(request: HttpRequest) -> dict:
    channels = selectors.visible_channels(request.user)
    runs = selectors.run_list_for(request.user)
    queue = selectors.run_queue(channels=channels)
    running = list(runs.filter(status=TrainingRun.Status.RUNNING))
    return {
        "queue": [{"in_line": in_line(entry.position), "run": entry.run} for entry in queue],
        "running": running,
        "recent": list(runs.exclude(status__in=TrainingRun.ACTIVE_STATUSES)[:RECENT_RUNS]),
        "live": bool(queue or running),
    }


@model_managers_only
@require_http_methods(["GET", "POST"])
def runs(request: HttpRequest) -> HttpResponse:
    """The start form, the queue and recent runs; POST starts a run."""
    if request.htmx and request.method == "GET":
        return render(request, "training/partials/queue.html", _queue_context(request))
    channels = selectors.visible_channels(request.user)
    form = RunStartForm(request.POST or None, channels=channels)
    if request.method == "POST" and form.is_valid():
        try:
            run = training_run_start(
                channel=form.cleaned_data["channel"],
                by=request.user,
                author_ids=form.author_ids(),
                hyperparameters=form.hyperparameters(),
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, refusal_text(exc))
        else:
            position = selectors.run_queue_position(run)
            where = f": {in_line(position)}" if position else ""
            messages.success(request, f"Training run #{run.id} queued{where}.")
            return redirect("training:run", run_id=run.id)
    context = {"form": form, **_queue_context(request)}
    return render(request, "training/runs.html", context, status=400 if form.errors else 200)


@model_managers_only
@require_GET
def preview(request: HttpRequest) -> HttpResponse:
    """htmx: what a run started now would train on, for the start form's channel and authors."""
    form = RunStartForm(request.GET, channels=selectors.visible_channels(request.user))
    form.is_valid()  # only channel and authors matter here; the rest may be mid-edit
    channel = form.cleaned_data.get("channel")
    if not channel:
        raise Http404("Choose a channel you manage.")
    counts = dataset_preview(channel=channel, author_ids=form.author_ids())
    context = {"channel": Post.Channel(channel), "preview": counts}
    return render(request, "training/partials/preview.html", context)


def _run_context(request: HttpRequest, run: TrainingRun) -> dict:
    version = getattr(run, "version", None)
    points = [(p["step"], p["loss"]) for p in run.points if p.get("loss") is not None]
    position = selectors.run_queue_position(run)
    return {
        "run": run,
        "version": version,
        "chart": charts.line_chart({"training loss": points}, y_label="loss"),
        "checkpoints": checkpoint_rows(run, version),
        "eta": about(run.eta_s) if run.status == TrainingRun.Status.RUNNING else "",
        "in_line": in_line(position) if position else "",
        "can_cancel": run.is_active and not run.cancel_requested,
        "can_resume": run.status in (TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED),
    }


@model_managers_only
@require_GET
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_for(request, run_id)
    context = _run_context(request, run)
    if request.htmx:
        return render(request, "training/partials/run_live.html", context)
    return render(request, "training/run.html", context)


@model_managers_only
@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_for(request, run_id)
    try:
        run = training_run_cancel(run=run, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal_text(exc))
    else:
        if run.status == TrainingRun.Status.CANCELLED:
            messages.success(request, f"Run #{run.id} cancelled before it started.")
        else:
            messages.success(
                request, f"Run #{run.id} stops after its current step; its checkpoint is kept."
            )
    return redirect("training:run", run_id=run.id)


@model_managers_only
@require_POST
def run_resume(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_for(request, run_id)
    try:
        training_run_resume(run=run, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(request, f"Run #{run.id} queued again; it resumes from its checkpoint.")
    return redirect("training:run", run_id=run.id)


# --- Versions ------------------------------------------------------------------------------


def _channel_section(request: HttpRequest, channel: str) -> dict:
    versions = list(selectors.version_list_for(request.user, channel))
    active = next((v for v in versions if v.status == ModelVersion.Status.ACTIVE), None)
    chronological = sorted(versions, key=lambda v: v.number)
    series = {
        "tuned": [(v.number, v.metrics.get("val_perplexity")) for v in chronological],
        "base": [(v.number, v.metrics.get("base_val_perplexity")) for v in chronological],
    }
    chart = charts.line_chart(series, x_label="version", y_label="validation perplexity")
    return {
        "channel": Post.Channel(channel),
        "active": active,
        "rows": [{"version": v, "figures": figures(v)} for v in versions],
        "chart": chart,
        "promotions": selectors.promotion_list(channel),
        "rollback_form": RollbackForm(auto_id=f"rollback-{channel}-%s"),
        "retraining": _retraining(channel),
    }


def _retraining(channel: str, form: RetrainPolicyForm | None = None) -> dict:
    summary = retrain_summary(channel)
    policy = summary["policy"]
    initial = {
        "enabled": policy.enabled,
        "min_new_items": policy.min_new_items,
        "every_days": policy.every_days,
        "quiet_hour": policy.quiet_hour,
        "promote_when_better": policy.promote_when_better,
    }
    return {**summary, "form": form or RetrainPolicyForm(initial=initial, channel=channel)}


@model_managers_only
@require_GET
def versions(request: HttpRequest) -> HttpResponse:
    channels = selectors.visible_channels(request.user)
    sections = [_channel_section(request, channel) for channel in channels]
    return render(request, "training/versions.html", {"sections": sections})


@model_managers_only
@require_POST
def rollback(request: HttpRequest, channel: str) -> HttpResponse:
    if channel not in selectors.visible_channels(request.user):
        raise Http404("No such channel, or not one you manage.")
    form = RollbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["reason"]))
        return redirect("training:versions")
    try:
        version = model_version_rollback(
            channel=channel, by=request.user, reason=form.cleaned_data["reason"]
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(request, f"Rolled back: {version} is the active {channel} model again.")
    return redirect("training:versions")


@model_managers_only
@require_GET
def version_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version_for(request, version_id)
    context = {
        "version": version,
        "figures": figures(version),
        "metrics": version.metrics,
        "checkpoints": checkpoint_rows(version.run, version),
        "checkpoint_chart": checkpoint_chart(version),
        "memorisation": memorisation_report(version),
        "can_promote": version.status == ModelVersion.Status.CANDIDATE,
        "can_archive": version.status == ModelVersion.Status.CANDIDATE,
        "can_evaluate": version.status != ModelVersion.Status.ARCHIVED,
        "quality": draft_quality_table(version.draft_quality),
        "bias": bias_table(version),
        "card_html": model_card_html(version),
    }
    return render(request, "training/version.html", context)


@model_managers_only
@require_http_methods(["GET", "POST"])
def version_promote(request: HttpRequest, version_id: int) -> HttpResponse:
    """Confirm page: the candidate beside the active version, blockers, a required checkbox."""
    version = _version_for(request, version_id)
    form = PromoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            model_version_promote(
                version=version, by=request.user, reason=form.cleaned_data["reason"]
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, refusal_text(exc))
        else:
            messages.success(request, f"{version} is now the active {version.channel} model.")
            return redirect("training:versions")
    active = selectors.active_version(version.channel)
    other = active if active and active.id != version.id else None
    context = {
        "version": version,
        "active": other,
        "candidate_figures": figures(version),
        "active_figures": figures(active),
        "quality": draft_quality_comparison(version, other),
        "blockers": promotion_blockers(version),
        "card_html": model_card_html(version),
        "active_card_html": model_card_html(other) if other else "",
        "form": form,
    }
    return render(request, "training/promote.html", context, status=400 if form.errors else 200)


@model_managers_only
@require_POST
def version_archive(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version_for(request, version_id)
    try:
        model_version_archive(version=version, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal_text(exc))
        return redirect("training:version", version_id=version.id)
    messages.success(request, f"{version} archived.")
    return redirect("training:versions")


@model_managers_only
@require_POST
def version_evaluate(request: HttpRequest, version_id: int) -> HttpResponse:
    """Queue a re-evaluation on the gpu queue (after commit, like the services' tasks)."""
    version = _version_for(request, version_id)
    try:
        model_version_evaluate_queue(version=version, by=request.user)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(
            request,
            f"Re-evaluation of {version} queued on the gpu queue; its metrics, samples and "
            "memorisation result update when it finishes.",
        )
    return redirect("training:version", version_id=version.id)


@model_managers_only
@require_POST
def version_quality(request: HttpRequest, version_id: int) -> HttpResponse:
    """Queue the draft-quality benchmark on the gpu queue (after commit, like re-evaluating)."""
    version = _version_for(request, version_id)
    try:
        model_version_quality_request(version=version, by=request.user)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(
            request,
            f"Draft-quality benchmark of {version} queued on the gpu queue; its table appears "
            "here when it finishes.",
        )
    return redirect("training:version", version_id=version.id)


@model_managers_only
@require_POST
def version_bias(request: HttpRequest, version_id: int) -> HttpResponse:
    """Queue the bias audit on the gpu queue (after commit, like the benchmark)."""
    version = _version_for(request, version_id)
    try:
        model_version_bias_request(version=version, by=request.user)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(
            request,
            f"Bias audit of {version} queued on the gpu queue; its table appears here when it "
            "finishes.",
        )
    return redirect(reverse("training:version", args=[version.id]) + "#bias-audit")


@model_managers_only
@require_GET
def version_card(request: HttpRequest, version_id: int) -> HttpResponse:
    """The card as the README.md stored beside the adapter (metadata included)."""
    from training.services.cards import model_card

    version = _version_for(request, version_id)
    response = HttpResponse(model_card(version), content_type="text/markdown; charset=utf-8")
    name = f"blogllm-{version.channel}-v{version.number}-README.md"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@model_managers_only
@require_POST
def retrain_policy(request: HttpRequest, channel: str) -> HttpResponse:
    if channel not in selectors.visible_channels(request.user):
        raise Http404("No such channel, or not one you manage.")
    form = RetrainPolicyForm(request.POST, channel=channel)
    if form.is_valid():
        try:
            retrain_policy_set(channel=channel, by=request.user, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, refusal_text(exc))
        else:
            messages.success(request, f"Scheduled retraining of the {channel} channel saved.")
            return redirect(reverse("training:versions") + f"#retraining-{channel}")
    sections = [
        {
            **_channel_section(request, c),
            **({"retraining": _retraining(c, form)} if c == channel else {}),
        }
        for c in selectors.visible_channels(request.user)
    ]
    return render(request, "training/versions.html", {"sections": sections}, status=400)


# --- Drift ---------------------------------------------------------------------------------

DRIFT_VERDICTS = {True: "drifted", False: "no drift", None: "not enough to compare"}
DRIFT_PARTS = {
    "corpus": ("New posts vs the training posts", "training posts", "new posts"),
    "requests": ("Requests vs the training posts' titles and excerpts", "training posts", "briefs"),
}


def drift_statistic_row(statistic: dict) -> dict:
    """One statistic as the page reads it: its value, its threshold and the verdict."""
    value, threshold, p = statistic.get("value"), statistic.get("threshold"), statistic["p_value"]
    if statistic.get("rule") == "p_below":
        value_text = "" if value is None else f"D = {value:.2f}, p = {p:.2g}"
        threshold_text = "" if threshold is None else f"p < {threshold:.2g}"
    else:
        value_text = "" if value is None else f"{value:.3f}"
        if p is not None:
            value_text += f" (p = {p:.2g})"
        threshold_text = "" if threshold is None else f"above {threshold:.3f}"
    return {
        **statistic,
        "value_text": value_text,
        "threshold_text": threshold_text,
        "verdict": DRIFT_VERDICTS[statistic.get("drifted")],
    }


def drift_context(report: dict) -> dict:
    """The stored report (DriftReport.report) as tables and SVG charts."""
    parts = []
    for name, (title, reference, current) in DRIFT_PARTS.items():
        part = (report.get("parts") or {}).get(name)
        if not part:
            continue
        histogram = part.get("histogram")
        chart = None
        if histogram:
            series = {reference: histogram["reference"], current: histogram["current"]}
            chart = charts.histogram_svg(histogram["edges"], series, x_label="words",
                                         title=f"Length: {reference} vs {current}")  # fmt: skip
        parts.append({
            "name": name, "title": title, "reference": reference, "current": current,
            "reference_n": part["reference_n"], "current_n": part["current_n"],
            "verdict": DRIFT_VERDICTS[part.get("drifted")],
            "statistics": [drift_statistic_row(s) for s in part["statistics"]],
            "histogram": chart,
        })  # fmt: skip
    behaviour = report.get("behaviour") or {}
    shares = {"acceptance", "grounding"}
    weekly = [
        charts.band_svg(behaviour.get(name) or [], y_label=label, share=name in shares)
        for name, label in BEHAVIOUR
    ]
    return {"parts": parts, "behaviour": weekly, "notes": report.get("notes") or []}


@model_managers_only
@require_http_methods(["GET", "POST"])
def drift(request: HttpRequest, channel: str) -> HttpResponse:
    """The channel's latest drift report with its plots; POST ("Compute now") queues another."""
    if channel not in selectors.visible_channels(request.user):
        raise Http404("No such channel, or not one you manage.")
    if request.method == "POST":
        try:
            drift_report_request(channel=channel, by=request.user)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, refusal_text(exc))
        else:
            messages.success(
                request, "Drift report queued: it appears here within a minute or two."
            )
        return redirect("training:drift", channel=channel)
    report = selectors.drift_report_latest(channel)
    context = {
        "channel": Post.Channel(channel),
        "report": report,
        "reference": selectors.drift_reference_version(channel),
        "thresholds": drift_config(),
        "request_days": settings.DRIFT_REQUEST_DAYS,
        **(drift_context(report.report) if report else {}),
    }
    return render(request, "training/drift.html", context)
