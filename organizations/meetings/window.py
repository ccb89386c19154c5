"""Where a meeting's check-in window stands, for the portal and the API.

Only what to show: whether a check-in is accepted is decided by
``services.check_in`` at the moment it is tried, so a page that went stale
changes nothing.
"""

import datetime
from dataclasses import dataclass

from django.utils import timezone

from organizations.meetings import services
from organizations.models import Meeting


class WindowState:
    NOT_OPEN = "not_open"
    OPEN = "open"
    ENDED = "ended"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class CheckInWindow:
    """The window members may check in during, and where it stands now."""

    opens: datetime.datetime
    closes: datetime.datetime
    state: str

    @property
    def is_open(self) -> bool:
        return self.state == WindowState.OPEN


def check_in_window(
    meeting: Meeting, *, at: datetime.datetime | None = None
) -> CheckInWindow:
    """The meeting's window and its state at ``at`` (now by default)."""
    at = at or timezone.now()
    opens, closes = services.check_in_window(meeting)
    if meeting.status == Meeting.Status.CANCELLED:
        state = WindowState.CANCELLED
    elif meeting.status == Meeting.Status.HELD or at >= closes:
        state = WindowState.ENDED
    elif at < opens:
        state = WindowState.NOT_OPEN
    else:
        state = WindowState.OPEN
    return CheckInWindow(opens=opens, closes=closes, state=state)
