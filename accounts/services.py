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
    by: User | None = None,
) -> tuple[User, str]:
    """Create a user with `roles`; returns the user and the password (generated when not given)."""
    email = email.strip().lower()
    validate_email(email)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(f"A user with the e-mail address {email} already exists.")
    password = password or generate_password()
    user = User.objects.create_user(email, password, first_name=first_name, last_name=last_name)
    user_set_roles(user=user, roles=roles, by=by)
    return user, password


@transaction.atomic
def user_set_roles(*, user: User, roles: list[Role], by: User | None = None) -> User:
    """Give `user` exactly `roles`, recorded in the audit trail as done `by` someone (None: the
    system, e.g. a command). Staff status (admin access) follows from the roles."""
    groups = list(Group.objects.filter(name__in=[Role(role).value for role in roles]))
    if len(groups) != len(set(roles)):
        raise ValidationError("The role groups are missing; run `manage.py migrate`.")
    before = user_role_names(user)
    user.groups.set(groups)
    return user_roles_changed(user=user, before=before, by=by)


@transaction.atomic
def user_roles_changed(*, user: User, before: list[str], by: User | None = None) -> User:
    """After `user`'s groups changed (here or in the admin's form): sync staff status and record
    the change, if any, with the roles before and after."""
    after = user_role_names(user)
    if after != before:
        from compliance.audit import Action, audit_record

        audit_record(
            action=Action.ROLE_CHANGED,
            actor=by,
            obj=user,
            detail={"user": user.email, "before": before, "after": after},
        )
    return user_sync_staff(user=user)


def user_role_names(user: User) -> list[str]:
    """The names of `user`'s groups (roles), sorted, read from the database: not from a
    prefetched cache that may predate a change."""
    return sorted(Group.objects.filter(user=user).values_list("name", flat=True))


def user_sync_staff(*, user: User) -> User:
    """Staff status is derived from roles, never set by hand: it opens the Django admin."""
    is_staff = user.is_superuser or any(role in STAFF_ROLES for role in roles_of(user))
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    return user
