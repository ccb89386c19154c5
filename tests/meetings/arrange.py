"""Builders shared by the meeting tests: meetings, placements, local times."""

import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from members.models import Mobility
from organizations.meetings import services
from organizations.models import Attendance, Meeting
from organizations.scope import scope_for

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year, month, day, hour=0, minute=0) -> datetime.datetime:
    """A moment in Beijing time, as secretaries and members read clocks."""
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def plan(
    organization,
    actor,
    *,
    kind="general_meeting",
    starts_at=None,
    minutes=120,
    invitees=None,
    **details,
) -> Meeting:
    """Plan a meeting through the service; by default it started 30 min ago."""
    starts_at = starts_at or timezone.now() - datetime.timedelta(minutes=30)
    details.setdefault("title", "会议")
    details.setdefault("place", "会议室")
    return services.plan_meeting(
        actor=actor,
        scope=scope_for(actor),
        organization=organization,
        details=services.MeetingDetails(
            kind=kind,
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(minutes=minutes),
            **details,
        ),
        invitees=invitees,
    )


def hold(meeting, actor, *, at=None) -> Meeting:
    """Close the meeting as held, at ``at`` or at its end."""
    return services.close_meeting(
        actor=actor,
        scope=scope_for(actor),
        meeting=meeting,
        minutes="<p>纪要</p>",
        at=at or meeting.ends_at,
    )


def attendance_of(meeting, member) -> Attendance:
    return Attendance.objects.get(meeting=meeting, member=member)


def place(member, *, outflow, inflow, registered_by, on=datetime.date(2020, 1, 1)):
    """Place ``member`` with ``inflow`` from ``on`` (accepted there)."""
    return Mobility.objects.create(
        member=member,
        outflow_organization=outflow,
        destination_region_id=inflow.region_id,
        inflow_organization=inflow,
        status=Mobility.Status.REPORTED,
        left_on=on,
        reported_on=on,
        reason=Mobility.Reason.WORK,
        contact="13800138000",
        registered_by=registered_by,
    )
