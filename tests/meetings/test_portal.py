"""The member's meeting pages: invitations, one meeting, check-in and QR."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from organizations.meetings import checkin
from organizations.models import Attendance, AttendanceInterval, Meeting
from tests import factories
from tests.meetings.arrange import attendance_of, hold, place, plan

LIST = "/meetings/"
ONLINE_LINK = "https://meeting.example.cn/j/20260701"
HOUR = datetime.timedelta(hours=1)


def detail_url(meeting: Meeting) -> str:
    return reverse("meetings:detail", args=[meeting.pk])


def check_in_url(meeting: Meeting) -> str:
    return reverse("meetings:check_in", args=[meeting.pk])


def leave_url(meeting: Meeting) -> str:
    return reverse("meetings:leave", args=[meeting.pk])


def qr_url(meeting: Meeting) -> str:
    return reverse("meetings:checkin", args=[checkin.checkin_token(meeting)])


def starting_in(delta: datetime.timedelta) -> datetime.datetime:
    return timezone.now() + delta


def local_clock(moment: datetime.datetime, zone: str = "Asia/Shanghai") -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%H:%M}"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def now_meeting(branch_a, secretary_of_a, member):
    """An in-person general meeting of branch A that started 30 minutes ago."""
    return plan(branch_a, secretary_of_a, title="支部党员大会", place="村委会议室")


@pytest.fixture
def online_meeting(branch_a, secretary_of_a, member):
    """An online theme Party day of branch A that started 10 minutes ago."""
    return plan(
        branch_a,
        secretary_of_a,
        kind="theme_day",
        title="主题党日",
        starts_at=starting_in(-datetime.timedelta(minutes=10)),
        mode="online",
        place="",
        online_link=ONLINE_LINK,
    )


@pytest.fixture
def later_meeting(branch_a, secretary_of_a, member):
    """Branch A's Party lecture tomorrow: check-in is not open yet."""
    return plan(
        branch_a,
        secretary_of_a,
        kind="party_lecture",
        title="党课",
        starts_at=starting_in(datetime.timedelta(days=1)),
        agenda="学习党章\n讨论",
    )


@pytest.fixture
def ended_meeting(branch_a, secretary_of_a, member):
    """A meeting that ended an hour ago and was not closed yet."""
    return plan(
        branch_a, secretary_of_a, title="已结束", starts_at=starting_in(-3 * HOUR)
    )


@pytest.fixture
def other_member_user(branch_b):
    user = factories.make_user("member2")
    factories.make_member(branch_b, user=user, name="赵六")
    return user


# Who may see the pages.


@pytest.mark.parametrize("name", ["list", "detail", "checkin"])
def test_an_anonymous_visitor_is_sent_to_log_in(client, now_meeting, name):
    url = {
        "list": LIST,
        "detail": detail_url(now_meeting),
        "checkin": qr_url(now_meeting),
    }[name]

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/meetings/")


@pytest.mark.parametrize("url", [check_in_url, leave_url, qr_url])
def test_an_anonymous_post_changes_nothing(client, now_meeting, url):
    response = client.post(url(now_meeting))

    assert response.status_code == 302
    assert not AttendanceInterval.objects.exists()
    assert not Attendance.objects.exclude(status="invited").exists()


def test_a_user_without_a_member_record_gets_the_no_member_page(client, outsider):
    client.force_login(outsider)

    response = client.get(LIST)

    assert response.templates[0].name == "portal/no_member.html"


def test_the_portal_home_links_to_the_meetings(member_client):
    response = member_client.get("/")

    assert f'href="{LIST}"' in response.content.decode()


def test_the_pages_are_never_cached(member_client, now_meeting):
    response = member_client.get(detail_url(now_meeting))

    assert "no-store" in response["Cache-Control"]


# The list of invitations.


def test_the_list_shows_upcoming_and_recent_meetings_with_their_facts(
    member_client, now_meeting, later_meeting, ended_meeting
):
    response = member_client.get(LIST)

    upcoming = [a.meeting for a in response.context["upcoming"]]
    recent = [a.meeting for a in response.context["recent"]]
    assert upcoming == [now_meeting, later_meeting]
    assert recent == [ended_meeting]
    page = response.content.decode()
    assert "第一支部" in page
    assert "Party lecture" in page
    assert "In person" in page
    assert "村委会议室" in page
    assert local_clock(later_meeting.starts_at) in page
    assert "badge--invited" in page


def test_the_list_shows_times_in_the_organisations_time_zone(
    member_client, branch_a, later_meeting
):
    # Half an hour off Beijing's offset, so no clock time of one zone can
    # stand for another on the page.
    branch_a.time_zone = "Asia/Kolkata"
    branch_a.save(update_fields=["time_zone"])

    page = member_client.get(LIST).content.decode()

    assert local_clock(later_meeting.starts_at, "Asia/Kolkata") in page
    assert local_clock(later_meeting.starts_at) not in page


def test_the_list_shows_the_members_own_attendance(member_client, member, now_meeting):
    member_client.post(check_in_url(now_meeting))

    response = member_client.get(LIST)

    (attendance,) = response.context["upcoming"]
    assert attendance.status == "present"
    assert "badge--present" in response.content.decode()


def test_the_list_leaves_out_others_and_cancelled_meetings(
    member_client, branch_b, secretary_of_b, secretary_of_a, now_meeting, later_meeting
):
    plan(branch_b, secretary_of_b, title="第二支部会议")
    Meeting.objects.filter(pk=later_meeting.pk).update(status="cancelled")

    response = member_client.get(LIST)

    assert [a.meeting for a in response.context["upcoming"]] == [now_meeting]
    assert "第二支部会议" not in response.content.decode()


def test_a_placed_member_sees_the_inflow_organisations_meetings(
    member_client, member, branch_a, branch_c, secretary_of_a
):
    inflow_secretary = factories.make_user("sec_c", is_staff=True)
    factories.make_role(inflow_secretary, branch_c, "secretary")
    place(member, outflow=branch_a, inflow=branch_c, registered_by=secretary_of_a)
    theme_day = plan(
        branch_c,
        inflow_secretary,
        kind="theme_day",
        title="长沙主题党日",
        starts_at=starting_in(2 * HOUR),
    )

    response = member_client.get(LIST)

    assert [a.meeting for a in response.context["upcoming"]] == [theme_day]
    assert "长沙支部" in response.content.decode()
    assert attendance_of(theme_day, member).standing == "placed"


# One meeting.


def test_an_invited_member_sees_the_meeting(member_client, later_meeting):
    response = member_client.get(detail_url(later_meeting))

    assert response.status_code == 200
    page = response.content.decode()
    assert "党课" in page
    assert "学习党章<br>讨论" in page
    assert "村委会议室" not in page


def test_a_member_not_invited_gets_404(client, other_member_user, now_meeting):
    client.force_login(other_member_user)

    assert client.get(detail_url(now_meeting)).status_code == 404
    assert client.post(check_in_url(now_meeting)).status_code == 404
    assert client.post(leave_url(now_meeting)).status_code == 404


def test_an_unknown_meeting_is_404(member_client, db):
    assert member_client.get("/meetings/999999/").status_code == 404


def test_the_online_link_is_shown_to_the_invited(member_client, online_meeting):
    page = member_client.get(detail_url(online_meeting)).content.decode()

    assert f'href="{ONLINE_LINK}"' in page
    assert 'data-testid="check-in"' in page
    assert "Join online and check in" in page


# Checking in and leaving.


def test_checking_in_during_the_window_marks_the_member_present(
    member_client, member, now_meeting
):
    response = member_client.post(check_in_url(now_meeting), follow=True)

    assert response.redirect_chain == [(detail_url(now_meeting), 302)]
    assert messages_of(response) == ["You are checked in."]
    attendance = attendance_of(now_meeting, member)
    assert attendance.status == "present"
    (interval,) = attendance.intervals.all()
    assert interval.method == "online"
    assert interval.left_at is None
    assert 'data-testid="leave"' in response.content.decode()


def test_checking_in_to_an_online_meeting_opens_its_link(
    member_client, member, online_meeting
):
    response = member_client.post(check_in_url(online_meeting))

    assert response.status_code == 302
    assert response["Location"] == ONLINE_LINK
    assert attendance_of(online_meeting, member).status == "present"


def test_before_the_window_the_page_says_when_it_opens(member_client, later_meeting):
    response = member_client.get(detail_url(later_meeting))

    page = response.content.decode()
    assert response.context["window"].state == "not_open"
    opens = later_meeting.starts_at - datetime.timedelta(minutes=15)
    assert "Check-in opens on" in page
    assert local_clock(opens) in page
    assert 'data-testid="check-in"' not in page


def test_checking_in_before_the_window_changes_nothing(
    member_client, member, later_meeting
):
    response = member_client.post(check_in_url(later_meeting), follow=True)

    assert messages_of(response) == [
        "Check-in opens 15 minutes before the meeting starts."
    ]
    attendance = attendance_of(later_meeting, member)
    assert attendance.status == "invited"
    assert not attendance.intervals.exists()


def test_after_the_end_the_page_says_it_has_ended_and_nothing_changes(
    member_client, member, ended_meeting
):
    page = member_client.get(detail_url(ended_meeting)).content.decode()
    response = member_client.post(check_in_url(ended_meeting), follow=True)

    assert "This meeting has ended; check-in is closed." in page
    assert 'data-testid="check-in"' not in page
    assert messages_of(response) == ["This meeting has ended."]
    attendance = attendance_of(ended_meeting, member)
    assert attendance.status == "invited"
    assert not attendance.intervals.exists()


def test_a_held_meeting_refuses_a_check_in(
    member_client, member, ended_meeting, secretary_of_a
):
    hold(ended_meeting, secretary_of_a)

    response = member_client.post(check_in_url(ended_meeting), follow=True)

    assert messages_of(response) == ["This meeting has ended."]
    assert attendance_of(ended_meeting, member).status == "absent"
    assert not attendance_of(ended_meeting, member).intervals.exists()


def test_a_cancelled_meeting_says_so(member_client, member, later_meeting):
    Meeting.objects.filter(pk=later_meeting.pk).update(status="cancelled")

    page = member_client.get(detail_url(later_meeting)).content.decode()
    response = member_client.post(check_in_url(later_meeting), follow=True)

    assert "This meeting was cancelled." in page
    assert messages_of(response) == ["This meeting was cancelled."]
    assert not attendance_of(later_meeting, member).intervals.exists()


def test_leaving_and_returning_keeps_both_stays(member_client, member, now_meeting):
    member_client.post(check_in_url(now_meeting))
    left = member_client.post(leave_url(now_meeting), follow=True)
    member_client.post(check_in_url(now_meeting))

    response = member_client.get(detail_url(now_meeting))

    assert messages_of(left)[-1] == (
        "You have left the meeting. Check in again to come back while it lasts."
    )
    first, second = attendance_of(now_meeting, member).intervals.all()
    assert first.left_at is not None
    assert second.left_at is None
    assert response.content.decode().count('data-testid="interval"') == 2


def test_leaving_without_checking_in_changes_nothing(
    member_client, member, now_meeting
):
    response = member_client.post(leave_url(now_meeting), follow=True)

    assert messages_of(response) == ["You are not checked in."]
    assert not attendance_of(now_meeting, member).intervals.exists()


def test_checking_in_twice_keeps_one_stay(member_client, member, now_meeting):
    member_client.post(check_in_url(now_meeting))
    member_client.post(check_in_url(now_meeting))

    assert attendance_of(now_meeting, member).intervals.count() == 1


def test_the_pages_answer_only_their_methods(member_client, now_meeting):
    assert member_client.get(check_in_url(now_meeting)).status_code == 405
    assert member_client.get(leave_url(now_meeting)).status_code == 405
    assert member_client.post(detail_url(now_meeting)).status_code == 405


@pytest.mark.parametrize("url", [check_in_url, leave_url, qr_url])
def test_posts_without_the_csrf_token_are_refused(member, now_meeting, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)

    response = client.post(url(now_meeting))

    assert response.status_code == 403
    assert not AttendanceInterval.objects.exists()


def test_the_forms_carry_the_csrf_token(member, now_meeting):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)
    page = client.get(detail_url(now_meeting))
    token = page.context["csrf_token"]

    response = client.post(check_in_url(now_meeting), {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert attendance_of(now_meeting, member).status == "present"


# Checking in by the QR code.


def test_the_qr_code_opens_a_confirmation_page(member_client, member, now_meeting):
    response = member_client.get(qr_url(now_meeting))

    assert response.status_code == 200
    assert "支部党员大会" in response.content.decode()
    assert 'data-testid="check-in"' in response.content.decode()
    assert not attendance_of(now_meeting, member).intervals.exists()


def test_confirming_the_qr_code_checks_the_member_in(
    member_client, member, now_meeting
):
    response = member_client.post(qr_url(now_meeting), follow=True)

    assert response.redirect_chain == [(detail_url(now_meeting), 302)]
    assert messages_of(response) == ["You are checked in."]
    (interval,) = attendance_of(now_meeting, member).intervals.all()
    assert interval.method == "qr_code"


def test_a_forged_qr_code_is_refused(member_client, member, now_meeting):
    url = reverse("meetings:checkin", args=["not-a-token"])

    page = member_client.get(url)
    posted = member_client.post(url)

    assert page.status_code == posted.status_code == 404
    assert "This QR code is not valid" in page.content.decode()
    assert not attendance_of(now_meeting, member).intervals.exists()


def test_a_replaced_qr_code_is_refused(member_client, member, now_meeting):
    url = qr_url(now_meeting)
    Meeting.objects.filter(pk=now_meeting.pk).update(checkin_nonce="reprinted")

    response = member_client.post(url)

    assert response.status_code == 404
    assert "This QR code is not valid" in response.content.decode()
    assert not attendance_of(now_meeting, member).intervals.exists()


def test_an_expired_qr_code_changes_nothing(member_client, member, ended_meeting):
    url = qr_url(ended_meeting)

    page = member_client.get(url).content.decode()
    response = member_client.post(url, follow=True)

    assert "This meeting has ended; check-in is closed." in page
    assert 'data-testid="check-in"' not in page
    assert response.redirect_chain == [(url, 302)]
    assert messages_of(response) == ["This meeting has ended."]
    assert not attendance_of(ended_meeting, member).intervals.exists()


def test_a_qr_code_opened_too_early_changes_nothing(
    member_client, member, later_meeting
):
    response = member_client.post(qr_url(later_meeting), follow=True)

    assert messages_of(response) == [
        "Check-in opens 15 minutes before the meeting starts."
    ]
    assert not attendance_of(later_meeting, member).intervals.exists()


def test_a_qr_code_of_a_meeting_not_invited_to_is_404(
    client, other_member_user, now_meeting
):
    client.force_login(other_member_user)

    assert client.get(qr_url(now_meeting)).status_code == 404
    assert client.post(qr_url(now_meeting)).status_code == 404
    assert not AttendanceInterval.objects.exists()


def test_the_qr_code_returns_to_its_page_after_logging_in(
    client, settings, member, now_meeting
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ACCOUNT_RATE_LIMITS = False
    member.user.set_password(factories.PASSWORD)
    member.user.save()
    url = qr_url(now_meeting)
    login_url = client.get(url)["Location"]

    response = client.post(
        login_url, {"login": member.user.username, "password": factories.PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == url


def test_the_list_costs_the_same_queries_for_more_meetings(
    member_client, branch_a, secretary_of_a, member
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            member_client.get(LIST)
        return len(captured)

    plan(branch_a, secretary_of_a, title="一")
    few = queries()
    for hours in (2, 5, 30):
        plan(branch_a, secretary_of_a, starts_at=starting_in(hours * HOUR))

    assert queries() == few
