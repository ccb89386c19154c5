"""Moving a whole branch's members at once (a branch dissolved or merged)."""

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from organizations.admin.steps import DateInput, OrganizationChoiceField, Step
from organizations.models import Organization
from organizations.scope import Scope, organizations_in_scope
from organizations.services import transfer_bulk_move
from organizations.services.completion import HOLDING_KINDS


class MoveMembersForm(forms.Form):
    """Where the members go, from when, and why."""

    to_organization = OrganizationChoiceField(
        label=_("Move the members to"), queryset=Organization.objects.none()
    )
    effective_on = forms.DateField(
        label=_("Effective on"), required=False, widget=DateInput()
    )
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, origin: Organization, scope: Scope, **kwargs):
        super().__init__(*args, **kwargs)
        # Only branches the actor may write, outside the one being emptied.
        self.fields["to_organization"].queryset = (
            organizations_in_scope(scope, write=True)
            .filter(kind__in=HOLDING_KINDS, dissolved_on__isnull=True)
            .exclude(path__startswith=origin.path)
            .order_by("path")
        )


def _move(request, organization, data) -> str:
    transfer_bulk_move(
        actor=request.user,
        from_organization=organization,
        to_organization=data["to_organization"],
        reason=data["reason"],
        effective_on=data["effective_on"],
    )
    return reverse("admin:organizations_organization_change", args=[organization.pk])


MOVE_MEMBERS = Step(
    name="move-members",
    label=_("Move all members"),
    done=_("The members were moved; each has a transfer letter in the history."),
    run=_move,
    form=MoveMembersForm,
    explanation=_(
        "Every member this organization holds moves to the chosen branch on "
        "the effective day, in one go, with a letter and history for each."
    ),
    danger=True,
)
