import os

import pytest

# pytest-playwright runs an event loop in the test thread; live_server's ORM calls are sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Drive Debian's chromium (installed by `make test`); Playwright cannot download one offline."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", "password")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_database_url() -> str:
    """DATABASE_URL of the test database (not the development one), for subprocesses.

    On SQLite the test database is a file under WINBACK_VAR_DIR (tests/settings.py), so worker
    processes and the test share it.
    """
    from django.db import connection

    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    if connection.vendor != "postgresql":
        pytest.skip(f"no subprocess tests for {connection.vendor}")
    user = config.get("USER") or "postgres"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    host = f"{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}"
    return f"postgres://{user}{password}@{host}/{config['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture
def celery_worker_process(settings):
    """A real `celery -A winback worker` subprocess on the test database and the configured broker.

    Yields the path of its log. Stopped (process group) at teardown.
    """
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from winback.celery import app

    app.control.purge()
    log_path = Path(settings.VAR_DIR) / "worker.log"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "winback.settings",
        "DATABASE_URL": test_database_url(),
        "SECURE_SSL_REDIRECT": "false",
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "winback", "worker", "--concurrency", "1",
             "--loglevel", "INFO"],
            cwd=settings.BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    yield log_path
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGQUIT)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
