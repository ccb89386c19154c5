"""Mobility (外出流动): a member's stays away from the holding organisation.

The outflow organisation holds the relationship and acts for it; the
inflow organisation accepts and hosts (DESIGN.md §2).
"""

import datetime
import logging
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import (
    ACTIVE_MOBILITY_STATUSES,
    Member,
    Mobility,
    MobilityStatus,
    Occupation,
    User,
)
from members.selectors import current_organization, inflow_organizations_for
from members.services._common import audit_record, require_write
from organizations.models import Organization, Region
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for

logger = logging.getLogger(__name__)


class MobilityStateError(ValidationError):
    """The mobility record is not in a state that allows the action."""


def _constraint_of(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def _is_member_self(actor: User, member: Member) -> bool:
    return member.user_id is not None and member.user_id == actor.pk


def _authorise_mobility(
    actor: User, mobility: Mobility, *, inflow: bool = False, member_may: bool = False
) -> None:
    """Let ``actor`` act for one side of ``mobility``, or raise.

    Out of scope on both sides is 404; a read-only role, the other side's
    secretary or the member themselves (for a secretary's step) is 403.
    """
    scope = scope_for(actor)
    acting = mobility.inflow_organization if inflow else mobility.outflow_organization
    if acting is not None and scope.writes(acting):
        return
    is_self = _is_member_self(actor, mobility.member)
    if member_may and is_self:
        return
    if acting is not None and scope.reads(acting):
        raise ReadOnlyScope()
    sides = [mobility.outflow_organization, mobility.inflow_organization]
    if is_self or any(o is not None and scope.reads(o) for o in sides):
        raise PermissionDenied(
            _("Only the inflow organization may do this.")
            if inflow
            else _("Only the outflow organization may do this.")
        )
    raise OutOfScope()


def _locked_mobility(mobility: Mobility) -> Mobility:
    # Lock the record itself only: "of" keeps the joined organisations and
    # member free for everyone else.
    return (
        Mobility.objects.select_for_update(of=("self",))
        .select_related("member", "outflow_organization", "inflow_organization")
        .get(pk=mobility.pk)
    )


def _require_active(mobility: Mobility) -> None:
    if not mobility.is_active:
        raise MobilityStateError(
            _("This stay has ended (%(status)s)."),
            code="mobility_ended",
            params={"status": mobility.get_status_display()},
        )


def _check_destination(region: Region) -> None:
    if region.level not in (Region.Level.PREFECTURE, Region.Level.COUNTY):
        raise ValidationError(
            {
                "destination_region": ValidationError(
                    _("Choose a city or a county."), code="region_level"
                )
            }
        )


# Members report before they leave (DESIGN.md §3), so a departure may lie a
# little ahead; further ahead, or before the member was born, is a typing
# error that would otherwise lock the stay (it cannot end before it began).
REGISTER_AHEAD_DAYS = 90


def _check_stay_dates(
    left_on: datetime.date,
    expected_return_on: datetime.date | None,
    *,
    member: Member,
) -> None:
    latest = timezone.localdate() + datetime.timedelta(days=REGISTER_AHEAD_DAYS)
    if not member.birth_date < left_on <= latest:
        raise ValidationError(
            {
                "left_on": ValidationError(
                    _("Give a departure date between birth and %(latest)s.")
                    % {"latest": latest.isoformat()},
                    code="left_on_out_of_range",
                )
            }
        )
    if expected_return_on is not None and expected_return_on < left_on:
        raise ValidationError(
            {
                "expected_return_on": ValidationError(
                    _("The return cannot come before leaving."),
                    code="return_before_leaving",
                )
            }
        )


def _mobility_insert(**fields: Any) -> Mobility:
    # The partial unique index is the last word when two registrations race;
    # the savepoint keeps the caller's transaction usable after it fires.
    try:
        with transaction.atomic():
            return Mobility.objects.create(**fields)
    except IntegrityError as exc:
        if _constraint_of(exc) != "mobility_one_active_per_member":
            raise
    raise MobilityStateError(
        _("This member is already registered as away."), code="mobility_open"
    )


@transaction.atomic
def mobility_register(
    *,
    actor: User,
    member: Member,
    destination_region: Region,
    left_on: datetime.date,
    reason: str,
    contact: str,
    expected_return_on: datetime.date | None = None,
    occupation: Occupation | None = None,
    work_unit: str = "",
) -> Mobility:
    """Register a member going out, by the member or their secretary."""
    organization = current_organization(member)
    is_self = _is_member_self(actor, member)
    if not is_self:
        require_write(scope_for(actor), organization)
    if organization is None:
        raise ValidationError(_("No organization holds this member's relationship."))
    _check_destination(destination_region)
    _check_stay_dates(left_on, expected_return_on, member=member)
    if not contact.strip():
        raise ValidationError({"contact": _("Say how to reach the member there.")})
    if Mobility.objects.filter(
        member=member, status__in=ACTIVE_MOBILITY_STATUSES
    ).exists():
        raise MobilityStateError(
            _("This member is already registered as away."), code="mobility_open"
        )

    # A secretary's registration needs no confirmation by the same office.
    mobility = _mobility_insert(
        member=member,
        outflow_organization=organization,
        destination_region=destination_region,
        left_on=left_on,
        expected_return_on=expected_return_on,
        reason=reason,
        occupation=occupation,
        work_unit=work_unit.strip(),
        contact=contact.strip(),
        registered_by=actor,
        confirmed_by=None if is_self else actor,
        confirmed_on=None if is_self else timezone.localdate(),
    )

    audit_record(
        actor=actor,
        action="mobility.register",
        member=member,
        organization=organization,
        mobility_id=mobility.pk,
    )
    logger.info(
        "mobility registered mobility_id=%s member_id=%s", mobility.pk, member.pk
    )
    return mobility


@transaction.atomic
def mobility_confirm(*, actor: User, mobility: Mobility) -> Mobility:
    """Confirm, for the outflow organisation, a member's own registration."""
    mobility = _locked_mobility(mobility)
    _authorise_mobility(actor, mobility)
    _require_active(mobility)
    if mobility.confirmed_on is not None:
        raise MobilityStateError(
            _("This registration is already confirmed."), code="mobility_confirmed"
        )

    mobility.confirmed_by, mobility.confirmed_on = actor, timezone.localdate()
    mobility.save(update_fields=["confirmed_by", "confirmed_on", "updated_at"])

    audit_record(
        actor=actor,
        action="mobility.confirm",
        member=mobility.member,
        mobility_id=mobility.pk,
    )
    logger.info("mobility confirmed mobility_id=%s", mobility.pk)
    return mobility


@transaction.atomic
def mobility_certificate_issue(
    *, actor: User, mobility: Mobility, number: str
) -> Mobility:
    """Issue or renew (yearly) the mobile activity certificate (活动证)."""
    mobility = _locked_mobility(mobility)
    _authorise_mobility(actor, mobility)
    _require_active(mobility)
    if not number.strip():
        raise ValidationError({"number": _("The certificate number is required.")})

    mobility.certificate_number = number.strip()
    mobility.certificate_issued_on = timezone.localdate()
    mobility.save(
        update_fields=["certificate_number", "certificate_issued_on", "updated_at"]
    )

    audit_record(
        actor=actor,
        action="mobility.certificate",
        member=mobility.member,
        mobility_id=mobility.pk,
    )
    logger.info("mobility certificate issued mobility_id=%s", mobility.pk)
    return mobility


@transaction.atomic
def mobility_report(
    *, actor: User, mobility: Mobility, inflow_organization: Organization
) -> Mobility:
    """Report (报到) to an inflow organisation in the destination region."""
    mobility = _locked_mobility(mobility)
    _authorise_mobility(actor, mobility, member_may=True)
    if mobility.reported_on:
        raise MobilityStateError(
            _("The member has already been accepted by an inflow organization."),
            code="mobility_reported",
        )
    if mobility.status != MobilityStatus.REGISTERED:
        # Lost contact, returned or moved on: a report has to wait until the
        # secretary has found the member or a new stay is registered.
        raise MobilityStateError(
            _("This stay is %(status)s; it cannot be reported now.")
            % {"status": mobility.get_status_display()},
            code="mobility_not_registered",
        )
    candidates = inflow_organizations_for(mobility.destination_region)
    if not candidates.filter(pk=inflow_organization.pk).exists():
        raise ValidationError(
            {
                "inflow_organization": ValidationError(
                    _("Choose an organization in the destination region."),
                    code="inflow_outside_region",
                )
            }
        )

    mobility.inflow_organization = inflow_organization
    mobility.report_requested_on = timezone.localdate()
    mobility.save(
        update_fields=["inflow_organization", "report_requested_on", "updated_at"]
    )

    audit_record(
        actor=actor,
        action="mobility.report",
        member=mobility.member,
        organization=inflow_organization,
        mobility_id=mobility.pk,
    )
    logger.info(
        "mobility reported mobility_id=%s inflow_id=%s",
        mobility.pk,
        inflow_organization.pk,
    )
    return mobility


def _require_pending_report(mobility: Mobility) -> None:
    if (
        mobility.status != MobilityStatus.REGISTERED
        or mobility.inflow_organization_id is None
        or mobility.reported_on is not None
    ):
        raise MobilityStateError(
            _("There is no report waiting for an answer."), code="mobility_no_report"
        )


@transaction.atomic
def mobility_accept(*, actor: User, mobility: Mobility) -> Mobility:
    """Accept, for the inflow organisation, a member who reported to it."""
    mobility = _locked_mobility(mobility)
    _authorise_mobility(actor, mobility, inflow=True)
    _require_pending_report(mobility)

    # From today the inflow organisation sees the member (dual management).
    mobility.reported_on = timezone.localdate()
    mobility.status = MobilityStatus.REPORTED
    mobility.save(update_fields=["reported_on", "status", "updated_at"])

    audit_record(
        actor=actor,
        action="mobility.accept",
        member=mobility.member,
        organization=mobility.inflow_organization,
        mobility_id=mobility.pk,
    )
    logger.info("mobility accepted mobility_id=%s", mobility.pk)
    return mobility


@transaction.atomic
def mobility_decline(*, actor: User, mobility: Mobility, reason: str) -> Mobility:
    """Decline, for the inflow organisation, a report made to it."""
    mobility = _locked_mobility(mobility)
    _authorise_mobility(actor, mobility, inflow=True)
    _require_pending_report(mobility)
    if not reason.strip():
        raise ValidationError({"reason": _("A reason is required.")})

    inflow = mobility.inflow_organization
    mobility.inflow_organization, mobility.report_requested_on = None, None
    mobility.save(
        update_fields=["inflow_organization", "report_requested_on", "updated_at"]
    )

    audit_record(
        actor=actor,
        action="mobility.decline",
        member=mobility.member,
        organization=inflow,
        mobility_id=mobility.pk,
        reason=reason.strip(),
    )
    logger.info("mobility report declined mobility_id=%s", mobility.pk)
    return mobility


def _end(mobility: Mobility, *, status: str, on: datetime.date) -> None:
    if on < mobility.left_on:
        raise ValidationError(
            {"ended_on": _("A stay cannot end before the member left.")}
        )
    mobility.status, mobility.ended_on = status, on
    mobility.save(update_fields=["status", "ended_on", "updated_at"])


@transaction.atomic
def mobility_return(
    *, actor: User, mobility: Mobility, returned_on: datetime.date | None = None
) -> Mobility:
    """Record the member's return home; the inflow placement ends that day."""
    mobility = _locked_mobility(mobility)
    _authorise_mobility(actor, mobility, member_may=True)
    _require_active(mobility)
    day = returned_on or timezone.localdate()
    if day > timezone.localdate():
        raise ValidationError({"returned_on": _("The date is in the future.")})

    _end(mobility, status=MobilityStatus.RETURNED, on=day)

    audit_record(
        actor=actor,
        action="mobility.return",
        member=mobility.member,
        organization=mobility.outflow_organization,
        mobility_id=mobility.pk,
    )
    logger.info("mobility returned mobility_id=%s", mobility.pk)
    return mobility


@transaction.atomic
def mobility_move_on(
    *,
    actor: User,
    mobility: Mobility,
    destination_region: Region,
    left_on: datetime.date,
    reason: str,
    contact: str,
    expected_return_on: datetime.date | None = None,
    occupation: Occupation | None = None,
    work_unit: str = "",
) -> Mobility:
    """End the stay at one place and register the next one, in one step."""
    mobility = _locked_mobility(mobility)
    _authorise_mobility(actor, mobility, member_may=True)
    _require_active(mobility)
    _check_destination(destination_region)
    _check_stay_dates(left_on, expected_return_on, member=mobility.member)
    if not contact.strip():
        raise ValidationError({"contact": _("Say how to reach the member there.")})

    # The old record ends first: the partial unique index allows one active
    # record per member at every moment of the transaction.
    _end(mobility, status=MobilityStatus.MOVED_ON, on=left_on)
    is_self = _is_member_self(actor, mobility.member)
    following = _mobility_insert(
        member=mobility.member,
        outflow_organization=mobility.outflow_organization,
        destination_region=destination_region,
        left_on=left_on,
        expected_return_on=expected_return_on,
        reason=reason,
        occupation=occupation,
        work_unit=work_unit.strip(),
        contact=contact.strip(),
        certificate_number=mobility.certificate_number,
        certificate_issued_on=mobility.certificate_issued_on,
        registered_by=actor,
        confirmed_by=None if is_self else actor,
        confirmed_on=None if is_self else timezone.localdate(),
        previous=mobility,
    )

    audit_record(
        actor=actor,
        action="mobility.move_on",
        member=mobility.member,
        organization=mobility.outflow_organization,
        mobility_id=following.pk,
        previous_id=mobility.pk,
    )
    logger.info(
        "mobility moved on mobility_id=%s previous_id=%s", following.pk, mobility.pk
    )
    return following


def mobility_close_for_transfer(
    *, member: Member, transfer_id: int, on: datetime.date
) -> Mobility | None:
    """End a member's active stay because their relationship moved.

    Called by the transfer services inside their transaction, after they
    have checked the actor's right; it checks nothing itself.
    """
    mobility = (
        Mobility.objects.select_for_update(of=("self",))
        .filter(member=member, status__in=ACTIVE_MOBILITY_STATUSES)
        .first()
    )
    if mobility is None:
        return None
    mobility.transfer_id = transfer_id
    mobility.status = MobilityStatus.TRANSFERRED
    mobility.ended_on = max(on, mobility.left_on)
    mobility.save(update_fields=["transfer", "status", "ended_on", "updated_at"])
    logger.info(
        "mobility closed by transfer mobility_id=%s transfer_id=%s",
        mobility.pk,
        transfer_id,
    )
    return mobility
