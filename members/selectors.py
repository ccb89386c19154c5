"""Reads of members, always through the actor's scope."""

import datetime
import enum

from django.db.models import Exists, OuterRef, QuerySet, Subquery

from members.crypto import blind_index
from members.identity import IdentityError, parse_id_number, parse_phone
from members.models import Member, MembershipPeriod
from organizations.models import Organization
from organizations.scope import OutOfScope, Scope, subtree_q, today


class Access(enum.IntEnum):
    """How much of a member's record an actor may see."""

    NONE = 0
    # Dual management (DESIGN.md §2): an inflow organisation sees a member
    # placed with it, without income or dues history.
    PLACED = 1
    OWN = 2
    FULL = 3


def periods_on(day: datetime.date) -> QuerySet[MembershipPeriod]:
    return MembershipPeriod.objects.filter(period__contains=day)


def _held_in(paths: tuple[str, ...], day: datetime.date) -> QuerySet[MembershipPeriod]:
    return periods_on(day).filter(subtree_q(paths, field_name="organization__path"))


def _placed_in(paths: tuple[str, ...], day: datetime.date) -> QuerySet[Member]:
    # TODO: return members with an active Mobility placed under ``paths``;
    # the Mobility model arrives with the transfers and mobility issue (#4).
    return Member.objects.none()


def with_current_organization(
    members: QuerySet[Member], *, on: datetime.date | None = None
) -> QuerySet[Member]:
    """Annotate each member with the organisation holding them on ``on``."""
    current = periods_on(on or today()).filter(member=OuterRef("pk"))
    return members.annotate(
        current_organization_id=Subquery(current.values("organization_id")[:1]),
        current_organization_name=Subquery(current.values("organization__name")[:1]),
    )


def member_list(
    *, scope: Scope, on: datetime.date | None = None, write: bool = False
) -> QuerySet[Member]:
    """Members the scope reaches on ``on``: held there, or placed there.

    With ``write``, only members whose relationship the scope may change.
    """
    day = on or today()
    members = Member.objects.select_related("ethnicity", "education", "occupation")
    if scope.is_operator:
        return with_current_organization(members, on=day)

    paths = scope.write_paths if write else scope.read_paths
    held = Exists(_held_in(paths, day).filter(member=OuterRef("pk")))
    reachable = members.filter(held)
    if not write:
        reachable = reachable | members.filter(
            pk__in=_placed_in(paths, day).values("pk")
        )
    return with_current_organization(reachable, on=day)


def member_access(
    *, scope: Scope, member: Member, on: datetime.date | None = None
) -> Access:
    """How much of ``member`` the scope may see today."""
    day = on or today()
    if scope.is_operator:
        return Access.FULL
    if _held_in(scope.read_paths, day).filter(member=member).exists():
        return Access.FULL
    if _placed_in(scope.read_paths, day).filter(pk=member.pk).exists():
        return Access.PLACED
    if scope.user_id is not None and member.user_id == scope.user_id:
        return Access.OWN
    return Access.NONE


def member_get(*, scope: Scope, member_id: int) -> Member:
    """One member the scope may see, or OutOfScope (answered as 404)."""
    member = with_current_organization(Member.objects.filter(pk=member_id)).first()
    if member is None or member_access(scope=scope, member=member) is Access.NONE:
        raise OutOfScope()
    return member


def member_own(*, user) -> Member | None:
    """The member record linked to a login account, if any."""
    if not user.is_authenticated:
        return None
    return with_current_organization(Member.objects.filter(user=user)).first()


def current_organization(
    member: Member, *, on: datetime.date | None = None
) -> Organization | None:
    period = (
        periods_on(on or today()).filter(member=member).select_related("organization")
    )
    first = period.first()
    return first.organization if first else None


def membership_history(member: Member) -> QuerySet[MembershipPeriod]:
    return member.membership_periods.select_related("organization").order_by("-period")


def search(members: QuerySet[Member], term: str) -> QuerySet[Member]:
    """Filter by name, or exactly by ID number or phone (blind index)."""
    term = term.strip()
    if not term:
        return members
    try:
        return members.filter(id_number_hash=blind_index(parse_id_number(term).value))
    except IdentityError:
        pass
    try:
        return members.filter(phone_hash=blind_index(parse_phone(term)))
    except IdentityError:
        return members.filter(name__icontains=term)
