"""Reads of study hours: the yearly figure, targets, required courses.

One expression (``hours_in_year``) computes a member's hours for a year;
the member's own figure and the secretary's compliance table both use it,
so the portal, the admin, the API and exports show the same number.
"""

import datetime
import enum
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Case,
    DecimalField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from learning.models import HOURS, Course, OfflineStudy, Progress
from learning.rules import LOCAL_TIME_ZONE
from learning.selectors.study import courses_to_study
from members.models import Member
from members.selectors import periods_on
from organizations.models import Organization, Role
from organizations.scope import OutOfScope, Scope, subtree_q, today

ZERO = Decimal("0.00")
# Roles whose holders study the cadres' yearly hours (DESIGN.md, learning:
# branch secretaries and committee members).
CADRE_ROLES = (
    Role.Kind.SECRETARY,
    Role.Kind.ORGANISER,
    Role.Kind.COMMITTEE_STAFF,
)


def _hours_field() -> DecimalField:
    return DecimalField(**HOURS)


def _sum_of(queryset: QuerySet, column: str) -> Coalesce:
    total = queryset.values("member").annotate(total=Sum(column)).values("total")
    return Coalesce(Subquery(total), Value(ZERO), output_field=_hours_field())


def hours_in_year(year: int):
    """An expression: a member's course credits plus offline hours."""
    courses = Progress.objects.filter(member=OuterRef("pk"), credited_year=year)
    offline = OfflineStudy.objects.filter(member=OuterRef("pk"), studied_on__year=year)
    return _sum_of(courses, "credited_hours") + _sum_of(offline, "hours")


def _cadre_in_year(year: int) -> Exists:
    roles = Role.objects.filter(
        user=OuterRef("user"),
        kind__in=CADRE_ROLES,
        starts_on__lte=datetime.date(year, 12, 31),
    ).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=datetime.date(year, 1, 1)))
    return Exists(roles)


def target_in_year(year: int) -> Case:
    """An expression: 56 hours for a cadre at any time of the year, else 32."""
    # TODO: DESIGN.md asks cadres for one centralised training within the 56
    # hours; no course or study row marks training as centralised yet.
    return Case(
        When(
            _cadre_in_year(year), then=Value(settings.LIUDONG_STUDY_YEARLY_HOURS_CADRES)
        ),
        default=Value(settings.LIUDONG_STUDY_YEARLY_HOURS),
    )


def with_hours(members: QuerySet[Member], year: int) -> QuerySet[Member]:
    """Annotate ``hours`` and ``target`` for ``year`` on each member."""
    return members.annotate(hours=hours_in_year(year), target=target_in_year(year))


def yearly_hours(member: Member, year: int) -> Decimal:
    """Hours credited to ``member`` in ``year``."""
    row = with_hours(Member.objects.filter(pk=member.pk), year).values("hours")
    return row.get()["hours"]


def yearly_target(member: Member, year: int) -> int:
    """Hours ``member`` should study in ``year``."""
    row = with_hours(Member.objects.filter(pk=member.pk), year).values("target")
    return row.get()["target"]


class Due(enum.StrEnum):
    DONE = "done"
    DUE = "due"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class RequiredCourse:
    course: Course
    deadline: datetime.date
    state: Due


def _audiences(member: Member, on: datetime.date) -> list[str]:
    audiences = [Course.Audience.ALL]
    if member.status == Member.Status.PROBATIONARY:
        audiences.append(Course.Audience.PROBATIONARY)
    cadre = Role.objects.active_on(on).filter(
        user_id=member.user_id, kind__in=CADRE_ROLES
    )
    if member.user_id is not None and cadre.exists():
        audiences.append(Course.Audience.SECRETARIES)
    return audiences


def required_courses(member: Member, *, on: datetime.date) -> list[RequiredCourse]:
    """Courses ``member`` must complete, with deadline and state on ``on``.

    A course whose validity has ended can no longer be studied and drops
    out of the list, done or not.
    """
    # Visibility is judged at the end of ``on``: a course published that
    # day is already required.
    at = datetime.datetime.combine(on, datetime.time.max, tzinfo=LOCAL_TIME_ZONE)
    done = Progress.objects.filter(
        member=member, course=OuterRef("pk"), completed_at__isnull=False
    )
    courses = (
        courses_to_study(member, at=at, on=on)
        .filter(required_for__in=_audiences(member, on))
        .annotate(done=Exists(done))
        .order_by("deadline", "title")
    )
    return [
        RequiredCourse(
            course, course.deadline, _state(course.done, course.deadline, on)
        )
        for course in courses
    ]


def _state(done: bool, deadline: datetime.date, on: datetime.date) -> Due:
    if done:
        return Due.DONE
    return Due.DUE if on <= deadline else Due.OVERDUE


@dataclass(frozen=True)
class Compliance:
    members: list[Member]
    at_target: int

    @property
    def share(self) -> Decimal:
        """Share of members at their target, 0 to 1 (0 with no members)."""
        if not self.members:
            return ZERO
        return (Decimal(self.at_target) / len(self.members)).quantize(Decimal("0.0001"))


def hours_compliance(
    *, scope: Scope, organization: Organization, year: int
) -> Compliance:
    """Each held member's hours and target for ``year``, in one query.

    Members are those the organisation and the organisations under it hold
    (not members placed there) at the end of the year, or today for the
    current year: a committee sees its whole subtree.
    """
    if not scope.reads(organization):
        raise OutOfScope()
    on = min(today(), datetime.date(year, 12, 31))
    held = periods_on(on).filter(
        subtree_q((organization.path,), field_name="organization__path")
    )
    members = list(
        with_hours(
            Member.objects.filter(pk__in=held.values("member_id")), year
        ).order_by("name", "pk")
    )
    at_target = sum(1 for member in members if member.hours >= member.target)
    return Compliance(members=members, at_target=at_target)
