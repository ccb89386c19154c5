"""Which courses a member may study, seen from the member's side."""

import datetime

from django.db.models import Q, QuerySet

from learning.models import Course
from members.models import Member
from members.selectors import periods_on, placements_on
from organizations.models import Organization


def _ancestor_paths(path: str) -> list[str]:
    # A materialised path holds every ancestor's path as a prefix, one step
    # at a time; the organisation itself is included.
    step = Organization.steplen
    return [path[:end] for end in range(step, len(path) + 1, step)]


def study_paths(member: Member, *, on: datetime.date) -> list[str]:
    """Paths whose courses reach ``member``: the organisation holding them,
    the inflow organisation they are placed with, and all their ancestors."""
    held = (
        periods_on(on)
        .filter(member=member)
        .values_list("organization__path", flat=True)
    )
    placed = (
        placements_on(on)
        .filter(member=member, inflow_organization__isnull=False)
        .values_list("inflow_organization__path", flat=True)
    )
    paths: set[str] = set()
    for path in [*held, *placed]:
        paths.update(_ancestor_paths(path))
    return sorted(paths)


def courses_to_study(
    member: Member, *, at: datetime.datetime, on: datetime.date
) -> QuerySet[Course]:
    """Courses ``member`` may study: published by ``at``, valid on ``on``."""
    return (
        Course.objects.filter(organization__path__in=study_paths(member, on=on))
        .filter(published_at__isnull=False, published_at__lte=at)
        .filter(valid_from__lte=on)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        .select_related("organization")
    )
