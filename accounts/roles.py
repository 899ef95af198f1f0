"""The four roles, what each may do, and who must use MFA. One place for all of it.

A role is a Django group; its permissions are listed here and written to the database by
`sync_roles`, which the accounts data migration runs and which later apps' migrations call again
when they add permissions. A user may hold several roles.
"""

from django.db import models

MFA_REQUIRED_HINT = "Compliance officers and admins must use two-factor authentication."


class Role(models.TextChoices):
    AUTHOR = "Author"
    EDITOR = "Editor"
    COMPLIANCE_OFFICER = "Compliance officer", "Compliance officer"
    ADMIN = "Admin"


_AUTHOR = ["accounts.draft_posts", "accounts.request_ai_drafts"]
# The admin shows training runs and the registry; promotion goes through the services.
_TRAINING_ADMIN = [
    "training.view_trainingrun", "training.view_modelversion",
    "training.view_datasetsnapshot", "training.view_promotion",
]  # fmt: skip
# What the Django admin shows reviewers; changes still go through the workflow services.
_POSTS_ADMIN = [
    "posts.view_post", "posts.change_post", "posts.view_revision", "posts.view_transition",
]  # fmt: skip

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.AUTHOR: _AUTHOR,
    Role.EDITOR: [
        *_AUTHOR,
        "accounts.review_posts",
        "accounts.manage_general_models",
        *_POSTS_ADMIN,
        *_TRAINING_ADMIN,
        "posts.view_tag",
        "posts.add_tag",
        "posts.change_tag",
        "posts.view_importjob",
        "posts.view_chunk",
    ],  # fmt: skip
    Role.COMPLIANCE_OFFICER: [
        "accounts.handle_clinical_notes",
        "accounts.approve_clinical_posts",
        "accounts.manage_clinical_models",
        "accounts.view_audit_trail",
        *_POSTS_ADMIN,
        *_TRAINING_ADMIN,
        # The admin shows notes, findings, batches and the trail; decisions go through services.
        "compliance.view_clinicalnote",
        "compliance.view_deidfinding",
        "compliance.view_notebatch",
        "compliance.view_auditevent",
    ],
    Role.ADMIN: [
        "accounts.manage_users",
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "auth.view_group",
        # API keys: listed and created in the admin, revoked by an action (publishing.admin).
        "publishing.view_apikey",
        "publishing.add_apikey",
    ],
}

# Roles that may open the Django admin, and roles that must sign in with a second factor.
STAFF_ROLES = {Role.EDITOR, Role.COMPLIANCE_OFFICER, Role.ADMIN}
MFA_ROLES = {Role.COMPLIANCE_OFFICER, Role.ADMIN}


def sync_roles(apps: object = None) -> None:
    """Create the role groups and give each exactly its permissions (idempotent).

    Permissions whose app is not migrated yet are skipped; that app's migration calls this again.
    Works with the historical `apps` of a migration or, with no argument, the live models.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or global_apps
    # Permissions are normally created after `migrate` finishes; create them now so the groups
    # can reference them. An app missing from `apps` (not migrated yet) is skipped.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role.value)
        wanted = [name.split(".", 1) for name in names]
        permissions = [
            p
            for p in permission_model.objects.filter(
                codename__in=[c for _, c in wanted]
            ).select_related("content_type")
            if [p.content_type.app_label, p.codename] in wanted
        ]
        group.permissions.set(permissions)


def roles_of(user: object) -> list[Role]:
    if not getattr(user, "is_authenticated", False):
        return []
    names = {group.name for group in user.groups.all()}
    return [role for role in Role if role.value in names]


def role_of(user: object) -> str:
    """The user's roles as a label for the page header ("Editor", "Editor, Admin")."""
    roles = roles_of(user)
    if not roles:
        return "Superuser" if getattr(user, "is_superuser", False) else "No role"
    return ", ".join(role.label for role in roles)


def requires_mfa(user: object) -> bool:
    return getattr(user, "is_superuser", False) or any(r in MFA_ROLES for r in roles_of(user))
