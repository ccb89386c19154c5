"""Forms of the member's dues pages."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundWidget
from django.utils.translation import gettext_lazy as _

from dues.models import PaymentOrder
from dues.rules import PLAIN_AMOUNT
from members.forms import ServiceErrorsMixin

MONTH_FORMAT = "%Y-%m"


class PlainDecimalField(forms.DecimalField):
    """Yuan as people write them: "1e3" or "1,000" is refused, not guessed."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            if not PLAIN_AMOUNT.fullmatch(value.strip()):
                raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


@dataclass(frozen=True)
class PayableMonth:
    """A month the member may choose to pay, as the statement lists it."""

    month: datetime.date
    amount: Decimal | None
    group: str  # "arrears", "current" or "ahead"

    @property
    def value(self) -> str:
        return self.month.strftime(MONTH_FORMAT)


@dataclass(frozen=True)
class MonthBox:
    """One check box of the month choice, beside what the month costs."""

    widget: BoundWidget
    payable: PayableMonth


GROUP_TITLES = {
    "arrears": _("Arrears"),
    "current": _("This month"),
    "ahead": _("Pay ahead"),
}


class PayForm(ServiceErrorsMixin, forms.Form):
    """Choose the months to pay, an optional voluntary extra and the payer.

    Only months of the member's own statement are offered, so a month of
    anyone else, or one further ahead than the statement allows, is not a
    valid choice. The service checks the rest (oldest months first, limits
    needing approval) and its errors are shown beside these fields.
    """

    months = forms.MultipleChoiceField(
        label=_("Months to pay"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("Choose at least one month to pay."),
            "invalid_choice": _(
                "%(value)s is not a month you can pay here. Choose from the list."
            ),
        },
    )
    voluntary_amount = PlainDecimalField(
        label=_("Extra amount paid voluntarily (yuan)"),
        required=False,
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=2,
        help_text=_("Optional. Paying more than assessed is voluntary."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        error_messages={"invalid": _("Enter an amount in yuan, such as 10 or 10.50.")},
    )
    payer = forms.ChoiceField(
        label=_("Who pays"),
        choices=[
            (PaymentOrder.Payer.SELF, _("I pay myself")),
            (PaymentOrder.Payer.ON_BEHALF, _("Another person pays on my behalf")),
        ],
        initial=PaymentOrder.Payer.SELF,
        widget=forms.RadioSelect,
        help_text=_(
            "Your organisation may not pay for you, and dues are not deducted "
            "from wages."
        ),
    )
    payer_name = forms.CharField(
        label=_("Name of the person paying for you"),
        max_length=64,
        required=False,
        help_text=_("Only when another person pays on your behalf."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    at_inflow = forms.BooleanField(
        label=_("Pay at the organisation I am placed with"),
        required=False,
    )

    def __init__(self, *args, payable: list[PayableMonth], inflow=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.payable = {row.value: row for row in payable}
        self.fields["months"].choices = [(row.value, row.value) for row in payable]
        # The natural choice: everything owed up to this month, oldest first.
        self.fields["months"].initial = [
            row.value for row in payable if row.group in ("arrears", "current")
        ]
        self.inflow = inflow
        if inflow is None:
            del self.fields["at_inflow"]
        else:
            self.fields["at_inflow"].help_text = _(
                "You hold a mobile activity certificate, so you may pay to "
                "%(name)s while you are away. Your home branch still sees "
                "the months paid."
            ) % {"name": inflow.name}

    def clean_payer_name(self) -> str:
        return self.cleaned_data["payer_name"].strip()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("payer") == PaymentOrder.Payer.ON_BEHALF and not cleaned.get(
            "payer_name"
        ):
            self.add_error(
                "payer_name", _("Write the name of the person paying for you.")
            )
        return cleaned

    def month_groups(self) -> list[tuple[str, list[MonthBox]]]:
        """The check boxes grouped as arrears, this month and ahead."""
        groups: dict[str, list[MonthBox]] = {key: [] for key in GROUP_TITLES}
        for widget in self["months"]:
            payable = self.payable[widget.data["value"]]
            groups[payable.group].append(MonthBox(widget, payable))
        return [(GROUP_TITLES[key], boxes) for key, boxes in groups.items() if boxes]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        on_behalf = data["payer"] == PaymentOrder.Payer.ON_BEHALF
        return {
            "months": sorted(self.payable[value].month for value in data["months"]),
            "payer": data["payer"],
            "payer_name": data["payer_name"] if on_behalf else "",
            "voluntary_amount": data["voluntary_amount"] or Decimal(0),
            "at_inflow": bool(data.get("at_inflow")),
        }


class PayNowForm(forms.Form):
    """The button that sends the member to the gateway for an open order."""

    def add_service_error(self, error: ValidationError) -> None:
        self.add_error(None, error)
