"""A member logs in on a phone and sees their own record, masked."""

import pytest

from tests import factories

pytestmark = pytest.mark.browser


def test_a_member_logs_in_on_a_phone_and_sees_their_record_masked(
    live_server, phone_page, artifacts
):
    branch = factories.make_organization(code="B-PHONE", name="城东快递小哥支部")
    member = factories.make_member(
        branch,
        user=factories.make_user("rider"),
        name="刘小明",
        phone="13912345678",
        work_unit="城东配送站",
    )
    page = phone_page

    page.goto(f"{live_server.url}/")
    # Located by name, not by label: the labels change with the language.
    page.locator("input[name=login]").fill("13912345678")
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form.form button[type=submit]").click()

    page.wait_for_url(f"{live_server.url}/")
    id_number = page.get_by_test_id("id-number")
    assert id_number.inner_text() == member.masked_id_number
    assert id_number.is_visible()
    assert page.get_by_test_id("organization").inner_text() == "城东快递小哥支部"
    content = page.content()
    assert member.id_number not in content
    assert "13912345678" not in content
    assert "139****5678" in content
    page.screenshot(path=artifacts / "portal-home.png", full_page=True)
