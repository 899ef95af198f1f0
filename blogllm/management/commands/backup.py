"""`python manage.py backup --to DIR|gs://bucket/prefix`: the database, encrypted, and the artifact
manifest, as one folder (blogllm/backups.py); the oldest past --keep are removed."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from blogllm.backups import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database (encrypted with BLOGLLM_BACKUP_KEY) and the artifact manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to", help="A folder or gs://bucket/prefix (default BLOGLLM_BACKUP_TO)."
        )
        parser.add_argument(
            "--keep", type=int, help="Backups to keep there (default BLOGLLM_BACKUP_KEEP)."
        )

    def handle(self, *args: object, to: str | None, keep: int | None, **options: object) -> None:
        try:
            result = backup_create(destination=to, keep=keep)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Backup {result.name} written to {result.uri}: database {result.dump_bytes:,} bytes "
            f"(encrypted), {result.artifacts} artifact files listed with their sha256."
        )
        for name in result.removed:
            self.stdout.write(f"Removed the older backup {name}.")
