"""The dues API: a member's own statement and orders; for staff the ledger,
its summary and assessments, each scoped like the admin."""

import datetime
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from dues.gateways import GatewayError
from dues.gateways.sandbox import SandboxGateway
from dues.models import Assessment, LedgerEntry, PaymentOrder
from dues.selectors import organization_ledger
from members.models import AuditEvent
from organizations.scope import scope_for
from tests import factories
from tests.dues.desk import assess, entries, months_back, pay, this_month
from tests.dues.paying import away_with_certificate

STATEMENT_URL = reverse("api-me-dues")
ORDERS_URL = reverse("api-me-dues-orders")
LEDGER_URL = reverse("api-dues-ledger")
SUMMARY_URL = reverse("api-dues-ledger-summary")
ASSESSMENTS_URL = reverse("api-dues-assessments")
# Two months of arrears and the current month; well inside the six-month
# limits, whatever day the tests run on.
ARREARS_MONTHS = 2
# 2,469.00 at 0.5 % is 12.345, rounded half up to the fen.
ODD_BASE, ODD_AMOUNT = "2469.00", "12.35"
# DESIGN.md (dues): one rate applies to the whole base.
BASE_ABOVE_3000, AMOUNT_ABOVE_3000 = "3000.01", "30.00"


def order_url(reference: str) -> str:
    return reverse("api-me-dues-order", args=[reference])


def value(month: datetime.date) -> str:
    return f"{month:%Y-%m}"


def ahead(count: int) -> datetime.date:
    return this_month() + relativedelta(months=count)


def first_month() -> datetime.date:
    return months_back(ARREARS_MONTHS)


def ledger_months() -> list[datetime.date]:
    """The months the ledger holds: the arrears and this month."""
    return [first_month() + relativedelta(months=n) for n in range(ARREARS_MONTHS + 1)]


@pytest.fixture(autouse=True)
def _own_cache(settings):
    # Throttle counters and the sandbox gateway's state live in the cache; a
    # cache of this process keeps other runs sharing Redis out of them.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tests-dues-api",
        }
    }
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _recent_ledger(settings):
    # The ledger starts two months back, so the arrears are the same
    # whatever month the tests run in.
    settings.LIUDONG_DUES_LEDGER_START = first_month()


@pytest.fixture
def api():
    def login(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return login


@pytest.fixture
def secretary_of_c(branch_c):
    user = factories.make_user("sec_c", is_staff=True)
    factories.make_role(user, branch_c, "secretary")
    return user


@pytest.fixture
def owing(member, secretary_of_a):
    """张三 owes 12.35 a month: two months of arrears and this month."""
    assess(member, secretary_of_a, base=ODD_BASE)
    return [e.month for e in entries(member)]


@pytest.fixture
def ledger(
    member, member_of_b, member_of_c, secretary_of_a, secretary_of_b, secretary_of_c
):
    """Three branches owing each month: 张三 (A) 12.35, the oldest month paid
    with 5.55 on top; 李四 (B) 30.00; 王五 (C, the other province) 15.00."""
    assess(member, secretary_of_a, base=ODD_BASE)
    assess(member_of_b, secretary_of_b, base=BASE_ABOVE_3000)
    assess(member_of_c, secretary_of_c, base="3000.00")
    pay(member, secretary_of_a, [first_month()], voluntary="5.55")


def codes(response) -> dict:
    return {
        field: [error["code"] for error in errors]
        for field, errors in response.json().items()
    }


def rows(client, **params) -> list[dict]:
    params.setdefault("page_size", 200)
    response = client.get(LEDGER_URL, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def names(found: list[dict]) -> set[str]:
    return {row["member_name"] for row in found}


def assessment(whom, **changes) -> dict:
    """A request recording ``whom`` in service at 3,000.01 this month."""
    data = {
        "member": whom.pk,
        "category": "in_service",
        "applies_from": value(this_month()),
        "base": BASE_ABOVE_3000,
    }
    return {**data, **changes}


def opened_orders() -> int:
    return AuditEvent.objects.filter(action="dues.order.opened").count()


# --- the member's statement --------------------------------------------------


def test_a_member_reads_their_statement_in_yuan_and_fen(api, member, owing):
    client = api(member.user)

    response = client.get(STATEMENT_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["current_month"] == this_month().isoformat()
    assert [e["month"] for e in body["arrears"]] == [m.isoformat() for m in owing[:2]]
    assert [e["amount_due"] for e in body["arrears"]] == [ODD_AMOUNT, ODD_AMOUNT]
    assert body["current"]["amount_due"] == ODD_AMOUNT
    assert body["current"]["status"] == "due"
    assert body["current"]["organization"] == "第一支部"
    assert body["arrears_amount"] == "24.70"
    assert body["current_amount"] == ODD_AMOUNT
    assert body["total_due"] == "37.05"
    assert body["paid"] == []
    assert body["last_paid_month"] is None


def test_paid_months_show_what_was_paid_and_the_voluntary_part(
    api, member, owing, secretary_of_a
):
    pay(member, secretary_of_a, [owing[0]], voluntary="5.55")
    client = api(member.user)

    body = client.get(STATEMENT_URL).json()

    assert [e["month"] for e in body["paid"]] == [owing[0].isoformat()]
    assert body["paid"][0]["paid_amount"] == ODD_AMOUNT
    assert body["paid"][0]["voluntary_amount"] == "5.55"
    assert body["last_paid_month"] == owing[0].isoformat()
    assert body["arrears_amount"] == ODD_AMOUNT
    assert body["total_due"] == "24.70"


def test_the_statement_carries_no_income_base(api, member, owing):
    client = api(member.user)

    response = client.get(STATEMENT_URL)

    assert "base" not in response.content.decode()
    assert ODD_BASE not in response.content.decode()


# --- the member's orders -----------------------------------------------------


def test_a_member_opens_an_order_for_the_months_chosen(api, member, owing):
    client = api(member.user)

    response = client.post(
        ORDERS_URL, {"months": [value(m) for m in owing[:2]]}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    order = PaymentOrder.objects.get()
    assert body["reference"] == order.reference
    assert body["months"] == [m.isoformat() for m in owing[:2]]
    assert body["amount"] == "24.70"
    assert body["voluntary_amount"] == "0.00"
    assert body["status"] == "pending"
    assert body["payer"] == "self"
    assert body["collected_by"] == "第一支部"
    assert body["pay_url"] == reverse("pay:sandbox", args=[order.reference])
    assert order.member == member
    assert order.amount == Decimal("24.70")


def test_the_same_months_twice_give_the_same_order(api, member, owing):
    client = api(member.user)
    first = client.post(
        ORDERS_URL, {"months": [value(m) for m in owing[:2]]}, format="json"
    )

    # The same set of months, in another order and spelling.
    again = client.post(
        ORDERS_URL,
        {"months": [owing[1].isoformat(), value(owing[0])]},
        format="json",
    )

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["reference"] == first.json()["reference"]
    assert PaymentOrder.objects.count() == 1
    assert opened_orders() == 1


def test_a_voluntary_amount_rides_on_the_order(api, member, owing):
    client = api(member.user)

    response = client.post(
        ORDERS_URL,
        {"months": [value(owing[0])], "voluntary_amount": "0.65"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["amount"] == "13.00"
    assert response.json()["voluntary_amount"] == "0.65"


def test_a_member_reads_their_order(api, member, owing):
    client = api(member.user)
    reference = client.post(
        ORDERS_URL, {"months": [value(owing[0])]}, format="json"
    ).json()["reference"]

    response = client.get(order_url(reference))

    assert response.status_code == 200
    body = response.json()
    assert body["reference"] == reference
    assert body["months"] == [owing[0].isoformat()]
    assert body["amount"] == ODD_AMOUNT
    assert body["status"] == "pending"
    assert body["pay_url"] == reverse("pay:sandbox", args=[reference])


def test_a_paid_order_reads_back_with_its_receipt_and_no_pay_url(
    api, member, owing, secretary_of_a
):
    order = pay(member, secretary_of_a, [owing[0]])
    client = api(member.user)

    response = client.get(order_url(order.reference))

    assert response.status_code == 200
    assert response.json()["status"] == "paid"
    assert response.json()["receipt_number"] == order.receipt_number
    assert response.json()["pay_url"] == ""


def test_another_members_order_answers_404(
    api, member, owing, member_of_b, secretary_of_b
):
    assess(member_of_b, secretary_of_b)
    theirs = pay(member_of_b, secretary_of_b, [first_month()])
    client = api(member.user)

    response = client.get(order_url(theirs.reference))

    assert response.status_code == 404
    assert theirs.reference not in response.content.decode()


def test_an_unknown_order_number_answers_404(api, member, owing):
    client = api(member.user)

    response = client.get(order_url("DF20260101000000000000"))

    assert response.status_code == 404


def test_more_than_six_months_ahead_waits_for_approval_without_a_pay_url(
    api, member, owing
):
    # The arrears first, then this month and seven months ahead.
    months = [*owing, *(ahead(n) for n in range(1, 8))]
    client = api(member.user)

    response = client.post(
        ORDERS_URL, {"months": [value(m) for m in months]}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "approval"
    assert body["pay_url"] == ""
    assert "7 months paid ahead" in body["approval_reason"]
    assert PaymentOrder.objects.get().status == PaymentOrder.Status.AWAITING_APPROVAL


def test_more_arrears_than_the_limit_wait_for_approval(api, member, owing, settings):
    settings.LIUDONG_DUES_MAX_ARREARS_MONTHS = 1
    client = api(member.user)

    response = client.post(
        ORDERS_URL, {"months": [value(m) for m in owing[:2]]}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["status"] == "approval"
    assert response.json()["approval_reason"] == (
        "2 months of arrears at once (more than 1)"
    )
    assert response.json()["pay_url"] == ""


@pytest.mark.parametrize(
    ("months", "field", "code"),
    [
        (
            lambda owing: [value(months_back(ARREARS_MONTHS + 1))],
            "non_field_errors",
            "before_ledger",
        ),
        (lambda owing: [value(owing[1])], "non_field_errors", "months_skipped"),
        (lambda owing: [value(ahead(13))], "non_field_errors", "beyond_horizon"),
        (lambda owing: ["2026-13"], "months", "month_invalid"),
        (lambda owing: [], "months", "empty"),
    ],
    ids=[
        "before-the-ledger",
        "older-month-skipped",
        "beyond-horizon",
        "bad-month",
        "no-month",
    ],
)
def test_months_not_payable_answer_400_and_write_no_order(
    api, member, owing, months, field, code
):
    client = api(member.user)

    response = client.post(ORDERS_URL, {"months": months(owing)}, format="json")

    assert response.status_code == 400
    assert codes(response) == {field: [code]}
    assert response.json()[field][0]["message"]
    assert PaymentOrder.objects.count() == 0
    assert opened_orders() == 0


def test_a_settled_month_answers_400_and_writes_no_new_order(
    api, member, owing, secretary_of_a
):
    pay(member, secretary_of_a, [owing[0]])
    client = api(member.user)

    response = client.post(ORDERS_URL, {"months": [value(owing[0])]}, format="json")

    assert response.status_code == 400
    assert codes(response) == {"non_field_errors": ["month_settled"]}
    assert PaymentOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("payer", "code"),
    [
        ("organization", "payer_organization"),
        ("wage_deduction", "payer_wage_deduction"),
    ],
)
def test_the_organisation_paying_or_a_wage_deduction_is_refused(
    api, member, owing, payer, code
):
    client = api(member.user)

    response = client.post(
        ORDERS_URL, {"months": [value(owing[0])], "payer": payer}, format="json"
    )

    assert response.status_code == 400
    assert codes(response) == {"non_field_errors": [code]}
    assert PaymentOrder.objects.count() == 0


def test_an_unreachable_gateway_still_answers_with_the_order_written(
    api, member, owing, monkeypatch
):
    def unreachable(self, order, return_url, **options):
        raise GatewayError("connection refused")

    monkeypatch.setattr(SandboxGateway, "start", unreachable)
    client = api(member.user)

    opened = client.post(ORDERS_URL, {"months": [value(owing[0])]}, format="json")
    read = client.get(order_url(PaymentOrder.objects.get().reference))

    assert opened.status_code == 201
    assert opened.json()["status"] == "pending"
    assert opened.json()["pay_url"] == ""
    assert read.status_code == 200
    assert read.json()["pay_url"] == ""


# --- who may use the member's endpoints --------------------------------------


def test_an_account_without_a_member_record_is_told_so(api, outsider):
    client = api(outsider)

    statement = client.get(STATEMENT_URL)
    order = client.post(ORDERS_URL, {"months": [value(this_month())]}, format="json")

    assert statement.status_code == 404
    assert statement.json() == {"detail": "This account has no member record."}
    assert order.status_code == 404
    assert order.json() == {"detail": "This account has no member record."}
    assert PaymentOrder.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", STATEMENT_URL),
        ("post", ORDERS_URL),
        ("get", order_url("DF20260101000000000000")),
        ("get", LEDGER_URL),
        ("get", SUMMARY_URL),
        ("get", ASSESSMENTS_URL),
        ("post", ASSESSMENTS_URL),
    ],
)
def test_an_anonymous_caller_is_refused(api, owing, method, url):
    response = getattr(api(), method)(url, {}, format="json")

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Authentication credentials were not provided."
    )
    assert PaymentOrder.objects.count() == 0


# --- staff: the ledger list --------------------------------------------------


def test_the_ledger_filters_by_organisation_code_and_month(
    api, ledger, member, committee_staff
):
    client = api(committee_staff)

    found = rows(client, organization="B-A", month=value(first_month()))

    assert len(found) == 1
    row = found[0]
    assert row["member"] == member.pk
    assert row["member_name"] == "张三"
    assert row["member_masked_id_number"] == member.masked_id_number
    assert row["member_masked_id_number"] != member.id_number
    assert row["month"] == first_month().isoformat()
    assert row["organization"] == "B-A"
    assert row["amount_due"] == ODD_AMOUNT
    assert row["status"] == "paid"
    assert row["paid_amount"] == ODD_AMOUNT
    assert row["voluntary_amount"] == "5.55"
    assert row["outstanding"] == "0.00"


def test_the_ledger_filters_by_status(api, ledger, committee_staff):
    client = api(committee_staff)

    found = rows(client, organization="C-A", status="due")

    assert len(found) == 2 * (ARREARS_MONTHS + 1) - 1
    assert {row["status"] for row in found} == {"due"}
    assert {row["outstanding"] for row in found} == {ODD_AMOUNT, AMOUNT_ABOVE_3000}


def test_the_ledger_is_paginated_newest_month_first(api, ledger, committee_staff):
    client = api(committee_staff)

    first = client.get(LEDGER_URL, {"organization": "C-A", "page_size": 4}).json()
    second = client.get(first["next"]).json()

    # Two members, three months each.
    assert first["count"] == 6
    assert len(first["results"]) == 4
    assert len(second["results"]) == 2
    assert second["next"] is None
    listed = [(r["month"], r["organization"]) for r in first["results"]] + [
        (r["month"], r["organization"]) for r in second["results"]
    ]
    assert listed == [
        (m.isoformat(), org)
        for m in reversed(ledger_months())
        for org in ("B-A", "B-B")
    ]


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"month": "2026-13"}, "month", "month_invalid"),
        ({"status": "lost"}, "status", "invalid_choice"),
    ],
)
def test_a_bad_ledger_filter_answers_400(
    api, ledger, committee_staff, params, field, code
):
    response = api(committee_staff).get(LEDGER_URL, params)

    assert response.status_code == 400
    assert codes(response) == {field: [code]}


def test_a_secretary_sees_only_their_branchs_months(api, ledger, secretary_of_a):
    client = api(secretary_of_a)

    found = rows(client)

    assert names(found) == {"张三"}
    assert len(found) == ARREARS_MONTHS + 1


@pytest.mark.parametrize("code", ["B-B", "C-A", "P-A", "B-C", "NO-SUCH"])
def test_an_organisation_out_of_a_secretarys_scope_answers_404(
    api, ledger, secretary_of_a, code
):
    response = api(secretary_of_a).get(LEDGER_URL, {"organization": code})

    assert response.status_code == 404
    assert "results" not in response.json()
    assert "李四" not in response.content.decode()


def test_a_committee_sees_its_subtree(api, ledger, committee_staff):
    client = api(committee_staff)

    everything = rows(client)
    branch_b = rows(client, organization="B-B")

    assert names(everything) == {"张三", "李四"}
    assert names(branch_b) == {"李四"}
    assert {row["organization"] for row in branch_b} == {"B-B"}


def test_a_provincial_viewer_reads_their_province(api, ledger, provincial_viewer):
    client = api(provincial_viewer)

    found = rows(client, organization="P-A")

    assert names(found) == {"张三", "李四"}


def test_a_viewer_of_another_province_sees_nothing_of_it(
    api, ledger, provincial_viewer_other
):
    client = api(provincial_viewer_other)

    everything = rows(client)
    branch_a = client.get(LEDGER_URL, {"organization": "B-A"})
    summary = client.get(SUMMARY_URL, {"organization": "P-A"})

    assert names(everything) == {"王五"}
    assert branch_a.status_code == 404
    assert summary.status_code == 404
    assert "张三" not in branch_a.content.decode() + summary.content.decode()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", LEDGER_URL),
        ("get", SUMMARY_URL + "?organization=B-A"),
        ("get", ASSESSMENTS_URL),
        ("post", ASSESSMENTS_URL),
    ],
)
def test_a_member_without_a_role_is_refused_the_staff_endpoints(
    api, ledger, member, method, url
):
    before = Assessment.objects.count()
    client = api(member.user)

    if method == "post":
        response = client.post(url, assessment(member), format="json")
    else:
        response = client.get(url)

    assert response.status_code == 403
    assert response.json() == {"detail": "This needs a role in an organization."}
    assert Assessment.objects.count() == before


def test_the_ledger_list_costs_the_same_queries_for_more_rows(
    api, ledger, committee_staff, django_assert_num_queries
):
    client = api(committee_staff)
    with CaptureQueriesContext(connection) as one_branch:
        assert len(rows(client, organization="B-A")) == ARREARS_MONTHS + 1

    with django_assert_num_queries(len(one_branch)):
        found = rows(client, organization="C-A")

    assert len(found) == 2 * (ARREARS_MONTHS + 1)


# --- staff: the ledger summary -----------------------------------------------


TOTALS = ("due", "paid", "outstanding", "voluntary")


def row_totals(found: list[dict]) -> dict:
    """The summary's figures summed from list rows, in Decimal to the fen."""
    due = [r for r in found if r["status"] == "due"]
    return {
        "due": sum((Decimal(r["amount_due"]) for r in found), Decimal("0.00")),
        "paid": sum((Decimal(r["paid_amount"]) for r in found), Decimal("0.00")),
        "outstanding": sum((Decimal(r["outstanding"]) for r in due), Decimal("0.00")),
        "voluntary": sum(
            (Decimal(r["voluntary_amount"]) for r in found), Decimal("0.00")
        ),
        "months": len(found),
        "open_months": len(due),
        "paid_months": sum(r["status"] == "paid" for r in found),
    }


@pytest.mark.parametrize("back", range(ARREARS_MONTHS + 1))
def test_the_summary_equals_the_list_rows_and_the_selector(
    api, ledger, city_committee, committee_staff, back
):
    month = months_back(back)
    client = api(committee_staff)

    response = client.get(SUMMARY_URL, {"organization": "C-A", "month": value(month)})
    found = rows(client, organization="C-A", month=value(month))

    assert response.status_code == 200
    body = response.json()
    assert body["organization"] == "C-A"
    assert body["month"] == month.isoformat()
    totals = body["totals"]
    summed = row_totals(found)
    assert {k: Decimal(totals[k]) for k in TOTALS} == {k: summed[k] for k in TOTALS}
    assert all(len(totals[k].split(".")[1]) == 2 for k in TOTALS)
    for count in ("months", "open_months", "paid_months"):
        assert totals[count] == summed[count]
    expected = organization_ledger(
        scope=scope_for(committee_staff), organization=city_committee, month=month
    )
    assert {k: totals[k] for k in TOTALS} == {
        k: f"{getattr(expected.totals, k):.2f}" for k in TOTALS
    }
    assert [(o["name"], o["totals"]["due"]) for o in body["by_organization"]] == [
        (o.name, f"{o.totals.due:.2f}") for o in expected.by_organization
    ]


def test_the_summary_of_the_paid_month_to_the_fen(api, ledger, committee_staff):
    client = api(committee_staff)

    body = client.get(
        SUMMARY_URL, {"organization": "C-A", "month": value(first_month())}
    ).json()

    assert body["totals"] == {
        "due": "42.35",
        "paid": ODD_AMOUNT,
        "outstanding": AMOUNT_ABOVE_3000,
        "voluntary": "5.55",
        "months": 2,
        "open_months": 1,
        "paid_months": 1,
        "waived_months": 0,
        "unassessed_months": 0,
    }
    assert body["collected_for_others_amount"] == "0.00"


def test_the_summary_defaults_to_this_month(api, ledger, committee_staff):
    body = api(committee_staff).get(SUMMARY_URL, {"organization": "B-B"}).json()

    assert body["month"] == this_month().isoformat()
    assert body["totals"]["due"] == AMOUNT_ABOVE_3000


def test_months_collected_for_another_branch_are_listed_but_counted_apart(
    api, ledger, member, branch_c, secretary_of_c
):
    # Arranged directly: 张三's oldest month was collected at branch C.
    LedgerEntry.objects.filter(member=member, month=first_month()).update(
        collected_by=branch_c
    )
    client = api(secretary_of_c)

    found = rows(client, organization="B-C", month=value(first_month()))
    body = client.get(
        SUMMARY_URL, {"organization": "B-C", "month": value(first_month())}
    ).json()

    assert names(found) == {"张三", "王五"}
    assert body["totals"]["due"] == "15.00"
    assert body["collected_for_others_amount"] == ODD_AMOUNT
    assert Decimal(body["totals"]["paid"]) + Decimal(
        body["collected_for_others_amount"]
    ) == sum((Decimal(r["paid_amount"]) for r in found), Decimal("0.00"))


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({}, "organization", "required"),
        ({"organization": "C-A", "month": "13/2026"}, "month", "month_invalid"),
    ],
)
def test_a_bad_summary_query_answers_400(
    api, ledger, committee_staff, params, field, code
):
    response = api(committee_staff).get(SUMMARY_URL, params)

    assert response.status_code == 400
    assert codes(response) == {field: [code]}


def test_a_secretary_cannot_read_another_branchs_summary(api, ledger, secretary_of_a):
    response = api(secretary_of_a).get(SUMMARY_URL, {"organization": "B-B"})

    assert response.status_code == 404
    assert "totals" not in response.json()


# --- staff: assessments ------------------------------------------------------


def test_a_secretary_records_an_assessment_by_the_2008_rules(
    api, member, secretary_of_a
):
    client = api(secretary_of_a)

    response = client.post(ASSESSMENTS_URL, assessment(member), format="json")

    assert response.status_code == 201
    body = response.json()
    recorded = Assessment.objects.get()
    assert body["id"] == recorded.pk
    assert body["member"] == member.pk
    assert body["member_name"] == "张三"
    assert body["organization"] == "B-A"
    assert body["applies_from"] == value(this_month())
    assert body["category"] == "in_service"
    assert body["monthly_amount"] == AMOUNT_ABOVE_3000
    assert body["source"] == "secretary"
    assert recorded.monthly_amount == Decimal(AMOUNT_ABOVE_3000)
    assert recorded.base == BASE_ABOVE_3000
    assert recorded.recorded_by == secretary_of_a
    assert AuditEvent.objects.filter(
        action="dues.assessment.recorded", member=member, actor=secretary_of_a
    ).exists()


@pytest.mark.parametrize(
    ("category", "base", "amount"),
    [
        ("in_service", "3000.00", "15.00"),
        ("in_service", "3000.01", "30.00"),
        ("in_service", "5000.01", "75.00"),
        ("in_service", "10000.01", "200.00"),
        ("retired", "5000.00", "25.00"),
        ("retired", "5000.01", "50.00"),
    ],
)
def test_the_monthly_amount_follows_the_2008_rates(
    api, member, secretary_of_a, category, base, amount
):
    data = assessment(member, category=category, base=base)

    response = api(secretary_of_a).post(ASSESSMENTS_URL, data, format="json")

    assert response.status_code == 201
    assert response.json()["monthly_amount"] == amount


def test_the_base_is_written_but_never_read_back(api, member, secretary_of_a):
    client = api(secretary_of_a)

    created = client.post(ASSESSMENTS_URL, assessment(member), format="json")
    listed = client.get(ASSESSMENTS_URL)

    for response in (created, listed):
        assert "base" not in response.content.decode()
        assert BASE_ABOVE_3000 not in response.content.decode()
    assert listed.json()["results"][0]["monthly_amount"] == AMOUNT_ABOVE_3000


def test_a_new_assessment_reprices_the_unpaid_months(
    api, member, owing, secretary_of_a
):
    client = api(secretary_of_a)

    response = client.post(
        ASSESSMENTS_URL,
        assessment(member, applies_from=value(first_month())),
        format="json",
    )

    assert response.status_code == 201
    assert {e.amount_due for e in entries(member)} == {Decimal(AMOUNT_ABOVE_3000)}
    statement = api(member.user).get(STATEMENT_URL).json()
    assert statement["total_due"] == "90.00"


def test_a_self_employed_member_is_assessed_on_the_quarters_average(
    api, member, secretary_of_a
):
    data = assessment(
        member,
        category="self_employed",
        base=None,
        quarter_incomes=["2000.00", "4000.00", "6000.00"],
    )

    response = api(secretary_of_a).post(ASSESSMENTS_URL, data, format="json")

    # Average 4,000.00: 1 %.
    assert response.status_code == 201
    assert response.json()["monthly_amount"] == "40.00"
    assert "quarter_incomes" not in response.json()


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"base": "-3000.01"}, "base", "min_value"),
        ({"base": "3000.001"}, "base", "max_decimal_places"),
        ({"base": None}, "non_field_errors", "base_required"),
        ({"category": "astronaut"}, "category", "invalid_choice"),
        ({"applies_from": "2026-13"}, "applies_from", "month_invalid"),
        ({"applies_from": "December"}, "applies_from", "month_invalid"),
        ({"category": "student"}, "non_field_errors", "base_not_applicable"),
    ],
)
def test_bad_assessment_input_answers_400_and_writes_nothing(
    api, member, secretary_of_a, changes, field, code
):
    client = api(secretary_of_a)

    response = client.post(
        ASSESSMENTS_URL, assessment(member, **changes), format="json"
    )

    assert response.status_code == 400
    assert codes(response) == {field: [code]}
    assert Assessment.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="dues.").exists()


@pytest.mark.parametrize("whose", ["member_of_b", "member_of_c"])
def test_a_member_out_of_scope_answers_404_and_writes_nothing(
    api, request, secretary_of_a, whose
):
    other = request.getfixturevalue(whose)

    response = api(secretary_of_a).post(
        ASSESSMENTS_URL, assessment(other), format="json"
    )

    assert response.status_code == 404
    assert Assessment.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="dues.").exists()


def test_the_inflow_secretary_cannot_assess_a_placed_member(
    api, member, branch_b, secretary_of_a, secretary_of_b
):
    # Dual management: the inflow branch runs the member's organisational
    # life but sees no income and sets no dues (DESIGN.md §2).
    away_with_certificate(member, inflow=branch_b, registered_by=secretary_of_a)

    response = api(secretary_of_b).post(
        ASSESSMENTS_URL, assessment(member), format="json"
    )

    assert response.status_code == 404
    assert Assessment.objects.count() == 0


def test_an_unknown_member_answers_404(api, member, secretary_of_a):
    data = assessment(member, member=member.pk + 1000)

    response = api(secretary_of_a).post(ASSESSMENTS_URL, data, format="json")

    assert response.status_code == 404
    assert Assessment.objects.count() == 0


def test_a_provincial_viewer_reads_assessments_but_cannot_record_one(
    api, member, secretary_of_a, provincial_viewer
):
    assess(member, secretary_of_a)
    client = api(provincial_viewer)

    listed = client.get(ASSESSMENTS_URL)
    posted = client.post(
        ASSESSMENTS_URL,
        assessment(member, applies_from=value(ahead(1))),
        format="json",
    )

    assert listed.status_code == 200
    assert [a["member_name"] for a in listed.json()["results"]] == ["张三"]
    assert posted.status_code == 403
    assert posted.json() == {"detail": "Your role allows reading only."}
    assert Assessment.objects.count() == 1


def listed_assessments(client) -> set[str]:
    return {a["member_name"] for a in client.get(ASSESSMENTS_URL).json()["results"]}


def test_assessments_are_listed_within_the_scope(
    api, ledger, secretary_of_a, committee_staff, provincial_viewer_other
):
    by_secretary = listed_assessments(api(secretary_of_a))
    by_committee = listed_assessments(api(committee_staff))
    by_other_province = listed_assessments(api(provincial_viewer_other))

    assert by_secretary == {"张三"}
    assert by_committee == {"张三", "李四"}
    assert by_other_province == {"王五"}


def test_the_assessment_list_costs_the_same_queries_for_more_rows(
    api, ledger, secretary_of_a, committee_staff, django_assert_num_queries
):
    secretary, committee = api(secretary_of_a), api(committee_staff)
    with CaptureQueriesContext(connection) as one_member:
        listed_assessments(secretary)

    with django_assert_num_queries(len(one_member)):
        found = listed_assessments(committee)

    assert len(found) == 2
