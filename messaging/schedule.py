"""Code-owned periodic tasks of messaging (merged by winback/schedule.py)."""

BEAT_SCHEDULE = {
    "messaging-recover-interrupted": {
        "task": "messaging.recover_interrupted",
        "schedule": 300.0,  # seconds
    },
}
