"""Studying a course, completing it, and hours recorded offline."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from learning.models import OfflineStudy, Progress, StudyBeat
from learning.selectors.hours import yearly_hours
from learning.services import study
from members.models import AuditEvent
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for
from tests import factories
from tests.learning.arrange import lecture, local, make_course
from tests.meetings.arrange import place, plan

pytestmark = pytest.mark.django_db

T0 = local(2026, 5, 1, 9, 0)


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def beats(user, course, tab, *moments):
    progress = None
    for moment in moments:
        progress = study.heartbeat(user=user, course=course, tab=tab, at=moment)
    return progress


def study_fully(user, course, *, until=None):
    """Beat every 30 seconds until the course's credit time is counted."""
    start = until or T0
    steps = int(course.credit_hours * 3600 // 30) + 1
    moments = [start + datetime.timedelta(seconds=30 * i) for i in range(steps + 1)]
    return beats(user, course, "tab", *moments)


# Opening and visibility.


def test_a_member_opens_a_course_of_an_ancestor_organisation(
    member, member_user, province_a
):
    course = make_course(province_a)

    progress = study.open_course(user=member_user, course=course, at=T0)

    assert (progress.member, progress.course, progress.seconds) == (member, course, 0)


def test_opening_twice_keeps_one_row(member, member_user, branch_a):
    course = make_course(branch_a)

    first = study.open_course(user=member_user, course=course, at=T0)
    second = study.open_course(user=member_user, course=course, at=at(60))

    assert first.pk == second.pk
    assert Progress.objects.get().opened_at == T0


@pytest.mark.parametrize(
    "details",
    [
        {"published_at": None},
        {"valid_from": datetime.date(2026, 6, 1)},
        {"valid_until": datetime.date(2026, 4, 30)},
    ],
    ids=["unpublished", "not-yet-valid", "expired"],
)
def test_a_course_not_open_today_is_out_of_reach(
    member, member_user, branch_a, details
):
    course = make_course(branch_a, **details)

    with pytest.raises(OutOfScope):
        study.open_course(user=member_user, course=course, at=T0)
    assert not Progress.objects.exists()


def test_a_sibling_branch_s_course_is_out_of_reach(member, member_user, branch_b):
    with pytest.raises(OutOfScope):
        study.open_course(user=member_user, course=make_course(branch_b), at=T0)


def test_a_placed_member_studies_the_inflow_organisation_s_courses(
    member, member_user, branch_a, branch_c, secretary_of_a
):
    place(member, outflow=branch_a, inflow=branch_c, registered_by=secretary_of_a)

    progress = study.open_course(user=member_user, course=make_course(branch_c), at=T0)

    assert progress.member == member


def test_a_user_without_a_member_record_studies_nothing(outsider, branch_a):
    with pytest.raises(OutOfScope):
        study.open_course(user=outsider, course=make_course(branch_a), at=T0)


# Heartbeats.


def test_steady_beats_count_the_time_between_them(member, member_user, branch_a):
    course = make_course(branch_a)

    progress = beats(member_user, course, "a", at(0), at(30), at(60), at(90))

    assert progress.seconds == 90
    assert Progress.objects.get().seconds == 90


def test_an_idle_gap_counts_nothing(member, member_user, branch_a):
    course = make_course(branch_a)

    progress = beats(member_user, course, "a", at(0), at(30), at(30 + 600), at(660))

    assert progress.seconds == 60


def test_parallel_tabs_beating_in_turn_count_the_wall_clock_once(
    member, member_user, branch_a
):
    course = make_course(branch_a)
    other = make_course(branch_a)

    for step in range(40):
        tab, which = [("a", course), ("b", course), ("c", other)][step % 3]
        study.heartbeat(user=member_user, course=which, tab=tab, at=at(step * 10))

    total = sum(Progress.objects.values_list("seconds", flat=True))
    assert total <= 390
    assert not StudyBeat.objects.filter(tab__in=["b", "c"]).exists()


def test_a_course_counts_no_more_than_its_credit(member, member_user, branch_a):
    course = make_course(branch_a, credit_hours=Decimal("0.50"))

    progress = study_fully(member_user, course)
    progress = beats(member_user, course, "tab", at(4000), at(4030))

    assert progress.seconds == 1800


def test_a_beat_without_a_tab_is_refused(member, member_user, branch_a):
    with pytest.raises(ValidationError):
        study.heartbeat(user=member_user, course=make_course(branch_a), tab=" ", at=T0)

    assert not Progress.objects.exists()


# Completion.


def test_completion_credits_the_course_hours_to_the_year(member, member_user, branch_a):
    course = make_course(branch_a, credit_hours=Decimal("0.50"))
    study_fully(member_user, course)

    progress = study.complete(user=member_user, course=course, at=at(2000))

    assert (progress.credited_hours, progress.credited_year) == (Decimal("0.50"), 2026)
    assert yearly_hours(member, 2026) == Decimal("0.50")
    assert AuditEvent.objects.filter(action="course.completed").count() == 1


def test_completing_again_changes_nothing(member, member_user, branch_a):
    course = make_course(branch_a, credit_hours=Decimal("0.50"))
    study_fully(member_user, course)
    first = study.complete(user=member_user, course=course, at=at(2000))

    second = study.complete(user=member_user, course=course, at=local(2027, 2, 1))

    assert (second.completed_at, second.credited_year) == (first.completed_at, 2026)
    assert yearly_hours(member, 2026) == Decimal("0.50")
    assert yearly_hours(member, 2027) == 0
    assert AuditEvent.objects.filter(action="course.completed").count() == 1


def test_completion_is_refused_without_enough_time(member, member_user, branch_a):
    course = make_course(branch_a, credit_hours=Decimal("0.50"))
    beats(member_user, course, "a", at(0), at(30), at(60))

    with pytest.raises(ValidationError) as refused:
        study.complete(user=member_user, course=course, at=at(90))

    assert refused.value.code == "not_enough_time"
    assert Progress.objects.get().completed_at is None


def test_completion_without_opening_is_refused(member, member_user, branch_a):
    with pytest.raises(ValidationError):
        study.complete(user=member_user, course=make_course(branch_a), at=T0)


def test_a_settable_share_of_the_credit_time_is_enough(
    member, member_user, branch_a, settings
):
    settings.LIUDONG_STUDY_COMPLETION_SHARE = 0.5
    course = make_course(branch_a, credit_hours=Decimal("0.50"))
    beats(member_user, course, "a", *[at(30 * i) for i in range(31)])

    progress = study.complete(user=member_user, course=course, at=at(1000))

    assert (progress.seconds, progress.credited_hours) == (900, Decimal("0.50"))


def test_completed_at_half_past_eleven_on_new_year_s_eve_counts_in_that_year(
    member, member_user, branch_a
):
    course = make_course(branch_a, credit_hours=Decimal("0.50"))
    study_fully(member_user, course, until=local(2026, 12, 31, 22, 50))

    study.complete(user=member_user, course=course, at=local(2026, 12, 31, 23, 30))

    assert (yearly_hours(member, 2026), yearly_hours(member, 2027)) == (
        Decimal("0.50"),
        0,
    )


def test_completed_at_ten_past_midnight_on_new_year_s_day_counts_in_the_new_year(
    member, member_user, branch_a
):
    course = make_course(branch_a, credit_hours=Decimal("0.50"))
    study_fully(member_user, course, until=local(2026, 12, 31, 23, 30))

    study.complete(user=member_user, course=course, at=local(2027, 1, 1, 0, 10))

    assert (yearly_hours(member, 2026), yearly_hours(member, 2027)) == (
        0,
        Decimal("0.50"),
    )


# Offline study.


def record(actor, member, **kw):
    fields = dict(title="专题讲座", studied_on=datetime.date(2026, 4, 1), hours="2.5")
    fields.update(kw)
    return study.record_offline_study(
        actor=actor, scope=scope_for(actor), member=member, **fields
    )


def test_a_secretary_records_offline_study_in_its_year(member, secretary_of_a):
    recorded = record(secretary_of_a, member, studied_on=datetime.date(2025, 12, 31))

    assert (recorded.hours, recorded.studied_on.year) == (Decimal("2.50"), 2025)
    assert recorded.recorded_by == secretary_of_a
    assert yearly_hours(member, 2025) == Decimal("2.50")
    assert AuditEvent.objects.filter(action="study.offline_recorded").count() == 1


def test_the_inflow_secretary_records_a_placed_member_s_study(
    member, branch_a, branch_c, secretary_of_a
):
    inflow_secretary = factories.make_user("sec_c", is_staff=True)
    factories.make_role(inflow_secretary, branch_c, "secretary")
    place(member, outflow=branch_a, inflow=branch_c, registered_by=secretary_of_a)

    assert record(inflow_secretary, member).member == member


@pytest.mark.parametrize(
    ("details", "code"),
    [
        ({"hours": "-1"}, "hours_range"),
        ({"hours": "0"}, "hours_range"),
        ({"hours": "24.5"}, "hours_range"),
        ({"hours": "two"}, "hours_invalid"),
        ({"title": "  "}, "title_missing"),
        (
            {"studied_on": timezone.localdate() + datetime.timedelta(days=1)},
            "future_date",
        ),
    ],
    ids=["negative", "zero", "over-24", "not-a-number", "no-title", "future"],
)
def test_bad_offline_study_writes_nothing(member, secretary_of_a, details, code):
    with pytest.raises(ValidationError) as refused:
        record(secretary_of_a, member, **details)

    assert refused.value.code == code
    assert not OfflineStudy.objects.exists()


def test_a_whole_day_of_study_is_accepted(member, secretary_of_a):
    assert record(secretary_of_a, member, hours=24).hours == Decimal("24.00")


def test_a_member_of_another_branch_is_out_of_scope(member_of_b, secretary_of_a):
    with pytest.raises(OutOfScope):
        record(secretary_of_a, member_of_b)

    assert not OfflineStudy.objects.exists()


def test_a_provincial_viewer_may_not_record_study(member, provincial_viewer):
    with pytest.raises(ReadOnlyScope):
        record(provincial_viewer, member)

    assert not OfflineStudy.objects.exists()


# Party lectures.


def test_a_held_party_lecture_credits_present_members_once(
    member, member_of_b, branch_a, secretary_of_a
):
    absent = factories.make_member(branch_a)
    meeting = lecture(branch_a, secretary_of_a, member)
    study_rows = OfflineStudy.objects.filter(meeting=meeting)

    first = study.credit_meeting_attendance(meeting)
    again = study.credit_meeting_attendance(meeting)

    assert (first, again) == (1, 0)
    (credit,) = study_rows
    assert (credit.member, credit.hours) == (member, Decimal("1.50"))
    assert credit.studied_on == meeting.held_on
    assert yearly_hours(absent, meeting.held_on.year) == 0


def test_other_meetings_credit_no_study_hours(member, branch_a, secretary_of_a):
    meeting = lecture(branch_a, secretary_of_a, member, kind="theme_day")

    assert study.credit_meeting_attendance(meeting) == 0
    assert not OfflineStudy.objects.exists()


def test_a_planned_lecture_credits_nothing_yet(member, branch_a, secretary_of_a):
    meeting = plan(branch_a, secretary_of_a, kind="party_lecture", invitees=[member])

    assert study.credit_meeting_attendance(meeting) == 0


def test_closing_a_party_lecture_credits_those_present(
    branch_a,
    member,
    member_user,
    secretary_of_a,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    from learning import tasks
    from organizations.meetings import services as meeting_services
    from tests.meetings.arrange import hold

    monkeypatch.setattr(tasks.credit_lecture, "delay", tasks.credit_lecture)
    held = plan(branch_a, secretary_of_a, kind="party_lecture", minutes=120)
    meeting_services.check_in(user=member_user, meeting=held)

    with django_capture_on_commit_callbacks(execute=True):
        hold(held, secretary_of_a)

    credited = OfflineStudy.objects.get(member=member, meeting=held)
    assert credited.hours == Decimal("2.0")
