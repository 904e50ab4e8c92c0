import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from winback import env


def test_bad_boolean_names_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env.env_bool("DEBUG")


def test_bad_integer_names_the_variable(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", "twenty-five")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT"):
        env.env_int("EMAIL_PORT", 25)


def test_unknown_time_zone_is_rejected(monkeypatch):
    monkeypatch.setenv("TIME_ZONE", "Mars/Olympus_Mons")
    with pytest.raises(ImproperlyConfigured, match="TIME_ZONE"):
        env.env_timezone("TIME_ZONE", "UTC")


def test_bad_database_url_names_the_variable(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "nosuchdb://x")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env.env_database("DATABASE_URL", "sqlite:///x")


def _start_settings(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    import os

    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    environment.update(extra_env)
    environment["DJANGO_SETTINGS_MODULE"] = "winback.settings"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_start_without_secret_key_fails_naming_it():
    result = _start_settings({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_start_with_bad_value_fails_naming_it():
    result = _start_settings({"DEBUG": "true", "EMAIL_PORT": "abc"})
    assert result.returncode != 0
    assert "EMAIL_PORT" in result.stderr


def test_deploy_check_is_clean_in_production_settings(tmp_path):
    import os

    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment.update(
        DJANGO_SETTINGS_MODULE="winback.settings",
        DEBUG="false",
        SECRET_KEY="a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
        ALLOWED_HOSTS="winback.example.com",
        WINBACK_VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
