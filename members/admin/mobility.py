"""Mobile members (外出流动) in the admin: both sides' queues and steps.

The outflow organisation sees its members away and acts for them; the inflow
organisation sees the members placed with it, or waiting for it to accept
them, and nothing else of theirs (DESIGN.md §2). Every step posts a form to
one service; the change page is read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from members.admin.contacts import MEMBER_CHANGELIST
from members.models import Member, Mobility, Occupation
from members.selectors import (
    MOBILITY_QUEUES,
    members_lost_contact,
    mobilities_in_queue,
    mobilities_in_scope,
)
from members.services import (
    audit_record,
    mobility_accept,
    mobility_certificate_issue,
    mobility_confirm,
    mobility_decline,
    mobility_move_on,
    mobility_register,
    mobility_return,
)
from organizations import services as transfers
from organizations.admin import ScopedAdmin, request_scope
from organizations.admin.dashboard import Queue, QueueFilter, register_queue
from organizations.admin.steps import (
    DateInput,
    MonthField,
    OrganizationChoiceField,
    Step,
    run_member_step,
    run_step,
)
from organizations.models import Organization, Region
from organizations.scope import Scope, today

CHANGELIST = "admin:members_mobility_changelist"

_QUEUE_LABELS = {
    "out": _("Away from my organizations"),
    "placed": _("Placed with me"),
    "awaiting": _("Reported to me, to accept"),
    "not_reported": _("Not reported anywhere past the deadline"),
    "settled": _("Settled six months or more: transfer?"),
    "no_yearly_report": _("No yearly report this year"),
}


def _queue_rows(key: str):
    return lambda scope: mobilities_in_queue(scope=scope, queue=key)


for _key in MOBILITY_QUEUES:
    register_queue(
        Queue(
            section=_("Mobile members"),
            key=_key,
            label=_QUEUE_LABELS[_key],
            changelist=CHANGELIST,
            rows=_queue_rows(_key),
        )
    )
register_queue(
    Queue(
        section=_("Mobile members"),
        key="lost",
        label=_("Lost contact"),
        changelist=MEMBER_CHANGELIST,
        rows=lambda scope: members_lost_contact(scope=scope),
    )
)


_SIDES = {"outflow": _("outflow"), "inflow": _("inflow")}


class MobilityQueueFilter(QueueFilter):
    changelist = CHANGELIST


def _region_widget():
    # The admin's own autocomplete over the region admin's search: thousands
    # of regions are too many for a plain list.
    return AutocompleteSelect(
        Mobility._meta.get_field("destination_region"), admin.site
    )


class StayForm(forms.Form):
    """Where the member goes, since when, why, and how to reach them."""

    destination_region = forms.ModelChoiceField(
        label=_("destination region"),
        queryset=Region.objects.filter(
            level__in=[Region.Level.PREFECTURE, Region.Level.COUNTY]
        ),
    )
    left_on = forms.DateField(label=_("left on"), widget=DateInput, initial=today)
    expected_return_on = forms.DateField(
        label=_("expected return"), widget=DateInput, required=False
    )
    reason = forms.ChoiceField(label=_("reason"), choices=Mobility.Reason.choices)
    occupation = forms.ModelChoiceField(
        label=_("occupation there"), queryset=Occupation.objects.all(), required=False
    )
    work_unit = forms.CharField(
        label=_("work unit there"), required=False, max_length=128
    )
    contact = forms.CharField(
        label=_("contact there"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Address and phone where the member can be reached."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        region = self.fields["destination_region"]
        region.widget = _region_widget()
        region.widget.choices = region.choices


class CertificateForm(forms.Form):
    number = forms.CharField(label=_("certificate number"), max_length=32)


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"), widget=forms.Textarea(attrs={"rows": 3})
    )


class ReturnForm(forms.Form):
    returned_on = forms.DateField(
        label=_("returned on"), widget=DateInput, initial=today
    )


class ConvertForm(forms.Form):
    """A long stay becomes a transfer, by default to the host."""

    to_organization = OrganizationChoiceField(
        queryset=Organization.objects.none(),
        required=False,
        label=_("to organization"),
        empty_label=_("the inflow organization"),
    )
    dues_paid_through = MonthField(label=_("dues paid through (month)"))
    validity_days = forms.IntegerField(
        label=_("validity in days"), min_value=1, required=False
    )
    effective_on = forms.DateField(
        label=_("takes effect on"), widget=DateInput, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # TODO: offer an autocomplete instead of the whole tree; a province
        # has thousands of organisations, the demo data hundreds.
        self.fields["to_organization"].queryset = Organization.objects.exclude(
            dissolved_on__lt=today()
        ).order_by("path")
        self.fields["dues_paid_through"].initial = transfers.dues_required_through(
            today()
        )


def _change_url(mobility: Mobility) -> str:
    return reverse("admin:members_mobility_change", args=[mobility.pk])


def _member_url(member: Member) -> str:
    return reverse("admin:members_member_change", args=[member.pk])


def _declined(mobility: Mobility) -> str:
    # The inflow side no longer sees the stay once it declined it.
    return reverse(CHANGELIST)


def _pending_report(mobility: Mobility) -> bool:
    return (
        mobility.status == Mobility.Status.REGISTERED
        and mobility.inflow_organization_id is not None
        and mobility.reported_on is None
    )


def _outflow(scope: Scope, mobility: Mobility) -> bool:
    return mobility.is_active and scope.writes(mobility.outflow_organization)


def _inflow_pending(scope: Scope, mobility: Mobility) -> bool:
    inflow = mobility.inflow_organization
    return _pending_report(mobility) and inflow is not None and scope.writes(inflow)


# Each step: the page, who may open it, and the service it posts to.
MOBILITY_STEPS = {
    "confirm": (
        Step(
            name="confirm",
            label=_("Confirm the registration"),
            done=_("The registration was confirmed."),
            run=lambda request, m, data: _change_url(
                mobility_confirm(actor=request.user, mobility=m)
            ),
        ),
        lambda scope, m: _outflow(scope, m) and m.confirmed_on is None,
    ),
    "certificate": (
        Step(
            name="certificate",
            label=_("Issue the activity certificate"),
            done=_("The activity certificate was recorded."),
            form=CertificateForm,
            run=lambda request, m, data: _change_url(
                mobility_certificate_issue(actor=request.user, mobility=m, **data)
            ),
        ),
        _outflow,
    ),
    "accept": (
        Step(
            name="accept",
            label=_("Accept the member"),
            done=_("The member is placed with your organization."),
            run=lambda request, m, data: _change_url(
                mobility_accept(actor=request.user, mobility=m)
            ),
        ),
        _inflow_pending,
    ),
    "decline": (
        Step(
            name="decline",
            label=_("Decline the report"),
            done=_("The report was declined."),
            form=DeclineForm,
            danger=True,
            run=lambda request, m, data: _declined(
                mobility_decline(actor=request.user, mobility=m, **data)
            ),
        ),
        _inflow_pending,
    ),
    "return": (
        Step(
            name="return",
            label=_("Record the return home"),
            done=_("The return home was recorded."),
            form=ReturnForm,
            run=lambda request, m, data: _member_url(
                mobility_return(actor=request.user, mobility=m, **data).member
            ),
        ),
        _outflow,
    ),
    "move-on": (
        Step(
            name="move-on",
            label=_("Record a move to another place"),
            done=_("The move was recorded as a new stay."),
            form=StayForm,
            run=lambda request, m, data: _change_url(
                mobility_move_on(actor=request.user, mobility=m, **data)
            ),
        ),
        _outflow,
    ),
    "convert": (
        Step(
            name="convert",
            label=_("Convert into a transfer"),
            done=_("A transfer letter was issued."),
            form=ConvertForm,
            explanation=_(
                "A member settled at one place for six months or more should "
                "transfer the relationship there. The letter is issued now."
            ),
            run=lambda request, m, data: reverse(
                "admin:organizations_transfer_change",
                args=[
                    transfers.mobility_convert_to_transfer(
                        actor=request.user, mobility=m, **data
                    ).pk
                ],
            ),
        ),
        _outflow,
    ),
}


@admin.register(Mobility)
class MobilityAdmin(ScopedAdmin):
    # The change form never saves: every step is a service (see above).
    write_access = "nobody"
    delete_access = "nobody"
    list_display = (
        "member_name",
        "side",
        "status",
        "outflow_organization",
        "destination_region",
        "inflow_organization",
        "left_on",
        "reported_on",
        "certificate_number",
    )
    list_filter = (MobilityQueueFilter, "status", "reason")
    search_fields = ("member__name",)
    search_help_text = _("The member's name.")
    ordering = ("-left_on", "-pk")
    fieldsets = [
        (_("Member"), {"fields": ("member_name", "phone_masked")}),
        (
            _("Stay"),
            {
                "fields": (
                    "status",
                    "outflow_organization",
                    "destination_region",
                    "left_on",
                    "expected_return_on",
                    "reason",
                    "occupation",
                    "work_unit",
                    "contact",
                )
            },
        ),
        (
            _("Inflow organization"),
            {
                "fields": (
                    "inflow_organization",
                    "report_requested_on",
                    "reported_on",
                    "ended_on",
                )
            },
        ),
        (
            _("Confirmation and certificate"),
            {
                "fields": (
                    "confirmed_on",
                    "certificate_number",
                    "certificate_issued_on",
                    "previous",
                )
            },
        ),
    ]
    readonly_fields = [f for _title, s in fieldsets for f in s["fields"]]

    def scoped_queryset(self, request, scope):
        return mobilities_in_scope(scope=scope)

    def organization_of(self, mobility):
        return mobility.outflow_organization

    def has_add_permission(self, request):
        scope = request_scope(request)
        return scope.is_operator or bool(scope.write_paths)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/step/<slug:step>/",
                wrap(self.step_view),
                name="members_mobility_step",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        mobility = self.get_object(request, object_id)
        scope = request_scope(request)
        steps = [
            (step, reverse("admin:members_mobility_step", args=[mobility.pk, name]))
            for name, (step, allowed) in MOBILITY_STEPS.items()
            if allowed(scope, mobility)
        ]
        context = {"steps": steps, **(extra_context or {})}
        response = super().change_view(request, object_id, form_url, context)
        # Whereabouts are sensitive personal information (DESIGN.md §3):
        # every look at a stay is on the record.
        audit_record(
            actor=request.user,
            action="mobility.view",
            member=mobility.member,
            mobility_id=mobility.pk,
        )
        return response

    def step_view(self, request, object_id, step):
        mobility = self.get_object(request, object_id)
        if step not in MOBILITY_STEPS:
            raise Http404
        chosen, allowed = MOBILITY_STEPS[step]
        if not allowed(request_scope(request), mobility):
            if request.method == "POST" or not self._may_ever(request, mobility, step):
                raise PermissionDenied
            self.message_user(
                request,
                _("This stay is now “%(status)s”.")
                % {"status": mobility.get_status_display()},
                messages.WARNING,
            )
            return redirect(_change_url(mobility))
        summary = [
            (_("Member"), mobility.member.name),
            (_("Status"), mobility.get_status_display()),
            (_("Outflow organization"), mobility.outflow_organization),
            (_("Destination"), mobility.destination_region),
        ]
        return run_step(
            self,
            request,
            mobility,
            chosen,
            context={"summary": summary, "original_label": mobility.member.name},
        )

    @staticmethod
    def _may_ever(request, mobility: Mobility, step: str) -> bool:
        # The side that owns the step, whatever the state: it gets a message
        # about the state; anyone else a 403.
        scope = request_scope(request)
        inflow = mobility.inflow_organization
        if step in ("accept", "decline"):
            return inflow is not None and scope.writes(inflow)
        return scope.writes(mobility.outflow_organization)

    def add_view(self, request, form_url="", extra_context=None):
        """Register the member in ``?member=`` as going out."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        step = Step(
            name="register",
            label=_("Register going out"),
            done=_("The stay away was registered."),
            form=StayForm,
            run=self._register,
        )
        return run_member_step(
            self,
            request,
            step,
            scope=request_scope(request),
            start_template="admin/members/mobility/start.html",
            start_title=_("Register going out"),
            holder_label=_("Outflow organization"),
        )

    @staticmethod
    def _register(request, member, data) -> str:
        mobility = mobility_register(actor=request.user, member=member, **data)
        return _change_url(mobility)

    @admin.display(description=_("member"), ordering="member__name")
    def member_name(self, mobility: Mobility) -> str:
        return mobility.member.name

    @admin.display(description=_("phone"))
    def phone_masked(self, mobility: Mobility) -> str:
        return mobility.member.masked_phone

    @admin.display(description=_("side"))
    def side(self, mobility: Mobility) -> str:
        # The scope is not known here: get_changelist_instance marks each
        # row of the page with the side the actor sees it from.
        return _SIDES.get(getattr(mobility, "_side", ""), "")

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        scope = request_scope(request)
        for mobility in changelist.result_list:
            mobility._side = (
                "outflow" if scope.reads(mobility.outflow_organization) else "inflow"
            )
        return changelist
