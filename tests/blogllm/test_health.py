"""/healthz says the process lives; /readyz says whether it can serve (503 when not)."""

import shutil
import socket
import subprocess
import time

import pytest
from django.urls import reverse

from tests.tools import skip_or_fail_without


def test_healthz_answers_without_login(client) -> None:  # noqa: ANN001
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_each_check(client) -> None:  # noqa: ANN001
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"ok": True}, "redis": {"ok": True}, "migrations": {"ok": True}},
    }


@pytest.fixture
def private_redis():  # noqa: ANN201
    """A Redis server of this test's own, so the test can stop it."""
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail_without("redis-server is not installed on this machine")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert time.monotonic() < deadline, "the private Redis did not start"
        time.sleep(0.05)
    yield server, f"redis://127.0.0.1:{port}/0"
    server.kill()
    server.wait()


@pytest.mark.django_db
def test_readyz_goes_503_when_redis_stops(client, settings, private_redis) -> None:  # noqa: ANN001
    server, url = private_redis
    settings.REDIS_URL = url
    assert client.get(reverse("readyz")).status_code == 200

    server.terminate()
    server.wait()
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"]["ok"] is False
    assert "REDIS_URL" in body["checks"]["redis"]["error"]


@pytest.mark.django_db
def test_readyz_goes_503_when_the_database_is_unreachable(client, settings) -> None:  # noqa: ANN001
    from django.db import connections

    settings.DATABASES["broken"] = {
        **settings.DATABASES["default"],
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": "1",
    }
    from blogllm import checks

    try:
        problem = checks.check_database("broken")
    finally:
        connections["broken"].close()
        del connections.settings["broken"]
    assert problem is not None and "Cannot connect" in problem.sentence


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_enqueueing_while_redis_is_down_fails_and_reads_as_a_503(rf, author, settings) -> None:  # noqa: ANN001
    from celery import Celery
    from kombu.exceptions import OperationalError

    from blogllm.middleware import ServiceUnavailableMiddleware

    dead = f"redis://127.0.0.1:{unused_port()}/0"
    probe = Celery("probe", set_as_current=False)
    probe.config_from_object("django.conf:settings", namespace="CELERY")
    probe.conf.broker_url = dead  # our publish settings, a broker that is not there
    with pytest.raises(OperationalError) as caught:
        probe.send_task("blogllm.tasks.ping", args=[{}])

    settings.REDIS_URL = dead
    request = rf.get("/")
    request.user = author
    response = ServiceUnavailableMiddleware(lambda r: None).process_exception(request, caught.value)
    assert response.status_code == 503
    assert b"REDIS_URL=redis://127.0.0.1:" in response.render().content


@pytest.mark.django_db
def test_probes_answer_any_host_over_plain_http(client, settings) -> None:  # noqa: ANN001
    # Platforms probe the container by IP over HTTP; production redirects everything else.
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", headers={"Host": "10.1.2.3:8080"})
    assert response.status_code == 200
    assert client.get("/readyz", headers={"Host": "10.1.2.3:8080"}).status_code == 200
    assert client.get("/", headers={"Host": "10.1.2.3:8080"}).status_code == 400
