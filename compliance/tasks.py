"""Thin Celery wrappers over compliance.services (default queue: no route sends
compliance.tasks.* to gpu)."""

from celery import shared_task

from blogllm.progress import report_progress


@shared_task(name="compliance.tasks.note_embed", acks_late=True, max_retries=3)
def note_embed_task(note_id: int) -> int:
    from compliance.services.embedding import note_embed

    return note_embed(note_id=note_id)


@shared_task(name="compliance.tasks.note_batch_run", bind=True, acks_late=True)
def note_batch_run_task(self, note_batch_id: int) -> dict:  # noqa: ANN001
    from compliance.models import NoteBatch
    from compliance.services.intake import note_batch_run

    def on_row(done: int, total: int) -> None:
        report_progress(self, done=done, total=total, message=f"{done} of {total} rows")

    batch = note_batch_run(batch=NoteBatch.objects.get(id=note_batch_id), on_row=on_row)
    return {"status": batch.status, "created": batch.created, "failed": batch.failed}
