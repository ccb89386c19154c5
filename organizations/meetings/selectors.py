"""Reads of organisational life: meetings in scope, a member's meetings,
and compliance with the frequencies of DESIGN.md §4.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from members.models import Member
from members.selectors import members_held_on, placements_on
from organizations.meetings import rules
from organizations.models import Attendance, Meeting, MeetingKind, Organization
from organizations.scope import OutOfScope, Scope, subtree_q

Status = Attendance.Status


def meeting_list(*, scope: Scope) -> QuerySet[Meeting]:
    """Meetings of the organisations the scope reads."""
    meetings = Meeting.objects.select_related("organization")
    if scope.is_operator:
        return meetings
    return meetings.filter(subtree_q(scope.read_paths, field_name="organization__path"))


def meeting_get(*, scope: Scope, meeting_id: int) -> Meeting:
    meeting = meeting_list(scope=scope).filter(pk=meeting_id).first()
    if meeting is None:
        raise OutOfScope()
    return meeting


def meeting_attendance(meeting: Meeting) -> QuerySet[Attendance]:
    """The invited members of a meeting, with their stays, by name."""
    return (
        meeting.attendances.select_related("member")
        .prefetch_related("intervals", "changes")
        .order_by("member__name", "member_id")
    )


def invitable_members(meeting: Meeting) -> QuerySet[Member]:
    """Members the secretary may add: held or placed there, not yet invited."""
    day = meeting.held_on
    placed = placements_on(day).filter(inflow_organization=meeting.organization)
    held = members_held_on(organization=meeting.organization, on=day)
    return (
        Member.objects.filter(
            Q(pk__in=held.values("pk")) | Q(pk__in=placed.values("member_id")),
            status__in=[
                Member.Status.FULL,
                Member.Status.PROBATIONARY,
                Member.Status.SUSPENDED,
            ],
        )
        .exclude(attendances__meeting=meeting)
        .order_by("name", "pk")
    )


def meetings_own(*, user, since: datetime.date | None = None) -> QuerySet[Attendance]:
    """The logged-in member's invitations, newest first.

    Includes the meetings of an inflow organisation the member is placed
    with: the invitation is the member's, wherever the meeting is.
    """
    attendances = Attendance.objects.filter(member__user_id=user.pk).select_related(
        "meeting", "meeting__organization"
    )
    if since is not None:
        attendances = attendances.filter(meeting__held_on__gte=since)
    return attendances.exclude(meeting__status=Meeting.Status.CANCELLED).order_by(
        "-meeting__starts_at"
    )


def attendance_own(*, user, meeting_id: int) -> Attendance:
    attendance = (
        Attendance.objects.filter(member__user_id=user.pk, meeting_id=meeting_id)
        .select_related("meeting", "meeting__organization")
        .prefetch_related("intervals")
        .first()
    )
    if attendance is None:
        raise OutOfScope()
    return attendance


def member_attendance(
    member: Member, *, on: datetime.date | None = None, months: int = 6
) -> dict:
    """Meetings a member was invited to and attended in the last months.

    Counts every organisation's meetings: a mobile member's attendance at
    the inflow organisation is on their own record, which the outflow
    organisation reads.
    """
    on = on or timezone.localdate()
    since = on - relativedelta(months=months)
    counts = Attendance.objects.filter(
        member=member,
        meeting__status=Meeting.Status.HELD,
        meeting__held_on__gt=since,
        meeting__held_on__lte=on,
    ).aggregate(
        invited=Count("pk"),
        present=Count("pk", filter=Q(status=Status.PRESENT)),
        excused=Count("pk", filter=Q(status=Status.EXCUSED)),
    )
    return {"since": since, "on": on, **counts}


def member_recent_meetings(
    member: Member, *, on: datetime.date | None = None, months: int = 6
) -> QuerySet[Attendance]:
    """The member's held meetings of the last months, at any organisation.

    What the organisation holding the relationship reads about a mobile
    member: their attendance at the inflow organisation is theirs.
    """
    on = on or timezone.localdate()
    since = on - relativedelta(months=months)
    return (
        Attendance.objects.filter(
            member=member,
            meeting__status=Meeting.Status.HELD,
            meeting__held_on__gt=since,
            meeting__held_on__lte=on,
        )
        .select_related("meeting", "meeting__organization")
        .order_by("-meeting__held_on", "-meeting_id")
    )


def members_attendance(
    *, organization: Organization, on: datetime.date | None = None, months: int = 6
) -> QuerySet[Member]:
    """Members held by ``organization`` with their meetings of the last months.

    Each member carries ``invited``, ``present`` and ``excused`` counts over
    held meetings anywhere (a mobile member's inflow meetings included).
    """
    on = on or timezone.localdate()
    since = on - relativedelta(months=months)
    window = Q(
        attendances__meeting__status=Meeting.Status.HELD,
        attendances__meeting__held_on__gt=since,
        attendances__meeting__held_on__lte=on,
    )
    return (
        members_held_on(organization=organization, on=on)
        .annotate(
            invited=Count("attendances", filter=window),
            present=Count(
                "attendances", filter=window & Q(attendances__status=Status.PRESENT)
            ),
            excused=Count(
                "attendances", filter=window & Q(attendances__status=Status.EXCUSED)
            ),
        )
        .order_by("name", "pk")
    )


def members_without_organisational_life(
    *, organization: Organization, on: datetime.date | None = None, months: int = 6
) -> QuerySet[Member]:
    """Members held by ``organization`` present at no meeting for ``months``.

    DESIGN.md's lapse rules start from six months without organisational
    life; a member who joined within the window is not counted yet.
    """
    on = on or timezone.localdate()
    since = on - relativedelta(months=months)
    attended = Attendance.objects.filter(
        member=OuterRef("pk"),
        status=Status.PRESENT,
        meeting__status=Meeting.Status.HELD,
        meeting__held_on__gt=since,
        meeting__held_on__lte=on,
    )
    held_since = members_held_on(organization=organization, on=since)
    return (
        members_held_on(organization=organization, on=on)
        .filter(pk__in=held_since.values("pk"))
        .filter(status__in=[Member.Status.FULL, Member.Status.PROBATIONARY])
        .exclude(Exists(attended))
        .order_by("name", "pk")
    )


# Compliance


@dataclass
class KindCompliance:
    """One kind of meeting at one organisation over a range of periods."""

    kind: str
    frequency: rules.Frequency
    periods: list[rules.Period]
    held: dict[str, int] = field(default_factory=dict)  # period label → count

    @property
    def label(self) -> str:
        return MeetingKind(self.kind).label

    def state(self, period: rules.Period, today: datetime.date) -> str:
        """held, overdue (period over, none held), due (current) or future."""
        if self.held.get(period.label):
            return "held"
        if period.last < today:
            return "overdue"
        if period.first <= today:
            return "due"
        return "future"

    def overdue(self, today: datetime.date) -> list[rules.Period]:
        return [p for p in self.periods if self.state(p, today) == "overdue"]


@dataclass
class Compliance:
    organization: Organization
    first: datetime.date
    last: datetime.date
    today: datetime.date
    kinds: list[KindCompliance]
    invited: int
    present: int
    excused: int

    @property
    def attendance_rate(self) -> float | None:
        """Present of invited at the meetings held; None when none were."""
        return self.present / self.invited if self.invited else None

    @property
    def overdue(self) -> int:
        return sum(len(k.overdue(self.today)) for k in self.kinds)


def compliance(
    *,
    organization: Organization,
    first: datetime.date,
    last: datetime.date,
    today: datetime.date | None = None,
) -> Compliance:
    """Which required meetings ``organization`` held in [first, last]."""
    return subtree_compliance(
        organizations=[organization], first=first, last=last, today=today
    )[0]


def subtree_compliance(
    *,
    organizations: list[Organization],
    first: datetime.date,
    last: datetime.date,
    today: datetime.date | None = None,
) -> list[Compliance]:
    """Compliance of many organisations in a fixed number of queries."""
    today = today or timezone.localdate()
    held = Meeting.objects.filter(
        organization_id__in=[o.pk for o in organizations],
        status=Meeting.Status.HELD,
    )
    by_org = _held_kinds(held, first, last)
    rates = _attendance_by_org(held.filter(held_on__gte=first, held_on__lte=last))

    result = []
    for organization in organizations:
        row = rates.get(organization.pk, {})
        result.append(
            Compliance(
                organization=organization,
                first=first,
                last=last,
                today=today,
                kinds=_kinds_owed(organization, first, last, by_org[organization.pk]),
                invited=row.get("invited", 0),
                present=row.get("present", 0),
                excused=row.get("excused", 0),
            )
        )
    return result


def _held_kinds(
    held: QuerySet[Meeting], first: datetime.date, last: datetime.date
) -> dict[int, list[tuple[str, datetime.date]]]:
    """(kind, local date) of the held meetings, by organisation."""
    # A period that overlaps the range counts whole: the life meeting of
    # March meets the year's requirement asked about in the third quarter.
    # Years are the widest periods, so reading whole years finds them all.
    whole_years = held.filter(
        held_on__gte=rules.period_of(rules.Frequency.YEAR, first).first,
        held_on__lte=rules.period_of(rules.Frequency.YEAR, last).last,
    )
    by_org: dict[int, list[tuple[str, datetime.date]]] = defaultdict(list)
    rows = whole_years.values_list("organization_id", "kind", "held_on")
    for org_id, kind, day in rows:
        by_org[org_id].append((kind, day))
    return by_org


def _attendance_by_org(held: QuerySet[Meeting]) -> dict[int, dict]:
    rows = (
        Attendance.objects.filter(meeting__in=held)
        .values("meeting__organization_id")
        .annotate(
            invited=Count("pk"),
            present=Count("pk", filter=Q(status=Status.PRESENT)),
            excused=Count("pk", filter=Q(status=Status.EXCUSED)),
        )
    )
    return {row["meeting__organization_id"]: row for row in rows}


def _kinds_owed(
    organization: Organization,
    first: datetime.date,
    last: datetime.date,
    held: list[tuple[str, datetime.date]],
) -> list[KindCompliance]:
    kinds = []
    for kind in rules.OWED_BY.get(organization.kind, ()):
        frequency = rules.REQUIRED[kind]
        item = KindCompliance(
            kind=kind,
            frequency=frequency,
            periods=rules.periods_between(frequency, first, last),
        )
        labels = {p.label for p in item.periods}
        for held_kind, day in held:
            label = rules.period_of(frequency, day).label
            if held_kind == kind and label in labels:
                item.held[label] = item.held.get(label, 0) + 1
        kinds.append(item)
    return kinds
