"""Thin Celery wrappers over training.services. Training and evaluation run on the `gpu` queue
(CELERY_TASK_ROUTES)."""

import logging
import socket

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="training.tasks.training_run_execute", acks_late=True, bind=True)
def training_run_execute_task(self, run_id: int) -> None:  # noqa: ANN001
    from training.services.runs import training_run_execute

    worker = self.request.hostname or socket.gethostname()
    training_run_execute(run_id=run_id, worker=worker)


# Cheap bookkeeping: CELERY_TASK_ROUTES sends it to the default queue, the others to `gpu`.
@shared_task(name="training.tasks.training_runs_recover", ignore_result=True)
def training_runs_recover_task() -> list[int]:
    from training.services.runs import training_runs_recover

    return training_runs_recover()


@shared_task(name="training.tasks.model_version_evaluate", acks_late=True)
def model_version_evaluate_task(version_id: int) -> None:
    from training.models import ModelVersion
    from training.services.registry import model_version_evaluate

    model_version_evaluate(version=ModelVersion.objects.get(id=version_id))


@shared_task(name="training.tasks.model_version_quality_evaluate", acks_late=True)
def model_version_quality_evaluate_task(version_id: int) -> None:
    """The draft-quality benchmark of a version (training/services/quality.py)."""
    from training.models import ModelVersion
    from training.services.quality import DraftQualityError, model_version_quality_evaluate

    version = ModelVersion.objects.filter(id=version_id).first()
    if version is None or version.status == ModelVersion.Status.ARCHIVED:
        return  # deleted, or archived while it waited: nothing to measure
    try:
        model_version_quality_evaluate(version=version)
    except DraftQualityError as exc:  # a channel without held-out posts: nothing to retry
        logger.warning("No draft-quality benchmark for %s: %s", version, " ".join(exc.messages))


@shared_task(name="training.tasks.model_version_bias_audit", acks_late=True)
def model_version_bias_audit_task(version_id: int) -> None:
    """The counterfactual bias audit of a version (training/services/bias.py)."""
    from training.models import ModelVersion
    from training.services.bias import model_version_bias_audit

    version = ModelVersion.objects.filter(id=version_id).first()
    if version is None or version.status == ModelVersion.Status.ARCHIVED:
        return
    model_version_bias_audit(version=version)


# Bookkeeping on the default queue: it starts runs, the gpu queue trains them.
@shared_task(name="training.tasks.retrain_scheduled_check", ignore_result=True)
def retrain_scheduled_check_task() -> list[int]:
    from training.services.retraining import retrain_scheduled_check

    return retrain_scheduled_check()


# Bookkeeping on the default queue (CELERY_TASK_ROUTES): embedding texts needs no GPU.
@shared_task(name="training.tasks.drift_reports_due", ignore_result=True)
def drift_reports_due_task() -> list[int]:
    from training.services.drift import drift_reports_due

    return drift_reports_due()


@shared_task(name="training.tasks.drift_report_compute", ignore_result=True)
def drift_report_compute_task(channel: str) -> int | None:
    """The drift page's "Compute now"."""
    from django.core.exceptions import ValidationError

    from training.services.drift import drift_report_compute

    try:
        return drift_report_compute(channel=channel).id
    except ValidationError as exc:  # no version on the channel (any more): nothing to retry
        logger.warning("No %s drift report: %s", channel, " ".join(exc.messages))
        return None
