"""The dues rules applied: which rule a category and base fall under, and the
monthly amount it yields.

The rules are data (DuesPolicy and DuesRule rows, the 2008 national policy
seeded by a migration); nothing here knows a rate or a bracket. A bracket's
rate applies to the whole base, so 3,000.00 yields 15.00 and 3,000.01 yields
30.00. Amounts are rounded to the fen with settings.LIUDONG_DUES_ROUNDING.
"""

import datetime
import decimal
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from dues.models import BASED_CATEGORIES, Category, DuesPolicy, DuesRule

FEN = Decimal("0.01")
PLAIN_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class DuesError(ValidationError):
    """A dues amount cannot be assessed; ``code`` says why, stably."""

    def __init__(self, message, *, code: str, params: dict | None = None):
        super().__init__(message, code=code, params=params)


@dataclass(frozen=True)
class Assessed:
    """The monthly amount and the policy, rule and base that produced it."""

    amount: Decimal
    policy: DuesPolicy
    rule: DuesRule
    base: Decimal | None


def to_fen(amount) -> Decimal:
    """Round ``amount`` to two places with the configured rounding."""
    rounding = getattr(decimal, settings.LIUDONG_DUES_ROUNDING)
    return Decimal(amount).quantize(FEN, rounding=rounding)


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def policy_on(month: datetime.date) -> DuesPolicy:
    """The policy in force in ``month``: the latest effective by its first."""
    policy = (
        DuesPolicy.objects.filter(effective_from__lte=month_start(month))
        .order_by("-effective_from")
        .first()
    )
    if policy is None:
        raise DuesError(
            _("No dues policy is in force for %(month)s."),
            code="no_policy",
            params={"month": f"{month:%Y-%m}"},
        )
    return policy


def assess(
    *,
    category: str,
    month: datetime.date,
    base=None,
    fixed_amount=None,
) -> Assessed:
    """Compute the monthly dues of ``category`` in ``month``."""
    if category not in Category.values:
        raise DuesError(_("Unknown dues category."), code="unknown_category")
    policy = policy_on(month)
    if category in BASED_CATEGORIES:
        if _given(fixed_amount):
            raise DuesError(
                _("This category pays a share of its base, not a chosen amount."),
                code="fixed_not_applicable",
            )
        return _assess_base(policy, category, parse_money(base, field="base"))
    if _given(base):
        raise DuesError(
            _("This category pays a fixed amount; no base is used."),
            code="base_not_applicable",
        )
    return _assess_fixed(policy, category, fixed_amount)


def _assess_base(policy: DuesPolicy, category: str, base: Decimal | None) -> Assessed:
    if base is None:
        raise DuesError(_("A monthly base is required."), code="base_required")
    if base <= 0:
        raise DuesError(
            _("The monthly base must be more than zero."), code="base_not_positive"
        )
    # A policy has a handful of brackets per category, disjoint by a
    # constraint; the range itself says whether its bounds are included.
    brackets = policy.rules.filter(category=category, base_range__isnull=False)
    rule = next((r for r in brackets if base in r.base_range), None)
    if rule is None:
        raise _no_rule(policy, category)
    return Assessed(
        amount=to_fen(base * rule.rate), policy=policy, rule=rule, base=base
    )


def _assess_fixed(policy: DuesPolicy, category: str, fixed_amount) -> Assessed:
    rule = policy.rules.filter(category=category, base_range__isnull=True).first()
    if rule is None:
        raise _no_rule(policy, category)
    amount = parse_money(fixed_amount, field="amount")
    if amount is None:
        # The lowest amount of the range unless the branch set another.
        amount = rule.fixed_minimum
    if not rule.fixed_minimum <= amount <= rule.fixed_maximum:
        raise DuesError(
            _("The monthly amount must be from %(minimum)s to %(maximum)s yuan."),
            code="amount_out_of_range",
            params={"minimum": rule.fixed_minimum, "maximum": rule.fixed_maximum},
        )
    return Assessed(amount=amount, policy=policy, rule=rule, base=None)


def _no_rule(policy: DuesPolicy, category: str) -> DuesError:
    return DuesError(
        _("The policy in force has no rule for this category and base."),
        code="no_rule",
        params={"policy": policy.pk, "category": category},
    )


def _given(value) -> bool:
    return value is not None and value != ""


def parse_money(value, *, field: str) -> Decimal | None:
    """``value`` as Decimal yuan with at most two places, or None."""
    if not _given(value):
        return None
    if isinstance(value, float):
        # A float has already lost the fen; refuse it rather than guess.
        raise TypeError("money must be Decimal, int or str, never float")
    text = str(value).strip()
    try:
        # Plain figures only: "1e3" is a valid Decimal but no way to write
        # an income on a form, and most likely a slip.
        amount = Decimal(text) if PLAIN_AMOUNT.fullmatch(text) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount != amount.quantize(FEN):
        raise DuesError(
            _("Enter an amount in yuan with at most two decimal places."),
            code=f"{field}_invalid",
        )
    return amount.quantize(FEN)
