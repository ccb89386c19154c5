import datetime
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg2.extras import DateRange
from rest_framework.fields import DateTimeField
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from config.api import Pagination
from members.models import AuditEvent, CorrectionRequest, Member, MembershipPeriod
from tests import factories

VALID_ID = factories.make_id_number()
# The same number with any other check character.
WRONG_CHECK_ID = VALID_ID[:17] + next(c for c in "0123456789X" if c != VALID_ID[17])

# Which user each role fixture logs in as; "member" is the account linked to
# the ``member`` record of branch A.
ROLE_USERS = {
    "secretary_of_a": "secretary_of_a",
    "secretary_of_b": "secretary_of_b",
    "committee_staff": "committee_staff",
    "provincial_viewer": "provincial_viewer",
    "provincial_viewer_other": "provincial_viewer_other",
    "outsider": "outsider",
    "member": "member_user",
    "operator": "operator",
}

VISIBLE_MEMBERS = {
    "secretary_of_a": {"member"},
    "secretary_of_b": {"member_of_b"},
    "committee_staff": {"member", "member_of_b"},
    "provincial_viewer": {"member", "member_of_b"},
    "provincial_viewer_other": {"member_of_c"},
    "outsider": set(),
    "member": {"member"},
    "operator": {"member", "member_of_b", "member_of_c"},
}


@pytest.fixture(autouse=True)
def _own_cache(settings):
    # Throttle counters live in the cache; a cache of this process keeps
    # other test runs sharing Redis from counting against these users.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tests-members-api",
        }
    }
    cache.clear()


@pytest.fixture
def members(member, member_of_b, member_of_c):
    return {"member": member, "member_of_b": member_of_b, "member_of_c": member_of_c}


def client_for(request, role):
    client = APIClient()
    if role != "anonymous":
        client.force_login(request.getfixturevalue(ROLE_USERS[role]))
    return client


@pytest.fixture
def client_as(request, db):
    # Depends on db explicitly: the role fixtures are loaded on the fly, and
    # pytest-django orders tests by the fixtures it can see.
    return lambda role: client_for(request, role)


def codes(response):
    return {
        field: [error["code"] for error in errors]
        for field, errors in response.json().items()
    }


def snapshot(member):
    fresh = Member.objects.get(pk=member.pk)
    return {
        field.attname: getattr(fresh, field.attname)
        for field in Member._meta.concrete_fields
    }


@pytest.mark.parametrize("role", sorted(VISIBLE_MEMBERS))
def test_each_role_lists_exactly_the_members_it_reaches(role, members, client_as):
    response = client_as(role).get("/api/members/")

    assert response.status_code == 200
    listed = {row["id"] for row in response.json()["results"]}
    assert listed == {members[name].pk for name in VISIBLE_MEMBERS[role]}


def test_a_listed_member_shows_the_holding_organisation_and_masks(member, client_as):
    response = client_as("secretary_of_a").get("/api/members/")

    assert response.json()["results"] == [
        {
            "id": member.pk,
            "name": "张三",
            "gender": "male",
            "birth_date": "1985-06-15",
            "masked_id_number": member.masked_id_number,
            "masked_phone": "138****8000",
            "status": "full",
            "occupation": None,
            "organization": "B-A",
            "organization_name": "第一支部",
        }
    ]


@pytest.mark.parametrize(
    ("role", "name"),
    [
        ("secretary_of_b", "member"),
        ("secretary_of_a", "member_of_b"),
        ("provincial_viewer_other", "member"),
        ("provincial_viewer", "member_of_c"),
        ("outsider", "member"),
        ("member", "member_of_b"),
    ],
)
def test_a_member_outside_the_scope_answers_404(role, name, members, client_as):
    response = client_as(role).get(f"/api/members/{members[name].pk}/")

    assert response.status_code == 404


def test_an_unknown_or_malformed_member_id_answers_404(member, client_as):
    client = client_as("operator")

    assert client.get("/api/members/999999999/").status_code == 404
    assert client.get("/api/members/abc/").status_code == 404


def test_a_secretary_reads_the_whole_record_of_their_member(member, client_as):
    response = client_as("secretary_of_a").get(f"/api/members/{member.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["masked_id_number"] == member.masked_id_number
    assert body["masked_phone"] == "138****8000"
    assert body["organization"] == "B-A"
    assert "id_number" not in body
    assert "phone" not in body
    assert "id_number_hash" not in body
    assert "user" not in body


def test_a_secretary_changes_their_members_record_and_it_is_audited(
    member, secretary_of_a, client_as
):
    response = client_as("secretary_of_a").patch(
        f"/api/members/{member.pk}/",
        {"work_unit": "顺丰速运", "phone": "139 1234 5678"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["work_unit"] == "顺丰速运"
    assert response.json()["masked_phone"] == "139****5678"
    member.refresh_from_db()
    assert (member.work_unit, member.phone) == ("顺丰速运", "13912345678")
    event = AuditEvent.objects.get(action="member.update", member=member)
    assert event.actor == secretary_of_a
    assert event.details == {"fields": ["phone", "work_unit"]}


def test_a_secretary_of_another_branch_cannot_change_a_member(member, client_as):
    before = snapshot(member)

    response = client_as("secretary_of_b").patch(
        f"/api/members/{member.pk}/", {"work_unit": "别处"}, format="json"
    )

    assert response.status_code == 404
    assert snapshot(member) == before
    assert not AuditEvent.objects.filter(member=member).exists()


def test_a_provincial_viewer_cannot_change_a_member(member, client_as):
    before = snapshot(member)

    response = client_as("provincial_viewer").patch(
        f"/api/members/{member.pk}/", {"work_unit": "别处"}, format="json"
    )

    assert response.status_code == 403
    assert snapshot(member) == before
    assert not AuditEvent.objects.filter(member=member).exists()


def test_a_provincial_viewer_is_refused_before_the_body_is_checked(member, client_as):
    response = client_as("provincial_viewer").patch(
        f"/api/members/{member.pk}/", {"phone": "12345"}, format="json"
    )

    assert response.status_code == 403


def test_a_member_changes_their_own_record_only_by_correction_request(
    member, client_as
):
    before = snapshot(member)

    response = client_as("member").patch(
        f"/api/members/{member.pk}/", {"work_unit": "自己改"}, format="json"
    )

    assert response.status_code == 403
    assert snapshot(member) == before


def test_put_is_not_offered(member, client_as):
    response = client_as("secretary_of_a").put(
        f"/api/members/{member.pk}/", {"work_unit": "x"}, format="json"
    )

    assert response.status_code == 405


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"phone": "12345"}, {"phone": ["phone_invalid"]}),
        ({"id_number": WRONG_CHECK_ID}, {"id_number": ["id_checksum"]}),
        ({"id_number": "4.30102E+17"}, {"id_number": ["id_scientific_notation"]}),
        ({"gender": "female"}, {"gender": ["id_gender_mismatch"]}),
        ({"birth_date": "1985-06-16"}, {"birth_date": ["id_birth_mismatch"]}),
        ({"joined_on": "2001-01-01"}, {"joined_on": ["joined_before_18"]}),
        ({"status": "retired"}, {"status": ["invalid_choice"]}),
    ],
)
def test_an_invalid_change_is_refused_with_its_code_and_changes_nothing(
    payload, expected, member, client_as
):
    before = snapshot(member)

    response = client_as("secretary_of_a").patch(
        f"/api/members/{member.pk}/", payload, format="json"
    )

    assert response.status_code == 400
    assert codes(response) == expected
    assert snapshot(member) == before
    assert not AuditEvent.objects.filter(member=member).exists()


def test_a_second_member_with_the_same_id_number_is_refused(
    member, branch_a, client_as
):
    other = factories.make_member(branch_a)

    response = client_as("secretary_of_a").patch(
        f"/api/members/{other.pk}/", {"id_number": member.id_number}, format="json"
    )

    assert response.status_code == 400
    assert codes(response) == {"id_number": ["duplicate"]}


def test_fields_nobody_may_change_by_edit_are_ignored(member, branch_b, client_as):
    response = client_as("secretary_of_a").patch(
        f"/api/members/{member.pk}/",
        {
            "organization": "B-B",
            "user": None,
            "id_number_hash": "00",
            "masked_id_number": "x",
            "created_at": "2000-01-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["organization"] == "B-A"
    member.refresh_from_db()
    assert member.user is not None
    assert member.membership_periods.get().organization.code == "B-A"


def test_a_secretary_reveals_an_id_number_with_a_reason_and_it_is_audited(
    member, secretary_of_a, client_as
):
    response = client_as("secretary_of_a").post(
        f"/api/members/{member.pk}/reveal-id/",
        {"reason": "核对转接介绍信"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {"id_number": member.id_number}
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="member.reveal_id")
    assert (event.actor, event.member) == (secretary_of_a, member)
    assert event.details == {"reason": "核对转接介绍信"}


@pytest.mark.parametrize(
    ("payload", "code"), [({}, "required"), ({"reason": "   "}, "blank")]
)
def test_a_reveal_without_a_reason_is_refused(payload, code, member, client_as):
    response = client_as("secretary_of_a").post(
        f"/api/members/{member.pk}/reveal-id/", payload, format="json"
    )

    assert response.status_code == 400
    assert codes(response) == {"reason": [code]}
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("provincial_viewer", 403),
        ("member", 403),
        ("secretary_of_b", 404),
        ("provincial_viewer_other", 404),
        ("outsider", 404),
    ],
)
def test_a_reveal_is_refused_to_roles_without_the_right(
    role, status, member, client_as
):
    response = client_as(role).post(
        f"/api/members/{member.pk}/reveal-id/", {"reason": "好奇"}, format="json"
    )

    assert response.status_code == status
    assert member.id_number not in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_a_member_reads_their_own_record(member, client_as):
    response = client_as("member").get("/api/me/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["organization"]) == (
        member.pk,
        "张三",
        "B-A",
    )
    assert body["masked_phone"] == "138****8000"
    assert "id_number" not in body
    assert "phone" not in body


@pytest.mark.parametrize("role", ["outsider", "secretary_of_a"])
def test_an_account_without_a_member_record_has_no_own_record(role, client_as):
    response = client_as(role).get("/api/me/")

    assert response.status_code == 404


def test_me_is_read_only(member, client_as):
    response = client_as("member").patch(
        "/api/me/", {"status": "suspended"}, format="json"
    )

    assert response.status_code == 405
    assert Member.objects.get(pk=member.pk).status == "full"


def test_a_member_requests_a_correction(member, member_user, client_as):
    response = client_as("member").post(
        "/api/me/corrections/",
        {"field": "work_unit", "requested_value": "美团", "reason": "换了工作"},
        format="json",
    )

    assert response.status_code == 201
    request = CorrectionRequest.objects.get()
    assert (request.member, request.requested_by) == (member, member_user)
    assert response.json() == {
        "id": request.pk,
        "field": "work_unit",
        "requested_value": "美团",
        "reason": "换了工作",
        "status": "pending",
        "requested_at": DateTimeField().to_representation(request.requested_at),
        "decided_at": None,
        "decision_note": "",
    }
    assert AuditEvent.objects.filter(action="correction.request").count() == 1


def test_a_requested_phone_is_stored_whole_and_shown_masked(member, client_as):
    client = client_as("member")

    created = client.post(
        "/api/me/corrections/",
        {"field": "phone", "requested_value": "13912345678", "reason": "换号"},
        format="json",
    )
    listed = client.get("/api/me/corrections/")

    assert created.json()["requested_value"] == "139****5678"
    assert listed.json()["results"][0]["requested_value"] == "139****5678"
    assert "13912345678" not in created.content.decode() + listed.content.decode()
    assert CorrectionRequest.objects.get().requested_value == "13912345678"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"field": "phone", "requested_value": "123", "reason": "换号"},
            {"requested_value": ["phone_invalid"]},
        ),
        (
            {"field": "id_number", "requested_value": "1", "reason": "错了"},
            {"field": ["invalid_choice"]},
        ),
        (
            {"field": "name", "requested_value": "李四", "reason": " "},
            {"reason": ["blank"]},
        ),
    ],
)
def test_an_invalid_correction_request_is_refused(payload, expected, member, client_as):
    response = client_as("member").post("/api/me/corrections/", payload, format="json")

    assert response.status_code == 400
    assert codes(response) == expected
    assert not CorrectionRequest.objects.exists()


def test_a_member_lists_only_their_own_correction_requests(
    member, member_of_b, member_user, client_as
):
    other_user = factories.make_user()
    CorrectionRequest.objects.create(
        member=member_of_b,
        field="name",
        requested_value="x",
        reason="y",
        requested_by=other_user,
    )
    mine = CorrectionRequest.objects.create(
        member=member,
        field="name",
        requested_value="张叁",
        reason="错字",
        requested_by=member_user,
    )

    response = client_as("member").get("/api/me/corrections/")

    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_an_account_without_a_member_record_cannot_request_corrections(client_as):
    client = client_as("outsider")

    listed = client.get("/api/me/corrections/")
    created = client.post(
        "/api/me/corrections/",
        {"field": "name", "requested_value": "x", "reason": "y"},
        format="json",
    )

    assert (listed.status_code, created.status_code) == (404, 404)
    assert not CorrectionRequest.objects.exists()


ANONYMOUS_CALLS = [
    ("get", "/api/members/"),
    ("get", "/api/members/{pk}/"),
    ("patch", "/api/members/{pk}/"),
    ("post", "/api/members/{pk}/reveal-id/"),
    ("get", "/api/me/"),
    ("get", "/api/me/corrections/"),
    ("post", "/api/me/corrections/"),
    ("get", "/api/organizations/"),
    ("get", "/api/organizations/B-A/"),
    ("get", "/api/schema/"),
    ("get", "/api/docs/"),
]


@pytest.mark.parametrize(("method", "url"), ANONYMOUS_CALLS)
def test_anonymous_callers_are_refused(method, url, member, client_as):
    client = client_as("anonymous")

    if method == "get":
        response = client.get(url.format(pk=member.pk))
    else:
        response = getattr(client, method)(url.format(pk=member.pk), {}, format="json")

    assert response.status_code == 403
    assert snapshot(member)["work_unit"] == ""


def test_no_response_carries_a_full_id_number_or_phone(member, client_as):
    secrets = {member.id_number, "13800138000", "13900001111"}
    staff, own = client_as("operator"), client_as("member")
    own.post(
        "/api/me/corrections/",
        {"field": "phone", "requested_value": "13900001111", "reason": "换号"},
        format="json",
    )

    responses = [
        staff.get("/api/members/"),
        staff.get(f"/api/members/?q={member.id_number}"),
        staff.get("/api/members/?q=13800138000"),
        staff.get(f"/api/members/{member.pk}/"),
        staff.patch(
            f"/api/members/{member.pk}/",
            {"phone": "13800138000", "id_number": member.id_number.lower()},
            format="json",
        ),
        own.get("/api/me/"),
        own.get("/api/me/corrections/"),
        staff.get("/api/schema/"),
    ]

    assert [r.status_code for r in responses] == [200] * len(responses)
    for response in responses:
        body = response.content.decode()
        assert not any(secret in body for secret in secrets), response.request


def test_search_finds_by_name_and_exactly_by_id_number_or_phone(
    member, branch_a, client_as
):
    factories.make_member(branch_a, name="张三丰")
    client = client_as("secretary_of_a")

    def found(term):
        response = client.get("/api/members/", {"q": term})
        return sorted(row["name"] for row in response.json()["results"])

    assert found("张三") == ["张三", "张三丰"]
    assert found(member.id_number) == ["张三"]
    assert found("138 0013 8000") == ["张三"]
    assert found(member.id_number[:-1]) == []


def test_the_organisation_filter_takes_the_whole_subtree(
    member, member_of_b, member_of_c, client_as
):
    client = client_as("operator")

    def listed(code):
        response = client.get("/api/members/", {"organization": code})
        return sorted(row["name"] for row in response.json()["results"])

    assert listed("C-A") == ["张三", "李四"]
    assert listed("B-B") == ["李四"]
    assert listed("P-B") == ["王五"]


def test_the_organisation_filter_counts_current_membership_only(
    member, branch_b, client_as
):
    moved_on = datetime.date(2024, 3, 1)
    period = member.membership_periods.get()
    period.period = DateRange(period.period.lower, moved_on)
    period.save()
    MembershipPeriod.objects.create(
        member=member, organization=branch_b, period=DateRange(moved_on, None)
    )
    client = client_as("operator")

    held_by_a = client.get("/api/members/", {"organization": "B-A"})
    held_by_b = client.get("/api/members/", {"organization": "B-B"})

    assert held_by_a.json()["results"] == []
    assert [row["id"] for row in held_by_b.json()["results"]] == [member.pk]


def test_an_organisation_outside_the_scope_is_an_unknown_filter(member, client_as):
    response = client_as("secretary_of_a").get("/api/members/", {"organization": "B-B"})

    assert response.status_code == 400
    assert codes(response) == {"organization": ["does_not_exist"]}


def test_the_status_filter(member, branch_a, client_as):
    factories.make_member(branch_a, name="预备", status="probationary")

    response = client_as("secretary_of_a").get(
        "/api/members/", {"status": "probationary"}
    )

    assert [row["name"] for row in response.json()["results"]] == ["预备"]


def count_list_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "url", ["/api/members/", "/api/members/?q=张&organization=C-A&status=full"]
)
def test_the_member_list_costs_the_same_queries_for_any_number_of_members(
    url, branch_a, branch_b, client_as, django_assert_max_num_queries
):
    client = client_as("committee_staff")
    factories.make_member(branch_a, name="张一")
    few = count_list_queries(client, url)
    for n in range(12):
        factories.make_member(branch_a if n % 2 else branch_b, name=f"张{n}")

    with django_assert_max_num_queries(6):
        response = client.get(url)

    assert len(response.json()["results"]) == 13
    assert count_list_queries(client, url) == few


def test_a_page_size_above_the_maximum_is_capped(branch_a, client_as, monkeypatch):
    monkeypatch.setattr(Pagination, "max_page_size", 2)
    for _n in range(3):
        factories.make_member(branch_a)

    response = client_as("secretary_of_a").get("/api/members/", {"page_size": 1000})

    assert response.json()["count"] == 3
    assert len(response.json()["results"]) == 2


def test_the_member_list_is_throttled_apart_from_details(
    member, client_as, monkeypatch
):
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"list": "2/min", "reveal": "9/min"}
    )
    client = client_as("secretary_of_a")

    statuses = [client.get("/api/members/").status_code for _n in range(3)]
    detail = client.get(f"/api/members/{member.pk}/")

    assert statuses == [200, 200, 429]
    assert detail.status_code == 200


def test_reveals_are_throttled(member, client_as, monkeypatch):
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"list": "9/min", "reveal": "1/hour"}
    )
    client = client_as("secretary_of_a")
    url = f"/api/members/{member.pk}/reveal-id/"

    first = client.post(url, {"reason": "核对"}, format="json")
    second = client.post(url, {"reason": "核对"}, format="json")

    assert (first.status_code, second.status_code) == (200, 429)
    assert AuditEvent.objects.filter(action="member.reveal_id").count() == 1


def test_the_schema_is_an_openapi_3_document(client_as):
    response = client_as("member").get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/members/", "/api/members/{id}/reveal-id/", "/api/me/"} <= set(
        schema["paths"]
    )


def test_the_docs_page_loads_its_assets_from_our_own_static_files(client_as):
    client = client_as("member")

    page = client.get("/api/docs/")
    html = page.content.decode()
    assets = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]*)"', html)
    script = client.get(assets[-1])

    assert page.status_code == 200
    assert len(assets) == 5
    assert all(a.startswith("/static/") for a in assets[:-1])
    assert all(finders.find(a.removeprefix("/static/")) for a in assets[:-1])
    assert assets[-1].startswith("/api/docs/?")
    assert "http" not in html
    assert script.status_code == 200
    assert '"validatorUrl": null' in script.content.decode()
    assert not re.search(r"https?://", script.content.decode())
