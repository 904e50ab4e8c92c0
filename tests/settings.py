"""Test settings: the one place tests differ from winback.settings.

The database and broker still come from DATABASE_URL / CELERY_BROKER_URL, so
the same suite runs on SQLite and on PostgreSQL + Redis (see .ci/run).
"""

import os
import tempfile

# A developer's .env (written by `make run`) never leaks into tests or their subprocesses.
os.environ.setdefault("WINBACK_ENV_FILE", "")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdefghijkl")
# One folder per test run (SQLite test database file, filesystem broker, media), so
# parallel runs never share state. Subprocesses (Celery workers) inherit it.
os.environ.setdefault("WINBACK_VAR_DIR", tempfile.mkdtemp(prefix="winback-test-"))

from winback.settings import *  # noqa: E402,F403
from winback.settings import DATABASES, STATIC_ROOT, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so real worker processes and the live server share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# WhiteNoise warns when STATIC_ROOT is missing; tests never collect static files.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

DEBUG = False
ALLOWED_HOSTS = ["*"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SITE_URL = "http://testserver"
MESSAGING_PUSH_ENDPOINT_HOSTS = [*MESSAGING_PUSH_ENDPOINT_HOSTS, "push.example.com"]  # noqa: F405
