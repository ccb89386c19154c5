"""Recording assessments and reductions.

An assessment is a member's category and base from a month on: the yearly
one from January (or the month the member owes from), a new one from the
month a new income is first paid; annual-salary earners get one a month,
for the pay actually received. Recording the same month again replaces the
row. A reduction (paying less or nothing) is a branch decision recorded by
the branch and decided by a higher committee. Both re-price the member's
unpaid ledger months; paid and waived months keep what they were settled at.
"""

import datetime
import logging
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dues.models import Assessment, Category, Reduction
from dues.rules import DuesError, assess, month_start, parse_money, to_fen
from dues.services.ledger import reprice_months
from members.models import Member, User
from members.selectors import current_organization
from members.services import audit_record
from members.services._common import require_write
from organizations.models import Organization
from organizations.scope import OutOfScope, ReadOnlyScope, Scope, scope_for

logger = logging.getLogger(__name__)

QUARTER_MONTHS = 3

# An assessment may be recorded ahead (a raise known in advance), but not
# further than a year: a start in 2099 is a typing slip.
MAX_MONTHS_AHEAD = 12


def _holder(member: Member, month: datetime.date) -> Organization | None:
    # The organisation holding the member today records for them; for a
    # member no longer (or not yet) held, the one holding them that month.
    return current_organization(member) or current_organization(
        member, on=month_start(month)
    )


def _quarter_base(category: str, base, quarter_incomes) -> Decimal | None:
    """The self-employed base: the previous quarter's average net income."""
    if quarter_incomes is None:
        return base
    if category != Category.SELF_EMPLOYED:
        raise DuesError(
            _("Only self-employed members are assessed on a quarter's incomes."),
            code="quarter_not_applicable",
        )
    if base is not None and base != "":
        raise DuesError(
            _("Give either the base or the quarter's incomes, not both."),
            code="base_and_quarter",
        )
    incomes = [parse_money(value, field="income") for value in quarter_incomes]
    if len(incomes) != QUARTER_MONTHS or None in incomes:
        raise DuesError(
            _("Give the net income of each of the quarter's three months."),
            code="quarter_incomes_count",
        )
    return to_fen(sum(incomes) / QUARTER_MONTHS)


def _refuse_far_future(month: datetime.date, *, field: str = "applies_from") -> None:
    this_month = month_start(timezone.localdate())
    months_ahead = (month.year - this_month.year) * 12 + month.month - this_month.month
    if months_ahead > MAX_MONTHS_AHEAD:
        message = (
            _("An assessment can start at most %(count)s months from now.")
            if field == "applies_from"
            else _("A reduction can end at most %(count)s months from now.")
        )
        raise ValidationError(
            {
                field: ValidationError(
                    message % {"count": MAX_MONTHS_AHEAD},
                    code="applies_from_too_far",
                )
            }
        )


@transaction.atomic
def record_assessment(
    *,
    actor: User,
    member: Member,
    category: str,
    applies_from: datetime.date,
    base=None,
    quarter_incomes: Sequence | None = None,
    fixed_amount=None,
    note: str = "",
    source: str = Assessment.Source.SECRETARY,
) -> Assessment:
    """Record ``member``'s assessment from ``applies_from``'s month on."""
    month = month_start(applies_from)
    _refuse_far_future(month)
    organization = _holder(member, month)
    require_write(scope_for(actor), organization)
    if source not in Assessment.Source.values:
        raise ValidationError({"source": _("Unknown source.")}, code="invalid")
    base = _quarter_base(category, base, quarter_incomes)
    assessed = assess(
        category=category, month=month, base=base, fixed_amount=fixed_amount
    )

    # The member's row lock serialises two secretaries recording the same
    # month, so the second replaces the first instead of failing.
    Member.objects.select_for_update().filter(pk=member.pk).first()
    assessment = Assessment.objects.filter(member=member, applies_from=month).first()
    replaced = assessment is not None
    assessment = assessment or Assessment(member=member, applies_from=month)
    assessment.organization = organization
    assessment.category = category
    assessment.base = "" if assessed.base is None else str(assessed.base)
    assessment.monthly_amount = assessed.amount
    assessment.policy, assessment.rule = assessed.policy, assessed.rule
    assessment.source, assessment.note = source, note.strip()
    assessment.recorded_by = actor
    assessment.save()
    repriced = reprice_months(member_id=member.pk, first_month=month)

    # The base and the amount are income data: the audit row names the
    # assessment, never the figures.
    audit_record(
        actor=actor,
        action="dues.assessment.replaced" if replaced else "dues.assessment.recorded",
        member=member,
        organization=organization,
        assessment_id=assessment.pk,
        applies_from=f"{month:%Y-%m}",
        category=category,
        rule_id=assessed.rule.pk,
        repriced=repriced,
    )
    logger.info(
        "dues assessment recorded assessment_id=%s member_id=%s repriced=%s",
        assessment.pk,
        member.pk,
        repriced,
    )
    return assessment


@transaction.atomic
def request_reduction(
    *,
    actor: User,
    member: Member,
    first_month: datetime.date,
    last_month: datetime.date,
    monthly_amount,
    reason: str,
    branch_decided_on: datetime.date,
    decision_reference: str = "",
) -> Reduction:
    """Record a branch decision that ``member`` pays less; pending approval."""
    first, last = month_start(first_month), month_start(last_month)
    branch = _holder(member, first)
    require_write(scope_for(actor), branch)
    amount = _checked_reduction(
        first=first,
        last=last,
        monthly_amount=monthly_amount,
        reason=reason,
        branch_decided_on=branch_decided_on,
    )
    _require_below_assessed(member, first, last, amount)

    Member.objects.select_for_update().filter(pk=member.pk).first()
    overlapping = Reduction.objects.filter(
        member=member,
        status__in=[Reduction.Status.PENDING, Reduction.Status.APPROVED],
        first_month__lte=last,
        last_month__gte=first,
    )
    if overlapping.exists():
        raise ValidationError(
            _("Another reduction already covers some of these months."),
            code="reduction_overlaps",
        )
    reduction = Reduction.objects.create(
        member=member,
        organization=branch,
        first_month=first,
        last_month=last,
        monthly_amount=amount,
        reason=reason.strip(),
        branch_decided_on=branch_decided_on,
        decision_reference=decision_reference.strip(),
        requested_by=actor,
    )

    audit_record(
        actor=actor,
        action="dues.reduction.requested",
        member=member,
        organization=branch,
        reduction_id=reduction.pk,
        first_month=f"{first:%Y-%m}",
        last_month=f"{last:%Y-%m}",
    )
    logger.info(
        "dues reduction requested reduction_id=%s member_id=%s",
        reduction.pk,
        member.pk,
    )
    return reduction


def _checked_reduction(
    *, first, last, monthly_amount, reason, branch_decided_on
) -> Decimal:
    if last < first:
        raise ValidationError(
            {"last_month": _("The last month comes before the first.")},
            code="months_order",
        )
    if first < settings.LIUDONG_DUES_LEDGER_START:
        raise ValidationError(
            {
                "first_month": _("Months before %(start)s are not kept here.")
                % {"start": f"{settings.LIUDONG_DUES_LEDGER_START:%Y-%m}"}
            },
            code="before_ledger",
        )
    _refuse_far_future(last, field="last_month")
    if not reason.strip():
        raise ValidationError({"reason": _("A reason is required.")}, code="required")
    if branch_decided_on > timezone.localdate():
        raise ValidationError(
            {"branch_decided_on": _("The date is in the future.")},
            code="date_in_future",
        )
    amount = parse_money(monthly_amount, field="amount")
    if amount is None or amount < 0:
        raise DuesError(
            _("Enter the reduced monthly amount, zero or more."),
            code="amount_invalid",
        )
    return amount


def _require_below_assessed(member, first, last, amount: Decimal) -> None:
    """A reduction lowers the dues: it may not reach any month's assessment."""
    in_force = (
        Assessment.objects.filter(member=member, applies_from__lte=first)
        .order_by("-applies_from")
        .values_list("monthly_amount", flat=True)[:1]
    )
    later = Assessment.objects.filter(
        member=member, applies_from__gt=first, applies_from__lte=last
    ).values_list("monthly_amount", flat=True)
    assessed = [*in_force, *later]
    # Without an assessment yet there is nothing to compare with; the
    # ledger prices a month at the lower of the two whatever comes later.
    if assessed and amount >= min(assessed):
        raise ValidationError(
            {
                "monthly_amount": _(
                    "A reduction must be less than the assessed %(amount)s a month."
                )
                % {"amount": min(assessed)}
            },
            code="reduction_not_lower",
        )


def _require_higher_committee(scope: Scope, branch: Organization) -> None:
    """Let only a role above the deciding branch approve its decision."""
    if not scope.reads(branch):
        raise OutOfScope()
    if not scope.writes(branch):
        raise ReadOnlyScope()
    if scope.is_operator:
        return
    above = (
        path
        for path in scope.write_paths
        if branch.path.startswith(path) and path != branch.path
    )
    if next(above, None) is None:
        # DESIGN.md (dues): paying less needs the branch's decision AND the
        # higher committee's approval; the branch cannot approve itself.
        raise PermissionDenied(_("A higher committee decides on this reduction."))


@transaction.atomic
def decide_reduction(
    *, actor: User, reduction: Reduction, approve: bool, note: str = ""
) -> Reduction:
    """Approve or reject a pending reduction; approval re-prices its months."""
    reduction = (
        Reduction.objects.select_for_update()
        .select_related("organization", "member")
        .get(pk=reduction.pk)
    )
    _require_higher_committee(scope_for(actor), reduction.organization)
    if reduction.member.user_id == actor.pk and not actor.is_superuser:
        raise PermissionDenied(_("Someone else decides a reduction of your dues."))
    if reduction.status != Reduction.Status.PENDING:
        raise ValidationError(
            _("This reduction has already been decided."), code="already_decided"
        )
    if not approve and not note.strip():
        raise ValidationError(
            {"note": _("Say why the reduction is rejected.")}, code="required"
        )

    reduction.status = (
        Reduction.Status.APPROVED if approve else Reduction.Status.REJECTED
    )
    reduction.decided_by, reduction.decided_at = actor, timezone.now()
    reduction.decision_note = note.strip()
    reduction.save()
    repriced = 0
    if approve:
        repriced = reprice_months(
            member_id=reduction.member_id,
            first_month=reduction.first_month,
            last_month=reduction.last_month,
        )

    audit_record(
        actor=actor,
        action=f"dues.reduction.{reduction.status}",
        member=reduction.member,
        organization=reduction.organization,
        reduction_id=reduction.pk,
        repriced=repriced,
    )
    logger.info(
        "dues reduction decided reduction_id=%s status=%s repriced=%s",
        reduction.pk,
        reduction.status,
        repriced,
    )
    return reduction
