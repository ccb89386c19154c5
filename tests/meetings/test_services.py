"""Planning, invitations, dual management, scope and notifications."""

import datetime
import logging

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone
from psycopg2.extras import DateRange

from members.models import AuditEvent, Member, MembershipPeriod
from organizations.meetings import selectors, services
from organizations.models import Attendance, Meeting, Resolution, Standing
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for
from tests import factories
from tests.meetings.arrange import attendance_of, hold, local, place, plan

HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Users are made in most tests; Argon2 would dominate their run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def details(**overrides):
    starts_at = overrides.pop("starts_at", local(2025, 10, 1, 0, 10))
    fields = {
        "kind": "theme_day",
        "title": "主题党日",
        "starts_at": starts_at,
        "ends_at": starts_at + 2 * HOUR,
        "place": "村委会",
    }
    return services.MeetingDetails(**{**fields, **overrides})


def plan_for(actor, organization, **overrides):
    return services.plan_meeting(
        actor=actor,
        scope=scope_for(actor),
        organization=organization,
        details=details(**overrides),
    )


def invited_ids(meeting):
    return set(meeting.attendances.values_list("member_id", flat=True))


# --- planning


def test_a_meeting_at_ten_past_midnight_is_dated_by_beijing_time(
    branch_a, secretary_of_a
):
    meeting = plan_for(secretary_of_a, branch_a, starts_at=local(2025, 10, 1, 0, 10))

    assert meeting.starts_at == datetime.datetime(
        2025, 9, 30, 16, 10, tzinfo=datetime.UTC
    )
    assert meeting.held_on == datetime.date(2025, 10, 1)


def test_planning_is_audited(branch_a, secretary_of_a, member):
    meeting = plan_for(secretary_of_a, branch_a)

    event = AuditEvent.objects.get(action="meeting.planned")
    assert (event.actor, event.organization) == (secretary_of_a, branch_a)
    assert event.details == {"meeting": meeting.pk, "kind": "theme_day", "invited": 1}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "party_group"}, "kind"),
        ({"kind": "no_such_kind"}, "kind"),
        ({"title": "  "}, "title"),
        ({"ends_at": local(2025, 10, 1, 0, 10)}, "ends_at"),
        ({"ends_at": local(2025, 10, 2, 0, 11)}, "ends_at"),
        ({"mode": "online"}, "online_link"),
        (
            {"mode": "hybrid", "place": "", "online_link": "https://m.example/1"},
            "place",
        ),
        ({"place": " "}, "place"),
    ],
)
def test_planning_refuses_what_cannot_be_held(
    branch_a, secretary_of_a, overrides, field
):
    with pytest.raises(ValidationError) as refused:
        plan_for(secretary_of_a, branch_a, **overrides)

    assert field in refused.value.message_dict
    assert not Meeting.objects.exists()


def test_a_party_group_plans_only_group_meetings(branch_a, secretary_of_a):
    group = factories.make_organization(branch_a, kind="group", name="第一党小组")

    with pytest.raises(ValidationError):
        plan_for(secretary_of_a, group, kind="theme_day")
    meeting = plan_for(secretary_of_a, group, kind="party_group")

    assert meeting.organization == group


def test_an_online_meeting_needs_no_place(branch_a, secretary_of_a):
    meeting = plan_for(
        secretary_of_a,
        branch_a,
        mode="online",
        place="",
        online_link="https://meet.example/abc",
    )

    assert meeting.mode == "online"


def test_changing_a_planned_meeting_redates_it(branch_a, secretary_of_a):
    meeting = plan_for(secretary_of_a, branch_a, starts_at=local(2025, 10, 1, 9))

    services.update_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        meeting=meeting,
        details=details(starts_at=local(2025, 9, 30, 23, 50)),
    )

    meeting.refresh_from_db()
    assert meeting.held_on == datetime.date(2025, 9, 30)


def test_a_meeting_closed_meanwhile_cannot_be_changed_through_a_stale_copy(
    branch_a, secretary_of_a
):
    # The form was opened before another secretary closed the meeting:
    # saving the old copy must not reopen it or wipe its minutes.
    meeting = plan_for(secretary_of_a, branch_a)
    stale = Meeting.objects.get(pk=meeting.pk)
    hold(meeting, secretary_of_a)

    with pytest.raises(ValidationError) as refused:
        services.update_meeting(
            actor=secretary_of_a,
            scope=scope_for(secretary_of_a),
            meeting=stale,
            details=details(title="改"),
        )

    assert refused.value.code == "not_planned"
    meeting.refresh_from_db()
    assert (meeting.status, meeting.title, meeting.minutes) == (
        "held",
        "主题党日",
        "<p>纪要</p>",
    )


def test_a_held_meeting_cannot_be_changed_or_cancelled(branch_a, secretary_of_a):
    meeting = hold(plan_for(secretary_of_a, branch_a), secretary_of_a)

    with pytest.raises(ValidationError):
        services.update_meeting(
            actor=secretary_of_a,
            scope=scope_for(secretary_of_a),
            meeting=meeting,
            details=details(),
        )
    with pytest.raises(ValidationError):
        services.cancel_meeting(
            actor=secretary_of_a,
            scope=scope_for(secretary_of_a),
            meeting=meeting,
            reason="x",
        )


def test_cancelling_needs_a_reason_and_is_audited(branch_a, secretary_of_a):
    meeting = plan_for(secretary_of_a, branch_a)
    scope = scope_for(secretary_of_a)

    with pytest.raises(ValidationError):
        services.cancel_meeting(
            actor=secretary_of_a, scope=scope, meeting=meeting, reason=" "
        )
    services.cancel_meeting(
        actor=secretary_of_a, scope=scope, meeting=meeting, reason="台风预警"
    )

    meeting.refresh_from_db()
    assert meeting.status == "cancelled"
    event = AuditEvent.objects.get(action="meeting.cancelled")
    assert event.details["reason"] == "台风预警"


# --- invitations


def test_all_living_members_held_by_the_branch_are_invited(branch_a, secretary_of_a):
    full = factories.make_member(branch_a, status="full")
    probationary = factories.make_member(branch_a, status="probationary")
    suspended = factories.make_member(branch_a, status="suspended")
    factories.make_member(branch_a, status="deceased")
    factories.make_member(branch_a, status="removed")

    meeting = plan_for(secretary_of_a, branch_a)

    standings = dict(meeting.attendances.values_list("member_id", "standing"))
    assert standings == {
        full.pk: Standing.FULL,
        probationary.pk: Standing.PROBATIONARY,
        suspended.pk: Standing.SUSPENDED,
    }


def test_a_member_who_left_the_branch_before_the_day_is_not_invited(
    branch_a, branch_b, secretary_of_a
):
    moved = factories.make_member(branch_a)
    MembershipPeriod.objects.filter(member=moved).update(
        period=DateRange(datetime.date(2015, 1, 1), datetime.date(2025, 9, 1))
    )
    MembershipPeriod.objects.create(
        member=moved,
        organization=branch_b,
        period=DateRange(datetime.date(2025, 9, 1), None),
    )

    meeting = plan_for(secretary_of_a, branch_a)

    assert moved.pk not in invited_ids(meeting)


def test_inviting_again_adds_only_the_missing(branch_a, secretary_of_a, member):
    meeting = plan_for(secretary_of_a, branch_a)
    newcomer = factories.make_member(branch_a)

    added = services.invite(meeting)

    assert added == 1
    assert invited_ids(meeting) == {member.pk, newcomer.pk}
    assert services.invite(meeting) == 0
    assert services.invite(meeting, [member, newcomer]) == 0


def test_a_guest_from_another_branch_is_invited_as_placed(
    branch_a, secretary_of_a, member_of_b
):
    meeting = plan_for(secretary_of_a, branch_a)

    services.invite(meeting, [member_of_b])

    assert attendance_of(meeting, member_of_b).standing == Standing.PLACED


def test_an_invitation_without_attendance_can_be_taken_back(
    branch_a, secretary_of_a, member
):
    meeting = plan_for(secretary_of_a, branch_a)

    services.uninvite(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        attendance=attendance_of(meeting, member),
    )

    assert not meeting.attendances.exists()


def test_an_invitation_acted_on_cannot_be_taken_back(branch_a, secretary_of_a, member):
    meeting = plan(branch_a, secretary_of_a)
    attendance = attendance_of(meeting, member)
    services.record_presence(
        actor=secretary_of_a, scope=scope_for(secretary_of_a), attendance=attendance
    )

    with pytest.raises(ValidationError):
        services.uninvite(
            actor=secretary_of_a,
            scope=scope_for(secretary_of_a),
            attendance=attendance_of(meeting, member),
        )


# --- dual management: placed with an inflow organisation


@pytest.fixture
def placed_member(member, branch_a, branch_b, secretary_of_a):
    """``member`` (held by branch_a) placed with branch_b since 2025."""
    place(
        member,
        outflow=branch_a,
        inflow=branch_b,
        registered_by=secretary_of_a,
        on=datetime.date(2025, 1, 10),
    )
    return member


def test_a_placed_member_is_invited_to_the_inflow_theme_day(
    branch_b, secretary_of_b, placed_member, member_of_b
):
    meeting = plan_for(secretary_of_b, branch_b, starts_at=local(2025, 10, 1, 9))

    standings = dict(meeting.attendances.values_list("member_id", "standing"))
    assert standings == {member_of_b.pk: Standing.FULL, placed_member.pk: "placed"}


def test_a_placed_member_is_still_invited_at_home(
    branch_a, secretary_of_a, placed_member
):
    meeting = plan_for(secretary_of_a, branch_a, starts_at=local(2025, 10, 1, 9))

    assert attendance_of(meeting, placed_member).standing == Standing.FULL


def test_no_invitation_before_the_inflow_accepted_the_member(
    branch_b, secretary_of_b, placed_member
):
    meeting = plan_for(secretary_of_b, branch_b, starts_at=local(2025, 1, 9, 9))

    assert placed_member.pk not in invited_ids(meeting)


def test_no_invitation_after_the_stay_ended(branch_b, secretary_of_b, placed_member):
    placed_member.mobilities.update(
        status="returned", ended_on=datetime.date(2025, 6, 1)
    )

    meeting = plan_for(secretary_of_b, branch_b, starts_at=local(2025, 6, 1, 9))

    assert placed_member.pk not in invited_ids(meeting)


def test_a_reported_but_not_accepted_member_is_not_invited(
    branch_b, secretary_of_b, placed_member
):
    placed_member.mobilities.update(reported_on=None)

    meeting = plan_for(secretary_of_b, branch_b, starts_at=local(2025, 10, 1, 9))

    assert placed_member.pk not in invited_ids(meeting)


def test_attendance_at_the_inflow_counts_on_the_members_own_record(
    branch_b, secretary_of_b, placed_member, member_user
):
    meeting = plan(branch_b, secretary_of_b, kind="theme_day")
    services.check_in(user=member_user, meeting=meeting)
    hold(meeting, secretary_of_b, at=timezone.now())

    # Read as the outflow side does: from the member's own record.
    record = selectors.member_attendance(placed_member)

    assert (record["invited"], record["present"], record["excused"]) == (1, 1, 0)
    assert selectors.meetings_own(user=member_user).get().meeting == meeting


def test_a_placed_member_has_no_vote_at_the_inflow(
    branch_b, secretary_of_b, placed_member, member_of_b
):
    meeting = plan(branch_b, secretary_of_b, kind="general_meeting")
    scope = scope_for(secretary_of_b)
    for member in (placed_member, member_of_b):
        services.record_presence(
            actor=secretary_of_b,
            scope=scope,
            attendance=attendance_of(meeting, member),
        )

    resolution = services.record_resolution(
        actor=secretary_of_b,
        scope=scope,
        meeting=meeting,
        subject="other",
        text="同意",
        ayes=1,
        nays=0,
        abstentions=0,
    )

    assert (resolution.entitled, resolution.present, resolution.passed) == (1, 1, True)


# --- scope


@pytest.fixture
def meeting_of_a(branch_a, secretary_of_a, member):
    return plan(branch_a, secretary_of_a, kind="general_meeting")


def writes_by(actor, meeting, member):
    """Every secretary's write on ``meeting``, as ``actor``."""
    scope = scope_for(actor)
    attendance = attendance_of(meeting, member)
    return {
        "plan": lambda: services.plan_meeting(
            actor=actor, scope=scope, organization=meeting.organization,
            details=details(),
        ),
        "update": lambda: services.update_meeting(
            actor=actor, scope=scope, meeting=meeting, details=details()
        ),
        "cancel": lambda: services.cancel_meeting(
            actor=actor, scope=scope, meeting=meeting, reason="x"
        ),
        "presence": lambda: services.record_presence(
            actor=actor, scope=scope, attendance=attendance
        ),
        "absence": lambda: services.record_absence(
            actor=actor, scope=scope, attendance=attendance, status="absent"
        ),
        "uninvite": lambda: services.uninvite(
            actor=actor, scope=scope, attendance=attendance
        ),
        "close": lambda: services.close_meeting(
            actor=actor, scope=scope, meeting=meeting, minutes=""
        ),
        "vote": lambda: services.record_resolution(
            actor=actor, scope=scope, meeting=meeting, subject="other",
            text="x", ayes=0, nays=0, abstentions=0,
        ),
        "renew code": lambda: services.renew_checkin_code(
            actor=actor, scope=scope, meeting=meeting
        ),
    }  # fmt: skip


WRITES = [
    "plan", "update", "cancel", "presence", "absence", "uninvite", "close",
    "vote", "renew code",
]  # fmt: skip


def unchanged(meeting, member):
    meeting.refresh_from_db()
    attendance = attendance_of(meeting, member)
    return (
        meeting.status == "planned"
        and Meeting.objects.count() == 1
        and attendance.status == "invited"
        and not attendance.intervals.exists()
        and not Resolution.objects.exists()
    )


@pytest.mark.parametrize("write", WRITES)
def test_another_branchs_secretary_is_told_the_meeting_does_not_exist(
    meeting_of_a, member, secretary_of_b, write
):
    with pytest.raises(OutOfScope):
        writes_by(secretary_of_b, meeting_of_a, member)[write]()

    assert unchanged(meeting_of_a, member)


@pytest.mark.parametrize("write", WRITES)
def test_a_provincial_viewer_reads_but_may_not_write(
    meeting_of_a, member, provincial_viewer, write
):
    with pytest.raises(ReadOnlyScope):
        writes_by(provincial_viewer, meeting_of_a, member)[write]()

    assert unchanged(meeting_of_a, member)


@pytest.mark.parametrize("write", WRITES)
def test_a_member_without_a_role_may_not_write(
    meeting_of_a, member, member_user, write
):
    with pytest.raises(OutOfScope):
        writes_by(member_user, meeting_of_a, member)[write]()

    assert unchanged(meeting_of_a, member)


def test_the_city_committee_may_run_its_branches_meetings(
    meeting_of_a, member, committee_staff
):
    services.record_presence(
        actor=committee_staff,
        scope=scope_for(committee_staff),
        attendance=attendance_of(meeting_of_a, member),
    )

    assert attendance_of(meeting_of_a, member).status == "present"


def test_meetings_are_read_within_scope(
    meeting_of_a, secretary_of_a, secretary_of_b, provincial_viewer,
    provincial_viewer_other,
):  # fmt: skip
    def reads(user):
        return list(selectors.meeting_list(scope=scope_for(user)))

    assert reads(secretary_of_a) == [meeting_of_a]
    assert reads(provincial_viewer) == [meeting_of_a]
    assert reads(secretary_of_b) == []
    assert reads(provincial_viewer_other) == []
    with pytest.raises(OutOfScope):
        selectors.meeting_get(
            scope=scope_for(secretary_of_b), meeting_id=meeting_of_a.pk
        )


def test_a_member_reads_only_their_own_attendance(
    meeting_of_a, member_user, member_of_b
):
    user_b = factories.make_user()
    Member.objects.filter(pk=member_of_b.pk).update(user=user_b)

    assert selectors.attendance_own(user=member_user, meeting_id=meeting_of_a.pk)
    with pytest.raises(OutOfScope):
        selectors.attendance_own(user=user_b, meeting_id=meeting_of_a.pk)


# --- notifications


@pytest.fixture
def member_with_email(member, member_user):
    member_user.email = "zhangsan@example.cn"
    member_user.save(update_fields=["email"])
    return member


def send(meeting):
    ids = list(meeting.attendances.values_list("pk", flat=True))
    return services.send_invitations(meeting_id=meeting.pk, attendance_ids=ids)


def test_the_console_notifier_logs_each_invitation(
    settings, caplog, branch_a, secretary_of_a, member
):
    settings.LIUDONG_NOTIFIER = "console"
    meeting = plan_for(secretary_of_a, branch_a)

    with caplog.at_level(logging.INFO, logger="organizations.meetings.notify"):
        sent = send(meeting)

    assert sent == 1
    (line,) = [r.getMessage() for r in caplog.records if "notification" in r.msg]
    assert f"member={member.pk}" in line
    assert "主题党日" in line


def test_the_mail_notifier_writes_to_the_members_address(
    settings, branch_a, secretary_of_a, member_with_email
):
    settings.LIUDONG_NOTIFIER = "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    meeting = plan_for(secretary_of_a, branch_a, starts_at=local(2025, 10, 1, 0, 10))

    send(meeting)

    (message,) = mail.outbox
    assert message.to == ["zhangsan@example.cn"]
    assert message.subject == "Invitation: 主题党日"
    assert message.body == "第一支部: 主题党日, 2025-10-01 00:10, 村委会."


def test_the_mail_notifier_skips_members_without_an_address(
    settings, branch_a, secretary_of_a, member_with_email
):
    settings.LIUDONG_NOTIFIER = "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    factories.make_member(branch_a, user=factories.make_user(email=""))
    factories.make_member(branch_a)  # no login account at all
    meeting = plan_for(secretary_of_a, branch_a)

    sent = send(meeting)

    assert sent == 3
    assert [m.to for m in mail.outbox] == [["zhangsan@example.cn"]]


def test_a_cancelled_meeting_sends_no_invitations(
    settings, branch_a, secretary_of_a, member_with_email
):
    settings.LIUDONG_NOTIFIER = "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    meeting = plan_for(secretary_of_a, branch_a)
    services.cancel_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        meeting=meeting,
        reason="改期",
    )

    assert send(meeting) == 0
    assert mail.outbox == []


def test_planning_sends_the_invitations_once_committed(
    settings, django_capture_on_commit_callbacks, branch_a, secretary_of_a,
    member_with_email,
):  # fmt: skip
    settings.LIUDONG_NOTIFIER = "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = True

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        plan_for(secretary_of_a, branch_a)

    assert len(callbacks) == 1
    assert [m.to for m in mail.outbox] == [["zhangsan@example.cn"]]


def test_a_failed_plan_sends_nothing(
    settings, django_capture_on_commit_callbacks, branch_a, secretary_of_a,
    member_with_email,
):  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(ValidationError):
            plan_for(secretary_of_a, branch_a, title="")

    assert callbacks == []
    assert not Attendance.objects.exists()
