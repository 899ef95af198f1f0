"""Standard Webhooks (https://www.standardwebhooks.com), plain Python: secrets, signatures, the
retry schedule, Retry-After and the address check that keeps deliveries off internal networks.

A secret is "whsec_" + base64 of 24 random bytes. A message is signed as
`v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>` with the key the base64-decoded part
after the prefix; during a rotation the `webhook-signature` header carries both signatures,
separated by a space, and a receiver accepts either.
"""

import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
# After the first try: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then the delivery has failed.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
MAX_TRIES = len(RETRY_DELAYS) + 1
RETRY_AFTER_MAX = timedelta(hours=24)  # a receiver asking for longer gets this


class UnsafeAddressError(ValueError):
    """The URL is not http(s), or its host resolves to an address we do not send to."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("A webhook secret starts with whsec_.")
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(
    secrets_: Iterable[str], *, message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every given secret (newest first)."""
    signatures = [sign(s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets_]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def next_delay(tries_so_far: int) -> timedelta | None:
    """How long to wait after the `tries_so_far`-th failed try; None: give up."""
    if tries_so_far < 1 or tries_so_far > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[tries_so_far - 1]


def retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds or an HTTP date) as a delay in [1 s, 24 h]; None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = when - now
    return min(max(delay, timedelta(seconds=1)), RETRY_AFTER_MAX)


# --- Where we may send --------------------------------------------------------------------------

NETWORK_KINDS = ("loopback", "private")  # what WEBHOOK_ALLOW_NETWORKS may list


def address_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """'loopback', 'private' or 'forbidden' for an address we do not send to by default; None
    for a public one. Link-local (cloud metadata lives there), multicast, reserved and
    unspecified addresses are always forbidden."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        return "forbidden"
    if address.is_reserved:
        return "forbidden"
    if address.is_private or not address.is_global:  # RFC 1918, CGNAT, ULA, documentation…
        return "private"
    return None


def resolve_safely(url: str, *, allow: Iterable[str] = ()) -> tuple[str, int, list[str]]:
    """Check `url` and resolve its host; returns (host, port, addresses) where every address is
    one we may send to. Raises UnsafeAddressError otherwise, naming the reason.

    The caller connects to one of the returned addresses (not the name again), so a DNS answer
    that changes between this check and the connection cannot point the request elsewhere.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeAddressError("Webhook URLs must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeAddressError("The webhook URL has no host.")
    if parts.username or parts.password:
        raise UnsafeAddressError("Put no user name or password in the webhook URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeAddressError("The webhook URL's port is not a number in 1–65535.") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeAddressError(f"{parts.hostname} does not resolve ({error}).") from None
    allowed = set(allow)
    addresses = []
    for info in infos:
        text = info[4][0].split("%", 1)[0]  # drop an IPv6 zone id
        kind = address_kind(ipaddress.ip_address(text))
        if kind is not None and kind not in allowed:
            raise UnsafeAddressError(
                f"{parts.hostname} resolves to {text}, a {kind} address; webhooks are not sent "
                "to internal networks"
                + ("." if kind == "forbidden" else f" (BLOGLLM_WEBHOOK_ALLOW_NETWORKS={kind}).")
            )
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise UnsafeAddressError(f"{parts.hostname} has no address.")
    return parts.hostname, port, addresses


# --- Sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one try came to: a status code (None when no response came) and what it took."""

    status_code: int | None
    duration_ms: int
    error: str = ""
    excerpt: str = ""
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def send(
    url: str,
    *,
    body: bytes,
    headers_: dict[str, str],
    timeout_s: float,
    allow: Iterable[str] = (),
    user_agent: str = "BlogLLM-Webhooks/1",
) -> Outcome:
    """POST `body` to `url`, connecting only to an address `resolve_safely` accepted (the Host
    header and TLS name stay the URL's). Redirects are not followed: a 3xx is a failed try."""
    started = time.monotonic()

    def took() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        host, port, addresses = resolve_safely(url, allow=allow)
    except UnsafeAddressError as error:
        return Outcome(None, took(), error=str(error))
    parts = urlsplit(url)
    address = addresses[0]
    netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    request_headers = {
        **headers_,
        "content-type": "application/json",
        "host": host_header,
        "user-agent": user_agent,
    }
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
            response = client.post(
                target, content=body, headers=request_headers,
                extensions={"sni_hostname": host} if parts.scheme == "https" else {},
            )  # fmt: skip
    except httpx.TimeoutException:
        return Outcome(None, took(), error=f"No answer in {timeout_s:g} s.")
    except httpx.HTTPError as error:
        return Outcome(None, took(), error=f"{type(error).__name__}: {error}")
    return Outcome(
        status_code=response.status_code,
        duration_ms=took(),
        excerpt=response.text[:500],
        retry_after=response.headers.get("retry-after"),
    )
