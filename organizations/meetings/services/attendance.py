"""Attendance: check-in by link or QR code, the secretary's record, closing."""

import datetime
import logging

import nh3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg2.extras import DateTimeTZRange

from members.models import User
from members.services._common import audit_record, require_write
from organizations.meetings.checkin import InvalidToken, meeting_for_token
from organizations.meetings.services.planning import _lock_meeting
from organizations.models import (
    Attendance,
    AttendanceChange,
    AttendanceInterval,
    CheckInMethod,
    Meeting,
    MeetingKind,
)
from organizations.models.meetings import new_checkin_nonce
from organizations.scope import OutOfScope, Scope

logger = logging.getLogger(__name__)

REASON_MAX_LENGTH = 500

Status = Attendance.Status

# Tags the minutes may keep: what a simple editor produces, nothing active.
MINUTES_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "ol", "ul", "li",
    "h3", "h4", "blockquote", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


# --- check-in


class CheckInRefused(ValidationError):
    """The member may not check in now; nothing was changed."""


def check_in_window(meeting: Meeting) -> tuple[datetime.datetime, datetime.datetime]:
    opens = meeting.starts_at - datetime.timedelta(
        minutes=settings.LIUDONG_MEETING_CHECKIN_OPENS_MINUTES
    )
    return opens, meeting.ends_at


def check_in(
    *,
    user: User,
    meeting: Meeting,
    method: str = CheckInMethod.ONLINE,
    at: datetime.datetime | None = None,
) -> Attendance:
    """Record the member's arrival: a new interval, or the open one again.

    Opening the link twice, or from two phones at once, keeps one interval
    (the attendance row is locked, and the database refuses overlaps).
    Outside the window, or for a closed meeting, nothing changes.
    """
    at = at or timezone.now()
    with transaction.atomic():
        # Closing locks the meeting first as well: a check-in that arrives
        # during a close waits for it and then finds the meeting held, so
        # no stay is left open on a closed meeting.
        _lock_meeting(meeting)
        attendance = _own_attendance(user, meeting, lock=True)
        _require_open(attendance.meeting, at)

        _start_stay(attendance, at, method)
        _change_status(
            attendance, Status.PRESENT, actor=user, reason="", absence_reason=""
        )
    logger.info(
        "meeting check-in meeting=%s member=%s method=%s",
        meeting.pk,
        attendance.member_id,
        method,
    )
    return attendance


def _start_stay(attendance: Attendance, at: datetime.datetime, method: str) -> None:
    """Open a stay at ``at`` unless the member is already recorded there.

    A stay of the member's own that is open or reaches past ``at`` (a
    repeated or retried request) means they are there already. The
    secretary's record by hand gives way from ``at`` on: the member's own
    check-in is the better evidence, and the two must not overlap.
    """
    reaching = attendance.intervals.filter(
        period__overlap=DateTimeTZRange(at, None, "[)")
    )
    if reaching.exclude(method=CheckInMethod.SECRETARY).exists():
        return
    for interval in reaching:
        if interval.period.lower < at:
            _close_interval(interval, at)
        else:
            interval.delete()
    AttendanceInterval.objects.create(
        attendance=attendance,
        period=DateTimeTZRange(at, None, "[)"),
        method=method,
    )


def renew_checkin_code(*, actor: User, scope: Scope, meeting: Meeting) -> Meeting:
    """Give the meeting a new QR code; copies of the old one stop working."""
    require_write(scope, meeting.organization)

    with transaction.atomic():
        meeting.checkin_nonce = new_checkin_nonce()
        meeting.save(update_fields=["checkin_nonce", "updated_at"])
        audit_record(
            actor=actor,
            action="meeting.checkin_code_renewed",
            organization=meeting.organization,
            meeting=meeting.pk,
        )
    return meeting


def check_in_with_token(
    *, user: User, token: str, at: datetime.datetime | None = None
) -> Attendance:
    """Check in by the meeting's QR code."""
    try:
        meeting = meeting_for_token(token)
    except InvalidToken:
        raise CheckInRefused(
            _("This QR code is not valid (it may have been replaced)."),
            code="invalid_token",
        ) from None
    return check_in(user=user, meeting=meeting, method=CheckInMethod.QR_CODE, at=at)


def leave(
    *, user: User, meeting: Meeting, at: datetime.datetime | None = None
) -> Attendance:
    """Close the member's open interval (they left; they may come back)."""
    at = at or timezone.now()
    with transaction.atomic():
        attendance = _own_attendance(user, meeting, lock=True)
        interval = _open_interval(attendance)
        if interval is not None:
            _close_interval(interval, min(at, attendance.meeting.ends_at))
    return attendance


def _own_attendance(user: User, meeting: Meeting, *, lock: bool) -> Attendance:
    attendances = Attendance.objects.select_related(
        "meeting", "meeting__organization"
    ).filter(meeting_id=meeting.pk, member__user_id=user.pk)
    if lock:
        attendances = attendances.select_for_update(of=("self",))
    attendance = attendances.first()
    if attendance is None:
        # Not invited: the meeting does not exist as far as this user knows.
        raise OutOfScope()
    return attendance


def _require_open(meeting: Meeting, at: datetime.datetime) -> None:
    opens, closes = check_in_window(meeting)
    if meeting.status == Meeting.Status.CANCELLED:
        raise CheckInRefused(_("This meeting was cancelled."), code="cancelled")
    if meeting.status == Meeting.Status.HELD or at >= closes:
        raise CheckInRefused(_("This meeting has ended."), code="ended")
    if at < opens:
        raise CheckInRefused(
            _("Check-in opens %(minutes)s minutes before the meeting starts.")
            % {"minutes": settings.LIUDONG_MEETING_CHECKIN_OPENS_MINUTES},
            code="not_open",
        )


def _open_interval(attendance: Attendance) -> AttendanceInterval | None:
    return attendance.intervals.filter(period__upper_inf=True).first()


def _close_interval(interval: AttendanceInterval, at: datetime.datetime) -> None:
    start = interval.period.lower
    # A stay closed before it began (a meeting closed early) keeps one
    # instant rather than an empty range, which the database refuses.
    end = max(at, start + datetime.timedelta(microseconds=1))
    interval.period = DateTimeTZRange(start, end, "[)")
    interval.save(update_fields=["period"])


# --- the secretary's record


def record_presence(
    *, actor: User, scope: Scope, attendance: Attendance, reason: str = ""
) -> Attendance:
    """The secretary records a member present who did not check in."""
    meeting = attendance.meeting
    require_write(scope, meeting.organization)
    if meeting.status == Meeting.Status.CANCELLED:
        raise ValidationError(_("This meeting was cancelled."), code="cancelled")
    if timezone.now() < meeting.starts_at:
        raise ValidationError(
            _("Presence can be recorded once the meeting has started."),
            code="not_started",
        )

    with transaction.atomic():
        attendance = Attendance.objects.select_for_update().get(pk=attendance.pk)
        if not attendance.intervals.exists():
            AttendanceInterval.objects.create(
                attendance=attendance,
                period=DateTimeTZRange(meeting.starts_at, meeting.ends_at, "[)"),
                method=CheckInMethod.SECRETARY,
            )
        _change_status(
            attendance, Status.PRESENT, actor=actor, reason=reason, absence_reason=""
        )
        _credit_study_on_commit(meeting)
    return attendance


def record_absence(
    *,
    actor: User,
    scope: Scope,
    attendance: Attendance,
    status: str,
    reason: str = "",
) -> Attendance:
    """Mark a member absent or excused (a reason is required to excuse).

    A member who checked in themselves stays present: their own check-in is
    evidence the secretary cannot overwrite.
    """
    meeting = attendance.meeting
    require_write(scope, meeting.organization)
    if status not in (Status.ABSENT, Status.EXCUSED):
        raise ValidationError(_("Choose absent or excused."), code="bad_status")
    if status == Status.EXCUSED and not reason.strip():
        raise ValidationError(
            {"reason": _("Give the reason for the absence.")}, code="reason_required"
        )
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {
                "reason": _("Keep the reason within %(count)s characters.")
                % {"count": REASON_MAX_LENGTH}
            },
            code="reason_too_long",
        )
    if meeting.status == Meeting.Status.CANCELLED:
        raise ValidationError(_("This meeting was cancelled."), code="cancelled")
    # Leave can be asked for in advance; absence is only known once the
    # meeting has begun.
    if status == Status.ABSENT and timezone.now() < meeting.starts_at:
        raise ValidationError(
            _("A member can be marked absent once the meeting has started."),
            code="not_started",
        )

    with transaction.atomic():
        attendance = Attendance.objects.select_for_update().get(pk=attendance.pk)
        own_check_ins = attendance.intervals.exclude(method=CheckInMethod.SECRETARY)
        if own_check_ins.exists():
            raise ValidationError(
                _(
                    "The member checked in themselves; they cannot be recorded "
                    "absent or excused."
                ),
                code="checked_in",
            )
        attendance.intervals.all().delete()
        _change_status(
            attendance,
            status,
            actor=actor,
            reason=reason.strip(),
            absence_reason=reason.strip() if status == Status.EXCUSED else "",
        )
    return attendance


def _change_status(
    attendance: Attendance,
    status: str,
    *,
    actor: User | None,
    reason: str,
    absence_reason: str,
) -> None:
    """Set status and reason for absence; record the change if there is one.

    A new reason for an excused member is a change too, and is recorded.
    """
    if (attendance.status, attendance.reason) == (status, absence_reason):
        return
    AttendanceChange.objects.create(
        attendance=attendance,
        actor=actor,
        from_status=attendance.status,
        to_status=status,
        reason=reason,
    )
    attendance.status = status
    attendance.reason = absence_reason
    attendance.save(update_fields=["status", "reason"])


# --- closing and minutes


def close_meeting(
    *,
    actor: User,
    scope: Scope,
    meeting: Meeting,
    minutes: str,
    at: datetime.datetime | None = None,
) -> Meeting:
    """Close a meeting that has started: minutes kept, the rest absent.

    Stays still open end now (or at the window's end); invited members who
    never came are recorded absent, each change with the secretary's name.
    """
    at = at or timezone.now()
    require_write(scope, meeting.organization)

    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        if meeting.status != Meeting.Status.PLANNED:
            raise ValidationError(
                _("Only a planned meeting can be closed."), code="not_planned"
            )
        if at < meeting.starts_at:
            raise ValidationError(
                _("A meeting can be closed once it has started."), code="not_started"
            )
        end = min(at, meeting.ends_at)
        open_stays = AttendanceInterval.objects.filter(
            attendance__meeting=meeting, period__upper_inf=True
        ).select_for_update()
        for interval in open_stays:
            _close_interval(interval, end)
        # Locked so that an excuse recorded at the same moment is not
        # overwritten: a row excused meanwhile no longer matches.
        invited = meeting.attendances.filter(status=Status.INVITED)
        for attendance in invited.select_for_update():
            _change_status(
                attendance,
                Status.ABSENT,
                actor=actor,
                reason=_("meeting closed"),
                absence_reason="",
            )

        meeting.minutes = clean_minutes(minutes)
        meeting.status = Meeting.Status.HELD
        meeting.closed_at = at
        meeting.closed_by = actor
        meeting.save()
        audit_record(
            actor=actor,
            action="meeting.closed",
            organization=meeting.organization,
            meeting=meeting.pk,
        )
    logger.info(
        "meeting closed id=%s organization=%s", meeting.pk, meeting.organization_id
    )
    _credit_study_on_commit(meeting)
    return meeting


def _credit_study_on_commit(meeting: Meeting) -> None:
    # A held Party lecture is study: those present get its hours (issue 7).
    # Run again when presence is recorded after closing; it credits each
    # member once.
    if (
        meeting.kind != MeetingKind.PARTY_LECTURE
        or meeting.status != Meeting.Status.HELD
    ):
        return
    from learning.tasks import credit_lecture

    transaction.on_commit(lambda: credit_lecture.delay(meeting.pk))


def clean_minutes(html: str) -> str:
    """Minutes as safe HTML: formatting kept, scripts and links dropped."""
    return nh3.clean(html or "", tags=MINUTES_TAGS, attributes={})
