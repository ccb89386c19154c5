"""The dues ledger in the admin: the entries, the ledger and arrears pages.

The ledger page shows, per organisation and month (or year), what was due,
paid, outstanding and paid voluntarily, each figure linking to the ledger
entries behind it; the arrears page lists members with unpaid months. Both
read ``dues.selectors`` through the actor's scope; an organisation outside
it answers 404.
"""

import datetime
from collections import Counter

from dateutil.relativedelta import relativedelta
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from dues import exports
from dues.admin.scoping import (
    home_organization,
    organization_get,
    parse_month,
)
from dues.models import LedgerEntry
from dues.selectors import (
    LAPSE_MONTHS,
    arrears,
    ledger_entries,
    organization_ledger,
    organization_ledger_months,
)
from members.models import Member
from organizations.admin import ScopedAdmin, request_scope
from organizations.admin.dashboard import Queue, register_queue
from organizations.scope import OutOfScope, Scope, today

CHANGELIST = "admin:dues_ledgerentry_changelist"
SIX_MONTHS_QUEUE = "six"

# The rows behind each figure of the ledger page (the sums of
# dues.selectors.organization_ledger), as changelist filters: every live
# month is due, and each other figure sums over the rows it names.
FIGURES = {
    "due": Q(),
    "paid": Q(paid_amount__gt=0),
    "outstanding": Q(status=LedgerEntry.Status.DUE),
    "voluntary": Q(voluntary_amount__gt=0),
    "collected": Q(collected_by__isnull=False),
}
FIGURE_LABELS = {
    "due": _("Due"),
    "paid": _("Paid"),
    "outstanding": _("Outstanding"),
    "voluntary": _("Paid voluntarily"),
    "collected": _("Collected at an inflow organization"),
}


def parse_year(value: str) -> int | None:
    """A year written in ASCII digits, or None."""
    # str.isdigit() also accepts digits int() refuses ("²"), and a year
    # outside the calendar (0, 99999) would fail in date arithmetic: both
    # are refused here rather than answered with a server error. The last
    # and first calendar years are refused too: a ledger steps past them.
    if not (value.isascii() and value.isdigit()):
        return None
    year = int(value)
    return year if datetime.MINYEAR < year < datetime.MAXYEAR else None


def entries_url(*, month=None, year=None, figure=None, **params) -> str:
    """The ledger entries changelist filtered to the rows behind a figure.

    ``params`` name the organisation: ``organization`` (its subtree),
    ``collector`` (itself only) or ``collected_at`` (months it collected
    for others), each an organisation's id.
    """
    if month is not None:
        params["month"] = f"{month:%Y-%m}"
    if year is not None:
        params["year"] = year
    if figure is not None:
        params["figure"] = figure
    return f"{reverse(CHANGELIST)}?{urlencode(params)}"


def _owing(scope: Scope) -> QuerySet[LedgerEntry]:
    current = today().replace(day=1)
    return ledger_entries(scope=scope, status=LedgerEntry.Status.DUE).filter(
        month__lt=current
    )


def _members_owing(scope: Scope, *, months: int = 1) -> QuerySet[Member]:
    owing = _owing(scope).order_by().values("member_id")
    if months > 1:
        owing = owing.annotate(n=Count("pk")).filter(n__gte=months)
    return Member.objects.filter(pk__in=owing.values("member_id"))


for _queue in (
    Queue(
        section=_("Party dues"),
        key="ledger",
        label=_("Dues ledger: months unpaid this month"),
        changelist="admin:dues_ledger",
        rows=lambda scope: ledger_entries(
            scope=scope, month=today(), status=LedgerEntry.Status.DUE
        ),
    ),
    Queue(
        section=_("Party dues"),
        key="arrears",
        label=_("Members in arrears"),
        changelist="admin:dues_arrears",
        rows=lambda scope: _members_owing(scope),
    ),
    Queue(
        section=_("Party dues"),
        key=SIX_MONTHS_QUEUE,
        label=_("Six months or more unpaid: follow up"),
        changelist="admin:dues_arrears",
        rows=lambda scope: _members_owing(scope, months=LAPSE_MONTHS),
    ),
):
    register_queue(_queue)


class _ChosenFilter(admin.SimpleListFilter):
    """A filter reached through links, shown only while it is in use.

    Its one choice is the value the link gave; Django applies a filter only
    when it has a choice to show.
    """

    def lookups(self, request, model_admin):
        if self.value() is None:
            return ()
        return [(self.value(), self.label(request, self.value()))]

    def label(self, request, value: str) -> str:
        return value


class _OrganizationFilter(_ChosenFilter):
    def label(self, request, value: str) -> str:
        return organization_get(request_scope(request), value).name

    def organization(self, request):
        return organization_get(request_scope(request), self.value())


class OrganizationFilter(_OrganizationFilter):
    title = _("organization")
    parameter_name = "organization"

    def queryset(self, request, queryset):
        if self.value() is None:
            return None
        organization = self.organization(request)
        return queryset.filter(organization__path__startswith=organization.path)


class CollectorFilter(_OrganizationFilter):
    title = _("collecting organization")
    parameter_name = "collector"

    def queryset(self, request, queryset):
        if self.value() is None:
            return None
        return queryset.filter(organization=self.organization(request))


class CollectedAtFilter(_OrganizationFilter):
    """Months an organisation's subtree collected for another one."""

    title = _("collected at")
    parameter_name = "collected_at"

    def queryset(self, request, queryset):
        if self.value() is None:
            return None
        organization = self.organization(request)
        return queryset.filter(
            collected_by__path__startswith=organization.path
        ).exclude(organization__path__startswith=organization.path)


class MonthFilter(_ChosenFilter):
    title = _("month")
    parameter_name = "month"

    def queryset(self, request, queryset):
        if self.value() is None:
            return None
        month = parse_month(self.value())
        return queryset.filter(month=month) if month else queryset.none()


class YearFilter(_ChosenFilter):
    title = _("year")
    parameter_name = "year"

    def queryset(self, request, queryset):
        if self.value() is None:
            return None
        year = parse_year(self.value())
        return queryset.filter(month__year=year) if year else queryset.none()


class FigureFilter(admin.SimpleListFilter):
    title = _("figure")
    parameter_name = "figure"

    def lookups(self, request, model_admin):
        return list(FIGURE_LABELS.items())

    def queryset(self, request, queryset):
        if self.value() is None:
            return None
        figure = FIGURES.get(self.value())
        return queryset.filter(figure) if figure is not None else queryset.none()


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ScopedAdmin):
    # The ledger is written by generation, payments and refunds only.
    write_access = "nobody"
    delete_access = "nobody"
    list_display = (
        "member_name",
        "month_label",
        "organization",
        "amount_due",
        "status",
        "paid_amount",
        "voluntary_amount",
        "paid_at",
        "collected_by",
    )
    list_filter = (
        OrganizationFilter,
        CollectorFilter,
        CollectedAtFilter,
        MonthFilter,
        YearFilter,
        FigureFilter,
        "status",
    )
    list_select_related = ("member", "organization", "collected_by")
    search_fields = ("member__name",)
    search_help_text = _("The member's name.")
    ordering = ("-month", "member__name", "pk")
    fields = (
        "member_name",
        "month_label",
        "organization",
        "amount_due",
        "status",
        "paid_amount",
        "voluntary_amount",
        "paid_at",
        "payment",
        "collected_by",
        "reduction",
        "cancelled_at",
        "cancel_reason",
    )
    readonly_fields = fields

    def scoped_queryset(self, request, scope):
        return ledger_entries(scope=scope)

    def organization_of(self, entry):
        return entry.organization

    @admin.display(description=_("member"), ordering="member__name")
    def member_name(self, entry: LedgerEntry) -> str:
        return entry.member.name

    @admin.display(description=_("month"), ordering="month")
    def month_label(self, entry: LedgerEntry) -> str:
        return f"{entry.month:%Y-%m}"


# --- the ledger and arrears pages -------------------------------------------


def _page_organization(request):
    scope = request_scope(request)
    if not scope.is_staff_scope:
        raise PermissionDenied
    value = request.GET.get("organization")
    if value:
        return organization_get(scope, value)
    organization = home_organization(scope)
    if organization is None:
        raise OutOfScope()
    return organization


def _page_month(request) -> datetime.date | None:
    value = request.GET.get("month")
    if not value:
        return today().replace(day=1)
    return parse_month(value)


def ledger_view(request):
    """One organisation's ledger for a month, or for a year with ``year``."""
    organization = _page_organization(request)
    scope = request_scope(request)
    context = {
        **admin.site.each_context(request),
        "title": _("Dues ledger"),
        "organization": organization,
        "opts": LedgerEntry._meta,
        "arrears_url": _page_url("admin:dues_arrears", organization.pk),
    }
    if request.GET.get("year"):
        year = parse_year(request.GET["year"])
        if year is None:
            return HttpResponseBadRequest(_("Unknown year."))
        months = organization_ledger_months(
            scope=scope, organization=organization, year=year
        )
        context.update(
            year=year,
            rows=[
                _figures(row.totals, organization=organization.pk, month=row.month)
                | {"month": row.month, "url": _month_url(organization, row.month)}
                for row in months
            ],
            total=_figures(
                _sum_totals([row.totals for row in months]),
                organization=organization.pk,
                year=year,
            ),
            exports=_export_links(organization, year=year),
        )
        return TemplateResponse(request, "admin/dues/ledger_year.html", context)
    month = _page_month(request)
    if month is None:
        return HttpResponseBadRequest(_("Unknown month."))
    summary = organization_ledger(scope=scope, organization=organization, month=month)
    context.update(
        month=month,
        summary=summary,
        total=_figures(summary.totals, organization=organization.pk, month=month),
        parts=[
            _figures(part.totals, collector=part.organization_id, month=month)
            | {
                "organization_id": part.organization_id,
                "name": part.name,
                "url": _page_url(
                    "admin:dues_ledger",
                    part.organization_id,
                    month=f"{month:%Y-%m}",
                ),
            }
            for part in summary.by_organization
        ],
        collected_url=entries_url(collected_at=organization.pk, month=month),
        collected_elsewhere=_collected_elsewhere(summary.entries),
        exports=_export_links(organization, month=month),
        year_url=_page_url("admin:dues_ledger", organization.pk, year=month.year),
        previous_url=_month_url(organization, month - relativedelta(months=1)),
        next_url=_month_url(organization, month + relativedelta(months=1)),
    )
    return TemplateResponse(request, "admin/dues/ledger.html", context)


def _figures(totals, **filters) -> dict:
    """Each figure of ``totals`` with the link to the rows behind it."""
    return {
        "totals": totals,
        "links": {figure: entries_url(figure=figure, **filters) for figure in FIGURES},
    }


def _collected_elsewhere(entries) -> list[tuple[str, int]]:
    """How many of the ledger's months each inflow organisation collected."""
    counts = Counter(e.collected_by.name for e in entries if e.collected_by_id)
    return sorted(counts.items())


def _sum_totals(all_totals) -> dict:
    names = ("due", "paid", "outstanding", "voluntary", "months", "open_months")
    return {name: sum(getattr(t, name) for t in all_totals) for name in names}


def _month_url(organization, month) -> str:
    return _page_url("admin:dues_ledger", organization.pk, month=f"{month:%Y-%m}")


def _page_url(name: str, organization_id: int, **params) -> str:
    query = urlencode({"organization": organization_id, **params})
    return f"{reverse(name)}?{query}"


def _export_links(organization, *, month=None, year=None) -> list[tuple[str, str]]:
    period = {"month": f"{month:%Y-%m}"} if month else {"year": year}
    return [
        (
            label,
            _page_url(
                "admin:dues_ledger_export",
                organization.pk,
                format=file_format,
                encoding=encoding,
                **period,
            ),
        )
        for label, file_format, encoding in (
            (_("Excel workbook (XLSX)"), "xlsx", "utf-8"),
            (_("CSV (UTF-8)"), "csv", "utf-8"),
            (_("CSV (GBK)"), "csv", "gbk"),
        )
    ]


def export_view(request):
    """Download the reconciliation of the page's organisation and period."""
    if not request_scope(request).is_staff_scope:
        raise PermissionDenied
    # Unlike the page, a download never falls back to the actor's own
    # organisation: the file holds what its link names, or nothing.
    if not request.GET.get("organization"):
        return HttpResponseBadRequest(_("Choose an organization."))
    organization = _page_organization(request)
    file_format = request.GET.get("format", "xlsx")
    encoding = request.GET.get("encoding", "utf-8")
    if file_format not in exports.FORMATS:
        return HttpResponseBadRequest(_("Unknown format."))
    if encoding not in exports.ENCODINGS:
        return HttpResponseBadRequest(_("Unknown encoding."))
    if request.GET.get("year"):
        year = parse_year(request.GET["year"])
        if year is None:
            return HttpResponseBadRequest(_("Unknown year."))
        months = exports.year_months(year)
    else:
        month = _page_month(request)
        if month is None:
            return HttpResponseBadRequest(_("Unknown month."))
        months = [month]
    return exports.reconciliation_response(
        actor=request.user,
        scope=request_scope(request),
        organization=organization,
        months=months,
        file_format=file_format,
        encoding=encoding,
    )


def arrears_view(request):
    """Members of the organisation with unpaid months, longest first."""
    organization = _page_organization(request)
    rows = arrears(scope=request_scope(request), organization=organization)
    follow_up = request.GET.get("queue") == SIX_MONTHS_QUEUE
    if follow_up:
        rows = [row for row in rows if row.months >= LAPSE_MONTHS]
    context = {
        **admin.site.each_context(request),
        "title": _("Dues arrears"),
        "organization": organization,
        "opts": LedgerEntry._meta,
        "rows": rows,
        "follow_up": follow_up,
        "flagged": sum(1 for row in rows if row.six_months_unpaid),
        "all_url": _page_url("admin:dues_arrears", organization.pk),
        "follow_up_url": _page_url(
            "admin:dues_arrears", organization.pk, queue=SIX_MONTHS_QUEUE
        ),
        "ledger_url": _page_url("admin:dues_ledger", organization.pk),
    }
    return TemplateResponse(request, "admin/dues/arrears.html", context)


_site_get_urls = admin.site.get_urls


def _get_urls():
    # Site-level pages: before Django's own patterns, whose catch-all would
    # answer /admin/dues/ledger/ with a redirect or a 404.
    wrap = admin.site.admin_view
    return [
        path("dues/ledger/", wrap(ledger_view), name="dues_ledger"),
        path("dues/ledger/export/", wrap(export_view), name="dues_ledger_export"),
        path("dues/arrears/", wrap(arrears_view), name="dues_arrears"),
        *_site_get_urls(),
    ]


admin.site.get_urls = _get_urls
