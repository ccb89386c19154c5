import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from organizations.models import Region
from tests import factories

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

# In tree order, as the list answers.
VISIBLE_ORGANIZATIONS = {
    "secretary_of_a": ["B-A"],
    "secretary_of_b": ["B-B"],
    "committee_staff": ["C-A", "B-A", "B-B"],
    "provincial_viewer": ["P-A", "C-A", "B-A", "B-B"],
    "provincial_viewer_other": ["P-B", "B-C"],
    "outsider": [],
    "member": [],
    "operator": ["P-A", "C-A", "B-A", "B-B", "P-B", "B-C"],
}


@pytest.fixture(autouse=True)
def _own_cache(settings):
    # Throttle counters live in the cache; a cache of this process keeps
    # other test runs sharing Redis from counting against these users.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tests-organizations-api",
        }
    }
    cache.clear()


@pytest.fixture
def tree(branch_a, branch_b, branch_c):
    return branch_a, branch_b, branch_c


@pytest.fixture
def client_as(request, db):
    def login(role):
        client = APIClient()
        if role != "anonymous":
            client.force_login(request.getfixturevalue(ROLE_USERS[role]))
        return client

    return login


def listed_codes(response):
    assert response.status_code == 200
    return [row["code"] for row in response.json()["results"]]


@pytest.mark.parametrize("role", sorted(VISIBLE_ORGANIZATIONS))
def test_each_role_lists_exactly_the_organisations_it_reaches(role, tree, client_as):
    response = client_as(role).get("/api/organizations/")

    assert listed_codes(response) == VISIBLE_ORGANIZATIONS[role]


def test_an_organisation_shows_its_region_and_parent(tree, client_as):
    response = client_as("secretary_of_a").get("/api/organizations/B-A/")

    assert response.status_code == 200
    assert response.json() == {
        "code": "B-A",
        "name": "第一支部",
        "kind": "branch",
        "region": "110101",
        "region_name": Region.objects.get(code="110101").name,
        "parent": "C-A",
        "depth": 3,
        "founded_on": None,
        "dissolved_on": None,
        "may_approve_probationary": False,
        "address": "",
        "phone": "",
        "time_zone": "Asia/Shanghai",
    }


def test_a_root_organisation_has_no_parent(tree, client_as):
    response = client_as("operator").get("/api/organizations/P-A/")

    assert response.json()["parent"] is None


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("secretary_of_a", "B-B"),
        ("secretary_of_a", "C-A"),
        ("secretary_of_b", "B-A"),
        ("provincial_viewer", "B-C"),
        ("provincial_viewer_other", "B-A"),
        ("outsider", "B-A"),
        ("member", "B-A"),
        ("operator", "NO-SUCH"),
    ],
)
def test_an_organisation_outside_the_scope_answers_404(role, code, tree, client_as):
    response = client_as(role).get(f"/api/organizations/{code}/")

    assert response.status_code == 404


def test_the_parent_filter_lists_direct_children(tree, client_as):
    client = client_as("provincial_viewer")

    assert listed_codes(client.get("/api/organizations/", {"parent": "P-A"})) == ["C-A"]
    assert listed_codes(client.get("/api/organizations/", {"parent": "C-A"})) == [
        "B-A",
        "B-B",
    ]
    assert listed_codes(client.get("/api/organizations/", {"parent": "B-A"})) == []


def test_a_parent_outside_the_scope_is_an_unknown_filter(tree, client_as):
    response = client_as("secretary_of_a").get("/api/organizations/", {"parent": "B-C"})

    assert response.status_code == 400
    assert list(response.json()) == ["parent"]
    assert [error["code"] for error in response.json()["parent"]] == ["does_not_exist"]


def test_the_kind_filter(tree, client_as):
    response = client_as("provincial_viewer").get(
        "/api/organizations/", {"kind": "committee"}
    )

    assert listed_codes(response) == ["P-A", "C-A"]


def test_an_unknown_kind_is_refused(tree, client_as):
    response = client_as("operator").get("/api/organizations/", {"kind": "club"})

    assert response.status_code == 400
    assert response.json()["kind"][0]["code"] == "invalid_choice"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/organizations/"),
        ("put", "/api/organizations/B-A/"),
        ("patch", "/api/organizations/B-A/"),
        ("delete", "/api/organizations/B-A/"),
    ],
)
def test_organisations_are_read_only_here(method, url, tree, client_as):
    response = getattr(client_as("operator"), method)(
        url, {"name": "改名"}, format="json"
    )

    assert response.status_code == 405


@pytest.mark.parametrize("url", ["/api/organizations/", "/api/organizations/B-A/"])
def test_anonymous_callers_are_refused(url, tree, client_as):
    response = client_as("anonymous").get(url)

    assert response.status_code == 403


def test_the_list_costs_the_same_queries_for_any_number_of_organisations(
    tree, city_committee, client_as, django_assert_num_queries
):
    client = client_as("committee_staff")
    # Session, user, roles, count, page.
    with django_assert_num_queries(5):
        few = client.get("/api/organizations/")
    for _n in range(10):
        factories.make_organization(city_committee)

    with django_assert_num_queries(5):
        many = client.get("/api/organizations/")

    assert (few.json()["count"], many.json()["count"]) == (3, 13)
    assert {row["parent"] for row in many.json()["results"][1:]} == {"C-A"}


def test_the_organisation_list_is_throttled(tree, client_as, monkeypatch):
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"list": "1/min", "reveal": "1/min"}
    )
    client = client_as("operator")

    first = client.get("/api/organizations/")
    second = client.get("/api/organizations/")
    detail = client.get("/api/organizations/B-A/")

    assert (first.status_code, second.status_code) == (200, 429)
    assert detail.status_code == 200
