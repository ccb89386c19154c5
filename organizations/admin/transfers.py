"""Transfers in the admin: the queues of both sides and every step.

Nothing here changes a transfer itself: each step page posts a form to one
service of ``organizations.services``, which checks the actor's side, locks
the letter and records the step. The change page is read-only.
"""

import logging

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxValueValidator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models import Ethnicity, Member
from members.services import audit_record
from organizations import letters, services
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
from organizations.models import Organization, Transfer
from organizations.scope import Scope, organizations_in_scope, today
from organizations.selectors import (
    TRANSFER_QUEUES,
    transfer_history,
    transfer_list,
    transfers_in_queue,
)

logger = logging.getLogger(__name__)

State = Transfer.State
Side = services.Side
CHANGELIST = "admin:organizations_transfer_changelist"

_QUEUE_LABELS = {
    "outgoing": _("Outgoing: all open letters"),
    "drafts": _("Outgoing: drafts"),
    "issued": _("Outgoing: issued, not yet accepted"),
    "expiring": _("Outgoing: validity ends within a week"),
    "to_reissue": _("Outgoing: returned or expired, to reissue"),
    "to_accept": _("Incoming: to accept or return"),
    "to_report": _("Incoming: to record the arrival (报到)"),
    "receipts_owed": _("Incoming: receipts (回执) owed"),
    "receipts_overdue": _("Incoming: receipts overdue"),
    "taking_effect": _("Completed, taking effect later"),
}


def _queue_rows(key: str):
    return lambda scope: transfers_in_queue(scope=scope, queue=key)


for _key in TRANSFER_QUEUES:
    register_queue(
        Queue(
            section=_("Transfers"),
            key=_key,
            label=_QUEUE_LABELS[_key],
            changelist=CHANGELIST,
            rows=_queue_rows(_key),
        )
    )


class TransferQueueFilter(QueueFilter):
    changelist = CHANGELIST


def acting_organization(transfer: Transfer, side: Side) -> Organization | None:
    """The organisation acting for ``side`` of ``transfer``."""
    # As in the services: for a letter from outside the system the
    # registering organisation acts for both sides, and a letter to outside
    # is followed up by its sender.
    if side is Side.SENDING:
        return transfer.from_organization or transfer.to_organization
    return transfer.to_organization or transfer.from_organization


def may_take(scope: Scope, transfer: Transfer, target: str) -> bool:
    """Whether the scope may move ``transfer`` to ``target`` now."""
    side, sources = services.TRANSITIONS[target]
    if side is Side.SYSTEM or transfer.state not in sources:
        return False
    organization = acting_organization(transfer, side)
    return organization is not None and scope.writes(organization)


def _active_organizations():
    day = timezone.localdate()
    return Organization.objects.exclude(dissolved_on__lt=day).order_by("path")


class DestinationForm(forms.Form):
    """Where a letter goes: an organisation of the tree, or one outside."""

    to_organization = OrganizationChoiceField(
        queryset=Organization.objects.none(),
        required=False,
        label=_("to organization"),
    )
    to_external = forms.CharField(
        label=_("or to an organization outside the system"),
        required=False,
        max_length=255,
    )
    dues_paid_through = MonthField(label=_("dues paid through (month)"))
    validity_days = forms.IntegerField(label=_("validity in days"), min_value=1)
    effective_on = forms.DateField(
        label=_("takes effect on"),
        required=False,
        widget=DateInput,
        help_text=_("Leave blank for the day the member reports."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # TODO: offer an autocomplete instead of the whole tree; a province
        # has thousands of organisations, the demo data hundreds.
        self.fields["to_organization"].queryset = _active_organizations()
        validity = self.fields["validity_days"]
        maximum = settings.LIUDONG_TRANSFER_VALIDITY_MAX_DAYS
        validity.validators.append(MaxValueValidator(maximum))
        validity.widget.attrs["max"] = maximum
        validity.initial = settings.LIUDONG_TRANSFER_VALIDITY_DAYS
        self.fields["dues_paid_through"].initial = services.dues_required_through(
            today()
        )

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("to_organization")) == bool(cleaned.get("to_external")):
            raise ValidationError(
                _("Name either an organization in the system or one outside it."),
                code="destination",
            )
        return cleaned


class TransferCreateForm(DestinationForm):
    """A new letter for one member."""

    note = forms.CharField(
        label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    issue_now = forms.BooleanField(
        label=_("Issue the letter now"), required=False, initial=True
    )


class TransferReissueForm(DestinationForm):
    """The successor of a letter: by default to the same place."""

    reason = forms.CharField(
        label=_("reason"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, transfer: Transfer, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("to_organization", transfer.to_organization_id)
        self.initial.setdefault("to_external", transfer.to_external)
        self.initial.setdefault("validity_days", transfer.validity_days)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class RequiredReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"), widget=forms.Textarea(attrs={"rows": 3})
    )


class ReportForm(forms.Form):
    """The branch below the receiving organisation that takes the member."""

    placed_in = OrganizationChoiceField(
        queryset=Organization.objects.none(),
        required=False,
        label=_("placed in"),
        empty_label=_("the receiving organization itself"),
    )

    def __init__(self, *args, transfer: Transfer, scope: Scope, **kwargs):
        super().__init__(*args, **kwargs)
        destination = transfer.to_organization
        choices = Organization.objects.none()
        if destination is not None:
            choices = (
                organizations_in_scope(scope, write=True)
                .filter(path__startswith=destination.path)
                .exclude(dissolved_on__lt=timezone.localdate())
                .order_by("path")
            )
        self.fields["placed_in"].queryset = choices


class IncomingForm(forms.Form):
    """A paper letter from outside the system, registered with its scan."""

    to_organization = OrganizationChoiceField(
        queryset=Organization.objects.none(), label=_("receiving organization")
    )
    from_external = forms.CharField(label=_("issuing organization"), max_length=255)
    external_number = forms.CharField(
        label=_("number on the letter"), required=False, max_length=64
    )
    scan = forms.FileField(
        label=_("scan of the letter"), help_text=_("A PDF, PNG or JPEG file.")
    )
    name = forms.CharField(label=pgettext_lazy("person", "name"), max_length=64)
    gender = forms.ChoiceField(label=_("gender"), choices=Member.Gender.choices)
    ethnicity = forms.ModelChoiceField(
        label=_("ethnicity"), queryset=Ethnicity.objects.all(), required=False
    )
    id_number = forms.CharField(label=_("ID number"), max_length=32)
    is_probationary = forms.BooleanField(label=_("probationary member"), required=False)
    joined_on = forms.DateField(label=_("joined the Party on"), widget=DateInput)
    issued_on = forms.DateField(label=_("issued on"), widget=DateInput)
    validity_days = forms.IntegerField(
        label=_("validity in days"), min_value=1, required=False
    )
    dues_paid_through = MonthField(label=_("dues paid through (month)"), required=False)
    effective_on = forms.DateField(
        label=_("takes effect on"), required=False, widget=DateInput
    )
    note = forms.CharField(
        label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, scope: Scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_organization"].queryset = organizations_in_scope(
            scope, write=True
        ).order_by("path")


def _change_url(transfer: Transfer) -> str:
    return reverse("admin:organizations_transfer_change", args=[transfer.pk])


def _run(service, **extra):
    """A step's run: call ``service`` for the transfer, go to the result."""

    def run(request, transfer, data):
        result = service(actor=request.user, transfer=transfer, **extra, **data)
        return _change_url(result)

    return run


TRANSFER_STEPS = {
    State.ISSUED: Step(
        name="issue",
        label=_("Issue the letter"),
        done=_("The letter was issued."),
        run=_run(services.transfer_issue),
        explanation=_(
            "The letter is valid from today for its validity days; the member's "
            "details are printed as they stand today."
        ),
    ),
    State.WITHDRAWN: Step(
        name="withdraw",
        label=_("Withdraw the letter"),
        done=_("The letter was withdrawn."),
        run=_run(services.transfer_withdraw),
        form=ReasonForm,
        danger=True,
    ),
    State.ACCEPTED: Step(
        name="accept",
        label=_("Accept the letter"),
        done=_("The letter was accepted."),
        run=_run(services.transfer_accept),
    ),
    State.RETURNED: Step(
        name="return",
        label=_("Return the letter"),
        done=_("The letter was returned to the sending organization."),
        run=_run(services.transfer_return),
        form=RequiredReasonForm,
        danger=True,
    ),
    State.REPORTED: Step(
        name="report",
        label=_("Record the arrival (报到)"),
        done=_("The arrival was recorded; the membership has moved."),
        run=_run(services.transfer_report),
        form=ReportForm,
    ),
    State.RECEIPT_RETURNED: Step(
        name="receipt",
        label=_("Record the receipt (回执) as returned"),
        done=_("The receipt was recorded."),
        run=_run(services.transfer_receipt_return),
    ),
    State.REISSUED: Step(
        name="reissue",
        label=_("Reissue the letter"),
        done=_("A new letter was issued; the old one is void."),
        run=_run(services.transfer_reissue),
        form=TransferReissueForm,
    ),
}
_STEPS_BY_NAME = {step.name: (target, step) for target, step in TRANSFER_STEPS.items()}


@admin.register(Transfer)
class TransferAdmin(ScopedAdmin):
    # The change form never saves: every step is a service (see above).
    write_access = "nobody"
    delete_access = "nobody"
    list_display = (
        "number",
        "name",
        "state",
        "from_display",
        "to_display",
        "valid_until",
        "effective_on",
    )
    list_filter = (TransferQueueFilter, "state")
    search_fields = ("number", "name")
    search_help_text = _("A letter number or the member's name.")
    ordering = ("-created_at", "-pk")
    fieldsets = [
        (
            _("Letter"),
            {
                "fields": (
                    "number",
                    "state",
                    "issued_on",
                    "validity_days",
                    "valid_until",
                    "dues_month",
                    "letter_code",
                    "reissue_of",
                    "reissued_as_link",
                )
            },
        ),
        (
            _("Member"),
            {
                "fields": (
                    "name",
                    "gender_label",
                    "age",
                    "ethnicity",
                    "is_probationary",
                    "id_number_masked",
                )
            },
        ),
        (
            _("Route"),
            {
                "fields": (
                    "from_display",
                    "to_display",
                    "placed_in",
                    "accepted_on",
                    "reported_on",
                    "effective_on",
                    "receipt_returned_on",
                )
            },
        ),
        (
            _("Issuer"),
            {"fields": ("issuer_address", "issuer_phone", "external_number", "note")},
        ),
        (_("History"), {"fields": ("history_table",)}),
    ]
    readonly_fields = [f for _title, s in fieldsets for f in s["fields"]]

    def scoped_queryset(self, request, scope):
        return transfer_list(scope=scope)

    def organization_of(self, transfer):
        return acting_organization(transfer, Side.SENDING)

    def has_add_permission(self, request):
        scope = request_scope(request)
        return scope.is_operator or bool(scope.write_paths)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "incoming/",
                wrap(self.incoming_view),
                name="organizations_transfer_incoming",
            ),
            path(
                "<path:object_id>/step/<slug:step>/",
                wrap(self.step_view),
                name="organizations_transfer_step",
            ),
            path(
                "<path:object_id>/letter.pdf",
                wrap(self.letter_view),
                name="organizations_transfer_letter",
            ),
            path(
                "<path:object_id>/scan/",
                wrap(self.scan_view),
                name="organizations_transfer_scan",
            ),
            *super().get_urls(),
        ]

    # Pages

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            # Read-only: Django would answer 403 too, after more work.
            raise PermissionDenied
        transfer = self.get_object(request, object_id)
        scope = request_scope(request)
        steps = [
            (
                step,
                reverse(
                    "admin:organizations_transfer_step", args=[transfer.pk, step.name]
                ),
            )
            for target, step in TRANSFER_STEPS.items()
            if may_take(scope, transfer, target)
        ]
        context = {
            "steps": steps,
            "letter_url": reverse(
                "admin:organizations_transfer_letter", args=[transfer.pk]
            ),
            "scan_url": (
                reverse("admin:organizations_transfer_scan", args=[transfer.pk])
                if transfer.letter_scan and letters.sees_full_id(scope, transfer)
                else None
            ),
            **(extra_context or {}),
        }
        response = super().change_view(request, object_id, form_url, context)
        # A letter is a member's record too: every look at one is logged.
        audit_record(
            actor=request.user,
            action="transfer.view",
            member=transfer.member,
            transfer_id=transfer.pk,
        )
        return response

    def add_view(self, request, form_url="", extra_context=None):
        """Draft, and by default issue, a letter for ``?member=``."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        step = Step(
            name="create",
            label=_("Create the letter"),
            done=_("The letter was created."),
            run=self._create,
            form=TransferCreateForm,
        )
        return run_member_step(
            self,
            request,
            step,
            scope=request_scope(request),
            start_template="admin/organizations/transfer/start.html",
            start_title=_("Start a transfer"),
            holder_label=_("From"),
        )

    @staticmethod
    def _create(request, member, data) -> str:
        issue_now = data.pop("issue_now")
        # One transaction for both steps: a letter that cannot be issued is
        # not left behind as a draft.
        with transaction.atomic():
            transfer = services.transfer_create(
                actor=request.user, member=member, **data
            )
            if issue_now:
                transfer = services.transfer_issue(
                    actor=request.user, transfer=transfer
                )
        return _change_url(transfer)

    def step_view(self, request, object_id, step):
        transfer = self.get_object(request, object_id)
        if step not in _STEPS_BY_NAME:
            raise Http404
        target, chosen = _STEPS_BY_NAME[step]
        scope = request_scope(request)
        side, sources = services.TRANSITIONS[target]
        acting = acting_organization(transfer, side)
        if acting is None or not scope.writes(acting):
            raise PermissionDenied
        if transfer.state not in sources and request.method != "POST":
            # Someone moved the letter on meanwhile: say so on its page. A
            # POST goes on to the service, which explains the refusal.
            self.message_user(
                request,
                _("This transfer is now “%(state)s”.")
                % {"state": transfer.get_state_display()},
                messages.WARNING,
            )
            return redirect(_change_url(transfer))
        form_kwargs = {}
        if chosen.form is ReportForm:
            form_kwargs = {"transfer": transfer, "scope": scope}
        elif chosen.form is TransferReissueForm:
            form_kwargs = {"transfer": transfer}
        return run_step(
            self,
            request,
            transfer,
            chosen,
            form_kwargs=form_kwargs,
            context={"summary": _summary(transfer)},
        )

    def incoming_view(self, request):
        """Register a letter from outside the system, with its scan."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        step = Step(
            name="incoming",
            label=_("Register the letter"),
            done=_("The letter from outside was registered."),
            run=self._register_incoming,
            form=IncomingForm,
        )
        return run_step(
            self,
            request,
            None,
            step,
            form_kwargs={"scope": request_scope(request)},
        )

    @staticmethod
    def _register_incoming(request, _none, data) -> str:
        transfer = services.transfer_register_incoming(actor=request.user, **data)
        return _change_url(transfer)

    def letter_view(self, request, object_id):
        """The printable letter, for either side; every download is audited."""
        transfer = self.get_object(request, object_id)
        letter = letters.letter_download(actor=request.user, transfer=transfer)
        return letters.letter_response(letter)

    def scan_view(self, request, object_id):
        """The scan of a letter from outside, never from a public URL."""
        transfer = self.get_object(request, object_id)
        handle = letters.letter_scan_open(actor=request.user, transfer=transfer)
        return letters.scan_response(transfer, handle)

    # Columns

    @admin.display(description=_("from"), ordering="from_organization__path")
    def from_display(self, transfer: Transfer) -> str:
        return _party(transfer.from_organization, transfer.from_external)

    @admin.display(description=_("to"), ordering="to_organization__path")
    def to_display(self, transfer: Transfer) -> str:
        return _party(transfer.to_organization, transfer.to_external)

    @admin.display(description=_("gender"))
    def gender_label(self, transfer: Transfer) -> str:
        # The letter keeps the code as printed; show it by its label.
        return str(Member.Gender(transfer.gender).label) if transfer.gender else "—"

    @admin.display(description=_("dues paid through (month)"))
    def dues_month(self, transfer: Transfer) -> str:
        month = transfer.dues_paid_through
        return f"{month:%Y-%m}" if month else "—"

    @admin.display(description=_("ID number"))
    def id_number_masked(self, transfer: Transfer) -> str:
        return transfer.masked_id_number

    @admin.display(description=_("verification code"))
    def letter_code(self, transfer: Transfer) -> str:
        if transfer.issued_on is None:
            return "—"
        return letters.format_code(letters.letter_code(transfer))

    @admin.display(description=_("reissued as"))
    def reissued_as_link(self, transfer: Transfer):
        successor = Transfer.objects.filter(reissue_of=transfer).first()
        if successor is None:
            return "—"
        return format_html('<a href="{}">{}</a>', _change_url(successor), successor)

    @admin.display(description=_("history"))
    def history_table(self, transfer: Transfer):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M"),
                    event.actor or _("nightly job"),
                    State(event.from_state).label if event.from_state else "—",
                    State(event.to_state).label,
                    event.reason,
                )
                for event in transfer_history(transfer)
            ),
        )
        head = format_html_join(
            "",
            "<th>{}</th>",
            ((h,) for h in (_("At"), _("By"), _("From"), _("To"), _("Reason"))),
        )
        return format_html(
            "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, rows
        )


def _party(organization: Organization | None, external: str) -> str:
    return organization.name if organization else external


def _summary(transfer: Transfer) -> list[tuple[str, str]]:
    return [
        (_("Letter number"), transfer.number),
        (_("State"), transfer.get_state_display()),
        (_("Member"), transfer.name),
        (_("From"), _party(transfer.from_organization, transfer.from_external)),
        (_("To"), _party(transfer.to_organization, transfer.to_external)),
        (_("Valid until"), transfer.valid_until or "—"),
    ]
