"""Thin Celery wrappers over generation/services/ (the `gpu` queue, by CELERY_TASK_ROUTES)."""

import socket

from celery import shared_task


@shared_task(name="generation.tasks.generation_run_execute", acks_late=True, bind=True)
def generation_run_execute_task(self, run_id: int) -> None:  # noqa: ANN001
    from generation.services.execute import generation_run_execute

    worker = self.request.hostname or socket.gethostname()
    generation_run_execute(run_id=run_id, worker=worker)


# Cheap bookkeeping: CELERY_TASK_ROUTES sends it to the default queue, the others to `gpu`.
@shared_task(name="generation.tasks.generation_runs_recover", ignore_result=True)
def generation_runs_recover_task() -> list[int]:
    from generation.services.runs import generation_runs_recover

    return generation_runs_recover()
