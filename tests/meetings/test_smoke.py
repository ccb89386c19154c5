"""End-to-end smoke of the meeting services: plan, check in, close, vote."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from organizations.meetings import services
from organizations.models import Attendance, Meeting
from organizations.scope import scope_for
from tests import factories


@pytest.fixture
def general_meeting(branch_a, secretary_of_a):
    start = timezone.now() - datetime.timedelta(minutes=30)
    return services.plan_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        organization=branch_a,
        details=services.MeetingDetails(
            kind="general_meeting",
            title="支部党员大会",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            place="会议室",
        ),
    )


def test_eleven_full_and_two_probationary(branch_a, secretary_of_a, general_meeting):
    full = [factories.make_member(branch_a, status="full") for _ in range(11)]
    probationary = [
        factories.make_member(branch_a, status="probationary") for _ in range(2)
    ]
    services.invite(general_meeting)
    scope = scope_for(secretary_of_a)
    for member in full[:6] + probationary:
        attendance = Attendance.objects.get(meeting=general_meeting, member=member)
        services.record_presence(
            actor=secretary_of_a, scope=scope, attendance=attendance
        )

    passed = services.record_resolution(
        actor=secretary_of_a,
        scope=scope,
        meeting=general_meeting,
        subject="other",
        text="同意",
        ayes=6,
        nays=0,
        abstentions=0,
    )
    assert (passed.entitled, passed.present, passed.passed) == (11, 6, True)
    failed = services.record_resolution(
        actor=secretary_of_a,
        scope=scope,
        meeting=general_meeting,
        subject="other",
        text="同意",
        ayes=5,
        nays=1,
        abstentions=0,
    )
    assert failed.passed is False
    with pytest.raises(ValidationError):
        services.record_resolution(
            actor=secretary_of_a,
            scope=scope,
            meeting=general_meeting,
            subject="other",
            text="同意",
            ayes=5,
            nays=1,
            abstentions=0,
            declared_passed=True,
        )


def test_check_in_leave_return_and_close(
    branch_a, member, member_user, secretary_of_a, general_meeting
):
    services.invite(general_meeting)
    services.check_in(user=member_user, meeting=general_meeting)
    services.check_in(user=member_user, meeting=general_meeting)
    services.leave(user=member_user, meeting=general_meeting)
    services.check_in(user=member_user, meeting=general_meeting)
    attendance = Attendance.objects.get(meeting=general_meeting, member=member)
    assert attendance.status == "present"
    assert attendance.intervals.count() == 2

    services.close_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        meeting=general_meeting,
        minutes="<p>ok</p><script>x</script>",
    )
    general_meeting.refresh_from_db()
    assert general_meeting.status == Meeting.Status.HELD
    assert "script" not in general_meeting.minutes
    assert not attendance.intervals.filter(period__upper_inf=True).exists()
    with pytest.raises(services.CheckInRefused):
        services.check_in(user=member_user, meeting=general_meeting)
    assert attendance.intervals.count() == 2
