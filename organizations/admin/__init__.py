"""Admin for organisations, regions and roles, and the scoped admin base.

Staff access in the admin follows the roles of :mod:`organizations.scope`,
never Django's model permissions: a secretary's ``is_staff`` flag opens the
door, and the scope decides what lies behind it.
"""

import logging
from typing import Literal

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from treebeard.forms import movenodeform_factory

from members.services import audit_record
from organizations.admin.bulk import MOVE_MEMBERS
from organizations.admin.steps import run_step
from organizations.models import Organization, Region, Role
from organizations.scope import (
    OutOfScope,
    Scope,
    organizations_in_scope,
    scope_for,
)

logger = logging.getLogger(__name__)

Access = Literal["scope", "operator", "nobody"]

admin.site.site_header = _("Liudong administration")
admin.site.site_title = _("Liudong")
admin.site.index_title = _("Administration")


@never_cache
def admin_login(request, extra_context=None):
    """Send the admin log-in through allauth, keeping where the user was going.

    allauth's rate limits (and, later, its MFA) then guard staff as well.
    """
    next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("admin:index")
    if request.user.is_authenticated:
        if admin.site.has_permission(request):
            return redirect(next_url)
        # Signed in without admin access: sending them to the log-in page
        # again would loop, since allauth returns a signed-in user to next.
        raise PermissionDenied
    return redirect(f"{reverse('account_login')}?{urlencode({'next': next_url})}")


admin.site.login = admin_login


def request_scope(request) -> Scope:
    """The actor's scope, read once per request."""
    if not hasattr(request, "_liudong_scope"):
        request._liudong_scope = scope_for(request.user)
    return request._liudong_scope


class ScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose permissions and rows come from the actor's scope.

    ``write_access`` says who may add and change, ``delete_access`` who may
    delete: ``"scope"`` (roles that write the object's organisation),
    ``"operator"`` or ``"nobody"``. Subclasses name their rows in
    :meth:`scoped_queryset` and, for ``"scope"``, the organisation deciding
    an object in :meth:`organization_of`.
    """

    write_access: Access = "operator"
    delete_access: Access = "operator"
    # A full count of millions of rows on every page costs more than it
    # tells; the filtered count is still shown.
    show_full_result_count = False

    def scoped_queryset(self, request, scope: Scope) -> QuerySet:
        return self.model._default_manager.all()

    def organization_of(self, obj) -> Organization | None:
        raise NotImplementedError

    def get_queryset(self, request):
        scope = request_scope(request)
        if not scope.is_staff_scope:
            return self.model._default_manager.none()
        queryset = self.scoped_queryset(request, scope)
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_object(self, request, object_id, from_field=None):
        # Django redirects with a message for a missing object, which would
        # tell an out-of-scope object from an absent one; both answer 404.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise OutOfScope()
        return obj

    def has_module_permission(self, request):
        return request_scope(request).is_staff_scope

    def has_view_permission(self, request, obj=None):
        return request_scope(request).is_staff_scope

    def has_add_permission(self, request):
        return self._may(self.write_access, request, None)

    def has_change_permission(self, request, obj=None):
        return self._may(self.write_access, request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(self.delete_access, request, obj)

    def _may(self, access: Access, request, obj) -> bool:
        scope = request_scope(request)
        if access == "nobody":
            return False
        if scope.is_operator:
            return True
        if access == "operator" or not scope.write_paths:
            return False
        if obj is None:
            return True
        organization = self.organization_of(obj)
        return organization is not None and scope.writes(organization)

    def selection_in_scope(self, request, queryset) -> bool:
        """Whether every row an action was asked for is in ``queryset``.

        Django drops out-of-scope ids from a bulk action silently; a mixed
        selection is refused whole instead, so it changes nothing.
        """
        if request.POST.get("select_across") == "1":
            return True
        selected = set(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))
        if len(selected) == queryset.count():
            return True
        self.message_user(
            request,
            _("Some of the selected rows are not yours to change; nothing was done."),
            messages.ERROR,
        )
        return False


class OperatorOnlyAdmin(ScopedAdmin):
    """An admin only platform operators see at all."""

    def has_module_permission(self, request):
        return request_scope(request).is_operator

    def has_view_permission(self, request, obj=None):
        return request_scope(request).is_operator


@admin.register(Region)
class RegionAdmin(ScopedAdmin):
    # Regions are public reference data; every staff role reads them (the
    # member form looks them up), operators alone change them.
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    ordering = ("code",)

    def has_module_permission(self, request):
        return request_scope(request).is_operator


@admin.register(Organization)
class OrganizationAdmin(ScopedAdmin):
    form = movenodeform_factory(Organization, exclude=("path", "depth", "numchild"))
    list_display = ("indented_name", "code", "kind", "region", "dissolved_on")
    list_filter = ("kind",)
    search_fields = ("name", "code")
    ordering = ("path",)
    autocomplete_fields = ("region",)
    readonly_fields = ("members_action",)

    def scoped_queryset(self, request, scope):
        return organizations_in_scope(scope)

    @admin.display(description=_("Members"))
    def members_action(self, organization: Organization) -> str:
        if organization.pk is None:
            return "-"
        url = reverse(
            "admin:organizations_organization_move_members", args=[organization.pk]
        )
        return format_html(
            '<a class="button" href="{}">{}</a>', url, MOVE_MEMBERS.label
        )

    @admin.display(description=_("name"), ordering="path")
    def indented_name(self, organization: Organization) -> str:
        # Ideographic spaces indent without markup, so no inline style is
        # needed under a strict Content Security Policy.
        return "\u3000" * (organization.depth - 1) + organization.name

    def get_urls(self):
        move = self.admin_site.admin_view(self.move_members_view)
        return [
            path(
                "<path:object_id>/move-members/",
                move,
                name="organizations_organization_move_members",
            ),
            *super().get_urls(),
        ]

    def move_members_view(self, request, object_id):
        """Move every member of a dissolved or merged branch elsewhere."""
        organization = self.get_object(request, object_id)
        scope = request_scope(request)
        if not scope.writes(organization):
            raise PermissionDenied
        return run_step(
            self,
            request,
            organization,
            MOVE_MEMBERS,
            form_kwargs={"origin": organization, "scope": scope},
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        action = "organization.update" if change else "organization.create"
        audit_record(
            actor=request.user,
            action=action,
            organization=obj,
            fields=sorted(form.changed_data),
        )


@admin.register(Role)
class RoleAdmin(OperatorOnlyAdmin):
    # TODO: let committee staff grant roles below their own committee; waits
    # for the delegation rules of the security issue (#10).
    list_display = ("user", "kind", "organization", "starts_on", "ends_on")
    list_filter = ("kind",)
    search_fields = ("user__username", "organization__name", "organization__code")
    list_select_related = ("user", "organization")
    autocomplete_fields = ("user", "organization")
    ordering = ("organization__path", "user__username")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._audit(request, "role.update" if change else "role.grant", obj)

    def delete_model(self, request, obj):
        self._audit(request, "role.delete", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for role in queryset.select_related("organization"):
            self._audit(request, "role.delete", role)
        super().delete_queryset(request, queryset)

    @staticmethod
    def _audit(request, action: str, role: Role) -> None:
        audit_record(
            actor=request.user,
            action=action,
            organization=role.organization,
            role_id=role.pk,
            user_id=role.user_id,
            kind=role.kind,
            starts_on=str(role.starts_on),
            ends_on=str(role.ends_on or ""),
        )
        logger.info("role %s role_id=%s actor_id=%s", action, role.pk, request.user.pk)


# The admins of the transfer workflow and the index's work queues register
# themselves on import; they build on the base classes above.
from organizations.admin import dashboard, meetings, transfers  # noqa: E402, F401
