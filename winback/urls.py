import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from winback.security import media_serve

admin.site.site_header = "Winback"
admin.site.site_title = "Winback"
admin.site.index_title = "Bring lapsed customers back"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", include("contacts.urls")),
    path("segments/", include("segments.urls")),
    path("coupons/", include("coupons.urls")),
    path("m/", include("messaging.urls")),
    path("journeys/", include("journeys.urls")),
    path("reports/", include("reports.urls")),
]

# Uploaded files only for logged-in staff with the right permission, in development too.
urlpatterns.append(re_path(rf"^{re.escape(settings.MEDIA_URL.strip('/'))}/(?P<path>.+)$", media_serve))
