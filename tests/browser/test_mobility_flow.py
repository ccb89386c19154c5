"""A member registers going out on a phone and reports to an inflow branch."""

import pytest
from django.utils import timezone

from members import services
from members.models import Mobility
from tests import factories

pytestmark = pytest.mark.browser


def log_in(page, url, login):
    page.goto(f"{url}/")
    # Located by name, not by label: the labels change with the language.
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{url}/")


def test_a_member_registers_going_out_and_is_placed_with_an_inflow_branch(
    live_server, phone_page, artifacts
):
    hunan = factories.make_organization(
        code="P-HN", kind="committee", region="430000", name="湖南省委"
    )
    village = factories.make_organization(
        hunan, code="B-SM", region="430121", name="石门村党支部"
    )
    guangdong = factories.make_organization(
        code="P-GD", kind="committee", region="440000", name="广东省委"
    )
    inflow = factories.make_organization(
        guangdong,
        code="M-NS",
        kind="mobile_branch",
        region="440305",
        name="南山区流动党员党支部",
        phone="0755-26661234",
    )
    factories.make_organization(
        guangdong, code="B-NS", region="440305", name="南山区科技园党支部"
    )
    outflow_secretary = factories.make_user("sec_village", is_staff=True)
    factories.make_role(outflow_secretary, village, "secretary")
    inflow_secretary = factories.make_user("sec_nanshan", is_staff=True)
    factories.make_role(inflow_secretary, inflow, "secretary")
    member = factories.make_member(
        village, user=factories.make_user("rider"), name="刘小明", phone="13912345678"
    )
    page = phone_page
    log_in(page, live_server.url, "13912345678")

    # Register going out: province first, then the city or county.
    page.screenshot(path=artifacts / "mobility-home.png")
    page.get_by_test_id("nav-mobility").click()
    page.get_by_test_id("register-link").click()
    page.locator("select[name=province]").select_option("440000")
    page.locator("form.form button[type=submit]").click()
    assert page.get_by_test_id("province").inner_text() == "广东省"
    page.locator("select[name=destination_region]").select_option("440305")
    page.locator("input[name=left_on]").fill(timezone.localdate().isoformat())
    page.locator("select[name=reason]").select_option("work")
    page.locator("select[name=occupation]").select_option("70")
    page.locator("input[name=work_unit]").fill("美团南山配送站")
    page.locator("textarea[name=contact]").fill("南山区科技园 13912345678")
    page.screenshot(path=artifacts / "mobility-register.png", full_page=True)
    page.locator("form.form button[type=submit]").click()

    page.wait_for_url(f"{live_server.url}/mobility/")
    assert page.get_by_test_id("destination").inner_text() == "广东省深圳市南山区"
    status = page.get_by_test_id("mobility-status")
    assert "badge--registered" in status.get_attribute("class")

    # The outflow secretary confirms; reporting does not wait for it.
    stay = Mobility.objects.get(member=member)
    services.mobility_confirm(actor=outflow_secretary, mobility=stay)

    # Report (报到) to the mobile-member branch, listed first.
    page.get_by_test_id("report-link").click()
    options = page.locator(".option__name")
    assert options.all_inner_texts() == ["南山区流动党员党支部", "南山区科技园党支部"]
    page.locator(f"label[for=inflow-{inflow.pk}]").click()
    page.screenshot(path=artifacts / "mobility-report.png", full_page=True)
    page.locator("form.form button[type=submit]").click()

    page.wait_for_url(f"{live_server.url}/mobility/")
    assert "badge--pending" in status.get_attribute("class")
    assert page.get_by_test_id("awaiting").is_visible()

    # The inflow secretary accepts; the member's page shows the placement.
    services.mobility_accept(actor=inflow_secretary, mobility=stay)
    page.reload()

    assert "badge--reported" in status.get_attribute("class")
    placed_with = page.get_by_test_id("inflow-organization")
    assert placed_with.inner_text().splitlines()[0] == "南山区流动党员党支部"
    steps = page.get_by_test_id("mobility-steps").locator(".step--done")
    assert steps.count() == 4
    assert page.get_by_test_id("awaiting").count() == 0
    page.screenshot(path=artifacts / "mobility-placed.png", full_page=True)
