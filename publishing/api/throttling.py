"""Rate limits per API key and per client IP, counted in the Redis cache.

Over the limit the API answers 429 with `Retry-After` (seconds), in the one error shape.
"""

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from blogllm.clientip import client_ip
from publishing.models import ApiKey


class PerKeyThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str:
        return f"{settings.API_RATE_PER_KEY}/min"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.id}


class PerIpThrottle(SimpleRateThrottle):
    scope = "api_ip"

    def get_rate(self) -> str:
        return f"{settings.API_RATE_PER_IP}/min"

    def get_cache_key(self, request: Request, view: object) -> str:
        ident = client_ip(request) or self.get_ident(request)  # BLOGLLM_TRUSTED_PROXY_COUNT
        return self.cache_format % {"scope": self.scope, "ident": ident}
