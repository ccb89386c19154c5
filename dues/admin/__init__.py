"""Dues in the admin: the rules, assessments and reductions.

Rows are read through the actor's scope (``organizations.admin``) and
written only through ``dues.services``; nothing here saves a dues row
itself. The ledger pages and payments live in the modules imported at the
end.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dues.admin.fields import MemberInScopeField, MoneyField
from dues.admin.scoping import assessments_in_scope, reductions_in_scope
from dues.models import (
    BASED_CATEGORIES,
    Assessment,
    Category,
    DuesPolicy,
    DuesRule,
    Reduction,
)
from dues.services.assessment import (
    decide_reduction,
    record_assessment,
    request_reduction,
)
from organizations.admin import ScopedAdmin, request_scope
from organizations.admin.steps import DateInput, MonthField, Step, run_step
from organizations.scope import Scope


class AssessmentForm(forms.Form):
    """A member's category and income from a month on."""

    member = MemberInScopeField()
    category = forms.ChoiceField(label=_("category"), choices=Category.choices)
    applies_from = MonthField(label=_("applies from month"))
    base = MoneyField(
        label=_("monthly base"),
        required=False,
        help_text=_("Net monthly income, pay received or pension, in yuan."),
    )
    income_1 = MoneyField(
        label=_("income, first month of last quarter"), required=False
    )
    income_2 = MoneyField(
        label=_("income, second month of last quarter"), required=False
    )
    income_3 = MoneyField(
        label=_("income, third month of last quarter"), required=False
    )
    fixed_amount = MoneyField(
        label=_("fixed monthly amount"),
        required=False,
        help_text=_("For farmers: 0.20 to 1.00 yuan a month."),
    )
    note = forms.CharField(
        label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, scope: Scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].limit_to(scope)

    def clean(self):
        cleaned = super().clean()
        incomes = [cleaned.get(f"income_{n}") for n in (1, 2, 3)]
        given = [i for i in incomes if i is not None]
        if given and len(given) != 3:
            raise ValidationError(
                _("Give all three monthly incomes of the last quarter, or none."),
                code="quarter_incomplete",
            )
        cleaned["quarter_incomes"] = given or None
        return cleaned


def assessment_arguments(data: dict) -> dict:
    """Keyword arguments of ``record_assessment`` from a cleaned form."""
    # A figure typed into the field the category does not use is dropped,
    # so a farmer's form never carries an income to the record.
    based = data["category"] in BASED_CATEGORIES
    return {
        "member": data["member"],
        "category": data["category"],
        "applies_from": data["applies_from"],
        "base": data.get("base") if based else None,
        "quarter_incomes": data.get("quarter_incomes") if based else None,
        "fixed_amount": None if based else data.get("fixed_amount"),
        "note": data.get("note", ""),
    }


class ReductionForm(forms.Form):
    """A branch decision that a member pays less, or nothing, for a while."""

    member = MemberInScopeField()
    first_month = MonthField(label=_("first month"))
    last_month = MonthField(label=_("last month"))
    monthly_amount = MoneyField(label=_("reduced monthly dues"))
    reason = forms.CharField(
        label=_("reason"), widget=forms.Textarea(attrs={"rows": 3})
    )
    branch_decided_on = forms.DateField(label=_("branch decided on"), widget=DateInput)
    decision_reference = forms.CharField(
        label=_("decision reference"), required=False, max_length=128
    )

    def __init__(self, *args, scope: Scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].limit_to(scope)

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("first_month"), cleaned.get("last_month")
        if first and last and last < first:
            self.add_error(
                "last_month",
                ValidationError(
                    _("The last month cannot come before the first."),
                    code="months_reversed",
                ),
            )
        return cleaned


def _writes_somewhere(request) -> bool:
    scope = request_scope(request)
    return scope.is_operator or bool(scope.write_paths)


@admin.register(DuesPolicy)
class DuesPolicyAdmin(ScopedAdmin):
    # Rates are data (DESIGN.md, dues): every staff role reads them, only
    # operators add a new policy when an authority issues one.
    list_display = ("name", "issued_by", "document_number", "effective_from")
    search_fields = ("name", "issued_by", "document_number")
    ordering = ("-effective_from",)


@admin.register(DuesRule)
class DuesRuleAdmin(ScopedAdmin):
    list_display = ("policy", "category", "base_range", "rate", "fixed_range")
    list_filter = ("policy", "category")
    list_select_related = ("policy",)
    ordering = ("policy", "category", "base_range")

    @admin.display(description=_("fixed amount"))
    def fixed_range(self, rule: DuesRule) -> str:
        if rule.fixed_minimum is None:
            return "—"
        if rule.fixed_minimum == rule.fixed_maximum:
            return f"{rule.fixed_minimum}"
        return f"{rule.fixed_minimum}–{rule.fixed_maximum}"


@admin.register(Assessment)
class AssessmentAdmin(ScopedAdmin):
    # An assessment is never edited: a new income is a new row from the
    # month it is first paid, recorded through the service.
    write_access = "scope"
    delete_access = "nobody"
    # Income is personal data: no list shows the base.
    list_display = (
        "member_name",
        "organization",
        "month",
        "category",
        "monthly_amount",
        "source",
        "recorded_at",
    )
    list_filter = ("category", "source", "applies_from")
    search_fields = ("member__name",)
    search_help_text = _("The member's name.")
    ordering = ("-applies_from", "member__name", "pk")
    readonly_fields = (
        "member_name",
        "organization",
        "month",
        "category",
        "monthly_amount",
        "policy",
        "rule",
        "source",
        "note",
        "recorded_by",
        "recorded_at",
        "base_display",
    )

    def scoped_queryset(self, request, scope):
        return assessments_in_scope(scope)

    def organization_of(self, assessment):
        return assessment.organization

    def has_add_permission(self, request):
        return _writes_somewhere(request)

    def has_change_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        fields = [f for f in self.readonly_fields if f != "base_display"]
        # The base shows only to those who may assess the member: never to
        # an inflow organisation or a read-only role.
        if obj is not None and request_scope(request).writes(obj.organization):
            fields.append("base_display")
        return fields

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        step = Step(
            name="assess",
            label=_("Record an assessment"),
            done=_("The assessment was recorded."),
            form=AssessmentForm,
            explanation=_(
                "The monthly dues are computed by the rules in force; unpaid "
                "months from the chosen month on are repriced."
            ),
            run=self._record,
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
    def _record(request, _obj, data) -> str:
        assessment = record_assessment(actor=request.user, **assessment_arguments(data))
        return reverse("admin:dues_assessment_change", args=[assessment.pk])

    @admin.display(description=_("member"), ordering="member__name")
    def member_name(self, assessment: Assessment) -> str:
        return assessment.member.name

    @admin.display(description=_("month"), ordering="applies_from")
    def month(self, assessment: Assessment) -> str:
        return f"{assessment.applies_from:%Y-%m}"

    @admin.display(description=_("monthly base"))
    def base_display(self, assessment: Assessment) -> str:
        return assessment.base or "—"


@admin.register(Reduction)
class ReductionAdmin(ScopedAdmin):
    # Requested through the form below, decided through the actions; the
    # row itself is never edited, nor deleted: it is part of the record.
    write_access = "nobody"
    delete_access = "nobody"
    actions = ("approve", "reject")
    list_display = (
        "member_name",
        "organization",
        "first_month",
        "last_month",
        "monthly_amount",
        "status",
        "requested_at",
        "decided_by",
    )
    list_filter = ("status",)
    search_fields = ("member__name",)
    ordering = ("status", "-requested_at", "-pk")
    fields = (
        "member_name",
        "organization",
        "first_month",
        "last_month",
        "monthly_amount",
        "reason",
        "branch_decided_on",
        "decision_reference",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_note",
    )
    readonly_fields = fields

    def scoped_queryset(self, request, scope):
        return reductions_in_scope(scope)

    def organization_of(self, reduction):
        return reduction.organization

    def has_add_permission(self, request):
        return _writes_somewhere(request)

    def has_decide_permission(self, request) -> bool:
        return _writes_somewhere(request)

    def changelist_view(self, request, extra_context=None):
        # A POST here is a bulk action; Django would show a read-only role
        # the list again as if it had asked for nothing.
        if request.method == "POST" and not self.has_decide_permission(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        step = Step(
            name="reduce",
            label=_("Request a reduction"),
            done=_("The reduction was requested; a higher committee decides it."),
            form=ReductionForm,
            explanation=_(
                "Paying less or nothing needs a recorded branch decision and "
                "the approval of the higher committee."
            ),
            run=lambda request, _obj, data: reverse(
                "admin:dues_reduction_change",
                args=[request_reduction(actor=request.user, **data).pk],
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

    @admin.action(description=_("Approve selected reductions"), permissions=["decide"])
    def approve(self, request, queryset):
        if self.selection_in_scope(request, queryset):
            self._decide(request, queryset, approve=True)

    @admin.action(description=_("Reject selected reductions"), permissions=["decide"])
    def reject(self, request, queryset):
        if not self.selection_in_scope(request, queryset):
            return None
        confirmed = "confirm" in request.POST
        note = request.POST.get("decision_note", "").strip()
        if confirmed and note:
            self._decide(request, queryset, approve=False, note=note)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Reject reductions"),
            "queryset": queryset.select_related("member"),
            "note_missing": confirmed,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/dues/reduction/reject.html", context)

    def _decide(self, request, queryset, *, approve: bool, note: str = "") -> None:
        decided = 0
        for reduction in queryset.select_related("member", "organization"):
            try:
                decide_reduction(
                    actor=request.user, reduction=reduction, approve=approve, note=note
                )
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(
                    request, f"{reduction.member.name}: {_reason(exc)}", messages.ERROR
                )
            else:
                decided += 1
        if decided:
            self.message_user(
                request,
                ngettext(
                    "%(count)d reduction decided.",
                    "%(count)d reductions decided.",
                    decided,
                )
                % {"count": decided},
                messages.SUCCESS,
            )

    @admin.display(description=_("member"), ordering="member__name")
    def member_name(self, reduction: Reduction) -> str:
        return reduction.member.name


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or str(_("Only a higher committee may decide this."))


# The ledger pages and payment admin register themselves on import.
from dues.admin import ledger, payments  # noqa: E402, F401
