"""Shared REST framework settings objects."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    """Page numbers with a client-chosen size, capped at a safe maximum."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class IsStaffScope(BasePermission):
    """A caller holding a role somewhere, or a platform operator."""

    message = _("This needs a role in an organization.")

    def has_permission(self, request, view) -> bool:
        from organizations.scope import scope_for

        return scope_for(request.user).is_staff_scope


class ListThrottleMixin:
    """The list rate on top of the default ones."""

    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, ScopedRateThrottle]
    throttle_scope = "list"


class ActionThrottleMixin:
    """Throttle chosen viewset actions under scoped rates from the settings.

    ``action_throttle_scopes`` maps an action ("list", "reveal_id") to a key
    of ``DEFAULT_THROTTLE_RATES``; other actions get the default rates only.
    """

    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, ScopedRateThrottle]
    action_throttle_scopes: dict[str, str] = {}

    def get_throttles(self):
        # ScopedRateThrottle reads the scope from the view and lets a view
        # without one through.
        self.throttle_scope = self.action_throttle_scopes.get(self.action)
        return super().get_throttles()


def exception_handler(exc, context):
    """Answer validation errors, the services' too, with messages and codes.

    Services raise Django's ValidationError; DRF alone would answer those
    with a 500. Every 400 body reads ``{field: [{message, code}]}`` so that
    clients can act on the same stable codes the forms and imports use.
    """
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(_drf_detail(exc))
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        response.data = exc.get_full_details()
    return response


def _drf_detail(exc: DjangoValidationError) -> dict[str, list[ErrorDetail]]:
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: _error_details(exc.error_list)}
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    return {
        non_field if field == NON_FIELD_ERRORS else field: _error_details(errors)
        for field, errors in exc.error_dict.items()
    }


def _error_details(errors: list[DjangoValidationError]) -> list[ErrorDetail]:
    # Iterating one error yields its message with the params filled in.
    return [
        ErrorDetail(message, code=error.code or "invalid")
        for error in errors
        for message in error
    ]
