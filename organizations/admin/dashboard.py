"""Work queues: changelist presets, and their counts on the admin index.

Each admin registers its queues here (a named selector, a label and the
changelist it filters); the index shows every queue with its count, all
counted in one database round trip whatever the number of queues.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from organizations.admin import request_scope
from organizations.scope import Scope

QUEUE_PARAMETER = "queue"


@dataclass(frozen=True)
class Queue:
    """A preset of one changelist: the rows a secretary has to work on."""

    section: str
    key: str
    label: str
    changelist: str
    rows: Callable[[Scope], QuerySet]

    @property
    def url(self) -> str:
        return f"{reverse(self.changelist)}?{urlencode({QUEUE_PARAMETER: self.key})}"


_QUEUES: list[Queue] = []


def register_queue(queue: Queue) -> Queue:
    """Add ``queue`` to the index, after those registered before it."""
    _QUEUES.append(queue)
    return queue


def queues_of(changelist: str) -> dict[str, Queue]:
    """The queues that filter one changelist, by key."""
    return {q.key: q for q in _QUEUES if q.changelist == changelist}


def count_each(querysets: list[QuerySet]) -> list[int]:
    """Count several querysets in a single statement.

    Each count keeps its own plan (and its own indexes); one statement only
    saves the round trips, which on the index page would otherwise grow
    with every queue added.
    """
    if not querysets:
        return []
    parts, params = [], []
    for queryset in querysets:
        try:
            sql, sql_params = queryset.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:
            # A filter that can match nothing (no paths at all) compiles to
            # no SQL; its count is known without asking.
            parts.append("0")
            continue
        parts.append(f"(SELECT count(*) FROM ({sql}) AS q)")  # noqa: S608
        params.extend(sql_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        return list(cursor.fetchone())


@dataclass(frozen=True)
class QueueCount:
    """One line of the index: a queue, how many rows, where they are."""

    queue: Queue
    count: int


def queue_counts(scope: Scope) -> list[tuple[str, list[QueueCount]]]:
    """Every registered queue's count for ``scope``, grouped by section."""
    counts = count_each([queue.rows(scope) for queue in _QUEUES])
    sections: dict[str, list[QueueCount]] = {}
    for queue, count in zip(_QUEUES, counts, strict=True):
        sections.setdefault(str(queue.section), []).append(QueueCount(queue, count))
    return list(sections.items())


class QueueFilter(admin.SimpleListFilter):
    """The changelist filter offering the queues registered for it."""

    title = _("queue")
    parameter_name = QUEUE_PARAMETER
    changelist = ""

    def lookups(self, request, model_admin):
        return [(key, q.label) for key, q in queues_of(self.changelist).items()]

    def queryset(self, request, queryset):
        if self.value() is None:
            return None
        queue = queues_of(self.changelist).get(self.value())
        if queue is None:
            return queryset.none()
        rows = queue.rows(request_scope(request))
        return queryset.filter(pk__in=rows.order_by().values("pk"))


_site_index = admin.site.index


def index(request, extra_context=None):
    """The admin index, with the actor's work queues above the apps."""
    scope = request_scope(request)
    context = {"queue_sections": queue_counts(scope) if scope.is_staff_scope else []}
    return _site_index(request, {**context, **(extra_context or {})})


admin.site.index = index
