"""The rules of DESIGN.md §4 as plain functions: periods, quorum, majority."""

import datetime

import pytest

from organizations.meetings import rules
from organizations.meetings.rules import Frequency
from organizations.models import MeetingKind, Organization

D = datetime.date


# --- quorum and majority


@pytest.mark.parametrize(
    ("entitled", "present", "quorate"),
    [(11, 6, True), (11, 5, False), (10, 6, True), (10, 5, False), (1, 1, True)],
)
def test_quorum_is_more_than_half_of_the_entitled_present(entitled, present, quorate):
    assert rules.has_quorum(entitled=entitled, present=present) is quorate


@pytest.mark.parametrize(
    ("entitled", "ayes", "passed"),
    [(11, 6, True), (11, 5, False), (10, 6, True), (10, 5, False), (3, 2, True)],
)
def test_a_resolution_passes_with_ayes_over_half_of_the_entitled(
    entitled, ayes, passed
):
    assert rules.passes(entitled=entitled, ayes=ayes) is passed


def test_ayes_are_counted_against_the_entitled_not_the_present():
    # 6 of 11 present, 5 ayes: a majority of those present, not of the
    # members who should attend.
    assert rules.has_quorum(entitled=11, present=6)
    assert not rules.passes(entitled=11, ayes=5)


def test_nobody_entitled_means_no_quorum_and_no_pass():
    assert not rules.has_quorum(entitled=0, present=0)
    assert not rules.passes(entitled=0, ayes=0)


# --- required frequencies


def test_each_kind_has_the_frequency_of_design_section_4():
    assert rules.REQUIRED == {
        MeetingKind.GENERAL_MEETING: Frequency.QUARTER,
        MeetingKind.BRANCH_COMMITTEE: Frequency.MONTH,
        MeetingKind.PARTY_GROUP: Frequency.MONTH,
        MeetingKind.PARTY_LECTURE: Frequency.QUARTER,
        MeetingKind.THEME_DAY: Frequency.MONTH,
        MeetingKind.LIFE_MEETING: Frequency.YEAR,
        MeetingKind.APPRAISAL: Frequency.YEAR,
    }


def test_a_party_group_owes_only_group_meetings():
    assert rules.OWED_BY[Organization.Kind.GROUP] == (MeetingKind.PARTY_GROUP,)


def test_a_branch_owes_every_kind_but_the_group_meeting():
    owed = set(rules.OWED_BY[Organization.Kind.BRANCH])

    assert owed == set(MeetingKind) - {MeetingKind.PARTY_GROUP}


def test_a_committee_owes_no_members_meeting_of_its_own():
    assert Organization.Kind.COMMITTEE not in rules.OWED_BY


# --- periods


@pytest.mark.parametrize(
    ("frequency", "day", "first", "last", "label"),
    [
        (Frequency.MONTH, D(2025, 2, 14), D(2025, 2, 1), D(2025, 2, 28), "2025-02"),
        (Frequency.MONTH, D(2024, 2, 29), D(2024, 2, 1), D(2024, 2, 29), "2024-02"),
        (Frequency.MONTH, D(2025, 12, 31), D(2025, 12, 1), D(2025, 12, 31), "2025-12"),
        (Frequency.QUARTER, D(2025, 3, 31), D(2025, 1, 1), D(2025, 3, 31), "2025-Q1"),
        (Frequency.QUARTER, D(2025, 4, 1), D(2025, 4, 1), D(2025, 6, 30), "2025-Q2"),
        (Frequency.QUARTER, D(2025, 9, 30), D(2025, 7, 1), D(2025, 9, 30), "2025-Q3"),
        (
            Frequency.QUARTER,
            D(2025, 10, 1),
            D(2025, 10, 1),
            D(2025, 12, 31),
            "2025-Q4",
        ),
        (Frequency.YEAR, D(2025, 1, 1), D(2025, 1, 1), D(2025, 12, 31), "2025"),
        (Frequency.YEAR, D(2025, 12, 31), D(2025, 1, 1), D(2025, 12, 31), "2025"),
    ],
)
def test_period_of_a_day(frequency, day, first, last, label):
    period = rules.period_of(frequency, day)

    assert (period.first, period.last, period.label) == (first, last, label)
    assert period.contains(day)


def test_periods_between_cover_every_overlapping_period_across_the_year_end():
    periods = rules.periods_between(Frequency.QUARTER, D(2024, 11, 15), D(2025, 4, 2))

    assert [p.label for p in periods] == ["2024-Q4", "2025-Q1", "2025-Q2"]


def test_months_between_run_through_february_of_a_leap_year():
    periods = rules.periods_between(Frequency.MONTH, D(2024, 1, 31), D(2024, 3, 1))

    assert [(p.first, p.last) for p in periods] == [
        (D(2024, 1, 1), D(2024, 1, 31)),
        (D(2024, 2, 1), D(2024, 2, 29)),
        (D(2024, 3, 1), D(2024, 3, 31)),
    ]


def test_the_period_before_the_first_quarter_is_the_last_quarter_of_last_year():
    previous = rules.period_of(Frequency.QUARTER, D(2025, 1, 1)).previous()

    assert previous.label == "2024-Q4"
    assert previous.last == D(2024, 12, 31)


# --- local dates in Asia/Shanghai


@pytest.mark.parametrize(
    ("utc", "local_day"),
    [
        # 00:10 on the 1st in Beijing is still the previous day in UTC.
        (datetime.datetime(2025, 9, 30, 16, 10, tzinfo=datetime.UTC), D(2025, 10, 1)),
        (datetime.datetime(2024, 12, 31, 16, 10, tzinfo=datetime.UTC), D(2025, 1, 1)),
        (datetime.datetime(2025, 1, 31, 16, 0, tzinfo=datetime.UTC), D(2025, 2, 1)),
        (datetime.datetime(2025, 1, 31, 15, 59, tzinfo=datetime.UTC), D(2025, 1, 31)),
    ],
)
def test_local_date_is_read_in_the_organisations_time_zone(utc, local_day):
    assert rules.local_date(utc, "Asia/Shanghai") == local_day


def test_ten_past_midnight_on_the_first_counts_in_the_new_month_quarter_and_year():
    day = rules.local_date(
        datetime.datetime(2024, 12, 31, 16, 10, tzinfo=datetime.UTC), "Asia/Shanghai"
    )

    assert rules.period_of(Frequency.MONTH, day).label == "2025-01"
    assert rules.period_of(Frequency.QUARTER, day).label == "2025-Q1"
    assert rules.period_of(Frequency.YEAR, day).label == "2025"


# --- fixed days of recurring meetings


@pytest.mark.parametrize(
    ("month", "day_of_month", "day"),
    [
        (D(2025, 2, 1), 31, D(2025, 2, 28)),
        (D(2024, 2, 1), 31, D(2024, 2, 29)),
        (D(2025, 4, 1), 31, D(2025, 4, 30)),
        (D(2025, 4, 1), 30, D(2025, 4, 30)),
        (D(2025, 1, 1), 31, D(2025, 1, 31)),
        (D(2025, 2, 1), 1, D(2025, 2, 1)),
    ],
)
def test_a_day_past_the_months_end_is_its_last_day(month, day_of_month, day):
    assert rules.day_in_month(month, day_of_month) == day
