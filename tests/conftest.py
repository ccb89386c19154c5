"""Shared fixtures: a small organisation tree and one user per role.

Tree::

    province_a (110000 Beijing committee)
      city_committee
        branch_a   <- member, secretary_of_a
        branch_b   <- secretary_of_b
    province_b (430000 Hunan committee)
      branch_c
"""

import pytest

from tests import factories


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    # Code tables are reference data every test reads; load them once per
    # test database instead of in every test.
    with django_db_blocker.unblock():
        factories.load_code_tables()


@pytest.fixture
def province_a(db):
    return factories.make_organization(
        code="P-A", kind="committee", region="110000", name="北京市委"
    )


@pytest.fixture
def city_committee(province_a):
    return factories.make_organization(
        province_a,
        code="C-A",
        kind="committee",
        region="110101",
        name="东城区委",
    )


@pytest.fixture
def branch_a(city_committee):
    return factories.make_organization(city_committee, code="B-A", name="第一支部")


@pytest.fixture
def branch_b(branch_a, city_committee):
    return factories.make_organization(city_committee, code="B-B", name="第二支部")


@pytest.fixture
def province_b(db):
    return factories.make_organization(
        code="P-B", kind="committee", region="430000", name="湖南省委"
    )


@pytest.fixture
def branch_c(province_b):
    return factories.make_organization(
        province_b, code="B-C", region="430102", name="长沙支部"
    )


@pytest.fixture
def member_user(db):
    return factories.make_user("member1")


@pytest.fixture
def member(branch_a, member_user):
    return factories.make_member(
        branch_a, user=member_user, name="张三", phone="13800138000"
    )


@pytest.fixture
def member_of_b(branch_b):
    return factories.make_member(branch_b, name="李四")


@pytest.fixture
def member_of_c(branch_c):
    return factories.make_member(branch_c, name="王五")


@pytest.fixture
def secretary_of_a(branch_a):
    user = factories.make_user("sec_a", is_staff=True)
    factories.make_role(user, branch_a, "secretary")
    return user


@pytest.fixture
def secretary_of_b(branch_b):
    user = factories.make_user("sec_b", is_staff=True)
    factories.make_role(user, branch_b, "secretary")
    return user


@pytest.fixture
def committee_staff(city_committee):
    user = factories.make_user("committee", is_staff=True)
    factories.make_role(user, city_committee, "committee_staff")
    return user


@pytest.fixture
def provincial_viewer(province_a):
    user = factories.make_user("viewer_a", is_staff=True)
    factories.make_role(user, province_a, "provincial_viewer")
    return user


@pytest.fixture
def provincial_viewer_other(province_b):
    user = factories.make_user("viewer_b", is_staff=True)
    factories.make_role(user, province_b, "provincial_viewer")
    return user


@pytest.fixture
def outsider(db):
    return factories.make_user("outsider")


@pytest.fixture
def operator(db):
    return factories.make_user("operator", is_staff=True, is_superuser=True)


@pytest.fixture(autouse=True)
def _code_tables_after_flush(request):
    # Transactional tests (live server, concurrency) end with a flush that
    # empties every table, code tables included; reload them when missing.
    # Such tests ask for the transactional_db fixture rather than the
    # django_db(transaction=True) marker, which this check cannot see.
    if "transactional_db" not in request.fixturenames and "live_server" not in (
        request.fixturenames
    ):
        return
    request.getfixturevalue("transactional_db")
    from organizations.models import Region

    if not Region.objects.exists():
        factories.load_code_tables()
    _dues_policy_after_flush()


def _dues_policy_after_flush():
    # The national dues policy comes from a data migration, which a flush
    # empties like any table; assessments need it.
    import importlib

    from django.apps import apps

    from dues.models import DuesPolicy

    if not DuesPolicy.objects.exists():
        migration = importlib.import_module("dues.migrations.0002_national_policy_2008")
        migration.add_policy(apps, None)


@pytest.fixture(autouse=True)
def _english_unless_asked(settings):
    # The product speaks Chinese first; tests read English messages unless a
    # request asks for Chinese (Accept-Language or the language cookie), so
    # that assertions do not depend on how a message was translated.
    settings.LANGUAGE_CODE = "en"
