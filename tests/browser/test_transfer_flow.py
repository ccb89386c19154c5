"""A secretary issues a transfer; the receiving secretary completes it."""

import datetime

import pytest
from django.utils import timezone

from members.selectors import current_organization
from organizations.models import Transfer
from tests import factories

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}


def log_in(page, base_url, username):
    # The admin sends its log-in through allauth, which returns to the admin.
    page.goto(f"{base_url}/admin/")
    page.wait_for_url(f"{base_url}/accounts/login/**")
    page.locator("input[name=login]").fill(username)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{base_url}/admin/")


def test_a_secretary_issues_a_transfer_and_the_receiving_secretary_completes_it(
    live_server, browser, artifacts
):
    committee = factories.make_organization(
        code="C-DC", kind="committee", region="110101", name="东城区委"
    )
    sending = factories.make_organization(committee, code="B-1", name="第一支部")
    receiving = factories.make_organization(committee, code="B-2", name="第二支部")
    member = factories.make_member(sending, name="张三")
    for username, branch in (("sec_send", sending), ("sec_receive", receiving)):
        user = factories.make_user(username, is_staff=True)
        factories.make_role(user, branch, "secretary")
    base = live_server.url

    sender = browser.new_context(**DESKTOP).new_page()
    log_in(sender, base, "sec_send")
    sender.goto(f"{base}/admin/members/member/")
    sender.get_by_role("link", name="张三").click()
    sender.get_by_test_id("issue-transfer").click()
    sender.locator("select[name=to_organization]").select_option(str(receiving.pk))
    sender.screenshot(path=artifacts / "transfer-create.png", full_page=True)
    sender.get_by_test_id("step-submit").click()
    sender.get_by_test_id("letter-pdf").wait_for()
    transfer = Transfer.objects.get(member=member)
    assert transfer.state == Transfer.State.ISSUED
    assert transfer.valid_until == timezone.localdate() + datetime.timedelta(days=30)
    sender.context.close()

    receiver = browser.new_context(**DESKTOP).new_page()
    log_in(receiver, base, "sec_receive")
    assert receiver.get_by_test_id("queue-to_accept").inner_text() == "1"
    receiver.screenshot(path=artifacts / "transfer-index.png", full_page=True)
    receiver.locator("tr[data-queue=to_accept] a").click()
    receiver.get_by_role("link", name=transfer.number).click()
    receiver.get_by_test_id("step-accept").click()
    receiver.get_by_test_id("step-submit").click()
    receiver.screenshot(path=artifacts / "transfer-accepted.png", full_page=True)
    receiver.get_by_test_id("step-report").click()
    receiver.get_by_test_id("step-submit").click()
    receiver.get_by_test_id("step-receipt").wait_for()
    receiver.goto(f"{base}/admin/members/member/")
    roster = receiver.locator("#result_list")
    receiver.screenshot(path=artifacts / "transfer-roster.png", full_page=True)

    assert roster.get_by_role("link", name="张三").is_visible()
    assert Transfer.objects.get(pk=transfer.pk).state == Transfer.State.REPORTED
    assert current_organization(member) == receiving
    receiver.context.close()
