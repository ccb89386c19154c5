"""Completion (报到) and the receipt (回执): where the membership moves."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from psycopg2.extras import DateRange

from dues.services.ledger import regenerate_member_ledger
from members.identity import parse_id_number
from members.models import Member, MembershipPeriod, User
from members.services import mobility_close_for_transfer, validate_record
from organizations.models import Organization, Transfer
from organizations.scope import scope_for
from organizations.services._common import (
    Side,
    State,
    TransferStateError,
    apply,
    authorise,
    check_state,
    locked,
)

HOLDING_KINDS = frozenset(
    {
        Organization.Kind.BRANCH,
        Organization.Kind.JOINT_BRANCH,
        Organization.Kind.MOBILE_BRANCH,
        Organization.Kind.GENERAL_BRANCH,
    }
)


def _placement(
    actor: User, transfer: Transfer, placed_in: Organization | None
) -> Organization | None:
    destination = transfer.to_organization
    if destination is None:
        return None
    holder = placed_in or destination
    if holder.kind not in HOLDING_KINDS:
        # A letter may be addressed to a committee, but a committee holds no
        # members itself: it places the member in one of its branches.
        raise ValidationError(
            {
                "placed_in": ValidationError(
                    _("Choose the branch that will hold the member."),
                    code="placement_not_branch",
                )
            }
        )
    if placed_in is None:
        return destination
    if not placed_in.path.startswith(destination.path):
        raise ValidationError(
            {"placed_in": _("Choose the receiving organization or one below it.")}
        )
    if not placed_in.is_active_on(timezone.localdate()):
        raise ValidationError({"placed_in": _("This organization has been dissolved.")})
    if not scope_for(actor).writes(placed_in):
        raise PermissionDenied(_("The receiving organization chooses the branch."))
    return placed_in


def _move_membership(
    member: Member,
    *,
    origin: Organization | None,
    destination: Organization | None,
    day: datetime.date,
) -> None:
    """End the period at ``origin`` before ``day``; start one after it."""
    # Closed-open ranges: the old period's upper bound becomes ``day``, so
    # its last day is the day before and the new period starts on ``day``,
    # adjacent, never overlapping; the exclusion constraint checks it again.
    current = (
        MembershipPeriod.objects.select_for_update()
        .filter(member=member, period__contains=day)
        .first()
    )
    if (current.organization_id if current else None) != (
        origin.pk if origin else None
    ):
        raise TransferStateError(
            _("The member's relationship has moved since this letter was issued."),
            code="membership_changed",
        )
    if current is not None:
        if current.period.upper is not None:
            raise TransferStateError(
                _("This member's earlier move has not taken effect yet."),
                code="move_pending",
            )
        if current.period.lower >= day:
            raise TransferStateError(
                _("The member's relationship only began there on %(date)s."),
                code="period_starts_that_day",
                params={"date": day.isoformat()},
            )
        current.period = DateRange(current.period.lower, day)
        current.save(update_fields=["period"])
    if destination is not None:
        MembershipPeriod.objects.create(
            member=member, organization=destination, period=DateRange(day, None)
        )


def _member_from_letter(transfer: Transfer, *, on: datetime.date) -> Member:
    """The member an outside letter names: found by ID number, or created."""
    identity = validate_record(
        id_number=transfer.id_number,
        birth_date=None,
        gender=transfer.gender,
        joined_on=transfer.joined_on,
        full_member_on=None,
    )
    status = (
        Member.Status.PROBATIONARY if transfer.is_probationary else Member.Status.FULL
    )
    existing = (
        Member.objects.select_for_update().filter(id_number_hash=identity.hash).first()
    )
    if existing is None:
        return Member.objects.create(
            name=transfer.name,
            gender=transfer.gender,
            birth_date=parse_id_number(identity.value).birth_date,
            ethnicity_id=transfer.ethnicity_id,
            joined_on=transfer.joined_on,
            id_number=identity.value,
            id_number_hash=identity.hash,
            status=status,
        )
    if MembershipPeriod.objects.filter(member=existing, period__contains=on).exists():
        raise TransferStateError(
            _(
                "An organization in the system holds this member; "
                "it must issue the transfer."
            ),
            code="member_held",
        )
    existing.status = status
    existing.save(update_fields=["status", "updated_at"])
    return existing


@transaction.atomic
def transfer_report(
    *, actor: User, transfer: Transfer, placed_in: Organization | None = None
) -> Transfer:
    """Record the member's arrival (报到): the membership moves, atomically.

    The receiving side records it (choosing a branch below the receiving
    organisation with ``placed_in``), or the member does in the portal.
    """
    transfer = locked(transfer)
    # Leaving the system ends the membership here, so a transfer out is
    # completed by a secretary, never by the member alone.
    internal = transfer.to_organization_id is not None
    authorise(actor, transfer, Side.RECEIVING, member_may=internal)
    check_state(transfer, State.REPORTED)
    day = timezone.localdate()
    branch = _placement(actor, transfer, placed_in)
    # Completion never back-dates the move: figures already reported for
    # past days keep the member where they were (DESIGN.md §3).
    effective = max(transfer.effective_on or day, day)

    # Future-dated moves are written now, dated ``effective``: the old
    # period ends and the new one starts on that day, and every read picks
    # periods by date, so access and counts switch on the day with no job
    # and no window in which a job has not yet run. The exclusion
    # constraint also checks the move now, while a secretary is there to
    # see an error, not at night.
    member = transfer.member or _member_from_letter(transfer, on=effective)
    _move_membership(
        member, origin=transfer.from_organization, destination=branch, day=effective
    )
    mobility_close_for_transfer(member=member, transfer_id=transfer.pk, on=effective)
    transaction.on_commit(lambda: regenerate_member_ledger(member.pk))
    if branch is None and effective <= day:
        Member.objects.filter(pk=member.pk).update(
            status=Member.Status.TRANSFERRED_OUT, updated_at=timezone.now()
        )

    return apply(
        transfer,
        actor=actor,
        to_state=State.REPORTED,
        member=member,
        placed_in=branch,
        reported_on=day,
        effective_on=effective,
    )


@transaction.atomic
def transfer_receipt_return(*, actor: User, transfer: Transfer) -> Transfer:
    """Record that the receipt (回执) went back to the sending side."""
    transfer = locked(transfer)
    authorise(actor, transfer, Side.RECEIVING)
    check_state(transfer, State.RECEIPT_RETURNED)
    return apply(
        transfer,
        actor=actor,
        to_state=State.RECEIPT_RETURNED,
        receipt_returned_on=timezone.localdate(),
    )
