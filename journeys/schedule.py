"""Code-owned periodic tasks of journeys (merged by winback/schedule.py)."""

from winback.env import env_int

# How often due contacts are advanced (seconds). Tests with a real worker set it to 1.
TICK_SECONDS = env_int("JOURNEYS_TICK_SECONDS", 10, minimum=1)
# How many worker processes advance due contacts together at each tick (they share the batches: SKIP LOCKED).
TICK_WORKERS = env_int("JOURNEYS_TICK_WORKERS", 1, minimum=1)

BEAT_SCHEDULE = {
    "journeys-tick": {
        "task": "journeys.tasks.journeys_tick",
        "schedule": float(TICK_SECONDS),
        # A tick older than its interval is pointless: the next one is on its way.
        "options": {"expires": max(TICK_SECONDS - 1, 1)},
    },
    # The journey list's and page's counts (JourneyStat rollup); ticks refresh the journeys they touch.
    "journeys-stats": {"task": "journeys.tasks.journey_stats_refresh", "schedule": 60.0},
}
