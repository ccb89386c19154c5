"""The one scoping function: which organisations a user may see and change.

Every list, detail page, API endpoint, dashboard figure and export asks
:func:`scope_for` and filters through it. Roles are read fresh on each call,
so access follows a change of role or membership at once, with no cache.
"""

import datetime
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organizations.models import Organization, Role


class OutOfScope(Http404):
    """The object is outside the actor's scope; it answers as if absent."""


class ReadOnlyScope(PermissionDenied):
    """The object is visible to the actor, but the actor may not change it."""

    def __init__(self, message: str | None = None):
        super().__init__(message or _("Your role allows reading only."))


@dataclass(frozen=True)
class Scope:
    """The subtrees a user reaches, as materialised-path prefixes."""

    user_id: int | None
    is_operator: bool = False
    read_paths: tuple[str, ...] = ()
    write_paths: tuple[str, ...] = ()
    full_id_paths: tuple[str, ...] = ()
    role_kinds: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_staff_scope(self) -> bool:
        return self.is_operator or bool(self.read_paths)

    def reads(self, organization: Organization) -> bool:
        return self.is_operator or _under(organization.path, self.read_paths)

    def writes(self, organization: Organization) -> bool:
        return self.is_operator or _under(organization.path, self.write_paths)

    def sees_full_ids(self, organization: Organization) -> bool:
        return self.is_operator or _under(organization.path, self.full_id_paths)


def today() -> datetime.date:
    return timezone.localdate()


def scope_for(user, *, on: datetime.date | None = None) -> Scope:
    """Return the scope that ``user``'s roles active on ``on`` grant."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Scope(user_id=None)
    if user.is_superuser:
        return Scope(user_id=user.pk, is_operator=True)

    roles = list(
        Role.objects.active_on(on or today())
        .filter(user=user)
        .values_list("kind", "organization__path")
    )
    full_id_kinds = set(settings.LIUDONG_SCOPE_FULL_ID_ROLES)
    return Scope(
        user_id=user.pk,
        read_paths=_roots(path for _kind, path in roles),
        write_paths=_roots(
            path for kind, path in roles if kind != Role.Kind.PROVINCIAL_VIEWER
        ),
        full_id_paths=_roots(path for kind, path in roles if kind in full_id_kinds),
        role_kinds=frozenset(kind for kind, _path in roles),
    )


def subtree_q(paths: tuple[str, ...], *, field_name: str = "path") -> Q:
    """A filter matching every organisation under any of ``paths``.

    With no paths it matches nothing, never everything.
    """
    if not paths:
        return Q(pk__in=[])
    return reduce(or_, (Q(**{f"{field_name}__startswith": p}) for p in paths))


def organizations_in_scope(
    scope: Scope, *, write: bool = False
) -> QuerySet[Organization]:
    """Organisations the scope may read (or change, with ``write``)."""
    organizations = Organization.objects.select_related("region")
    if scope.is_operator:
        return organizations
    paths = scope.write_paths if write else scope.read_paths
    return organizations.filter(subtree_q(paths))


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path.startswith(root) for root in roots)


def _roots(paths) -> tuple[str, ...]:
    # A role on an ancestor already covers its descendants; dropping the
    # nested ones keeps the OR in every scoped query short.
    roots: list[str] = []
    for path in sorted(set(paths)):
        if not roots or not path.startswith(roots[-1]):
            roots.append(path)
    return tuple(roots)
