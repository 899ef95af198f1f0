"""Shared by the training commands: who acts, and which version a name means."""

from django.core.management.base import CommandError

from accounts.models import User
from training.models import ModelVersion


def acting_user(email: str | None) -> User | None:
    """The user a command acts as (permissions and the audit trail), or None: the operator at
    the command line, who already holds the server's keys."""
    if not email:
        return None
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        raise CommandError(f"No user with the e-mail address {email}.")
    return user


def version_named(name: str) -> ModelVersion:
    """`12` (an id), `general:3` or `general v3` (channel and number)."""
    text = name.strip().replace(" v", ":").replace(" ", ":")
    if ":" in text:
        channel, _, number = text.partition(":")
        version = ModelVersion.objects.filter(
            channel=channel.lower(), number=number.lstrip("v") or -1
        ).first()
    else:
        version = ModelVersion.objects.filter(id=int(text)).first() if text.isdigit() else None
    if version is None:
        raise CommandError(f"No model version {name!r}. Name it by id or as channel:number.")
    return version
