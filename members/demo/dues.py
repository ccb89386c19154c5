"""Demo dues: each demo member's assessment, the ledger and a paid history.

Categories follow the occupation on record (students, farmers, retirees,
the self-employed, wage earners); bases are drawn around plausible Hunan
incomes, and every amount comes from ``dues.rules.assess``, called once per
distinct category and base, never from a rate written here. The history is
written the way ``record_offline_payment`` leaves it, in bulk: a paid
PaymentOrder with a receipt number per batch of months, a PaymentLine per
month, and each month marked paid by that order. Most members are paid up,
some owe a few months, a few six or more; the demo member owes the last
three, so the portal has something to pay.

Only members without an assessment are taken, so a second run adds nothing
and a larger run adds the new members' dues alone. Draws come from the seed
and the member's ID blind index, so a seed gives the same dues every time.
No audit rows are written: nobody took these actions.
"""

import datetime
import io
import logging
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dues.models import Assessment, Category, PaymentOrder
from dues.rules import FEN, Assessed, assess, month_start, policy_on
from dues.services.ledger import PAYING_STATUSES, generate_ledger
from members.crypto import blind_index, encrypt
from members.demo.people import PINNED_ROWS, generate_members
from members.demo.tree import ROOT_CODE
from organizations.models import Organization

logger = logging.getLogger(__name__)

CHUNK_SIZE = 50_000
_BASE_PURPOSE = Assessment._meta.get_field("base").purpose
# Months left unpaid, counting this one, for the demo log-ins' rows: the
# member owes three (two of arrears and this month), the secretary none,
# the mobile member this month only.
_PINNED_UNPAID = {0: 3, 1: 0, 2: 1}
# Median monthly base (yuan after tax) by occupation code; wage earners'
# spread puts them in all four brackets, managers most often in the top two.
_MEDIAN_BASE = {
    "10": 6200,
    "11": 5600,
    "12": 8800,
    "13": 6800,
    "14": 4300,
    "15": 4000,
    "20": 4800,  # farmers working away who declare an income
    "30": 5200,
    "50": 3600,  # pensions: most below 5,000, some above
    "90": 3800,
}
_MEDIAN_NEW_EMPLOYMENT = 5600
_SPREAD = 0.4
_SPREAD_PENSION = 0.3
_BASE_STEP = 50
_BASE_LOWEST = 1_200
_BASE_HIGHEST = 60_000
_FARMER_AMOUNTS = (Decimal("0.20"), Decimal("0.50"), Decimal("1.00"))


@dataclass(frozen=True)
class DuesReport:
    """What a demo dues run added."""

    assessments: int
    ledger_months: int
    payments: int
    seconds: float


@dataclass(frozen=True)
class _Member:
    """The columns of a member that decide their dues."""

    id: int
    id_hash: bytes
    occupation: str
    birth_date: datetime.date
    joined_on: datetime.date
    away_from_home: bool
    lost_contact_since: datetime.date | None
    organization_id: int


@dataclass(frozen=True)
class _Plan:
    """How a member has paid: through which month, how often, how."""

    paid_through: datetime.date | None
    months_per_payment: int
    pay_day: int
    channel: str
    voluntary: Decimal


def seed_dues(*, seed: int, today: datetime.date) -> DuesReport:
    """Assess the unassessed demo members, generate the ledger, pay it."""
    started = time.monotonic()
    root = Organization.objects.filter(code=ROOT_CODE).first()
    if root is None:
        return DuesReport(0, 0, 0, 0.0)
    pinned = {
        blind_index(row.id_number): _PINNED_UNPAID[row.index]
        for row in generate_members(seed=seed, count=len(PINNED_ROWS), today=today)
    }

    # One transaction: an interrupted run leaves no member assessed without
    # a history, so the next run, which skips assessed members, is whole.
    with transaction.atomic():
        assessed = _assess(seed=seed, today=today, root=root, pinned=pinned)
        ledger_months = payments = 0
        if assessed:
            ledger_months = generate_ledger(through=today).added
            payments = _pay(today)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE demo_dues_plan")

    report = DuesReport(assessed, ledger_months, payments, time.monotonic() - started)
    logger.info(
        "demo dues assessments=%d ledger_months=%d payments=%d seconds=%.1f",
        report.assessments,
        report.ledger_months,
        report.payments,
        report.seconds,
    )
    return report


# --- assessments -------------------------------------------------------------


class _Pricer:
    """``assess`` once per policy, category, base and fixed amount."""

    def __init__(self) -> None:
        self._policies: dict[datetime.date, int] = {}
        self._assessed: dict[tuple, Assessed] = {}

    def price(self, *, category, month, base=None, fixed_amount=None) -> Assessed:
        if month not in self._policies:
            self._policies[month] = policy_on(month).pk
        key = (self._policies[month], category, base, fixed_amount)
        if key not in self._assessed:
            self._assessed[key] = assess(
                category=category, month=month, base=base, fixed_amount=fixed_amount
            )
        return self._assessed[key]


def _assess(
    *, seed: int, today: datetime.date, root: Organization, pinned: dict
) -> int:
    with connection.cursor() as cursor:
        # Members and periods were just loaded, by COPY at large sizes:
        # without fresh statistics the planner guessed one row and the
        # look-up below took seconds a chunk.
        cursor.execute("ANALYZE members_member, members_membershipperiod")
        # Dropped by hand as well as on commit: inside an outer transaction
        # (tests) a second run would otherwise find it still there.
        cursor.execute("DROP TABLE IF EXISTS demo_dues_plan")
        cursor.execute(
            "CREATE TEMPORARY TABLE demo_dues_plan ("
            " member_id bigint PRIMARY KEY, paid_through date,"
            " months_per_payment int, pay_day int, channel varchar(8),"
            " voluntary numeric(12, 2)) ON COMMIT DROP"
        )
        pricer, after, assessed = _Pricer(), 0, 0
        while chunk := _unassessed(cursor, root=root, today=today, after=after):
            rows = [_member_dues(m, seed, today, pricer, pinned) for m in chunk]
            _copy(cursor, "dues_assessment", _ASSESSMENT_COLUMNS, (a for a, _ in rows))
            _copy(cursor, "demo_dues_plan", _PLAN_COLUMNS, (p for _, p in rows))
            after, assessed = chunk[-1].id, assessed + len(chunk)
        cursor.execute("ANALYZE demo_dues_plan")
    return assessed


def _unassessed(cursor, *, root, today, after: int) -> list[_Member]:
    # Keyset chunks by id: memory stays flat whatever the demo's size.
    cursor.execute(
        """
        SELECT m.id, m.id_number_hash, m.occupation_id, m.birth_date,
               m.joined_on, m.residence_region_id <> m.hukou_region_id,
               m.lost_contact_since, p.organization_id
        FROM members_member m
        JOIN members_membershipperiod p
          ON p.member_id = m.id AND p.period @> %s::date
        JOIN organizations_organization o ON o.id = p.organization_id
        WHERE o.path LIKE %s AND m.status IN %s AND m.id > %s
          AND NOT EXISTS (SELECT 1 FROM dues_assessment a WHERE a.member_id = m.id)
        ORDER BY m.id LIMIT %s
        """,
        [
            today,
            root.path + "%",
            tuple(status.value for status in PAYING_STATUSES),
            after,
            CHUNK_SIZE,
        ],
    )
    return [_Member(row[0], bytes(row[1]), *row[2:]) for row in cursor.fetchall()]


_ASSESSMENT_COLUMNS = (
    "member_id organization_id applies_from category base monthly_amount "
    "policy_id rule_id source note recorded_at"
).split()
_PLAN_COLUMNS = (
    "member_id paid_through months_per_payment pay_day channel voluntary"
).split()


def _member_dues(
    member: _Member, seed: int, today: datetime.date, pricer: _Pricer, pinned
) -> tuple[tuple, tuple]:
    rng = random.Random(f"liudong-demo-dues:{seed}:{member.id_hash.hex()}")
    category = _category(member, today)
    # The yearly assessment from January, or from the month the member owes
    # from if that is later (a probationary member pays from acceptance).
    month = max(settings.LIUDONG_DUES_LEDGER_START, month_start(member.joined_on))
    if category == Category.FARMER:
        assessed = pricer.price(
            category=category, month=month, fixed_amount=rng.choice(_FARMER_AMOUNTS)
        )
    elif category in (Category.STUDENT, Category.UNEMPLOYED, Category.RELIEF):
        assessed = pricer.price(category=category, month=month)
    else:
        base = _base(rng, member.occupation, category)
        assessed = pricer.price(category=category, month=month, base=base)

    base = "" if assessed.base is None else str(assessed.base)
    assessment = (
        member.id, member.organization_id, month, category,
        encrypt(base, purpose=_BASE_PURPOSE) if base else "", assessed.amount,
        assessed.policy.pk, assessed.rule.pk, Assessment.Source.IMPORT, "",
        timezone.now(),
    )  # fmt: skip
    plan = _plan(rng, member, today, pinned.get(member.id_hash))
    return assessment, (
        member.id, plan.paid_through, plan.months_per_payment, plan.pay_day,
        plan.channel, plan.voluntary,
    )  # fmt: skip


def _category(member: _Member, today: datetime.date) -> str:
    occupation = member.occupation
    older = today.year - member.birth_date.year > 60
    if occupation == "50":
        return Category.RETIRED
    if occupation == "20":
        # DESIGN.md (dues), local practice: farmers working away who
        # declare an income pay by the in-service rates.
        return Category.FARMER_WITH_INCOME if member.away_from_home else Category.FARMER
    if occupation == "40":
        return Category.STUDENT
    if occupation == "60":
        return Category.UNEMPLOYED
    if occupation == "90" and older:
        return Category.RELIEF
    if occupation == "30" or occupation.startswith("7"):
        # Without a monthly wage: the previous quarter's average net income.
        return Category.SELF_EMPLOYED
    return Category.IN_SERVICE


def _base(rng: random.Random, occupation: str, category: str) -> Decimal:
    median = _MEDIAN_BASE.get(occupation, _MEDIAN_NEW_EMPLOYMENT)
    spread = _SPREAD_PENSION if category == Category.RETIRED else _SPREAD
    drawn = median * math.exp(rng.gauss(0, spread))
    # In steps of 50 yuan: each distinct base costs an assess() call (two
    # queries), and this keeps them to a few hundred a category at any size.
    stepped = _BASE_STEP * round(drawn / _BASE_STEP)
    return Decimal(max(_BASE_LOWEST, min(_BASE_HIGHEST, stepped))).quantize(FEN)


def _plan(
    rng: random.Random, member: _Member, today: datetime.date, pinned: int | None
) -> _Plan:
    current = month_start(today)
    unpaid = pinned if pinned is not None else _unpaid_months(rng)
    paid_through = None if unpaid is None else current - relativedelta(months=unpaid)
    if member.lost_contact_since is not None and pinned is None:
        # Out of touch, out of pocket: nothing paid since contact was lost.
        last = month_start(member.lost_contact_since) - relativedelta(months=1)
        paid_through = paid_through and min(paid_through, last)
    return _Plan(
        paid_through=paid_through,
        # Monthly on their own initiative, or quarterly with branch consent;
        # the quarterly payers' fewer orders keep large demos quicker.
        months_per_payment=1 if rng.random() < 0.25 else 3,
        pay_day=rng.randint(1, 28),
        channel=(
            PaymentOrder.Channel.CASH
            if rng.random() < 0.7
            else PaymentOrder.Channel.BANK
        ),
        voluntary=(
            rng.choice((Decimal(10), Decimal(20), Decimal(50), Decimal(100)))
            if rng.random() < 0.03
            else Decimal(0)
        ).quantize(FEN),
    )


def _unpaid_months(rng: random.Random) -> int | None:
    """Months unpaid up to this one; None when nothing was ever paid."""
    draw = rng.random()
    if draw < 0.45:
        return 0
    if draw < 0.82:
        return 1  # this month's dues not paid yet: not arrears
    if draw < 0.95:
        return rng.randint(2, 5)
    if draw < 0.98:
        return rng.randint(7, 10)  # six months of arrears or more: flagged
    return None


def _cell(value) -> str:
    if value is None:
        return "\\N"
    # Dates, Decimals, ints and the base64 ciphertexts hold no tab, newline
    # or backslash, so COPY's text format needs no escaping here.
    return str(value)


def _copy(cursor, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    text = "".join("\t".join(_cell(v) for v in row) + "\n" for row in rows)
    cursor.copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(text)
    )


# --- the paid history --------------------------------------------------------


def _pay(today: datetime.date) -> int:
    """Settle the planned months as offline payments; return the orders."""
    with connection.cursor() as cursor:
        _batch_paid_months(cursor, today)
        bases = _reserve_receipt_numbers(cursor)
        cursor.execute(_INSERT_ORDERS, [list(bases), list(bases.values())])
        orders = cursor.rowcount
        cursor.execute(_INSERT_LINES)
        cursor.execute(_SETTLE_ENTRIES)
        cursor.execute("DROP TABLE demo_dues_paid, demo_dues_orders")
    return orders


def _batch_paid_months(cursor, today: datetime.date) -> None:
    # A batch is the months one payment covered: a calendar month for
    # members paying monthly, a calendar quarter for the others.
    cursor.execute(
        """
        CREATE TEMPORARY TABLE demo_dues_paid ON COMMIT DROP AS
        SELECT e.id AS entry_id, e.member_id, e.month, e.amount_due,
               e.organization_id,
               (extract(year FROM e.month)::int * 12
                + extract(month FROM e.month)::int - 1)
               / p.months_per_payment AS batch
        FROM dues_ledgerentry e JOIN demo_dues_plan p USING (member_id)
        WHERE e.status = 'due' AND e.amount_due IS NOT NULL
          AND e.month <= p.paid_through
        """
    )
    # Paid on the member's usual day of the batch's last month (never after
    # today), at noon local time as record_offline_payment has it.
    cursor.execute(
        """
        CREATE TEMPORARY TABLE demo_dues_orders ON COMMIT DROP AS
        SELECT g.*, nextval(pg_get_serial_sequence('dues_paymentorder', 'id'))
                    AS order_id,
               LEAST((g.paid_on + time '12:00') AT TIME ZONE %s, now())
                    AS paid_at,
               row_number() OVER (
                   PARTITION BY extract(year FROM g.paid_on)
                   ORDER BY g.paid_on, g.member_id, g.batch) AS receipt_rank
        FROM (
            SELECT d.member_id, d.batch, p.channel, p.voluntary,
                   array_agg(d.month ORDER BY d.month) AS months,
                   string_agg(to_char(d.month, 'YYYY-MM-DD'), ','
                              ORDER BY d.month) AS month_list,
                   max(d.month) AS last_month,
                   sum(d.amount_due) AS dues,
                   (array_agg(d.organization_id ORDER BY d.month DESC))[1]
                       AS collected_by,
                   LEAST(max(d.month) + (p.pay_day - 1), %s::date) AS paid_on
            FROM demo_dues_paid d JOIN demo_dues_plan p USING (member_id)
            GROUP BY d.member_id, d.batch, p.channel, p.voluntary, p.pay_day
        ) g
        """,
        [settings.TIME_ZONE, today],
    )


def _reserve_receipt_numbers(cursor) -> dict[int, int]:
    """Take a block of receipt numbers a year; return the number before it."""
    cursor.execute(
        "SELECT extract(year FROM paid_on)::int, count(*) FROM demo_dues_orders "
        "GROUP BY 1 ORDER BY 1"
    )
    bases = {}
    for year, count in cursor.fetchall():
        # The row lock, as next_receipt_number takes it, keeps live
        # payments from drawing a number inside the block.
        cursor.execute(
            "INSERT INTO dues_receiptsequence (year, last) VALUES (%s, 0) "
            "ON CONFLICT (year) DO NOTHING",
            [year],
        )
        cursor.execute(
            "UPDATE dues_receiptsequence SET last = last + %s WHERE year = %s "
            "RETURNING last",
            [count, year],
        )
        bases[year] = cursor.fetchone()[0] - count
    return bases


# The same columns record_offline_payment leaves on a settled order: the
# idempotency key is payments.idempotency_key (SHA-256 of the member id and
# the ISO months), the reference new_reference("DF") of the day it was
# opened, the receipt number next_receipt_number's "<year>-<6 digits>".
_INSERT_ORDERS = """
    INSERT INTO dues_paymentorder (
        id, reference, member_id, idempotency_key, months, amount,
        voluntary_amount, channel, payer, payer_name, collected_by_id, status,
        approval_reason, gateway_transaction_id, paid_at, receipt_number,
        refunded_amount, created_at, updated_at)
    SELECT o.order_id,
           'DF' || to_char(o.paid_on, 'YYYYMMDD')
                || upper(left(replace(gen_random_uuid()::text, '-', ''), 12)),
           o.member_id,
           encode(sha256(convert_to(o.member_id || ':' || o.month_list, 'UTF8')),
                  'hex'),
           o.months, o.dues + o.voluntary, o.voluntary, o.channel, 'self', '',
           o.collected_by, 'paid', '', '', o.paid_at,
           b.year || '-' || CASE WHEN b.base + o.receipt_rank < 1000000
                                 THEN lpad((b.base + o.receipt_rank)::text, 6, '0')
                                 ELSE (b.base + o.receipt_rank)::text END,
           0, o.paid_at, o.paid_at
    FROM demo_dues_orders o
    JOIN unnest(%s::int[], %s::int[]) AS b(year, base)
      ON b.year = extract(year FROM o.paid_on)
"""
# The voluntary part rides on the last line and lands on the last month.
_INSERT_LINES = """
    INSERT INTO dues_paymentline (
        order_id, entry_id, month, amount_due, voluntary_amount, refunded)
    SELECT o.order_id, d.entry_id, d.month, d.amount_due,
           CASE WHEN d.month = o.last_month THEN o.voluntary ELSE 0 END, false
    FROM demo_dues_paid d JOIN demo_dues_orders o USING (member_id, batch)
"""
_SETTLE_ENTRIES = """
    UPDATE dues_ledgerentry e
    SET status = 'paid', paid_amount = d.amount_due,
        voluntary_amount =
            CASE WHEN d.month = o.last_month THEN o.voluntary ELSE 0 END,
        paid_at = o.paid_at, payment_id = o.order_id,
        collected_by_id = NULLIF(o.collected_by, e.organization_id),
        updated_at = now()
    FROM demo_dues_paid d JOIN demo_dues_orders o USING (member_id, batch)
    WHERE e.id = d.entry_id AND e.status = 'due'
"""
