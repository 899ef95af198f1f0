"""Model artifacts (LoRA adapters, evaluation reports, datasets): folders and files behind URIs.

Layout: an artifact lives at `<root>/<key>`, the root being `file:///abs/root` or
`gs://bucket/prefix` and the key a relative posix path (`general/versions/12/adapter`). In a
bucket each file of a folder is a blob `<prefix>/<key>/<relative path>`; on disk, the same tree.

Manifest: `put_dir` writes `<key>/.manifest.json` (each file's relative path, size and sha256)
after all the files, so a folder without one is incomplete, and `get_dir` refuses it, as it
refuses a file that no longer matches. On disk `put_dir` is atomic besides (a temporary sibling
folder, then a rename); a bucket has no rename, so there the manifest alone marks completion.
"""

from __future__ import annotations  # the classes' own list() method shadows the builtin below

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

MANIFEST_NAME = ".manifest.json"
MANIFEST_FORMAT = 1


class ArtifactError(Exception):
    """An artifact is missing, incomplete or corrupt, or its URI is not in this storage."""


def check_key(key: str) -> str:
    """Return key if it is a clean relative posix path; a `..` could escape the storage root."""
    # An empty key, a leading "/" and "a//b" all show up as an empty part.
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(
            f"An artifact key must be a relative path like 'a/b', with no empty, '.' or '..' "
            f"parts; got {key!r}."
        )
    return key


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _files_under(local_dir: Path) -> list[str]:
    """Relative posix paths of every file under local_dir, except a stale top-level manifest."""
    if not local_dir.is_dir():
        raise ValueError(f"{local_dir} is not a folder.")
    names = [p.relative_to(local_dir).as_posix() for p in local_dir.rglob("*") if p.is_file()]
    return sorted(name for name in names if name != MANIFEST_NAME)


def _manifest(local_dir: Path, names: list[str]) -> str:
    paths = {name: local_dir / name for name in names}
    files = [{"path": n, "size": p.stat().st_size, "sha256": _sha256(p)} for n, p in paths.items()]
    return json.dumps({"format": MANIFEST_FORMAT, "files": files}, indent=1)


def _read_manifest(text: str, uri: str) -> list[dict[str, Any]]:
    try:
        manifest = json.loads(text)
        if manifest["format"] != MANIFEST_FORMAT:
            raise ArtifactError(f"{uri}: manifest format {manifest['format']} is not supported.")
        files = manifest["files"]
        # A manifest names local paths to write: a crafted `../` must not escape local_dir.
        for entry in files:
            check_key(entry["path"])
        return files
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ArtifactError(f"{uri}: the manifest is corrupt ({error}).") from error


def _verify(local_dir: Path, files: list[dict[str, Any]], uri: str) -> None:
    for entry in files:
        path = local_dir / entry["path"]
        if path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            raise ArtifactError(f"{uri}: {entry['path']!r} changed after upload (sha256 mismatch).")


def _in_flight(name: str) -> bool:
    """A temporary sibling of _fill_atomically or delete(): not (or no longer) an artifact."""
    return name.startswith(".") and any(m in name for m in (".tmp-", ".old-", ".deleted-"))


def _fill_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Run fill() on an empty temporary sibling of target (one file system, so rename works),
    then swap it in. POSIX cannot rename a folder over a non-empty one, so the old one steps
    aside first: readers see the old folder, none, or the new one, never a half-written one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
    try:
        fill(temp)
        if target.exists():
            target.rename(old)
        temp.rename(target)
    except BaseException:
        if old.exists() and not target.exists():
            old.rename(target)
        raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


class ArtifactStorage(ABC):
    """Files and folders under one root URI; every URI given must lie under that root.

    exists() is true for anything there, complete or not; delete() takes a file or a folder, and
    one already gone is fine; list() gives the sorted relative paths of the files in a folder,
    manifest aside, or [] if there is none."""

    root_uri: str

    def uri_for(self, key: str) -> str:
        return f"{self.root_uri}/{check_key(key)}"

    def key_of(self, uri: str) -> str:
        if not uri.startswith(self.root_uri + "/"):
            raise ArtifactError(f"{uri} is not under this storage's root {self.root_uri}.")
        try:
            return check_key(uri.removeprefix(self.root_uri + "/"))
        except ValueError as error:
            raise ArtifactError(f"{uri} is not a valid artifact URI: {error}") from error

    def get_dir(self, uri: str, local_dir: Path) -> Path:
        """Download a folder and check it against its manifest. local_dir is replaced as a whole,
        or left as it was when the folder is missing, incomplete or corrupt."""
        self.key_of(uri)  # a foreign URI is refused as such, not reported as a missing manifest

        def fill(temp: Path) -> None:
            manifest = temp / MANIFEST_NAME
            try:
                self._fetch(f"{uri}/{MANIFEST_NAME}", manifest)
            except ArtifactError:
                raise ArtifactError(f"{uri} has no manifest: missing or incomplete.") from None
            files = _read_manifest(manifest.read_text(), uri)
            manifest.unlink()
            for entry in files:
                (temp / entry["path"]).parent.mkdir(parents=True, exist_ok=True)
                self._fetch(f"{uri}/{entry['path']}", temp / entry["path"])
            _verify(temp, files, uri)  # the copies, so a change while copying is caught too

        return _fill_atomically(local_dir, fill)

    def get_file(self, uri: str, local: Path) -> Path:
        local.parent.mkdir(parents=True, exist_ok=True)
        self._fetch(uri, local)
        return local

    @abstractmethod
    def _fetch(self, uri: str, local: Path) -> None:
        """Copy one stored file to local; ArtifactError if there is none."""

    @abstractmethod
    def put_file(self, local: Path, key: str) -> str: ...

    @abstractmethod
    def put_dir(self, local_dir: Path, key: str) -> str:
        """Store every file under local_dir, then the manifest; return the folder's URI."""

    @abstractmethod
    def exists(self, uri: str) -> bool: ...

    @abstractmethod
    def delete(self, uri: str) -> None: ...

    @abstractmethod
    def list(self, uri: str) -> list[str]: ...

    @abstractmethod
    def list_all(self) -> list[str]:
        """Sorted keys of every stored file under the root (manifests included; folders being
        written or deleted left out)."""

    @abstractmethod
    def sha256(self, key: str) -> str:
        """The sha256 of one stored file, read from storage (not from a manifest)."""

    def inventory(self) -> list[dict[str, Any]]:
        """Every stored file with its size and sha256, for a backup's manifest."""
        return [{"key": key, **self._size_and_sha256(key)} for key in self.list_all()]

    @abstractmethod
    def _size_and_sha256(self, key: str) -> dict[str, Any]: ...


class LocalStorage(ArtifactStorage):
    def __init__(self, root: Path) -> None:
        if not root.is_absolute():
            raise ValueError(f"The artifact root must be an absolute path, not {root}.")
        self.root = root
        self.root_uri = root.as_uri().rstrip("/")

    def _path(self, uri: str) -> Path:
        return self.root / self.key_of(uri)

    def _fetch(self, uri: str, local: Path) -> None:
        if not self._path(uri).is_file():
            raise ArtifactError(f"No artifact file at {uri}.")
        shutil.copy2(self._path(uri), local)

    def put_file(self, local: Path, key: str) -> str:
        target = self.root / check_key(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
        try:
            shutil.copyfile(local, temp)
            os.replace(temp, target)  # atomic: readers see the old file or the new one
        finally:
            temp.unlink(missing_ok=True)
        return self.uri_for(key)

    def put_dir(self, local_dir: Path, key: str) -> str:
        names = _files_under(local_dir)

        def fill(temp: Path) -> None:
            for name in names:
                (temp / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(local_dir / name, temp / name)
            # Hashed from the copies: the manifest vouches for what is stored.
            (temp / MANIFEST_NAME).write_text(_manifest(temp, names))

        _fill_atomically(self.root / check_key(key), fill)
        return self.uri_for(key)

    def exists(self, uri: str) -> bool:
        return self._path(uri).exists()

    def delete(self, uri: str) -> None:
        path = self._path(uri)
        if path.is_dir():
            # Renamed away first, so a half-deleted folder is never seen under its name.
            doomed = path.with_name(f".{path.name}.deleted-{uuid.uuid4().hex}")
            path.rename(doomed)
            shutil.rmtree(doomed)
        else:
            path.unlink(missing_ok=True)

    def list(self, uri: str) -> list[str]:
        path = self._path(uri)
        return _files_under(path) if path.is_dir() else []

    def list_all(self) -> list[str]:
        if not self.root.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(key for key in keys if not any(_in_flight(part) for part in key.split("/")))

    def sha256(self, key: str) -> str:
        return _sha256(self.root / check_key(key))

    def _size_and_sha256(self, key: str) -> dict[str, Any]:
        path = self.root / check_key(key)
        return {"size": path.stat().st_size, "sha256": _sha256(path)}


class GCSStorage(ArtifactStorage):
    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.prefix = prefix.strip("/")
        self.root_uri = f"gs://{bucket}/{self.prefix}" if self.prefix else f"gs://{bucket}"
        if client is None:
            # google-cloud-storage 3.17 honours STORAGE_EMULATOR_HOST by itself: it then uses that
            # endpoint with anonymous credentials and no project, so tests need no special case.
            from google.cloud import storage

            client = storage.Client()
        self.client = client
        self.bucket = self.client.bucket(bucket)

    def _name(self, uri: str) -> str:
        key = self.key_of(uri)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fetch(self, uri: str, local: Path) -> None:
        from google.cloud.exceptions import NotFound

        try:
            self.bucket.blob(self._name(uri)).download_to_filename(str(local))
        except NotFound:
            raise ArtifactError(f"No artifact file at {uri}.") from None

    def put_file(self, local: Path, key: str) -> str:
        uri = self.uri_for(key)
        self.bucket.blob(self._name(uri)).upload_from_filename(str(local))
        return uri

    def put_dir(self, local_dir: Path, key: str) -> str:
        uri, names = self.uri_for(key), _files_under(local_dir)
        name = self._name(uri)
        # A bucket has no rename: the old folder goes first (its manifest first), so that old
        # files never linger beside new ones, and readers see it incomplete until we finish.
        self.delete(uri)
        for relative in names:
            self.bucket.blob(f"{name}/{relative}").upload_from_filename(str(local_dir / relative))
        manifest = _manifest(local_dir, names)
        manifest_blob = self.bucket.blob(f"{name}/{MANIFEST_NAME}")
        manifest_blob.upload_from_string(manifest, content_type="application/json")
        return uri

    def exists(self, uri: str) -> bool:
        name = self._name(uri)
        if self.bucket.blob(name).exists():
            return True
        # The trailing slash keeps `.../v1` from matching `.../v10/...`.
        return any(self.client.list_blobs(self.bucket, prefix=f"{name}/", max_results=1))

    def delete(self, uri: str) -> None:
        from google.cloud.exceptions import NotFound

        name = self._name(uri)
        blobs = list(self.client.list_blobs(self.bucket, prefix=f"{name}/"))
        # The manifest first: an interrupted delete then leaves a folder known incomplete.
        blobs.sort(key=lambda blob: blob.name != f"{name}/{MANIFEST_NAME}")
        for blob in [*blobs, self.bucket.blob(name)]:
            with contextlib.suppress(NotFound):
                blob.delete()

    def list(self, uri: str) -> list[str]:
        name = self._name(uri)
        blobs = self.client.list_blobs(self.bucket, prefix=f"{name}/")
        names = [blob.name.removeprefix(f"{name}/") for blob in blobs]
        return sorted(n for n in names if n != MANIFEST_NAME)

    def list_all(self) -> list[str]:
        prefix = f"{self.prefix}/" if self.prefix else ""
        blobs = self.client.list_blobs(self.bucket, prefix=prefix or None)
        return sorted(blob.name.removeprefix(prefix) for blob in blobs if blob.name != prefix)

    def sha256(self, key: str) -> str:
        return self._size_and_sha256(key)["sha256"]

    def _size_and_sha256(self, key: str) -> dict[str, Any]:
        # Streamed through the hash: an adapter is never held in memory whole.
        blob = self.bucket.blob(self._name(self.uri_for(key)))
        digest, size = hashlib.sha256(), 0
        with blob.open("rb", chunk_size=4 * 1024 * 1024) as stream:
            while chunk := stream.read(4 * 1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
        return {"size": size, "sha256": digest.hexdigest()}


def storage_from_uri(root_uri: str, *, gcs_client: Any = None) -> ArtifactStorage:
    """The storage for a `file:///abs/path` or `gs://bucket/prefix` root URI."""
    parts = urlsplit(root_uri)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "gs" and parts.netloc:
        return GCSStorage(parts.netloc, parts.path, client=gcs_client)
    raise ValueError(f"Artifact storage must be file:///path or gs://bucket/prefix: {root_uri}")


def default_storage() -> ArtifactStorage:
    """The storage that settings.ARTIFACT_STORAGE names."""
    from django.conf import settings

    return storage_from_uri(settings.ARTIFACT_STORAGE)
