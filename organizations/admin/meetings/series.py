"""Recurring meetings in the admin: plan_series and update_series."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from organizations.admin import ScopedAdmin, request_scope
from organizations.admin.meetings.forms import SeriesForm, series_details
from organizations.admin.steps import Step, run_step
from organizations.meetings import services
from organizations.models import MeetingSeries
from organizations.scope import Scope, subtree_q

SERIES_PAGE = "admin/organizations/meetingseries/series.html"


def series_list(scope: Scope) -> QuerySet[MeetingSeries]:
    """Recurring meetings of the organisations the scope reads."""
    # TODO: move to organizations.meetings.selectors beside meeting_list;
    # that module belonged to another part of issue 6 while this was built.
    series = MeetingSeries.objects.select_related("organization")
    if scope.is_operator:
        return series
    return series.filter(subtree_q(scope.read_paths, field_name="organization__path"))


def _series_url(series: MeetingSeries) -> str:
    return reverse("admin:organizations_meetingseries_change", args=[series.pk])


@admin.register(MeetingSeries)
class MeetingSeriesAdmin(ScopedAdmin):
    # As meetings: plan_series and update_series write, nothing is deleted
    # (a series ends by its last month; its meetings are history).
    write_access = "scope"
    delete_access = "nobody"
    actions = None
    list_display = (
        "title",
        "kind",
        "organization",
        "day_of_month",
        "start_time",
        "first_month",
        "last_month",
    )
    list_filter = ("kind", ("organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("title",)
    ordering = ("organization__path", "title", "pk")

    def scoped_queryset(self, request, scope):
        return series_list(scope)

    def organization_of(self, series):
        return series.organization

    def has_add_permission(self, request):
        scope = request_scope(request)
        return scope.is_operator or bool(scope.write_paths)

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        step = Step(
            name="plan-series",
            label=_("Plan the recurring meeting"),
            done=_("The recurring meeting was planned with its first months."),
            run=self._plan,
            form=SeriesForm,
            explanation=_(
                "One meeting is planned for each month ahead, on the given day "
                "at the organisation's local time."
            ),
        )
        return run_step(
            self,
            request,
            None,
            step,
            form_kwargs={"scope": request_scope(request)},
            context={"original": None},
        )

    @staticmethod
    def _plan(request, _none, data) -> str:
        series = services.plan_series(
            actor=request.user,
            scope=request_scope(request),
            organization=data["organization"],
            details=series_details(data),
        )
        return _series_url(series)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        series = self.get_object(request, object_id)
        scope = request_scope(request)
        writes = scope.writes(series.organization)
        if request.method == "POST" and not writes:
            raise PermissionDenied
        context = {
            "title": series.title,
            "series": series,
            "meetings": series.meetings.order_by("starts_at", "pk"),
            "original_label": series.title,
            "summary": [(_("Organization"), series.organization.name)],
            **(extra_context or {}),
        }
        if not writes:
            return TemplateResponse(
                request,
                SERIES_PAGE,
                {
                    **self.admin_site.each_context(request),
                    "opts": self.opts,
                    "original": series,
                    "title": series.title,
                    **context,
                },
            )
        step = Step(
            name="update-series",
            label=_("Save the changes"),
            done=_("The recurring meeting was changed; its planned meetings follow."),
            run=self._update,
            form=SeriesForm,
        )
        response = run_step(
            self,
            request,
            series,
            step,
            form_kwargs={"scope": scope, "series": series},
            context=context,
        )
        if isinstance(response, TemplateResponse):
            response.template_name = SERIES_PAGE
        return response

    @staticmethod
    def _update(request, series, data) -> str:
        services.update_series(
            actor=request.user,
            scope=request_scope(request),
            series=series,
            details=series_details(data),
        )
        return _series_url(series)
