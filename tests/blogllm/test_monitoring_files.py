"""The Grafana dashboard and the alert rules in deploy/monitoring/ parse, and every metric they
name is one that /metrics exposes (a renamed metric would otherwise leave a panel empty and an
alert silent)."""

import json
import re

import pytest
import yaml

from tests.conftest import ROOT

MONITORING = ROOT / "deploy" / "monitoring"
METRIC = re.compile(r"\b((?:blogllm|django)_[a-z0-9_]+)")


@pytest.fixture
def exposed(client, db) -> set[str]:  # noqa: ANN001
    from blogllm import metrics

    client.get("/accounts/login/")  # django-prometheus makes its metrics with the first request
    text = metrics.exposition().decode()
    return set(re.findall(r"^# TYPE (\S+) ", text, flags=re.MULTILINE))


def _family(name: str) -> str:
    return re.sub(r"_(bucket|count|sum)$", "", name)


def _named(expressions: list[str]) -> set[str]:
    return {_family(name) for expr in expressions for name in METRIC.findall(expr)}


def test_every_dashboard_panel_queries_metrics_that_exist(exposed) -> None:  # noqa: ANN001
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["panels"]
    expressions = []
    for panel in dashboard["panels"]:
        assert panel["title"] and panel["targets"], panel
        expressions += [target["expr"] for target in panel["targets"]]
    named = _named(expressions)
    assert named - exposed == set()
    # Requests, queues, tasks, drafts, training, de-identification, audit, webhooks.
    for family in (
        "django_http_requests_latency_seconds_by_view_method", "blogllm_celery_queue_length",
        "blogllm_celery_task_seconds", "blogllm_generation_first_token_seconds",
        "blogllm_generation_guard_findings_total", "blogllm_training_runs",
        "blogllm_training_last_loss", "blogllm_deid_notes_total", "blogllm_deid_withheld_total",
        "blogllm_audit_verification_age_seconds", "blogllm_webhook_attempts_total",
    ):  # fmt: skip
        assert family in named, family


def test_the_alert_rules_are_complete_and_name_existing_metrics(exposed) -> None:  # noqa: ANN001
    rules = [rule for group in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
             for rule in group["rules"]]  # fmt: skip
    for rule in rules:
        assert rule["alert"].startswith("BlogLLM") and rule["expr"], rule
        assert rule["labels"]["severity"] in ("warning", "critical"), rule
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule
    assert _named([rule["expr"] for rule in rules]) - exposed == set()
    names = {rule["alert"] for rule in rules}
    # Queue backing up, error rate, audit verification failing, a GPU worker down.
    assert {"BlogLLMQueueBackingUp", "BlogLLMHighErrorRate", "BlogLLMAuditTrailBroken",
            "BlogLLMGpuWorkerDown"} <= names  # fmt: skip
