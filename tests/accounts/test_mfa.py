"""Two-factor authentication: required for compliance officers and admins, available to all;
failed logins are rate-limited."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.urls import reverse

from tests.accounts.factories import PASSWORD

# Personas come through request.getfixturevalue, which pytest-django cannot see when it orders
# tests; the mark keeps these before the transactional tests that flush the role groups.
pytestmark = pytest.mark.django_db


def current_code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def log_in(client, user, password: str = PASSWORD):  # noqa: ANN001, ANN201
    return client.post(reverse("account_login"), {"login": user.email, "password": password})


@pytest.mark.parametrize("persona", ["officer", "admin_user"])
def test_privileged_roles_must_set_up_totp_before_anything_else(client, request, persona) -> None:  # noqa: ANN001
    user = request.getfixturevalue(persona)
    log_in(client, user)
    for url in (reverse("home"), reverse("admin:index")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == reverse("mfa_activate_totp")

    # allauth asks for the password again before MFA changes; that page must stay open too.
    response = client.get(reverse("mfa_activate_totp"))
    assert response.url.startswith(reverse("account_reauthenticate"))
    response = client.post(response.url, {"password": PASSWORD})
    assert response.status_code == 302
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200

    secret = client.session["mfa.totp.secret"]  # the secret the page shows as a QR code
    response = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize("persona", ["author", "editor"])
def test_other_roles_may_go_without_mfa(client, request, persona) -> None:  # noqa: ANN001
    log_in(client, request.getfixturevalue(persona))
    assert client.get(reverse("home")).status_code == 200
    # …and may still set it up (after re-entering the password).
    response = client.get(reverse("mfa_activate_totp"))
    assert response.url.startswith(reverse("account_reauthenticate"))


def test_htmx_requests_are_redirected_with_a_header(client, officer) -> None:  # noqa: ANN001
    client.force_login(officer)
    response = client.get(reverse("home"), headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == reverse("mfa_activate_totp")


def test_an_officer_with_totp_signs_in_with_password_and_code(client, officer) -> None:  # noqa: ANN001
    secret = generate_totp_secret()
    TOTP.activate(officer, secret)
    response = log_in(client, officer)
    # The password alone is not enough: allauth asks for the second factor.
    assert response.status_code == 302
    assert response.url == reverse("mfa_authenticate")
    assert client.get(reverse("home")).status_code == 302

    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert client.get(reverse("home")).status_code == 302  # a wrong code does not let them in

    response = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_totp_secrets_are_encrypted_at_rest(officer) -> None:  # noqa: ANN001
    secret = generate_totp_secret()
    TOTP.activate(officer, secret)
    stored = Authenticator.objects.get(user=officer).data["secret"]
    assert secret not in stored


def test_an_author_signs_in_with_the_password_alone(client, author) -> None:  # noqa: ANN001
    response = log_in(client, author)
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_failed_logins_are_rate_limited(client, author) -> None:  # noqa: ANN001
    for _ in range(5):
        response = log_in(client, author, password="wrong")
        assert response.status_code == 200  # the form again, with an error
    # The sixth attempt is refused even with the right password.
    response = log_in(client, author)
    assert response.status_code == 429 or b"Too many failed" in response.content
    assert client.get(reverse("home")).status_code == 302
