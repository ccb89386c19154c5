"""Generating the monthly ledger from membership periods.

A member owes a month when a membership period covers at least one day of
it, from the latest of the ledger's first month
(settings.LIUDONG_DUES_LEDGER_START), the month they joined (for a
probationary member, the month the branch accepted them) and the period's
first month. The organisation holding the relationship on the first day of
the month collects it; in a month the member enters mid-month (joins,
arrives from outside, is readmitted), the one holding them on their first
day there does. So a member transferred on the 17th pays that month once,
to the old organisation, and from the next month to the new one.

Everything is set-based SQL over the selected members: no query per member.
Regeneration is idempotent and never touches a paid or waived month.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from dues.models import Assessment, LedgerEntry, Reduction
from dues.rules import month_start
from members.models import Member, MembershipPeriod
from organizations.models import Organization

logger = logging.getLogger(__name__)

# Only these members get new months. A suspended, deceased or removed
# member, or one transferred out of the system, keeps the months already on
# the ledger while a membership period still covers them (arrears stay a
# record until a branch decision waives them), but owes no new month.
PAYING_STATUSES = (Member.Status.PROBATIONARY, Member.Status.FULL)

NOT_OWED = "not_owed"

ENTRY = LedgerEntry._meta.db_table
ASSESSMENT = Assessment._meta.db_table
REDUCTION = Reduction._meta.db_table
MEMBER = Member._meta.db_table
PERIOD = MembershipPeriod._meta.db_table
ORGANIZATION = Organization._meta.db_table


@dataclass(frozen=True)
class LedgerResult:
    """How many months one generation added, re-priced, moved, cancelled."""

    added: int = 0
    repriced: int = 0
    moved: int = 0
    cancelled: int = 0


# The price of a month for alias ``x`` (member_id, month): the assessment in
# force (the latest starting on or before the month), lowered by an
# approved reduction covering it (LEAST skips NULLs; a reduction never
# raises a month). A reduction to nothing waives the month.
_PRICE_JOINS = f"""
    LEFT JOIN LATERAL (
        SELECT a.id, a.monthly_amount FROM {ASSESSMENT} a
        WHERE a.member_id = x.member_id AND a.applies_from <= x.month
        ORDER BY a.applies_from DESC LIMIT 1
    ) a ON true
    LEFT JOIN LATERAL (
        SELECT r.id, r.monthly_amount FROM {REDUCTION} r
        WHERE r.member_id = x.member_id AND r.status = 'approved'
          AND x.month BETWEEN r.first_month AND r.last_month
        ORDER BY r.decided_at DESC, r.id DESC LIMIT 1
    ) r ON true
"""
_PRICE_COLUMNS = """
    a.id AS assessment_id,
    r.id AS reduction_id,
    LEAST(r.monthly_amount, a.monthly_amount) AS amount,
    CASE WHEN r.monthly_amount = 0 THEN 'waived' ELSE 'due' END AS status
"""
_PRICE_CHANGED = """
    (e.amount_due IS DISTINCT FROM p.amount
     OR e.assessment_id IS DISTINCT FROM p.assessment_id
     OR e.reduction_id IS DISTINCT FROM p.reduction_id
     OR e.status <> p.status)
"""


@transaction.atomic
def generate_ledger(
    *,
    through: datetime.date,
    member_ids=None,
    organization: Organization | None = None,
) -> LedgerResult:
    """Bring the ledger of the selected members up to ``through``'s month.

    ``member_ids`` and ``organization`` (every member held anywhere under
    it since the ledger start) narrow the selection; with neither, every
    member is regenerated.
    """
    with connection.cursor() as cursor:
        # The planner over-estimates generate_series, so even one member's
        # regeneration (a transfer's on-commit hook) crossed the JIT
        # threshold and spent a third of a second compiling. Measured in
        # bench/dues_ledger.py: no loss for the whole population either.
        cursor.execute("SET LOCAL jit = off")
        _build_owed(
            cursor,
            through=month_start(through),
            member_ids=member_ids,
            organization=organization,
        )
        cancelled = _cancel_not_owed(cursor)
        added = _add_missing(cursor, through=month_start(through))
        moved = _repoint(cursor)
        repriced = _reprice_from_owed(cursor)
        cursor.execute("DROP TABLE dues_owed, dues_selected")

    result = LedgerResult(
        added=added, repriced=repriced, moved=moved, cancelled=cancelled
    )
    logger.info(
        "dues ledger generated through=%s added=%s repriced=%s moved=%s cancelled=%s",
        f"{through:%Y-%m}",
        added,
        repriced,
        moved,
        cancelled,
    )
    return result


def _selection(member_ids, organization) -> tuple[str, list]:
    clauses, params = ["true"], []
    if member_ids is not None:
        clauses.append("m.id = ANY(%s)")
        params.append(list(member_ids))
    if organization is not None:
        # Held anywhere under the organisation on a day the ledger covers.
        clauses.append(
            f"""EXISTS (
                SELECT 1 FROM {PERIOD} hp JOIN {ORGANIZATION} ho
                  ON ho.id = hp.organization_id
                WHERE hp.member_id = m.id AND ho.path LIKE %s
                  AND (upper(hp.period) IS NULL OR upper(hp.period) > %s))"""
        )
        params += [organization.path + "%", settings.LIUDONG_DUES_LEDGER_START]
    return " AND ".join(clauses), params


def _build_owed(cursor, *, through, member_ids, organization) -> None:
    """Fill the temporary tables ``dues_selected`` and ``dues_owed``.

    ``dues_owed`` holds every month the selected members owe, with its
    collector and price. Months already on the ledger past ``through`` (paid
    ahead, or generated by an earlier run further ahead) are checked too, so
    that a later move re-points or cancels them; only months up to
    ``through`` are added.
    """
    where, params = _selection(member_ids, organization)
    cursor.execute("DROP TABLE IF EXISTS dues_owed, dues_selected")
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE dues_selected ON COMMIT DROP AS
        SELECT m.id AS member_id, m.joined_on, m.status IN %s AS paying,
               GREATEST(%s::date, (
                   SELECT max(le.month) FROM {ENTRY} le
                   WHERE le.member_id = m.id AND le.status <> 'cancelled'
               )) AS horizon
        FROM {MEMBER} m WHERE {where}
        """,
        [tuple(status.value for status in PAYING_STATUSES), through, *params],
    )
    # Statistics before the join below: without them the planner guesses a
    # large selection and scans every membership period even for one member.
    cursor.execute("ANALYZE dues_selected")
    # DISTINCT ON keeps, per member and month, the period starting first:
    # the one covering the 1st when there is one (periods never overlap),
    # otherwise the first one the member entered that month.
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE dues_owed ON COMMIT DROP AS
        WITH owed AS (
            SELECT DISTINCT ON (p.member_id, gs.month)
                   p.member_id, gs.month::date AS month, p.organization_id,
                   s.paying
            FROM {PERIOD} p
            JOIN dues_selected s ON s.member_id = p.member_id
            CROSS JOIN LATERAL generate_series(
                GREATEST(
                    %s::timestamp,
                    date_trunc('month', s.joined_on::timestamp),
                    date_trunc('month', lower(p.period)::timestamp)
                ),
                -- LEAST skips NULL: an open period runs to the horizon.
                LEAST(
                    s.horizon::timestamp,
                    date_trunc('month', (upper(p.period) - 1)::timestamp)
                ),
                interval '1 month'
            ) AS gs(month)
            WHERE NOT isempty(p.period)
            ORDER BY p.member_id, gs.month, lower(p.period)
        )
        SELECT x.member_id, x.month, x.organization_id, x.paying,
               {_PRICE_COLUMNS}
        FROM owed x {_PRICE_JOINS}
        """,
        [settings.LIUDONG_DUES_LEDGER_START],
    )
    cursor.execute("CREATE INDEX ON dues_owed (member_id, month)")
    cursor.execute("ANALYZE dues_owed")


def _cancel_not_owed(cursor) -> int:
    # The WHERE status = 'due' is re-checked after any row lock a payment
    # holds, so a month paid meanwhile is never cancelled.
    cursor.execute(
        f"""
        UPDATE {ENTRY} e
        SET status = 'cancelled', cancelled_at = now(), updated_at = now(),
            cancel_reason = %s
        WHERE e.status = 'due'
          AND e.member_id IN (SELECT member_id FROM dues_selected)
          AND NOT EXISTS (
              SELECT 1 FROM dues_owed o
              WHERE o.member_id = e.member_id AND o.month = e.month)
        """,
        [NOT_OWED],
    )
    return cursor.rowcount


def _add_missing(cursor, *, through) -> int:
    cursor.execute(
        f"""
        INSERT INTO {ENTRY} (
            member_id, month, organization_id, amount_due, assessment_id,
            reduction_id, status, paid_amount, voluntary_amount,
            cancel_reason, created_at, updated_at)
        SELECT o.member_id, o.month, o.organization_id, o.amount,
               o.assessment_id, o.reduction_id, o.status, 0, 0, '',
               now(), now()
        FROM dues_owed o
        WHERE o.paying AND o.month <= %s
          AND NOT EXISTS (
              SELECT 1 FROM {ENTRY} e
              WHERE e.member_id = o.member_id AND e.month = o.month
                AND e.status <> 'cancelled')
        ON CONFLICT (member_id, month) WHERE NOT (status = 'cancelled')
        DO NOTHING
        """,
        [through],
    )
    return cursor.rowcount


def _repoint(cursor) -> int:
    cursor.execute(
        f"""
        UPDATE {ENTRY} e
        SET organization_id = o.organization_id, updated_at = now()
        FROM dues_owed o
        WHERE o.member_id = e.member_id AND o.month = e.month
          AND e.status = 'due' AND e.organization_id <> o.organization_id
        """
    )
    return cursor.rowcount


def _reprice_from_owed(cursor) -> int:
    cursor.execute(
        f"""
        UPDATE {ENTRY} e
        SET amount_due = p.amount, assessment_id = p.assessment_id,
            reduction_id = p.reduction_id, status = p.status,
            updated_at = now()
        FROM dues_owed p
        WHERE p.member_id = e.member_id AND p.month = e.month
          AND e.status = 'due' AND {_PRICE_CHANGED}
        """
    )
    return cursor.rowcount


def reprice_months(
    *,
    member_id: int,
    first_month: datetime.date,
    last_month: datetime.date | None = None,
) -> int:
    """Re-price a member's unpaid months from ``first_month`` on.

    Called after an assessment or an approved reduction changes what the
    months cost; paid and waived months keep what they were settled at.
    """
    bounds, params = "x.month >= %s", [member_id, month_start(first_month)]
    if last_month is not None:
        bounds += " AND x.month <= %s"
        params.append(month_start(last_month))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {ENTRY} e
            SET amount_due = p.amount, assessment_id = p.assessment_id,
                reduction_id = p.reduction_id, status = p.status,
                updated_at = now()
            FROM (
                SELECT x.id, {_PRICE_COLUMNS}
                FROM {ENTRY} x {_PRICE_JOINS}
                WHERE x.member_id = %s AND x.status = 'due' AND {bounds}
            ) p
            WHERE e.id = p.id AND e.status = 'due' AND {_PRICE_CHANGED}
            """,
            params,
        )
        return cursor.rowcount


def regenerate_member_ledger(member_id: int) -> None:
    """Regenerate one member's ledger through this month, after a change.

    Meant for ``transaction.on_commit``: the change it follows is already
    committed, so a failure here is logged and left to the nightly run.
    """
    try:
        generate_ledger(through=timezone.localdate(), member_ids=[member_id])
    except DatabaseError:
        logger.warning(
            "dues ledger regeneration failed member_id=%s", member_id, exc_info=True
        )
