"""Reconciliation: lost callbacks are found by asking the gateway."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from dues import tasks
from dues.gateways import sandbox
from dues.models import GatewayNotification, LedgerEntry
from dues.services import payments
from tests.dues import arrange
from tests.dues.paying import FEB, JAN, open_order, run_tasks_in_process

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    run_tasks_in_process(settings)


@pytest.fixture
def order(member, branch_a):
    arrange.make_entries(member, branch_a, JAN, 4)
    order = open_order(member, [JAN, FEB])
    payments.start_payment(order, return_url="/dues/")
    return order


def _later(minutes=0, hours=0):
    return timezone.now() + datetime.timedelta(minutes=minutes, hours=hours)


def test_a_payment_whose_callback_was_lost_is_settled_by_reconciliation(member, order):
    with sandbox.callbacks_lost():
        sandbox.simulate(order, succeed=True)
    order.refresh_from_db()
    assert order.status == "pending"

    counts = payments.reconcile_pending(now=_later(minutes=16))

    assert counts == {
        "checked": 1,
        "settled": 1,
        "closed": 0,
        "unchanged": 0,
        "errors": 0,
    }
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.receipt_number is not None
    assert list(
        LedgerEntry.objects.filter(payment=order).values_list("month", "paid_amount")
    ) == [(JAN, Decimal("15.00")), (FEB, Decimal("15.00"))]
    record = GatewayNotification.objects.get()
    assert (record.outcome, record.payload["source"]) == ("credited", "query")


def test_a_young_order_is_not_asked_about(order):
    counts = payments.reconcile_pending(now=_later(minutes=14))

    assert counts["checked"] == 0


def test_an_unpaid_order_waits_until_its_time_to_live_ends(order):
    counts = payments.reconcile_pending(now=_later(hours=23))

    assert counts["unchanged"] == 1
    order.refresh_from_db()
    assert order.status == "pending"


def test_an_unpaid_order_past_its_time_to_live_closes(order):
    counts = payments.reconcile_pending(now=_later(hours=25))

    assert counts["closed"] == 1
    order.refresh_from_db()
    assert order.status == "closed"


def test_a_failure_the_gateway_knows_closes_the_order(order):
    with sandbox.callbacks_lost():
        sandbox.simulate(order, succeed=False)

    counts = payments.reconcile_pending(now=_later(minutes=20))

    assert counts["closed"] == 1
    order.refresh_from_db()
    assert order.status == "failed"


def test_an_order_settled_meanwhile_is_not_asked_about(order):
    sandbox.simulate(order, succeed=True)

    counts = payments.reconcile_pending(now=_later(minutes=20))

    assert counts["checked"] == 0


def test_the_reconcile_task_runs_the_service(member, order):
    with sandbox.callbacks_lost():
        sandbox.simulate(order, succeed=True)
    # The task asks about "now": age the order instead of the clock.
    type(order).objects.filter(pk=order.pk).update(created_at=_later(minutes=-30))

    counts = tasks.reconcile_payments.delay().get()

    assert counts["settled"] == 1


def test_the_nightly_ledger_task_generates_per_top_level_organization(
    member, province_a, province_b, branch_a
):
    arrange.make_assessment(member, branch_a, applies_from=JAN)

    roots = tasks.generate_ledgers.delay("2026-03-15").get()

    assert roots == 2
    assert list(
        LedgerEntry.objects.filter(member=member).values_list("month", "amount_due")
    ) == [
        (JAN, Decimal("15.00")),
        (FEB, Decimal("15.00")),
        (datetime.date(2026, 3, 1), Decimal("15.00")),
    ]


def test_the_jobs_are_scheduled_by_the_migration():
    jobs = dict(PeriodicTask.objects.values_list("task", "name"))

    assert "dues.tasks.reconcile_payments" in jobs
    assert "dues.tasks.generate_ledgers" in jobs
    reconcile = PeriodicTask.objects.get(task="dues.tasks.reconcile_payments")
    assert (reconcile.interval.every, reconcile.interval.period) == (10, "minutes")
    nightly = PeriodicTask.objects.get(task="dues.tasks.generate_ledgers")
    assert (nightly.crontab.hour, nightly.crontab.minute) == ("1", "30")
    assert str(nightly.crontab.timezone) == "Asia/Shanghai"
