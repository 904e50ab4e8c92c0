from django.urls import path

from contacts import api

app_name = "contacts"

urlpatterns = [
    path("contacts/", api.contacts_post, name="api-contacts"),
    path("orders/", api.orders_post, name="api-orders"),
    path("events/", api.events_post, name="api-events"),
]
