"""Code-owned periodic tasks of messaging (merged by winback/schedule.py)."""

BEAT_SCHEDULE = {
    # Messages stuck in "sending" (worker died mid-batch) -> failed "interrupted", never re-sent.
    "messaging-recover-interrupted": {"task": "messaging.recover_interrupted", "schedule": 300.0},
    # Messages still queued after 10 minutes (task lost) -> delivery task again.
    "messaging-redeliver-stale": {"task": "messaging.redeliver_stale", "schedule": 300.0},
}
