"""The same payment arriving twice at the same moment is counted once.

Each test runs two real transactions in two threads, each with its own
database connection, released together by a barrier. The settlement that
wins the order's row lock pauses before it commits, so the other one is
certain to arrive while the first is still uncommitted.
"""

import importlib
import threading
import time
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection

from dues.models import DuesPolicy, LedgerEntry, PaymentOrder, ReceiptSequence
from dues.services import settlement
from tests.dues import arrange
from tests.dues.paying import FEB, JAN, deliver, notice, open_order

TIMEOUT = 20


@pytest.fixture(autouse=True)
def _real_transactions(transactional_db, settings):
    # Each thread commits for real. The flush after another transactional
    # test empties the policy row its migration added; put it back.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    if not DuesPolicy.objects.exists():
        migration = importlib.import_module("dues.migrations.0002_national_policy_2008")
        migration.add_policy(apps, None)


@pytest.fixture
def slow_winner(monkeypatch):
    number = settlement.next_receipt_number

    def slow_number(paid_at):
        result = number(paid_at)
        time.sleep(0.3)
        return result

    monkeypatch.setattr(settlement, "next_receipt_number", slow_number)


def _together(*calls):
    """Run each call in its own thread and connection, all at once."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(i, call):
        try:
            barrier.wait(timeout=TIMEOUT)
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not errors, errors
    return results


def test_two_concurrent_deliveries_of_one_callback_credit_once(
    member, branch_a, slow_winner
):
    arrange.make_entries(member, branch_a, JAN, 2)
    order = open_order(member, [JAN, FEB])
    payload = notice(order)

    records = _together(lambda: deliver(payload), lambda: deliver(payload))

    assert sorted(r.outcome for r in records) == ["credited", "duplicate"]
    order.refresh_from_db()
    assert order.status == "paid"
    assert list(
        LedgerEntry.objects.filter(member=member, status="paid")
        .order_by("month")
        .values_list("month", "paid_amount", "payment_id")
    ) == [(JAN, Decimal("15.00"), order.pk), (FEB, Decimal("15.00"), order.pk)]
    assert ReceiptSequence.objects.get().last == 1


def test_a_double_click_opens_one_order(member, branch_a):
    arrange.make_entries(member, branch_a, JAN, 2)

    orders = _together(
        lambda: open_order(member, [JAN, FEB]), lambda: open_order(member, [FEB, JAN])
    )

    assert orders[0].pk == orders[1].pk
    assert PaymentOrder.objects.filter(member=member).count() == 1


def test_two_orders_paid_at_once_take_consecutive_receipt_numbers(
    member, member_of_b, branch_a, branch_b, secretary_of_b, slow_winner
):
    arrange.make_entries(member, branch_a, JAN, 1)
    arrange.make_entries(member_of_b, branch_b, JAN, 1)
    first = open_order(member, [JAN])
    second = open_order(member_of_b, [JAN], actor=secretary_of_b)

    _together(
        lambda: deliver(notice(first, transaction_id="TX-A")),
        lambda: deliver(notice(second, transaction_id="TX-B")),
    )

    numbers = sorted(PaymentOrder.objects.values_list("receipt_number", flat=True))
    year = numbers[0][:4]
    assert numbers == [f"{year}-000001", f"{year}-000002"]
    assert ReceiptSequence.objects.get().last == 2
