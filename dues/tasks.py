"""Dues jobs: thin Celery tasks around the dues services."""

import datetime
import logging
from smtplib import SMTPException

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from dues import receipts
from dues.models import PaymentOrder
from dues.services import payments
from organizations.models import Organization

logger = logging.getLogger(__name__)

# Each job is idempotent (settling locks the order; the ledger generation
# adds only what is missing), so a retry or a second worker does no harm.
_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
    "soft_time_limit": 15 * 60,
    "time_limit": 20 * 60,
}


@shared_task(**_RETRY)
def reconcile_payments() -> dict[str, int]:
    """Ask the gateways about orders left pending; settle or close them."""
    return payments.reconcile_pending()


@shared_task(**{**_RETRY, "soft_time_limit": 50 * 60, "time_limit": 55 * 60})
def generate_ledgers(month: str | None = None) -> int:
    """Bring every ledger up to ``month`` (ISO date, or this month)."""
    from dues.services.ledger import generate_ledger

    through = datetime.date.fromisoformat(month) if month else timezone.localdate()
    # One top-level organisation at a time: each run is its own transaction,
    # short enough not to hold locks on the whole country's ledger.
    roots = Organization.objects.get_root_nodes()
    for root in roots:
        generate_ledger(through=through, organization=root)
    return len(roots)


@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=60,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def send_receipt_mail(order_id: int) -> bool:
    """Mail a paid order's receipt to the member."""
    order = (
        PaymentOrder.objects.select_related("member__user", "collected_by")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        return False
    try:
        return receipts.send_receipt(order)
    except (SMTPException, OSError):
        # The payment is committed already; only the mail waits for a retry.
        logger.warning("dues receipt mail failed order=%s", order.reference)
        raise
