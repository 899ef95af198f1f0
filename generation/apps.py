from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        from generation.feedback import on_post_published
        from posts.signals import post_published

        post_published.connect(on_post_published, dispatch_uid="generation.publication_record")
