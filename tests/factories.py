"""Test data builders: valid ID numbers, organisations, members, roles."""

import datetime
import itertools

from django.core.management import call_command
from psycopg2.extras import DateRange

from members.crypto import blind_index
from members.identity import check_character
from members.models import Member, MembershipPeriod, User
from organizations.models import Organization, Role

_sequence = itertools.count(1)
PASSWORD = "correct-horse-battery-staple"


def make_id_number(
    *, region: str = "110101", birth_date=datetime.date(1985, 6, 15), gender="male"
) -> str:
    seq = next(_sequence) % 499 * 2 + (1 if gender == "male" else 2)
    first17 = f"{region}{birth_date:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)


def make_organization(parent=None, *, code=None, kind="branch", region="110101", **kw):
    code = code or f"ORG{next(_sequence):05d}"
    fields = dict(
        code=code, name=kw.pop("name", code), kind=kind, region_id=region, **kw
    )
    if parent is None:
        return Organization.objects.add_root(fields)
    return Organization.objects.add_child(parent, fields)


def make_user(username=None, **kw) -> User:
    username = username or f"user{next(_sequence)}"
    return User.objects.create_user(username=username, password=PASSWORD, **kw)


def make_role(user, organization, kind="secretary", *, starts_on=None, ends_on=None):
    return Role.objects.create(
        user=user,
        organization=organization,
        kind=kind,
        starts_on=starts_on or datetime.date(2020, 1, 1),
        ends_on=ends_on,
    )


def make_member(
    organization,
    *,
    since=datetime.date(2015, 1, 1),
    user=None,
    name=None,
    gender="male",
    birth_date=datetime.date(1985, 6, 15),
    phone="",
    **kw,
) -> Member:
    """Create a member directly (bypassing services) for arranging tests."""
    id_number = kw.pop("id_number", None) or make_id_number(
        birth_date=birth_date, gender=gender
    )
    member = Member.objects.create(
        user=user,
        name=name or f"成员{next(_sequence)}",
        gender=gender,
        birth_date=birth_date,
        joined_on=kw.pop("joined_on", datetime.date(2010, 7, 1)),
        id_number=id_number,
        id_number_hash=blind_index(id_number),
        phone=phone,
        phone_hash=blind_index(phone) if phone else None,
        **kw,
    )
    MembershipPeriod.objects.create(
        member=member, organization=organization, period=DateRange(since, None)
    )
    return member


def load_code_tables():
    call_command("load_code_tables", verbosity=0)
