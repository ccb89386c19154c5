"""Member portal views: thin wrappers over selectors and services.

Every page here shows personal data, so none may be kept by a browser or a
proxy cache (``never_cache`` sends ``Cache-Control: no-store``). No URL
carries a member id: a member only ever sees the record linked to their own
login account. URLs that carry the id of a stay, a letter or a survey look
it up among the caller's own, so anyone else's answers 404.
"""

import functools
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from members import services as member_services
from members.forms import (
    ArrivalForm,
    CorrectionRequestForm,
    InflowChoiceForm,
    MoveOnForm,
    OrganizationSearchForm,
    ProvinceForm,
    ReturnForm,
    StayForm,
    SurveyAnswerForm,
    YearlyReportForm,
    correctable_field_label,
)
from members.identity import mask
from members.models import CorrectionRequest, Member, Mobility, NeedsSurvey
from members.selectors import (
    current_organization,
    inflow_organizations_for,
    member_own,
    mobility_own,
    surveys_open_for,
)
from members.services import correction_request_create
from organizations import services as transfer_services
from organizations.models import Role, Transfer
from organizations.selectors import (
    region_full_names,
    secretaries_of,
    transfer_history,
    transfers_own,
)

# Organisations listed at once on the 报到 page; a large city has many, and
# a search by name narrows them.
INFLOW_LIST_LIMIT = 30


@dataclass(frozen=True)
class Contact:
    """A person to reach, with the phone already masked."""

    name: str
    masked_phone: str


@dataclass(frozen=True)
class CorrectionRow:
    """One of the member's correction requests, ready to show."""

    request: CorrectionRequest
    field_label: str
    shown_value: str


def _secretary_contact(role: Role) -> Contact:
    member = getattr(role.user, "member", None)
    if member is None:
        return Contact(
            name=role.user.get_full_name() or role.user.username, masked_phone=""
        )
    return Contact(name=member.name, masked_phone=member.masked_phone)


def _correction_rows(member: Member) -> list[CorrectionRow]:
    # A requested phone is masked like the record's own phone.
    return [
        CorrectionRow(
            request=request,
            field_label=correctable_field_label(request.field),
            shown_value=mask(request.requested_value)
            if request.field == "phone"
            else request.requested_value,
        )
        for request in member.correction_requests.all()
    ]


def _posted(request):
    # Not ``request.POST or None``: an empty POST (a radio button or a box
    # left unticked) must still bind the form, so that it shows its errors.
    return request.POST if request.method == "POST" else None


@never_cache
@login_required
@require_GET
def home(request):
    member = member_own(user=request.user)
    if member is None:
        return render(request, "portal/no_member.html")

    organization = current_organization(member)
    secretaries = secretaries_of(organization) if organization else []
    regions = region_full_names(member.hukou_region_id, member.residence_region_id)
    return render(
        request,
        "portal/home.html",
        {
            "member": member,
            "hukou_region": regions.get(member.hukou_region_id, ""),
            "residence_region": regions.get(member.residence_region_id, ""),
            "organization": organization,
            "secretaries": [_secretary_contact(role) for role in secretaries],
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def corrections(request):
    member = member_own(user=request.user)
    if member is None:
        return render(request, "portal/no_member.html")

    form = CorrectionRequestForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            correction_request_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, _("Your request was sent to your branch secretary.")
            )
            return redirect("portal:corrections")

    return render(
        request,
        "portal/corrections.html",
        {"form": form, "corrections": _correction_rows(member)},
    )


# Going out (外出流动), transfers, yearly reports and needs surveys (issue 4).


def member_page(view):
    """Require a log-in and a member record; pass the record; never cache."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        member = member_own(user=request.user)
        if member is None:
            return render(request, "portal/no_member.html")
        return view(request, member, *args, **kwargs)

    return never_cache(login_required(wrapped))


@dataclass(frozen=True)
class StayRow:
    """One of the member's stays away, with its destination in full."""

    stay: Mobility
    destination: str


@dataclass(frozen=True)
class SurveyRow:
    """A survey published to the member, and whether they answered it."""

    survey: NeedsSurvey
    answered: bool


def _own_stay(member: Member, mobility_id: int) -> Mobility:
    # Only the member's own stays: another member's id answers 404.
    stays = member.mobilities.select_related(
        "destination_region", "inflow_organization", "outflow_organization"
    )
    return get_object_or_404(stays, pk=mobility_id)


def _closed_stay_redirect(request, stay: Mobility, *, reporting: bool = False):
    """Send the member back to the stay page if it allows no more changes."""
    if not stay.is_active:
        messages.info(request, _("This stay has ended."))
    elif reporting and stay.reported_on is not None:
        messages.info(
            request, _("You have already been accepted by an inflow organisation.")
        )
    else:
        return None
    return redirect("portal:mobility")


def _stay_forms(request, form_class, *, initial: dict, province: str | None = None):
    """The province chooser and the stay form, for the two-step destination.

    Choosing a province is a plain GET (``?province=430000``) that reloads
    the page with that province's cities and counties; no JavaScript.
    """
    chosen = "province" in request.GET
    chooser = ProvinceForm(
        request.GET if chosen else None, initial={"province": province}
    )
    if request.method == "POST":
        return chooser, form_class(request.POST)
    code = (
        chooser.cleaned_data["province"].code if chosen and chooser.is_valid() else None
    )
    return chooser, form_class(initial={**initial, "province": code})


@member_page
@require_GET
def mobility(request, member):
    stays = list(
        member.mobilities.select_related(
            "destination_region",
            "inflow_organization",
            "outflow_organization",
            "occupation",
        )
    )
    names = region_full_names(*{stay.destination_region_id for stay in stays})
    rows = [StayRow(stay, names.get(stay.destination_region_id, "")) for stay in stays]
    return render(
        request,
        "portal/mobility.html",
        {
            "current": next((row for row in rows if row.stay.is_active), None),
            "past": [row for row in rows if not row.stay.is_active],
        },
    )


@member_page
@require_http_methods(["GET", "POST"])
def mobility_register(request, member):
    if mobility_own(user=request.user) is not None:
        messages.info(request, _("You are already registered as away."))
        return redirect("portal:mobility")

    today = timezone.localdate()
    chooser, form = _stay_forms(request, StayForm, initial={"left_on": today})
    if request.method == "POST" and form.is_valid():
        try:
            member_services.mobility_register(
                actor=request.user, member=member, **form.service_kwargs()
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, _("Your registration was sent to your branch secretary.")
            )
            return redirect("portal:mobility")

    return render(
        request,
        "portal/mobility_register.html",
        {"chooser": chooser, "form": form, "moving_on": False},
    )


@member_page
@require_http_methods(["GET", "POST"])
def mobility_move_on(request, member, mobility_id):
    stay = _own_stay(member, mobility_id)
    if closed := _closed_stay_redirect(request, stay):
        return closed

    initial = {
        "left_on": timezone.localdate(),
        "reason": stay.reason,
        "occupation": stay.occupation_id,
        "contact": stay.contact,
    }
    chooser, form = _stay_forms(
        request,
        MoveOnForm,
        initial=initial,
        province=stay.destination_region.province_code,
    )
    if request.method == "POST" and form.is_valid():
        try:
            member_services.mobility_move_on(
                actor=request.user, mobility=stay, **form.service_kwargs()
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _(
                    "Your new place was registered. Report to an organisation "
                    "there when you arrive."
                ),
            )
            return redirect("portal:mobility")

    return render(
        request,
        "portal/mobility_register.html",
        {"chooser": chooser, "form": form, "moving_on": True, "stay": stay},
    )


@member_page
@require_http_methods(["GET", "POST"])
def mobility_report(request, member, mobility_id):
    stay = _own_stay(member, mobility_id)
    if closed := _closed_stay_redirect(request, stay, reporting=True):
        return closed

    organizations = inflow_organizations_for(stay.destination_region)
    form = InflowChoiceForm(
        _posted(request),
        organizations=organizations,
        initial={"inflow_organization": stay.inflow_organization_id},
    )
    if request.method == "POST" and form.is_valid():
        try:
            member_services.mobility_report(
                actor=request.user, mobility=stay, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("You reported to %(name)s. It will confirm that it accepts you.")
                % {"name": form.cleaned_data["inflow_organization"].name},
            )
            return redirect("portal:mobility")

    search = OrganizationSearchForm(request.GET)
    term = search.cleaned_data["q"].strip() if search.is_valid() else ""
    listed = organizations.filter(name__icontains=term) if term else organizations
    shown = list(listed[: INFLOW_LIST_LIMIT + 1])
    return render(
        request,
        "portal/mobility_report.html",
        {
            "stay": stay,
            "destination": region_full_names(stay.destination_region_id).get(
                stay.destination_region_id, ""
            ),
            "form": form,
            "search": search,
            "term": term,
            "organizations": shown[:INFLOW_LIST_LIMIT],
            "more": len(shown) > INFLOW_LIST_LIMIT,
            "selected": str(form["inflow_organization"].value() or ""),
        },
    )


@member_page
@require_http_methods(["GET", "POST"])
def mobility_return(request, member, mobility_id):
    stay = _own_stay(member, mobility_id)
    if closed := _closed_stay_redirect(request, stay):
        return closed

    form = ReturnForm(_posted(request), initial={"returned_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            member_services.mobility_return(
                actor=request.user, mobility=stay, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Welcome back. Your return was recorded."))
            return redirect("portal:mobility")

    return render(request, "portal/mobility_return.html", {"form": form, "stay": stay})


@member_page
@require_GET
def transfer_list(request, member):
    return render(
        request,
        "portal/transfers.html",
        {"transfers": transfers_own(user=request.user)},
    )


@member_page
@require_http_methods(["GET", "POST"])
def transfer_detail(request, member, transfer_id):
    transfer = get_object_or_404(transfers_own(user=request.user), pk=transfer_id)

    form = ArrivalForm(_posted(request))
    if request.method == "POST" and transfer.to_organization_id is None:
        # The service lets a member report on arrival; a letter to outside
        # the system is reported there, and only the branch records it here.
        form.add_error(
            None,
            _("A letter to an organisation outside the system is not reported here."),
        )
    elif request.method == "POST" and form.is_valid():
        try:
            transfer_services.transfer_report(actor=request.user, transfer=transfer)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Your arrival was recorded."))
            return redirect("portal:transfer", transfer_id=transfer.pk)

    return render(
        request,
        "portal/transfer.html",
        {
            "transfer": transfer,
            "history": transfer_history(transfer),
            "form": form,
            "may_report": transfer.state == Transfer.State.ACCEPTED
            and transfer.to_organization_id is not None,
        },
    )


@member_page
@require_http_methods(["GET", "POST"])
def yearly_report(request, member):
    year = timezone.localdate().year
    filed = member.yearly_reports.filter(year=year).select_related("organization")
    filed = filed.first()

    form = YearlyReportForm(
        _posted(request),
        initial=YearlyReportForm.initial_from(filed.body) if filed else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            member_services.yearly_report_file(
                actor=request.user, body=form.body(), year=year
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Your yearly report was filed."))
            return redirect("portal:yearly_report")

    return render(
        request,
        "portal/yearly_report.html",
        {
            "year": year,
            "filed": filed,
            "away": mobility_own(user=request.user) is not None,
            "form": form,
        },
    )


@member_page
@require_GET
def survey_list(request, member):
    surveys = list(surveys_open_for(user=request.user))
    answered = set(
        member.survey_answers.filter(survey__in=surveys).values_list(
            "survey_id", flat=True
        )
    )
    return render(
        request,
        "portal/surveys.html",
        {"surveys": [SurveyRow(s, s.pk in answered) for s in surveys]},
    )


@member_page
@require_http_methods(["GET", "POST"])
def survey_detail(request, member, survey_id):
    survey = get_object_or_404(surveys_open_for(user=request.user), pk=survey_id)
    answer = member.survey_answers.filter(survey=survey).first()

    form = SurveyAnswerForm(
        _posted(request),
        initial=model_to_dict(answer, fields=list(SurveyAnswerForm.base_fields))
        if answer
        else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            member_services.survey_answer(
                actor=request.user, survey=survey, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Thank you. Your answers were saved."))
            return redirect("portal:surveys")

    return render(
        request,
        "portal/survey.html",
        {"survey": survey, "answer": answer, "form": form},
    )
