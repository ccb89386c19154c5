"""Votes at branch general and committee meetings (DESIGN.md §4)."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, User
from members.selectors import members_held_on
from members.services._common import audit_record, require_write
from organizations.meetings import rules
from organizations.meetings.services.planning import committee_members
from organizations.models import (
    Attendance,
    Meeting,
    MeetingKind,
    Resolution,
    ResolutionVoter,
)
from organizations.scope import Scope

logger = logging.getLogger(__name__)

Status = Attendance.Status


# --- votes


def voters_for(meeting: Meeting) -> QuerySet[Member]:
    """Members entitled to vote at ``meeting`` (DESIGN.md §4).

    At a branch general meeting: the full members the organisation holds on
    the day, invited or not (the rule counts those who should attend). At
    a committee meeting: the committee's full members.
    """
    # TODO: the Party's rules let a branch leave out of the count members
    # away who cannot attend; every full member held counts until the
    # branch can record that decision per meeting.
    if meeting.kind == MeetingKind.BRANCH_COMMITTEE:
        members = committee_members(meeting)
    else:
        members = members_held_on(organization=meeting.organization, on=meeting.held_on)
    return members.filter(status=Member.Status.FULL)


def record_resolution(
    *,
    actor: User,
    scope: Scope,
    meeting: Meeting,
    subject: str,
    text: str,
    ayes: int,
    nays: int,
    abstentions: int,
    member: Member | None = None,
    declared_passed: bool | None = None,
) -> Resolution:
    """Record a vote; its outcome follows from the counts and the rules.

    Without a quorum nothing is recorded. ``declared_passed`` is what the
    secretary says the meeting decided: claiming a pass the rules deny is
    refused, so a failed vote can never be filed as passed.
    """
    require_write(scope, meeting.organization)
    _check_vote_meeting(meeting)
    if subject not in Resolution.Subject.values:
        raise ValidationError({"subject": _("Unknown subject.")})
    if not text.strip():
        raise ValidationError({"text": _("Write the resolution.")})
    _check_subject(meeting, subject, member)

    with transaction.atomic():
        voters = list(voters_for(meeting).order_by("pk"))
        present_ids = set(
            meeting.attendances.filter(
                status=Status.PRESENT, member__in=voters
            ).values_list("member_id", flat=True)
        )
        entitled, present = len(voters), len(present_ids)
        _check_counts(entitled, present, ayes, nays, abstentions)
        passed = rules.passes(entitled=entitled, ayes=ayes)
        if declared_passed and not passed:
            raise ValidationError(
                _(
                    "The resolution did not pass: %(ayes)s ayes of %(entitled)s "
                    "members entitled to vote; more than half are needed."
                )
                % {"ayes": ayes, "entitled": entitled},
                code="not_passed",
            )

        resolution = Resolution.objects.create(
            meeting=meeting,
            subject=subject,
            member=member,
            text=text.strip(),
            entitled=entitled,
            present=present,
            ayes=ayes,
            nays=nays,
            abstentions=abstentions,
            passed=passed,
            recorded_by=actor,
        )
        ResolutionVoter.objects.bulk_create(
            ResolutionVoter(
                resolution=resolution, member=v, present=v.pk in present_ids
            )
            for v in voters
        )
        audit_record(
            actor=actor,
            action="meeting.resolution",
            member=member,
            organization=meeting.organization,
            meeting=meeting.pk,
            resolution=resolution.pk,
            passed=passed,
        )
    return resolution


def _check_subject(meeting: Meeting, subject: str, member: Member | None) -> None:
    """A decision about a member names a member it can concern.

    Converting and disciplining concern a member the organisation holds (a
    probationary one to convert); an acceptance may name the new
    probationary member once recorded, or no one yet.
    """
    Subject = Resolution.Subject
    if subject in (Subject.CONVERT, Subject.DISCIPLINE) and member is None:
        raise ValidationError(
            {
                "member": ValidationError(
                    _("Name the member the resolution concerns."),
                    code="member_required",
                )
            },
        )
    if member is None:
        return
    held = members_held_on(organization=meeting.organization, on=meeting.held_on)
    if not held.filter(pk=member.pk).exists():
        raise ValidationError(
            {
                "member": ValidationError(
                    _("The member is not held by this organisation."),
                    code="member_elsewhere",
                )
            },
        )
    probationary = member.status == Member.Status.PROBATIONARY
    if subject in (Subject.CONVERT, Subject.ACCEPT_PROBATIONARY) and not probationary:
        raise ValidationError(
            {
                "member": ValidationError(
                    _("Only a probationary member can be accepted or converted."),
                    code="not_probationary",
                )
            },
        )


def _check_vote_meeting(meeting: Meeting) -> None:
    if meeting.kind not in rules.VOTING_KINDS:
        raise ValidationError(
            _("Resolutions are voted at branch general and committee meetings."),
            code="not_voting_kind",
        )
    if meeting.status == Meeting.Status.CANCELLED:
        raise ValidationError(_("This meeting was cancelled."), code="cancelled")
    if timezone.now() < meeting.starts_at:
        raise ValidationError(
            _("Votes are recorded once the meeting has started."), code="not_started"
        )


def _check_counts(entitled, present, ayes, nays, abstentions) -> None:
    counts = (ayes, nays, abstentions)
    if any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in counts):
        raise ValidationError(
            _("Votes are whole numbers, zero or more."), code="bad_count"
        )
    if not rules.has_quorum(entitled=entitled, present=present):
        raise ValidationError(
            _(
                "No quorum: %(present)s of %(entitled)s members entitled to vote "
                "are present; more than half must be."
            )
            % {"present": present, "entitled": entitled},
            code="no_quorum",
        )
    if sum(counts) > present:
        raise ValidationError(
            _("%(votes)s votes from %(present)s voting members present.")
            % {"votes": sum(counts), "present": present},
            code="too_many_votes",
        )
