"""URL map of the REST API under /api/, with its schema and docs page."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from dues import api as dues_api
from learning import api as learning_api
from members.api import (
    MemberViewSet,
    MobilityViewSet,
    OwnCorrectionListView,
    OwnMemberView,
)
from organizations.api import OrganizationViewSet, TransferViewSet
from organizations.meetings import api as meetings_api

router = SimpleRouter()
router.register("organizations", OrganizationViewSet, basename="api-organization")
router.register("members", MemberViewSet, basename="api-member")
router.register("transfers", TransferViewSet, basename="api-transfer")
router.register("mobility", MobilityViewSet, basename="api-mobility")

urlpatterns = [
    *router.urls,
    path("me/", OwnMemberView.as_view(), name="api-me"),
    path(
        "me/corrections/",
        OwnCorrectionListView.as_view(),
        name="api-me-corrections",
    ),
    *dues_api.urlpatterns,
    *meetings_api.urlpatterns,
    *learning_api.urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, not inline, so a
    # Content Security Policy without 'unsafe-inline' scripts still allows it.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
]
