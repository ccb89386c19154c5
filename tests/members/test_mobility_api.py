"""The mobility and contact-log API: both sides' scope, every step."""

import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from members import services
from members.models import AuditEvent, ContactLog, Mobility, MobilityStatus
from organizations.models import Region
from tests import factories

DAY = datetime.timedelta(days=1)
LIST_URL = "/api/mobility/"


def today():
    return timezone.localdate()


def step_url(mobility, step):
    return f"{LIST_URL}{mobility.pk}/{step}/"


def contacts_url(member):
    return f"/api/members/{member.pk}/contacts/"


def status_of(mobility):
    return Mobility.objects.get(pk=mobility.pk).status


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tests-mobility-api",
        }
    }
    cache.clear()


@pytest.fixture
def secretary_of_c(branch_c):
    user = factories.make_user("sec_c", is_staff=True)
    factories.make_role(user, branch_c, "secretary")
    return user


@pytest.fixture
def api(request, db):
    def client_for(role):
        client = APIClient()
        client.force_login(request.getfixturevalue(role))
        return client

    return client_for


@pytest.fixture
def away(member, member_user):
    return services.mobility_register(
        actor=member_user,
        member=member,
        destination_region=Region.objects.get(code="430100"),
        left_on=today() - 20 * DAY,
        reason=Mobility.Reason.WORK,
        contact="长沙市芙蓉区某小区 13900001111",
    )


@pytest.fixture
def reported(away, branch_c, member_user):
    return services.mobility_report(
        actor=member_user, mobility=away, inflow_organization=branch_c
    )


@pytest.fixture
def placed(reported, secretary_of_c):
    return services.mobility_accept(actor=secretary_of_c, mobility=reported)


# Lists


@pytest.mark.parametrize(
    ("role", "side"),
    [
        ("secretary_of_a", "outflow"),
        ("committee_staff", "outflow"),
        ("secretary_of_c", "inflow"),
        ("secretary_of_b", None),
        ("member_user", None),
    ],
)
def test_each_side_lists_the_placed_member_from_its_side(api, placed, role, side):
    response = api(role).get(LIST_URL)

    rows = response.json()["results"]
    assert [r["side"] for r in rows] == ([side] if side else [])


def test_a_row_carries_the_phone_masked_and_nothing_of_dues(api, placed, member):
    response = api("secretary_of_c").get(LIST_URL)

    row = response.json()["results"][0]
    assert row["member_masked_phone"] == member.masked_phone
    assert member.phone not in response.content.decode()
    assert [k for k in row if "dues" in k or "income" in k or "id_number" in k] == []


def test_the_queue_filter_keeps_the_reports_waiting_for_me(api, reported):
    client = api("secretary_of_c")

    awaiting = client.get(LIST_URL, {"queue": "awaiting"}).json()["results"]
    placed = client.get(LIST_URL, {"queue": "placed"}).json()["results"]

    assert ([r["id"] for r in awaiting], placed) == ([reported.pk], [])


def test_opening_a_stay_is_on_the_record(api, placed, secretary_of_c):
    response = api("secretary_of_c").get(f"{LIST_URL}{placed.pk}/")

    event = AuditEvent.objects.get(action="mobility.view")
    assert response.status_code == 200
    assert (event.actor, event.member, event.details) == (
        secretary_of_c,
        placed.member,
        {"mobility_id": placed.pk},
    )


def test_a_stay_out_of_scope_is_404(api, away):
    assert api("secretary_of_c").get(f"{LIST_URL}{away.pk}/").status_code == 404


def test_the_list_costs_the_same_queries_for_few_and_many(
    api, branch_a, secretary_of_a, django_assert_num_queries
):
    client = api("secretary_of_a")
    changsha = Region.objects.get(code="430100")

    def register():
        services.mobility_register(
            actor=secretary_of_a,
            member=factories.make_member(branch_a),
            destination_region=changsha,
            left_on=today(),
            reason=Mobility.Reason.WORK,
            contact="长沙",
        )

    register()
    with django_assert_num_queries(5):
        client.get(LIST_URL)
    for _n in range(5):
        register()
    with django_assert_num_queries(5):
        response = client.get(LIST_URL)

    assert response.json()["count"] == 6


# Steps


def test_the_outflow_secretary_confirms(api, away, secretary_of_a):
    response = api("secretary_of_a").post(step_url(away, "confirm"))

    assert response.status_code == 200
    assert response.json()["confirmed_on"] == today().isoformat()


def test_confirming_twice_is_refused(api, away, secretary_of_a):
    services.mobility_confirm(actor=secretary_of_a, mobility=away)

    response = api("secretary_of_a").post(step_url(away, "confirm"))

    assert response.status_code == 400
    assert response.json()["non_field_errors"][0]["code"] == "mobility_confirmed"


def test_the_inflow_secretary_accepts(api, reported):
    response = api("secretary_of_c").post(step_url(reported, "accept"))

    assert response.json()["status"] == "reported"
    assert status_of(reported) == MobilityStatus.REPORTED


@pytest.mark.parametrize(
    ("role", "status"),
    [("secretary_of_a", 403), ("secretary_of_b", 404), ("provincial_viewer", 403)],
)
def test_only_the_inflow_secretary_accepts(api, reported, role, status):
    response = api(role).post(step_url(reported, "accept"))

    assert response.status_code == status
    assert Mobility.objects.get(pk=reported.pk).reported_on is None


def test_declining_needs_a_reason(api, reported):
    client = api("secretary_of_c")

    empty = client.post(step_url(reported, "decline"), {}, format="json")
    given = client.post(step_url(reported, "decline"), {"reason": "不在辖区"})

    assert empty.status_code == 400
    assert given.status_code == 200
    assert given.json()["inflow_organization"] is None


def test_the_return_home_ends_the_placement(api, placed):
    response = api("secretary_of_a").post(step_url(placed, "return"), {})

    assert response.json()["status"] == "returned"
    assert api("secretary_of_c").get(LIST_URL).json()["results"] == []


def test_the_inflow_secretary_cannot_record_the_return(api, placed):
    response = api("secretary_of_c").post(step_url(placed, "return"), {})

    assert response.status_code == 403
    assert status_of(placed) == MobilityStatus.REPORTED


def test_a_provincial_viewer_may_read_but_not_act(api, away):
    client = api("provincial_viewer")

    assert client.get(f"{LIST_URL}{away.pk}/").status_code == 200
    assert client.post(step_url(away, "confirm")).status_code == 403


def test_moving_on_starts_the_next_stay(api, away):
    response = api("secretary_of_a").post(
        step_url(away, "move-on"),
        {
            "destination_region": "440300",
            "left_on": today().isoformat(),
            "reason": "work",
            "contact": "深圳市南山区",
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["destination_region"] == "440300"
    assert status_of(away) == MobilityStatus.MOVED_ON


def test_the_certificate_number_is_recorded(api, away):
    response = api("secretary_of_a").post(
        step_url(away, "certificate"), {"number": "LD-1"}, format="json"
    )

    assert response.json()["certificate_number"] == "LD-1"


# Contact logs


def test_a_secretary_logs_and_lists_contacts(api, member, secretary_of_a):
    client = api("secretary_of_a")

    created = client.post(
        contacts_url(member),
        {"channel": "wechat", "outcome": "reached", "note": "已联系"},
        format="json",
    )
    listed = client.get(contacts_url(member))

    assert created.status_code == 201
    assert created.json()["contacted_by"] == "sec_a"
    assert [(e["channel"], e["note"]) for e in listed.json()] == [("wechat", "已联系")]


def test_an_invalid_channel_is_a_bad_request(api, member):
    response = api("secretary_of_a").post(
        contacts_url(member), {"channel": "pigeon", "outcome": "reached"}
    )

    assert response.status_code == 400
    assert ContactLog.objects.count() == 0


def test_the_inflow_secretary_reaches_the_contact_log_of_a_placed_member(
    api, placed, member
):
    client = api("secretary_of_c")

    created = client.post(
        contacts_url(member), {"channel": "visit", "outcome": "reached"}
    )

    assert created.status_code == 201
    assert len(client.get(contacts_url(member)).json()) == 1


@pytest.mark.parametrize(
    ("role", "status"),
    [("secretary_of_b", 404), ("member_user", 404), ("provincial_viewer", 403)],
)
def test_contact_logs_follow_the_scope(api, member, role, status):
    response = api(role).post(
        contacts_url(member), {"channel": "phone", "outcome": "reached"}
    )

    assert response.status_code == status
    assert ContactLog.objects.count() == 0


def test_a_member_cannot_read_their_own_contact_log(api, member):
    assert api("member_user").get(contacts_url(member)).status_code == 404
