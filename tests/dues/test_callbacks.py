"""Gateway callbacks: verified, checked, credited once, in any order."""

import json
import logging
from decimal import Decimal

import pytest
from django.urls import reverse

from dues.gateways import sandbox
from dues.models import (
    GatewayNotification,
    LedgerEntry,
    PaymentOrder,
    ReceiptSequence,
    Refund,
)
from dues.services import payments
from tests.dues import arrange
from tests.dues.paying import (
    FEB,
    JAN,
    deliver,
    notice,
    open_order,
    pay,
    run_tasks_in_process,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    run_tasks_in_process(settings)


CALLBACK = "/pay/callback/sandbox/"


@pytest.fixture
def owed(member, branch_a):
    return arrange.make_entries(member, branch_a, JAN, 4)


@pytest.fixture
def order(member, owed):
    return open_order(member, [JAN, FEB])


def _post(client, payload, *, secret=None):
    body = sandbox.canonical_body(payload)
    return client.post(
        CALLBACK,
        data=body,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=sandbox.sign(body, secret),
    )


def _paid_months(member):
    return list(
        LedgerEntry.objects.filter(member=member, status="paid")
        .order_by("month")
        .values_list("month", "paid_amount", "payment_id")
    )


def test_the_sandbox_page_shows_the_amount_and_the_months(client, order):
    payments.start_payment(order, return_url="/dues/")

    response = client.get(f"/pay/sandbox/{order.reference}/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "¥30.00" in text
    assert "2026-01, 2026-02" in text
    assert 'name="csrfmiddlewaretoken"' in text


def test_paying_on_the_sandbox_page_credits_the_months_and_returns(
    client, member, order
):
    payments.start_payment(order, return_url="/dues/orders/1/")

    response = client.post(f"/pay/sandbox/{order.reference}/", {"action": "pay"})

    assert response.status_code == 302
    assert response["Location"] == "/dues/orders/1/"
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.receipt_number == f"{order.paid_at.year}-000001"
    assert order.gateway_transaction_id.startswith("SB")
    assert _paid_months(member) == [
        (JAN, Decimal("15.00"), order.pk),
        (FEB, Decimal("15.00"), order.pk),
    ]
    assert GatewayNotification.objects.get().outcome == "credited"


def test_failing_on_the_sandbox_page_leaves_the_months_unpaid(client, member, order):
    payments.start_payment(order, return_url="/dues/")

    client.post(f"/pay/sandbox/{order.reference}/", {"action": "fail"})

    order.refresh_from_db()
    assert order.status == "failed"
    assert _paid_months(member) == []
    assert GatewayNotification.objects.get().outcome == "failed"


def test_a_return_url_to_another_site_is_not_followed(client, order):
    payments.start_payment(order, return_url="https://evil.example/")

    response = client.post(f"/pay/sandbox/{order.reference}/", {"action": "pay"})

    assert response["Location"] == "/"


def test_a_good_callback_is_answered_as_the_sandbox_expects(client, order):
    response = _post(client, notice(order))

    assert response.status_code == 200
    assert response.json() == {"result": "ok"}
    order.refresh_from_db()
    assert order.status == "paid"


def test_a_bad_signature_is_refused_and_credits_nothing(client, member, order, caplog):
    with caplog.at_level(logging.WARNING, logger="dues.services.settlement"):
        response = _post(client, notice(order), secret="not-the-secret")

    assert response.status_code == 400
    record = GatewayNotification.objects.get()
    assert record.outcome == "bad_signature"
    assert record.order is None
    order.refresh_from_db()
    assert order.status == "pending"
    assert _paid_months(member) == []
    assert "bad signature" in caplog.text


def test_a_tampered_body_is_refused(client, order):
    body = sandbox.canonical_body(notice(order))
    signature = sandbox.sign(body)
    tampered = body.replace(b"30.00", b"3.00")

    response = client.post(
        CALLBACK,
        data=tampered,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=signature,
    )

    assert response.status_code == 400
    assert GatewayNotification.objects.get().outcome == "bad_signature"


def test_the_same_callback_twice_credits_once(member, order):
    first = deliver(notice(order))
    second = deliver(notice(order))

    assert (first.outcome, second.outcome) == ("credited", "duplicate")
    assert _paid_months(member) == [
        (JAN, Decimal("15.00"), order.pk),
        (FEB, Decimal("15.00"), order.pk),
    ]
    assert ReceiptSequence.objects.get().last == 1


def test_an_amount_that_does_not_match_is_recorded_not_credited(member, order, caplog):
    with caplog.at_level(logging.WARNING, logger="dues.services.settlement"):
        record = deliver(notice(order, amount="0.01"))

    assert record.outcome == "mismatch"
    assert record.amount == Decimal("0.01")
    assert record.order == order
    order.refresh_from_db()
    assert order.status == "pending"
    assert _paid_months(member) == []
    assert "outcome=mismatch" in caplog.text


def test_an_unknown_order_is_recorded(caplog):
    with caplog.at_level(logging.WARNING, logger="dues.services.settlement"):
        record = deliver(
            {
                "reference": "DF-NOPE",
                "status": "paid",
                "transaction_id": "T",
                "amount": "1",
            }
        )

    assert record.outcome == "unknown"
    assert record.order_reference == "DF-NOPE"
    assert "outcome=unknown" in caplog.text


def test_a_failure_notice_after_success_is_ignored(member, order):
    pay(order)

    record = deliver(notice(order, status="failed", transaction_id=""))

    assert record.outcome == "ignored"
    order.refresh_from_db()
    assert order.status == "paid"
    assert len(_paid_months(member)) == 2


def test_a_success_after_the_order_closed_still_credits_unpaid_months(member, order):
    PaymentOrder.objects.filter(pk=order.pk).update(status="closed")

    record = deliver(notice(order))

    assert record.outcome == "credited"
    order.refresh_from_db()
    assert order.status == "paid"
    assert len(_paid_months(member)) == 2


def test_a_success_for_months_paid_meanwhile_is_recorded_and_refunded(
    member, order, django_capture_on_commit_callbacks
):
    PaymentOrder.objects.filter(pk=order.pk).update(status="closed")
    other = pay(open_order(member, [JAN, FEB], voluntary_amount="1.00"))

    with django_capture_on_commit_callbacks(execute=True):
        record = deliver(notice(order, transaction_id="TX-LATE"))

    assert record.outcome == "credited"
    order.refresh_from_db()
    assert order.status == "refunded"
    assert order.refunded_amount == Decimal("30.00")
    assert order.receipt_number is not None
    refund = Refund.objects.get(order=order)
    assert refund.amount == Decimal("30.00")
    assert refund.months == [JAN, FEB]
    assert refund.status == "succeeded"
    assert refund.gateway_refund_id.startswith("SBR")
    assert {payment for *_, payment in _paid_months(member)} == {other.pk}


def test_a_late_success_credits_the_months_still_unpaid_and_refunds_the_rest(
    member, order, django_capture_on_commit_callbacks
):
    PaymentOrder.objects.filter(pk=order.pk).update(status="closed")
    pay(open_order(member, [JAN]))

    with django_capture_on_commit_callbacks(execute=True):
        deliver(notice(order, transaction_id="TX-LATE"))

    order.refresh_from_db()
    assert order.status == "part_refund"
    assert order.refunded_amount == Decimal("15.00")
    assert Refund.objects.get(order=order).months == [JAN]
    feb = LedgerEntry.objects.get(member=member, month=FEB)
    assert (feb.status, feb.payment_id, feb.paid_amount) == (
        "paid",
        order.pk,
        Decimal("15.00"),
    )


def test_the_voluntary_part_lands_on_the_last_month(member, owed):
    order = pay(open_order(member, [JAN, FEB], voluntary_amount="2.50"))

    entries = LedgerEntry.objects.filter(payment=order).order_by("month")
    assert [(e.paid_amount, e.voluntary_amount) for e in entries] == [
        (Decimal("15.00"), Decimal("0.00")),
        (Decimal("15.00"), Decimal("2.50")),
    ]


def test_receipt_numbers_count_up_within_the_year(member, owed):
    first = pay(open_order(member, [JAN]))
    second = pay(open_order(member, [FEB]), transaction_id="TX-2")

    year = first.paid_at.year
    assert (first.receipt_number, second.receipt_number) == (
        f"{year}-000001",
        f"{year}-000002",
    )


def test_a_get_on_the_callback_is_not_allowed(client):
    assert client.get(CALLBACK).status_code == 405


def test_an_unknown_channel_has_no_callback(client):
    assert client.post("/pay/callback/paypal/", data={}).status_code == 404


def test_the_callback_needs_no_csrf_token(order):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    body = sandbox.canonical_body(notice(order))

    response = client.post(
        reverse("pay:callback", args=["sandbox"]),
        data=body,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=sandbox.sign(body),
    )

    assert response.status_code == 200
    assert json.loads(response.content) == {"result": "ok"}


def test_the_sandbox_page_needs_a_csrf_token(order):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        f"/pay/sandbox/{order.reference}/", {"action": "pay"}
    )

    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == "pending"


def test_in_production_the_sandbox_takes_no_callbacks_and_no_orders(
    client, settings, member, owed, order
):
    settings.PRODUCTION = True

    response = _post(client, notice(order))

    assert response.status_code == 404
    assert client.get(f"/pay/sandbox/{order.reference}/").status_code == 404
    with pytest.raises(payments.PaymentError) as error:
        open_order(member, [JAN], channel="sandbox")
    assert error.value.code == "channel_not_online"
