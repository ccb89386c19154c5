"""Organisational life: meetings, who was invited, who came, what was decided.

DESIGN.md §3 (Meeting, Attendance) and §4 (frequencies, quorum). A meeting
belongs to one organisation and has a time window; its attendance rows are
the invitations, and each check-in is an interval of presence, so leaving
and returning keeps both stays.
"""

import secrets
import uuid

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


def new_checkin_nonce() -> str:
    return secrets.token_urlsafe(12)


def attachment_path(attachment, filename: str) -> str:
    # The server names the file: an uploaded name never reaches the disk.
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"meetings/{attachment.meeting_id}/{uuid.uuid4().hex}.{suffix}"


class MeetingKind(models.TextChoices):
    GENERAL_MEETING = "general_meeting", _("Branch general meeting")
    BRANCH_COMMITTEE = "branch_committee", _("Branch committee meeting")
    PARTY_GROUP = "party_group", _("Party group meeting")
    PARTY_LECTURE = "party_lecture", _("Party lecture")
    THEME_DAY = "theme_day", _("Theme Party day")
    LIFE_MEETING = "life_meeting", _("Organisational life meeting")
    APPRAISAL = "appraisal", _("Democratic appraisal of members")


class MeetingMode(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    ONLINE = "online", _("Online")
    HYBRID = "hybrid", _("In person and online")


class MeetingSeries(models.Model):
    """A meeting held every month on a fixed day, e.g. the theme Party day.

    Its meetings are generated one per month; editing the series updates
    the planned ones in place (one meeting per series and month, enforced
    by the database), so an edit never duplicates a meeting.
    """

    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="meeting_series",
        verbose_name=_("organization"),
    )
    kind = models.CharField(
        pgettext_lazy("meeting", "kind"), max_length=24, choices=MeetingKind.choices
    )
    title = models.CharField(_("title"), max_length=128)
    mode = models.CharField(
        _("mode"), max_length=12, choices=MeetingMode.choices, default="in_person"
    )
    place = models.CharField(_("place"), max_length=255, blank=True)
    online_link = models.URLField(_("online link"), max_length=500, blank=True)
    agenda = models.TextField(_("agenda"), blank=True)
    # A day past the month's end means its last day (31 → 28 in February).
    day_of_month = models.PositiveSmallIntegerField(_("day of the month"))
    start_time = models.TimeField(_("starts at (local time)"))
    duration_minutes = models.PositiveSmallIntegerField(_("duration in minutes"))
    first_month = models.DateField(_("first month"))
    last_month = models.DateField(_("last month"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("recurring meeting")
        verbose_name_plural = _("recurring meetings")
        constraints = [
            models.CheckConstraint(
                condition=Q(day_of_month__gte=1) & Q(day_of_month__lte=31),
                name="meeting_series_day_of_month",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=1),
                name="meeting_series_duration",
            ),
            models.CheckConstraint(
                condition=Q(last_month__isnull=True)
                | Q(last_month__gte=F("first_month")),
                name="meeting_series_months_in_order",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Meeting(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        HELD = "held", _("Held")
        CANCELLED = "cancelled", _("Cancelled")

    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="meetings",
        verbose_name=_("organization"),
    )
    kind = models.CharField(
        pgettext_lazy("meeting", "kind"), max_length=24, choices=MeetingKind.choices
    )
    title = models.CharField(_("title"), max_length=128)
    series = models.ForeignKey(
        MeetingSeries,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="meetings",
        verbose_name=_("recurring meeting"),
    )
    # The first day of the month this occurrence stands for in its series.
    series_month = models.DateField(null=True, blank=True, editable=False)
    mode = models.CharField(
        _("mode"), max_length=12, choices=MeetingMode.choices, default="in_person"
    )
    place = models.CharField(_("place"), max_length=255, blank=True)
    online_link = models.URLField(_("online link"), max_length=500, blank=True)
    agenda = models.TextField(_("agenda"), blank=True)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    # The local date (organisation's time zone) the meeting starts on: the
    # compliance periods are counted by it, so 00:10 on the 1st in Beijing
    # falls in the new month although UTC still says the old one.
    held_on = models.DateField(_("date"), editable=False, db_index=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default="planned"
    )
    # Sanitised HTML: only the tags the minutes editor produces survive.
    minutes = models.TextField(_("minutes"), blank=True)
    # Part of the QR code's signed token; a new nonce voids printed codes.
    checkin_nonce = models.CharField(
        max_length=32, default=new_checkin_nonce, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["organization", "held_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="meeting_ends_after_start"
            ),
            models.UniqueConstraint(
                fields=["series", "series_month"],
                condition=Q(series__isnull=False),
                name="meeting_once_per_series_month",
            ),
            models.CheckConstraint(
                condition=~Q(status="held") | Q(closed_at__isnull=False),
                name="meeting_held_has_closed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.held_on:%Y-%m-%d})"


class Standing(models.TextChoices):
    """What an invited member is at the meeting's organisation, for votes."""

    FULL = "full", _("Full member")
    PROBATIONARY = "probationary", _("Probationary member")
    # Placed with this (inflow) organisation; the relationship is elsewhere.
    PLACED = "placed", _("Placed member (from another organisation)")
    # Suspended members attend but have no vote (Party Constitution Art. 4).
    SUSPENDED = "suspended", _("Membership suspended")


class Attendance(models.Model):
    """One invited member of one meeting, and how they attended."""

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        PRESENT = "present", _("Present")
        ABSENT = "absent", _("Absent")
        EXCUSED = "excused", _("Excused")

    meeting = models.ForeignKey(
        Meeting,
        on_delete=models.CASCADE,
        related_name="attendances",
        verbose_name=_("meeting"),
    )
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="attendances",
        verbose_name=_("member"),
    )
    standing = models.CharField(_("standing"), max_length=16, choices=Standing.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default="invited"
    )
    reason = models.TextField(_("reason for absence"), blank=True)
    invited_at = models.DateTimeField(_("invited at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "member"], name="attendance_once_per_meeting"
            ),
            models.CheckConstraint(
                condition=~Q(status="excused") | ~Q(reason=""),
                name="attendance_excused_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["member", "status"])]

    def __str__(self) -> str:
        return f"{self.member_id} @ {self.meeting_id}: {self.status}"


class CheckInMethod(models.TextChoices):
    ONLINE = "online", _("Online link")
    QR_CODE = "qr_code", _("QR code")
    SECRETARY = "secretary", _("Recorded by the secretary")


class AttendanceInterval(models.Model):
    """One stay at a meeting, from check-in to leaving (open while there)."""

    attendance = models.ForeignKey(
        Attendance,
        on_delete=models.CASCADE,
        related_name="intervals",
        verbose_name=_("attendance"),
    )
    # [checked in, left); an open upper bound means still there. The
    # exclusion constraint makes a double check-in impossible, even from
    # two phones at once: the second open interval would overlap the first.
    period = DateTimeRangeField(_("period"))
    method = models.CharField(_("method"), max_length=12, choices=CheckInMethod.choices)

    class Meta:
        verbose_name = _("attendance interval")
        verbose_name_plural = _("attendance intervals")
        ordering = ["period"]
        constraints = [
            ExclusionConstraint(
                name="attendance_interval_no_overlap",
                expressions=[
                    ("attendance", RangeOperators.EQUAL),
                    ("period", RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(period__isempty=False)
                & Q(period__startswith__isnull=False),
                name="attendance_interval_has_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attendance_id}: {self.period}"

    @property
    def checked_in_at(self):
        return self.period.lower

    @property
    def left_at(self):
        return self.period.upper


class AttendanceChange(models.Model):
    """Every change of an attendance status, with who made it and why."""

    attendance = models.ForeignKey(
        Attendance,
        on_delete=models.CASCADE,
        related_name="changes",
        verbose_name=_("attendance"),
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    from_status = models.CharField(
        _("from"), max_length=12, choices=Attendance.Status.choices
    )
    to_status = models.CharField(
        _("to"), max_length=12, choices=Attendance.Status.choices
    )
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("attendance change")
        verbose_name_plural = _("attendance changes")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.attendance_id}: {self.from_status} → {self.to_status}"


class Resolution(models.Model):
    """A decision voted at a branch general meeting or a committee meeting.

    The counts are kept with the list of members entitled to vote at that
    moment (ResolutionVoter), so the outcome can be checked later against
    who was there.
    """

    class Subject(models.TextChoices):
        ACCEPT_PROBATIONARY = "accept", _("Accept a probationary member")
        CONVERT = "convert", _("Convert a probationary member to full membership")
        DISCIPLINE = "discipline", _("Disciplinary action")
        OTHER = "other", _("Other resolution")

    meeting = models.ForeignKey(
        Meeting,
        on_delete=models.PROTECT,
        related_name="resolutions",
        verbose_name=_("meeting"),
    )
    subject = models.CharField(_("subject"), max_length=12, choices=Subject.choices)
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resolutions",
        verbose_name=_("concerning member"),
    )
    text = models.TextField(_("resolution"))
    entitled = models.PositiveIntegerField(_("members entitled to vote"))
    present = models.PositiveIntegerField(_("entitled members present"))
    ayes = models.PositiveIntegerField(_("ayes"))
    nays = models.PositiveIntegerField(_("nays"))
    abstentions = models.PositiveIntegerField(_("abstentions"))
    passed = models.BooleanField(_("passed"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("resolution")
        verbose_name_plural = _("resolutions")
        ordering = ["recorded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(present__lte=F("entitled")),
                name="resolution_present_within_entitled",
            ),
            models.CheckConstraint(
                condition=Q(
                    ayes__lte=F("present") - F("nays") - F("abstentions"),
                ),
                name="resolution_votes_within_present",
            ),
            # The database refuses a "passed" that the rules of DESIGN.md §4
            # deny, whatever code path wrote it: more than half of the
            # entitled present, and ayes more than half of the entitled
            # (integer division: n > floor(e / 2) is exactly 2n > e).
            models.CheckConstraint(
                condition=Q(passed=False)
                | (Q(present__gt=F("entitled") / 2) & Q(ayes__gt=F("entitled") / 2)),
                name="resolution_passed_by_the_rules",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_subject_display()} ({self.meeting_id})"


class ResolutionVoter(models.Model):
    """A member entitled to vote on a resolution, and whether present."""

    resolution = models.ForeignKey(
        Resolution, on_delete=models.CASCADE, related_name="voters"
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+"
    )
    present = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["resolution", "member"], name="resolution_voter_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id} on {self.resolution_id}"


class MeetingAttachment(models.Model):
    """A file kept with the minutes: slides, a signed sheet, photos."""

    meeting = models.ForeignKey(
        Meeting,
        on_delete=models.CASCADE,
        related_name="attachments",
        verbose_name=_("meeting"),
    )
    file = models.FileField(_("file"), upload_to=attachment_path)
    # The name as uploaded, shown to people and used for the download.
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(_("size in bytes"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name
