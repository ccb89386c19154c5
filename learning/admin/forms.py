"""Forms of the learning admin pages; the services check them again."""

import datetime

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dues.admin.fields import MemberInScopeField
from learning.models import HOURS, Course, Question
from learning.services.courses import CourseDetails, question_answer
from organizations.admin.steps import DateInput, OrganizationChoiceField
from organizations.models import Organization
from organizations.scope import Scope, organizations_in_scope, today

LETTERS = "ABCDEF"


class _OrganizationForm(forms.Form):
    organization = OrganizationChoiceField(
        queryset=Organization.objects.none(), label=_("organization")
    )

    def __init__(self, *args, scope: Scope, write: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # TODO: offer an autocomplete instead of the whole tree; a province
        # has thousands of organisations (as on the meetings pages).
        self.fields["organization"].queryset = organizations_in_scope(
            scope, write=write
        ).order_by("path")


class CourseForm(_OrganizationForm):
    """A course's details; the organisation is chosen only when adding."""

    title = forms.CharField(label=_("title"), max_length=200)
    category = forms.ChoiceField(
        label=pgettext_lazy("course", "category"), choices=Course.Category.choices
    )
    credit_hours = forms.DecimalField(
        label=_("credit hours"),
        max_digits=HOURS["max_digits"],
        decimal_places=HOURS["decimal_places"],
    )
    valid_from = forms.DateField(label=_("valid from"), widget=DateInput)
    valid_until = forms.DateField(
        label=_("valid until"), widget=DateInput, required=False
    )
    body = forms.CharField(
        label=_("text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text=_(
            "Paragraphs, bold, lists, headings and images uploaded here "
            "(/media/…); anything else is removed."
        ),
    )
    video_url = forms.URLField(
        label=_("video link"), required=False, max_length=500, assume_scheme="https"
    )
    file = forms.FileField(label=_("file"), required=False)
    required_for = forms.ChoiceField(
        label=_("required for"), choices=Course.Audience.choices, required=False
    )
    deadline = forms.DateField(label=_("deadline"), widget=DateInput, required=False)

    def __init__(self, *args, scope: Scope, course: Course | None = None, **kwargs):
        if course is not None:
            kwargs.setdefault("initial", _initial(course))
        super().__init__(*args, scope=scope, write=True, **kwargs)
        if course is not None:
            del self.fields["organization"]


def course_details(data: dict) -> CourseDetails:
    """The service's arguments from a cleaned CourseForm."""
    names = CourseDetails.__dataclass_fields__
    return CourseDetails(**{k: v for k, v in data.items() if k in names})


def _initial(course: Course) -> dict:
    names = CourseDetails.__dataclass_fields__
    return {name: getattr(course, name) for name in names if name != "file"}


class QuestionForm(forms.ModelForm):
    """A question with its options one a line and its answer as letters."""

    option_lines = forms.CharField(
        label=_("options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("One option a line, A to F; none for true or false."),
    )
    answer_letters = forms.CharField(
        label=_("answer"),
        max_length=12,
        help_text=_("Letters such as B or ACD; 对 or 错 for true or false."),
    )

    class Meta:
        model = Question
        fields = ("kind", "text", "explanation", "active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        question = self.instance
        if question.pk:
            self.initial["option_lines"] = "\n".join(question.options)
            self.initial["answer_letters"] = _letters(question)

    def clean(self):
        cleaned = super().clean()
        lines = cleaned.get("option_lines", "").splitlines()
        options = [line.strip() for line in lines if line.strip()]
        kind = cleaned.get("kind")
        if kind == Question.Kind.TRUE_FALSE:
            options = []
        if len(options) > len(LETTERS):
            # Answers are letters A to F, as in the import file.
            self.add_error(
                "option_lines",
                _("At most %(n)s options, one a line.") % {"n": len(LETTERS)},
            )
        cleaned["options"] = options
        if kind and cleaned.get("answer_letters"):
            try:
                answer = question_answer(kind, cleaned["answer_letters"], options)
            except forms.ValidationError as exc:
                self.add_error("answer_letters", exc)
            else:
                cleaned["answer"] = answer
        return cleaned


def _letters(question: Question) -> str:
    if question.kind == Question.Kind.TRUE_FALSE:
        return "对" if question.answer == [1] else "错"
    return "".join(LETTERS[i] for i in question.answer if 0 <= i < len(LETTERS))


class QuestionFileForm(forms.Form):
    file = forms.FileField(
        label=_("XLSX file"),
        help_text=_(
            "Columns 题型, 题目, 选项A to 选项F, 答案 and 解析; bad rows are "
            "skipped and listed."
        ),
    )


class OfflineStudyForm(forms.Form):
    member = MemberInScopeField()
    title = forms.CharField(label=_("what was studied"), max_length=200)
    studied_on = forms.DateField(label=_("studied on"), widget=DateInput)
    hours = forms.DecimalField(
        label=_("hours"),
        max_digits=HOURS["max_digits"],
        decimal_places=HOURS["decimal_places"],
    )

    def __init__(self, *args, scope: Scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].limit_to(scope)


class HoursForm(_OrganizationForm):
    year = forms.IntegerField(label=_("year"), min_value=2000, max_value=2100)


class RetentionForm(_OrganizationForm):
    since = forms.DateField(label=pgettext_lazy("period", "from"), widget=DateInput)
    until = forms.DateField(label=pgettext_lazy("period", "to"), widget=DateInput)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", _("The period cannot end before it starts."))
        return cleaned


def last_days(days: int = 90) -> tuple[datetime.date, datetime.date]:
    until = today()
    return until - datetime.timedelta(days=days - 1), until
