"""A secretary's desk for the dues admin, API and export tests: ledgers built
through the real services, months counted back from this month."""

import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings

from dues.models import Category, LedgerEntry
from dues.services.assessment import record_assessment
from dues.services.ledger import generate_ledger
from dues.services.payments import record_offline_payment
from organizations.scope import today


def this_month() -> datetime.date:
    return today().replace(day=1)


def months_back(count: int) -> datetime.date:
    return this_month() - relativedelta(months=count)


def assess(member, actor, *, base="3000.00", applies_from=None, **kw):
    """Assess ``member`` in service from ``applies_from``; fill the ledger."""
    start = applies_from or settings.LIUDONG_DUES_LEDGER_START
    assessment = record_assessment(
        actor=actor,
        member=member,
        category=kw.pop("category", Category.IN_SERVICE),
        applies_from=start,
        base=None if base is None else Decimal(base),
        **kw,
    )
    generate_ledger(through=today(), member_ids=[member.pk])
    return assessment


def pay(member, actor, months, *, voluntary="0.00", channel="cash"):
    return record_offline_payment(
        actor=actor,
        member=member,
        months=months,
        channel=channel,
        paid_on=today(),
        voluntary_amount=Decimal(voluntary),
    )


def entries(member) -> list[LedgerEntry]:
    return list(
        LedgerEntry.objects.filter(member=member)
        .exclude(status=LedgerEntry.Status.CANCELLED)
        .order_by("month")
    )
