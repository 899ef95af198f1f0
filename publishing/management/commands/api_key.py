"""Make or revoke an API key from the command line, as a named admin.

manage.py api_key create --for author@example.com --scopes drafts:write --as admin@example.com
manage.py api_key revoke bllm_Ab3dE9x --as admin@example.com
"""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import User
from publishing.models import ApiKey
from publishing.services.keys import api_key_create, api_key_revoke


def _user(email: str) -> User:
    try:
        return User.objects.get(email=email.lower())
    except User.DoesNotExist:
        raise CommandError(f"No user has the e-mail address {email}.") from None


class Command(BaseCommand):
    help = "Create (the secret is printed once) or revoke an API key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "revoke"])
        parser.add_argument("prefix", nargs="?", help="revoke: the key's prefix (bllm_…).")
        parser.add_argument("--for", dest="for_user", help="create: e-mail of the key's owner.")
        parser.add_argument("--scopes", default="posts:read", help="Comma-separated scopes.")
        parser.add_argument("--expires-days", type=int, help="create: expire after N days.")
        parser.add_argument("--note", default="", help="create: what the key is for.")
        parser.add_argument("--as", dest="as_user", required=True, help="E-mail of the admin.")

    def handle(self, *args: object, **options: object) -> None:
        admin = _user(options["as_user"])
        try:
            if options["action"] == "revoke":
                key = ApiKey.objects.filter(prefix=options["prefix"] or "").first()
                if key is None:
                    raise CommandError("No API key has that prefix.")
                api_key_revoke(by=admin, key=key)
                self.stdout.write(f"Revoked {key.prefix}…")
                return
            if not options["for_user"]:
                raise CommandError("Say whose key it is: --for EMAIL.")
            days = options["expires_days"]
            _, secret = api_key_create(
                by=admin,
                user=_user(options["for_user"]),
                scopes=[s.strip() for s in options["scopes"].split(",") if s.strip()],
                note=options["note"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except (PermissionDenied, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        self.stdout.write("The key (shown once; store it now):")
        self.stdout.write(secret)
