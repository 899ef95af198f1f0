"""The client's address: REMOTE_ADDR unless proxies are trusted, then the N-th entry from the
right of X-Forwarded-For; a client's own X-Forwarded-For is never believed. The audit trail,
sign-in rate limits and API throttles all use it."""

import pytest
from django.test import RequestFactory

from accounts.adapter import AccountAdapter
from blogllm.clientip import client_ip
from publishing.api.throttling import PerIpThrottle

SPOOFED = "6.6.6.6"  # what a client writes into X-Forwarded-For itself


def request_from(remote: str, forwarded: str | None = None):  # noqa: ANN201
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)


def test_without_trusted_proxies_only_the_connection_counts(settings) -> None:  # noqa: ANN001
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("203.0.113.7", SPOOFED)) == "203.0.113.7"
    assert client_ip(request_from("::ffff:203.0.113.7")) == "203.0.113.7"  # as PostgreSQL prints it
    assert client_ip(request_from("not an address")) is None


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "198.51.100.4", "198.51.100.4"),  # Cloud Run: the client as the front end saw it
        (1, f"{SPOOFED}, 198.51.100.4", "198.51.100.4"),  # the client's own entry is ignored
        (2, f"{SPOOFED}, 198.51.100.4, 10.0.0.2", "198.51.100.4"),  # a load balancer, then Run
        (2, "198.51.100.4", "10.1.2.3"),  # fewer hops than proxies: not through ours
    ],
)
def test_trusted_proxies_give_the_client_from_the_right(
    settings, proxies, forwarded, expected
) -> None:  # noqa: ANN001
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(request_from("10.1.2.3", forwarded)) == expected


def test_sign_in_limits_and_api_throttles_count_per_client(settings) -> None:  # noqa: ANN001
    settings.TRUSTED_PROXY_COUNT = 1
    first = request_from("10.1.2.3", f"{SPOOFED}, 198.51.100.4")
    second = request_from("10.1.2.3", "198.51.100.9")
    assert AccountAdapter().get_client_ip(first) == "198.51.100.4"
    assert AccountAdapter().get_client_ip(second) == "198.51.100.9"
    throttle = PerIpThrottle()
    assert throttle.get_cache_key(first, None) != throttle.get_cache_key(second, None)
    assert "198.51.100.4" in throttle.get_cache_key(first, None)


@pytest.mark.django_db
def test_the_audit_trail_records_the_client_behind_the_proxy(settings, author) -> None:  # noqa: ANN001
    from compliance.audit import Action, audit_record
    from compliance.models import AuditEvent

    settings.TRUSTED_PROXY_COUNT = 1
    request = request_from("10.1.2.3", f"{SPOOFED}, 198.51.100.4")
    request.user = author
    audit_record(action=Action.AUDIT_EXPORTED, actor=author, request=request, detail={})
    assert AuditEvent.objects.latest("seq").ip == "198.51.100.4"
