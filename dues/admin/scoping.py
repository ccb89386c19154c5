"""Scoped reads the dues admin and API share beyond ``dues.selectors``.

Assessments, reductions and payment orders are listed by the organisation
deciding them; the ledger itself is read through ``dues.selectors``.
"""

import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from dues.models import Assessment, PaymentLine, PaymentOrder, Reduction
from members.selectors import periods_on
from organizations.models import Organization
from organizations.scope import OutOfScope, Scope, organizations_in_scope, subtree_q
from organizations.scope import today as local_today


def _held_now(scope: Scope, day: datetime.date | None = None) -> QuerySet:
    # Held, never placed: an inflow organisation does not see a placed
    # member's income or dues history (dual management, DESIGN.md §2).
    held = periods_on(day or local_today()).filter(
        subtree_q(scope.read_paths, field_name="organization__path")
    )
    return held.values("member_id")


def assessments_in_scope(scope: Scope) -> QuerySet[Assessment]:
    """Assessments recorded by, or of members held by, the scope."""
    assessments = Assessment.objects.select_related(
        "member", "organization", "policy", "recorded_by"
    )
    if scope.is_operator:
        return assessments
    return assessments.filter(
        subtree_q(scope.read_paths, field_name="organization__path")
        | Q(member__in=_held_now(scope))
    )


def reductions_in_scope(scope: Scope) -> QuerySet[Reduction]:
    """Reductions decided by a branch in the scope."""
    reductions = Reduction.objects.select_related("member", "organization")
    if scope.is_operator:
        return reductions
    return reductions.filter(
        subtree_q(scope.read_paths, field_name="organization__path")
    )


def orders_in_scope(scope: Scope) -> QuerySet[PaymentOrder]:
    """Orders collected in the scope, or paying months owed to it."""
    orders = PaymentOrder.objects.select_related("member", "collected_by")
    if scope.is_operator:
        return orders
    owed_here = PaymentLine.objects.filter(order=OuterRef("pk")).filter(
        subtree_q(scope.read_paths, field_name="entry__organization__path")
    )
    return orders.filter(
        subtree_q(scope.read_paths, field_name="collected_by__path") | Exists(owed_here)
    )


def organization_get(scope: Scope, organization_id) -> Organization:
    """One organisation the scope reads, or OutOfScope (404)."""
    if not str(organization_id).isdigit():
        raise OutOfScope()
    organization = organizations_in_scope(scope).filter(pk=organization_id).first()
    if organization is None:
        raise OutOfScope()
    return organization


def home_organization(scope: Scope) -> Organization | None:
    """The highest organisation the scope reads: where its pages start."""
    return organizations_in_scope(scope).order_by("depth", "path").first()


def parse_month(value: str | None) -> datetime.date | None:
    """``YYYY-MM`` (or a full date) as the first day of its month."""
    if not value:
        return None
    text = value.strip()
    if len(text) == len("2026-01"):
        text += "-01"
    try:
        month = datetime.date.fromisoformat(text).replace(day=1)
    except ValueError:
        return None
    # Pages step a month either way: the calendar's first and last years
    # would fail there, so they are refused here.
    return month if datetime.MINYEAR < month.year < datetime.MAXYEAR else None
