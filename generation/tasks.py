"""Thin Celery wrappers over generation.services (the `gpu` queue, by CELERY_TASK_ROUTES)."""

from celery import shared_task


@shared_task(name="generation.tasks.generation_run_execute", acks_late=True)
def generation_run_execute_task(run_id: int) -> None:
    from generation.services import generation_run_execute

    generation_run_execute(run_id=run_id)
