"""Posts' signals → webhook deliveries (connected in PublishingConfig.ready)."""

from posts.signals import post_published, post_withdrawn
from publishing.models import WebhookEndpoint
from publishing.services.webhooks import webhooks_enqueue

Event = WebhookEndpoint.Event


def on_post_published(
    sender: object, *, post_id: int, republished: bool = False, **_: object
) -> None:
    webhooks_enqueue(event=Event.UPDATED if republished else Event.PUBLISHED, post_id=post_id)


def on_post_withdrawn(sender: object, *, post_id: int, how: str, **_: object) -> None:
    webhooks_enqueue(
        event=Event.ARCHIVED if how == "archived" else Event.UNPUBLISHED, post_id=post_id
    )


post_published.connect(on_post_published, dispatch_uid="publishing.webhooks.published")
post_withdrawn.connect(on_post_withdrawn, dispatch_uid="publishing.webhooks.withdrawn")
