from django.urls import include, path

from journeys import views

app_name = "journeys"

urlpatterns = [
    path("survey/<str:token>/", views.survey, name="survey"),
    path("", include("journeys.playbooks.urls")),  # playbooks gallery, journey file import
]
