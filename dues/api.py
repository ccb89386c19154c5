"""REST API for dues: a member's own statement and orders, and for staff the
ledger, its summary and assessments.

The same selectors and services as the admin and the portal; the scope
decides what a caller sees (out of scope 404, read-only 403). Income bases
are written, never read back: no response carries a base.
"""

import logging

from django.db.models import QuerySet
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from config.api import IsStaffScope, ListThrottleMixin
from dues.admin.scoping import assessments_in_scope, parse_month
from dues.gateways import GatewayError
from dues.models import MONEY, Assessment, Category, LedgerEntry, PaymentOrder
from dues.rules import PLAIN_AMOUNT
from dues.selectors import ledger_entries, member_statement, organization_ledger
from dues.services.assessment import record_assessment
from dues.services.payments import open_order, start_payment
from members.models import Member
from members.selectors import member_get, member_own
from organizations.models import Organization
from organizations.scope import OutOfScope, Scope, scope_for, today

logger = logging.getLogger(__name__)

# Status fields are plain strings in the schema: several dues models name a
# "status" with other choices, and the schema would otherwise need an enum
# name for each.
ENTRY_STATUSES = ", ".join(LedgerEntry.Status.values)
ORDER_STATUSES = ", ".join(PaymentOrder.Status.values)


class _PlainDecimalField(serializers.DecimalField):
    # "1e3" is a valid Decimal but no way to write a sum of money: a slip.
    def to_internal_value(self, data):
        if isinstance(data, str) and not PLAIN_AMOUNT.fullmatch(data.strip()):
            self.fail("invalid")
        return super().to_internal_value(data)


def _money(**kwargs) -> serializers.DecimalField:
    return _PlainDecimalField(
        max_digits=MONEY["max_digits"],
        decimal_places=MONEY["decimal_places"],
        **kwargs,
    )


# --- the member's own dues ---------------------------------------------------


class OwnEntrySerializer(serializers.ModelSerializer):
    """One of the caller's ledger months."""

    status = serializers.CharField(read_only=True, help_text=ENTRY_STATUSES)
    organization = serializers.CharField(source="organization.name", read_only=True)
    collected_by = serializers.CharField(
        source="collected_by.name", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = LedgerEntry
        fields = [
            "month",
            "amount_due",
            "status",
            "paid_amount",
            "voluntary_amount",
            "paid_at",
            "organization",
            "collected_by",
        ]
        read_only_fields = fields


class StatementSerializer(serializers.Serializer):
    """What the caller owes and has paid."""

    current_month = serializers.DateField()
    arrears = OwnEntrySerializer(many=True)
    current = OwnEntrySerializer(allow_null=True)
    ahead = OwnEntrySerializer(many=True)
    paid = OwnEntrySerializer(many=True)
    arrears_amount = _money()
    current_amount = _money()
    total_due = _money()
    last_paid_month = serializers.DateField(allow_null=True)


class OwnOrderSerializer(serializers.ModelSerializer):
    """One of the caller's payment orders."""

    status = serializers.CharField(read_only=True, help_text=ORDER_STATUSES)
    channel = serializers.CharField(read_only=True)
    payer = serializers.CharField(read_only=True)
    months = serializers.ListField(child=serializers.DateField(), read_only=True)
    collected_by = serializers.CharField(source="collected_by.name", read_only=True)
    pay_url = serializers.SerializerMethodField(
        help_text=_(
            "Where to pay; empty unless the order is waiting for payment and "
            "the payment service answers (read the order again later)."
        )
    )

    class Meta:
        model = PaymentOrder
        fields = [
            "reference",
            "months",
            "amount",
            "voluntary_amount",
            "channel",
            "payer",
            "payer_name",
            "status",
            "approval_reason",
            "collected_by",
            "paid_at",
            "receipt_number",
            "refunded_amount",
            "created_at",
            "pay_url",
        ]
        read_only_fields = fields

    def get_pay_url(self, order: PaymentOrder) -> str:
        return self.context.get("pay_url", "")


class OrderRequestSerializer(serializers.Serializer):
    """Months to pay, who pays, and any voluntary amount on top."""

    months = serializers.ListField(
        child=serializers.CharField(max_length=10),
        allow_empty=False,
        max_length=24,
        help_text=_("Months as YYYY-MM."),
    )
    payer = serializers.CharField(
        default=PaymentOrder.Payer.SELF,
        help_text=_(
            "self or on_behalf; the organization paying or a wage deduction is refused."
        ),
    )
    payer_name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=64
    )
    voluntary_amount = _money(required=False, default="0.00", min_value=0)
    at_inflow = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("Pay at the inflow organization (certificate holders)."),
    )

    def validate_months(self, values: list[str]):
        months = [parse_month(value) for value in values]
        if None in months:
            raise serializers.ValidationError(
                _("Give months as YYYY-MM."), code="month_invalid"
            )
        return months


def _own_member(request) -> Member:
    member = member_own(user=request.user)
    if member is None:
        raise NotFound(_("This account has no member record."))
    return member


@extend_schema(
    summary=_("Show my dues"),
    description=_(
        "Arrears, this month, months payable ahead and paid months; 404 for "
        "an account without a member record."
    ),
    responses=StatementSerializer,
)
class OwnDuesView(APIView):
    """The caller's dues statement."""

    def get(self, request):
        statement = member_statement(_own_member(request))
        return Response(StatementSerializer(statement).data)


def _pay_url(request, order: PaymentOrder) -> str:
    # TODO: every read of a pending order asks the gateway afresh (for
    # WeChat Pay, a prepay request). The providers accept the repeat for
    # the same out_trade_no, but a short-lived cache of the URL per order
    # would spare them; not done yet because the URLs expire on their side
    # at times we do not control.
    if order.status != PaymentOrder.Status.PENDING:
        return ""
    back = request.build_absolute_uri(reverse("dues:order", args=[order.reference]))
    try:
        return start_payment(order, return_url=back)
    except GatewayError:
        # The order is written either way; reading it again once the
        # gateway is back gives the pay URL, as the portal's order page does.
        logger.warning("dues gateway unreachable order=%s", order.reference)
        return ""


@extend_schema(
    summary=_("Open an order to pay months of my dues"),
    description=_(
        "The same months give the same order back (200) while it is open; a "
        "new order answers 201. More than six months of arrears or ahead "
        "waits for the secretary's approval, without a pay URL. Broken rules "
        "answer 400 with stable codes."
    ),
    request=OrderRequestSerializer,
    responses={200: OwnOrderSerializer, 201: OwnOrderSerializer},
)
class OwnOrderCreateView(APIView):
    """Open (or find again) an order for months of the caller's dues."""

    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, ScopedRateThrottle]
    throttle_scope = "list"

    def post(self, request):
        member = _own_member(request)
        serializer = OrderRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        open_before = set(
            member.dues_orders.filter(
                status__in=PaymentOrder.OPEN_STATUSES
            ).values_list("pk", flat=True)
        )

        order = open_order(actor=request.user, member=member, **data)
        reused = order.pk in open_before

        context = {"pay_url": _pay_url(request, order)}
        return Response(
            OwnOrderSerializer(order, context=context).data,
            status=status.HTTP_200_OK if reused else status.HTTP_201_CREATED,
        )


@extend_schema(
    summary=_("Show one of my orders"),
    description=_("Anyone else's order number answers 404."),
    responses=OwnOrderSerializer,
)
class OwnOrderView(APIView):
    """One of the caller's orders, by its number."""

    def get(self, request, reference: str):
        member = _own_member(request)
        order = member.dues_orders.select_related("collected_by").filter(
            reference=reference
        )
        order = order.first()
        if order is None:
            raise NotFound()
        context = {"pay_url": _pay_url(request, order)}
        return Response(OwnOrderSerializer(order, context=context).data)


# --- staff: the ledger and assessments --------------------------------------


class LedgerEntrySerializer(serializers.ModelSerializer):
    """A ledger month as staff see it: masked identity, amounts, payment."""

    member_name = serializers.CharField(source="member.name", read_only=True)
    member_masked_id_number = serializers.CharField(
        source="member.masked_id_number", read_only=True
    )
    status = serializers.CharField(read_only=True, help_text=ENTRY_STATUSES)
    organization = serializers.CharField(source="organization.code", read_only=True)
    collected_by = serializers.CharField(
        source="collected_by.code", read_only=True, allow_null=True, default=None
    )
    outstanding = serializers.SerializerMethodField()

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "member",
            "member_name",
            "member_masked_id_number",
            "month",
            "organization",
            "amount_due",
            "status",
            "paid_amount",
            "voluntary_amount",
            "outstanding",
            "paid_at",
            "collected_by",
        ]
        read_only_fields = fields

    @extend_schema_field(_money(allow_null=True))
    def get_outstanding(self, entry: LedgerEntry) -> str | None:
        value = entry.outstanding
        return None if value is None else f"{value:.2f}"


class LedgerFilterSerializer(serializers.Serializer):
    """Query parameters of the ledger list."""

    organization = serializers.CharField(
        required=False,
        help_text=_("Months owed to (or collected by) this organisation's subtree."),
    )
    month = serializers.CharField(required=False, help_text=_("YYYY-MM"))
    status = serializers.ChoiceField(choices=LedgerEntry.Status.values, required=False)

    def validate_month(self, value: str):
        month = parse_month(value)
        if month is None:
            raise serializers.ValidationError(
                _("Give the month as YYYY-MM."), code="month_invalid"
            )
        return month


def _organization(scope: Scope, code: str) -> Organization:
    """An organisation by code, answered as absent when out of scope."""
    organization = Organization.objects.filter(code=code).first()
    if organization is None or not scope.reads(organization):
        raise OutOfScope()
    return organization


class StaffScopeMixin:
    permission_classes = [IsAuthenticated, IsStaffScope]

    @cached_property
    def scope(self) -> Scope:
        return scope_for(self.request.user)


@extend_schema_view(
    get=extend_schema(
        summary=_("List ledger months"),
        description=_(
            "Months the caller's organisations collect, newest first. An "
            "organisation outside the caller's scope answers 404; a caller "
            "without a role 403."
        ),
        parameters=[LedgerFilterSerializer],
    )
)
class LedgerEntryListView(StaffScopeMixin, ListThrottleMixin, generics.ListAPIView):
    """Ledger months in the caller's scope."""

    serializer_class = LedgerEntrySerializer
    queryset = LedgerEntry.objects.none()

    def get_queryset(self) -> QuerySet[LedgerEntry]:
        filters = LedgerFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        organization = None
        if "organization" in params:
            organization = _organization(self.scope, params["organization"])
        entries = ledger_entries(
            scope=self.scope,
            organization=organization,
            month=params.get("month"),
            status=params.get("status"),
        )
        return entries.order_by("-month", "organization__path", "member__name", "pk")


class TotalsSerializer(serializers.Serializer):
    due = _money()
    paid = _money()
    outstanding = _money()
    voluntary = _money()
    months = serializers.IntegerField()
    open_months = serializers.IntegerField()
    paid_months = serializers.IntegerField()
    waived_months = serializers.IntegerField()
    unassessed_months = serializers.IntegerField()


class OrganizationTotalsSerializer(serializers.Serializer):
    organization_id = serializers.IntegerField()
    name = serializers.CharField()
    totals = TotalsSerializer()


class LedgerSummarySerializer(serializers.Serializer):
    """An organisation's ledger for a month, as on the admin ledger page."""

    organization = serializers.CharField(source="organization.code")
    month = serializers.DateField()
    totals = TotalsSerializer()
    by_organization = OrganizationTotalsSerializer(many=True)
    collected_for_others_amount = _money()


class SummaryFilterSerializer(serializers.Serializer):
    organization = serializers.CharField(help_text=_("An organisation's code."))
    month = serializers.CharField(required=False, help_text=_("YYYY-MM; this month."))

    validate_month = LedgerFilterSerializer.validate_month


@extend_schema(
    summary=_("Show an organisation's ledger for a month"),
    description=_(
        "Due, paid, outstanding and voluntary totals of the organisation's "
        "subtree, the same figures as the admin ledger page; out of scope 404."
    ),
    parameters=[SummaryFilterSerializer],
    responses=LedgerSummarySerializer,
)
class LedgerSummaryView(StaffScopeMixin, APIView):
    """One organisation's ledger totals for a month."""

    def get(self, request):
        filters = SummaryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        organization = _organization(self.scope, params["organization"])
        month = params.get("month") or today().replace(day=1)
        summary = organization_ledger(
            scope=self.scope, organization=organization, month=month
        )
        return Response(LedgerSummarySerializer(summary).data)


class AssessmentSerializer(serializers.ModelSerializer):
    """A member's assessment; the base is written, never read back."""

    member = serializers.IntegerField(source="member_id")
    member_name = serializers.CharField(source="member.name", read_only=True)
    organization = serializers.CharField(source="organization.code", read_only=True)
    category = serializers.ChoiceField(choices=Category.choices)
    applies_from = serializers.CharField(help_text=_("The first month, YYYY-MM."))
    base = _money(
        write_only=True,
        required=False,
        allow_null=True,
        min_value=0,
        help_text=_("Monthly income base in yuan; never returned."),
    )
    quarter_incomes = serializers.ListField(
        child=_money(min_value=0),
        write_only=True,
        required=False,
        allow_null=True,
        min_length=3,
        max_length=3,
        help_text=_("Self-employed: the three monthly net incomes of last quarter."),
    )
    fixed_amount = _money(
        write_only=True,
        required=False,
        allow_null=True,
        min_value=0,
        help_text=_("Farmers: the chosen amount, 0.20 to 1.00."),
    )
    source = serializers.CharField(read_only=True)

    class Meta:
        model = Assessment
        fields = [
            "id",
            "member",
            "member_name",
            "organization",
            "applies_from",
            "category",
            "monthly_amount",
            "policy",
            "rule",
            "source",
            "note",
            "recorded_at",
            "base",
            "quarter_incomes",
            "fixed_amount",
        ]
        read_only_fields = [
            "id",
            "member_name",
            "organization",
            "monthly_amount",
            "policy",
            "rule",
            "source",
            "recorded_at",
        ]

    def validate_applies_from(self, value: str):
        month = parse_month(value)
        if month is None:
            raise serializers.ValidationError(
                _("Give the month as YYYY-MM."), code="month_invalid"
            )
        return month

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["applies_from"] = f"{instance.applies_from:%Y-%m}"
        return data


@extend_schema_view(
    get=extend_schema(
        summary=_("List assessments"),
        description=_(
            "Assessments recorded by, or of members held by, the caller's "
            "organisations; no base is ever returned."
        ),
    ),
    post=extend_schema(
        summary=_("Record an assessment"),
        description=_(
            "For the secretary of the member's organisation: the monthly dues "
            "are computed by the rules in force; a member out of scope 404, a "
            "read-only role 403, a rule broken 400 with a stable code."
        ),
    ),
)
class AssessmentListView(
    StaffScopeMixin, ListThrottleMixin, generics.ListCreateAPIView
):
    """Assessments in the caller's scope, and recording a new one."""

    serializer_class = AssessmentSerializer
    queryset = Assessment.objects.none()

    def get_queryset(self) -> QuerySet[Assessment]:
        return assessments_in_scope(self.scope).order_by(
            "-applies_from", "member__name", "pk"
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        member = member_get(scope=self.scope, member_id=data.pop("member_id"))

        assessment = record_assessment(actor=request.user, member=member, **data)

        return Response(
            self.get_serializer(assessment).data, status=status.HTTP_201_CREATED
        )


urlpatterns = [
    path("me/dues/", OwnDuesView.as_view(), name="api-me-dues"),
    path("me/dues/orders/", OwnOrderCreateView.as_view(), name="api-me-dues-orders"),
    path(
        "me/dues/orders/<slug:reference>/",
        OwnOrderView.as_view(),
        name="api-me-dues-order",
    ),
    path("dues/ledger/", LedgerEntryListView.as_view(), name="api-dues-ledger"),
    path(
        "dues/ledger/summary/",
        LedgerSummaryView.as_view(),
        name="api-dues-ledger-summary",
    ),
    path(
        "dues/assessments/",
        AssessmentListView.as_view(),
        name="api-dues-assessments",
    ),
]
