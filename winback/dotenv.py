"""The local settings file that `make run` writes, so `manage.py` works in any new shell.

`.env` (git-ignored) holds `NAME=value` lines; `winback/settings.py` loads it before reading the
environment, and a variable set in the environment always wins over the file. Production has no
`.env` and keeps refusing to start without SECRET_KEY. `WINBACK_ENV_FILE` names another file, or
disables the file when empty (the test settings do, so a developer's `.env` never leaks into tests).

    python -m winback.dotenv [PATH]   # write PATH (default .env) unless it exists
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DEFAULT_PATH = Path(__file__).resolve().parent.parent / ".env"


def env_file_path() -> Path | None:
    """The file to load: WINBACK_ENV_FILE if set (empty disables), else `.env` next to manage.py."""
    configured = os.environ.get("WINBACK_ENV_FILE")
    if configured is None:
        return DEFAULT_PATH
    return Path(configured) if configured.strip() else None


def parse_env_file(text: str, *, source: str = ".env") -> dict[str, str]:
    """`NAME=value` lines; blank lines and `#` comments skipped; optional quotes around the value."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        name, separator, value = line.partition("=")
        name = name.strip()
        if not separator or not name.replace("_", "").isalnum() or name[0].isdigit():
            raise ImproperlyConfigured(f"{source}, line {number}: expected NAME=value, got {raw!r}.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def load_env_file(path: Path | None = None) -> dict[str, str]:
    """Put the file's values into os.environ where the environment has none. Returns what it set."""
    path = env_file_path() if path is None else path
    if path is None or not path.is_file():
        return {}
    loaded = {}
    for name, value in parse_env_file(path.read_text(encoding="utf-8"), source=str(path)).items():
        if name not in os.environ:
            os.environ[name] = value
            loaded[name] = value
    return loaded


def write_env_file(path: Path = DEFAULT_PATH) -> bool:
    """Write the development settings file with a fresh SECRET_KEY. Never overwrites; True if written."""
    if path.exists():
        return False
    path.write_text(
        "# Written by `make run` for local development. Not for production; git-ignored.\n"
        "# The environment wins over this file. Delete it to get a new SECRET_KEY.\n"
        "DEBUG=true\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    if write_env_file(target):
        print(f"Wrote {target} (DEBUG=true and a generated SECRET_KEY) for local development.")
