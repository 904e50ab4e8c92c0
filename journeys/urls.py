from django.urls import path

from journeys import views

app_name = "journeys"

urlpatterns = [
    path("survey/<str:token>/", views.survey, name="survey"),
]
