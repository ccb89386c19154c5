"""The meetings API: a member's own meetings and check-in; for staff the
meetings in scope with their attendance, and compliance per year."""

import datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.meetings import selectors, services
from organizations.models import AttendanceInterval, Meeting
from organizations.scope import scope_for
from tests import factories
from tests.meetings.arrange import attendance_of, hold, place, plan

OWN_URL = reverse("api-me-meetings")
LIST_URL = reverse("api-meetings")
COMPLIANCE_URL = reverse("api-meetings-compliance")
ONLINE_LINK = "https://meeting.example.cn/j/42"
HOUR = datetime.timedelta(hours=1)


def own_url(meeting: Meeting, step: str = "") -> str:
    name = {"": "api-me-meeting", "check-in": "api-me-meeting-check-in"}.get(
        step, "api-me-meeting-leave"
    )
    return reverse(name, args=[meeting.pk])


def meeting_url(meeting: Meeting) -> str:
    return reverse("api-meeting", args=[meeting.pk])


def starting_in(delta: datetime.timedelta) -> datetime.datetime:
    return timezone.now() + delta


@pytest.fixture(autouse=True)
def _own_cache(settings):
    # Throttle counters live in the cache; a cache of this process keeps
    # other runs sharing Redis out of them.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tests-meetings-api",
        }
    }
    cache.clear()


@pytest.fixture
def api(request):
    def login(role=None) -> APIClient:
        client = APIClient()
        if role is not None:
            client.force_login(request.getfixturevalue(role))
        return client

    return login


@pytest.fixture
def secretary_of_c(branch_c):
    user = factories.make_user("sec_c", is_staff=True)
    factories.make_role(user, branch_c, "secretary")
    return user


@pytest.fixture
def member_of_b_user(branch_b):
    user = factories.make_user("member2")
    factories.make_member(branch_b, user=user, name="赵六")
    return user


@pytest.fixture
def now_meeting(branch_a, secretary_of_a, member):
    """An online general meeting of branch A that started 10 minutes ago."""
    return plan(
        branch_a,
        secretary_of_a,
        title="支部党员大会",
        starts_at=starting_in(-datetime.timedelta(minutes=10)),
        mode="hybrid",
        online_link=ONLINE_LINK,
    )


@pytest.fixture
def later_meeting(branch_a, secretary_of_a, member):
    return plan(
        branch_a,
        secretary_of_a,
        kind="party_lecture",
        title="党课",
        starts_at=starting_in(datetime.timedelta(days=1)),
        agenda="学习党章",
    )


@pytest.fixture
def ended_meeting(branch_a, secretary_of_a, member):
    return plan(
        branch_a, secretary_of_a, title="已结束", starts_at=starting_in(-3 * HOUR)
    )


@pytest.fixture
def meeting_of_b(branch_b, secretary_of_b, member_of_b_user):
    return plan(branch_b, secretary_of_b, title="第二支部会议")


# Who may call.


@pytest.mark.parametrize(
    "method, name",
    [
        ("get", "own-list"),
        ("get", "own"),
        ("post", "check-in"),
        ("post", "leave"),
        ("get", "list"),
        ("get", "detail"),
        ("get", "compliance"),
    ],
)
def test_an_anonymous_caller_is_refused(api, now_meeting, method, name):
    url = {
        "own-list": OWN_URL,
        "own": own_url(now_meeting),
        "check-in": own_url(now_meeting, "check-in"),
        "leave": own_url(now_meeting, "leave"),
        "list": LIST_URL,
        "detail": meeting_url(now_meeting),
        "compliance": COMPLIANCE_URL + "?organization=B-A",
    }[name]

    response = getattr(api(), method)(url)

    assert response.status_code == 403
    assert not AttendanceInterval.objects.exists()


@pytest.mark.parametrize("url", [LIST_URL, COMPLIANCE_URL + "?organization=B-A"])
def test_a_member_without_a_role_may_not_read_staff_lists(api, member, url):
    response = api("member_user").get(url)

    assert response.status_code == 403


def test_posts_need_the_csrf_token(member, now_meeting):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member.user)

    response = client.post(own_url(now_meeting, "check-in"))

    assert response.status_code == 403
    assert not AttendanceInterval.objects.exists()


# The member's own meetings.


def test_a_member_lists_their_invitations_newest_first(
    api, now_meeting, later_meeting, meeting_of_b
):
    response = api("member_user").get(OWN_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [later_meeting.pk, now_meeting.pk]
    row = body["results"][1]
    assert row == {
        "id": now_meeting.pk,
        "organization": "B-A",
        "organization_name": "第一支部",
        "kind": "general_meeting",
        "title": "支部党员大会",
        "time_zone": "Asia/Shanghai",
        "starts_at": now_meeting.starts_at.astimezone(
            datetime.timezone(datetime.timedelta(hours=8))
        ).isoformat(),
        "ends_at": now_meeting.ends_at.astimezone(
            datetime.timezone(datetime.timedelta(hours=8))
        ).isoformat(),
        "held_on": now_meeting.held_on.isoformat(),
        "mode": "hybrid",
        "place": "会议室",
        "online_link": ONLINE_LINK,
        "status": "planned",
        "attendance_status": "invited",
        "standing": "full",
    }


def test_a_placed_member_lists_the_inflow_organisations_meetings(
    api, member, branch_a, branch_c, secretary_of_a, secretary_of_c
):
    place(member, outflow=branch_a, inflow=branch_c, registered_by=secretary_of_a)
    theme_day = plan(branch_c, secretary_of_c, kind="theme_day", title="主题党日")

    (row,) = api("member_user").get(OWN_URL).json()["results"]

    assert (row["id"], row["organization"], row["standing"]) == (
        theme_day.pk,
        "B-C",
        "placed",
    )


def test_a_member_reads_one_meeting_with_its_window(api, later_meeting):
    response = api("member_user").get(own_url(later_meeting))

    body = response.json()
    assert response.status_code == 200
    assert body["agenda"] == "学习党章"
    assert body["intervals"] == []
    opens = later_meeting.starts_at - datetime.timedelta(minutes=15)
    assert body["check_in"]["state"] == "not_open"
    assert datetime.datetime.fromisoformat(body["check_in"]["opens"]) == opens


@pytest.mark.parametrize("step", ["", "check-in", "leave"])
def test_a_meeting_not_invited_to_is_404(api, member_of_b_user, now_meeting, step):
    client = api("member_of_b_user")

    if step:
        response = client.post(own_url(now_meeting, step))
    else:
        response = client.get(own_url(now_meeting))

    assert response.status_code == 404
    assert not AttendanceInterval.objects.exists()


def test_checking_in_during_the_window(api, member, now_meeting):
    response = api("member_user").post(own_url(now_meeting, "check-in"))

    body = response.json()
    assert response.status_code == 200
    assert body["attendance_status"] == "present"
    assert body["check_in"]["state"] == "open"
    (interval,) = body["intervals"]
    assert (interval["method"], interval["left_at"]) == ("online", None)
    assert attendance_of(now_meeting, member).status == "present"


@pytest.mark.parametrize(
    "meeting, code",
    [("later_meeting", "not_open"), ("ended_meeting", "ended")],
)
def test_checking_in_outside_the_window_changes_nothing(
    api, request, member, meeting, code
):
    meeting = request.getfixturevalue(meeting)

    response = api("member_user").post(own_url(meeting, "check-in"))

    assert response.status_code == 400
    assert [e["code"] for e in response.json()["non_field_errors"]] == [code]
    attendance = attendance_of(meeting, member)
    assert attendance.status == "invited"
    assert not attendance.intervals.exists()


def test_leaving_and_returning_keeps_both_stays(api, member, now_meeting):
    client = api("member_user")
    client.post(own_url(now_meeting, "check-in"))
    left = client.post(own_url(now_meeting, "leave")).json()

    body = client.post(own_url(now_meeting, "check-in")).json()

    assert left["intervals"][0]["left_at"] is not None
    first, second = body["intervals"]
    assert first["left_at"] is not None
    assert second["left_at"] is None
    assert attendance_of(now_meeting, member).intervals.count() == 2


def test_the_member_endpoints_take_no_other_method(api, member, now_meeting):
    client = api("member_user")

    assert client.post(own_url(now_meeting)).status_code == 405
    assert client.get(own_url(now_meeting, "check-in")).status_code == 405
    assert client.post(OWN_URL).status_code == 405


# Staff: meetings in scope.


def test_a_secretary_lists_their_meetings_with_attendance(
    api, member, secretary_of_a, now_meeting, meeting_of_b
):
    api("member_user").post(own_url(now_meeting, "check-in"))

    response = api("secretary_of_a").get(LIST_URL)

    body = response.json()
    assert response.status_code == 200
    assert [row["id"] for row in body["results"]] == [now_meeting.pk]
    row = body["results"][0]
    assert (row["invited"], row["present"], row["absent"], row["excused"]) == (
        1,
        1,
        0,
        0,
    )


def test_a_secretary_reads_a_meeting_with_every_invited_member(
    api, member, now_meeting
):
    api("member_user").post(own_url(now_meeting, "check-in"))

    body = api("secretary_of_a").get(meeting_url(now_meeting)).json()

    (row,) = body["attendance"]
    assert (row["member"], row["member_name"], row["status"]) == (
        member.pk,
        "张三",
        "present",
    )
    assert [i["method"] for i in row["intervals"]] == ["online"]
    assert "phone" not in row and "id_number" not in row


def test_the_secretary_of_another_branch_gets_404(
    api, secretary_of_b, now_meeting, meeting_of_b
):
    client = api("secretary_of_b")

    listed = client.get(LIST_URL).json()["results"]
    detail = client.get(meeting_url(now_meeting))
    compliance = client.get(COMPLIANCE_URL, {"organization": "B-A"})
    filtered = client.get(LIST_URL, {"organization": "B-A"})

    assert [row["id"] for row in listed] == [meeting_of_b.pk]
    assert detail.status_code == 404
    assert compliance.status_code == 404
    assert filtered.status_code == 404


def test_a_provincial_viewer_reads_but_writes_nothing(
    api, provincial_viewer, now_meeting, meeting_of_b
):
    client = api("provincial_viewer")

    listed = client.get(LIST_URL).json()["results"]
    detail = client.get(meeting_url(now_meeting))
    compliance = client.get(COMPLIANCE_URL, {"organization": "B-A"})

    assert {row["id"] for row in listed} == {now_meeting.pk, meeting_of_b.pk}
    assert detail.status_code == compliance.status_code == 200
    assert client.post(meeting_url(now_meeting)).status_code == 405
    assert client.post(LIST_URL).status_code == 405
    # Not invited, so the meeting does not exist as a check-in for them.
    assert client.post(own_url(now_meeting, "check-in")).status_code == 404
    assert not AttendanceInterval.objects.exists()


def test_a_provincial_viewer_of_another_province_gets_404(
    api, provincial_viewer_other, now_meeting
):
    response = api("provincial_viewer_other").get(meeting_url(now_meeting))

    assert response.status_code == 404


def test_the_list_filters_by_kind_status_and_dates(
    api, now_meeting, later_meeting, ended_meeting, secretary_of_a
):
    hold(ended_meeting, secretary_of_a)
    client = api("secretary_of_a")

    def ids(**params):
        return [r["id"] for r in client.get(LIST_URL, params).json()["results"]]

    assert ids(kind="party_lecture") == [later_meeting.pk]
    assert ids(status="held") == [ended_meeting.pk]
    assert ids(held_from=later_meeting.held_on.isoformat()) == [later_meeting.pk]
    assert client.get(LIST_URL, {"kind": "picnic"}).status_code == 400


# Staff: compliance.


@pytest.fixture
def held_meeting(member, branch_a, secretary_of_a, ended_meeting):
    """Branch A's general meeting, held: 张三 present, one other absent."""
    services.invite(ended_meeting, [factories.make_member(branch_a, name="钱七")])
    services.record_presence(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        attendance=attendance_of(ended_meeting, member),
    )
    return hold(ended_meeting, secretary_of_a)


def test_compliance_equals_the_selector(api, branch_a, held_meeting):
    year = held_meeting.held_on.year
    expected = selectors.compliance(
        organization=branch_a,
        first=datetime.date(year, 1, 1),
        last=datetime.date(year, 12, 31),
    )

    response = api("secretary_of_a").get(
        COMPLIANCE_URL, {"organization": "B-A", "year": year}
    )

    body = response.json()
    assert response.status_code == 200
    assert (body["invited"], body["present"], body["excused"]) == (2, 1, 0)
    assert (body["invited"], body["present"], body["excused"]) == (
        expected.invited,
        expected.present,
        expected.excused,
    )
    assert body["attendance_rate"] == expected.attendance_rate == 0.5
    assert body["overdue"] == expected.overdue
    assert (body["first"], body["last"]) == (f"{year}-01-01", f"{year}-12-31")
    general = next(k for k in body["kinds"] if k["kind"] == "general_meeting")
    item = next(k for k in expected.kinds if k.kind == "general_meeting")
    assert general["frequency"] == "quarter"
    assert [(p["label"], p["held"], p["state"]) for p in general["periods"]] == [
        (p.label, item.held.get(p.label, 0), item.state(p, expected.today))
        for p in item.periods
    ]
    assert sum(p["held"] for p in general["periods"]) == 1


def test_compliance_needs_a_known_organisation_and_a_sane_year(api, branch_a):
    client = api("secretary_of_a")

    assert client.get(COMPLIANCE_URL).status_code == 400
    assert client.get(COMPLIANCE_URL, {"organization": "NOPE"}).status_code == 404
    bad_year = client.get(COMPLIANCE_URL, {"organization": "B-A", "year": "1900"})
    assert bad_year.status_code == 400


def test_the_schema_lists_the_meeting_endpoints(api, secretary_of_a):
    schema = api("secretary_of_a").get("/api/schema/", {"format": "json"}).json()

    assert {
        "/api/me/meetings/",
        "/api/me/meetings/{meeting_id}/",
        "/api/me/meetings/{meeting_id}/check-in/",
        "/api/me/meetings/{meeting_id}/leave/",
        "/api/meetings/",
        "/api/meetings/{meeting_id}/",
        "/api/meetings/compliance/",
    } <= set(schema["paths"])


@pytest.mark.parametrize(
    ("role", "url"), [("member_user", OWN_URL), ("secretary_of_a", LIST_URL)]
)
def test_the_lists_cost_the_same_queries_for_more_meetings(
    api, branch_a, secretary_of_a, member, role, url
):
    client = api(role)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    plan(branch_a, secretary_of_a, title="一")
    few = queries()
    for hours in (2, 5, 30):
        plan(branch_a, secretary_of_a, starts_at=starting_in(hours * HOUR))

    assert queries() == few


# Every role against every endpoint, reading branch A's meeting.

ROLES = (
    None,
    "member_user",
    "member_of_b_user",
    "outsider",
    "secretary_of_a",
    "secretary_of_b",
    "committee_staff",
    "provincial_viewer",
    "provincial_viewer_other",
    "operator",
)
# What each role reads of branch A: its own invitation (only 张三 has one),
# and the staff views, where a role outside the subtree gets 404 and an
# account without any role 403.
EXPECTED = {
    "own-list": (403, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "own": (403, 200, 404, 404, 404, 404, 404, 404, 404, 404),
    "list": (403, 403, 403, 403, 200, 200, 200, 200, 200, 200),
    "detail": (403, 403, 403, 403, 200, 404, 200, 200, 404, 200),
    "compliance": (403, 403, 403, 403, 200, 404, 200, 200, 404, 200),
}


@pytest.mark.parametrize(
    ("endpoint", "role", "expected"),
    [
        (endpoint, role, status)
        for endpoint, statuses in EXPECTED.items()
        for role, status in zip(ROLES, statuses, strict=True)
    ],
)
def test_the_role_matrix(api, now_meeting, endpoint, role, expected):
    url = {
        "own-list": OWN_URL,
        "own": own_url(now_meeting),
        "list": LIST_URL,
        "detail": meeting_url(now_meeting),
        "compliance": f"{COMPLIANCE_URL}?organization=B-A",
    }[endpoint]

    response = api(role).get(url)

    assert response.status_code == expected
