"""The embedded PostgreSQL: one server per data dir, shared by every process, data kept."""

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from blogllm import pgembed
from tests.conftest import ROOT

# A process that attaches to the server, runs one statement, reports, and holds its handle
# until its stdin closes.
CLIENT = """
import sys
from pathlib import Path
import psycopg
from blogllm import pgembed

info = pgembed.ensure_running(Path(sys.argv[1]))
with psycopg.connect(info.uri(), autocommit=True) as conn:
    conn.execute(sys.argv[2])
    rows = conn.execute("SELECT count(*) FROM shared").fetchone()[0]
    vector = conn.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"
    ).fetchone()[0]
print(info.pid, rows, vector, flush=True)
sys.stdin.readline()
"""


class Client:
    def __init__(self, pgdata: Path, statement: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", CLIENT, str(pgdata), statement],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(self.process.stderr.read())
        pid, rows, vector = line.split()
        self.server_pid, self.rows, self.has_vector = int(pid), int(rows), vector == "1"

    def exit(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0, self.process.stderr.read()


def wait_until_gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid):
            return True
        time.sleep(0.2)
    return False


def test_two_processes_share_one_server_and_data_survives_a_restart(tmp_path) -> None:
    pgdata = tmp_path / "postgres"
    first = Client(pgdata, "CREATE TABLE shared (x int); INSERT INTO shared VALUES (1)")
    second = Client(pgdata, "INSERT INTO shared VALUES (2)")
    try:
        assert second.server_pid == first.server_pid  # the second found the first's server
        assert second.rows == 2
        assert first.has_vector and second.has_vector

        first.exit()  # the starter leaves; the server stays for the process still using it
        assert psutil.pid_exists(first.server_pid)
    finally:
        second.exit()
    # The last process that held the server stopped it.
    assert wait_until_gone(first.server_pid)

    third = Client(pgdata, "SELECT 1")
    try:
        assert third.server_pid != first.server_pid  # a new server…
        assert third.rows == 2  # …over the same data
    finally:
        third.exit()
        pgembed.stop(pgdata)


def test_stop_is_harmless_when_nothing_runs(tmp_path) -> None:
    never = tmp_path / "never-started"
    assert pgembed.stop(never) is None  # no error for a data dir that does not exist…
    assert not never.exists()  # …and none is created
    # A data dir whose server is not running (stopped already, or never started) is left as
    # it was, however often stop is called.
    idle = tmp_path / "idle"
    idle.mkdir()
    (idle / "keep.txt").write_text("precious")
    for _ in range(2):
        assert pgembed.stop(idle) is None
    assert sorted(p.name for p in idle.iterdir()) == ["keep.txt"]
    assert (idle / "keep.txt").read_text() == "precious"


def test_a_data_dir_that_cannot_be_created_gives_one_sentence(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(pgembed.EmbeddedPostgresError, match="BLOGLLM_DATA_DIR|did not start"):
        pgembed.ensure_running(blocker / "postgres")
