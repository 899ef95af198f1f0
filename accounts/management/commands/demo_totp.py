from django.core.management.base import BaseCommand, CommandError

from blogllm import demo


class Command(BaseCommand):
    help = "Print the current two-factor code of a demo user (demo accounts only)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("email")

    def handle(self, *args, email: str, **options) -> None:  # noqa: ANN002, ANN003
        try:
            self.stdout.write(demo.totp_code(email))
        except demo.NotADemoUser as exc:
            raise CommandError(str(exc)) from None
