"""Study: courses, the time members really spend on them, credit hours, and
the question bank they review with spaced repetition (DESIGN.md, learning).

Hours are Decimal with two places, credited to the calendar year (in the
member's organisation's time zone, Asia/Shanghai) in which they are earned.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

HOURS = {"max_digits": 6, "decimal_places": 2}


class Course(models.Model):
    """Study material published by an organisation to its subtree."""

    class Category(models.TextChoices):
        THEORY = "theory", _("Party theory")
        HISTORY = "history", _("Party history")
        POLICY = "policy", _("Policies and documents")
        DISCIPLINE = "discipline", _("Discipline and rules")
        SKILLS = "skills", _("Skills for work")
        OTHER = "other", _("Other")

    class Audience(models.TextChoices):
        NONE = "", _("Not required")
        ALL = "all", _("All members")
        PROBATIONARY = "probationary", _("Probationary members")
        SECRETARIES = "secretaries", _("Secretaries and committee members")

    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="courses",
        verbose_name=_("published by"),
    )
    title = models.CharField(_("title"), max_length=200)
    category = models.CharField(
        pgettext_lazy("course", "category"), max_length=16, choices=Category.choices
    )
    # Sanitised HTML (text with images); or a video link; or an uploaded file.
    body = models.TextField(_("text"), blank=True)
    video_url = models.URLField(_("video link"), max_length=500, blank=True)
    file = models.FileField(_("file"), upload_to="courses/%Y/", blank=True)
    credit_hours = models.DecimalField(_("credit hours"), **HOURS)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    required_for = models.CharField(
        _("required for"), max_length=16, choices=Audience.choices, blank=True
    )
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        ordering = ["-valid_from", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_hours__gt=0) & Q(credit_hours__lte=100),
                name="course_credit_hours_range",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="course_valid_in_order",
            ),
            models.CheckConstraint(
                condition=Q(required_for="") | Q(deadline__isnull=False),
                name="course_required_has_deadline",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Progress(models.Model):
    """One member's study of one course: time counted, and completion.

    One row per member and course (completion is an upsert on it); the
    hours are credited once, to the year of completion.
    """

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="course_progress",
        verbose_name=_("member"),
    )
    course = models.ForeignKey(
        Course,
        on_delete=models.PROTECT,
        related_name="progress",
        verbose_name=_("course"),
    )
    opened_at = models.DateTimeField(_("opened at"))
    # Seconds of attention the server counted from heartbeats, never more
    # than the course's credit hours.
    seconds = models.PositiveIntegerField(_("seconds studied"), default=0)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    credited_hours = models.DecimalField(
        _("hours credited"), null=True, blank=True, **HOURS
    )
    credited_year = models.PositiveSmallIntegerField(
        _("year credited"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("course progress")
        verbose_name_plural = _("course progress")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "course"], name="progress_once_per_course"
            ),
            models.CheckConstraint(
                condition=(
                    Q(completed_at__isnull=True)
                    & Q(credited_hours__isnull=True)
                    & Q(credited_year__isnull=True)
                )
                | (
                    Q(completed_at__isnull=False)
                    & Q(credited_hours__isnull=False)
                    & Q(credited_year__isnull=False)
                ),
                name="progress_credited_with_completion",
            ),
        ]
        indexes = [models.Index(fields=["member", "credited_year"])]

    def __str__(self) -> str:
        return f"{self.member_id} · {self.course_id}"


class StudyBeat(models.Model):
    """The last heartbeat of one browser tab on one course.

    Time counts only between beats of the tab that holds the member's
    attention: a beat from another tab, or after an idle gap, starts over
    instead of adding time (see learning.rules).
    """

    progress = models.ForeignKey(
        Progress, on_delete=models.CASCADE, related_name="beats"
    )
    tab = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["progress", "tab"], name="beat_per_tab")
        ]

    def __str__(self) -> str:
        return f"{self.progress_id} {self.tab} {self.at:%H:%M:%S}"


class OfflineStudy(models.Model):
    """Hours studied away from the platform: a lecture in person, a Party
    lecture meeting; recorded by the secretary or from attendance."""

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="offline_study",
        verbose_name=_("member"),
    )
    title = models.CharField(_("what was studied"), max_length=200)
    studied_on = models.DateField(_("studied on"))
    hours = models.DecimalField(_("hours"), **HOURS)
    meeting = models.ForeignKey(
        "organizations.Meeting",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("meeting"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("offline study")
        verbose_name_plural = _("offline study")
        constraints = [
            models.CheckConstraint(
                condition=Q(hours__gt=0) & Q(hours__lte=24),
                name="offline_study_hours_range",
            ),
            # A meeting credits each member once, however often it is asked.
            models.UniqueConstraint(
                fields=["member", "meeting"],
                condition=Q(meeting__isnull=False),
                name="offline_study_once_per_meeting",
            ),
        ]
        # Hours count in the year of the day studied (studied_on__year).
        indexes = [models.Index(fields=["member", "studied_on"])]

    def __str__(self) -> str:
        return f"{self.member_id} {self.studied_on}: {self.hours}"


class Question(models.Model):
    """A question of the bank, tied to a course, reviewed as a card."""

    class Kind(models.TextChoices):
        SINGLE = "single", _("Single choice")
        MULTIPLE = "multiple", _("Multiple choice")
        TRUE_FALSE = "true_false", _("True or false")

    course = models.ForeignKey(
        Course,
        on_delete=models.CASCADE,
        related_name="questions",
        verbose_name=_("course"),
    )
    kind = models.CharField(
        pgettext_lazy("question", "kind"), max_length=12, choices=Kind.choices
    )
    text = models.TextField(_("question"))
    # Option texts in order; a true/false question has none.
    options = models.JSONField(_("options"), default=list, blank=True)
    # Indexes into options (0-based); for true/false, [1] is true, [0] false.
    answer = models.JSONField(_("answer"))
    explanation = models.TextField(_("explanation"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["course", "id"]

    def __str__(self) -> str:
        return self.text[:60]


class Card(models.Model):
    """One member's memory of one question, as FSRS schedules it."""

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="cards",
        verbose_name=_("member"),
    )
    question = models.ForeignKey(
        Question,
        on_delete=models.CASCADE,
        related_name="cards",
        verbose_name=_("question"),
    )
    # The FSRS card's own fields, kept as the library names them.
    state = models.PositiveSmallIntegerField(default=1)
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    stability = models.FloatField(null=True, blank=True)
    difficulty = models.FloatField(null=True, blank=True)
    due = models.DateTimeField(pgettext_lazy("review card", "due"), db_index=True)
    last_review = models.DateTimeField(_("last review"), null=True, blank=True)

    class Meta:
        verbose_name = _("review card")
        verbose_name_plural = _("review cards")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "question"], name="card_once_per_question"
            )
        ]
        indexes = [models.Index(fields=["member", "due"])]

    def __str__(self) -> str:
        return f"{self.member_id} · {self.question_id}"


class Review(models.Model):
    """Every review of a card: kept so schedules can be recomputed."""

    class Rating(models.IntegerChoices):
        AGAIN = 1, _("Again (forgotten)")
        HARD = 2, _("Hard")
        GOOD = 3, _("Good")
        EASY = 4, _("Easy")

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField(_("rating"), choices=Rating.choices)
    correct = models.BooleanField(_("answered correctly"))
    reviewed_at = models.DateTimeField(_("reviewed at"))
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["reviewed_at", "id"]
        indexes = [models.Index(fields=["card", "reviewed_at"])]

    def __str__(self) -> str:
        return f"{self.card_id} {self.rating} {self.reviewed_at:%Y-%m-%d}"
