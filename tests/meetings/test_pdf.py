"""The minutes PDF: each member in the right section, times in local time."""

import datetime
import io
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from organizations.meetings import services
from organizations.meetings.pdf import minutes_paragraphs, minutes_pdf
from organizations.models import Attendance
from organizations.scope import scope_for
from tests import factories

BEIJING = ZoneInfo("Asia/Shanghai")
STARTS = datetime.datetime(2025, 3, 1, 19, 0, tzinfo=BEIJING)


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _section(text: str, heading: str, next_heading: str) -> str:
    start = text.index(heading)
    return text[start : text.index(next_heading, start)]


def _attendance(meeting, member) -> Attendance:
    return Attendance.objects.get(meeting=meeting, member=member)


@pytest.fixture
def held_meeting(branch_a, member, member_user, secretary_of_a):
    """A general meeting with one member of each kind of attendance."""
    scope = scope_for(secretary_of_a)
    recorded = factories.make_member(branch_a, name="王芳")
    absent = factories.make_member(branch_a, name="李雷", status="probationary")
    excused = factories.make_member(branch_a, name="韩梅梅")
    meeting = services.plan_meeting(
        actor=secretary_of_a,
        scope=scope,
        organization=branch_a,
        details=services.MeetingDetails(
            kind="general_meeting",
            title="第一季度党员大会",
            starts_at=STARTS,
            ends_at=STARTS + datetime.timedelta(hours=2),
            place="村委会议室",
            agenda="学习文件\n讨论发展党员",
        ),
    )
    services.check_in(
        user=member_user, meeting=meeting, at=STARTS + datetime.timedelta(minutes=5)
    )
    services.record_presence(
        actor=secretary_of_a, scope=scope, attendance=_attendance(meeting, recorded)
    )
    services.record_absence(
        actor=secretary_of_a,
        scope=scope,
        attendance=_attendance(meeting, excused),
        status="excused",
        reason="外出务工",
    )
    services.record_resolution(
        actor=secretary_of_a,
        scope=scope,
        meeting=meeting,
        subject="other",
        text="同意学习安排",
        ayes=2,
        nays=0,
        abstentions=0,
    )
    services.close_meeting(
        actor=secretary_of_a,
        scope=scope,
        meeting=meeting,
        minutes="<p>会议由书记主持。</p><ul><li>传达文件</li></ul><script>x()</script>",
    )
    meeting.refresh_from_db()
    return meeting, {"recorded": recorded, "absent": absent, "excused": excused}


def test_the_minutes_head_with_the_meeting(held_meeting):
    meeting, _members = held_meeting

    text = _text(minutes_pdf(meeting))

    assert "第一支部" in text
    assert "Branch general meeting" in text
    assert "第一季度党员大会" in text
    assert "2025-03-01 19:00–21:00 (Asia/Shanghai)" in text
    assert "村委会议室" in text
    assert "讨论发展党员" in text
    assert "会议由书记主持。" in text
    assert "• 传达文件" in text
    assert "x()" not in text


def test_each_member_is_in_the_section_of_their_attendance(held_meeting):
    meeting, members = held_meeting

    text = _text(minutes_pdf(meeting))

    invited = _section(text, "Invited members", "Members present")
    present = _section(text, "Members present", "Members absent")
    absent = _section(text, "Members absent", "Members excused")
    excused = _section(text, "Members excused", "Resolutions")
    for name in ("张三", "王芳", "李雷", "韩梅梅"):
        assert name in invited
    assert "张三" in present and "王芳" in present
    assert "李雷" not in present and "韩梅梅" not in present
    assert "李雷" in absent and "张三" not in absent and "韩梅梅" not in absent
    assert "韩梅梅" in excused and "外出务工" in excused and "李雷" not in excused


def test_present_members_show_their_check_in_times_in_local_time(held_meeting):
    meeting, _members = held_meeting

    present = _section(_text(minutes_pdf(meeting)), "Members present", "Members absent")

    # The member checked in at 19:05 Beijing time (11:05 UTC) and was
    # still there when the meeting closed at its end, 21:00.
    assert "19:05–21:00 (Online link)" in present
    assert "19:00–21:00 (Recorded by the secretary)" in present
    assert "11:05" not in present


def test_resolutions_show_their_counts_and_outcome(held_meeting):
    meeting, _members = held_meeting

    resolutions = _text(minutes_pdf(meeting))
    resolutions = resolutions[resolutions.index("Resolutions") :]

    assert "同意学习安排" in resolutions
    # A probationary member has no vote: three entitled, two present.
    assert "3 / 2" in resolutions
    assert "2 / 0 / 0" in resolutions
    assert "Passed" in resolutions


def test_minutes_html_is_reduced_to_paragraphs():
    html = (
        "<h3>议程</h3><p>一、<strong>学习</strong></p><ol><li>甲</li><li>乙</li></ol>"
    )

    assert minutes_paragraphs(html) == ["议程", "一、学习", "• 甲", "• 乙"]
