"""Code-owned periodic tasks of reports (merged by winback/schedule.py)."""

BEAT_SCHEDULE = {
    "reports-rollups": {
        "task": "reports.tasks.rollups_refresh",
        "schedule": 3600.0,  # hourly: the dashboard's charts are at most an hour old
        "options": {"expires": 3000},
    },
}
