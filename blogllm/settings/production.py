"""Production: HTTPS only, and no start-up with a development secret or DEBUG on."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    DEBUG,
    DEV_FIELD_ENCRYPTION_KEY,
    DEV_SECRET_KEY,
    FIELD_ENCRYPTION_KEYS,
    SECRET_KEY,
    env_bool,
    env_int,
    metrics_networks,
)

if SECRET_KEY == DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a long random value (50+ characters) in production."
    )
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")
if DEV_FIELD_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set to your own key in production.")

# /metrics: a bearer token (BLOGLLM_METRICS_TOKEN), or networks named here, never by default.
METRICS_ALLOW = metrics_networks([])

# Cloud Run and most load balancers terminate TLS and forward the scheme in this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
