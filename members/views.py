"""Member portal views: thin wrappers over selectors and services.

Every page here shows personal data, so none may be kept by a browser or a
proxy cache (``never_cache`` sends ``Cache-Control: no-store``). No URL
carries a member id: a member only ever sees the record linked to their own
login account.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from members.forms import CorrectionRequestForm, correctable_field_label
from members.identity import mask
from members.models import CorrectionRequest, Member
from members.selectors import current_organization, member_own
from members.services import correction_request_create
from organizations.models import Role
from organizations.selectors import region_full_names, secretaries_of


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

    form = CorrectionRequestForm(request.POST or None)
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
