"""The rules of DESIGN.md §4 as plain functions: how often, what counts.

Nothing here reads the database: periods, quorum and majority are decided
from dates and counts, so they are tested exactly at every boundary.
"""

import calendar
import datetime
import enum
from dataclasses import dataclass

from organizations.models import MeetingKind, Organization


class Frequency(enum.Enum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


# How often each kind must be held at least (DESIGN.md §4).
REQUIRED = {
    MeetingKind.GENERAL_MEETING: Frequency.QUARTER,
    MeetingKind.BRANCH_COMMITTEE: Frequency.MONTH,
    MeetingKind.PARTY_GROUP: Frequency.MONTH,
    MeetingKind.PARTY_LECTURE: Frequency.QUARTER,
    MeetingKind.THEME_DAY: Frequency.MONTH,
    MeetingKind.LIFE_MEETING: Frequency.YEAR,
    MeetingKind.APPRAISAL: Frequency.YEAR,
}

_BRANCH_KINDS = (
    Organization.Kind.BRANCH,
    Organization.Kind.JOINT_BRANCH,
    Organization.Kind.MOBILE_BRANCH,
    Organization.Kind.GENERAL_BRANCH,
)

# Which meetings an organisation of each kind owes. Committees above the
# branches hold no members' meetings of their own; a Party group owes its
# group meeting only.
# TODO: a branch of fewer than seven members has no committee and so owes
# no committee meeting; the tree does not yet record committee size.
OWED_BY = {
    **{
        kind: tuple(k for k in MeetingKind if k != MeetingKind.PARTY_GROUP)
        for kind in _BRANCH_KINDS
    },
    Organization.Kind.GROUP: (MeetingKind.PARTY_GROUP,),
}

# Kinds whose default invitation is the committee, not all members.
COMMITTEE_KINDS = (MeetingKind.BRANCH_COMMITTEE,)
# Kinds at which resolutions are voted.
VOTING_KINDS = (MeetingKind.GENERAL_MEETING, MeetingKind.BRANCH_COMMITTEE)


@dataclass(frozen=True)
class Period:
    """A compliance period: [first, last] local dates, both included."""

    frequency: Frequency
    first: datetime.date
    last: datetime.date

    @property
    def label(self) -> str:
        if self.frequency is Frequency.MONTH:
            return f"{self.first:%Y-%m}"
        if self.frequency is Frequency.QUARTER:
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        return f"{self.first.year}"

    def contains(self, day: datetime.date) -> bool:
        return self.first <= day <= self.last

    def previous(self) -> "Period":
        return period_of(self.frequency, self.first - datetime.timedelta(days=1))


def period_of(frequency: Frequency, day: datetime.date) -> Period:
    """The month, quarter or year that ``day`` (a local date) falls in."""
    if frequency is Frequency.MONTH:
        first_month = last_month = day.month
    elif frequency is Frequency.QUARTER:
        first_month = (day.month - 1) // 3 * 3 + 1
        last_month = first_month + 2
    else:
        first_month, last_month = 1, 12
    last_day = calendar.monthrange(day.year, last_month)[1]
    return Period(
        frequency,
        datetime.date(day.year, first_month, 1),
        datetime.date(day.year, last_month, last_day),
    )


def periods_between(
    frequency: Frequency, first: datetime.date, last: datetime.date
) -> list[Period]:
    """Every period that overlaps [first, last], in order."""
    periods = []
    period = period_of(frequency, first)
    while period.first <= last:
        periods.append(period)
        period = period_of(frequency, period.last + datetime.timedelta(days=1))
    return periods


def local_date(moment: datetime.datetime, time_zone: str) -> datetime.date:
    """The date ``moment`` falls on in ``time_zone`` (e.g. Asia/Shanghai)."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(time_zone)).date()


def day_in_month(month: datetime.date, day_of_month: int) -> datetime.date:
    """The given day of ``month``, or its last day when the month is short."""
    last = calendar.monthrange(month.year, month.month)[1]
    return month.replace(day=min(day_of_month, last))


# Votes (DESIGN.md §4): only full members whose relationship the
# organisation holds vote; probationary, suspended and placed members
# attend but count neither among the entitled nor among those present.


def has_quorum(*, entitled: int, present: int) -> bool:
    """More than half of the members entitled to vote are present."""
    return entitled > 0 and 2 * present > entitled


def passes(*, entitled: int, ayes: int) -> bool:
    """Ayes exceed half of those entitled to vote (not of those present)."""
    return entitled > 0 and 2 * ayes > entitled
