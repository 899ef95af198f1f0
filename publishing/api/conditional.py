"""Conditional requests (RFC 9110): ETag and Last-Modified out, 304 Not Modified back.

The validators come from one small query (a post's id, version and update time, or a list's
newest update time and count), never from rendering the response, so a 304 costs a fraction
of a 200. If-None-Match wins over If-Modified-Since when both are sent, as the RFC says.
"""

import hashlib
from datetime import datetime

from django.utils.http import http_date, parse_http_date_safe
from rest_framework.request import Request
from rest_framework.response import Response


def make_etag(*parts: object) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f'W/"{digest}"'


def _matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag.removeprefix("W/") in wanted


def not_modified(request: Request, etag: str, last_modified: datetime | None) -> Response | None:
    """A 304 when the client's copy is current, else None (go on and build the 200)."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        fresh = _matches(if_none_match, etag)
    else:
        since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
        fresh = (
            since is not None
            and last_modified is not None
            and (int(last_modified.timestamp()) <= since)
        )
    return with_validators(Response(status=304), etag, last_modified) if fresh else None


def with_validators(response: Response, etag: str, last_modified: datetime | None) -> Response:
    response["ETag"] = etag
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified.timestamp())
    # Readers behind a cache must ask again each time; the 304 makes asking cheap.
    response["Cache-Control"] = "no-cache"
    return response
