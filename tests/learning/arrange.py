"""Builders shared by the learning tests: courses, local times, beats."""

import datetime
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from learning.models import Course
from organizations.models import Attendance, Meeting
from tests.meetings.arrange import hold, plan

SHANGHAI = ZoneInfo("Asia/Shanghai")
_sequence = itertools.count(1)


def local(year, month, day, hour=0, minute=0, second=0) -> datetime.datetime:
    """A moment in Beijing time, as members read their clocks."""
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def make_course(organization, **kw) -> Course:
    """A published course of ``organization``, valid since 2020, 1 hour."""
    fields = dict(
        title=f"课程{next(_sequence)}",
        category=Course.Category.THEORY,
        body="<p>学习内容</p>",
        credit_hours=Decimal("1.00"),
        valid_from=datetime.date(2020, 1, 1),
        published_at=local(2020, 1, 1),
    )
    fields.update(kw)
    return Course.objects.create(organization=organization, **fields)


def lecture(
    organization, secretary, member, *, minutes=100, kind="party_lecture"
) -> Meeting:
    """A meeting that started three hours ago and was held, ``member``
    present; it lasted ``minutes``."""
    meeting = plan(
        organization,
        secretary,
        kind=kind,
        starts_at=timezone.now() - datetime.timedelta(hours=3),
        minutes=minutes,
        invitees=[member],
    )
    Attendance.objects.filter(meeting=meeting, member=member).update(
        status=Attendance.Status.PRESENT
    )
    return hold(meeting, secretary)
