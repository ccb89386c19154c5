"""The member's meetings: invitations, one meeting, checking in and leaving.

Thin wrappers over ``organizations.meetings.selectors`` and ``services``.
A meeting is looked up among the caller's own invitations, so anyone
else's meeting answers 404, and, like the rest of the portal, no page may
be cached. Whether a check-in counts is the service's decision; a page only
shows where the window stands.
"""

from urllib.parse import urlsplit

from dateutil.relativedelta import relativedelta
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from members.views import member_page
from organizations.meetings import checkin, selectors, services
from organizations.meetings.window import check_in_window
from organizations.models import Attendance, CheckInMethod, Meeting, MeetingMode

# Past meetings listed; six months is the span of the lapse rules.
RECENT_MONTHS = 6
# Modes whose check-in sends the member on to the meeting's online link.
ONLINE_MODES = (MeetingMode.ONLINE, MeetingMode.HYBRID)


def _is_upcoming(meeting: Meeting, now) -> bool:
    return meeting.status == Meeting.Status.PLANNED and meeting.ends_at > now


def _is_here(attendance: Attendance) -> bool:
    # The intervals are prefetched by the selector; an open one means the
    # member is at the meeting now.
    return any(i.left_at is None for i in attendance.intervals.all())


def _joins_online(meeting: Meeting) -> bool:
    # A URLField also admits ftp; only web links are worth sending a phone to.
    scheme = urlsplit(meeting.online_link).scheme
    return meeting.mode in ONLINE_MODES and scheme in ("http", "https")


def _refused(request, exc: services.CheckInRefused) -> None:
    for message in exc.messages:
        messages.error(request, message)


@member_page
@require_GET
def meeting_list(request, member):
    now = timezone.now()
    since = timezone.localdate() - relativedelta(months=RECENT_MONTHS)
    attendances = list(selectors.meetings_own(user=request.user, since=since))

    # The selector gives newest first; what comes next reads soonest first.
    upcoming = [a for a in reversed(attendances) if _is_upcoming(a.meeting, now)]
    recent = [a for a in attendances if not _is_upcoming(a.meeting, now)]
    return render(
        request,
        "meetings/list.html",
        {"member": member, "upcoming": upcoming, "recent": recent},
    )


@member_page
@require_GET
def meeting_detail(request, member, meeting_id):
    attendance = selectors.attendance_own(user=request.user, meeting_id=meeting_id)
    meeting = attendance.meeting
    return render(
        request,
        "meetings/detail.html",
        {
            "attendance": attendance,
            "meeting": meeting,
            "intervals": attendance.intervals.all(),
            "here": _is_here(attendance),
            "window": check_in_window(meeting),
            "joins_online": _joins_online(meeting),
        },
    )


@member_page
@require_POST
def meeting_check_in(request, member, meeting_id):
    attendance = selectors.attendance_own(user=request.user, meeting_id=meeting_id)
    meeting = attendance.meeting

    try:
        services.check_in(
            user=request.user, meeting=meeting, method=CheckInMethod.ONLINE
        )
    except services.CheckInRefused as exc:
        _refused(request, exc)
        return redirect("meetings:detail", meeting_id=meeting.pk)

    if _joins_online(meeting):
        return redirect(meeting.online_link)
    messages.success(request, _("You are checked in."))
    return redirect("meetings:detail", meeting_id=meeting.pk)


@member_page
@require_POST
def meeting_leave(request, member, meeting_id):
    attendance = selectors.attendance_own(user=request.user, meeting_id=meeting_id)
    if not _is_here(attendance):
        messages.info(request, _("You are not checked in."))
        return redirect("meetings:detail", meeting_id=meeting_id)

    services.leave(user=request.user, meeting=attendance.meeting)

    messages.success(
        request,
        _("You have left the meeting. Check in again to come back while it lasts."),
    )
    return redirect("meetings:detail", meeting_id=meeting_id)


@member_page
@require_http_methods(["GET", "POST"])
def qr_check_in(request, member, token):
    """The page a meeting's QR code opens: confirm, then check in."""
    try:
        meeting = checkin.meeting_for_token(token)
    except checkin.InvalidToken:
        return render(request, "meetings/checkin.html", {"invalid": True}, status=404)
    attendance = selectors.attendance_own(user=request.user, meeting_id=meeting.pk)

    if request.method == "POST":
        try:
            services.check_in_with_token(user=request.user, token=token)
        except services.CheckInRefused as exc:
            _refused(request, exc)
            return redirect("meetings:checkin", token=token)
        messages.success(request, _("You are checked in."))
        return redirect("meetings:detail", meeting_id=meeting.pk)

    return render(
        request,
        "meetings/checkin.html",
        {
            "attendance": attendance,
            "meeting": attendance.meeting,
            "here": _is_here(attendance),
            "window": check_in_window(meeting),
            "token": token,
        },
    )
