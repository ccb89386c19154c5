"""Nightly transfer jobs: thin Celery tasks around the transfer services."""

import datetime
import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from organizations import selectors, services

logger = logging.getLogger(__name__)

# Each job is idempotent (a conditional UPDATE claims the rows), so a retry
# after a dropped connection or a second worker does no harm.
_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
    "soft_time_limit": 15 * 60,
    "time_limit": 20 * 60,
}


def _day(day: str | None) -> datetime.date:
    return datetime.date.fromisoformat(day) if day else timezone.localdate()


@shared_task(**_RETRY)
def expire_transfer_letters(day: str | None = None) -> int:
    """Expire issued letters past their validity on ``day`` (ISO, or today)."""
    return services.transfer_expire_due(today=_day(day))


@shared_task(**_RETRY)
def activate_due_transfers(day: str | None = None) -> int:
    """Apply what a date range cannot: transfers out taking effect today."""
    return services.transfer_activate_due(today=_day(day))


@shared_task(**_RETRY)
def flag_overdue_receipts(day: str | None = None) -> int:
    """Count transfers whose receipt (回执) is overdue and log them."""
    # TODO: write a Finding per overdue receipt for the receiving committee;
    # waits for the Finding model of the nightly-checks issue (#8).
    overdue = selectors.transfers_receipt_overdue(today=_day(day))
    count = overdue.count()
    if count:
        logger.warning("transfer receipts overdue count=%s", count)
    return count


# Organisational life (issue 6).


@shared_task(**_RETRY)
def notify_invitations(meeting_id: int, attendance_ids: list[int]) -> int:
    """Tell newly invited members of a meeting, through the notifier."""
    from organizations.meetings.services import send_invitations

    return send_invitations(meeting_id=meeting_id, attendance_ids=attendance_ids)


@shared_task(**_RETRY)
def notify_meeting_change(meeting_id: int, change: str) -> int:
    """Tell a meeting's invitees it moved or was cancelled."""
    from organizations.meetings.services import send_meeting_change

    return send_meeting_change(meeting_id=meeting_id, change=change)


@shared_task(**_RETRY)
def extend_meeting_series() -> int:
    """Plan the coming months of every recurring meeting (idempotent)."""
    from organizations.meetings.services import extend_all_series

    return extend_all_series()
