"""Recurring meetings: one a month, edited in place, never duplicated."""

import datetime
from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from organizations.meetings import services
from organizations.models import Meeting, MeetingSeries
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for
from tests.meetings.arrange import SHANGHAI, hold, local

D = datetime.date


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _four_months_planned(settings):
    # This month and three ahead, whatever the deployment sets.
    settings.LIUDONG_MEETING_SERIES_MONTHS_AHEAD = 3


def details(**overrides):
    fields = {
        "kind": "theme_day",
        "title": "主题党日",
        "day_of_month": 10,
        "start_time": datetime.time(9, 0),
        "duration_minutes": 120,
        "first_month": D(2025, 1, 1),
        "place": "村委会",
    }
    return services.SeriesDetails(**{**fields, **overrides})


def plan_series(actor, organization, *, now, **overrides):
    return services.plan_series(
        actor=actor,
        scope=scope_for(actor),
        organization=organization,
        details=details(**overrides),
        now=now,
    )


def update_series(actor, series, *, now, **overrides):
    return services.update_series(
        actor=actor,
        scope=scope_for(actor),
        series=series,
        details=details(**overrides),
        now=now,
    )


def occurrences(series):
    """(held_on, status) of each meeting of the series, by month."""
    meetings = Meeting.objects.filter(series=series).order_by("series_month")
    assert_one_a_month(series)
    return [(m.held_on, m.status) for m in meetings]


def assert_one_a_month(series):
    months = Counter(
        Meeting.objects.filter(series=series).values_list("series_month", flat=True)
    )
    assert all(count == 1 for count in months.values()), months


def meeting_in(series, month) -> Meeting:
    return Meeting.objects.get(series=series, series_month=month)


PLANNED, HELD, CANCELLED = "planned", "held", "cancelled"
JAN_5 = local(2025, 1, 5, 12)


# --- planning


def test_a_series_plans_one_meeting_a_month_up_to_the_horizon(branch_a, secretary_of_a):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)

    assert occurrences(series) == [
        (D(2025, 1, 10), PLANNED),
        (D(2025, 2, 10), PLANNED),
        (D(2025, 3, 10), PLANNED),
        (D(2025, 4, 10), PLANNED),
    ]
    january = meeting_in(series, D(2025, 1, 1))
    assert january.starts_at == local(2025, 1, 10, 9, 0)
    assert january.ends_at == local(2025, 1, 10, 11, 0)
    assert (january.kind, january.place) == ("theme_day", "村委会")


def test_each_occurrence_invites_the_members(branch_a, secretary_of_a, member):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)

    for meeting in Meeting.objects.filter(series=series):
        assert list(meeting.attendances.values_list("member_id", flat=True)) == [
            member.pk
        ]


def test_a_first_month_in_the_past_starts_from_this_month(branch_a, secretary_of_a):
    series = plan_series(
        secretary_of_a, branch_a, now=JAN_5, first_month=D(2024, 10, 1)
    )

    assert [day for day, _ in occurrences(series)] == [
        D(2025, 1, 10),
        D(2025, 2, 10),
        D(2025, 3, 10),
        D(2025, 4, 10),
    ]


def test_a_day_already_past_this_month_is_not_planned(branch_a, secretary_of_a):
    series = plan_series(secretary_of_a, branch_a, now=local(2025, 1, 15))

    assert [day for day, _ in occurrences(series)] == [
        D(2025, 2, 10),
        D(2025, 3, 10),
        D(2025, 4, 10),
    ]


def test_day_31_falls_on_the_last_day_of_shorter_months(branch_a, secretary_of_a):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5, day_of_month=31)

    assert [day for day, _ in occurrences(series)] == [
        D(2025, 1, 31),
        D(2025, 2, 28),
        D(2025, 3, 31),
        D(2025, 4, 30),
    ]


def test_day_31_of_february_in_a_leap_year_is_the_29th(branch_a, secretary_of_a):
    series = plan_series(
        secretary_of_a,
        branch_a,
        now=local(2024, 2, 1),
        day_of_month=31,
        first_month=D(2024, 2, 1),
        last_month=D(2024, 2, 1),
    )

    assert occurrences(series) == [(D(2024, 2, 29), PLANNED)]


def test_ten_past_midnight_on_the_first_belongs_to_the_local_month(
    branch_a, secretary_of_a
):
    series = plan_series(
        secretary_of_a,
        branch_a,
        now=JAN_5,
        day_of_month=1,
        start_time=datetime.time(0, 10),
    )

    february = meeting_in(series, D(2025, 2, 1))
    assert february.starts_at == datetime.datetime(
        2025, 1, 31, 16, 10, tzinfo=datetime.UTC
    )
    assert february.held_on == D(2025, 2, 1)
    assert [day for day, _ in occurrences(series)] == [
        D(2025, 2, 1),
        D(2025, 3, 1),
        D(2025, 4, 1),
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"day_of_month": 0}, "day_of_month"),
        ({"day_of_month": 32}, "day_of_month"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"last_month": D(2024, 12, 1)}, "last_month"),
        ({"kind": "party_group"}, "kind"),
        ({"place": ""}, "place"),
    ],
)
def test_a_series_that_cannot_be_held_is_refused(
    branch_a, secretary_of_a, overrides, field
):
    with pytest.raises(ValidationError) as refused:
        plan_series(secretary_of_a, branch_a, now=JAN_5, **overrides)

    assert field in refused.value.message_dict
    assert not MeetingSeries.objects.exists()
    assert not Meeting.objects.exists()


# --- edits


def test_editing_day_time_and_place_again_and_again_keeps_one_meeting_a_month(
    branch_a, secretary_of_a
):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)
    ids = set(Meeting.objects.values_list("pk", flat=True))

    update_series(secretary_of_a, series, now=JAN_5, day_of_month=20)
    update_series(
        secretary_of_a, series, now=JAN_5, day_of_month=15, place="党群服务中心"
    )
    update_series(
        secretary_of_a,
        series,
        now=JAN_5,
        day_of_month=15,
        start_time=datetime.time(14, 30),
        place="党群服务中心",
    )

    assert set(Meeting.objects.values_list("pk", flat=True)) == ids
    assert [day for day, _ in occurrences(series)] == [
        D(2025, 1, 15),
        D(2025, 2, 15),
        D(2025, 3, 15),
        D(2025, 4, 15),
    ]
    for meeting in Meeting.objects.filter(series=series):
        assert meeting.starts_at.astimezone(SHANGHAI).time() == datetime.time(14, 30)
        assert meeting.place == "党群服务中心"


def test_extending_twice_adds_the_new_months_only(branch_a, secretary_of_a):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)

    services.extend_series(series, now=local(2025, 2, 15))
    services.extend_series(series, now=local(2025, 3, 15))
    services.extend_series(series, now=local(2025, 3, 15))

    assert [day for day, _ in occurrences(series)] == [
        D(2025, 1, 10),
        D(2025, 2, 10),
        D(2025, 3, 10),
        D(2025, 4, 10),
        D(2025, 5, 10),
        D(2025, 6, 10),
    ]


def test_held_and_past_meetings_are_untouched_by_an_edit(branch_a, secretary_of_a):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)
    hold(meeting_in(series, D(2025, 1, 1)), secretary_of_a)
    february_12 = local(2025, 2, 12)  # February's meeting began, not closed

    update_series(
        secretary_of_a, series, now=february_12, day_of_month=20, place="新址"
    )

    january = meeting_in(series, D(2025, 1, 1))
    february = meeting_in(series, D(2025, 2, 1))
    assert (january.held_on, january.status, january.place) == (
        D(2025, 1, 10),
        HELD,
        "村委会",
    )
    assert (february.held_on, february.status, february.place) == (
        D(2025, 2, 10),
        PLANNED,
        "村委会",
    )
    assert occurrences(series)[2:] == [
        (D(2025, 3, 20), PLANNED),
        (D(2025, 4, 20), PLANNED),
        (D(2025, 5, 20), PLANNED),
    ]
    assert meeting_in(series, D(2025, 3, 1)).place == "新址"


def test_moving_the_day_before_today_keeps_this_months_meeting_on_its_date(
    branch_a, secretary_of_a
):
    # On 8 January the day moves from the 10th to the 6th: January's meeting,
    # to which the members were invited, keeps the 10th.
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)

    update_series(secretary_of_a, series, now=local(2025, 1, 8), day_of_month=6)

    assert occurrences(series) == [
        (D(2025, 1, 10), PLANNED),
        (D(2025, 2, 6), PLANNED),
        (D(2025, 3, 6), PLANNED),
        (D(2025, 4, 6), PLANNED),
    ]


def test_shortening_the_last_month_cancels_the_later_planned_meetings(
    branch_a, secretary_of_a
):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)

    update_series(secretary_of_a, series, now=JAN_5, last_month=D(2025, 2, 1))

    assert occurrences(series) == [
        (D(2025, 1, 10), PLANNED),
        (D(2025, 2, 10), PLANNED),
        (D(2025, 3, 10), CANCELLED),
        (D(2025, 4, 10), CANCELLED),
    ]


def test_lengthening_again_brings_back_the_meetings_the_series_dropped(
    branch_a, secretary_of_a
):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)
    ids = set(Meeting.objects.values_list("pk", flat=True))
    update_series(secretary_of_a, series, now=JAN_5, last_month=D(2025, 2, 1))
    update_series(
        secretary_of_a, series, now=JAN_5, last_month=D(2025, 2, 1), place="新址"
    )

    update_series(secretary_of_a, series, now=JAN_5, last_month=None)

    assert set(Meeting.objects.values_list("pk", flat=True)) == ids
    assert [status for _, status in occurrences(series)] == [PLANNED] * 4
    assert meeting_in(series, D(2025, 4, 1)).place == "村委会"


def test_a_series_ending_never_cancels_held_meetings(branch_a, secretary_of_a):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)
    hold(meeting_in(series, D(2025, 1, 1)), secretary_of_a)

    update_series(
        secretary_of_a,
        series,
        now=local(2025, 1, 20),
        first_month=D(2025, 1, 1),
        last_month=D(2025, 1, 1),
    )

    assert occurrences(series) == [
        (D(2025, 1, 10), HELD),
        (D(2025, 2, 10), CANCELLED),
        (D(2025, 3, 10), CANCELLED),
        (D(2025, 4, 10), CANCELLED),
    ]


def test_a_meeting_cancelled_by_hand_stays_cancelled(branch_a, secretary_of_a):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)
    services.cancel_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        meeting=meeting_in(series, D(2025, 3, 1)),
        reason="与春耕冲突",
    )

    services.extend_series(series, now=local(2025, 2, 1))
    update_series(secretary_of_a, series, now=local(2025, 2, 1), place="新址")

    march = meeting_in(series, D(2025, 3, 1))
    assert (march.status, march.place) == (CANCELLED, "村委会")
    assert_one_a_month(series)


def test_the_nightly_run_extends_running_series_only(branch_a, secretary_of_a):
    running = plan_series(secretary_of_a, branch_a, now=JAN_5)
    ended = plan_series(secretary_of_a, branch_a, now=JAN_5, last_month=D(2025, 1, 1))

    done = services.extend_all_series(now=local(2025, 3, 2))

    assert done == 1
    assert len(occurrences(running)) == 6
    assert len(occurrences(ended)) == 1


# --- scope


def test_another_branchs_secretary_cannot_edit_the_series(
    branch_a, secretary_of_a, secretary_of_b
):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)

    with pytest.raises(OutOfScope):
        update_series(secretary_of_b, series, now=JAN_5, place="别处")
    with pytest.raises(OutOfScope):
        plan_series(secretary_of_b, branch_a, now=JAN_5)

    assert MeetingSeries.objects.count() == 1
    assert set(Meeting.objects.values_list("place", flat=True)) == {"村委会"}


def test_a_provincial_viewer_cannot_plan_or_edit_a_series(
    branch_a, secretary_of_a, provincial_viewer
):
    series = plan_series(secretary_of_a, branch_a, now=JAN_5)

    with pytest.raises(ReadOnlyScope):
        update_series(provincial_viewer, series, now=JAN_5, place="别处")
    with pytest.raises(ReadOnlyScope):
        plan_series(provincial_viewer, branch_a, now=JAN_5)

    assert MeetingSeries.objects.count() == 1
