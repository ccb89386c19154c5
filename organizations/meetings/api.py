"""REST API for organisational life: a member's own meetings and check-in,
and for staff the meetings in scope, their attendance and compliance.

The same selectors and services as the admin and the portal. A member sees
only the meetings they are invited to (anyone else's answers 404); staff
see what their scope reads (out of scope 404, no role 403).
"""

# TODO: staff write nothing here (planning, recording presence, closing and
# votes are in the admin only); add endpoints over the same services when a
# client other than the admin needs them.

import datetime
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.urls import path
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import IsStaffScope, ListThrottleMixin
from organizations.meetings import selectors, services
from organizations.meetings.window import check_in_window
from organizations.models import (
    Attendance,
    AttendanceInterval,
    CheckInMethod,
    Meeting,
    MeetingKind,
    Organization,
)
from organizations.scope import OutOfScope, Scope, scope_for, today

# Status and kind fields are plain strings in the schema: other models name
# a "status" or a "kind" with other choices (see dues.api).
MEETING_STATUSES = ", ".join(Meeting.Status.values)
# "kind" names organisations', roles' and meetings' choices alike.
MEETING_KINDS = ", ".join(MeetingKind.values)
ATTENDANCE_STATUSES = ", ".join(Attendance.Status.values)
WINDOW_STATES = "not_open, open, ended, cancelled"
# Years a compliance request may name; outside them the periods make no
# sense for a platform started in the 2020s.
FIRST_YEAR, LAST_YEAR = 2000, 2100


@extend_schema_field(OpenApiTypes.DATETIME)
class LocalDateTimeField(serializers.Field):
    """A moment with the UTC offset of the meeting organisation's time zone."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def get_attribute(self, meeting: Meeting):
        return meeting

    def to_representation(self, meeting: Meeting) -> str:
        moment = getattr(meeting, self.field_name)
        zone = ZoneInfo(meeting.organization.time_zone)
        return moment.astimezone(zone).isoformat()


class MeetingFieldsMixin(serializers.Serializer):
    """The facts of a meeting every caller may see once invited or in scope."""

    organization = serializers.CharField(source="organization.code", read_only=True)
    organization_name = serializers.CharField(
        source="organization.name", read_only=True
    )
    kind = serializers.CharField(read_only=True, help_text=MEETING_KINDS)
    time_zone = serializers.CharField(source="organization.time_zone", read_only=True)
    starts_at = LocalDateTimeField()
    ends_at = LocalDateTimeField()
    held_on = serializers.DateField(
        read_only=True, help_text=_("The local date the meeting starts on.")
    )
    status = serializers.CharField(read_only=True, help_text=MEETING_STATUSES)


MEETING_FIELDS = [
    "id",
    "organization",
    "organization_name",
    "kind",
    "title",
    "time_zone",
    "starts_at",
    "ends_at",
    "held_on",
    "mode",
    "place",
    "online_link",
    "status",
]


class IntervalSerializer(serializers.ModelSerializer):
    """One stay at a meeting; ``left_at`` is null while the member is there."""

    checked_in_at = serializers.DateTimeField(read_only=True)
    left_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = AttendanceInterval
        fields = ["checked_in_at", "left_at", "method"]
        read_only_fields = fields


class WindowSerializer(serializers.Serializer):
    opens = serializers.DateTimeField()
    closes = serializers.DateTimeField()
    state = serializers.CharField(help_text=WINDOW_STATES)


# --- the member's own meetings -----------------------------------------------


class OwnMeetingSerializer(MeetingFieldsMixin, serializers.ModelSerializer):
    """A meeting the caller is invited to, with their own attendance.

    Serialises a meeting that carries the caller's attendance row as
    ``own`` (see ``_own_meeting``).
    """

    attendance_status = serializers.CharField(
        source="own.status", read_only=True, help_text=ATTENDANCE_STATUSES
    )
    standing = serializers.CharField(source="own.standing", read_only=True)

    class Meta:
        model = Meeting
        fields = [*MEETING_FIELDS, "attendance_status", "standing"]
        read_only_fields = fields


class OwnMeetingDetailSerializer(OwnMeetingSerializer):
    """One invited meeting: agenda, check-in window and the caller's stays."""

    check_in = serializers.SerializerMethodField()
    intervals = IntervalSerializer(source="own.intervals", many=True, read_only=True)

    class Meta(OwnMeetingSerializer.Meta):
        fields = [*OwnMeetingSerializer.Meta.fields, "agenda", "check_in", "intervals"]
        read_only_fields = fields

    @extend_schema_field(WindowSerializer)
    def get_check_in(self, meeting: Meeting) -> dict:
        return WindowSerializer(check_in_window(meeting)).data


def _own_meeting(attendance: Attendance) -> Meeting:
    meeting = attendance.meeting
    meeting.own = attendance
    return meeting


@extend_schema(
    summary=_("List my meetings"),
    description=_(
        "The meetings the caller is invited to, newest first, including those "
        "of an inflow organisation the caller is placed with; cancelled "
        "meetings are left out."
    ),
    responses=OwnMeetingSerializer(many=True),
)
class OwnMeetingListView(generics.ListAPIView):
    """The caller's invitations."""

    serializer_class = OwnMeetingSerializer
    queryset = Attendance.objects.none()

    def get_queryset(self) -> QuerySet[Attendance]:
        return selectors.meetings_own(user=self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        meetings = [_own_meeting(attendance) for attendance in page]
        return self.get_paginated_response(
            OwnMeetingSerializer(meetings, many=True).data
        )


def _own_detail(request, meeting_id: int) -> Response:
    attendance = selectors.attendance_own(user=request.user, meeting_id=meeting_id)
    meeting = _own_meeting(attendance)
    return Response(OwnMeetingDetailSerializer(meeting).data)


@extend_schema(
    summary=_("Show one of my meetings"),
    description=_("A meeting the caller is not invited to answers 404."),
    responses=OwnMeetingDetailSerializer,
)
class OwnMeetingView(APIView):
    """One meeting the caller is invited to."""

    def get(self, request, meeting_id: int):
        return _own_detail(request, meeting_id)


@extend_schema(
    summary=_("Check in to one of my meetings online"),
    description=_(
        "During the check-in window only; outside it, or for a closed meeting, "
        "nothing changes and the answer is 400 with the code not_open, ended "
        "or cancelled. Checking in again while checked in keeps one stay."
    ),
    request=None,
    responses=OwnMeetingDetailSerializer,
)
class OwnCheckInView(APIView):
    """Check the caller in by the online link."""

    def post(self, request, meeting_id: int):
        attendance = selectors.attendance_own(user=request.user, meeting_id=meeting_id)
        services.check_in(
            user=request.user, meeting=attendance.meeting, method=CheckInMethod.ONLINE
        )
        return _own_detail(request, meeting_id)


@extend_schema(
    summary=_("Leave one of my meetings"),
    description=_(
        "Ends the caller's open stay; checking in again while the meeting "
        "lasts starts a new one. Without an open stay nothing changes."
    ),
    request=None,
    responses=OwnMeetingDetailSerializer,
)
class OwnLeaveView(APIView):
    """End the caller's current stay at a meeting."""

    def post(self, request, meeting_id: int):
        attendance = selectors.attendance_own(user=request.user, meeting_id=meeting_id)
        services.leave(user=request.user, meeting=attendance.meeting)
        return _own_detail(request, meeting_id)


# --- staff: meetings in scope and compliance --------------------------------


class StaffScopeMixin:
    permission_classes = [IsAuthenticated, IsStaffScope]

    @cached_property
    def scope(self) -> Scope:
        return scope_for(self.request.user)


def _organization(scope: Scope, code: str) -> Organization:
    """An organisation by code, answered as absent when out of scope."""
    organization = Organization.objects.filter(code=code).first()
    if organization is None or not scope.reads(organization):
        raise OutOfScope()
    return organization


def _with_counts(meetings: QuerySet[Meeting]) -> QuerySet[Meeting]:
    status = Attendance.Status
    return meetings.annotate(
        invited=Count("attendances"),
        present=Count("attendances", filter=Q(attendances__status=status.PRESENT)),
        absent=Count("attendances", filter=Q(attendances__status=status.ABSENT)),
        excused=Count("attendances", filter=Q(attendances__status=status.EXCUSED)),
    )


class MeetingSerializer(MeetingFieldsMixin, serializers.ModelSerializer):
    """A meeting in the caller's scope with its attendance counts."""

    invited = serializers.IntegerField(read_only=True)
    present = serializers.IntegerField(read_only=True)
    absent = serializers.IntegerField(read_only=True)
    excused = serializers.IntegerField(read_only=True)

    class Meta:
        model = Meeting
        fields = [
            *MEETING_FIELDS,
            "series",
            "invited",
            "present",
            "absent",
            "excused",
        ]
        read_only_fields = fields


class AttendanceSerializer(serializers.ModelSerializer):
    """An invited member, how they attended, and their stays."""

    member_name = serializers.CharField(source="member.name", read_only=True)
    status = serializers.CharField(read_only=True, help_text=ATTENDANCE_STATUSES)
    intervals = IntervalSerializer(many=True, read_only=True)

    class Meta:
        model = Attendance
        fields = ["member", "member_name", "standing", "status", "reason", "intervals"]
        read_only_fields = fields


class MeetingDetailSerializer(MeetingSerializer):
    """A meeting in scope with its agenda, minutes and every invited member."""

    attendance = serializers.SerializerMethodField()

    class Meta(MeetingSerializer.Meta):
        fields = [
            *MeetingSerializer.Meta.fields,
            "agenda",
            "minutes",
            "closed_at",
            "attendance",
        ]
        read_only_fields = fields

    @extend_schema_field(AttendanceSerializer(many=True))
    def get_attendance(self, meeting: Meeting) -> list:
        rows = selectors.meeting_attendance(meeting)
        return AttendanceSerializer(rows, many=True).data


class MeetingFilterSerializer(serializers.Serializer):
    """Query parameters of the meeting list."""

    organization = serializers.CharField(
        required=False, help_text=_("Meetings of this organisation's subtree.")
    )
    kind = serializers.ChoiceField(choices=MeetingKind.values, required=False)
    status = serializers.ChoiceField(choices=Meeting.Status.values, required=False)
    held_from = serializers.DateField(required=False, help_text=_("A local date."))
    held_to = serializers.DateField(required=False, help_text=_("A local date."))


@extend_schema_view(
    get=extend_schema(
        summary=_("List meetings"),
        description=_(
            "Meetings of the caller's organisations, newest first, with how many "
            "members were invited, present, absent and excused. An organisation "
            "outside the caller's scope answers 404; a caller without a role 403."
        ),
        parameters=[MeetingFilterSerializer],
    )
)
class MeetingListView(StaffScopeMixin, ListThrottleMixin, generics.ListAPIView):
    """Meetings in the caller's scope."""

    serializer_class = MeetingSerializer
    queryset = Meeting.objects.none()

    def get_queryset(self) -> QuerySet[Meeting]:
        filters = MeetingFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        meetings = selectors.meeting_list(scope=self.scope)
        if "organization" in params:
            organization = _organization(self.scope, params["organization"])
            meetings = meetings.filter(organization__path__startswith=organization.path)
        if "kind" in params:
            meetings = meetings.filter(kind=params["kind"])
        if "status" in params:
            meetings = meetings.filter(status=params["status"])
        if "held_from" in params:
            meetings = meetings.filter(held_on__gte=params["held_from"])
        if "held_to" in params:
            meetings = meetings.filter(held_on__lte=params["held_to"])
        return _with_counts(meetings).order_by("-starts_at", "-pk")


@extend_schema(
    summary=_("Show a meeting and its attendance"),
    description=_(
        "Every invited member with status, reason and stays; a meeting "
        "outside the caller's scope answers 404."
    ),
    responses=MeetingDetailSerializer,
)
class MeetingView(StaffScopeMixin, APIView):
    """One meeting in the caller's scope."""

    def get(self, request, meeting_id: int):
        meeting = selectors.meeting_get(scope=self.scope, meeting_id=meeting_id)
        meeting = _with_counts(Meeting.objects.filter(pk=meeting.pk)).select_related(
            "organization"
        )
        return Response(MeetingDetailSerializer(meeting.get()).data)


class PeriodSerializer(serializers.Serializer):
    label = serializers.CharField()
    first = serializers.DateField()
    last = serializers.DateField()
    held = serializers.IntegerField(help_text=_("Meetings held in the period."))
    state = serializers.CharField(help_text="held, overdue, due, future")


class KindComplianceSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    frequency = serializers.CharField(source="frequency.value")
    periods = serializers.SerializerMethodField()

    @extend_schema_field(PeriodSerializer(many=True))
    def get_periods(self, item: selectors.KindCompliance) -> list:
        today = self.context["today"]
        rows = [
            {
                "label": p.label,
                "first": p.first,
                "last": p.last,
                "held": item.held.get(p.label, 0),
                "state": item.state(p, today),
            }
            for p in item.periods
        ]
        return PeriodSerializer(rows, many=True).data


class ComplianceSerializer(serializers.Serializer):
    """The required meetings an organisation held in a year (DESIGN.md §4)."""

    organization = serializers.CharField(source="organization.code")
    organization_name = serializers.CharField(source="organization.name")
    first = serializers.DateField()
    last = serializers.DateField()
    today = serializers.DateField()
    invited = serializers.IntegerField()
    present = serializers.IntegerField()
    excused = serializers.IntegerField()
    attendance_rate = serializers.FloatField(
        allow_null=True,
        help_text=_("Present of invited at the meetings held; null when none."),
    )
    overdue = serializers.IntegerField(help_text=_("Periods over with none held."))
    kinds = serializers.SerializerMethodField()

    @extend_schema_field(KindComplianceSerializer(many=True))
    def get_kinds(self, result: selectors.Compliance) -> list:
        return KindComplianceSerializer(
            result.kinds, many=True, context={"today": result.today}
        ).data


class ComplianceFilterSerializer(serializers.Serializer):
    organization = serializers.CharField(help_text=_("An organisation's code."))
    year = serializers.IntegerField(
        min_value=FIRST_YEAR,
        max_value=LAST_YEAR,
        required=False,
        help_text=_("This year by default."),
    )


@extend_schema(
    summary=_("Show an organisation's compliance for a year"),
    description=_(
        "For each required kind of meeting, which periods held one and which "
        "are overdue, and the attendance rate at the meetings held; the same "
        "figures as the selectors behind the admin. Out of scope 404."
    ),
    parameters=[ComplianceFilterSerializer],
    responses=ComplianceSerializer,
)
class ComplianceView(StaffScopeMixin, APIView):
    """One organisation's organisational life over a year."""

    def get(self, request):
        filters = ComplianceFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        organization = _organization(self.scope, params["organization"])
        year = params.get("year") or today().year

        result = selectors.compliance(
            organization=organization,
            first=datetime.date(year, 1, 1),
            last=datetime.date(year, 12, 31),
        )

        return Response(ComplianceSerializer(result).data)


urlpatterns = [
    path("me/meetings/", OwnMeetingListView.as_view(), name="api-me-meetings"),
    path(
        "me/meetings/<int:meeting_id>/",
        OwnMeetingView.as_view(),
        name="api-me-meeting",
    ),
    path(
        "me/meetings/<int:meeting_id>/check-in/",
        OwnCheckInView.as_view(),
        name="api-me-meeting-check-in",
    ),
    path(
        "me/meetings/<int:meeting_id>/leave/",
        OwnLeaveView.as_view(),
        name="api-me-meeting-leave",
    ),
    path("meetings/", MeetingListView.as_view(), name="api-meetings"),
    path(
        "meetings/compliance/",
        ComplianceView.as_view(),
        name="api-meetings-compliance",
    ),
    path("meetings/<int:meeting_id>/", MeetingView.as_view(), name="api-meeting"),
]
