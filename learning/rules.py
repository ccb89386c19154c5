"""How study time becomes hours: pure rules, no database.

The server counts time only between heartbeats of the one tab that holds
the member's attention. The member's attention is the most recent beat
they sent on any course, in any tab; a beat from another tab while that
beat is still fresh (within IDLE) counts nothing and is not kept. Every
counted stretch starts no earlier than the member's previous kept beat,
so counted stretches never overlap: however many tabs beat in turn, the
total can never exceed the time on the wall clock.
"""

import datetime
import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

LOCAL_TIME_ZONE = ZoneInfo("Asia/Shanghai")
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class Beat:
    """A heartbeat: which course, which tab, when."""

    course_id: int
    tab: str
    at: datetime.datetime

    def same_tab(self, other: "Beat") -> bool:
        return (self.course_id, self.tab) == (other.course_id, other.tab)


@dataclass(frozen=True)
class Counted:
    """What a heartbeat earns, and whether it now holds the attention."""

    seconds: int
    keep: bool


def count_beat(
    *,
    beat: Beat,
    previous: datetime.datetime | None,
    last: Beat | None,
    heartbeat: int,
    idle: int,
) -> Counted:
    """Seconds a heartbeat adds, given this tab's and the member's last beat.

    ``previous`` is the last kept beat of this tab; ``last`` the member's
    last kept beat across all tabs and courses (it may be this tab's).
    """
    if last is not None and not last.same_tab(beat):
        if (beat.at - last.at).total_seconds() <= idle:
            # Another tab holds the attention: this one is a parallel tab.
            return Counted(0, keep=False)
    if previous is None:
        return Counted(0, keep=True)

    start = max(previous, last.at) if last is not None else previous
    gap = (beat.at - start).total_seconds()
    if gap <= 0:
        # A repeated or late beat; the clock must not move backwards.
        return Counted(0, keep=False)
    if (beat.at - previous).total_seconds() > idle:
        # The tab was left open, or the laptop slept: the stretch is lost.
        return Counted(0, keep=True)
    # A lost beat or two still counts, but never more than two periods.
    return Counted(int(min(gap, 2 * heartbeat)), keep=True)


def credit_seconds(credit_hours: Decimal) -> int:
    """The most seconds a course can count: its credit time."""
    return int(credit_hours * SECONDS_PER_HOUR)


def capped(seconds: int, added: int, credit_hours: Decimal) -> int:
    """Counted seconds after adding ``added``, never beyond the credit."""
    return min(seconds + added, credit_seconds(credit_hours))


def completion_reached(seconds: int, credit_hours: Decimal, share: float) -> bool:
    """Whether enough time was counted for completion to credit the course."""
    needed = math.ceil(credit_seconds(credit_hours) * Decimal(str(share)))
    return seconds >= needed


def local_year(moment: datetime.datetime) -> int:
    """The calendar year of ``moment`` in Beijing time (DESIGN.md, learning).

    23:30 on 31 December in Beijing is still that year although UTC says
    the same; 00:10 on 1 January is the new year although UTC still says
    the old one.
    """
    return moment.astimezone(LOCAL_TIME_ZONE).year


def local_date(moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(LOCAL_TIME_ZONE).date()


def meeting_hours(starts_at: datetime.datetime, ends_at: datetime.datetime) -> Decimal:
    """Hours a Party lecture credits: its length, down to a half hour.

    Rounded down so that a meeting never credits time it did not last;
    a lecture under half an hour credits nothing.
    """
    minutes = max(0, int((ends_at - starts_at).total_seconds() // 60))
    halves = minutes // 30
    return (Decimal(halves) / 2).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
