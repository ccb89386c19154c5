"""The member page's work on mobility and contact: log, lost, found, start.

Mixed into MemberAdmin. The member page gains a section with the member's
stay away, the derived last contact and the contact log, and buttons that
open one step page each (contact, lost, found), or the transfer and
mobility forms of their own admins.
"""

import datetime

from django import forms
from django.core.exceptions import PermissionDenied
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from members.models import ACTIVE_MOBILITY_STATUSES, ContactLog, Member, Mobility
from members.selectors import (
    Access,
    contact_log_list,
    current_organization,
    last_contact_at,
    member_access,
    placements_on,
)
from members.services import contact_log_record, member_mark_found, member_mark_lost
from organizations.admin import request_scope
from organizations.admin.dashboard import QueueFilter
from organizations.admin.steps import (
    DateInput,
    DateTimeInput,
    Step,
    now_minute,
    run_step,
)
from organizations.models import OPEN_TRANSFER_STATES, Organization, Transfer
from organizations.scope import Scope, today

MEMBER_CHANGELIST = "admin:members_member_changelist"
CONTACT_LOG_LENGTH = 10

# What an inflow organisation sees of a member placed with it (DESIGN.md
# §2): a list of what may be shown, so that fields added later (income,
# dues) stay hidden until someone decides otherwise.
PLACED_FIELDSETS = [
    (
        _("Identity"),
        {
            "fields": (
                "name",
                "gender",
                "birth_date",
                "ethnicity",
                "id_number_masked",
                "phone_masked",
            )
        },
    ),
    (
        _("Party membership"),
        {"fields": ("status", "joined_on", "full_member_on", "organization_name")},
    ),
    (
        _("Work and residence"),
        {
            "fields": (
                "education",
                "occupation",
                "work_unit",
                "residence_region",
                "residence_address",
                "lost_contact_since",
            )
        },
    ),
]


class MemberQueueFilter(QueueFilter):
    changelist = MEMBER_CHANGELIST


class ContactForm(forms.Form):
    channel = forms.ChoiceField(label=_("channel"), choices=ContactLog.Channel.choices)
    outcome = forms.ChoiceField(label=_("outcome"), choices=ContactLog.Outcome.choices)
    contacted_at = forms.DateTimeField(
        label=_("contacted at"), widget=DateTimeInput, initial=now_minute
    )
    note = forms.CharField(
        label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class LostForm(forms.Form):
    note = forms.CharField(
        label=_("note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("How the member was searched for."),
    )


class FoundForm(forms.Form):
    found_on = forms.DateField(label=_("found on"), widget=DateInput, initial=today)
    note = forms.CharField(
        label=_("how the member was found"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def hosting_organizations(member: Member, day: datetime.date) -> list[Organization]:
    """The inflow organisations a member is placed with on ``day``."""
    placed = placements_on(day).filter(member=member)
    return [m.inflow_organization for m in placed.select_related("inflow_organization")]


def may_contact(scope: Scope, member: Member) -> bool:
    """Whether the scope may log contacts: the holding or hosting side."""
    holder = current_organization(member)
    if holder is not None and scope.writes(holder):
        return True
    return any(scope.writes(o) for o in hosting_organizations(member, today()))


def holds(scope: Scope, member: Member) -> bool:
    """Whether the scope may act for the organisation holding ``member``."""
    holder = current_organization(member)
    return holder is not None and scope.writes(holder)


def _member_url(member: Member) -> str:
    return reverse("admin:members_member_change", args=[member.pk])


CONTACT_STEP = Step(
    name="contact",
    label=_("Log a contact"),
    done=_("The contact was logged."),
    form=ContactForm,
    run=lambda request, member, data: _member_url(
        contact_log_record(actor=request.user, member=member, **data).member
    ),
)
LOST_STEP = Step(
    name="lost",
    label=_("Mark as lost contact"),
    done=_("The member is marked as lost contact."),
    form=LostForm,
    danger=True,
    explanation=_(
        "The date of loss is the first failed attempt after the last "
        "successful contact; it starts the lapse periods."
    ),
    run=lambda request, member, data: _member_url(
        member_mark_lost(actor=request.user, member=member, **data).member
    ),
)
FOUND_STEP = Step(
    name="found",
    label=_("Mark as found"),
    done=_("The member is marked as found again."),
    form=FoundForm,
    run=lambda request, member, data: _member_url(
        member_mark_found(actor=request.user, member=member, **data).member
    ),
)


class MemberWorkMixin:
    """Mobility and contact on the member's page, for MemberAdmin."""

    def member_access(self, request, member: Member) -> Access:
        # Cached on the instance: the page asks for it several times.
        if not hasattr(member, "_admin_access"):
            member._admin_access = member_access(
                scope=request_scope(request), member=member
            )
        return member._admin_access

    def work_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/contact/",
                wrap(self.contact_view),
                name="members_member_contact",
            ),
            path(
                "<path:object_id>/lost/",
                wrap(self.lost_view),
                name="members_member_lost",
            ),
            path(
                "<path:object_id>/found/",
                wrap(self.found_view),
                name="members_member_found",
            ),
        ]

    def contact_view(self, request, object_id):
        """Log one attempt to reach the member, and how it went."""
        member = self.get_object(request, object_id)
        if not may_contact(request_scope(request), member):
            raise PermissionDenied
        return self._step(request, member, CONTACT_STEP)

    def lost_view(self, request, object_id):
        """Mark the member as lost contact (失联) after failed attempts."""
        member = self.get_object(request, object_id)
        if not holds(request_scope(request), member):
            raise PermissionDenied
        return self._step(request, member, LOST_STEP)

    def found_view(self, request, object_id):
        """Record that a member marked as lost was found again."""
        member = self.get_object(request, object_id)
        if not holds(request_scope(request), member):
            raise PermissionDenied
        return self._step(request, member, FOUND_STEP)

    def _step(self, request, member: Member, step: Step):
        summary = [
            (_("Member"), member.name),
            (_("ID number"), member.masked_id_number),
        ]
        return run_step(self, request, member, step, context={"summary": summary})

    def work_context(self, request, member: Member) -> dict:
        """What the member page shows and offers about mobility and contact."""
        scope = request_scope(request)
        access = self.member_access(request, member)
        if access not in (Access.FULL, Access.PLACED):
            return {}
        mobility = _active_mobility(member)
        return {
            "mobility": mobility,
            "mobility_url": reverse("admin:members_mobility_change", args=[mobility.pk])
            if mobility
            else None,
            "last_contact": last_contact_at(member),
            "contact_logs": list(
                contact_log_list(scope=scope, member=member)[:CONTACT_LOG_LENGTH]
            ),
            "lost_episodes": list(member.lost_contacts.order_by("-since", "-pk")[:5]),
            "member_tools": self._tools(scope, member, mobility),
        }

    def _tools(self, scope: Scope, member: Member, mobility) -> list[dict]:
        pk = member.pk
        tools = []
        holding = holds(scope, member)
        open_transfer = (
            Transfer.objects.filter(member=member, state__in=OPEN_TRANSFER_STATES)
            .only("pk", "number")
            .first()
        )
        if open_transfer is not None:
            tools.append(
                _tool(
                    _("Open transfer %(number)s") % {"number": open_transfer.number},
                    reverse(
                        "admin:organizations_transfer_change", args=[open_transfer.pk]
                    ),
                    "open-transfer",
                )
            )
        elif holding:
            tools.append(
                _tool(
                    _("Issue a transfer"),
                    reverse("admin:organizations_transfer_add")
                    + "?"
                    + urlencode({"member": pk}),
                    "issue-transfer",
                )
            )
        if holding and mobility is None:
            tools.append(
                _tool(
                    _("Register going out"),
                    reverse("admin:members_mobility_add")
                    + "?"
                    + urlencode({"member": pk}),
                    "register-mobility",
                )
            )
        if may_contact(scope, member):
            tools.append(
                _tool(
                    CONTACT_STEP.label,
                    reverse("admin:members_member_contact", args=[pk]),
                    "log-contact",
                )
            )
        if holding and member.lost_contact_since is None:
            tools.append(
                _tool(
                    LOST_STEP.label,
                    reverse("admin:members_member_lost", args=[pk]),
                    "mark-lost",
                )
            )
        if holding and member.lost_contact_since is not None:
            tools.append(
                _tool(
                    FOUND_STEP.label,
                    reverse("admin:members_member_found", args=[pk]),
                    "mark-found",
                )
            )
        return tools


def _tool(label, url: str, testid: str) -> dict:
    return {"label": label, "url": url, "testid": testid}


def _active_mobility(member: Member) -> Mobility | None:
    return (
        Mobility.objects.filter(member=member, status__in=ACTIVE_MOBILITY_STATUSES)
        .select_related("inflow_organization", "destination_region")
        .first()
    )
