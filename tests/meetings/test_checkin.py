"""Check-in: the window, the QR token, stays, and the secretary's record."""

import datetime

import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils import timezone

from members.models import AuditEvent
from organizations.meetings import services
from organizations.meetings.checkin import checkin_token
from organizations.models import (
    AttendanceChange,
    AttendanceInterval,
    CheckInMethod,
    Meeting,
)
from organizations.scope import OutOfScope, scope_for
from tests import factories
from tests.meetings.arrange import attendance_of, hold, plan

MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Users are made in most tests; Argon2 would dominate their run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def meeting(branch_a, member, secretary_of_a):
    """A two-hour meeting that starts in an hour; ``member`` is invited."""
    starts_at = timezone.now().replace(microsecond=0) + datetime.timedelta(hours=1)
    return plan(branch_a, secretary_of_a, kind="theme_day", starts_at=starts_at)


@pytest.fixture
def started(branch_a, member, secretary_of_a):
    """A two-hour meeting that started 30 minutes ago."""
    return plan(branch_a, secretary_of_a, kind="theme_day")


def stays(meeting, member):
    return [
        (i.period.lower, i.period.upper, i.method)
        for i in attendance_of(meeting, member).intervals.all()
    ]


def nothing_recorded(meeting, member):
    attendance = attendance_of(meeting, member)
    return attendance.status == "invited" and not attendance.intervals.exists()


# --- the window


def test_check_in_opens_the_configured_minutes_before_the_start(
    settings, meeting, member, member_user
):
    settings.LIUDONG_MEETING_CHECKIN_OPENS_MINUTES = 20
    opens = meeting.starts_at - 20 * MINUTE

    services.check_in(user=member_user, meeting=meeting, at=opens)

    assert stays(meeting, member) == [(opens, None, CheckInMethod.ONLINE)]
    assert attendance_of(meeting, member).status == "present"


def test_check_in_a_second_before_the_window_opens_changes_nothing(
    settings, meeting, member, member_user
):
    settings.LIUDONG_MEETING_CHECKIN_OPENS_MINUTES = 20
    too_early = meeting.starts_at - 20 * MINUTE - datetime.timedelta(seconds=1)

    with pytest.raises(services.CheckInRefused) as refused:
        services.check_in(user=member_user, meeting=meeting, at=too_early)

    assert refused.value.code == "not_open"
    assert nothing_recorded(meeting, member)


def test_check_in_closes_when_the_meeting_ends(meeting, member, member_user):
    with pytest.raises(services.CheckInRefused) as refused:
        services.check_in(user=member_user, meeting=meeting, at=meeting.ends_at)

    assert refused.value.code == "ended"
    assert nothing_recorded(meeting, member)


def test_a_late_join_keeps_its_real_time(meeting, member, member_user):
    late = meeting.starts_at + 47 * MINUTE

    services.check_in(user=member_user, meeting=meeting, at=late)

    assert stays(meeting, member) == [(late, None, CheckInMethod.ONLINE)]


def test_a_check_in_a_minute_before_the_end_still_counts(meeting, member, member_user):
    services.check_in(user=member_user, meeting=meeting, at=meeting.ends_at - MINUTE)

    assert attendance_of(meeting, member).status == "present"


def test_opening_the_link_after_the_meeting_was_closed_changes_nothing(
    started, member, member_user, secretary_of_a
):
    hold(started, secretary_of_a, at=timezone.now())
    before = AttendanceChange.objects.count()

    with pytest.raises(services.CheckInRefused) as refused:
        services.check_in(user=member_user, meeting=started)

    assert refused.value.code == "ended"
    assert attendance_of(started, member).status == "absent"
    assert not attendance_of(started, member).intervals.exists()
    assert AttendanceChange.objects.count() == before


def test_a_cancelled_meeting_refuses_check_in(
    meeting, member, member_user, secretary_of_a
):
    services.cancel_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        meeting=meeting,
        reason="台风",
    )

    with pytest.raises(services.CheckInRefused) as refused:
        services.check_in(user=member_user, meeting=meeting, at=meeting.starts_at)

    assert refused.value.code == "cancelled"
    assert nothing_recorded(meeting, member)


def test_an_uninvited_user_is_told_the_meeting_does_not_exist(meeting, outsider):
    with pytest.raises(OutOfScope):
        services.check_in(user=outsider, meeting=meeting, at=meeting.starts_at)

    assert not AttendanceInterval.objects.exists()


def test_a_member_of_another_branch_is_not_invited(meeting, branch_b):
    user = factories.make_user()
    factories.make_member(branch_b, user=user)

    with pytest.raises(OutOfScope):
        services.check_in(user=user, meeting=meeting, at=meeting.starts_at)


# --- stays


def test_checking_in_twice_keeps_one_stay(meeting, member, member_user):
    services.check_in(user=member_user, meeting=meeting, at=meeting.starts_at)
    services.check_in(user=member_user, meeting=meeting, at=meeting.starts_at + MINUTE)

    assert stays(meeting, member) == [(meeting.starts_at, None, CheckInMethod.ONLINE)]
    assert AttendanceChange.objects.filter(to_status="present").count() == 1


def test_leaving_and_returning_keeps_both_stays(meeting, member, member_user):
    arrive, leave, back = (meeting.starts_at + n * MINUTE for n in (0, 30, 50))

    services.check_in(user=member_user, meeting=meeting, at=arrive)
    services.leave(user=member_user, meeting=meeting, at=leave)
    services.check_in(user=member_user, meeting=meeting, at=back)

    assert stays(meeting, member) == [
        (arrive, leave, CheckInMethod.ONLINE),
        (back, None, CheckInMethod.ONLINE),
    ]
    assert attendance_of(meeting, member).status == "present"


def test_leaving_after_the_end_closes_the_stay_at_the_end(meeting, member, member_user):
    services.check_in(user=member_user, meeting=meeting, at=meeting.starts_at)

    services.leave(user=member_user, meeting=meeting, at=meeting.ends_at + 9 * MINUTE)

    assert stays(meeting, member) == [
        (meeting.starts_at, meeting.ends_at, CheckInMethod.ONLINE)
    ]


def test_leaving_without_a_stay_changes_nothing(meeting, member, member_user):
    services.leave(user=member_user, meeting=meeting, at=meeting.starts_at)

    assert nothing_recorded(meeting, member)


def test_closing_the_meeting_ends_open_stays_at_the_close(
    started, member, member_user, secretary_of_a
):
    arrived = started.starts_at + MINUTE
    services.check_in(user=member_user, meeting=started, at=arrived)
    closed = started.starts_at + 45 * MINUTE

    hold(started, secretary_of_a, at=closed)

    assert stays(started, member) == [(arrived, closed, CheckInMethod.ONLINE)]
    assert attendance_of(started, member).status == "present"


def test_closing_after_the_end_ends_open_stays_at_the_end(
    meeting, member, member_user, secretary_of_a
):
    services.check_in(user=member_user, meeting=meeting, at=meeting.starts_at)

    hold(meeting, secretary_of_a, at=meeting.ends_at + 60 * MINUTE)

    assert stays(meeting, member) == [
        (meeting.starts_at, meeting.ends_at, CheckInMethod.ONLINE)
    ]


def test_a_member_checks_in_after_the_secretary_recorded_them(
    started, member, member_user, secretary_of_a
):
    # The phone worked after all: the member's own check-in takes over from
    # its moment, and the secretary's record keeps the time before.
    attendance = attendance_of(started, member)
    services.record_presence(
        actor=secretary_of_a, scope=scope_for(secretary_of_a), attendance=attendance
    )
    arrived = started.starts_at + 10 * MINUTE

    services.check_in(user=member_user, meeting=started, at=arrived)

    assert stays(started, member) == [
        (started.starts_at, arrived, CheckInMethod.SECRETARY),
        (arrived, None, CheckInMethod.ONLINE),
    ]
    assert attendance_of(started, member).status == "present"


def test_a_check_in_before_a_recorded_stay_ends_adds_no_overlap(
    meeting, member, member_user
):
    arrive, leave = meeting.starts_at, meeting.starts_at + 30 * MINUTE
    services.check_in(user=member_user, meeting=meeting, at=arrive)
    services.leave(user=member_user, meeting=meeting, at=leave)

    # A retried request that carries an earlier moment than the last stay.
    services.check_in(user=member_user, meeting=meeting, at=arrive + 5 * MINUTE)

    assert stays(meeting, member) == [(arrive, leave, CheckInMethod.ONLINE)]


# --- the QR code


def test_a_valid_qr_token_checks_the_member_in(meeting, member, member_user):
    services.check_in_with_token(
        user=member_user, token=checkin_token(meeting), at=meeting.starts_at
    )

    assert stays(meeting, member) == [(meeting.starts_at, None, CheckInMethod.QR_CODE)]


def test_a_forged_qr_token_is_refused(meeting, member, member_user):
    forged = signing.dumps([meeting.pk, meeting.checkin_nonce], salt="other")

    with pytest.raises(services.CheckInRefused) as refused:
        services.check_in_with_token(
            user=member_user, token=forged, at=meeting.starts_at
        )

    assert refused.value.code == "invalid_token"
    assert nothing_recorded(meeting, member)


def test_a_damaged_qr_token_is_refused(meeting, member, member_user):
    token = checkin_token(meeting)

    with pytest.raises(services.CheckInRefused):
        services.check_in_with_token(
            user=member_user, token=token[:-2], at=meeting.starts_at
        )

    assert nothing_recorded(meeting, member)


def test_a_new_code_voids_the_printed_one(meeting, member, member_user, secretary_of_a):
    printed = checkin_token(meeting)

    services.renew_checkin_code(
        actor=secretary_of_a, scope=scope_for(secretary_of_a), meeting=meeting
    )

    with pytest.raises(services.CheckInRefused) as refused:
        services.check_in_with_token(
            user=member_user, token=printed, at=meeting.starts_at
        )
    assert refused.value.code == "invalid_token"
    assert nothing_recorded(meeting, member)
    meeting.refresh_from_db()
    services.check_in_with_token(
        user=member_user, token=checkin_token(meeting), at=meeting.starts_at
    )
    assert attendance_of(meeting, member).status == "present"
    assert AuditEvent.objects.filter(action="meeting.checkin_code_renewed").exists()


def test_another_secretary_cannot_renew_the_code(meeting, secretary_of_b):
    with pytest.raises(OutOfScope):
        services.renew_checkin_code(
            actor=secretary_of_b, scope=scope_for(secretary_of_b), meeting=meeting
        )


def test_a_qr_token_expires_with_the_window(meeting, member, member_user):
    token = checkin_token(meeting)

    with pytest.raises(services.CheckInRefused) as refused:
        services.check_in_with_token(
            user=member_user, token=token, at=meeting.ends_at + MINUTE
        )

    assert refused.value.code == "ended"
    assert nothing_recorded(meeting, member)


def test_a_qr_token_of_a_meeting_one_is_not_invited_to_is_out_of_scope(
    meeting, outsider
):
    with pytest.raises(OutOfScope):
        services.check_in_with_token(
            user=outsider, token=checkin_token(meeting), at=meeting.starts_at
        )


def test_a_token_for_a_deleted_meeting_is_refused(meeting, member_user):
    token = checkin_token(meeting)
    Meeting.objects.filter(pk=meeting.pk).delete()

    with pytest.raises(services.CheckInRefused):
        services.check_in_with_token(user=member_user, token=token)


# --- the secretary's record: presence, absence, excuses


def record_absence(secretary, attendance, status, reason=""):
    return services.record_absence(
        actor=secretary,
        scope=scope_for(secretary),
        attendance=attendance,
        status=status,
        reason=reason,
    )


def changes(meeting, member):
    return list(
        attendance_of(meeting, member).changes.values_list(
            "from_status", "to_status", "actor__username", "reason"
        )
    )


def test_excusing_a_member_needs_a_reason(started, member, secretary_of_a):
    attendance = attendance_of(started, member)

    with pytest.raises(ValidationError) as refused:
        record_absence(secretary_of_a, attendance, "excused", reason="  ")

    assert "reason" in refused.value.message_dict
    assert attendance_of(started, member).status == "invited"
    assert not AttendanceChange.objects.exists()


def test_absent_to_excused_is_recorded_with_actor_and_reason(
    started, member, secretary_of_a
):
    attendance = attendance_of(started, member)
    record_absence(secretary_of_a, attendance, "absent")

    record_absence(secretary_of_a, attendance, "excused", reason="外出务工 请假")

    attendance = attendance_of(started, member)
    assert (attendance.status, attendance.reason) == ("excused", "外出务工 请假")
    assert changes(started, member) == [
        ("invited", "absent", "sec_a", ""),
        ("absent", "excused", "sec_a", "外出务工 请假"),
    ]


def test_a_new_reason_for_an_excused_member_is_recorded_too(
    started, member, secretary_of_a
):
    attendance = attendance_of(started, member)
    record_absence(secretary_of_a, attendance, "excused", reason="病假")

    record_absence(secretary_of_a, attendance, "excused", reason="事假")

    assert attendance_of(started, member).reason == "事假"
    assert changes(started, member) == [
        ("invited", "excused", "sec_a", "病假"),
        ("excused", "excused", "sec_a", "事假"),
    ]


def test_marking_an_excused_member_absent_clears_the_reason(
    started, member, secretary_of_a
):
    attendance = attendance_of(started, member)
    record_absence(secretary_of_a, attendance, "excused", reason="病假")

    record_absence(secretary_of_a, attendance, "absent", reason="假条未批")

    attendance = attendance_of(started, member)
    assert (attendance.status, attendance.reason) == ("absent", "")
    assert changes(started, member)[-1] == ("excused", "absent", "sec_a", "假条未批")


def test_a_member_who_checked_in_cannot_be_marked_absent_or_excused(
    started, member, member_user, secretary_of_a
):
    services.check_in(user=member_user, meeting=started)

    for status, reason in (("absent", ""), ("excused", "病假")):
        with pytest.raises(ValidationError) as refused:
            record_absence(
                secretary_of_a, attendance_of(started, member), status, reason
            )
        assert refused.value.code == "checked_in"

    assert attendance_of(started, member).status == "present"
    assert attendance_of(started, member).intervals.count() == 1


def test_presence_recorded_by_hand_can_be_corrected_to_absent(
    started, member, secretary_of_a
):
    attendance = attendance_of(started, member)
    services.record_presence(
        actor=secretary_of_a, scope=scope_for(secretary_of_a), attendance=attendance
    )

    record_absence(secretary_of_a, attendance, "absent", reason="记错了")

    assert attendance_of(started, member).status == "absent"
    assert not attendance_of(started, member).intervals.exists()
    assert [c[:2] for c in changes(started, member)] == [
        ("invited", "present"),
        ("present", "absent"),
    ]


def test_presence_by_hand_covers_the_whole_meeting(started, member, secretary_of_a):
    services.record_presence(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        attendance=attendance_of(started, member),
    )

    assert stays(started, member) == [
        (started.starts_at, started.ends_at, CheckInMethod.SECRETARY)
    ]
    assert changes(started, member) == [("invited", "present", "sec_a", "")]


def test_presence_cannot_be_recorded_before_the_meeting_starts(
    meeting, member, secretary_of_a
):
    with pytest.raises(ValidationError) as refused:
        services.record_presence(
            actor=secretary_of_a,
            scope=scope_for(secretary_of_a),
            attendance=attendance_of(meeting, member),
        )

    assert refused.value.code == "not_started"


def test_closing_marks_the_invited_absent_and_records_each_change(
    started, member, member_user, branch_a, secretary_of_a
):
    absent = factories.make_member(branch_a)
    excused = factories.make_member(branch_a)
    services.invite(started, [absent, excused])
    record_absence(secretary_of_a, attendance_of(started, excused), "excused", "病假")
    services.check_in(user=member_user, meeting=started)

    hold(started, secretary_of_a, at=timezone.now())

    assert attendance_of(started, member).status == "present"
    assert attendance_of(started, excused).status == "excused"
    assert attendance_of(started, absent).status == "absent"
    assert changes(started, absent) == [
        ("invited", "absent", "sec_a", "meeting closed")
    ]
    assert not AttendanceInterval.objects.filter(period__upper_inf=True).exists()
    started.refresh_from_db()
    assert (started.status, started.closed_by) == ("held", secretary_of_a)


def test_a_meeting_cannot_be_closed_before_it_starts(meeting, secretary_of_a):
    with pytest.raises(ValidationError) as refused:
        hold(meeting, secretary_of_a, at=meeting.starts_at - MINUTE)

    assert refused.value.code == "not_started"


def test_a_held_meeting_cannot_be_closed_again(started, secretary_of_a):
    hold(started, secretary_of_a, at=timezone.now())

    with pytest.raises(ValidationError) as refused:
        hold(started, secretary_of_a, at=timezone.now())

    assert refused.value.code == "not_planned"


def test_closing_keeps_safe_minutes_only(started, secretary_of_a):
    services.close_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        meeting=started,
        minutes='<p onclick="x()">讨论<a href="javascript:x">链接</a></p>'
        "<script>alert(1)</script>",
    )

    started.refresh_from_db()
    assert started.minutes == "<p>讨论链接</p>"


def test_leave_can_be_granted_before_the_meeting(meeting, member, secretary_of_a):
    record_absence(secretary_of_a, attendance_of(meeting, member), "excused", "出差")

    assert attendance_of(meeting, member).status == "excused"


def test_nobody_is_marked_absent_before_the_meeting_starts(
    meeting, member, secretary_of_a
):
    with pytest.raises(ValidationError) as refused:
        record_absence(secretary_of_a, attendance_of(meeting, member), "absent")

    assert refused.value.code == "not_started"
    assert attendance_of(meeting, member).status == "invited"


def test_an_excused_member_who_comes_after_all_is_present(
    meeting, member, member_user, secretary_of_a
):
    record_absence(secretary_of_a, attendance_of(meeting, member), "excused", "出差")

    services.check_in(user=member_user, meeting=meeting, at=meeting.starts_at)

    attendance = attendance_of(meeting, member)
    assert (attendance.status, attendance.reason) == ("present", "")
    assert changes(meeting, member) == [
        ("invited", "excused", "sec_a", "出差"),
        ("excused", "present", "member1", ""),
    ]
