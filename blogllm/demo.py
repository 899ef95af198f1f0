"""Demo data for a newcomer's first `make run`: one user per role and the demo blog.

Idempotent: a second run finds everything in place and only prints the logins again. Passwords
are generated once and kept in `<data dir>/demo-logins.json` (readable by the owner only), so the
demo survives restarts. The privileged demo users come with TOTP already enrolled, so a newcomer
without an authenticator app can sign in with `manage.py demo_totp EMAIL`.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.conf import settings
from django.db import transaction

from accounts.models import User
from accounts.roles import MFA_ROLES, Role
from accounts.services import generate_password, user_create, user_set_roles

DEMO_USERS = [
    # The author of the demo blog (posts/demo_corpus), a clinical psychologist.
    ("author@demo.blogllm.test", Role.AUTHOR, "Maren", "Holt"),
    ("editor@demo.blogllm.test", Role.EDITOR, "Eddie", "Editor"),
    ("officer@demo.blogllm.test", Role.COMPLIANCE_OFFICER, "Olive", "Officer"),
    # A second officer uploaded the demo's clinical notes: nobody reviews their own upload.
    ("uploader@demo.blogllm.test", Role.COMPLIANCE_OFFICER, "Uma", "Uploader"),
    ("admin@demo.blogllm.test", Role.ADMIN, "Alex", "Admin"),
]


DEMO_CORPUS = Path(__file__).resolve().parent.parent / "posts" / "demo_corpus"
# Six invented clinical notes, one of each kind, written once by bench/deid_corpus.py.
DEMO_NOTES = Path(__file__).resolve().parent.parent / "compliance" / "demo_notes"


class NotADemoUser(LookupError):
    pass


@dataclass
class DemoLogin:
    email: str
    role: str
    password: str
    totp_secret: str = ""


def _logins_path() -> Path:
    return Path(settings.DATA_DIR) / "demo-logins.json"


def _read_logins() -> dict[str, DemoLogin]:
    path = _logins_path()
    if not path.exists():
        return {}
    return {entry["email"]: DemoLogin(**entry) for entry in json.loads(path.read_text())}


def _write_logins(logins: dict[str, DemoLogin]) -> None:
    path = _logins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump([asdict(login) for login in logins.values()], handle, indent=2)


@transaction.atomic
def seed() -> list[DemoLogin]:
    known = _read_logins()
    logins: dict[str, DemoLogin] = {}
    for email, role, first_name, last_name in DEMO_USERS:
        login = known.get(email)
        user = User.objects.filter(email=email).first()
        if user is None:
            user, password = user_create(
                email=email, roles=[role], first_name=first_name, last_name=last_name
            )
            login = DemoLogin(email, role.label, password)
        elif login is None:  # the data dir was reset but the database was not: new password
            login = DemoLogin(email, role.label, generate_password())
            user.set_password(login.password)
            user.save(update_fields=["password"])
            user_set_roles(user=user, roles=[role])
        if role in MFA_ROLES and not login.totp_secret:
            Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
            login.totp_secret = generate_totp_secret()
            TOTP.activate(user, login.totp_secret)
        logins[email] = login
    _write_logins(logins)
    seed_demo_posts(User.objects.get(email=DEMO_USERS[0][0]))
    seed_demo_notes(User.objects.get(email="uploader@demo.blogllm.test"))
    return list(logins.values())


def seed_demo_posts(author: User) -> int:
    """Import the demo blog as its author's earlier posts; a second run adds nothing."""
    from posts.importers import iter_import
    from posts.services.importing import import_items

    report = import_items(iter_import(DEMO_CORPUS), by=author)
    return sum(1 for line in report if line.outcome == "imported")


def seed_demo_notes(uploader: User) -> int:
    """The demo clinical notes (invented people) waiting in the officers' review queue; added
    once: a later run, or a queue someone has worked through, is left alone."""
    from compliance.models import ClinicalNote
    from compliance.services import note_create

    if ClinicalNote.objects.filter(uploaded_by=uploader).exists():
        return 0
    paths = sorted(DEMO_NOTES.glob("*.txt"))  # `1-discharge.txt`: order, then kind
    for path in paths:
        note_create(
            text=path.read_text(encoding="utf-8"),
            by=uploader,
            title=f"Synthetic {path.stem.partition('-')[2]} note",
            source=ClinicalNote.Source.PASTE,
        )
    return len(paths)


def totp_code(email: str) -> str:
    login = _read_logins().get(email.strip().lower())
    if login is None or not login.totp_secret:
        raise NotADemoUser(f"{email} is not a demo user with two-factor authentication.")
    # The middle counter of allauth's tolerance window is the current period.
    counters = list(yield_hotp_counters_from_time())
    counter = counters[len(counters) // 2]
    return format_hotp_value(hotp_value(login.totp_secret, counter))


def format_logins(logins: list[DemoLogin]) -> str:
    lines = ["Demo logins (password; two-factor code: manage.py demo_totp EMAIL):"]
    for login in logins:
        mfa = "  + two-factor code" if login.totp_secret else ""
        lines.append(f"  {login.role:<19} {login.email:<28} {login.password}{mfa}")
    return "\n".join(lines)
