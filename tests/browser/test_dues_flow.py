"""A member pays two months of dues on a phone; the secretary sees them."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from dues.models import DuesPolicy, LedgerEntry, PaymentOrder
from tests import factories
from tests.dues import arrange

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}


@pytest.fixture
def national_policy(transactional_db):
    # A live-server test runs after others' flushes, which empty the policy
    # row its migration added; put it back the same way.
    if not DuesPolicy.objects.exists():
        migration = importlib.import_module("dues.migrations.0002_national_policy_2008")
        migration.add_policy(apps, None)


def log_in(page, url, login, *, then="/"):
    page.goto(f"{url}{then}")
    # Located by name, not by label: the labels change with the language.
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{url}{then}")


def test_a_member_pays_two_months_and_the_secretary_sees_them_paid(
    live_server, browser, phone_page, artifacts, national_policy
):
    committee = factories.make_organization(
        code="P-HN", kind="committee", region="430000", name="湖南省委"
    )
    branch = factories.make_organization(
        committee, code="B-SM", region="430121", name="石门村党支部"
    )
    secretary = factories.make_user("sec_village", is_staff=True)
    factories.make_role(secretary, branch, "secretary")
    member = factories.make_member(
        branch, user=factories.make_user("payer"), name="刘小明", phone="13912345678"
    )
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    arrange.make_entries(member, branch, last_month, 2, amount="15.00")
    page = phone_page
    log_in(page, live_server.url, "13912345678")

    # 我的党费: both months are due and already chosen.
    page.get_by_test_id("nav-dues").click()
    page.wait_for_url(f"{live_server.url}/dues/")
    for month in (last_month, this_month):
        box = page.locator(f"input[name=months][value='{month:%Y-%m}']")
        assert box.is_checked()
    page.screenshot(path=artifacts / "dues-home.png", full_page=True)
    page.get_by_test_id("pay-submit").click()

    # The sandbox gateway's page, then back to the order.
    page.wait_for_url(f"{live_server.url}/pay/sandbox/**")
    assert page.get_by_test_id("sandbox-amount").inner_text() == "¥30.00"
    page.screenshot(path=artifacts / "dues-sandbox.png", full_page=True)
    page.get_by_test_id("sandbox-pay").click()
    order = PaymentOrder.objects.get(member=member)
    page.wait_for_url(f"{live_server.url}/dues/orders/{order.reference}/")

    order.refresh_from_db()
    status = page.get_by_test_id("order-status")
    assert status.get_attribute("data-status") == "paid"
    assert order.months == [last_month, this_month]
    assert page.get_by_test_id("order-amount").inner_text() == "¥30.00"
    assert page.get_by_test_id("receipt-number").inner_text() == order.receipt_number
    page.screenshot(path=artifacts / "dues-order-paid.png", full_page=True)

    page.get_by_test_id("receipt-link").click()
    page.wait_for_url(f"{live_server.url}/dues/receipts/{order.reference}/")
    assert page.get_by_test_id("receipt-number").inner_text() == order.receipt_number
    assert page.get_by_test_id("receipt-member").inner_text() == "刘小明"
    assert page.get_by_test_id("receipt-total").inner_text() == "¥30.00"
    page.screenshot(path=artifacts / "dues-receipt.png", full_page=True)

    # The branch secretary's ledger shows each month paid, nothing left.
    desk = browser.new_context(**DESKTOP)
    page = desk.new_page()
    log_in(page, live_server.url, "sec_village", then="/admin/")
    for month in (last_month, this_month):
        page.goto(
            f"{live_server.url}{reverse('admin:dues_ledger')}"
            f"?organization={branch.pk}&month={month:%Y-%m}"
        )
        total = page.get_by_test_id("ledger-total-row")
        figures = {
            figure: total.locator(f"td[data-figure={figure}]").inner_text()
            for figure in ("due", "paid", "outstanding")
        }
        assert figures == {"due": "15.00", "paid": "15.00", "outstanding": "0.00"}
    page.screenshot(path=artifacts / "dues-secretary-ledger.png", full_page=True)
    assert set(
        LedgerEntry.objects.filter(member=member).values_list("status", flat=True)
    ) == {LedgerEntry.Status.PAID}
    desk.close()
