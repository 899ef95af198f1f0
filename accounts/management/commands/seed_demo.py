from django.core.management.base import BaseCommand

from blogllm import demo


class Command(BaseCommand):
    help = "Create the demo users (one per role) and content; safe to run again. Prints the logins."

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        logins = demo.seed()
        self.stdout.write(demo.format_logins(logins))
