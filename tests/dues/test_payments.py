"""Payment orders: which months may be paid, by whom, through which order."""

import datetime
from decimal import Decimal

import pytest
from django.db.models import Sum

from dues.models import LedgerEntry, PaymentLine, PaymentOrder
from dues.services import payments
from dues.services.payments import PaymentError
from members.models import AuditEvent
from organizations.scope import OutOfScope, ReadOnlyScope
from tests.dues import arrange
from tests.dues.paying import (
    APR,
    FEB,
    JAN,
    MAR,
    away_with_certificate,
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
    """January to April 2026 unpaid, 15.00 a month; today is 15 April."""
    return arrange.make_entries(member, branch_a, JAN, 4)


def test_an_order_for_two_months_waits_for_payment(member, branch_a, owed):
    order = open_order(member, [FEB, JAN])

    assert order.status == "pending"
    assert order.months == [JAN, FEB]
    assert order.amount == Decimal("30.00")
    assert order.voluntary_amount == Decimal("0.00")
    assert order.collected_by == branch_a
    assert order.channel == "sandbox"
    assert order.payer == "self"
    assert [(line.month, line.amount_due) for line in order.lines.all()] == [
        (JAN, Decimal("15.00")),
        (FEB, Decimal("15.00")),
    ]
    assert AuditEvent.objects.filter(action="dues.order.opened", member=member).count()


def test_an_order_number_is_unguessable_and_unique(member, owed):
    first = open_order(member, [JAN])
    second = open_order(member, [JAN, FEB])

    assert first.reference.startswith("DF2026")
    assert len(first.reference) == len("DF") + 8 + 12
    assert first.reference != second.reference


def test_asking_again_for_the_same_months_returns_the_same_order(member, owed):
    first = open_order(member, [JAN, FEB])

    again = open_order(member, [FEB, JAN])

    assert again.pk == first.pk
    assert PaymentOrder.objects.filter(member=member).count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"voluntary_amount": Decimal("5.00")},
        {"payer": "on_behalf", "payer_name": "张三的父亲"},
    ],
)
def test_changed_terms_for_the_same_months_supersede_the_open_order(
    member, owed, change
):
    first = open_order(member, [JAN, FEB])

    second = open_order(member, [JAN, FEB], **change)

    first.refresh_from_db()
    assert second.pk != first.pk
    assert first.status == PaymentOrder.Status.CLOSED
    assert second.amount == first.amount + change.get("voluntary_amount", 0)


def test_a_voluntary_amount_written_with_an_exponent_is_refused(member, owed):
    with pytest.raises(PaymentError) as error:
        open_order(member, [JAN], voluntary_amount=Decimal("1e3"))

    assert error.value.code == "voluntary_invalid"
    assert not PaymentOrder.objects.filter(member=member).exists()


def test_a_new_choice_of_months_closes_the_older_open_order(member, owed):
    first = open_order(member, [JAN])

    second = open_order(member, [JAN, FEB])

    first.refresh_from_db()
    assert first.status == "closed"
    assert second.status == "pending"


def test_a_voluntary_amount_is_added_and_rides_on_the_last_month(member, owed):
    order = open_order(member, [JAN, FEB], voluntary_amount="5.50")

    assert order.amount == Decimal("35.50")
    assert order.voluntary_amount == Decimal("5.50")
    assert [line.voluntary_amount for line in order.lines.all()] == [
        Decimal("0.00"),
        Decimal("5.50"),
    ]


@pytest.mark.parametrize("amount", ["-1", "0.001", "abc", "NaN"])
def test_a_bad_voluntary_amount_is_refused(member, owed, amount):
    with pytest.raises(PaymentError) as error:
        open_order(member, [JAN], voluntary_amount=amount)

    assert error.value.code == "voluntary_invalid"
    assert not PaymentOrder.objects.exists()


def test_someone_paying_on_the_members_behalf_is_named(member, owed):
    order = open_order(member, [JAN], payer="on_behalf", payer_name="张父")

    assert order.payer == "on_behalf"
    assert order.payer_name == "张父"


def test_paying_on_behalf_without_a_name_is_refused(member, owed):
    with pytest.raises(PaymentError) as error:
        open_order(member, [JAN], payer="on_behalf", payer_name="  ")

    assert error.value.code == "payer_name_required"
    assert not PaymentOrder.objects.exists()


@pytest.mark.parametrize(
    ("payer", "code", "text"),
    [
        ("organization", "payer_organization", "organization may not pay"),
        ("wage_deduction", "payer_wage_deduction", "deducted from wages"),
    ],
)
def test_the_organization_paying_or_deducting_from_wages_is_refused(
    member, owed, payer, code, text
):
    with pytest.raises(PaymentError) as error:
        open_order(member, [JAN], payer=payer)

    assert error.value.code == code
    assert text in error.value.messages[0]
    assert not PaymentOrder.objects.exists()


def test_skipping_an_older_unpaid_month_is_refused(member, owed):
    with pytest.raises(PaymentError) as error:
        open_order(member, [FEB, MAR])

    assert error.value.code == "months_skipped"
    assert "2026-01" in error.value.messages[0]
    assert not PaymentOrder.objects.exists()


def test_a_month_already_paid_is_refused(member, owed):
    pay(open_order(member, [JAN]))

    with pytest.raises(PaymentError) as error:
        open_order(member, [JAN, FEB])

    assert error.value.code == "month_settled"


def test_months_after_a_paid_month_are_not_holes(member, owed):
    pay(open_order(member, [JAN]))

    order = open_order(member, [FEB, MAR])

    assert order.amount == Decimal("30.00")


def test_a_month_before_the_ledger_start_is_refused(member, owed):
    with pytest.raises(PaymentError) as error:
        open_order(member, [datetime.date(2025, 12, 1), JAN])

    assert error.value.code == "before_ledger"


def test_a_month_beyond_the_horizon_is_refused(member, owed):
    with pytest.raises(PaymentError) as error:
        open_order(member, [datetime.date(2027, 5, 1)])

    assert error.value.code == "beyond_horizon"


def test_a_month_without_a_known_amount_is_refused(member, branch_a):
    LedgerEntry.objects.create(member=member, month=JAN, organization=branch_a)

    with pytest.raises(PaymentError) as error:
        open_order(member, [JAN])

    assert error.value.code == "amount_unknown"


def test_no_months_is_refused(member, owed):
    with pytest.raises(PaymentError) as error:
        open_order(member, [])

    assert error.value.code == "no_months"


def test_an_offline_channel_is_not_for_members(member, owed):
    with pytest.raises(PaymentError) as error:
        open_order(member, [JAN], channel="cash")

    assert error.value.code == "channel_not_online"


def test_another_user_cannot_open_an_order_for_the_member(member, owed, outsider):
    with pytest.raises(OutOfScope):
        open_order(member, [JAN], actor=outsider)


def test_the_secretary_may_open_an_order_for_a_member_of_the_branch(
    member, owed, secretary_of_a
):
    order = open_order(member, [JAN], actor=secretary_of_a)

    assert order.created_by == secretary_of_a


def test_up_to_six_months_of_arrears_need_no_approval(member, branch_a):
    arrange.make_entries(member, branch_a, JAN, 7)

    order = open_order(member, arrange.months(JAN, 6), today=datetime.date(2026, 7, 5))

    assert order.status == "pending"
    assert order.approval_reason == ""


def test_more_than_six_months_of_arrears_await_the_secretary(member, branch_a):
    arrange.make_entries(member, branch_a, JAN, 8)

    order = open_order(member, arrange.months(JAN, 7), today=datetime.date(2026, 8, 5))

    assert order.status == "approval"
    assert order.approval_reason == "7 months of arrears at once (more than 6)"
    assert order.amount == Decimal("105.00")


def test_months_ahead_are_generated_and_more_than_six_await_approval(member, branch_a):
    arrange.make_entries(member, branch_a, JAN, 1)

    order = open_order(member, arrange.months(JAN, 8), today=datetime.date(2026, 1, 10))

    assert order.status == "approval"
    assert order.approval_reason == "7 months paid ahead at once (more than 6)"
    assert order.amount == Decimal("120.00")
    assert LedgerEntry.objects.filter(member=member, status="due").count() == 8


def test_six_months_ahead_need_no_approval(member, branch_a):
    arrange.make_entries(member, branch_a, JAN, 1)

    order = open_order(member, arrange.months(JAN, 7), today=datetime.date(2026, 1, 10))

    assert order.status == "pending"


def test_the_secretary_approves_an_order_of_the_branch(
    member, branch_a, secretary_of_a
):
    arrange.make_entries(member, branch_a, JAN, 8)
    order = open_order(member, arrange.months(JAN, 7), today=datetime.date(2026, 8, 5))

    payments.approve_order(actor=secretary_of_a, order=order)

    order.refresh_from_db()
    assert order.status == "pending"
    assert order.decided_by == secretary_of_a
    assert AuditEvent.objects.filter(action="dues.order.approved").count() == 1


def test_the_secretary_rejects_an_order(member, branch_a, secretary_of_a):
    arrange.make_entries(member, branch_a, JAN, 8)
    order = open_order(member, arrange.months(JAN, 7), today=datetime.date(2026, 8, 5))

    payments.reject_order(actor=secretary_of_a, order=order, note="too many")

    order.refresh_from_db()
    assert order.status == "rejected"
    assert AuditEvent.objects.filter(action="dues.order.rejected").count() == 1


def test_another_branchs_secretary_cannot_approve(member, branch_a, secretary_of_b):
    arrange.make_entries(member, branch_a, JAN, 8)
    order = open_order(member, arrange.months(JAN, 7), today=datetime.date(2026, 8, 5))

    with pytest.raises(OutOfScope):
        payments.approve_order(actor=secretary_of_b, order=order)

    order.refresh_from_db()
    assert order.status == "approval"


def test_a_provincial_viewer_cannot_approve(member, branch_a, provincial_viewer):
    arrange.make_entries(member, branch_a, JAN, 8)
    order = open_order(member, arrange.months(JAN, 7), today=datetime.date(2026, 8, 5))

    with pytest.raises(ReadOnlyScope):
        payments.approve_order(actor=provincial_viewer, order=order)


def test_an_order_not_awaiting_approval_cannot_be_approved(
    member, owed, secretary_of_a
):
    order = open_order(member, [JAN])

    with pytest.raises(PaymentError) as error:
        payments.approve_order(actor=secretary_of_a, order=order)

    assert error.value.code == "not_awaiting"


def test_an_order_awaiting_approval_cannot_be_paid_yet(member, branch_a):
    arrange.make_entries(member, branch_a, JAN, 8)
    order = open_order(member, arrange.months(JAN, 7), today=datetime.date(2026, 8, 5))

    with pytest.raises(PaymentError) as error:
        payments.start_payment(order, return_url="/dues/")

    assert error.value.code == "order_not_payable"


def test_starting_a_sandbox_payment_leads_to_the_sandbox_page(member, owed):
    order = open_order(member, [JAN])

    url = payments.start_payment(order, return_url="/dues/")

    assert url == f"/pay/sandbox/{order.reference}/"


def test_a_certificate_holder_may_pay_at_the_inflow_organization(
    member, branch_a, branch_c, owed, secretary_of_a
):
    away_with_certificate(member, inflow=branch_c, registered_by=secretary_of_a)

    order = pay(open_order(member, [JAN, FEB], at_inflow=True))

    assert order.collected_by == branch_c
    entries = LedgerEntry.objects.filter(member=member, status="paid")
    assert {(e.organization_id, e.collected_by_id) for e in entries} == {
        (branch_a.pk, branch_c.pk)
    }


def test_paying_at_the_inflow_organization_needs_a_certificate(
    member, branch_c, owed, secretary_of_a
):
    away_with_certificate(
        member, inflow=branch_c, registered_by=secretary_of_a, certificate=""
    )

    with pytest.raises(PaymentError) as error:
        open_order(member, [JAN], at_inflow=True)

    assert error.value.code == "not_at_inflow"


def test_paying_at_home_leaves_collected_by_empty(member, owed):
    pay(open_order(member, [JAN]))

    entry = LedgerEntry.objects.get(member=member, month=JAN)
    assert entry.collected_by is None
    assert entry.paid_amount == Decimal("15.00")


def test_lines_add_up_to_the_order(member, owed):
    order = open_order(member, [JAN, FEB, MAR, APR], voluntary_amount="0.80")

    lines = PaymentLine.objects.filter(order=order).aggregate(
        due=Sum("amount_due"), voluntary=Sum("voluntary_amount")
    )
    assert lines["due"] + lines["voluntary"] == order.amount == Decimal("60.80")
