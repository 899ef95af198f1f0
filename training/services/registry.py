"""The model registry: versions from finished runs, promotion, rollback, archive, re-evaluation.

One active version per channel. General versions are promoted by editors, clinical versions only
by compliance officers, and only after a passed memorisation test. Every promotion and rollback
is a Promotion row and an audit event (in the same transaction).
"""

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from compliance.audit import Action, audit_record
from posts.models import Post
from training.models import ModelVersion, Promotion, TrainingRun
from training.samples import Sample
from training.storage import ArtifactStorage, default_storage

logger = logging.getLogger(__name__)

ADAPTER_FORMAT = 1
KEPT_METRICS = {"checkpoints", "best_step", "train_loss", "tokens_per_s", "steps"}
# Checkpoint files that are for resuming a run, not for using the adapter.
RESUME_ONLY_FILES = {"trainer_state.pt", "checkpoint.json"}


@cache
def code_version() -> str:
    """The commit this code came from (BLOGLLM_CODE_VERSION in images, else git), or ''."""
    if os.environ.get("BLOGLLM_CODE_VERSION"):
        return os.environ["BLOGLLM_CODE_VERSION"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def model_version_create_from_run(
    *,
    run: TrainingRun,
    samples: list[Sample],
    work_dir: Path,
    plan: object,
    storage: ArtifactStorage,
    log: Callable[[str], None],
) -> ModelVersion:
    """Evaluate the run's checkpoints, upload the best adapter and register it as a candidate;
    queue its draft-quality benchmark (training/services/quality.py) on commit."""
    checkpoints = [(c["step"], _local_checkpoint(c, storage, work_dir)) for c in run.checkpoints]
    report = _evaluate(run=run, samples=samples, checkpoints=checkpoints, plan=plan, log=log)
    best_dir = dict(checkpoints)[report.best_step]
    with transaction.atomic():
        number = (
            ModelVersion.objects.filter(channel=run.channel).aggregate(n=Max("number"))["n"] or 0
        ) + 1
        prefix = f"{run.channel}/versions/{number}"
        adapter_uri = _upload_adapter(best_dir, storage, f"{prefix}/adapter", run, report.best_step)
        report_uri = _upload_json(report.as_dict(), storage, f"{prefix}/report.json")
        version = ModelVersion.objects.create(
            channel=run.channel,
            number=number,
            base_model=run.base_model,
            run=run,
            dataset=run.dataset,
            code_version=code_version(),
            checkpoint_step=report.best_step,
            adapter_uri=adapter_uri,
            report_uri=report_uri,
            metrics=_metrics(run, report),
            samples=report.samples,
        )
        _record_memorisation(version, report.memorisation)
        # The draft-quality benchmark writes many drafts: its own task, after the commit, so
        # the version is registered (and visible) while it runs.
        from training.services.bias import model_version_bias_queue
        from training.services.cards import model_card_export
        from training.services.quality import model_version_quality_queue
        from training.services.retraining import on_scheduled_version_registered

        model_version_quality_queue(version=version)
        model_version_bias_queue(version=version)
        if run.scheduled:
            on_scheduled_version_registered(version)
        model_card_export(version=version)
    return version


def _evaluate(
    *,
    run: TrainingRun,
    samples: list[Sample],
    checkpoints: list[tuple[int, Path]],
    plan: object,
    log: Callable[[str], None],
) -> object:
    from training.evaluation import CLINICAL_BRIEFS, FIXED_BRIEFS
    from training.pipeline import evaluate_checkpoints

    clinical = run.channel == Post.Channel.CLINICAL
    validation = [s for s in samples if s.split == "validation"]
    trained = [s for s in samples if s.split == "train"]
    return evaluate_checkpoints(
        base_model=run.base_model,
        cache_dir=settings.MODEL_CACHE_DIR,
        plan=plan,
        checkpoints=checkpoints,
        validation=validation,
        max_length=run.hyperparameters.get("max_length", 512),
        briefs=CLINICAL_BRIEFS if clinical else FIXED_BRIEFS,
        references=[s.text for s in validation],
        embed=_embed_function(),
        sample_tokens=settings.EVAL_SAMPLE_TOKENS,
        memorisation_texts=[(s.id, s.text) for s in trained if s.kind == "note"]
        if clinical
        else None,
        canaries=[s.text for s in trained if s.kind == "canary"] if clinical else None,
        memorisation_threshold=settings.MEMORISATION_THRESHOLD,
        log=log,
    )


def _embed_function() -> Callable:
    from posts.embedder import get_embedder

    return get_embedder(settings.EMBED_MODEL).embed


def _metrics(run: TrainingRun, report: object) -> dict:
    last = run.points[-1] if run.points else {}
    return {
        "val_perplexity": report.val_perplexity,
        "base_val_perplexity": report.base_val_perplexity,
        "style_score": report.style_score,
        "base_style_score": report.base_style_score,
        "checkpoints": report.checkpoints,
        "best_step": report.best_step,
        "train_loss": last.get("loss"),
        "tokens_per_s": last.get("tokens_per_s"),
        "steps": last.get("step", 0),
    }


def _record_memorisation(version: ModelVersion, memorisation: dict | None) -> None:
    if memorisation is None:
        return
    version.memorisation = memorisation
    version.memorisation_passed = bool(memorisation["passed"])
    version.memorisation_tested_at = timezone.now()
    version.save(update_fields=["memorisation", "memorisation_passed", "memorisation_tested_at"])


def _local_checkpoint(checkpoint: dict, storage: ArtifactStorage, work_dir: Path) -> Path:
    path = Path(checkpoint.get("path", ""))
    if checkpoint.get("path") and (path / "adapter_config.json").exists():
        return path
    return storage.get_dir(checkpoint["uri"], work_dir / "eval" / f"step-{checkpoint['step']}")


def _upload_adapter(
    checkpoint_dir: Path, storage: ArtifactStorage, key: str, run: TrainingRun, step: int
) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "adapter"
        shutil.copytree(
            checkpoint_dir, folder, ignore=lambda _d, names: set(names) & RESUME_ONLY_FILES
        )
        meta = {"format": ADAPTER_FORMAT, "base_model": run.base_model, "channel": run.channel}
        meta |= {"run": run.id, "step": step, "code_version": code_version()}
        (folder / "blogllm-adapter.json").write_text(json.dumps(meta, indent=2))
        return storage.put_dir(folder, key)


def _upload_json(data: dict, storage: ArtifactStorage, key: str) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "report.json"
        path.write_text(json.dumps(data, indent=2))
        return storage.put_file(path, key)


# --- Promotion, rollback, archive ----------------------------------------------------------------


def promotion_blockers(version: ModelVersion) -> list[str]:
    """Why this version cannot be promoted now (empty: it can)."""
    reasons = []
    if version.status == ModelVersion.Status.ACTIVE:
        reasons.append(f"{version} is already active.")
    if version.status == ModelVersion.Status.ARCHIVED:
        reasons.append(f"{version} is archived: it is kept for the record, not for use.")
    if version.is_clinical and version.memorisation_passed is not True:
        reasons.append(
            "A clinical version needs a passed memorisation test first."
            if version.memorisation_passed is None
            else "This version failed its memorisation test: it reproduces training text."
        )
    if version.bias_audit_passed is False:
        from training.bias import failure_sentences

        reasons.append("This version failed its bias audit.")
        reasons += failure_sentences(version.bias_audit or {})
    return reasons


@transaction.atomic
def model_version_promote(
    *, version: ModelVersion, by: User | None, reason: str = ""
) -> ModelVersion:
    """Make `version` the channel's one active version; the previous active one becomes a
    candidate again (rollback restores it)."""
    can.require_manage_models(by, version.channel)
    # Lock the channel's versions so two promotions cannot interleave.
    locked = list(ModelVersion.objects.select_for_update().filter(channel=version.channel))
    version = next(v for v in locked if v.id == version.id)
    blockers = promotion_blockers(version)
    if blockers:
        raise ValidationError(" ".join(blockers))
    previous = next((v for v in locked if v.status == ModelVersion.Status.ACTIVE), None)
    _activate(version, previous)
    Promotion.objects.create(
        channel=version.channel,
        kind=Promotion.Kind.PROMOTE,
        version=version,
        previous=previous,
        by=by,
        reason=reason,
    )
    audit_record(
        action=Action.MODEL_PROMOTED,
        actor=by,
        obj=version,
        detail={"version": version.label, "previous": previous.label if previous else None},
    )
    return version


@transaction.atomic
def model_version_rollback(*, channel: str, by: User | None, reason: str = "") -> ModelVersion:
    """Re-activate the version that was active before the current one was promoted."""
    can.require_manage_models(by, channel)
    locked = list(ModelVersion.objects.select_for_update().filter(channel=channel))
    current = next((v for v in locked if v.status == ModelVersion.Status.ACTIVE), None)
    if current is None:
        raise ValidationError(f"The {channel} channel has no active version to roll back.")
    promotion = (
        Promotion.objects.filter(version=current, kind=Promotion.Kind.PROMOTE)
        .select_related("previous")
        .first()
    )
    target = promotion.previous if promotion else None
    if target is None:
        raise ValidationError(
            f"{current} was the channel's first active version: nothing to roll back to."
        )
    target = next(v for v in locked if v.id == target.id)
    if target.status == ModelVersion.Status.ARCHIVED:
        raise ValidationError(f"{target} was archived; promote another version instead.")
    _activate(target, current)
    Promotion.objects.create(
        channel=channel,
        kind=Promotion.Kind.ROLLBACK,
        version=target,
        previous=current,
        by=by,
        reason=reason,
    )
    audit_record(
        action=Action.MODEL_ROLLED_BACK,
        actor=by,
        obj=target,
        detail={"version": target.label, "rolled_back": current.label, "reason": reason},
    )
    return target


def _activate(version: ModelVersion, previous: ModelVersion | None) -> None:
    if previous is not None:
        previous.status = ModelVersion.Status.CANDIDATE
        previous.save(update_fields=["status"])  # first: the unique index allows one active
    version.status, version.promoted_at = ModelVersion.Status.ACTIVE, timezone.now()
    version.save(update_fields=["status", "promoted_at"])


@transaction.atomic
def model_version_archive(*, version: ModelVersion, by: User | None) -> ModelVersion:
    can.require_manage_models(by, version.channel)
    version = ModelVersion.objects.select_for_update().get(id=version.id)
    if version.status == ModelVersion.Status.ACTIVE:
        raise ValidationError(
            "Promote or roll back to another version before archiving the active one."
        )
    version.status, version.archived_at = ModelVersion.Status.ARCHIVED, timezone.now()
    version.save(update_fields=["status", "archived_at"])
    audit_record(
        action=Action.MODEL_ARCHIVED, actor=by, obj=version, detail={"version": version.label}
    )
    return version


def _require_evaluable(version: ModelVersion) -> None:
    if version.status == ModelVersion.Status.ARCHIVED:
        raise ValidationError(f"{version} is archived; it is not evaluated again.")


def model_version_evaluate_queue(*, version: ModelVersion, by: User | None) -> None:
    """Queue a re-evaluation on the gpu queue, once the transaction commits."""
    from training.tasks import model_version_evaluate_task

    can.require_manage_models(by, version.channel)
    _require_evaluable(version)
    transaction.on_commit(lambda: model_version_evaluate_task.delay(version.id))


def model_version_evaluate(
    *, version: ModelVersion, log: Callable[[str], None] = logger.info
) -> ModelVersion:
    """Evaluate a registered version again (its adapter from storage, its frozen dataset)."""
    from training.base_model import device_plan

    _require_evaluable(version)
    from training.services.datasets import dataset_snapshot_samples

    storage = default_storage()
    samples = dataset_snapshot_samples(snapshot=version.dataset, storage=storage)
    with tempfile.TemporaryDirectory() as scratch:
        adapter = storage.get_dir(version.adapter_uri, Path(scratch) / "adapter")
        report = _evaluate(
            run=version.run,
            samples=samples,
            checkpoints=[(version.checkpoint_step, adapter)],
            plan=device_plan(settings.TRAINING_DEVICE),
            log=log,
        )
    # The run's checkpoint comparison stays: only the chosen adapter is evaluated again.
    fresh = {k: v for k, v in _metrics(version.run, report).items() if k not in KEPT_METRICS}
    version.metrics = {**version.metrics, **fresh}
    version.samples = report.samples
    version.report_uri = _upload_json(
        report.as_dict(), storage, f"{version.channel}/versions/{version.number}/report.json"
    )
    version.save(update_fields=["metrics", "samples", "report_uri"])
    _record_memorisation(version, report.memorisation)
    from training.services.bias import version_results_changed

    version_results_changed(version)
    return version
