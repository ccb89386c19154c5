"""Writes of organisational life: plan, invite, check in, close, vote.

Every function takes the acting user and, for secretaries' actions, their
scope; the admin, the portal, the API and the jobs all come through here.
Status changes of an attendance are recorded (AttendanceChange) with who
made them and why; meetings' milestones go to the audit log.
"""

import datetime
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import nh3
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg2.extras import DateTimeTZRange

from members.models import Member, User
from members.selectors import members_held_on, placements_on
from members.services._common import audit_record, require_write
from organizations.meetings import rules
from organizations.meetings.checkin import InvalidToken, meeting_for_token
from organizations.models import (
    Attendance,
    AttendanceChange,
    AttendanceInterval,
    CheckInMethod,
    Meeting,
    MeetingKind,
    MeetingSeries,
    Organization,
    Resolution,
    ResolutionVoter,
    Role,
    Standing,
)
from organizations.scope import OutOfScope, Scope

logger = logging.getLogger(__name__)

Status = Attendance.Status

# Members whose relationship ended (deceased, removed, moved out of the
# system) are never invited.
_INVITABLE = {
    Member.Status.FULL: Standing.FULL,
    Member.Status.PROBATIONARY: Standing.PROBATIONARY,
    Member.Status.SUSPENDED: Standing.SUSPENDED,
}
# The committee of a branch, as the roles record it: its secretary and
# organising members.
# TODO: deputy secretaries and the propaganda and discipline members of a
# committee have no role of their own yet; they are invited by hand.
COMMITTEE_ROLES = (Role.Kind.SECRETARY, Role.Kind.ORGANISER)
# Tags the minutes may keep: what a simple editor produces, nothing active.
MINUTES_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "ol", "ul", "li",
    "h3", "h4", "blockquote", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


# --- planning


@dataclass(frozen=True)
class MeetingDetails:
    """What a secretary fills in to plan a meeting."""

    kind: str
    title: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    mode: str = Meeting._meta.get_field("mode").default
    place: str = ""
    online_link: str = ""
    agenda: str = ""


def plan_meeting(
    *,
    actor: User,
    scope: Scope,
    organization: Organization,
    details: MeetingDetails,
    invitees: list[Member] | None = None,
) -> Meeting:
    """Plan one meeting and invite its default (or the given) members."""
    require_write(scope, organization)
    _check_details(organization, details)

    with transaction.atomic():
        meeting = Meeting.objects.create(
            organization=organization,
            created_by=actor,
            **_meeting_fields(organization, details),
        )
        invited = invite(meeting, invitees)
        audit_record(
            actor=actor,
            action="meeting.planned",
            organization=organization,
            meeting=meeting.pk,
            kind=meeting.kind,
            invited=invited,
        )
    logger.info(
        "meeting planned id=%s organization=%s kind=%s invited=%d",
        meeting.pk,
        organization.pk,
        meeting.kind,
        invited,
    )
    return meeting


def update_meeting(
    *, actor: User, scope: Scope, meeting: Meeting, details: MeetingDetails
) -> Meeting:
    """Change a planned meeting's details; the invitations stay."""
    require_write(scope, meeting.organization)
    if meeting.status != Meeting.Status.PLANNED:
        raise ValidationError(
            _("Only a planned meeting can be changed."), code="not_planned"
        )
    _check_details(meeting.organization, details)

    for name, value in _meeting_fields(meeting.organization, details).items():
        setattr(meeting, name, value)
    meeting.save()
    return meeting


def cancel_meeting(
    *, actor: User, scope: Scope, meeting: Meeting, reason: str
) -> Meeting:
    require_write(scope, meeting.organization)
    if meeting.status != Meeting.Status.PLANNED:
        raise ValidationError(
            _("Only a planned meeting can be cancelled."), code="not_planned"
        )
    if not reason.strip():
        raise ValidationError(_("Give a reason."), code="reason_required")

    with transaction.atomic():
        meeting.status = Meeting.Status.CANCELLED
        meeting.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action="meeting.cancelled",
            organization=meeting.organization,
            meeting=meeting.pk,
            reason=reason.strip(),
        )
    return meeting


def _check_details(organization: Organization, details: MeetingDetails) -> None:
    errors = {}
    if details.kind not in MeetingKind.values:
        errors["kind"] = _("Unknown kind of meeting.")
    elif details.kind not in rules.OWED_BY.get(organization.kind, ()):
        errors["kind"] = _("This organisation does not hold this kind of meeting.")
    if not details.title.strip():
        errors["title"] = _("Give the meeting a title.")
    if details.ends_at <= details.starts_at:
        errors["ends_at"] = _("The meeting must end after it starts.")
    elif details.ends_at - details.starts_at > datetime.timedelta(hours=24):
        errors["ends_at"] = _("A meeting lasts at most 24 hours.")
    if details.mode in ("online", "hybrid") and not details.online_link:
        errors["online_link"] = _("An online meeting needs its link.")
    if details.mode in ("in_person", "hybrid") and not details.place.strip():
        errors["place"] = _("A meeting in person needs its place.")
    if errors:
        raise ValidationError(errors)


def _meeting_fields(organization: Organization, details: MeetingDetails) -> dict:
    return {
        "kind": details.kind,
        "title": details.title.strip(),
        "starts_at": details.starts_at,
        "ends_at": details.ends_at,
        "held_on": rules.local_date(details.starts_at, organization.time_zone),
        "mode": details.mode,
        "place": details.place.strip(),
        "online_link": details.online_link.strip(),
        "agenda": details.agenda,
    }


# --- invitations


def default_invitees(meeting: Meeting) -> list[tuple[Member, str]]:
    """Who a meeting of this kind invites, with their standing there.

    A committee meeting invites the committee; every other kind invites the
    members the organisation holds on the day and the mobile members placed
    with it (dual management: they attend where they live).
    """
    organization, day = meeting.organization, meeting.held_on
    held = members_held_on(organization=organization, on=day).filter(
        status__in=list(_INVITABLE)
    )
    if meeting.kind in rules.COMMITTEE_KINDS:
        return [(m, _INVITABLE[m.status]) for m in committee_members(meeting)]

    placed = Member.objects.filter(
        pk__in=placements_on(day)
        .filter(inflow_organization=organization)
        .values("member_id"),
        status__in=list(_INVITABLE),
    ).exclude(pk__in=held.values("pk"))
    return [(m, _INVITABLE[m.status]) for m in held.order_by("pk")] + [
        (m, Standing.PLACED) for m in placed.order_by("pk")
    ]


def committee_members(meeting: Meeting) -> QuerySet[Member]:
    """The organisation's committee on the meeting's day (COMMITTEE_ROLES)."""
    users = (
        Role.objects.active_on(meeting.held_on)
        .filter(organization=meeting.organization, kind__in=COMMITTEE_ROLES)
        .values("user_id")
    )
    held = members_held_on(organization=meeting.organization, on=meeting.held_on)
    return held.filter(user_id__in=users, status__in=list(_INVITABLE)).order_by("pk")


def standing_of(member: Member, meeting: Meeting) -> str:
    held = members_held_on(organization=meeting.organization, on=meeting.held_on)
    if held.filter(pk=member.pk).exists():
        return _INVITABLE.get(member.status, Standing.SUSPENDED)
    return Standing.PLACED


def invite(meeting: Meeting, members: list[Member] | None = None) -> int:
    """Invite ``members`` (or the defaults); returns how many were new.

    Inviting someone already invited changes nothing, so the defaults can
    be applied again after the roster changed.
    """
    if members is None:
        pairs = default_invitees(meeting)
    else:
        pairs = [(m, standing_of(m, meeting)) for m in members]
    already = set(meeting.attendances.values_list("member_id", flat=True))
    missing = {m.pk: standing for m, standing in pairs if m.pk not in already}
    # A concurrent invite of the same member loses quietly to the unique
    # constraint; only rows this call created are notified.
    Attendance.objects.bulk_create(
        [
            Attendance(meeting=meeting, member_id=member_id, standing=standing)
            for member_id, standing in missing.items()
        ],
        ignore_conflicts=True,
    )
    new_ids = list(
        meeting.attendances.filter(member_id__in=list(missing)).values_list(
            "pk", flat=True
        )
    )
    if new_ids:
        _notify_on_commit(meeting.pk, new_ids)
    return len(new_ids)


def uninvite(*, actor: User, scope: Scope, attendance: Attendance) -> None:
    """Take back an invitation nobody has acted on yet."""
    require_write(scope, attendance.meeting.organization)
    if attendance.status != Status.INVITED or attendance.intervals.exists():
        raise ValidationError(
            _("Only an invitation without attendance can be taken back."),
            code="attended",
        )
    attendance.delete()


def _notify_on_commit(meeting_id: int, attendance_ids: list[int]) -> None:
    from organizations.tasks import notify_invitations

    transaction.on_commit(lambda: notify_invitations.delay(meeting_id, attendance_ids))


# --- recurring meetings


@dataclass(frozen=True)
class SeriesDetails:
    kind: str
    title: str
    day_of_month: int
    start_time: datetime.time
    duration_minutes: int
    first_month: datetime.date
    last_month: datetime.date | None = None
    mode: str = Meeting._meta.get_field("mode").default
    place: str = ""
    online_link: str = ""
    agenda: str = ""


def plan_series(
    *,
    actor: User,
    scope: Scope,
    organization: Organization,
    details: SeriesDetails,
    now: datetime.datetime | None = None,
) -> MeetingSeries:
    """Plan a meeting held every month on a fixed day, and its first months."""
    require_write(scope, organization)
    _check_series(organization, details)

    with transaction.atomic():
        series = MeetingSeries.objects.create(
            organization=organization, created_by=actor, **_series_fields(details)
        )
        extend_series(series, now=now)
    return series


def update_series(
    *,
    actor: User,
    scope: Scope,
    series: MeetingSeries,
    details: SeriesDetails,
    now: datetime.datetime | None = None,
) -> MeetingSeries:
    """Change a series; its planned future meetings follow, none duplicated."""
    require_write(scope, series.organization)
    _check_series(series.organization, details)

    with transaction.atomic():
        series = MeetingSeries.objects.select_for_update().get(pk=series.pk)
        for name, value in _series_fields(details).items():
            setattr(series, name, value)
        series.save()
        extend_series(series, now=now)
    return series


def extend_series(series: MeetingSeries, *, now: datetime.datetime | None = None):
    """Bring the series' planned meetings in line with it, months ahead.

    One meeting per series and month (a database constraint): an existing
    planned meeting that has not started is updated in place, a missing one
    is created, and a planned one outside the series' months is cancelled.
    Held, cancelled and started meetings are history and stay as they are.
    """
    now = now or timezone.now()
    organization = series.organization
    zone = ZoneInfo(organization.time_zone)
    this_month = rules.local_date(now, organization.time_zone).replace(day=1)
    horizon = this_month + relativedelta(
        months=settings.LIUDONG_MEETING_SERIES_MONTHS_AHEAD
    )
    last = min(horizon, series.last_month or horizon)

    wanted = {}
    month = max(series.first_month, this_month)
    while month <= last:
        day = rules.day_in_month(month, series.day_of_month)
        starts_at = datetime.datetime.combine(day, series.start_time, tzinfo=zone)
        if starts_at > now:
            wanted[month] = starts_at
        month += relativedelta(months=1)

    existing = {
        m.series_month: m
        for m in Meeting.objects.select_for_update().filter(series=series)
    }
    for month, meeting in existing.items():
        if month not in wanted and _still_planned(meeting, now):
            meeting.status = Meeting.Status.CANCELLED
            meeting.save(update_fields=["status", "updated_at"])

    for month, starts_at in wanted.items():
        meeting = existing.get(month)
        fields = _occurrence_fields(series, starts_at)
        if meeting is None:
            meeting = Meeting.objects.create(
                organization=organization,
                series=series,
                series_month=month,
                created_by=series.created_by,
                **fields,
            )
            invite(meeting)
        elif _still_planned(meeting, now) or (
            meeting.status == Meeting.Status.CANCELLED and meeting.starts_at > now
        ):
            for name, value in fields.items():
                setattr(meeting, name, value)
            meeting.status = Meeting.Status.PLANNED
            meeting.save()


def _still_planned(meeting: Meeting, now: datetime.datetime) -> bool:
    return meeting.status == Meeting.Status.PLANNED and meeting.starts_at > now


def _occurrence_fields(series: MeetingSeries, starts_at: datetime.datetime) -> dict:
    details = MeetingDetails(
        kind=series.kind,
        title=series.title,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=series.duration_minutes),
        mode=series.mode,
        place=series.place,
        online_link=series.online_link,
        agenda=series.agenda,
    )
    return _meeting_fields(series.organization, details)


def _check_series(organization: Organization, details: SeriesDetails) -> None:
    errors = {}
    if not 1 <= details.day_of_month <= 31:
        errors["day_of_month"] = _("Choose a day from 1 to 31.")
    if not 1 <= details.duration_minutes <= 24 * 60:
        errors["duration_minutes"] = _("A meeting lasts from 1 minute to 24 hours.")
    if details.last_month and details.last_month < details.first_month:
        errors["last_month"] = _("The last month cannot come before the first.")
    if errors:
        raise ValidationError(errors)
    # The rest is checked as for a single meeting.
    first = datetime.datetime.combine(
        details.first_month, details.start_time, tzinfo=datetime.UTC
    )
    _check_details(
        organization,
        MeetingDetails(
            kind=details.kind,
            title=details.title,
            starts_at=first,
            ends_at=first + datetime.timedelta(minutes=details.duration_minutes),
            mode=details.mode,
            place=details.place,
            online_link=details.online_link,
            agenda=details.agenda,
        ),
    )


def _series_fields(details: SeriesDetails) -> dict:
    return {
        "kind": details.kind,
        "title": details.title.strip(),
        "day_of_month": details.day_of_month,
        "start_time": details.start_time,
        "duration_minutes": details.duration_minutes,
        "first_month": details.first_month.replace(day=1),
        "last_month": details.last_month.replace(day=1) if details.last_month else None,
        "mode": details.mode,
        "place": details.place.strip(),
        "online_link": details.online_link.strip(),
        "agenda": details.agenda,
    }


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
        attendance = _own_attendance(user, meeting, lock=True)
        _require_open(attendance.meeting, at)

        if _open_interval(attendance) is None:
            AttendanceInterval.objects.create(
                attendance=attendance,
                period=DateTimeTZRange(at, None, "[)"),
                method=method,
            )
        _change_status(attendance, Status.PRESENT, actor=user, reason="")
    logger.info(
        "meeting check-in meeting=%s member=%s method=%s",
        meeting.pk,
        attendance.member_id,
        method,
    )
    return attendance


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
        _change_status(attendance, Status.PRESENT, actor=actor, reason=reason)
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
    if meeting.status == Meeting.Status.CANCELLED:
        raise ValidationError(_("This meeting was cancelled."), code="cancelled")

    with transaction.atomic():
        attendance = Attendance.objects.select_for_update().get(pk=attendance.pk)
        own_check_ins = attendance.intervals.exclude(method=CheckInMethod.SECRETARY)
        if own_check_ins.exists():
            raise ValidationError(
                _("The member checked in; they cannot be marked absent."),
                code="checked_in",
            )
        attendance.intervals.all().delete()
        attendance.reason = reason.strip() if status == Status.EXCUSED else ""
        _change_status(attendance, status, actor=actor, reason=reason.strip())
    return attendance


def _change_status(
    attendance: Attendance, status: str, *, actor: User | None, reason: str
) -> None:
    if attendance.status == status:
        if status == Status.EXCUSED:
            attendance.save(update_fields=["reason"])
        return
    AttendanceChange.objects.create(
        attendance=attendance,
        actor=actor,
        from_status=attendance.status,
        to_status=status,
        reason=reason,
    )
    attendance.status = status
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
        for attendance in meeting.attendances.filter(status=Status.INVITED):
            _change_status(
                attendance, Status.ABSENT, actor=actor, reason=_("meeting closed")
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
    return meeting


def clean_minutes(html: str) -> str:
    """Minutes as safe HTML: formatting kept, scripts and links dropped."""
    return nh3.clean(html or "", tags=MINUTES_TAGS, attributes={})


# --- votes


def voters_for(meeting: Meeting) -> QuerySet[Member]:
    """Members entitled to vote at ``meeting`` (DESIGN.md §4).

    At a branch general meeting: the full members the organisation holds on
    the day, invited or not (the rule counts those who should attend). At
    a committee meeting: the committee's full members.
    """
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


def extend_all_series(*, now: datetime.datetime | None = None) -> int:
    """Extend every running series; a failing one does not stop the rest."""
    now = now or timezone.now()
    this_month = timezone.localdate(now).replace(day=1)
    running = MeetingSeries.objects.select_related("organization").filter(
        Q(last_month__isnull=True) | Q(last_month__gte=this_month)
    )
    done = 0
    for series in running.iterator():
        try:
            with transaction.atomic():
                extend_series(series, now=now)
            done += 1
        except Exception:
            logger.exception("meeting series not extended id=%s", series.pk)
    return done


# --- notifications


def send_invitations(*, meeting_id: int, attendance_ids: list[int]) -> int:
    """Send one invitation per new attendance row through the notifier."""
    from organizations.meetings.notify import get_notifier

    meeting = Meeting.objects.select_related("organization").filter(pk=meeting_id)
    meeting = meeting.first()
    if meeting is None or meeting.status != Meeting.Status.PLANNED:
        return 0
    notifier = get_notifier()
    attendances = Attendance.objects.filter(
        meeting=meeting, pk__in=attendance_ids
    ).select_related("member", "member__user")
    sent = 0
    for attendance in attendances:
        notifier.send(_invitation(meeting, attendance.member))
        sent += 1
    Meeting.objects.filter(pk=meeting.pk).update(invitations_sent_at=timezone.now())
    logger.info("meeting invitations sent meeting=%s count=%d", meeting.pk, sent)
    return sent


def _invitation(meeting: Meeting, member: Member):
    from organizations.meetings.notify import Message

    local = timezone.localtime(
        meeting.starts_at, ZoneInfo(meeting.organization.time_zone)
    )
    where = meeting.place or meeting.get_mode_display()
    body = _("%(organization)s: %(title)s, %(when)s, %(where)s.") % {
        "organization": meeting.organization.name,
        "title": meeting.title,
        "when": f"{local:%Y-%m-%d %H:%M}",
        "where": where,
    }
    user = member.user
    return Message(
        member_id=member.pk,
        email=user.email if user else "",
        phone=member.phone or "",
        subject=_("Invitation: %(title)s") % {"title": meeting.title},
        body=body,
    )
