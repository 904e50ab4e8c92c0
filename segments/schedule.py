from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Score every contact, then re-count every segment (SegmentSize history).
    "segments-scoring-nightly": {
        "task": "segments.scoring_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
    # Move the anchor day of the per-contact purchase windows (30/90/365 days) forward; a no-op once done
    # for the day, so hourly means at most an hour after midnight UTC.
    "segments-purchase-stats-refresh": {
        "task": "segments.purchase_stats_refresh",
        "schedule": crontab(minute=5),
    },
}
