"""Nightly transfer jobs: set-based, idempotent, safe to run twice at once."""

import datetime
import logging

from django.db import connection, transaction

from organizations.services._common import MOVABLE_STATUSES, State

logger = logging.getLogger(__name__)


@transaction.atomic
def transfer_expire_due(*, today: datetime.date) -> int:
    """Expire every issued letter whose validity ended before ``today``."""
    # One statement changes the states and writes their events and audit
    # rows. The conditional UPDATE is the claim: a letter being accepted at
    # this moment is locked, and once the accept commits it is no longer
    # "issued", so it is left alone; a second run finds nothing to do.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH expired AS (
                UPDATE organizations_transfer
                SET state = 'expired', updated_at = now()
                WHERE state = 'issued' AND valid_until < %(today)s
                RETURNING id, member_id,
                    COALESCE(from_organization_id, to_organization_id) AS org_id
            ), events AS (
                INSERT INTO organizations_transferevent
                    (transfer_id, actor_id, at, from_state, to_state, reason)
                SELECT id, NULL, now(), 'issued', 'expired', '' FROM expired
            )
            INSERT INTO members_auditevent
                (at, actor_id, action, member_id, organization_id, details)
            SELECT now(), NULL, 'transfer.expired', member_id, org_id,
                jsonb_build_object('transfer_id', id, 'from_state', 'issued')
            FROM expired
            """,
            {"today": today},
        )
        count = cursor.rowcount
    logger.info("transfer letters expired count=%s on=%s", count, today)
    return count


@transaction.atomic
def transfer_activate_due(*, today: datetime.date) -> int:
    """Mark as transferred out the members whose move out takes effect today.

    Moves inside the system need nothing here: completion already wrote
    their periods, dated, and reads pick periods by date. What a date range
    cannot express is the member's status, so a transfer out of the system
    dated in the future sets it on its day, through this job.
    """
    # A member who has since come back is held by a period again and is
    # left alone; the conditional UPDATE makes a second run a no-op.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH departed AS (
                UPDATE members_member m
                SET status = 'transferred_out', updated_at = now()
                WHERE m.status = ANY(%(movable)s)
                AND EXISTS (
                    SELECT 1 FROM organizations_transfer t
                    WHERE t.member_id = m.id AND t.to_organization_id IS NULL
                    AND t.state = ANY(%(completed)s) AND t.effective_on <= %(today)s
                )
                AND NOT EXISTS (
                    SELECT 1 FROM members_membershipperiod p
                    WHERE p.member_id = m.id AND p.period @> %(today)s::date
                )
                RETURNING m.id
            )
            INSERT INTO members_auditevent
                (at, actor_id, action, member_id, organization_id, details)
            SELECT now(), NULL, 'member.transferred_out', id, NULL, '{}'::jsonb
            FROM departed
            """,
            {
                "today": today,
                "movable": [str(s) for s in MOVABLE_STATUSES],
                "completed": [State.REPORTED.value, State.RECEIPT_RETURNED.value],
            },
        )
        count = cursor.rowcount
    logger.info("transfers out took effect count=%s on=%s", count, today)
    return count
