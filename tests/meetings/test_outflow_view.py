"""A mobile member's attendance at the inflow organisation is on their own
record: the outflow secretary reads it on the member's page and in the
branch's compliance page."""

import pytest
from django.urls import reverse

from organizations.meetings import services
from organizations.meetings.selectors import members_attendance
from tests.meetings.arrange import hold, place, plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def attended_away(
    branch_a, branch_b, member, member_user, secretary_of_a, secretary_of_b
):
    place(member, outflow=branch_a, inflow=branch_b, registered_by=secretary_of_a)
    meeting = plan(branch_b, secretary_of_b, kind="theme_day", title="深圳主题党日")
    services.check_in(user=member_user, meeting=meeting)
    return hold(meeting, secretary_of_b)


def test_the_outflow_secretary_sees_the_inflow_meeting_on_the_member(
    client, attended_away, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    page = client.get(reverse("admin:members_member_change", args=[member.pk]))

    assert page.status_code == 200
    content = page.content.decode()
    assert "深圳主题党日" in content
    assert "第二支部" in content  # the inflow branch's name


def test_the_branch_counts_each_members_meetings_anywhere(
    client, attended_away, branch_a, member, secretary_of_a
):
    counted = members_attendance(organization=branch_a).get(pk=member.pk)
    assert (counted.invited, counted.present, counted.excused) == (1, 1, 0)

    client.force_login(secretary_of_a)
    page = client.get(
        reverse("admin:organizations_meeting_compliance")
        + f"?organization={branch_a.pk}"
    )
    rows = {m.pk: m for m in page.context["attendance"]}
    assert rows[member.pk].present == 1
