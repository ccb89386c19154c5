"""Celery tasks of the members app: thin wrappers over services and reads."""

import datetime
import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from members import imports, selectors
from organizations.scope import Scope

logger = logging.getLogger(__name__)

# The whole province, as the nightly jobs see it.
_EVERYWHERE = Scope(user_id=None, is_operator=True)


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=15 * 60,
    time_limit=20 * 60,
)
def flag_mobility_prompts(day: str | None = None) -> dict[str, int]:
    """Count stays to prompt for: settled long enough, or not reported."""
    # TODO: write Findings (prompt to transfer, report overdue, yearly report
    # missing) instead of log lines; waits for the Finding model of the
    # nightly-checks issue (#8).
    on = datetime.date.fromisoformat(day) if day else timezone.localdate()
    counts = {
        "settled": selectors.mobilities_settled(scope=_EVERYWHERE, on=on).count(),
        "not_reported": selectors.mobilities_not_reported(
            scope=_EVERYWHERE, on=on
        ).count(),
    }
    if any(counts.values()):
        logger.warning(
            "mobility prompts settled=%s not_reported=%s",
            counts["settled"],
            counts["not_reported"],
        )
    return counts


@shared_task(
    acks_late=True,
    ignore_result=True,
    # Before the claim only: once claimed, a failure ends the job "failed"
    # and the task returns normally.
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=imports.TASK_SOFT_TIME_LIMIT,
    time_limit=imports.TASK_TIME_LIMIT,
)
def run_roster_import(job_id: int) -> str | None:
    """Run the queued step (preview or commit) of one roster import."""
    return imports.roster_import_run(job_id=job_id)


@shared_task(ignore_result=True, soft_time_limit=10 * 60, time_limit=15 * 60)
def purge_roster_uploads() -> int:
    """Delete uploaded roster files kept past their retention period."""
    return imports.roster_import_purge_files()
