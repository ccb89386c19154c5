"""Hour crediting rules, yearly hours and targets, required courses."""

import datetime
import random
from decimal import Decimal

import pytest

from learning import rules
from learning.models import Course, OfflineStudy, Progress
from learning.selectors import hours as selectors
from learning.selectors.hours import Due
from organizations.scope import OutOfScope, scope_for
from tests import factories
from tests.learning.arrange import local, make_course

HEARTBEAT, IDLE = 30, 90
T0 = local(2026, 5, 1, 9, 0)


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def count(beat, previous, last):
    return rules.count_beat(
        beat=beat, previous=previous, last=last, heartbeat=HEARTBEAT, idle=IDLE
    )


# Pure rules.


def test_first_beat_of_a_tab_adds_nothing_but_holds_the_attention():
    counted = count(rules.Beat(1, "a", T0), None, None)

    assert counted == rules.Counted(0, keep=True)


def test_a_regular_beat_adds_the_time_since_the_tab_s_last_beat():
    last = rules.Beat(1, "a", at(0))

    assert count(rules.Beat(1, "a", at(30)), at(0), last) == rules.Counted(30, True)


def test_a_lost_beat_still_counts_but_never_more_than_two_periods():
    last = rules.Beat(1, "a", at(0))

    assert count(rules.Beat(1, "a", at(80)), at(0), last).seconds == 60


def test_a_gap_longer_than_idle_adds_nothing():
    last = rules.Beat(1, "a", at(0))

    counted = count(rules.Beat(1, "a", at(IDLE + 1)), at(0), last)

    assert counted == rules.Counted(0, keep=True)


def test_a_beat_from_another_tab_while_the_first_is_fresh_adds_nothing():
    last = rules.Beat(1, "a", at(0))

    counted = count(rules.Beat(1, "b", at(20)), at(-10), last)

    assert counted == rules.Counted(0, keep=False)


def test_another_course_s_tab_is_a_parallel_tab_too():
    last = rules.Beat(1, "a", at(0))

    assert count(rules.Beat(2, "a", at(20)), at(-10), last).seconds == 0


def test_a_repeated_beat_adds_nothing():
    last = rules.Beat(1, "a", at(30))

    assert count(rules.Beat(1, "a", at(30)), at(30), last).seconds == 0


def test_two_tabs_beating_in_turn_never_count_more_than_the_wall_clock():
    # Tabs a and b beat alternately every 10 seconds for an hour; a real
    # client keeps sending, whatever the server answers.
    kept: dict[str, datetime.datetime] = {}
    last = None
    total = 0
    for step in range(360):
        tab = "ab"[step % 2]
        beat = rules.Beat(1, tab, at(step * 10))
        counted = count(beat, kept.get(tab), last)
        total += counted.seconds
        if counted.keep:
            kept[tab] = beat.at
            last = beat

    assert total <= 3590


@pytest.mark.parametrize("seed", range(20))
def test_any_mix_of_tabs_and_courses_never_counts_more_than_the_wall_clock(seed):
    chance = random.Random(seed)
    kept: dict[tuple, datetime.datetime] = {}
    last = None
    total = 0
    moment = T0
    for _step in range(500):
        moment += datetime.timedelta(seconds=chance.randint(0, 120))
        beat = rules.Beat(chance.choice([1, 2]), chance.choice("abc"), moment)
        counted = count(beat, kept.get((beat.course_id, beat.tab)), last)
        total += counted.seconds
        if counted.keep:
            kept[(beat.course_id, beat.tab)] = beat.at
            last = beat

    assert 0 < total <= (moment - T0).total_seconds()


def test_a_tab_taking_over_after_the_other_went_idle_counts_from_its_own_beats():
    last = rules.Beat(1, "a", at(0))

    first = count(rules.Beat(1, "b", at(IDLE + 5)), None, last)
    then = count(
        rules.Beat(1, "b", at(IDLE + 35)),
        at(IDLE + 5),
        rules.Beat(1, "b", at(IDLE + 5)),
    )

    assert (first, then.seconds) == (rules.Counted(0, True), 30)


def test_a_course_counts_no_more_than_its_credit():
    assert rules.capped(3590, 60, Decimal("1.00")) == 3600


def test_completion_needs_the_share_of_the_credit_time():
    assert not rules.completion_reached(3599, Decimal("1.00"), 1.0)
    assert rules.completion_reached(3600, Decimal("1.00"), 1.0)
    assert rules.completion_reached(2880, Decimal("1.00"), 0.8)


def test_half_past_eleven_on_new_year_s_eve_in_beijing_is_the_old_year():
    assert rules.local_year(local(2026, 12, 31, 23, 30)) == 2026


def test_ten_past_midnight_on_new_year_s_day_in_beijing_is_the_new_year():
    moment = local(2027, 1, 1, 0, 10)

    assert moment.astimezone(datetime.UTC).year == 2026
    assert rules.local_year(moment) == 2027


def test_a_lecture_credits_its_length_down_to_the_half_hour():
    start = local(2026, 3, 1, 9)

    assert rules.meeting_hours(start, start + datetime.timedelta(minutes=100)) == (
        Decimal("1.50")
    )
    assert rules.meeting_hours(start, start + datetime.timedelta(minutes=29)) == 0


# Yearly hours and targets.


def _completed(member, course, year, hours="2.00"):
    return Progress.objects.create(
        member=member,
        course=course,
        opened_at=local(year, 3, 1),
        seconds=int(Decimal(hours) * 3600),
        completed_at=local(year, 3, 1),
        credited_hours=Decimal(hours),
        credited_year=year,
    )


def _offline(member, year, hours="1.50"):
    return OfflineStudy.objects.create(
        member=member,
        title="党课",
        studied_on=datetime.date(year, 6, 1),
        hours=Decimal(hours),
    )


@pytest.mark.django_db
def test_yearly_hours_add_course_credits_and_offline_study_of_that_year(
    member, branch_a
):
    _completed(member, make_course(branch_a), 2026, "2.00")
    _completed(member, make_course(branch_a), 2025, "3.00")
    _offline(member, 2026, "1.50")
    _offline(member, 2027, "4.00")

    assert selectors.yearly_hours(member, 2026) == Decimal("3.50")


@pytest.mark.django_db
def test_yearly_hours_are_zero_without_study(member):
    assert selectors.yearly_hours(member, 2026) == Decimal("0.00")


@pytest.mark.django_db
def test_a_member_s_yearly_target_is_32_hours(member):
    assert selectors.yearly_target(member, 2026) == 32


@pytest.mark.django_db
def test_a_secretary_s_yearly_target_is_56_hours(member, member_user, branch_a):
    factories.make_role(
        member_user,
        branch_a,
        "secretary",
        starts_on=datetime.date(2026, 11, 1),
    )

    assert selectors.yearly_target(member, 2026) == 56
    assert selectors.yearly_target(member, 2025) == 32


@pytest.mark.django_db
def test_a_provincial_viewer_keeps_a_member_s_target(member, member_user, branch_a):
    factories.make_role(member_user, branch_a, "provincial_viewer")

    assert selectors.yearly_target(member, 2026) == 32


# Required courses.


@pytest.mark.django_db
def test_required_courses_say_done_due_or_overdue(member, branch_a, city_committee):
    done = make_course(branch_a, required_for="all", deadline=datetime.date(2026, 6, 1))
    due = make_course(
        city_committee, required_for="all", deadline=datetime.date(2026, 9, 1)
    )
    overdue = make_course(
        branch_a, required_for="all", deadline=datetime.date(2026, 3, 1)
    )
    make_course(branch_a)  # not required
    _completed(member, done, 2026)

    required = selectors.required_courses(member, on=datetime.date(2026, 5, 1))

    assert [(r.course, r.deadline, r.state) for r in required] == [
        (overdue, datetime.date(2026, 3, 1), Due.OVERDUE),
        (done, datetime.date(2026, 6, 1), Due.DONE),
        (due, datetime.date(2026, 9, 1), Due.DUE),
    ]


@pytest.mark.django_db
def test_a_course_is_due_on_its_deadline_and_overdue_the_day_after(member, branch_a):
    make_course(branch_a, required_for="all", deadline=datetime.date(2026, 6, 1))

    on_deadline = selectors.required_courses(member, on=datetime.date(2026, 6, 1))
    after = selectors.required_courses(member, on=datetime.date(2026, 6, 2))

    assert [r.state for r in on_deadline + after] == [Due.DUE, Due.OVERDUE]


@pytest.mark.django_db
def test_probationary_courses_are_required_of_probationary_members_only(
    member, branch_a
):
    make_course(
        branch_a, required_for="probationary", deadline=datetime.date(2026, 6, 1)
    )
    on = datetime.date(2026, 5, 1)
    before = selectors.required_courses(member, on=on)

    member.status = "probationary"
    member.save()

    assert before == []
    assert len(selectors.required_courses(member, on=on)) == 1


@pytest.mark.django_db
def test_secretaries_courses_are_required_of_role_holders(
    member, member_user, branch_a, member_of_b
):
    make_course(
        branch_a, required_for="secretaries", deadline=datetime.date(2026, 6, 1)
    )
    factories.make_role(member_user, branch_a, "secretary")
    on = datetime.date(2026, 5, 1)

    assert len(selectors.required_courses(member, on=on)) == 1
    assert selectors.required_courses(member_of_b, on=on) == []


@pytest.mark.django_db
def test_courses_of_other_branches_are_not_required(member, branch_b, branch_c):
    make_course(branch_b, required_for="all", deadline=datetime.date(2026, 6, 1))
    make_course(branch_c, required_for="all", deadline=datetime.date(2026, 6, 1))

    assert selectors.required_courses(member, on=datetime.date(2026, 5, 1)) == []


# Compliance: one number everywhere.


@pytest.mark.django_db
def test_compliance_lists_each_held_member_with_hours_and_target(
    member, member_user, branch_a, secretary_of_a, django_assert_num_queries
):
    studious = factories.make_member(branch_a, name="阿甲")
    course = make_course(branch_a, credit_hours=Decimal("32.00"))
    _completed(studious, course, 2026, "32.00")
    _offline(member, 2026, "3.00")
    factories.make_role(member_user, branch_a, "organiser")
    scope = scope_for(secretary_of_a)

    with django_assert_num_queries(1):
        compliance = selectors.hours_compliance(
            scope=scope, organization=branch_a, year=2026
        )

    rows = {m.pk: (m.hours, m.target) for m in compliance.members}
    assert rows == {
        member.pk: (Decimal("3.00"), 56),
        studious.pk: (Decimal("32.00"), 32),
    }
    assert (compliance.at_target, compliance.share) == (1, Decimal("0.5000"))


@pytest.mark.django_db
def test_the_member_s_figure_is_the_compliance_figure(member, branch_a, secretary_of_a):
    _completed(member, make_course(branch_a), 2026, "2.00")
    _offline(member, 2026, "1.25")

    compliance = selectors.hours_compliance(
        scope=scope_for(secretary_of_a), organization=branch_a, year=2026
    )

    (row,) = compliance.members
    assert row.hours == selectors.yearly_hours(member, 2026) == Decimal("3.25")
    assert row.target == selectors.yearly_target(member, 2026)


@pytest.mark.django_db
def test_compliance_of_another_branch_is_out_of_scope(branch_c, secretary_of_a):
    with pytest.raises(OutOfScope):
        selectors.hours_compliance(
            scope=scope_for(secretary_of_a), organization=branch_c, year=2026
        )


@pytest.mark.django_db
def test_compliance_of_an_empty_branch_is_zero(branch_b, secretary_of_b):
    compliance = selectors.hours_compliance(
        scope=scope_for(secretary_of_b), organization=branch_b, year=2026
    )

    assert (compliance.members, compliance.share) == ([], Decimal("0.00"))


def test_course_audiences_are_the_ones_required_courses_know():
    assert set(Course.Audience.values) == {"", "all", "probationary", "secretaries"}
