"""Settings come from the environment, strictly: a bad value stops start-up with one sentence."""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from blogllm.env import env_bool, env_int, env_list, env_path, env_secret
from tests.conftest import ROOT

STRONG_SECRET = "s" * 30 + "-a-long-random-production-secret-value-0123456789"
PROD_FERNET_KEY = "cHJvZHVjdGlvbi1rZXktZm9yLXRlc3RzLW9ubHktMzI="


def test_env_bool_reads_the_usual_spellings(monkeypatch) -> None:
    for raw, expected in [("1", True), ("yes", True), ("ON", True), ("0", False), ("off", False)]:
        monkeypatch.setenv("FLAG", raw)
        assert env_bool("FLAG", not expected) is expected
    monkeypatch.delenv("FLAG")
    assert env_bool("FLAG", True) is True


def test_env_bool_refuses_anything_else_and_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be true or false"):
        env_bool("DEBUG", False)


def test_env_int_checks_type_and_minimum(monkeypatch) -> None:
    monkeypatch.setenv("BLOGLLM_PORT", "80a")
    with pytest.raises(ImproperlyConfigured, match="BLOGLLM_PORT must be a whole number"):
        env_int("BLOGLLM_PORT", 8000)
    monkeypatch.setenv("BLOGLLM_PORT", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("BLOGLLM_PORT", 8000, minimum=1)
    monkeypatch.setenv("BLOGLLM_PORT", " 9000 ")
    assert env_int("BLOGLLM_PORT", 8000) == 9000


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", "a.example, b.example,,")
    assert env_list("ALLOWED_HOSTS", []) == ["a.example", "b.example"]


def test_env_secret_reads_a_file_and_refuses_both_forms(monkeypatch, tmp_path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret_file))
    assert env_secret("SECRET_KEY") == "from-a-file"
    monkeypatch.setenv("SECRET_KEY", "inline")
    with pytest.raises(ImproperlyConfigured, match="either SECRET_KEY or SECRET_KEY_FILE"):
        env_secret("SECRET_KEY")
    monkeypatch.delenv("SECRET_KEY")
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_secret("SECRET_KEY")


def test_env_path_is_relative_to_the_project(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BLOGLLM_DATA_DIR", "data")
    assert env_path("BLOGLLM_DATA_DIR", tmp_path, base=tmp_path) == tmp_path / "data"
    monkeypatch.delenv("BLOGLLM_DATA_DIR")
    assert env_path("BLOGLLM_DATA_DIR", tmp_path / "var", base=tmp_path) == tmp_path / "var"


def load_settings(module: str, **env: str) -> subprocess.CompletedProcess:
    """Import a settings module in a fresh interpreter with exactly these variables."""
    base_env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": module, **env}
    code = "import django; django.setup(); from django.conf import settings; print('loaded')"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base_env, capture_output=True, text=True
    )


def test_development_settings_need_no_variables() -> None:
    result = load_settings("blogllm.settings.local")
    assert result.returncode == 0, result.stderr
    assert "loaded" in result.stdout


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL must point at PostgreSQL"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL must be a redis://"),
        ({"FIELD_ENCRYPTION_KEY": "short"}, "FIELD_ENCRYPTION_KEY must be comma-separated Fernet"),
        ({"ARTIFACT_STORAGE": "s3://bucket"}, "ARTIFACT_STORAGE must be a file:///path or gs://"),
        ({"DEBUG": "perhaps"}, "DEBUG must be true or false"),
    ],
)
def test_bad_values_stop_start_up_with_a_sentence(env: dict, sentence: str) -> None:
    result = load_settings("blogllm.settings.local", **env)
    assert result.returncode != 0
    assert sentence in result.stderr


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        ({}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 60}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": STRONG_SECRET, "DEBUG": "1"}, "DEBUG must be off"),
        ({"SECRET_KEY": STRONG_SECRET}, "FIELD_ENCRYPTION_KEY must be set to your own key"),
    ],
)
def test_production_refuses_development_defaults(env: dict, sentence: str) -> None:
    result = load_settings("blogllm.settings.production", **env)
    assert result.returncode != 0
    assert sentence in result.stderr


def test_production_settings_pass_the_deploy_checks() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "blogllm.settings.production",
        "SECRET_KEY": STRONG_SECRET,
        "FIELD_ENCRYPTION_KEY": PROD_FERNET_KEY,
        "ALLOWED_HOSTS": "blog.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_field_encryption_keys_rotate(settings) -> None:
    from cryptography.fernet import Fernet

    from blogllm import crypto

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt_text("raw note")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # rotation: the new key first, the old still read
    assert crypto.decrypt_text(token) == "raw note"
    rotated = crypto.rotate(token)
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt_text(rotated) == "raw note"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(token)  # made with the retired key only
