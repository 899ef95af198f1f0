"""Writes for users and roles. Every door (admin, commands, seed) goes through these."""

import secrets

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import User
from accounts.roles import STAFF_ROLES, Role, roles_of


def generate_password() -> str:
    return secrets.token_urlsafe(12)


@transaction.atomic
def user_create(
    *,
    email: str,
    roles: list[Role],
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
) -> tuple[User, str]:
    """Create a user with `roles`; returns the user and the password (generated when not given)."""
    email = email.strip().lower()
    validate_email(email)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(f"A user with the e-mail address {email} already exists.")
    password = password or generate_password()
    user = User.objects.create_user(email, password, first_name=first_name, last_name=last_name)
    user_set_roles(user=user, roles=roles)
    return user, password


@transaction.atomic
def user_set_roles(*, user: User, roles: list[Role]) -> User:
    """Give `user` exactly `roles`. Staff status (admin access) follows from the roles."""
    groups = list(Group.objects.filter(name__in=[Role(role).value for role in roles]))
    if len(groups) != len(set(roles)):
        raise ValidationError("The role groups are missing; run `manage.py migrate`.")
    user.groups.set(groups)
    return user_sync_staff(user=user)


def user_sync_staff(*, user: User) -> User:
    """Staff status is derived from roles, never set by hand: it opens the Django admin."""
    is_staff = user.is_superuser or any(role in STAFF_ROLES for role in roles_of(user))
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    return user
