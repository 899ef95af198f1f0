"""Backups: the encrypted format refuses a wrong key or a changed file, and a backup restored
into an empty database on the embedded PostgreSQL gives back posts, chunks with their vectors,
notes, the model registry and an audit trail that verify_audit still proves intact."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from blogllm import backups
from blogllm.backups import BackupError, backup_restore, decrypt_file, encrypt_file
from compliance.audit import audit_verify
from posts.models import Chunk, Post
from tests.compliance.factories import make_note
from tests.conftest import ROOT, subprocess_env
from tests.posts.factories import make_post
from tests.training.factories import ModelVersionFactory
from training.storage import default_storage

KEY = Fernet.generate_key().decode()


@pytest.fixture
def small_chunks(monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setattr(backups, "CHUNK", 1000)


def _sealed(tmp_path: Path, data: bytes) -> Path:
    plain, sealed = tmp_path / "plain", tmp_path / "sealed"
    plain.write_bytes(data)
    encrypt_file(plain, sealed, backups.backup_key(KEY))
    return sealed


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 5500])
def test_a_file_comes_back_byte_for_byte(tmp_path, small_chunks, size) -> None:  # noqa: ANN001
    data = os.urandom(size)
    decrypt_file(_sealed(tmp_path, data), tmp_path / "back", backups.backup_key(KEY))
    assert (tmp_path / "back").read_bytes() == data


def test_a_wrong_key_a_changed_byte_a_cut_or_a_reordering_is_refused(
    tmp_path, small_chunks
) -> None:  # noqa: ANN001
    sealed = _sealed(tmp_path, os.urandom(3500)).read_bytes()
    header, box = len(backups.MAGIC) + 8, 4 + 1000 + 16  # one full chunk on disk
    chunks = [sealed[header + i * box : header + (i + 1) * box] for i in range(3)]
    variants = {
        "wrong key": (sealed, Fernet.generate_key().decode()),
        "changed byte": (sealed[:100] + bytes([sealed[100] ^ 1]) + sealed[101:], KEY),
        "cut after a chunk": (sealed[: header + 2 * box], KEY),
        "chunks swapped": (
            sealed[:header] + chunks[1] + chunks[0] + sealed[header + 2 * box :],
            KEY,
        ),
    }
    for what, (content, key) in variants.items():
        (tmp_path / "bad").write_bytes(content)
        with pytest.raises(BackupError, match="does not decrypt"):
            decrypt_file(tmp_path / "bad", tmp_path / "out", backups.backup_key(key))
        assert what


def test_a_backup_needs_a_key(settings, tmp_path) -> None:  # noqa: ANN001
    settings.BACKUP_KEY = ""
    with pytest.raises(BackupError, match="Set BLOGLLM_BACKUP_KEY"):
        backups.backup_create(destination=str(tmp_path))


def _database(name: str, *, create: bool) -> None:
    db = connection.settings_dict
    uri = f"postgresql://{db['USER']}@/postgres?host={db['HOST']}&port={db['PORT']}"
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def _rows(name: str, query: str) -> list[tuple]:
    db = connection.settings_dict
    with psycopg.connect(
        f"postgresql://{db['USER']}@/{name}?host={db['HOST']}&port={db['PORT']}"
    ) as conn:
        return conn.execute(query).fetchall()


def _manage(*args: str, database: str) -> subprocess.CompletedProcess:
    from django.conf import settings

    env = subprocess_env(
        BLOGLLM_DATABASE_NAME=database,
        BLOGLLM_BACKUP_KEY=KEY,
        ARTIFACT_STORAGE=settings.ARTIFACT_STORAGE,
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_backup_restores_into_an_empty_database_with_its_vectors_and_an_intact_audit_trail(
    settings, tmp_path
) -> None:  # noqa: ANN001
    from accounts.roles import Role
    from tests.accounts.factories import UserFactory

    settings.BACKUP_KEY = KEY
    settings.ARTIFACT_STORAGE = (tmp_path / "artifacts").as_uri()  # this test deletes from it
    author = UserFactory(roles=[Role.AUTHOR])
    post = make_post(author, title="Sleep", status=Post.Status.PUBLISHED, body_markdown="Rest.")
    vector = [((i * 37) % 101) / 101 for i in range(384)]
    Chunk.objects.create(post=post, ord=0, text="Rest.", token_count=2, embedding=vector)
    make_note(author)
    version = ModelVersionFactory()
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(os.urandom(2048))
    default_storage().put_dir(adapter, f"general/versions/{version.id}/adapter")
    assert audit_verify().ok
    trail_end = _rows(
        connection.settings_dict["NAME"], "SELECT max(seq), max(hash) FROM compliance_auditevent"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT embedding::text FROM posts_chunk")
        (stored_vector,) = cursor.fetchone()

    out = tmp_path / "backups"
    call_command("backup", to=str(out), stdout=open(os.devnull, "w"))  # noqa: SIM115, PTH123
    (folder,) = out.iterdir()
    assert sorted(p.name for p in folder.iterdir()) == [
        ".manifest.json",
        "backup.json",
        "database.dump.enc",
    ]
    # Encrypted: no readable row of the database is in the file.
    assert b"Sleep" not in (folder / "database.dump.enc").read_bytes()

    target = f"restore_{os.getpid()}"
    _database(target, create=True)
    try:
        restored = _manage("restore", str(folder), database=target)
        assert restored.returncode == 0, restored.stderr
        assert "Every artifact in the manifest is in storage" in restored.stdout
        verified = _manage("verify_audit", database=target)
        assert verified.returncode == 0 and "Audit trail intact" in verified.stdout, verified.stderr

        assert _rows(target, "SELECT title, status FROM posts_post") == [("Sleep", "published")]
        assert _rows(target, "SELECT embedding::text FROM posts_chunk") == [(stored_vector,)]
        assert _rows(target, "SELECT count(*) FROM compliance_clinicalnote") == [(1,)]
        assert _rows(target, "SELECT id FROM training_modelversion") == [(version.id,)]
        assert _rows(target, "SELECT max(seq), max(hash) FROM compliance_auditevent") == trail_end

        # Restoring over data is refused: a restore never merges into a live database.
        again = _manage("restore", str(folder), database=target)
        assert again.returncode == 1 and "is not empty" in again.stderr

        # An artifact lost since the backup is named (and the exit status says so).
        _database(target, create=True)
        shutil.rmtree(Path(settings.ARTIFACT_STORAGE.removeprefix("file://")) / "general")
        lost = _manage("restore", str(folder), database=target)
        assert lost.returncode == 2
        lost_file = f"general/versions/{version.id}/adapter/adapter_model.safetensors"
        assert f"Artifact missing from storage: {lost_file}" in lost.stderr
    finally:
        _database(target, create=False)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_restore_with_another_key_or_into_this_database_is_refused(settings, tmp_path) -> None:  # noqa: ANN001
    settings.BACKUP_KEY = KEY
    result = backups.backup_create(destination=str(tmp_path))
    with pytest.raises(BackupError, match="is not empty"):
        backup_restore(source=str(tmp_path / result.name))
    settings.BACKUP_KEY = Fernet.generate_key().decode()
    with pytest.raises(BackupError, match="made with another BLOGLLM_BACKUP_KEY"):
        backup_restore(source=str(tmp_path / result.name))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_old_backups_past_the_retention_are_removed(settings, tmp_path) -> None:  # noqa: ANN001
    settings.BACKUP_KEY = KEY
    names = [backups.backup_create(destination=str(tmp_path), keep=2).name for _ in range(3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == names[1:]


def test_the_nightly_backup_is_scheduled_only_with_a_destination() -> None:
    env = subprocess_env(BLOGLLM_BACKUP_TO="gs://backups/blogllm", BLOGLLM_BACKUP_HOUR="4")
    code = (
        "from django.conf import settings as s; e = s.CELERY_BEAT_SCHEDULE['backup-nightly']; "
        "print(e['task'], e['schedule'].hour)"
    )
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.split() == ["blogllm.tasks.backup_nightly", "{4}"]
    from django.conf import settings

    assert "backup-nightly" not in settings.CELERY_BEAT_SCHEDULE
