"""/metrics: Prometheus text for a token or an allowed address; our own events and state in it."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from tests.compliance.factories import make_note
from tests.conftest import ROOT, subprocess_env


def _samples(content: bytes) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(content.decode())
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_a_local_scraper_reads_requests_database_and_our_own_metrics(client) -> None:  # noqa: ANN001
    client.get("/accounts/login/")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = _samples(response.content)
    names = {name for name, _ in samples}
    # django-prometheus: requests by view, responses by status, the database.
    assert _value(samples, "django_http_requests_total_by_view_transport_method_total",
                  view="account_login", transport="http", method="GET") >= 1  # fmt: skip
    assert "django_db_execute_total" in names
    # Ours, read from Redis and the database at scrape time.
    assert ("blogllm_celery_queue_length", (("queue", "default"),)) in samples
    assert ("blogllm_celery_queue_length", (("queue", "gpu"),)) in samples
    assert "blogllm_webhook_deliveries_pending" in names
    assert not any(
        value for (name, _), value in samples.items() if name == "blogllm_metrics_state_failed"
    )


@pytest.mark.django_db
def test_metrics_need_a_token_or_an_allowed_direct_address(client, settings) -> None:  # noqa: ANN001
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", **outside).status_code == 403
    # A proxy on the same host would make every visitor look local: proxied requests need the token.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403

    settings.METRICS_TOKEN = "s3cret-scrape-token"  # noqa: S105
    response = client.get("/metrics", **outside)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope", **outside)
    assert wrong.status_code == 403
    right = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **outside)
    assert right.status_code == 200 and b"blogllm_celery_queue_length" in right.content

    settings.METRICS_ALLOW = []  # production's default: the token only, even from loopback
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 403


@pytest.mark.django_db
def test_metrics_answer_for_any_host_header_like_the_health_probes(client) -> None:  # noqa: ANN001
    # Prometheus scrapes a container by its IP, which is not in ALLOWED_HOSTS.
    assert client.get("/metrics", HTTP_HOST="10.8.0.7:8000").status_code == 200


@pytest.mark.django_db
def test_de_identification_and_the_audit_check_show_up(client, author) -> None:  # noqa: ANN001
    before = _samples(client.get("/metrics").content)
    make_note(author)
    call_command("verify_audit", stdout=open(os.devnull, "w"))  # noqa: SIM115, PTH123
    after = _samples(client.get("/metrics").content)
    assert (
        _value(after, "blogllm_deid_notes_total") == _value(before, "blogllm_deid_notes_total") + 1
    )
    assert (
        _value(after, "blogllm_deid_seconds_count")
        == _value(before, "blogllm_deid_seconds_count") + 1
    )
    assert _value(after, "blogllm_audit_intact") == 1.0
    assert 0 <= _value(after, "blogllm_audit_verification_age_seconds") < 60


def test_generation_metrics_use_closed_label_sets_only() -> None:
    from blogllm import metrics

    metrics.generation_observe(
        channel="general", status="needs_review", first_token_s=1.2, tokens_per_s=11.0,
        finding_kinds=["phi", "banned_topic"], revisions=1,
    )  # fmt: skip
    from prometheus_client import REGISTRY

    assert (
        REGISTRY.get_sample_value(
            "blogllm_generation_guard_findings_total", {"channel": "general", "kind": "phi"}
        )
        >= 1
    )
    assert (
        REGISTRY.get_sample_value(
            "blogllm_generation_first_token_seconds_count", {"channel": "general"}
        )
        >= 1
    )


@pytest.mark.django_db
def test_worker_processes_counts_add_up_in_one_scrape(tmp_path) -> None:
    """Under gunicorn and Celery each process counts in its own files (PROMETHEUS_MULTIPROC_DIR);
    a scrape served by any one process sums them all."""
    from django.db import connection

    env = subprocess_env(
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        BLOGLLM_DATABASE_NAME=connection.settings_dict["NAME"],
    )
    count = (
        "import django; django.setup(); from blogllm import metrics; "
        "metrics.TASK_FAILURES.labels('posts.tasks.post_embed').inc(2)"
    )
    for _ in range(2):  # two "worker processes"
        subprocess.run([sys.executable, "-c", count], cwd=ROOT, env=env, check=True)
    scrape = (
        "import django, sys; django.setup(); from blogllm import metrics; "
        "sys.stdout.write(metrics.exposition().decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", scrape], cwd=ROOT, env=env, check=True, capture_output=True
    ).stdout
    samples = _samples(out)
    assert _value(samples, "blogllm_celery_task_failures_total", task="posts.tasks.post_embed") == 4
