"""What the AI-draft pages show, from a run's stored fields: the draft with its findings marked and
its citations linked, the sources, a proposal's diff, the scores, the dashboard's cells and the
inspector's step rows. Plain functions from values to escaped markup or text cells."""

import json
import re

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from generation.models import GenerationRun, RunStep
from generation.stats import Mean, Rate
from generation.types import Finding, StoredSource
from posts.diffs import diff_html
from posts.models import Post

CITATION = re.compile(r"\[(\d{1,3})\]")


def _safe(html: str) -> SafeString:
    # Every function here escapes the texts it places and formats its numbers itself.
    return mark_safe(html)  # noqa: S308


def draft_html(text: str, *, sources: list[StoredSource], findings: list[Finding]) -> SafeString:
    """The draft, escaped, with guard findings as <mark> (by their offsets) and citation
    markers [n] as links to the cited source. Overlapping findings: the first one wins. A
    sentence with claims not found in the sources ("unsupported") is marked around them, with
    its note after it in words: the mark is not colour alone."""
    placed = [f for f in findings if _placed(f, len(text))]
    claims = _first_wins([f for f in placed if f.get("kind") == "unsupported"])
    marks = _first_wins([f for f in placed if f.get("kind") != "unsupported"])
    targets = {s.get("n"): s for s in sources}
    parts, at = [], 0
    for claim in claims:
        parts.append(_marked(text, at, claim["start"], marks, targets))
        detail = escape(claim.get("detail", ""))
        parts.append(
            f'<span class="finding finding-unsupported" title="{detail}">'
            f"{_marked(text, claim['start'], claim['end'], marks, targets)}"
            f'<small class="unsupported-note"> <span aria-hidden="true">⚠</span> {detail}</small>'
            "</span>"
        )
        at = claim["end"]
    parts.append(_marked(text, at, len(text), marks, targets))
    return _safe("".join(parts))


def draft_findings(run: GenerationRun) -> list[Finding]:
    """The findings the draft view marks in the text. On the clinical channel the guard's
    offsets are the raw draft's, not those of the de-identified text the page shows, so only
    the unsupported claims (found in the stored text itself) are marked there."""
    if run.channel == Post.Channel.CLINICAL:
        return [f for f in run.findings if f.get("kind") == "unsupported"]
    return run.findings


def _placed(finding: Finding, length: int) -> bool:
    start, end = finding.get("start"), finding.get("end")
    return isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= length


def _first_wins(findings: list[Finding]) -> list[Finding]:
    """In order of place; one that overlaps an earlier one is left out."""
    kept, at = [], 0
    for finding in sorted(findings, key=lambda f: (f["start"], f["end"])):
        if finding["start"] >= at:
            kept.append(finding)
            at = finding["end"]
    return kept


def _marked(text: str, start: int, end: int, marks: list[Finding], targets: dict) -> str:
    """text[start:end] escaped, with the marks in it (cut at its edges: a mark may run on past
    an unsupported sentence it began in) and its citations linked."""
    parts, at = [], start
    for finding in marks:
        lo, hi = max(finding["start"], start), min(finding["end"], end)
        if lo >= hi:
            continue
        parts.append(_cited(text[at:lo], targets))
        title = escape(f"{finding.get('kind', '')}: {finding.get('detail', '')}")
        parts.append(
            f'<mark class="finding finding-{escape(finding.get("kind", ""))}" title="{title}">'
            f"{_cited(text[lo:hi], targets)}</mark>"
        )
        at = hi
    parts.append(_cited(text[at:end], targets))
    return "".join(parts)


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
        "findings": ", ".join(f"{kind} {n}" for kind, n in summary["findings"].items()) or "none",
    }


def step_rows(steps: list[RunStep]) -> list[dict]:
    def pretty(value: object) -> str:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)

    return [{"step": s, "input": pretty(s.input), "output": pretty(s.output)} for s in steps]


def timeline(run: GenerationRun, steps: list[RunStep]) -> dict:
    """One bar per step, on seconds from the run's start: the numbers static/js/charts.js draws
    (kind "timeline") and the inspector lists under the chart."""
    origin = run.started_at or (steps[0].started_at if steps else None)
    bars = [
        {
            "label": f"{s.seq}. {s.node}",
            "start": round((s.started_at - origin).total_seconds(), 3),
            "seconds": round(s.duration_ms / 1000, 3),
        }
        for s in steps
    ]
    return {
        "kind": "timeline",
        "title": f"Steps of run #{run.id}",
        "x_label": "seconds from the start",
        "bars": bars,
    }
