"""Forms of the member portal and of the log-in page."""

from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from members.auth import login_name
from members.models import Difficulty, Intention, Member, Mobility, Occupation
from members.services import CORRECTABLE_FIELDS
from organizations.models import Organization, Region


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

    def clean_login(self) -> str:
        return login_name(super().clean_login())


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


# Going out (外出流动), transfers, yearly reports and needs surveys (issue 4).


class ServiceErrorsMixin:
    """Show a service's ValidationError beside the fields it names.

    ``service_fields`` maps a service's field name to the form's when the
    two differ; errors on fields the form lacks go to the top of the form.
    """

    service_fields: dict[str, str] = {}

    def add_service_error(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, errors in error.error_dict.items():
            name = self.service_fields.get(key, key)
            self.add_error(name if name in self.fields else None, errors)


class DateInput(forms.DateInput):
    """The browser's own date picker, which phones show as a wheel."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class RegionChoiceField(forms.ModelChoiceField):
    """A region chosen by its code and shown by its name alone."""

    def label_from_instance(self, obj: Region) -> str:
        return obj.name


class ProvinceForm(forms.Form):
    """The first step of choosing a destination without JavaScript."""

    province = RegionChoiceField(
        label=_("Province"),
        queryset=Region.objects.filter(level=Region.Level.PROVINCE),
        to_field_name="code",
        empty_label=_("Choose a province"),
    )


def _destination_choices(regions: list[Region]) -> list:
    # Counties under a city are grouped by it, the city itself first; those
    # directly under a province (Beijing's districts) stand alone. Ordered
    # by code, a city always comes before its counties.
    loose: list[tuple[str, str]] = []
    groups: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for region in regions:
        if region.level == Region.Level.PREFECTURE:
            whole = _("%(city)s (whole city)") % {"city": region.name}
            groups[region.code] = (region.name, [(region.code, whole)])
        elif region.parent_id in groups:
            groups[region.parent_id][1].append((region.code, region.name))
        else:
            loose.append((region.code, region.name))
    return [("", _("Choose a city or county")), *loose, *groups.values()]


class StayForm(ServiceErrorsMixin, forms.Form):
    """Where a member goes, when, why, and how to reach them there.

    The destination is chosen in two steps that work without JavaScript:
    the province travels in a hidden field, and the city or county list
    holds only that province's regions.
    """

    province = RegionChoiceField(
        queryset=Region.objects.filter(level=Region.Level.PROVINCE),
        to_field_name="code",
        widget=forms.HiddenInput,
    )
    destination_region = forms.ChoiceField(label=_("City or county"))
    left_on = forms.DateField(label=_("Leaving on"), widget=DateInput)
    expected_return_on = forms.DateField(
        label=_("Expected return"),
        required=False,
        widget=DateInput,
        help_text=_("Leave empty if you do not know yet."),
    )
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[("", _("Choose a reason")), *Mobility.Reason.choices],
    )
    occupation = forms.ModelChoiceField(
        label=_("Occupation there"),
        queryset=Occupation.objects.all(),
        required=False,
        empty_label=_("Choose an occupation"),
    )
    work_unit = forms.CharField(
        label=_("Employer or work unit there"), max_length=128, required=False
    )
    contact = forms.CharField(
        label=_("How to reach you there"),
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("A phone number, and an address if you have one."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        code = (
            self.data.get(self.add_prefix("province"))
            if self.is_bound
            else self.initial.get("province")
        )
        regions = list(
            Region.objects.filter(Q(parent_id=code) | Q(parent__parent_id=code))
            .select_related("parent")
            .order_by("code")
            if code
            else []
        )
        self.province_region = next(
            (
                r.parent
                for r in regions
                if r.parent_id == code and r.parent.level == Region.Level.PROVINCE
            ),
            None,
        )
        self._regions = {region.code: region for region in regions}
        self.fields["destination_region"].choices = _destination_choices(regions)

    def clean_destination_region(self) -> Region:
        return self._regions[self.cleaned_data["destination_region"]]

    def service_kwargs(self) -> dict:
        """The cleaned values under the names the mobility services take."""
        data = dict(self.cleaned_data)
        del data["province"]
        return data


class MoveOnForm(StayForm):
    """The next place of a member who moves on from where they were."""

    service_fields = {"ended_on": "left_on"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["left_on"].label = _("Moved there on")


class ReturnForm(ServiceErrorsMixin, forms.Form):
    """The day a member came back home."""

    service_fields = {"ended_on": "returned_on"}

    returned_on = forms.DateField(label=_("Back home since"), widget=DateInput)


class InflowChoiceForm(ServiceErrorsMixin, forms.Form):
    """The inflow organisation a member reports to (报到)."""

    inflow_organization = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organization.objects.none(),
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose the organisation you report to.")},
    )

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["inflow_organization"].queryset = organizations


class OrganizationSearchForm(forms.Form):
    """Narrow a long list of organisations by part of a name."""

    q = forms.CharField(label=_("Search by name"), max_length=64, required=False)


class ArrivalForm(ServiceErrorsMixin, forms.Form):
    """A member's own report (报到) of arrival at the receiving body."""

    arrived = forms.BooleanField(
        label=_("I have arrived and report to the receiving organisation."),
        error_messages={"required": _("Tick the box to confirm your arrival.")},
    )


class YearlyReportForm(ServiceErrorsMixin, forms.Form):
    """The yearly report to the outflow organisation, in three parts."""

    service_fields = {"body": "situation"}
    parts = ("situation", "study", "activities")

    situation = forms.CharField(
        label=_("Work and life"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Where you live and work now, and any change this year."),
    )
    study = forms.CharField(
        label=_("Study"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    activities = forms.CharField(
        label=_("Organisational life and activities"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    @classmethod
    def _heading(cls, part: str) -> str:
        return f"【{cls.base_fields[part].label}】"

    def body(self) -> str:
        """The report as one text, each part under its heading."""
        return "\n\n".join(
            f"{self._heading(part)}\n{self.cleaned_data[part].strip()}"
            for part in self.parts
            if self.cleaned_data[part].strip()
        )

    @classmethod
    def initial_from(cls, body: str) -> dict[str, str]:
        """Split a filed report back into its parts, to edit it."""
        headings = {cls._heading(part): part for part in cls.parts}
        found: dict[str, list[str]] = {}
        current = None
        for line in body.splitlines():
            if line.strip() in headings:
                current = headings[line.strip()]
                found[current] = []
            elif current is None:
                # Filed in another language, or by other means: keep the
                # whole text in the first part rather than lose any of it.
                return {"situation": body}
            else:
                found[current].append(line)
        return {part: "\n".join(lines).strip() for part, lines in found.items()}


class SurveyAnswerForm(ServiceErrorsMixin, forms.Form):
    """The fixed questions of a needs survey (动态、意向、困难)."""

    situation = forms.CharField(
        label=_("Your current situation"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    intention = forms.ChoiceField(
        label=_("What do you intend to do?"),
        choices=Intention.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose one of the intentions.")},
    )
    difficulties = forms.MultipleChoiceField(
        label=_("Do you have difficulties with any of these?"),
        choices=Difficulty.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    difficulties_note = forms.CharField(
        label=_("Tell us more about your difficulties"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
