"""Planning meetings: single and recurring ones, invitations and notices."""

import datetime
import logging
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, User
from members.selectors import members_held_on, placements_on
from members.services._common import audit_record, require_write
from organizations.meetings import rules
from organizations.models import (
    Attendance,
    Meeting,
    MeetingKind,
    MeetingSeries,
    Organization,
    Role,
    Standing,
)
from organizations.scope import Scope

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
    """Change a planned meeting; invitees hear of a new time or place.

    The kind stays: it decided who was invited and who votes, so another
    kind of meeting is cancelled and planned anew.
    """
    require_write(scope, meeting.organization)
    _check_details(meeting.organization, details)

    with transaction.atomic():
        meeting = _planned_meeting(meeting, _("Only a planned meeting can be changed."))
        if details.kind != meeting.kind:
            raise ValidationError(
                {
                    "kind": _(
                        "The kind of a planned meeting cannot change: cancel it "
                        "and plan a meeting of the other kind."
                    )
                },
                code="kind_changed",
            )
        fields = _meeting_fields(meeting.organization, details)
        moved = _moved(meeting, fields)
        for name, value in fields.items():
            setattr(meeting, name, value)
        meeting.save(update_fields=[*fields, "updated_at"])
        audit_record(
            actor=actor,
            action="meeting.changed",
            organization=meeting.organization,
            meeting=meeting.pk,
        )
        if moved:
            _notify_change_on_commit(meeting.pk, "changed")
    return meeting


# What invitees are told about again when it changes.
_NOTICED_FIELDS = ("starts_at", "ends_at", "mode", "place", "online_link")


def _moved(meeting: Meeting, fields: dict) -> bool:
    return any(getattr(meeting, name) != fields[name] for name in _NOTICED_FIELDS)


def cancel_meeting(
    *, actor: User, scope: Scope, meeting: Meeting, reason: str
) -> Meeting:
    require_write(scope, meeting.organization)
    if not reason.strip():
        raise ValidationError(_("Give a reason."), code="reason_required")

    with transaction.atomic():
        meeting = _planned_meeting(
            meeting, _("Only a planned meeting can be cancelled.")
        )
        meeting.status = Meeting.Status.CANCELLED
        meeting.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action="meeting.cancelled",
            organization=meeting.organization,
            meeting=meeting.pk,
            reason=reason.strip(),
        )
        _notify_change_on_commit(meeting.pk, "cancelled")
    return meeting


def _planned_meeting(meeting: Meeting, refusal: str) -> Meeting:
    """The meeting as stored now, locked, provided it is still planned.

    The caller's copy may be stale (a form opened before another secretary
    closed the meeting); saving it would quietly reopen a held meeting.
    """
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if meeting.status != Meeting.Status.PLANNED:
        raise ValidationError(refusal, code="not_planned")
    return meeting


_EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_LATEST = datetime.timedelta(days=2 * 366)


def _check_details(organization: Organization, details: MeetingDetails) -> None:
    errors = {}
    if details.kind not in MeetingKind.values:
        errors["kind"] = _("Unknown kind of meeting.")
    elif details.kind not in rules.OWED_BY.get(organization.kind, ()):
        errors["kind"] = _("This organisation does not hold this kind of meeting.")
    if not details.title.strip():
        errors["title"] = _("Give the meeting a title.")
    latest = timezone.now() + _LATEST
    if not _EARLIEST <= details.starts_at <= latest:
        # Past meetings may be recorded afterwards (the compliance pages go
        # back to 2000); planning more than two years ahead is a slip.
        errors["starts_at"] = _("A meeting starts between 2000 and two years from now.")
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

    with transaction.atomic():
        # Two invites of one meeting take turns on its row, so the second
        # sees what the first added: without this, both would find the
        # member missing, and both would announce the one row created.
        _lock_meeting(meeting)
        already = set(meeting.attendances.values_list("member_id", flat=True))
        missing = {m.pk: standing for m, standing in pairs if m.pk not in already}
        created = Attendance.objects.bulk_create(
            Attendance(meeting=meeting, member_id=member_id, standing=standing)
            for member_id, standing in missing.items()
        )
        new_ids = [attendance.pk for attendance in created]
        if new_ids:
            _notify_on_commit(meeting.pk, new_ids)
    return len(new_ids)


def _lock_meeting(meeting: Meeting) -> None:
    """Take the meeting's row lock (no key change) until the commit."""
    list(Meeting.objects.select_for_update(no_key=True).filter(pk=meeting.pk))


def invite_members(
    *, actor: User, scope: Scope, meeting: Meeting, members: list[Member]
) -> int:
    """The secretary invites members beyond the defaults of the kind."""
    require_write(scope, meeting.organization)
    if meeting.status != Meeting.Status.PLANNED:
        raise ValidationError(
            _("Members can be invited to a planned meeting only."),
            code="not_planned",
        )

    with transaction.atomic():
        invited = invite(meeting, members)
        audit_record(
            actor=actor,
            action="meeting.invited",
            organization=meeting.organization,
            meeting=meeting.pk,
            members=[m.pk for m in members],
        )
    return invited


def uninvite(*, actor: User, scope: Scope, attendance: Attendance) -> None:
    """Take back an invitation nobody has acted on yet."""
    meeting = attendance.meeting
    require_write(scope, meeting.organization)
    if attendance.status != Status.INVITED or attendance.intervals.exists():
        raise ValidationError(
            _("Only an invitation without attendance can be taken back."),
            code="attended",
        )

    with transaction.atomic():
        audit_record(
            actor=actor,
            action="meeting.uninvited",
            member=attendance.member,
            organization=meeting.organization,
            meeting=meeting.pk,
        )
        attendance.delete()


def _notify_change_on_commit(meeting_id: int, change: str) -> None:
    from organizations.tasks import notify_meeting_change

    transaction.on_commit(lambda: notify_meeting_change.delay(meeting_id, change))


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
        if details.kind != series.kind:
            raise ValidationError(
                {
                    "kind": _(
                        "The kind of a recurring meeting cannot change: end it "
                        "and plan a recurring meeting of the other kind."
                    )
                },
                code="kind_changed",
            )
        months_before = (series.first_month, series.last_month)
        for name, value in _series_fields(details).items():
            setattr(series, name, value)
        series.save()
        extend_series(series, now=now, months_before=months_before)
    return series


def extend_series(
    series: MeetingSeries,
    *,
    now: datetime.datetime | None = None,
    months_before: tuple[datetime.date, datetime.date | None] | None = None,
) -> None:
    """Bring the series' planned meetings in line with it, months ahead.

    One meeting per series and month (a database constraint): an existing
    planned meeting that has not started is updated in place, a missing one
    is created, and a planned one outside the series' months is cancelled.
    Held, cancelled and started meetings are history and stay as they are,
    except one the series itself cancelled when an edit (``months_before``
    is the range before it) left its month out and now takes it back.
    """
    now = now or timezone.now()
    months = _series_months(series, now)
    existing = {
        m.series_month: m
        for m in Meeting.objects.select_for_update().filter(series=series)
    }
    for month, meeting in existing.items():
        if month not in months and _still_planned(meeting, now):
            meeting.status = Meeting.Status.CANCELLED
            meeting.save(update_fields=["status", "updated_at"])

    for month, starts_at in months.items():
        meeting = existing.get(month)
        # The day has passed this month: whatever is planned keeps its date
        # (the members were invited to it), the change applies from the next.
        if starts_at <= now:
            continue
        if meeting is None:
            _create_occurrence(series, month, starts_at)
        elif _still_planned(meeting, now) or _dropped_by_series(
            meeting, now, months_before
        ):
            _update_occurrence(series, meeting, starts_at)


def _series_months(
    series: MeetingSeries, now: datetime.datetime
) -> dict[datetime.date, datetime.datetime]:
    """Each month of the series from this one to the horizon, and its start."""
    time_zone = series.organization.time_zone
    this_month = rules.local_date(now, time_zone).replace(day=1)
    horizon = this_month + relativedelta(
        months=settings.LIUDONG_MEETING_SERIES_MONTHS_AHEAD
    )
    last = min(horizon, series.last_month or horizon)
    months = {}
    month = max(series.first_month, this_month)
    while month <= last:
        day = rules.day_in_month(month, series.day_of_month)
        months[month] = datetime.datetime.combine(
            day, series.start_time, tzinfo=ZoneInfo(time_zone)
        )
        month += relativedelta(months=1)
    return months


def _create_occurrence(
    series: MeetingSeries, month: datetime.date, starts_at: datetime.datetime
) -> Meeting:
    meeting = Meeting.objects.create(
        organization=series.organization,
        series=series,
        series_month=month,
        created_by=series.created_by,
        **_occurrence_fields(series, starts_at),
    )
    invite(meeting)
    return meeting


def _update_occurrence(
    series: MeetingSeries, meeting: Meeting, starts_at: datetime.datetime
) -> None:
    fields = _occurrence_fields(series, starts_at)
    told = meeting.status == Meeting.Status.PLANNED and _moved(meeting, fields)
    for name, value in fields.items():
        setattr(meeting, name, value)
    meeting.status = Meeting.Status.PLANNED
    meeting.save()
    if told:
        _notify_change_on_commit(meeting.pk, "changed")


def _dropped_by_series(
    meeting: Meeting,
    now: datetime.datetime,
    months_before: tuple[datetime.date, datetime.date | None] | None,
) -> bool:
    """A future meeting cancelled because an edit left its month out.

    One cancelled by hand while its month was in the series stays
    cancelled: the secretary had a reason, and no nightly run undoes it.
    """
    if months_before is None or meeting.status != Meeting.Status.CANCELLED:
        return False
    first, last = months_before
    outside = meeting.series_month < first or (
        last is not None and meeting.series_month > last
    )
    return outside and meeting.starts_at > now


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
    # The rest is checked as for a single meeting, the next one planned (a
    # series started long ago can still be edited).
    this_month = timezone.localdate().replace(day=1)
    first = datetime.datetime.combine(
        max(details.first_month, this_month), details.start_time, tzinfo=datetime.UTC
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
    # TODO: a notifier failing part-way makes the task's retry tell again
    # the members already told; needs a per-attendance "notified at" field
    # on Attendance, which the model does not have yet.
    attendances = Attendance.objects.filter(
        meeting=meeting, pk__in=attendance_ids
    ).select_related("member", "member__user")
    sent = 0
    for attendance in attendances:
        notifier.send(_invitation(meeting, attendance.member))
        sent += 1
    logger.info("meeting invitations sent meeting=%s count=%d", meeting.pk, sent)
    return sent


def send_meeting_change(*, meeting_id: int, change: str) -> int:
    """Tell every invitee that a meeting moved, or was cancelled."""
    from organizations.meetings.notify import get_notifier

    meeting = Meeting.objects.select_related("organization").get(pk=meeting_id)
    notifier = get_notifier()
    attendances = meeting.attendances.select_related("member", "member__user")
    sent = 0
    for attendance in attendances:
        message = _invitation(meeting, attendance.member)
        if change == "cancelled":
            subject = _("Cancelled: %(title)s") % {"title": meeting.title}
        else:
            subject = _("Changed: %(title)s") % {"title": meeting.title}
        notifier.send(replace(message, subject=subject))
        sent += 1
    logger.info(
        "meeting change sent meeting=%s change=%s count=%d", meeting.pk, change, sent
    )
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
