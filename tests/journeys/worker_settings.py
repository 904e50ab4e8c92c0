"""Settings of the real Celery worker started by tests/journeys/test_worker.py: the production
settings (SMTP email from the environment) plus a slow step kind for the kill test."""

from winback.settings import *  # noqa: F403

JOURNEYS_EXTRA_STEP_KINDS = ["tests.journeys.slow_step.Pause"]
