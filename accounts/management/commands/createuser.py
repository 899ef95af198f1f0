import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import Role
from accounts.services import user_create

ROLE_CHOICES = {role.value.lower().replace(" ", "-"): role for role in Role}
ROLE_CHOICES["officer"] = Role.COMPLIANCE_OFFICER


class Command(BaseCommand):
    help = "Create a user with one or more roles (author, editor, compliance-officer, admin)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("email")
        parser.add_argument(
            "--role",
            action="append",
            required=True,
            choices=sorted(ROLE_CHOICES),
            help="A role to give the user; repeat for several.",
        )
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument(
            "--password", help="Omit to type it, or with --no-input to have one generated."
        )
        parser.add_argument("--no-input", action="store_true", dest="no_input")

    def handle(self, *args, email: str, role: list[str], **options) -> None:  # noqa: ANN003
        password = options["password"]
        if password is None and not options["no_input"]:
            password = getpass.getpass("Password (empty to generate one): ") or None
        try:
            user, password = user_create(
                email=email,
                roles=[ROLE_CHOICES[name] for name in role],
                password=password,
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Created {user.email} ({', '.join(role)}). Password: {password}")
