"""Transfers of the membership relationship (组织关系转接).

A transfer is one letter (介绍信) moving through the states of
:data:`TRANSITIONS`. Every step locks the transfer row, checks the state
again inside its transaction, and records a TransferEvent and an audit row.
Only completion (报到) moves the membership, in the same transaction.
"""

import datetime
import enum
import logging
import secrets
from types import SimpleNamespace
from typing import IO

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from psycopg2.extras import DateRange

from members.identity import parse_id_number
from members.models import (
    ACTIVE_MOBILITY_STATUSES,
    Ethnicity,
    Member,
    MembershipPeriod,
    Mobility,
    User,
)
from members.selectors import current_organization
from members.services import (
    MobilityStateError,
    audit_record,
    mobility_close_for_transfer,
    validate_record,
)
from organizations.models import (
    OPEN_TRANSFER_STATES,
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
# No 0/O or 1/I: the code is read off paper and typed in.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_SCAN_TYPES = {b"%PDF-": "pdf", b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg"}


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


# Guards and helpers


def _constraint_of(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def _open_transfer_error() -> TransferStateError:
    return TransferStateError(
        _("This member already has an open transfer."), code="transfer_open"
    )


def _sending_org(transfer: Transfer) -> Organization:
    # A letter from outside the system has no sending side here: the
    # organisation that registered it acts for it (it may withdraw it).
    return transfer.from_organization or transfer.to_organization


def _receiving_org(transfer: Transfer) -> Organization:
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


def _authorise(
    actor: User, transfer: Transfer, side: Side, *, member_may: bool = False
) -> None:
    """Let ``actor`` act for ``side`` of ``transfer``, or raise.

    Out of scope on both sides is 404; a read-only role or the other side's
    secretary is 403.
    """
    scope = scope_for(actor)
    sending, receiving = _sending_org(transfer), _receiving_org(transfer)
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


def _require_write(scope: Scope, organization: Organization | None) -> None:
    if organization is None or not scope.reads(organization):
        raise OutOfScope()
    if not scope.writes(organization):
        raise ReadOnlyScope()


def _locked(transfer: Transfer) -> Transfer:
    # A second secretary acting on the same letter waits here for the first
    # one's transaction, then reads the state it committed; "of" locks the
    # transfer row only, not the organisations or the member joined to it.
    return (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("member", "from_organization", "to_organization")
        .get(pk=transfer.pk)
    )


def _check_state(transfer: Transfer, to_state: str) -> None:
    if not is_legal(transfer.state, to_state):
        raise TransferStateError(
            _("This transfer is now “%(state)s” and cannot become “%(target)s”."),
            code="transfer_state",
            params={
                "state": transfer.get_state_display(),
                "target": State(to_state).label,
            },
        )


def _record(
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
        organization=_sending_org(transfer),
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


def _apply(
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
    _record(transfer, actor=actor, from_state=from_state, reason=reason)
    return transfer


def _insert(transfer: Transfer) -> Transfer:
    # The partial unique index decides when two letters for one member race;
    # the savepoint keeps the caller's transaction usable after it fires.
    try:
        with transaction.atomic():
            transfer.save(force_insert=True)
    except IntegrityError as exc:
        if _constraint_of(exc) == "transfer_one_open_per_member":
            raise _open_transfer_error() from None
        raise
    return transfer


def _reserve_numbers(year: int, count: int) -> list[str]:
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


def _age(birth_date: datetime.date, on: datetime.date) -> int:
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - before_birthday


def _issuer(organization: Organization) -> Organization:
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


def _snapshot(
    member: Member | SimpleNamespace, *, on: datetime.date, issuer: Organization
) -> dict:
    return {
        "name": member.name,
        "gender": member.gender,
        "age": _age(member.birth_date, on),
        "ethnicity_id": member.ethnicity_id,
        "is_probationary": member.status == Member.Status.PROBATIONARY,
        "id_number": member.id_number,
        "issuer_address": issuer.address,
        "issuer_phone": issuer.phone,
    }


def _checked_validity(days: int | None) -> int:
    days = settings.LIUDONG_TRANSFER_VALIDITY_DAYS if days is None else days
    maximum = settings.LIUDONG_TRANSFER_VALIDITY_MAX_DAYS
    if not 1 <= days <= maximum:
        raise ValidationError(
            {
                "validity_days": ValidationError(
                    _("A letter is valid for 1 to %(max)s days."),
                    code="validity_range",
                    params={"max": maximum},
                )
            }
        )
    return days


def _checked_dues(month: datetime.date | None, *, on: datetime.date) -> datetime.date:
    if month is None:
        raise ValidationError({"dues_paid_through": _("This field is required.")})
    required = dues_required_through(on)
    if month.replace(day=1) < required:
        raise ValidationError(
            {
                "dues_paid_through": ValidationError(
                    _("Dues must be paid through %(month)s at least."),
                    code="dues_not_paid",
                    params={"month": f"{required:%Y-%m}"},
                )
            }
        )
    return month.replace(day=1)


def _check_member_may_move(member: Member, day: datetime.date) -> None:
    if member.status not in MOVABLE_STATUSES:
        raise ValidationError(
            _("A member with status “%(status)s” cannot be transferred."),
            code="member_status",
            params={"status": member.get_status_display()},
        )
    if Transfer.objects.filter(member=member, state__in=OPEN_TRANSFER_STATES).exists():
        raise _open_transfer_error()
    pending = MembershipPeriod.objects.filter(
        member=member, period__contains=day, period__upper_inf=False
    )
    if pending.exists():
        raise TransferStateError(
            _("This member's earlier move has not taken effect yet."),
            code="move_pending",
        )


def _check_destination(
    origin: Organization, destination: Organization | None, external: str
) -> None:
    if (destination is None) == (not external):
        raise ValidationError(
            _("Name either an organization in the system or one outside it."),
            code="destination",
        )
    if destination is None:
        return
    if destination.pk == origin.pk:
        raise ValidationError(
            {"to_organization": _("The member is already held there.")}
        )
    if not destination.is_active_on(timezone.localdate()):
        raise ValidationError(
            {"to_organization": _("This organization has been dissolved.")}
        )


def _checked_effective(effective_on: datetime.date | None) -> datetime.date | None:
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


def _checked_scan(scan: IO[bytes]) -> File:
    """Accept a PDF, PNG or JPEG scan by its content, renamed by the server."""
    size = getattr(scan, "size", None)
    if size is not None and size > settings.LIUDONG_TRANSFER_SCAN_MAX_BYTES:
        raise ValidationError(
            {"scan": ValidationError(_("The file is too large."), code="scan_size")}
        )
    scan.seek(0)
    head = scan.read(8)
    scan.seek(0)
    for magic, suffix in _SCAN_TYPES.items():
        if head.startswith(magic):
            return File(scan, name=f"letter.{suffix}")
    raise ValidationError(
        {
            "scan": ValidationError(
                _("Upload the scan as a PDF, PNG or JPEG file."), code="scan_type"
            )
        }
    )


# One letter's path


@transaction.atomic
def transfer_create(
    *,
    actor: User,
    member: Member,
    dues_paid_through: datetime.date,
    to_organization: Organization | None = None,
    to_external: str = "",
    validity_days: int | None = None,
    effective_on: datetime.date | None = None,
    note: str = "",
) -> Transfer:
    """Draft a letter moving ``member`` elsewhere, in or out of the system."""
    day = timezone.localdate()
    # Locking the member orders this against any other change of their
    # membership (another letter, a bulk move) made at the same moment.
    member = Member.objects.select_for_update().get(pk=member.pk)
    origin = current_organization(member, on=day)
    _require_write(scope_for(actor), origin)
    _check_member_may_move(member, day)
    _check_destination(origin, to_organization, to_external.strip())

    transfer = Transfer(
        number=_reserve_numbers(day.year, 1)[0],
        state=State.DRAFT,
        member=member,
        from_organization=origin,
        to_organization=to_organization,
        to_external=to_external.strip(),
        validity_days=_checked_validity(validity_days),
        dues_paid_through=_checked_dues(dues_paid_through, on=day),
        effective_on=_checked_effective(effective_on),
        note=note.strip(),
        created_by=actor,
        **_snapshot(member, on=day, issuer=_issuer(origin)),
    )
    _insert(transfer)

    _record(transfer, actor=actor, from_state="")
    return transfer


@transaction.atomic
def transfer_issue(*, actor: User, transfer: Transfer) -> Transfer:
    """Issue a drafted letter: it is valid from today for its validity days."""
    transfer = _locked(transfer)
    _authorise(actor, transfer, Side.SENDING)
    _check_state(transfer, State.ISSUED)
    day = timezone.localdate()
    _checked_dues(transfer.dues_paid_through, on=day)
    member = Member.objects.select_for_update().get(pk=transfer.member_id)
    if current_organization(member, on=day) != transfer.from_organization:
        raise TransferStateError(
            _("The member's relationship has moved since this letter was drafted."),
            code="membership_changed",
        )

    # The letter is printed now: take the member's details as they stand.
    return _apply(
        transfer,
        actor=actor,
        to_state=State.ISSUED,
        issued_on=day,
        # Valid for validity_days full days after the day of issue.
        valid_until=day + datetime.timedelta(days=transfer.validity_days),
        verification_code="".join(secrets.choice(_CODE_ALPHABET) for _ in range(10)),
        **_snapshot(member, on=day, issuer=_issuer(transfer.from_organization)),
    )


@transaction.atomic
def transfer_withdraw(*, actor: User, transfer: Transfer, reason: str = "") -> Transfer:
    """Withdraw a letter not yet accepted, for the sending side."""
    transfer = _locked(transfer)
    _authorise(actor, transfer, Side.SENDING)
    _check_state(transfer, State.WITHDRAWN)
    return _apply(
        transfer, actor=actor, to_state=State.WITHDRAWN, reason=reason.strip()
    )


@transaction.atomic
def transfer_accept(*, actor: User, transfer: Transfer) -> Transfer:
    """Accept an issued letter, for the receiving side, while it is valid."""
    transfer = _locked(transfer)
    _authorise(actor, transfer, Side.RECEIVING)
    _check_state(transfer, State.ACCEPTED)
    day = timezone.localdate()
    # The nightly job may not have run yet: the date decides, not the state.
    if transfer.valid_until < day:
        raise TransferStateError(
            _(
                "This letter expired on %(date)s; "
                "the sending organization must reissue it."
            ),
            code="transfer_expired",
            params={"date": transfer.valid_until.isoformat()},
        )
    return _apply(transfer, actor=actor, to_state=State.ACCEPTED, accepted_on=day)


@transaction.atomic
def transfer_return(*, actor: User, transfer: Transfer, reason: str) -> Transfer:
    """Send a letter back to the sending side, with a reason."""
    transfer = _locked(transfer)
    _authorise(actor, transfer, Side.RECEIVING)
    _check_state(transfer, State.RETURNED)
    if not reason.strip():
        raise ValidationError(
            {"reason": ValidationError(_("A reason is required."), code="required")}
        )
    return _apply(transfer, actor=actor, to_state=State.RETURNED, reason=reason.strip())


def _placement(
    actor: User, transfer: Transfer, placed_in: Organization | None
) -> Organization | None:
    destination = transfer.to_organization
    if destination is None or placed_in is None:
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
    transfer = _locked(transfer)
    _authorise(actor, transfer, Side.RECEIVING, member_may=True)
    _check_state(transfer, State.REPORTED)
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
    if branch is None and effective <= day:
        Member.objects.filter(pk=member.pk).update(
            status=Member.Status.TRANSFERRED_OUT, updated_at=timezone.now()
        )

    return _apply(
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
    transfer = _locked(transfer)
    _authorise(actor, transfer, Side.RECEIVING)
    _check_state(transfer, State.RECEIPT_RETURNED)
    return _apply(
        transfer,
        actor=actor,
        to_state=State.RECEIPT_RETURNED,
        receipt_returned_on=timezone.localdate(),
    )


@transaction.atomic
def transfer_reissue(
    *,
    actor: User,
    transfer: Transfer,
    dues_paid_through: datetime.date | None = None,
    to_organization: Organization | None = None,
    to_external: str | None = None,
    validity_days: int | None = None,
    effective_on: datetime.date | None = None,
    reason: str = "",
) -> Transfer:
    """Void an issued, expired or returned letter and issue its successor."""
    old = _locked(transfer)
    _authorise(actor, old, Side.SENDING)
    _check_state(old, State.REISSUED)
    if old.from_organization is None:
        raise ValidationError(
            _("Only letters issued in the system can be reissued."),
            code="reissue_external",
        )
    day = timezone.localdate()
    member = Member.objects.select_for_update().get(pk=old.member_id)
    if current_organization(member, on=day) != old.from_organization:
        raise TransferStateError(
            _("The member's relationship has moved since this letter was issued."),
            code="membership_changed",
        )
    if to_organization is None and to_external is None:
        to_organization, to_external = old.to_organization, old.to_external
    to_external = (to_external or "").strip()
    _check_destination(old.from_organization, to_organization, to_external)
    validity = _checked_validity(
        old.validity_days if validity_days is None else validity_days
    )
    dues = _checked_dues(dues_paid_through or old.dues_paid_through, on=day)

    # The old letter leaves the open states first, so the member has one
    # open letter at every moment, as the partial unique index demands.
    _apply(old, actor=actor, to_state=State.REISSUED, reason=reason.strip())
    new = Transfer(
        number=_reserve_numbers(day.year, 1)[0],
        state=State.ISSUED,
        member=member,
        from_organization=old.from_organization,
        to_organization=to_organization,
        to_external=to_external,
        validity_days=validity,
        dues_paid_through=dues,
        effective_on=_checked_effective(effective_on or old.effective_on),
        issued_on=day,
        valid_until=day + datetime.timedelta(days=validity),
        verification_code="".join(secrets.choice(_CODE_ALPHABET) for _ in range(10)),
        note=old.note,
        reissue_of=old,
        created_by=actor,
        **_snapshot(member, on=day, issuer=_issuer(old.from_organization)),
    )
    _insert(new)

    _record(new, actor=actor, from_state="", reason=reason.strip())
    return new


@transaction.atomic
def transfer_register_incoming(
    *,
    actor: User,
    to_organization: Organization,
    from_external: str,
    scan: IO[bytes],
    name: str,
    gender: str,
    id_number: str,
    joined_on: datetime.date,
    issued_on: datetime.date,
    is_probationary: bool = False,
    ethnicity: Ethnicity | None = None,
    dues_paid_through: datetime.date | None = None,
    validity_days: int | None = None,
    external_number: str = "",
    effective_on: datetime.date | None = None,
    note: str = "",
) -> Transfer:
    """Register a letter from outside the system, with its scan, as issued."""
    _require_write(scope_for(actor), to_organization)
    if not from_external.strip():
        raise ValidationError({"from_external": _("Name the issuing organization.")})
    identity = validate_record(
        id_number=id_number,
        birth_date=None,
        gender=gender,
        joined_on=joined_on,
        full_member_on=None,
    )
    day = timezone.localdate()
    validity = _checked_validity(validity_days)
    valid_until = issued_on + datetime.timedelta(days=validity)
    if issued_on > day:
        raise ValidationError({"issued_on": _("The date is in the future.")})
    if valid_until < day:
        raise TransferStateError(
            _("This letter expired on %(date)s."),
            code="transfer_expired",
            params={"date": valid_until.isoformat()},
        )
    member = Member.objects.filter(id_number_hash=identity.hash).first()
    if (
        member is not None
        and member.membership_periods.filter(period__contains=day).exists()
    ):
        raise TransferStateError(
            _(
                "An organization in the system holds this member; "
                "it must issue the transfer."
            ),
            code="member_held",
        )

    transfer = Transfer(
        number=_reserve_numbers(day.year, 1)[0],
        state=State.ISSUED,
        member=member,
        from_external=from_external.strip(),
        external_number=external_number.strip(),
        to_organization=to_organization,
        name=name.strip(),
        gender=gender,
        age=_age(parse_id_number(identity.value).birth_date, issued_on),
        ethnicity=ethnicity,
        is_probationary=is_probationary,
        id_number=identity.value,
        joined_on=joined_on,
        dues_paid_through=dues_paid_through.replace(day=1)
        if dues_paid_through
        else None,
        validity_days=validity,
        issued_on=issued_on,
        valid_until=valid_until,
        effective_on=_checked_effective(effective_on),
        letter_scan=_checked_scan(scan),
        note=note.strip(),
        created_by=actor,
    )
    _insert(transfer)

    _record(transfer, actor=actor, from_state="")
    return transfer


@transaction.atomic
def mobility_convert_to_transfer(
    *,
    actor: User,
    mobility: Mobility,
    dues_paid_through: datetime.date,
    to_organization: Organization | None = None,
    validity_days: int | None = None,
    effective_on: datetime.date | None = None,
) -> Transfer:
    """Turn a long stay into a formal transfer, by default to the host."""
    mobility = (
        Mobility.objects.select_for_update(of=("self",))
        .select_related("member", "inflow_organization")
        .get(pk=mobility.pk)
    )
    if mobility.status not in ACTIVE_MOBILITY_STATUSES:
        raise MobilityStateError(_("This stay has ended."), code="mobility_ended")
    destination = to_organization or mobility.inflow_organization
    if destination is None:
        raise ValidationError(
            {"to_organization": _("Name the organization receiving the member.")}
        )

    # The stay goes on until the transfer completes; completion ends it.
    transfer = transfer_create(
        actor=actor,
        member=mobility.member,
        to_organization=destination,
        dues_paid_through=dues_paid_through,
        validity_days=validity_days,
        effective_on=effective_on,
    )
    transfer = transfer_issue(actor=actor, transfer=transfer)
    mobility.transfer = transfer
    mobility.save(update_fields=["transfer", "updated_at"])

    audit_record(
        actor=actor,
        action="mobility.convert",
        member=mobility.member,
        organization=transfer.from_organization,
        mobility_id=mobility.pk,
        transfer_id=transfer.pk,
    )
    logger.info(
        "mobility converted mobility_id=%s transfer_id=%s", mobility.pk, transfer.pk
    )
    return transfer


# Nightly jobs: set-based, idempotent, safe to run twice at once


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


# Whole organisations


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
    _require_write(scope, from_organization)
    _require_write(scope, to_organization)
    if not reason.strip():
        raise ValidationError({"reason": _("A reason is required.")})
    if to_organization.path.startswith(from_organization.path):
        raise ValidationError(
            {"to_organization": _("Choose an organization outside the one moved.")}
        )
    day = timezone.localdate()
    effective = max(_checked_effective(effective_on) or day, day)

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
    issuer = _issuer(from_organization)
    validity = settings.LIUDONG_TRANSFER_VALIDITY_DAYS
    numbers = _reserve_numbers(day.year, len(members))
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
                **_snapshot(member, on=day, issuer=issuer),
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
