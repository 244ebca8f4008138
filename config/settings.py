"""LeadEngine settings: every value comes from the environment, read once, here.

A missing or malformed variable stops start-up with an ImproperlyConfigured error that
names the variable. The defaults are the embedded default (SQLite + kombu's filesystem
broker), so a fresh clone runs with nothing configured.
"""

import ipaddress
import re
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name, default):
    """A strict boolean: 'maybe' is an error, not False."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}: expected a boolean (1/0, true/false, yes/no), got {raw!r}")


def env_int(name, default, minimum=None):
    raw = env.str(name, default=str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {value}")
    return value


SUPPORTED_DATABASE_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}


def env_database(name, default):
    try:
        config = env.db_url(name, default=default)
    except Exception as exc:  # django-environ raises several types for a bad URL
        raise ImproperlyConfigured(f"{name}: not a valid database URL ({exc})") from None
    if config.get("ENGINE") not in SUPPORTED_DATABASE_ENGINES:
        raise ImproperlyConfigured(f"{name}: use a postgres:// or sqlite:/// URL, got {env.str(name)!r}")
    return config


DATA_DIR = Path(env.str("LEADENGINE_DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key():
    """Production sets DJANGO_SECRET_KEY; the embedded default keeps a random one on disk."""
    key = env.str("DJANGO_SECRET_KEY", default="")
    if key:
        return key
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Rotation (docs/operations.md): the old key here keeps sessions and signed links valid
# while they expire. Not used for encryption at rest (FIELD_ENCRYPTION_KEYS).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "leadengine.apps.LeadEngineAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served by us: no CDN needed
    "leadengine",
    "leads",
    "webhooks",
    "webhooks.outbound",
    "webhooks.inbound",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # JSON 503 + Retry-After when the database connection is lost under /api/ and /webhooks/.
    "config.errors.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
# A reused connection is checked before its first query of a request or task (after a restart).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE takes the write lock
    # at BEGIN so two writers queue on `timeout` instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
DATABASE_IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
if DATABASE_IS_POSTGRES:
    # No JIT: the health pages' correlated subqueries are cheap index lookups that the planner
    # costs high, and compiling them took 0.8 s of a 0.87 s query on a big database
    # (docs/benchmarks.md, P11). JIT pays off for long analytics, which this app doesn't run.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
# The hot statements whose planning costs more than their run (the claim, the status change's
# snapshot…) are prepared on the server once per connection, with one generic plan
# (`leadengine.prepared.server_prepared`); Django's own cursors bind client-side and are never
# prepared. Off behind a pooler that cannot keep prepared statements (PgBouncer in transaction
# mode before 1.21).
DATABASE_PREPARED_STATEMENTS = DATABASE_IS_POSTGRES and env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASE_PREPARED_STATEMENTS:
    # psycopg ignores a request to prepare while the threshold is None (Django's default):
    # set, out of reach of any count, so that only the marked statements are prepared.
    DATABASES["default"]["OPTIONS"]["options"] += " -c plan_cache_mode=force_generic_plan"
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 2**31 - 1
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, throttles) ---------------------------------------------------
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://leadengine")}
CACHE_IS_REDIS = CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
if CACHE_IS_REDIS:
    # Django's backend, keeping its redis-py clients (leadengine/cache.py: a third of each
    # operation's time was building a new one).
    CACHES["default"]["BACKEND"] = "leadengine.cache.RedisCache"
    # Throttles and rate limits fail open when the cache is down (leadengine/api/throttling.py,
    # webhooks/inbound/receive.py), so a dead or hung Redis must cost milliseconds, not the
    # OS's connect timeout: redis-py's pool takes these per connection.
    CACHES["default"].setdefault("OPTIONS", {}).update(
        socket_connect_timeout=env.float("CACHE_SOCKET_TIMEOUT_SECONDS", default=0.2),
        socket_timeout=env.float("CACHE_SOCKET_TIMEOUT_SECONDS", default=0.2),
    )

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: plain files shared by the web server and the worker.
    _broker_dir = DATA_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # The worker looks for new files this often (kombu's default is 1 s): a doorbell is
        # picked up within 0.25 s, and a warm shutdown (Ctrl-C under bin/run) ends sooner.
        "polling_interval": 0.25,
    }
else:
    # Fail fast when the broker vanishes instead of hanging a request on publish.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup closes the DB connection around every task unless this is set; we
# close like Django does per request instead (config/celery.py), honouring CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = 2**31
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Idempotency-Key answers are kept 24 h (leadengine/idempotency.py).
    "leadengine-purge-idempotency-records": {
        "task": "leadengine.purge_idempotency_records",
        "schedule": 3600.0,
    },
}  # the webhooks block below adds its own

# Fernet keys for secrets stored encrypted (leadengine/encryption.py), newest first.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Webhooks -------------------------------------------------------------------------
# The port the dev server listens on (bin/run, the Procfile's gunicorn): the default public
# URL of inbound webhooks follows it, so `PORT=8010 bin/run` shows URLs that answer.
PORT = env_int("PORT", 8000, minimum=1)
WEBHOOKS_BASE_URL = env.str("WEBHOOKS_BASE_URL", default=f"http://127.0.0.1:{PORT}/webhooks").rstrip("/")
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# Certificates of https:// destinations are checked against this CA bundle (a file path);
# empty: certifi's bundle. For a private CA in front of internal receivers.
WEBHOOK_CA_BUNDLE = env.str("WEBHOOK_CA_BUNDLE", default="")
# Private/loopback destinations are refused unless this is on (the embedded dev default).
WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = env_bool("WEBHOOK_ALLOW_PRIVATE_DESTINATIONS", DEBUG)
INBOUND_RATE_LIMIT_PER_MINUTE = env_int("INBOUND_RATE_LIMIT_PER_MINUTE", 600, minimum=1)

# --- Outbound webhooks (webhooks.outbound) --------------------------------------------
LEADENGINE_VERSION = env.str("LEADENGINE_VERSION", default="1.0.0")  # in the webhook User-Agent
# A worker holds its claims on a short lease that it renews while it sends (a heartbeat):
# a killed worker's deliveries are claimable again this long after its last renewal.
WEBHOOK_LEASE_SECONDS = env_int("WEBHOOK_LEASE_SECONDS", 15, minimum=3)
WEBHOOK_SWEEP_INTERVAL_SECONDS = env_int("WEBHOOK_SWEEP_INTERVAL_SECONDS", 5, minimum=1)
# Requests in flight at once per worker process (threads; the work is waiting on receivers).
WEBHOOK_SENDER_CONCURRENCY = env_int("WEBHOOK_SENDER_CONCURRENCY", 64, minimum=1)
# Requests in flight at once to one endpoint across all workers, unless the webhook sets its
# own (at most 32): one endpoint never takes a whole worker.
WEBHOOK_ENDPOINT_CONCURRENCY = env_int("WEBHOOK_ENDPOINT_CONCURRENCY", 8, minimum=1)
# How long one task keeps claiming new work before it drains and hands over to the next task.
WEBHOOK_SEND_WINDOW_SECONDS = env_int("WEBHOOK_SEND_WINDOW_SECONDS", 60, minimum=1)
# One doorbell waiting is enough (webhooks/outbound/outbox.py): while one waits for a worker,
# commits publish none. Needs a cache shared by web and worker processes (Redis).
WEBHOOK_DOORBELL_COALESCE = env_bool("WEBHOOK_DOORBELL_COALESCE", CACHE_IS_REDIS)
# Deliveries one claim takes at most (a task claims again as requests finish).
WEBHOOK_DELIVERY_BATCH_SIZE = env_int("WEBHOOK_DELIVERY_BATCH_SIZE", 100, minimum=1)
# A sending task stops claiming at the window, then waits for its requests (one timeout
# each): this hard limit only catches a send that hangs (the leases then expire).
CELERY_TASK_ANNOTATIONS = {
    name: {"time_limit": WEBHOOK_SEND_WINDOW_SECONDS + 3 * WEBHOOK_TIMEOUT_SECONDS + WEBHOOK_LEASE_SECONDS}
    for name in ("outbound.deliver_webhooks", "outbound.deliver_due_webhooks")
}
CELERY_BEAT_SCHEDULE["outbound-deliver-due-webhooks"] = {
    "task": "outbound.deliver_due_webhooks",
    "schedule": float(WEBHOOK_SWEEP_INTERVAL_SECONDS),
}
CELERY_BEAT_SCHEDULE["outbound-disable-failing-webhooks"] = {
    "task": "outbound.disable_failing_webhooks",
    "schedule": 3600.0,
}
# --- end outbound webhooks ---------------------------------------------------------------

# --- Email (operator notifications: webhooks/outbound/notifications.py) -----------------
# EMAIL_URL like smtp+tls://user:password@smtp.example.com:587; the embedded default prints
# emails on the console (the worker's output).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="LeadEngine <leadengine@localhost>")
# Where links in emails point: the admin's public address.
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")

# --- Retention (webhooks/retention.py) --------------------------------------------------
# How long logs are kept, in days; pruned hourly in batches of RETENTION_BATCH_SIZE rows,
# each its own short transaction. A delivery still pending or in flight is never pruned.
RETENTION_SUCCEEDED_DELIVERY_DAYS = env_int("RETENTION_SUCCEEDED_DELIVERY_DAYS", 30, minimum=1)
RETENTION_FAILED_DELIVERY_DAYS = env_int("RETENTION_FAILED_DELIVERY_DAYS", 90, minimum=1)
RETENTION_INBOUND_BODY_DAYS = env_int("RETENTION_INBOUND_BODY_DAYS", 14, minimum=1)
RETENTION_INBOUND_REQUEST_DAYS = env_int("RETENTION_INBOUND_REQUEST_DAYS", 90, minimum=1)
# A captured sample is what an operator maps from: one per webhook, so it never grows, but it
# holds a real person's data. 0 keeps it until the next capture.
RETENTION_INBOUND_SAMPLE_DAYS = env_int("RETENTION_INBOUND_SAMPLE_DAYS", 90, minimum=0)
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 5000, minimum=1)
if RETENTION_INBOUND_BODY_DAYS > RETENTION_INBOUND_REQUEST_DAYS:
    raise ImproperlyConfigured(
        "RETENTION_INBOUND_BODY_DAYS: must not exceed RETENTION_INBOUND_REQUEST_DAYS "
        f"({RETENTION_INBOUND_BODY_DAYS} > {RETENTION_INBOUND_REQUEST_DAYS})"
    )
CELERY_BEAT_SCHEDULE["webhooks-prune-old-logs"] = {
    "task": "webhooks.prune_old_logs",
    "schedule": 3600.0,
}

# --- Auth, i18n, static ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# gunicorn serves collected static files itself (`manage.py collectstatic` at deploy), so the
# admin and the API docs have their CSS and JS without a separate web server.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LOGIN_URL = "admin:login"

# --- REST API (/api/v1/, schema at /api/schema/, docs at /api/docs/) -------------------
_THROTTLE_RATE = r"^[1-9][0-9]*/(second|minute|hour|day)$"


def env_rate(name, default):
    rate = env.str(name, default=default).strip()
    if not re.match(_THROTTLE_RATE, rate):
        raise ImproperlyConfigured(
            f"{name}: expected a rate like 600/minute (second|minute|hour|day), got {rate!r}"
        )
    return rate


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "leadengine.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "leadengine.api.permissions.IsWorkspaceCaller",
        "leadengine.api.permissions.ApiKeyHasScope",
    ],
    "DEFAULT_PAGINATION_CLASS": "leadengine.api.pagination.PageNumberPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50, minimum=1),
    "EXCEPTION_HANDLER": "leadengine.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "leadengine.api.schema.ScopedAutoSchema",
    # django-filter, on lists only; a view's `filterset_class` declares its query parameters.
    "DEFAULT_FILTER_BACKENDS": ["leadengine.api.filters.ListFilterBackend"],
    # Counted in the default cache (CACHE_URL: Redis in production, shared by every web process).
    # The API's base viewset applies them; see leadengine/api/throttling.py.
    "DEFAULT_THROTTLE_RATES": {
        "user": env_rate("API_THROTTLE_USER_RATE", "1200/minute"),
        "anon": env_rate("API_THROTTLE_ANON_RATE", "60/minute"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "LeadEngine API",
    "DESCRIPTION": "Leads, campaigns, lists, fields, webhooks (with their delivery and request logs) "
    "and API keys of your workspaces. "
    "Authenticate with an API key (Authorization: Bearer; each key has scopes, see the apiKey "
    "security scheme) or a session.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",  # tags and operation ids per resource: leads_list, ...
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No font CDN (templates/drf_spectacular/redoc.html drops Google Fonts): the system's fonts.
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                "headings": {"fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
                "code": {"fontFamily": "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"},
            }
        }
    },
    # Choice sets used by several fields: one named enum each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "LeadStatusEnum": "leads.models.LeadStatus",
        "DeliveryStatusEnum": "webhooks.outbound.api.DeliveryStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "leadengine.api.schema.document_error_responses",
    ],
}

# --- Metrics (/metrics, Prometheus; leadengine/metrics.py, docs/operations.md) ------------
# Off (404) unless a bearer token or an address allow-list is set; either one grants access.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")


def env_networks(name):
    """A comma-separated list of addresses or CIDR networks; a bad entry stops start-up."""
    networks = []
    for entry in env.list(name, default=[]):
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: not an IP address or network: {entry!r}") from None
    return networks


METRICS_ALLOWED_IPS = env_networks("METRICS_ALLOWED_IPS")
# Prometheus multiprocess mode: every web and worker process writes its counters here and a
# scrape of any web process sums them. prometheus_client reads the variable itself, at
# import, so it must be in the environment of every process (not only in settings).
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR: not a directory: {PROMETHEUS_MULTIPROC_DIR!r}")

# --- Production hardening (manage.py check --deploy is clean with DEBUG off) ----------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Off by default so a plain-HTTP loopback (tests, the embedded default) works; production sets it.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
