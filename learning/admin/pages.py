"""The secretaries' study pages: question import, offline study, hours
compliance (with its exports) and review retention.

Each page reads one selector or calls one service; an organisation outside
the actor's scope answers 404, as the selectors decide.
"""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from dues.admin.ledger import parse_year
from dues.admin.scoping import home_organization, organization_get
from learning import exports
from learning.admin.forms import (
    HoursForm,
    OfflineStudyForm,
    QuestionFileForm,
    RetentionForm,
    last_days,
)
from learning.imports import QuestionFileError, question_import
from learning.selectors.hours import hours_compliance
from learning.selectors.memory import most_forgotten, retention
from learning.services.study import record_offline_study
from members.selectors import current_organization
from organizations.admin import request_scope
from organizations.admin.steps import Step, run_step
from organizations.scope import OutOfScope, today

TEMPLATES = "admin/learning/course/"
EXPORTS = (
    (_("Excel workbook (XLSX)"), "xlsx", "utf-8"),
    (_("CSV (UTF-8)"), "csv", "utf-8"),
    (_("CSV (GBK)"), "csv", "gbk"),
)


def _context(model_admin, request, title, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        **extra,
    }


def question_import_page(model_admin, request, course):
    """Upload a course's questions; show every row's result."""
    report = None
    if request.method == "POST":
        form = QuestionFileForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                report = question_import(
                    actor=request.user,
                    scope=request_scope(request),
                    course=course,
                    source=form.cleaned_data["file"],
                )
            except QuestionFileError as exc:
                form.add_error("file", exc.message)
    else:
        form = QuestionFileForm()
    context = _context(
        model_admin,
        request,
        _("Import questions"),
        original=course,
        form=form,
        report=report,
        questions_url=_questions_url(course),
    )
    return TemplateResponse(request, TEMPLATES + "import.html", context)


def _questions_url(course) -> str:
    query = urlencode({"course__id__exact": course.pk})
    return f"{reverse('admin:learning_question_changelist')}?{query}"


def offline_study_page(model_admin, request):
    """Record hours a member in scope studied in person."""
    scope = request_scope(request)
    step = Step(
        name="offline",
        label=_("Record offline study"),
        done=_("The hours were recorded."),
        form=OfflineStudyForm,
        explanation=_(
            "A lecture or study session attended in person; the hours count "
            "for the year of the day studied."
        ),
        run=lambda request, _none, data: _record(request, data),
    )
    return run_step(
        model_admin,
        request,
        None,
        step,
        form_kwargs={"scope": scope},
        context={"original": None},
    )


def _record(request, data) -> str:
    study = record_offline_study(
        actor=request.user, scope=request_scope(request), **data
    )
    holder = current_organization(study.member)
    params = {"year": study.studied_on.year}
    if holder is not None and request_scope(request).reads(holder):
        params["organization"] = holder.pk
    return f"{reverse('admin:learning_hours')}?{urlencode(params)}"


def _organization_in_scope(scope, value: str | None):
    """The organisation asked for (or the scope's highest one), or 404."""
    organization = organization_get(scope, value) if value else None
    organization = organization or home_organization(scope)
    if organization is None:
        raise OutOfScope()
    return organization


def hours_page(model_admin, request):
    """Each member's hours against the target, and the share at target."""
    scope = request_scope(request)
    if request.method == "POST" or not scope.is_staff_scope:
        raise PermissionDenied
    organization = _organization_in_scope(scope, request.GET.get("organization"))
    form = HoursForm(
        {
            "organization": organization.pk,
            "year": request.GET.get("year") or today().year,
        },
        scope=scope,
    )
    context = _context(
        model_admin, request, _("Study hours"), organization=organization, form=form
    )
    if form.is_valid():
        year = form.cleaned_data["year"]
        compliance = hours_compliance(scope=scope, organization=organization, year=year)
        context.update(
            year=year,
            compliance=compliance,
            rows=[(m, m.hours >= m.target) for m in compliance.members],
            exports=_export_links(organization, year),
        )
    return TemplateResponse(request, TEMPLATES + "hours.html", context)


def _export_links(organization, year) -> list[tuple[str, str]]:
    url = reverse("admin:learning_hours_export")
    return [
        (
            label,
            f"{url}?"
            + urlencode(
                {
                    "organization": organization.pk,
                    "year": year,
                    "format": file_format,
                    "encoding": encoding,
                }
            ),
        )
        for label, file_format, encoding in EXPORTS
    ]


def hours_export_view(request):
    """Download the hours page of an organisation and year."""
    scope = request_scope(request)
    if not scope.is_staff_scope:
        raise PermissionDenied
    if not request.GET.get("organization"):
        return HttpResponseBadRequest(_("Choose an organization."))
    organization = _organization_in_scope(scope, request.GET["organization"])
    year = parse_year(request.GET.get("year", ""))
    file_format = request.GET.get("format", "xlsx")
    encoding = request.GET.get("encoding", "utf-8")
    if year is None or not 2000 <= year <= 2100:
        # The same years as the page and the API.
        return HttpResponseBadRequest(_("Unknown year."))
    if file_format not in exports.FORMATS:
        return HttpResponseBadRequest(_("Unknown format."))
    if encoding not in exports.ENCODINGS:
        return HttpResponseBadRequest(_("Unknown encoding."))
    return exports.compliance_response(
        actor=request.user,
        scope=scope,
        organization=organization,
        year=year,
        file_format=file_format,
        encoding=encoding,
    )


def retention_page(model_admin, request):
    """How much reviewed material is retained, and what is forgotten most."""
    scope = request_scope(request)
    if request.method == "POST" or not scope.is_staff_scope:
        raise PermissionDenied
    organization = _organization_in_scope(scope, request.GET.get("organization"))
    since, until = last_days()
    form = RetentionForm(
        {
            "organization": organization.pk,
            "since": request.GET.get("since") or since,
            "until": request.GET.get("until") or until,
        },
        scope=scope,
    )
    context = _context(
        model_admin,
        request,
        _("Review retention"),
        organization=organization,
        form=form,
    )
    if form.is_valid():
        period = {
            "scope": scope,
            "organization": organization,
            "since": form.cleaned_data["since"],
            "until": form.cleaned_data["until"],
        }
        context.update(
            retention=retention(**period), forgotten=most_forgotten(**period)
        )
    return TemplateResponse(request, TEMPLATES + "retention.html", context)
