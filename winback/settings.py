"""Winback settings. Every deploy-specific value comes from the environment.

See the configuration table in README.md. Test-only overrides live in
tests/conftest.py; nothing here branches on "am I under test".
"""

from __future__ import annotations

import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from winback.env import (
    env_bool,
    env_database,
    env_int,
    env_list,
    env_str,
    env_timezone,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# --- First run: local .env ------------------------------------------------
# `make run` writes a git-ignored .env (DEBUG=true, a generated SECRET_KEY) so every manage.py
# command works in a new shell. The environment wins over the file; production has no .env.
from winback.dotenv import load_env_file  # noqa: E402

load_env_file()
# --- /First run -----------------------------------------------------------

VAR_DIR = Path(env_str("WINBACK_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("The environment variable SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-change-me-0123456789abcdef"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute base URL used in emails (tracking pixel, unsubscribe and click links).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:5000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "import_export",
    "django_celery_beat",
    "contacts",
    "segments",
    "coupons",
    "messaging",
    "journeys",
    # Reporting (issue 14): dashboard and reports, on top of every other app.
    "reports",
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
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "winback.urls"
WSGI_APPLICATION = "winback.wsgi.application"

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
                "winback.context_processors.shop",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# Default: a SQLite file tuned for a web process + a Celery worker with beat
# writing at the same time (see shared PLATFORM notes). Production: PostgreSQL.
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'winback.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_timezone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Imports of large CSV files upload to MEDIA_ROOT; allow big uploads to stream to disk.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Celery ---------------------------------------------------------------
# Default: kombu's filesystem transport (no server). Production: Redis or RabbitMQ.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Code-owned periodic tasks. Journey-owned schedules are PeriodicTask rows
# created by journey services. Apps add their entries in winback/schedule.py.
from winback.schedule import CELERY_BEAT_SCHEDULE  # noqa: E402,F401

# --- perf: separate Celery queues (README, section bench) --------------------
# WINBACK_SPLIT_QUEUES=true routes journey work to the queue "journeys", message delivery to "messaging"
# and scoring/segment counts to "scoring", so each gets its own workers (`celery worker -Q journeys`).
# Off by default: one worker consumes the default queue "celery".
if env_bool("WINBACK_SPLIT_QUEUES", False):
    CELERY_TASK_ROUTES = {
        "journeys.*": {"queue": "journeys"},
        "messaging.*": {"queue": "messaging"},
        "segments.*": {"queue": "scoring"},
    }

# --- Email ----------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025 if DEBUG else 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
EMAIL_FILE_PATH = str(VAR_DIR / "outbox")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Winback Shop <shop@example.com>")
# The shop's name shown to contacts on public pages; defaults to the display name of DEFAULT_FROM_EMAIL.
_from_display_name = DEFAULT_FROM_EMAIL.split("<")[0].strip().strip('"')
WINBACK_SHOP_NAME = env_str("WINBACK_SHOP_NAME", _from_display_name or "Our shop")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true.")

# --- Security -------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGIN_URL = "admin:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
if CELERY_BROKER_URL == "filesystem://":
    # The filesystem transport has no host; kombu warns "No hostname was supplied" on every connect.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}

# --- Winback --------------------------------------------------------------
# Imports larger than this (bytes) uploaded in the admin run as a background task.
WINBACK_IMPORT_BACKGROUND_BYTES = env_int("WINBACK_IMPORT_BACKGROUND_BYTES", 2 * 1024 * 1024, minimum=0)
# A background import whose worker died may be taken over after this many minutes.
WINBACK_IMPORT_STALE_MINUTES = env_int("WINBACK_IMPORT_STALE_MINUTES", 120, minimum=1)
# Country calling code for phone numbers written without one (imports, API).
WINBACK_DEFAULT_PHONE_PREFIX = env_str("WINBACK_DEFAULT_PHONE_PREFIX", "+49")
if not re.fullmatch(r"\+[1-9]\d{0,3}", WINBACK_DEFAULT_PHONE_PREFIX):
    raise ImproperlyConfigured(
        f"WINBACK_DEFAULT_PHONE_PREFIX={WINBACK_DEFAULT_PHONE_PREFIX!r} is not a calling code like +49."
    )
# Largest JSON body the API accepts (bytes).
WINBACK_API_MAX_BODY_BYTES = env_int("WINBACK_API_MAX_BODY_BYTES", 2_621_440, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, WINBACK_API_MAX_BODY_BYTES)

# --- Contacts: uploads, import file retention, erasure (issues 8 and 12) ---
# Largest file any upload accepts (contact/product/order imports, coupon code imports), bytes.
WINBACK_UPLOAD_MAX_BYTES = env_int("WINBACK_UPLOAD_MAX_BYTES", 100 * 1024 * 1024, minimum=1024)
# Uploaded import files of finished (done/failed) jobs are deleted this many days after the job ended.
WINBACK_IMPORT_FILE_RETENTION_DAYS = env_int("WINBACK_IMPORT_FILE_RETENTION_DAYS", 30, minimum=0)
# Key for the suppression list's hashes of erased people's email/phone (default: derived from SECRET_KEY).
WINBACK_SUPPRESSION_KEY = env_str("WINBACK_SUPPRESSION_KEY", "")
# --- /Contacts --------------------------------------------------------------

# --- Journeys -------------------------------------------------------------
# How often beat runs the journeys tick, and how long a worker's claim on due contacts lasts
# before another worker may take them over (a crashed worker's contacts move on after this).
JOURNEYS_TICK_SECONDS = env_int("JOURNEYS_TICK_SECONDS", 10, minimum=1)
JOURNEYS_CLAIM_LEASE_SECONDS = env_int("JOURNEYS_CLAIM_LEASE_SECONDS", 300, minimum=1)

# --- Messaging ------------------------------------------------------------
# Sends per second per worker process and channel (0 = unlimited). Total = rate x worker processes.
MESSAGING_EMAIL_RATE_PER_SECOND = env_int("MESSAGING_EMAIL_RATE_PER_SECOND", 50, minimum=0)
MESSAGING_SMS_RATE_PER_SECOND = env_int("MESSAGING_SMS_RATE_PER_SECOND", 10, minimum=0)
MESSAGING_PUSH_RATE_PER_SECOND = env_int("MESSAGING_PUSH_RATE_PER_SECOND", 50, minimum=0)
# Message ids per delivery task (one SMTP connection per task).
MESSAGING_BATCH_SIZE = env_int("MESSAGING_BATCH_SIZE", 200, minimum=1)
# Connections one delivery task sends over in parallel (threads; PostgreSQL only, SQLite uses one).
# Each sends one message at a time, so a killed worker leaves at most this many messages in doubt.
MESSAGING_DELIVERY_CONNECTIONS = env_int("MESSAGING_DELIVERY_CONNECTIONS", 4, minimum=1)
# Delivery guarantees (README "Guarantees"): a task claims this many messages at a time with a lease
# of MESSAGING_LEASE_SECONDS (renewed per message, so it must outlast one send: > EMAIL_TIMEOUT).
# Claimed but unstarted messages whose lease ran out go back to the queue; a started one whose
# lease ran out becomes "in doubt". The sweep runs every MESSAGING_SWEEP_SECONDS (beat).
MESSAGING_CLAIM_SIZE = env_int("MESSAGING_CLAIM_SIZE", 50, minimum=1)
MESSAGING_LEASE_SECONDS = env_int("MESSAGING_LEASE_SECONDS", 120, minimum=1)
MESSAGING_SWEEP_SECONDS = env_int("MESSAGING_SWEEP_SECONDS", 60, minimum=1)
# Queued messages no task picked up after this long are handed to delivery again (lost task).
MESSAGING_STALE_QUEUED_SECONDS = env_int("MESSAGING_STALE_QUEUED_SECONDS", 600, minimum=1)
# Transient failures (connection refused, SMTP 4xx, provider 429/5xx) are retried after
# MESSAGING_RETRY_BACKOFF_SECONDS x 2^(attempt-1) (at most an hour), then failed after
# MESSAGING_MAX_ATTEMPTS attempts.
MESSAGING_MAX_ATTEMPTS = env_int("MESSAGING_MAX_ATTEMPTS", 5, minimum=1)
MESSAGING_RETRY_BACKOFF_SECONDS = env_int("MESSAGING_RETRY_BACKOFF_SECONDS", 60, minimum=0)
# mailto: address for the List-Unsubscribe header (default: the DEFAULT_FROM_EMAIL address).
MESSAGING_UNSUBSCRIBE_MAILTO = env_str("MESSAGING_UNSUBSCRIBE_MAILTO", "")
# Shared secret for POST /m/webhooks/bounce/ (header X-Webhook-Secret). Empty: webhook disabled.
MESSAGING_WEBHOOK_SECRET = env_str("MESSAGING_WEBHOOK_SECRET", "")
# SMS: messaging.backends.sms.{ConsoleBackend,FileBackend,LocmemBackend,TwilioBackend}
MESSAGING_SMS_BACKEND = env_str("MESSAGING_SMS_BACKEND", "messaging.backends.sms.ConsoleBackend")
MESSAGING_SMS_FROM = env_str("MESSAGING_SMS_FROM", "")
MESSAGING_SMS_FILE_PATH = env_str("MESSAGING_SMS_FILE_PATH", str(VAR_DIR / "sms"))
MESSAGING_TWILIO_ACCOUNT_SID = env_str("MESSAGING_TWILIO_ACCOUNT_SID", "")
MESSAGING_TWILIO_AUTH_TOKEN = env_str("MESSAGING_TWILIO_AUTH_TOKEN", "")
MESSAGING_TWILIO_API_BASE = env_str("MESSAGING_TWILIO_API_BASE", "https://api.twilio.com")
# Web push: messaging.backends.push.{ConsoleBackend,LocmemBackend,WebPushBackend}
MESSAGING_PUSH_BACKEND = env_str("MESSAGING_PUSH_BACKEND", "messaging.backends.push.ConsoleBackend")
MESSAGING_VAPID_PUBLIC_KEY = env_str("MESSAGING_VAPID_PUBLIC_KEY", "")
MESSAGING_VAPID_PRIVATE_KEY = env_str("MESSAGING_VAPID_PRIVATE_KEY", "")
# Push services the worker may POST to (browsers' push services; "*.x" matches subdomains, "*" any host).
MESSAGING_PUSH_ENDPOINT_HOSTS = env_list(
    "MESSAGING_PUSH_ENDPOINT_HOSTS",
    ["fcm.googleapis.com", "updates.push.services.mozilla.com", "web.push.apple.com", "*.notify.windows.com"],
)
MESSAGING_VAPID_SUBJECT = env_str("MESSAGING_VAPID_SUBJECT", "mailto:shop@example.com")
# Recommendations in templates: "new" products are those created in the last N days.
MESSAGING_NEW_PRODUCT_DAYS = env_int("MESSAGING_NEW_PRODUCT_DAYS", 30, minimum=1)
# --- /Messaging -----------------------------------------------------------

# --- Security and privacy (issue 12) ----------------------------------------
# Origins ("http://127.0.0.1:8089") exempt from the outbound checks of messaging.outbound (https only,
# MESSAGING_PUSH_ENDPOINT_HOSTS, no private/loopback/link-local/metadata address). Empty: none.
MESSAGING_OUTBOUND_EXEMPT_ORIGINS = env_list("MESSAGING_OUTBOUND_EXEMPT_ORIGINS", [])
# Most characters one message may render to (all its parts together), and seconds one render may take.
MESSAGING_RENDER_MAX_BYTES = env_int("MESSAGING_RENDER_MAX_BYTES", 256 * 1024, minimum=1024)
MESSAGING_RENDER_MAX_SECONDS = env_int("MESSAGING_RENDER_MAX_SECONDS", 5, minimum=1)
# Hosts a click may redirect to when the link is not written in the template itself (it came from
# contact data, e.g. a referral share link). SITE_URL's host is always allowed. "*.x" = subdomains.
MESSAGING_LINK_HOSTS = env_list("MESSAGING_LINK_HOSTS", ["shop.example.com", "example.com"])

# The audit trail (audit app) and login throttling (django-axes).
INSTALLED_APPS += ["audit", "axes"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "audit.tracking.AuditContextMiddleware",
)
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as django-axes asks
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Lock a login after this many failures, per user name and per IP address (either one locks).
AXES_FAILURE_LIMIT = env_int("WINBACK_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("WINBACK_LOGIN_LOCKOUT_MINUTES", 30, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True  # the user's own failures only (winback.login_attempts.LoginAttemptsHandler)
AXES_HANDLER = "winback.login_attempts.LoginAttemptsHandler"
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "winback.security.client_ip"
AXES_VERBOSE = False
LOGGING["loggers"]["axes"] = {"level": "WARNING"}  # every login at INFO otherwise
# Cache for the API rate limit: "redis://..." shares counts between web processes; empty: per process.
WINBACK_CACHE_URL = env_str("WINBACK_CACHE_URL", "")
if WINBACK_CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": WINBACK_CACHE_URL}
    }
# API requests per token per minute (0 = unlimited); over it: 429 with Retry-After.
WINBACK_API_RATE_PER_MINUTE = env_int("WINBACK_API_RATE_PER_MINUTE", 120, minimum=0)
# --- /Security and privacy -----------------------------------------------------
# --- Emails: the shop in every message (playbooks) ------------------------------------------------
# Shown in the header and footer of the email layout (messaging/email_layout.py) as `shop.*`.
WINBACK_SHOP_LOGO_URL = env_str("WINBACK_SHOP_LOGO_URL", "")  # absolute https URL of a PNG/JPEG logo
WINBACK_SHOP_ADDRESS = env_str("WINBACK_SHOP_ADDRESS", "Example Street 1, 10115 Berlin, Germany")
WINBACK_SHOP_CURRENCY = env_str("WINBACK_SHOP_CURRENCY", "EUR").upper()  # ISO code; prices show its symbol
# --- /Emails ----------------------------------------------------------------------------------------

# --- Reports (issue 14) ----------------------------------------------------
# Currency the dashboard and reports show money in (ISO 4217): the shop's currency unless set apart.
REPORTS_CURRENCY = env_str("REPORTS_CURRENCY", WINBACK_SHOP_CURRENCY).upper()
