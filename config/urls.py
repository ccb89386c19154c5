"""Top-level URL map: portal, admin, accounts, API and health."""

from django.contrib import admin
from django.urls import include, path

from config.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("dues/", include("dues.urls")),
    path("pay/", include("dues.callback_urls")),
    path("meetings/", include("organizations.meetings.urls")),
    path("study/", include("learning.urls")),
    path("", include("members.urls")),
]
