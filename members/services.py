"""Writes to member records, shared by admin, portal, API, imports, jobs."""

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from psycopg2.extras import DateRange

from members.crypto import blind_index
from members.identity import (
    IdentityError,
    check_consistency,
    parse_id_number,
    parse_phone,
)
from members.models import (
    ACTIVE_MOBILITY_STATUSES,
    AuditEvent,
    ContactLog,
    CorrectionRequest,
    Difficulty,
    Intention,
    LostContact,
    Member,
    MembershipPeriod,
    Mobility,
    MobilityStatus,
    NeedsSurvey,
    Occupation,
    SurveyAnswer,
    User,
    YearlyReport,
)
from members.selectors import (
    Access,
    current_organization,
    inflow_organizations_for,
    member_access,
    placements_on,
    survey_audience,
)
from organizations.models import Organization, Region
from organizations.scope import OutOfScope, ReadOnlyScope, Scope, scope_for

logger = logging.getLogger(__name__)

# What a member may ask to correct on their own record. The ID number is
# absent on purpose: it identifies the person, and a secretary corrects it
# from documents, not from a request.
CORRECTABLE_FIELDS = (
    "name",
    "phone",
    "ethnicity",
    "education",
    "work_unit",
    "occupation",
    "residence_address",
)

ADULT_AGE = 18


@dataclass(frozen=True)
class Identity:
    """A checked ID number with its blind index."""

    value: str
    hash: bytes


def audit_record(
    *,
    actor: User | None,
    action: str,
    member: Member | None = None,
    organization: Organization | None = None,
    **details: Any,
) -> AuditEvent:
    """Write one audit row; call inside the transaction of the action."""
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        member=member,
        organization=organization,
        details=details,
    )


def eighteenth_birthday(birth_date: datetime.date) -> datetime.date:
    try:
        return birth_date.replace(year=birth_date.year + ADULT_AGE)
    except ValueError:  # born on 29 February
        return datetime.date(birth_date.year + ADULT_AGE, 3, 1)


def validate_record(
    *,
    id_number: str,
    birth_date: datetime.date | None,
    gender: str | None,
    joined_on: datetime.date | None,
    full_member_on: datetime.date | None,
    today: datetime.date | None = None,
) -> Identity:
    """Check the rules a member record must keep; raise ValidationError."""
    try:
        parsed = parse_id_number(id_number)
        check_consistency(parsed, birth_date=birth_date, gender=gender)
    except IdentityError as exc:
        field = {"id_birth_mismatch": "birth_date", "id_gender_mismatch": "gender"}
        raise ValidationError(
            {
                field.get(exc.code, "id_number"): ValidationError(
                    exc.message, code=exc.code
                )
            }
        ) from None

    day = today or timezone.localdate()
    if joined_on is not None:
        if joined_on > day:
            raise ValidationError(
                {
                    "joined_on": ValidationError(
                        _("The date is in the future."), code="date_in_future"
                    )
                }
            )
        if joined_on < eighteenth_birthday(parsed.birth_date):
            raise ValidationError(
                {
                    "joined_on": ValidationError(
                        _("A member joins at 18 or older."), code="joined_before_18"
                    )
                }
            )
    if (
        full_member_on is not None
        and joined_on is not None
        and full_member_on < joined_on
    ):
        raise ValidationError(
            {
                "full_member_on": ValidationError(
                    _("Full membership cannot precede joining."),
                    code="full_before_joined",
                )
            }
        )
    return Identity(value=parsed.value, hash=blind_index(parsed.value))


def _normalised_phone(raw: str) -> tuple[str, bytes | None]:
    if not raw:
        return "", None
    try:
        phone = parse_phone(raw)
    except IdentityError as exc:
        raise ValidationError(
            {"phone": ValidationError(exc.message, code=exc.code)}
        ) from None
    return phone, blind_index(phone)


def _require_write(scope: Scope, organization: Organization | None) -> None:
    if organization is None or not scope.reads(organization):
        raise OutOfScope()
    if not scope.writes(organization):
        raise ReadOnlyScope()


@transaction.atomic
def member_create(
    *,
    actor: User,
    organization: Organization,
    starts_on: datetime.date,
    name: str,
    gender: str,
    id_number: str,
    birth_date: datetime.date,
    joined_on: datetime.date,
    phone: str = "",
    **fields: Any,
) -> Member:
    """Create a member held by ``organization`` from ``starts_on``."""
    _require_write(scope_for(actor), organization)
    identity = validate_record(
        id_number=id_number,
        birth_date=birth_date,
        gender=gender,
        joined_on=joined_on,
        full_member_on=fields.get("full_member_on"),
    )
    if Member.objects.filter(id_number_hash=identity.hash).exists():
        raise ValidationError(
            {
                "id_number": ValidationError(
                    _("A member with this ID number already exists."), code="duplicate"
                )
            }
        )
    phone, phone_hash = _normalised_phone(phone)

    member = Member.objects.create(
        name=name.strip(),
        gender=gender,
        birth_date=birth_date,
        joined_on=joined_on,
        id_number=identity.value,
        id_number_hash=identity.hash,
        phone=phone,
        phone_hash=phone_hash,
        **fields,
    )
    MembershipPeriod.objects.create(
        member=member, organization=organization, period=DateRange(starts_on, None)
    )

    audit_record(
        actor=actor, action="member.create", member=member, organization=organization
    )
    logger.info(
        "member created member_id=%s organization_id=%s", member.pk, organization.pk
    )
    return member


@transaction.atomic
def member_update(*, actor: User, member: Member, **changes: Any) -> Member:
    """Change fields of a member's record the actor may write."""
    _require_write(scope_for(actor), current_organization(member))
    member = Member.objects.select_for_update().get(pk=member.pk)

    if "phone" in changes:
        changes["phone"], changes["phone_hash"] = _normalised_phone(changes["phone"])
    identity_fields = {
        "id_number",
        "birth_date",
        "gender",
        "joined_on",
        "full_member_on",
    }
    if identity_fields & changes.keys():
        merged = {f: changes.get(f, getattr(member, f)) for f in identity_fields}
        identity = validate_record(**merged)
        changes["id_number"], changes["id_number_hash"] = identity.value, identity.hash
        duplicate = Member.objects.filter(id_number_hash=identity.hash).exclude(
            pk=member.pk
        )
        if duplicate.exists():
            raise ValidationError(
                {
                    "id_number": ValidationError(
                        _("A member with this ID number already exists."),
                        code="duplicate",
                    )
                }
            )

    changed = sorted(
        f
        for f, v in changes.items()
        if not f.endswith("_hash") and getattr(member, f) != v
    )
    for field, value in changes.items():
        setattr(member, field, value)
    member.full_clean(exclude=["id_number_hash", "phone_hash", "user"])
    member.save()

    audit_record(actor=actor, action="member.update", member=member, fields=changed)
    logger.info("member updated member_id=%s fields=%s", member.pk, ",".join(changed))
    return member


@transaction.atomic
def id_number_reveal(*, actor: User, member: Member, reason: str) -> str:
    """Return the full ID number to a role allowed it, and log the reveal."""
    if not reason.strip():
        raise ValidationError({"reason": _("A reason is required.")})
    scope = scope_for(actor)
    organization = current_organization(member)
    if member_access(scope=scope, member=member) is Access.NONE:
        raise OutOfScope()
    if organization is None or not scope.sees_full_ids(organization):
        raise ReadOnlyScope(_("Your role does not allow full ID numbers."))

    audit_record(
        actor=actor,
        action="member.reveal_id",
        member=member,
        organization=organization,
        reason=reason.strip(),
    )
    logger.info("id number revealed member_id=%s actor_id=%s", member.pk, actor.pk)
    return member.id_number


@transaction.atomic
def correction_request_create(
    *, actor: User, field: str, requested_value: str, reason: str
) -> CorrectionRequest:
    """File a request by a member to correct a field of their own record."""
    member = Member.objects.filter(user=actor).first()
    if member is None:
        raise OutOfScope()
    if field not in CORRECTABLE_FIELDS:
        raise ValidationError(
            {"field": _("This field cannot be corrected by request.")}
        )
    if not requested_value.strip() or not reason.strip():
        raise ValidationError(_("Both the new value and a reason are required."))
    if field == "phone":
        requested_value, _hash = _normalised_phone(requested_value)

    request = CorrectionRequest.objects.create(
        member=member,
        field=field,
        requested_value=requested_value.strip(),
        reason=reason.strip(),
        requested_by=actor,
    )
    audit_record(actor=actor, action="correction.request", member=member, field=field)
    logger.info(
        "correction requested request_id=%s member_id=%s", request.pk, member.pk
    )
    return request


@transaction.atomic
def correction_request_decide(
    *, actor: User, request: CorrectionRequest, approve: bool, note: str = ""
) -> CorrectionRequest:
    """Approve (applying the value) or reject a pending correction request."""
    request = CorrectionRequest.objects.select_for_update().get(pk=request.pk)
    _require_write(scope_for(actor), current_organization(request.member))
    if request.status != CorrectionRequest.Status.PENDING:
        raise ValidationError(_("This request has already been decided."))
    if not approve and not note.strip():
        raise ValidationError({"decision_note": _("Say why the request is rejected.")})

    if approve:
        member_update(
            actor=actor,
            member=request.member,
            **{request.field: _coerce(request.field, request.requested_value)},
        )
    request.status = (
        CorrectionRequest.Status.APPROVED
        if approve
        else CorrectionRequest.Status.REJECTED
    )
    request.decided_by, request.decided_at = actor, timezone.now()
    request.decision_note = note.strip()
    request.save()

    audit_record(
        actor=actor,
        action=f"correction.{request.status}",
        member=request.member,
        field=request.field,
    )
    logger.info(
        "correction decided request_id=%s status=%s", request.pk, request.status
    )
    return request


def _coerce(field: str, value: str) -> Any:
    # Code-table fields are requested by code or by name; anything that
    # matches neither fails loudly rather than being guessed.
    related = Member._meta.get_field(field)
    if not related.is_relation:
        return value
    model = related.related_model
    found = (
        model.objects.filter(code=value).first()
        or model.objects.filter(name=value).first()
    )
    if found is None:
        raise ValidationError({field: _("Unknown value: %(value)s") % {"value": value}})
    return found


# ---------------------------------------------------------------------------
# Mobility (外出流动), contact log, lost contact, needs surveys and yearly
# reports (issue 4). The outflow organisation holds the relationship and
# acts for it; the inflow organisation accepts and hosts (DESIGN.md §2).


class MobilityStateError(ValidationError):
    """The mobility record is not in a state that allows the action."""


def _constraint_of(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def _own_member(actor: User) -> Member | None:
    return Member.objects.filter(user=actor).first() if actor.is_authenticated else None


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


def _check_stay_dates(
    left_on: datetime.date, expected_return_on: datetime.date | None
) -> None:
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
        _require_write(scope_for(actor), organization)
    if organization is None:
        raise ValidationError(_("No organization holds this member's relationship."))
    _check_destination(destination_region)
    _check_stay_dates(left_on, expected_return_on)
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
    if mobility.status != MobilityStatus.REGISTERED or mobility.reported_on:
        raise MobilityStateError(
            _("The member has already been accepted by an inflow organization."),
            code="mobility_reported",
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
    _check_stay_dates(left_on, expected_return_on)
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


def _require_contact_right(actor: User, member: Member) -> None:
    """Let a secretary of the holding or hosting body write, or raise."""
    scope = scope_for(actor)
    if member_access(scope=scope, member=member) in (Access.NONE, Access.OWN):
        raise OutOfScope()
    holding = current_organization(member)
    hosting = [
        m.inflow_organization
        for m in placements_on(timezone.localdate())
        .filter(member=member)
        .select_related("inflow_organization")
    ]
    if any(o is not None and scope.writes(o) for o in [holding, *hosting]):
        return
    raise ReadOnlyScope()


@transaction.atomic
def contact_log_record(
    *,
    actor: User,
    member: Member,
    channel: str,
    outcome: str,
    contacted_at: datetime.datetime | None = None,
    note: str = "",
) -> ContactLog:
    """Record one attempt to reach a member and its outcome."""
    _require_contact_right(actor, member)
    moment = contacted_at or timezone.now()
    if moment > timezone.now():
        raise ValidationError({"contacted_at": _("The time is in the future.")})

    entry = ContactLog.objects.create(
        member=member,
        contacted_by=actor,
        contacted_at=moment,
        channel=channel,
        outcome=outcome,
        note=note.strip(),
    )

    audit_record(
        actor=actor,
        action="contact.record",
        member=member,
        contact_id=entry.pk,
        outcome=outcome,
    )
    logger.info(
        "contact recorded contact_id=%s member_id=%s outcome=%s",
        entry.pk,
        member.pk,
        outcome,
    )
    return entry


def _lost_since(member: Member) -> datetime.date | None:
    """The first failed attempt after the last success, if the last failed."""
    logs = member.contact_logs.order_by("-contacted_at", "-id")
    latest = logs.first()
    if latest is None or latest.outcome == ContactLog.Outcome.REACHED:
        return None
    reached = logs.filter(outcome=ContactLog.Outcome.REACHED).first()
    failed = logs.exclude(outcome=ContactLog.Outcome.REACHED)
    if reached is not None:
        failed = failed.filter(contacted_at__gt=reached.contacted_at)
    first_failed = failed.order_by("contacted_at", "id").first()
    return timezone.localdate(first_failed.contacted_at)


def _set_mobility_status_for_contact(member: Member, *, lost: bool) -> None:
    active = Mobility.objects.filter(member=member, status__in=ACTIVE_MOBILITY_STATUSES)
    if lost:
        active.update(status=MobilityStatus.LOST_CONTACT, updated_at=timezone.now())
        return
    # Found again: back to where the stay stood before contact was lost.
    active.filter(reported_on__isnull=False).update(
        status=MobilityStatus.REPORTED, updated_at=timezone.now()
    )
    active.filter(reported_on__isnull=True).update(
        status=MobilityStatus.REGISTERED, updated_at=timezone.now()
    )


def _require_holder_write(actor: User, member: Member) -> Organization:
    """Let the holding organisation's secretaries act, or raise 404 or 403."""
    scope = scope_for(actor)
    organization = current_organization(member)
    if organization is not None and scope.writes(organization):
        return organization
    if organization is not None and scope.reads(organization):
        raise ReadOnlyScope()
    # The inflow side sees a placed member but the outflow side keeps the
    # responsibility (DESIGN.md §2): visible, yet not theirs to change.
    if member_access(scope=scope, member=member) is Access.PLACED:
        raise PermissionDenied(
            _("Only the organization holding the relationship may do this.")
        )
    raise OutOfScope()


@transaction.atomic
def member_mark_lost(*, actor: User, member: Member, note: str = "") -> LostContact:
    """Mark a member as lost contact (失联) after failed attempts."""
    organization = _require_holder_write(actor, member)
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.lost_contact_since is not None:
        raise ValidationError(
            _("This member is already marked as lost contact."), code="already_lost"
        )
    since = _lost_since(member)
    if since is None:
        raise ValidationError(
            _("Record the failed attempts to reach the member first."),
            code="no_failed_contact",
        )

    episode = LostContact.objects.create(
        member=member, since=since, marked_by=actor, note=note.strip()
    )
    member.lost_contact_since = since
    member.save(update_fields=["lost_contact_since", "updated_at"])
    _set_mobility_status_for_contact(member, lost=True)

    audit_record(
        actor=actor,
        action="member.lost_contact",
        member=member,
        organization=organization,
        since=since.isoformat(),
    )
    logger.info("member marked lost member_id=%s episode_id=%s", member.pk, episode.pk)
    return episode


@transaction.atomic
def member_mark_found(
    *,
    actor: User,
    member: Member,
    note: str = "",
    found_on: datetime.date | None = None,
) -> LostContact:
    """Record that a member marked as lost contact has been found again."""
    organization = _require_holder_write(actor, member)
    member = Member.objects.select_for_update().get(pk=member.pk)
    episode = LostContact.objects.filter(member=member, found_on__isnull=True).first()
    if episode is None:
        raise ValidationError(
            _("This member is not marked as lost contact."), code="not_lost"
        )
    day = found_on or timezone.localdate()
    if not episode.since <= day <= timezone.localdate():
        raise ValidationError(
            {"found_on": _("The date must lie between the loss and today.")}
        )

    episode.found_on, episode.found_by, episode.found_note = day, actor, note.strip()
    episode.save(update_fields=["found_on", "found_by", "found_note"])
    member.lost_contact_since = None
    member.save(update_fields=["lost_contact_since", "updated_at"])
    _set_mobility_status_for_contact(member, lost=False)

    audit_record(
        actor=actor,
        action="member.found",
        member=member,
        organization=organization,
        found_on=day.isoformat(),
    )
    logger.info("member found member_id=%s episode_id=%s", member.pk, episode.pk)
    return episode


@transaction.atomic
def yearly_report_file(
    *, actor: User, body: str, year: int | None = None
) -> YearlyReport:
    """File the yearly report a mobile member owes the outflow organisation."""
    member = _own_member(actor)
    if member is None:
        raise OutOfScope()
    mobility = Mobility.objects.filter(
        member=member, status__in=ACTIVE_MOBILITY_STATUSES
    ).first()
    if mobility is None:
        raise MobilityStateError(
            _("Only a member registered as away files a yearly report."),
            code="not_mobile",
        )
    if not body.strip():
        raise ValidationError({"body": _("The report is empty.")})

    # Filing again in the same year replaces the text: one report a year.
    report, created = YearlyReport.objects.update_or_create(
        member=member,
        year=year or timezone.localdate().year,
        defaults={
            "body": body.strip(),
            "mobility": mobility,
            "organization": mobility.outflow_organization,
        },
    )

    audit_record(
        actor=actor,
        action="mobility.yearly_report",
        member=member,
        organization=mobility.outflow_organization,
        year=report.year,
        created=created,
    )
    logger.info("yearly report filed report_id=%s member_id=%s", report.pk, member.pk)
    return report


@transaction.atomic
def survey_publish(
    *,
    actor: User,
    organization: Organization,
    title: str,
    closes_on: datetime.date | None = None,
) -> NeedsSurvey:
    """Publish a needs survey to the mobile members under ``organization``."""
    _require_write(scope_for(actor), organization)
    if not title.strip():
        raise ValidationError({"title": _("A title is required.")})
    if closes_on is not None and closes_on < timezone.localdate():
        raise ValidationError({"closes_on": _("The date is in the past.")})

    survey = NeedsSurvey.objects.create(
        organization=organization,
        title=title.strip(),
        published_by=actor,
        closes_on=closes_on,
    )

    audit_record(
        actor=actor,
        action="survey.publish",
        organization=organization,
        survey_id=survey.pk,
    )
    logger.info(
        "survey published survey_id=%s organization_id=%s",
        survey.pk,
        organization.pk,
    )
    return survey


@transaction.atomic
def survey_answer(
    *,
    actor: User,
    survey: NeedsSurvey,
    intention: str,
    difficulties: list[str],
    situation: str = "",
    difficulties_note: str = "",
) -> SurveyAnswer:
    """Answer a needs survey as a member; answering again updates it."""
    member = _own_member(actor)
    if member is None or not survey_audience(survey).filter(pk=member.pk).exists():
        raise OutOfScope()
    if survey.closes_on is not None and survey.closes_on < timezone.localdate():
        raise ValidationError(_("This survey is closed."), code="survey_closed")
    if intention not in Intention.values:
        raise ValidationError({"intention": _("Choose one of the intentions.")})
    unknown = set(difficulties) - set(Difficulty.values)
    if unknown:
        raise ValidationError({"difficulties": _("Unknown difficulty.")})

    answer, created = SurveyAnswer.objects.update_or_create(
        survey=survey,
        member=member,
        defaults={
            "intention": intention,
            # Stored in the order of the question, each once.
            "difficulties": [d for d in Difficulty.values if d in difficulties],
            "situation": situation.strip(),
            "difficulties_note": difficulties_note.strip(),
        },
    )

    audit_record(
        actor=actor,
        action="survey.answer",
        member=member,
        survey_id=survey.pk,
        created=created,
    )
    logger.info("survey answered survey_id=%s member_id=%s", survey.pk, member.pk)
    return answer
