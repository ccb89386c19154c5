"""Refunds reopen the months and are recorded; offline payments count alike."""

import datetime
from decimal import Decimal

import pytest

from dues.gateways import sandbox
from dues.models import LedgerEntry, PaymentLine, Refund
from dues.services import payments
from dues.services.payments import PaymentError
from members.models import AuditEvent
from organizations.scope import OutOfScope, ReadOnlyScope
from tests.dues import arrange
from tests.dues.paying import (
    FEB,
    JAN,
    MAR,
    TODAY,
    open_order,
    pay,
    run_tasks_in_process,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    run_tasks_in_process(settings)


@pytest.fixture
def owed(member, branch_a):
    return arrange.make_entries(member, branch_a, JAN, 4)


@pytest.fixture
def paid(member, owed):
    """January and February paid through the sandbox, 2.00 voluntary."""
    order = open_order(member, [JAN, FEB], voluntary_amount="2.00")
    payments.start_payment(order, return_url="/dues/")
    sandbox.simulate(order, succeed=True)
    order.refresh_from_db()
    return order


def _refund(actor, order, months, reason="paid twice by mistake"):
    return payments.refund(actor=actor, order=order, months=months, reason=reason)


def test_refunding_a_month_reopens_it(member, paid, secretary_of_a):
    refund = _refund(secretary_of_a, paid, [JAN])

    assert refund.amount == Decimal("15.00")
    assert refund.months == [JAN]
    assert refund.status == "succeeded"
    assert refund.gateway_refund_id.startswith("SBR")
    assert refund.requested_by == secretary_of_a
    paid.refresh_from_db()
    assert paid.status == "part_refund"
    assert paid.refunded_amount == Decimal("15.00")
    jan = LedgerEntry.objects.get(member=member, month=JAN)
    assert (jan.status, jan.paid_amount, jan.payment_id, jan.paid_at) == (
        "due",
        Decimal("0.00"),
        None,
        None,
    )
    assert PaymentLine.objects.get(order=paid, month=JAN).refunded
    assert AuditEvent.objects.filter(action="dues.payment.refunded").count() == 1
    assert sandbox.state(paid.reference)["refunds"][refund.reference] == (
        refund.gateway_refund_id
    )


def test_refunding_every_month_refunds_the_order_with_its_voluntary_part(
    paid, secretary_of_a
):
    _refund(secretary_of_a, paid, [JAN])
    last = _refund(secretary_of_a, paid, [FEB])

    assert last.amount == Decimal("17.00")
    paid.refresh_from_db()
    assert paid.status == "refunded"
    assert paid.refunded_amount == Decimal("32.00") == paid.amount


def test_a_refunded_month_may_be_paid_again(member, paid, secretary_of_a):
    _refund(secretary_of_a, paid, [JAN, FEB])

    again = pay(open_order(member, [JAN]), transaction_id="TX-AGAIN")

    assert again.status == "paid"
    assert LedgerEntry.objects.get(member=member, month=JAN).payment == again


def test_a_month_cannot_be_refunded_twice(paid, secretary_of_a):
    _refund(secretary_of_a, paid, [JAN])

    with pytest.raises(PaymentError) as error:
        _refund(secretary_of_a, paid, [JAN])

    assert error.value.code == "month_refunded"
    assert Refund.objects.count() == 1


def test_a_month_outside_the_order_cannot_be_refunded(paid, secretary_of_a):
    with pytest.raises(PaymentError) as error:
        _refund(secretary_of_a, paid, [FEB, MAR])

    assert error.value.code == "month_not_in_order"
    paid.refresh_from_db()
    assert paid.status == "paid"
    assert not Refund.objects.exists()


def test_a_refund_needs_a_reason(paid, secretary_of_a):
    with pytest.raises(PaymentError) as error:
        _refund(secretary_of_a, paid, [JAN], reason=" ")

    assert error.value.code == "reason_required"


def test_an_unpaid_order_cannot_be_refunded(member, owed, secretary_of_a):
    order = open_order(member, [JAN])

    with pytest.raises(PaymentError) as error:
        _refund(secretary_of_a, order, [JAN])

    assert error.value.code == "not_paid"


def test_another_branchs_secretary_cannot_refund(paid, secretary_of_b):
    with pytest.raises(OutOfScope):
        _refund(secretary_of_b, paid, [JAN])

    assert not Refund.objects.exists()


def test_a_provincial_viewer_cannot_refund(paid, provincial_viewer):
    with pytest.raises(ReadOnlyScope):
        _refund(provincial_viewer, paid, [JAN])


def test_the_member_cannot_refund_their_own_payment(member, paid):
    with pytest.raises(OutOfScope):
        _refund(member.user, paid, [JAN])


# Offline payments


def _record(actor, member, months, **kw):
    kw.setdefault("channel", "cash")
    kw.setdefault("paid_on", datetime.date(2026, 4, 10))
    kw.setdefault("today", TODAY)
    return payments.record_offline_payment(
        actor=actor, member=member, months=months, **kw
    )


def test_a_secretary_records_cash_with_the_same_ledger_effect(
    member, owed, secretary_of_a
):
    order = _record(secretary_of_a, member, [JAN, FEB], voluntary_amount="1.00")

    assert order.status == "paid"
    assert order.channel == "cash"
    assert order.amount == Decimal("31.00")
    assert order.receipt_number.endswith("-000001")
    assert order.paid_at.date() == datetime.date(2026, 4, 10)
    assert order.created_by == secretary_of_a
    entries = LedgerEntry.objects.filter(member=member, payment=order).order_by("month")
    assert [(e.month, e.paid_amount, e.voluntary_amount) for e in entries] == [
        (JAN, Decimal("15.00"), Decimal("0.00")),
        (FEB, Decimal("15.00"), Decimal("1.00")),
    ]
    assert AuditEvent.objects.filter(action="dues.payment.recorded").count() == 1


def test_recording_cash_closes_the_members_open_order_for_those_months(
    member, owed, secretary_of_a
):
    online = open_order(member, [JAN, FEB])

    _record(secretary_of_a, member, [JAN, FEB], channel="bank")

    online.refresh_from_db()
    assert online.status == "closed"


def test_a_cash_refund_succeeds_at_once(member, owed, secretary_of_a):
    order = _record(secretary_of_a, member, [JAN])

    refund = _refund(secretary_of_a, order, [JAN])

    assert refund.status == "succeeded"
    assert refund.completed_at is not None
    assert refund.gateway_refund_id == ""


def test_another_branchs_secretary_cannot_record_cash(member, owed, secretary_of_b):
    with pytest.raises(OutOfScope):
        _record(secretary_of_b, member, [JAN])

    assert not LedgerEntry.objects.filter(status="paid").exists()


def test_a_member_cannot_record_cash_for_themselves(member, owed):
    with pytest.raises(OutOfScope):
        _record(member.user, member, [JAN])


def test_recording_an_online_channel_by_hand_is_refused(member, owed, secretary_of_a):
    with pytest.raises(PaymentError) as error:
        _record(secretary_of_a, member, [JAN], channel="wechat")

    assert error.value.code == "channel_not_offline"


def test_a_payment_date_in_the_future_is_refused(member, owed, secretary_of_a):
    with pytest.raises(PaymentError) as error:
        _record(secretary_of_a, member, [JAN], paid_on=datetime.date(2026, 4, 16))

    assert error.value.code == "paid_on_future"


def test_recording_cash_follows_the_same_month_rules(member, owed, secretary_of_a):
    with pytest.raises(PaymentError) as error:
        _record(secretary_of_a, member, [FEB])

    assert error.value.code == "months_skipped"
