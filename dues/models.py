"""Dues: the rules as data, each member's assessment, the monthly ledger,
payment orders, gateway notifications and refunds.

Money is ``Decimal`` yuan with two places everywhere; no float ever holds an
amount. The ledger has one live row per member and month due; a payment
settles rows, a refund reopens them, nothing deletes a paid row.
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import (
    ArrayField,
    DecimalRangeField,
    RangeOperators,
)
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.crypto import EncryptedTextField

MONEY = {"max_digits": 12, "decimal_places": 2}


class Category(models.TextChoices):
    """How a member's dues are assessed (DESIGN.md, dues)."""

    IN_SERVICE = "in_service", _("In service, monthly wage")
    ANNUAL_SALARY = "annual_salary", _("Annual salary")
    SELF_EMPLOYED = "self_employed", _("Self-employed or without a monthly wage")
    RETIRED = "retired", _("Retired")
    FARMER = "farmer", _("Farmer")
    FARMER_WITH_INCOME = "farmer_income", _("Farmer working away with an income")
    STUDENT = "student", _("Student")
    UNEMPLOYED = "unemployed", _("Unemployed")
    RELIEF = "relief", _("On relief or subsistence allowance")


# Categories assessed as a rate of an income base; the others pay a fixed
# amount chosen within the rule's range.
BASED_CATEGORIES = frozenset(
    {
        Category.IN_SERVICE,
        Category.ANNUAL_SALARY,
        Category.SELF_EMPLOYED,
        Category.RETIRED,
        Category.FARMER_WITH_INCOME,
    }
)


class DuesPolicy(models.Model):
    """One issuing authority's dues rules, in force from a date."""

    name = models.CharField(_("name"), max_length=128)
    issued_by = models.CharField(_("issued by"), max_length=128)
    document_number = models.CharField(_("document number"), max_length=64, blank=True)
    effective_from = models.DateField(_("effective from"), unique=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("dues policy")
        verbose_name_plural = _("dues policies")
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"{self.name} ({self.effective_from:%Y-%m-%d})"


class DuesRule(models.Model):
    """One bracket or fixed amount of a policy for one category.

    A bracket covers bases in ``(lower, upper]``; its rate applies to the
    whole base, not to the slice inside the bracket.
    """

    policy = models.ForeignKey(
        DuesPolicy,
        on_delete=models.CASCADE,
        related_name="rules",
        verbose_name=_("policy"),
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    base_range = DecimalRangeField(
        _("base range"),
        null=True,
        blank=True,
        default_bounds="(]",
        help_text=_("Monthly base above the lower bound, up to the upper bound."),
    )
    rate = models.DecimalField(
        _("rate"), max_digits=6, decimal_places=4, null=True, blank=True
    )
    fixed_minimum = models.DecimalField(
        _("fixed amount from"), null=True, blank=True, **MONEY
    )
    fixed_maximum = models.DecimalField(
        _("fixed amount up to"), null=True, blank=True, **MONEY
    )

    class Meta:
        verbose_name = _("dues rule")
        verbose_name_plural = _("dues rules")
        ordering = ["policy", "category", "base_range"]
        constraints = [
            # Brackets of one category never overlap, so a base always
            # finds at most one rule.
            ExclusionConstraint(
                name="dues_rule_brackets_disjoint",
                expressions=[
                    ("policy", RangeOperators.EQUAL),
                    ("category", RangeOperators.EQUAL),
                    ("base_range", RangeOperators.OVERLAPS),
                ],
                condition=Q(base_range__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["policy", "category"],
                condition=Q(base_range__isnull=True),
                name="dues_rule_one_fixed_amount",
            ),
            models.CheckConstraint(
                name="dues_rule_rate_or_fixed",
                condition=(
                    Q(
                        base_range__isnull=False,
                        rate__isnull=False,
                        rate__gt=0,
                        rate__lt=1,
                        fixed_minimum__isnull=True,
                        fixed_maximum__isnull=True,
                    )
                    | Q(
                        base_range__isnull=True,
                        rate__isnull=True,
                        fixed_minimum__isnull=False,
                        fixed_maximum__gte=F("fixed_minimum"),
                        fixed_minimum__gte=0,
                    )
                ),
            ),
        ]

    def __str__(self) -> str:
        if self.rate is not None:
            return f"{self.get_category_display()} {self.base_range}: {self.rate:%}"
        return (
            f"{self.get_category_display()}: {self.fixed_minimum}–{self.fixed_maximum}"
        )


class Assessment(models.Model):
    """A member's category and base from a month on, and what it yields.

    The yearly assessment applies from January (or the month the member
    owes from); a new income adds a row from the month it is first paid.
    The row in force for a month is the latest one starting on or before it.
    """

    class Source(models.TextChoices):
        SECRETARY = "secretary", _("Recorded by a secretary")
        IMPORT = "import", _("Imported")

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="dues_assessments",
        verbose_name=_("member"),
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("assessed by"),
    )
    applies_from = models.DateField(_("applies from month"))
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    # Income is personal data: encrypted at rest like ID numbers. Empty for
    # fixed-amount categories.
    base = EncryptedTextField(_("monthly base"), purpose="dues.base", blank=True)
    monthly_amount = models.DecimalField(_("monthly dues"), **MONEY)
    policy = models.ForeignKey(
        DuesPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("policy")
    )
    rule = models.ForeignKey(
        DuesRule, on_delete=models.PROTECT, related_name="+", verbose_name=_("rule")
    )
    source = models.CharField(
        _("source"), max_length=16, choices=Source.choices, default=Source.SECRETARY
    )
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        "members.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("dues assessment")
        verbose_name_plural = _("dues assessments")
        ordering = ["member", "-applies_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "applies_from"], name="dues_assessment_one_per_month"
            ),
            models.CheckConstraint(
                condition=Q(monthly_amount__gte=0, applies_from__day=1),
                name="dues_assessment_amount_month",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member.name} {self.applies_from:%Y-%m}: {self.monthly_amount}"


class Reduction(models.Model):
    """Paying less or nothing: a branch decision, approved higher up."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="dues_reductions",
        verbose_name=_("member"),
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("deciding branch"),
    )
    first_month = models.DateField(_("first month"))
    last_month = models.DateField(_("last month"))
    monthly_amount = models.DecimalField(_("reduced monthly dues"), **MONEY)
    reason = models.TextField(_("reason"))
    branch_decided_on = models.DateField(_("branch decided on"))
    decision_reference = models.CharField(
        _("decision reference"), max_length=128, blank=True
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    requested_by = models.ForeignKey(
        "members.User",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        "members.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("dues reduction")
        verbose_name_plural = _("dues reductions")
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    last_month__gte=F("first_month"),
                    first_month__day=1,
                    last_month__day=1,
                ),
                name="dues_reduction_months_ordered",
            ),
            models.CheckConstraint(
                condition=Q(monthly_amount__gte=0), name="dues_reduction_amount_sign"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.member.name} {self.first_month:%Y-%m}–{self.last_month:%Y-%m}: "
            f"{self.monthly_amount} ({self.get_status_display()})"
        )


class LedgerEntry(models.Model):
    """One month a member owes dues, to the organisation collecting it.

    Rule: the organisation holding the relationship on the first day of the
    month collects that month; in the month a member joins or enters the
    system mid-month, the one holding them on their first day does.
    """

    class Status(models.TextChoices):
        DUE = "due", _("Due")
        PAID = "paid", _("Paid")
        WAIVED = "waived", _("Waived by approved reduction")
        CANCELLED = "cancelled", _("Cancelled")

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="dues_entries",
        verbose_name=_("member"),
    )
    month = models.DateField(_("month"))
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="dues_entries",
        verbose_name=_("collecting organization"),
    )
    # Null while the member has no assessment yet: the month is owed, the
    # amount is not known.
    amount_due = models.DecimalField(_("amount due"), null=True, blank=True, **MONEY)
    assessment = models.ForeignKey(
        Assessment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
        verbose_name=_("assessment"),
    )
    reduction = models.ForeignKey(
        Reduction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
        verbose_name=_("reduction"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DUE
    )
    paid_amount = models.DecimalField(_("paid"), default=0, **MONEY)
    voluntary_amount = models.DecimalField(_("paid voluntarily"), default=0, **MONEY)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    payment = models.ForeignKey(
        "dues.PaymentOrder",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settled_entries",
        verbose_name=_("payment"),
    )
    # Set when a certificate holder paid at the inflow organisation: the
    # month stays on the outflow organisation's ledger, collected there.
    collected_by = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="dues_collected",
        verbose_name=_("collected by"),
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("why cancelled"), max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("dues ledger entry")
        verbose_name_plural = _("dues ledger")
        ordering = ["member", "month"]
        indexes = [
            models.Index(fields=["organization", "month"], name="dues_entry_org_month"),
            models.Index(
                fields=["member", "month"],
                condition=Q(status="due"),
                name="dues_entry_open",
            ),
        ]
        constraints = [
            # One live row per member and month: the month is counted once.
            models.UniqueConstraint(
                fields=["member", "month"],
                condition=~Q(status="cancelled"),
                name="dues_entry_one_live_per_month",
            ),
            models.CheckConstraint(
                condition=Q(month__day=1), name="dues_entry_month_first_day"
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0, voluntary_amount__gte=0),
                name="dues_entry_paid_sign",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(payment__isnull=False),
                name="dues_entry_paid_has_payment",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.member.name} {self.month:%Y-%m}: {self.amount_due} "
            f"({self.get_status_display()})"
        )

    @property
    def outstanding(self):
        if self.status != self.Status.DUE or self.amount_due is None:
            return None if self.amount_due is None else 0
        return self.amount_due - self.paid_amount


class PaymentOrder(models.Model):
    """A member's payment for a set of months through one channel."""

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "approval", _("Awaiting the secretary's approval")
        REJECTED = "rejected", _("Rejected")
        PENDING = "pending", _("Waiting for payment")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        CLOSED = "closed", _("Closed unpaid")
        REFUNDED = "refunded", _("Refunded")
        PARTLY_REFUNDED = "part_refund", _("Partly refunded")

    class Channel(models.TextChoices):
        SANDBOX = "sandbox", _("Sandbox gateway")
        WECHAT = "wechat", _("WeChat Pay")
        ALIPAY = "alipay", _("Alipay")
        CASH = "cash", _("Cash")
        BANK = "bank", _("Bank transfer")

    class Payer(models.TextChoices):
        SELF = "self", _("The member")
        ON_BEHALF = "on_behalf", _("Another person on the member's behalf")

    OPEN_STATUSES = ("approval", "pending")

    reference = models.CharField(_("order number"), max_length=32, unique=True)
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="dues_orders",
        verbose_name=_("member"),
    )
    # The same member and set of months always give the same key, so a
    # double click or a retry finds the open order instead of a second one.
    idempotency_key = models.CharField(max_length=64, editable=False)
    months = ArrayField(models.DateField(), verbose_name=_("months"))
    amount = models.DecimalField(_("amount"), **MONEY)
    voluntary_amount = models.DecimalField(_("paid voluntarily"), default=0, **MONEY)
    channel = models.CharField(
        pgettext_lazy("payment", "channel"), max_length=8, choices=Channel.choices
    )
    payer = models.CharField(
        _("paid by"), max_length=10, choices=Payer.choices, default=Payer.SELF
    )
    payer_name = models.CharField(_("payer's name"), max_length=64, blank=True)
    collected_by = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="dues_orders",
        verbose_name=_("collected by"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    approval_reason = models.CharField(
        _("needs approval because"), max_length=128, blank=True
    )
    decided_by = models.ForeignKey(
        "members.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved or rejected by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    gateway_transaction_id = models.CharField(
        _("gateway transaction"), max_length=64, blank=True
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    receipt_number = models.CharField(
        _("receipt number"), max_length=32, null=True, blank=True, unique=True
    )
    refunded_amount = models.DecimalField(_("refunded"), default=0, **MONEY)
    created_by = models.ForeignKey(
        "members.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("dues payment")
        verbose_name_plural = _("dues payments")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(status="pending"),
                name="dues_order_pending",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "gateway_transaction_id"],
                condition=~Q(gateway_transaction_id=""),
                name="dues_order_one_per_transaction",
            ),
            models.UniqueConstraint(
                fields=["member", "idempotency_key"],
                condition=Q(status__in=["approval", "pending"]),
                name="dues_order_one_open_per_key",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0, voluntary_amount__gte=0),
                name="dues_order_amount_sign",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("amount")),
                name="dues_order_refund_bounded",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["paid", "refunded", "part_refund"])
                | Q(paid_at__isnull=False, receipt_number__isnull=False),
                name="dues_order_paid_has_receipt",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} ({self.get_status_display()})"


class PaymentLine(models.Model):
    """What one order pays for one ledger month."""

    order = models.ForeignKey(
        PaymentOrder,
        on_delete=models.CASCADE,
        related_name="lines",
        verbose_name=_("payment"),
    )
    entry = models.ForeignKey(
        LedgerEntry,
        on_delete=models.PROTECT,
        related_name="payment_lines",
        verbose_name=_("ledger month"),
    )
    month = models.DateField(_("month"))
    amount_due = models.DecimalField(_("amount due"), **MONEY)
    voluntary_amount = models.DecimalField(_("paid voluntarily"), default=0, **MONEY)
    refunded = models.BooleanField(_("refunded"), default=False)

    class Meta:
        verbose_name = _("payment line")
        verbose_name_plural = _("payment lines")
        ordering = ["order", "month"]
        constraints = [
            models.UniqueConstraint(fields=["order", "entry"], name="dues_line_once"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.month:%Y-%m}: {self.amount_due}"


class GatewayNotification(models.Model):
    """Every callback a gateway delivered, kept whatever its fate."""

    class Outcome(models.TextChoices):
        CREDITED = "credited", _("Credited")
        DUPLICATE = "duplicate", _("Already credited")
        BAD_SIGNATURE = "bad_signature", _("Signature invalid")
        AMOUNT_MISMATCH = "mismatch", _("Amount does not match")
        UNKNOWN_ORDER = "unknown", _("Unknown order")
        FAILED = "failed", _("Payment failed")
        IGNORED = "ignored", _("Ignored (out of order)")
        REFUNDED = "refunded", _("Refund confirmed")

    channel = models.CharField(
        pgettext_lazy("payment", "channel"),
        max_length=8,
        choices=PaymentOrder.Channel.choices,
    )
    order = models.ForeignKey(
        PaymentOrder,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("payment"),
    )
    order_reference = models.CharField(_("order number"), max_length=64, blank=True)
    transaction_id = models.CharField(
        _("gateway transaction"), max_length=64, blank=True
    )
    amount = models.DecimalField(_("amount"), null=True, blank=True, **MONEY)
    trade_status = models.CharField(_("gateway status"), max_length=32, blank=True)
    outcome = models.CharField(
        pgettext_lazy("gateway query", "outcome"),
        max_length=16,
        choices=Outcome.choices,
    )
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("gateway notification")
        verbose_name_plural = _("gateway notifications")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.channel} {self.order_reference}: {self.outcome}"


class Refund(models.Model):
    """Money returned for some months of a paid order; the months reopen."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested from the gateway")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Failed")

    order = models.ForeignKey(
        PaymentOrder,
        on_delete=models.PROTECT,
        related_name="refunds",
        verbose_name=_("payment"),
    )
    reference = models.CharField(_("refund number"), max_length=32, unique=True)
    months = ArrayField(models.DateField(), verbose_name=_("months"))
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED
    )
    gateway_refund_id = models.CharField(_("gateway refund"), max_length=64, blank=True)
    requested_by = models.ForeignKey(
        "members.User",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("dues refund")
        verbose_name_plural = _("dues refunds")
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="dues_refund_amount_sign"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} ({self.get_status_display()})"


class ReceiptSequence(models.Model):
    """The last receipt number handed out in a year."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("receipt number sequence")
        verbose_name_plural = _("receipt number sequences")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"
