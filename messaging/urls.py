from django.urls import path

from messaging import views

app_name = "messaging"

urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/<str:token>/", views.click, name="click"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("p/<str:token>/", views.preferences, name="preferences"),
    path("push/subscribe/", views.push_subscribe, name="push-subscribe"),
    path("push/key/", views.push_public_key, name="push-key"),
    path("webhooks/bounce/", views.bounce_webhook, name="bounce-webhook"),
]
