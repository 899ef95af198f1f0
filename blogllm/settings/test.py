"""Tests: the real PostgreSQL (+pgvector) and Redis, with fast password hashing and their own
Redis database, so a test run never touches development data."""

import os

os.environ.setdefault("BLOGLLM_DATA_DIR", "var/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from .base import *  # noqa: E402, F403
from .base import CACHES, REDIS_URL, STORAGES  # noqa: E402

# The cache gets a Redis database of its own: tests clear it (FLUSHDB) before each test, which
# must not wipe the broker's queue bindings under a running test worker.
# BLOGLLM_TEST_CACHE_DB lets two test runs share one Redis (each with its own REDIS_URL database).
_CACHE_DB = os.environ.get("BLOGLLM_TEST_CACHE_DB", "14")
_REDIS_SERVER = REDIS_URL.rsplit("/", 1)[0]
CACHES = {"default": {**CACHES["default"], "LOCATION": f"{_REDIS_SERVER}/{_CACHE_DB}"}}

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
