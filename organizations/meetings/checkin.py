"""Signed check-in tokens for a meeting's QR code.

The token names the meeting and its current nonce; it is only accepted
while the meeting's check-in window is open, so it expires with the window,
and a new nonce (the secretary reprints the code) voids the old ones.
"""

from django.core import signing

from organizations.models import Meeting

_SALT = "liudong.meetings.checkin"


class InvalidToken(Exception):
    """The token is forged, damaged or voided."""


def checkin_token(meeting: Meeting) -> str:
    return signing.dumps([meeting.pk, meeting.checkin_nonce], salt=_SALT)


def meeting_for_token(token: str) -> Meeting:
    try:
        meeting_id, nonce = signing.loads(token, salt=_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidToken() from None
    meeting = Meeting.objects.select_related("organization").filter(pk=meeting_id)
    meeting = meeting.first()
    if meeting is None or meeting.checkin_nonce != nonce:
        raise InvalidToken()
    return meeting
