"""Code-owned periodic tasks, gathered from each app's `schedule.py` (a BEAT_SCHEDULE dict).

django-celery-beat's DatabaseScheduler syncs these into PeriodicTask rows at start.
Journey entry schedules are NOT here: journey services own those rows.
"""

from importlib import import_module

_APPS = ("contacts", "segments", "coupons", "messaging", "journeys", "reports")

CELERY_BEAT_SCHEDULE: dict = {}
for _app in _APPS:
    try:
        _module = import_module(f"{_app}.schedule")
    except ModuleNotFoundError as exc:
        if exc.name != f"{_app}.schedule":
            raise
        continue
    CELERY_BEAT_SCHEDULE.update(_module.BEAT_SCHEDULE)
