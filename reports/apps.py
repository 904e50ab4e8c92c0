from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Dashboard and reports, on the top floor: reads every app; no other app imports it."""

    name = "reports"
    verbose_name = "Reports"
    default_auto_field = "django.db.models.BigAutoField"
