"""Roles: what each may do, who may open the admin, and the navigation each one sees."""

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.roles import ROLE_PERMISSIONS, Role, requires_mfa, sync_roles
from accounts.services import user_create, user_set_roles


def enrol_totp(user) -> None:  # noqa: ANN001
    """Privileged users must have MFA before pages open; these tests are about navigation."""
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})


@pytest.mark.django_db
def test_the_migration_creates_each_role_with_exactly_its_permissions() -> None:
    for role, names in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role.value)
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert granted == set(names), role


@pytest.mark.django_db
def test_sync_roles_is_idempotent_and_repairs_drift() -> None:
    editors = Group.objects.get(name=Role.EDITOR.value)
    editors.permissions.clear()
    sync_roles()
    sync_roles()
    assert editors.permissions.count() == len(ROLE_PERMISSIONS[Role.EDITOR])
    assert Group.objects.filter(name__in=[r.value for r in Role]).count() == 4


def test_permission_matrix(author, editor, officer, admin_user, outsider) -> None:  # noqa: ANN001
    matrix = {
        "accounts.draft_posts": {author, editor},
        "accounts.review_posts": {editor},
        "accounts.manage_general_models": {editor},
        "accounts.handle_clinical_notes": {officer},
        "accounts.approve_clinical_posts": {officer},
        "accounts.manage_clinical_models": {officer},
        "accounts.view_audit_trail": {officer},
        "accounts.manage_users": {admin_user},
    }
    everyone = {author, editor, officer, admin_user, outsider}
    for permission, holders in matrix.items():
        for user in everyone:
            assert user.has_perm(permission) is (user in holders), (permission, user.email)


def test_admin_access_and_mfa_follow_the_role(author, editor, officer, admin_user) -> None:  # noqa: ANN001
    assert [u.is_staff for u in (author, editor, officer, admin_user)] == [False, True, True, True]
    assert [requires_mfa(u) for u in (author, editor, officer, admin_user)] == [
        False,
        False,
        True,
        True,
    ]


def test_changing_roles_updates_staff_status(author) -> None:  # noqa: ANN001
    user_set_roles(user=author, roles=[Role.EDITOR])
    author.refresh_from_db()
    assert author.is_staff
    user_set_roles(user=author, roles=[Role.AUTHOR])
    author.refresh_from_db()
    assert not author.is_staff


@pytest.mark.django_db
def test_user_create_refuses_a_duplicate_email_in_any_case() -> None:
    user_create(email="Ann@Example.org", roles=[Role.AUTHOR])
    with pytest.raises(ValidationError, match="already exists"):
        user_create(email="ann@example.org", roles=[Role.EDITOR])


def nav_labels(client, user) -> list[str]:  # noqa: ANN001
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return [item["label"] for item in response.context["nav_items"]]


def test_each_role_sees_its_navigation(client, author, editor, officer, admin_user) -> None:  # noqa: ANN001
    enrol_totp(officer)
    enrol_totp(admin_user)
    assert nav_labels(client, author) == [
        "Dashboard", "Posts", "Write with AI", "Search", "Import", "Security",
    ]  # fmt: skip
    assert nav_labels(client, editor) == [
        "Dashboard", "Posts", "Write with AI", "Search", "Import", "Corpus", "Training", "Admin",
        "Security",
    ]  # fmt: skip
    assert nav_labels(client, officer) == [
        "Dashboard", "Posts", "Write with AI", "Search", "Training", "Clinical notes",
        "Audit trail", "Admin", "Security",
    ]  # fmt: skip
    assert nav_labels(client, admin_user) == [
        "Dashboard",
        "Users & roles",
        "API & webhooks",
        "Admin",
        "Security",
    ]


def test_the_dashboard_lists_what_the_role_allows(client, author, officer) -> None:  # noqa: ANN001
    enrol_totp(officer)
    client.force_login(author)
    page = client.get(reverse("home")).content.decode()
    assert "write drafts" in page and "audit trail" not in page
    client.force_login(officer)
    page = client.get(reverse("home")).content.decode()
    assert "audit trail" in page and "write drafts" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["home", "admin:index", "mfa_index"])
def test_every_page_needs_a_login(client, url_name: str) -> None:  # noqa: ANN001
    response = client.get(reverse(url_name), follow=True)
    # The admin's own login page hands over to allauth's, which has MFA and rate limits.
    final_url, status = response.redirect_chain[-1]
    assert status == 302
    assert final_url.startswith(reverse("account_login"))


def test_authors_cannot_open_the_admin(client, author) -> None:  # noqa: ANN001
    client.force_login(author)
    assert client.get(reverse("admin:index"), follow=True).status_code == 403


@pytest.mark.django_db
def test_sign_up_is_closed(client) -> None:  # noqa: ANN001
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.org",
            "password1": "a-long-pass-123",
            "password2": "a-long-pass-123",
        },
    )
    assert "account/signup_closed.html" in [t.name for t in response.templates]
    from accounts.models import User

    assert not User.objects.filter(email="new@example.org").exists()


def test_an_admin_manages_roles_but_cannot_mint_superusers(client, admin_user, author) -> None:  # noqa: ANN001
    enrol_totp(admin_user)
    client.force_login(admin_user)
    page = client.get(reverse("admin:accounts_user_change", args=[author.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="groups"' in html  # roles are editable…
    assert 'name="is_superuser"' not in html  # …superuser status is not
    assert 'name="is_staff"' not in html  # and staff status follows the roles


def test_a_role_change_in_the_admin_is_audited_as_the_admins(client, admin_user, author) -> None:  # noqa: ANN001
    from compliance.audit import Action
    from compliance.models import AuditEvent

    enrol_totp(admin_user)
    client.force_login(admin_user)
    groups = Group.objects.filter(name__in=[Role.AUTHOR.value, Role.EDITOR.value])
    response = client.post(
        reverse("admin:accounts_user_change", args=[author.pk]),
        {
            "email": author.email,
            "first_name": author.first_name,
            "last_name": author.last_name,
            "groups": [group.pk for group in groups],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    author.refresh_from_db()
    assert author.is_staff  # staff status still follows the roles
    changes = AuditEvent.objects.filter(action=Action.ROLE_CHANGED, object_id=str(author.pk))
    event = changes.latest("seq")
    assert event.actor_id == admin_user.pk
    assert (event.detail["before"], event.detail["after"]) == (["Author"], ["Author", "Editor"])
