"""Reads of dues, always through the actor's scope.

A ledger month belongs to the organisation collecting it: a scope reads the
months collected by organisations it reads. A certificate holder's month
paid at the inflow organisation stays on the outflow organisation's ledger
and is visible to the inflow one only as a month it collected
(``collected_by``); the rest of a placed member's dues is not (dual
management, DESIGN.md §2: an inflow organisation sees no income or dues
history).
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection
from django.db.models import Count, DecimalField, F, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from dues.models import LedgerEntry, PaymentOrder
from dues.rules import month_start
from members.models import ACTIVE_MOBILITY_STATUSES, Member, Mobility
from organizations.models import Organization
from organizations.scope import OutOfScope, Scope, subtree_q
from organizations.scope import today as local_today

Status = LedgerEntry.Status
ZERO = Decimal("0.00")
LAPSE_MONTHS = 6


@dataclass(frozen=True)
class Totals:
    """Money and month counts of a set of live ledger months."""

    due: Decimal = ZERO
    paid: Decimal = ZERO
    voluntary: Decimal = ZERO
    outstanding: Decimal = ZERO
    months: int = 0
    open_months: int = 0
    paid_months: int = 0
    waived_months: int = 0
    unassessed_months: int = 0


@dataclass(frozen=True)
class Statement:
    """What a member owes and has paid, for the portal and the member API."""

    member: Member
    current_month: datetime.date
    arrears: list[LedgerEntry]
    current: LedgerEntry | None
    ahead: list[LedgerEntry]
    paid: list[LedgerEntry]
    arrears_amount: Decimal
    current_amount: Decimal
    total_due: Decimal
    last_paid_month: datetime.date | None


@dataclass(frozen=True)
class OrganizationTotals:
    organization_id: int
    name: str
    totals: Totals


@dataclass(frozen=True)
class LedgerSummary:
    """One organisation's ledger for a month, with its subtree's breakdown."""

    organization: Organization
    month: datetime.date
    totals: Totals
    by_organization: list[OrganizationTotals]
    entries: list[LedgerEntry]
    # Months of other organisations' members paid here (certificate
    # holders); the money is theirs, so it is outside ``totals``.
    collected_for_others: list[LedgerEntry]
    collected_for_others_amount: Decimal


@dataclass(frozen=True)
class MonthTotals:
    month: datetime.date
    totals: Totals


@dataclass(frozen=True)
class Arrears:
    """A member's unpaid months before the current month."""

    member: Member
    months: int
    since: datetime.date
    amount: Decimal
    six_months_unpaid: bool


def _money(expression) -> Coalesce:
    money = DecimalField(max_digits=14, decimal_places=2)
    return Coalesce(
        Sum(expression, output_field=money), Value(ZERO), output_field=money
    )


# SQL aggregates shared by every total, so a month, an organisation and a
# subtree are all summed by the database the same way.
_AGGREGATES = {
    "due": _money("amount_due"),
    "paid": _money("paid_amount"),
    "voluntary": _money("voluntary_amount"),
    "outstanding": Coalesce(
        Sum(
            F("amount_due") - F("paid_amount"),
            filter=Q(status=Status.DUE),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        ),
        Value(ZERO),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    ),
    "months": Count("pk"),
    "open_months": Count("pk", filter=Q(status=Status.DUE)),
    "paid_months": Count("pk", filter=Q(status=Status.PAID)),
    "waived_months": Count("pk", filter=Q(status=Status.WAIVED)),
    "unassessed_months": Count("pk", filter=Q(amount_due__isnull=True)),
}


def _totals(row: dict) -> Totals:
    return Totals(**{name: row[name] for name in _AGGREGATES})


def _live() -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.exclude(status=Status.CANCELLED)


def _outstanding(entry: LedgerEntry) -> Decimal:
    if entry.status != Status.DUE or entry.amount_due is None:
        return ZERO
    return entry.amount_due - entry.paid_amount


def _require_read(scope: Scope, organization: Organization) -> None:
    if not scope.reads(organization):
        raise OutOfScope()


def member_statement(
    member: Member, *, today: datetime.date | None = None
) -> Statement:
    """Arrears, this month, months payable ahead and paid history."""
    current = month_start(today or local_today())
    entries = list(
        _live()
        .filter(member=member)
        .select_related("organization", "collected_by")
        .order_by("month")
    )
    arrears = [e for e in entries if e.status == Status.DUE and e.month < current]
    this_month = next((e for e in entries if e.month == current), None)
    ahead = [e for e in entries if e.status == Status.DUE and e.month > current]
    paid = [e for e in entries if e.status == Status.PAID]
    arrears_amount = sum((_outstanding(e) for e in arrears), ZERO)
    current_amount = _outstanding(this_month) if this_month else ZERO
    return Statement(
        member=member,
        current_month=current,
        arrears=arrears,
        current=this_month,
        ahead=ahead[: settings.LIUDONG_DUES_MAX_AHEAD_MONTHS],
        paid=paid[::-1],
        arrears_amount=arrears_amount,
        current_amount=current_amount,
        total_due=arrears_amount + current_amount,
        last_paid_month=_paid_through(entries),
    )


def open_orders_own(member: Member) -> QuerySet[PaymentOrder]:
    """The member's orders still waiting for payment or for approval."""
    return member.dues_orders.filter(status__in=PaymentOrder.OPEN_STATUSES).order_by(
        "-created_at"
    )


def _paid_through(entries) -> datetime.date | None:
    """The last month of the unbroken paid run from the oldest month.

    A refunded or skipped month ends the run: "paid through" on a transfer
    letter means every month up to it is paid.
    """
    first_unpaid = next((e.month for e in entries if e.status == Status.DUE), None)
    settled = [
        e.month
        for e in entries
        if e.status == Status.PAID and (first_unpaid is None or e.month < first_unpaid)
    ]
    return settled[-1] if settled else None


def ledger_entries(
    *,
    scope: Scope,
    organization: Organization | None = None,
    month: datetime.date | None = None,
    status: str | None = None,
) -> QuerySet[LedgerEntry]:
    """Ledger months the scope reads; live ones unless ``status`` says.

    With ``organization``, the months it (or an organisation under it)
    collects for itself or collected for another.
    """
    if organization is not None:
        _require_read(scope, organization)
        paths = (organization.path,)
    elif scope.is_operator:
        paths = None
    else:
        paths = scope.read_paths
    entries = LedgerEntry.objects.select_related(
        "member", "organization", "collected_by"
    )
    if paths is not None:
        entries = entries.filter(
            subtree_q(paths, field_name="organization__path")
            | subtree_q(paths, field_name="collected_by__path")
        )
    if month is not None:
        entries = entries.filter(month=month_start(month))
    if status is None:
        entries = entries.exclude(status=Status.CANCELLED)
    else:
        entries = entries.filter(status=status)
    return entries.order_by("month", "organization__path", "member__name", "pk")


def _owed_to(organization: Organization) -> QuerySet[LedgerEntry]:
    return _live().filter(
        subtree_q((organization.path,), field_name="organization__path")
    )


def organization_ledger(
    *, scope: Scope, organization: Organization, month: datetime.date
) -> LedgerSummary:
    """Due, paid, outstanding for ``organization``'s subtree in ``month``."""
    _require_read(scope, organization)
    month = month_start(month)
    owed = _owed_to(organization).filter(month=month)
    totals = _totals(owed.aggregate(**_AGGREGATES))
    groups = (
        owed.values("organization_id", "organization__name", "organization__path")
        .annotate(**_AGGREGATES)
        .order_by("organization__path")
    )
    collected = (
        _live()
        .filter(month=month)
        .filter(subtree_q((organization.path,), field_name="collected_by__path"))
        .exclude(subtree_q((organization.path,), field_name="organization__path"))
        .select_related("member", "organization", "collected_by")
        .order_by("organization__path", "member__name", "pk")
    )
    collected = list(collected)
    return LedgerSummary(
        organization=organization,
        month=month,
        totals=totals,
        by_organization=[
            OrganizationTotals(
                organization_id=row["organization_id"],
                name=row["organization__name"],
                totals=_totals(row),
            )
            for row in groups
        ],
        entries=list(
            owed.select_related("member", "organization", "collected_by").order_by(
                "organization__path", "member__name", "pk"
            )
        ),
        collected_for_others=collected,
        collected_for_others_amount=sum((e.paid_amount for e in collected), ZERO),
    )


def organization_ledger_months(
    *, scope: Scope, organization: Organization, year: int
) -> list[MonthTotals]:
    """The twelve months of ``year`` for ``organization``'s subtree."""
    _require_read(scope, organization)
    first = datetime.date(year, 1, 1)
    rows = (
        _owed_to(organization)
        .filter(month__gte=first, month__lt=first.replace(year=year + 1))
        .values("month")
        .annotate(**_AGGREGATES)
        .order_by("month")
    )
    by_month = {row["month"]: _totals(row) for row in rows}
    months = [first + relativedelta(months=n) for n in range(12)]
    return [MonthTotals(month=m, totals=by_month.get(m, Totals())) for m in months]


def arrears(
    *, scope: Scope, organization: Organization, today: datetime.date | None = None
) -> list[Arrears]:
    """Members owing ``organization``'s subtree months before this month.

    ``six_months_unpaid`` flags a member with six consecutive calendar months
    unpaid before the current month, wherever they were due (DESIGN.md lapse
    rules); a waived month or a month not owed breaks the run.
    """
    _require_read(scope, organization)
    current = month_start(today or local_today())
    rows = _arrears_rows(organization, current)
    members = Member.objects.in_bulk([row[0] for row in rows])
    return [
        Arrears(
            member=members[member_id],
            months=months,
            since=since,
            amount=amount,
            six_months_unpaid=flagged,
        )
        for member_id, months, since, amount, flagged in rows
    ]


def _arrears_rows(organization: Organization, current: datetime.date) -> list:
    entry = LedgerEntry._meta.db_table
    org = Organization._meta.db_table
    # Consecutive months share month_number - row_number: each such group
    # is one unbroken run of unpaid months.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH owing AS (
                SELECT e.member_id, e.month, e.amount_due, e.paid_amount
                FROM {entry} e JOIN {org} o ON o.id = e.organization_id
                WHERE e.status = 'due' AND e.month < %s AND o.path LIKE %s
            ),
            runs AS (
                SELECT r.member_id, count(*) AS length FROM (
                    SELECT e.member_id,
                           (extract(year FROM e.month) * 12
                            + extract(month FROM e.month))::int
                           - row_number() OVER (
                               PARTITION BY e.member_id ORDER BY e.month
                           ) AS run
                    FROM {entry} e
                    WHERE e.status = 'due' AND e.month < %s
                      AND e.member_id IN (SELECT member_id FROM owing)
                ) r GROUP BY r.member_id, r.run
            )
            SELECT w.member_id, count(*), min(w.month),
                   COALESCE(sum(w.amount_due - w.paid_amount), 0),
                   COALESCE((SELECT max(length) FROM runs
                             WHERE runs.member_id = w.member_id), 0) >= %s
            FROM owing w
            GROUP BY w.member_id
            ORDER BY min(w.month), w.member_id
            """,
            [current, organization.path + "%", current, LAPSE_MONTHS],
        )
        return cursor.fetchall()


def paid_through(member: Member) -> datetime.date | None:
    """The last month of the unbroken run of settled months from the start.

    For transfer letters ("dues paid through"); a waived month counts as
    settled. None when the member's first month is unpaid.
    """
    live = _live().filter(member=member)
    first_open = live.filter(status=Status.DUE).aggregate(first=Min("month"))["first"]
    settled = live.filter(status__in=[Status.PAID, Status.WAIVED])
    if first_open is not None:
        settled = settled.filter(month__lt=first_open)
    return settled.aggregate(last=Max("month"))["last"]


def inflow_collector(member: Member) -> Organization | None:
    """The inflow organisation ``member`` may pay dues to, if any.

    DESIGN.md (dues): a member away with a mobile activity certificate may
    pay at the inflow organisation once they have reported there.
    """
    mobility = (
        Mobility.objects.filter(
            member=member,
            status__in=ACTIVE_MOBILITY_STATUSES,
            inflow_organization__isnull=False,
            reported_on__isnull=False,
        )
        .exclude(certificate_number="")
        .select_related("inflow_organization")
        .first()
    )
    return mobility.inflow_organization if mobility else None
