"""Thin Celery wrappers over publishing.services.webhooks (default queue).

A try that loses its database connection is not retried by Celery: its claim expires and beat's
sweep tries the delivery again, on the schedule the database holds.
"""

from celery import shared_task


@shared_task(name="publishing.tasks.webhook_deliver", ignore_result=True)
def webhook_deliver_task(delivery_id: int) -> None:
    from publishing.services.webhooks import webhook_delivery_attempt

    webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="publishing.tasks.webhooks_deliver_due", ignore_result=True)
def webhooks_deliver_due_task() -> int:
    """Hand every due delivery to a worker of its own, so one slow receiver holds up no other."""
    from publishing.services.webhooks import webhooks_deliver_due

    due = webhooks_deliver_due()
    for delivery_id in due:
        webhook_deliver_task.delay(delivery_id=delivery_id)
    return len(due)
