"""Thin Celery wrappers over posts.services (default queue)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

# Embedding is idempotent (an unchanged post is skipped), so a task that lost its database
# connection mid-way is simply run again. Only a lost connection is retried: anything else
# (a bad row, a missing model) fails the same way every time.
TRANSIENT = (OperationalError, InterfaceError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "max_retries": 3,
    "retry_backoff": True,
    "retry_jitter": True,
}


@shared_task(name="posts.tasks.post_embed", acks_late=True, **RETRY)
def post_embed_task(post_id: int) -> int:
    from posts.services.embedding import post_embed

    return post_embed(post_id=post_id)


@shared_task(name="posts.tasks.posts_embed", acks_late=True, **RETRY)
def posts_embed_task(post_ids: list[int]) -> int:
    """Many posts at once (after an import): their chunks share the model's batches."""
    from posts.services.embedding import posts_embed

    return posts_embed(post_ids=post_ids)[1]


@shared_task(name="posts.tasks.publish_due_posts", ignore_result=True)
def publish_due_posts_task() -> list[int]:
    from posts.services.workflow import publish_due_posts

    return publish_due_posts()


@shared_task(name="posts.tasks.import_job_run", bind=True, acks_late=True)
def import_job_run_task(self, import_job_id: int) -> dict:  # noqa: ANN001
    from posts.models import ImportJob
    from posts.services.importing import import_job_run

    job = import_job_run(job=ImportJob.objects.get(id=import_job_id))
    return {"imported": job.imported, "duplicates": job.duplicates, "skipped": job.skipped}
