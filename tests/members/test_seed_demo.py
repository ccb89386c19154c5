"""The demo data generator: structure, valid people, determinism, log-ins."""

import datetime
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from members import demo
from members.crypto import blind_index
from members.demo import store
from members.identity import parse_id_number, parse_phone
from members.models import (
    Member,
    MembershipPeriod,
    Mobility,
    MobilityStatus,
    Occupation,
    User,
)
from members.selectors import current_organization
from members.services import eighteenth_birthday
from organizations.models import Organization, Region, Role

TODAY = datetime.date(2026, 12, 3)
SEED = ("--members", "60", "--seed", "7")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Argon2 is slow by design; these tests check accounts, not hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(db):
    seed(*SEED)


@pytest.fixture(scope="module")
def roster():
    return list(demo.generate_members(seed=11, count=10_000, today=TODAY))


def _age(row) -> int:
    return TODAY.year - row.birth_date.year


def _snapshot() -> dict:
    return {
        "organizations": list(
            Organization.objects.order_by("id").values_list("id", "path", "numchild")
        ),
        "members": list(Member.objects.order_by("id").values_list("id", "updated_at")),
        "periods": list(
            MembershipPeriod.objects.order_by("id").values_list("id", "period")
        ),
        "users": list(User.objects.order_by("id").values_list("id", "password")),
        "roles": list(Role.objects.order_by("id").values_list("id", "kind")),
    }


# --- structure ---------------------------------------------------------------


def test_a_small_seed_builds_a_province_with_cities_and_counties(seeded):
    root = Organization.objects.get(code=demo.ROOT_CODE)
    cities = Organization.objects.get_children(root)
    counties = Organization.objects.filter(
        code__in=[f"DEMO-{code}" for code in demo.COUNTIES]
    ).select_related("region")

    assert (root.region_id, root.depth) == ("430000", 1)
    assert sorted(city.region_id for city in cities) == sorted(demo.CITIES)
    assert counties.count() == 15
    assert all(
        Organization.objects.get_parent(c).region_id == c.region.parent_id
        for c in counties
    )


def test_every_member_is_held_by_a_branch_below_the_root(seeded):
    root = Organization.objects.get(code=demo.ROOT_CODE)
    holders = Organization.objects.filter(membership_periods__isnull=False).distinct()

    assert Member.objects.count() == 60
    assert {org.kind for org in holders} <= {"branch", "joint_branch", "mobile_branch"}
    assert all(org.path.startswith(root.path) for org in holders)


def test_the_hr_service_centre_holds_the_members_whose_files_it_keeps(seeded):
    centre = Organization.objects.get(code=demo.HR_CODE)
    held = Member.objects.filter(
        membership_periods__organization__path__startswith=centre.path
    )

    assert held.count() == 3
    assert set(held.values_list("file_custodian", flat=True)) == {"长沙市人才服务中心"}
    assert not Member.objects.exclude(pk__in=held).exclude(file_custodian="").exists()


def test_the_mobile_member_branch_is_in_shenzhen_with_its_members(seeded):
    branch = Organization.objects.get(kind="mobile_branch")
    members = Member.objects.filter(membership_periods__organization=branch)

    assert branch.region_id == "440309"
    assert Organization.objects.get_parent(branch).code == "DEMO-430181"
    assert members.count() == 2
    assert set(members.values_list("residence_region_id", flat=True)) == {"440309"}


# --- people ------------------------------------------------------------------


def test_every_stored_id_number_is_valid_and_agrees_with_the_record(seeded):
    hunan_counties = set(
        Region.objects.filter(code__startswith="43", level=3).values_list(
            "code", flat=True
        )
    )

    for member in Member.objects.all():
        parsed = parse_id_number(member.id_number)
        assert (parsed.birth_date, parsed.gender) == (member.birth_date, member.gender)
        assert member.id_number[:6] in hunan_counties
        assert bytes(member.id_number_hash) == blind_index(member.id_number)


def test_every_member_joined_at_18_or_older_and_has_a_mobile_phone(seeded):
    for member in Member.objects.all():
        assert member.joined_on >= eighteenth_birthday(member.birth_date)
        assert parse_phone(member.phone) == member.phone
        assert len(member.phone) == 11


def test_every_member_has_one_open_period_from_joining_at_the_earliest(seeded):
    periods = MembershipPeriod.objects.select_related("member")

    assert periods.count() == 60
    for period in periods:
        assert period.period.upper is None
        assert period.member.joined_on <= period.period.lower <= timezone.localdate()


def test_id_numbers_never_repeat_and_agree_with_birth_date_and_gender(roster):
    parsed = [parse_id_number(row.id_number) for row in roster]

    assert len({row.id_number for row in roster}) == len(roster)
    assert all(
        (p.birth_date, p.gender) == (row.birth_date, row.gender)
        for p, row in zip(parsed, roster, strict=True)
    )


def test_about_a_fifth_of_working_members_are_in_new_employment_forms(db, roster):
    new_forms = set(
        Occupation.objects.filter(is_new_employment=True).values_list("code", flat=True)
    )
    working = [r for r in roster if _age(r) <= 60 and r.occupation != "40"]

    share = sum(r.occupation in new_forms for r in working) / len(working)

    assert 0.18 <= share <= 0.24


def test_about_a_tenth_of_members_live_in_another_province(roster):
    away = sum(not r.residence_region.startswith("43") for r in roster) / len(roster)

    assert 0.08 <= away <= 0.12


def test_about_3_percent_are_probationary_members_who_joined_this_year(roster):
    probationary = [r for r in roster if r.status == "probationary"]
    year_ago = TODAY - datetime.timedelta(days=365)

    assert 0.02 <= len(probationary) / len(roster) <= 0.04
    assert all(r.full_member_on is None for r in probationary)
    assert all(year_ago <= r.joined_on < TODAY for r in probationary)


def test_full_members_were_converted_a_year_after_joining(roster):
    full = [r for r in roster if r.status == "full"]

    assert all((r.full_member_on - r.joined_on).days in (365, 366) for r in full)
    assert all(r.full_member_on <= TODAY for r in full)


def test_most_members_are_han_and_most_women_are_a_minority(roster):
    han = sum(r.ethnicity == "01" for r in roster) / len(roster)
    women = sum(r.gender == "female" for r in roster) / len(roster)

    assert han >= 0.8
    assert 0.26 <= women <= 0.35


# --- determinism and idempotence ---------------------------------------------


def test_the_same_seed_generates_the_same_people():
    first = list(demo.generate_members(seed=5, count=500, today=TODAY))

    second = list(demo.generate_members(seed=5, count=500, today=TODAY))

    assert first == second


def test_a_different_seed_generates_different_people():
    five = list(demo.generate_members(seed=5, count=500, today=TODAY))

    six = list(demo.generate_members(seed=6, count=500, today=TODAY))

    assert not {r.id_number for r in five} & {r.id_number for r in six}
    assert [r.name for r in five] != [r.name for r in six]


def test_a_longer_roster_starts_with_the_shorter_one():
    short = list(demo.generate_members(seed=5, count=300, today=TODAY))

    long = list(demo.generate_members(seed=5, count=1_200, today=TODAY))

    assert long[:300] == short


def test_a_second_run_with_the_same_arguments_changes_nothing(seeded):
    before = _snapshot()

    output = seed(*SEED)

    assert _snapshot() == before
    assert "0 of 60 members created" in output


def test_a_larger_run_adds_only_the_missing_members(seeded):
    first = set(Member.objects.values_list("id_number_hash", flat=True))

    seed("--members", "90", "--seed", "7")

    assert Member.objects.count() == 90
    assert first < set(Member.objects.values_list("id_number_hash", flat=True))


# --- the bulk path -----------------------------------------------------------


def test_the_copy_path_stores_what_was_generated_encrypted(db):
    generated = {
        row.id_number: row
        for row in demo.generate_members(seed=3, count=120, today=timezone.localdate())
    }

    seed("--members", "120", "--seed", "3", "--copy", "--no-logins")

    stored = {m.id_number: m for m in Member.objects.all()}
    assert stored.keys() == generated.keys()
    for id_number, member in stored.items():
        row = generated[id_number]
        assert (member.name, member.phone, member.birth_date, member.status) == (
            row.name,
            row.phone,
            row.birth_date,
            row.status,
        )
        assert bytes(member.phone_hash) == blind_index(row.phone)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone FROM members_member")
        raw = {value for pair in cursor.fetchall() for value in pair}
    assert not raw & (set(generated) | {r.phone for r in generated.values()})


def test_the_copy_path_opens_one_period_at_the_generated_branch(db):
    generated = {
        row.id_number: row
        for row in demo.generate_members(seed=3, count=120, today=timezone.localdate())
    }

    seed("--members", "120", "--seed", "3", "--copy", "--no-logins")

    periods = MembershipPeriod.objects.select_related("member", "organization")
    assert periods.count() == 120
    for period in periods:
        row = generated[period.member.id_number]
        assert (period.period.lower, period.period.upper) == (row.period_start, None)
        assert period.organization.code == row.organization_code


def test_the_background_writer_commits_every_chunk_outside_a_transaction(
    transactional_db, monkeypatch
):
    # Outside a test transaction the COPY runs on a writer thread with its
    # own connection; small chunks make it hand over several of them.
    monkeypatch.setattr(demo, "CHUNK_SIZE", 25)
    calls = []
    background = store._write_in_background
    monkeypatch.setattr(
        store, "_write_in_background", lambda *a: calls.append(1) or background(*a)
    )

    output = seed(
        "--members", "110", "--seed", "4", "--copy", "--no-logins", "--no-dues"
    )

    assert calls == [1]
    assert "110 of 110 members created" in output
    assert MembershipPeriod.objects.count() == 110
    assert Member.objects.filter(membership_periods__isnull=True).count() == 0


# --- demo log-ins ------------------------------------------------------------


def test_the_demo_member_and_secretary_belong_to_the_secretarys_branch(seeded):
    member = Member.objects.get(user__username="demo_member")
    secretary = User.objects.get(username="demo_secretary")
    role = secretary.roles.get()

    assert role.kind == Role.Kind.SECRETARY
    assert current_organization(member) == role.organization
    assert current_organization(secretary.member) == role.organization
    assert secretary.is_staff


def test_the_demo_mobile_member_lives_in_guangdong(seeded):
    mobile = Member.objects.get(user__username="demo_mobile")
    secretary = User.objects.get(username="demo_secretary")

    assert mobile.residence_region_id.startswith("44")
    assert current_organization(mobile) == secretary.roles.get().organization


def test_the_demo_mobile_member_is_placed_with_a_shenzhen_mobile_branch(seeded):
    mobile = Member.objects.get(user__username="demo_mobile")

    stay = Mobility.objects.get(member=mobile)

    assert stay.status == MobilityStatus.REPORTED
    assert stay.inflow_organization.kind == Organization.Kind.MOBILE_BRANCH
    assert stay.inflow_organization.region_id.startswith("4403")


def test_a_second_seed_run_adds_no_second_stay(seeded):
    seed(*SEED)

    assert Mobility.objects.filter(member__user__username="demo_mobile").count() == 1


def test_the_demo_committee_staffer_holds_the_city_above_the_branch(seeded):
    branch = User.objects.get(username="demo_secretary").roles.get().organization
    role = User.objects.get(username="demo_committee").roles.get()

    assert role.kind == Role.Kind.COMMITTEE_STAFF
    assert (role.organization.code, role.organization.region_id) == (
        "DEMO-430100",
        "430100",
    )
    assert branch.path.startswith(role.organization.path)


def test_the_provincial_viewer_holds_the_root_and_the_operator_is_superuser(seeded):
    role = User.objects.get(username="demo_provincial").roles.get()
    operator = User.objects.get(username="demo_operator")

    assert (role.kind, role.organization.code) == ("provincial_viewer", "DEMO-430000")
    assert operator.is_superuser and operator.is_staff
    assert not operator.roles.exists()


def test_every_demo_log_in_takes_the_one_demo_password(seeded):
    usernames = [login.username for login in demo.DEMO_LOGINS]

    accepted = [
        name
        for name in usernames
        if authenticate(username=name, password=demo.DEMO_PASSWORD)
    ]

    assert accepted == usernames


def test_the_demo_password_does_not_name_the_product():
    assert "liudong" not in demo.DEMO_PASSWORD.lower()


def test_demo_logins_prints_each_role_username_and_where_to_go(seeded):
    out = StringIO()

    call_command("demo_logins", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[1].split() == ["role", "username", "password", "go", "to"]
    assert "demo_secretary" in lines[4] and lines[4].endswith(":8000/admin/")
    assert "demo_member" in lines[2] and lines[2].endswith(":8000/")
    assert all(demo.DEMO_PASSWORD in line for line in lines[2:])
    assert len(lines) == 8


def test_production_mode_refuses_to_create_demo_accounts(db):
    with override_settings(PRODUCTION=True):
        with pytest.raises(CommandError, match="never created in production"):
            seed("--members", "10")

    assert not User.objects.filter(username__startswith="demo_").exists()
    assert not Organization.objects.filter(code=demo.ROOT_CODE).exists()


def test_demo_logins_refuses_to_run_in_production(db):
    with override_settings(PRODUCTION=True):
        with pytest.raises(CommandError, match="no demo log-ins in production"):
            call_command("demo_logins", stdout=StringIO())
