"""The demo log-ins: one per role, one public password, never in production."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from members.crypto import blind_index
from members.demo.people import PINNED_ROWS, generate_members
from members.demo.tree import CODE_PREFIX, ROOT_CODE, city_of, mobile_branch, placement
from members.models import Member, Mobility, User
from members.services import mobility_accept, mobility_register, mobility_report
from organizations.models import Organization, Role

# Public on purpose: printed by scripts/run and listed in the README; the
# accounts never exist in production.
DEMO_PASSWORD = "hongqi-demo-2026!"  # noqa: S105


@dataclass(frozen=True)
class DemoLogin:
    """A fixed demo account: who it plays and where it starts."""

    role: str
    username: str
    go_to: str


DEMO_LOGINS = (
    DemoLogin(_("Member"), "demo_member", "/"),
    DemoLogin(_("Mobile member"), "demo_mobile", "/"),
    DemoLogin(_("Branch secretary"), "demo_secretary", "/admin/"),
    DemoLogin(_("Committee staff"), "demo_committee", "/admin/"),
    DemoLogin(_("Provincial viewer"), "demo_provincial", "/admin/"),
    DemoLogin(_("Platform operator"), "demo_operator", "/admin/"),
)

_ROLES_START = datetime.date(2021, 1, 1)


class DemoRefused(Exception):
    """Demo data was asked for in production, where it must never exist."""


def refuse_in_production() -> None:
    if settings.PRODUCTION:
        raise DemoRefused("demo data and demo log-ins are never created in production")


def _demo_user(username: str, *, member: Member | None = None, **flags) -> User:
    user, created = User.objects.get_or_create(username=username, defaults=flags)
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    # Link only what is unlinked: a second run, or a run with another seed,
    # leaves existing accounts as they are.
    if member is not None and member.user_id is None and not hasattr(user, "member"):
        member.user = user
        member.save(update_fields=["user"])
    return user


def _demo_role(user: User, code: str, kind: str) -> None:
    Role.objects.get_or_create(
        user=user,
        organization=Organization.objects.get(code=code),
        kind=kind,
        defaults={"starts_on": _ROLES_START},
    )


@transaction.atomic
def ensure_demo_logins(*, seed: int, today: datetime.date) -> None:
    """Create the demo accounts and roles, linked to the first three rows."""
    refuse_in_production()
    pinned = list(generate_members(seed=seed, count=len(PINNED_ROWS), today=today))
    member, secretary, mobile = (
        Member.objects.filter(id_number_hash=blind_index(row.id_number)).first()
        for row in pinned
    )
    branch = placement(0)

    _demo_user("demo_member", member=member)
    _demo_user("demo_mobile", member=mobile)
    secretary_user = _demo_user("demo_secretary", member=secretary, is_staff=True)
    _demo_role(secretary_user, branch.code, Role.Kind.SECRETARY)
    user = _demo_user("demo_committee", is_staff=True)
    _demo_role(user, CODE_PREFIX + city_of(branch.region), Role.Kind.COMMITTEE_STAFF)
    user = _demo_user("demo_provincial", is_staff=True)
    _demo_role(user, ROOT_CODE, Role.Kind.PROVINCIAL_VIEWER)
    operator = _demo_user("demo_operator", is_staff=True, is_superuser=True)
    _demo_stay(mobile, secretary=secretary_user, operator=operator, today=today)


def _demo_stay(
    member: Member | None, *, secretary: User, operator: User, today: datetime.date
) -> None:
    # The mobile member is placed with a Shenzhen mobile-member branch, so the
    # demo shows dual management from the first log-in. Written through the
    # services, as a secretary and the member would; once, never again.
    inflow = Organization.objects.filter(code=mobile_branch(0).code).first()
    if member is None or inflow is None or member.user_id is None:
        return
    if Mobility.objects.filter(member=member).exists():
        return
    stay = mobility_register(
        actor=secretary,
        member=member,
        destination_region=inflow.region,
        left_on=today - datetime.timedelta(days=200),
        reason=Mobility.Reason.WORK,
        contact=member.phone or "",
    )
    mobility_report(actor=member.user, mobility=stay, inflow_organization=inflow)
    mobility_accept(actor=operator, mobility=stay)
