"""Forms of the member portal and of the log-in page."""

from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from members.models import Member
from members.services import CORRECTABLE_FIELDS


class LoginForm(AllauthLoginForm):
    """allauth's log-in form, saying that a mobile phone number works too.

    ``members.auth.UsernameOrPhoneBackend`` accepts either in the same field.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        login = self.fields["login"]
        login.label = _("Username or mobile phone")
        login.widget.attrs.update(
            placeholder=_("Username or mobile phone"),
            autocomplete="username",
            autocapitalize="none",
            spellcheck="false",
        )


def correctable_field_label(field: str) -> str:
    return capfirst(Member._meta.get_field(field).verbose_name)


def _field_choices() -> list[tuple[str, str]]:
    # A callable, so that labels are translated for each request's language.
    return [("", _("Choose a field"))] + [
        (field, correctable_field_label(field)) for field in CORRECTABLE_FIELDS
    ]


class CorrectionRequestForm(forms.Form):
    """A member's request to correct one field of their own record."""

    field = forms.ChoiceField(label=_("What is wrong"), choices=_field_choices)
    requested_value = forms.CharField(
        label=_("Correct value"),
        max_length=255,
        help_text=_(
            "For ethnicity, education and occupation, write the name as the "
            "official list spells it."
        ),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's ValidationError beside the field it concerns."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, errors in error.error_dict.items():
            # The service names the record's field ("phone"); here the value
            # for it was typed into ``requested_value``.
            self.add_error(key if key in self.fields else "requested_value", errors)
