"""Compliance with the frequencies of DESIGN.md §4, read in Beijing time."""

import datetime

import pytest

from organizations.meetings import selectors, services
from organizations.models import MeetingKind
from organizations.scope import scope_for
from tests import factories
from tests.meetings.arrange import attendance_of, hold, local, place, plan

D = datetime.date


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def held(organization, secretary, starts_at, *, kind="theme_day", present=()):
    """A meeting held at ``starts_at``, with ``present`` recorded there."""
    meeting = plan(organization, secretary, kind=kind, starts_at=starts_at)
    for member in present:
        services.record_presence(
            actor=secretary,
            scope=scope_for(secretary),
            attendance=attendance_of(meeting, member),
        )
    return hold(meeting, secretary)


def states(compliance, kind, today=None):
    """{period label: state} of one kind."""
    item = next(k for k in compliance.kinds if k.kind == kind)
    return {p.label: item.state(p, today or compliance.today) for p in item.periods}


# --- periods counted by the local date


def test_ten_past_midnight_on_the_first_counts_in_the_new_month(
    branch_a, secretary_of_a
):
    # 16:10 UTC on 30 September is 00:10 on 1 October in Beijing.
    held(branch_a, secretary_of_a, local(2025, 10, 1, 0, 10))

    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 9, 1),
        last=D(2025, 10, 31),
        today=D(2025, 11, 5),
    )

    assert states(result, "theme_day") == {"2025-09": "overdue", "2025-10": "held"}


def test_ten_to_midnight_on_the_last_day_counts_in_the_old_month(
    branch_a, secretary_of_a
):
    held(branch_a, secretary_of_a, local(2025, 9, 30, 23, 50))

    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 9, 1),
        last=D(2025, 10, 31),
        today=D(2025, 11, 5),
    )

    assert states(result, "theme_day") == {"2025-09": "held", "2025-10": "overdue"}


def test_a_general_meeting_early_on_new_years_day_counts_in_the_new_quarter(
    branch_a, secretary_of_a
):
    held(branch_a, secretary_of_a, local(2025, 1, 1, 0, 10), kind="general_meeting")

    result = selectors.compliance(
        organization=branch_a,
        first=D(2024, 10, 1),
        last=D(2025, 3, 31),
        today=D(2025, 4, 2),
    )

    assert states(result, "general_meeting") == {
        "2024-Q4": "overdue",
        "2025-Q1": "held",
    }


def test_a_yearly_meeting_at_the_year_boundary_counts_in_the_new_year(
    branch_a, secretary_of_a
):
    held(branch_a, secretary_of_a, local(2025, 1, 1, 0, 10), kind="life_meeting")

    result = selectors.compliance(
        organization=branch_a,
        first=D(2024, 1, 1),
        last=D(2025, 12, 31),
        today=D(2025, 6, 1),
    )

    assert states(result, "life_meeting") == {"2024": "overdue", "2025": "held"}


def test_a_quarterly_lecture_on_the_first_of_april_counts_in_the_second_quarter(
    branch_a, secretary_of_a
):
    held(branch_a, secretary_of_a, local(2025, 4, 1, 0, 10), kind="party_lecture")

    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 1, 1),
        last=D(2025, 6, 30),
        today=D(2025, 7, 1),
    )

    assert states(result, "party_lecture") == {"2025-Q1": "overdue", "2025-Q2": "held"}


# --- states


def test_states_are_held_overdue_due_and_future(branch_a, secretary_of_a):
    held(branch_a, secretary_of_a, local(2025, 10, 12, 9))

    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 9, 1),
        last=D(2025, 12, 31),
        today=D(2025, 11, 15),
    )

    assert states(result, "theme_day") == {
        "2025-09": "overdue",
        "2025-10": "held",
        "2025-11": "due",
        "2025-12": "future",
    }


def test_the_last_day_of_a_period_is_still_due(branch_a, secretary_of_a):
    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 9, 1),
        last=D(2025, 9, 30),
        today=D(2025, 9, 30),
    )

    assert states(result, "theme_day") == {"2025-09": "due"}
    assert states(result, "theme_day", today=D(2025, 10, 1)) == {"2025-09": "overdue"}


def test_only_held_meetings_count(branch_a, secretary_of_a):
    plan(branch_a, secretary_of_a, kind="theme_day", starts_at=local(2025, 10, 9))
    cancelled = plan(
        branch_a, secretary_of_a, kind="theme_day", starts_at=local(2025, 10, 10)
    )
    services.cancel_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        meeting=cancelled,
        reason="改期",
    )

    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 10, 1),
        last=D(2025, 10, 31),
        today=D(2025, 11, 1),
    )

    assert states(result, "theme_day") == {"2025-10": "overdue"}


def test_overdue_counts_every_missed_period_of_every_kind(branch_a, secretary_of_a):
    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 1, 1),
        last=D(2025, 3, 31),
        today=D(2025, 4, 1),
    )

    # Monthly: committee and theme day, 3 each; quarterly: general meeting
    # and lecture, 1 each; yearly: 2025 is not over yet.
    assert result.overdue == 3 + 3 + 1 + 1


def test_a_yearly_meeting_held_before_the_range_still_counts_for_its_year(
    branch_a, secretary_of_a
):
    # Asked for the third quarter only: the life meeting of March meets the
    # whole year's requirement.
    held(branch_a, secretary_of_a, local(2025, 3, 20, 9), kind="life_meeting")

    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 7, 1),
        last=D(2025, 9, 30),
        today=D(2025, 10, 1),
    )

    assert states(result, "life_meeting") == {"2025": "held"}


def test_a_quarterly_meeting_held_before_a_mid_quarter_range_still_counts(
    branch_a, secretary_of_a
):
    held(branch_a, secretary_of_a, local(2025, 7, 3, 9), kind="general_meeting")

    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 8, 1),
        last=D(2025, 8, 31),
        today=D(2025, 10, 1),
    )

    assert states(result, "general_meeting") == {"2025-Q3": "held"}
    assert states(result, "theme_day") == {"2025-08": "overdue"}


def test_the_attendance_rate_is_present_of_invited_at_held_meetings(
    branch_a, secretary_of_a
):
    members = [factories.make_member(branch_a) for _ in range(4)]
    meeting = held(
        branch_a, secretary_of_a, local(2025, 10, 12, 9), present=members[:3]
    )
    services.record_absence(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        attendance=attendance_of(meeting, members[3]),
        status="excused",
        reason="病假",
    )
    plan(branch_a, secretary_of_a, kind="theme_day", starts_at=local(2025, 10, 20))

    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 10, 1),
        last=D(2025, 10, 31),
        today=D(2025, 11, 1),
    )

    assert (result.invited, result.present, result.excused) == (4, 3, 1)
    assert result.attendance_rate == 0.75


def test_the_attendance_rate_counts_meetings_in_the_range_only(
    branch_a, secretary_of_a
):
    member = factories.make_member(branch_a)
    held(branch_a, secretary_of_a, local(2025, 3, 20, 9), kind="life_meeting")
    held(branch_a, secretary_of_a, local(2025, 7, 10, 9), present=[member])

    result = selectors.compliance(
        organization=branch_a,
        first=D(2025, 7, 1),
        last=D(2025, 9, 30),
        today=D(2025, 10, 1),
    )

    assert (result.invited, result.present) == (1, 1)


def test_no_meeting_held_means_no_attendance_rate(branch_a):
    result = selectors.compliance(
        organization=branch_a, first=D(2025, 1, 1), last=D(2025, 1, 31)
    )

    assert result.attendance_rate is None


# --- many organisations


def test_subtree_compliance_keeps_each_organisation_apart(
    branch_a, branch_b, secretary_of_a, secretary_of_b
):
    group = factories.make_organization(branch_a, kind="group", name="第一党小组")
    held(branch_a, secretary_of_a, local(2025, 10, 1, 0, 10))
    held(group, secretary_of_a, local(2025, 10, 15, 19), kind="party_group")
    held(branch_b, secretary_of_b, local(2025, 9, 10, 9))

    results = selectors.subtree_compliance(
        organizations=[branch_a, branch_b, group],
        first=D(2025, 9, 1),
        last=D(2025, 10, 31),
        today=D(2025, 11, 1),
    )

    by_org = {r.organization: r for r in results}
    assert [r.organization for r in results] == [branch_a, branch_b, group]
    assert states(by_org[branch_a], "theme_day") == {
        "2025-09": "overdue",
        "2025-10": "held",
    }
    assert states(by_org[branch_b], "theme_day") == {
        "2025-09": "held",
        "2025-10": "overdue",
    }
    assert states(by_org[group], "party_group") == {
        "2025-09": "overdue",
        "2025-10": "held",
    }


def test_a_party_group_owes_only_its_group_meetings(branch_a):
    group = factories.make_organization(branch_a, kind="group")

    result = selectors.compliance(
        organization=group, first=D(2025, 1, 1), last=D(2025, 3, 31)
    )

    assert [k.kind for k in result.kinds] == [MeetingKind.PARTY_GROUP]


def test_a_committee_owes_no_meetings_of_its_own(city_committee):
    result = selectors.compliance(
        organization=city_committee,
        first=D(2025, 1, 1),
        last=D(2025, 3, 31),
        today=D(2025, 4, 1),
    )

    assert result.kinds == []
    assert result.overdue == 0


def test_subtree_compliance_takes_the_same_queries_for_more_organisations(
    city_committee, django_assert_num_queries
):
    def organizations(count):
        return [factories.make_organization(city_committee) for _ in range(count)]

    few, many = organizations(2), organizations(8)

    def read(orgs):
        return selectors.subtree_compliance(
            organizations=orgs, first=D(2025, 1, 1), last=D(2025, 12, 31)
        )

    with django_assert_num_queries(2):
        read(few)
    with django_assert_num_queries(2):
        read(many)


# --- six months without organisational life


@pytest.fixture
def july_15():
    return D(2025, 7, 15)


def without_life(organization, on):
    return set(
        selectors.members_without_organisational_life(
            organization=organization, on=on
        ).values_list("pk", flat=True)
    )


def test_a_member_present_just_within_six_months_has_organisational_life(
    branch_a, secretary_of_a, july_15
):
    member = factories.make_member(branch_a)
    # 16:10 UTC on 15 January is the 16th in Beijing: inside the window.
    held(branch_a, secretary_of_a, local(2025, 1, 16, 0, 10), present=[member])

    assert member.pk not in without_life(branch_a, july_15)


def test_a_member_last_present_exactly_six_months_ago_has_none(
    branch_a, secretary_of_a, july_15
):
    member = factories.make_member(branch_a)
    held(branch_a, secretary_of_a, local(2025, 1, 15, 23, 50), present=[member])

    assert member.pk in without_life(branch_a, july_15)


def test_being_excused_is_no_organisational_life(branch_a, secretary_of_a, july_15):
    member = factories.make_member(branch_a)
    meeting = plan(branch_a, secretary_of_a, starts_at=local(2025, 5, 10, 9))
    services.record_absence(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        attendance=attendance_of(meeting, member),
        status="excused",
        reason="病假",
    )
    hold(meeting, secretary_of_a)

    assert member.pk in without_life(branch_a, july_15)


def test_a_meeting_attended_at_the_inflow_organisation_counts(
    branch_a, branch_b, secretary_of_a, secretary_of_b, july_15
):
    member = factories.make_member(branch_a)
    place(member, outflow=branch_a, inflow=branch_b, registered_by=secretary_of_a)
    held(branch_b, secretary_of_b, local(2025, 6, 10, 9), present=[member])

    assert member.pk not in without_life(branch_a, july_15)
    assert member.pk not in without_life(branch_b, july_15)


def test_a_member_who_joined_within_six_months_is_not_counted_yet(branch_a, july_15):
    newcomer = factories.make_member(branch_a, since=D(2025, 3, 1))
    veteran = factories.make_member(branch_a, status="probationary")
    suspended = factories.make_member(branch_a, status="suspended")

    assert without_life(branch_a, july_15) == {veteran.pk}
    assert newcomer.pk not in without_life(branch_a, july_15)
    assert suspended.pk not in without_life(branch_a, july_15)


def test_a_planned_meeting_not_yet_held_does_not_count(
    branch_a, secretary_of_a, july_15
):
    member = factories.make_member(branch_a)
    meeting = plan(branch_a, secretary_of_a, starts_at=local(2025, 7, 1, 9))
    services.record_presence(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        attendance=attendance_of(meeting, member),
    )

    assert member.pk in without_life(branch_a, july_15)


def test_member_attendance_counts_the_last_six_months(
    branch_a, secretary_of_a, july_15
):
    member = factories.make_member(branch_a)
    held(branch_a, secretary_of_a, local(2025, 1, 15, 9), present=[member])
    held(branch_a, secretary_of_a, local(2025, 1, 16, 9), present=[member])
    held(branch_a, secretary_of_a, local(2025, 7, 15, 9))

    record = selectors.member_attendance(member, on=july_15)

    assert record["since"] == D(2025, 1, 15)
    assert (record["invited"], record["present"]) == (2, 1)
