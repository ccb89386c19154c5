"""Arranging dues rows directly, bypassing services, for tests that need a
ledger without exercising how it is generated."""

import datetime
from decimal import Decimal

from dues.models import Assessment, Category, DuesPolicy, DuesRule, LedgerEntry


def national_policy() -> DuesPolicy:
    return DuesPolicy.objects.get(effective_from=datetime.date(2008, 4, 1))


def make_assessment(
    member,
    organization,
    *,
    amount="15.00",
    base="3000.00",
    applies_from=datetime.date(2026, 1, 1),
    category=Category.IN_SERVICE,
) -> Assessment:
    policy = national_policy()
    rule = DuesRule.objects.filter(policy=policy, category=category).first()
    return Assessment.objects.create(
        member=member,
        organization=organization,
        applies_from=applies_from,
        category=category,
        base=base,
        monthly_amount=Decimal(amount),
        policy=policy,
        rule=rule,
    )


def months(first: datetime.date, count: int) -> list[datetime.date]:
    result, day = [], first.replace(day=1)
    for _ in range(count):
        result.append(day)
        day = (day + datetime.timedelta(days=32)).replace(day=1)
    return result


def make_entries(
    member, organization, first: datetime.date, count: int, *, amount="15.00"
) -> list[LedgerEntry]:
    """``count`` unpaid months from ``first``, all due to ``organization``."""
    assessment = make_assessment(
        member, organization, amount=amount, applies_from=first.replace(day=1)
    )
    return [
        LedgerEntry.objects.create(
            member=member,
            month=month,
            organization=organization,
            amount_due=Decimal(amount),
            assessment=assessment,
        )
        for month in months(first, count)
    ]
