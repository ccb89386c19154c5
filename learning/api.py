"""REST API for study: a member's hours, courses, heartbeats and review
cards; for staff the yearly hours of an organisation's members.

The same selectors and services as the portal and the admin, so every
figure is the same number. A course the caller may not study and a card
that is not theirs answer 404; staff see what their scope reads (out of
scope 404, no role 403).
"""

from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import IsStaffScope, ListThrottleMixin, Pagination
from learning import rules
from learning.models import Card, Course, Progress, Question
from learning.selectors.hours import (
    hours_compliance,
    required_courses,
    yearly_hours,
    yearly_target,
)
from learning.selectors.study import courses_to_study
from learning.services import review, study
from members.models import Member
from organizations.models import Organization
from organizations.scope import OutOfScope, Scope, scope_for, today

FIRST_YEAR, LAST_YEAR = 2000, 2100
REQUIRED_STATES = "done, due, overdue"
QUESTION_KINDS = ", ".join(Question.Kind.values)


def _member(request) -> Member:
    member = Member.objects.filter(user=request.user).first()
    if member is None:
        raise OutOfScope()
    return member


def _course_to_study(request, course_id: int) -> Course:
    # Completion checks time, not visibility: look the course up among
    # those the caller may study today, so any other id answers 404.
    now = timezone.now()
    courses = courses_to_study(_member(request), at=now, on=rules.local_date(now))
    return get_object_or_404(courses, pk=course_id)


# --- the member's own study --------------------------------------------------


class RequiredCourseSerializer(serializers.Serializer):
    course = serializers.IntegerField(source="course.pk")
    title = serializers.CharField(source="course.title")
    deadline = serializers.DateField()
    state = serializers.CharField(help_text=REQUIRED_STATES)


class OwnStudySerializer(serializers.Serializer):
    """The caller's hours in a year against the target, and what is due."""

    year = serializers.IntegerField()
    hours = serializers.DecimalField(max_digits=8, decimal_places=2)
    target = serializers.IntegerField()
    required = RequiredCourseSerializer(many=True)
    cards_due = serializers.IntegerField(
        help_text=_("Cards due now, at most one session's batch (20).")
    )


@extend_schema(
    summary=_("Show my study this year"),
    description=_(
        "Hours credited this year (Beijing time) against the yearly target, "
        "the required courses with deadline and state, and the cards due."
    ),
    responses=OwnStudySerializer,
)
class OwnStudyView(APIView):
    """The caller's study figures, the same as on the portal's study page."""

    def get(self, request):
        member = _member(request)
        now = timezone.now()
        on = rules.local_date(now)
        review.cards_for(member, now=now)
        figures = {
            "year": on.year,
            "hours": yearly_hours(member, on.year),
            "target": yearly_target(member, on.year),
            "required": required_courses(member, on=on),
            "cards_due": len(review.due_cards(member, now=now)),
        }
        return Response(OwnStudySerializer(figures).data)


class OwnCourseSerializer(serializers.ModelSerializer):
    """A course the caller may study, with the caller's own progress."""

    organization = serializers.CharField(source="organization.code", read_only=True)
    organization_name = serializers.CharField(
        source="organization.name", read_only=True
    )
    category = serializers.CharField(read_only=True)
    required_for = serializers.CharField(read_only=True)
    file = serializers.FileField(read_only=True, use_url=True, allow_null=True)
    credit_seconds = serializers.SerializerMethodField()
    seconds = serializers.IntegerField(
        read_only=True, help_text=_("Seconds of study the server counted.")
    )
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Course
        fields = [
            "id",
            "organization",
            "organization_name",
            "title",
            "category",
            "body",
            "video_url",
            "file",
            "credit_hours",
            "credit_seconds",
            "valid_from",
            "valid_until",
            "required_for",
            "deadline",
            "seconds",
            "completed_at",
        ]
        read_only_fields = fields

    def get_credit_seconds(self, course: Course) -> int:
        return rules.credit_seconds(course.credit_hours)


def _with_own_progress(courses: QuerySet[Course], member: Member):
    own = Progress.objects.filter(member=member, course=OuterRef("pk"))
    return courses.annotate(
        seconds=Subquery(own.values("seconds")),
        completed_at=Subquery(own.values("completed_at")),
    )


@extend_schema(
    summary=_("List the courses I may study"),
    description=_(
        "Published, valid courses of the caller's organisation, of the one "
        "they are placed with, and of the committees above; with the "
        "caller's counted seconds (null before opening) and completion."
    ),
)
class OwnCourseListView(ListThrottleMixin, generics.ListAPIView):
    serializer_class = OwnCourseSerializer
    queryset = Course.objects.none()

    def get_queryset(self) -> QuerySet[Course]:
        member = _member(self.request)
        now = timezone.now()
        courses = courses_to_study(member, at=now, on=rules.local_date(now))
        return _with_own_progress(courses, member).order_by("title", "pk")


class ProgressSerializer(serializers.ModelSerializer):
    """The caller's progress on one course."""

    credit_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Progress
        fields = [
            "course",
            "opened_at",
            "seconds",
            "credit_seconds",
            "completed_at",
            "credited_hours",
            "credited_year",
        ]
        read_only_fields = fields

    def get_credit_seconds(self, progress: Progress) -> int:
        return rules.credit_seconds(progress.course.credit_hours)


class BeatSerializer(serializers.Serializer):
    tab = serializers.CharField(
        max_length=64,
        help_text=_("A random id the page chooses each time it loads."),
    )


@extend_schema(
    summary=_("Send a study heartbeat"),
    description=_(
        "Counts the time since this tab's last beat if the tab holds the "
        "caller's attention: beats from a second tab, or after an idle gap, "
        "count nothing, and a course never counts more than its credit."
    ),
    request=BeatSerializer,
    responses=ProgressSerializer,
)
class OwnBeatView(APIView):
    def post(self, request, course_id: int):
        course = _course_to_study(request, course_id)
        body = BeatSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        progress = study.heartbeat(
            user=request.user, course=course, tab=body.validated_data["tab"]
        )
        return Response(ProgressSerializer(progress).data)


@extend_schema(
    summary=_("Complete a course"),
    description=_(
        "Credits the course's hours to this year once; repeating it changes "
        "nothing. Before enough time is counted the answer is 400 with the "
        "code not_enough_time."
    ),
    request=None,
    responses=ProgressSerializer,
)
class OwnCompleteView(APIView):
    def post(self, request, course_id: int):
        course = _course_to_study(request, course_id)
        progress = study.complete(user=request.user, course=course)
        return Response(ProgressSerializer(progress).data)


class CardSerializer(serializers.ModelSerializer):
    """A due card: the question without its answer."""

    question = serializers.IntegerField(source="question.pk", read_only=True)
    kind = serializers.CharField(
        source="question.kind", read_only=True, help_text=QUESTION_KINDS
    )
    text = serializers.CharField(source="question.text", read_only=True)
    options = serializers.ListField(
        source="question.options",
        child=serializers.CharField(),
        read_only=True,
        help_text=_("Empty for true/false: answer [1] for true, [0] for false."),
    )

    class Meta:
        model = Card
        fields = ["id", "question", "kind", "text", "options", "due"]
        read_only_fields = fields


@extend_schema(
    summary=_("List my due cards"),
    description=_(
        "Cards due now, most overdue first, one session's batch (20); cards "
        "of newly opened courses are made first."
    ),
)
class OwnDueCardListView(ListThrottleMixin, generics.ListAPIView):
    serializer_class = CardSerializer
    queryset = Card.objects.none()

    def get_queryset(self) -> QuerySet[Card]:
        member = _member(self.request)
        review.cards_for(member)
        return review.due_cards(member)


class AnswerSerializer(serializers.Serializer):
    chosen = serializers.ListField(
        child=serializers.IntegerField(min_value=0),
        allow_empty=False,
        help_text=_("Option indexes from 0; for true/false [1] or [0]."),
    )
    rating = serializers.ChoiceField(
        choices=[r.value for r in review.CORRECT_RATINGS],
        required=False,
        help_text=_("2 Hard, 3 Good (default), 4 Easy; ignored when wrong."),
    )
    duration_ms = serializers.IntegerField(min_value=0, required=False)


class AnsweredSerializer(serializers.Serializer):
    correct = serializers.BooleanField()
    answer = serializers.ListField(
        source="card.question.answer", child=serializers.IntegerField()
    )
    explanation = serializers.CharField(source="card.question.explanation")
    rating = serializers.IntegerField(
        source="review.rating", help_text="1 Again, 2 Hard, 3 Good, 4 Easy"
    )
    due = serializers.DateTimeField(source="card.due")


@extend_schema(
    summary=_("Answer a due card"),
    description=_(
        "Grades the answer, rates it (Again when wrong) and schedules the "
        "card with FSRS. A card not due, as after a repeated request, "
        "answers 400 with the code not_due; another member's card 404."
    ),
    request=AnswerSerializer,
    responses=AnsweredSerializer,
)
class OwnAnswerView(APIView):
    def post(self, request, card_id: int):
        body = AnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        params = body.validated_data
        try:
            answered = review.answer(
                user=request.user,
                card_id=card_id,
                chosen=params["chosen"],
                rating=params.get("rating"),
                duration_ms=params.get("duration_ms"),
            )
        except review.NotDue as exc:
            raise ValidationError({"card": [str(exc)]}, code="not_due") from exc
        except review.InvalidChoice as exc:
            raise ValidationError({"chosen": [str(exc)]}, code="invalid") from exc
        return Response(AnsweredSerializer(answered).data)


# --- staff: yearly hours of an organisation's members ------------------------


class HoursFilterSerializer(serializers.Serializer):
    organization = serializers.CharField(help_text=_("An organisation's code."))
    year = serializers.IntegerField(
        min_value=FIRST_YEAR,
        max_value=LAST_YEAR,
        required=False,
        help_text=_("This year by default."),
    )


class MemberHoursSerializer(serializers.ModelSerializer):
    """A member held by the organisation, with hours and target."""

    hours = serializers.DecimalField(max_digits=8, decimal_places=2, read_only=True)
    target = serializers.IntegerField(read_only=True)

    class Meta:
        model = Member
        fields = ["id", "name", "hours", "target"]
        read_only_fields = fields


class CompliancePagination(Pagination):
    """Pages of members, with the whole organisation's figures beside them."""

    summary: dict

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data.update(self.summary)
        return response

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"].update(
            {
                "organization": {"type": "string"},
                "year": {"type": "integer"},
                "at_target": {
                    "type": "integer",
                    "description": "Members whose hours reach their target.",
                },
                "share": {
                    "type": "string",
                    "format": "decimal",
                    "description": "at_target of all members, 0 to 1.",
                },
            }
        )
        paginated["required"] = [
            *paginated.get("required", []),
            "organization",
            "year",
            "at_target",
            "share",
        ]
        return paginated


@extend_schema(
    summary=_("List members' study hours for a year"),
    description=_(
        "Each member the organisation holds, with the hours credited in the "
        "year and the target; the same figures as the portal and the admin. "
        "An organisation outside the caller's scope answers 404; a caller "
        "without a role 403."
    ),
    parameters=[HoursFilterSerializer],
)
class HoursComplianceView(ListThrottleMixin, generics.ListAPIView):
    permission_classes = [IsAuthenticated, IsStaffScope]
    serializer_class = MemberHoursSerializer
    pagination_class = CompliancePagination
    queryset = Member.objects.none()

    @cached_property
    def scope(self) -> Scope:
        return scope_for(self.request.user)

    def list(self, request, *args, **kwargs):
        filters = HoursFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        organization = Organization.objects.filter(code=params["organization"]).first()
        if organization is None:
            raise OutOfScope()
        year = params.get("year") or today().year

        result = hours_compliance(
            scope=self.scope, organization=organization, year=year
        )

        self.paginator.summary = {
            "organization": organization.code,
            "year": year,
            "at_target": result.at_target,
            "share": str(result.share),
        }
        page = self.paginate_queryset(result.members)
        return self.get_paginated_response(MemberHoursSerializer(page, many=True).data)


urlpatterns = [
    path("me/study/", OwnStudyView.as_view(), name="api-me-study"),
    path("me/courses/", OwnCourseListView.as_view(), name="api-me-courses"),
    path(
        "me/courses/<int:course_id>/beat/",
        OwnBeatView.as_view(),
        name="api-me-course-beat",
    ),
    path(
        "me/courses/<int:course_id>/complete/",
        OwnCompleteView.as_view(),
        name="api-me-course-complete",
    ),
    path("me/cards/due/", OwnDueCardListView.as_view(), name="api-me-cards-due"),
    path(
        "me/cards/<int:card_id>/answer/",
        OwnAnswerView.as_view(),
        name="api-me-card-answer",
    ),
    path("study/hours/", HoursComplianceView.as_view(), name="api-study-hours"),
]
