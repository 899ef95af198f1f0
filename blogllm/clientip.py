"""The client's address, one rule for the audit trail, sign-in rate limits and API throttles.

REMOTE_ADDR, unless BLOGLLM_TRUSTED_PROXY_COUNT says how many proxies stand in front of the web
(Cloud Run: 1; Cloud Run behind a load balancer: 2). Each appends the address it saw to
X-Forwarded-For, so the client is the N-th entry from the right; whatever lies left of it is what
the client chose to send, and is never trusted. Without that setting every visitor behind a
proxy would share the proxy's address, and one rate-limit bucket with it.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str | None:
    """The address as PostgreSQL's inet type prints it (an IPv4-mapped IPv6 address as IPv4,
    so an audit hash matches what the database gives back), or None."""
    if request is None:
        return None
    raw = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:  # fewer: the request did not come through our proxies
            raw = hops[-proxies]
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)
