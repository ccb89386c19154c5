"""A mobile member placed far from home checks in online at the inflow
organisation's theme Party day on a phone; its secretary sees them present.
"""

import datetime

import pytest
from django.utils import timezone, translation
from rest_framework.test import APIClient

from members.models import Mobility
from organizations import tasks
from organizations.meetings import services
from organizations.models import Attendance, MeetingKind
from organizations.scope import scope_for
from tests import factories

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
# The video meeting lives outside the platform; the browser is answered
# here instead of going out to the network.
ONLINE_LINK = "https://meeting.example.cn/j/880088"
ROOM_PAGE = "<!DOCTYPE html><title>线上会议室</title><p>会议进行中</p>"


def log_in_on_phone(page, url, login):
    page.goto(f"{url}/")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{url}/")


def log_in_to_admin(page, url, username):
    page.goto(f"{url}/admin/")
    page.wait_for_url(f"{url}/accounts/login/**")
    page.locator("input[name=login]").fill(username)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{url}/admin/")


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def in_process_invitations(monkeypatch):
    # Invitations are sent on commit through Celery; here they run in the
    # test's process (console notifier) instead of waiting in Redis.
    monkeypatch.setattr(tasks.notify_invitations, "delay", tasks.notify_invitations)


def test_a_placed_member_checks_in_online_and_the_inflow_secretary_sees_it(
    live_server, browser, phone_page, artifacts, in_process_invitations
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
    )
    inflow_secretary = factories.make_user("sec_nanshan", is_staff=True)
    factories.make_role(inflow_secretary, inflow, "secretary")
    member = factories.make_member(
        village, user=factories.make_user("rider"), name="刘小明", phone="13912345678"
    )
    Mobility.objects.create(
        member=member,
        outflow_organization=village,
        destination_region_id="440305",
        inflow_organization=inflow,
        status=Mobility.Status.REPORTED,
        left_on=timezone.localdate() - datetime.timedelta(days=60),
        reported_on=timezone.localdate() - datetime.timedelta(days=50),
        reason=Mobility.Reason.WORK,
        contact="南山区科技园 13912345678",
        registered_by=member.user,
    )
    starts_at = timezone.now() - datetime.timedelta(minutes=5)
    theme_day = services.plan_meeting(
        actor=inflow_secretary,
        scope=scope_for(inflow_secretary),
        organization=inflow,
        details=services.MeetingDetails(
            kind=MeetingKind.THEME_DAY,
            title="七月主题党日：重温入党誓词",
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(hours=2),
            mode="online",
            online_link=ONLINE_LINK,
            agenda="重温入党誓词\n交流流动在外的工作体会",
        ),
    )
    with translation.override("zh-hans"):
        kind_label = str(MeetingKind.THEME_DAY.label)
    page = phone_page
    page.route(
        "https://meeting.example.cn/**",
        lambda route: route.fulfill(
            status=200, content_type="text/html; charset=utf-8", body=ROOM_PAGE
        ),
    )

    # The member finds the inflow organisation's theme Party day.
    log_in_on_phone(page, live_server.url, "13912345678")
    page.get_by_test_id("nav-meetings").click()
    page.wait_for_url(f"{live_server.url}/meetings/")
    row = page.get_by_test_id(f"meeting-{theme_day.pk}")
    assert row.get_by_test_id("meeting-organization").inner_text() == inflow.name
    assert row.get_by_test_id("meeting-kind").inner_text() == kind_label
    assert "badge--invited" in row.get_by_test_id("attendance-status").get_attribute(
        "class"
    )
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "meetings-list.png", full_page=True)

    # It is on now: joining online checks them in and opens the meeting.
    row.get_by_test_id("meeting-title").click()
    page.wait_for_url(f"{live_server.url}/meetings/{theme_day.pk}/")
    assert page.get_by_test_id("meeting-organization").inner_text() == inflow.name
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "meetings-detail.png", full_page=True)
    page.get_by_test_id("check-in").click()
    page.wait_for_url(ONLINE_LINK)
    assert page.title() == "线上会议室"

    # Back in the portal, the member is present with one open stay.
    page.goto(f"{live_server.url}/meetings/{theme_day.pk}/")
    status = page.get_by_test_id("attendance-status")
    assert "badge--present" in status.get_attribute("class")
    assert page.get_by_test_id("interval").count() == 1
    assert page.get_by_test_id("leave").is_visible()
    page.screenshot(path=artifacts / "meetings-checked-in.png", full_page=True)

    # The inflow organisation's secretary sees them present on the meeting's
    # admin page, in the database and through the API alike.
    attendance = Attendance.objects.get(meeting=theme_day, member=member)
    assert (attendance.status, attendance.standing) == ("present", "placed")
    assert list(attendance.intervals.values_list("method", flat=True)) == ["online"]
    api = APIClient()
    api.force_login(inflow_secretary)
    rows = api.get(f"/api/meetings/{theme_day.pk}/").json()["attendance"]
    assert [(r["member_name"], r["status"]) for r in rows] == [("刘小明", "present")]

    desk = browser.new_context(**DESKTOP).new_page()
    log_in_to_admin(desk, live_server.url, "sec_nanshan")
    desk.goto(f"{live_server.url}/admin/organizations/meeting/{theme_day.pk}/change/")
    admin_row = desk.locator(f"tr[data-attendance='{attendance.pk}']")
    assert admin_row.get_attribute("data-status") == "present"
    assert "刘小明" in admin_row.inner_text()
    desk.screenshot(path=artifacts / "meetings-admin-present.png", full_page=True)

    # The secretary closes the meeting, writing the minutes in the editor.
    desk.goto(
        f"{live_server.url}/admin/organizations/meeting/{theme_day.pk}/step/close/"
    )
    editor = desk.locator(".ProseMirror[contenteditable=true]")
    editor.click()
    desk.keyboard.type("学习了党章。")
    desk.keyboard.press("Control+b")
    desk.keyboard.type("下月继续")
    desk.screenshot(path=artifacts / "meetings-minutes-editor.png")
    desk.locator("[data-testid=step-form] [type=submit]").click()
    desk.wait_for_url(f"**/admin/organizations/meeting/{theme_day.pk}/change/")
    theme_day.refresh_from_db()
    assert theme_day.status == "held"
    assert "<strong>下月继续</strong>" in theme_day.minutes
    desk.context.close()
