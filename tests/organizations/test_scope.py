import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.selectors import Access, member_access, member_get, member_list
from organizations.models import Organization, Role
from organizations.scope import (
    OutOfScope,
    organizations_in_scope,
    scope_for,
)
from tests import factories


def visible_names(user, on=None):
    scope = scope_for(user, on=on)
    return sorted(m.name for m in member_list(scope=scope, on=on))


@pytest.fixture
def everyone(member, member_of_b, member_of_c):
    return member, member_of_b, member_of_c


def test_a_secretary_sees_only_their_branch(everyone, secretary_of_a):
    assert visible_names(secretary_of_a) == ["张三"]


def test_another_branch_secretary_sees_none_of_branch_a(everyone, secretary_of_b):
    assert visible_names(secretary_of_b) == ["李四"]


def test_committee_staff_see_their_whole_subtree(everyone, committee_staff):
    assert visible_names(committee_staff) == ["张三", "李四"]


def test_a_provincial_viewer_sees_their_province_only(
    everyone, provincial_viewer, provincial_viewer_other
):
    assert visible_names(provincial_viewer) == ["张三", "李四"]
    assert visible_names(provincial_viewer_other) == ["王五"]


def test_a_provincial_viewer_may_read_but_not_write(everyone, provincial_viewer):
    scope = scope_for(provincial_viewer)

    assert scope.read_paths and not scope.write_paths
    assert list(member_list(scope=scope, write=True)) == []


def test_an_outsider_and_an_anonymous_user_see_nothing(everyone, outsider):
    from django.contrib.auth.models import AnonymousUser

    assert visible_names(outsider) == []
    assert visible_names(AnonymousUser()) == []


def test_an_operator_sees_everyone(everyone, operator):
    assert visible_names(operator) == ["张三", "李四", "王五"]


def test_an_ended_role_grants_nothing_the_next_day(everyone, branch_a):
    user = factories.make_user()
    factories.make_role(user, branch_a, ends_on=datetime.date(2026, 6, 30))

    assert visible_names(user, on=datetime.date(2026, 6, 30)) == ["张三"]
    assert scope_for(user, on=datetime.date(2026, 7, 1)).read_paths == ()


def test_a_role_not_yet_started_grants_nothing(everyone, branch_a):
    user = factories.make_user()
    factories.make_role(user, branch_a, starts_on=datetime.date(2099, 1, 1))

    assert visible_names(user) == []


def test_a_deactivated_user_sees_nothing(everyone, secretary_of_a):
    secretary_of_a.is_active = False

    assert scope_for(secretary_of_a).read_paths == ()


def test_access_follows_the_membership_on_the_day(member, branch_b, secretary_of_a):
    from psycopg2.extras import DateRange

    from members.models import MembershipPeriod

    period = member.membership_periods.get()
    period.period = DateRange(period.period.lower, datetime.date(2026, 3, 17))
    period.save()
    MembershipPeriod.objects.create(
        member=member,
        organization=branch_b,
        period=DateRange(datetime.date(2026, 3, 17), None),
    )

    scope = scope_for(secretary_of_a)
    assert [
        m.name for m in member_list(scope=scope, on=datetime.date(2026, 3, 16))
    ] == ["张三"]
    assert list(member_list(scope=scope, on=datetime.date(2026, 3, 17))) == []


def test_member_get_out_of_scope_raises_not_found(member, secretary_of_b):
    with pytest.raises(OutOfScope):
        member_get(scope=scope_for(secretary_of_b), member_id=member.pk)


def test_a_member_has_own_access_to_their_record_only(member, member_of_b, member_user):
    scope = scope_for(member_user)

    assert member_access(scope=scope, member=member) is Access.OWN
    assert member_access(scope=scope, member=member_of_b) is Access.NONE


def test_nested_roles_collapse_to_the_highest_root(branch_a, city_committee):
    user = factories.make_user()
    factories.make_role(user, branch_a)
    factories.make_role(user, city_committee, "committee_staff")

    assert scope_for(user).read_paths == (city_committee.path,)


def test_a_subtree_costs_one_query_at_any_depth(province_a):
    parent = province_a
    for depth in range(12):
        parent = factories.make_organization(parent, code=f"D{depth}")

    with CaptureQueriesContext(connection) as queries:
        names = list(
            Organization.objects.filter(path__startswith=province_a.path).values_list(
                "code", flat=True
            )
        )

    assert len(queries) == 1
    assert len(names) == 13


def test_the_subtree_query_uses_the_path_index(province_a):
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM organizations_organization WHERE path LIKE %s",
            [province_a.path + "%"],
        )
        plan = " ".join(row[0] for row in cursor.fetchall())

    assert "Index" in plan


def test_organizations_in_scope_follow_roles(branch_a, branch_b, secretary_of_a):
    codes = set(
        organizations_in_scope(scope_for(secretary_of_a)).values_list("code", flat=True)
    )

    assert codes == {"B-A"}


def test_the_role_kinds_are_recorded(secretary_of_a):
    assert scope_for(secretary_of_a).role_kinds == {Role.Kind.SECRETARY}
