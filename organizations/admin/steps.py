"""One page per workflow step: a form, posted, that calls one service.

State changes in the admin never happen on a GET: a button opens the step's
page, which shows what will happen and posts the form. A service's refusal
(a ValidationError, a state error after someone else acted first) shows in
the form; the service's transaction has then written nothing.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from treebeard.forms import TreeNodeChoiceField

from members.selectors import current_organization, member_get

STEP_TEMPLATE = "admin/organizations/step.html"


class NoFields(forms.Form):
    """A step that only needs a confirmation."""


class DateInput(forms.DateInput):
    """A native date picker: no admin calendar script needed."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class MonthField(forms.DateField):
    """A calendar month, kept as its first day."""

    widget = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")

    def __init__(self, **kwargs):
        super().__init__(input_formats=["%Y-%m", "%Y-%m-%d"], **kwargs)

    def to_python(self, value):
        day = super().to_python(value)
        return day.replace(day=1) if day else day


class DateTimeInput(forms.DateTimeInput):
    """A native date and time picker, in the organisation's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class OrganizationChoiceField(TreeNodeChoiceField):
    """An organisation chosen in the tree, labelled with its code."""

    def label_from_instance(self, obj):
        return f"{obj.name} · {obj.code}"


def now_minute() -> datetime.datetime:
    return timezone.localtime().replace(second=0, microsecond=0)


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError beside the fields it names."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        known = field in form.fields and field != NON_FIELD_ERRORS
        form.add_error(field if known else None, errors)


@dataclass(frozen=True)
class Step:
    """One action on an object, confirmed on its own page and posted.

    ``run(request, obj, cleaned_data)`` calls the service and returns the
    URL to go on to.
    """

    name: str
    label: str
    done: str
    run: Callable[[Any, Any, dict], str]
    form: type[forms.Form] = NoFields
    explanation: str = ""
    danger: bool = False


def run_step(
    model_admin,
    request,
    obj,
    step: Step,
    *,
    form_kwargs: dict | None = None,
    context: dict | None = None,
):
    """Show ``step``'s form for ``obj``; on a valid POST, run it."""
    form_kwargs = form_kwargs or {}
    if request.method == "POST":
        form = step.form(request.POST, request.FILES, **form_kwargs)
        if form.is_valid():
            try:
                next_url = step.run(request, obj, form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                model_admin.message_user(request, step.done, messages.SUCCESS)
                return HttpResponseRedirect(next_url)
    else:
        form = step.form(**form_kwargs)
    return TemplateResponse(
        request,
        STEP_TEMPLATE,
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "original": obj,
            "title": step.label,
            "step": step,
            "form": form,
            "media": model_admin.media + form.media,
            **(context or {}),
        },
    )


def run_member_step(
    model_admin,
    request,
    step: Step,
    *,
    scope,
    start_template: str,
    start_title: str,
    holder_label: str,
):
    """Run ``step`` for the member in ``?member=``, or ask which member.

    The member must be held by an organisation the actor may write.
    """
    member_id = request.GET.get("member", "")
    if not member_id.isdigit():
        return TemplateResponse(
            request,
            start_template,
            {
                **model_admin.admin_site.each_context(request),
                "opts": model_admin.opts,
                "title": start_title,
            },
        )
    member = member_get(scope=scope, member_id=int(member_id))
    holder = current_organization(member)
    if holder is None or not scope.writes(holder):
        raise PermissionDenied
    summary = [
        (_("Member"), member.name),
        (_("ID number"), member.masked_id_number),
        (holder_label, holder.name),
    ]
    return run_step(
        model_admin,
        request,
        member,
        step,
        context={"original": None, "summary": summary},
    )
