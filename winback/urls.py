from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

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

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
