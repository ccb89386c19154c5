"""Settling payments: gateway notifications, receipts, refunds and
reconciliation. Part of the payments services; callers import these from
``dues.services.payments``, which re-exports them.

- A verified notice about an order (a callback, or the answer to a query)
  goes through :func:`apply_notice`, which locks the order row and settles
  it once: its months become paid and a receipt number is drawn.
- A success that arrives after the order was closed still credits the
  months that are unpaid; months another order paid meanwhile are refunded
  (a Refund row is written and sent to the gateway after commit).
- A failure or close notice for an order already paid is ignored.
- A refund reopens the months; cash and bank refunds succeed when recorded,
  online ones when the gateway says so.
"""

import datetime
import logging
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from dues import rules
from dues.gateways import (
    ONLINE_CHANNELS,
    BadSignature,
    GatewayError,
    available,
    get_gateway,
)
from dues.gateways import base as gateway_base
from dues.models import (
    GatewayNotification,
    LedgerEntry,
    PaymentLine,
    PaymentOrder,
    ReceiptSequence,
    Refund,
)
from members.services import audit_record
from members.services._common import require_write
from organizations.scope import scope_for

logger = logging.getLogger(__name__)

Outcome = GatewayNotification.Outcome
Status = PaymentOrder.Status
OFFLINE_CHANNELS = ("cash", "bank")
_SETTLED = (Status.PAID, Status.REFUNDED, Status.PARTLY_REFUNDED)


class PaymentError(ValidationError):
    """A payment request breaks a rule; ``code`` says which, stably."""

    def __init__(self, message, *, code: str, params: dict | None = None):
        super().__init__(message, code=code, params=params)


def new_reference(prefix: str) -> str:
    """An order or refund number: prefix, date, 12 random hex digits."""
    # 48 random bits: nobody guesses another member's order from their own.
    return f"{prefix}{timezone.localdate():%Y%m%d}{secrets.token_hex(6).upper()}"


# Callbacks and settling


def handle_notification(channel: str, request) -> GatewayNotification:
    """Verify a gateway's callback and act on it once; record it always."""
    gateway = get_gateway(channel)
    # Read the raw body first: a form-encoded callback parsed into POST
    # could not be kept as it came otherwise.
    body = request.body
    try:
        notice = gateway.parse_notification(request)
    except BadSignature as exc:
        logger.warning("dues callback bad signature channel=%s: %s", channel, exc)
        return GatewayNotification.objects.create(
            channel=channel,
            outcome=Outcome.BAD_SIGNATURE,
            payload={"body": body[:2000].decode("utf-8", "replace")},
        )
    return apply_notice(channel, notice)


def apply_notice(channel: str, notice: gateway_base.Notification):
    """Act on a verified statement about an order (callback or query)."""
    with transaction.atomic():
        order = (
            PaymentOrder.objects.select_for_update()
            .filter(reference=notice.reference, channel=channel)
            .first()
        )
        outcome = _outcome(order, notice)
        record = GatewayNotification.objects.create(
            channel=channel,
            order=order,
            order_reference=notice.reference[:64],
            transaction_id=notice.transaction_id[:64],
            amount=notice.amount,
            trade_status=notice.trade_status[:32],
            outcome=outcome,
            payload=notice.payload,
        )
    _log_outcome(channel, notice, outcome)
    return record


def _outcome(order: PaymentOrder | None, notice) -> str:
    if order is None:
        return Outcome.UNKNOWN_ORDER
    if notice.status == gateway_base.REFUND:
        _confirm_refund(order, notice)
        return Outcome.REFUNDED
    if notice.status != gateway_base.PAID:
        return _unpaid_notice(order, notice)
    if notice.amount != order.amount:
        return Outcome.AMOUNT_MISMATCH
    if order.status in _SETTLED:
        if order.gateway_transaction_id != notice.transaction_id:
            # Paid twice at the gateway for one order: the second payment
            # is on record here and an operator returns it.
            logger.warning(
                "dues order paid by a second transaction order=%s transaction=%s",
                order.reference,
                notice.transaction_id,
            )
        return Outcome.DUPLICATE
    settle(order, transaction_id=notice.transaction_id, paid_at=timezone.now())
    return Outcome.CREDITED


def _confirm_refund(order: PaymentOrder, notice) -> None:
    # A refund the gateway accepted as "processing" ends with this notice.
    reference = notice.payload.get("out_refund_no") or notice.payload.get(
        "out_biz_no", ""
    )
    succeeded = notice.trade_status in ("SUCCESS", "TRADE_SUCCESS", "TRADE_CLOSED")
    Refund.objects.filter(
        order=order, reference=reference, status=Refund.Status.REQUESTED
    ).update(
        status=Refund.Status.SUCCEEDED if succeeded else Refund.Status.FAILED,
        completed_at=timezone.now(),
    )


def _unpaid_notice(order: PaymentOrder, notice) -> str:
    # Only an order still waiting learns it failed; after a success (or a
    # close of our own) a late failure notice changes nothing.
    if order.status != Status.PENDING or notice.status not in (
        gateway_base.FAILED,
        gateway_base.CLOSED,
    ):
        return Outcome.IGNORED
    order.status = (
        Status.FAILED if notice.status == gateway_base.FAILED else Status.CLOSED
    )
    order.save(update_fields=["status", "updated_at"])
    return Outcome.FAILED


def _log_outcome(channel, notice, outcome) -> None:
    anomalies = (Outcome.AMOUNT_MISMATCH, Outcome.UNKNOWN_ORDER)
    level = logging.WARNING if outcome in anomalies else logging.INFO
    logger.log(
        level,
        "dues notification channel=%s order=%s transaction=%s amount=%s outcome=%s",
        channel,
        notice.reference,
        notice.transaction_id,
        notice.amount,
        outcome,
    )


def settle(order: PaymentOrder, *, transaction_id: str, paid_at, actor=None):
    """Credit ``order``'s months; call with the order row locked."""
    lines = list(order.lines.order_by("month"))
    entries = {
        e.pk: e
        for e in LedgerEntry.objects.select_for_update()
        .filter(pk__in=[line.entry_id for line in lines])
        .order_by("pk")
    }
    open_lines = [line for line in lines if _still_due(entries[line.entry_id])]
    taken = [line for line in lines if line not in open_lines]

    order.status = Status.PAID
    order.gateway_transaction_id = transaction_id
    order.paid_at = paid_at
    order.receipt_number = next_receipt_number(paid_at)
    order.save()
    _credit_entries(order, open_lines, entries)
    if taken:
        _refund_taken(order, taken, actor=actor)
    transaction.on_commit(lambda: _send_receipt(order.pk), robust=True)


def _still_due(entry: LedgerEntry) -> bool:
    return entry.status == LedgerEntry.Status.DUE and entry.payment_id is None


def _credit_entries(order, lines, entries) -> None:
    voluntary_to = lines[-1] if lines else None
    for line in lines:
        entry = entries[line.entry_id]
        entry.status = LedgerEntry.Status.PAID
        entry.paid_amount = line.amount_due
        entry.voluntary_amount = (
            order.voluntary_amount if line is voluntary_to else Decimal(0)
        )
        entry.paid_at = order.paid_at
        entry.payment = order
        # Paid at the inflow organisation: the month stays on the outflow
        # organisation's ledger, shown as collected there.
        entry.collected_by = (
            order.collected_by
            if order.collected_by_id != entry.organization_id
            else None
        )
        entry.save()
    if voluntary_to is not None and voluntary_to.voluntary_amount != (
        order.voluntary_amount
    ):
        PaymentLine.objects.filter(order=order).update(voluntary_amount=0)
        PaymentLine.objects.filter(pk=voluntary_to.pk).update(
            voluntary_amount=order.voluntary_amount
        )


def _refund_taken(order: PaymentOrder, taken: list, *, actor) -> None:
    # Another order paid these months while this one was closed or still
    # waiting: the money came anyway, so it is recorded here and returned.
    credited_any = len(taken) < order.lines.count()
    amount = sum((line.amount_due for line in taken), Decimal("0.00"))
    if not credited_any:
        amount += order.voluntary_amount
    months = [line.month for line in taken]
    PaymentLine.objects.filter(pk__in=[line.pk for line in taken]).update(refunded=True)
    refund_row = _record_refund(
        order,
        months=months,
        amount=amount,
        reason=_("Months already paid by another order."),
        actor=actor,
    )
    logger.warning(
        "dues order paid for months already paid order=%s refund=%s amount=%s",
        order.reference,
        refund_row.reference,
        amount,
    )
    transaction.on_commit(lambda: send_refund(refund_row.pk), robust=True)


def next_receipt_number(paid_at: datetime.datetime) -> str:
    """The next receipt number of ``paid_at``'s year, e.g. 2026-000123."""
    year = timezone.localtime(paid_at).year
    # The row lock makes concurrent settlements queue for the number, so no
    # number is handed out twice and none is skipped.
    ReceiptSequence.objects.bulk_create(
        [ReceiptSequence(year=year)], ignore_conflicts=True
    )
    sequence = ReceiptSequence.objects.select_for_update().get(year=year)
    sequence.last = F("last") + 1
    sequence.save(update_fields=["last"])
    sequence.refresh_from_db(fields=["last"])
    return f"{year}-{sequence.last:06d}"


def _send_receipt(order_id: int) -> None:
    from dues.tasks import send_receipt_mail

    send_receipt_mail.delay(order_id)


# Refunds


def refund(*, actor, order: PaymentOrder, months, reason: str) -> Refund:
    """Return the money for ``months`` of a paid order and reopen them."""
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError(_("Give the reason for the refund."), code="reason_required")
    require_write(scope_for(actor), order.collected_by)

    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().get(pk=order.pk)
        lines = _refundable_lines(order, months)
        _reopen_entries(order, lines)
        PaymentLine.objects.filter(pk__in=[line.pk for line in lines]).update(
            refunded=True
        )
        refund_row = _record_refund(
            order,
            months=[line.month for line in lines],
            amount=sum(
                (line.amount_due + line.voluntary_amount for line in lines),
                Decimal("0.00"),
            ),
            reason=reason,
            actor=actor,
        )
        audit_record(
            actor=actor,
            action="dues.payment.refunded",
            member=order.member,
            organization=order.collected_by,
            reference=order.reference,
            refund=refund_row.reference,
            months=[f"{m:%Y-%m}" for m in refund_row.months],
            amount=str(refund_row.amount),
        )
    send_refund(refund_row.pk)
    refund_row.refresh_from_db()
    return refund_row


def _refundable_lines(order: PaymentOrder, months) -> list[PaymentLine]:
    if order.status not in (Status.PAID, Status.PARTLY_REFUNDED):
        raise PaymentError(_("Only a paid order can be refunded."), code="not_paid")
    chosen = sorted({rules.month_start(m) for m in months or []})
    if not chosen:
        raise PaymentError(_("Choose at least one month."), code="no_months")
    lines = {line.month: line for line in order.lines.all()}
    for month in chosen:
        line = lines.get(month)
        params = {"month": f"{month:%Y-%m}"}
        if line is None:
            raise PaymentError(
                _("%(month)s is not part of this order."),
                code="month_not_in_order",
                params=params,
            )
        if line.refunded:
            raise PaymentError(
                _("%(month)s was already refunded."),
                code="month_refunded",
                params=params,
            )
    return [lines[m] for m in chosen]


def _reopen_entries(order: PaymentOrder, lines: list) -> None:
    LedgerEntry.objects.filter(
        pk__in=[line.entry_id for line in lines], payment=order
    ).update(
        status=LedgerEntry.Status.DUE,
        paid_amount=0,
        voluntary_amount=0,
        paid_at=None,
        payment=None,
        collected_by=None,
        updated_at=timezone.now(),
    )


def _record_refund(order, *, months, amount, reason, actor) -> Refund:
    order.refunded_amount += amount
    all_refunded = not order.lines.filter(refunded=False).exists()
    order.status = Status.REFUNDED if all_refunded else Status.PARTLY_REFUNDED
    order.save(update_fields=["refunded_amount", "status", "updated_at"])
    offline = order.channel in OFFLINE_CHANNELS
    return Refund.objects.create(
        order=order,
        reference=new_reference("RF"),
        months=months,
        amount=amount,
        reason=reason,
        # Cash and bank money goes back by hand when the secretary records
        # the refund; online money goes back through the gateway.
        status=Refund.Status.SUCCEEDED if offline else Refund.Status.REQUESTED,
        completed_at=timezone.now() if offline else None,
        requested_by=actor if getattr(actor, "pk", None) else None,
    )


def send_refund(refund_id: int) -> Refund:
    """Ask the gateway to return a requested refund; record its answer."""
    refund_row = Refund.objects.select_related("order").get(pk=refund_id)
    if refund_row.status != Refund.Status.REQUESTED:
        return refund_row
    try:
        result = get_gateway(refund_row.order.channel).refund(
            refund_row.order, refund_row
        )
    except GatewayError:
        logger.exception(
            "dues refund failed at gateway refund=%s", refund_row.reference
        )
        Refund.objects.filter(pk=refund_id).update(status=Refund.Status.FAILED)
        return refund_row
    if result.pending:
        Refund.objects.filter(pk=refund_id).update(
            gateway_refund_id=result.gateway_refund_id
        )
    else:
        Refund.objects.filter(pk=refund_id).update(
            status=Refund.Status.SUCCEEDED
            if result.succeeded
            else Refund.Status.FAILED,
            gateway_refund_id=result.gateway_refund_id,
            completed_at=timezone.now(),
        )
    if not result.succeeded and not result.pending:
        logger.error("dues refund refused by gateway refund=%s", refund_row.reference)
    return refund_row


# Reconciliation


def reconcile_pending(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Ask the gateway about orders left pending; settle or close them."""
    now = now or timezone.now()
    asked_before = now - datetime.timedelta(
        minutes=settings.LIUDONG_DUES_RECONCILE_AFTER_MINUTES
    )
    expired_before = now - datetime.timedelta(
        hours=settings.LIUDONG_DUES_ORDER_TTL_HOURS
    )
    counts = {"checked": 0, "settled": 0, "closed": 0, "unchanged": 0, "errors": 0}
    pending = PaymentOrder.objects.filter(
        status=Status.PENDING,
        channel__in=[c for c in ONLINE_CHANNELS if available(c)],
        created_at__lt=asked_before,
    ).order_by("created_at")
    for order in pending.iterator():
        counts["checked"] += 1
        counts[_reconcile_one(order, expired=order.created_at < expired_before)] += 1
    logger.info(
        "dues reconciliation checked=%s settled=%s closed=%s errors=%s",
        counts["checked"],
        counts["settled"],
        counts["closed"],
        counts["errors"],
    )
    return counts


def _reconcile_one(order: PaymentOrder, *, expired: bool) -> str:
    try:
        result = get_gateway(order.channel).query(order)
    except GatewayError:
        logger.warning("dues reconciliation query failed order=%s", order.reference)
        return "errors"
    if result.status in (gateway_base.PAID, gateway_base.FAILED, gateway_base.CLOSED):
        notice = gateway_base.Notification(
            reference=order.reference,
            status=result.status,
            transaction_id=result.transaction_id,
            amount=result.amount,
            trade_status=result.trade_status,
            payload={"source": "query", **result.payload},
        )
        record = apply_notice(order.channel, notice)
        if record.outcome == Outcome.CREDITED:
            return "settled"
        if record.outcome == Outcome.FAILED:
            return "closed"
    return _close_if_expired(order, expired)


def _close_if_expired(order: PaymentOrder, expired: bool) -> str:
    if not expired:
        return "unchanged"
    closed = PaymentOrder.objects.filter(pk=order.pk, status=Status.PENDING).update(
        status=Status.CLOSED, updated_at=timezone.now()
    )
    if closed:
        logger.info("dues order closed unpaid order=%s", order.reference)
        return "closed"
    return "unchanged"
