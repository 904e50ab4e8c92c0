from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("dashboard.csv", views.dashboard_download, name="dashboard-download"),
    path("journeys/<int:journey_id>/", views.journey_report, name="journey"),
    path("journeys/<int:journey_id>/winner/", views.journey_declare, name="journey-declare-winner"),
    path("movement/", views.movement, name="movement"),
    path("movement/contacts/", views.movement_contacts, name="movement-contacts"),
    path("coupons/", views.coupons, name="coupons"),
]
