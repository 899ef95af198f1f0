"""Bad configuration stops `make run` (and the container preflight) with one clear sentence,
before anything is started or written."""

import shutil
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.tools import skip_or_fail_without


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(module: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    base_env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "blogllm.settings.local",
        "BLOGLLM_DATA_DIR": str(tmp_path / "data"),
        "BLOGLLM_PORT": str(free_port()),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=base_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def only_sentence(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr  # one sentence, no traceback
    return lines[0]


@pytest.mark.parametrize("module", ["blogllm.run", "blogllm.preflight"])
def test_an_unwritable_data_dir_is_named(module: str, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = start(module, tmp_path, BLOGLLM_DATA_DIR=str(blocker / "data"))
    assert result.returncode == 1
    assert "BLOGLLM_DATA_DIR" in only_sentence(result.stderr)
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("module", ["blogllm.run", "blogllm.preflight"])
def test_an_unreachable_redis_is_named_and_nothing_is_touched(module: str, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "keep.txt").write_text("precious")
    result = start(module, tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == 1
    assert "REDIS_URL" in only_sentence(result.stderr)
    # Nothing started or written: no database was initialised, existing files are intact.
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt"]
    assert (data / "keep.txt").read_text() == "precious"


def test_a_database_without_pgvector_is_named(tmp_path) -> None:
    # The machine's own PostgreSQL 15 has no pgvector: the case the check exists for.
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 5432)) != 0:
            skip_or_fail_without("no PostgreSQL without pgvector listens on 127.0.0.1:5432 here")
    result = start(
        "blogllm.run", tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
    )
    assert result.returncode == 1
    assert "without the pgvector extension" in only_sentence(result.stderr)


def test_an_unreachable_database_url_is_named(tmp_path) -> None:
    url = f"postgres://blogllm:hunter2@127.0.0.1:{free_port()}/blogllm"
    result = start("blogllm.preflight", tmp_path, DATABASE_URL=url)
    assert result.returncode == 1
    sentence = only_sentence(result.stderr)
    assert "DATABASE_URL" in sentence
    assert "hunter2" not in sentence  # the password is redacted


def test_a_busy_port_is_named(tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = start("blogllm.run", tmp_path, BLOGLLM_PORT=str(port))
    assert result.returncode == 1
    assert "BLOGLLM_PORT" in result.stderr.splitlines()[-1]
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
