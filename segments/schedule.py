from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Score every contact, then re-count every segment (SegmentSize history).
    "segments-scoring-nightly": {
        "task": "segments.scoring_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
}
