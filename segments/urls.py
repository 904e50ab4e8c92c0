from django.urls import path

from segments import views

app_name = "segments"

urlpatterns = [
    path("rules/preview/", views.rules_preview_view, name="rules-preview"),
    path("rules/count/", views.rules_count_view, name="rules-count"),
    path("runs/<int:run_id>/progress/", views.scoring_run_progress_view, name="run-progress"),
]
