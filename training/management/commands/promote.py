from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from training.management.commands._common import acting_user, version_named
from training.models import ModelVersion
from training.services.registry import model_version_promote, model_version_rollback


class Command(BaseCommand):
    help = "Make a version its channel's active model (or --rollback a channel)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("version", nargs="?", help="Id, or channel:number (general:3).")
        parser.add_argument("--rollback", choices=["general", "clinical"], help="Channel.")
        parser.add_argument("--as", dest="as_user", help="E-mail of the user who decides.")
        parser.add_argument("--reason", default="")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        by = acting_user(options["as_user"])
        try:
            if options["rollback"]:
                version = model_version_rollback(
                    channel=options["rollback"], by=by, reason=options["reason"]
                )
                self.stdout.write(self.style.SUCCESS(f"Rolled back: {version} is active again."))
                return
            if not options["version"]:
                raise CommandError("Name a version, or say --rollback CHANNEL.")
            version = version_named(options["version"])
            self._show(version)
            if not options["yes"] and input("Promote? [y/N] ").strip().lower() != "y":
                raise CommandError("Not promoted.")
            model_version_promote(version=version, by=by, reason=options["reason"])
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        self.stdout.write(
            self.style.SUCCESS(f"{version} is now the active {version.channel} model.")
        )

    def _show(self, version: ModelVersion) -> None:
        active = ModelVersion.objects.filter(
            channel=version.channel, status=ModelVersion.Status.ACTIVE
        ).first()
        for label, item in (("candidate", version), ("active", active)):
            if item is None:
                self.stdout.write(f"  {label:9}  (none)")
                continue
            ppl = item.metrics.get("val_perplexity")
            style = item.metrics.get("style_score")
            self.stdout.write(
                f"  {label:9}  {item}: validation perplexity "
                f"{ppl if ppl is None else round(ppl, 2)}, style "
                f"{style if style is None else round(style, 3)}"
            )
