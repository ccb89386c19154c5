"""The admin log-in, and the organisation, role and region admins by role."""

import datetime

import pytest
from django.urls import reverse

from members.models import AuditEvent
from organizations.models import Organization, Role
from tests import factories

ORGANIZATIONS_URL = reverse("admin:organizations_organization_changelist")
ROLES_URL = reverse("admin:organizations_role_changelist")
MEMBERS_URL = reverse("admin:members_member_changelist")


def organization_url(organization):
    return reverse("admin:organizations_organization_change", args=[organization.pk])


@pytest.fixture
def tree(branch_a, branch_b, branch_c):
    return branch_a, branch_b, branch_c


def listed_codes(client, user):
    client.force_login(user)
    response = client.get(ORGANIZATIONS_URL)
    assert response.status_code == 200
    return [o.code for o in response.context["cl"].result_list]


# Log-in


def test_the_admin_log_in_redirects_to_allauth_keeping_next(client):
    response = client.get(reverse("admin:login") + f"?next={MEMBERS_URL}")

    assert response.status_code == 302
    assert response["Location"] == (
        reverse("account_login") + "?next=%2Fadmin%2Fmembers%2Fmember%2F"
    )


def test_an_anonymous_visit_to_the_admin_ends_at_the_allauth_log_in(client):
    response = client.get(MEMBERS_URL, follow=True)

    assert response.redirect_chain[-1][0] == (
        reverse("account_login") + "?next=%2Fadmin%2Fmembers%2Fmember%2F"
    )


def test_posting_credentials_to_the_admin_log_in_signs_nobody_in(
    client, secretary_of_a
):
    response = client.post(
        reverse("admin:login"),
        {"username": "sec_a", "password": factories.PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_a_foreign_next_is_replaced_by_the_admin_index(client):
    response = client.get(reverse("admin:login") + "?next=https://evil.example/")

    assert response["Location"] == (reverse("account_login") + "?next=%2Fadmin%2F")


def test_signed_in_staff_are_sent_on_to_next(client, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(reverse("admin:login") + f"?next={MEMBERS_URL}")

    assert response["Location"] == MEMBERS_URL


def test_a_signed_in_user_without_admin_access_is_refused_not_looped(client, outsider):
    client.force_login(outsider)

    response = client.get(reverse("admin:login") + "?next=/admin/")

    assert response.status_code == 403


def test_signing_in_through_allauth_reaches_the_admin(client, secretary_of_a):
    response = client.post(
        reverse("account_login") + f"?next={MEMBERS_URL}",
        {"login": "sec_a", "password": factories.PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == MEMBERS_URL


# Index


def test_staff_without_an_active_role_see_no_app_on_the_index(client, branch_a):
    user = factories.make_user("former", is_staff=True)
    factories.make_role(user, branch_a, ends_on=datetime.date(2021, 12, 31))
    client.force_login(user)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["app_list"] == []


def test_a_secretary_sees_members_and_organisations_but_not_roles_on_the_index(
    client, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.get(reverse("admin:index"))

    models = sorted(
        m["object_name"] for app in response.context["app_list"] for m in app["models"]
    )
    assert models == [
        "Assessment",
        "AuditEvent",
        "CorrectionRequest",
        "Course",
        "DuesPolicy",
        "DuesRule",
        "LedgerEntry",
        "Meeting",
        "MeetingSeries",
        "Member",
        "Mobility",
        "NeedsSurvey",
        "Organization",
        "PaymentOrder",
        "Question",
        "Reduction",
        "RosterImport",
        "Transfer",
        "YearlyReport",
    ]


# Organisations


@pytest.mark.parametrize(
    ("role", "codes"),
    [
        ("secretary_of_a", ["B-A"]),
        ("secretary_of_b", ["B-B"]),
        ("committee_staff", ["C-A", "B-A", "B-B"]),
        ("provincial_viewer", ["P-A", "C-A", "B-A", "B-B"]),
        ("provincial_viewer_other", ["P-B", "B-C"]),
        ("operator", ["P-A", "C-A", "B-A", "B-B", "P-B", "B-C"]),
    ],
)
def test_the_organisation_list_shows_the_tree_in_scope(
    request, client, tree, role, codes
):
    assert listed_codes(client, request.getfixturevalue(role)) == codes


def test_the_organisation_list_indents_by_depth(client, tree, operator):
    client.force_login(operator)

    html = client.get(ORGANIZATIONS_URL).content.decode()

    assert "\u3000\u3000第一支部" in html


@pytest.mark.parametrize(
    ("role", "organization"),
    [
        ("secretary_of_a", "branch_b"),
        ("committee_staff", "branch_c"),
        ("provincial_viewer", "branch_c"),
        ("provincial_viewer_other", "branch_a"),
    ],
)
def test_an_organisation_out_of_scope_is_404(request, client, tree, role, organization):
    client.force_login(request.getfixturevalue(role))

    response = client.get(organization_url(request.getfixturevalue(organization)))

    assert response.status_code == 404


@pytest.mark.parametrize("role", ["provincial_viewer", "secretary_of_a"])
def test_only_operators_change_organisations(request, client, tree, branch_a, role):
    client.force_login(request.getfixturevalue(role))

    response = client.post(organization_url(branch_a), {"name": "改名"})

    assert response.status_code == 403
    assert Organization.objects.get(pk=branch_a.pk).name == "第一支部"


def test_an_operator_adds_a_branch_under_a_committee(
    client, tree, city_committee, operator
):
    client.force_login(operator)

    response = client.post(
        reverse("admin:organizations_organization_add"),
        {
            "code": "B-N",
            "name": "新支部",
            "kind": "branch",
            "region": "110101",
            "time_zone": "Asia/Shanghai",
            "treebeard_position": "first-child",
            "treebeard_ref_node": city_committee.pk,
        },
    )

    assert response.status_code == 302
    added = Organization.objects.get(code="B-N")
    assert Organization.objects.get_parent(added) == city_committee
    assert AuditEvent.objects.filter(
        action="organization.create", organization=added
    ).exists()


# Roles


@pytest.mark.parametrize(
    "role", ["secretary_of_a", "committee_staff", "provincial_viewer"]
)
def test_only_operators_see_roles(request, client, tree, role):
    client.force_login(request.getfixturevalue(role))

    response = client.get(ROLES_URL)

    assert response.status_code == 403


def test_a_secretary_cannot_grant_a_role(client, branch_a, secretary_of_a, outsider):
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:organizations_role_add"),
        {
            "user": outsider.pk,
            "organization": branch_a.pk,
            "kind": "secretary",
            "starts_on": "2024-01-01",
        },
    )

    assert response.status_code == 403
    assert not Role.objects.filter(user=outsider).exists()


def test_an_operator_grants_a_role_and_it_is_audited(
    client, branch_a, operator, outsider
):
    client.force_login(operator)

    response = client.post(
        reverse("admin:organizations_role_add"),
        {
            "user": outsider.pk,
            "organization": branch_a.pk,
            "kind": "secretary",
            "starts_on": "2024-01-01",
        },
    )

    assert response.status_code == 302
    role = Role.objects.get(user=outsider)
    event = AuditEvent.objects.get(action="role.grant")
    assert (event.actor, event.organization) == (operator, branch_a)
    assert event.details["role_id"] == role.pk


# Regions


def test_regions_are_searchable_by_staff_for_the_member_form(client, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "members",
            "model_name": "member",
            "field_name": "residence_region",
            "term": "东城",
        },
    )

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == ["110101"]


def test_only_operators_change_regions(client, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:organizations_region_change", args=["110101"]),
        {"code": "110101", "name": "改名", "level": 3},
    )

    assert response.status_code == 403


# Every page


def test_every_admin_list_and_add_page_renders_for_an_operator(
    client, tree, member, operator
):
    from django.contrib import admin

    client.force_login(operator)
    statuses = {}

    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        for page in ("changelist", "add"):
            url = reverse("admin:{}_{}_{}".format(*info, page))
            statuses[f"{info[1]}_{page}"] = client.get(url).status_code

    refused = {name for name, status in statuses.items() if status != 200}
    # Records that only arise from an action elsewhere have no add page
    # (payments are recorded through their own form, ledger rows generated,
    # questions imported from a course's XLSX).
    assert refused == {
        "auditevent_add",
        "correctionrequest_add",
        "yearlyreport_add",
        "paymentorder_add",
        "ledgerentry_add",
        "question_add",
    }
