"""Writes of organisational life: plan, invite, check in, close, vote.

Every function takes the acting user and, for secretaries' actions, their
scope; the admin, the portal, the API and the jobs all come through here.
Status changes of an attendance are recorded (AttendanceChange) with who
made them and why; meetings' milestones go to the audit log.

planning: meetings, recurring meetings, invitations and their notices;
attendance: check-in, the secretary's record, closing with minutes;
votes: resolutions under the quorum and majority rules.
"""

from organizations.meetings.services.attachments import (
    attach_file,
    remove_attachment,
)
from organizations.meetings.services.attendance import (
    MINUTES_TAGS,
    CheckInRefused,
    check_in,
    check_in_window,
    check_in_with_token,
    clean_minutes,
    close_meeting,
    leave,
    record_absence,
    record_presence,
    renew_checkin_code,
)
from organizations.meetings.services.planning import (
    COMMITTEE_ROLES,
    MeetingDetails,
    SeriesDetails,
    cancel_meeting,
    committee_members,
    default_invitees,
    extend_all_series,
    extend_series,
    invite,
    invite_members,
    plan_meeting,
    plan_series,
    send_invitations,
    send_meeting_change,
    standing_of,
    uninvite,
    update_meeting,
    update_series,
)
from organizations.meetings.services.votes import (
    record_resolution,
    voters_for,
)

__all__ = [
    "attach_file",
    "remove_attachment",
    "COMMITTEE_ROLES",
    "CheckInRefused",
    "MINUTES_TAGS",
    "MeetingDetails",
    "SeriesDetails",
    "cancel_meeting",
    "check_in",
    "check_in_window",
    "check_in_with_token",
    "clean_minutes",
    "close_meeting",
    "committee_members",
    "default_invitees",
    "extend_all_series",
    "extend_series",
    "invite",
    "invite_members",
    "leave",
    "plan_meeting",
    "plan_series",
    "record_absence",
    "record_presence",
    "record_resolution",
    "renew_checkin_code",
    "send_invitations",
    "send_meeting_change",
    "standing_of",
    "uninvite",
    "update_meeting",
    "update_series",
    "voters_for",
]
