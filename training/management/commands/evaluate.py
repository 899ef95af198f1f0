from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from training.management.commands._common import version_named
from training.services.registry import model_version_evaluate


class Command(BaseCommand):
    help = "Evaluate a registered version again (perplexity, samples, style; memorisation)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("version", help="Id, or channel:number (general:3).")

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        version = version_named(options["version"])
        try:
            version = model_version_evaluate(version=version, log=self.stdout.write)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        m = version.metrics
        self.stdout.write(
            self.style.SUCCESS(
                f"{version}: validation perplexity {m['val_perplexity']:.2f} "
                f"(base {m['base_val_perplexity']:.2f})"
            )
        )
        if version.memorisation_passed is not None:
            verdict = "passed" if version.memorisation_passed else "FAILED"
            self.stdout.write(f"Memorisation test {verdict}.")
