"""Demo meetings: the demo log-ins have organisational life to try."""

from io import StringIO

import pytest
from django.core.management import call_command

from organizations.meetings import services
from organizations.meetings.selectors import meetings_own
from organizations.models import Meeting, MeetingSeries

SEED = ("--members", "120", "--seed", "5")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded(db):
    call_command("seed_demo", *SEED, stdout=StringIO())


def _own(username):
    from members.models import User

    return meetings_own(user=User.objects.get(username=username))


def test_the_demo_branch_has_a_theme_day_series_and_a_held_general_meeting(seeded):
    # One at the demo branch, one at the Shenzhen branch hosting demo_mobile.
    assert MeetingSeries.objects.filter(kind="theme_day").count() == 2
    held = Meeting.objects.get(kind="general_meeting")
    assert held.status == Meeting.Status.HELD
    statuses = set(held.attendances.values_list("status", flat=True))
    assert statuses <= {"present", "absent"} and "present" in statuses


def test_the_demo_member_and_the_placed_member_can_check_in_today(seeded):
    member_lecture = _own("demo_member").get(meeting__kind="party_lecture")
    # The mobile member is invited by their own branch and, placed with
    # the Shenzhen branch, by that one too.
    mobile_lectures = _own("demo_mobile").filter(meeting__kind="party_lecture")
    assert sorted(a.standing for a in mobile_lectures) == ["full", "placed"]
    mobile_lecture = mobile_lectures.get(standing="placed")
    assert mobile_lecture.meeting.organization != member_lecture.meeting.organization
    for attendance in (member_lecture, mobile_lecture):
        services.check_in(user=attendance.member.user, meeting=attendance.meeting)
        attendance.refresh_from_db()
        assert attendance.status == "present"


def test_seeding_again_adds_no_meeting(seeded):
    before = Meeting.objects.count()

    call_command("seed_demo", *SEED, stdout=StringIO())

    assert Meeting.objects.count() == before
