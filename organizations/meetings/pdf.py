"""The minutes of a meeting as a PDF: what was held, who came, what passed.

Rendering only; who may download the minutes is the admin's business.
Times are printed in the organisation's time zone, as the secretary wrote
them, whatever the server's zone.
"""

import datetime
import io
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from organizations.meetings import rules
from organizations.meetings.selectors import meeting_attendance
from organizations.models import Attendance, Meeting
from organizations.pdf import cjk_font, escape_markup, pdf_styles

Status = Attendance.Status
_DAY = datetime.timedelta(days=1)

# Tags of the sanitised minutes that end a line of text.
_BLOCKS = {"p", "br", "li", "h3", "h4", "blockquote", "tr", "ol", "ul", "table"}


class _Paragraphs(HTMLParser):
    """Minutes HTML reduced to its paragraphs of plain text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCKS:
            self._flush()
        if tag == "li":
            self._text.append("• ")
        elif tag in ("td", "th") and self._text:
            self._text.append(" | ")

    def handle_endtag(self, tag):
        if tag in _BLOCKS:
            self._flush()

    def handle_data(self, data):
        self._text.append(data)

    def close(self):
        super().close()
        self._flush()

    def _flush(self):
        text = " ".join("".join(self._text).split())
        if text and text != "•":
            self.paragraphs.append(text)
        self._text = []


def minutes_paragraphs(html: str) -> list[str]:
    """The text of the minutes, one string per paragraph or list item."""
    parser = _Paragraphs()
    parser.feed(html or "")
    parser.close()
    return parser.paragraphs


def _local(moment: datetime.datetime | None, zone: ZoneInfo, fmt: str) -> str:
    return moment.astimezone(zone).strftime(fmt) if moment else "—"


def stays(attendance: Attendance, zone: ZoneInfo) -> str:
    """The member's check-in intervals in local time, e.g. 19:02–20:15."""
    parts = []
    for interval in attendance.intervals.all():
        start = _local(interval.checked_in_at, zone, "%H:%M")
        end = _local(interval.left_at, zone, "%H:%M")
        parts.append(f"{start}–{end} ({interval.get_method_display()})")
    return "; ".join(parts) or "—"


def meeting_facts(meeting: Meeting) -> list[tuple[str, str]]:
    """The facts heading the minutes, as (label, value) pairs."""
    zone = ZoneInfo(meeting.organization.time_zone)
    start = _local(meeting.starts_at, zone, "%Y-%m-%d %H:%M")
    end_format = (
        "%H:%M" if meeting.ends_at - meeting.starts_at < _DAY else "%Y-%m-%d %H:%M"
    )
    when = f"{start}–{_local(meeting.ends_at, zone, end_format)} ({zone.key})"
    return [
        (pgettext("meeting minutes", "Organization"), meeting.organization.name),
        (pgettext("meeting minutes", "Kind"), str(meeting.get_kind_display())),
        (pgettext("meeting minutes", "Title"), meeting.title),
        (pgettext("meeting minutes", "Date and time"), when),
        (pgettext("meeting minutes", "Mode"), str(meeting.get_mode_display())),
        (pgettext("meeting minutes", "Place"), meeting.place or "—"),
        (pgettext("meeting minutes", "Online link"), meeting.online_link or "—"),
        (pgettext("meeting minutes", "Status"), str(meeting.get_status_display())),
    ]


def _outcome(resolution) -> str:
    if resolution.passed:
        return pgettext("meeting minutes", "Passed")
    return pgettext("meeting minutes", "Not passed")


class _Story:
    """The flowables of the minutes, built section by section."""

    def __init__(self):
        self.styles = pdf_styles()
        self.flowables: list = []

    def text(self, text: str, style: str = "body") -> None:
        self.flowables.append(Paragraph(escape_markup(text), self.styles[style]))

    def heading(self, text: str) -> None:
        self.flowables.append(Spacer(1, 4 * mm))
        self.text(text, "heading")

    def table(self, header: list[str] | None, rows: list[list[str]], widths) -> None:
        """A grid of rows under a header (widths in mm), or "None."."""
        if not rows:
            self.text(pgettext("meeting minutes", "None."))
            return
        lines = [header, *rows] if header else rows
        cells = [
            [Paragraph(escape_markup(str(v)), self.styles["small"]) for v in line]
            for line in lines
        ]
        style = [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke))
        table = Table(
            cells, colWidths=[w * mm for w in widths], repeatRows=1 if header else 0
        )
        table.setStyle(TableStyle(style))
        self.flowables.append(table)


def _attendance_sections(story: _Story, meeting: Meeting, zone: ZoneInfo) -> None:
    attendances = list(meeting_attendance(meeting))
    name = pgettext("meeting minutes", "Member")
    story.heading(pgettext("meeting minutes", "Invited members"))
    story.table(
        [
            name,
            pgettext("meeting minutes", "Standing"),
            pgettext("meeting minutes", "Attendance"),
        ],
        [
            [a.member.name, a.get_standing_display(), a.get_status_display()]
            for a in attendances
        ],
        [60, 60, 50],
    )
    story.heading(pgettext("meeting minutes", "Members present"))
    story.table(
        [name, pgettext("meeting minutes", "Checked in")],
        [
            [a.member.name, stays(a, zone)]
            for a in attendances
            if a.status == Status.PRESENT
        ],
        [50, 120],
    )
    story.heading(pgettext("meeting minutes", "Members absent"))
    story.table(
        [name],
        [[a.member.name] for a in attendances if a.status == Status.ABSENT],
        [170],
    )
    story.heading(pgettext("meeting minutes", "Members excused"))
    story.table(
        [name, pgettext("meeting minutes", "Reason")],
        [[a.member.name, a.reason] for a in attendances if a.status == Status.EXCUSED],
        [50, 120],
    )


def _resolutions_section(story: _Story, meeting: Meeting) -> None:
    resolutions = list(meeting.resolutions.select_related("member"))
    if not resolutions and meeting.kind not in rules.VOTING_KINDS:
        return
    story.heading(pgettext("meeting minutes", "Resolutions"))
    story.table(
        [
            pgettext("meeting minutes", "Subject"),
            pgettext("meeting minutes", "Resolution"),
            pgettext("meeting minutes", "Entitled / present"),
            pgettext("meeting minutes", "Ayes / nays / abstentions"),
            pgettext("meeting minutes", "Outcome"),
        ],
        [
            [
                _subject(r),
                r.text,
                f"{r.entitled} / {r.present}",
                f"{r.ayes} / {r.nays} / {r.abstentions}",
                _outcome(r),
            ]
            for r in resolutions
        ],
        [35, 60, 25, 30, 20],
    )


def _subject(resolution) -> str:
    subject = str(resolution.get_subject_display())
    return f"{subject}: {resolution.member.name}" if resolution.member else subject


def minutes_pdf(meeting: Meeting) -> bytes:
    """Draw the minutes of ``meeting`` with its attendance and resolutions."""
    cjk_font()
    zone = ZoneInfo(meeting.organization.time_zone)
    story = _Story()
    story.text(pgettext("meeting minutes", "Minutes"), "title")
    story.table(None, [list(fact) for fact in meeting_facts(meeting)], [40, 130])

    story.heading(pgettext("meeting minutes", "Agenda"))
    for line in meeting.agenda.splitlines() or ["—"]:
        if line.strip():
            story.text(line.strip())
    story.heading(pgettext("meeting minutes", "Minutes"))
    for paragraph in minutes_paragraphs(meeting.minutes) or ["—"]:
        story.text(paragraph)
    _attendance_sections(story, meeting, zone)
    _resolutions_section(story, meeting)

    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=meeting.title,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        author="",
        creator="",
    ).build(story.flowables)
    return buffer.getvalue()
