import json
import stat
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from accounts.roles import Role, roles_of
from blogllm import demo


@pytest.mark.django_db
def test_createuser_gives_the_roles_and_prints_a_generated_password() -> None:
    out = StringIO()
    call_command(
        "createuser",
        "Nina@Example.org",
        "--role",
        "editor",
        "--role",
        "compliance-officer",
        "--no-input",
        stdout=out,
    )
    user = User.objects.get(email="nina@example.org")
    assert roles_of(user) == [Role.EDITOR, Role.COMPLIANCE_OFFICER]
    password = out.getvalue().rsplit("Password: ", 1)[1].strip()
    assert user.check_password(password)


@pytest.mark.django_db
def test_createuser_explains_a_bad_email() -> None:
    with pytest.raises(CommandError, match="valid email"):
        call_command("createuser", "not-an-email", "--role", "author", "--no-input")


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_keeps_the_passwords(settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path
    first = {login.email: login for login in demo.seed()}
    second = {login.email: login for login in demo.seed()}
    assert first.keys() == second.keys() and len(first) == len(demo.DEMO_USERS) == 5
    assert all(first[e].password == second[e].password for e in first)
    assert User.objects.filter(email__endswith="@demo.blogllm.test").count() == 5
    for email, login in second.items():
        assert User.objects.get(email=email).check_password(login.password)

    logins_file = tmp_path / "demo-logins.json"
    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600
    assert len(json.loads(logins_file.read_text())) == 5


@pytest.mark.django_db
def test_the_demo_seeds_clinical_notes_for_the_other_officer_to_review(settings, tmp_path) -> None:  # noqa: ANN001
    from compliance.models import ClinicalNote

    settings.DATA_DIR = tmp_path
    demo.seed()
    demo.seed()  # a second run adds none
    notes = ClinicalNote.objects.all()
    assert notes.count() == len(list(demo.DEMO_NOTES.glob("*.txt"))) == 6
    assert {n.uploaded_by.email for n in notes} == {"uploader@demo.blogllm.test"}
    assert all(n.status == "pending" and n.findings.exists() for n in notes)


@pytest.mark.django_db
def test_privileged_demo_users_get_a_working_totp(settings, tmp_path, client) -> None:  # noqa: ANN001
    settings.DATA_DIR = tmp_path
    logins = {login.email: login for login in demo.seed()}
    officer = logins["officer@demo.blogllm.test"]
    assert officer.totp_secret and not logins["author@demo.blogllm.test"].totp_secret

    client.post("/accounts/login/", {"login": officer.email, "password": officer.password})
    out = StringIO()
    call_command("demo_totp", officer.email, stdout=out)
    client.post("/accounts/2fa/authenticate/", {"code": out.getvalue().strip()})
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_demo_totp_serves_demo_users_only(settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path
    demo.seed()
    with pytest.raises(CommandError, match="not a demo user"):
        call_command("demo_totp", "author@demo.blogllm.test")
