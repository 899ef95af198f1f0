"""A version's bias audit (training/bias.py), stored on the version.

Each side of each counterfactual pair is a prompt-only draft through the real workflow (the
draft-quality benchmark's `draft_write`), with the version's adapter and the pair's seed, so the
audit measures what an editor would be given. A clinical version keeps scores only; a general
one keeps, per group, the pair whose sentiment differs most, for the version page.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from training import bias
from training.models import ModelVersion

logger = logging.getLogger(__name__)


def model_version_bias_audit(
    *,
    version: ModelVersion,
    per_group: int | None = None,
    max_new_tokens: int | None = None,
    log: Callable[[str], None] = logger.info,
) -> ModelVersion:
    """Write and score every pair with the version's adapter; store the report and whether it
    passed, then refresh the model card and let a scheduled candidate's gates settle."""
    from generation.runtime import SamplingSettings
    from generation.services.serving import runtime_for
    from training.services.quality import draft_write, version_adapter

    _require_auditable(version)
    runtime = runtime_for(version.base_model)
    adapter = version_adapter(version)
    tokens = max_new_tokens or settings.BIAS_TOKENS
    length = round(tokens * 0.7)  # what the token budget can write (quality.WORDS_PER_TOKEN)

    def write(pair: bias.Pair, topic: str) -> str:
        brief = {"topic": topic, "outline": "", "audience": "", "tone": "", "length": length}
        sampling = SamplingSettings(max_new_tokens=tokens, seed=pair.seed)
        state, _ = draft_write(
            brief,
            runtime=runtime,
            sampling=sampling,
            adapter=adapter,
            retrieve=lambda query: [],
            channel=version.channel,
        )
        return state["draft"]

    report = bias.bias_audit(
        write,
        per_group=per_group or settings.BIAS_PAIRS_PER_GROUP,
        thresholds=settings.BIAS_THRESHOLDS,
        keep_text=not version.is_clinical,
        log=log,
    )
    report |= {"tokens": tokens, "adapter": adapter[0], "base_model": version.base_model}
    version.bias_audit, version.bias_audit_at = report, timezone.now()
    version.bias_audit_passed = not report["failed"]
    version.save(update_fields=["bias_audit", "bias_audit_passed", "bias_audit_at"])
    version_results_changed(version)
    return version


def version_results_changed(version: ModelVersion) -> None:
    """After any evaluation of a version stored its numbers: the card in artifact storage
    says them too, and a candidate scheduled retraining made may now be decided."""
    from training.services.cards import model_card_export
    from training.services.retraining import retrain_candidate_settle

    model_card_export(version=version)
    retrain_candidate_settle(version=version)


def _require_auditable(version: ModelVersion) -> None:
    if version.status == ModelVersion.Status.ARCHIVED:
        raise ValidationError(f"{version} is archived; it is not evaluated again.")


def model_version_bias_queue(*, version: ModelVersion) -> None:
    """The audit on the gpu queue, once the transaction that made or asked for it commits."""
    from training.tasks import model_version_bias_audit_task

    version_id = version.id
    transaction.on_commit(lambda: model_version_bias_audit_task.delay(version_id))


@transaction.atomic
def model_version_bias_request(*, version: ModelVersion, by: User | None) -> None:
    """Someone asks for the audit from the version page (who manages the channel)."""
    can.require_manage_models(by, version.channel)
    _require_auditable(version)
    model_version_bias_queue(version=version)


def bias_table(version: ModelVersion) -> dict | None:
    """The stored audit as the version page and the card show it: one row per group with each
    measure's gap, interval and the two sides' means, formatted, failures marked."""
    report = version.bias_audit
    if not report or report.get("format") != bias.FORMAT:
        return None
    rows = []
    for group in report["groups"]:
        cells = []
        for name in bias.MEASURES:
            m = group["measures"][name]
            ci = m["ci"]
            digits = 0 if name == "words" else 2
            cells.append({
                "measure": name,
                "gap": f"{m['gap']:+.{digits}f}",
                "ci": f"{ci[0]:+.{digits}f} to {ci[1]:+.{digits}f}" if ci else "–",
                "sides": f"{m['a']:.{digits}f} vs {m['b']:.{digits}f}",
                "threshold": f"±{m['threshold']:.2f}" if m["threshold"] is not None else "",
                "failed": m["failed"],
            })  # fmt: skip
        rows.append({
            "group": group["group"],
            "pairs": group["pairs"],
            "terms": ", ".join(f"{a} / {b}" for a, b in group["terms"]),
            "cells": cells,
            "failed": group["failed"],
            "example": group.get("example"),
        })  # fmt: skip
    return {
        "rows": rows,
        "measures": list(bias.MEASURES),
        "failed": report["failed"],
        "failures": bias.failure_sentences(report),
        "tokens": report.get("tokens"),
        "pairs": len(report.get("pairs") or []),
    }
