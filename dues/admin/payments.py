"""Payment orders in the admin: approval, refunds, cash and bank payments.

Orders are created by members (portal, API) or by a secretary recording
money received; every change goes through ``dues.services.payments``.
"""

import datetime
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Value, When
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from dues.admin.fields import MemberInScopeField, MoneyField
from dues.admin.scoping import orders_in_scope
from dues.models import LedgerEntry, PaymentOrder
from dues.selectors import ledger_entries
from dues.services.payments import (
    approve_order,
    record_offline_payment,
    refund,
    reject_order,
)
from members.models import Member
from members.selectors import member_get
from organizations.admin import ScopedAdmin, request_scope
from organizations.admin.dashboard import Queue, QueueFilter, register_queue
from organizations.admin.steps import DateInput, Step, run_step
from organizations.scope import Scope, today

CHANGELIST = "admin:dues_paymentorder_changelist"
OFFLINE_CHANNELS = [
    (PaymentOrder.Channel.CASH.value, PaymentOrder.Channel.CASH.label),
    (PaymentOrder.Channel.BANK.value, PaymentOrder.Channel.BANK.label),
]

register_queue(
    Queue(
        section=_("Party dues"),
        key="approval",
        label=_("Payments awaiting approval"),
        changelist=CHANGELIST,
        rows=lambda scope: orders_in_scope(scope).filter(
            status=PaymentOrder.Status.AWAITING_APPROVAL
        ),
    )
)


class OrderQueueFilter(QueueFilter):
    changelist = CHANGELIST


def open_entries(scope: Scope, member: Member):
    """The member's unpaid ledger months the scope collects."""
    return (
        ledger_entries(scope=scope)
        .filter(member=member, status=LedgerEntry.Status.DUE)
        .order_by("month")
    )


def _month_choices(entries) -> list[tuple[str, str]]:
    return [
        (e.month.isoformat(), f"{e.month:%Y-%m} · {e.amount_due or '—'}")
        for e in entries
    ]


class MemberPickForm(forms.Form):
    """Which member paid: the first page of recording a payment."""

    def __init__(self, *args, scope: Scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"] = MemberInScopeField()
        self.fields["member"].limit_to(scope)


class OfflinePaymentForm(forms.Form):
    """Money a secretary received in cash or by bank transfer."""

    months = forms.MultipleChoiceField(
        label=_("months paid"), widget=forms.CheckboxSelectMultiple
    )
    channel = forms.ChoiceField(
        label=pgettext_lazy("payment", "channel"), choices=OFFLINE_CHANNELS
    )
    payer = forms.ChoiceField(
        label=_("paid by"), choices=PaymentOrder.Payer.choices, initial="self"
    )
    payer_name = forms.CharField(
        label=_("payer's name"),
        required=False,
        max_length=64,
        help_text=_("Required when another person paid on the member's behalf."),
    )
    amount = MoneyField(label=_("amount received"))
    paid_on = forms.DateField(label=_("paid on"), widget=DateInput, initial=today)

    def __init__(self, *args, entries, **kwargs):
        super().__init__(*args, **kwargs)
        self.entries = {e.month.isoformat(): e for e in entries}
        self.fields["months"].choices = _month_choices(entries)

    def clean(self):
        cleaned = super().clean()
        chosen = [self.entries[m] for m in cleaned.get("months", [])]
        if (
            cleaned.get("payer") == PaymentOrder.Payer.ON_BEHALF
            and not cleaned.get("payer_name", "").strip()
        ):
            self.add_error(
                "payer_name",
                ValidationError(
                    _("Name the person who paid on the member's behalf."),
                    code="payer_name_missing",
                ),
            )
        if any(e.amount_due is None for e in chosen):
            raise ValidationError(
                _("Some chosen months have no assessed amount yet."),
                code="not_assessed",
            )
        amount = cleaned.get("amount")
        if not chosen or amount is None:
            return cleaned
        due = sum((e.amount_due - e.paid_amount for e in chosen), Decimal("0.00"))
        # More than due is a voluntary payment; less needs a reduction.
        if amount < due:
            self.add_error(
                "amount",
                ValidationError(
                    _("%(amount)s is less than the %(due)s due for these months."),
                    code="amount_short",
                    params={"amount": amount, "due": due},
                ),
            )
        cleaned["voluntary_amount"] = amount - due
        cleaned["months"] = [e.month for e in chosen]
        return cleaned


class RefundForm(forms.Form):
    months = forms.MultipleChoiceField(
        label=_("months to refund"), widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(
        label=_("reason"), widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, order: PaymentOrder, **kwargs):
        super().__init__(*args, **kwargs)
        lines = order.lines.filter(refunded=False).order_by("month")
        self.fields["months"].choices = [
            (line.month.isoformat(), f"{line.month:%Y-%m} · {line.amount_due}")
            for line in lines
        ]

    def clean_months(self):
        return [datetime.date.fromisoformat(m) for m in self.cleaned_data["months"]]


AWAITING_FIRST = Case(
    When(status=PaymentOrder.Status.AWAITING_APPROVAL, then=Value(0)),
    default=Value(1),
)


@admin.register(PaymentOrder)
class PaymentOrderAdmin(ScopedAdmin):
    # An order changes only through the payment services: a gateway's
    # callback, the actions below, a refund or a recorded cash payment.
    write_access = "nobody"
    delete_access = "nobody"
    actions = ("approve", "reject")
    list_display = (
        "reference",
        "member_name",
        "month_list",
        "amount",
        "voluntary_amount",
        "channel",
        "payer",
        "status",
        "collected_by",
        "receipt_number",
        "created_at",
    )
    list_filter = (OrderQueueFilter, "status", "channel", "payer")
    search_fields = ("reference", "receipt_number", "member__name")
    search_help_text = _("Order number, receipt number or the member's name.")
    ordering = (AWAITING_FIRST.asc(), "-created_at", "-pk")
    fields = (
        "reference",
        "member_name",
        "month_list",
        "amount",
        "voluntary_amount",
        "refunded_amount",
        "channel",
        "payer",
        "payer_name",
        "collected_by",
        "status",
        "approval_reason",
        "decided_by",
        "decided_at",
        "gateway_transaction_id",
        "paid_at",
        "receipt_number",
        "created_by",
        "created_at",
    )
    readonly_fields = fields

    def scoped_queryset(self, request, scope):
        return orders_in_scope(scope)

    def organization_of(self, order):
        return order.collected_by

    def has_decide_permission(self, request) -> bool:
        scope = request_scope(request)
        return scope.is_operator or bool(scope.write_paths)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("record/", wrap(self.record_view), name="dues_paymentorder_record"),
            path(
                "<path:object_id>/refund/",
                wrap(self.refund_view),
                name="dues_paymentorder_refund",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The scope first: an order out of scope answers 404 to a POST too.
        order = self.get_object(request, object_id)
        if request.method == "POST":
            raise PermissionDenied
        refundable = order.status in (
            PaymentOrder.Status.PAID,
            PaymentOrder.Status.PARTLY_REFUNDED,
        ) and self.has_decide_permission(request)
        context = {"refundable": refundable, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)

    def changelist_view(self, request, extra_context=None):
        # A POST here is a bulk action; Django would show a read-only role
        # the list again as if it had asked for nothing.
        if request.method == "POST" and not self.has_decide_permission(request):
            raise PermissionDenied
        context = {
            "may_record": self.has_decide_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def record_view(self, request):
        """Record a cash or bank payment for the member in ``?member=``."""
        if not self.has_decide_permission(request):
            raise PermissionDenied
        scope = request_scope(request)
        member_id = request.GET.get("member", "")
        if not member_id.isdigit():
            return self._pick_member(request, scope)
        member = member_get(scope=scope, member_id=int(member_id))
        entries = list(open_entries(scope, member))
        step = Step(
            name="record-payment",
            label=_("Record a cash or bank payment"),
            done=_("The payment was recorded and the months are paid."),
            form=OfflinePaymentForm,
            run=lambda request, member, data: self._record(request, member, data),
        )
        summary = [
            (_("Member"), member.name),
            (_("ID number"), member.masked_id_number),
            (_("Months unpaid"), len(entries)),
        ]
        return run_step(
            self,
            request,
            member,
            step,
            form_kwargs={"entries": entries},
            context={"original": None, "summary": summary},
        )

    def _pick_member(self, request, scope):
        form = MemberPickForm(scope=scope)
        return TemplateResponse(
            request,
            "admin/dues/paymentorder/pick_member.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Record a cash or bank payment"),
                "form": form,
                "media": self.media + form.media,
            },
        )

    @staticmethod
    def _record(request, member, data) -> str:
        order = record_offline_payment(
            actor=request.user,
            member=member,
            months=data["months"],
            channel=data["channel"],
            payer=data["payer"],
            payer_name=data["payer_name"].strip(),
            voluntary_amount=data["voluntary_amount"],
            paid_on=data["paid_on"],
        )
        return reverse("admin:dues_paymentorder_change", args=[order.pk])

    def refund_view(self, request, object_id):
        """Refund some months of a paid order; they are owed again."""
        order = self.get_object(request, object_id)
        if not self.has_decide_permission(request):
            raise PermissionDenied
        if order.status not in (
            PaymentOrder.Status.PAID,
            PaymentOrder.Status.PARTLY_REFUNDED,
        ):
            raise Http404
        step = Step(
            name="refund",
            label=_("Refund months of this payment"),
            done=_("The refund was recorded; the months are unpaid again."),
            form=RefundForm,
            danger=True,
            run=lambda request, order, data: self._refund(request, order, data),
        )
        summary = [
            (_("Order number"), order.reference),
            (_("Member"), order.member.name),
            (_("Amount"), order.amount),
            (_("Already refunded"), order.refunded_amount),
        ]
        return run_step(
            self,
            request,
            order,
            step,
            form_kwargs={"order": order},
            context={"summary": summary},
        )

    @staticmethod
    def _refund(request, order, data) -> str:
        refund(
            actor=request.user,
            order=order,
            months=data["months"],
            reason=data["reason"],
        )
        return reverse("admin:dues_paymentorder_change", args=[order.pk])

    @admin.action(description=_("Approve selected payments"), permissions=["decide"])
    def approve(self, request, queryset):
        if self.selection_in_scope(request, queryset):
            self._decide(request, queryset, approve_order)

    @admin.action(description=_("Reject selected payments"), permissions=["decide"])
    def reject(self, request, queryset):
        if self.selection_in_scope(request, queryset):
            self._decide(request, queryset, reject_order)

    def _decide(self, request, queryset, service) -> None:
        decided = 0
        for order in queryset.select_related("member", "collected_by"):
            try:
                service(actor=request.user, order=order)
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(exc.messages) if hasattr(exc, "messages") else exc
                self.message_user(request, f"{order.reference}: {text}", messages.ERROR)
            else:
                decided += 1
        if decided:
            self.message_user(
                request,
                ngettext(
                    "%(count)d payment decided.", "%(count)d payments decided.", decided
                )
                % {"count": decided},
                messages.SUCCESS,
            )

    @admin.display(description=_("member"), ordering="member__name")
    def member_name(self, order: PaymentOrder) -> str:
        return order.member.name

    @admin.display(description=_("months"))
    def month_list(self, order: PaymentOrder) -> str:
        return ", ".join(f"{m:%Y-%m}" for m in sorted(order.months))
