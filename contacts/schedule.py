"""Code-owned periodic tasks of the contacts app (merged by winback/schedule.py)."""

BEAT_SCHEDULE = {
    "contacts-import-jobs-tidy": {
        "task": "contacts.tasks.import_jobs_tidy_task",
        "schedule": 60 * 60.0,  # hourly: pending jobs expire after a day, files after the retention period
    },
}
