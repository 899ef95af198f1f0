"""`python manage.py restore DIR|gs://…/blogllm-backup-…`: into an empty database, then a check
of the artifact storage against the backup's manifest. Run `manage.py verify_audit` after it."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from blogllm.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore a backup folder into this (empty) database and check the artifacts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "backup", help="The backup folder: a path or gs://bucket/prefix/blogllm-backup-…."
        )

    def handle(self, *args: object, backup: str, **options: object) -> None:
        try:
            result = backup_restore(source=backup)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Restored {result.name}: {result.tables} tables.")
        for key in result.artifacts_missing:
            self.stderr.write(f"Artifact missing from storage: {key}")
        for key in result.artifacts_changed:
            self.stderr.write(f"Artifact changed since the backup (sha256 differs): {key}")
        if result.artifacts_missing or result.artifacts_changed:
            raise CommandError(
                f"{len(result.artifacts_missing)} artifacts missing and "
                f"{len(result.artifacts_changed)} changed: restore them from the bucket's "
                "versions before training or drafting with the versions that use them.",
                returncode=2,
            )
        self.stdout.write(
            "Every artifact in the manifest is in storage, unchanged. Next: manage.py verify_audit"
        )
