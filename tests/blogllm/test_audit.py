"""`.ci/audit.py`: pip-audit against a real HTTP server that speaks OSV's query protocol, with a
known advisory for requests 2.25.0: a vulnerable pin fails, an allow-listed one (with its
reason) passes, and an unreachable database is said, and fails where it is required."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import ROOT

ADVISORY = {
    "id": "GHSA-j8r2-6x86-q33q",
    "summary": "Unintended leak of Proxy-Authorization header in requests",
    "aliases": ["CVE-2023-32681"],
    "affected": [
        {
            "package": {"name": "requests", "ecosystem": "PyPI"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]}
            ],
        }
    ],
}


class Osv(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        hit = query["package"]["name"] == "requests" and query["version"] == "2.25.0"
        body = json.dumps({"vulns": [ADVISORY]} if hit else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def osv_url():  # noqa: ANN201
    server = ThreadingHTTPServer(("127.0.0.1", 0), Osv)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1/query"
    server.shutdown()


def audit(tmp_path: Path, url: str, *, pins: str, allow: str = "", **env: str):  # noqa: ANN201
    (tmp_path / "requirements.txt").write_text(pins)
    (tmp_path / "allow.txt").write_text(allow)
    return subprocess.run(
        [
            sys.executable, str(ROOT / ".ci" / "audit.py"), "--osv-url", url,
            "--requirements", str(tmp_path / "requirements.txt"),
            "--allowlist", str(tmp_path / "allow.txt"),
        ],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=300,
    )  # fmt: skip


def test_a_known_vulnerable_pin_fails_the_audit(tmp_path, osv_url) -> None:  # noqa: ANN001
    result = audit(tmp_path, osv_url, pins="requests==2.25.0\nsix==1.17.0\n")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CVE-2023-32681" in result.stdout and "2.31.0" in result.stdout  # id, fix version


def test_a_clean_set_of_pins_passes(tmp_path, osv_url) -> None:  # noqa: ANN001
    result = audit(tmp_path, osv_url, pins="requests==2.34.2\nsix==1.17.0\n")
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_allow_listed_vulnerability_passes_only_with_a_reason(tmp_path, osv_url) -> None:  # noqa: ANN001
    pins = "requests==2.25.0\n"
    reason = "GHSA-j8r2-6x86-q33q  we send no proxy credentials; until 2027-01\n"
    assert audit(tmp_path, osv_url, pins=pins, allow=reason).returncode == 0
    bare = audit(tmp_path, osv_url, pins=pins, allow="GHSA-j8r2-6x86-q33q\n")
    assert bare.returncode == 1 and "needs a reason" in bare.stderr


def test_an_unreachable_database_is_said_and_fails_where_the_audit_is_required(tmp_path) -> None:  # noqa: ANN001
    closed = "http://127.0.0.1:9/v1/query"  # the discard port: nothing listens
    result = audit(tmp_path, closed, pins="six==1.17.0\n")
    assert result.returncode == 0 and "pip-audit did not run" in result.stdout
    required = audit(tmp_path, closed, pins="six==1.17.0\n", BLOGLLM_REQUIRE_AUDIT="1")
    assert required.returncode == 1
