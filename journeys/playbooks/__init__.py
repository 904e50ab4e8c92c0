"""Playbooks: proven win-back journeys to start from, one journey file each (journeys/playbooks/*.json).

A playbook file is a journey file (journeys/services/transfer.py) with a "playbook" block for the gallery:
slug, title, summary, channels, what to prepare, and options the marketer picks when creating it (each
option sets one configuration value of one step). `playbook_create()` applies the options and imports
the file: one transaction creates the draft journey, its segments, empty coupon pools and templates,
all named with the prefix, reusing objects of the same name.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from journeys.services.transfer import ImportResult

DIRECTORY = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Playbook:
    slug: str
    title: str
    summary: str
    channels: tuple[str, ...]
    prepare: tuple[str, ...]
    options: tuple[dict, ...]
    data: dict

    @property
    def step_count(self) -> int:
        return len(self.data["journey"]["steps"])


@cache
def _load(path: Path, mtime: float) -> Playbook:
    data = json.loads(path.read_text(encoding="utf-8"))
    meta = data["playbook"]
    return Playbook(
        slug=meta["slug"],
        title=meta["title"],
        summary=meta["summary"],
        channels=tuple(meta.get("channels", [])),
        prepare=tuple(meta.get("prepare", [])),
        options=tuple(meta.get("options", [])),
        data=data,
    )


def playbooks_list() -> list[Playbook]:
    """Every playbook file, in file-name order."""
    return [_load(path, path.stat().st_mtime) for path in sorted(DIRECTORY.glob("*.json"))]


def playbook_get(name: str) -> Playbook:
    """By slug or by exact title (case-insensitive); ValidationError naming the known ones otherwise."""
    wanted = name.strip().lower()
    for playbook in playbooks_list():
        if wanted in (playbook.slug, playbook.title.lower()):
            return playbook
    known = ", ".join(f"“{p.title}”" for p in playbooks_list())
    raise ValidationError(f"No playbook named “{name}”. Playbooks: {known}.")


def _option_value(option: dict, value) -> object:
    if option.get("type") == "choice":
        allowed = [choice[0] for choice in option["choices"]]
        value = value or option.get("default")
        if value not in allowed:
            raise ValidationError(f"{option['label']}: one of {', '.join(allowed)}, not {value!r}.")
        return value
    if option.get("type") == "date":
        if value in (None, ""):
            return None
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise ValidationError(f"{option['label']}: a date like 2026-01-31, not {value!r}.") from None
        return dt.datetime.combine(value, dt.time(0, 0)).isoformat()
    return value


def playbook_create(
    *, playbook: Playbook, prefix: str = "", options: dict | None = None, user=None
) -> ImportResult:
    """Create the playbook's draft journey and everything it uses (see journey_import)."""
    from journeys.services.transfer import journey_import

    data = copy.deepcopy(playbook.data)
    options = options or {}
    steps = {s["key"]: s for s in data["journey"]["steps"]}
    values = {
        option["name"]: _option_value(option, options.get(option["name"])) for option in playbook.options
    }
    for option in playbook.options:
        if values[option["name"]] is not None:
            steps[option["step"]]["config"][option["config"]] = values[option["name"]]
    if values.get("start_at") and values.get("end_at") and values["end_at"] <= values["start_at"]:
        raise ValidationError("The end date must be after the start date.")
    return journey_import(data=data, prefix=prefix, user=user)
