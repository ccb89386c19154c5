"""Moving every member of an organisation at once (dissolved or merged)."""

import datetime
import logging
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import (
    ACTIVE_MOBILITY_STATUSES,
    Member,
    MembershipPeriod,
    Mobility,
    User,
)
from members.services import audit_record
from organizations.models import OPEN_TRANSFER_STATES, Organization, Transfer
from organizations.scope import scope_for
from organizations.services._common import (
    State,
    TransferStateError,
    checked_effective,
    issuing_committee,
    require_write,
    reserve_numbers,
    snapshot,
)

logger = logging.getLogger(__name__)


def _bulk_guard(held, effective: datetime.date) -> None:
    """Refuse a bulk move that would cross a member's open or pending move."""
    member_ids = held.values("member_id")
    open_count = Transfer.objects.filter(
        member_id__in=member_ids, state__in=OPEN_TRANSFER_STATES
    ).count()
    pending = held.filter(period__upper_inf=False).count()
    if open_count or pending:
        raise TransferStateError(
            _(
                "%(open)s members have an open transfer and %(pending)s a move "
                "still to take effect; settle those first."
            ),
            code="bulk_blocked",
            params={"open": open_count, "pending": pending},
        )


def _bulk_move_periods(
    *, origin: Organization, destination: Organization, day: datetime.date
) -> None:
    params = {"from": origin.pk, "to": destination.pk, "day": day}
    with connection.cursor() as cursor:
        # A period that begins on the day itself never had a day at the old
        # organisation: it is re-pointed rather than split into an empty one.
        cursor.execute(
            "UPDATE members_membershipperiod SET organization_id = %(to)s"
            " WHERE organization_id = %(from)s AND lower(period) = %(day)s"
            " AND upper_inf(period)",
            params,
        )
        cursor.execute(
            "UPDATE members_membershipperiod"
            " SET period = daterange(lower(period), %(day)s, '[)')"
            " WHERE organization_id = %(from)s AND period @> %(day)s::date"
            " AND upper_inf(period) RETURNING member_id",
            params,
        )
        ended = [row[0] for row in cursor.fetchall()]
        # Two statements, not one: the new periods go in only after every
        # old one has ended, so the exclusion constraint sees each member
        # with exactly one organisation on every day.
        cursor.execute(
            "INSERT INTO members_membershipperiod"
            " (member_id, organization_id, period, created_at)"
            " SELECT member_id, %(to)s, daterange(%(day)s, NULL, '[)'), now()"
            " FROM unnest(%(ended)s::bigint[]) AS member_id",
            {**params, "ended": ended},
        )


def _bulk_history(transfer_ids: list[int], *, actor: User, reason: str) -> None:
    """Write each bulk letter's two steps and its audit row, set-based."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO organizations_transferevent
                (transfer_id, actor_id, at, from_state, to_state, reason)
            SELECT t.id, %(actor)s, now(), step.from_state, step.to_state, %(reason)s
            FROM unnest(%(ids)s::bigint[]) AS t(id)
            CROSS JOIN (VALUES (1, '', 'reported'), (2, 'reported', 'receipt_returned'))
                AS step(n, from_state, to_state)
            ORDER BY t.id, step.n
            """,
            {"actor": actor.pk, "reason": reason, "ids": transfer_ids},
        )
        cursor.execute(
            """
            INSERT INTO members_auditevent
                (at, actor_id, action, member_id, organization_id, details)
            SELECT now(), %(actor)s, 'transfer.bulk_move', t.member_id,
                t.from_organization_id, jsonb_build_object('transfer_id', t.id)
            FROM organizations_transfer t WHERE t.id = ANY(%(ids)s)
            """,
            {"actor": actor.pk, "ids": transfer_ids},
        )


@transaction.atomic
def transfer_bulk_move(
    *,
    actor: User,
    from_organization: Organization,
    to_organization: Organization,
    reason: str,
    effective_on: datetime.date | None = None,
) -> int:
    """Move every member one organisation holds to another, in one go.

    For a branch dissolved or merged. The same guarantees as one transfer
    (one organisation per member per day, a letter and history for each),
    written set-based so that ten thousand members take seconds.
    """
    scope = scope_for(actor)
    require_write(scope, from_organization)
    require_write(scope, to_organization)
    if not reason.strip():
        raise ValidationError({"reason": _("A reason is required.")})
    if to_organization.path.startswith(from_organization.path):
        raise ValidationError(
            {"to_organization": _("Choose an organization outside the one moved.")}
        )
    day = timezone.localdate()
    effective = max(checked_effective(effective_on) or day, day)

    held = MembershipPeriod.objects.filter(
        organization=from_organization, period__contains=effective
    )
    # Plain rows, not model instances: only what the letters print, and the
    # row locks that keep single transfers of these members out meanwhile.
    members = [
        SimpleNamespace(**row)
        for row in Member.objects.select_for_update()
        .filter(pk__in=held.values("member_id"))
        .order_by("pk")
        .values(
            "pk", "name", "gender", "birth_date", "ethnicity_id", "status", "id_number"
        )
    ]
    if not members:
        return 0
    _bulk_guard(held, effective)

    # Stays away continue; the relationship they hang from moves.
    Mobility.objects.filter(
        member_id__in=held.values("member_id"),
        status__in=ACTIVE_MOBILITY_STATUSES,
        outflow_organization=from_organization,
    ).update(outflow_organization=to_organization, updated_at=timezone.now())
    _bulk_move_periods(
        origin=from_organization, destination=to_organization, day=effective
    )
    issuer = issuing_committee(from_organization)
    validity = settings.LIUDONG_TRANSFER_VALIDITY_DAYS
    numbers = reserve_numbers(day.year, len(members))
    # A move inside one committee owes no paper receipt: each letter is
    # complete the moment it is written.
    transfers = Transfer.objects.bulk_create(
        [
            Transfer(
                number=number,
                state=State.RECEIPT_RETURNED,
                member_id=member.pk,
                from_organization=from_organization,
                to_organization=to_organization,
                placed_in=to_organization,
                validity_days=validity,
                issued_on=day,
                valid_until=day + datetime.timedelta(days=validity),
                accepted_on=day,
                reported_on=day,
                effective_on=effective,
                receipt_returned_on=day,
                note=reason.strip(),
                created_by=actor,
                **snapshot(member, on=day, issuer=issuer),
            )
            for number, member in zip(numbers, members, strict=True)
        ],
        batch_size=2000,
    )
    _bulk_history([t.pk for t in transfers], actor=actor, reason=reason.strip())

    audit_record(
        actor=actor,
        action="transfer.bulk_move",
        organization=from_organization,
        to_organization_id=to_organization.pk,
        count=len(transfers),
        effective_on=effective.isoformat(),
    )
    logger.info(
        "bulk move from_id=%s to_id=%s count=%s effective_on=%s",
        from_organization.pk,
        to_organization.pk,
        len(transfers),
        effective,
    )
    return len(transfers)
