"""Thin Celery wrappers over training.services. Training and evaluation run on the `gpu` queue
(CELERY_TASK_ROUTES)."""

import socket

from celery import shared_task


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
