"""Needs surveys and yearly reports in the admin.

A survey is published through its service and never changed afterwards; its
page shows the totals to the publisher and the individual answers only of
members the viewer holds or hosts (DESIGN.md §2). Yearly reports are read
here, filed in the portal.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Difficulty, Intention, NeedsSurvey, YearlyReport
from members.selectors import member_list, survey_aggregate, survey_answer_list
from members.services import survey_publish
from organizations.admin import ScopedAdmin, request_scope
from organizations.scope import organizations_in_scope, subtree_q

_DIFFICULTIES = dict(Difficulty.choices)


class SurveyPublishForm(forms.ModelForm):
    """The organisation, title and closing date of a new survey."""

    class Meta:
        model = NeedsSurvey
        fields = ("organization", "title", "closes_on")

    def clean_closes_on(self):
        # The service refuses a past date too; checking here shows the error
        # on the field instead of failing after the form was accepted.
        closes_on = self.cleaned_data["closes_on"]
        if closes_on is not None and closes_on < timezone.localdate():
            raise forms.ValidationError(_("The date is in the past."))
        return closes_on


@admin.register(NeedsSurvey)
class NeedsSurveyAdmin(ScopedAdmin):
    write_access = "scope"
    delete_access = "nobody"
    form = SurveyPublishForm
    list_display = ("title", "organization", "published_at", "closes_on")
    list_filter = ("closes_on",)
    search_fields = ("title",)
    list_select_related = ("organization",)
    ordering = ("-published_at", "-pk")
    fields = ("organization", "title", "closes_on", "published_by", "published_at")

    def scoped_queryset(self, request, scope):
        surveys = NeedsSurvey.objects.all()
        if scope.is_operator:
            return surveys
        return surveys.filter(
            subtree_q(scope.read_paths, field_name="organization__path")
        )

    def organization_of(self, survey):
        return survey.organization

    def has_change_permission(self, request, obj=None):
        # Published surveys are read-only: members may already have answered.
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        return self.fields if obj is not None else SurveyPublishForm.Meta.fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organization":
            kwargs["queryset"] = organizations_in_scope(
                request_scope(request), write=True
            ).order_by("path")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        survey = survey_publish(
            actor=request.user,
            organization=form.cleaned_data["organization"],
            title=form.cleaned_data["title"],
            closes_on=form.cleaned_data["closes_on"],
        )
        # The admin goes on with the unsaved form object (log entry,
        # redirect): give it the published survey's identity.
        obj.pk = survey.pk
        obj.title = survey.title
        obj.published_by = survey.published_by
        obj.published_at = survey.published_at

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        survey = self.get_object(request, object_id)
        scope = request_scope(request)
        totals = survey_aggregate(scope=scope, survey=survey)
        context = {
            "aggregate": totals,
            "intention_counts": [
                (label, totals["intentions"].get(value, 0))
                for value, label in Intention.choices
            ],
            "difficulty_counts": [
                (label, totals["difficulties"].get(value, 0))
                for value, label in Difficulty.choices
            ],
            "answers": [
                (answer, [_DIFFICULTIES[d] for d in answer.difficulties])
                for answer in survey_answer_list(scope=scope, survey=survey).order_by(
                    "member__name", "pk"
                )
            ],
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)


@admin.register(YearlyReport)
class YearlyReportAdmin(ScopedAdmin):
    # Members file their reports in the portal; staff only read them.
    write_access = "nobody"
    delete_access = "nobody"
    list_display = ("member_name", "year", "organization", "filed_at")
    list_filter = ("year",)
    search_fields = ("member__name",)
    search_help_text = _("The member's name.")
    list_select_related = ("member", "organization")
    ordering = ("-year", "member__name", "pk")
    fields = ("member_name", "year", "organization", "body", "filed_at", "updated_at")
    readonly_fields = fields

    def scoped_queryset(self, request, scope):
        return YearlyReport.objects.filter(
            member__in=member_list(scope=scope).values("pk")
        )

    @admin.display(description=_("member"), ordering="member__name")
    def member_name(self, report: YearlyReport) -> str:
        return report.member.name
