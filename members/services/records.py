"""Member records: create, update, reveal the ID number, corrections."""

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from psycopg2.extras import DateRange

from dues.services.ledger import regenerate_member_ledger
from members.crypto import blind_index
from members.identity import (
    IdentityError,
    check_consistency,
    parse_id_number,
    parse_phone,
)
from members.models import CorrectionRequest, Member, MembershipPeriod, User
from members.selectors import Access, current_organization, member_access
from members.services._common import audit_record, require_write
from organizations.models import Organization
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for

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


def _check_phone_free(phone_hash: bytes | None, *, member: Member | None) -> None:
    # A phone is also a log-in name (members.auth): two records sharing one
    # would lock both people out of logging in by phone.
    if phone_hash is None:
        return
    others = Member.objects.filter(phone_hash=phone_hash)
    if member is not None:
        others = others.exclude(pk=member.pk)
    if others.exists():
        raise ValidationError(
            {
                "phone": ValidationError(
                    _("Another member's record already has this phone number."),
                    code="phone_taken",
                )
            }
        )


def _check_record_dates(
    *,
    joined_on: datetime.date | None,
    starts_on: datetime.date | None = None,
    lost_contact_since: datetime.date | None = None,
) -> None:
    day = timezone.localdate()
    if starts_on is not None and joined_on is not None and starts_on < joined_on:
        raise ValidationError(
            {
                "starts_on": ValidationError(
                    _("An organization cannot hold a member before they joined."),
                    code="starts_before_joined",
                )
            }
        )
    if lost_contact_since is not None and lost_contact_since > day:
        raise ValidationError(
            {
                "lost_contact_since": ValidationError(
                    _("The date is in the future."), code="date_in_future"
                )
            }
        )


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
    require_write(scope_for(actor), organization)
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
    _check_record_dates(
        joined_on=joined_on,
        starts_on=starts_on,
        lost_contact_since=fields.get("lost_contact_since"),
    )
    phone, phone_hash = _normalised_phone(phone)
    _check_phone_free(phone_hash, member=None)

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
    transaction.on_commit(lambda: regenerate_member_ledger(member.pk))
    logger.info(
        "member created member_id=%s organization_id=%s", member.pk, organization.pk
    )
    return member


@transaction.atomic
def member_update(*, actor: User, member: Member, **changes: Any) -> Member:
    """Change fields of a member's record the actor may write."""
    require_write(scope_for(actor), current_organization(member))
    if member.user_id == actor.pk and not actor.is_superuser:
        # Nobody edits their own record, secretaries included: the change
        # goes through a correction request that someone else decides.
        raise PermissionDenied(_("Request a correction to change your own record."))
    member = Member.objects.select_for_update().get(pk=member.pk)

    if "phone" in changes:
        changes["phone"], changes["phone_hash"] = _normalised_phone(changes["phone"])
        _check_phone_free(changes["phone_hash"], member=member)
    if "joined_on" in changes or "lost_contact_since" in changes:
        _check_record_dates(
            joined_on=changes.get("joined_on", member.joined_on),
            lost_contact_since=changes.get("lost_contact_since"),
        )
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
    _count_reveal(actor)

    audit_record(
        actor=actor,
        action="member.reveal_id",
        member=member,
        organization=organization,
        reason=reason.strip(),
    )
    logger.info("id number revealed member_id=%s actor_id=%s", member.pk, actor.pk)
    return member.id_number


def _count_reveal(actor: User) -> None:
    # Counted here, not in one view, so that the admin, the API and any later
    # page share one limit per person.
    key = f"liudong:reveal:{actor.pk}"
    cache.add(key, 0, timeout=3600)
    if cache.incr(key) > settings.LIUDONG_REVEALS_PER_HOUR:
        logger.warning("id number reveal limit reached actor_id=%s", actor.pk)
        raise PermissionDenied(
            _("Too many full ID numbers revealed in the last hour; try later.")
        )


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
    requested_value = requested_value.strip()
    pending = CorrectionRequest.objects.filter(
        member=member, field=field, status=CorrectionRequest.Status.PENDING
    )
    # A double click, or the same request sent twice, returns the pending
    # one instead of queueing a copy for the secretary. The value is
    # encrypted, so the comparison happens here rather than in SQL.
    for existing in pending:
        if existing.requested_value == requested_value:
            return existing

    request = CorrectionRequest.objects.create(
        member=member,
        field=field,
        requested_value=requested_value,
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
    require_write(scope_for(actor), current_organization(request.member))
    if request.status != CorrectionRequest.Status.PENDING:
        raise ValidationError(_("This request has already been decided."))
    if request.member.user_id == actor.pk and not actor.is_superuser:
        raise PermissionDenied(_("Someone else decides a request about you."))
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
