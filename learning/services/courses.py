"""Writes of courses and their questions, by secretaries and committee staff.

A course belongs to the organisation that publishes it and reaches that
organisation's subtree (learning.selectors.study). Only roles that write
the organisation may create, change, publish or withdraw it; a read-only
role gets ReadOnlyScope (403), anyone outside OutOfScope (404).
"""

import datetime
import logging
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import nh3
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from learning import imports
from learning.models import Course, Question
from members.models import User
from members.services._common import audit_record, require_write
from organizations.models import Organization
from organizations.scope import Scope

logger = logging.getLogger(__name__)

MAX_CREDIT_HOURS = Decimal(100)
BODY_TAGS = {
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "img",
}
# Images come from our own uploads only: a link to another site would tell
# it who read the course, and when.
MEDIA_PREFIX = "/media/"


@dataclass(frozen=True)
class CourseDetails:
    """What a secretary fills in for a course."""

    title: str
    category: str
    credit_hours: Decimal | str
    valid_from: datetime.date
    valid_until: datetime.date | None = None
    body: str = ""
    video_url: str = ""
    file: File | None = None
    required_for: str = ""
    deadline: datetime.date | None = None


def clean_body(html: str) -> str:
    """Course text as safe HTML: formatting and our own images only."""
    return nh3.clean(
        html or "",
        tags=BODY_TAGS,
        attributes={"img": {"src", "alt"}},
        attribute_filter=_own_images,
        url_schemes=set(),
    )


def _own_images(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        # "/media/../x" or "//host/media/" would leave our uploads.
        own = value.startswith(MEDIA_PREFIX) and ".." not in value
        return value if own and not value.startswith("//") else None
    return value


def create_course(
    *, actor: User, scope: Scope, organization: Organization, details: CourseDetails
) -> Course:
    """Create an unpublished course of ``organization``."""
    require_write(scope, organization)
    values = _clean(details)

    with transaction.atomic():
        course = Course.objects.create(
            organization=organization, created_by=actor, **values
        )
        audit_record(
            actor=actor,
            action="course.created",
            organization=organization,
            course=course.pk,
        )
    logger.info("course created id=%s organization=%s", course.pk, organization.pk)
    return course


def update_course(
    *, actor: User, scope: Scope, course: Course, details: CourseDetails
) -> Course:
    """Change a course's details; a published course stays published."""
    require_write(scope, course.organization)
    values = _clean(details)
    if values.get("file") is None:
        # No new upload keeps the file already there.
        values.pop("file", None)

    with transaction.atomic():
        course = Course.objects.select_for_update().get(pk=course.pk)
        changed = sorted(k for k, v in values.items() if getattr(course, k) != v)
        for name, value in values.items():
            setattr(course, name, value)
        course.save()
        audit_record(
            actor=actor,
            action="course.updated",
            organization=course.organization,
            course=course.pk,
            fields=changed,
        )
    logger.info("course updated id=%s", course.pk)
    return course


def publish_course(
    *, actor: User, scope: Scope, course: Course, at: datetime.datetime | None = None
) -> Course:
    """Publish a course to the subtree; publishing twice changes nothing."""
    return _set_published(
        actor, scope, course, at or timezone.now(), "course.published"
    )


def withdraw_course(*, actor: User, scope: Scope, course: Course) -> Course:
    """Take a course back from members; hours already credited stay."""
    return _set_published(actor, scope, course, None, "course.withdrawn")


def _set_published(
    actor: User,
    scope: Scope,
    course: Course,
    at: datetime.datetime | None,
    action: str,
) -> Course:
    require_write(scope, course.organization)

    with transaction.atomic():
        course = Course.objects.select_for_update().get(pk=course.pk)
        if (course.published_at is None) == (at is None):
            return course
        course.published_at = at
        course.save(update_fields=["published_at", "updated_at"])
        audit_record(
            actor=actor,
            action=action,
            organization=course.organization,
            course=course.pk,
        )
    logger.info("%s id=%s", action, course.pk)
    return course


def _clean(details: CourseDetails) -> dict:
    errors: dict[str, ValidationError] = {}
    values = {f.name: getattr(details, f.name) for f in fields(details)}
    values["title"] = (details.title or "").strip()
    if not values["title"]:
        errors["title"] = ValidationError(_("Give the course a title."), "title")
    if details.category not in Course.Category.values:
        errors["category"] = ValidationError(_("Choose a category."), "category")
    try:
        values["credit_hours"] = _credit_hours(details.credit_hours)
    except ValidationError as exc:
        errors["credit_hours"] = exc
    _check_dates(details, errors)
    if details.required_for not in Course.Audience.values:
        errors["required_for"] = ValidationError(
            _("Choose who must study the course."), "required_for"
        )
    values["body"] = clean_body(details.body)
    values["video_url"] = (details.video_url or "").strip()
    if values["video_url"] and urlsplit(values["video_url"]).scheme not in (
        "http",
        "https",
    ):
        errors["video_url"] = ValidationError(
            _("A video link starts with http:// or https://."), "video_url"
        )
    if errors:
        raise ValidationError(errors)
    return values


def _credit_hours(value) -> Decimal:
    try:
        hours = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as error:
        raise ValidationError(
            _("Enter hours as a number."), code="hours_invalid"
        ) from error
    if not (0 < hours <= MAX_CREDIT_HOURS):
        raise ValidationError(
            _("Credit hours must be more than 0 and at most 100."),
            code="hours_range",
        )
    return hours


def _check_dates(details: CourseDetails, errors: dict) -> None:
    if details.valid_until and details.valid_until < details.valid_from:
        errors["valid_until"] = ValidationError(
            _("A course cannot end before it starts."), "valid_until"
        )
    if details.required_for and details.deadline is None:
        errors["deadline"] = ValidationError(
            _("A required course needs a deadline."), "deadline_missing"
        )
    elif details.deadline and not details.required_for:
        errors["deadline"] = ValidationError(
            _("Only a required course has a deadline."), "deadline_unrequired"
        )
    elif (
        details.deadline
        and details.valid_until
        and (details.deadline > details.valid_until)
    ):
        errors["deadline"] = ValidationError(
            _("The deadline falls after the course ends."), "deadline_after_end"
        )


# Questions


def question_answer(kind: str, given: str, options: list[str]) -> list[int]:
    """The answer typed as in the XLSX file ("B", "ACD", 对) as indexes."""
    # One reading of an answer for the import file and the admin form.
    try:
        return imports.parse_answer(kind, given, options)
    except imports.RowError as exc:
        raise ValidationError(str(exc), code="answer") from exc


def update_question(
    *,
    actor: User,
    scope: Scope,
    question: Question,
    kind: str,
    text: str,
    options: list[str],
    answer: list[int],
    explanation: str = "",
    active: bool = True,
) -> Question:
    """Change a question of the bank; members' review cards are kept."""
    require_write(scope, question.course.organization)
    _check_question(kind, text, options, answer)

    with transaction.atomic():
        question.kind, question.text = kind, text.strip()
        question.options, question.answer = options, answer
        question.explanation, question.active = explanation.strip(), active
        question.save()
        audit_record(
            actor=actor,
            action="question.updated",
            organization=question.course.organization,
            course=question.course_id,
            question=question.pk,
        )
    return question


def _check_question(kind: str, text: str, options: list, answer: list) -> None:
    if kind not in Question.Kind.values:
        raise ValidationError({"kind": _("Choose a question type.")})
    if not (text or "").strip():
        raise ValidationError({"text": _("The question text is empty.")})
    if kind == Question.Kind.TRUE_FALSE:
        valid = not options and answer in ([0], [1])
    else:
        in_range = len(options) >= 2 and all(0 <= i < len(options) for i in answer)
        single = kind == Question.Kind.SINGLE
        counted = len(set(answer)) == 1 if single else len(set(answer)) >= 2
        valid = in_range and counted and len(set(answer)) == len(answer)
    if not valid:
        raise ValidationError({"answer": _("The answer does not fit the options.")})
