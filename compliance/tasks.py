"""Thin Celery wrappers over compliance.services (default queue: no route sends
compliance.tasks.* to gpu)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


# Embedding is idempotent (an unchanged note is skipped), so a task that lost its database
# connection is simply run again. Only a lost connection is retried: a note that is not
# approved (NoteNotApproved, a ValidationError) fails the same way every time.
@shared_task(
    name="compliance.tasks.note_embed",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=3,
    retry_backoff=True,
    retry_jitter=True,
)
def note_embed_task(note_id: int) -> int:
    from compliance.services.embedding import note_embed

    return note_embed(note_id=note_id)


# The batch's progress is on its row (note_batch_run counts every row there as it goes).
@shared_task(name="compliance.tasks.note_batch_run", acks_late=True)
def note_batch_run_task(note_batch_id: int) -> dict:
    from compliance.models import NoteBatch
    from compliance.services.intake import note_batch_run

    batch = note_batch_run(batch=NoteBatch.objects.get(id=note_batch_id))
    return {"status": batch.status, "created": batch.created, "failed": batch.failed}


@shared_task(name="compliance.tasks.audit_verify", ignore_result=True)
def audit_verify_task() -> None:
    from compliance.audit import audit_verify_record

    audit_verify_record()
