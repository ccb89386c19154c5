"""REST API for members: records, corrections, stays away, contact logs.

ID numbers and phones leave the server masked, always; the full ID number
only through the reveal action, which states a reason and is audited.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.cache import patch_cache_control
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from config.api import ActionThrottleMixin
from members.identity import mask
from members.models import (
    ContactLog,
    CorrectionRequest,
    Member,
    Mobility,
    MobilityStatus,
    Occupation,
)
from members.selectors import (
    MOBILITY_QUEUES,
    contact_log_list,
    member_get,
    member_list,
    member_own,
    mobilities_in_queue,
    mobilities_in_scope,
    periods_on,
    search,
    with_current_organization,
)
from members.services import (
    CORRECTABLE_FIELDS,
    audit_record,
    contact_log_record,
    correction_request_create,
    id_number_reveal,
    member_update,
    mobility_accept,
    mobility_certificate_issue,
    mobility_confirm,
    mobility_decline,
    mobility_move_on,
    mobility_return,
)
from organizations.models import Organization, Region
from organizations.scope import (
    OutOfScope,
    ReadOnlyScope,
    Scope,
    organizations_in_scope,
    scope_for,
    subtree_q,
    today,
)


class MemberSerializer(serializers.ModelSerializer):
    """A member as listed: masked identifiers and the holding organisation."""

    masked_id_number = serializers.CharField(read_only=True)
    masked_phone = serializers.CharField(read_only=True)
    # The holding organisation comes from the selectors' annotations: a
    # transfer moves it, never an edit of the record.
    organization = serializers.CharField(
        source="current_organization_code",
        read_only=True,
        allow_null=True,
        help_text=_("Code of the organisation holding the membership today."),
    )
    organization_name = serializers.CharField(
        source="current_organization_name", read_only=True, allow_null=True
    )

    class Meta:
        model = Member
        fields = [
            "id",
            "name",
            "gender",
            "birth_date",
            "masked_id_number",
            "masked_phone",
            "status",
            "occupation",
            "organization",
            "organization_name",
        ]
        read_only_fields = fields


_DETAIL_FIELDS = [
    "id",
    "name",
    "gender",
    "ethnicity",
    "birth_date",
    "masked_id_number",
    "masked_phone",
    "education",
    "joined_on",
    "full_member_on",
    "status",
    "organization",
    "organization_name",
    "hukou_region",
    "hukou_address",
    "residence_region",
    "residence_address",
    "work_unit",
    "occupation",
    "is_migrant_worker",
    "file_custodian",
    "lost_contact_since",
    "created_at",
    "updated_at",
]


class MemberDetailSerializer(MemberSerializer):
    """A member's whole record; ID number and phone are written, never read."""

    id_number = serializers.CharField(
        write_only=True,
        required=False,
        help_text=_("A new ID number; responses carry only the masked one."),
    )
    phone = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        help_text=_("A new phone; responses carry only the masked one."),
    )

    class Meta:
        model = Member
        fields = [*_DETAIL_FIELDS, "id_number", "phone"]
        read_only_fields = [
            "id",
            "masked_id_number",
            "masked_phone",
            "organization",
            "organization_name",
            "created_at",
            "updated_at",
        ]


class OwnMemberSerializer(MemberDetailSerializer):
    """The caller's own record, read-only: changes go through corrections."""

    class Meta:
        model = Member
        fields = _DETAIL_FIELDS
        read_only_fields = fields


class MemberFilterSerializer(serializers.Serializer):
    """Query parameters of the member list."""

    q = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=_("Part of a name, or a whole ID number or phone (exact match)."),
    )
    organization = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Organization.objects.none(),
        required=False,
        help_text=_(
            "Members held today by this organisation or any below it (a code)."
        ),
    )
    status = serializers.ChoiceField(choices=Member.Status.choices, required=False)

    def __init__(self, *args, scope: Scope | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # An organisation outside the scope is answered as unknown.
        if scope is not None:
            self.fields["organization"].queryset = organizations_in_scope(scope)


class RevealRequestSerializer(serializers.Serializer):
    """Why the caller needs the full ID number; the reason is audited."""

    reason = serializers.CharField(max_length=500)


class RevealedIdNumberSerializer(serializers.Serializer):
    """The full ID number, for the caller who stated a reason."""

    id_number = serializers.CharField()


def _labelled(field_names) -> list[tuple[str, str]]:
    return [(name, Member._meta.get_field(name).verbose_name) for name in field_names]


class CorrectionRequestSerializer(serializers.ModelSerializer):
    """A member's request to correct one field of their own record."""

    field = serializers.ChoiceField(choices=_labelled(CORRECTABLE_FIELDS))
    requested_value = serializers.CharField(
        max_length=255, help_text=_("A requested phone is returned masked.")
    )

    class Meta:
        model = CorrectionRequest
        fields = [
            "id",
            "field",
            "requested_value",
            "reason",
            "status",
            "requested_at",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = [
            "id",
            "status",
            "requested_at",
            "decided_at",
            "decision_note",
        ]

    def to_representation(self, instance: CorrectionRequest) -> dict:
        data = super().to_representation(instance)
        if instance.field == "phone":
            data["requested_value"] = mask(instance.requested_value)
        return data


class ContactLogSerializer(serializers.ModelSerializer):
    """One attempt to reach a member, and how it went."""

    contacted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    contacted_at = serializers.DateTimeField(
        required=False, help_text=_("Now when empty.")
    )

    class Meta:
        model = ContactLog
        fields = ["id", "contacted_at", "contacted_by", "channel", "outcome", "note"]
        read_only_fields = ["id", "contacted_by"]


def _held_under(members: QuerySet[Member], organization: Organization):
    held = periods_on(today()).filter(
        subtree_q((organization.path,), field_name="organization__path"),
        member=OuterRef("pk"),
    )
    return members.filter(Exists(held))


@extend_schema_view(
    list=extend_schema(
        summary=_("List members"),
        description=_(
            "Members the caller's roles reach today, masked. A caller without "
            "a role gets only their own record (or nothing, without one)."
        ),
        parameters=[MemberFilterSerializer],
    ),
    retrieve=extend_schema(
        summary=_("Show a member"),
        description=_("A member outside the caller's scope answers 404."),
    ),
    partial_update=extend_schema(
        summary=_("Change a member's record"),
        description=_(
            "For roles that may write the member's organisation; a read-only "
            "role answers 403, a member's own record 403 (members request "
            "corrections instead). Errors carry stable codes."
        ),
    ),
)
class MemberViewSet(
    ActionThrottleMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Members in the caller's scope: list, show, change, reveal the ID."""

    serializer_class = MemberDetailSerializer
    action_throttle_scopes = {"list": "list", "reveal_id": "reveal"}

    @cached_property
    def scope(self) -> Scope:
        return scope_for(self.request.user)

    def get_serializer_class(self):
        return MemberSerializer if self.action == "list" else MemberDetailSerializer

    def get_queryset(self) -> QuerySet[Member]:
        if self.scope.is_staff_scope:
            members = member_list(scope=self.scope)
        else:
            # Without a role the caller reaches only their own record, the
            # same one the detail answers (Access.OWN).
            members = with_current_organization(
                Member.objects.filter(user_id=self.scope.user_id)
            )
        return members.order_by("pk")

    def filter_queryset(self, queryset: QuerySet[Member]) -> QuerySet[Member]:
        filters = MemberFilterSerializer(
            data=self.request.query_params, scope=self.scope
        )
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        if "organization" in params:
            queryset = _held_under(queryset, params["organization"])
        if "status" in params:
            queryset = queryset.filter(status=params["status"])
        return search(queryset, params.get("q", ""))

    def get_object(self) -> Member:
        return member_get(scope=self.scope, member_id=self._member_id())

    def partial_update(self, request, *args, **kwargs):
        member = self.get_object()
        self._check_writable(member)
        serializer = self.get_serializer(member, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)

        member_update(actor=request.user, member=member, **serializer.validated_data)

        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary=_("Reveal a member's full ID number"),
        description=_(
            "For roles allowed full ID numbers, with a reason; the reveal is "
            "audited. Other roles in scope answer 403."
        ),
        request=RevealRequestSerializer,
        responses=RevealedIdNumberSerializer,
    )
    @action(detail=True, methods=["post"], url_path="reveal-id")
    def reveal_id(self, request, *args, **kwargs):
        member = self.get_object()
        serializer = RevealRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        id_number = id_number_reveal(
            actor=request.user,
            member=member,
            reason=serializer.validated_data["reason"],
        )

        response = Response(RevealedIdNumberSerializer({"id_number": id_number}).data)
        patch_cache_control(response, no_store=True, private=True)
        return response

    @extend_schema(
        methods=["GET"],
        summary=_("List a member's contact log"),
        description=_(
            "For the organisations holding or hosting the member, newest "
            "first; anyone else 404."
        ),
        responses=ContactLogSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary=_("Log a contact with a member"),
        description=_(
            "For secretaries of the holding or hosting organisation; a "
            "read-only role 403. Last contact is derived from these entries."
        ),
        request=ContactLogSerializer,
        responses={201: ContactLogSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def contacts(self, request, *args, **kwargs):
        member = self.get_object()
        if request.method == "GET":
            logs = contact_log_list(scope=self.scope, member=member)
            return Response(ContactLogSerializer(logs, many=True).data)
        serializer = ContactLogSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        entry = contact_log_record(
            actor=request.user, member=member, **serializer.validated_data
        )

        return Response(
            ContactLogSerializer(entry).data, status=status.HTTP_201_CREATED
        )

    def _member_id(self) -> int:
        try:
            return int(self.kwargs["pk"])
        except ValueError:
            raise NotFound() from None

    def _check_writable(self, member: Member) -> None:
        # The service refuses too; asking first answers a read-only caller
        # 403 before the body is validated, and tells a member why.
        if member_list(scope=self.scope, write=True).filter(pk=member.pk).exists():
            return
        if member.user_id is not None and member.user_id == self.scope.user_id:
            raise PermissionDenied(_("Request a correction to change your own record."))
        raise ReadOnlyScope()


@extend_schema(
    summary=_("Show my member record"),
    description=_(
        "The caller's own record, masked and read-only; 404 for an account "
        "without one. Request corrections through /api/me/corrections/."
    ),
)
class OwnMemberView(generics.RetrieveAPIView):
    """The caller's own member record."""

    serializer_class = OwnMemberSerializer

    def get_object(self) -> Member:
        member = member_own(user=self.request.user)
        if member is None:
            raise NotFound(_("This account has no member record."))
        return member


@extend_schema_view(
    get=extend_schema(
        summary=_("List my correction requests"),
        description=_("Newest first; 404 for an account without a member record."),
    ),
    post=extend_schema(
        summary=_("Request a correction to my record"),
        description=_("The organisation's secretary approves or rejects it."),
    ),
)
class OwnCorrectionListView(generics.ListCreateAPIView):
    """The caller's requests to correct their own record."""

    serializer_class = CorrectionRequestSerializer

    def get_queryset(self) -> QuerySet[CorrectionRequest]:
        member = member_own(user=self.request.user)
        if member is None:
            raise NotFound(_("This account has no member record."))
        return member.correction_requests.order_by("-requested_at", "-pk")

    def perform_create(self, serializer) -> None:
        try:
            serializer.instance = correction_request_create(
                actor=self.request.user, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise _about_requested_value(exc) from None


def _about_requested_value(exc: DjangoValidationError) -> DjangoValidationError:
    # The service checks a requested phone as it checks the record's and
    # names the record's field; the caller sent it as requested_value.
    if hasattr(exc, "error_dict") and "phone" in exc.error_dict:
        errors = dict(exc.error_dict)
        errors["requested_value"] = errors.pop("phone")
        return DjangoValidationError(errors)
    return exc


# Mobility and contact (issue 4): the same services and scope as the admin.


class MobilitySerializer(serializers.ModelSerializer):
    """A member's stay away, as the outflow or the inflow side sees it.

    Nothing of the member's income or dues: the inflow side sees these rows
    too (dual management, DESIGN.md §2).
    """

    member_name = serializers.CharField(source="member.name", read_only=True)
    member_masked_phone = serializers.CharField(
        source="member.masked_phone", read_only=True
    )
    outflow_organization = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    inflow_organization = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    side = serializers.SerializerMethodField(
        help_text=_("outflow when the caller holds the member, inflow otherwise.")
    )

    class Meta:
        model = Mobility
        fields = [
            "id",
            "member",
            "member_name",
            "member_masked_phone",
            "side",
            "status",
            "outflow_organization",
            "destination_region",
            "inflow_organization",
            "left_on",
            "expected_return_on",
            "reason",
            "occupation",
            "work_unit",
            "contact",
            "certificate_number",
            "certificate_issued_on",
            "confirmed_on",
            "report_requested_on",
            "reported_on",
            "ended_on",
        ]
        read_only_fields = fields

    def get_side(self, mobility: Mobility) -> str:
        scope = self.context.get("scope")
        if scope is not None and scope.reads(mobility.outflow_organization):
            return "outflow"
        return "inflow"


class MobilityFilterSerializer(serializers.Serializer):
    """Query parameters of the mobility list."""

    queue = serializers.ChoiceField(
        choices=MOBILITY_QUEUES,
        required=False,
        help_text=_(
            "out: my members away; placed: placed with me; awaiting: reported "
            "to me; not_reported, settled, no_yearly_report: to follow up."
        ),
    )
    status = serializers.ChoiceField(choices=MobilityStatus.choices, required=False)


class CertificateSerializer(serializers.Serializer):
    """The number of the mobile activity certificate (活动证)."""

    number = serializers.CharField(max_length=32)


class DeclineSerializer(serializers.Serializer):
    """Why the inflow organisation declines the report."""

    reason = serializers.CharField()


class ReturnSerializer(serializers.Serializer):
    """The day the member came home; today when empty."""

    returned_on = serializers.DateField(required=False, allow_null=True)


class MoveOnSerializer(serializers.Serializer):
    """The next place the member moved on to."""

    destination_region = serializers.PrimaryKeyRelatedField(
        queryset=Region.objects.all(), help_text=_("The region code.")
    )
    left_on = serializers.DateField()
    expected_return_on = serializers.DateField(required=False, allow_null=True)
    reason = serializers.ChoiceField(choices=Mobility.Reason.choices)
    occupation = serializers.PrimaryKeyRelatedField(
        queryset=Occupation.objects.all(), required=False, allow_null=True
    )
    work_unit = serializers.CharField(required=False, allow_blank=True)
    contact = serializers.CharField()


def _mobility_step_schema(summary: str, request=None):
    return extend_schema(
        summary=summary,
        description=_(
            "Only the side the step belongs to may take it: out of scope 404, "
            "the other side or a read-only role 403, a stay whose state does "
            "not allow it 400."
        ),
        request=request,
        responses=MobilitySerializer,
    )


@extend_schema_view(
    list=extend_schema(
        summary=_("List stays away"),
        description=_(
            "Active stays of members the caller's organisations hold, of "
            "members placed with them, and of those waiting for them to accept."
        ),
        parameters=[MobilityFilterSerializer],
    ),
    retrieve=extend_schema(
        summary=_("Show a stay away"),
        description=_("Out of scope answers 404."),
    ),
)
class MobilityViewSet(
    ActionThrottleMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Stays away (外出流动) seen from the outflow or the inflow side."""

    serializer_class = MobilitySerializer
    queryset = Mobility.objects.none()
    action_throttle_scopes = {"list": "list"}

    @cached_property
    def scope(self) -> Scope:
        return scope_for(self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "scope": self.scope}

    def get_queryset(self) -> QuerySet[Mobility]:
        return mobilities_in_scope(scope=self.scope).order_by("-left_on", "-pk")

    def filter_queryset(self, queryset: QuerySet[Mobility]) -> QuerySet[Mobility]:
        if self.action != "list":
            return queryset
        filters = MobilityFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        if "queue" in params:
            rows = mobilities_in_queue(scope=self.scope, queue=params["queue"])
            queryset = queryset.filter(pk__in=rows.order_by().values("pk"))
        if "status" in params:
            queryset = queryset.filter(status=params["status"])
        return queryset

    def get_object(self) -> Mobility:
        try:
            mobility_id = int(self.kwargs["pk"])
        except ValueError:
            raise NotFound() from None
        # The member's own stay is the portal's; here, the two sides only.
        mobility = self.get_queryset().filter(pk=mobility_id).first()
        if mobility is None:
            raise OutOfScope()
        return mobility

    def retrieve(self, request, *args, **kwargs):
        mobility = self.get_object()

        # Whereabouts are sensitive personal information (DESIGN.md §3):
        # every look at a stay is on the record.
        audit_record(
            actor=request.user,
            action="mobility.view",
            member=mobility.member,
            mobility_id=mobility.pk,
        )

        return Response(self.get_serializer(mobility).data)

    def _step(self, service, serializer_class=None) -> Response:
        mobility = self.get_object()
        data = {}
        if serializer_class is not None:
            serializer = serializer_class(data=self.request.data)
            serializer.is_valid(raise_exception=True)
            data = {k: v for k, v in serializer.validated_data.items() if v is not None}

        result = service(actor=self.request.user, mobility=mobility, **data)

        return Response(self.get_serializer(result).data)

    @_mobility_step_schema(_("Confirm a member's own registration"))
    @action(detail=True, methods=["post"])
    def confirm(self, request, *args, **kwargs):
        return self._step(mobility_confirm)

    @_mobility_step_schema(
        _("Issue or renew the activity certificate"), CertificateSerializer
    )
    @action(detail=True, methods=["post"])
    def certificate(self, request, *args, **kwargs):
        return self._step(mobility_certificate_issue, CertificateSerializer)

    @_mobility_step_schema(_("Accept a member who reported"))
    @action(detail=True, methods=["post"])
    def accept(self, request, *args, **kwargs):
        return self._step(mobility_accept)

    @_mobility_step_schema(_("Decline a report"), DeclineSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, *args, **kwargs):
        return self._step(mobility_decline, DeclineSerializer)

    @_mobility_step_schema(_("Record the return home"), ReturnSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, *args, **kwargs):
        return self._step(mobility_return, ReturnSerializer)

    @_mobility_step_schema(_("Record a move to another place"), MoveOnSerializer)
    @action(detail=True, methods=["post"], url_path="move-on")
    def move_on(self, request, *args, **kwargs):
        return self._step(mobility_move_on, MoveOnSerializer)
