"""REST API for organisations (read-only) and transfers, scoped by role."""

from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Length, Substr
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from config.api import ActionThrottleMixin
from members.selectors import member_get
from members.services import audit_record
from organizations import letters, services
from organizations.models import Organization, Transfer, TransferEvent, TransferState
from organizations.scope import Scope, organizations_in_scope, scope_for
from organizations.selectors import (
    TRANSFER_QUEUES,
    transfer_get,
    transfer_list,
    transfers_in_queue,
)


class OrganizationSerializer(serializers.ModelSerializer):
    """An organisation, its region and its place in the tree, by code."""

    region_name = serializers.CharField(source="region.name", read_only=True)
    parent = serializers.CharField(
        source="parent_code",
        read_only=True,
        allow_null=True,
        help_text=_("Code of the parent organisation; null at the top of the tree."),
    )

    class Meta:
        model = Organization
        fields = [
            "code",
            "name",
            "kind",
            "region",
            "region_name",
            "parent",
            "depth",
            "founded_on",
            "dissolved_on",
            "may_approve_probationary",
            "address",
            "phone",
            "time_zone",
        ]
        read_only_fields = fields


class OrganizationFilterSerializer(serializers.Serializer):
    """Query parameters of the organisation list."""

    parent = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Organization.objects.none(),
        required=False,
        help_text=_("Only the direct children of this organisation (a code)."),
    )
    kind = serializers.ChoiceField(choices=Organization.Kind.choices, required=False)

    def __init__(self, *args, scope: Scope | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # A parent outside the scope is as unknown as one that does not
        # exist, so the answer never tells which codes exist elsewhere.
        if scope is not None:
            self.fields["parent"].queryset = organizations_in_scope(scope)


def with_parent_code(organizations: QuerySet[Organization]) -> QuerySet[Organization]:
    """Annotate each organisation with its parent's code, in the same query."""
    # A parent's materialised path is the child's minus its last step.
    parent_path = Substr(
        OuterRef("path"), 1, Length(OuterRef("path")) - Organization.steplen
    )
    parent = Organization.objects.filter(path=parent_path)
    return organizations.annotate(parent_code=Subquery(parent.values("code")[:1]))


@extend_schema_view(
    list=extend_schema(
        summary=_("List organisations"),
        description=_(
            "Organisations in the subtrees the caller's roles reach, in tree "
            "order. Callers without a role get an empty list."
        ),
        parameters=[OrganizationFilterSerializer],
    ),
    retrieve=extend_schema(
        summary=_("Show an organisation"),
        description=_("An organisation outside the caller's scope answers 404."),
    ),
)
class OrganizationViewSet(ActionThrottleMixin, viewsets.ReadOnlyModelViewSet):
    """Organisations the caller may see, looked up by code."""

    serializer_class = OrganizationSerializer
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    action_throttle_scopes = {"list": "list"}

    @cached_property
    def scope(self) -> Scope:
        return scope_for(self.request.user)

    def get_queryset(self) -> QuerySet[Organization]:
        return with_parent_code(organizations_in_scope(self.scope)).order_by("path")

    def filter_queryset(self, queryset: QuerySet[Organization]):
        if self.action != "list":
            return queryset
        filters = OrganizationFilterSerializer(
            data=self.request.query_params, scope=self.scope
        )
        filters.is_valid(raise_exception=True)
        parent = filters.validated_data.get("parent")
        if parent is not None:
            queryset = queryset.filter(
                path__startswith=parent.path, depth=parent.depth + 1
            )
        if kind := filters.validated_data.get("kind"):
            queryset = queryset.filter(kind=kind)
        return queryset


# Transfers (issue 4): the same services and scope as the admin.


class TransferSerializer(serializers.ModelSerializer):
    """A letter as listed: organisations by code, the ID number masked."""

    from_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    to_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    placed_in = serializers.SlugRelatedField(slug_field="code", read_only=True)
    masked_id_number = serializers.CharField(read_only=True)
    has_scan = serializers.SerializerMethodField(
        help_text=_("Whether a scan of a letter from outside is on file.")
    )

    class Meta:
        model = Transfer
        fields = [
            "id",
            "number",
            "state",
            "member",
            "name",
            "gender",
            "age",
            "ethnicity",
            "is_probationary",
            "masked_id_number",
            "from_organization",
            "from_external",
            "to_organization",
            "to_external",
            "placed_in",
            "dues_paid_through",
            "validity_days",
            "issued_on",
            "valid_until",
            "accepted_on",
            "reported_on",
            "effective_on",
            "receipt_returned_on",
            "reissue_of",
            "external_number",
            "issuer_address",
            "issuer_phone",
            "note",
            "has_scan",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_scan(self, transfer: Transfer) -> bool:
        return bool(transfer.letter_scan)


class TransferEventSerializer(serializers.ModelSerializer):
    """One step of a letter's path."""

    actor = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text=_("Null for the nightly jobs."),
    )

    class Meta:
        model = TransferEvent
        fields = ["at", "actor", "from_state", "to_state", "reason"]
        read_only_fields = fields


class TransferDetailSerializer(TransferSerializer):
    """A letter with every step of its path."""

    events = TransferEventSerializer(many=True, read_only=True)

    class Meta(TransferSerializer.Meta):
        fields = [*TransferSerializer.Meta.fields, "events"]
        read_only_fields = fields


class MonthField(serializers.DateField):
    """A calendar month, written 2026-05 (or as a date), kept as its 1st."""

    def __init__(self, **kwargs):
        super().__init__(input_formats=["%Y-%m", "iso-8601"], **kwargs)

    def to_internal_value(self, value):
        return super().to_internal_value(value).replace(day=1)


def _organization_field(help_text: str) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="code",
        queryset=Organization.objects.all(),
        required=False,
        allow_null=True,
        help_text=help_text,
    )


class TransferCreateSerializer(serializers.Serializer):
    """A new letter for a member the caller's organisation holds."""

    member = serializers.IntegerField(help_text=_("The member's id."))
    to_organization = _organization_field(_("Code of the receiving organisation."))
    to_external = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        help_text=_("A receiving organisation outside the system, instead."),
    )
    dues_paid_through = MonthField(help_text=_("The month dues are paid through."))
    validity_days = serializers.IntegerField(required=False, min_value=1)
    effective_on = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True)
    issue = serializers.BooleanField(
        default=False, help_text=_("Issue the letter at once, in the same step.")
    )


class ReasonSerializer(serializers.Serializer):
    """Why: optional for a withdrawal, required to return a letter."""

    reason = serializers.CharField(required=False, allow_blank=True)


class RequiredReasonSerializer(serializers.Serializer):
    """Why the letter goes back to the sending side."""

    reason = serializers.CharField()


class ReportSerializer(serializers.Serializer):
    """The branch below the receiving organisation that takes the member."""

    placed_in = _organization_field(
        _("Code of the branch; the receiving organisation itself when empty.")
    )


class ReissueSerializer(serializers.Serializer):
    """What changes in the successor letter; the rest is kept."""

    to_organization = _organization_field(_("Code of the receiving organisation."))
    to_external = serializers.CharField(
        required=False, allow_blank=True, max_length=255, allow_null=True
    )
    dues_paid_through = MonthField(required=False, allow_null=True)
    validity_days = serializers.IntegerField(
        required=False, min_value=1, allow_null=True
    )
    effective_on = serializers.DateField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True)


class TransferFilterSerializer(serializers.Serializer):
    """Query parameters of the transfer list."""

    queue = serializers.ChoiceField(
        choices=TRANSFER_QUEUES,
        required=False,
        help_text=_("One of the work queues of the sending or receiving side."),
    )
    state = serializers.ChoiceField(choices=TransferState.choices, required=False)


def _step_schema(summary: str, request=None, description: str = ""):
    return extend_schema(
        summary=summary,
        description=description
        or _(
            "Only the side the step belongs to may take it: out of scope 404, "
            "the other side or a read-only role 403, a state that does not "
            "allow it 400 with the code transfer_state."
        ),
        request=request,
        responses=TransferDetailSerializer,
    )


@extend_schema_view(
    list=extend_schema(
        summary=_("List transfers"),
        description=_(
            "Letters the caller's organisations send or receive, newest first."
        ),
        parameters=[TransferFilterSerializer],
    ),
    retrieve=extend_schema(
        summary=_("Show a transfer"),
        description=_("With its history; out of scope answers 404."),
    ),
    create=extend_schema(
        summary=_("Draft a transfer letter"),
        description=_(
            "For the organisation holding the member; with issue=true the "
            "letter is issued in the same transaction."
        ),
        request=TransferCreateSerializer,
        responses={201: TransferDetailSerializer},
    ),
)
class TransferViewSet(
    ActionThrottleMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Transfer letters: the queues of both sides, and every step."""

    serializer_class = TransferDetailSerializer
    queryset = Transfer.objects.none()
    action_throttle_scopes = {"list": "list"}

    @cached_property
    def scope(self) -> Scope:
        return scope_for(self.request.user)

    def get_serializer_class(self):
        return TransferSerializer if self.action == "list" else TransferDetailSerializer

    def get_queryset(self) -> QuerySet[Transfer]:
        return transfer_list(scope=self.scope).order_by("-created_at", "-pk")

    def filter_queryset(self, queryset: QuerySet[Transfer]) -> QuerySet[Transfer]:
        filters = TransferFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        if "queue" in params:
            rows = transfers_in_queue(scope=self.scope, queue=params["queue"])
            queryset = queryset.filter(pk__in=rows.order_by().values("pk"))
        if "state" in params:
            queryset = queryset.filter(state=params["state"])
        return queryset

    def get_object(self) -> Transfer:
        try:
            transfer_id = int(self.kwargs["pk"])
        except ValueError:
            raise NotFound() from None
        return transfer_get(scope=self.scope, transfer_id=transfer_id)

    def retrieve(self, request, *args, **kwargs):
        transfer = self.get_object()

        # A letter is a member's record too: every look at one is logged.
        audit_record(
            actor=request.user,
            action="transfer.view",
            member=transfer.member,
            transfer_id=transfer.pk,
        )

        return Response(TransferDetailSerializer(transfer).data)

    def create(self, request, *args, **kwargs):
        serializer = TransferCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        member = member_get(scope=self.scope, member_id=data.pop("member"))
        issue = data.pop("issue")

        # A letter that cannot be issued is not left behind as a draft.
        with transaction.atomic():
            transfer = services.transfer_create(
                actor=request.user, member=member, **data
            )
            if issue:
                transfer = services.transfer_issue(
                    actor=request.user, transfer=transfer
                )

        return Response(
            TransferDetailSerializer(transfer).data, status=status.HTTP_201_CREATED
        )

    def _step(self, service, serializer_class=None) -> Response:
        transfer = self.get_object()
        data = {}
        if serializer_class is not None:
            serializer = serializer_class(data=self.request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data

        result = service(actor=self.request.user, transfer=transfer, **data)

        return Response(TransferDetailSerializer(result).data)

    @_step_schema(_("Issue a drafted letter"))
    @action(detail=True, methods=["post"])
    def issue(self, request, *args, **kwargs):
        return self._step(services.transfer_issue)

    @_step_schema(_("Withdraw a letter not yet accepted"), ReasonSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, *args, **kwargs):
        return self._step(services.transfer_withdraw, ReasonSerializer)

    @_step_schema(_("Accept an issued letter"))
    @action(detail=True, methods=["post"])
    def accept(self, request, *args, **kwargs):
        return self._step(services.transfer_accept)

    @_step_schema(_("Return a letter to the sending side"), RequiredReasonSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, *args, **kwargs):
        return self._step(services.transfer_return, RequiredReasonSerializer)

    @_step_schema(_("Record the member's arrival (报到)"), ReportSerializer)
    @action(detail=True, methods=["post"])
    def report(self, request, *args, **kwargs):
        return self._step(services.transfer_report, ReportSerializer)

    @_step_schema(_("Record the receipt (回执) as returned"))
    @action(detail=True, methods=["post"])
    def receipt(self, request, *args, **kwargs):
        return self._step(services.transfer_receipt_return)

    @_step_schema(_("Reissue a letter, voiding the old one"), ReissueSerializer)
    @action(detail=True, methods=["post"])
    def reissue(self, request, *args, **kwargs):
        return self._step(services.transfer_reissue, ReissueSerializer)

    @extend_schema(
        summary=_("Download the printable letter"),
        description=_(
            "A PDF for the sending or receiving side, with the ID number masked "
            "unless the caller's role sees full numbers; every download is "
            "audited."
        ),
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"], url_path="letter.pdf")
    def letter(self, request, *args, **kwargs):
        transfer = self.get_object()
        letter = letters.letter_download(actor=request.user, transfer=transfer)
        return letters.letter_response(letter)
