"""Form fields the dues admin pages share."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.utils.translation import gettext_lazy as _

from dues.forms import PlainDecimalField
from dues.models import MONEY, Assessment
from members.models import Member
from members.selectors import member_list
from organizations.scope import Scope


class MoneyField(PlainDecimalField):
    """Yuan with two places, never negative."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0)
        super().__init__(
            max_digits=MONEY["max_digits"],
            decimal_places=MONEY["decimal_places"],
            **kwargs,
        )


class _MemberAutocomplete(AutocompleteSelect):
    def optgroups(self, name, value, attr=None):
        # Django looks the submitted value up to draw the chosen option; a
        # tampered "abc" would fail that lookup with a server error.
        return super().optgroups(name, [v for v in value if str(v).isdigit()], attr)


class MemberInScopeField(forms.ModelChoiceField):
    """A member whose relationship the actor may change, found by name."""

    def __init__(self, **kwargs):
        super().__init__(queryset=Member.objects.none(), label=_("member"), **kwargs)
        # The admin's own autocomplete over the member admin's search: a
        # province holds too many members for a plain list.
        self.widget = _MemberAutocomplete(
            Assessment._meta.get_field("member"), admin.site
        )

    def limit_to(self, scope: Scope) -> None:
        self.queryset = member_list(scope=scope, write=True)
        self.widget.choices = self.choices
