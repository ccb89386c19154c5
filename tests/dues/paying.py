"""Helpers the payment tests share: months, paying through the sandbox."""

import datetime
from decimal import Decimal

from dues.gateways import sandbox
from dues.models import PaymentOrder
from dues.services import payments
from members.models import Mobility

JAN, FEB, MAR, APR = (datetime.date(2026, m, 1) for m in (1, 2, 3, 4))
# The day the tests live on: January to March are arrears, April is due.
TODAY = datetime.date(2026, 4, 15)


def open_order(member, months, **kw) -> PaymentOrder:
    kw.setdefault("actor", member.user)
    kw.setdefault("today", TODAY)
    return payments.open_order(member=member, months=months, **kw)


def notice(order, *, status="paid", amount=None, transaction_id="TX-1") -> dict:
    return {
        "reference": order.reference,
        "status": status,
        "transaction_id": transaction_id,
        "amount": str(order.amount if amount is None else amount),
    }


def deliver(payload: dict, *, secret: str | None = None):
    """Hand a signed sandbox callback to the handler, as the gateway would."""
    request = sandbox.notification_request(payload, secret=secret)
    return payments.handle_notification("sandbox", request)


def pay(order, *, transaction_id="TX-1") -> PaymentOrder:
    deliver(notice(order, transaction_id=transaction_id))
    order.refresh_from_db()
    return order


def away_with_certificate(member, *, inflow, registered_by, certificate="CERT-1"):
    return Mobility.objects.create(
        member=member,
        outflow_organization=member.membership_periods.get().organization,
        destination_region_id=inflow.region_id,
        inflow_organization=inflow,
        status=Mobility.Status.REPORTED,
        left_on=datetime.date(2025, 6, 1),
        reported_on=datetime.date(2025, 6, 10),
        reason=Mobility.Reason.WORK,
        contact="13800138000",
        certificate_number=certificate,
        registered_by=registered_by,
    )


def yuan(text: str) -> Decimal:
    return Decimal(text)


def run_tasks_in_process(settings) -> None:
    """Run Celery tasks in the test's process, never through the broker."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
