from django.core.management.base import BaseCommand, CommandError

from compliance.services.notes import note_rotate_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt pending notes' raw text and unprocessed batch files with the first (newest) "
        "FIELD_ENCRYPTION_KEY key. Afterwards the old key can be dropped from the list."
    )

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        result = note_rotate_keys()
        self.stdout.write(f"Re-encrypted {result.notes} notes and {result.batches} batches.")
        if result.failed:
            raise CommandError(
                "No FIELD_ENCRYPTION_KEY key decrypts: "
                + ", ".join(result.failed)
                + ". Keep the old key listed until these are re-encrypted or decided.",
                returncode=1,
            )
