from django.apps import AppConfig


class PublishingConfig(AppConfig):
    """The publishing API for external sites: API keys, the DRF API and webhooks.

    It sits above posts, generation and training (a post's provenance reads all three), so none
    of them imports it; it hears of post changes through posts.signals.
    """

    name = "publishing"
    verbose_name = "Publishing API"

    def ready(self) -> None:
        from publishing import receivers  # noqa: F401  (connects the webhook receivers)
