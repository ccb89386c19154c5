"""Payment orders, gateway notifications, offline payments, refunds and
reconciliation.

Public functions (portal, admin, callbacks and jobs all call these; the
settling half lives in ``dues.services.settlement`` and is re-exported):

- ``open_order(*, actor, member, months, channel=None, payer="self",
  payer_name="", voluntary_amount=0, at_inflow=False) -> PaymentOrder``
- ``start_payment(order, *, return_url) -> str``: where to send the member.
- ``handle_notification(channel, request) -> GatewayNotification``
- ``approve_order(*, actor, order)`` and ``reject_order(*, actor, order)``
- ``record_offline_payment(*, actor, member, months, channel, paid_on, ...)``
- ``refund(*, actor, order, months, reason) -> Refund``
- ``reconcile_pending(*, now=None) -> dict``

Decisions the code keeps:

- An order's ``amount`` is everything the payer is charged: the months' dues
  plus the voluntary part (``voluntary_amount``), which rides on the last
  line and lands on the last month credited.
- The idempotency key is the member and the set of months; asking again
  returns the open order with that key as it is. A new order for other
  months supersedes (closes) the member's open orders that overlap it.
- Settling (``dues.services.settlement``) happens once per order, under
  the order's row lock, whatever path the news came by: a callback, a
  reconciliation query or a secretary recording cash.
"""

import datetime
import hashlib
import logging
from decimal import Decimal, InvalidOperation

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dues import gateways, rules
from dues.gateways import ONLINE_CHANNELS, get_gateway
from dues.models import LedgerEntry, PaymentLine, PaymentOrder
from dues.selectors import inflow_collector
from dues.services.settlement import (
    OFFLINE_CHANNELS,
    PaymentError,
    apply_notice,
    handle_notification,
    new_reference,
    next_receipt_number,
    reconcile_pending,
    refund,
    send_refund,
    settle,
)
from members.models import Member
from members.selectors import current_organization
from members.services import audit_record
from members.services._common import require_write
from organizations.models import Organization
from organizations.scope import scope_for

logger = logging.getLogger(__name__)

Status = PaymentOrder.Status
# How far ahead a member may choose months at all; beyond the approval
# limit and up to here, a secretary decides.
AHEAD_HORIZON_MONTHS = 12
_REFUSED_PAYERS = {
    "organization": "payer_organization",
    "wage_deduction": "payer_wage_deduction",
}


# Orders


def open_order(
    *,
    actor,
    member: Member,
    months,
    channel: str | None = None,
    payer: str = "self",
    payer_name: str = "",
    voluntary_amount=Decimal(0),
    at_inflow: bool = False,
    today: datetime.date | None = None,
) -> PaymentOrder:
    """Open (or find again) the member's order for ``months``."""
    channel = channel or settings.LIUDONG_DUES_GATEWAY
    if not gateways.available(channel):
        raise PaymentError(
            _("Pay online through a payment gateway."), code="channel_not_online"
        )
    _require_payer_or_secretary(actor, member)
    today = today or timezone.localdate()
    plan = _plan(
        member=member,
        months=months,
        payer=payer,
        payer_name=payer_name,
        voluntary_amount=voluntary_amount,
        today=today,
    )
    collector = _inflow_organization(member) if at_inflow else plan.organization
    # A changed payer or voluntary amount is a new order (the old one is
    # superseded); only the very same request finds its order again.
    key = idempotency_key(member, plan.months, terms=plan.terms(collector))

    existing = _open_order_with_key(member, key)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            order = _create_order(
                actor=actor,
                plan=plan,
                key=key,
                channel=channel,
                collector=collector,
                approval_reason=_approval_reason(plan.months, today),
            )
    except IntegrityError:
        # A concurrent request with the same key won the partial unique
        # index; its order is the one this request meant.
        existing = _open_order_with_key(member, key)
        if existing is None:
            raise
        return existing
    return order


def idempotency_key(member: Member, months, *, terms: tuple = ()) -> str:
    """The same member, set of months and terms always give the same key."""
    text = f"{member.pk}:" + ",".join(m.isoformat() for m in sorted(set(months)))
    if terms:
        text += "|" + "|".join(str(t) for t in terms)
    return hashlib.sha256(text.encode()).hexdigest()


def _open_order_with_key(member: Member, key: str) -> PaymentOrder | None:
    return PaymentOrder.objects.filter(
        member=member, idempotency_key=key, status__in=PaymentOrder.OPEN_STATUSES
    ).first()


def _require_payer_or_secretary(actor, member: Member) -> None:
    if actor is not None and actor.is_authenticated and member.user_id == actor.pk:
        return
    require_write(scope_for(actor), current_organization(member))


class _Plan:
    """Validated months of one member, with their ledger rows."""

    def __init__(self, *, member, entries, payer, payer_name, voluntary):
        self.member = member
        self.entries = entries
        self.months = [e.month for e in entries]
        self.payer = payer
        self.payer_name = payer_name
        self.voluntary = voluntary
        self.dues = sum((e.amount_due for e in entries), Decimal("0.00"))
        # The organisation holding the newest month collects the order.
        self.organization = entries[-1].organization

    @property
    def amount(self) -> Decimal:
        return self.dues + self.voluntary

    def terms(self, collector: Organization) -> tuple:
        return (self.payer, self.payer_name, self.voluntary, collector.pk)


def _plan(*, member, months, payer, payer_name, voluntary_amount, today) -> _Plan:
    payer, payer_name = _check_payer(payer, payer_name)
    voluntary = _check_voluntary(voluntary_amount)
    chosen = _check_months(months, today)
    if max(chosen) > rules.month_start(today):
        from dues.services.ledger import generate_ledger

        # Future months have no rows until someone asks for them.
        generate_ledger(through=max(chosen), member_ids=[member.pk])
    entries = _owed_entries(member, chosen)
    plan = _Plan(
        member=member,
        entries=entries,
        payer=payer,
        payer_name=payer_name,
        voluntary=voluntary,
    )
    if plan.amount <= 0:
        raise PaymentError(_("There is nothing to pay."), code="nothing_to_pay")
    return plan


def _check_payer(payer: str, payer_name: str) -> tuple[str, str]:
    if payer in _REFUSED_PAYERS:
        # DESIGN.md (dues): the organisation may not pay for the member nor
        # deduct dues from wages; dues are the member's own act.
        message = {
            "organization": _(
                "The organization may not pay dues for a member; the member "
                "or someone on the member's behalf pays."
            ),
            "wage_deduction": _(
                "Dues may not be deducted from wages; the member pays them."
            ),
        }[payer]
        raise PaymentError(message, code=_REFUSED_PAYERS[payer])
    if payer not in PaymentOrder.Payer.values:
        raise PaymentError(_("Choose who pays."), code="payer_unknown")
    payer_name = (payer_name or "").strip()
    if payer == PaymentOrder.Payer.ON_BEHALF and not payer_name:
        raise PaymentError(
            _("Give the name of the person paying on the member's behalf."),
            code="payer_name_required",
        )
    return payer, payer_name if payer == PaymentOrder.Payer.ON_BEHALF else ""


def _check_voluntary(amount) -> Decimal:
    try:
        value = Decimal(str(amount if amount not in (None, "") else 0))
    except InvalidOperation:
        value = Decimal(-1)
    # An exponent ("1e3" became 1E+3) is a slip, not an amount.
    written_plainly = value.is_finite() and value.as_tuple().exponent <= 0
    if not written_plainly or value < 0 or rules.to_fen(value) != value:
        raise PaymentError(
            _("A voluntary amount is zero or more, in yuan and fen."),
            code="voluntary_invalid",
        )
    return rules.to_fen(value)


def _check_months(months, today: datetime.date) -> list[datetime.date]:
    chosen = sorted({rules.month_start(m) for m in months or []})
    if not chosen:
        raise PaymentError(_("Choose at least one month."), code="no_months")
    start = settings.LIUDONG_DUES_LEDGER_START
    if chosen[0] < start:
        raise PaymentError(
            _("Months before %(start)s are not kept here."),
            code="before_ledger",
            params={"start": f"{start:%Y-%m}"},
        )
    horizon = rules.month_start(today) + relativedelta(months=_ahead_horizon())
    if chosen[-1] > horizon:
        raise PaymentError(
            _("Months after %(horizon)s cannot be paid yet."),
            code="beyond_horizon",
            params={"horizon": f"{horizon:%Y-%m}"},
        )
    return chosen


def _ahead_horizon() -> int:
    return max(AHEAD_HORIZON_MONTHS, settings.LIUDONG_DUES_MAX_AHEAD_MONTHS)


def _owed_entries(member: Member, chosen: list) -> list[LedgerEntry]:
    live = {
        e.month: e
        for e in LedgerEntry.objects.filter(member=member, month__lte=chosen[-1])
        .exclude(status=LedgerEntry.Status.CANCELLED)
        .select_related("organization")
    }
    for month in chosen:
        _check_owed(live.get(month), month)
    # Oldest first: a month left unpaid before the last chosen one would be
    # a hole in the member's record that nothing ever fills.
    holes = [
        m for m, e in sorted(live.items()) if e.status == "due" and m not in chosen
    ]
    if holes:
        raise PaymentError(
            _("Pay the older unpaid months first: %(months)s."),
            code="months_skipped",
            params={"months": ", ".join(f"{m:%Y-%m}" for m in holes)},
        )
    return [live[m] for m in chosen]


def _check_owed(entry: LedgerEntry | None, month: datetime.date) -> None:
    params = {"month": f"{month:%Y-%m}"}
    if entry is None:
        raise PaymentError(
            _("No dues are owed for %(month)s."), code="month_not_owed", params=params
        )
    if entry.status != LedgerEntry.Status.DUE:
        raise PaymentError(
            _("%(month)s is already settled."), code="month_settled", params=params
        )
    if entry.amount_due is None:
        raise PaymentError(
            _("The dues for %(month)s are not assessed yet."),
            code="amount_unknown",
            params=params,
        )


def _approval_reason(months: list, today: datetime.date) -> str:
    current = rules.month_start(today)
    arrears = sum(1 for m in months if m < current)
    ahead = sum(1 for m in months if m > current)
    if arrears > settings.LIUDONG_DUES_MAX_ARREARS_MONTHS:
        return _("%(count)s months of arrears at once (more than %(limit)s)") % {
            "count": arrears,
            "limit": settings.LIUDONG_DUES_MAX_ARREARS_MONTHS,
        }
    if ahead > settings.LIUDONG_DUES_MAX_AHEAD_MONTHS:
        return _("%(count)s months paid ahead at once (more than %(limit)s)") % {
            "count": ahead,
            "limit": settings.LIUDONG_DUES_MAX_AHEAD_MONTHS,
        }
    return ""


def _inflow_organization(member: Member) -> Organization:
    inflow = inflow_collector(member)
    if inflow is None:
        raise PaymentError(
            _(
                "Only a member away with a mobile activity certificate and an "
                "inflow organization may pay there."
            ),
            code="not_at_inflow",
        )
    return inflow


def _create_order(*, actor, plan, key, channel, collector, approval_reason):
    superseded = _supersede_overlapping(
        plan, keep_key=key if channel in ONLINE_CHANNELS else None
    )
    order = PaymentOrder.objects.create(
        reference=new_reference("DF"),
        member=plan.member,
        idempotency_key=key,
        months=plan.months,
        amount=plan.amount,
        voluntary_amount=plan.voluntary,
        channel=channel,
        payer=plan.payer,
        payer_name=plan.payer_name,
        collected_by=collector,
        status=Status.AWAITING_APPROVAL if approval_reason else Status.PENDING,
        approval_reason=approval_reason,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _create_lines(order, plan)
    audit_record(
        actor=order.created_by,
        action="dues.order.opened",
        member=plan.member,
        organization=collector,
        reference=order.reference,
        months=[f"{m:%Y-%m}" for m in plan.months],
        amount=str(order.amount),
        status=order.status,
        superseded=superseded,
    )
    logger.info(
        "dues order opened order=%s member=%s amount=%s status=%s",
        order.reference,
        plan.member.pk,
        order.amount,
        order.status,
    )
    return order


def _create_lines(order: PaymentOrder, plan: _Plan) -> None:
    last = len(plan.entries) - 1
    PaymentLine.objects.bulk_create(
        PaymentLine(
            order=order,
            entry=entry,
            month=entry.month,
            amount_due=entry.amount_due,
            voluntary_amount=plan.voluntary if i == last else Decimal(0),
        )
        for i, entry in enumerate(plan.entries)
    )


def _supersede_overlapping(plan: _Plan, *, keep_key: str | None) -> list[str]:
    # The member changed their mind about which months to pay, or a
    # secretary took the money in cash: older open orders for these months
    # go. Should one be paid after all, settling refunds what is paid twice.
    overlapping = PaymentOrder.objects.filter(
        member=plan.member,
        status__in=PaymentOrder.OPEN_STATUSES,
        months__overlap=plan.months,
    )
    if keep_key is not None:
        # A concurrent request for the same months is not superseded: the
        # unique index makes one of the two give way to the other.
        overlapping = overlapping.exclude(idempotency_key=keep_key)
    references = list(overlapping.values_list("reference", flat=True))
    overlapping.update(status=Status.CLOSED, updated_at=timezone.now())
    return references


def start_payment(order: PaymentOrder, *, return_url: str, **options) -> str:
    """The URL that takes the member to the gateway to pay ``order``."""
    if order.status != Status.PENDING:
        raise PaymentError(
            _("This order cannot be paid now (%(status)s)."),
            code="order_not_payable",
            params={"status": order.get_status_display()},
        )
    return get_gateway(order.channel).start(order, return_url, **options)


# Secretary decisions


def approve_order(*, actor, order: PaymentOrder) -> PaymentOrder:
    """Let an order beyond the arrears or ahead limit be paid."""
    return _decide(actor=actor, order=order, status=Status.PENDING)


def reject_order(*, actor, order: PaymentOrder, note: str = "") -> PaymentOrder:
    """Refuse an order beyond the arrears or ahead limit."""
    return _decide(actor=actor, order=order, status=Status.REJECTED, note=note)


def _decide(*, actor, order, status, note="") -> PaymentOrder:
    require_write(scope_for(actor), order.collected_by)
    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().get(pk=order.pk)
        if order.status != Status.AWAITING_APPROVAL:
            raise PaymentError(
                _("This order is not awaiting approval."), code="not_awaiting"
            )
        order.status = status
        order.decided_by = actor
        order.decided_at = timezone.now()
        order.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
        action = "approved" if status == Status.PENDING else "rejected"
        audit_record(
            actor=actor,
            action=f"dues.order.{action}",
            member=order.member,
            organization=order.collected_by,
            reference=order.reference,
            note=note,
        )
    logger.info("dues order %s order=%s", action, order.reference)
    return order


# Offline payments


def record_offline_payment(
    *,
    actor,
    member: Member,
    months,
    channel: str,
    paid_on: datetime.date,
    payer: str = "self",
    payer_name: str = "",
    voluntary_amount=Decimal(0),
    today: datetime.date | None = None,
) -> PaymentOrder:
    """Record dues a secretary received in cash or by bank transfer."""
    if channel not in OFFLINE_CHANNELS:
        raise PaymentError(
            _("Record cash or bank transfers only."), code="channel_not_offline"
        )
    today = today or timezone.localdate()
    if paid_on > today:
        raise PaymentError(
            _("The payment date cannot be in the future."), code="paid_on_future"
        )
    if paid_on < settings.LIUDONG_DUES_LEDGER_START:
        raise PaymentError(
            _("The payment date cannot be before %(start)s, when the ledger starts."),
            code="paid_on_before_ledger",
            params={"start": f"{settings.LIUDONG_DUES_LEDGER_START:%Y-%m-%d}"},
        )
    plan = _plan(
        member=member,
        months=months,
        payer=payer,
        payer_name=payer_name,
        voluntary_amount=voluntary_amount,
        today=today,
    )
    require_write(scope_for(actor), plan.organization)

    with transaction.atomic():
        order = _create_order(
            actor=actor,
            plan=plan,
            key=idempotency_key(member, plan.months),
            channel=channel,
            collector=plan.organization,
            approval_reason="",
        )
        order = PaymentOrder.objects.select_for_update().get(pk=order.pk)
        settle(order, transaction_id="", paid_at=_paid_at(paid_on, today), actor=actor)
        audit_record(
            actor=actor,
            action="dues.payment.recorded",
            member=member,
            organization=plan.organization,
            reference=order.reference,
            channel=channel,
            amount=str(order.amount),
            receipt=order.receipt_number,
        )
    logger.info("dues offline payment order=%s channel=%s", order.reference, channel)
    return order


def _paid_at(paid_on: datetime.date, today: datetime.date) -> datetime.datetime:
    if paid_on == today:
        return timezone.now()
    # Only the day is known; noon keeps it on that day in every time zone
    # the country spans.
    return timezone.make_aware(datetime.datetime.combine(paid_on, datetime.time(12)))


__all__ = [
    "OFFLINE_CHANNELS",
    "PaymentError",
    "apply_notice",
    "approve_order",
    "handle_notification",
    "idempotency_key",
    "new_reference",
    "next_receipt_number",
    "open_order",
    "reconcile_pending",
    "record_offline_payment",
    "refund",
    "reject_order",
    "send_refund",
    "start_payment",
]
