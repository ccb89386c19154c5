"""What every transfer step shares.

The errors, the one table of legal moves, authorisation for each side,
the row lock, and the event and audit row each step records; also the
letter number series and the member details a letter prints.
"""

import datetime
import enum
import logging
from types import SimpleNamespace

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member, User
from members.services import audit_record
from organizations.models import (
    Organization,
    Transfer,
    TransferEvent,
    TransferState,
)
from organizations.scope import OutOfScope, ReadOnlyScope, Scope, scope_for

logger = logging.getLogger(__name__)

State = TransferState

# Members whose relationship can still move; the others have left the
# Party's rolls here (deceased, removed, already transferred out).
MOVABLE_STATUSES = (
    Member.Status.PROBATIONARY,
    Member.Status.FULL,
    Member.Status.SUSPENDED,
)


class TransferStateError(ValidationError):
    """The transfer's state does not allow the action (someone came first)."""


class Side(enum.Enum):
    """Who takes a step: the sending side, the receiving side, or the job."""

    SENDING = "sending"
    RECEIVING = "receiving"
    SYSTEM = "system"


# The one table of legal moves (DESIGN.md §3): each target state, who may
# move a transfer there, and from which states. Nothing else is allowed.
TRANSITIONS: dict[str, tuple[Side, frozenset[str]]] = {
    State.ISSUED: (Side.SENDING, frozenset({State.DRAFT})),
    State.WITHDRAWN: (Side.SENDING, frozenset({State.DRAFT, State.ISSUED})),
    State.REISSUED: (
        Side.SENDING,
        frozenset({State.ISSUED, State.EXPIRED, State.RETURNED}),
    ),
    State.ACCEPTED: (Side.RECEIVING, frozenset({State.ISSUED})),
    State.RETURNED: (Side.RECEIVING, frozenset({State.ISSUED, State.ACCEPTED})),
    State.REPORTED: (Side.RECEIVING, frozenset({State.ACCEPTED})),
    State.RECEIPT_RETURNED: (Side.RECEIVING, frozenset({State.REPORTED})),
    State.EXPIRED: (Side.SYSTEM, frozenset({State.ISSUED})),
}


def is_legal(from_state: str, to_state: str) -> bool:
    """Whether the transition table allows ``from_state`` -> ``to_state``."""
    rule = TRANSITIONS.get(to_state)
    return rule is not None and from_state in rule[1]


def dues_required_through(issued_on: datetime.date) -> datetime.date:
    """The earliest "dues paid through" month for a letter issued then."""
    issue_month = issued_on.replace(day=1)
    if settings.LIUDONG_TRANSFER_DUES_THROUGH == "issue_month":
        return issue_month
    return issue_month - relativedelta(months=1)


def sending_org(transfer: Transfer) -> Organization:
    # A letter from outside the system has no sending side here: the
    # organisation that registered it acts for it (it may withdraw it).
    return transfer.from_organization or transfer.to_organization


def receiving_org(transfer: Transfer) -> Organization:
    # A letter to outside the system has no receiving side here: the sending
    # organisation records what the recipient reports back.
    return transfer.to_organization or transfer.from_organization


def _is_member_self(actor: User, transfer: Transfer) -> bool:
    member = transfer.member
    return (
        member is not None
        and member.user_id is not None
        and (member.user_id == actor.pk)
    )


def authorise(
    actor: User, transfer: Transfer, side: Side, *, member_may: bool = False
) -> None:
    """Let ``actor`` act for ``side`` of ``transfer``, or raise.

    Out of scope on both sides is 404; a read-only role or the other side's
    secretary is 403.
    """
    scope = scope_for(actor)
    sending, receiving = sending_org(transfer), receiving_org(transfer)
    acting = sending if side is Side.SENDING else receiving
    if scope.writes(acting):
        return
    if member_may and _is_member_self(actor, transfer):
        return
    if scope.reads(acting):
        raise ReadOnlyScope()
    if (
        scope.reads(sending)
        or scope.reads(receiving)
        or _is_member_self(actor, transfer)
    ):
        raise PermissionDenied(
            _("Only the sending organization may do this.")
            if side is Side.SENDING
            else _("Only the receiving organization may do this.")
        )
    raise OutOfScope()


def require_write(scope: Scope, organization: Organization | None) -> None:
    if organization is None or not scope.reads(organization):
        raise OutOfScope()
    if not scope.writes(organization):
        raise ReadOnlyScope()


def locked(transfer: Transfer) -> Transfer:
    # A second secretary acting on the same letter waits here for the first
    # one's transaction, then reads the state it committed; "of" locks the
    # transfer row only, not the organisations or the member joined to it.
    return (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("member", "from_organization", "to_organization")
        .get(pk=transfer.pk)
    )


def check_state(transfer: Transfer, to_state: str) -> None:
    if not is_legal(transfer.state, to_state):
        raise TransferStateError(
            _("This transfer is now “%(state)s” and cannot become “%(target)s”."),
            code="transfer_state",
            params={
                "state": transfer.get_state_display(),
                "target": State(to_state).label,
            },
        )


def record(
    transfer: Transfer, *, actor: User | None, from_state: str, reason: str = ""
) -> None:
    TransferEvent.objects.create(
        transfer=transfer,
        actor=actor,
        from_state=from_state,
        to_state=transfer.state,
        reason=reason,
    )
    audit_record(
        actor=actor,
        action=f"transfer.{transfer.state}",
        member=transfer.member,
        organization=sending_org(transfer),
        transfer_id=transfer.pk,
        from_state=from_state,
    )
    logger.info(
        "transfer %s transfer_id=%s from_state=%s actor_id=%s",
        transfer.state,
        transfer.pk,
        from_state or "-",
        actor.pk if actor else None,
    )


def apply(
    transfer: Transfer,
    *,
    actor: User,
    to_state: str,
    reason: str = "",
    **changes: object,
) -> Transfer:
    from_state = transfer.state
    transfer.state = to_state
    for field, value in changes.items():
        setattr(transfer, field, value)
    transfer.save()
    record(transfer, actor=actor, from_state=from_state, reason=reason)
    return transfer


def reserve_numbers(year: int, count: int) -> list[str]:
    """Hand out ``count`` consecutive letter numbers of ``year``."""
    # One upsert per call. It holds the year's counter row until the
    # transaction ends, which orders concurrent issuers; those transactions
    # are short, and a register of letters expects a series without gaps.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO organizations_transfersequence (year, last)"
            " VALUES (%s, %s) ON CONFLICT (year) DO UPDATE"
            " SET last = organizations_transfersequence.last + EXCLUDED.last"
            " RETURNING last",
            [year, count],
        )
        last = cursor.fetchone()[0]
    return [f"{year}-{n:07d}" for n in range(last - count + 1, last + 1)]


def age_on(birth_date: datetime.date, on: datetime.date) -> int:
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - before_birthday


def issuing_committee(organization: Organization) -> Organization:
    """The nearest committee at or above ``organization``: it signs letters."""
    step = Organization.steplen
    paths = [
        organization.path[:end] for end in range(step, len(organization.path) + 1, step)
    ]
    committees = Organization.objects.filter(
        path__in=paths,
        kind__in=[Organization.Kind.COMMITTEE, Organization.Kind.WORKING_COMMITTEE],
    )
    return committees.order_by("-depth").first() or organization


def snapshot(
    member: Member | SimpleNamespace, *, on: datetime.date, issuer: Organization
) -> dict:
    return {
        "name": member.name,
        "gender": member.gender,
        "age": age_on(member.birth_date, on),
        "ethnicity_id": member.ethnicity_id,
        "is_probationary": member.status == Member.Status.PROBATIONARY,
        "id_number": member.id_number,
        "issuer_address": issuer.address,
        "issuer_phone": issuer.phone,
    }


def checked_effective(effective_on: datetime.date | None) -> datetime.date | None:
    if effective_on is not None and effective_on < timezone.localdate():
        raise ValidationError(
            {
                "effective_on": ValidationError(
                    _("A transfer cannot take effect in the past."),
                    code="effective_in_past",
                )
            }
        )
    return effective_on
