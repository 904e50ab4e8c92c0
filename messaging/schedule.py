"""Code-owned periodic tasks of messaging (merged by winback/schedule.py)."""

from winback.env import env_int

# How often the delivery sweep runs (seconds; also in settings.MESSAGING_SWEEP_SECONDS).
SWEEP_SECONDS = env_int("MESSAGING_SWEEP_SECONDS", 60, minimum=1)

BEAT_SCHEDULE = {
    # Expired delivery leases: claimed-but-unstarted messages back to the queue (and to delivery),
    # started ones whose outcome was never recorded -> "in doubt".
    "messaging-recover-interrupted": {
        "task": "messaging.recover_interrupted",
        "schedule": float(SWEEP_SECONDS),
        "options": {"expires": max(SWEEP_SECONDS - 1, 1)},
    },
    # Messages still queued after MESSAGING_STALE_QUEUED_SECONDS (task lost) -> delivery task again.
    "messaging-redeliver-stale": {
        "task": "messaging.redeliver_stale",
        "schedule": float(SWEEP_SECONDS),
        "options": {"expires": max(SWEEP_SECONDS - 1, 1)},
    },
}
