import pytest
from django.urls import reverse

from members.models import MembershipPeriod
from organizations.scope import today
from tests import factories


def move_url(organization):
    return reverse(
        "admin:organizations_organization_move_members", args=[organization.pk]
    )


@pytest.fixture
def two_members(branch_a):
    return [factories.make_member(branch_a) for _ in range(2)]


def held_by(organization):
    return MembershipPeriod.objects.filter(
        organization=organization, period__contains=today()
    ).count()


def test_committee_staff_move_a_whole_branch(
    client, two_members, branch_a, branch_b, committee_staff
):
    client.force_login(committee_staff)

    response = client.post(
        move_url(branch_a), {"to_organization": branch_b.pk, "reason": "支部合并"}
    )

    assert response.status_code == 302
    assert (held_by(branch_a), held_by(branch_b)) == (0, 2)


def test_a_move_without_a_reason_changes_nothing(
    client, two_members, branch_a, branch_b, committee_staff
):
    client.force_login(committee_staff)

    response = client.post(move_url(branch_a), {"to_organization": branch_b.pk})

    assert response.status_code == 200
    assert (held_by(branch_a), held_by(branch_b)) == (2, 0)


def test_a_provincial_viewer_cannot_move_members(
    client, two_members, branch_a, branch_b, provincial_viewer
):
    client.force_login(provincial_viewer)

    response = client.post(
        move_url(branch_a), {"to_organization": branch_b.pk, "reason": "x"}
    )

    assert response.status_code == 403
    assert held_by(branch_a) == 2


def test_another_branch_secretary_gets_not_found(
    client, two_members, branch_a, secretary_of_b
):
    client.force_login(secretary_of_b)

    assert client.get(move_url(branch_a)).status_code == 404


def test_only_writable_branches_are_offered(
    client, branch_a, branch_b, branch_c, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.get(move_url(branch_a))

    offered = response.context["form"].fields["to_organization"].queryset
    assert list(offered) == []


def test_the_organisation_page_links_to_the_move(client, branch_a, committee_staff):
    client.force_login(committee_staff)

    response = client.get(
        reverse("admin:organizations_organization_change", args=[branch_a.pk])
    )

    assert move_url(branch_a) in response.content.decode()
