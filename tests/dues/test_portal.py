"""The member's dues pages: what is due, choosing months, orders, receipts."""

import datetime
from decimal import Decimal
from io import BytesIO

import pytest
from django.utils import timezone
from pypdf import PdfReader

from dues.gateways import GatewayError, sandbox
from dues.gateways.sandbox import SandboxGateway
from dues.models import LedgerEntry, PaymentOrder
from dues.services import payments
from members.models import Mobility
from organizations.models import Region
from tests import factories
from tests.dues import arrange

DUES = "/dues/"
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


def this_month() -> datetime.date:
    return timezone.localdate().replace(day=1)


def shift(month: datetime.date, count: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + count
    return datetime.date(index // 12, index % 12 + 1, 1)


def value(month: datetime.date) -> str:
    return month.strftime("%Y-%m")


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def two_due(member, branch_a) -> list[LedgerEntry]:
    """Last month at 15.00 (arrears) and this month at 30.00."""
    last = arrange.make_entries(member, branch_a, shift(this_month(), -1), 1)
    current = arrange.make_entries(member, branch_a, this_month(), 1, amount="30.00")
    return last + current


def pay_form(*months: datetime.date, **fields) -> dict:
    return {"months": [value(m) for m in months], "payer": "self", **fields}


# Who may see the pages.


@pytest.mark.parametrize(
    "url",
    [DUES, "/dues/orders/D1/", "/dues/receipts/D1/", "/dues/receipts/D1.pdf"],
)
def test_an_anonymous_visitor_is_sent_to_log_in(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_an_anonymous_post_writes_no_order(client, two_due):
    response = client.post(DUES, pay_form(*[e.month for e in two_due]))

    assert response.status_code == 302
    assert PaymentOrder.objects.count() == 0


def test_a_user_without_a_member_record_gets_the_no_member_page(client, outsider):
    client.force_login(outsider)

    response = client.get(DUES)

    assert response.status_code == 200
    assert response.templates[0].name == "portal/no_member.html"


def test_the_dues_page_is_never_cached(member_client, two_due):
    response = member_client.get(DUES)

    assert "no-store" in response["Cache-Control"]


def test_the_portal_home_links_to_the_dues_page(member_client):
    response = member_client.get("/", **ENGLISH)

    assert 'href="/dues/"' in response.content.decode()


# What is due.


def test_a_member_sees_each_month_due_with_its_exact_amount(member_client, two_due):
    last, current = two_due

    response = member_client.get(DUES, **ENGLISH)

    assert response.status_code == 200
    content = response.content.decode()
    assert "1 month unpaid, since " + last.month.strftime("%B %Y") in content
    arrears = response.context["statement"].arrears
    assert [e.month for e in arrears] == [last.month]
    boxes = {
        box.payable.value: box.payable.amount
        for _, group in response.context["form"].month_groups()
        for box in group
    }
    assert boxes[value(last.month)] == Decimal("15.00")
    assert boxes[value(current.month)] == Decimal("30.00")
    assert "¥15.00" in content
    assert "¥30.00" in content


def test_arrears_and_the_current_month_are_chosen_already(member_client, two_due):
    response = member_client.get(DUES)

    content = response.content.decode()
    for entry in two_due:
        box = f'value="{value(entry.month)}"'
        assert box in content
        tag = content[content.rindex("<input", 0, content.index(box)) :]
        assert "checked" in tag[: tag.index(">")]


def test_months_ahead_are_offered_but_not_chosen(member_client, two_due):
    ahead = value(shift(this_month(), 1))

    response = member_client.get(DUES)

    form = response.context["form"]
    assert ahead in dict(form.fields["months"].choices)
    assert ahead not in form.fields["months"].initial


def test_another_members_months_are_not_offered(
    member_client, two_due, member_of_b, branch_b
):
    older = shift(this_month(), -5)
    arrange.make_entries(member_of_b, branch_b, older, 1)

    response = member_client.get(DUES)

    assert value(older) not in dict(response.context["form"].fields["months"].choices)


# Choosing months and paying.


def test_choosing_months_opens_an_order_for_exactly_them(member_client, two_due):
    last, current = two_due

    response = member_client.post(DUES, pay_form(last.month, current.month))

    order = PaymentOrder.objects.get()
    assert order.months == [last.month, current.month]
    assert order.amount == Decimal("45.00")
    assert order.voluntary_amount == Decimal("0.00")
    assert order.status == PaymentOrder.Status.PENDING
    assert order.payer == PaymentOrder.Payer.SELF
    assert [line.amount_due for line in order.lines.all()] == [
        Decimal("15.00"),
        Decimal("30.00"),
    ]
    assert response.status_code == 302
    assert response["Location"] == f"/pay/sandbox/{order.reference}/"


def test_the_gateway_sends_the_member_back_to_the_order_page(member_client, two_due):
    member_client.post(DUES, pay_form(*[e.month for e in two_due]))
    order = PaymentOrder.objects.get()

    state = sandbox.state(order.reference)

    assert state["return_url"] == f"http://testserver/dues/orders/{order.reference}/"


def test_a_voluntary_extra_is_added_to_the_amount(member_client, two_due):
    member_client.post(
        DUES, pay_form(*[e.month for e in two_due], voluntary_amount="10.50")
    )

    order = PaymentOrder.objects.get()
    assert order.amount == Decimal("55.50")
    assert order.voluntary_amount == Decimal("10.50")


def test_another_person_may_pay_on_the_members_behalf(member_client, two_due):
    member_client.post(
        DUES,
        pay_form(*[e.month for e in two_due], payer="on_behalf", payer_name=" 张大 "),
    )

    order = PaymentOrder.objects.get()
    assert order.payer == PaymentOrder.Payer.ON_BEHALF
    assert order.payer_name == "张大"


def test_a_second_identical_submit_lands_on_the_same_order(member_client, two_due):
    form = pay_form(*[e.month for e in two_due])
    first = member_client.post(DUES, form)

    second = member_client.post(DUES, form)

    assert PaymentOrder.objects.count() == 1
    assert second.status_code == 302
    assert second["Location"] == first["Location"]


def test_paying_ahead_adds_the_future_month_at_its_assessed_amount(
    member_client, two_due, settings
):
    # The ledger starts with the arranged months, so generating the future
    # month the member chose adds nothing older.
    settings.LIUDONG_DUES_LEDGER_START = two_due[0].month
    ahead = shift(this_month(), 1)

    response = member_client.post(DUES, pay_form(*[e.month for e in two_due], ahead))

    order = PaymentOrder.objects.get()
    assert order.months == [e.month for e in two_due] + [ahead]
    assert order.amount == Decimal("75.00")
    assert response["Location"] == f"/pay/sandbox/{order.reference}/"


def test_more_than_six_months_of_arrears_wait_for_the_secretary(
    member_client, member, branch_a
):
    entries = arrange.make_entries(member, branch_a, shift(this_month(), -8), 8)

    response = member_client.post(DUES, pay_form(*[e.month for e in entries]))

    order = PaymentOrder.objects.get()
    assert order.status == PaymentOrder.Status.AWAITING_APPROVAL
    assert order.amount == Decimal("120.00")
    assert response["Location"] == f"/dues/orders/{order.reference}/"
    page = member_client.get(response["Location"], **ENGLISH).content.decode()
    assert "must approve this payment" in page
    assert "8 months of arrears at once (more than 6)" in page
    assert 'data-testid="pay-now"' not in page


# Bad input: a clear error, and no order.


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"voluntary_amount": "-1"}, "voluntary_amount", "greater than or equal to 0"),
        ({"voluntary_amount": "ten"}, "voluntary_amount", "Enter an amount in yuan"),
        ({"voluntary_amount": "1.005"}, "voluntary_amount", "2 decimal places"),
        ({"payer": "on_behalf"}, "payer_name", "Write the name of the person"),
        ({"payer": "on_behalf", "payer_name": "  "}, "payer_name", "Write the name"),
        ({"payer": "organization"}, "payer", "Select a valid choice"),
        ({"payer": "wage_deduction"}, "payer", "Select a valid choice"),
    ],
)
def test_bad_input_is_refused_beside_its_field(
    member_client, two_due, fields, field, message
):
    response = member_client.post(
        DUES, {**pay_form(*[e.month for e in two_due]), **fields}, **ENGLISH
    )

    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors)
    assert "Nothing was saved" in response.content.decode()
    assert PaymentOrder.objects.count() == 0


def test_choosing_no_month_is_refused(member_client, two_due):
    response = member_client.post(DUES, {"payer": "self"}, **ENGLISH)

    assert response.context["form"].errors["months"] == [
        "Choose at least one month to pay."
    ]
    assert PaymentOrder.objects.count() == 0


def test_a_month_of_another_member_is_refused(
    member_client, two_due, member_of_b, branch_b
):
    older = shift(this_month(), -5)
    arrange.make_entries(member_of_b, branch_b, older, 1)

    response = member_client.post(DUES, pay_form(older), **ENGLISH)

    assert response.context["form"].errors["months"] == [
        f"{value(older)} is not a month you can pay here. Choose from the list."
    ]
    assert PaymentOrder.objects.count() == 0


@pytest.mark.parametrize("text", ["2026-13", "someday", "1999-01"])
def test_a_month_that_is_not_on_the_list_is_refused(member_client, two_due, text):
    response = member_client.post(DUES, {"months": [text], "payer": "self"})

    assert "months" in response.context["form"].errors
    assert PaymentOrder.objects.count() == 0


def test_a_month_beyond_the_limit_ahead_is_refused(member_client, two_due):
    too_far = shift(this_month(), 7)
    months = [e.month for e in two_due] + [shift(this_month(), n) for n in range(1, 8)]

    response = member_client.post(DUES, pay_form(*months), **ENGLISH)

    assert response.context["form"].errors["months"] == [
        f"{value(too_far)} is not a month you can pay here. Choose from the list."
    ]
    assert PaymentOrder.objects.count() == 0


def test_skipping_an_older_unpaid_month_shows_the_services_error(
    member_client, two_due
):
    last, current = two_due

    response = member_client.post(DUES, pay_form(current.month), **ENGLISH)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        f"Pay the older unpaid months first: {value(last.month)}."
    ]
    assert PaymentOrder.objects.count() == 0


# The order page.


def open_for(member, entries) -> PaymentOrder:
    return payments.open_order(
        actor=member.user, member=member, months=[e.month for e in entries]
    )


def paid(order: PaymentOrder) -> PaymentOrder:
    payments.start_payment(order, return_url="http://testserver/")
    sandbox.simulate(order, succeed=True)
    order.refresh_from_db()
    return order


def test_a_waiting_order_shows_its_months_amount_and_a_pay_button(
    member_client, member, two_due
):
    order = open_for(member, two_due)

    response = member_client.get(f"/dues/orders/{order.reference}/", **ENGLISH)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    content = response.content.decode()
    assert 'data-status="pending"' in content
    assert "Waiting for payment" in content
    assert "¥45.00" in content
    assert 'data-testid="pay-now"' in content
    assert 'data-testid="receipt-link"' not in content


def test_pay_now_sends_the_member_to_the_gateway(member_client, member, two_due):
    order = open_for(member, two_due)

    response = member_client.post(f"/dues/orders/{order.reference}/")

    assert response.status_code == 302
    assert response["Location"] == f"/pay/sandbox/{order.reference}/"


def test_an_approved_order_can_be_paid(member_client, member, branch_a, secretary_of_a):
    entries = arrange.make_entries(member, branch_a, shift(this_month(), -8), 8)
    order = open_for(member, entries)
    refused = member_client.post(f"/dues/orders/{order.reference}/")
    payments.approve_order(actor=secretary_of_a, order=order)

    response = member_client.post(f"/dues/orders/{order.reference}/")

    assert refused["Location"] == f"/dues/orders/{order.reference}/"
    assert response["Location"] == f"/pay/sandbox/{order.reference}/"


def test_a_paid_order_shows_its_receipt_number_and_links(
    member_client, member, two_due
):
    order = paid(open_for(member, two_due))

    response = member_client.get(f"/dues/orders/{order.reference}/", **ENGLISH)

    content = response.content.decode()
    assert order.status == PaymentOrder.Status.PAID
    assert 'data-status="paid"' in content
    assert order.receipt_number in content
    assert f'href="/dues/receipts/{order.reference}/"' in content
    assert f'href="/dues/receipts/{order.reference}.pdf"' in content
    assert 'data-testid="pay-now"' not in content


def test_a_paid_order_cannot_be_sent_to_the_gateway_again(
    member_client, member, two_due
):
    order = paid(open_for(member, two_due))

    response = member_client.post(f"/dues/orders/{order.reference}/")

    assert response["Location"] == f"/dues/orders/{order.reference}/"


def test_paid_months_appear_in_the_history_with_their_receipt(
    member_client, member, two_due
):
    order = paid(open_for(member, two_due))

    response = member_client.get(DUES, **ENGLISH)

    history = response.context["paid"]
    assert [e.month for e in history] == [two_due[1].month, two_due[0].month]
    assert [e.paid_amount for e in history] == [Decimal("30.00"), Decimal("15.00")]
    content = response.content.decode()
    assert f"Receipt {order.receipt_number}" in content
    assert value(two_due[0].month) not in [
        box.payable.value
        for _, group in response.context["form"].month_groups()
        for box in group
    ]


# Receipts.


def test_the_receipt_page_shows_the_months_and_total(member_client, member, two_due):
    order = paid(open_for(member, two_due))

    response = member_client.get(f"/dues/receipts/{order.reference}/", **ENGLISH)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    content = response.content.decode()
    assert order.receipt_number in content
    assert "¥15.00" in content
    assert "¥30.00" in content
    assert 'data-testid="receipt-total">¥45.00<' in content


def test_the_receipt_pdf_is_a_pdf_download(member_client, member, two_due):
    order = paid(open_for(member, two_due))

    response = member_client.get(f"/dues/receipts/{order.reference}.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="receipt-{order.receipt_number}.pdf"'
    )
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")
    text = "".join(
        page.extract_text() for page in PdfReader(BytesIO(response.content)).pages
    )
    assert order.receipt_number in text


@pytest.mark.parametrize("suffix", ["/", ".pdf"])
def test_an_unpaid_order_has_no_receipt(member_client, member, two_due, suffix):
    order = open_for(member, two_due)

    response = member_client.get(f"/dues/receipts/{order.reference}{suffix}")

    assert response.status_code == 404


@pytest.mark.parametrize(
    "url", ["/dues/orders/{}/", "/dues/receipts/{}/", "/dues/receipts/{}.pdf"]
)
def test_another_members_order_and_receipt_answer_404(
    client, member, two_due, member_of_b, url
):
    order = paid(open_for(member, two_due))
    member_of_b.user = factories.make_user("member_b")
    member_of_b.save(update_fields=["user"])
    client.force_login(member_of_b.user)

    response = client.get(url.format(order.reference))

    assert response.status_code == 404


def test_another_members_order_cannot_be_sent_to_the_gateway(
    client, member, two_due, member_of_b
):
    order = open_for(member, two_due)
    member_of_b.user = factories.make_user("member_b")
    member_of_b.save(update_fields=["user"])
    client.force_login(member_of_b.user)

    response = client.post(f"/dues/orders/{order.reference}/")

    assert response.status_code == 404
    assert sandbox.state(order.reference) is None


def test_a_user_without_a_member_record_sees_no_order(
    client, member, two_due, outsider
):
    order = paid(open_for(member, two_due))
    client.force_login(outsider)

    response = client.get(f"/dues/receipts/{order.reference}/")

    assert response.templates[0].name == "portal/no_member.html"
    assert order.receipt_number not in response.content.decode()


# Escaping.

HOSTILE = '"><script>alert(1)</script>'


def test_names_render_as_text(member_client, member, two_due):
    member.name = HOSTILE
    member.save(update_fields=["name"])
    order = paid(
        payments.open_order(
            actor=member.user,
            member=member,
            months=[e.month for e in two_due],
            payer="on_behalf",
            payer_name=HOSTILE,
        )
    )

    pages = [
        member_client.get(url).content.decode()
        for url in (
            DUES,
            f"/dues/orders/{order.reference}/",
            f"/dues/receipts/{order.reference}/",
        )
    ]

    for page in pages:
        assert "<script>alert(1)" not in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in pages[2]


# Paying at the inflow organisation.


def placed_with_certificate(member, inflow, *, certificate="LD-2026-001"):
    return Mobility.objects.create(
        member=member,
        outflow_organization=member.membership_periods.get().organization,
        destination_region=Region.objects.get(code="430102"),
        inflow_organization=inflow,
        status=Mobility.Status.REPORTED,
        left_on=datetime.date(2026, 1, 10),
        reason=Mobility.Reason.WORK,
        contact="长沙",
        certificate_number=certificate,
        registered_by=member.user,
        reported_on=datetime.date(2026, 1, 20),
    )


def test_a_member_without_a_certificate_is_not_offered_the_inflow(
    member_client, member, two_due, branch_c
):
    placed_with_certificate(member, branch_c, certificate="")

    response = member_client.get(DUES)

    assert "at_inflow" not in response.context["form"].fields


def test_a_certificate_holder_may_pay_at_the_inflow_organisation(
    member_client, member, two_due, branch_c
):
    placed_with_certificate(member, branch_c)

    page = member_client.get(DUES, **ENGLISH)
    member_client.post(
        DUES, pay_form(*[e.month for e in two_due], at_inflow="on"), **ENGLISH
    )

    assert "you may pay to 长沙支部" in page.content.decode()
    order = PaymentOrder.objects.get()
    assert order.collected_by == branch_c


def test_without_the_choice_the_home_branch_collects(
    member_client, member, two_due, branch_a, branch_c
):
    placed_with_certificate(member, branch_c)

    member_client.post(DUES, pay_form(*[e.month for e in two_due]))

    assert PaymentOrder.objects.get().collected_by == branch_a


# When the gateway is down.


def test_a_gateway_that_cannot_be_reached_leaves_the_order_to_pay_later(
    member_client, two_due, monkeypatch
):
    def unreachable(self, order, return_url, **options):
        raise GatewayError("connection refused")

    monkeypatch.setattr(SandboxGateway, "start", unreachable)

    response = member_client.post(
        DUES, pay_form(*[e.month for e in two_due]), follow=True, **ENGLISH
    )

    order = PaymentOrder.objects.get()
    assert response.redirect_chain == [(f"/dues/orders/{order.reference}/", 302)]
    content = response.content.decode()
    assert "The payment service cannot be reached" in content
    assert 'data-testid="pay-now"' in content


def test_a_rejected_order_offers_to_choose_months_again(
    member_client, member, branch_a, secretary_of_a
):
    entries = arrange.make_entries(member, branch_a, shift(this_month(), -8), 8)
    order = open_for(member, entries)
    payments.reject_order(actor=secretary_of_a, order=order)

    response = member_client.get(f"/dues/orders/{order.reference}/", **ENGLISH)

    content = response.content.decode()
    assert 'data-status="rejected"' in content
    assert "did not approve this payment" in content
    assert 'data-testid="choose-again"' in content
    assert 'data-testid="pay-now"' not in content
