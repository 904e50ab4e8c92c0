"""First run: after `make run` writes .env, manage.py works in a new shell; Ctrl-C stops everything cleanly.

Each test works on a copy of the project in a temporary folder (the repository's own .env and var/ are
never touched) and runs commands with a bare environment, as a new shell would have.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from winback.dotenv import load_env_file, parse_env_file, write_env_file

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="make and process groups")


def _project_copy(destination: Path) -> Path:
    """The tracked files of the project (plus a link to the shared .venv), mtimes kept."""
    import shutil

    base = Path(settings.BASE_DIR)
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=base, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        source = base / name
        if not source.is_file() or name.startswith(("tests/", "bench/", "docs/")):
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    (destination / ".venv").symlink_to(Path(sys.executable).parent.parent)
    return destination


def _new_shell_environment() -> dict[str, str]:
    """What a new terminal has: no DEBUG, SECRET_KEY, DATABASE_URL, settings module, …"""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    return {name: os.environ[name] for name in keep if name in os.environ}


def _make(project: Path, *targets: str) -> list[str]:
    # -o: never reinstall the shared virtualenv from the copy.
    return ["make", "--no-print-directory", "-o", ".venv/.installed", "-C", str(project), *targets]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_env_file_is_written_once_with_debug_and_a_random_key(tmp_path):
    path = tmp_path / ".env"
    assert write_env_file(path) is True
    first = parse_env_file(path.read_text())
    assert first["DEBUG"] == "true"
    assert len(first["SECRET_KEY"]) >= 50
    assert write_env_file(path) is False  # kept: sessions survive the next `make run`
    assert parse_env_file(path.read_text()) == first
    other = tmp_path / "other.env"
    write_env_file(other)
    assert parse_env_file(other.read_text())["SECRET_KEY"] != first["SECRET_KEY"]


def test_environment_wins_over_env_file(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_text("# comment\nDEBUG=true\nSECRET_KEY='from-file'\nWINBACK_TEST_ONLY_VALUE=\"x y\"\n")
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.delenv("WINBACK_TEST_ONLY_VALUE", raising=False)
    monkeypatch.setenv("SECRET_KEY", "from-environment")
    loaded = load_env_file(path)
    assert os.environ["DEBUG"] == "false"
    assert os.environ["SECRET_KEY"] == "from-environment"
    assert os.environ["WINBACK_TEST_ONLY_VALUE"] == "x y"
    assert loaded == {"WINBACK_TEST_ONLY_VALUE": "x y"}


def test_bad_env_file_line_names_file_and_line():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=r"\.env, line 2"):
        parse_env_file("DEBUG=true\nthis is not a setting\n")


def test_production_without_env_file_still_requires_secret_key(tmp_path):
    environment = {**_new_shell_environment(), "DEBUG": "false", "DJANGO_SETTINGS_MODULE": "winback.settings"}
    environment["WINBACK_ENV_FILE"] = str(tmp_path / "missing.env")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_manage_py_works_in_a_new_shell_after_make_writes_env(tmp_path):
    project = _project_copy(tmp_path / "winback")
    shell = _new_shell_environment()
    made = subprocess.run(_make(project, ".env"), env=shell, capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "SECRET_KEY=" in (project / ".env").read_text()

    def manage(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(project / ".venv/bin/python"), "manage.py", *arguments],
            cwd=project, env=shell, capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip

    migrated = manage("migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr
    imported = manage("import_csv", "contacts", "samples/winback_contacts.csv")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "SECRET_KEY" not in imported.stderr
    counted = manage("shell", "-c", "from contacts.models import Contact; print(Contact.objects.count())")
    assert counted.returncode == 0, counted.stderr
    assert int(counted.stdout.split()[-1]) > 0


def _wait_for(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_ctrl_c_on_make_serve_stops_every_process_cleanly(tmp_path):
    project = _project_copy(tmp_path / "winback")
    shell = {**_new_shell_environment(), "PORT": str(_free_port()), "EMAIL_PORT": str(_free_port())}
    assert subprocess.run(_make(project, ".env"), env=shell, capture_output=True, check=False).returncode == 0
    migrated = subprocess.run(
        [str(project / ".venv/bin/python"), "manage.py", "migrate", "--no-input"],
        cwd=project, env=shell, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        # A session of its own, like a terminal's foreground job: Ctrl-C is SIGINT to the whole group.
        make = subprocess.Popen(
            _make(project, "serve"), env=shell, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for(lambda: "ready." in log_path.read_text(errors="replace"), timeout=180, what="worker ready")
        pids = [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", log_path.read_text())]
        assert len(pids) == 3  # web, worker (with beat), mail sink
        os.killpg(make.pid, signal.SIGINT)
        returncode = make.wait(timeout=120)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    output = log_path.read_text(errors="replace")
    # make itself got the Ctrl-C too: it ends as an interrupted command does, but reports no error.
    assert returncode in (0, -signal.SIGINT), output
    after_ctrl_c = output.split("SIGINT received")[-1]
    assert "make: ***" not in after_ctrl_c and "Error 130" not in after_ctrl_c, output
    assert "SIGKILL" not in output, output  # every process stopped within honcho's grace period
    for pid in pids:
        _wait_for(lambda pid=pid: not _alive(pid), timeout=30, what=f"process {pid} to end")
