"""Included by journeys/urls.py, so the names live in the journeys namespace (journeys:playbooks, ...)."""

from django.urls import path

from journeys.playbooks import views

urlpatterns = [
    path("playbooks/", views.playbook_gallery, name="playbooks"),
    path("playbooks/<slug:slug>/create/", views.playbook_create_view, name="playbook-create"),
    path("import/", views.journey_import_view, name="journey-import"),
    path("<int:pk>/export/", views.journey_export_view, name="journey-export"),
]
