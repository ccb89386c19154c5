"""The transfer API: scoped lists and queues, every step, the letter PDF."""

import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from members.models import AuditEvent
from organizations import services
from organizations.models import Transfer
from tests import factories

State = Transfer.State
DAY = datetime.timedelta(days=1)
LIST_URL = "/api/transfers/"


def today():
    return timezone.localdate()


def month():
    return f"{services.dues_required_through(today()):%Y-%m}"


def detail_url(transfer):
    return f"{LIST_URL}{transfer.pk}/"


def step_url(transfer, step):
    return f"{LIST_URL}{transfer.pk}/{step}/"


def issued(actor, member, to_organization):
    letter = services.transfer_create(
        actor=actor,
        member=member,
        to_organization=to_organization,
        dues_paid_through=services.dues_required_through(today()),
    )
    return services.transfer_issue(actor=actor, transfer=letter)


def state_of(transfer):
    return Transfer.objects.get(pk=transfer.pk).state


def codes(response):
    return {
        field: [error["code"] for error in errors]
        for field, errors in response.json().items()
    }


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_cache(settings):
    # Throttle counters live in the cache; keep other runs out of them.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tests-transfer-api",
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
        if role != "anonymous":
            client.force_login(request.getfixturevalue(role))
        return client

    return client_for


@pytest.fixture
def letter(member, branch_b, secretary_of_a):
    return issued(secretary_of_a, member, branch_b)


@pytest.fixture
def accepted(letter, secretary_of_b):
    return services.transfer_accept(actor=secretary_of_b, transfer=letter)


# Reading


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("secretary_of_a", True),
        ("secretary_of_b", True),
        ("committee_staff", True),
        ("provincial_viewer", True),
        ("operator", True),
        ("secretary_of_c", False),
        ("provincial_viewer_other", False),
        ("outsider", False),
        ("member_user", False),
    ],
)
def test_the_list_shows_a_letter_to_both_sides_and_no_one_else(api, letter, role, sees):
    response = api(role).get(LIST_URL)

    assert response.status_code == 200
    assert [t["number"] for t in response.json()["results"]] == (
        [letter.number] if sees else []
    )


def test_an_anonymous_caller_is_refused(api, letter):
    assert api("anonymous").get(LIST_URL).status_code == 403


def test_the_list_carries_the_id_number_masked_only(api, letter, member):
    response = api("secretary_of_b").get(LIST_URL)

    row = response.json()["results"][0]
    assert row["masked_id_number"] == member.masked_id_number
    assert member.id_number not in response.content.decode()
    assert (row["from_organization"], row["to_organization"], row["state"]) == (
        "B-A",
        "B-B",
        "issued",
    )


def test_the_queue_filter_keeps_one_queue(
    api, letter, branch_a, branch_b, secretary_of_a, secretary_of_b
):
    other = services.transfer_accept(
        actor=secretary_of_b,
        transfer=issued(secretary_of_a, factories.make_member(branch_a), branch_b),
    )
    client = api("secretary_of_b")

    to_accept = client.get(LIST_URL, {"queue": "to_accept"}).json()["results"]
    to_report = client.get(LIST_URL, {"queue": "to_report"}).json()["results"]

    assert [t["number"] for t in to_accept] == [letter.number]
    assert [t["number"] for t in to_report] == [other.number]


def test_the_state_filter_keeps_one_state(api, letter, accepted):
    client = api("secretary_of_a")

    assert client.get(LIST_URL, {"state": "issued"}).json()["results"] == []
    assert len(client.get(LIST_URL, {"state": "accepted"}).json()["results"]) == 1


def test_an_unknown_queue_is_a_bad_request(api, letter):
    response = api("secretary_of_a").get(LIST_URL, {"queue": "everything"})

    assert response.status_code == 400
    assert codes(response) == {"queue": ["invalid_choice"]}


def test_the_list_costs_the_same_queries_for_few_and_many_letters(
    api, branch_a, branch_b, secretary_of_a, django_assert_num_queries
):
    client = api("secretary_of_a")
    issued(secretary_of_a, factories.make_member(branch_a), branch_b)
    # Session, user, roles, count, page.
    with django_assert_num_queries(5):
        client.get(LIST_URL)

    for _n in range(10):
        issued(secretary_of_a, factories.make_member(branch_a), branch_b)
    with django_assert_num_queries(5):
        response = client.get(LIST_URL)

    assert response.json()["count"] == 11


def test_the_detail_carries_the_history(api, accepted, secretary_of_b):
    response = api("secretary_of_a").get(detail_url(accepted))

    events = response.json()["events"]
    assert [(e["from_state"], e["to_state"]) for e in events] == [
        ("", "draft"),
        ("draft", "issued"),
        ("issued", "accepted"),
    ]
    assert events[-1]["actor"] == "sec_b"


def test_opening_a_letter_is_on_the_record(api, letter, member, secretary_of_b):
    api("secretary_of_b").get(detail_url(letter))

    event = AuditEvent.objects.get(action="transfer.view")
    assert (event.actor, event.member) == (secretary_of_b, member)


@pytest.mark.parametrize("role", ["secretary_of_c", "provincial_viewer_other"])
def test_the_detail_out_of_scope_is_404(api, letter, role):
    assert api(role).get(detail_url(letter)).status_code == 404


def test_a_missing_or_malformed_id_is_404(api, letter):
    client = api("secretary_of_a")

    assert client.get(f"{LIST_URL}999999/").status_code == 404
    assert client.get(f"{LIST_URL}abc/").status_code == 404


# Creating


def test_a_secretary_creates_and_issues_a_letter(api, member, branch_b):
    response = api("secretary_of_a").post(
        LIST_URL,
        {
            "member": member.pk,
            "to_organization": "B-B",
            "dues_paid_through": month(),
            "validity_days": 15,
            "issue": True,
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["state"], body["to_organization"], body["validity_days"]) == (
        "issued",
        "B-B",
        15,
    )
    assert body["valid_until"] == (today() + 15 * DAY).isoformat()


def test_a_letter_is_drafted_unless_asked_to_issue(api, member, branch_b):
    response = api("secretary_of_a").post(
        LIST_URL,
        {"member": member.pk, "to_organization": "B-B", "dues_paid_through": month()},
        format="json",
    )

    assert response.json()["state"] == "draft"


def test_dues_not_paid_far_enough_are_a_bad_request_and_create_nothing(
    api, member, branch_b
):
    response = api("secretary_of_a").post(
        LIST_URL,
        {
            "member": member.pk,
            "to_organization": "B-B",
            "dues_paid_through": "2001-01",
            "issue": True,
        },
        format="json",
    )

    assert response.status_code == 400
    assert codes(response) == {"dues_paid_through": ["dues_not_paid"]}
    assert Transfer.objects.count() == 0


def test_a_second_open_letter_is_refused(api, letter, member):
    response = api("secretary_of_a").post(
        LIST_URL,
        {"member": member.pk, "to_organization": "B-B", "dues_paid_through": month()},
        format="json",
    )

    assert response.status_code == 400
    assert codes(response) == {"non_field_errors": ["transfer_open"]}
    assert Transfer.objects.count() == 1


@pytest.mark.parametrize(
    ("role", "status"),
    [("secretary_of_b", 404), ("secretary_of_c", 404), ("provincial_viewer", 403)],
)
def test_only_the_holding_organisation_creates_a_letter(
    api, member, branch_b, role, status
):
    response = api(role).post(
        LIST_URL,
        {"member": member.pk, "to_organization": "B-B", "dues_paid_through": month()},
        format="json",
    )

    assert response.status_code == status
    assert Transfer.objects.count() == 0


# Steps


def test_the_receiving_secretary_accepts(api, letter):
    response = api("secretary_of_b").post(step_url(letter, "accept"))

    assert response.status_code == 200
    assert response.json()["state"] == "accepted"
    assert state_of(letter) == State.ACCEPTED


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("secretary_of_a", 403),
        ("provincial_viewer", 403),
        ("member_user", 403),
        ("secretary_of_c", 404),
        ("provincial_viewer_other", 404),
        ("outsider", 404),
    ],
)
def test_only_the_receiving_side_accepts(api, letter, role, status):
    response = api(role).post(step_url(letter, "accept"))

    assert response.status_code == status
    assert state_of(letter) == State.ISSUED


def test_the_sender_issues_a_draft(api, member, branch_b, secretary_of_a):
    draft = services.transfer_create(
        actor=secretary_of_a,
        member=member,
        to_organization=branch_b,
        dues_paid_through=services.dues_required_through(today()),
    )

    response = api("secretary_of_a").post(step_url(draft, "issue"))

    assert response.json()["state"] == "issued"


def test_returning_without_a_reason_is_refused(api, letter):
    response = api("secretary_of_b").post(step_url(letter, "return"), {}, format="json")

    assert response.status_code == 400
    assert codes(response) == {"reason": ["required"]}
    assert state_of(letter) == State.ISSUED


def test_returning_with_a_reason_records_it(api, letter):
    response = api("secretary_of_b").post(
        step_url(letter, "return"), {"reason": "信息不全"}, format="json"
    )

    assert response.json()["state"] == "returned"
    assert response.json()["events"][-1]["reason"] == "信息不全"


def test_a_step_the_state_does_not_allow_answers_with_its_code(api, accepted):
    response = api("secretary_of_a").post(step_url(accepted, "withdraw"))

    assert response.status_code == 400
    assert codes(response) == {"non_field_errors": ["transfer_state"]}
    assert state_of(accepted) == State.ACCEPTED


def test_the_arrival_places_the_member_in_a_branch_below(
    api, accepted, member, branch_b
):
    sub_branch = factories.make_organization(branch_b, code="G-B", kind="branch")

    response = api("secretary_of_b").post(
        step_url(accepted, "report"), {"placed_in": "G-B"}, format="json"
    )

    assert response.json()["state"] == "reported"
    assert response.json()["placed_in"] == "G-B"
    assert member.membership_periods.get(period__contains=today()).organization == (
        sub_branch
    )


def test_a_placement_outside_the_receiving_organisation_is_refused(api, accepted):
    response = api("secretary_of_b").post(
        step_url(accepted, "report"), {"placed_in": "B-A"}, format="json"
    )

    assert response.status_code == 400
    assert list(codes(response)) == ["placed_in"]
    assert state_of(accepted) == State.ACCEPTED


def test_the_receipt_follows_the_arrival(api, accepted, secretary_of_b):
    services.transfer_report(actor=secretary_of_b, transfer=accepted)

    response = api("secretary_of_b").post(step_url(accepted, "receipt"))

    assert response.json()["state"] == "receipt_returned"


def test_the_sender_withdraws(api, letter):
    response = api("secretary_of_a").post(
        step_url(letter, "withdraw"), {"reason": "不再调动"}, format="json"
    )

    assert response.json()["state"] == "withdrawn"


def test_a_returned_letter_is_reissued_with_a_new_number(api, letter, secretary_of_b):
    services.transfer_return(actor=secretary_of_b, transfer=letter, reason="退回")

    response = api("secretary_of_a").post(
        step_url(letter, "reissue"), {"validity_days": 20}, format="json"
    )

    body = response.json()
    assert response.status_code == 200
    assert (body["state"], body["reissue_of"], body["validity_days"]) == (
        "issued",
        letter.pk,
        20,
    )
    assert body["number"] != letter.number
    assert state_of(letter) == State.REISSUED


# The letter


def test_the_letter_pdf_is_downloaded_by_a_side_and_audited(api, letter):
    response = api("secretary_of_b").get(step_url(letter, "letter.pdf"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="transfer.letter").count() == 1


@pytest.mark.parametrize("role", ["member_user", "secretary_of_c", "outsider"])
def test_the_letter_pdf_is_for_the_two_sides_only(api, letter, role):
    response = api(role).get(step_url(letter, "letter.pdf"))

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="transfer.letter").exists()


def test_the_schema_lists_the_transfer_endpoints(api):
    schema = api("secretary_of_a").get("/api/schema/", {"format": "json"}).json()

    paths = set(schema["paths"])
    expected = {
        "/api/transfers/",
        "/api/transfers/{id}/",
        "/api/transfers/{id}/letter.pdf/",
    } | {
        f"/api/transfers/{{id}}/{step}/"
        for step in (
            "issue",
            "withdraw",
            "accept",
            "return",
            "report",
            "receipt",
            "reissue",
        )
    }
    assert expected <= paths
    assert "post" in schema["paths"]["/api/transfers/"]
