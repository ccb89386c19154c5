"""One letter's path: drafted, issued, withdrawn, accepted, returned, reissued.

Also letters registered from outside the system and letters made from a
long stay away. Completion (报到) lives in ``completion``.
"""

import datetime
import logging
import secrets
from typing import IO

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
from members.services import MobilityStateError, audit_record, validate_record
from organizations.models import OPEN_TRANSFER_STATES, Organization, Transfer
from organizations.scope import scope_for
from organizations.services import _common
from organizations.services._common import (
    MOVABLE_STATUSES,
    Side,
    State,
    TransferStateError,
    age_on,
    apply,
    authorise,
    check_state,
    checked_effective,
    dues_required_through,
    issuing_committee,
    locked,
    require_write,
    reserve_numbers,
    snapshot,
)

logger = logging.getLogger(__name__)

# No 0/O or 1/I: the code is read off paper and typed in.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_SCAN_TYPES = {b"%PDF-": "pdf", b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg"}


def _constraint_of(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def _open_transfer_error() -> TransferStateError:
    return TransferStateError(
        _("This member already has an open transfer."), code="transfer_open"
    )


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


PREPAID_MONTHS_MAX = 6


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
    # Dues paid in advance are at most six months at a time (DESIGN.md,
    # dues); a month beyond that is a typing error the letter would print
    # as fact.
    latest = on.replace(day=1) + relativedelta(months=PREPAID_MONTHS_MAX)
    if month.replace(day=1) > latest:
        raise ValidationError(
            {
                "dues_paid_through": ValidationError(
                    _("Dues cannot be paid beyond %(month)s."),
                    code="dues_too_far_ahead",
                    params={"month": f"{latest:%Y-%m}"},
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
    require_write(scope_for(actor), origin)
    _check_member_may_move(member, day)
    _check_destination(origin, to_organization, to_external.strip())

    transfer = Transfer(
        number=reserve_numbers(day.year, 1)[0],
        state=State.DRAFT,
        member=member,
        from_organization=origin,
        to_organization=to_organization,
        to_external=to_external.strip(),
        validity_days=_checked_validity(validity_days),
        dues_paid_through=_checked_dues(dues_paid_through, on=day),
        effective_on=checked_effective(effective_on),
        note=note.strip(),
        created_by=actor,
        **snapshot(member, on=day, issuer=issuing_committee(origin)),
    )
    _insert(transfer)

    # Through the module, not an imported name: a test replaces the recorder
    # to pause inside this transaction.
    _common.record(transfer, actor=actor, from_state="")
    return transfer


@transaction.atomic
def transfer_issue(*, actor: User, transfer: Transfer) -> Transfer:
    """Issue a drafted letter: it is valid from today for its validity days."""
    transfer = locked(transfer)
    authorise(actor, transfer, Side.SENDING)
    check_state(transfer, State.ISSUED)
    day = timezone.localdate()
    _checked_dues(transfer.dues_paid_through, on=day)
    member = Member.objects.select_for_update().get(pk=transfer.member_id)
    if current_organization(member, on=day) != transfer.from_organization:
        raise TransferStateError(
            _("The member's relationship has moved since this letter was drafted."),
            code="membership_changed",
        )

    # The letter is printed now: take the member's details as they stand.
    return apply(
        transfer,
        actor=actor,
        to_state=State.ISSUED,
        issued_on=day,
        # Valid for validity_days full days after the day of issue.
        valid_until=day + datetime.timedelta(days=transfer.validity_days),
        verification_code="".join(secrets.choice(_CODE_ALPHABET) for _ in range(10)),
        **snapshot(
            member, on=day, issuer=issuing_committee(transfer.from_organization)
        ),
    )


@transaction.atomic
def transfer_withdraw(*, actor: User, transfer: Transfer, reason: str = "") -> Transfer:
    """Withdraw a letter not yet accepted, for the sending side."""
    transfer = locked(transfer)
    authorise(actor, transfer, Side.SENDING)
    check_state(transfer, State.WITHDRAWN)
    return apply(transfer, actor=actor, to_state=State.WITHDRAWN, reason=reason.strip())


@transaction.atomic
def transfer_accept(*, actor: User, transfer: Transfer) -> Transfer:
    """Accept an issued letter, for the receiving side, while it is valid."""
    transfer = locked(transfer)
    authorise(actor, transfer, Side.RECEIVING)
    check_state(transfer, State.ACCEPTED)
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
    return apply(transfer, actor=actor, to_state=State.ACCEPTED, accepted_on=day)


@transaction.atomic
def transfer_return(*, actor: User, transfer: Transfer, reason: str) -> Transfer:
    """Send a letter back to the sending side, with a reason."""
    transfer = locked(transfer)
    authorise(actor, transfer, Side.RECEIVING)
    check_state(transfer, State.RETURNED)
    if not reason.strip():
        raise ValidationError(
            {"reason": ValidationError(_("A reason is required."), code="required")}
        )
    return apply(transfer, actor=actor, to_state=State.RETURNED, reason=reason.strip())


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
    old = locked(transfer)
    authorise(actor, old, Side.SENDING)
    check_state(old, State.REISSUED)
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
    apply(old, actor=actor, to_state=State.REISSUED, reason=reason.strip())
    new = Transfer(
        number=reserve_numbers(day.year, 1)[0],
        state=State.ISSUED,
        member=member,
        from_organization=old.from_organization,
        to_organization=to_organization,
        to_external=to_external,
        validity_days=validity,
        dues_paid_through=dues,
        effective_on=checked_effective(effective_on or old.effective_on),
        issued_on=day,
        valid_until=day + datetime.timedelta(days=validity),
        verification_code="".join(secrets.choice(_CODE_ALPHABET) for _ in range(10)),
        note=old.note,
        reissue_of=old,
        created_by=actor,
        **snapshot(member, on=day, issuer=issuing_committee(old.from_organization)),
    )
    _insert(new)

    _common.record(new, actor=actor, from_state="", reason=reason.strip())
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
    require_write(scope_for(actor), to_organization)
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
        number=reserve_numbers(day.year, 1)[0],
        state=State.ISSUED,
        member=member,
        from_external=from_external.strip(),
        external_number=external_number.strip(),
        to_organization=to_organization,
        name=name.strip(),
        gender=gender,
        age=age_on(parse_id_number(identity.value).birth_date, issued_on),
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
        effective_on=checked_effective(effective_on),
        letter_scan=_checked_scan(scan),
        note=note.strip(),
        created_by=actor,
    )
    _insert(transfer)

    _common.record(transfer, actor=actor, from_state="")
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
