"""The draft-quality benchmark of a model version, stored on the version (issue 13).

For each held-out post of the channel (the validation split, as training/services/datasets.py
picks it) its title, excerpt and tags make a brief, and the real drafting workflow
(generation/workflow.py) writes a draft in four setups side by side, on the same briefs with the
same seeds: the base model prompt-only, base + retrieval, the version's adapter prompt-only, and
adapter + retrieval (the full workflow). Retrieval never sees the held-out post itself, or the
draft could copy its answer. generation/quality.py scores each draft against the real post, the
passages retrieved for its brief (for every setup, so grounding compares) and the author's own
train-split posts (style). No draft text is stored: scores only, so a clinical run keeps no PHI.

It lives in training, not generation/services: it measures a registry version, the training flow
queues it when a version is registered, and the registry's pages show and compare it.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from generation import quality
from generation.types import Brief, Source
from posts.models import Post
from training.models import ModelVersion
from training.services.datasets import dataset_posts

logger = logging.getLogger(__name__)

FORMAT = 1  # of ModelVersion.draft_quality
QUALITY_BRIEFS = 5
# New tokens per draft: 200 is about 15 s per draft on one CPU thread (four setups per brief).
QUALITY_TOKENS = 200
SEED = 13  # brief i is written with seed SEED + i in every setup
# What a token budget can write: SmolLM2's tokenizer spends about 1.4 tokens on an English word.
WORDS_PER_TOKEN = 0.7
STYLE_REFERENCES = 20  # the author's newest train-split posts, as the editor's style score uses


class DraftQualityError(ValidationError):
    """The channel has nothing held out to write drafts for."""


@dataclass(frozen=True)
class HeldOut:
    """One held-out post as the benchmark uses it."""

    post_id: int
    brief: Brief
    reference: str  # the real post
    passages: list[Source]  # retrieved for the brief, the post itself left out
    style_references: list[str]
    voice: str
    avoid: list[str]
    seed: int


def quality_posts(*, channel: str, author_ids: list[int], limit: int) -> list[Post]:
    """The first `limit` held-out posts that training would validate on, published ones only
    (retrieval and style read published posts)."""
    posts = dataset_posts(channel=channel, author_ids=author_ids)
    held = [p for p in posts if p.split == Post.Split.VALIDATION]
    return [p for p in held if p.status == Post.Status.PUBLISHED][:limit]


def quality_brief(post: Post, *, max_new_tokens: int) -> Brief:
    """The post's title as the topic, its excerpt and tags as the outline, and its length,
    capped to what `max_new_tokens` can write (a longer ask could never be complete)."""
    tags = [tag.name for tag in post.tags.all()]
    outline = [post.excerpt.strip(), f"Tags: {', '.join(tags)}" if tags else ""]
    length = min(post.word_count, round(max_new_tokens * WORDS_PER_TOKEN))
    return {
        "topic": post.title,
        "outline": "\n".join(part for part in outline if part),
        "audience": "",
        "tone": "",
        "length": max(length, 1),
    }


def draft_quality_report(
    *,
    channel: str,
    base_model: str,
    adapter: tuple[str, Path] | None,
    author_ids: list[int],
    briefs: int = QUALITY_BRIEFS,
    max_new_tokens: int = QUALITY_TOKENS,
    log: Callable[[str], None] = logger.info,
    seed: int = SEED,
) -> dict:
    """The benchmark's rows (two without an adapter: the base setups only) and what they were
    measured on. Steps: pick the held-out posts, load the model, write and score every draft,
    then one row per setup."""
    from generation.runtime import SamplingSettings
    from generation.services.serving import runtime_for
    from posts.embedder import get_embedder

    posts = quality_posts(channel=channel, author_ids=author_ids, limit=briefs)
    if not posts:
        raise DraftQualityError(
            f"The {channel} channel has no published held-out (validation) posts to write "
            "drafts for."
        )
    started = time.perf_counter()
    runtime = runtime_for(base_model)
    embed = get_embedder(settings.EMBED_MODEL).embed
    setups = [setup for setup in quality.SETUPS if adapter is not None or not setup[1]]
    written: dict[str, list[tuple[str, str, quality.DraftScores]]] = {s[0]: [] for s in setups}
    drafts = []
    for i, post in enumerate(posts):
        held = held_out(post, channel=channel, max_new_tokens=max_new_tokens, seed=seed + i)
        sampling = SamplingSettings(max_new_tokens=max_new_tokens, seed=held.seed)
        for label, tuned, retrieval in setups:
            text, scores = draft_write_and_score(
                held,
                runtime=runtime,
                sampling=sampling,
                adapter=adapter if tuned else None,
                retrieval=retrieval,
                channel=channel,
                embed=embed,
            )
            written[label].append((text, held.reference, scores))
            drafts.append({"post_id": held.post_id, "setup": label, **scores.as_dict()})
            log(f"Brief {i + 1}/{len(posts)}, {label}: {scores.words} words, "
                f"ROUGE-L {scores.rouge_l:.3f}, {scores.seconds:.1f} s")  # fmt: skip
    rows = [
        quality.aggregate(
            label,
            [s for _, _, s in items],
            drafts=[t for t, _, _ in items],
            references=[r for _, r, _ in items],
        )
        for label, items in written.items()
    ]
    from training.services.registry import code_version

    return {
        "format": FORMAT,
        "rows": rows,
        "briefs": len(posts),
        "post_ids": [p.id for p in posts],
        "sampling": SamplingSettings(max_new_tokens=max_new_tokens, seed=seed).to_dict(),
        "seeds": [seed + i for i in range(len(posts))],
        "retrieval_k": settings.GENERATION_SOURCES,
        "max_revisions": settings.GENERATION_MAX_REVISIONS,
        "base_model": base_model,
        "adapter": adapter[0] if adapter else None,
        "code_version": code_version(),
        "seconds": round(time.perf_counter() - started, 1),
        "drafts": drafts,
    }


def held_out(post: Post, *, channel: str, max_new_tokens: int, seed: int) -> HeldOut:
    from generation.services.voice import voice_guide_for
    from generation.workflow import brief_query

    brief = quality_brief(post, max_new_tokens=max_new_tokens)
    guide = voice_guide_for(post.author_id)
    references = (
        Post.objects.filter(
            author_id=post.author_id,
            channel=channel,
            status=Post.Status.PUBLISHED,
            split=Post.Split.TRAIN,
        )
        .exclude(source=Post.Source.AI_ASSISTED)
        .order_by("-published_at", "-id")
        .values_list("body_markdown", flat=True)[:STYLE_REFERENCES]
    )
    return HeldOut(
        post_id=post.id,
        brief=brief,
        reference=post.body_markdown,
        passages=retrieve(retriever_for(channel, post.id), brief_query(brief)),
        style_references=list(references),
        voice=guide.as_prompt() if guide else "",
        avoid=guide.avoid_list if guide else [],
        seed=seed,
    )


def retriever_for(channel: str, post_id: int) -> Any:
    from generation.retrievers import ChunkRetriever

    k = settings.GENERATION_SOURCES
    return ChunkRetriever(channel=channel, k=k, exclude_post_ids=(post_id,))


def retrieve(retriever: Any, query: str) -> list[Source]:
    """The retriever's documents as the workflow's sources (as generation's run does)."""
    return [{"text": d.page_content, **d.metadata} for d in retriever.invoke(query)]


class _Writer:
    """The workflow's `write` step on the benchmark's runtime. Keeps every GenerationResult:
    the first one's text is the raw output before the workflow's cleaner, and their figures
    are the draft's tokens/s and time to first token."""

    def __init__(self, runtime: Any, sampling: Any, adapter: tuple[str, Path] | None) -> None:
        self.runtime, self.sampling, self.adapter = runtime, sampling, adapter
        self.results: list[Any] = []

    def __call__(self, messages: list[dict]) -> str:
        result = self.runtime.generate(messages, self.sampling, adapter=self.adapter)
        self.results.append(result)
        return result.text


class _NoTrace:
    def record(self, node: str, *, input: dict, output: dict, seconds: float) -> None:  # noqa: A002
        pass


def draft_write(
    brief: Brief,
    *,
    runtime: Any,
    sampling: Any,
    adapter: tuple[str, Path] | None,
    retrieve: Callable[[str], list[Source]],
    channel: str,
    voice: str = "",
    avoid: list[str] = (),
) -> tuple[dict, list[Any]]:
    """One draft through the real workflow graph, as a drafting run writes it but saving
    nothing: the final state and every GenerationResult (the benchmark's and the bias audit's
    one way to write a draft)."""
    from generation.guard import check_draft
    from generation.workflow import Steps, build_graph

    writer = _Writer(runtime, sampling, adapter)
    # Only the fields that stay as the workflow grows; the rest keep their defaults.
    steps = Steps(
        retrieve=retrieve,
        write=writer,
        check=lambda text: check_draft(
            text, channel=channel, length=brief.get("length"), avoid=list(avoid)
        ),
        finalise=lambda state: {"draft": state["draft"]},
        max_revisions=settings.GENERATION_MAX_REVISIONS,
        voice=voice,
    )
    state = build_graph(steps, _NoTrace()).compile().invoke({"brief": brief})
    return state, writer.results


def draft_write_and_score(
    held: HeldOut,
    *,
    runtime: Any,
    sampling: Any,
    adapter: tuple[str, Path] | None,
    retrieval: bool,
    channel: str,
    embed: quality.Embed,
) -> tuple[str, quality.DraftScores]:
    """One draft through the real workflow graph (retrieve → draft → guard → revise →
    finalise), and its scores. Prompt-only: the retrieve step finds nothing."""
    retriever = retriever_for(channel, held.post_id)
    started = time.perf_counter()
    state, results = draft_write(
        held.brief,
        runtime=runtime,
        sampling=sampling,
        adapter=adapter,
        retrieve=(lambda query: retrieve(retriever, query)) if retrieval else (lambda query: []),
        channel=channel,
        voice=held.voice,
        avoid=held.avoid,
    )
    seconds = time.perf_counter() - started
    timing = quality.Timing(
        seconds=seconds,
        new_tokens=sum(r.new_tokens for r in results),
        generating_s=sum(r.seconds for r in results),
        first_token_s=results[0].first_token_s if results else None,
    )
    draft = state["draft"]
    scores = quality.score_draft(
        draft,
        reference=held.reference,
        raw=results[0].text if results else "",
        asked_words=held.brief["length"],
        passages=[p["text"] for p in held.passages],
        style_references=held.style_references,
        embed=embed,
        findings=state.get("findings", []),
        timing=timing,
    )
    return draft, scores


# --- A version's benchmark ----------------------------------------------------------------


def version_adapter(version: ModelVersion) -> tuple[str, Path]:
    """The version's adapter folder, fetched from artifact storage once: drafting runs
    (generation/services/execute.py) and this benchmark both use it, so a worker fetches it once."""
    from training.storage import default_storage

    folder = Path(settings.MODEL_CACHE_DIR) / "adapters" / f"{version.channel}-{version.id}"
    if not (folder / "adapter_config.json").exists():
        default_storage().get_dir(version.adapter_uri, folder)
    return version.label, folder


def model_version_quality_evaluate(
    *,
    version: ModelVersion,
    briefs: int = QUALITY_BRIEFS,
    max_new_tokens: int = QUALITY_TOKENS,
    log: Callable[[str], None] = logger.info,
) -> ModelVersion:
    """Run the benchmark with the version's adapter and store it on the version."""
    if version.status == ModelVersion.Status.ARCHIVED:
        raise ValidationError(f"{version} is archived; it is not evaluated again.")
    report = draft_quality_report(
        channel=version.channel,
        base_model=version.base_model,
        adapter=version_adapter(version),
        author_ids=version.dataset.author_ids,
        briefs=briefs,
        max_new_tokens=max_new_tokens,
        log=log,
    )
    version.draft_quality, version.draft_quality_at = report, timezone.now()
    version.save(update_fields=["draft_quality", "draft_quality_at"])
    from training.services.bias import version_results_changed

    version_results_changed(version)
    return version


def model_version_quality_queue(*, version: ModelVersion) -> None:
    """The benchmark on the gpu queue, once the transaction that made the version commits."""
    from training.tasks import model_version_quality_evaluate_task

    version_id = version.id
    transaction.on_commit(lambda: model_version_quality_evaluate_task.delay(version_id))


def draft_quality_compare(candidate: ModelVersion, active: ModelVersion | None) -> list[dict]:
    """The full workflow's row of each version, metric by metric, for the promotion page:
    {"header", "candidate", "active", "better"} where better is True when the candidate does
    better, False when worse, None when equal, not comparable or either is missing."""
    mine = full_workflow_row(candidate)
    theirs = full_workflow_row(active) if active else None
    compared = []
    for key, _, header, pattern, higher in quality.COLUMNS:
        a = mine.get(key) if mine else None
        b = theirs.get(key) if theirs else None
        better = None
        if higher is not None and a is not None and b is not None and a != b:
            better = (a > b) == higher
        compared.append({
            "header": header,
            "candidate": quality.formatted(a, pattern),
            "active": quality.formatted(b, pattern),
            "better": better,
        })  # fmt: skip
    return compared


def full_workflow_row(version: ModelVersion) -> dict | None:
    rows = (version.draft_quality or {}).get("rows") or []
    return next((r for r in rows if r["label"] == quality.TUNED_RETRIEVAL), None)


@transaction.atomic
def model_version_quality_request(*, version: ModelVersion, by: User | None) -> None:
    """Someone asks for the benchmark from the version page: the same checks as a
    re-evaluation (who manages the channel, not archived), then queue it after commit."""
    can.require_manage_models(by, version.channel)
    if version.status == ModelVersion.Status.ARCHIVED:
        raise ValidationError(f"{version} is archived; it is not evaluated again.")
    model_version_quality_queue(version=version)


# --- Shown on the registry's pages ----------------------------------------------------------


def draft_quality_table(report: dict | None) -> dict | None:
    """A stored report as the version page shows it: one column per setup (in SETUPS order),
    one row per COLUMNS metric, each cell formatted, and the best cell of a row marked.
    None when there is no report, or one in a format this code does not read.

    Best respects higher-is-better; a metric without a direction (words) has no best, a None
    value is never best, and a row whose values all show the same has none (nothing won).
    Ties go by the shown value, so two cells that read alike are both best or neither."""
    if not report or report.get("format") != FORMAT:
        return None
    order = [label for label, _, _ in quality.SETUPS]
    rows = sorted(
        report.get("rows") or [],
        key=lambda r: order.index(r["label"]) if r["label"] in order else len(order),
    )
    metrics = []
    for key, _, header, pattern, higher in quality.COLUMNS:
        values = [row.get(key) for row in rows]
        present = [v for v in values if v is not None]
        shown = [quality.formatted(v, pattern) for v in values]
        best = None
        if higher is not None and len({quality.formatted(v, pattern) for v in present}) > 1:
            best = quality.formatted(max(present) if higher else min(present), pattern)
        cells = [
            {"value": text, "best": v is not None and text == best}
            for v, text in zip(values, shown, strict=True)
        ]
        metrics.append({"key": key, "header": header, "higher": higher, "cells": cells})
    return {
        "setups": [{"label": r["label"], "drafts": r.get("drafts")} for r in rows],
        "metrics": metrics,
        "checks": quality.done_when_checks(rows),
        "briefs": report.get("briefs"),
        "tokens": (report.get("sampling") or {}).get("max_new_tokens"),
        "retrieval_k": report.get("retrieval_k"),
        "base_model": report.get("base_model"),
        "adapter": report.get("adapter"),
        "code_version": report.get("code_version"),
        "seconds": report.get("seconds"),
    }


def draft_quality_comparison(candidate: ModelVersion, active: ModelVersion | None) -> dict:
    """The promotion page's advice: the full workflow's row of the candidate beside the active
    version's (draft_quality_compare), and which of them has no benchmark yet. Advice only:
    promotion_blockers never reads it."""
    missing = [v for v in (candidate, active) if v is not None and full_workflow_row(v) is None]
    measured = any(v is not None and v not in missing for v in (candidate, active))
    return {
        "rows": draft_quality_compare(candidate, active) if measured else [],
        "missing": missing,
    }
