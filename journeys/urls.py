from django.urls import include, path

from journeys import views
from journeys.editor.urls import urlpatterns as editor_urlpatterns

app_name = "journeys"

urlpatterns = [
    path("survey/<str:token>/", views.survey, name="survey"),
    *editor_urlpatterns,
    path("", include("journeys.playbooks.urls")),  # playbooks gallery, journey file import
]
