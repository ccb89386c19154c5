"""The dues admin: ledger and arrears pages, assessments, reductions,
payments; every read scoped, every write through a service."""

from decimal import Decimal

import pytest
from django.contrib.admin import helpers
from django.urls import reverse
from django.utils import timezone

from dues.models import Assessment, LedgerEntry, PaymentOrder, Reduction
from dues.selectors import organization_ledger
from members.models import AuditEvent
from organizations.scope import scope_for
from tests import factories
from tests.dues.desk import assess, entries, months_back, pay, this_month

LEDGER_URL = reverse("admin:dues_ledger")
ARREARS_URL = reverse("admin:dues_arrears")
ENTRIES_URL = reverse("admin:dues_ledgerentry_changelist")
ASSESSMENTS_URL = reverse("admin:dues_assessment_changelist")
ADD_ASSESSMENT_URL = reverse("admin:dues_assessment_add")
REDUCTIONS_URL = reverse("admin:dues_reduction_changelist")
ADD_REDUCTION_URL = reverse("admin:dues_reduction_add")
ORDERS_URL = reverse("admin:dues_paymentorder_changelist")
RECORD_URL = reverse("admin:dues_paymentorder_record")


def ledger_url(organization, month=None, **params) -> str:
    month = month or this_month()
    query = f"?organization={organization.pk}&month={month:%Y-%m}"
    return LEDGER_URL + query + "".join(f"&{k}={v}" for k, v in params.items())


@pytest.fixture
def ledger(member, member_of_b, secretary_of_a, secretary_of_b):
    """张三 (branch A) owes 15.00 a month, the oldest two months paid with
    5.00 on top; 李四 (branch B) owes 30.00 a month, nothing paid."""
    assess(member, secretary_of_a)
    assess(member_of_b, secretary_of_b, base="3000.01")
    first, second = (e.month for e in entries(member)[:2])
    pay(member, secretary_of_a, [first, second], voluntary="5.00")
    return {"first": first, "second": second}


def _page_figures(response) -> dict:
    return response.context["total"]["totals"]


# --- the ledger page ---------------------------------------------------------


def test_the_ledger_page_shows_the_selectors_totals(
    client, ledger, city_committee, committee_staff
):
    client.force_login(committee_staff)

    response = client.get(ledger_url(city_committee, ledger["second"]))

    assert response.status_code == 200
    expected = organization_ledger(
        scope=scope_for(committee_staff),
        organization=city_committee,
        month=ledger["second"],
    ).totals
    totals = _page_figures(response)
    assert totals == expected
    assert (totals.due, totals.paid, totals.outstanding, totals.voluntary) == (
        Decimal("45.00"),
        Decimal("15.00"),
        Decimal("30.00"),
        Decimal("5.00"),
    )
    assert b"45.00" in response.content


@pytest.mark.parametrize("figure", ["due", "paid", "outstanding", "voluntary"])
def test_each_figure_links_to_exactly_the_rows_behind_it(
    client, ledger, city_committee, committee_staff, figure
):
    client.force_login(committee_staff)
    page = client.get(ledger_url(city_committee, ledger["second"]))
    link = page.context["total"]["links"][figure]

    response = client.get(link)

    assert response.status_code == 200
    rows = response.context["cl"].result_list
    column = {
        "due": "amount_due",
        "paid": "paid_amount",
        "voluntary": "voluntary_amount",
    }.get(figure)
    if column is None:
        total = sum((e.amount_due - e.paid_amount for e in rows), Decimal("0"))
    else:
        total = sum((getattr(e, column) for e in rows), Decimal("0"))
    assert total == getattr(_page_figures(page), figure)


def test_each_organization_below_links_to_its_own_rows(
    client, ledger, city_committee, branch_a, committee_staff
):
    client.force_login(committee_staff)
    page = client.get(ledger_url(city_committee, ledger["first"]))
    part = next(p for p in page.context["parts"] if p["organization_id"] == branch_a.pk)

    response = client.get(part["links"]["due"])

    names = {e.member.name for e in response.context["cl"].result_list}
    assert names == {"张三"}


def test_a_secretary_sees_the_ledger_of_their_branch_only(
    client, ledger, branch_a, branch_b, secretary_of_b
):
    client.force_login(secretary_of_b)

    assert client.get(ledger_url(branch_b)).status_code == 200
    assert client.get(ledger_url(branch_a)).status_code == 404
    assert client.get(ARREARS_URL + f"?organization={branch_a.pk}").status_code == 404


def test_without_an_organization_the_page_opens_on_the_actors_own(
    client, ledger, branch_b, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = client.get(LEDGER_URL)

    assert response.context["organization"] == branch_b


def test_a_bad_month_is_refused(client, ledger, branch_a, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(LEDGER_URL + f"?organization={branch_a.pk}&month=2026-13")

    assert response.status_code == 400


def test_the_year_view_has_twelve_months_adding_up_to_the_year(
    client, ledger, branch_a, secretary_of_a
):
    client.force_login(secretary_of_a)
    year = ledger["first"].year

    response = client.get(LEDGER_URL + f"?organization={branch_a.pk}&year={year}")

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r["month"].month for r in rows] == list(range(1, 13))
    total = response.context["total"]["totals"]
    assert total["due"] == sum(r["totals"].due for r in rows)
    assert total["paid"] == Decimal("30.00")
    assert total["voluntary"] == Decimal("5.00")


def test_staff_without_a_role_are_kept_out(client, ledger, branch_a, outsider):
    outsider.is_staff = True
    outsider.save()
    client.force_login(outsider)

    assert client.get(ledger_url(branch_a)).status_code == 403


def test_the_ledger_links_to_its_exports(client, ledger, branch_a, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(ledger_url(branch_a))

    urls = [url for _label, url in response.context["exports"]]
    assert any("format=xlsx" in u for u in urls)
    assert any("encoding=gbk" in u for u in urls)
    assert client.get(urls[0]).status_code == 200


# --- collected at the inflow organisation ------------------------------------


def test_months_paid_at_the_inflow_show_on_both_ledgers(
    client, member, branch_a, branch_c, secretary_of_a, operator
):
    assess(member, secretary_of_a)
    entry = entries(member)[0]
    order = pay(member, secretary_of_a, [entry.month])
    # Arranged directly: the month was collected at branch C's desk.
    LedgerEntry.objects.filter(pk=entry.pk).update(collected_by=branch_c)
    PaymentOrder.objects.filter(pk=order.pk).update(collected_by=branch_c)
    client.force_login(operator)

    home = client.get(ledger_url(branch_a, entry.month))
    host = client.get(ledger_url(branch_c, entry.month))

    assert "collected at 长沙支部" in home.content.decode()
    assert host.context["summary"].collected_for_others_amount == Decimal("15.00")
    assert "张三: collected at 长沙支部 for 第一支部" in host.content.decode()


# --- arrears -----------------------------------------------------------------


def test_the_arrears_page_counts_months_and_flags_six_unpaid(
    client, ledger, city_committee, committee_staff
):
    client.force_login(committee_staff)

    response = client.get(ARREARS_URL + f"?organization={city_committee.pk}")

    rows = {row.member.name: row for row in response.context["rows"]}
    owed = (this_month().year - 2026) * 12 + this_month().month - 1
    assert rows["李四"].months == owed
    assert rows["李四"].amount == Decimal("30.00") * owed
    assert rows["张三"].months == owed - 2
    assert rows["李四"].six_months_unpaid is (owed >= 6)
    if owed >= 6:
        assert b'data-flagged="yes"' in response.content


def test_the_index_links_to_the_dues_pages(client, ledger, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(reverse("admin:index"))

    content = response.content.decode()
    assert LEDGER_URL in content
    assert ARREARS_URL in content


# --- assessments -------------------------------------------------------------


def _assessment_form(member, **changes) -> dict:
    data = {
        "member": member.pk,
        "category": "in_service",
        "applies_from": f"{months_back(1):%Y-%m}",
        "base": "5000.01",
        "income_1": "",
        "income_2": "",
        "income_3": "",
        "fixed_amount": "",
        "note": "",
    }
    data.update(changes)
    return data


def test_a_secretary_records_an_assessment_through_the_service(
    client, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(ADD_ASSESSMENT_URL, _assessment_form(member))

    assert response.status_code == 302
    assessment = Assessment.objects.get(member=member)
    assert assessment.monthly_amount == Decimal("75.00")
    assert assessment.base == "5000.01"
    assert AuditEvent.objects.filter(
        action="dues.assessment.recorded", member=member
    ).exists()


def test_a_self_employed_member_is_assessed_on_the_quarters_average(
    client, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    client.post(
        ADD_ASSESSMENT_URL,
        _assessment_form(
            member,
            category="self_employed",
            base="",
            income_1="2000.00",
            income_2="4000.00",
            income_3="6000.00",
        ),
    )

    assessment = Assessment.objects.get(member=member)
    assert assessment.base == "4000.00"
    assert assessment.monthly_amount == Decimal("40.00")


def test_a_farmer_pays_the_fixed_amount_chosen(client, member, secretary_of_a):
    client.force_login(secretary_of_a)

    client.post(
        ADD_ASSESSMENT_URL,
        _assessment_form(member, category="farmer", base="", fixed_amount="0.50"),
    )

    assert Assessment.objects.get(member=member).monthly_amount == Decimal("0.50")


def test_an_amount_outside_the_farmers_range_is_refused_and_nothing_saved(
    client, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(
        ADD_ASSESSMENT_URL,
        _assessment_form(member, category="farmer", base="", fixed_amount="1.50"),
    )

    assert response.status_code == 200
    assert "0.20 to 1.00" in response.content.decode()
    assert not Assessment.objects.exists()


def test_two_of_three_quarter_incomes_are_refused(client, member, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        ADD_ASSESSMENT_URL,
        _assessment_form(
            member, category="self_employed", base="", income_1="1", income_2="2"
        ),
    )

    assert response.status_code == 200
    assert not Assessment.objects.exists()


def test_a_member_of_another_branch_cannot_be_picked(client, member, secretary_of_b):
    client.force_login(secretary_of_b)

    response = client.post(ADD_ASSESSMENT_URL, _assessment_form(member))

    assert response.status_code == 200
    assert "member" in response.context["form"].errors
    assert not Assessment.objects.exists()


def test_the_assessment_list_never_shows_the_base(client, ledger, committee_staff):
    client.force_login(committee_staff)

    response = client.get(ASSESSMENTS_URL)

    assert {a.member.name for a in response.context["cl"].result_list} == {
        "张三",
        "李四",
    }
    assert "3000.01" not in response.content.decode()


def test_only_writers_of_the_organization_see_the_base_on_the_detail(
    client, ledger, member, secretary_of_a, provincial_viewer
):
    assessment = Assessment.objects.get(member=member)
    url = reverse("admin:dues_assessment_change", args=[assessment.pk])

    client.force_login(secretary_of_a)
    assert "3000.00" in client.get(url).content.decode()
    client.force_login(provincial_viewer)
    response = client.get(url)
    assert response.status_code == 200
    assert "3000.00" not in response.content.decode()


def test_a_provincial_viewer_cannot_add_an_assessment(
    client, member, provincial_viewer
):
    client.force_login(provincial_viewer)

    assert client.get(ADD_ASSESSMENT_URL).status_code == 403
    assert client.post(ADD_ASSESSMENT_URL, _assessment_form(member)).status_code == 403


def test_rules_are_read_by_staff_and_changed_by_operators_only(
    client, secretary_of_a, operator
):
    rules_url = reverse("admin:dues_duesrule_changelist")
    add_policy = reverse("admin:dues_duespolicy_add")

    client.force_login(secretary_of_a)
    assert client.get(rules_url).status_code == 200
    assert client.get(add_policy).status_code == 403
    client.force_login(operator)
    assert client.get(add_policy).status_code == 200


# --- reductions --------------------------------------------------------------


def _reduction_form(member, **changes) -> dict:
    data = {
        "member": member.pk,
        "first_month": f"{months_back(2):%Y-%m}",
        "last_month": f"{months_back(1):%Y-%m}",
        "monthly_amount": "0.00",
        "reason": "重病住院",
        "branch_decided_on": f"{months_back(2):%Y-%m-%d}",
        "decision_reference": "支委会决议 1 号",
    }
    data.update(changes)
    return data


@pytest.fixture
def reduction(client, ledger, member, secretary_of_a):
    client.force_login(secretary_of_a)
    client.post(ADD_REDUCTION_URL, _reduction_form(member))
    return Reduction.objects.get(member=member)


def _act(client, action, rows, **extra):
    return client.post(
        REDUCTIONS_URL,
        {
            "action": action,
            helpers.ACTION_CHECKBOX_NAME: [r.pk for r in rows],
            **extra,
        },
    )


def test_a_branch_secretary_requests_a_reduction(reduction):
    assert reduction.status == Reduction.Status.PENDING
    assert reduction.monthly_amount == Decimal("0.00")


def test_the_branch_cannot_approve_its_own_reduction(client, reduction, secretary_of_a):
    client.force_login(secretary_of_a)

    _act(client, "approve", [reduction])

    reduction.refresh_from_db()
    assert reduction.status == Reduction.Status.PENDING


def test_the_committee_above_approves_and_the_months_are_waived(
    client, reduction, member, committee_staff
):
    client.force_login(committee_staff)

    _act(client, "approve", [reduction])

    reduction.refresh_from_db()
    assert reduction.status == Reduction.Status.APPROVED
    waived = [e.month for e in entries(member) if e.status == "waived"]
    assert waived == [months_back(2), months_back(1)]


def test_a_rejection_asks_for_a_note_first(client, reduction, committee_staff):
    client.force_login(committee_staff)

    asked = _act(client, "reject", [reduction])
    done = _act(client, "reject", [reduction], confirm="yes", decision_note="证明不足")

    assert asked.status_code == 200
    assert done.status_code == 302
    reduction.refresh_from_db()
    assert reduction.status == Reduction.Status.REJECTED
    assert reduction.decision_note == "证明不足"


def test_a_provincial_viewer_decides_nothing(client, reduction, provincial_viewer):
    client.force_login(provincial_viewer)

    _act(client, "approve", [reduction])

    reduction.refresh_from_db()
    assert reduction.status == Reduction.Status.PENDING


# --- payments ----------------------------------------------------------------


def _record_form(month_list, amount, **changes) -> dict:
    data = {
        "months": [m.isoformat() for m in month_list],
        "channel": "cash",
        "payer": "self",
        "payer_name": "",
        "amount": amount,
        "paid_on": timezone.localdate().isoformat(),
    }
    data.update(changes)
    return data


def test_a_secretary_records_a_cash_payment_with_the_excess_voluntary(
    client, ledger, member, secretary_of_a
):
    client.force_login(secretary_of_a)
    open_months = [e.month for e in entries(member) if e.status == "due"][:2]

    response = client.post(
        RECORD_URL + f"?member={member.pk}", _record_form(open_months, "40.00")
    )

    assert response.status_code == 302
    order = PaymentOrder.objects.filter(member=member).latest("created_at")
    assert order.status == PaymentOrder.Status.PAID
    assert order.amount == Decimal("40.00")
    assert order.voluntary_amount == Decimal("10.00")
    assert order.channel == "cash"


def test_less_than_due_is_refused_and_nothing_is_recorded(
    client, ledger, member, secretary_of_a
):
    client.force_login(secretary_of_a)
    open_months = [e.month for e in entries(member) if e.status == "due"][:2]
    before = PaymentOrder.objects.count()

    response = client.post(
        RECORD_URL + f"?member={member.pk}", _record_form(open_months, "29.99")
    )

    assert response.status_code == 200
    assert "less than the 30.00 due" in response.content.decode()
    assert PaymentOrder.objects.count() == before


def test_payment_on_behalf_needs_the_payers_name(
    client, ledger, member, secretary_of_a
):
    client.force_login(secretary_of_a)
    month = next(e.month for e in entries(member) if e.status == "due")

    response = client.post(
        RECORD_URL + f"?member={member.pk}",
        _record_form([month], "15.00", payer="on_behalf"),
    )

    assert response.status_code == 200
    assert "payer_name" in response.context["form"].errors


def test_no_payment_is_recorded_for_a_member_out_of_scope(
    client, ledger, member, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = client.get(RECORD_URL + f"?member={member.pk}")

    assert response.status_code == 404


def test_a_provincial_viewer_records_no_payment(client, ledger, provincial_viewer):
    client.force_login(provincial_viewer)

    assert client.get(RECORD_URL).status_code == 403


def test_a_refund_reopens_the_months_chosen(client, ledger, member, secretary_of_a):
    order = PaymentOrder.objects.get(member=member)
    client.force_login(secretary_of_a)
    url = reverse("admin:dues_paymentorder_refund", args=[order.pk])

    response = client.post(
        url, {"months": [ledger["second"].isoformat()], "reason": "重复缴纳"}
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.PARTLY_REFUNDED
    statuses = {e.month: e.status for e in entries(member)}
    assert statuses[ledger["first"]] == "paid"
    assert statuses[ledger["second"]] == "due"


def test_a_refund_without_a_reason_changes_nothing(
    client, ledger, member, secretary_of_a
):
    order = PaymentOrder.objects.get(member=member)
    client.force_login(secretary_of_a)
    url = reverse("admin:dues_paymentorder_refund", args=[order.pk])

    response = client.post(url, {"months": [ledger["second"].isoformat()]})

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.PAID


def test_orders_awaiting_approval_are_approved_from_the_list(
    client, ledger, member, secretary_of_a
):
    from dues.services.payments import open_order

    open_months = [e.month for e in entries(member) if e.status == "due"]
    if len([m for m in open_months if m < this_month()]) <= 6:
        pytest.skip("needs more than six months of arrears")
    order = open_order(actor=member.user, member=member, months=open_months[:7])
    assert order.status == PaymentOrder.Status.AWAITING_APPROVAL
    client.force_login(secretary_of_a)

    client.post(
        ORDERS_URL,
        {"action": "approve", helpers.ACTION_CHECKBOX_NAME: [order.pk]},
    )

    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.PENDING


def test_the_order_list_is_scoped(client, ledger, secretary_of_b, member_of_b):
    factories.make_user("unused")
    client.force_login(secretary_of_b)

    response = client.get(ORDERS_URL)

    assert list(response.context["cl"].result_list) == []
