"""Bad input found by trying the dues pages as a new user would: each gets a
clear answer and changes nothing."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from dues.gateways import sandbox
from dues.models import Assessment, GatewayNotification, PaymentOrder, Reduction
from dues.services import payments
from dues.services.assessment import request_reduction
from tests.dues.desk import assess, months_back, this_month
from tests.dues.paying import open_order

CALLBACK = reverse("pay:callback", args=["sandbox"])

pytestmark = pytest.mark.django_db


def test_an_assessment_is_recorded_outside_a_test_transaction(
    transactional_db, client, member, secretary_of_a
):
    # The admin runs each request in autocommit: the service must open its
    # own transaction before it locks the member.
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:dues_assessment_add"),
        {
            "member": member.pk,
            "category": "in_service",
            "applies_from": f"{this_month():%Y-%m}",
            "base": "3000.00",
        },
    )

    assert response.status_code == 302
    assert Assessment.objects.get(member=member).monthly_amount == Decimal("15.00")


def test_a_tampered_member_id_is_a_form_error(client, member, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:dues_assessment_add"),
        {"member": "abc", "category": "in_service", "base": "3000.00"},
    )

    assert response.status_code == 200
    assert "member" in response.context["form"].errors
    assert not Assessment.objects.exists()


@pytest.fixture
def assessed(member, secretary_of_a):
    return assess(member, secretary_of_a)  # 15.00 a month


def _reduction(member, actor, **changes):
    data = {
        "actor": actor,
        "member": member,
        "first_month": months_back(1),
        "last_month": this_month(),
        "monthly_amount": "5.00",
        "reason": "生活困难",
        "branch_decided_on": months_back(1),
    }
    data.update(changes)
    return request_reduction(**data)


@pytest.mark.parametrize("amount", ["15.00", "500.00"])
def test_a_reduction_cannot_raise_or_keep_the_dues(
    assessed, member, secretary_of_a, amount
):
    with pytest.raises(Exception) as error:
        _reduction(member, secretary_of_a, monthly_amount=amount)

    assert "monthly_amount" in error.value.message_dict
    assert not Reduction.objects.exists()


def test_a_reduction_before_the_ledger_or_too_far_ahead_is_refused(
    assessed, member, secretary_of_a
):
    start = settings.LIUDONG_DUES_LEDGER_START
    with pytest.raises(Exception) as early:
        _reduction(member, secretary_of_a, first_month=start.replace(year=1900))
    with pytest.raises(Exception) as late:
        _reduction(member, secretary_of_a, last_month=this_month().replace(year=2099))

    assert "first_month" in early.value.message_dict
    assert "last_month" in late.value.message_dict
    assert not Reduction.objects.exists()


def test_an_offline_payment_dated_before_the_ledger_is_refused(
    assessed, member, secretary_of_a
):
    with pytest.raises(payments.PaymentError) as error:
        payments.record_offline_payment(
            actor=secretary_of_a,
            member=member,
            months=[settings.LIUDONG_DUES_LEDGER_START],
            channel="cash",
            paid_on=settings.LIUDONG_DUES_LEDGER_START.replace(year=1900),
        )

    assert error.value.code == "paid_on_before_ledger"
    assert not PaymentOrder.objects.exists()


def test_an_amount_with_an_exponent_is_a_form_error(
    client, assessed, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:dues_paymentorder_record") + f"?member={member.pk}",
        {
            "member": member.pk,
            "months": [f"{settings.LIUDONG_DUES_LEDGER_START:%Y-%m-%d}"],
            "channel": "cash",
            "amount": "1e3",
            "paid_on": f"{this_month():%Y-%m-%d}",
        },
    )

    assert response.status_code == 200
    assert not PaymentOrder.objects.exists()


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b"null", b'{"reference": "X", "amount": "NaN"}'],
)
def test_a_signed_but_unreadable_callback_is_rejected(client, body):
    response = client.post(
        CALLBACK,
        data=body,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=sandbox.sign(body),
    )

    assert response.status_code == 400
    assert GatewayNotification.objects.get().outcome == "bad_signature"


def test_a_callback_for_an_unconfigured_gateway_is_not_found(client):
    response = client.post(
        reverse("pay:callback", args=["wechat"]), data=b"x", content_type="text/plain"
    )

    assert response.status_code == 404


@pytest.mark.parametrize("month", ["9999-12", "0001-01"])
def test_the_ledger_at_the_calendars_ends_is_a_bad_request(
    client, branch_a, secretary_of_a, month
):
    client.force_login(secretary_of_a)

    response = client.get(
        reverse("admin:dues_ledger") + f"?organization={branch_a.pk}&month={month}"
    )

    assert response.status_code == 400


def test_a_reopened_order_after_changing_the_voluntary_amount_charges_it(
    assessed, member
):
    first = open_order(member, [settings.LIUDONG_DUES_LEDGER_START])
    second = open_order(
        member, [settings.LIUDONG_DUES_LEDGER_START], voluntary_amount=Decimal("3")
    )

    assert second.amount == first.amount + Decimal("3.00")
