"""Demo organisational life: meetings the demo log-ins can take part in.

Written through the meeting services, as the demo secretary (or, for the
inflow branch, the operator) would: a monthly theme Party day and a
lecture open for check-in today, both at the demo branch and at the
Shenzhen branch the mobile member is placed with, and the demo branch's
general meeting of last month, already held. A second run adds only what
is missing, such as today's lecture on a new day.
"""

import datetime
import logging
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model

from members.demo.tree import mobile_branch, placement
from organizations.meetings import services
from organizations.models import Attendance, Meeting, MeetingSeries, Organization
from organizations.scope import scope_for

logger = logging.getLogger(__name__)

ONLINE_LINK = "https://meeting.example.com/liudong-demo"
PLACE = "党员活动室"


def seed_meetings(*, today: datetime.date) -> None:
    User = get_user_model()
    secretary = User.objects.filter(username="demo_secretary").first()
    operator = User.objects.filter(username="demo_operator").first()
    branch = Organization.objects.filter(code=placement(0).code).first()
    inflow = Organization.objects.filter(code=mobile_branch(0).code).first()
    if secretary is None or operator is None or branch is None:
        return

    _theme_day_series(branch, secretary, today)
    _last_months_general_meeting(branch, secretary, today)
    _todays_lecture(branch, secretary, today)
    if inflow is not None:
        # The mobile member sees the Shenzhen branch's meetings too.
        _theme_day_series(inflow, operator, today)
        _todays_lecture(inflow, operator, today)


def _theme_day_series(organization, actor, today) -> None:
    if MeetingSeries.objects.filter(organization=organization).exists():
        return
    services.plan_series(
        actor=actor,
        scope=scope_for(actor),
        organization=organization,
        details=services.SeriesDetails(
            kind="theme_day",
            title="主题党日",
            day_of_month=15,
            start_time=datetime.time(19, 0),
            duration_minutes=120,
            first_month=today.replace(day=1),
            mode="hybrid",
            place=PLACE,
            online_link=ONLINE_LINK,
            agenda="学习党的二十届四中全会精神；交流工作生活情况。",
        ),
    )


def _last_months_general_meeting(branch, secretary, today) -> None:
    day = (today.replace(day=1) - relativedelta(months=1)).replace(day=20)
    if Meeting.objects.filter(
        organization=branch, kind="general_meeting", held_on=day
    ).exists():
        return
    scope = scope_for(secretary)
    starts_at = _local(branch, day, datetime.time(19, 0))
    meeting = services.plan_meeting(
        actor=secretary,
        scope=scope,
        organization=branch,
        details=services.MeetingDetails(
            kind="general_meeting",
            title="支部党员大会",
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(hours=2),
            mode="in_person",
            place=PLACE,
            agenda="通报支部工作；讨论党费收缴情况。",
        ),
    )
    # Most of the branch came; the rest are recorded absent on closing.
    attendances = list(meeting.attendances.order_by("pk"))
    for attendance in attendances[: max(1, len(attendances) * 3 // 4)]:
        services.record_presence(actor=secretary, scope=scope, attendance=attendance)
    services.close_meeting(
        actor=secretary,
        scope=scope,
        meeting=meeting,
        minutes="<p>会议通报了支部上季度工作，讨论了党费收缴情况。</p>",
    )


def _todays_lecture(organization, actor, today) -> None:
    if Meeting.objects.filter(
        organization=organization, kind="party_lecture", held_on=today
    ).exists():
        return
    # Open all day, so whoever tries the demo today can check in.
    starts_at = _local(organization, today, datetime.time(0, 0))
    meeting = services.plan_meeting(
        actor=actor,
        scope=scope_for(actor),
        organization=organization,
        details=services.MeetingDetails(
            kind="party_lecture",
            title="线上党课：新就业群体党员的组织生活",
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(hours=23, minutes=59),
            mode="online",
            online_link=ONLINE_LINK,
            agenda="观看党课视频，线上交流。",
        ),
    )
    logger.info(
        "demo meeting planned organization=%s invited=%d",
        organization.pk,
        Attendance.objects.filter(meeting=meeting).count(),
    )


def _local(organization, day, time) -> datetime.datetime:
    return datetime.datetime.combine(day, time, tzinfo=ZoneInfo(organization.time_zone))
