"""Fixtures for the publishing tests: a real local webhook receiver."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook


class Receiver:
    """A real HTTP server on 127.0.0.1 that records each request and answers as told."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.answers: list[tuple[int, dict, float]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append({"headers": headers, "body": body})
                answer = receiver.answers.pop(0) if receiver.answers else (200, {}, 0)
                status, headers, delay = answer
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/blog"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, status: int, headers: dict | None = None, delay: float = 0) -> None:
        self.answers.append((status, headers or {}, delay))

    def verify(self, secret: str, n: int = -1) -> dict:
        """The n-th request's payload, if its signature holds for `secret` (else it raises)."""
        request = self.received[n]
        return Webhook(secret).verify(request["body"], request["headers"])


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_NETWORKS = ["loopback"]
    settings.WEBHOOK_TIMEOUT_S = 1
    settings.SITE_URL = "http://testserver"
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()
