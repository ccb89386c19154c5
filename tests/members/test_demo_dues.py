"""Demo dues: assessed by the rules, the ledger, a consistent paid history."""

import datetime
from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from dues.models import (
    Assessment,
    Category,
    LedgerEntry,
    PaymentLine,
    PaymentOrder,
    ReceiptSequence,
)
from dues.rules import assess
from dues.selectors import arrears, member_statement
from dues.services.payments import OFFLINE_CHANNELS, idempotency_key
from members import demo
from members.models import Member, User
from organizations.models import Organization
from organizations.scope import scope_for

SEED = ("--members", "150", "--seed", "7")
DUES = "/dues/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Argon2 is slow by design; these tests check dues, not hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> None:
    call_command("seed_demo", *args, stdout=StringIO())


@pytest.fixture
def seeded(db):
    seed(*SEED)


def this_month() -> datetime.date:
    return timezone.localdate().replace(day=1)


def months_between(first: datetime.date, last: datetime.date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def _snapshot() -> dict:
    return {
        "assessments": list(
            Assessment.objects.order_by("id").values_list("id", "monthly_amount")
        ),
        "entries": list(
            LedgerEntry.objects.order_by("id").values_list("id", "status", "updated_at")
        ),
        "orders": list(
            PaymentOrder.objects.order_by("id").values_list("id", "receipt_number")
        ),
        "lines": list(PaymentLine.objects.order_by("id").values_list("id", "entry")),
        "receipts": list(ReceiptSequence.objects.values_list("year", "last")),
    }


# --- assessments -------------------------------------------------------------


def test_every_demo_member_is_assessed_at_what_the_rules_give(seeded):
    assessments = Assessment.objects.all()

    assert assessments.count() == Member.objects.count() == 150
    for a in assessments:
        fixed = a.monthly_amount if a.category == Category.FARMER else None
        expected = assess(
            category=a.category,
            month=a.applies_from,
            base=a.base or None,
            fixed_amount=fixed,
        )
        assert (a.monthly_amount, a.rule_id) == (expected.amount, expected.rule.pk)


def test_categories_are_mixed_and_wage_bases_fall_in_several_brackets(seeded):
    categories = Counter(Assessment.objects.values_list("category", flat=True))
    wage_rules = Assessment.objects.filter(category=Category.IN_SERVICE).values("rule")

    assert {"in_service", "self_employed", "retired", "farmer", "student"} <= set(
        categories
    )
    assert categories["in_service"] > categories["farmer"]
    assert wage_rules.distinct().count() >= 3


def test_fixed_amount_categories_keep_their_range_and_store_no_base(seeded):
    students = Assessment.objects.filter(category=Category.STUDENT)
    farmers = Assessment.objects.filter(category=Category.FARMER)

    assert set(students.values_list("monthly_amount", flat=True)) == {Decimal("0.20")}
    assert all(Decimal("0.20") <= f.monthly_amount <= Decimal("1.00") for f in farmers)
    assert set(students.values_list("base", flat=True)) == {""}


# --- the ledger --------------------------------------------------------------


def test_each_member_owes_every_month_from_the_assessment_to_this_one(seeded):
    for a in Assessment.objects.all():
        entries = LedgerEntry.objects.filter(member=a.member_id)
        first = max(
            a.applies_from,
            a.member.membership_periods.get().period.lower.replace(day=1),
        )

        assert entries.count() == months_between(first, this_month())
        assert set(entries.values_list("amount_due", flat=True)) == {a.monthly_amount}


def test_paid_months_come_before_every_unpaid_month(seeded):
    # The portal refuses to pay a month while an older one is open, so an
    # unpaid month before a paid one could never be settled.
    for member in Member.objects.all():
        statuses = list(member.dues_entries.order_by("month").values_list("status"))
        first_due = statuses.index(("due",)) if ("due",) in statuses else None

        assert ("paid",) not in statuses[first_due or len(statuses) :]


def test_most_members_are_paid_up_and_a_few_are_flagged_for_six_months(seeded):
    root = Organization.objects.get(code=demo.ROOT_CODE)
    viewer = User.objects.get(username="demo_provincial")

    rows = arrears(scope=scope_for(viewer), organization=root)

    flagged = [row for row in rows if row.six_months_unpaid]
    assert 0 < len(flagged) < len(rows) < Member.objects.count() / 3


# --- the paid history --------------------------------------------------------


def test_every_paid_month_is_settled_by_its_order_line_to_the_fen(seeded):
    paid = LedgerEntry.objects.filter(status="paid").select_related("payment")

    assert paid.count() > LedgerEntry.objects.filter(status="due").count()
    for entry in paid:
        line = PaymentLine.objects.get(entry=entry)
        assert line.order_id == entry.payment_id
        assert line.amount_due == entry.amount_due == entry.paid_amount
        assert line.voluntary_amount == entry.voluntary_amount
        assert entry.paid_at == entry.payment.paid_at
        assert entry.collected_by_id is None


def test_every_order_adds_up_its_lines_and_carries_a_receipt(seeded):
    assert PaymentOrder.objects.filter(voluntary_amount__gt=0).exists()
    for order in PaymentOrder.objects.prefetch_related("lines__entry"):
        lines = sorted(order.lines.all(), key=lambda line: line.month)
        dues = sum((line.amount_due for line in lines), Decimal("0.00"))

        assert order.amount == dues + order.voluntary_amount
        assert order.voluntary_amount == sum(line.voluntary_amount for line in lines)
        assert order.months == [line.month for line in lines]
        assert order.idempotency_key == idempotency_key(order.member, order.months)
        assert order.collected_by_id == lines[-1].entry.organization_id
        assert (order.status, order.channel in OFFLINE_CHANNELS) == ("paid", True)
        assert order.paid_at <= timezone.now()
        assert all(line.entry.payment_id == order.pk for line in lines)


def test_receipt_numbers_are_unique_and_the_sequence_has_counted_them(seeded):
    orders = PaymentOrder.objects.all()
    year = timezone.localdate().year

    numbers = sorted(orders.values_list("receipt_number", flat=True))

    assert len(set(numbers)) == orders.count()
    assert numbers[-1] == f"{year}-{ReceiptSequence.objects.get(year=year).last:06d}"
    assert ReceiptSequence.objects.get(year=year).last == orders.count()


# --- the demo member ---------------------------------------------------------


def test_the_demo_member_owes_the_last_three_months(seeded):
    member = Member.objects.get(user__username="demo_member")

    statement = member_statement(member)

    assert len(statement.arrears) == 2
    assert statement.current.status == "due"
    amount = member.dues_assessments.get().monthly_amount
    assert statement.total_due == 3 * amount


def test_the_demo_member_can_pay_the_months_due_through_the_sandbox(seeded, client):
    member = Member.objects.get(user__username="demo_member")
    due = member.dues_entries.filter(status="due").order_by("month")
    client.force_login(member.user)

    response = client.post(
        DUES,
        {"months": [f"{e.month:%Y-%m}" for e in due], "payer": "self"},
    )

    order = PaymentOrder.objects.get(member=member, status="pending")
    assert response.status_code == 302
    assert order.channel == "sandbox"
    assert order.amount == due.aggregate(total=Sum("amount_due"))["total"]


# --- idempotence -------------------------------------------------------------


def test_a_second_run_adds_and_changes_no_dues(seeded):
    before = _snapshot()

    seed(*SEED)

    assert _snapshot() == before


def test_a_larger_run_adds_dues_for_the_new_members_only(seeded):
    before = _snapshot()

    seed("--members", "200", "--seed", "7")

    after = _snapshot()
    assert Assessment.objects.count() == 200
    assert after["assessments"][:150] == before["assessments"]
    assert set(before["orders"]) < set(after["orders"])
    assert not Member.objects.filter(dues_assessments__isnull=True).exists()
