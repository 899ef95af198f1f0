"""Artifact storage, on disk and in a bucket: the GCS tests run against a real local emulator
(gcp-storage-emulator in a subprocess), never a mock. No database."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from training.storage import (
    MANIFEST_NAME,
    ArtifactError,
    ArtifactStorage,
    GCSStorage,
    LocalStorage,
    default_storage,
    storage_from_uri,
)

BUCKET = "blogllm-test"
# Nested folders, binary bytes (every byte value, NULs included) and an empty file.
ADAPTER = {
    "adapter_config.json": b'{"r": 8}',
    "adapter_model.safetensors": bytes(range(256)) * 40,
    "tokenizer/special_tokens_map.json": b"{}",
    "tokenizer/deep/er/empty.bin": b"",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gcp-storage-emulator exited ({process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (local http)
                if response.read() == b"OK":  # its health check answers "/" with OK
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"gcp-storage-emulator did not answer at {url}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real emulator on a free port, its data in memory, with the test bucket created. The
    client finds it through STORAGE_EMULATOR_HOST, the variable google-cloud-storage reads."""
    from google.cloud import storage

    port = _free_port()
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    binary = Path(sys.executable).parent / "gcp-storage-emulator"
    command = [str(binary), "start", "--host=127.0.0.1", f"--port={port}", "--in-memory"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("STORAGE_EMULATOR_HOST", url)
            storage.Client().create_bucket(BUCKET)
            yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def gcs_client(emulator: str):  # noqa: ANN201 (google.cloud.storage.Client, imported lazily)
    from google.cloud import storage

    return storage.Client()


@pytest.fixture(params=["local", "gcs"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStorage:
    """Each backend in turn; a GCS test gets a prefix of its own in the shared bucket."""
    if request.param == "local":
        return LocalStorage(tmp_path / "artifacts")
    client = request.getfixturevalue("gcs_client")
    return GCSStorage(BUCKET, f"runs/{uuid.uuid4().hex}", client=client)


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def tamper(storage: ArtifactStorage, uri: str, data: bytes | None) -> None:
    """Change (or, with None, remove) a stored file behind the storage's back, the way a disk
    fault, a stray writer or a half-finished upload would."""
    if isinstance(storage, LocalStorage):
        path = storage.root / storage.key_of(uri)
        if data is None:
            path.unlink()
        else:
            path.write_bytes(data)
        return
    assert isinstance(storage, GCSStorage)
    blob = storage.client.bucket(BUCKET).blob(f"{storage.prefix}/{storage.key_of(uri)}")
    if data is None:
        blob.delete()
    else:
        blob.upload_from_string(data)


# --- Round trips, on both backends


def test_put_dir_then_get_dir_gives_back_the_same_files(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    uri = storage.put_dir(write_tree(tmp_path / "adapter", ADAPTER), "general/versions/12/adapter")

    assert uri == f"{storage.root_uri}/general/versions/12/adapter"
    local = storage.get_dir(uri, tmp_path / "downloaded")
    assert local == tmp_path / "downloaded"
    # Exactly the files put: the manifest stays in storage.
    assert read_tree(local) == ADAPTER


def test_put_dir_over_an_existing_folder_replaces_it_whole(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    key = "general/versions/1/adapter"
    storage.put_dir(write_tree(tmp_path / "v1", {"old.bin": b"1", "same.txt": b"old"}), key)
    uri = storage.put_dir(write_tree(tmp_path / "v2", {"new.bin": b"2", "same.txt": b"new"}), key)

    assert storage.list(uri) == ["new.bin", "same.txt"]
    assert read_tree(storage.get_dir(uri, tmp_path / "v")) == {"new.bin": b"2", "same.txt": b"new"}


def test_get_dir_replaces_what_the_local_folder_held(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    uri = storage.put_dir(write_tree(tmp_path / "src", {"a.txt": b"a"}), "report")
    local = write_tree(tmp_path / "out", {"stale.txt": b"from an earlier run"})

    assert read_tree(storage.get_dir(uri, local)) == {"a.txt": b"a"}


def test_put_dir_ignores_a_stale_manifest_in_the_source_folder(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    # A folder fetched with get_dir and edited: its old manifest must not be stored as a file.
    source = write_tree(tmp_path / "src", {"a.txt": b"a", MANIFEST_NAME: b"{}"})
    uri = storage.put_dir(source, "report")

    assert storage.list(uri) == ["a.txt"]
    assert read_tree(storage.get_dir(uri, tmp_path / "out")) == {"a.txt": b"a"}


def test_put_file_then_get_file_gives_back_the_same_bytes(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    source = tmp_path / "train.jsonl"
    source.write_bytes(b'{"text": "caf\xc3\xa9"}\n\x00\xff')
    uri = storage.put_file(source, "datasets/7/train.jsonl")

    assert uri == f"{storage.root_uri}/datasets/7/train.jsonl"
    assert storage.get_file(uri, tmp_path / "a" / "b.jsonl").read_bytes() == source.read_bytes()


def test_list_gives_sorted_relative_paths_without_the_manifest(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    uri = storage.put_dir(write_tree(tmp_path / "adapter", ADAPTER), "adapter")

    assert storage.list(uri) == sorted(ADAPTER)
    assert storage.list(storage.uri_for("nothing/here")) == []


def test_exists_and_delete_cover_folders_and_files(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    folder = storage.put_dir(write_tree(tmp_path / "adapter", ADAPTER), "v/1/adapter")
    file = storage.put_file(tmp_path / "adapter" / "adapter_config.json", "v/1/config.json")
    assert storage.exists(folder) and storage.exists(file)
    assert storage.exists(storage.uri_for("v/1"))  # a parent of stored files
    assert not storage.exists(storage.uri_for("v/2"))

    storage.delete(folder)
    storage.delete(file)

    assert not storage.exists(folder) and not storage.exists(file)
    assert storage.list(folder) == []
    storage.delete(folder)  # already gone is fine


def test_a_key_that_prefixes_another_is_a_separate_artifact(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    # `versions/1` must never reach into `versions/10`, in a bucket where names are flat too.
    one = storage.put_dir(write_tree(tmp_path / "one", {"a": b"1"}), "versions/1")
    ten = storage.put_dir(write_tree(tmp_path / "ten", {"b": b"10"}), "versions/10")

    assert storage.list(one) == ["a"]
    storage.delete(one)
    assert not storage.exists(one)
    assert storage.list(ten) == ["b"]


# --- Refusals, on both backends


@pytest.mark.parametrize("key", ["", "/abs/path", "a/../b", "..", "a//b", "a/./b", "a/"])
def test_put_refuses_a_key_that_is_not_a_clean_relative_path(
    storage: ArtifactStorage, tmp_path: Path, key: str
) -> None:
    source = write_tree(tmp_path / "src", {"a.txt": b"a"})

    with pytest.raises(ValueError, match="artifact key must be a relative path"):
        storage.put_dir(source, key)
    with pytest.raises(ValueError, match="artifact key must be a relative path"):
        storage.put_file(source / "a.txt", key)


def test_a_uri_outside_the_storage_root_is_refused(storage: ArtifactStorage) -> None:
    for uri in [
        "file:///etc/passwd",
        "gs://another-bucket/runs/adapter",
        f"{storage.root_uri}-sibling/adapter",
        f"{storage.root_uri}/../escape",
        storage.root_uri,
    ]:
        with pytest.raises(ArtifactError, match="not under this storage's root|not a valid"):
            storage.get_dir(uri, Path("/nonexistent"))
        with pytest.raises(ArtifactError):
            storage.delete(uri)


def test_get_dir_refuses_a_folder_whose_file_changed_after_upload(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    uri = storage.put_dir(write_tree(tmp_path / "adapter", ADAPTER), "adapter")
    tamper(storage, f"{uri}/adapter_model.safetensors", b"flipped bits")
    local = write_tree(tmp_path / "out", {"previous.bin": b"kept"})

    with pytest.raises(ArtifactError, match="'adapter_model.safetensors' changed after upload"):
        storage.get_dir(uri, local)
    # Nothing half-downloaded: the local folder is as it was.
    assert read_tree(local) == {"previous.bin": b"kept"}


def test_get_dir_refuses_a_file_changed_to_the_same_size(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    # sha256, not only the size: one flipped byte is caught.
    uri = storage.put_dir(write_tree(tmp_path / "src", {"w.bin": b"abcd"}), "adapter")
    tamper(storage, f"{uri}/w.bin", b"abce")

    with pytest.raises(ArtifactError, match="'w.bin' changed after upload"):
        storage.get_dir(uri, tmp_path / "out")


def test_get_dir_refuses_a_folder_without_a_manifest(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    # As an upload that died before its last step would leave it.
    uri = storage.put_dir(write_tree(tmp_path / "adapter", ADAPTER), "adapter")
    tamper(storage, f"{uri}/{MANIFEST_NAME}", None)

    with pytest.raises(ArtifactError, match="has no manifest"):
        storage.get_dir(uri, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_get_dir_refuses_a_folder_missing_a_listed_file(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    uri = storage.put_dir(write_tree(tmp_path / "adapter", ADAPTER), "adapter")
    tamper(storage, f"{uri}/tokenizer/special_tokens_map.json", None)

    with pytest.raises(ArtifactError, match="tokenizer/special_tokens_map.json"):
        storage.get_dir(uri, tmp_path / "out")


def test_get_dir_refuses_a_folder_that_is_not_there(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    with pytest.raises(ArtifactError, match="has no manifest"):
        storage.get_dir(storage.uri_for("never/stored"), tmp_path / "out")


@pytest.mark.parametrize(
    "manifest",
    [
        b"not json",
        b'{"format": 99, "files": []}',
        b'{"format": 1, "files": [{"path": "../../outside", "size": 1, "sha256": "x"}]}',
    ],
)
def test_get_dir_refuses_a_corrupt_or_unknown_manifest(
    storage: ArtifactStorage, tmp_path: Path, manifest: bytes
) -> None:
    # The `../` case matters most: a manifest names local paths that get_dir writes to.
    uri = storage.put_dir(write_tree(tmp_path / "src", {"a.txt": b"a"}), "adapter")
    tamper(storage, f"{uri}/{MANIFEST_NAME}", manifest)

    with pytest.raises(ArtifactError, match="manifest"):
        storage.get_dir(uri, tmp_path / "out" / "adapter")
    assert not (tmp_path / "outside").exists()


def test_get_file_refuses_a_file_that_is_not_there(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    with pytest.raises(ArtifactError, match="No artifact file"):
        storage.get_file(storage.uri_for("datasets/none.jsonl"), tmp_path / "none.jsonl")
    assert not (tmp_path / "none.jsonl").exists()


# --- On disk


def test_local_put_dir_that_fails_midway_leaves_the_previous_folder_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path / "artifacts")
    uri = storage.put_dir(write_tree(tmp_path / "v1", {"a": b"1", "b": b"1"}), "adapter")
    copies = []
    real_copy2 = shutil.copy2

    def copy2_then_fail(source: Path, target: Path) -> None:
        copies.append(source)
        if len(copies) == 2:
            raise OSError("disk full")
        real_copy2(source, target)

    monkeypatch.setattr(shutil, "copy2", copy2_then_fail)
    with pytest.raises(OSError, match="disk full"):
        storage.put_dir(write_tree(tmp_path / "v2", {"a": b"2", "b": b"2"}), "adapter")
    monkeypatch.undo()

    assert read_tree(storage.get_dir(uri, tmp_path / "out")) == {"a": b"1", "b": b"1"}
    # No temporary or set-aside folder is left beside it.
    assert [p.name for p in (tmp_path / "artifacts").iterdir()] == ["adapter"]


def test_local_put_dir_keeps_a_manifest_inside_the_folder(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "artifacts")
    storage.put_dir(write_tree(tmp_path / "src", {"a.txt": b"a"}), "adapter")

    manifest = (tmp_path / "artifacts" / "adapter" / MANIFEST_NAME).read_text()
    assert '"path": "a.txt"' in manifest
    sha256_of_a = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
    assert f'"sha256": "{sha256_of_a}"' in manifest


def test_local_storage_refuses_a_relative_root() -> None:
    with pytest.raises(ValueError, match="absolute"):
        LocalStorage(Path("var/artifacts"))


# --- In a bucket


def test_gcs_put_dir_stores_one_blob_per_file_and_the_manifest_last(
    gcs_client, tmp_path: Path
) -> None:
    storage = GCSStorage(BUCKET, "layout", client=gcs_client)
    storage.put_dir(write_tree(tmp_path / "adapter", ADAPTER), "general/versions/3/adapter")

    blobs = {b.name: b for b in gcs_client.list_blobs(BUCKET, prefix="layout/general/")}
    folder = "layout/general/versions/3/adapter"
    assert sorted(blobs) == sorted(f"{folder}/{name}" for name in [*ADAPTER, MANIFEST_NAME])
    # The emulator stamps each blob's generation with the time it was written.
    manifest = blobs.pop(f"{folder}/{MANIFEST_NAME}")
    assert manifest.generation > max(blob.generation for blob in blobs.values())


def test_storage_from_uri_builds_a_gcs_storage_that_finds_the_emulator(
    emulator: str, tmp_path: Path
) -> None:
    # No client passed: the default one must follow STORAGE_EMULATOR_HOST without credentials.
    storage = storage_from_uri(f"gs://{BUCKET}/from-uri/")
    assert isinstance(storage, GCSStorage)
    assert storage.root_uri == f"gs://{BUCKET}/from-uri"

    uri = storage.put_dir(write_tree(tmp_path / "adapter", ADAPTER), "adapter")
    assert uri == f"gs://{BUCKET}/from-uri/adapter"
    assert read_tree(storage.get_dir(uri, tmp_path / "out")) == ADAPTER


def test_gcs_storage_without_a_prefix_uses_the_bucket_root(gcs_client, tmp_path: Path) -> None:
    storage = storage_from_uri(f"gs://{BUCKET}", gcs_client=gcs_client)

    uri = storage.put_file(write_tree(tmp_path, {"x.txt": b"x"}) / "x.txt", "top-level/x.txt")
    assert uri == f"gs://{BUCKET}/top-level/x.txt"
    assert gcs_client.bucket(BUCKET).blob("top-level/x.txt").download_as_bytes() == b"x"


# --- Choosing a storage


def test_storage_from_uri_builds_a_local_storage_for_a_file_uri(tmp_path: Path) -> None:
    root = tmp_path / "with space"
    storage = storage_from_uri(root.as_uri())

    assert isinstance(storage, LocalStorage)
    assert storage.root == root
    assert storage.root_uri == root.as_uri()


@pytest.mark.parametrize("uri", ["s3://bucket/prefix", "gs://", "file://host/path", "/plain/path"])
def test_storage_from_uri_refuses_other_uris(uri: str) -> None:
    with pytest.raises(ValueError, match="file:///path or gs://bucket/prefix"):
        storage_from_uri(uri)


def test_default_storage_follows_the_setting(settings, tmp_path: Path) -> None:  # noqa: ANN001
    settings.ARTIFACT_STORAGE = (tmp_path / "configured").as_uri()

    storage = default_storage()

    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "configured"


def test_the_inventory_lists_every_stored_file_with_its_size_and_sha256(
    storage: ArtifactStorage, tmp_path: Path
) -> None:
    import hashlib

    files = {"adapter_model.safetensors": b"w" * 5000, "config/adapter.json": b"{}"}
    storage.put_dir(write_tree(tmp_path / "v1", files), "general/versions/1/adapter")
    storage.put_file(write_tree(tmp_path / "r", {"report.json": b"[1]"}) / "report.json", "r.json")
    inventory = {entry["key"]: entry for entry in storage.inventory()}
    assert sorted(inventory) == [
        "general/versions/1/adapter/.manifest.json",
        "general/versions/1/adapter/adapter_model.safetensors",
        "general/versions/1/adapter/config/adapter.json",
        "r.json",
    ]
    weights = inventory["general/versions/1/adapter/adapter_model.safetensors"]
    assert weights == {
        "key": "general/versions/1/adapter/adapter_model.safetensors",
        "size": 5000,
        "sha256": hashlib.sha256(b"w" * 5000).hexdigest(),
    }
    assert storage.sha256("r.json") == hashlib.sha256(b"[1]").hexdigest()
