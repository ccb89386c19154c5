"""The compliance page: which required meetings an organisation held.

Per owed kind the periods of a year with their state, the attendance rate,
and for a committee its subtree aggregated per child organisation, each
with a link one level down (DESIGN.md §4). Reads go through
``organizations.meetings.selectors``; an organisation outside the actor's
scope answers 404.
"""

import datetime

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from organizations.admin import request_scope
from organizations.admin.meetings.forms import ComplianceForm
from organizations.meetings import rules, selectors
from organizations.models import Organization
from organizations.scope import OutOfScope, Scope, organizations_in_scope

COMPLIANCE_PAGE = "admin/organizations/meeting/compliance.html"
CHANGELIST = "admin:organizations_meeting_changelist"
LAPSE_MONTHS = 6


def compliance_url(organization: Organization, year: int | None = None) -> str:
    params = {"organization": organization.pk}
    if year is not None:
        params["year"] = year
    return f"{reverse('admin:organizations_meeting_compliance')}?{urlencode(params)}"


STATE_LABELS = {
    "held": _("held"),
    "overdue": _("overdue"),
    "due": _("due"),
    "future": _("not yet due"),
}


def _organization_in_scope(scope: Scope, value: str | None) -> Organization:
    """The organisation asked for (or the scope's highest one), or 404."""
    organizations = organizations_in_scope(scope).order_by("depth", "path")
    if value:
        if not value.isascii() or not value.isdigit():
            raise OutOfScope()
        organizations = organizations.filter(pk=value)
    organization = organizations.first()
    if organization is None:
        raise OutOfScope()
    return organization


def compliance_page(model_admin, request):
    """Which required meetings an organisation (and its subtree) held."""
    scope = request_scope(request)
    if not scope.is_staff_scope:
        raise PermissionDenied
    organization = _organization_in_scope(scope, request.GET.get("organization"))
    today = rules.local_date(timezone.now(), organization.time_zone)
    form = ComplianceForm(
        {
            "organization": organization.pk,
            "year": request.GET.get("year") or today.year,
        },
        scope=scope,
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Organisational life: compliance"),
        "organization": organization,
        "form": form,
    }
    if form.is_valid():
        context.update(
            compliance_context(organization, form.cleaned_data["year"], today)
        )
    return TemplateResponse(request, COMPLIANCE_PAGE, context)


def compliance_context(
    organization: Organization, year: int, today: datetime.date
) -> dict:
    first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    context = {"year": year, "today": today, "kinds": [], "rate": None}
    if rules.OWED_BY.get(organization.kind):
        own = selectors.compliance(
            organization=organization, first=first, last=last, today=today
        )
        context["kinds"] = [_kind_row(kind, today) for kind in own.kinds]
        context["rate"] = _percent(own.present, own.invited)
        context["invited"], context["present"] = own.invited, own.present
        context["meetings_url"] = _meetings_url(organization, year)
    context["children"] = _children_rows(organization, year, first, last, today)
    if organization.kind in rules.OWED_BY and organization.kind != "group":
        context["lapsed"] = list(
            selectors.members_without_organisational_life(
                organization=organization, on=today, months=LAPSE_MONTHS
            )
        )
        context["lapse_months"] = LAPSE_MONTHS
        context["attendance"] = list(
            selectors.members_attendance(
                organization=organization, on=today, months=LAPSE_MONTHS
            )
        )
    return context


def _kind_row(kind: selectors.KindCompliance, today: datetime.date) -> dict:
    periods = []
    for period in kind.periods:
        state = kind.state(period, today)
        periods.append(
            {
                "label": period.label,
                "state": state,
                "state_label": STATE_LABELS[state],
                "held": kind.held.get(period.label, 0),
            }
        )
    return {"kind": kind.kind, "label": kind.label, "periods": periods}


def _percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def _meetings_url(organization: Organization, year: int) -> str:
    params = {"organization__id__exact": organization.pk, "held_on__year": year}
    return f"{reverse(CHANGELIST)}?{urlencode(params)}"


def _children_rows(
    organization: Organization,
    year: int,
    first: datetime.date,
    last: datetime.date,
    today: datetime.date,
) -> list[dict]:
    """Each child's whole subtree, aggregated, with a link to drill down."""
    children = list(
        Organization.objects.filter(
            path__startswith=organization.path, depth=organization.depth + 1
        )
        .exclude(dissolved_on__lt=first)
        .order_by("path")
    )
    if not children:
        return []
    owing = Organization.objects.filter(
        path__startswith=organization.path,
        depth__gt=organization.depth,
        kind__in=list(rules.OWED_BY),
    ).exclude(dissolved_on__lt=first)
    results = selectors.subtree_compliance(
        organizations=list(owing), first=first, last=last, today=today
    )
    width = (organization.depth + 1) * Organization.steplen
    by_child: dict[str, list[selectors.Compliance]] = {}
    for result in results:
        by_child.setdefault(result.organization.path[:width], []).append(result)
    return [_child_row(child, by_child.get(child.path, []), year) for child in children]


def _child_row(child: Organization, parts: list, year: int) -> dict:
    invited = sum(part.invited for part in parts)
    present = sum(part.present for part in parts)
    return {
        "organization": child,
        "owing": len(parts),
        "overdue": sum(part.overdue for part in parts),
        "held": sum(len(kind.held) for part in parts for kind in part.kinds),
        "invited": invited,
        "present": present,
        "rate": _percent(present, invited),
        "url": compliance_url(child, year),
    }
