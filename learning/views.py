"""The member's study in the portal: hours, courses, heartbeats and review.

Thin wrappers over ``learning.selectors`` and ``learning.services``. A
course is opened through ``services.study.open_course``, which answers
404 for a course the member may not study; a card is answered through
``services.review.answer``, which answers 404 for anyone else's card.
Whether time counts, and whether a course may be completed, is the
services' decision; the pages only show it.
"""

import datetime
from dataclasses import dataclass
from urllib.parse import urlsplit

import nh3
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from learning import rules
from learning.models import Course, Progress, Question, Review
from learning.selectors.hours import required_courses, yearly_hours, yearly_target
from learning.selectors.study import courses_to_study
from learning.services import review, study
from members.views import member_page

# Ratings a member may give a correct answer; a wrong one is always Again.
RATINGS = [Review.Rating.HARD, Review.Rating.GOOD, Review.Rating.EASY]


@dataclass(frozen=True)
class CourseRow:
    """A course the member may study, with their own progress on it."""

    course: Course
    progress: Progress | None

    @property
    def seconds(self) -> int:
        return self.progress.seconds if self.progress else 0

    @property
    def completed(self) -> bool:
        return bool(self.progress and self.progress.completed_at)

    @property
    def counted(self) -> str:
        return clock(self.seconds)


def clock(seconds: int) -> str:
    """Seconds as h:mm:ss, the way static/js/study.js writes them too."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _web_link(url: str) -> str:
    # A URLField also admits ftp; a phone can only follow web links.
    return url if urlsplit(url).scheme in ("http", "https") else ""


def _course_rows(member, now: datetime.datetime, on: datetime.date) -> list:
    courses = list(courses_to_study(member, at=now, on=on).order_by("title", "pk"))
    progress = {
        p.course_id: p
        for p in Progress.objects.filter(member=member, course__in=courses)
    }
    return [CourseRow(course, progress.get(course.pk)) for course in courses]


def _course_to_study(member, course_id: int) -> Course:
    # Only a course the member may study today; any other id answers 404,
    # completion included (the service checks time, not visibility).
    now = timezone.now()
    courses = courses_to_study(member, at=now, on=rules.local_date(now))
    return get_object_or_404(courses, pk=course_id)


@member_page
@require_GET
def study_home(request, member):
    now = timezone.now()
    on = rules.local_date(now)
    # The member's cards follow the courses they opened; make any missing
    # ones so the count below is today's.
    review.cards_for(member, now=now)
    return render(
        request,
        "learning/home.html",
        {
            "member": member,
            "year": on.year,
            "hours": yearly_hours(member, on.year),
            "target": yearly_target(member, on.year),
            "required": required_courses(member, on=on),
            "rows": _course_rows(member, now, on),
            # TODO: the count stops at due_cards' batch of 20, which is also
            # what one review session offers; a total needs its own selector.
            "cards_due": len(review.due_cards(member, now=now)),
        },
    )


def _course_context(request, course: Course, progress: Progress) -> dict:
    return {
        "course": course,
        "progress": progress,
        # The body is cleaned when saved; clean it again here, so a row
        # written any other way still cannot carry a script.
        "body": mark_safe(nh3.clean(course.body)),  # noqa: S308
        "video_url": _web_link(course.video_url),
        "counted": clock(progress.seconds),
        "credit": clock(rules.credit_seconds(course.credit_hours)),
        "heartbeat": settings.LIUDONG_STUDY_HEARTBEAT_SECONDS,
        "idle": settings.LIUDONG_STUDY_IDLE_SECONDS,
    }


@member_page
@require_GET
def course_detail(request, member, course_id):
    course = _course_to_study(member, course_id)
    progress = study.open_course(user=request.user, course=course)
    return render(
        request, "learning/course.html", _course_context(request, course, progress)
    )


@member_page
@require_POST
def course_beat(request, member, course_id):
    """A heartbeat from static/js/study.js; answers the counted time."""
    course = _course_to_study(member, course_id)
    try:
        progress = study.heartbeat(
            user=request.user, course=course, tab=request.POST.get("tab", "")
        )
    except ValidationError as exc:
        return JsonResponse({"error": exc.messages}, status=400)
    return JsonResponse(
        {
            "seconds": progress.seconds,
            "counted": clock(progress.seconds),
            "completed": progress.completed_at is not None,
        }
    )


@member_page
@require_POST
def course_complete(request, member, course_id):
    course = _course_to_study(member, course_id)
    try:
        study.complete(user=request.user, course=course)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Course completed; its hours are credited."))
    return redirect("learning:course", course_id=course.pk)


@dataclass(frozen=True)
class Choice:
    value: int
    label: str


def choices_of(question: Question) -> list[Choice]:
    """The options a member picks from; true/false has its own two."""
    if question.kind == Question.Kind.TRUE_FALSE:
        return [Choice(1, _("True")), Choice(0, _("False"))]
    return [Choice(index, text) for index, text in enumerate(question.options)]


def _chosen(request) -> list[int] | None:
    try:
        return [int(value) for value in request.POST.getlist("chosen")]
    except ValueError:
        return None


def _rating(request) -> int:
    # The member says how hard a right answer felt along with the answer;
    # the service ignores it and rates Again when the answer is wrong.
    try:
        rating = int(request.POST.get("rating", Review.Rating.GOOD))
    except ValueError:
        rating = Review.Rating.GOOD
    return rating if rating in RATINGS else Review.Rating.GOOD


def _review_page(request, member, **context):
    cards = list(review.due_cards(member))
    card = cards[0] if cards else None
    return render(
        request,
        "learning/review.html",
        {
            "card": card,
            "choices": choices_of(card.question) if card else [],
            "remaining": len(cards),
            "ratings": [(r.value, r.label) for r in RATINGS],
            **context,
        },
    )


@member_page
@require_http_methods(["GET", "POST"])
def review_cards(request, member):
    if request.method == "GET":
        review.cards_for(member)
        return _review_page(request, member)

    chosen = _chosen(request)
    try:
        card_id = int(request.POST.get("card", ""))
    except ValueError:
        return HttpResponseBadRequest()
    if not chosen:
        messages.error(request, _("Choose an answer."))
        return redirect("learning:review")
    try:
        # TODO: send the time taken (duration_ms) from the page; the review
        # history works without it, FSRS parameter fitting would use it.
        answered = review.answer(
            user=request.user, card_id=card_id, chosen=chosen, rating=_rating(request)
        )
    except review.NotDue:
        messages.info(request, _("This card was answered already; here is the next."))
        return redirect("learning:review")
    except review.InvalidChoice as exc:
        messages.error(request, str(exc))
        return redirect("learning:review")

    question = answered.card.question
    return _review_page(
        request,
        member,
        answered=answered,
        answered_choices=choices_of(question),
        chosen=chosen,
    )
