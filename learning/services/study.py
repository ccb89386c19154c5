"""Writes of study: opening a course, heartbeats, completion, offline hours.

Time is counted by the server from the member's own heartbeats (see
learning.rules); hours are credited once, to the calendar year in Beijing
time in which they are earned (DESIGN.md, learning).
"""

import dataclasses
import datetime
import logging
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from learning import rules
from learning.models import Course, OfflineStudy, Progress, StudyBeat
from learning.selectors.study import courses_to_study
from members.models import Member, User
from members.selectors import member_list
from members.services._common import audit_record
from organizations.models import Attendance, Meeting, MeetingKind
from organizations.scope import OutOfScope, ReadOnlyScope, Scope

logger = logging.getLogger(__name__)

# Hours pages and exports start in 2000; earlier study is not kept here.
FIRST_YEAR = 2000

MAX_OFFLINE_HOURS = Decimal(24)


def _member_of(user: User) -> Member:
    member = Member.objects.filter(user=user).first() if user else None
    if member is None:
        raise OutOfScope()
    return member


def _visible_course(member: Member, course: Course, at: datetime.datetime) -> Course:
    on = rules.local_date(at)
    visible = courses_to_study(member, at=at, on=on).filter(pk=course.pk).first()
    if visible is None:
        raise OutOfScope()
    return visible


def open_course(
    *, user: User, course: Course, at: datetime.datetime | None = None
) -> Progress:
    """Open a course the member may study; the progress row is made once."""
    at = at or timezone.now()
    member = _member_of(user)
    course = _visible_course(member, course, at)
    # get_or_create retries on the unique constraint, so two tabs opening
    # the same course at once share one row.
    progress, created = Progress.objects.get_or_create(
        member=member, course=course, defaults={"opened_at": at}
    )
    if created:
        logger.info("course opened progress=%s course=%s", progress.pk, course.pk)
    return progress


def heartbeat(
    *, user: User, course: Course, tab: str, at: datetime.datetime | None = None
) -> Progress:
    """Count the time since this tab's last beat, if it holds the attention."""
    at = at or timezone.now()
    tab = (tab or "").strip()[:64]
    if not tab:
        raise ValidationError(_("A heartbeat names its tab."), code="tab_missing")
    progress = open_course(user=user, course=course, at=at)

    with transaction.atomic():
        # All the member's progress rows are locked, in a fixed order, so
        # beats from several tabs or courses are decided one after the
        # other: each sees the beat the one before it kept.
        locked = list(
            Progress.objects.select_for_update()
            .filter(member_id=progress.member_id)
            .order_by("pk")
        )
        progress = next(p for p in locked if p.pk == progress.pk)
        counted = rules.count_beat(
            beat=rules.Beat(course.pk, tab, at),
            previous=_previous_at(progress, tab),
            last=_last_beat(progress.member_id),
            heartbeat=settings.LIUDONG_STUDY_HEARTBEAT_SECONDS,
            idle=settings.LIUDONG_STUDY_IDLE_SECONDS,
        )
        if counted.keep:
            # TODO: beats of closed tabs stay one row each; a nightly purge of
            # rows older than IDLE can go in with the learning tasks module.
            StudyBeat.objects.update_or_create(
                progress=progress, tab=tab, defaults={"at": at}
            )
        if counted.seconds and progress.completed_at is None:
            progress.seconds = rules.capped(
                progress.seconds, counted.seconds, course.credit_hours
            )
            progress.save(update_fields=["seconds"])
    return progress


def _previous_at(progress: Progress, tab: str) -> datetime.datetime | None:
    beat = StudyBeat.objects.filter(progress=progress, tab=tab).first()
    return beat.at if beat else None


def _last_beat(member_id: int) -> rules.Beat | None:
    beat = (
        StudyBeat.objects.filter(progress__member_id=member_id)
        .select_related("progress")
        .order_by("-at", "-pk")
        .first()
    )
    if beat is None:
        return None
    return rules.Beat(beat.progress.course_id, beat.tab, beat.at)


def complete(
    *, user: User, course: Course, at: datetime.datetime | None = None
) -> Progress:
    """Complete a course once: its credit hours go to the year of ``at``.

    Idempotent: a second call, at once or later, returns the row unchanged.
    """
    at = at or timezone.now()
    member = _member_of(user)

    with transaction.atomic():
        # The row lock makes two simultaneous completions take turns; the
        # second finds the course completed and changes nothing.
        progress = (
            Progress.objects.select_for_update()
            .select_related("course")
            .filter(member=member, course=course)
            .first()
        )
        if progress is not None and progress.completed_at is not None:
            return progress
        share = settings.LIUDONG_STUDY_COMPLETION_SHARE
        if progress is None or not rules.completion_reached(
            progress.seconds, progress.course.credit_hours, share
        ):
            raise ValidationError(
                _("Study the course longer before completing it."),
                code="not_enough_time",
            )

        progress.completed_at = at
        progress.credited_hours = progress.course.credit_hours
        progress.credited_year = rules.local_year(at)
        progress.save(update_fields=["completed_at", "credited_hours", "credited_year"])
        audit_record(
            actor=user,
            action="course.completed",
            member=member,
            course=course.pk,
            hours=str(progress.credited_hours),
            year=progress.credited_year,
        )
    logger.info("course completed progress=%s course=%s", progress.pk, course.pk)
    return progress


def record_offline_study(
    *,
    actor: User,
    scope: Scope,
    member: Member,
    title: str,
    studied_on: datetime.date,
    hours,
) -> OfflineStudy:
    """Record hours a member studied in person, as their secretary."""
    _require_member_write(scope, member)
    hours = _clean_hours(hours)
    title = (title or "").strip()
    if not title:
        raise ValidationError(_("Say what was studied."), code="title_missing")
    if studied_on > timezone.localdate():
        raise ValidationError(
            _("Study cannot be recorded before it happens."), code="future_date"
        )
    if studied_on < member.joined_on or studied_on.year < FIRST_YEAR:
        raise ValidationError(
            _("The date is before the member joined the Party or before 2000."),
            code="date_too_early",
        )

    with transaction.atomic():
        # The member's row serialises recordings: a form sent twice finds
        # the first record and is refused rather than counted twice.
        Member.objects.select_for_update().filter(pk=member.pk).first()
        if OfflineStudy.objects.filter(
            member=member, studied_on=studied_on, title=title[:200], meeting=None
        ).exists():
            raise ValidationError(
                _("This study is already recorded for the member on that day."),
                code="duplicate",
            )
        study = OfflineStudy.objects.create(
            member=member,
            title=title[:200],
            studied_on=studied_on,
            hours=hours,
            recorded_by=actor,
        )
        audit_record(
            actor=actor,
            action="study.offline_recorded",
            member=member,
            study=study.pk,
            hours=str(hours),
            year=studied_on.year,
        )
    logger.info("offline study recorded id=%s member=%s", study.pk, member.pk)
    return study


def _require_member_write(scope: Scope, member: Member) -> None:
    # The organisation holding the member, or the inflow one they are
    # placed with (dual management), records their lectures.
    if not member_list(scope=scope).filter(pk=member.pk).exists():
        raise OutOfScope()
    writer = dataclasses.replace(scope, read_paths=scope.write_paths)
    if not member_list(scope=writer).filter(pk=member.pk).exists():
        raise ReadOnlyScope()


def _clean_hours(hours) -> Decimal:
    try:
        value = Decimal(str(hours)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as error:
        raise ValidationError(
            _("Enter hours as a number."), code="hours_invalid"
        ) from error
    if not (0 < value <= MAX_OFFLINE_HOURS):
        raise ValidationError(
            _("Hours must be more than 0 and at most 24."), code="hours_range"
        )
    return value


def credit_meeting_attendance(meeting: Meeting) -> int:
    """Credit each member present at a held Party lecture; return how many.

    Each member is credited the lecture's length (rules.meeting_hours)
    once per meeting, however often this runs.
    """
    if (
        meeting.status != Meeting.Status.HELD
        or meeting.kind != MeetingKind.PARTY_LECTURE
    ):
        return 0
    # A lecture closed early lasted until it was closed.
    ended = min(meeting.ends_at, meeting.closed_at or meeting.ends_at)
    hours = rules.meeting_hours(meeting.starts_at, ended)
    if hours <= 0:
        return 0

    present = Attendance.objects.filter(
        meeting=meeting, status=Attendance.Status.PRESENT
    ).values_list("member_id", flat=True)
    rows = [
        OfflineStudy(
            member_id=member_id,
            title=meeting.title[:200],
            studied_on=meeting.held_on,
            hours=hours,
            meeting=meeting,
        )
        for member_id in present
    ]
    # The partial unique constraint (member, meeting) turns a repeat into
    # nothing, even when two runs race.
    before = OfflineStudy.objects.filter(meeting=meeting).count()
    OfflineStudy.objects.bulk_create(rows, ignore_conflicts=True)
    created = OfflineStudy.objects.filter(meeting=meeting).count() - before
    logger.info("lecture credited meeting=%s rows=%s", meeting.pk, created)
    # TODO: every present member gets the whole length, even one who came
    # late; crediting the AttendanceInterval time waits for a decision.
    return created
