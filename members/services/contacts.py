"""Contact with members: the contact log, lost contact (失联) and found."""

import datetime
import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import (
    ACTIVE_MOBILITY_STATUSES,
    ContactLog,
    LostContact,
    Member,
    Mobility,
    MobilityStatus,
    User,
)
from members.selectors import (
    Access,
    current_organization,
    member_access,
    placements_on,
)
from members.services._common import audit_record
from organizations.models import Organization
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for

logger = logging.getLogger(__name__)


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
